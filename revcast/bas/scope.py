"""Analysis scope: only runs of Active, paying organisations count; the rest is reported with its reason."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revcast.bas.runs import FULLBAS, SIMPLEBAS

IN_SCOPE = "in scope"
UNKNOWN_ORG = "unknown org"
NOT_ACTIVE = "not active"
NOT_PAYING = "not paying"
SCOPE_REASONS = (IN_SCOPE, UNKNOWN_ORG, NOT_ACTIVE, NOT_PAYING)


def _org_lookup(orgs: pd.DataFrame, key: str, keys: pd.Series) -> pd.DataFrame:
    """Organisation status, paying flag and org_id for each run, matched on `key` (first card wins)."""
    card = orgs.dropna(subset=[key]).drop_duplicates(key).set_index(key, drop=False)
    return card[["org_id", "organisation_status", "paying"]].reindex(keys.to_numpy())


def scope_reasons(runs: pd.DataFrame, orgs: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Why each run is in or out of scope (first failing test wins: unknown, not active, not paying) and its org_id."""
    card = _org_lookup(orgs, key, runs[key])
    known = card["org_id"].notna().to_numpy()
    active = card["organisation_status"].eq("Active").to_numpy()
    paying = card["paying"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    reason = np.select([~known, ~active, ~paying], [UNKNOWN_ORG, NOT_ACTIVE, NOT_PAYING], IN_SCOPE)
    return reason, card["org_id"].to_numpy()


def _scope_counts(system: str, reason: np.ndarray, keys: pd.Series) -> pd.DataFrame:
    """Runs and distinct organisation keys per reason, with each reason's share of the system's runs."""
    counts = (
        pd.DataFrame({"reason": reason, "key": keys.to_numpy()})
        .groupby("reason")
        .agg(runs=("reason", "size"), orgs=("key", "nunique"))
        .reindex(list(SCOPE_REASONS), fill_value=0)
    )
    total = counts["runs"].sum()
    share = counts["runs"] / total if total else counts["runs"] * 0.0
    return counts.assign(system=system, share=share, in_scope=counts.index == IN_SCOPE).reset_index()


def active_paying_scope(
    fullbas: pd.DataFrame, simplebas: pd.DataFrame, orgs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Runs of Active, paying orgs (Full BAS by org_id, Simple BAS by shortcode) and a report of what was excluded.

    The report has one row per system and reason: `system, reason, in_scope, runs, share, orgs`.
    Simple BAS runs in scope get their org_id from the organisation card.
    """
    full_reason, _ = scope_reasons(fullbas, orgs, "org_id")
    simple_reason, simple_org = scope_reasons(simplebas, orgs, "shortcode")
    fullbas_in = fullbas.loc[full_reason == IN_SCOPE].reset_index(drop=True)
    simplebas_in = simplebas.assign(org_id=simple_org).loc[simple_reason == IN_SCOPE].reset_index(drop=True)
    report = pd.concat(
        [
            _scope_counts(FULLBAS, full_reason, fullbas["org_id"]),
            _scope_counts(SIMPLEBAS, simple_reason, simplebas["shortcode"]),
        ],
        ignore_index=True,
    )
    return fullbas_in, simplebas_in, report[["system", "reason", "in_scope", "runs", "share", "orgs"]]


def excluded_share(scope_report: pd.DataFrame) -> pd.Series:
    """Share of each system's runs that fell out of scope."""
    return scope_report.loc[~scope_report["in_scope"]].groupby("system")["share"].sum()
