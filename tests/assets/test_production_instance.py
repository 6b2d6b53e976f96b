"""deploy/dagster.yaml on a real PostgreSQL: the nightly schedule ticks for a fixed night, dagster-daemon
dequeues and runs it, the webserver reports it, and the day is materialized; then a 30-day backfill as three
concurrent runs on the multiprocess executor finishes without a DuckDB lock error. The database is dropped
after.

Skipped where no PostgreSQL answers on 127.0.0.1:5432 (user postgres, trust authentication).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from revcast.generate import generate_landing

psycopg2 = pytest.importorskip("psycopg2")
from psycopg2 import sql  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
TICK = datetime(2023, 1, 6, 2, 0, tzinfo=UTC)  # the nightly tick of 6 Jan ingests 5 Jan
DAY = "2023-01-05"
NIGHTLY_ASSETS = ("usage_records", "usage_daily_totals", "fullbas_runs", "simplebas_runs")
BACKFILL = [
    ("2023-01-06", "2023-01-15"),
    ("2023-01-16", "2023-01-25"),
    ("2023-01-26", "2023-02-04"),
]  # 30 days


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin():
    con = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    con.autocommit = True
    return con


@pytest.fixture
def pg_database():
    """A throwaway database, dropped afterwards (connections still open are closed by force)."""
    try:
        admin = _admin()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on {PG['host']}:{PG['port']}: {exc}")
    name = f"revcast_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def deployment(pg_database, tmp_path, monkeypatch):
    """DAGSTER_HOME with deploy/dagster.yaml, small generated data, and the environment every process shares."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    landing = tmp_path / "landing"
    generate_landing(
        landing, seed=3, accounts=5, start=date(2023, 1, 1), end=date(2023, 2, 15), bad_share=0.0
    )
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": pg_database,
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
        "REVCAST_LANDING": str(landing),
        "REVCAST_WAREHOUSE": str(tmp_path / "revcast.duckdb"),
        "REVCAST_MODEL_STORE": str(tmp_path / "models"),
        "REVCAST_START_DATE": "2023-01-01",
        "REVCAST_END_DATE": "2023-02-15",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}, tmp_path


class _Processes:
    """Subprocesses that are stopped (and their logs shown on failure) when the test ends."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env, self.procs = workdir, env, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, proc, log))
        return proc

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} ---\n{(self.workdir / f'{name}.log').read_text(errors='replace')[-3000:]}"
            for name, _, _ in self.procs
        )

    def stop(self) -> None:
        for _, proc, _ in reversed(self.procs):
            proc.terminate()
        for _, proc, log in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _wait(what: str, condition, timeout: float, processes: _Processes):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{processes.logs()}")


def _tick_nightly_schedule(instance: dg.DagsterInstance, workspace: Path) -> None:
    """Let the scheduler tick nightly_schedule once, at TICK, through the instance; then stop it, so the
    daemon's own scheduler (running on today's clock) leaves it alone."""
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._scheduler.scheduler import launch_scheduled_runs

    with WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(workspace)])) as context:
        location = context.create_request_context().get_code_location("revcast")
        schedule = location.get_repository("__repository__").get_schedule("nightly_schedule")
        state = InstigatorState(
            schedule.get_remote_origin(),
            InstigatorType.SCHEDULE,
            InstigatorStatus.RUNNING,
            ScheduleInstigatorData(
                schedule.cron_schedule, start_timestamp=(TICK - timedelta(hours=1)).timestamp()
            ),
        )
        instance.add_instigator_state(state)
        list(
            launch_scheduled_runs(
                context, logging.getLogger("test"), TICK + timedelta(minutes=5), iteration_times={}
            )
        )
        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)


def test_nightly_tick_runs_on_the_postgres_instance_under_the_daemon(deployment):
    env, workdir = deployment
    grpc_port, web_port = _free_port(), _free_port()
    workspace = workdir / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
        "      location_name: revcast\n"
    )
    processes = _Processes(workdir, env)
    instance = dg.DagsterInstance.get()
    try:
        # one code server that the test, the daemon, the webserver and the runs all use
        processes.start(
            "code_server", _bin("dagster"), "api", "grpc", "-m", "pipelines.definitions",
            "--host", "127.0.0.1", "--port", str(grpc_port),
        )  # fmt: skip
        from dagster._grpc.client import DagsterGrpcClient

        client = DagsterGrpcClient(port=grpc_port, host="127.0.0.1")

        def _serving():
            try:
                return client.ping("up") is not None
            except Exception:
                return False

        _wait("the code server", _serving, 90, processes)
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

        _tick_nightly_schedule(instance, workspace)
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/schedule_name": "nightly_schedule"}))
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.QUEUED  # waits for the daemon
        assert runs[0].tags["dagster/partition"] == DAY

        processes.start("daemon", _bin("dagster-daemon"), "run", "-w", str(workspace))
        processes.start(
            "webserver",
            _bin("dagster-webserver"),
            "-w",
            str(workspace),
            "-h",
            "127.0.0.1",
            "-p",
            str(web_port),
        )
        run_id = runs[0].run_id

        def _finished():
            run = instance.get_run_by_id(run_id)
            return run if run.is_finished else None

        run = _wait("the nightly run", _finished, 150, processes)
        assert run.status == dg.DagsterRunStatus.SUCCESS, processes.logs()

        for asset in NIGHTLY_ASSETS:
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) == {DAY}, asset
        con = duckdb.connect(env["REVCAST_WAREHOUSE"], read_only=True)
        try:
            days = con.execute("SELECT DISTINCT usage_date::VARCHAR FROM clean.usage").fetchall()
            loaded = con.execute(
                "SELECT source, partition_key FROM audit.ingest_runs ORDER BY source"
            ).fetchall()
        finally:
            con.close()
        assert days == [(DAY,)]
        assert loaded == [("fullbas", DAY), ("simplebas", DAY), ("usage", DAY)]

        from dagster_graphql import DagsterGraphQLClient

        web = DagsterGraphQLClient("127.0.0.1", port_number=web_port)

        def _web_status():
            try:
                return web.get_run_status(run_id)
            except Exception:
                return None

        assert _wait("the webserver", _web_status, 90, processes) == dg.DagsterRunStatus.SUCCESS

        # load: 30 days as three range runs submitted at once through the webserver, each on the
        # multiprocess executor; their writes queue on the duckdb pool instead of colliding on the file
        backfill_ids = [
            web.submit_job_execution(
                "daily_ingest_job",
                repository_location_name="revcast",
                repository_name="__repository__",
                tags={
                    "dagster/asset_partition_range_start": first,
                    "dagster/asset_partition_range_end": last,
                },
                asset_selection=["usage_records"],
            )
            for first, last in BACKFILL
        ]

        def _all_finished():
            runs = [instance.get_run_by_id(i) for i in backfill_ids]
            return runs if all(r.is_finished for r in runs) else None

        backfill = _wait("the backfill runs", _all_finished, 240, processes)
        assert [r.status for r in backfill] == [dg.DagsterRunStatus.SUCCESS] * 3, processes.logs()
        lock_error = re.compile(r"could not set lock|conflicting lock|database is locked", re.IGNORECASE)
        problems = [
            entry.message
            for run_id in backfill_ids
            for entry in instance.all_logs(run_id)
            if lock_error.search(entry.message or "")
            or entry.dagster_event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
        ]
        assert problems == []
        loaded = instance.get_materialized_partitions(dg.AssetKey("usage_records"))
        assert len(loaded) == 31 and {DAY, "2023-01-06", "2023-02-04"} <= loaded
        con = duckdb.connect(env["REVCAST_WAREHOUSE"], read_only=True)
        try:
            days = con.execute("SELECT count(DISTINCT usage_date) FROM clean.usage").fetchone()[0]
        finally:
            con.close()
        assert days == 31
    finally:
        processes.stop()
        instance.dispose()
