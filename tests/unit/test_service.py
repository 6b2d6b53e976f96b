"""The revenue API: every route with FastAPI's TestClient over a prepared warehouse, and the real server."""

import json
import subprocess
import sys
from datetime import date

import duckdb
import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from revcast.forecasting import SeasonalNaive
from revcast.warehouse import connect
from revcast_app.service.app import create_app
from revcast_app.service.store import Settings
from tests.helpers import free_port, served

TRAINED_THROUGH = date(2023, 6, 30)
COUNTRIES = ("United Kingdom", "all")


def _series() -> pd.DataFrame:
    """Two weekly-seasonal daily revenue series through TRAINED_THROUGH (UK = half of all)."""
    ds = pd.date_range("2023-01-01", TRAINED_THROUGH, freq="D")
    weekly = np.array([100.0, 110.0, 120.0, 130.0, 90.0, 5.0, 60.0])
    all_rev = weekly[ds.dayofweek.to_numpy()] * 2
    return pd.concat(
        [
            pd.DataFrame({"unique_id": "all", "ds": ds, "y": all_rev}),
            pd.DataFrame({"unique_id": "United Kingdom", "ds": ds, "y": all_rev / 2}),
        ]
    )


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory):
    """A warehouse with one champion per series (SeasonalNaive artifacts) and one precomputed forecast."""
    root = tmp_path_factory.mktemp("service")
    series = _series()
    con = connect(root / "revcast.duckdb")
    try:
        for uid in COUNTRIES:
            folder = root / "models" / "seasonal_naive" / "2023-06" / uid.replace(" ", "_")
            SeasonalNaive().fit(series[series.unique_id == uid]).save(folder)
            con.execute(
                "INSERT INTO models.registry (model_id, domain, cutoff, unique_id, model, algorithm, train_start, "
                "train_end, artifact_path, run_id, is_champion, registered_at) "
                "VALUES (?, 'invoices', '2023-06', ?, 'seasonal_naive', 'revcast.forecasting.baselines.SeasonalNaive', "
                "DATE '2023-01-01', ?, ?, 'run-1', TRUE, now())",
                [f"invoices/seasonal_naive/2023-06/{uid}", uid, TRAINED_THROUGH, str(folder)],
            )
        con.execute(
            "INSERT INTO forecasts.invoice_revenue_forecasts VALUES "
            "('2023-06', 'United Kingdom', DATE '2023-07-01', 1234.5, 1000, 1500, 900, 1600, 'ets', "
            "'invoices/ets/2023-06/United Kingdom', 'run-1')"
        )
        con.execute(
            "INSERT INTO audit.ingest_runs VALUES ('invoices', '2023-06', ['f.json'], 'x', 10, 10, 0, 10, "
            "'loaded', 'run-0', now(), now())"
        )
    finally:
        con.close()
    return root


@pytest.fixture
def client(warehouse_dir, tmp_path):
    settings = Settings(
        warehouse_path=warehouse_dir / "revcast.duckdb", log_path=tmp_path / "predictions.duckdb"
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_precomputed_forecast_returned_with_model_version(client):
    r = client.get("/v1/revenue/forecast", params={"country": "united kingdom", "date": "2023-07-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["country"] == "United Kingdom" and body["source"] == "precomputed"
    assert body["revenue_30d"] == 1234.5 and body["lo_95"] == 900 and body["hi_80"] == 1500
    assert body["model_id"] == "invoices/ets/2023-06/United Kingdom" and body["window_end"] == "2023-07-30"


def test_computed_forecast_sums_the_champions_30_days(client):
    r = client.get("/v1/revenue/forecast", params={"country": "all", "date": "2023-07-10"})
    assert r.status_code == 200, r.text
    body = r.json()
    # seasonal naive repeats the last week: 30 days from a Monday = 4 weeks + Monday, Tuesday
    weekly = np.array([100.0, 110.0, 120.0, 130.0, 90.0, 5.0, 60.0]) * 2
    days = pd.date_range("2023-07-10", periods=30, freq="D").dayofweek.to_numpy()
    assert body["revenue_30d"] == pytest.approx(weekly[days].sum())
    assert body["source"] == "computed" and body["model_id"] == "invoices/seasonal_naive/2023-06/all"
    assert body["lo_95"] <= body["lo_80"] <= body["revenue_30d"] <= body["hi_80"] <= body["hi_95"]


def test_bad_inputs_give_clear_4xx(client):
    r = client.get("/v1/revenue/forecast", params={"country": "Atlantis", "date": "2023-07-10"})
    assert r.status_code == 404 and "United Kingdom" in r.json()["detail"] and "all" in r.json()["detail"]
    for bad in ("2023-13-01", "10/07/2023", "2023-7-1", "tomorrow"):
        r = client.get("/v1/revenue/forecast", params={"country": "all", "date": bad})
        assert r.status_code == 400 and "malformed date" in r.json()["detail"], bad
    r = client.get("/v1/revenue/forecast", params={"country": "all", "date": "2023-06-15"})
    assert r.status_code == 422 and "earliest date served is 2023-07-01" in r.json()["detail"]
    r = client.get("/v1/revenue/forecast", params={"country": "all", "date": "2025-01-01"})
    assert r.status_code == 422 and "last date served 2024-06-29" in r.json()["detail"]
    r = client.get("/v1/revenue/forecast", params={"country": "all"})
    assert r.status_code == 422


def test_every_prediction_is_logged_and_listed(client):
    client.get("/v1/revenue/forecast", params={"country": "all", "date": "2023-07-10"})
    client.get("/v1/revenue/forecast", params={"country": "Atlantis", "date": "2023-07-10"})
    r = client.get("/v1/logs", params={"limit": 10})
    assert r.status_code == 200
    logs = r.json()
    assert [p["status_code"] for p in logs["predictions"]] == [404, 200]
    ok = logs["predictions"][1]
    assert ok["query"] == {"country": "all", "date": "2023-07-10"}
    assert ok["model_id"] == "invoices/seasonal_naive/2023-06/all" and ok["source"] == "computed"
    assert ok["result"]["revenue_30d"] > 0 and ok["latency_ms"] > 0
    assert logs["training_runs"][0]["run_id"] == "run-1" and logs["training_runs"][0]["series"] == 2


def test_train_auth(client, monkeypatch):
    monkeypatch.delenv("REVCAST_API_TOKEN", raising=False)
    assert client.post("/v1/train").status_code == 503
    monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
    r = client.post("/v1/train")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/train", headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = client.post("/v1/train", headers={"Authorization": "Bearer s3cret"}, json={"cutoff": "2023-6"})
    assert r.status_code == 422 and "YYYY-MM" in r.json()["detail"]


def test_train_without_dagster_is_a_clear_502(client, monkeypatch):
    monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
    monkeypatch.setenv("REVCAST_DAGSTER_PORT", str(free_port()))  # nothing listens there
    r = client.post("/v1/train", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 502 and "unreachable" in r.json()["detail"]
    launches = client.get("/v1/logs").json()["training_launches"]
    assert launches[0]["status"] == "failed" and launches[0]["cutoff"] == "2023-06"  # default: last month


def test_train_launches_the_job_through_dagster_graphql(client, monkeypatch):
    """A stand-in GraphQL endpoint on loopback answers like Dagster's launchPipelineExecution."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(payload)
            if "launchPipelineExecution" in payload["query"]:
                data = {
                    "launchPipelineExecution": {"__typename": "LaunchRunSuccess", "run": {"runId": "run-42"}}
                }
            else:  # repository lookup
                data = {
                    "repositoriesOrError": {
                        "__typename": "RepositoryConnection",
                        "nodes": [
                            {
                                "name": "__repository__",
                                "location": {"name": "revcast"},
                                "pipelines": [{"name": "invoice_training_job"}],
                            }
                        ],
                    }
                }
            body = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
        monkeypatch.setenv("REVCAST_DAGSTER_PORT", str(server.server_address[1]))
        r = client.post("/v1/train", headers={"Authorization": "Bearer s3cret"}, json={"cutoff": "2023-05"})
    finally:
        server.shutdown()
    assert r.status_code == 200, r.text
    assert r.json() == {
        "run_id": "run-42",
        "job_name": "invoice_training_job",
        "cutoff": "2023-05",
        "partition_key": r.json()["partition_key"],
    }
    assert r.json()["partition_key"].startswith("2023-05")
    launch = next(p for p in seen if "launchPipelineExecution" in p["query"])
    params = launch["variables"]["executionParams"]
    assert params["selector"]["pipelineName"] == "invoice_training_job"
    assert {"key": "dagster/partition", "value": r.json()["partition_key"]} in params["executionMetadata"][
        "tags"
    ]
    assert client.get("/v1/logs").json()["training_launches"][0]["run_id"] == "run-42"


def test_openapi_lists_the_routes(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/revenue/forecast", "/v1/train", "/v1/logs"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_real_server_on_loopback(warehouse_dir, tmp_path):
    with served(warehouse_dir / "revcast.duckdb", tmp_path / "predictions.duckdb") as base:
        r = httpx.get(
            f"{base}/v1/revenue/forecast", params={"country": "all", "date": "2023-07-03"}, timeout=30
        )
        assert r.status_code == 200 and r.json()["model_id"] == "invoices/seasonal_naive/2023-06/all"
        assert "/v1/revenue/forecast" in httpx.get(f"{base}/openapi.json", timeout=10).json()["paths"]
    con = duckdb.connect(str(tmp_path / "predictions.duckdb"), read_only=True)
    try:
        logged = con.execute("SELECT status_code, model_id, source FROM audit.predictions").fetchall()
    finally:
        con.close()
    assert logged == [(200, "invoices/seasonal_naive/2023-06/all", "computed")]


def test_busy_warehouse_is_a_503_and_the_log_still_works(warehouse_dir, tmp_path):
    """While another process (Dagster) holds the write lock, reads fail fast and clearly; logging goes on."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(60)", str(warehouse_dir / "revcast.duckdb")],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"held"
        settings = Settings(
            warehouse_path=warehouse_dir / "revcast.duckdb", log_path=tmp_path / "p.duckdb", read_retries=1
        )
        with TestClient(create_app(settings)) as c:
            r = c.get("/v1/revenue/forecast", params={"country": "all", "date": "2023-07-10"})
            assert r.status_code == 503 and "locked" in r.json()["detail"]
            logs = c.get("/v1/logs").json()
            assert logs["predictions"][0]["status_code"] == 503 and logs["training_runs"] == []
    finally:
        holder.kill()
        holder.wait()
