"""The DuckDB warehouse resource: one file, schemas from revcast/sql, writers in the `duckdb` pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from revcast import warehouse
from revcast.settings import Settings, env_name, settings


def _env_or_default(setting: str) -> str | dg.EnvVar:
    """A dg.EnvVar when the setting's variable is set (Dagster shows where it came from), else its default."""
    value, default = getattr(settings(), setting), getattr(Settings(), setting)
    return dg.EnvVar(env_name(setting)) if value != default else default


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file (env REVCAST_WAREHOUSE, default warehouse/revcast.duckdb).

    A writer that finds the file locked by another process (a reader outside Dagster, such as the API or a
    notebook; Dagster's own writers queue on the `duckdb` pool) asks Dagster to retry its step:
    `lock_retries` times, `lock_retry_seconds` apart.
    """

    path: str = Settings.warehouse
    lock_retries: int = 5
    lock_retry_seconds: int = 30

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed afterwards; writers create the file and its tables."""
        try:
            con = warehouse.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if read_only or "lock" not in str(exc).lower():
                raise
            raise dg.RetryRequested(
                max_retries=self.lock_retries, seconds_to_wait=self.lock_retry_seconds
            ) from exc
        try:
            yield con
        finally:
            con.close()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources of the embedded default, read from the environment where it is set."""
    from resources.alerts import AlertsResource
    from resources.dask import DaskResource
    from resources.landing import LandingZoneResource
    from resources.models import ModelStoreResource

    return {
        "warehouse": WarehouseResource(path=_env_or_default("warehouse")),
        "landing": LandingZoneResource(
            root=_env_or_default("landing"), settle_seconds=settings().landing_settle_seconds
        ),
        "model_store": ModelStoreResource(root=_env_or_default("model_store")),
        "dask": DaskResource(address=_env_or_default("dask_address")),
        "alerts": AlertsResource(webhook_url=_env_or_default("alert_webhook_url")),
    }
