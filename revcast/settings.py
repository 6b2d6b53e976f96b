"""Settings read from the environment, with the embedded defaults (see DESIGN.md)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_START = date(2021, 1, 1)
SAMPLE_END = date(2023, 12, 31)


def warehouse_path() -> str:
    """The DuckDB file (env REVCAST_WAREHOUSE, default warehouse/revcast.duckdb)."""
    return os.environ.get("REVCAST_WAREHOUSE", "warehouse/revcast.duckdb")


def landing_root() -> str:
    """The landing zone root (env REVCAST_LANDING, default data/landing)."""
    return os.environ.get("REVCAST_LANDING", "data/landing")


def partitions_start() -> date:
    """First day of the daily/monthly partitions (env REVCAST_START_DATE, default the sample start)."""
    raw = os.environ.get("REVCAST_START_DATE")
    return date.fromisoformat(raw) if raw else SAMPLE_START


def partitions_end() -> date | None:
    """Optional last day of partitions (env REVCAST_END_DATE); open-ended (through yesterday) if unset."""
    raw = os.environ.get("REVCAST_END_DATE")
    return date.fromisoformat(raw) if raw else None


def quarantine_threshold() -> float:
    """Largest quarantined share a partition may have before its check fails (env, default 1%)."""
    return float(os.environ.get("REVCAST_QUARANTINE_THRESHOLD", "0.01"))
