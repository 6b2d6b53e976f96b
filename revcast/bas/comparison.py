"""Comparison of Full BAS and Simple BAS usage, including repeat runs (same user, same org, within minutes)."""

from __future__ import annotations

import pandas as pd

DEFAULT_REPEAT_MINUTES = 10.0


def mark_repeat_runs(runs: pd.DataFrame, within_minutes: float = DEFAULT_REPEAT_MINUTES) -> pd.DataFrame:
    """Add `minutes_since_previous` (same system, user and org) and `is_repeat` (<= `within_minutes`)."""
    keys = [c for c in ("system", "user_id", "org_id") if c in runs]
    ordered = runs.sort_values([*keys, "run_at_utc"], kind="mergesort")
    previous = ordered.groupby(keys, sort=False, dropna=False)["run_at_utc"].shift()
    minutes = (ordered["run_at_utc"] - previous).dt.total_seconds() / 60.0
    marked = ordered.assign(minutes_since_previous=minutes, is_repeat=minutes.le(within_minutes))
    return marked.sort_index()


def compare_systems(runs: pd.DataFrame, within_minutes: float = DEFAULT_REPEAT_MINUTES) -> pd.DataFrame:
    """One row per system: volume, reach, intensity, repeat-run behaviour and runtime.

    Columns: system, runs, users, orgs, runs_per_org, runs_per_user, orgs_per_user, active_days,
    runs_per_active_day, repeat_runs, repeat_share, users_with_repeats_share, runtime_seconds,
    mean_runtime_seconds, first_run_local, last_run_local.
    """
    marked = mark_repeat_runs(runs, within_minutes)
    marked["local_date"] = marked["run_at_local"].dt.normalize()
    marked["repeat_user"] = marked["user_id"].where(marked["is_repeat"])
    out = marked.groupby("system").agg(
        runs=("user_id", "size"),
        users=("user_id", "nunique"),
        orgs=("org_id", "nunique"),
        active_days=("local_date", "nunique"),
        repeat_runs=("is_repeat", "sum"),
        repeat_users=("repeat_user", "nunique"),
        runtime_seconds=("runtime_seconds", lambda r: r.sum(min_count=1)),
        mean_runtime_seconds=("runtime_seconds", "mean"),
        first_run_local=("run_at_local", "min"),
        last_run_local=("run_at_local", "max"),
    )
    per_user_orgs = marked.groupby(["system", "user_id"])["org_id"].nunique().groupby("system").mean()
    out = out.assign(
        runs_per_org=out["runs"] / out["orgs"],
        runs_per_user=out["runs"] / out["users"],
        orgs_per_user=per_user_orgs,
        runs_per_active_day=out["runs"] / out["active_days"],
        repeat_share=out["repeat_runs"] / out["runs"],
        users_with_repeats_share=out["repeat_users"] / out["users"],
    )
    columns = [
        "runs",
        "users",
        "orgs",
        "runs_per_org",
        "runs_per_user",
        "orgs_per_user",
        "active_days",
        "runs_per_active_day",
        "repeat_runs",
        "repeat_share",
        "users_with_repeats_share",
        "runtime_seconds",
        "mean_runtime_seconds",
        "first_run_local",
        "last_run_local",
    ]
    return out[columns].reset_index()
