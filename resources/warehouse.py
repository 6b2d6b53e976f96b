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
    """The DuckDB file (env REVCAST_WAREHOUSE, default warehouse/revcast.duckdb)."""

    path: str = Settings.warehouse

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed afterwards; writers create the file and its tables."""
        con = warehouse.connect(self.path, read_only=read_only)
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
