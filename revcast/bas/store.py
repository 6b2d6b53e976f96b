"""The BAS marts in the warehouse: read the clean tables, write and read back `marts.bas_*` frames.

The marts are small (one row per run at most), so they are rebuilt whole from pandas frames; the report
reassembles a `BasAnalysis` from them instead of recomputing anything.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from revcast.bas.analysis import BasAnalysis, BasSettings
from revcast.bas.runs import FULLBAS, SIMPLEBAS, SYSTEMS, for_system
from revcast.bas.segments import segment_tax_period_crosstab
from revcast.warehouse import table_name, transaction

LOAD_GRAINS = ("day", "month", "hour")


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """A query as pandas with instants in UTC (the session zone decides how TIMESTAMPTZ reaches pandas)."""
    con.execute("SET TimeZone = 'UTC'")
    return con.execute(sql).df()


def load_clean(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """clean.fullbas_runs, clean.simplebas_runs and clean.organisations as pandas frames."""
    return (
        _frame(con, "SELECT * FROM clean.fullbas_runs ORDER BY run_at_utc, user_id, org_id"),
        _frame(con, "SELECT * FROM clean.simplebas_runs ORDER BY run_at_utc, user_id, shortcode"),
        _frame(con, "SELECT * FROM clean.organisations ORDER BY org_id"),
    )


def read_mart(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """A whole mart table as pandas."""
    return _frame(con, f"SELECT * FROM {table_name(table)}")


def write_mart(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Replace a mart table by `frame` in one transaction (schema follows the frame); returns its rows."""
    table = table_name(table)
    con.register("_mart_frame", frame)
    try:
        with transaction(con):
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _mart_frame")
    finally:
        con.unregister("_mart_frame")
    return len(frame)


def load_series(daily: pd.DataFrame, monthly: pd.DataFrame, hourly: pd.DataFrame) -> pd.DataFrame:
    """Daily, monthly and hourly load in one long frame with a `grain` column."""
    parts = [f.assign(grain=g) for g, f in zip(LOAD_GRAINS, (daily, monthly, hourly), strict=True)]
    return pd.concat(parts, ignore_index=True)[["grain", "system", "period_start", "runs", "runtime_seconds"]]


def split_series(series: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """The daily, monthly and hourly frames of `load_series`, in that order."""
    return tuple(
        series.loc[series["grain"].eq(g)].drop(columns="grain").reset_index(drop=True) for g in LOAD_GRAINS
    )


def key_points_frame(points: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The key data points as a long table (data_point, system, label, value) and the plan popularity table."""
    rows = [
        ("busiest_month", system, v["month"], float(v["runs"]))
        for system, v in points["busiest_month"].items()
    ]
    rows += [(name, "both", None, float(points[name])) for name in ("orgs_ran_both", "orgs_ran_either")]
    rows += [(name, "both", None, float(points[name])) for name in ("users_either", "users_multi_org")]
    frame = pd.DataFrame(rows, columns=["data_point", "system", "label", "value"])
    return frame, points["popular_plans"].reset_index(drop=True)


def key_points_from_frames(frame: pd.DataFrame, plans: pd.DataFrame) -> dict[str, Any]:
    """Inverse of `key_points_frame`."""
    months = frame.loc[frame["data_point"].eq("busiest_month")]
    scalars = frame.loc[~frame["data_point"].eq("busiest_month")].set_index("data_point")["value"]
    return {
        "busiest_month": {r.system: {"month": r.label, "runs": int(r.value)} for r in months.itertuples()},
        **{name: int(value) for name, value in scalars.items()},
        "popular_plans": plans,
    }


def runs_by_system(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Full BAS and Simple BAS runs of a stacked frame (e.g. marts.bas_runs)."""
    return tuple(for_system(runs, s).reset_index(drop=True) for s in (FULLBAS, SIMPLEBAS))  # type: ignore[return-value]


def analysis_from_marts(con: duckdb.DuckDBPyConnection, settings: BasSettings | None = None) -> BasAnalysis:
    """Reassemble the analysis from the `marts.bas_*` tables (for the report)."""
    m = {name: read_mart(con, f"marts.bas_{name}") for name in MART_TABLES}
    daily, monthly, hourly = split_series(m["load_series"])
    segments = m["organisation_segments"]
    order = {s: i for i, s in enumerate(SYSTEMS)}
    return BasAnalysis(
        settings=settings or BasSettings(),
        scope_report=m["scope_report"],
        profiles=m["interaction_profiles"],
        comparison=m["system_comparison"].sort_values("system", key=lambda s: s.map(order)),
        daily=daily,
        monthly=monthly,
        hourly=hourly,
        hour_of_day=m["hour_of_day_load"],
        peak_load=m["peak_hourly_load"],
        periods=m["load_periods"],
        forecast=m["capacity_forecast"],
        outage_grid=m["outage_grid"],
        outage_windows=m["outage_windows"].sort_values(["system", "rank"]),
        segments=segments,
        segment_summary=m["segment_summary"],
        segment_crosstab=segment_tax_period_crosstab(segments) if len(segments) else pd.DataFrame(),
        key_points=key_points_from_frames(m["key_data_points"], m["popular_plans"]),
    )


MART_TABLES = (
    "scope_report",
    "interaction_profiles",
    "system_comparison",
    "load_series",
    "hour_of_day_load",
    "peak_hourly_load",
    "load_periods",
    "capacity_forecast",
    "outage_grid",
    "outage_windows",
    "organisation_segments",
    "segment_summary",
    "key_data_points",
    "popular_plans",
)
