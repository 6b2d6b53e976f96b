"""Subscription exports to clean rows: daily installs per platform (`installs.csv`) and purchases by billing
cycle (`recurrent.csv`), each one snapshot file replaced whole when it changes.

As for every source, a line with any bad field goes whole to quarantine with every reason found, so lines
read = lines clean + lines quarantined. A wide installs line gives one clean row per platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from revcast.ingest.bas import _field, _judge_sql, _read, _run
from revcast.ingest.core import ParsedBatch

INSTALLS_COLUMNS = ("date", "iOS", "Android", "Web")
PURCHASES_COLUMNS = ("date", "platform", "product_id", "duration", "billing_cycle", "purchases")
PLATFORMS = INSTALLS_COLUMNS[1:]
DURATIONS = (1, 12)
PARSER_VERSION = {"installs": "subscription_installs/1", "purchases": "subscription_purchases/1"}
SNAPSHOT_KEY = "snapshot"  # the partition key of a snapshot file in audit.ingest_runs and quarantine

INSTALLS_SCHEMA = pa.schema(
    [
        ("install_date", pa.date32()),
        ("platform", pa.string()),
        ("installs", pa.int64()),
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
    ]
)
PURCHASES_SCHEMA = pa.schema(
    [
        ("purchase_date", pa.date32()),
        ("platform", pa.string()),
        ("product_id", pa.string()),
        ("duration", pa.int32()),
        ("billing_cycle", pa.int32()),
        ("purchases", pa.int64()),
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
    ]
)

_DATE = """CASE WHEN regexp_full_match(date_txt, '\\d{4}-\\d{2}-\\d{2}') THEN TRY_CAST(date_txt AS DATE) END AS day"""
_DATE_RULES = """
    CASE WHEN n_ok AND date_txt IS NULL THEN 'missing date' END,
    CASE WHEN n_ok AND date_txt IS NOT NULL AND day IS NULL
         THEN format('malformed date ''{}'' (expected YYYY-MM-DD)', date_txt) END"""


def _count(txt: str, alias: str) -> str:
    """A non-negative whole number (digits only), else NULL."""
    return f"CASE WHEN regexp_full_match({txt}, '\\d{{1,15}}') THEN CAST({txt} AS BIGINT) END AS {alias}"


def _count_rules(txt: str, value: str, label: str, minimum: int = 0) -> str:
    return f"""
    CASE WHEN n_ok AND {txt} IS NULL THEN 'missing {label}' END,
    CASE WHEN n_ok AND {txt} IS NOT NULL AND {value} IS NULL
         THEN format('{label} ''{{}}'' is not a whole number >= {minimum}', {txt}) END,
    CASE WHEN {value} IS NOT NULL AND {value} < {minimum} THEN format('{label} {{}} is below {minimum}', {value}) END"""


def parse_installs(partitions: Sequence[tuple[str, list[Path]]]) -> ParsedBatch:
    """installs.csv (`date, iOS, Android, Web`): one clean row per day and platform; a repeated day is quarantined."""
    lines, p = _read(partitions, INSTALLS_COLUMNS, "subscription installs")
    names = {"date": "date_txt", **{platform: f"p{i}_txt" for i, platform in enumerate(PLATFORMS)}}
    fields = ", ".join(_field(p, name, alias) for name, alias in names.items())
    typed = ", ".join([_DATE, *(_count(f"p{i}_txt", f"p{i}_value") for i in range(len(PLATFORMS)))])
    rules = ",".join(
        [_DATE_RULES]
        + [_count_rules(f"p{i}_txt", f"p{i}_value", f"{name} installs") for i, name in enumerate(PLATFORMS)]
    )
    judge = [_judge_sql(len(INSTALLS_COLUMNS), fields, typed, rules, "day")]
    accept = " UNION ALL ".join(
        f"SELECT day AS install_date, '{name}' AS platform, p{i}_value AS installs, source_file, line_number "
        "FROM _judged WHERE reason = ''"
        for i, name in enumerate(PLATFORMS)
    )
    batch = _run(partitions, None, judge, f"{accept} ORDER BY install_date, platform", INSTALLS_SCHEMA, lines)
    rows = pc.multiply(batch.counts["lines_clean"], pa.scalar(len(PLATFORMS), pa.int64()))
    index = batch.counts.schema.get_field_index("rows_written")
    batch.counts = batch.counts.set_column(index, "rows_written", rows)
    return batch


def parse_purchases(partitions: Sequence[tuple[str, list[Path]]]) -> ParsedBatch:
    """recurrent.csv: purchases per day, platform, product, duration (1 or 12 months) and billing cycle (>= 1)."""
    lines, p = _read(partitions, PURCHASES_COLUMNS, "subscription purchases")
    names = {
        "date": "date_txt", "platform": "platform_txt", "product_id": "product_txt",
        "duration": "duration_txt", "billing_cycle": "cycle_txt", "purchases": "purchases_txt",
    }  # fmt: skip
    fields = ", ".join(_field(p, name, alias) for name, alias in names.items())
    typed = ", ".join(
        [_DATE, _count("duration_txt", "duration_value"), _count("cycle_txt", "cycle_value"),
         _count("purchases_txt", "purchases_value")]
    )  # fmt: skip
    rules = ",".join(
        [
            _DATE_RULES,
            "CASE WHEN n_ok AND platform_txt IS NULL THEN 'missing platform' END",
            "CASE WHEN n_ok AND product_txt IS NULL THEN 'missing product_id' END",
            "CASE WHEN n_ok AND duration_txt IS NULL THEN 'missing duration' END",
            "CASE WHEN n_ok AND duration_txt IS NOT NULL AND coalesce(duration_value NOT IN "
            f"({', '.join(map(str, DURATIONS))}), TRUE) "
            "THEN format('duration ''{}'' is not 1 or 12 (months)', duration_txt) END",
            _count_rules("cycle_txt", "cycle_value", "billing_cycle", minimum=1),
            _count_rules("purchases_txt", "purchases_value", "purchases"),
        ]
    )
    key = "day, platform_txt, product_txt, duration_value, cycle_value"
    judge = [_judge_sql(len(PURCHASES_COLUMNS), fields, typed, rules, key)]
    accept = """
        SELECT day AS purchase_date, platform_txt AS platform, product_txt AS product_id,
               duration_value AS duration, cycle_value AS billing_cycle, purchases_value AS purchases,
               source_file, line_number
        FROM _judged WHERE reason = '' ORDER BY purchase_date, platform, product_id, duration, billing_cycle
    """
    return _run(partitions, None, judge, accept, PURCHASES_SCHEMA, lines)
