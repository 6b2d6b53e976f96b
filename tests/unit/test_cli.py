"""The `revcast` command: help for every subcommand, clear one-line errors with exit codes, report, generate."""

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from revcast_app.cli import build_parser
from revcast_app.service.app import create_app
from revcast_app.service.store import Settings
from tests.forecast_warehouse import build_forecast_warehouse

SUBCOMMANDS = {"generate", "import", "demo", "serve", "report", "commands"}
ROOT = Path(__file__).resolve().parents[2]


def revcast(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the command in a fresh process, as a user would (output is a pipe: no live progress bars)."""
    return subprocess.run(
        [sys.executable, "-m", "revcast_app.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_help_lists_every_subcommand_with_a_one_line_help():
    assert set(_subparsers()) == SUBCOMMANDS
    script = Path(sys.executable).parent / "revcast"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "revcast_app.cli"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    for name in SUBCOMMANDS:
        line = next(ln for ln in lines if ln.strip().startswith(name + " "))
        assert len(line.split(maxsplit=1)[1]) > 20, line  # the help sits on the command's own line


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_documents_every_argument(name, capsys):
    sub = _subparsers()[name]
    for action in sub._actions:
        assert action.help, f"revcast {name}: {action.dest} has no help"
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: revcast {name}")
    for action in sub._actions:
        for flag in action.option_strings:
            assert flag in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["generate", "--start", "2023-13-01"], 2, "argument --start: invalid date '2023-13-01'"),
        (["generate", "--end", "31/12/2023"], 2, "argument --end: invalid date '31/12/2023'"),
        (
            ["generate", "--start", "2023-05-01", "--end", "2023-01-01"],
            2,
            "--start 2023-05-01 is after --end",
        ),
        (["generate", "--accounts", "0"], 2, "argument --accounts: 0 is not a positive integer"),
        (["generate", "--bad-share", "0.9"], 2, "argument --bad-share: 0.9 is outside 0 to 0.25"),
        (["import", "usage", "no/such/export.csv"], 1, "no/such/export.csv: no such file"),
        (["import", "sales", "export.csv"], 2, "argument source: invalid choice: 'sales'"),
        (["report", "--warehouse", "no/such.duckdb"], 1, "warehouse no/such.duckdb does not exist yet"),
        (["serve", "--port", "70000"], 2, "argument --port: 70000 is not a TCP port"),
        (["commands", "send"], 2, "send needs a JSON payload"),
        (["commands", "send", "{not json"], 2, "the payload is not JSON"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    ],
)
def test_expected_errors_exit_non_zero_with_one_clear_line(tmp_path, args, code, words):
    done = revcast(*args, cwd=tmp_path)
    assert done.returncode == code, done
    assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "data").exists()  # nothing was generated on the way to the error


def test_unreachable_broker_and_malformed_environment(tmp_path):
    amqp = f"amqp://guest:guest@127.0.0.1:{_free_port()}/%2F"  # nothing listens there
    done = revcast("commands", "send", '{"command": "GlobalForecast"}', env={"REVCAST_AMQP_URL": amqp})
    assert done.returncode == 1 and "cannot reach the AMQP broker" in done.stderr
    assert "Traceback" not in done.stderr
    done = revcast("report", env={"REVCAST_WORKERS": "many"})
    assert done.returncode == 2 and "REVCAST_WORKERS='many'" in done.stderr and "Traceback" not in done.stderr


def test_report_of_something_that_is_not_a_warehouse(tmp_path):
    junk = tmp_path / "notes.duckdb"
    junk.write_text("not a database\n" * 100)
    done = revcast("report", "--warehouse", str(junk))
    assert done.returncode == 1 and f"cannot open warehouse {junk}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return build_forecast_warehouse(tmp_path_factory.mktemp("report") / "revcast.duckdb")


def test_report_json_on_a_small_warehouse(warehouse, tmp_path):
    done = revcast("report", "--warehouse", str(warehouse), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {f"{t['schema']}.{t['table']}": t["rows"] for t in report["tables"]}
    assert (
        rows["forecasts.usage_forecasts"] == 25 and rows["models.registry"] == 5 and rows["clean.usage"] == 0
    )
    quarantine = {q["source"]: q for q in report["quarantine"]}
    assert quarantine["usage"]["lines"] == 2
    assert quarantine["usage"]["top_reasons"] == [{"reason": "malformed date", "lines": 2}]
    assert quarantine["invoices"]["top_reasons"] == [{"reason": "negative price", "lines": 1}]
    assert quarantine["fullbas_runs"] == {"source": "fullbas_runs", "lines": 0, "top_reasons": []}
    assert report["champions"] == [
        {
            "domain": "invoices",
            "cutoff": "2023-12",
            "series": 1,
            "fallbacks": 0,
            "models": [{"model": "ets", "series": 1}],
        },
        {
            "domain": "usage",
            "cutoff": "2023-12",
            "series": 2,
            "fallbacks": 1,
            "models": [{"model": "ets", "series": 1}, {"model": "seasonal_naive", "series": 1}],
        },
    ]
    # the latest forecasts come from the read path the API serves: the same answer, field for field
    settings = Settings(warehouse_path=warehouse, log_path=tmp_path / "predictions.duckdb")
    with TestClient(create_app(settings)) as client:
        assert report["forecasts"] == client.get("/v1/forecasts").json()
    usage = next(f for f in report["forecasts"] if f["stream"] == "usage")
    assert (usage["cutoff"], usage["rows"], usage["first_date"], usage["last_date"]) == (
        "2023-12",
        20,
        "2024-01-01",
        "2024-01-10",
    )


def test_report_tables_for_people(warehouse):
    done = revcast("report", "--warehouse", str(warehouse))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for title in (
        "Warehouse ",
        "Quarantined lines per source",
        "Latest forecasts per stream",
        "Published champions per domain",
    ):
        assert title in out
    usage_line = next(ln for ln in out.splitlines() if "forecasts.usage_forecasts" in ln and "2023-12" in ln)
    assert "20" in usage_line and "2 metric" in usage_line and "2024-01-01 .. 2024-01-10" in usage_line
    assert "malformed date (2)" in out and "ets x1, seasonal_naive x1" in out


def test_generate_reports_each_domain_and_writes_the_landing_zone(tmp_path):
    out = tmp_path / "landing"
    done = revcast(
        "generate", "--out", str(out), "--accounts", "3", "--start", "2023-01-01", "--end", "2023-01-07"
    )
    assert done.returncode == 0, done.stderr
    steps = [ln for ln in done.stdout.splitlines() if ln.startswith("[generate]")]
    assert steps == [
        "[generate] writing usage (1/5)",
        "[generate] writing bas (2/5)",
        "[generate] writing invoices (3/5)",
        "[generate] writing subscriptions (4/5)",
        "[generate] writing pricing (5/5)",
    ]
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["parameters"]["accounts"] == 3 and manifest["parameters"]["end"] == "2023-01-07"
    assert f"{len(manifest['files']):,} files written under {out}" in done.stdout


def test_generate_draws_a_bar_on_a_terminal(tmp_path):
    out = tmp_path / "landing"
    done = revcast(
        "generate", "--out", str(out), "--accounts", "2", "--start", "2023-01-01", "--end", "2023-01-05",
        env={"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"},  # rich treats the pipe as a terminal
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[generate]" not in done.stdout and "written" in done.stdout and "5/5" in done.stdout


def test_demo_stage_progress_is_silent_off_a_terminal_and_stops_on_break(capsys):
    import dagster as dg

    from pipelines.demo import _tracked

    stages = [
        (kind, [dg.AssetKey(name)]) for kind, name in (("daily", "a"), ("monthly", "b"), ("cutoff", "c"))
    ]
    seen = []
    for kind, _keys in _tracked(stages):
        seen.append(kind)
        if kind == "monthly":
            break
    assert seen == ["daily", "monthly"] and capsys.readouterr().out == ""


def test_report_on_a_warehouse_held_by_a_writer(warehouse):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(60)", str(warehouse)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"held"
        done = revcast("report", "--warehouse", str(warehouse))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1 and f"cannot open warehouse {warehouse}" in done.stderr
    assert "Traceback" not in done.stderr
