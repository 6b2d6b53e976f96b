"""The `bas` group: BAS report-run ingest, the organisation card, marts and the data story."""

import dagster as dg

from assets.bas.automation import bas_card_refresh_job, bas_marts_job, bas_orgcard_sensor
from assets.bas.ingest import fullbas_runs, organisations, simplebas_runs
from assets.bas.marts import (
    bas_capacity,
    bas_interaction_profiles,
    bas_key_points,
    bas_outage,
    bas_scope,
    bas_segments,
    bas_system_comparison,
)
from assets.bas.report import bas_report

defs = dg.Definitions(
    assets=[
        organisations,
        fullbas_runs,
        simplebas_runs,
        bas_scope,
        bas_interaction_profiles,
        bas_system_comparison,
        bas_capacity,
        bas_outage,
        bas_segments,
        bas_key_points,
        bas_report,
    ],
    jobs=[bas_marts_job, bas_card_refresh_job],
    sensors=[bas_orgcard_sensor],
)
