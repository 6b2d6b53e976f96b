"""The revcast code location: every asset, check, job, schedule and sensor, with the default resources."""

import dagster as dg

from assets import bas, invoices, usage
from pipelines import automation
from resources import default_resources

GROUPS = (usage, bas, invoices)

defs = dg.Definitions(
    assets=[a for group in GROUPS for a in group.assets],
    asset_checks=[c for group in GROUPS for c in group.asset_checks],
    jobs=[*automation.jobs, *(j for group in GROUPS for j in group.jobs)],
    schedules=[*automation.schedules, *(s for group in GROUPS for s in group.schedules)],
    sensors=[*automation.sensors, *(s for group in GROUPS for s in getattr(group, "sensors", []))],
    resources=default_resources(),
)
