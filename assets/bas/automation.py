"""BAS automation: rebuild the marts and the report whenever the organisation card changes (nightly, after the
ingest, they are part of the code location's nightly refresh)."""

from pathlib import Path

import dagster as dg

from assets.bas.ingest import ORGCARD_PATH
from resources import LandingZoneResource
from revcast.landing import fingerprint

BAS_MARTS = dg.AssetSelection.groups("bas") - dg.AssetSelection.assets(
    "fullbas_runs", "simplebas_runs", "organisations"
)

bas_marts_job = dg.define_asset_job(
    "bas_marts_job",
    selection=BAS_MARTS,
    description="Rebuild every BAS mart and the bas_report data story from the clean tables.",
)
bas_card_refresh_job = dg.define_asset_job(
    "bas_card_refresh_job",
    selection=BAS_MARTS | dg.AssetSelection.assets("organisations"),
    description="Reload the organisation card, re-link loaded runs, then rebuild the marts and the report.",
)


@dg.sensor(
    job=bas_card_refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Refreshes the organisation card and the BAS marts when bas/orgcard.csv's content changes.",
)
def bas_orgcard_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource) -> dg.SensorResult:
    """Request a card refresh (and the marts after it) whenever bas/orgcard.csv's content fingerprint changes."""
    path = Path(landing.root) / ORGCARD_PATH
    if not path.is_file():
        return dg.SensorResult(skip_reason=f"no organisation card at {path}")
    stamp = fingerprint([path])
    if stamp == context.cursor:
        return dg.SensorResult(skip_reason="organisation card unchanged")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"orgcard/{stamp}")], cursor=stamp)
