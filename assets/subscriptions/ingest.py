"""Subscription ingest: installs and purchases (snapshot files with quarantine and row accounting) and the
validated plan config."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.ingest import IngestConfig, IngestTarget, ingest_asset, ingest_partitions
from assets.metadata import table_definition, table_metadata
from resources import LandingZoneResource, WarehouseResource
from revcast.landing import fingerprint
from revcast.subscriptions.ingest import PARSER_VERSION, SNAPSHOT_KEY, parse_installs, parse_purchases
from revcast.subscriptions.plan import load_plan
from revcast.subscriptions.sql import purchases_through
from revcast.warehouse import replace_with_frame

INSTALLS_PATH = "subscriptions/installs.csv"
PURCHASES_PATH = "subscriptions/recurrent.csv"
PLAN_PATH = "subscriptions/plan.yaml"


def _target(asset: str, prefix: str) -> IngestTarget:
    return IngestTarget(
        asset=asset,
        source=asset,
        clean_table=f"clean.{asset}",
        quarantine_table=f"quarantine.{asset}",
        partition_expr=f"'{SNAPSHOT_KEY}'",
        suite=f"clean_{asset}",
        check_prefix=prefix,
    )


INSTALLS = _target("subscription_installs", "subscription_installs")
PURCHASES = _target("subscription_purchases", "subscription_purchases")


def _landing_file(landing: LandingZoneResource, relative: str) -> Path:
    path = Path(landing.root) / relative
    if not path.is_file():
        raise FileNotFoundError(f"no {relative} under the landing zone {landing.root}: land the export first")
    return path


@ingest_asset(INSTALLS, group="subscriptions", what="schema, one row per day and platform, installs >= 0")
def subscription_installs(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Daily app installs per platform (subscriptions/installs.csv: date, iOS, Android, Web) in
    clean.subscription_installs, one row per day and platform; replaced whole when the file changes."""
    path = _landing_file(landing, INSTALLS_PATH)
    with warehouse.connect() as con:
        return ingest_partitions(
            context, con, INSTALLS, partitions=[(SNAPSHOT_KEY, [path])], parse=parse_installs,
            parser_version=PARSER_VERSION["installs"], force=config.force,
        )  # fmt: skip


@ingest_asset(PURCHASES, group="subscriptions", what="schema, durations 1/12, cycles >= 1, unique keys")
def subscription_purchases(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
) -> dg.MaterializeResult:
    """Subscription purchases per day, platform, product, duration and billing cycle
    (subscriptions/recurrent.csv) in clean.subscription_purchases; replaced whole when the file changes."""
    path = _landing_file(landing, PURCHASES_PATH)
    with warehouse.connect() as con:
        return ingest_partitions(
            context, con, PURCHASES, partitions=[(SNAPSHOT_KEY, [path])], parse=parse_purchases,
            parser_version=PARSER_VERSION["purchases"], force=config.force,
        )  # fmt: skip


@dg.asset(
    metadata=table_definition("clean.subscription_plan"),
    group_name="subscriptions",
    pool="duckdb",
    kinds={"duckdb", "yaml"},
    owners=["team:finance"],
    tags={"layer": "clean"},
    deps=["subscription_purchases"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_plan_knows_every_product",
            asset="subscription_plan",
            blocking=True,
            description="Every (platform, product) of the purchase history is in the plan (else the load fails).",
        )
    ],
)
def subscription_plan(warehouse: WarehouseResource, landing: LandingZoneResource) -> dg.MaterializeResult:
    """The plan config (subscriptions/plan.yaml) validated and stored in clean.subscription_plan: per platform
    install2access (a number or per-month values with a default), commission [first year, later years] and
    products (price, share, trial2purchase, actual); the actual products' shares sum to 1. An error names the
    field; a product of the purchase history that the plan does not know fails the load, naming it."""
    path = _landing_file(landing, PLAN_PATH)
    plan = load_plan(path)
    with warehouse.connect() as con:
        purchases = purchases_through(con, datetime.max.date())
        plan.check_products(purchases)
        frame = plan.products_frame().assign(
            source_file=str(path), fingerprint=fingerprint([path]), ingested_at=datetime.now(UTC)
        )
        written = replace_with_frame(con, "clean.subscription_plan", frame, key={})
        metadata = table_metadata(con, "clean.subscription_plan", preview=20)
    known = purchases[["platform", "product_id"]].drop_duplicates()
    return dg.MaterializeResult(
        metadata=metadata
        | {
            "rows_written": written,
            "platforms": ", ".join(plan.platforms),
            "plan_period": f"{plan.plan_start} to {plan.plan_end}"
            if plan.plan_start
            else "the four months after each cutoff",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="subscription_plan_knows_every_product",
                passed=True,
                metadata={"history_products": len(known)},
            )
        ],
    )
