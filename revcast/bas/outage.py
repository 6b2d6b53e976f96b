"""Outage-window search: the (day of month, start hour) window in Sydney time that disturbs the fewest runs.

Every window starts on a day of month 1..31 at an hour 0..23 and covers `window_hours` wall-clock hours,
wrapping across midnight (and month end) into the next calendar day. Its expected impact is the runs (and
runtime) it would have hit, summed over the months in range and divided by the months observed for that
day of month: a day that does not exist in a month (the 31st in April) counts as a zero month, so an outage
"on the 31st" is honestly cheaper, it happens in only 7 of 12 months; months cut off by the start or end
of the data do not count for the days they lack.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from revcast.bas.runs import for_system

LODGEMENT_DEADLINES = (21, 28)
GRID_COLUMNS = [
    "system",
    "day_of_month",
    "start_hour",
    "end_hour",
    "wraps_midnight",
    "window",
    "expected_runs",
    "expected_runtime_seconds",
    "expected_runs_with_margin",
    "months_observed",
    "months_with_day",
]


def lodgement_deadline_days(
    deadlines: Iterable[int] = LODGEMENT_DEADLINES, days_before: int = 3
) -> tuple[int, ...]:
    """Days of month to keep free of outages: each lodgement deadline and the `days_before` days leading up to it."""
    return tuple(sorted({d - k for d in deadlines for k in range(days_before + 1) if d - k >= 1}))


DEFAULT_AVOID_DAYS = lodgement_deadline_days()


def _hourly_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs and runtime per Sydney wall-clock hour over every hour of the months in range (zeros included)."""
    hour = runs["run_at_local"].dt.floor("h")
    counts = runs.groupby(hour).agg(runs=("user_id", "size"), runtime=("runtime_seconds", "sum"))
    months = hour.dt.to_period("M")
    full = pd.date_range(months.min().start_time, (months.max() + 1).start_time, freq="h", inclusive="left")
    return counts.reindex(full, fill_value=0)


def _window_sum(values: np.ndarray, window_hours: int, margin_hours: int = 0) -> np.ndarray:
    """Sum over each hour's window [hour - margin, hour + window + margin) (hours outside the range are zero)."""
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    start = np.arange(len(values))
    upper = np.minimum(start + window_hours + margin_hours, len(values))
    return cumulative[upper] - cumulative[np.maximum(start - margin_hours, 0)]


def _months_observed(runs: pd.DataFrame, hours: pd.DatetimeIndex) -> pd.DataFrame:
    """Per day of month: months in range, months where that date lies in the observed span, months having it."""
    days = pd.DatetimeIndex(hours.normalize().unique())
    first, last = runs["run_at_local"].min().normalize(), runs["run_at_local"].max().normalize()
    n_months = days.to_period("M").nunique()
    cut_off = pd.Series((days < first) | (days > last), index=days.day).groupby(level=0).sum()
    having = pd.Series(1, index=days.day).groupby(level=0).sum()
    out = pd.DataFrame({"months_with_day": having, "cut_off": cut_off}).reindex(range(1, 32), fill_value=0)
    return out.assign(months_observed=n_months - out["cut_off"])[["months_observed", "months_with_day"]]


def outage_window_grid(
    runs: pd.DataFrame, system: str | None = None, window_hours: int = 2, margin_hours: int = 2
) -> pd.DataFrame:
    """Expected impact of every (day of month 1..31, start hour 0..23) window per month; columns `GRID_COLUMNS`.

    `expected_runs_with_margin` also counts `margin_hours` either side: the runs at risk if the work overruns.
    """
    if not 1 <= window_hours <= 24:
        raise ValueError(f"window_hours must be 1..24, got {window_hours}")
    runs = for_system(runs, system)
    runs = runs.assign(runtime_seconds=runs.get("runtime_seconds", np.nan))
    hourly = _hourly_counts(runs)
    values = hourly[["runs", "runtime"]].to_numpy(dtype=float)
    margin = _window_sum(values[:, :1], window_hours, margin_hours)
    per_start = pd.DataFrame(
        np.hstack([_window_sum(values, window_hours), margin]), columns=["runs", "runtime", "margin"]
    )
    keys = [hourly.index.day.rename("day_of_month"), hourly.index.hour.rename("start_hour")]
    grid = (
        per_start.groupby(keys)
        .sum()
        .reindex(
            pd.MultiIndex.from_product([range(1, 32), range(24)], names=["day_of_month", "start_hour"]),
            fill_value=0.0,
        )
    )
    grid = grid.reset_index().join(_months_observed(runs, hourly.index), on="day_of_month")
    months = grid["months_observed"].where(grid["months_observed"] > 0)
    timed = bool(runs["runtime_seconds"].notna().any())
    end_hour = (grid["start_hour"] + window_hours) % 24
    return grid.assign(
        system=system,
        end_hour=end_hour,
        wraps_midnight=grid["start_hour"] + window_hours > 24,
        window=grid["start_hour"].astype(str).str.zfill(2)
        + ":00-"
        + end_hour.astype(str).str.zfill(2)
        + ":00",
        expected_runs=(grid["runs"] / months).fillna(0.0),
        expected_runs_with_margin=(grid["margin"] / months).fillna(0.0),
        expected_runtime_seconds=(grid["runtime"] / months).fillna(0.0) if timed else np.nan,
    )[GRID_COLUMNS]


def _touches_avoided_day(grid: pd.DataFrame, avoid_days: Iterable[int]) -> pd.Series:
    """Whether a window starts on, or wraps into, an avoided day of month (the day after the 31st is the 1st)."""
    avoid = list(avoid_days)
    next_day = grid["day_of_month"] % 31 + 1
    return grid["day_of_month"].isin(avoid) | (grid["wraps_midnight"] & next_day.isin(avoid))


def recommend_outage_windows(
    runs: pd.DataFrame,
    system: str | None = None,
    window_hours: int = 2,
    top: int = 5,
    avoid_days: Iterable[int] = DEFAULT_AVOID_DAYS,
    score: str = "runs",
    margin_hours: int = 2,
    one_per_day: bool = True,
) -> pd.DataFrame:
    """The `top` least disruptive windows, ranked ascending by expected runs (or `score="runtime"`) per month.

    Windows on or wrapping into `avoid_days` (default: the 21st and 28th deadlines and the 3 days before each)
    are excluded. Ties break on the runs within `margin_hours` around the window, then the other measure, then
    the earliest day and hour. With `one_per_day` the list offers the best window of five different days
    rather than five overlapping starts on the same night. Adds `rank`.
    """
    grid = outage_window_grid(runs, system, window_hours, margin_hours)
    primary = {"runs": "expected_runs", "runtime": "expected_runtime_seconds"}[score]
    secondary = "expected_runtime_seconds" if score == "runs" else "expected_runs"
    order = [primary, "expected_runs_with_margin", secondary, "day_of_month", "start_hour"]
    allowed = grid.loc[~_touches_avoided_day(grid, avoid_days)].sort_values(order, kind="mergesort")
    if one_per_day:
        allowed = allowed.drop_duplicates("day_of_month")
    ranked = allowed.head(top)
    return ranked.assign(rank=np.arange(1, len(ranked) + 1)).reset_index(drop=True)
