"""usage_models and usage_forecasts: the model tournament on daily usage per metric, and 182-day forecasts."""

import functools

import dagster as dg

from assets.checks import FORECAST_BOUNDS, forecast_bound_check_specs, forecast_bound_checks, publishing_gate
from assets.metadata import forecast_plot, table_definition, table_metadata, tournament_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import ModelStoreResource, WarehouseResource
from revcast.forecasting import (
    Drift,
    LSTMForecaster,
    SeasonalNaive,
    StatsForecastModel,
    WindowTotal,
    clip_at_zero,
)
from revcast.forecasting.engine import local_executor
from revcast.settings import settings
from revcast.tournament import champion_artifacts, champion_forecasts, run_domain_tournament, write_tournament
from revcast.training import gap_report
from revcast.usage.features import USAGE_FEATURES
from revcast.usage.training import training_series
from revcast.warehouse import replace_with_frame

DOMAIN = "usage"
LSTM_UNITS = {"api_calls": [50, 50], "storage_gb": [100, 50]}  # the reference LSTM's layer sizes per metric
BASELINE = "seasonal_naive"
COMBINED = ("auto_ets", "auto_arima", "auto_theta")


class UsageModelsConfig(dg.Config):
    """Tournament settings. `models` restricts the entries (seasonal_naive is always in: the gate needs it);
    force_champion (or env REVCAST_FORCE_CHAMPION) overrides the selection, to show the gate failing."""

    horizon: int = 182
    n_windows: int = 3
    fold_step: int = 91  # a rolling origin every quarter
    margin: float = 0.05  # a challenger must beat seasonal naive's MASE by this share to be published
    lstm_lags: int = max(USAGE_FEATURES.lags)
    lstm_epochs: int = 3  # demo default: ~60 s of LSTM training for both metrics on 2 CPU cores
    lstm_patience: int = 2
    models: list[str] | None = None
    force_champion: str | None = None


class UsageForecastConfig(dg.Config):
    """Days to forecast from the cutoff (must not exceed the tournament horizon the LSTM was fitted for)."""

    horizon: int = 182


def usage_model_factories(cfg: UsageModelsConfig) -> dict:
    """The tournament entries: baselines, AICc-selected ETS/ARIMA (holidays), Theta, MSTL (weekly + yearly),
    weekly totals forecast directly, and the reference LSTM (restricted to cfg.models if set)."""
    country = USAGE_FEATURES.holiday_country
    entries = {
        "seasonal_naive": functools.partial(SeasonalNaive, season=7),
        "drift": Drift,
        "auto_ets": functools.partial(StatsForecastModel, "auto_ets"),
        "auto_arima": functools.partial(StatsForecastModel, "auto_arima", country=country),
        "auto_theta": functools.partial(StatsForecastModel, "auto_theta"),
        "mstl": functools.partial(StatsForecastModel, "mstl"),
        "window_total": functools.partial(WindowTotal, window=28),
        "lstm": functools.partial(
            LSTMForecaster,
            lags=cfg.lstm_lags,
            horizon=cfg.horizon,
            units=LSTM_UNITS,
            dropout=0.2,
            epochs=cfg.lstm_epochs,
            patience=cfg.lstm_patience,
            seed=42,
        ),
    }
    keep = set(cfg.models or entries) | {BASELINE}
    unknown = keep - set(entries)
    if unknown:
        raise ValueError(f"unknown usage models {sorted(unknown)}; choose from {sorted(entries)}")
    return {name: make for name, make in entries.items() if name in keep}


@dg.asset(
    metadata=table_definition("models.scores"),
    group_name="usage",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "tensorflow", "python"},
    owners=["team:data-science"],
    # unpartitioned: every cutoff reads the whole history through its last day
    deps=["usage_features"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_champion_beats_naive",
            asset="usage_models",
            blocking=True,
            description="Each metric publishes seasonal naive unless a challenger beats its backtest MASE "
            "by the configured margin (never a model worse than the baseline out of sample).",
        )
    ],
)
def usage_models(
    context: dg.AssetExecutionContext,
    config: UsageModelsConfig,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """Model tournament per usage metric (baselines, AutoETS/AutoARIMA/Theta/MSTL, 28-day totals, a combination,
    the reference LSTM) on quarterly rolling origins; seasonal naive is published unless a challenger beats its MASE
    by the margin; champion artifacts under the model store, rows in models.backtests/scores/registry."""
    import tensorflow  # noqa: F401 - imported here so the code location loads fast

    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        series = training_series(con, last_day.date())
    if series.empty:
        raise ValueError(
            f"no features.usage_features rows through {last_day.date()}: materialize usage_features first"
        )
    interpolated = gap_report(series)
    force = config.force_champion or settings().force_champion
    t = run_domain_tournament(
        DOMAIN,
        cutoff,
        series[["unique_id", "ds", "y"]],
        usage_model_factories(config),
        h=config.horizon,
        n_windows=config.n_windows,
        step=config.fold_step,
        artifact_dir=model_store.artifact_dir,
        baseline=BASELINE,
        combine=COMBINED,
        margin=config.margin,
        force_champion=force,
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
            "training_days": int(series["ds"].nunique()),
            "interpolated_days": dg.MetadataValue.json(interpolated),
            "rows_written": dg.MetadataValue.json(written),
            "forced_champion": force or "",
        },
        check_results=[publishing_gate("usage_champion_beats_naive", champ, BASELINE)],
    )


RECENT_SQL = """
SELECT metric, ds, quantity AS y FROM features.usage_daily_totals
WHERE ds > CAST($last AS DATE) - INTERVAL 90 DAY AND ds <= $last ORDER BY metric, ds
"""
HORIZON_SQL = """
SELECT metric, count(*) AS n, count(DISTINCT horizon) AS horizons, min(horizon) AS h_min, max(horizon) AS h_max
FROM forecasts.usage_forecasts WHERE cutoff = ? GROUP BY metric ORDER BY metric
"""


@dg.asset(
    metadata=table_definition("forecasts.usage_forecasts"),
    group_name="usage",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-science"],
    deps=["usage_models"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_forecast_complete_horizon",
            asset="usage_forecasts",
            blocking=True,
            description="Every metric has one row per day 1..horizon.",
        ),
        *forecast_bound_check_specs("usage_forecasts", "usage_forecast", "yhat"),
    ],
)
def usage_forecasts(
    context: dg.AssetExecutionContext, config: UsageForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily usage forecasts per metric from each metric's champion with 80/95% intervals (calibrated on its
    backtests), point and bounds clipped at 0 (usage cannot be negative), in forecasts.usage_forecasts."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        champions = champion_artifacts(con, DOMAIN, cutoff)
        recent = con.execute(RECENT_SQL, {"last": last_day.date()}).df()
    if champions.empty:
        raise ValueError(f"no usage champion registered for cutoff {cutoff}: materialize usage_models first")
    fc = champion_forecasts(champions, config.horizon)
    clipped = clip_at_zero(fc, ["yhat", *FORECAST_BOUNDS])
    fc = fc.rename(columns={"unique_id": "metric"}).assign(cutoff=cutoff, run_id=context.run_id)
    fc["ds"] = fc["ds"].dt.date
    with warehouse.connect() as con:
        replace_with_frame(con, "forecasts.usage_forecasts", fc, key={"cutoff": cutoff})
        stats = con.execute(HORIZON_SQL, [cutoff]).df()
        bound_checks = forecast_bound_checks(
            con,
            asset="usage_forecasts",
            prefix="usage_forecast",
            table="forecasts.usage_forecasts",
            point="yhat",
            cutoff=cutoff,
            clipped=clipped,
        )
        metadata = table_metadata(con, "forecasts.usage_forecasts", "cutoff = ?", [cutoff])
    h = config.horizon
    complete = bool(
        ((stats["n"] == h) & (stats["horizons"] == h) & (stats["h_min"] == 1) & (stats["h_max"] == h)).all()
    )
    per_metric = dg.MetadataValue.md(stats.to_markdown(index=False))
    checks = [
        dg.AssetCheckResult(
            check_name="usage_forecast_complete_horizon",
            passed=complete,
            metadata={"by_metric": per_metric, "horizon": h},
        ),
        *bound_checks,
    ]
    metadata |= {
        "plot_forecast": forecast_plot(
            fc,
            series="metric",
            history=recent,
            title=f"usage forecasts after 90 days of history, cutoff {cutoff}",
        ),
        "champions": dg.MetadataValue.md(champions.to_markdown(index=False)),
        "rows_clipped_at_0": clipped,
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
