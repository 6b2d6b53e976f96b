"""Every setting revcast reads from the environment, with its default, read in this one place.

`settings()` reads the environment on each call (cheap), so a changed variable takes effect in the next
run; the README's configuration table lists the same variables and defaults (a test keeps them in step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import date

SAMPLE_START = date(2021, 1, 1)
SAMPLE_END = date(2023, 12, 31)


def _env(name: str) -> dict[str, str]:
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    """The REVCAST_* environment variables, parsed, with the embedded defaults."""

    warehouse: str = field(default="warehouse/revcast.duckdb", metadata=_env("REVCAST_WAREHOUSE"))
    landing: str = field(default="data/landing", metadata=_env("REVCAST_LANDING"))
    # a landing partition without a _SUCCESS marker is picked up once its files have not changed this long
    landing_settle_seconds: int = field(default=60, metadata=_env("REVCAST_LANDING_SETTLE_SECONDS"))
    start_date: date = field(default=SAMPLE_START, metadata=_env("REVCAST_START_DATE"))
    # None: partitions run open-ended, through yesterday
    end_date: date | None = field(default=None, metadata=_env("REVCAST_END_DATE"))
    quarantine_threshold: float = field(default=0.01, metadata=_env("REVCAST_QUARANTINE_THRESHOLD"))
    # a day of a daily source is an anomaly beyond this many robust deviations from its same-weekday median
    anomaly_threshold: float = field(default=5.0, metadata=_env("REVCAST_ANOMALY_THRESHOLD"))
    anomaly_weeks: int = field(default=8, metadata=_env("REVCAST_ANOMALY_WEEKS"))
    model_store: str = field(default="warehouse/models", metadata=_env("REVCAST_MODEL_STORE"))
    invoice_price_min: float = field(default=0.0, metadata=_env("REVCAST_INVOICE_PRICE_MIN"))
    invoice_price_max: float = field(default=10000.0, metadata=_env("REVCAST_INVOICE_PRICE_MAX"))
    # None: the price book packaged with revcast (revcast/usage/price_book.yaml)
    price_book: str | None = field(default=None, metadata=_env("REVCAST_PRICE_BOOK"))
    # None: the usage tournament selects its champion (a model name forces one, to show the gate failing)
    force_champion: str | None = field(default=None, metadata=_env("REVCAST_FORCE_CHAMPION"))
    dagster_host: str = field(default="127.0.0.1", metadata=_env("REVCAST_DAGSTER_HOST"))
    dagster_port: int = field(default=3000, metadata=_env("REVCAST_DAGSTER_PORT"))
    # None: failed runs are only recorded in audit.run_failures; a URL: they are also posted there as JSON
    alert_webhook_url: str | None = field(default=None, metadata=_env("REVCAST_ALERT_WEBHOOK_URL"))
    # None: the API's POST /v1/train is disabled
    api_token: str | None = field(default=None, metadata=_env("REVCAST_API_TOKEN"))
    # None: predictions.duckdb next to the warehouse
    prediction_log: str | None = field(default=None, metadata=_env("REVCAST_PREDICTION_LOG"))
    max_horizon_days: int = field(default=365, metadata=_env("REVCAST_MAX_HORIZON_DAYS"))
    # 1: tournaments backtest in-process; more: on a local pool of that many processes
    workers: int = field(default=1, metadata=_env("REVCAST_WORKERS"))
    # None: many-series work runs locally (REVCAST_WORKERS); an address sends it to that dask.distributed scheduler
    dask_address: str | None = field(default=None, metadata=_env("REVCAST_DASK_ADDRESS"))
    amqp_url: str = field(default="amqp://guest:guest@127.0.0.1:5672/%2F", metadata=_env("REVCAST_AMQP_URL"))
    command_queue: str = field(default="revcast.commands", metadata=_env("REVCAST_COMMAND_QUEUE"))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from `environ` (default os.environ); an unset or empty variable keeps its default."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw:
                values[f.name] = _parse(f.type, raw, f.metadata["env"])
        return cls(**values)


def _parse(kind: str, raw: str, name: str) -> object:
    """A raw variable as the field's type (annotations are strings under `from __future__`)."""
    base = kind.removesuffix(" | None")
    try:
        if base == "date":
            return date.fromisoformat(raw)
        if base in ("int", "float"):
            return {"int": int, "float": float}[base](raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r}: expected {base} ({exc})") from exc
    return raw


def env_name(setting: str) -> str:
    """The environment variable of one setting: env_name("warehouse") == "REVCAST_WAREHOUSE"."""
    return {f.name: f.metadata["env"] for f in fields(Settings)}[setting]


def settings() -> Settings:
    """The current settings from the environment."""
    return Settings.from_env()
