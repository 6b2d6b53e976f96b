"""account_forecasts: every (account, metric) usage series forecast in bulk per training cutoff."""

import dagster as dg

from assets.checks import forecast_bound_check_specs, forecast_bound_checks
from assets.metadata import table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import ModelStoreResource, WarehouseResource
from resources.dask import DaskResource
from revcast.tournament import write_tournament
from revcast.usage.accounts import FORECAST_TABLE, account_series, run_account_forecasts
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
    metadata |= {
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
