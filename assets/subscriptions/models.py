"""subscription_installs_models and subscription_installs_forecasts: the installs tournament per platform and
the daily installs forecast through the plan end."""

import functools

import dagster as dg
import pandas as pd

from assets.checks import FORECAST_BOUNDS, forecast_bound_check_specs, forecast_bound_checks, publishing_gate
from assets.metadata import forecast_plot, table_definition, table_metadata, tournament_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import ModelStoreResource, WarehouseResource
from revcast.forecasting import (
    SeasonalNaive,
    StatsForecastModel,
    clip_at_zero,
)
from revcast.forecasting.engine import local_executor
from revcast.forecasting.prophet import DEFAULT_COUNTRIES, ProphetForecaster
from revcast.settings import settings
from revcast.subscriptions.plan import plan_from_frame
from revcast.subscriptions.sql import installs_series, plan_frame
from revcast.tournament import champion_artifacts, champion_forecasts, run_domain_tournament, write_tournament
from revcast.training import gap_report
from revcast.warehouse import replace_with_frame

DOMAIN = "subscription_installs"
BASELINE = "seasonal_naive"


class InstallsModelsConfig(dg.Config):
    """Tournament settings. `models` restricts the entries (seasonal_naive is always in: the gate needs it);
    holiday_countries: the public holidays Prophet models (the markets the app sells in)."""

    n_windows: int = 3
    fold_step: int = 30  # a rolling origin every month
    margin: float = 0.05
    holiday_countries: list[str] = list(DEFAULT_COUNTRIES)
    prophet_uncertainty_samples: int = 300
    models: list[str] | None = None


def installs_model_factories(cfg: InstallsModelsConfig) -> dict:
    """Prophet (weekly + yearly seasonality, public holidays), AutoETS and MSTL (weekly + yearly), seasonal naive."""
    entries = {
        "seasonal_naive": functools.partial(SeasonalNaive, season=7),
        "auto_ets": functools.partial(StatsForecastModel, "auto_ets"),
        "mstl": functools.partial(StatsForecastModel, "mstl"),
        "prophet": functools.partial(
            ProphetForecaster,
            countries=list(cfg.holiday_countries),
            uncertainty_samples=cfg.prophet_uncertainty_samples,
        ),
    }
    keep = set(cfg.models or entries) | {BASELINE}
    unknown = keep - set(entries)
    if unknown:
        raise ValueError(f"unknown installs models {sorted(unknown)}; choose from {sorted(entries)}")
    return {name: make for name, make in entries.items() if name in keep}


def plan_horizon(con, last_day: pd.Timestamp):
    """(plan, plan_start, plan_end, days from the cutoff's last day through plan_end)."""
    plan = plan_from_frame(plan_frame(con))
    start, end = plan.period(last_day.date())
    return plan, start, end, (pd.Timestamp(end) - last_day).days


@dg.asset(
    metadata=table_definition("models.scores"),
    group_name="subscriptions",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "prophet", "python"},
    owners=["team:data-science"],
    # unpartitioned: every cutoff reads the whole history through its last day
    deps=["subscription_installs", "subscription_plan"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_installs_champion_beats_naive",
            asset="subscription_installs_models",
            blocking=True,
            description="Each platform publishes seasonal naive unless a challenger beats its backtest MASE by "
            "the configured margin.",
        )
    ],
)
def subscription_installs_models(
    context: dg.AssetExecutionContext,
    config: InstallsModelsConfig,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """Installs tournament per platform (Prophet with US/GB holidays, AutoETS, MSTL, seasonal naive) backtested
    on monthly rolling origins over the plan horizon; champions in the model store and models.registry."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        _, start, end, h = plan_horizon(con, last_day)
        series = installs_series(con, last_day.date())
    if series.empty:
        raise ValueError(f"no installs through {last_day.date()}: materialize subscription_installs first")
    t = run_domain_tournament(
        DOMAIN,
        cutoff,
        series[["unique_id", "ds", "y"]],
        installs_model_factories(config),
        h=h,
        n_windows=config.n_windows,
        step=config.fold_step,
        artifact_dir=model_store.artifact_dir,
        baseline=BASELINE,
        margin=config.margin,
        run_id=context.run_id,
        executor=local_executor(settings().workers),
    )
    with warehouse.connect() as con:
        written = write_tournament(con, t)
        scores = tournament_metadata(con, DOMAIN, cutoff, t.scores)
    champ = t.champions
    return dg.MaterializeResult(
        metadata={
            **scores,
            "tournament": dg.MetadataValue.md(t.table().to_markdown(index=False, floatfmt=".4g")),
            "champions": dg.MetadataValue.md(champ.drop(columns=["model_id"]).to_markdown(index=False)),
            "plan_period": f"{start} to {end}",
            "horizon_days": h,
            "training_days": int(series["ds"].nunique()),
            "interpolated_days": dg.MetadataValue.json(gap_report(series)),
            "rows_written": dg.MetadataValue.json(written),
        },
        check_results=[publishing_gate("subscription_installs_champion_beats_naive", champ, BASELINE)],
    )


@dg.asset(
    metadata=table_definition("forecasts.subscription_installs_forecasts"),
    group_name="subscriptions",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-science"],
    deps=["subscription_installs_models"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_installs_forecast_complete",
            asset="subscription_installs_forecasts",
            blocking=True,
            description="Every platform has one row per day from the cutoff through the plan end.",
        ),
        *forecast_bound_check_specs(
            "subscription_installs_forecasts", "subscription_installs_forecast", "yhat"
        ),
    ],
)
def subscription_installs_forecasts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily installs per platform from each platform's champion, from the day after the cutoff through the plan
    end, with 80/95% intervals (calibrated on its backtests), clipped at 0, in
    forecasts.subscription_installs_forecasts."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        champions = champion_artifacts(con, DOMAIN, cutoff)
        _, _, end, h = plan_horizon(con, last_day)
    if champions.empty:
        raise ValueError(
            f"no installs champion for cutoff {cutoff}: materialize subscription_installs_models"
        )
    fc = champion_forecasts(champions, h)
    clipped = clip_at_zero(fc, ["yhat", *FORECAST_BOUNDS])
    fc = fc.rename(columns={"unique_id": "platform"}).assign(cutoff=cutoff, run_id=context.run_id)
    fc["ds"] = fc["ds"].dt.date
    with warehouse.connect() as con:
        replace_with_frame(con, "forecasts.subscription_installs_forecasts", fc, key={"cutoff": cutoff})
        counts = con.execute(
            "SELECT platform, count(*) AS n, count(DISTINCT ds) AS days, min(ds) AS first, max(ds) AS last "
            "FROM forecasts.subscription_installs_forecasts WHERE cutoff = ? GROUP BY platform ORDER BY platform",
            [cutoff],
        ).df()
        bound_checks = forecast_bound_checks(
            con,
            asset="subscription_installs_forecasts",
            prefix="subscription_installs_forecast",
            table="forecasts.subscription_installs_forecasts",
            point="yhat",
            cutoff=cutoff,
            clipped=clipped,
        )
        metadata = table_metadata(con, "forecasts.subscription_installs_forecasts", "cutoff = ?", [cutoff])
    first = (last_day + pd.Timedelta(days=1)).date()
    counts[["first", "last"]] = counts[["first", "last"]].apply(lambda c: pd.to_datetime(c).dt.date)
    complete = bool(
        len(counts) == len(champions)
        and (
            (counts["n"] == h) & (counts["days"] == h) & (counts["first"] == first) & (counts["last"] == end)
        ).all()
    )
    checks = [
        dg.AssetCheckResult(
            check_name="subscription_installs_forecast_complete",
            passed=complete,
            metadata={"by_platform": dg.MetadataValue.md(counts.to_markdown(index=False)), "horizon": h},
        ),
        *bound_checks,
    ]
    metadata |= {
        "plot_forecast": forecast_plot(fc, series="platform", title=f"installs forecast, cutoff {cutoff}"),
        "champions": dg.MetadataValue.md(champions.drop(columns=["parameters"]).to_markdown(index=False)),
        "rows_clipped_at_0": clipped,
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
