"""BAS ingest: daily Full BAS and Simple BAS report runs, and the organisation card as a snapshot asset."""

from functools import partial
from pathlib import Path

import dagster as dg

from assets.bas.checks import unknown_orgs_check
from assets.ingest import IngestConfig, IngestTarget, ingest_asset, ingest_partitions
from assets.partitions import daily_partitions
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
from revcast.landing import fingerprint

ORGCARD_PATH = "bas/orgcard.csv"


def _runs_target(asset: str, source: str) -> IngestTarget:
    return IngestTarget(
        asset=asset,
        source=source,
        clean_table=f"clean.{asset}",
        quarantine_table=f"quarantine.{asset}",
        partition_expr="CAST(run_date AS VARCHAR)",
        suite=f"clean_{asset}",
        check_prefix=asset,
    )


FULLBAS = _runs_target("fullbas_runs", "fullbas")
SIMPLEBAS = _runs_target("simplebas_runs", "simplebas")
ORGANISATIONS = IngestTarget(
    asset="organisations",
    source="orgcard",
    clean_table="clean.organisations",
    quarantine_table="quarantine.organisations",
    partition_expr=f"'{SNAPSHOT_KEY}'",
    suite="clean_organisations",
    check_prefix="organisations",
)


def _runs_asset(target: IngestTarget):
    """The ingest asset of one BAS export: daily, after the card, with an unknown-organisation warning."""
    return ingest_asset(
        target,
        group="bas",
        partitions_def=daily_partitions,
        what="schema, ids, ranges, unique runs",
        deps=["organisations"],
        extra_check_specs=[
            dg.AssetCheckSpec(
                f"{target.asset}_unknown_orgs",
                asset=target.asset,
                blocking=False,
                description="Runs whose organisation is not on the organisation card (kept, flagged org_known = false).",
            )
        ],
    )


def _ingest_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
    *,
    target: IngestTarget,
    parse,
    org_key: str,
) -> dg.MaterializeResult:
    """Load the run's days of one BAS export into clean.<asset>, flag unknown orgs, run the checks."""
    partitions = landing.partitions_files(target.source, context.partition_keys)
    with warehouse.connect() as con:
        return ingest_partitions(
            context,
            con,
            target,
            partitions=partitions,
            parse=partial(parse, known_orgs=known_orgs(con)),
            parser_version=PARSER_VERSION[target.source],
            force=config.force,
            extra_checks=lambda where, params: [
                unknown_orgs_check(
                    con,
                    asset=target.asset,
                    check=f"{target.asset}_unknown_orgs",
                    table=target.clean_table,
                    key=org_key,
                    where=where,
                    params=params,
                )
            ],
        )


@_runs_asset(FULLBAS)
def fullbas_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Full BAS report runs per UTC day in clean.fullbas_runs: UTC and Sydney time, lower-case ids, runtime seconds."""
    return _ingest_runs(
        context, config, warehouse, landing, target=FULLBAS, parse=parse_fullbas,
        org_key="org_id",
    )  # fmt: skip


@_runs_asset(SIMPLEBAS)
def simplebas_runs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Simple BAS report runs per UTC day in clean.simplebas_runs: UTC and Sydney time, statement period, org by shortcode."""
    return _ingest_runs(
        context, config, warehouse, landing, target=SIMPLEBAS, parse=parse_simplebas,
        org_key="shortcode",
    )  # fmt: skip


@ingest_asset(ORGANISATIONS, group="bas", what="one row per org and shortcode, known statuses")
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
    with warehouse.connect() as con:
        result = ingest_partitions(
            context,
            con,
            ORGANISATIONS,
            partitions=[(SNAPSHOT_KEY, [path])],
            parse=parse_orgcard,
            parser_version=PARSER_VERSION["orgcard"],
            force=config.force,
            after_write=lambda: {"runs_relinked": dg.MetadataValue.json(refresh_org_links(con))},
            extra_metadata={"card_fingerprint": fingerprint([path])},
        )
    return result
