"""Forecast commands: parsing and rejection, the records each command makes, and the AMQP handler's audit rows."""

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from revcast.billing import load_pricing, rate_frame
from revcast.billing.commands import (
    ALL_ACCOUNTS,
    CommandError,
    ForecastCommand,
    command_records,
    parse_command,
    run_config,
)
from revcast.generate.pricing import PRICING_MODELS
from revcast.generate.usage import simulate_usage
from revcast_app.commands import handle


@pytest.fixture(scope="module")
def pricing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pricing")
    for name, text in PRICING_MODELS.items():
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def series() -> pd.DataFrame:
    days = [date(2023, 6, 1) + timedelta(days=i) for i in range(90)]
    sim = simulate_usage(np.random.default_rng(2), 8, days)
    ds = pd.to_datetime(days)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"C{i + 1:06d}:{metric}", "ds": ds, "y": mat[:, i].astype(float)})
            for metric, mat in (("api_calls", sim["api"]), ("storage_gb", sim["storage"]))
            for i in range(8)
        ],
        ignore_index=True,
    )


def test_the_seed_payloads_parse(pricing):
    book = load_pricing(pricing)
    assert parse_command(
        '{"command": "GlobalForecast", "target": "usage_tiers", "forecastSize": 15}', book
    ) == ForecastCommand("GlobalForecast", "usage_tiers", 15)
    cmd = parse_command(
        b'{"command": "Forecast", "account": "C000001", "target": "production", "forecastSize": 3}', book
    )
    assert cmd.account == "C000001" and run_config(cmd) == {
        "ops": {"command_forecasts": {"config": cmd.payload()}}
    }
    assert (
        parse_command({"command": "Forecast", "target": "x", "forecastSize": 1}).account is None
    )  # no book: any tag


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "payload is not UTF-8"),
        ("{not json", "payload is not JSON"),
        ("[1, 2]", "payload must be a JSON object"),
        (
            '{"command": "Delete", "target": "production", "forecastSize": 1}',
            "command must be one of Forecast, GlobalForecast",
        ),
        ('{"command": "Forecast", "forecastSize": 1}', "target: required"),
        (
            '{"command": "Forecast", "target": "nope", "forecastSize": 1}',
            "target 'nope' is not a pricing model",
        ),
        (
            '{"command": "Forecast", "target": "production", "forecastSize": 0}',
            "forecastSize: required, a whole number",
        ),
        ('{"command": "Forecast", "target": "production", "forecastSize": "15"}', "forecastSize: required"),
        ('{"command": "Forecast", "target": "production", "forecastSize": true}', "forecastSize: required"),
        (
            '{"command": "GlobalForecast", "account": "C1", "target": "production", "forecastSize": 2}',
            "account: GlobalForecast",
        ),
        (
            '{"command": "Forecast", "target": "production", "forecastSize": 2, "size": 3}',
            "unknown field 'size'",
        ),
    ],
)
def test_malformed_commands_are_rejected_with_their_reason(pricing, payload, reason):
    with pytest.raises(CommandError, match="^" + reason.replace("(", r"\(")):
        parse_command(payload, load_pricing(pricing))


def test_each_command_makes_tagged_records_that_rate(series, pricing):
    book = load_pricing(pricing)
    one = command_records(series, ForecastCommand("Forecast", "usage_tiers", 10, "C000002"))
    assert set(one["account_id"]) == {"C000002"} and len(one) == 2 * 10
    assert one["tags"].iloc[0] == ["command=Forecast", "target=usage_tiers"]
    every = command_records(series, ForecastCommand("Forecast", "volume_discount", 10))
    glob = command_records(series, ForecastCommand("GlobalForecast", "volume_discount", 10))
    for frame in (every, glob):
        assert set(frame["account_id"]) == {ALL_ACCOUNTS} and frame.groupby("metric").size().eq(10).all()
        assert (frame["yhat"] >= 0).all()
    rated = rate_frame(one.rename(columns={"yhat": "quantity"}), book)
    assert rated["unrated"].empty and set(rated["cdr"]["pricing_model"]) == {"usage_tiers"}
    assert rated["bills"]["charge"].sum() == pytest.approx(rated["cdr"]["charge"].sum())
    with pytest.raises(CommandError, match="account 'C999999' has no usage"):
        command_records(series, ForecastCommand("Forecast", "production", 5, "C999999"))


def test_the_handler_records_every_message(tmp_path, pricing):
    warehouse = str(tmp_path / "wh.duckdb")
    launched = []

    def submit(cmd):
        launched.append(cmd)
        return "run-123"

    def refuse(cmd):
        raise ConnectionError("webserver down")

    good = json.dumps({"command": "GlobalForecast", "target": "storage_premium", "forecastSize": 7}).encode()
    results = [
        handle(b'{"command": "Oops"}', warehouse=warehouse, pricing=pricing, submit=submit),
        handle(good, warehouse=warehouse, pricing=pricing, submit=submit),
        handle(good, warehouse=warehouse, pricing=pricing, submit=refuse),
    ]
    assert [r.status for r in results] == ["rejected", "accepted", "launch_failed"]
    assert len(launched) == 1 and launched[0].target == "storage_premium"
    con = duckdb.connect(warehouse, read_only=True)
    rows = con.execute(
        "SELECT status, reason, run_id, command, forecast_size FROM audit.commands ORDER BY recorded_at"
    ).fetchall()
    con.close()
    assert (
        rows[0][0] == "rejected"
        and rows[0][1].startswith("unknown field") is False
        and "command must be one of" in rows[0][1]
    )
    assert rows[1] == ("accepted", None, "run-123", "GlobalForecast", 7)
    assert rows[2][0] == "launch_failed" and "webserver down" in rows[2][1]
