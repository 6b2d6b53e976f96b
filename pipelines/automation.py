"""Automation that spans asset groups: the nightly ingest, the landing sensor and the monthly retrain."""

import hashlib
import json
import time

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


CURSOR_VERSION = 2  # content hashes per source; an older cursor counts as a first look


@dg.sensor(job=daily_ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    """Ingest exactly the days whose landing files have new content: one single-run backfill per asset and
    range of consecutive days.

    Content, not file times: a day is requested when the sha256 of its files changes (a touched or re-copied
    file with the same bytes requests nothing). A day still being written waits: it is taken once it holds a
    `_SUCCESS` file, or once none of its files changed for the landing resource's `settle_seconds`. On its
    first look (no cursor) days that are already materialized are only remembered, not reloaded.
    """
    cursor = json.loads(context.cursor) if context.cursor else {}
    first_look = cursor.get("version") != CURSOR_VERSION
    ordered = daily_partitions.get_partition_keys()
    valid = set(ordered)
    now = time.time()
    requests, settling, state = [], [], {"version": CURSOR_VERSION}
    for source, asset in DAILY_SOURCES.items():
        look = landing.look_for_changes(
            source,
            [key for key in landing.available_keys(source) if key in valid],
            None if first_look else cursor.get(source),
            now=now,
        )
        state[source] = look.state
        settling += [f"{source} {key}" for key in look.settling]
        done = context.instance.get_materialized_partitions(dg.AssetKey(asset)) if first_look else set()
        changed = [key for key in look.changed if key not in done]
        position = {key: i for i, key in enumerate(ordered)}
        for first, last in contiguous_ranges(changed, ordered):
            in_range = [k for k in changed if position[first] <= position[k] <= position[last]]
            digest = hashlib.sha256("|".join(look.state["hashes"][k] for k in in_range).encode()).hexdigest()
            requests.append(
                dg.RunRequest(
                    run_key=f"{asset}/{first}/{last}/{digest[:16]}",
                    asset_selection=[dg.AssetKey(a) for a in (asset, *DAILY_DOWNSTREAM.get(asset, []))],
                    tags=range_tags(first, last),
                )
            )
    if settling:
        context.log.info(f"still being written, looked at again later: {', '.join(settling[:10])}")
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(state, sort_keys=True))
    reason = (
        f"{len(settling)} partition(s) still being written" if settling else "no new or changed landing files"
    )
    return dg.SensorResult(skip_reason=reason, cursor=json.dumps(state, sort_keys=True))


defs = dg.Definitions(
    jobs=[daily_ingest_job, monthly_retrain_job],
    schedules=[nightly_schedule, monthly_retrain_schedule],
    sensors=[landing_sensor],
)
