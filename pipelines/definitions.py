"""The revcast code location: every asset, check, job, schedule and sensor, with the default resources."""

from __future__ import annotations

import dagster as dg

from assets.usage.ingest import usage_records
from pipelines.automation import jobs, schedules, sensors
from resources import default_resources

defs = dg.Definitions(
    assets=[usage_records],
    jobs=jobs,
    schedules=schedules,
    sensors=sensors,
    resources=default_resources(),
)
