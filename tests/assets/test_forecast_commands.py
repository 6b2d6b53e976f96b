"""forecast_command_job: the payload as run config makes tagged forecast records, rated and billed; a malformed
command fails its run and is recorded with the reason. Then the same job over Dagster's GraphQL API on a webserver
this test starts, and from the RabbitMQ queue (127.0.0.1:5672, guest/guest) through the consumer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.billing.commands import command_forecasts
from resources import DaskResource
from revcast.billing.commands import ForecastCommand, run_config
from revcast.warehouse import connect

ROOT = Path(__file__).resolve().parents[2]


def run_command(resources: dict, payload: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [command_forecasts],
        resources=resources | {"dask": DaskResource()},
        run_config={"ops": {"command_forecasts": {"config": payload}}},
        raise_on_error=False,
    )


def test_commands_forecast_rate_and_bill(usage_model_resources):
    resources = usage_model_resources
    one = run_command(
        resources, {"command": "Forecast", "account": "C000003", "target": "usage_tiers", "forecastSize": 10}
    )
    glob = run_command(
        resources, {"command": "GlobalForecast", "target": "storage_premium", "forecastSize": 5}
    )
    bad = run_command(resources, {"command": "Forecast", "target": "no_such_model", "forecastSize": 5})
    assert one.success and glob.success and not bad.success
    con = connect(resources["warehouse"].path, read_only=True)
    recs = con.execute(
        "SELECT run_id, command, target, account_id, count(*) AS n, min(ds) AS first FROM forecasts.command_forecasts GROUP BY ALL ORDER BY n DESC"
    ).df()
    assert (
        recs.set_index("run_id").loc[one.run_id, "n"] == 20
        and recs.set_index("run_id").loc[glob.run_id, "n"] == 10
    )
    assert str(recs["first"].min())[:10] == "2024-01-01"  # from the last observed day of the sample
    bills = con.execute(
        "SELECT run, target, sum(charge) FROM billing.bills WHERE run LIKE 'command/%' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert {(r, t) for r, t, _ in bills} == {
        (f"command/{one.run_id}", "usage_tiers"),
        (f"command/{glob.run_id}", "storage_premium"),
    }
    cdr = con.execute(
        "SELECT DISTINCT pricing_model FROM billing.cdr WHERE run = ?", [f"command/{glob.run_id}"]
    ).fetchall()
    assert cdr == [("storage_premium",)]
    audit = con.execute("SELECT run_id, status, reason FROM audit.commands ORDER BY recorded_at").fetchall()
    assert (one.run_id, "completed", None) in audit and (glob.run_id, "completed", None) in audit
    rejected = [a for a in audit if a[0] == bad.run_id]
    assert (
        rejected
        and rejected[0][1] == "rejected"
        and "target 'no_such_model' is not a pricing model" in rejected[0][2]
    )


# ------------------------------------------------------------------ over GraphQL and AMQP, against real servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def _wait(what: str, probe, timeout_s: float, logs=lambda: ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n{logs()}")


@pytest.fixture
def webserver(usage_model_resources, sample_landing, tmp_path):
    """dagster-webserver on a free loopback port over a private DAGSTER_HOME and warehouse copy."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n"
    )
    port = _free_port()
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "REVCAST_WAREHOUSE": usage_model_resources["warehouse"].path,
        "REVCAST_LANDING": str(sample_landing),
        "REVCAST_MODEL_STORE": str(tmp_path / "models"),
        "REVCAST_END_DATE": "2023-12-31",
    }
    log = open(tmp_path / "webserver.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-m",
            "pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    logs = lambda: (tmp_path / "webserver.log").read_text(errors="replace")[-4000:]  # noqa: E731
    try:
        _wait("the webserver", lambda: _reachable(port) or proc.poll() is not None, 180, logs)
        assert proc.poll() is None, logs()
        yield {"port": port, "home": home, "env": env, "logs": logs}
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def _run_status(port: int, run_id: str):
    from dagster_graphql import DagsterGraphQLClient

    status = DagsterGraphQLClient("127.0.0.1", port_number=port).get_run_status(run_id)
    return status if status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE) else None


def test_graphql_and_amqp_launch_the_command_job(webserver, usage_model_resources):
    if not _reachable(5672):
        pytest.skip("no RabbitMQ broker on 127.0.0.1:5672")
    from dagster_graphql import DagsterGraphQLClient

    from revcast_app.commands import consume, graphql_submit, publish

    port, logs = webserver["port"], webserver["logs"]
    client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    cmd = ForecastCommand("Forecast", "volume_discount", 7)
    run_id = client.submit_job_execution("forecast_command_job", run_config=run_config(cmd))
    assert (
        _wait("the GraphQL run", lambda: _run_status(port, run_id), 240, logs) == dg.DagsterRunStatus.SUCCESS
    )

    queue = f"revcast.test.{uuid.uuid4().hex[:8]}"
    url = "amqp://guest:guest@127.0.0.1:5672/%2F"
    publish('{"command": "GlobalForecast", "target": "usage_tiers", "forecastSize": 5}', url=url, queue=queue)
    publish("{not json", url=url, queue=queue)
    warehouse = usage_model_resources["warehouse"].path
    try:
        handled = consume(
            submit=graphql_submit(port=port),
            url=url,
            queue=queue,
            warehouse=warehouse,
            pricing=Path(webserver["env"]["REVCAST_LANDING"]) / "pricing",
            max_messages=2,
            idle_timeout_s=30,
        )
    finally:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(url))
        remaining = connection.channel().queue_declare(queue=queue, durable=True).method.message_count
        connection.channel().queue_delete(queue=queue)
        connection.close()
    assert remaining == 0  # both acknowledged, the malformed one too
    assert [h.status for h in handled] == ["accepted", "rejected"]
    amqp_run = handled[0].run_id
    assert (
        _wait("the AMQP run", lambda: _run_status(port, amqp_run), 240, logs) == dg.DagsterRunStatus.SUCCESS
    )

    def audit():
        try:
            con = duckdb.connect(warehouse, read_only=True)
        except duckdb.IOException:
            return None
        try:
            return con.execute(
                "SELECT source, status, run_id, reason FROM audit.commands ORDER BY recorded_at"
            ).fetchall()
        finally:
            con.close()

    rows = _wait("the audit rows", audit, 30)
    assert ("amqp", "accepted", amqp_run, None) in rows
    assert ("run", "completed", amqp_run, None) in rows and ("run", "completed", run_id, None) in rows
    rejected = [r for r in rows if r[1] == "rejected"]
    assert rejected[0][0] == "amqp" and rejected[0][3].startswith("payload is not JSON")
    shutil.rmtree(webserver["home"] / "storage", ignore_errors=True)


def test_a_launch_without_config_runs_the_default_command(usage_model_resources):
    result = dg.materialize(
        [command_forecasts], resources=usage_model_resources | {"dask": DaskResource()}, raise_on_error=False
    )
    assert result.success
    meta = result.asset_materializations_for_node("command_forecasts")[0].metadata
    assert meta["command"].value == {"command": "GlobalForecast", "target": "production", "forecastSize": 30}
