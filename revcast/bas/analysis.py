"""The BAS data story's settings and its marts in memory (`BasAnalysis`), and the per-system seasonality marts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from revcast.bas.comparison import DEFAULT_REPEAT_MINUTES
from revcast.bas.key_points import DEFAULT_SMALL_PLAN_SHARE
from revcast.bas.outage import DEFAULT_AVOID_DAYS
from revcast.bas.runs import FULLBAS, SIMPLEBAS
from revcast.bas.seasonality import (
    capacity_forecast,
    detect_periods,
)

CAPACITY_MEASURE = {FULLBAS: "runtime_seconds", SIMPLEBAS: "runs"}


@dataclass(frozen=True)
class BasSettings:
    """Knobs of the analysis; the defaults are the ones the report explains."""

    repeat_minutes: float = DEFAULT_REPEAT_MINUTES
    window_hours: int = 2
    top_windows: int = 5
    avoid_days: tuple[int, ...] = DEFAULT_AVOID_DAYS
    horizon_days: int = 92
    small_plan_share: float = DEFAULT_SMALL_PLAN_SHARE
    forecast: bool = True


@dataclass
class BasAnalysis:
    """The BAS marts: one frame per question, plus the key data points."""

    settings: BasSettings
    scope_report: pd.DataFrame
    profiles: pd.DataFrame
    comparison: pd.DataFrame
    daily: pd.DataFrame
    monthly: pd.DataFrame
    hourly: pd.DataFrame
    hour_of_day: pd.DataFrame
    peak_load: pd.DataFrame
    periods: pd.DataFrame
    forecast: pd.DataFrame
    outage_grid: pd.DataFrame
    outage_windows: pd.DataFrame
    segments: pd.DataFrame
    segment_summary: pd.DataFrame
    segment_crosstab: pd.DataFrame
    key_points: dict[str, Any] = field(default_factory=dict)


def periods_by_system(daily: pd.DataFrame, measures: dict[str, str] = CAPACITY_MEASURE) -> pd.DataFrame:
    """Dominant cycles of each system's daily capacity measure (runtime for Full BAS, runs for Simple BAS)."""
    parts = [
        detect_periods(rows.set_index("period_start")[measures[system]]).assign(
            system=system, measure=measures[system]
        )
        for system, rows in daily.groupby("system")
        if len(rows) >= 14
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def forecasts_by_system(daily: pd.DataFrame, hourly: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Daily and peak-hour load forecasts for each system with at least eight weeks of history."""
    parts = [
        capacity_forecast(daily, hourly, system, CAPACITY_MEASURE[system], horizon_days)
        for system, rows in daily.groupby("system")
        if len(rows) >= 56
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
