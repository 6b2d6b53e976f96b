"""What the service reads from the warehouse (read-only, short connections) and its own prediction log.

The warehouse is a single-writer DuckDB file that Dagster writes to; the service opens it read-only per
request and never holds it. Its log lives in a separate small DuckDB file (REVCAST_PREDICTION_LOG,
default predictions.duckdb next to the warehouse) that only the service writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from revcast import warehouse
from revcast.settings import settings as env_settings
from revcast.warehouse import SQL_DIR, apply_ddl

LOG_SQL_DIR = SQL_DIR / "service"
DOMAIN = "invoices"


class WarehouseUnavailable(RuntimeError):
    """The warehouse file is missing, or a writer holds it longer than we wait."""


@dataclass(frozen=True)
class Settings:
    """Where the service reads and logs (defaults from the environment)."""

    warehouse_path: Path
    log_path: Path
    max_horizon_days: int = 365
    read_retries: int = 8

    @classmethod
    def from_env(cls) -> Settings:
        env = env_settings()
        wh = Path(env.warehouse)
        return cls(
            warehouse_path=wh,
            log_path=Path(env.prediction_log) if env.prediction_log else wh.parent / "predictions.duckdb",
            max_horizon_days=env.max_horizon_days,
        )


@contextmanager
def read_warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for one request; a clear error when the file is missing or busy."""
    try:
        con = warehouse.connect(settings.warehouse_path, read_only=True, retries=settings.read_retries)
    except FileNotFoundError as exc:
        raise WarehouseUnavailable(str(exc)) from exc
    except duckdb.IOException as exc:
        raise WarehouseUnavailable(
            f"warehouse {settings.warehouse_path} is locked by a writer: {exc}"
        ) from exc
    try:
        yield con
    finally:
        con.close()


def known_series(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Countries (and 'all') with a precomputed forecast or an invoices champion."""
    rows = con.execute(
        "SELECT unique_id FROM forecasts.invoice_revenue_forecasts "
        "UNION SELECT unique_id FROM models.registry WHERE domain = ? AND is_champion ORDER BY 1",
        [DOMAIN],
    ).fetchall()
    return [r[0] for r in rows]


def precomputed_forecast(con: duckdb.DuckDBPyConnection, unique_id: str, as_of: date) -> dict | None:
    """The latest cutoff's precomputed 30-day forecast starting at `as_of`, if there is one."""
    rows = con.execute(
        """
        SELECT cutoff, revenue_30d, lo_80, hi_80, lo_95, hi_95, model, model_id, run_id
        FROM forecasts.invoice_revenue_forecasts WHERE unique_id = ? AND as_of = ?
        ORDER BY cutoff DESC LIMIT 1
        """,
        [unique_id, as_of],
    ).fetchall()
    if not rows:
        return None
    keys = ("cutoff", "revenue_30d", "lo_80", "hi_80", "lo_95", "hi_95", "model", "model_id", "run_id")
    return dict(zip(keys, rows[0], strict=True))


_TRAINED_THROUGH = "coalesce(train_end, last_day(CAST(cutoff || '-01' AS DATE)))"


def champions(con: duckdb.DuckDBPyConnection, unique_id: str) -> list[dict]:
    """The invoices champions of a series, latest training end first (one per cutoff)."""
    rows = con.execute(
        f"""
        SELECT cutoff, model, model_id, artifact_path, {_TRAINED_THROUGH} AS trained_through,
               fallback_reason, run_id, CAST(parameters AS VARCHAR) AS parameters
        FROM models.registry WHERE domain = ? AND unique_id = ? AND is_champion
        QUALIFY row_number() OVER (PARTITION BY cutoff ORDER BY registered_at DESC) = 1
        ORDER BY trained_through DESC
        """,
        [DOMAIN, unique_id],
    ).fetchall()
    keys = (
        "cutoff",
        "model",
        "model_id",
        "artifact_path",
        "trained_through",
        "fallback_reason",
        "run_id",
        "parameters",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def training_runs(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict]:
    """Recent invoices training runs from the registry: cutoff, run, models, champions per model."""
    rows = con.execute(
        """
        SELECT run_id, cutoff, max(registered_at) AS registered_at, count(*) AS models,
               count(DISTINCT unique_id) AS series,
               list(DISTINCT model ORDER BY model) FILTER (is_champion) AS champion_models,
               count(*) FILTER (is_champion AND fallback_reason IS NOT NULL) AS fallbacks
        FROM models.registry WHERE domain = ?
        GROUP BY run_id, cutoff ORDER BY registered_at DESC LIMIT ?
        """,
        [DOMAIN, limit],
    ).fetchall()
    keys = ("run_id", "cutoff", "registered_at", "models", "series", "champion_models", "fallbacks")
    return [_jsonable(dict(zip(keys, r, strict=True))) for r in rows]


def latest_ingested_month(con: duckdb.DuckDBPyConnection) -> str | None:
    """The last invoice month ingested (the default training cutoff)."""
    rows = con.execute(
        "SELECT max(partition_key) FROM audit.ingest_runs WHERE source = ?", [DOMAIN]
    ).fetchall()
    return rows[0][0]


def _jsonable(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}


class PredictionLog:
    """audit.predictions and audit.training_launches in the service's own DuckDB file (one writer: us)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = duckdb.connect(str(self.path))
        apply_ddl(self._con, LOG_SQL_DIR)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def record_prediction(
        self,
        *,
        endpoint: str,
        query: dict,
        status_code: int,
        result: dict | None,
        model_id: str | None,
        source: str | None,
        latency_ms: float,
    ) -> None:
        """Append one prediction (or refused request) to audit.predictions."""
        with self._lock:
            self._con.execute(
                "INSERT INTO audit.predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    datetime.now(UTC),
                    endpoint,
                    json.dumps(query),
                    status_code,
                    None if result is None else json.dumps(result),
                    model_id,
                    source,
                    latency_ms,
                ],
            )

    def record_training(self, *, run_id: str | None, job: str, cutoff: str, status: str, detail: str | None):
        """Append one training launch (or failed launch) to audit.training_launches."""
        with self._lock:
            self._con.execute(
                "INSERT INTO audit.training_launches VALUES (?, ?, ?, ?, ?, ?)",
                [datetime.now(UTC), job, cutoff, run_id, status, detail],
            )

    def predictions(self, limit: int) -> list[dict]:
        """The latest predictions, newest first."""
        with self._lock:
            cur = self._con.execute(
                "SELECT logged_at, endpoint, query, status_code, result, model_id, source, latency_ms "
                "FROM audit.predictions ORDER BY logged_at DESC LIMIT ?",
                [limit],
            )
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        out = []
        for r in rows:
            row = _jsonable(dict(zip(names, r, strict=True)))
            row["query"] = json.loads(row["query"])
            row["result"] = None if row["result"] is None else json.loads(row["result"])
            out.append(row)
        return out

    def training_launches(self, limit: int) -> list[dict]:
        """The latest training launches through the API, newest first."""
        with self._lock:
            cur = self._con.execute(
                "SELECT requested_at, job_name, cutoff, run_id, status, detail FROM audit.training_launches "
                "ORDER BY requested_at DESC LIMIT ?",
                [limit],
            )
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [_jsonable(dict(zip(names, r, strict=True))) for r in rows]
