"""invoice_records: monthly invoice JSON exports to clean.invoices, bad records to quarantine.invoices."""

import functools

import dagster as dg

from assets.ingest import IngestConfig, IngestTarget, ingest_asset, ingest_partitions
from assets.partitions import monthly_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.invoices import PARSER_VERSION, PARTITION_EXPR, default_price_range, parse_invoice_partitions

INVOICES = IngestTarget(
    asset="invoice_records",
    source="invoices",
    clean_table="clean.invoices",
    quarantine_table="quarantine.invoices",
    partition_expr=PARTITION_EXPR,
    suite="clean_invoices",
    check_prefix="invoice",
)


class InvoiceIngestConfig(IngestConfig):
    """price_min/price_max: the sane price range (default from env REVCAST_INVOICE_PRICE_MIN/MAX, 0..10000)."""

    price_min: float | None = None
    price_max: float | None = None


@ingest_asset(
    INVOICES,
    group="invoices",
    partitions_def=monthly_partitions,
    what="schema, non-null keys, views >= 0, unique record",
)
def invoice_records(
    context: dg.AssetExecutionContext,
    config: InvoiceIngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Invoice lines (country, customer, invoice, stream, views, price, day) in clean.invoices; bad records,
    prices outside the sane range and records dated outside their month folder quarantined with the reason."""
    partitions = landing.partitions_files("invoices", context.partition_keys)
    lo, hi = default_price_range()
    price_range = (
        lo if config.price_min is None else config.price_min,
        hi if config.price_max is None else config.price_max,
    )
    with warehouse.connect() as con:
        return ingest_partitions(
            context,
            con,
            INVOICES,
            partitions=partitions,
            parse=functools.partial(parse_invoice_partitions, con, price_range=price_range),
            parser_version=f"{PARSER_VERSION}/price[{price_range[0]:g},{price_range[1]:g}]",
            force=config.force,
            extra_metadata={"price_range": f"[{price_range[0]:g}, {price_range[1]:g}]"},
        )
