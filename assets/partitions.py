"""Time partitions: daily for sources that arrive daily, monthly for invoices and training cutoffs."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pandas as pd

from revcast.settings import settings

_start, _end = settings().start_date, settings().end_date

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_start.isoformat(), end_date=(_end + timedelta(days=1)).isoformat() if _end else None
)
# Keys are YYYY-MM (the invoice folders' month=YYYY-MM).
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=_start.strftime("%Y-%m"),
    end_date=(_end + timedelta(days=1)).strftime("%Y-%m") if _end else None,
    fmt="%Y-%m",
)
# A model partition is its training cutoff: partition 2023-12 is trained on data through 2023-12-31.
cutoff_partitions = monthly_partitions


def contiguous_ranges(keys: list[str], ordered: list[str]) -> list[tuple[str, str]]:
    """Runs of consecutive partition keys (in `ordered` order) as (first, last) pairs."""
    position = {k: i for i, k in enumerate(ordered)}
    ranges: list[tuple[str, str]] = []
    for key in sorted(keys, key=position.__getitem__):
        if ranges and position[key] == position[ranges[-1][1]] + 1:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover partitions first..last (a single-run backfill)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def cutoff_of(context: dg.AssetExecutionContext) -> tuple[str, pd.Timestamp]:
    """(cutoff label YYYY-MM, last training day) of a cutoff partition: 2023-12 -> ('2023-12', 2023-12-31)."""
    window = context.partition_time_window
    return window.start.strftime("%Y-%m"), pd.Timestamp(window.end.date()) - pd.Timedelta(days=1)
