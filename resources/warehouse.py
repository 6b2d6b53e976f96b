"""The DuckDB warehouse resource: one file, schemas from warehouse/sql, writers in the `duckdb` pool."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from revcast import config, warehouse


def _env_or_default(name: str, default: str) -> str | dg.EnvVar:
    """Read from the environment when it is set, else the embedded default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file (env REVCAST_WAREHOUSE, default warehouse/revcast.duckdb)."""

    path: str = "warehouse/revcast.duckdb"

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
    from resources.landing import LandingZoneResource
    from resources.models import ModelStoreResource

    return {
        "warehouse": WarehouseResource(path=_env_or_default("REVCAST_WAREHOUSE", config.warehouse_path())),
        "landing": LandingZoneResource(root=_env_or_default("REVCAST_LANDING", config.landing_root())),
        "model_store": ModelStoreResource(root=_env_or_default("REVCAST_MODEL_STORE", "warehouse/models")),
    }
