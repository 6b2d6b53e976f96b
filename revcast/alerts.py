"""Failed runs: recorded in audit.run_failures and, where a webhook URL is configured, posted to it as JSON."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime
from urllib.parse import urlparse

import duckdb


@dataclass(frozen=True)
class RunFailure:
    """One failed run, as recorded and posted."""

    run_id: str
    job_name: str
    partition: str | None
    failed_steps: list[str]
    error: str | None
    failed_at: datetime


def record_failure(con: duckdb.DuckDBPyConnection, failure: RunFailure, *, alerted: bool) -> None:
    """Insert (or, for a run recorded before, replace) the failure in audit.run_failures."""
    con.execute(
        "INSERT OR REPLACE INTO audit.run_failures VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            failure.run_id,
            failure.job_name,
            failure.partition,
            failure.failed_steps,
            (failure.error or "")[:4000] or None,
            failure.failed_at,
            alerted,
        ],
    )


def check_webhook_url(url: str) -> str:
    """The URL, if it is http(s) with a host; raises ValueError otherwise (never a file: or other scheme)."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"alert webhook URL must be http(s)://host/...: got scheme {parts.scheme!r}")
    return url


def post_failure(url: str, failure: RunFailure, *, timeout: float = 10.0) -> bool:
    """POST the failure as JSON (with a one-line `text` for chat webhooks); True when the answer is 2xx."""
    body = asdict(failure) | {
        "failed_at": failure.failed_at.isoformat(),
        "text": f"revcast run failed: {failure.job_name}"
        + (f" [{failure.partition}]" if failure.partition else "")
        + f" ({failure.run_id}): {(failure.error or '').splitlines()[0] if failure.error else 'no error message'}",
    }
    request = urllib.request.Request(
        check_webhook_url(url),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
        return 200 <= response.status < 300
