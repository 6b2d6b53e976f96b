"""Launch the invoice training job on a running Dagster webserver through its GraphQL API."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime

from revcast.settings import settings

TRAINING_JOB = "invoice_training_job"
_CUTOFF = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class DagsterUnavailable(RuntimeError):
    """The Dagster webserver cannot be reached or refused the launch."""


def dagster_address() -> tuple[str, int]:
    """Host and port of the Dagster webserver (env REVCAST_DAGSTER_HOST / _PORT, default 127.0.0.1:3000)."""
    env = settings()
    return env.dagster_host, env.dagster_port


def valid_cutoff(cutoff: str) -> bool:
    """A YYYY-MM month."""
    return bool(_CUTOFF.match(cutoff))


def partition_key(cutoff: str) -> str:
    """The Dagster partition key of a YYYY-MM cutoff in the job's partitions definition."""
    from assets.partitions import cutoff_partitions

    year, month = map(int, cutoff.split("-"))
    key = cutoff_partitions.get_partition_key_for_timestamp(datetime(year, month, 1, tzinfo=UTC).timestamp())
    if not cutoff_partitions.has_partition_key(key):
        raise ValueError(f"cutoff {cutoff} is outside the cutoff partitions")
    return key


def launch_training(cutoff: str, *, timeout_s: int = 15) -> str:
    """Submit the training job for one cutoff; return the Dagster run id or raise DagsterUnavailable."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    host, port = dagster_address()
    try:
        socket.create_connection((host, port), timeout=min(timeout_s, 5)).close()
    except OSError as exc:
        raise DagsterUnavailable(
            f"Dagster webserver at {host}:{port} is unreachable ({exc}): start `dagster dev` "
            "or set REVCAST_DAGSTER_HOST / REVCAST_DAGSTER_PORT"
        ) from exc
    try:
        client = DagsterGraphQLClient(host, port_number=port, timeout=timeout_s)
        # run_config must not be None: the client only sends tags (the partition) along with a run config
        return client.submit_job_execution(
            TRAINING_JOB, run_config={}, tags={"dagster/partition": partition_key(cutoff)}
        )
    except DagsterGraphQLClientError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise DagsterUnavailable(
            f"Dagster at {host}:{port} did not launch {TRAINING_JOB}: {first}{cause}"
        ) from exc
    except Exception as exc:  # transport errors, timeouts
        raise DagsterUnavailable(f"Dagster at {host}:{port} failed: {type(exc).__name__}: {exc}") from exc
