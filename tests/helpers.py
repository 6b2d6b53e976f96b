"""Helpers shared by tests (not part of the product)."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx

from revcast.warehouse import column_name, table_name


def table_checksum(con: duckdb.DuckDBPyConnection, table: str, columns: list[str] | None = None) -> str:
    """An order-independent checksum of a table's rows (or of the given columns): equal means same rows."""
    cols = ", ".join(column_name(c) for c in columns) if columns else "*"
    row = con.execute(
        f"SELECT count(*), coalesce(sum(hash(r)), 0)::HUGEINT FROM (SELECT ({cols}) AS r FROM {table_name(table)})"
    ).fetchall()[0]
    return f"{row[0]}:{row[1]}"


@contextlib.contextmanager
def served(warehouse: Path, prediction_log: Path) -> Iterator[str]:
    """`revcast serve` under uvicorn on a free loopback port, over this warehouse and prediction log; yields
    the base URL once /healthz answers, and stops the server's process group on the way out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "REVCAST_WAREHOUSE": str(warehouse), "REVCAST_PREDICTION_LOG": str(prediction_log)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "revcast_app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "server did not come up in 60 s"
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
