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


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    """Whether GET url answers 200."""
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def background_server(
    command: list[str], health_url: str, log: Path, *, env=None, cwd=None, timeout: float = 60
) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group with its output in `log`; yield once `health_url` answers 200
    (fail with the log's tail if it exits or takes longer than `timeout` s); stop it with TERM, then KILL."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not answers(health_url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-4000:]
                    raise RuntimeError(
                        f"{command[0]} did not answer {health_url} in {timeout:.0f} s:\n{tail}"
                    )
                time.sleep(0.2)
            yield proc
        finally:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(wait)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


@contextlib.contextmanager
def served(warehouse: Path, prediction_log: Path) -> Iterator[str]:
    """`revcast serve` under uvicorn on a free loopback port, over this warehouse and prediction log; yields
    the base URL once /healthz answers (the server's output goes next to the log, `serve.log`)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REVCAST_WAREHOUSE": str(warehouse), "REVCAST_PREDICTION_LOG": str(prediction_log)}
    command = [sys.executable, "-m", "revcast_app.cli", "serve", "--port", str(port)]
    with background_server(command, f"{base}/healthz", prediction_log.parent / "serve.log", env=env):
        yield base
