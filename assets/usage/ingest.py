"""usage_records: daily usage exports from the landing zone to clean.usage, bad lines to quarantine.usage."""

import functools

import dagster as dg

from assets.checks import expectations_check, quarantine_share_check
from assets.metadata import table_metadata
from pipelines.partitions import daily_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.ingest.core import quarantine_summary, write_partitions
from revcast.ingest.usage import PARSER_VERSION, parse_usage


class IngestConfig(dg.Config):
    """force: reload partitions even when their files are unchanged since the last load."""

    force: bool = False


@dg.asset(
    group_name="usage",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    tags={"layer": "clean"},
    check_specs=[
        dg.AssetCheckSpec(
            "usage_expectations",
            asset="usage_records",
            blocking=True,
            description="Great Expectations suite clean_usage: schema, non-null keys, quantity >= 0, unique key.",
        ),
        dg.AssetCheckSpec(
            "usage_quarantine_share",
            asset="usage_records",
            blocking=True,
            description="Quarantined share of lines per partition at most REVCAST_QUARANTINE_THRESHOLD (1%).",
        ),
    ],
)
def usage_records(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Daily product usage in long form (account, metric, day, quantity) in clean.usage; bad lines quarantined."""
    keys = context.partition_keys
    partitions = landing.partitions_files("usage", keys)
    with warehouse.connect() as con:
        report = write_partitions(
            con,
            source="usage",
            partitions=partitions,
            parse=functools.partial(parse_usage, con=con),
            clean_table="clean.usage",
            partition_expr="CAST(usage_date AS VARCHAR)",
            quarantine_table="quarantine.usage",
            parser_version=PARSER_VERSION,
            run_id=context.run_id,
            force=config.force,
        )
        context.log.info(
            f"usage: {len(report.loaded)} partition(s) loaded, {len(report.unchanged)} unchanged; "
            f"{report.total('lines_read')} lines read, {report.total('lines_quarantined')} quarantined"
        )
        window = ["CAST(usage_date AS VARCHAR) IN (SELECT unnest(?))", [keys]]
        checks = [
            expectations_check(
                con,
                asset="usage_records",
                check="usage_expectations",
                suite="clean_usage",
                table="clean.usage",
                where=window[0],
                params=window[1],
            ),
            quarantine_share_check(
                con,
                asset="usage_records",
                check="usage_quarantine_share",
                source="usage",
                quarantine_table="quarantine.usage",
                keys=keys,
            ),
        ]
        top_reasons = quarantine_summary(con, "quarantine.usage", keys)
        metadata = table_metadata(con, "clean.usage", where=window[0], params=window[1])
    metadata |= {
        "partitions_loaded": len(report.loaded),
        "partitions_unchanged": len(report.unchanged),
        "lines_read": report.total("lines_read"),
        "lines_quarantined": report.total("lines_quarantined"),
        "rows_written": report.total("rows_written"),
        "top_quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- {why}: {n}" for why, n in top_reasons) or "_none_"
        ),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
