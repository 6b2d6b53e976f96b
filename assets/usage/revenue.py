"""Usage revenue (actual vs forecast, priced by the price book) and the accuracy of past usage forecasts."""

import dagster as dg

from assets.metadata import table_definition, table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import WarehouseResource
from revcast.usage import sql
from revcast.usage.monitoring import HORIZON_BUCKETS, drift_flags, write_forecast_accuracy
from revcast.usage.pricing import load_price_book
from revcast.usage.revenue import (
    forecast_price_gaps,
    reconciliation_gaps,
    revenue_metrics,
    write_usage_revenue,
)

TOLERANCE = 1e-6  # relative, for float sums


class RevenueConfig(dg.Config):
    """price_book: path of the price book YAML (empty: env REVCAST_PRICE_BOOK, else the packaged default)."""

    price_book: str = ""


@dg.asset(
    metadata=table_definition("marts.usage_revenue_daily"),
    group_name="usage",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff", "layer": "mart"},
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:fpa"],
    deps=["usage_forecasts", "usage_daily_totals"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_revenue_reconciles",
            asset="usage_revenue",
            blocking=True,
            description="Monthly revenue = sum of daily revenue; the daily total = sum over metrics.",
        ),
        dg.AssetCheckSpec(
            "usage_revenue_matches_forecast",
            asset="usage_revenue",
            blocking=True,
            description="Every forecast day is in the mart and its revenue and bounds = forecast x unit price.",
        ),
    ],
)
def usage_revenue(
    context: dg.AssetExecutionContext, config: RevenueConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Usage revenue for a training cutoff in marts.usage_revenue_daily/_monthly: actual (history through the
    cutoff) and forecast (the cutoff's forecasts x price, with 80/95% bounds), per metric and in total."""
    cutoff, last_day = cutoff_of(context)
    end = last_day.date()
    with warehouse.connect() as con:
        book = load_price_book(config.price_book or None, metrics=revenue_metrics(con, cutoff, end))
        written = write_usage_revenue(con, cutoff, end, book, context.run_id)
        recon = reconciliation_gaps(con, cutoff)
        priced = forecast_price_gaps(con, cutoff, book)
        scale = con.execute(sql.REVENUE_SCALE, [cutoff]).fetchall()[0][0]
        summary = con.execute(sql.MONTHLY_REVENUE_PREVIEW, [cutoff, end]).df()
        metadata = table_metadata(con, "marts.usage_revenue_daily", "cutoff = ?", [cutoff])
    tol = TOLERANCE * max(1.0, scale)
    reconciles = (
        recon["monthly_vs_daily"] <= tol
        and recon["total_vs_metrics"] <= tol
        and not recon["unmatched_months"]
    )
    matches = priced["forecast_rows"] > 0 and priced["missing_from_mart"] == 0 and priced["max_gap"] <= tol
    checks = [
        dg.AssetCheckResult(
            check_name="usage_revenue_reconciles",
            passed=bool(reconciles),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={k: float(v) for k, v in recon.items()} | {"tolerance": tol},
        ),
        dg.AssetCheckResult(
            check_name="usage_revenue_matches_forecast",
            passed=bool(matches),
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if priced["forecast_rows"] else f"no usage forecasts for cutoff {cutoff}",
            metadata={k: float(v) for k, v in priced.items()} | {"tolerance": tol},
        ),
    ]
    metadata |= {
        "rows_daily": written["daily"],
        "rows_monthly": written["monthly"],
        "currency": book.currency,
        "price_book": book.source,
        "unit_prices": dg.MetadataValue.json(book.unit_prices),
        "monthly_revenue": dg.MetadataValue.md(
            summary.to_markdown(index=False) if len(summary) else "_none_"
        ),
        "interval_method": "monthly and total bounds: independent daily errors (sqrt of summed squared "
        "half-widths); *_comonotonic columns: plain sums of daily 95% bounds (perfect dependence)",
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


class AccuracyConfig(dg.Config):
    """Drift thresholds: MASE above max_mase or 95% coverage below min_coverage_95 flags a metric."""

    max_mase: float = 1.0
    min_coverage_95: float = 0.8


@dg.asset(
    metadata=table_definition("marts.usage_forecast_accuracy"),
    group_name="usage",
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:data-science"],
    tags={"layer": "monitoring"},
    deps=["usage_forecasts", "usage_daily_totals"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_forecast_drift",
            asset="usage_forecast_accuracy",
            blocking=False,
            description="Warns when the latest scored cutoff of a metric has MASE > 1 or 95% coverage < 80%.",
        )
    ],
)
def usage_forecast_accuracy(
    context: dg.AssetExecutionContext, config: AccuracyConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every past cutoff's usage forecasts scored against the actuals that arrived since, by horizon bucket
    (1-7, 8-30, 31-90, 91-182 days): MAE, MASE and 80/95% coverage in marts.usage_forecast_accuracy."""
    with warehouse.connect() as con:
        rows = write_forecast_accuracy(con)
        accuracy = con.execute(sql.FORECAST_ACCURACY).df()
        metadata = table_metadata(con, "marts.usage_forecast_accuracy")
    flagged = drift_flags(accuracy, config.max_mase, config.min_coverage_95)
    latest = accuracy[accuracy["cutoff"] == accuracy.groupby("metric")["cutoff"].transform("max")]
    shown = [
        "cutoff",
        "metric",
        "model",
        "horizon_bucket",
        "n_days",
        "mae",
        "mase",
        "coverage_80",
        "coverage_95",
    ]
    check = dg.AssetCheckResult(
        check_name="usage_forecast_drift",
        passed=flagged.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if flagged.empty
        else "; ".join(
            f"{r.metric} {r.cutoff} h{r.horizon_bucket}: {r.reason}" for r in flagged.itertuples(index=False)
        ),
        metadata={
            "flagged_buckets": len(flagged),
            "max_mase": config.max_mase,
            "min_coverage_95": config.min_coverage_95,
        },
    )
    metadata |= {
        "scored_rows": rows,
        "cutoffs_scored": int(accuracy["cutoff"].nunique()),
        "horizon_buckets": ", ".join(n for n, _, _ in HORIZON_BUCKETS),
        "drift": bool(not flagged.empty),
        "latest_accuracy": dg.MetadataValue.md(
            latest[shown].to_markdown(index=False, floatfmt=".3g")
            if len(latest)
            else "_no forecast day has actuals yet_"
        ),
        "drift_flags": dg.MetadataValue.md(
            flagged[["cutoff", "metric", "horizon_bucket", "reason"]].to_markdown(index=False)
            if len(flagged)
            else "_none_"
        ),
    }
    context.log.info(f"usage_forecast_accuracy: {rows} rows, {len(flagged)} bucket(s) flagged for drift")
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
