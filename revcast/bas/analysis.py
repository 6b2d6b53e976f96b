"""Everything the BAS data story needs, computed once from the clean tables (the marts, in memory)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from revcast.bas.comparison import DEFAULT_REPEAT_MINUTES, compare_systems
from revcast.bas.key_points import DEFAULT_SMALL_PLAN_SHARE, key_data_points
from revcast.bas.outage import DEFAULT_AVOID_DAYS, outage_window_grid, recommend_outage_windows
from revcast.bas.profiles import interaction_profiles
from revcast.bas.runs import FULLBAS, SIMPLEBAS, stack_systems
from revcast.bas.scope import active_paying_scope
from revcast.bas.seasonality import (
    capacity_forecast,
    daily_load,
    detect_periods,
    hour_of_day_load,
    hourly_load,
    monthly_load,
    peak_hourly_load,
)
from revcast.bas.segments import organisation_segments, segment_summary, segment_tax_period_crosstab

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


def _per_system(runs: pd.DataFrame, build: Any, systems: Iterable[str]) -> pd.DataFrame:
    """Stack one frame per system present in `runs`."""
    return pd.concat([build(runs, s) for s in systems if runs["system"].eq(s).any()], ignore_index=True)


def analyse_bas(
    fullbas: pd.DataFrame, simplebas: pd.DataFrame, orgs: pd.DataFrame, settings: BasSettings = BasSettings()
) -> BasAnalysis:
    """Scope the clean runs to Active, paying orgs and compute every BAS mart from them."""
    fullbas_in, simplebas_in, scope_report = active_paying_scope(fullbas, simplebas, orgs)
    runs = stack_systems(fullbas_in, simplebas_in)
    daily, hourly = daily_load(runs), hourly_load(runs)
    s = settings
    segments = organisation_segments(runs, orgs, s.repeat_minutes)
    return BasAnalysis(
        settings=s,
        scope_report=scope_report,
        profiles=interaction_profiles(runs),
        comparison=compare_systems(runs, s.repeat_minutes),
        daily=daily,
        monthly=monthly_load(runs),
        hourly=hourly,
        hour_of_day=hour_of_day_load(hourly),
        peak_load=peak_hourly_load(hourly),
        periods=periods_by_system(daily),
        forecast=forecasts_by_system(daily, hourly, s.horizon_days) if s.forecast else pd.DataFrame(),
        outage_grid=_per_system(
            runs, lambda r, x: outage_window_grid(r, x, s.window_hours), (FULLBAS, SIMPLEBAS)
        ),
        outage_windows=_per_system(
            runs,
            lambda r, x: recommend_outage_windows(r, x, s.window_hours, s.top_windows, s.avoid_days),
            (FULLBAS, SIMPLEBAS),
        ),
        segments=segments,
        segment_summary=segment_summary(segments),
        segment_crosstab=segment_tax_period_crosstab(segments),
        key_points=key_data_points(fullbas_in, simplebas_in, orgs, s.small_plan_share),
    )
