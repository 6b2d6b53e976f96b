"""/v1/forecasts: every stream over a small real warehouse, filters, paging, refusals, tokens and the log."""

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient

from revcast_app.service.app import create_app
from revcast_app.service.forecasts import STREAMS
from revcast_app.service.store import Settings
from tests.forecast_warehouse import build_forecast_warehouse
from tests.helpers import served

TOKEN = {"Authorization": "Bearer s3cret"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build_forecast_warehouse(tmp_path_factory.mktemp("forecasts") / "revcast.duckdb")


@pytest.fixture
def client(warehouse, tmp_path):
    settings = Settings(warehouse_path=warehouse, log_path=tmp_path / "predictions.duckdb")
    with TestClient(create_app(settings)) as c:
        yield c


def _get(client, stream, **params):
    r = client.get(f"/v1/forecasts/{stream}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_catalog_lists_every_stream_with_its_latest_cutoff(client):
    r = client.get("/v1/forecasts")
    assert r.status_code == 200, r.text
    by_stream = {s["stream"]: s for s in r.json()}
    assert (
        set(by_stream)
        == set(STREAMS)
        == {"usage", "invoices", "subscriptions", "installs", "accounts", "revenue"}
    )
    assert {s: (v["cutoff"], v["rows"], v["entities"]) for s, v in by_stream.items()} == {
        "usage": ("2023-12", 20, 2),
        "invoices": ("2023-12", 6, 2),
        "subscriptions": ("2023-12", 12, 2),
        "installs": ("2023-12", 6, 2),
        "accounts": ("2023-12", 12, 3),
        "revenue": ("2023-12", 6, 1),
    }
    assert (
        by_stream["usage"]["first_date"] == "2024-01-01" and by_stream["usage"]["last_date"] == "2024-01-10"
    )


def test_usage_latest_cutoff_by_default_and_an_older_one_on_request(client):
    body = _get(client, "usage", entity="memory")
    assert (body["cutoff"], body["total"], body["grain"], body["entity_kind"]) == (
        "2023-12",
        10,
        "day",
        "metric",
    )
    first = body["items"][0]
    assert first == {
        "entity": "memory",
        "series": None,
        "date": "2024-01-01",
        "forecast": 100.0,
        "lo_80": 95.0,
        "hi_80": 105.0,
        "lo_95": 91.0,
        "hi_95": 109.0,
        "actual": None,
        "currency": None,
        "model": "ets",
        "model_id": "usage/ets/2023-12/memory",
        "run_id": "run-usage",
        "detail": {"horizon": 1},
    }
    assert [i["forecast"] for i in body["items"]] == [100.0 + i for i in range(10)]
    old = _get(client, "usage", cutoff="2023-11")
    assert old["cutoff"] == "2023-11" and old["total"] == 5
    assert (
        old["items"][0]["model_id"] == "usage/seasonal_naive/2023-11/memory"
        and old["items"][0]["forecast"] == 50.0
    )


def test_invoices_entity_is_case_insensitive_and_rows_carry_the_window(client):
    body = _get(client, "invoices", entity="united kingdom")
    assert body["total"] == 3 and body["grain"] == "30-day window"
    assert [(i["entity"], i["date"], i["forecast"]) for i in body["items"]] == [
        ("United Kingdom", "2024-01-01", 1000.0),
        ("United Kingdom", "2024-01-02", 1010.0),
        ("United Kingdom", "2024-01-03", 1020.0),
    ]
    assert body["items"][0]["detail"] == {"window_end": "2024-01-30"}


def test_subscriptions_serve_the_revenue_plan_by_revenue_type(client):
    body = _get(client, "subscriptions", entity="iOS", series="total")
    assert body["table"] == "marts.subscription_revenue_plan" and body["total"] == 2
    assert [(i["series"], i["date"], i["forecast"], i["lo_95"]) for i in body["items"]] == [
        ("total", "2024-01-01", 100.0, 98.0),
        ("total", "2024-01-02", 101.0, 99.0),
    ]
    every_type = _get(client, "subscriptions", entity="all", start="2024-01-01", end="2024-01-01")
    assert {i["series"]: i["forecast"] for i in every_type["items"]} == {
        "new": 75.0,
        "recurrent": 225.0,
        "total": 300.0,
    }


def test_installs_and_accounts(client):
    installs = _get(client, "installs", entity="android")
    assert [i["forecast"] for i in installs["items"]] == [700.0, 701.0, 702.0]
    assert installs["items"][0]["model_id"] == "installs/prophet/2023-12/Android"
    accounts = _get(client, "accounts", entity="acct-003", series="cpu")
    assert accounts["total"] == 2 and accounts["entity_kind"] == "account"
    assert [(i["entity"], i["series"], i["forecast"]) for i in accounts["items"]] == [
        ("acct-003", "cpu", 3.0),
        ("acct-003", "cpu", 4.0),
    ]
    assert accounts["items"][0]["detail"] == {"horizon": 1, "fallback_reason": "short history"}
    two = _get(client, "accounts", entity=["acct-001", "acct-002"], series="memory", end="2024-01-01")
    assert [(i["entity"], i["forecast"]) for i in two["items"]] == [("acct-001", 10.0), ("acct-002", 20.0)]


def test_revenue_by_grain_with_actuals_and_currency(client):
    day = _get(client, "revenue", series="usage")
    assert day["grain"] == "day" and day["total"] == 3
    assert [(i["date"], i["actual"], i["forecast"], i["currency"]) for i in day["items"]] == [
        ("2023-12-31", 120.5, None, "CHF"),
        ("2024-01-01", None, 130.0, "CHF"),
        ("2024-01-02", None, 131.0, "CHF"),
    ]
    month = _get(client, "revenue", grain="month")
    assert [(i["date"], i["actual"], i["forecast"]) for i in month["items"]] == [
        ("2023-12-01", 3700.25, None),
        ("2024-01-01", None, 4000.0),
    ]
    invoices = _get(client, "revenue", series="invoices", entity="ALL")
    assert invoices["total"] == 1 and invoices["items"][0]["currency"] == "GBP"


def test_date_range_is_inclusive(client):
    body = _get(client, "usage", entity="cpu", start="2024-01-03", end="2024-01-05")
    assert [(i["date"], i["forecast"]) for i in body["items"]] == [
        ("2024-01-03", 12.0),
        ("2024-01-04", 13.0),
        ("2024-01-05", 14.0),
    ]


def test_paging_walks_every_row_once_with_a_stable_total(client):
    whole = _get(client, "usage", limit=1000)["items"]
    assert len(whole) == 20
    seen, offset, pages = [], 0, 0
    while offset is not None:
        page = _get(client, "usage", limit=6, offset=offset)
        assert page["total"] == 20 and page["limit"] == 6 and page["offset"] == offset
        seen += page["items"]
        offset, pages = page["next_offset"], pages + 1
    assert pages == 4 and seen == whole
    assert [(i["entity"], i["date"]) for i in whole[:2]] == [("cpu", "2024-01-01"), ("cpu", "2024-01-02")]
    past = _get(client, "usage", offset=50)
    assert past["items"] == [] and past["total"] == 20 and past["next_offset"] is None


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter", "words"),
    [
        ("/v1/forecasts/sales", {}, 422, "stream", "'usage'"),
        ("/v1/forecasts/usage", {"start": "2024-13-01"}, 422, "start", "date"),
        ("/v1/forecasts/usage", {"end": "yesterday"}, 422, "end", "date"),
        ("/v1/forecasts/usage", {"start": "2024-01-01T00:00:00"}, 422, "start", "YYYY-MM-DD"),
        ("/v1/forecasts/usage", {"start": "1704067200"}, 422, "start", "YYYY-MM-DD"),
        ("/v1/forecasts/usage", {"start": "2024-01-05", "end": "2024-01-01"}, 400, "start", "after end"),
        ("/v1/forecasts/usage", {"limit": 0}, 422, "limit", "greater than or equal to 1"),
        ("/v1/forecasts/usage", {"limit": 1001}, 422, "limit", "less than or equal to 1000"),
        ("/v1/forecasts/usage", {"limit": "many"}, 422, "limit", "integer"),
        ("/v1/forecasts/usage", {"offset": -1}, 422, "offset", "greater than or equal to 0"),
        ("/v1/forecasts/usage", {"offset": 10**20}, 422, "offset", "less than or equal to 1000000000"),
        ("/v1/forecasts/usage", {"entity": "disk"}, 404, "entity", "known: cpu, memory"),
        ("/v1/forecasts/accounts", {"series": "gpu"}, 404, "series", "known: cpu, memory"),
        ("/v1/forecasts/usage", {"cutoff": "2022-01"}, 404, "cutoff", "cutoffs: 2023-12, 2023-11"),
        ("/v1/forecasts/usage", {"grain": "month"}, 400, "grain", "revenue only"),
        ("/v1/forecasts/revenue", {"grain": "week"}, 422, "grain", "'day' or 'month'"),
        ("/v1/forecasts/usage", {"series": "total"}, 400, "series", "no series"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_parameter(client, path, params, status, parameter, words):
    r = client.get(path, params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["parameter"] == parameter and parameter in body["detail"] and words in body["detail"], body


def test_unknown_entity_lists_a_bounded_choice(client):
    r = client.get("/v1/forecasts/accounts", params={"entity": "acct-999"})
    assert r.status_code == 404
    assert r.json()["detail"].endswith("known: acct-001, acct-002, acct-003")


def test_post_query_token_paths(client, monkeypatch):
    body = {"entities": ["acct-001", "ACCT-002"], "series": "memory", "limit": 3}
    monkeypatch.delenv("REVCAST_API_TOKEN", raising=False)
    r = client.post("/v1/forecasts/accounts/query", json=body)
    assert r.status_code == 503 and "REVCAST_API_TOKEN" in r.json()["detail"]
    monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
    r = client.post("/v1/forecasts/accounts/query", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/v1/forecasts/accounts/query", json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403 and r.json()["detail"] == "invalid bearer token"
    r = client.post("/v1/forecasts/accounts/query", json=body, headers=TOKEN)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 4 and page["next_offset"] == 3
    assert [(i["entity"], i["date"], i["forecast"]) for i in page["items"]] == [
        ("acct-001", "2024-01-01", 10.0),
        ("acct-001", "2024-01-02", 11.0),
        ("acct-002", "2024-01-01", 20.0),
    ]
    # /v1/train shares the one token check
    assert client.post("/v1/train", headers={"Authorization": "Bearer wrong"}).status_code == 403


def test_post_query_bad_body_names_the_parameter(client, monkeypatch):
    monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
    cases = [
        ({"entities": ["acct-001", "nobody"]}, 404, "entities"),
        ({"limit": 5000}, 422, "limit"),
        ({"start": "2024-02-30"}, 422, "start"),
        ({"start": 1704067200}, 422, "start"),  # a timestamp is not a date
        ({"offset": -1}, 422, "offset"),
        ({"start": "2024-01-02", "end": "2024-01-01"}, 400, "start"),
        ({"entity": "acct-001"}, 422, "entity"),  # a typo for `entities`: extra fields are refused
    ]
    for body, status, parameter in cases:
        r = client.post("/v1/forecasts/accounts/query", json=body, headers=TOKEN)
        assert (r.status_code, r.json()["parameter"]) == (status, parameter), (body, r.text)
        assert parameter in r.json()["detail"]


def test_every_answer_is_logged(client, monkeypatch):
    monkeypatch.setenv("REVCAST_API_TOKEN", "s3cret")
    client.get("/v1/forecasts/usage", params={"entity": "memory", "limit": 2})
    client.get("/v1/forecasts/usage", params={"limit": 0})
    client.get("/v1/forecasts/usage", params={"entity": "disk"})
    client.post("/v1/forecasts/installs/query", json={"entities": ["iOS"]})
    client.post("/v1/forecasts/installs/query", json={"entities": ["iOS"]}, headers=TOKEN)
    logged = client.get("/v1/logs", params={"limit": 10}).json()["predictions"][::-1]
    assert [(p["endpoint"], p["status_code"]) for p in logged] == [
        ("/v1/forecasts/usage", 200),
        ("/v1/forecasts/usage", 422),
        ("/v1/forecasts/usage", 404),
        ("/v1/forecasts/installs/query", 401),
        ("/v1/forecasts/installs/query", 200),
    ]
    ok = logged[0]
    assert ok["query"] == {"stream": "usage", "entity": "memory", "limit": "2"}
    assert ok["model_id"] == "usage/ets/2023-12/memory" and ok["source"] == "forecasts.usage_forecasts"
    assert [i["forecast"] for i in ok["result"]["items"]] == [100.0, 101.0] and ok["latency_ms"] > 0
    assert logged[1]["result"]["parameter"] == "limit" and logged[2]["result"]["parameter"] == "entity"
    assert logged[3]["result"] == {"detail": "missing bearer token"}
    posted = logged[4]
    assert posted["query"]["stream"] == "installs" and posted["query"]["entities"] == ["iOS"]
    assert posted["model_id"] == "installs/prophet/2023-12/iOS" and posted["result"]["total"] == 3


def test_missing_warehouse_and_missing_table_are_503(warehouse, tmp_path):
    gone = Settings(warehouse_path=tmp_path / "nowhere.duckdb", log_path=tmp_path / "p.duckdb")
    with TestClient(create_app(gone)) as c:
        r = c.get("/v1/forecasts/usage")
        assert r.status_code == 503 and "does not exist" in r.json()["detail"]
        assert c.get("/v1/logs").json()["predictions"][0]["status_code"] == 503
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE SCHEMA forecasts")  # a file from before any forecast table existed
    con.close()
    with TestClient(create_app(Settings(warehouse_path=old, log_path=tmp_path / "q.duckdb"))) as c:
        r = c.get("/v1/forecasts/revenue")
        assert r.status_code == 503 and "marts.revenue" in r.json()["detail"]
        streams = {s["stream"]: s for s in c.get("/v1/forecasts").json()}
        assert "not in this warehouse" in streams["revenue"]["status"]


def test_openapi_documents_the_streams_and_examples(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/forecasts", "/v1/forecasts/{stream}", "/v1/forecasts/{stream}/query"} <= set(spec["paths"])
    assert {"/v1/revenue/forecast", "/v1/train", "/v1/logs"} <= set(spec["paths"])
    get = spec["paths"]["/v1/forecasts/{stream}"]["get"]
    stream = next(p for p in get["parameters"] if p["name"] == "stream")
    assert "subscription revenue plan" in stream["description"] and "marts.revenue" in stream["description"]
    assert spec["components"]["schemas"]["StreamName"]["enum"] == list(STREAMS)
    limit = next(p for p in get["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    assert spec["components"]["schemas"]["ForecastPage"]["examples"][0]["stream"] == "invoices"
    post = spec["paths"]["/v1/forecasts/{stream}/query"]["post"]
    assert post["security"] == [{"HTTPBearer": []}]


def test_real_server_answers_a_stream(warehouse, tmp_path):
    """`revcast serve` under uvicorn: the routes, the handlers and the log work outside the TestClient too."""
    with served(warehouse, tmp_path / "predictions.duckdb") as base:
        r = httpx.get(f"{base}/v1/forecasts/installs", params={"entity": "iOS", "limit": 1}, timeout=30)
        assert r.status_code == 200 and r.json()["items"][0]["forecast"] == 400.0 and r.json()["total"] == 3
        r = httpx.get(f"{base}/v1/forecasts/installs", params={"limit": 0}, timeout=30)
        assert r.status_code == 422 and r.json()["parameter"] == "limit"
    con = duckdb.connect(str(tmp_path / "predictions.duckdb"), read_only=True)
    try:
        logged = con.execute(
            "SELECT endpoint, status_code FROM audit.predictions ORDER BY logged_at"
        ).fetchall()
    finally:
        con.close()
    assert logged == [("/v1/forecasts/installs", 200), ("/v1/forecasts/installs", 422)]
