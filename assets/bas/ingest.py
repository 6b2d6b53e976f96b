"""BAS ingest: daily Full BAS and Simple BAS report runs, and the organisation card as a snapshot asset."""

from functools import partial
from pathlib import Path

import dagster as dg

from assets.bas.checks import unknown_orgs_check
from assets.checks import expectations_check, quarantine_share_check
from assets.metadata import table_metadata
from pipelines.partitions import daily_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.ingest.bas import (
    PARSER_VERSION,
    SNAPSHOT_KEY,
    known_orgs,
    parse_fullbas,
    parse_orgcard,
    parse_simplebas,
    refresh_org_links,
)
from revcast.ingest.core import quarantine_summary, write_partitions
from revcast.landing import fingerprint

ORGCARD_PATH = "bas/orgcard.csv"


class IngestConfig(dg.Config):
    """force: reload partitions even when their files are unchanged since the last load."""

    force: bool = False


def _run_checks(asset: str, source: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            f"{asset}_expectations",
            asset=asset,
            blocking=True,
            description=f"Great Expectations suite clean_{asset}: schema, ids, ranges, unique runs.",
        ),
        dg.AssetCheckSpec(
            f"{asset}_quarantine_share",
            asset=asset,
            blocking=True,
            description="Quarantined lines per partition within REVCAST_QUARANTINE_THRESHOLD (1%, rounded up to "
            "whole lines), row accounting balanced.",
        ),
        dg.AssetCheckSpec(
            f"{asset}_unknown_orgs",
            asset=asset,
            blocking=False,
            description="Runs whose organisation is not on the organisation card (kept, flagged org_known = false).",
        ),
    ]


def _metadata(report, top_reasons) -> dict:
    return {
        "partitions_loaded": len(report.loaded),
        "partitions_unchanged": len(report.unchanged),
        "lines_read": report.total("lines_read"),
        "lines_quarantined": report.total("lines_quarantined"),
        "rows_written": report.total("rows_written"),
        "top_quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- {why}: {n}" for why, n in top_reasons) or "_none_"
        ),
    }


def _ingest_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
    *,
    asset: str,
    source: str,
    parse,
    org_key: str,
) -> dg.MaterializeResult:
    """Load the run's days of one BAS export into clean.<asset>, flag unknown orgs, run the checks."""
    keys = context.partition_keys
    partitions = landing.partitions_files(source, keys)
    table, quarantine = f"clean.{asset}", f"quarantine.{asset}"
    with warehouse.connect() as con:
        report = write_partitions(
            con,
            source=source,
            partitions=partitions,
            parse=partial(parse, known_orgs=known_orgs(con)),
            clean_table=table,
            partition_expr="CAST(run_date AS VARCHAR)",
            quarantine_table=quarantine,
            parser_version=PARSER_VERSION[source],
            run_id=context.run_id,
            force=config.force,
        )
        context.log.info(
            f"{source}: {len(report.loaded)} partition(s) loaded, {len(report.unchanged)} unchanged; "
            f"{report.total('lines_read')} lines read, {report.total('lines_quarantined')} quarantined"
        )
        where, params = "CAST(run_date AS VARCHAR) IN (SELECT unnest(?))", [keys]
        checks = [
            expectations_check(
                con,
                asset=asset,
                check=f"{asset}_expectations",
                suite=f"clean_{asset}",
                table=table,
                where=where,
                params=params,
            ),
            quarantine_share_check(
                con, asset=asset, check=f"{asset}_quarantine_share", source=source, keys=keys
            ),
            unknown_orgs_check(
                con,
                asset=asset,
                check=f"{asset}_unknown_orgs",
                table=table,
                key=org_key,
                where=where,
                params=params,
            ),
        ]
        metadata = table_metadata(con, table, where=where, params=params)
        metadata |= _metadata(report, quarantine_summary(con, quarantine, keys))
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


@dg.asset(
    group_name="bas",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    tags={"layer": "clean"},
    deps=["organisations"],
    check_specs=_run_checks("fullbas_runs", "fullbas"),
)
def fullbas_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Full BAS report runs per UTC day in clean.fullbas_runs: UTC and Sydney time, lower-case ids, runtime seconds."""
    return _ingest_runs(
        context, config, warehouse, landing, asset="fullbas_runs", source="fullbas", parse=parse_fullbas,
        org_key="org_id",
    )  # fmt: skip


@dg.asset(
    group_name="bas",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    tags={"layer": "clean"},
    deps=["organisations"],
    check_specs=_run_checks("simplebas_runs", "simplebas"),
)
def simplebas_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Simple BAS report runs per UTC day in clean.simplebas_runs: UTC and Sydney time, statement period, org by shortcode."""
    return _ingest_runs(
        context, config, warehouse, landing, asset="simplebas_runs", source="simplebas", parse=parse_simplebas,
        org_key="shortcode",
    )  # fmt: skip


@dg.asset(
    group_name="bas",
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-engineering"],
    tags={"layer": "clean"},
    check_specs=[
        dg.AssetCheckSpec(
            "organisations_expectations",
            asset="organisations",
            blocking=True,
            description="Great Expectations suite clean_organisations: one row per org and shortcode, known statuses.",
        ),
        dg.AssetCheckSpec(
            "organisations_quarantine_share",
            asset="organisations",
            blocking=True,
            description="Quarantined card lines within REVCAST_QUARANTINE_THRESHOLD (rounded up), accounting balanced.",
        ),
    ],
)
def organisations(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """The organisation card (bas/orgcard.csv) in clean.organisations, replaced whole when the file changes.

    Loaded runs are re-resolved against the new card (Full BAS org_known, Simple BAS org_id by shortcode).
    """
    path = Path(landing.root) / ORGCARD_PATH
    if not path.is_file():
        raise FileNotFoundError(f"no organisation card at {path}: land bas/orgcard.csv first")
    keys = [SNAPSHOT_KEY]
    with warehouse.connect() as con:
        report = write_partitions(
            con,
            source="orgcard",
            partitions=[(SNAPSHOT_KEY, [path])],
            parse=parse_orgcard,
            clean_table="clean.organisations",
            partition_expr=f"'{SNAPSHOT_KEY}'",
            quarantine_table="quarantine.organisations",
            parser_version=PARSER_VERSION["orgcard"],
            run_id=context.run_id,
            force=config.force,
        )
        relinked = refresh_org_links(con)
        context.log.info(
            f"orgcard: {'loaded' if report.loaded else 'unchanged'}; runs re-resolved: {relinked}"
        )
        checks = [
            expectations_check(
                con,
                asset="organisations",
                check="organisations_expectations",
                suite="clean_organisations",
                table="clean.organisations",
                where="TRUE",
                params=[],
            ),
            quarantine_share_check(
                con,
                asset="organisations",
                check="organisations_quarantine_share",
                source="orgcard",
                keys=keys,
            ),
        ]
        metadata = table_metadata(con, "clean.organisations")
        metadata |= _metadata(report, quarantine_summary(con, "quarantine.organisations", keys))
    metadata |= {"card_fingerprint": fingerprint([path]), "runs_relinked": dg.MetadataValue.json(relinked)}
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
