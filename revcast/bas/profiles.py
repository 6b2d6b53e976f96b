"""How and when users interact with each system: run profiles in Sydney wall-clock time, one long frame."""

from __future__ import annotations

import pandas as pd

from revcast.bas.runs import has_runtime

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CALENDAR_BUCKETS = {"hour": range(24), "weekday": range(7), "day_of_month": range(1, 32)}
ENTITY_DIMENSIONS = ("organisation", "user")
PROFILE_COLUMNS = [
    "system",
    "dimension",
    "bucket",
    "bucket_order",
    "runs",
    "share",
    "users",
    "orgs",
    "runtime_seconds",
]


def _period_index(year: pd.Series, month: pd.Series) -> pd.Series:
    """Months since year 0 (sortable, differences are month gaps)."""
    return year.astype("Int64") * 12 + month.astype("Int64") - 1


def _dimension_keys(runs: pd.DataFrame) -> dict[str, pd.Series]:
    """The sortable key of each run in every profile dimension (NA where a dimension does not apply)."""
    local = runs["run_at_local"]
    run_month = _period_index(local.dt.year, local.dt.month)
    statement = _period_index(runs["statement_year"], runs["statement_month"])
    return {
        "hour": local.dt.hour,
        "weekday": local.dt.dayofweek,
        "day_of_month": local.dt.day,
        "month": run_month,
        "statement_period": statement,
        "statement_lag_months": run_month - statement,
        "organisation": runs["org_id"],
        "user": runs["user_id"],
    }


def _bucket_label(dimension: str, key: pd.Series) -> pd.Series:
    """Readable bucket names: `09:00`, `Monday`, `21`, `2017-09`, lag in months, or the id itself."""
    if dimension == "hour":
        return key.astype(int).astype(str).str.zfill(2) + ":00"
    if dimension == "weekday":
        return key.astype(int).map(dict(enumerate(WEEKDAYS)))
    if dimension in ("month", "statement_period"):
        period = key.astype(int)
        return (period // 12).astype(str) + "-" + (period % 12 + 1).astype(str).str.zfill(2)
    return key.astype(str)


def _profile(runs: pd.DataFrame, dimension: str, key: pd.Series) -> pd.DataFrame:
    """Runs, distinct users and orgs and runtime per (system, bucket) of one dimension."""
    grouped = runs.assign(key=key).dropna(subset=["key"]).groupby(["system", "key"])
    out = grouped.agg(runs=("user_id", "size"), users=("user_id", "nunique"), orgs=("org_id", "nunique"))
    out["runtime_seconds"] = grouped["runtime_seconds"].sum(min_count=1)
    if dimension in CALENDAR_BUCKETS:
        full = pd.MultiIndex.from_product([runs["system"].unique(), CALENDAR_BUCKETS[dimension]])
        out = out.reindex(full.set_names(["system", "key"]), fill_value=0)
    out = out.reset_index()
    if dimension in ENTITY_DIMENSIONS:
        order = out.groupby("system")["runs"].rank(ascending=False, method="first")
    else:
        order = out.groupby("system")["key"].rank(method="dense")
    return out.assign(dimension=dimension, bucket=_bucket_label(dimension, out["key"]), bucket_order=order)


def interaction_profiles(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs by hour, weekday, day of month, month, statement period (and lag), organisation and user, per system.

    Long frame `PROFILE_COLUMNS`; `share` is the bucket's share of the system's runs in that dimension;
    `bucket_order` sorts calendar buckets in time and entities by runs (1 = busiest).
    """
    keys = _dimension_keys(runs)
    parts = [_profile(runs, dimension, key) for dimension, key in keys.items()]
    profiles = pd.concat([p for p in parts if len(p)], ignore_index=True)
    totals = profiles.groupby(["system", "dimension"])["runs"].transform("sum")
    profiles["share"] = profiles["runs"] / totals.where(totals > 0)
    profiles["bucket_order"] = profiles["bucket_order"].astype(int)
    timed = profiles["system"].map(has_runtime(runs))
    profiles["runtime_seconds"] = profiles["runtime_seconds"].where(timed)
    return profiles[PROFILE_COLUMNS]


def profile(profiles: pd.DataFrame, dimension: str, system: str | None = None) -> pd.DataFrame:
    """One dimension of the profiles (optionally one system), in bucket order."""
    rows = profiles.loc[profiles["dimension"].eq(dimension)]
    if system is not None:
        rows = rows.loc[rows["system"].eq(system)]
    return rows.sort_values(["system", "bucket_order"]).reset_index(drop=True)
