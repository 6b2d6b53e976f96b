"""Automation that spans asset groups: the nightly ingest, the landing sensor and the monthly retrain."""

import hashlib
import json

import dagster as dg

from assets.partitions import contiguous_ranges, cutoff_partitions, daily_partitions, range_tags
from assets.subscriptions.automation import PLAN_ASSETS as SUBSCRIPTION_PLAN_ASSETS
from resources import LandingZoneResource

DAILY_SOURCES = {"usage": "usage_records", "fullbas": "fullbas_runs", "simplebas": "simplebas_runs"}
# daily assets rebuilt with their source's days
DAILY_DOWNSTREAM = {"usage_records": ["usage_daily_totals"]}

daily_ingest_job = dg.define_asset_job(
    "daily_ingest_job",
    selection=dg.AssetSelection.assets(
        *DAILY_SOURCES.values(), *(a for downstream in DAILY_DOWNSTREAM.values() for a in downstream)
    ),
    partitions_def=daily_partitions,
    description="Ingest one day of every daily source (usage, BAS runs) and the day's usage totals.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job,
    name="nightly_schedule",
    hour_of_day=2,
    description="Every night at 02:00: ingest yesterday's exports and its usage totals.",
)

# usage and invoice models and forecasts, and the subscription revenue plan, share the cutoff partitions
RETRAIN_ASSETS = (
    "usage_models",
    "usage_forecasts",
    "invoice_revenue_models",
    "invoice_revenue_forecasts",
    *SUBSCRIPTION_PLAN_ASSETS,
)

monthly_retrain_job = dg.define_asset_job(
    "monthly_retrain_job",
    selection=dg.AssetSelection.assets(*RETRAIN_ASSETS),
    partitions_def=cutoff_partitions,
    description="Retrain, backtest and select champions, then forecast, for one training cutoff (month).",
)

monthly_retrain_schedule = dg.build_schedule_from_partitioned_job(
    monthly_retrain_job,
    name="monthly_retrain_schedule",
    day_of_month=1,
    hour_of_day=4,
    description="On the 1st of each month at 04:00: the previous month's cutoff (data through its last day).",
)


@dg.sensor(job=daily_ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    """Ingest the days whose landing files are new or changed: one single-run backfill per asset and range.

    On its first look (no cursor) days that are already materialized are only remembered, not reloaded.
    """
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    first_look = context.cursor is None
    ordered = daily_partitions.get_partition_keys()
    valid = set(ordered)
    requests = []
    for source, asset in DAILY_SOURCES.items():
        done = context.instance.get_materialized_partitions(dg.AssetKey(asset)) if first_look else set()
        changed = []
        for key in landing.available_keys(source):
            if key not in valid:
                continue
            stamp = ",".join(
                f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                for f in landing.partition_files(source, key)
            )
            if seen.get(f"{source}/{key}") != stamp:
                seen[f"{source}/{key}"] = stamp
                if key not in done:
                    changed.append(key)
        for first, last in contiguous_ranges(changed, ordered):
            digest = hashlib.sha256("|".join(seen[f"{source}/{k}"] for k in changed).encode()).hexdigest()[
                :12
            ]
            requests.append(
                dg.RunRequest(
                    run_key=f"{asset}/{first}/{last}/{digest}",
                    asset_selection=[dg.AssetKey(a) for a in (asset, *DAILY_DOWNSTREAM.get(asset, []))],
                    tags=range_tags(first, last),
                )
            )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))


defs = dg.Definitions(
    jobs=[daily_ingest_job, monthly_retrain_job],
    schedules=[nightly_schedule, monthly_retrain_schedule],
    sensors=[landing_sensor],
)
