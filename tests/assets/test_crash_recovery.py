"""A run killed mid-write (SIGKILL of its process group) never blocks the next one, and a waiting step sleeps.

Real subprocesses on a persistent Dagster instance configured like .dagster/dagster.yaml (the `duckdb` pool,
the recovering event log storage): a multi-partition usage backfill is killed inside its write transaction;
every partition is then wholly old, the warehouse opens, and a rerun frees the dead run's pool slot and
finishes within a minute.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.events import EngineEventData

from pipelines.instance import free_slots_of_dead_runs
from revcast.generate import generate_landing

ROOT = Path(__file__).resolve().parents[2]
START, END = "2022-01-01", "2022-02-28"

# The backfill, as the CLI would run it, in-process executor. With REVCAST_TEST_HANG_IN_WRITE set, the write
# transaction signals (a marker file) after its DELETE and INSERTs and then waits, so the kill lands mid-write.
DRIVER = """
import contextlib, os, sys, time
import dagster as dg
import revcast.ingest.core as core
marker = os.environ.get("REVCAST_TEST_HANG_IN_WRITE")
if marker:
    real = core.transaction
    @contextlib.contextmanager
    def hanging(con):
        with real(con):
            yield con
            open(marker, "w").close()
            time.sleep(300)
    core.transaction = hanging
from assets.usage.ingest import usage_records
from resources import LandingZoneResource, WarehouseResource
result = dg.materialize(
    [usage_records],
    instance=dg.DagsterInstance.get(),
    resources={"warehouse": WarehouseResource(path=sys.argv[1]), "landing": LandingZoneResource(root=sys.argv[2])},
    tags={"dagster/asset_partition_range_start": sys.argv[3], "dagster/asset_partition_range_end": sys.argv[4]},
    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
)
print("RUN", result.run_id, result.success)
"""


def _env(home: Path) -> dict:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "REVCAST_START_DATE": START,
        "REVCAST_END_DATE": END,
        "PYTHONPATH": str(ROOT),
    }


def _start(home: Path, warehouse: Path, landing: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(warehouse), str(landing), START, END],
        cwd=ROOT,
        env={**_env(home), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, killed whole
    )


def _finish(proc: subprocess.Popen, timeout: float) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0 and " True" in out, err[-3000:]
    return out


def _partition_state(path: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT CAST(usage_date AS VARCHAR), count(*), round(sum(quantity), 3) FROM clean.usage "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return {day: (n, total) for day, n, total in rows}


@pytest.fixture
def instance_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    return home


def _landing(root: Path, seed: int) -> None:
    generate_landing(
        root, seed=seed, accounts=15, start=date(2022, 1, 1), end=date(2022, 2, 28), domains=("usage",)
    )


def _pool_holders(home: Path) -> set[str]:
    with _instance(home) as instance:
        info = instance.event_log_storage.get_concurrency_info("duckdb")
        return {slot.run_id for slot in info.claimed_slots}


class _instance:
    """The subprocesses' persistent instance, opened from this process."""

    def __init__(self, home: Path):
        self.home = home

    def __enter__(self) -> dg.DagsterInstance:
        self._previous = os.environ.get("DAGSTER_HOME")
        os.environ["DAGSTER_HOME"] = str(self.home)
        self.instance = dg.DagsterInstance.get()
        return self.instance

    def __exit__(self, *exc) -> None:
        self.instance.dispose()
        if self._previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = self._previous


def test_a_run_killed_mid_write_never_blocks_the_next(tmp_path: Path, instance_home: Path) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "revcast.duckdb"
    _landing(landing, seed=1)
    _finish(_start(instance_home, warehouse, landing), timeout=120)
    old = _partition_state(warehouse)
    assert len(old) == 59

    _landing(landing, seed=2)  # every day's file changes: the next run replaces all 59 partitions
    marker = tmp_path / "in_write"
    victim = _start(instance_home, warehouse, landing, REVCAST_TEST_HANG_IN_WRITE=str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the backfill never reached its write"
        time.sleep(0.1)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert _pool_holders(instance_home), "the killed run should still hold its pool slot"

    after_kill = _partition_state(warehouse)  # the warehouse opens; each partition is wholly old or new
    assert set(after_kill) == set(old)
    assert after_kill == old  # one transaction over all partitions: nothing of it landed

    started = time.monotonic()
    _finish(_start(instance_home, warehouse, landing), timeout=60)
    assert time.monotonic() - started < 60
    new = _partition_state(warehouse)
    assert set(new) == set(old) and all(new[d] != old[d] for d in new)
    assert not _pool_holders(instance_home)
    with _instance(instance_home) as instance:
        statuses = [r.status for r in instance.get_runs()]
    assert statuses.count(dg.DagsterRunStatus.FAILURE) == 1  # the killed run, marked failed by the recovery
    assert statuses.count(dg.DagsterRunStatus.SUCCESS) == 2


def test_a_step_waiting_for_the_pool_sleeps_and_runs_once_the_slot_is_free(
    tmp_path: Path, instance_home: Path
) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "revcast.duckdb"
    _landing(landing, seed=1)
    with _instance(instance_home) as instance:  # a live run (this process) holds the only duckdb slot
        holder = instance.create_run_for_job(
            dg.GraphDefinition("holder").to_job(), status=dg.DagsterRunStatus.STARTED
        )
        instance.report_engine_event("holding the pool", holder, EngineEventData.in_process(os.getpid()))
        instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb")
        assert instance.event_log_storage.claim_concurrency_slot("duckdb", holder.run_id, "hold").is_claimed
        waiter = _start(instance_home, warehouse, landing)
        try:
            deadline = time.monotonic() + 120
            while not _waiting(instance, holder.run_id):
                assert waiter.poll() is None, waiter.communicate()[1][-3000:]
                assert time.monotonic() < deadline, "the waiter never queued for the pool"
                time.sleep(0.2)
            assert not free_slots_of_dead_runs(instance, "duckdb")  # the holder is alive: nothing freed
            cpu = _cpu_seconds(waiter.pid)
            time.sleep(4)
            assert _cpu_seconds(waiter.pid) - cpu < 0.5, "a step waiting for the pool spins"
            assert waiter.poll() is None  # still waiting behind the live holder
            instance.event_log_storage.free_concurrency_slots_for_run(holder.run_id)
            _finish(waiter, timeout=60)
        finally:
            if waiter.poll() is None:
                os.killpg(waiter.pid, signal.SIGKILL)
    assert len(_partition_state(warehouse)) == 59


def _waiting(instance: dg.DagsterInstance, holder: str) -> bool:
    info = instance.event_log_storage.get_concurrency_info("duckdb")
    return any(step.run_id != holder for step in info.pending_steps)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
