"""BAS report-usage analytics: pure functions over the clean Full BAS, Simple BAS and organisation frames."""

from revcast.bas.analysis import CAPACITY_MEASURE, BasAnalysis, BasSettings
from revcast.bas.comparison import compare_systems, mark_repeat_runs
from revcast.bas.key_points import busiest_month, key_data_points, plan_popularity
from revcast.bas.outage import (
    DEFAULT_AVOID_DAYS,
    lodgement_deadline_days,
    outage_window_grid,
    recommend_outage_windows,
)
from revcast.bas.plots import (
    daily_series_png,
    forecast_png,
    hourly_load_png,
    hourly_runs_png,
    outage_heatmap_png,
)
from revcast.bas.profiles import interaction_profiles, profile
from revcast.bas.report import render_bas_report
from revcast.bas.runs import FULLBAS, SIMPLEBAS, SYSTEMS, stack_systems
from revcast.bas.scope import active_paying_scope, excluded_share
from revcast.bas.seasonality import (
    capacity_forecast,
    daily_load,
    detect_periods,
    forecast_daily_load,
    hour_of_day_load,
    hourly_load,
    monthly_load,
    peak_hour_share,
    peak_hourly_load,
)
from revcast.bas.segments import (
    SegmentRules,
    assign_segments,
    organisation_segments,
    organisation_usage,
    segment_summary,
    segment_tax_period_crosstab,
)

__all__ = [
    "CAPACITY_MEASURE",
    "DEFAULT_AVOID_DAYS",
    "FULLBAS",
    "SIMPLEBAS",
    "SYSTEMS",
    "BasAnalysis",
    "BasSettings",
    "SegmentRules",
    "active_paying_scope",
    "assign_segments",
    "busiest_month",
    "capacity_forecast",
    "compare_systems",
    "daily_load",
    "daily_series_png",
    "detect_periods",
    "excluded_share",
    "forecast_daily_load",
    "forecast_png",
    "hour_of_day_load",
    "hourly_load",
    "hourly_load_png",
    "hourly_runs_png",
    "interaction_profiles",
    "key_data_points",
    "lodgement_deadline_days",
    "mark_repeat_runs",
    "monthly_load",
    "organisation_segments",
    "organisation_usage",
    "outage_heatmap_png",
    "outage_window_grid",
    "peak_hour_share",
    "peak_hourly_load",
    "plan_popularity",
    "profile",
    "recommend_outage_windows",
    "render_bas_report",
    "segment_summary",
    "segment_tax_period_crosstab",
    "stack_systems",
]
