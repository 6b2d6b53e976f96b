"""Usage exports to long-form rows: the seed-000 wide form or the long form, detected from the header.

Quarantine is per raw line: a line with any bad field goes whole to quarantine with every reason found,
so rows read (data lines) = lines clean + lines quarantined. A wide line gives one clean row per metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from revcast.ingest.core import QUARANTINE_SCHEMA, ParsedBatch, RawFileError, read_lines, split_header

PARSER_VERSION = "usage/1"
DATE_COLUMN, ACCOUNT_COLUMN = "date", "customer_id"
# seed-000 wide columns -> (metric, unit)
WIDE_METRICS = {
    "#api_calls(Product_1)": ("api_calls", "calls"),
    "storage_capacity_used(Product_2)": ("storage_gb", "GB"),
}
WIDE_COLUMNS = [DATE_COLUMN, ACCOUNT_COLUMN, *WIDE_METRICS]
LONG_COLUMNS = ["account_id", "metric", "usage_date", "quantity", "unit"]
LONG_OPTIONAL = ["tags"]
COUNTED_METRICS = {"api_calls"}  # whole-number metrics
MISSING_ACCOUNT_TOKENS = ["", "null", "none", "nan", "n/a", "na", "unknown"]
CLEAN_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("metric", pa.string()),
        ("usage_date", pa.date32()),
        ("quantity", pa.float64()),
        ("unit", pa.string()),
        ("source_file", pa.string()),
    ]
)


@dataclass(frozen=True)
class UsageLayout:
    """Which export shape a file has and where each column sits (1-based, for DuckDB lists)."""

    kind: str  # "wide" | "long"
    columns: tuple[str, ...]

    @property
    def positions(self) -> dict[str, int]:
        return {name: i + 1 for i, name in enumerate(self.columns)}

    @property
    def n_fields(self) -> int:
        return len(self.columns)


def detect_layout(path: Path, header: str) -> UsageLayout:
    """Recognise the wide or long usage header; anything else is an error naming what is wrong."""
    names = split_header(path, header)
    if set(names) == set(WIDE_COLUMNS):
        return UsageLayout("wide", tuple(names))
    if set(LONG_COLUMNS) <= set(names) <= set(LONG_COLUMNS + LONG_OPTIONAL):
        return UsageLayout("long", tuple(names))
    expected = WIDE_COLUMNS if ACCOUNT_COLUMN in names or DATE_COLUMN in names else LONG_COLUMNS
    missing = [c for c in expected if c not in names]
    extra = [c for c in names if c not in expected and c not in LONG_OPTIONAL]
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected column(s) {', '.join(extra)}")
    raise RawFileError(
        path,
        1,
        "header does not match a usage export ("
        + "; ".join(parts)
        + f"). Expected the wide form `{','.join(WIDE_COLUMNS)}` or the long form `{','.join(LONG_COLUMNS)}`",
    )


_FIELD = "trim(f[{}], ' \"')"

# Shared rules, written once: a valid ISO date equal to the partition day, and a known account.
_DATE_RULES = """
    CASE WHEN n_fields = {n} AND usage_date IS NULL
         THEN format('malformed date ''{{}}'' (expected YYYY-MM-DD)', date_txt) END,
    CASE WHEN usage_date IS NOT NULL AND usage_date <> partition_date
         THEN format('usage date {{}} is outside partition {{}}', usage_date, partition_date) END,
    CASE WHEN n_fields = {n} AND lower(account_txt) IN (SELECT unnest($missing))
         THEN format('unknown account id ''{{}}''', account_txt) END
"""


def _quantity_rules(value: str, text: str, label: str, whole: str) -> str:
    """SQL reasons for one quantity field: numeric, finite, non-negative, whole where counted."""
    return f"""
    CASE WHEN n_fields = {{n}} AND {value} IS NULL THEN format('non-numeric {label} ''{{{{}}}}''', {text}) END,
    CASE WHEN {value} IS NOT NULL AND NOT isfinite({value}) THEN format('non-finite {label} ''{{{{}}}}''', {text}) END,
    CASE WHEN isfinite({value}) AND {value} < 0 THEN format('negative {label} {{{{}}}}', {text}) END,
    CASE WHEN isfinite({value}) AND {value} >= 0 AND {whole} AND {value} <> floor({value})
         THEN format('{label} must be a whole number, got {{{{}}}}', {text}) END"""


def _wide_sql(layout: UsageLayout) -> tuple[str, str]:
    p = layout.positions
    (api_col, (api_metric, api_unit)), (gb_col, (gb_metric, gb_unit)) = WIDE_METRICS.items()
    fields = f"""
        {_FIELD.format(p[DATE_COLUMN])} AS date_txt, {_FIELD.format(p[ACCOUNT_COLUMN])} AS account_txt,
        {_FIELD.format(p[api_col])} AS api_txt, {_FIELD.format(p[gb_col])} AS gb_txt"""
    typed = "TRY_CAST(api_txt AS DOUBLE) AS api_value, TRY_CAST(gb_txt AS DOUBLE) AS gb_value"
    rules = ",".join(
        [
            _DATE_RULES,
            _quantity_rules("api_value", "api_txt", api_col, "TRUE"),
            _quantity_rules("gb_value", "gb_txt", gb_col, "FALSE"),
        ]
    ).format(n=layout.n_fields)
    key = "account_txt, usage_date"
    long_rows = f"""
        SELECT account_txt AS account_id, '{api_metric}' AS metric, usage_date, api_value AS quantity,
               '{api_unit}' AS unit, source_file, line_number FROM accepted
        UNION ALL
        SELECT account_txt, '{gb_metric}', usage_date, gb_value, '{gb_unit}', source_file, line_number
        FROM accepted"""
    return _judge_sql(layout, fields, typed, rules, key, long_rows)


def _long_sql(layout: UsageLayout) -> tuple[str, str]:
    p = layout.positions
    fields = f"""
        {_FIELD.format(p["usage_date"])} AS date_txt, {_FIELD.format(p["account_id"])} AS account_txt,
        {_FIELD.format(p["metric"])} AS metric_txt, {_FIELD.format(p["quantity"])} AS quantity_txt,
        {_FIELD.format(p["unit"])} AS unit_txt"""
    typed = "TRY_CAST(quantity_txt AS DOUBLE) AS quantity_value"
    rules = ",".join(
        [
            _DATE_RULES,
            """CASE WHEN n_fields = {n} AND NOT regexp_full_match(metric_txt, '[a-z][a-z0-9_]*')
                    THEN format('malformed metric name ''{{}}''', metric_txt) END,
               CASE WHEN n_fields = {n} AND unit_txt = '' THEN 'missing unit' END""",
            _quantity_rules(
                "quantity_value", "quantity_txt", "quantity", "metric_txt IN (SELECT unnest($counted))"
            ),
        ]
    ).format(n=layout.n_fields)
    key = "account_txt, metric_txt, usage_date"
    long_rows = """
        SELECT account_txt AS account_id, metric_txt AS metric, usage_date, quantity_value AS quantity,
               unit_txt AS unit, source_file, line_number FROM accepted"""
    return _judge_sql(layout, fields, typed, rules, key, long_rows)


def _judge_sql(
    layout: UsageLayout, fields: str, typed: str, rules: str, key: str, long_rows: str
) -> tuple[str, str]:
    """Split lines into fields, type them, collect every failed rule, then flag duplicate keys."""
    return (
        f"""
    CREATE OR REPLACE TEMP TABLE _judged AS
    WITH split AS (
        SELECT source_file, line_number, partition_key, partition_date, line, string_split(line, ',') AS f,
               len(string_split(line, ',')) AS n_fields
        FROM _lines
    ), fields AS (
        SELECT *, {fields} FROM split
    ), typed AS (
        SELECT *, {typed},
               CASE WHEN regexp_full_match(date_txt, '\\d{{4}}-\\d{{2}}-\\d{{2}}')
                    THEN try_strptime(date_txt, '%Y-%m-%d')::DATE END AS usage_date
        FROM fields
    ), judged AS (
        SELECT *, concat_ws('; ',
            CASE WHEN trim(line) = '' THEN 'blank line' END,
            CASE WHEN trim(line) <> '' AND n_fields <> {layout.n_fields}
                 THEN format('expected {layout.n_fields} comma-separated fields, got {{}}', n_fields) END,
            {rules}
        ) AS reason
        FROM typed
    ), ranked AS (
        SELECT *,
               CASE WHEN reason = '' THEN row_number() OVER dup END AS dup_rank,
               CASE WHEN reason = '' THEN first_value(line_number) OVER dup END AS first_line
        FROM judged
        WINDOW dup AS (PARTITION BY reason = '', {key} ORDER BY source_file, line_number)
    )
    SELECT * REPLACE (
        CASE WHEN dup_rank > 1 THEN format('duplicate key of line {{}}', first_line) ELSE reason END AS reason
    ) FROM ranked
    """,
        f"""
    CREATE OR REPLACE TEMP TABLE _accepted_long AS
    WITH accepted AS (SELECT * FROM _judged WHERE reason = '')
    {long_rows}
    """,
    )


def _read_partition_lines(partitions: Sequence[tuple[str, list[Path]]]) -> dict[UsageLayout, list[pa.Table]]:
    """Every data line of the partitions, grouped by file layout, with file, line number and day."""
    groups: dict[UsageLayout, list[pa.Table]] = {}
    for key, files in partitions:
        for path in files:
            lines = read_lines(path)
            layout = detect_layout(path, lines["line"][0].as_py() if lines.num_rows else "")
            body = lines.slice(1)
            n = body.num_rows
            groups.setdefault(layout, []).append(
                pa.table(
                    {
                        "source_file": pa.array([str(path)] * n, pa.string()),
                        "line_number": pa.array(range(2, n + 2), pa.int64()),
                        "partition_key": pa.array([key] * n, pa.string()),
                        "line": body["line"],
                    }
                )
            )
    return groups


def parse_usage(partitions: Sequence[tuple[str, list[Path]]]) -> ParsedBatch:
    """Parse usage files of many days in one SQL pass per layout: clean long rows and quarantined lines."""
    con = duckdb.connect()
    try:
        clean, quarantine, judged = [], [], []
        for layout, tables in _read_partition_lines(partitions).items():
            con.register("_lines_raw", pa.concat_tables(tables))
            con.execute(
                "CREATE OR REPLACE TEMP VIEW _lines AS SELECT *, partition_key::DATE AS partition_date FROM _lines_raw"
            )
            params = {"missing": MISSING_ACCOUNT_TOKENS}
            if layout.kind == "long":
                params["counted"] = sorted(COUNTED_METRICS)
            judge, accept = _wide_sql(layout) if layout.kind == "wide" else _long_sql(layout)
            con.execute(judge, params)
            con.execute(accept)
            clean.append(
                con.sql(
                    "SELECT account_id, metric, usage_date, quantity, unit, source_file FROM _accepted_long "
                    "ORDER BY usage_date, metric, account_id"
                )
                .to_arrow_table()
                .cast(CLEAN_SCHEMA)
            )
            quarantine.append(
                con.sql(
                    "SELECT partition_key, source_file, line_number, line AS raw_line, reason FROM _judged "
                    "WHERE reason <> '' ORDER BY source_file, line_number"
                )
                .to_arrow_table()
                .cast(QUARANTINE_SCHEMA)
            )
            judged.append(
                con.sql(
                    "SELECT j.partition_key, count(*) AS lines_read, count(*) FILTER (reason = '') AS lines_clean, "
                    "count(*) FILTER (reason <> '') AS lines_quarantined, "
                    "count(*) FILTER (reason = '') * ? AS rows_written FROM _judged j GROUP BY j.partition_key",
                    params=[len(WIDE_METRICS) if layout.kind == "wide" else 1],
                ).to_arrow_table()
            )
            con.unregister("_lines_raw")
        return ParsedBatch(
            clean=pa.concat_tables(clean) if clean else CLEAN_SCHEMA.empty_table(),
            quarantine=pa.concat_tables(quarantine) if quarantine else QUARANTINE_SCHEMA.empty_table(),
            counts=_counts([key for key, _ in partitions], judged),
        )
    finally:
        con.close()


def _counts(keys: list[str], judged: list[pa.Table]) -> pa.Table:
    """Per-partition line counts, with zeros for header-only days."""
    totals = {key: [0, 0, 0, 0] for key in keys}
    for table in judged:
        for row in table.to_pylist():
            acc = totals[row["partition_key"]]
            for i, col in enumerate(("lines_read", "lines_clean", "lines_quarantined", "rows_written")):
                acc[i] += int(row[col])
    columns = list(zip(*totals.values(), strict=True)) if totals else [[], [], [], []]
    return pa.table(
        {
            "partition_key": pa.array(list(totals), pa.string()),
            "lines_read": pa.array(columns[0], pa.int64()),
            "lines_clean": pa.array(columns[1], pa.int64()),
            "lines_quarantined": pa.array(columns[2], pa.int64()),
            "rows_written": pa.array(columns[3], pa.int64()),
        }
    )
