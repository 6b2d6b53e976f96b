"""account_forecasts: every (account, metric) usage series forecast in bulk per training cutoff."""

import dagster as dg

from assets.checks import forecast_bound_check_specs, forecast_bound_checks
from assets.metadata import forecast_plot, table_definition, table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import ModelStoreResource, WarehouseResource
from resources.dask import DaskResource
from revcast.tournament import write_tournament
from revcast.usage.accounts import (
    FORECAST_TABLE,
    account_series,
    published_account_forecasts,
    run_account_forecasts,
)
from revcast.usage.global_forecast import compare_global, write_global_forecasts
from revcast.usage.global_forecast import global_forecasts as global_forecast_frames
from revcast.warehouse import replace_with_frame

HISTORY_MONTHS = 12  # the asset graph's view of the history window (history_days <= 365)


class AccountForecastsConfig(dg.Config):
    """`forecast_size` days ahead from `history_days` of history; AutoARIMA (slow, about 0.5 s a series) runs
    on `arima_sample` series, 0 to skip it; `chunk_size` series per task on the executor."""

    forecast_size: int = 30
    history_days: int = 365
    arima_sample: int = 20
    chunk_size: int = 5000
    margin: float = 0.05


@dg.asset(
    metadata=table_definition(FORECAST_TABLE),
    group_name="usage",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python", "dask"},
    owners=["team:data-science"],
    # features.usage_account_daily is written by usage_daily_totals: the cutoff's month and the 12 before it
    deps=[
        dg.AssetDep(
            "usage_daily_totals",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_MONTHS, allow_nonexistent_upstream_partitions=True
            ),
        )
    ],
    check_specs=forecast_bound_check_specs("account_forecasts", "account_forecast", "yhat"),
)
def account_forecasts(
    context: dg.AssetExecutionContext,
    config: AccountForecastsConfig,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
    dask: DaskResource,
) -> dg.MaterializeResult:
    """Daily usage forecasts per account and metric (forecasts.account_forecasts) with 80/95% intervals: the
    vectorised ETS, seasonal naive (also the fallback for short or mostly-zero series, reason per series) and
    AutoARIMA on a sample, backtested on the last forecast_size days and scored per series (MASE) into
    models.backtests/scores/registry (domain usage_accounts). Runs on Dask when REVCAST_DASK_ADDRESS is set."""
    cutoff, last_day = cutoff_of(context)
    if config.history_days > 365:
        raise ValueError("history_days is at most 365 (the asset reads 13 months of usage_daily_totals)")
    with warehouse.connect(read_only=True) as con:
        series = account_series(con, last_day.date(), config.history_days)
    if series.empty:
        raise ValueError(
            f"no features.usage_account_daily rows through {last_day.date()}: run usage_daily_totals"
        )
    with dask.executor() as executor:
        result = run_account_forecasts(
            series,
            cutoff,
            h=config.forecast_size,
            artifact_dir=model_store.artifact_dir,
            executor=executor,
            chunk_size=config.chunk_size,
            arima_sample=config.arima_sample,
            margin=config.margin,
            run_id=context.run_id,
        )
    fc = result.forecasts.assign(cutoff=cutoff, run_id=context.run_id)
    fc["ds"] = fc["ds"].dt.date
    columns = ["cutoff", "account_id", "metric", "ds", "horizon", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]
    fc = fc[[*columns, "model", "model_id", "fallback_reason", "run_id"]]
    with warehouse.connect() as con:
        written = write_tournament(con, result.tournament)
        written[FORECAST_TABLE] = replace_with_frame(con, FORECAST_TABLE, fc, key={"cutoff": cutoff})
        checks = forecast_bound_checks(
            con,
            asset="account_forecasts",
            prefix="account_forecast",
            table=FORECAST_TABLE,
            point="yhat",
            cutoff=cutoff,
            clipped=result.clipped,
        )
        metadata = table_metadata(con, FORECAST_TABLE, "cutoff = ?", [cutoff])
    champ = result.tournament.champions
    by_model = (
        champ.groupby("model").agg(series=("unique_id", "size"), mean_mase=("mase", "mean")).reset_index()
    )
    reasons = champ["fallback_reason"].fillna("").str.replace(r"\d+", "N", regex=True).value_counts()
    by_metric = fc.groupby(["metric", "ds"], as_index=False)["yhat"].sum()
    metadata |= {
        "plot_forecast": forecast_plot(
            by_metric, series="metric", title=f"sum of per-account forecasts, cutoff {cutoff}", bands=()
        ),
        "series": len(champ),
        "champions_by_model": dg.MetadataValue.md(by_model.to_markdown(index=False, floatfmt=".4g")),
        "fallback_reasons": dg.MetadataValue.md(reasons.rename("series").to_frame().to_markdown()),
        "mean_mase_published": float(champ["mase"].mean()),
        "mean_mase_seasonal_naive": float(champ["baseline_mase"].mean()),
        "timings_s": dg.MetadataValue.json(result.timings),
        "executor": "dask " + dask.address if dask.address else "local",
        "rows_written": dg.MetadataValue.json(written),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


class GlobalForecastsConfig(dg.Config):
    """`patterns`: k of the pattern-based forecast's usage patterns per metric."""

    forecast_size: int = 30
    history_days: int = 365
    patterns: int = 8


@dg.asset(
    metadata=table_definition("forecasts.global_forecasts"),
    group_name="usage",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-science"],
    deps=[
        "account_forecasts",
        dg.AssetDep(
            "usage_daily_totals",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_MONTHS, allow_nonexistent_upstream_partitions=True
            ),
        ),
    ],
    check_specs=forecast_bound_check_specs("global_forecasts", "global_forecast", "yhat"),
)
def global_forecasts(
    context: dg.AssetExecutionContext,
    config: GlobalForecastsConfig,
    warehouse: WarehouseResource,
    dask: DaskResource,
) -> dg.MaterializeResult:
    """Usage per metric forecast three ways (forecasts.global_forecasts): the sum of the per-account forecasts,
    all accounts aggregated as one series (model-based), and the pattern-based forecast (active accounts per day
    x k usage patterns); the three backtested on the last forecast_size days in marts.global_forecast_comparison."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        series = account_series(con, last_day.date(), config.history_days)
        published = published_account_forecasts(con, cutoff)
    if published.empty:
        raise ValueError(
            f"no forecasts.account_forecasts rows for cutoff {cutoff}: materialize account_forecasts"
        )
    h = int(published["horizon"].max())
    if h != config.forecast_size:
        raise ValueError(
            f"account_forecasts of {cutoff} forecast {h} days, not forecast_size={config.forecast_size}"
        )
    published["ds"] = published["ds"].astype("datetime64[ns]")
    with dask.executor() as executor:
        fc = global_forecast_frames(series, h, account_fc=published, k=config.patterns)
        table = compare_global(series, h, k=config.patterns, executor=executor)
    fc = fc.rename(columns={"unique_id": "metric"}).assign(cutoff=cutoff, run_id=context.run_id)
    fc["ds"] = fc["ds"].dt.date
    table = table.assign(cutoff=cutoff, run_id=context.run_id)
    with warehouse.connect() as con:
        write_global_forecasts(con, cutoff, fc, table)
        checks = forecast_bound_checks(
            con,
            asset="global_forecasts",
            prefix="global_forecast",
            table="forecasts.global_forecasts",
            point="yhat",
            cutoff=cutoff,
            clipped=0,
        )
        metadata = table_metadata(con, "forecasts.global_forecasts", "cutoff = ?", [cutoff])
    shown = table[
        ["method", "metric", "mae", "mase", "bias", "total_error_pct", "coverage_80", "coverage_95"]
    ]
    metadata |= {
        "plot_forecast": forecast_plot(
            fc[fc["method"].eq(fc["method"].min())],
            series="metric",
            title=f"global usage forecast ({fc['method'].min()}), cutoff {cutoff}",
        ),
        "comparison": dg.MetadataValue.md(shown.to_markdown(index=False, floatfmt=".4g")),
        "backtest_cutoff": str(table["backtest_cutoff"].iloc[0]) if len(table) else "",
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
