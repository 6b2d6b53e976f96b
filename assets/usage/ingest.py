"""usage_records: daily usage exports from the landing zone to clean.usage, bad lines to quarantine.usage."""

import functools

import dagster as dg

from assets.ingest import IngestConfig, IngestTarget, ingest_asset, ingest_partitions
from assets.partitions import daily_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.ingest.usage import PARSER_VERSION, parse_usage

USAGE = IngestTarget(
    asset="usage_records",
    source="usage",
    clean_table="clean.usage",
    quarantine_table="quarantine.usage",
    partition_expr="CAST(usage_date AS VARCHAR)",
    suite="clean_usage",
    check_prefix="usage",
)


@ingest_asset(
    USAGE,
    group="usage",
    partitions_def=daily_partitions,
    what="schema, non-null keys, quantity >= 0, unique account/metric/day",
)
def usage_records(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Daily product usage in long form (account, metric, day, quantity) in clean.usage; bad lines quarantined."""
    partitions = landing.partitions_files("usage", context.partition_keys)
    with warehouse.connect() as con:
        return ingest_partitions(
            context,
            con,
            USAGE,
            partitions=partitions,
            parse=functools.partial(parse_usage, con=con),
            parser_version=PARSER_VERSION,
            force=config.force,
        )
