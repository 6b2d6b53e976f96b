"""invoice_records: monthly invoice JSON exports to clean.invoices, bad records to quarantine.invoices."""

import functools

import dagster as dg

from assets.checks import expectations_check, quarantine_share_check
from assets.metadata import table_metadata
from pipelines.partitions import monthly_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.ingest.core import quarantine_summary, write_partitions
from revcast.invoices import PARSER_VERSION, PARTITION_EXPR, default_price_range, parse_invoice_partitions


def month_keys(window: dg.TimeWindow) -> list[str]:
    """The YYYY-MM months of a partition time window (landing folders are month=YYYY-MM)."""
    year, month, keys = window.start.year, window.start.month, []
    while (year, month) < (window.end.year, window.end.month) or (
        (year, month) == (window.end.year, window.end.month) and window.end.day > 1
    ):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return keys


class InvoiceIngestConfig(dg.Config):
    """force: reload unchanged partitions; price_min/price_max: the sane price range (default from env)."""

    force: bool = False
    price_min: float | None = None
    price_max: float | None = None


@dg.asset(
    group_name="invoices",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    tags={"layer": "clean"},
    check_specs=[
        dg.AssetCheckSpec(
            "invoice_expectations",
            asset="invoice_records",
            blocking=True,
            description="Great Expectations suite clean_invoices: schema, non-null keys, views >= 0, unique record.",
        ),
        dg.AssetCheckSpec(
            "invoice_quarantine_share",
            asset="invoice_records",
            blocking=True,
            description="Quarantined share of records per month at most REVCAST_QUARANTINE_THRESHOLD (1%).",
        ),
    ],
)
def invoice_records(
    context: dg.AssetExecutionContext,
    config: InvoiceIngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Invoice lines (country, customer, invoice, stream, views, price, day) in clean.invoices; bad records,
    prices outside the sane range and records dated outside their month folder quarantined with the reason."""
    keys = month_keys(context.partition_time_window)
    partitions = landing.partitions_files("invoices", keys)
    lo, hi = default_price_range()
    price_range = (
        lo if config.price_min is None else config.price_min,
        hi if config.price_max is None else config.price_max,
    )
    with warehouse.connect() as con:
        report = write_partitions(
            con,
            source="invoices",
            partitions=partitions,
            parse=functools.partial(parse_invoice_partitions, con, price_range=price_range),
            clean_table="clean.invoices",
            partition_expr=PARTITION_EXPR,
            quarantine_table="quarantine.invoices",
            parser_version=f"{PARSER_VERSION}/price[{price_range[0]:g},{price_range[1]:g}]",
            run_id=context.run_id,
            force=config.force,
        )
        context.log.info(
            f"invoices: {len(report.loaded)} month(s) loaded, {len(report.unchanged)} unchanged; "
            f"{report.total('lines_read')} records read, {report.total('lines_quarantined')} quarantined"
        )
        where, params = f"{PARTITION_EXPR} IN (SELECT unnest(?))", [keys]
        checks = [
            expectations_check(
                con,
                asset="invoice_records",
                check="invoice_expectations",
                suite="clean_invoices",
                table="clean.invoices",
                where=where,
                params=params,
            ),
            quarantine_share_check(
                con,
                asset="invoice_records",
                check="invoice_quarantine_share",
                source="invoices",
                quarantine_table="quarantine.invoices",
                keys=keys,
            ),
        ]
        top_reasons = quarantine_summary(con, "quarantine.invoices", keys)
        metadata = table_metadata(con, "clean.invoices", where=where, params=params)
    metadata |= {
        "partitions_loaded": len(report.loaded),
        "partitions_unchanged": len(report.unchanged),
        "records_read": report.total("lines_read"),
        "records_quarantined": report.total("lines_quarantined"),
        "rows_written": report.total("rows_written"),
        "price_range": f"[{price_range[0]:g}, {price_range[1]:g}]",
        "top_quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- {why}: {n}" for why, n in top_reasons) or "_none_"
        ),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
