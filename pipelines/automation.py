"""Automation that spans asset groups: the nightly ingest and refresh, the landing sensor, the monthly retrain.

Schedules and sensors, not declarative automation: the nightly ingest is a partitioned schedule; its success
(or a landing-sensor backfill's) starts one refresh of everything downstream that is not partitioned by day;
the monthly retrain is a partitioned schedule over the training cutoffs. Each step is one job that can be
launched, and tested, on its own.
"""

import hashlib
import json
import time
from datetime import UTC, datetime

import dagster as dg

from assets import bas, billing, invoices, revenue, subscriptions, usage
from assets.bas.automation import BAS_MARTS
from assets.partitions import contiguous_ranges, cutoff_partitions, daily_partitions, range_tags
from assets.subscriptions.automation import INGEST_ASSETS as SUBSCRIPTION_SNAPSHOTS
from resources import AlertsResource, LandingZoneResource, WarehouseResource
from revcast.alerts import RunFailure, record_failure

DAILY_SOURCES = {"usage": "usage_records", "fullbas": "fullbas_runs", "simplebas": "simplebas_runs"}
# daily assets rebuilt with their source's days
DAILY_DOWNSTREAM = {"usage_records": ["usage_daily_totals"]}

DAILY_ASSETS = (*DAILY_SOURCES.values(), *(a for downstream in DAILY_DOWNSTREAM.values() for a in downstream))

# Yesterday's partition of every daily asset exists by 06:00 UTC (the nightly ingest starts at 02:00).
FRESHNESS_DEADLINE = "0 6 * * *"
daily_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[
        dg.AssetKey(a)
        for a in (*DAILY_SOURCES.values(), *(d for ds in DAILY_DOWNSTREAM.values() for d in ds))
    ],
    deadline_cron=FRESHNESS_DEADLINE,
    severity=dg.AssetCheckSeverity.WARN,
)
daily_freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=daily_freshness_checks,
    name="daily_freshness_sensor",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.STOPPED,
)


daily_ingest_job = dg.define_asset_job(
    "daily_ingest_job",
    # the freshness checks run on their own sensor, not inside the ingest they judge
    selection=dg.AssetSelection.assets(*DAILY_ASSETS) - dg.AssetSelection.checks(*daily_freshness_checks),
    partitions_def=daily_partitions,
    description="Ingest one day of every daily source (usage, BAS runs) and the day's usage totals.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job,
    name="nightly_schedule",
    hour_of_day=2,
    description="Every night at 02:00: ingest yesterday's exports and its usage totals.",
)

# What a new day of data changes and is not partitioned by day: features, the EDA report, forecast accuracy,
# the BAS marts and report; and the subscription snapshot exports, reloaded when they changed.
NIGHTLY_REFRESH = (
    dg.AssetSelection.assets(
        "usage_features", "usage_profile", "usage_forecast_accuracy", *SUBSCRIPTION_SNAPSHOTS
    )
    | BAS_MARTS
)
# the revenue marts of the latest cutoff that has forecasts: actuals against the current champions' forecasts,
# then the conformed revenue mart, the mart exports and the revenue dashboard
NIGHTLY_MARTS = ("usage_revenue", "revenue", "revenue_exports", "revenue_dashboard")

nightly_refresh_job = dg.define_asset_job(
    "nightly_refresh_job",
    selection=NIGHTLY_REFRESH,
    description="After the nightly ingest: usage features, EDA report and forecast accuracy, the BAS marts and "
    "report, and the subscription snapshot exports (unchanged files are skipped).",
)
nightly_marts_job = dg.define_asset_job(
    "nightly_marts_job",
    selection=dg.AssetSelection.assets(*NIGHTLY_MARTS),
    partitions_def=cutoff_partitions,
    description="The revenue marts of one cutoff rebuilt against the actuals ingested so far.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_ingest_job],
    request_jobs=[nightly_refresh_job, nightly_marts_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="After each successful daily_ingest_job run: one nightly_refresh_job run and nightly_marts_job "
    "for the latest cutoff with forecasts (not doubling a refresh that is still queued).",
)
def nightly_refresh_sensor(context: dg.RunStatusSensorContext):
    """When an ingest of daily data succeeds (the nightly schedule's, or a landing-sensor backfill's), refresh
    what depends on it: one nightly_refresh_job run, and nightly_marts_job for the latest cutoff with forecasts.
    A refresh that is still queued already covers the new data, so none is added then."""
    queued = context.instance.get_run_records(
        dg.RunsFilter(job_name="nightly_refresh_job", statuses=[dg.DagsterRunStatus.QUEUED]), limit=1
    )
    if queued:
        return dg.SkipReason(f"a refresh is already queued ({queued[0].dagster_run.run_id})")
    ingest_run = context.dagster_run.run_id
    requests = [dg.RunRequest(run_key=f"refresh/{ingest_run}", job_name="nightly_refresh_job")]
    forecast_cutoffs = context.instance.get_materialized_partitions(dg.AssetKey("usage_forecasts"))
    if forecast_cutoffs:
        latest = max(forecast_cutoffs)
        requests.append(
            dg.RunRequest(run_key=f"marts/{ingest_run}", job_name="nightly_marts_job", partition_key=latest)
        )
    return requests


def _monthly_assets() -> list[dg.AssetKey]:
    """Every asset partitioned by month in the code location: the month's invoice file, then each model
    group's training, forecasts and plans for that cutoff (a new model asset joins the retrain by itself)."""
    keys = []
    for group in (usage, bas, invoices, subscriptions, billing, revenue):
        for asset in group.defs.assets or []:
            if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def == cutoff_partitions:
                keys.extend(asset.keys)
    return keys


# the invoice series are rebuilt from the month's invoices before the invoice models train on them
RETRAIN_SELECTION = dg.AssetSelection.assets(*_monthly_assets()) | dg.AssetSelection.assets(
    "invoice_daily_revenue", "invoice_features"
)

monthly_retrain_job = dg.define_asset_job(
    "monthly_retrain_job",
    selection=RETRAIN_SELECTION,
    partitions_def=cutoff_partitions,
    tags={"revcast/workload": "training"},
    description="For one training cutoff (month): ingest its invoices, then retrain, backtest and select "
    "champions, forecast, and plan, for every model group.",
)

monthly_retrain_schedule = dg.build_schedule_from_partitioned_job(
    monthly_retrain_job,
    name="monthly_retrain_schedule",
    day_of_month=1,
    hour_of_day=4,
    description="On the 1st of each month at 04:00: the previous month's cutoff (data through its last day).",
)


CURSOR_VERSION = 2  # content hashes per source; an older cursor counts as a first look


@dg.sensor(
    job=daily_ingest_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Ingests the days whose landing files have new content (sha256), one single-run backfill per "
    "asset and range of consecutive days, once a day's files have settled.",
)
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


@dg.run_failure_sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in audit.run_failures and, when REVCAST_ALERT_WEBHOOK_URL is set, "
    "posts it to that webhook.",
)
def run_failure_sensor(
    context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alerts: AlertsResource
) -> None:
    """Every failed run of this code location: recorded in audit.run_failures (job, partition, failed steps,
    the first error) and, when REVCAST_ALERT_WEBHOOK_URL is set, posted to that webhook."""
    run = context.dagster_run
    steps = context.get_step_failure_events()
    first = steps[0].step_failure_data.error if steps and steps[0].step_failure_data else None
    tags = run.tags
    partition = tags.get("dagster/partition") or (
        f"{tags['dagster/asset_partition_range_start']}...{tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in tags
        else None
    )
    failure = RunFailure(
        run_id=run.run_id,
        job_name=run.job_name,
        partition=partition,
        failed_steps=[e.step_key for e in steps if e.step_key],
        error=first.to_string() if first else context.failure_event.message,
        failed_at=datetime.now(UTC),
    )
    alerted = alerts.announce(failure, context.log)
    with warehouse.connect() as con:  # a failed write fails the tick; the next tick records the run again
        record_failure(con, failure, alerted=alerted)


defs = dg.Definitions(
    jobs=[daily_ingest_job, nightly_refresh_job, nightly_marts_job, monthly_retrain_job],
    schedules=[nightly_schedule, monthly_retrain_schedule],
    sensors=[landing_sensor, nightly_refresh_sensor, run_failure_sensor, daily_freshness_sensor],
    asset_checks=daily_freshness_checks,
)
