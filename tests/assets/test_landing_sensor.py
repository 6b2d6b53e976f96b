"""landing_sensor: one single-run backfill per asset and range of new or changed days, no flood, no repeats."""

import os
import shutil
import time

import dagster as dg

from assets.usage.ingest import usage_records
from pipelines.automation import landing_sensor
from resources import LandingZoneResource
from tests.conftest import make_resources, materialize_range

DAYS = ["2022-02-01", "2022-02-02", "2022-02-03", "2022-02-05"]


def _evaluate(instance, landing, cursor=None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"landing": LandingZoneResource(root=str(landing))}
    )
    result = landing_sensor(context)
    return result.run_requests, result.cursor


def _ranges(requests):
    return sorted(
        ("+".join(k.to_user_string() for k in r.asset_selection), r.tags["dagster/asset_partition_range_start"],
         r.tags["dagster/asset_partition_range_end"])
        for r in requests
    )  # fmt: skip


def test_sensor_requests_ranges_then_only_changes(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()

    requests, cursor = _evaluate(instance, landing)
    assert _ranges(requests) == [
        ("usage_records+usage_daily_totals", "2022-02-01", "2022-02-03"),
        ("usage_records+usage_daily_totals", "2022-02-05", "2022-02-05"),
    ]
    assert _evaluate(instance, landing, cursor)[0] == []  # nothing changed since the last look

    changed = landing / "usage" / f"date={DAYS[1]}" / f"usage_{DAYS[1]}.csv"
    later = time.time() + 5
    os.utime(changed, (later, later))
    requests, _ = _evaluate(instance, landing, cursor)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[1], DAYS[1])]


def test_first_look_skips_days_already_materialized(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS[:3]:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()
    res = make_resources(landing, tmp_path)
    assert materialize_range([usage_records], res, DAYS[0], DAYS[1], instance=instance).success
    requests, _ = _evaluate(instance, landing)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[2], DAYS[2])]
