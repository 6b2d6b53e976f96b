"""Forecast commands (Forecast and GlobalForecast payloads), their validation, the audit log and the forecast records they make.

    {"command": "Forecast", "account": "C000001", "target": "test1", "forecastSize": 15}   # one account
    {"command": "Forecast", "target": "test1", "forecastSize": 15}                          # all accounts
    {"command": "GlobalForecast", "target": "test1", "forecastSize": 15}                    # pattern-based

A command makes forecast records (account, metric, day, quantity) tagged `target=<T>` and `command=<C>`; they
are rated with pricing model T (production the floor) into UDRs, CDRs and bills. `Forecast` with an account
forecasts that account's series (`revcast.usage.accounts`); without one, every account aggregated per metric
(model-based, account `*all*`); `GlobalForecast` is the pattern-based forecast (account `*all*`).
Every received command is recorded in audit.commands: rejected with its reason, or accepted with its run id.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from revcast.billing.pricing import TARGET_TAG, PricingBook
from revcast.forecasting.base import FORECAST_COLUMNS

COMMANDS = ("Forecast", "GlobalForecast")
FIELDS = {"command", "account", "target", "forecastSize"}
MAX_FORECAST_SIZE = 366
ALL_ACCOUNTS = "*all*"
COMMANDS_TABLE = "audit.commands"
COMMAND_JOB = "forecast_command_job"
RECORDS_TABLE = "forecasts.command_forecasts"


class CommandError(ValueError):
    """A command that cannot be run; the message is the reason recorded in audit.commands."""


@dataclass(frozen=True)
class ForecastCommand:
    command: str
    target: str
    forecast_size: int
    account: str | None = None

    def payload(self) -> dict[str, Any]:
        """The command's JSON payload (also the job's run config)."""
        out = {"command": self.command, "target": self.target, "forecastSize": self.forecast_size}
        return out | ({"account": self.account} if self.account is not None else {})

    def tags(self) -> list[str]:
        return [f"command={self.command}", f"{TARGET_TAG}={self.target}"]


def parse_command(raw: str | bytes | dict[str, Any], book: PricingBook | None = None) -> ForecastCommand:
    """Validate a payload (JSON text or a mapping); CommandError says what is wrong. With `book`, the target must
    be one of its pricing models."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(f"payload is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
    if not isinstance(raw, dict):
        raise CommandError(f"payload must be a JSON object, got {type(raw).__name__}")
    extra = sorted(set(raw) - FIELDS)
    if extra:
        raise CommandError(f"unknown field {extra[0]!r} (allowed: {', '.join(sorted(FIELDS))})")
    command = raw.get("command")
    if command not in COMMANDS:
        raise CommandError(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
    target = raw.get("target")
    if not isinstance(target, str) or not target.strip():
        raise CommandError("target: required, the tag of a pricing model")
    if book is not None and target not in book.models:
        raise CommandError(
            f"target {target!r} is not a pricing model (known: {', '.join(sorted(book.models))})"
        )
    size = raw.get("forecastSize")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_FORECAST_SIZE:
        raise CommandError(
            f"forecastSize: required, a whole number of days 1..{MAX_FORECAST_SIZE}, got {size!r}"
        )
    account = raw.get("account")
    if command == "GlobalForecast" and account is not None:
        raise CommandError("account: GlobalForecast forecasts all accounts; send Forecast for one account")
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise CommandError(f"account: must be an account id, got {account!r}")
    return ForecastCommand(command, target, size, account)


def run_config(cmd: ForecastCommand) -> dict[str, Any]:
    """The forecast command job's run config: the payload as the command_forecasts asset's config."""
    return {"ops": {"command_forecasts": {"config": cmd.payload()}}}


def command_records(
    series: pd.DataFrame, cmd: ForecastCommand, *, patterns: int = 8, executor: Any = None
) -> pd.DataFrame:
    """The command's forecast records from account series (unique_id account:metric, ds, y through the last
    day): account_id, metric, ds, horizon, yhat, bounds, tags."""
    from revcast.usage.accounts import run_account_forecasts, split_ids
    from revcast.usage.global_forecast import model_global, pattern_global

    h = cmd.forecast_size
    if cmd.command == "Forecast" and cmd.account is not None:
        ids = split_ids(series["unique_id"])
        mine = series[ids["account_id"] == cmd.account]
        if mine.empty:
            raise CommandError(f"account {cmd.account!r} has no usage in the history window")
        fc = run_account_forecasts(mine, "command", h=h, executor=executor).forecasts
    else:
        fc = model_global(series, h) if cmd.command == "Forecast" else pattern_global(series, h, patterns)
        fc = fc.rename(columns={"unique_id": "metric"}).assign(account_id=ALL_ACCOUNTS)
        fc["horizon"] = fc.groupby("metric").cumcount() + 1
    fc[FORECAST_COLUMNS[2:]] = fc[FORECAST_COLUMNS[2:]].clip(lower=0)
    out = fc[["account_id", "metric", "ds", "horizon", *FORECAST_COLUMNS[2:]]].copy()
    out["tags"] = [cmd.tags()] * len(out)
    return out.sort_values(["account_id", "metric", "ds"], ignore_index=True)


def record_command(
    warehouse: str | Path,
    *,
    source: str,
    payload: str,
    status: str,
    reason: str | None = None,
    cmd: ForecastCommand | None = None,
    run_id: str | None = None,
    command_id: str | None = None,
    retries: int = 120,
) -> str:
    """Append one row to audit.commands (waiting out another writer's lock); returns its command_id."""
    from revcast.warehouse import connect

    command_id = command_id or uuid.uuid4().hex
    row = [
        command_id,
        source,
        payload[:10_000],
        status,
        reason and reason[:1000],
        cmd.command if cmd else None,
        cmd.target if cmd else None,
        cmd.account if cmd else None,
        cmd.forecast_size if cmd else None,
        run_id,
    ]
    for attempt in range(retries):
        try:
            con = connect(warehouse)
        except duckdb.IOException:
            if attempt == retries - 1:
                raise
            time.sleep(0.5)
            continue
        try:
            con.execute(
                f"INSERT INTO {COMMANDS_TABLE} (command_id, source, payload, status, reason, command, target, account, "
                "forecast_size, run_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                row,
            )
        finally:
            con.close()
        return command_id
    raise RuntimeError("unreachable")


def history_end(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last observed day of the usage daily totals (a command forecasts from there)."""
    value = con.execute("SELECT max(ds) FROM features.usage_daily_totals WHERE observed").fetchall()[0][0]
    return value
