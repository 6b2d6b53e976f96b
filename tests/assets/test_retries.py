"""Transient errors are retried, not failed: a recent day's export not there yet, a warehouse file locked by
another process. A gap in the history still fails at once."""

import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from assets.usage.ingest import usage_records
from resources import LandingZoneResource, ModelStoreResource, WarehouseResource
from revcast.landing import still_arriving
from tests.conftest import QUIET


def _events(result, kind):
    return [e for e in result.all_events if e.event_type_value == kind]


def _resources(tmp_path, landing, **warehouse):
    return {
        "warehouse": WarehouseResource(path=str(tmp_path / "revcast.duckdb"), **warehouse),
        "landing": LandingZoneResource(root=str(landing), arrival_retries=1, arrival_retry_seconds=0),
        "model_store": ModelStoreResource(root=str(tmp_path / "models")),
    }


def test_still_arriving_is_only_the_last_days():
    today = date(2024, 1, 3)
    assert still_arriving(["2024-01-02", "2024-01-01"], within_days=2, today=today)
    assert not still_arriving(["2024-01-02", "2023-12-20"], within_days=2, today=today)
    assert still_arriving(["2024-01"], within_days=2, today=date(2024, 2, 1))  # January ends on the 31st
    assert not still_arriving([], within_days=2, today=today)


def test_yesterdays_missing_export_is_retried_an_old_gap_fails_at_once(tmp_path):
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    empty = tmp_path / "landing"
    empty.mkdir()
    result = dg.materialize(
        [usage_records], resources=_resources(tmp_path, empty), partition_key=yesterday, raise_on_error=False,
        run_config=QUIET,
    )  # fmt: skip
    assert not result.success
    assert len(_events(result, "STEP_UP_FOR_RETRY")) == 1  # waited for the export, then gave up

    result = dg.materialize(
        [usage_records], resources=_resources(tmp_path, empty), partition_key="2022-02-01", raise_on_error=False,
        run_config=QUIET,
    )  # fmt: skip
    assert not result.success and _events(result, "STEP_UP_FOR_RETRY") == []


@pytest.fixture
def locked_warehouse(tmp_path):
    """Another process holding the warehouse file open for writing."""
    path = tmp_path / "revcast.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == b"ok"
    yield path
    holder.kill()
    holder.wait()


def test_a_locked_warehouse_is_retried(sample_landing, tmp_path, locked_warehouse):
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing / "usage" / "date=2022-02-01", landing / "usage" / "date=2022-02-01")
    started = time.monotonic()
    result = dg.materialize(
        [usage_records], resources=_resources(tmp_path, landing, lock_retries=2, lock_retry_seconds=0),
        partition_key="2022-02-01", raise_on_error=False, run_config=QUIET,
    )  # fmt: skip
    assert not result.success and len(_events(result, "STEP_UP_FOR_RETRY")) == 2
    assert time.monotonic() - started < 60
