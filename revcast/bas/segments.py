"""Organisation segments by usage pattern, checked against the tax period each organisation declares.

Cadence comes from the Sydney months in which an organisation ran BAS (either system). Quarterly BAS is
due on the 28th of Feb, Apr, Jul and Oct, so a quarterly lodger's runs pile up in those months; a monthly
lodger (due the 21st of every month) is active in nearly every month of its span. Heavy repeat runners
(the busiest organisations by runs per active month, re-running more than is typical) take precedence:
they are the load that matters for capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revcast.bas.comparison import DEFAULT_REPEAT_MINUTES, mark_repeat_runs

MONTHLY, QUARTERLY, OCCASIONAL = "monthly", "quarterly", "occasional"
HEAVY_REPEAT_RUNNER = "heavy repeat runner"
SEGMENTS = ("monthly lodger", "quarterly lodger", OCCASIONAL, HEAVY_REPEAT_RUNNER)
QUARTER_DEADLINE_MONTHS = (2, 4, 7, 10)  # 28 Feb (Oct-Dec), 28 Apr, 28 Jul, 28 Oct


@dataclass(frozen=True)
class SegmentRules:
    """Thresholds that turn usage features into segments."""

    quarterly_min_deadline_share: float = 0.6  # share of runs in quarter-deadline months
    quarterly_min_active_months: int = 2
    monthly_min_coverage: float = 0.75  # active months / months between first and last active month
    monthly_min_active_months: int = 3
    heavy_runs_quantile: float = 0.9  # runs per active month at or above this quantile of all orgs
    heavy_repeat_share: float | None = None  # None: at least the median repeat share of all orgs


def organisation_usage(runs: pd.DataFrame, within_minutes: float = DEFAULT_REPEAT_MINUTES) -> pd.DataFrame:
    """Per organisation: runs, runtime, users, systems, active and statement months, gaps, coverage, repeats."""
    marked = mark_repeat_runs(runs, within_minutes)
    local = marked["run_at_local"]
    marked["active_month"] = local.dt.year * 12 + local.dt.month - 1
    marked["statement_period"] = marked["statement_year"] * 12 + marked["statement_month"] - 1
    marked["in_quarter_deadline_month"] = local.dt.month.isin(QUARTER_DEADLINE_MONTHS)
    usage = marked.groupby("org_id").agg(
        runs=("user_id", "size"),
        runtime_seconds=("runtime_seconds", "sum"),
        users=("user_id", "nunique"),
        systems=("system", "nunique"),
        active_months=("active_month", "nunique"),
        first_month=("active_month", "min"),
        last_month=("active_month", "max"),
        statement_months=("statement_period", "nunique"),
        repeat_runs=("is_repeat", "sum"),
        quarter_deadline_month_share=("in_quarter_deadline_month", "mean"),
    )
    months = marked[["org_id", "active_month"]].drop_duplicates().sort_values(["org_id", "active_month"])
    gaps = months.groupby("org_id")["active_month"].diff().groupby(months["org_id"])
    return (
        usage.assign(
            median_gap_months=gaps.median(),
            max_gap_months=gaps.max(),
            active_month_coverage=usage["active_months"] / (usage["last_month"] - usage["first_month"] + 1),
            repeat_share=usage["repeat_runs"] / usage["runs"],
            runs_per_active_month=usage["runs"] / usage["active_months"],
        )
        .drop(columns=["first_month", "last_month"])
        .reset_index()
    )


def assign_segments(usage: pd.DataFrame, rules: SegmentRules = SegmentRules()) -> pd.DataFrame:
    """Add `cadence` (monthly / quarterly / occasional) and `segment` (heavy repeat runner takes precedence)."""
    months = usage["active_months"]
    quarterly = (months >= rules.quarterly_min_active_months) & (
        usage["quarter_deadline_month_share"] >= rules.quarterly_min_deadline_share
    )
    monthly = (months >= rules.monthly_min_active_months) & (
        usage["active_month_coverage"] >= rules.monthly_min_coverage
    )
    cadence = np.select([quarterly, monthly], [QUARTERLY, MONTHLY], OCCASIONAL)
    repeat_floor = (
        usage["repeat_share"].median() if rules.heavy_repeat_share is None else rules.heavy_repeat_share
    )
    heavy = (
        usage["runs_per_active_month"] >= usage["runs_per_active_month"].quantile(rules.heavy_runs_quantile)
    ) & (usage["repeat_share"] >= repeat_floor)
    lodger = pd.Series(cadence, index=usage.index).replace(
        {MONTHLY: "monthly lodger", QUARTERLY: "quarterly lodger"}
    )
    return usage.assign(cadence=cadence, segment=lodger.where(~heavy, HEAVY_REPEAT_RUNNER))


def declared_cadence(sales_tax_period: pd.Series) -> pd.Series:
    """The lodgement cadence an organisation declares: monthly, quarterly, annual or none."""
    period = sales_tax_period.fillna("").str.lower()
    choices = [
        period.str.contains("monthly"),
        period.str.contains("quarterly"),
        period.str.contains("annual"),
    ]
    return pd.Series(np.select(choices, [MONTHLY, QUARTERLY, "annual"], "none"), index=sales_tax_period.index)


def with_declared_period(segments: pd.DataFrame, orgs: pd.DataFrame) -> pd.DataFrame:
    """Add `sales_tax_period`, `declared_cadence` and `agrees` (observed cadence matches the declared one).

    An occasional organisation agrees when it declares an annual period or none.
    """
    card = orgs.drop_duplicates("org_id").set_index("org_id")["sales_tax_period"]
    period = segments["org_id"].map(card)
    declared = declared_cadence(period)
    agrees = (segments["cadence"] == declared) | (
        (segments["cadence"] == OCCASIONAL) & declared.isin(["annual", "none"])
    )
    return segments.assign(sales_tax_period=period.fillna("None"), declared_cadence=declared, agrees=agrees)


def segment_summary(segments: pd.DataFrame) -> pd.DataFrame:
    """Each segment's size, share of organisations, runs and runtime load, and agreement with its tax period."""
    out = segments.groupby("segment").agg(
        orgs=("org_id", "size"),
        runs=("runs", "sum"),
        runtime_seconds=("runtime_seconds", "sum"),
        agreement_rate=("agrees", "mean"),
        median_active_months=("active_months", "median"),
        mean_repeat_share=("repeat_share", "mean"),
    )
    out = out.reindex([s for s in SEGMENTS if s in out.index])
    shares = out[["orgs", "runs", "runtime_seconds"]] / out[["orgs", "runs", "runtime_seconds"]].sum()
    out[["org_share", "run_share", "runtime_share"]] = shares.to_numpy()
    return out.rename_axis("segment").reset_index()


def segment_tax_period_crosstab(segments: pd.DataFrame) -> pd.DataFrame:
    """Organisations per segment (rows) and declared sales tax period (columns), with totals."""
    return pd.crosstab(segments["segment"], segments["sales_tax_period"], margins=True, margins_name="Total")


def organisation_segments(
    runs: pd.DataFrame,
    orgs: pd.DataFrame,
    within_minutes: float = DEFAULT_REPEAT_MINUTES,
    rules: SegmentRules = SegmentRules(),
) -> pd.DataFrame:
    """Per-organisation usage features, cadence, segment and agreement with its declared sales tax period."""
    return with_declared_period(assign_segments(organisation_usage(runs, within_minutes), rules), orgs)
