"""The many-series executor: a dask.distributed cluster when REVCAST_DASK_ADDRESS is set, else local."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from revcast.forecasting.engine import DaskExecutor, Executor, local_executor
from revcast.settings import settings


class DaskResource(dg.ConfigurableResource):
    """Where per-account forecasting runs: `address` of a dask.distributed scheduler (env
    REVCAST_DASK_ADDRESS), or unset to run in this process (or a local pool of REVCAST_WORKERS processes)."""

    address: str | None = None

    @contextmanager
    def executor(self) -> Iterator[Executor]:
        """An executor for ForecastEngine; a Dask client is opened for the block and closed after it."""
        if not self.address:
            yield local_executor(settings().workers)
            return
        from distributed import Client

        with Client(self.address) as client:
            yield DaskExecutor(client)
