"""run_failure_sensor: a failed run is recorded in audit.run_failures and posted to the configured webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import duckdb
import pytest

from pipelines.automation import run_failure_sensor
from resources import AlertsResource, WarehouseResource
from revcast.alerts import check_webhook_url


@pytest.fixture
def webhook():
    """A local HTTP endpoint that keeps what is posted to it."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def _failed_run(instance):
    @dg.op
    def load_day():
        raise RuntimeError("no usage file for partition 2023-01-05")

    @dg.job
    def daily_ingest_stand_in():
        load_day()

    result = daily_ingest_stand_in.execute_in_process(
        instance=instance, raise_on_error=False, tags={"dagster/partition": "2023-01-05"}
    )
    assert not result.success
    return result


def _evaluate(instance, result, resources):
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    ).for_run_failure()
    run_failure_sensor(context)


def test_a_failed_run_is_recorded_and_posted(tmp_path, webhook):
    url, received = webhook
    instance = dg.DagsterInstance.ephemeral()
    result = _failed_run(instance)
    warehouse = WarehouseResource(path=str(tmp_path / "revcast.duckdb"))
    _evaluate(instance, result, {"warehouse": warehouse, "alerts": AlertsResource(webhook_url=url)})
    _evaluate(instance, result, {"warehouse": warehouse, "alerts": AlertsResource(webhook_url=url)})  # again

    with duckdb.connect(warehouse.path, read_only=True) as con:
        rows = con.execute(
            "SELECT run_id, job_name, partition, failed_steps, error, alerted FROM audit.run_failures"
        ).fetchall()
    assert len(rows) == 1  # one row per run, however often it is seen
    run_id, job, partition, steps, error, alerted = rows[0]
    assert (run_id, job, partition, steps, alerted) == (
        result.run_id,
        "daily_ingest_stand_in",
        "2023-01-05",
        ["load_day"],
        True,
    )
    assert "no usage file for partition 2023-01-05" in error
    assert (
        received[0]["run_id"] == result.run_id and "daily_ingest_stand_in [2023-01-05]" in received[0]["text"]
    )


def test_without_a_webhook_the_failure_is_only_recorded(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    result = _failed_run(instance)
    warehouse = WarehouseResource(path=str(tmp_path / "revcast.duckdb"))
    _evaluate(instance, result, {"warehouse": warehouse, "alerts": AlertsResource()})
    with duckdb.connect(warehouse.path, read_only=True) as con:
        assert con.execute("SELECT alerted FROM audit.run_failures").fetchall() == [(False,)]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "http://", "javascript:alert(1)"])
def test_only_http_webhooks(url):
    with pytest.raises(ValueError, match="http"):
        check_webhook_url(url)
