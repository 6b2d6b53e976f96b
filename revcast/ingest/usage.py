"""Usage exports to long-form rows: the wide usage form or the long form, detected from the header.

Quarantine is per raw line: a line with any bad field goes whole to quarantine with every reason found,
so rows read (data lines) = lines clean + lines quarantined. A wide line gives one clean row per metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from revcast.formats import USAGE_LONG_COLUMNS, USAGE_LONG_OPTIONAL, USAGE_WIDE_COLUMNS
from revcast.ingest.core import QUARANTINE_SCHEMA, ParsedBatch, RawFileError, read_records, split_header

PARSER_VERSION = "usage/2"  # 2: RFC 4180 records, empty optional fields
DATE_COLUMN, ACCOUNT_COLUMN = "date", "customer_id"
# wide-form usage columns -> (metric, unit)
WIDE_METRICS = dict(zip(USAGE_WIDE_COLUMNS[2:], [("api_calls", "calls"), ("storage_gb", "GB")], strict=True))
WIDE_COLUMNS = list(USAGE_WIDE_COLUMNS)
LONG_COLUMNS = list(USAGE_LONG_COLUMNS)
LONG_OPTIONAL = list(USAGE_LONG_OPTIONAL)
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


def detect_layout(path: Path, header: Sequence[str]) -> UsageLayout:
    """Recognise the wide or long usage header (column names); anything else is an error naming what is wrong."""
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


_FIELD = "nullif(trim(fields[{}]), '')"  # an empty field is NULL: "missing" where the column is required

# Shared rules, written once: a valid ISO date equal to the partition day, and a known account.
_DATE_RULES = """
    CASE WHEN n_fields = {n} AND date_txt IS NULL THEN 'missing {date}' END,
    CASE WHEN n_fields = {n} AND date_txt IS NOT NULL AND usage_date IS NULL
         THEN format('malformed date ''{{}}'' (expected YYYY-MM-DD)', date_txt) END,
    CASE WHEN usage_date IS NOT NULL AND usage_date <> partition_date
         THEN format('usage date {{}} is outside partition {{}}', usage_date, partition_date) END,
    CASE WHEN n_fields = {n} AND account_txt IS NULL THEN 'missing {account}' END,
    CASE WHEN n_fields = {n} AND lower(account_txt) IN (SELECT unnest($missing))
         THEN format('unknown account id ''{{}}''', account_txt) END
"""


def _quantity_rules(value: str, text: str, label: str, whole: str) -> str:
    """SQL reasons for one quantity field: numeric, finite, non-negative, whole where counted."""
    return f"""
    CASE WHEN n_fields = {{n}} AND {text} IS NOT NULL AND {value} IS NULL
         THEN format('non-numeric {label} ''{{{{}}}}''', {text}) END,
    CASE WHEN {value} IS NOT NULL AND NOT isfinite({value}) THEN format('non-finite {label} ''{{{{}}}}''', {text}) END,
    CASE WHEN isfinite({value}) AND {value} < 0 THEN format('negative {label} {{{{}}}}', {text}) END,
    CASE WHEN isfinite({value}) AND {value} >= 0 AND {whole} AND {value} <> floor({value})
         THEN format('{label} must be a whole number, got {{{{}}}}', {text}) END"""


def _wide_sql(layout: UsageLayout) -> tuple[str, str, str]:
    p = layout.positions
    (api_col, (api_metric, api_unit)), (gb_col, (gb_metric, gb_unit)) = WIDE_METRICS.items()
    fields = f"""
        {_FIELD.format(p[DATE_COLUMN])} AS date_txt, {_FIELD.format(p[ACCOUNT_COLUMN])} AS account_txt,
        {_FIELD.format(p[api_col])} AS api_txt, {_FIELD.format(p[gb_col])} AS gb_txt"""
    typed = "TRY_CAST(api_txt AS DOUBLE) AS api_value, TRY_CAST(gb_txt AS DOUBLE) AS gb_value"
    rules = ",".join(
        [
            _DATE_RULES,
            # both product columns are optional (empty: not measured that day), but a line must carry one
            f"""CASE WHEN n_fields = {{n}} AND api_txt IS NULL AND gb_txt IS NULL
                     THEN 'no usage value: {api_col} and {gb_col} are both empty' END""",
            _quantity_rules("api_value", "api_txt", api_col, "TRUE"),
            _quantity_rules("gb_value", "gb_txt", gb_col, "FALSE"),
        ]
    ).format(n=layout.n_fields, date=DATE_COLUMN, account=ACCOUNT_COLUMN)
    key = "account_txt, usage_date"
    long_rows = f"""
        SELECT account_txt AS account_id, '{api_metric}' AS metric, usage_date, api_value AS quantity,
               '{api_unit}' AS unit, source_file, line_number FROM accepted WHERE api_value IS NOT NULL
        UNION ALL
        SELECT account_txt, '{gb_metric}', usage_date, gb_value, '{gb_unit}', source_file, line_number
        FROM accepted WHERE gb_value IS NOT NULL"""
    return _judge_sql(layout, fields, typed, rules, key, long_rows)


def _long_sql(layout: UsageLayout) -> tuple[str, str, str]:
    p = layout.positions
    fields = f"""
        {_FIELD.format(p["usage_date"])} AS date_txt, {_FIELD.format(p["account_id"])} AS account_txt,
        {_FIELD.format(p["metric"])} AS metric_txt, {_FIELD.format(p["quantity"])} AS quantity_txt,
        {_FIELD.format(p["unit"])} AS unit_txt"""
    typed = "TRY_CAST(quantity_txt AS DOUBLE) AS quantity_value"
    rules = ",".join(
        [
            _DATE_RULES,
            """CASE WHEN n_fields = {n} AND metric_txt IS NULL THEN 'missing metric' END,
               CASE WHEN n_fields = {n} AND NOT regexp_full_match(metric_txt, '[a-z][a-z0-9_]*')
                    THEN format('malformed metric name ''{{}}''', metric_txt) END,
               CASE WHEN n_fields = {n} AND quantity_txt IS NULL THEN 'missing quantity' END,
               CASE WHEN n_fields = {n} AND unit_txt IS NULL THEN 'missing unit' END""",
            _quantity_rules(
                "quantity_value", "quantity_txt", "quantity", "metric_txt IN (SELECT unnest($counted))"
            ),
        ]
    ).format(n=layout.n_fields, date="usage_date", account="account_id")
    key = "account_txt, metric_txt, usage_date"

    long_rows = """
        SELECT account_txt AS account_id, metric_txt AS metric, usage_date, quantity_value AS quantity,
               unit_txt AS unit, source_file, line_number FROM accepted"""
    return _judge_sql(layout, fields, typed, rules, key, long_rows)


def _judge_sql(
    layout: UsageLayout, fields: str, typed: str, rules: str, key: str, long_rows: str
) -> tuple[str, str, str]:
    """Fields by position, typed values, every failed rule as a reason; then duplicates marked in place."""
    key_join = " AND ".join(f"j.{k.strip()} = d.{k.strip()}" for k in key.split(","))
    return (
        f"""
    CREATE OR REPLACE TEMP TABLE _judged AS
    WITH fields AS (
        SELECT l.file_id, l.line_number, f.partition_key, f.partition_date, l.line, l.fields, l.problem,
               len(l.fields) AS n_fields, {fields}
        FROM _lines_raw l JOIN _files f USING (file_id)
    ), typed AS (
        SELECT *, {typed},
               CASE WHEN date_txt LIKE '____-__-__'  -- exactly YYYY-MM-DD; strptime rejects non-digits
                    THEN try_strptime(date_txt, '%Y-%m-%d')::DATE END AS usage_date
        FROM fields
    )
    SELECT * EXCLUDE (fields, problem), concat_ws('; ',
        problem,
        CASE WHEN trim(line) = '' THEN 'blank line' END,
        CASE WHEN trim(line) <> '' AND n_fields <> {layout.n_fields}
             THEN format('expected {layout.n_fields} comma-separated fields, got {{}}', n_fields) END,
        {rules}
    ) AS reason
    FROM typed
    """,
        f"""
    CREATE OR REPLACE TEMP TABLE _dups AS
        SELECT {key}, min({{'file_id': file_id, 'line': line_number}}) AS first
        FROM _judged WHERE reason = '' GROUP BY {key} HAVING count(*) > 1;
    UPDATE _judged AS j SET reason = format('duplicate key of line {{}}', d.first.line)
    FROM _dups d
    WHERE j.reason = '' AND {key_join} AND (d.first.file_id <> j.file_id OR d.first.line <> j.line_number);
    DROP TABLE _dups;
    """,
        f"""
    INSERT INTO _usage_clean
    WITH accepted AS (SELECT j.*, f.source_file FROM _judged j JOIN _files f USING (file_id) WHERE j.reason = '')
    SELECT account_id, metric, usage_date, quantity, unit, source_file FROM ({long_rows})
    """,
    )


def _read_partition_lines(
    partitions: Sequence[tuple[str, list[Path]]],
) -> tuple[pa.Table, dict[UsageLayout, list[pa.Table]]]:
    """Every data line, grouped by file layout, with file id and exact line number; plus the file table."""
    groups: dict[UsageLayout, list[pa.Table]] = {}
    files = {"file_id": [], "source_file": [], "partition_key": []}
    for key, paths in partitions:
        for path in paths:
            file_id = len(files["file_id"])
            files["file_id"].append(file_id)
            files["source_file"].append(str(path))
            files["partition_key"].append(key)
            parsed = read_records(path)
            layout = detect_layout(path, parsed.header)
            body = parsed.records
            groups.setdefault(layout, []).append(
                body.add_column(0, "file_id", pa.array(np.full(body.num_rows, file_id, dtype=np.int32)))
            )
    file_table = pa.table(
        {
            "file_id": pa.array(files["file_id"], pa.int32()),
            "source_file": pa.array(files["source_file"], pa.string()),
            "partition_key": pa.array(files["partition_key"], pa.string()),
        }
    )
    return file_table, groups


def parse_usage(
    partitions: Sequence[tuple[str, list[Path]]], con: duckdb.DuckDBPyConnection | None = None
) -> ParsedBatch:
    """Parse usage files of many days in one SQL pass per layout: clean long rows and quarantined lines.

    With `con` (the warehouse writer), results stay in that connection as temp tables and the batch holds
    relations over them, so clean rows never leave DuckDB; without it, the batch holds Arrow tables.
    """
    own = con is None
    con = con if con is not None else duckdb.connect()
    file_table, groups = _read_partition_lines(partitions)
    con.register("_files_raw", file_table)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _files AS SELECT *, partition_key::DATE AS partition_date FROM _files_raw"
    )
    con.unregister("_files_raw")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _usage_clean (account_id VARCHAR, metric VARCHAR, usage_date DATE, "
        "quantity DOUBLE, unit VARCHAR, source_file VARCHAR)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _usage_quarantine (partition_key VARCHAR, source_file VARCHAR, "
        "line_number BIGINT, raw_line VARCHAR, reason VARCHAR)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _usage_counts (partition_key VARCHAR, lines_read BIGINT, "
        "lines_clean BIGINT, lines_quarantined BIGINT, rows_written BIGINT)"
    )
    try:
        for layout, tables in groups.items():
            con.register("_lines_raw", pa.concat_tables(tables))
            params = {"missing": MISSING_ACCOUNT_TOKENS}
            if layout.kind == "long":
                params["counted"] = sorted(COUNTED_METRICS)
            rules_sql, judge_sql, accept_sql = (
                _wide_sql(layout) if layout.kind == "wide" else _long_sql(layout)
            )
            con.execute(rules_sql, params)
            con.unregister("_lines_raw")
            con.execute(judge_sql)
            con.execute(accept_sql)
            con.execute(
                "INSERT INTO _usage_quarantine SELECT j.partition_key, f.source_file, j.line_number, j.line, "
                "j.reason FROM _judged j JOIN _files f USING (file_id) WHERE j.reason <> '' "
                "ORDER BY f.source_file, j.line_number"
            )
            written = (
                "(api_value IS NOT NULL)::BIGINT + (gb_value IS NOT NULL)::BIGINT"
                if layout.kind == "wide"
                else "1"
            )  # an empty optional wide column gives no row for its metric
            con.execute(
                "INSERT INTO _usage_counts SELECT partition_key, count(*), count(*) FILTER (reason = ''), "
                f"count(*) FILTER (reason <> ''), coalesce(sum({written}) FILTER (reason = ''), 0) "
                "FROM _judged GROUP BY partition_key"
            )

            con.execute("DROP TABLE _judged")
        counts = con.sql(
            "SELECT f.partition_key, coalesce(sum(c.lines_read), 0)::BIGINT AS lines_read, "
            "coalesce(sum(c.lines_clean), 0)::BIGINT AS lines_clean, "
            "coalesce(sum(c.lines_quarantined), 0)::BIGINT AS lines_quarantined, "
            "coalesce(sum(c.rows_written), 0)::BIGINT AS rows_written "
            "FROM (SELECT DISTINCT partition_key FROM _files) f LEFT JOIN _usage_counts c USING (partition_key) "
            "GROUP BY f.partition_key ORDER BY f.partition_key"
        ).to_arrow_table()
        if own:
            return ParsedBatch(
                clean=con.sql("SELECT * FROM _usage_clean").to_arrow_table().cast(CLEAN_SCHEMA),
                quarantine=con.sql("SELECT * FROM _usage_quarantine")
                .to_arrow_table()
                .cast(QUARANTINE_SCHEMA),
                counts=counts,
            )
        return ParsedBatch(
            clean=con.table("_usage_clean"),
            quarantine=con.table("_usage_quarantine"),
            counts=counts,
            release=lambda: con.execute(
                "DROP TABLE IF EXISTS _usage_clean; DROP TABLE IF EXISTS _usage_quarantine; "
                "DROP TABLE IF EXISTS _usage_counts; DROP TABLE IF EXISTS _files"
            ),
        )
    finally:
        if own:
            con.close()
