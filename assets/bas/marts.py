"""BAS marts: in-scope runs, interaction profiles, system comparison, capacity seasonality, outage windows,
organisation segments and the key data points, each a `marts.bas_*` table rebuilt whole on every refresh.

The clean tables are read into pandas through DuckDB (hundreds of thousands of runs at most: the analytics in
`revcast.bas` are pandas/NumPy); organisations are resolved at read time, so a new card re-scopes every day.
"""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pandas as pd

from assets.bas.checks import mart_check
from assets.metadata import plot_metadata, table_definition, table_metadata
from resources import WarehouseResource
from revcast.bas import (
    DEFAULT_AVOID_DAYS,
    FULLBAS,
    SIMPLEBAS,
    BasSettings,
    active_paying_scope,
    compare_systems,
    daily_load,
    hour_of_day_load,
    hourly_load,
    interaction_profiles,
    key_data_points,
    monthly_load,
    organisation_segments,
    outage_window_grid,
    peak_hourly_load,
    recommend_outage_windows,
    segment_summary,
    stack_systems,
)
from revcast.bas.analysis import forecasts_by_system, periods_by_system
from revcast.bas.plots import forecast_png as bas_forecast_png
from revcast.bas.sql import RUNS_OUTSIDE_SCOPE
from revcast.bas.store import (
    key_points_frame,
    load_clean,
    load_series,
    read_mart,
    runs_by_system,
    write_mart,
)

GROUP = "bas"
OWNERS = ["team:product-analytics"]
KINDS = {"duckdb", "pandas"}
CLEAN = ["fullbas_runs", "simplebas_runs", "organisations"]


class BasConfig(dg.Config):
    """Knobs of the BAS analysis (defaults are the ones the report explains)."""

    repeat_minutes: float = 10.0
    horizon_days: int = 92
    window_hours: int = 2
    top_windows: int = 5

    def settings(self) -> BasSettings:
        return BasSettings(
            repeat_minutes=self.repeat_minutes,
            horizon_days=self.horizon_days,
            window_hours=self.window_hours,
            top_windows=self.top_windows,
        )


def _spec(name: str, description: str, deps: list[str]) -> dg.AssetSpec:
    return dg.AssetSpec(
        name,
        description=description,
        deps=deps,
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        tags={"layer": "mart"},
        metadata=table_definition(f"marts.{name}", fixed=False),
    )


def _check(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


def _write(
    con: duckdb.DuckDBPyConnection, asset: str, frame: pd.DataFrame, checks: list, **extra
) -> dg.MaterializeResult:
    """Write `frame` to marts.<asset> and describe it."""
    table = f"marts.{asset}"
    write_mart(con, table, frame)
    metadata = table_metadata(con, table) | {k: v for k, v in extra.items()}
    return dg.MaterializeResult(asset_key=asset, metadata=metadata, check_results=checks)


def _in_scope(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """marts.bas_runs (in-scope runs of both systems) and the current organisation card."""
    return read_mart(con, "marts.bas_runs"), read_mart(con, "clean.organisations")


@dg.multi_asset(
    specs=[
        _spec(
            "bas_runs",
            "Runs of Active, paying organisations, both systems in one table (Simple BAS org_id from the card).",
            CLEAN,
        ),
        _spec(
            "bas_scope_report",
            "Runs and organisations per system and scope reason, with the excluded share.",
            CLEAN,
        ),
    ],
    check_specs=[
        _check(
            "bas_runs_in_scope",
            "bas_runs",
            "Every run belongs to an Active, paying organisation on the card.",
        ),
        _check(
            "bas_scope_accounting", "bas_scope_report", "Scope rows add up to the clean runs of each system."
        ),
    ],
    pool="duckdb",
)
def bas_scope(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Limit the analysis to Active, paying organisations (Full BAS by org_id, Simple BAS by shortcode)."""
    with warehouse.connect() as con:
        fullbas, simplebas, orgs = load_clean(con)
        fullbas_in, simplebas_in, report = active_paying_scope(fullbas, simplebas, orgs)
        runs = stack_systems(fullbas_in, simplebas_in)
        outside = con.execute(RUNS_OUTSIDE_SCOPE, [runs["org_id"].tolist()]).fetchall()[0][0]
        totals = {FULLBAS: len(fullbas), SIMPLEBAS: len(simplebas)}
        in_scope = runs["system"].value_counts().to_dict()
        counted = report.groupby("system")["runs"].sum().to_dict()
        scoped = report.loc[report["in_scope"]].set_index("system")["runs"].to_dict()
        bad = [
            f"{s}: {counted.get(s, 0)} scope rows vs {n} clean runs"
            for s, n in totals.items()
            if counted.get(s, 0) != n
        ]
        bad += [
            f"{s}: {scoped.get(s, 0)} in scope vs {in_scope.get(s, 0)} runs"
            for s in totals
            if scoped.get(s, 0) != in_scope.get(s, 0)
        ]
        excluded = report.loc[~report["in_scope"]].groupby("system")["share"].sum()
        yield _write(
            con, "bas_runs", runs,
            [mart_check("bas_runs", "bas_runs_in_scope", [f"{outside} runs outside scope"] if outside else [],
                        runs_outside_scope=outside)],
        )  # fmt: skip
        yield _write(
            con, "bas_scope_report", report, [mart_check("bas_scope_report", "bas_scope_accounting", bad)],
            **{f"excluded_share_{s}": float(excluded.get(s, 0.0)) for s in totals},
        )  # fmt: skip


@dg.asset(
    group_name=GROUP, pool="duckdb", kinds=KINDS, owners=OWNERS, tags={"layer": "mart"}, deps=["bas_runs"],
    metadata=table_definition("marts.bas_interaction_profiles", fixed=False),
    check_specs=[_check("bas_profiles_complete", "bas_interaction_profiles",
                        "Hour, weekday and day-of-month profiles have every bucket and add up to the runs.")],
)  # fmt: skip
def bas_interaction_profiles(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Runs by Sydney hour, weekday, day of month, month, statement period, organisation and user, per system."""
    with warehouse.connect() as con:
        runs, _ = _in_scope(con)
        profiles = interaction_profiles(runs)
        expected = {"hour": 24, "weekday": 7, "day_of_month": 31}
        calendar = profiles.loc[profiles["dimension"].isin(list(expected))]
        got = calendar.groupby(["system", "dimension"]).agg(buckets=("bucket", "size"), runs=("runs", "sum"))
        total = runs["system"].value_counts()
        bad = [
            f"{s}/{d}: {r.buckets} buckets, {r.runs} runs (expected {expected[d]}, {total[s]})"
            for (s, d), r in got.iterrows()
            if r.buckets != expected[d] or r.runs != total[s]
        ]
        return _write(con, "bas_interaction_profiles", profiles,
                      [mart_check("bas_interaction_profiles", "bas_profiles_complete", bad)])  # fmt: skip


@dg.asset(
    group_name=GROUP, pool="duckdb", kinds=KINDS, owners=OWNERS, tags={"layer": "mart"}, deps=["bas_runs"],
    metadata=table_definition("marts.bas_system_comparison", fixed=False),
    check_specs=[_check("bas_comparison_totals", "bas_system_comparison",
                        "Runs per system equal bas_runs; repeat shares within [0, 1].")],
)  # fmt: skip
def bas_system_comparison(config: BasConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Full BAS vs Simple BAS: runs, users, orgs, runs per org, repeat runs (same user and org within minutes)."""
    with warehouse.connect() as con:
        runs, _ = _in_scope(con)
        comparison = compare_systems(runs, config.repeat_minutes)
        total = runs["system"].value_counts()
        bad = [
            f"{r.system}: {r.runs} runs vs {total[r.system]}"
            for r in comparison.itertuples()
            if r.runs != total[r.system]
        ]
        bad += [
            f"{r.system}: repeat share {r.repeat_share}"
            for r in comparison.itertuples()
            if not 0 <= r.repeat_share <= 1
        ]
        return _write(con, "bas_system_comparison", comparison,
                      [mart_check("bas_system_comparison", "bas_comparison_totals", bad)],
                      repeat_minutes=config.repeat_minutes)  # fmt: skip


@dg.multi_asset(
    specs=[
        _spec("bas_load_series", "Daily, monthly and hourly runs and runtime seconds per system (Sydney time).", ["bas_runs"]),
        _spec("bas_hour_of_day_load", "Mean, p95 and max hourly load for each hour of the day.", ["bas_runs"]),
        _spec("bas_peak_hourly_load", "Busiest Sydney hour by runs and by runtime, and the p95 hourly load.", ["bas_runs"]),
        _spec("bas_load_periods", "Dominant cycles of daily load: periodogram of the detrended series, STL strength.", ["bas_runs"]),
        _spec("bas_capacity_forecast", "Next months' daily and peak-hour load with 80/95% intervals (SARIMAX).", ["bas_runs"]),
    ],
    check_specs=[
        _check("bas_load_series_totals", "bas_load_series", "Daily, monthly and hourly series add up to the runs."),
        _check("bas_hour_of_day_complete", "bas_hour_of_day_load", "24 hours per system; mean and p95 runtime at most the maximum."),
        _check("bas_peak_hourly_load_consistent", "bas_peak_hourly_load", "One row per system; peak >= p95 hour."),
        _check("bas_load_periods_found", "bas_load_periods", "Each system has a dominant cycle of 2.5 days or more."),
        _check("bas_capacity_forecast_valid", "bas_capacity_forecast",
               "Complete horizon, no NaN, lower_95 <= lower_80 <= forecast <= upper_80 <= upper_95, non-negative."),
    ],
    pool="duckdb",
)  # fmt: skip
def bas_capacity(config: BasConfig, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Capacity seasonality: load series, hour-of-day load, peak hour, detected periods and a load forecast."""
    with warehouse.connect() as con:
        runs, _ = _in_scope(con)
        daily, monthly, hourly = daily_load(runs), monthly_load(runs), hourly_load(runs)
        series = load_series(daily, monthly, hourly)
        total = runs["system"].value_counts()
        sums = series.groupby(["grain", "system"])["runs"].sum()
        bad = [f"{g}/{s}: {n} runs vs {total[s]}" for (g, s), n in sums.items() if n != total[s]]
        yield _write(
            con, "bas_load_series", series, [mart_check("bas_load_series", "bas_load_series_totals", bad)]
        )
        by_hour = hour_of_day_load(hourly)
        sizes = by_hour.groupby("system").size()
        bad = [f"{s}: {n} hours" for s, n in sizes.items() if n != 24]
        top = by_hour["max_runtime_seconds"].fillna(float("inf")) + 1e-9
        if (by_hour[["mean_runtime_seconds", "p95_runtime_seconds"]].fillna(0).gt(top, axis=0)).any().any():
            bad.append("mean or p95 runtime above the maximum")
        yield _write(
            con,
            "bas_hour_of_day_load",
            by_hour,
            [mart_check("bas_hour_of_day_load", "bas_hour_of_day_complete", bad)],
        )
        peak = peak_hourly_load(hourly)
        systems = runs["system"].nunique()
        bad = [f"{len(peak)} rows for {systems} systems"] if len(peak) != systems else []
        bad += [
            f"{r.system}: peak {r.peak_runs} < p95 {r.p95_hourly_runs}"
            for r in peak.itertuples()
            if r.peak_runs < r.p95_hourly_runs
        ]
        yield _write(
            con, "bas_peak_hourly_load", peak,
            [mart_check("bas_peak_hourly_load", "bas_peak_hourly_load_consistent", bad)],
        )  # fmt: skip
        periods = periods_by_system(daily)
        found = set(periods["system"]) if len(periods) else set()
        bad = [f"{s}: no cycle found" for s in daily["system"].unique() if s not in found]
        bad += ["period under 2.5 days"] if len(periods) and (periods["period_days"] < 2.5).any() else []
        yield _write(con, "bas_load_periods", periods, [mart_check("bas_load_periods", "bas_load_periods_found", bad)],
                     periods=dg.MetadataValue.md(periods.to_markdown(index=False) if len(periods) else "_none_"))  # fmt: skip
        forecast = forecasts_by_system(daily, hourly, config.horizon_days)
        yield _write(con, "bas_capacity_forecast", forecast,
                     [mart_check("bas_capacity_forecast", "bas_capacity_forecast_valid",
                                 _forecast_problems(forecast, config.horizon_days))],
                     horizon_days=config.horizon_days, **_forecast_plots(daily, forecast))  # fmt: skip


def _forecast_plots(daily: pd.DataFrame, forecast: pd.DataFrame) -> dict:
    """One plot per system: recent daily load and the forecast with its 80/95% bands."""
    plots = {}
    for system, rows in forecast.groupby("system"):
        png = bas_forecast_png(daily, rows, rows["measure"].iloc[0])
        plots[f"plot_{system}_forecast"] = plot_metadata(png, f"{system} capacity forecast")
    return plots


def _forecast_problems(forecast: pd.DataFrame, horizon_days: int) -> list[str]:
    """What is wrong with a capacity forecast (empty when it is sound)."""
    if forecast.empty:
        return ["no forecast (less than eight weeks of history)"]
    problems = []
    sizes = forecast.groupby(["system", "quantity"]).size()
    problems += [
        f"{s}/{q}: {n} days, expected {horizon_days}" for (s, q), n in sizes.items() if n != horizon_days
    ]
    numeric = forecast[["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]]
    if numeric.isna().any().any():
        problems.append("NaN in forecast or bounds")
    ordered = numeric[["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]].to_numpy()
    if not ((ordered[:, :-1] <= ordered[:, 1:] + 1e-9).all() and (ordered >= 0).all()):
        problems.append("bounds out of order or negative")
    return problems


@dg.multi_asset(
    specs=[
        _spec("bas_outage_grid", "Expected runs and runtime hit by every (day of month, start hour) window.", ["bas_runs"]),
        _spec("bas_outage_windows", "The five least disruptive outage windows per system, off lodgement-deadline days.", ["bas_runs"]),
    ],
    check_specs=[
        _check("bas_outage_grid_complete", "bas_outage_grid", "31 x 24 windows per system, no negative impact."),
        _check("bas_outage_windows_valid", "bas_outage_windows",
               "top_windows windows per system, ranked, none on or wrapping into an avoided day."),
    ],
    pool="duckdb",
)  # fmt: skip
def bas_outage(config: BasConfig, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """The recommended two-hour outage window per system (Sydney time), scored by runs and runtime per month."""
    with warehouse.connect() as con:
        runs, _ = _in_scope(con)
        systems = [s for s in (FULLBAS, SIMPLEBAS) if runs["system"].eq(s).any()]
        grid = pd.concat(
            [outage_window_grid(runs, s, config.window_hours) for s in systems], ignore_index=True
        )
        windows = pd.concat(
            [recommend_outage_windows(runs, s, config.window_hours, config.top_windows) for s in systems],
            ignore_index=True,
        )
        sizes = grid.groupby("system").size()
        bad = [f"{s}: {n} windows" for s, n in sizes.items() if n != 31 * 24]
        bad += ["negative expected runs"] if (grid["expected_runs"] < 0).any() else []
        yield _write(
            con, "bas_outage_grid", grid, [mart_check("bas_outage_grid", "bas_outage_grid_complete", bad)]
        )
        next_day = windows["day_of_month"] % 31 + 1
        avoided = windows["day_of_month"].isin(DEFAULT_AVOID_DAYS) | (
            windows["wraps_midnight"] & next_day.isin(DEFAULT_AVOID_DAYS)
        )
        sizes = windows.groupby("system").size()
        bad = [f"{s}: {n} windows" for s, n in sizes.items() if n != config.top_windows]
        bad += [f"{int(avoided.sum())} window(s) on avoided days"] if avoided.any() else []
        best = windows.loc[windows["rank"].eq(1)].set_index("system")
        yield _write(
            con, "bas_outage_windows", windows, [mart_check("bas_outage_windows", "bas_outage_windows_valid", bad)],
            **{f"best_{s}": f"day {r.day_of_month} {r.window} (~{r.expected_runs:.1f} runs/month)" for s, r in best.iterrows()},
        )  # fmt: skip


@dg.multi_asset(
    specs=[
        _spec("bas_organisation_segments", "Per organisation: usage features, segment and declared tax period.", ["bas_runs"]),
        _spec("bas_segment_summary", "Each segment's size, share of runs and runtime, agreement with its tax period.", ["bas_runs"]),
    ],
    check_specs=[
        _check("bas_segments_cover_orgs", "bas_organisation_segments", "Every in-scope organisation is in exactly one segment."),
        _check("bas_segment_shares", "bas_segment_summary", "Segment shares of orgs and runs add up to 1."),
    ],
    pool="duckdb",
)  # fmt: skip
def bas_segments(config: BasConfig, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """Organisations segmented by usage pattern (monthly, quarterly, occasional, heavy repeat), checked against salestaxperiod."""
    with warehouse.connect() as con:
        runs, orgs = _in_scope(con)
        segments = organisation_segments(runs, orgs, config.repeat_minutes)
        orgs_in_scope = runs["org_id"].nunique()
        bad = [] if segments["org_id"].is_unique and len(segments) == orgs_in_scope else [
            f"{len(segments)} segment rows for {orgs_in_scope} organisations"
        ]  # fmt: skip
        yield _write(con, "bas_organisation_segments", segments,
                     [mart_check("bas_organisation_segments", "bas_segments_cover_orgs", bad)],
                     tax_period_agreement=float(segments["agrees"].mean()) if len(segments) else float("nan"))  # fmt: skip
        summary = segment_summary(segments)
        sums = summary[["org_share", "run_share"]].sum()
        bad = [f"{c} adds up to {v:.4f}" for c, v in sums.items() if len(summary) and abs(v - 1) > 1e-9]
        yield _write(
            con,
            "bas_segment_summary",
            summary,
            [mart_check("bas_segment_summary", "bas_segment_shares", bad)],
        )


@dg.multi_asset(
    specs=[
        _spec("bas_key_data_points", "Busiest month, orgs that ran both reports, users of either, multi-org users.", ["bas_runs"]),
        _spec("bas_popular_plans", "Organisations per pricing plan among BAS users (small plans as Other).", ["bas_runs"]),
    ],
    check_specs=[
        _check("bas_key_points_consistent", "bas_key_data_points",
               "Plan counts add up to the organisations that ran BAS; busiest month is the monthly maximum."),
        _check("bas_popular_plans_order", "bas_popular_plans", "Shares add up to 1; plans by size, Other last."),
    ],
    pool="duckdb",
)  # fmt: skip
def bas_key_points(warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    """The product manager's five data points on the in-scope runs."""
    with warehouse.connect() as con:
        runs, orgs = _in_scope(con)
        fullbas, simplebas = runs_by_system(runs)
        points = key_data_points(fullbas, simplebas, orgs)
        frame, plans = key_points_frame(points)
        monthly_max = int(runs["run_at_local"].dt.to_period("M").value_counts().max()) if len(runs) else 0
        bad = []
        if int(plans["orgs"].sum()) != points["orgs_ran_either"]:
            bad.append(f"plans cover {plans['orgs'].sum()} orgs, {points['orgs_ran_either']} ran BAS")
        if points["busiest_month"]["combined"]["runs"] != monthly_max:
            bad.append(
                f"busiest month has {points['busiest_month']['combined']['runs']} runs, max is {monthly_max}"
            )
        yield _write(con, "bas_key_data_points", frame, [mart_check("bas_key_data_points", "bas_key_points_consistent", bad)],
                     points=dg.MetadataValue.md(frame.to_markdown(index=False)))  # fmt: skip
        named = plans.loc[plans["product_option"].ne("Other")]
        bad = (
            []
            if abs(plans["share"].sum() - 1) < 1e-9 or plans.empty
            else [f"shares add up to {plans['share'].sum()}"]
        )
        bad += ["Other is not last"] if "Other" in plans["product_option"].iloc[:-1].tolist() else []
        bad += ["plans out of order"] if not named["orgs"].is_monotonic_decreasing else []
        yield _write(
            con, "bas_popular_plans", plans, [mart_check("bas_popular_plans", "bas_popular_plans_order", bad)]
        )
