"""The demo driver's planning: a second demo does only what changed (real Dagster instance, real assets)."""

import os
import shutil
import time
from datetime import date

import dagster as dg

from assets.partitions import contiguous_ranges
from assets.usage.ingest import usage_records
from pipelines.demo import _partition_keys, _plan_stage
from tests.conftest import make_resources, materialize_range

DAYS = ["2022-02-01", "2022-02-02", "2022-02-03"]


def test_contiguous_ranges_and_partition_keys():
    ordered = _partition_keys("daily", date(2022, 1, 30), date(2022, 2, 3))
    assert ordered == ["2022-01-30", "2022-01-31", "2022-02-01", "2022-02-02", "2022-02-03"]
    assert contiguous_ranges(["2022-01-30", "2022-01-31", "2022-02-02"], ordered) == [
        ("2022-01-30", "2022-01-31"),
        ("2022-02-02", "2022-02-02"),
    ]
    assert _partition_keys("monthly", date(2022, 1, 30), date(2022, 3, 1)) == [
        "2022-01",
        "2022-02",
        "2022-03",
    ]


def test_second_demo_runs_only_changed_days(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()
    key = dg.AssetKey("usage_records")
    start, end = date(2022, 2, 1), date(2022, 2, 3)

    plan = _plan_stage(instance, None, "daily", [key], landing, start, end, upstream_ran=False)
    assert [label for *_, label in plan] == ["[2022-02-01...2022-02-03]"]  # nothing materialized yet

    result = materialize_range(
        [usage_records], make_resources(landing, tmp_path), DAYS[0], DAYS[-1], instance=instance
    )
    assert result.success
    assert _plan_stage(instance, None, "daily", [key], landing, start, end, upstream_ran=False) == []

    changed = landing / "usage" / f"date={DAYS[1]}" / f"usage_{DAYS[1]}.csv"
    later = time.time() + 5
    os.utime(changed, (later, later))
    plan = _plan_stage(instance, None, "daily", [key], landing, start, end, upstream_ran=False)
    assert [label for *_, label in plan] == [f"[{DAYS[1]}...{DAYS[1]}]"]

    cutoff = _plan_stage(
        instance, None, "cutoff", [dg.AssetKey("usage_models")], landing, start, end, upstream_ran=False
    )
    assert [p for _, p, _ in cutoff] == ["2022-02"]  # never materialized: runs for the latest cutoff only
