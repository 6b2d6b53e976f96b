"""Jobs, schedules and sensors: nightly ingest of yesterday, and a sensor for new landing files."""

import json
import os

import dagster as dg

from pipelines.partitions import daily_partitions
from resources import LandingZoneResource

DAILY_SOURCES = {"usage": "usage_records", "fullbas": "fullbas_runs", "simplebas": "simplebas_runs"}

daily_ingest_job = dg.define_asset_job(
    "daily_ingest_job",
    selection=dg.AssetSelection.assets(*DAILY_SOURCES.values()),
    partitions_def=daily_partitions,
    description="Ingest one day of every daily source (usage, BAS runs) into the clean layer.",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingest_job,
    name="nightly_schedule",
    hour_of_day=2,
    description="Every night at 02:00: ingest yesterday's exports.",
)


@dg.sensor(job=daily_ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    """Request an ingest run for each day whose landing files are new or changed since the last look."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    valid = set(daily_partitions.get_partition_keys())
    requests = []
    for source in DAILY_SOURCES:
        for key in landing.available_keys(source):
            if key not in valid:
                continue
            files = landing.partition_files(source, key)
            stamp = ",".join(f"{f.name}:{os.stat(f).st_size}:{os.stat(f).st_mtime_ns}" for f in files)
            if seen.get(f"{source}/{key}") != stamp:
                seen[f"{source}/{key}"] = stamp
                requests.append(dg.RunRequest(run_key=f"{source}/{key}/{stamp}", partition_key=key))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))


jobs = [daily_ingest_job]
schedules = [nightly_schedule]
sensors = [landing_sensor]

__all__ = ["jobs", "schedules", "sensors"]
