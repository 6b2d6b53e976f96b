"""Read one invoice JSON file with DuckDB: normalise key drift, type, split clean/quarantine.

The file is scanned by DuckDB (``read_json_objects``), never loaded into pandas, so files larger than
memory work. The parsed rows land in one DuckDB temporary table; ``InvoiceBatch.clean`` and
``InvoiceBatch.quarantine`` are lazy DuckDB relations over it (call ``.arrow()``/``.df()`` to fetch, or
``INSERT INTO clean.invoices SELECT * FROM <relation>`` to persist) and ``drop()`` removes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from revcast.formats import INVOICE_KEY_VARIANTS
from revcast.ingest.core import QUARANTINE_SCHEMA as INGEST_QUARANTINE_SCHEMA
from revcast.ingest.core import ParsedBatch
from revcast.settings import settings

KEY_VARIANTS = INVOICE_KEY_VARIANTS  # logical field -> accepted spellings (key drift between exports)
ALLOWED_KEYS: tuple[str, ...] = tuple(k for variants in KEY_VARIANTS.values() for k in variants)

CLEAN_SCHEMA: dict[str, str] = {
    "invoice_date": "DATE",
    "country": "VARCHAR",
    "customer_id": "BIGINT",
    "invoice_id": "BIGINT",
    "invoice_prefix": "VARCHAR",
    "is_cancellation": "BOOLEAN",
    "stream_id": "VARCHAR",
    "times_viewed": "BIGINT",
    "price": "DOUBLE",
    "source_file": "VARCHAR",
    "record_number": "BIGINT",
}
QUARANTINE_SCHEMA: dict[str, str] = {
    "source_file": "VARCHAR",
    "record_number": "BIGINT",
    "raw_record": "VARCHAR",
    "reason": "VARCHAR",
}

_SCAN = "read_json_objects($path, format = 'array') WITH ORDINALITY"


class InvoiceFileError(ValueError):
    """A whole invoice file is rejected (unknown/missing keys, not a JSON array of objects, malformed)."""


@dataclass(frozen=True)
class InvoiceBatch:
    """One parsed file: lazy relations over a temp table, and the row accounting (read = clean + quarantined)."""

    source_file: str
    table: str
    clean: duckdb.DuckDBPyRelation
    quarantine: duckdb.DuckDBPyRelation
    rows_read: int
    rows_clean: int
    rows_quarantined: int

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop the temp table behind the relations (they are unusable afterwards)."""
        con.execute(f"DROP TABLE IF EXISTS {self.table}")


def _fmt(x: float) -> str:
    """Bounds as written in reasons: 0 and 10000 rather than 0.0 and 10000.0."""
    return f"{x:g}"


def _first(field: str) -> str:
    """SQL: the field's value as text, whichever spelling the record uses."""
    parts = [f"json_extract_string(rec, '$.\"{k}\"')" for k in KEY_VARIANTS[field]]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _check_file_shape(path: Path) -> None:
    """Fail an empty file or one whose last non-blank byte is not ']' (DuckDB accepts '[{...},' silently)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(max(0, size - 4096))
        tail = fh.read().rstrip()
    if head[:2] == b"\x1f\x8b":
        raise InvoiceFileError(f"{path}: gzip-compressed; land invoice exports uncompressed (.json)")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:4] == b"\x00\x00\xfe\xff":
        raise InvoiceFileError(f"{path}: UTF-16/UTF-32 (byte-order mark); re-export as UTF-8")

    if not tail.endswith(b"]"):
        raise InvoiceFileError(f"{path}: not a complete JSON array (empty or truncated file)")


def _check_keys(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Validate the keys of every record in one streaming pass each; return the number of records."""
    p = {"path": str(path)}
    unknown = con.execute(
        f"""
        SELECT key, count(*) AS n, min(ordinality) AS first_record
        FROM (SELECT ordinality, unnest(json_keys(json)) AS key FROM {_SCAN})
        WHERE NOT list_contains($allowed, key)
        GROUP BY key ORDER BY key
        """,
        {**p, "allowed": list(ALLOWED_KEYS)},
    ).fetchall()
    if unknown:
        found = ", ".join(f"{k!r} ({n} records, first at record {r})" for k, n, r in unknown)
        raise InvoiceFileError(f"{path}: unknown key(s) {found}; allowed keys are {', '.join(ALLOWED_KEYS)}")
    checks = ["count(*)", "count(*) FILTER (json_type(json) <> 'OBJECT')"]
    for variants in KEY_VARIANTS.values():
        present = [f"list_contains(json_keys(json), '{k}')" for k in variants]
        checks.append(f"count(*) FILTER (NOT ({' OR '.join(present)}))")
        if len(variants) > 1:
            checks.append(f"count(*) FILTER ({' AND '.join(present)})")
    n, non_objects, *counts = con.execute(f"SELECT {', '.join(checks)} FROM {_SCAN}", p).fetchall()[0]
    if non_objects:
        raise InvoiceFileError(f"{path}: {non_objects} array element(s) are not JSON objects")
    problems: list[str] = []
    it = iter(counts)
    for field, variants in KEY_VARIANTS.items():
        missing = next(it)
        spelled = " or ".join(repr(k) for k in variants)
        if missing:
            problems.append(f"missing required key {spelled} in {missing} record(s)")
        if len(variants) > 1 and (both := next(it)):
            problems.append(f"both keys {spelled} for {field} in {both} record(s)")
    if problems:
        raise InvoiceFileError(f"{path}: " + "; ".join(problems))
    return int(n)


def _parse_sql(table: str) -> str:
    """CREATE TEMP TABLE with typed columns, the quarantine reason (NULL when clean) and the raw record."""
    return f"""
    CREATE TEMP TABLE {table} AS
    WITH src AS (
        SELECT ordinality AS record_number, json AS rec FROM {_SCAN}
    ), txt AS (
        SELECT record_number, rec,
            nullif(trim({_first("country")}), '') AS country_s,
            {_first("customer_id")} AS customer_s,
            trim({_first("invoice")}) AS invoice_s,
            {_first("price")} AS price_s,
            nullif(trim({_first("stream_id")}), '') AS stream_s,
            {_first("times_viewed")} AS views_s,
            trim({_first("year")}) AS year_s,
            trim({_first("month")}) AS month_s,
            trim({_first("day")}) AS day_s
        FROM src
    ), typed AS (
        SELECT *,
            TRY_CAST(customer_s AS DOUBLE) AS customer_f,
            regexp_extract(invoice_s, '^([A-Za-z]*)([0-9]+)(\\.0+)?$', ['prefix', 'digits']) AS inv,
            TRY_CAST(price_s AS DOUBLE) AS price_f,
            TRY_CAST(views_s AS DOUBLE) AS views_f,
            try(make_date(TRY_CAST(year_s AS INTEGER), TRY_CAST(month_s AS INTEGER),
                          TRY_CAST(day_s AS INTEGER))) AS invoice_date
        FROM txt
    ), judged AS (
        SELECT *, nullif(concat_ws('; ',
            CASE WHEN country_s IS NULL THEN 'missing country' END,
            CASE WHEN customer_s IS NOT NULL AND customer_f IS NULL
                 THEN 'non-numeric customer_id ' || customer_s
                 WHEN customer_f IS NOT NULL AND (customer_f <> floor(customer_f) OR customer_f < 0
                      OR TRY_CAST(customer_f AS BIGINT) IS NULL)
                 THEN 'invalid customer_id ' || customer_s END,
            CASE WHEN invoice_s IS NULL THEN 'missing invoice'
                 WHEN inv.digits = '' THEN 'invalid invoice ' || invoice_s END,
            CASE WHEN price_s IS NULL THEN 'missing price'
                 WHEN price_f IS NULL THEN 'non-numeric price ' || price_s
                 WHEN NOT (price_f BETWEEN $lo AND $hi) THEN $range_reason END,
            CASE WHEN stream_s IS NULL THEN 'missing stream_id' END,
            CASE WHEN views_s IS NULL THEN 'missing times_viewed'
                 WHEN views_f IS NULL THEN 'non-numeric times_viewed'
                 WHEN views_f <> floor(views_f) OR views_f < 0 OR TRY_CAST(views_f AS BIGINT) IS NULL THEN 'invalid times_viewed ' || views_s END,
            CASE WHEN invoice_date IS NULL THEN 'invalid date ' || concat_ws('-', coalesce(year_s, '?'),
                 lpad(coalesce(month_s, '?'), 2, '0'), lpad(coalesce(day_s, '?'), 2, '0'))
                 WHEN $month_start IS NOT NULL AND date_trunc('month', invoice_date) <> CAST($month_start AS DATE)
                 THEN 'invoice_date ' || strftime(invoice_date, '%Y-%m-%d') || ' outside partition month '
                      || strftime(CAST($month_start AS DATE), '%Y-%m') END
        ), '') AS reason
        FROM typed
    )
    SELECT
        invoice_date,
        country_s AS country,
        TRY_CAST(customer_f AS BIGINT) AS customer_id,
        TRY_CAST(inv.digits AS BIGINT) AS invoice_id,
        nullif(upper(inv.prefix), '') AS invoice_prefix,
        coalesce(upper(inv.prefix) = 'C', false) AS is_cancellation,
        stream_s AS stream_id,
        TRY_CAST(views_f AS BIGINT) AS times_viewed,
        price_f AS price,
        $source_file AS source_file,
        CAST(record_number AS BIGINT) AS record_number,
        CASE WHEN reason IS NOT NULL THEN CAST(json(rec) AS VARCHAR) END AS raw_record,
        reason
    FROM judged
    """


def read_invoice_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    price_range: tuple[float, float] = (0.0, 10_000.0),
    source_file: str | None = None,
    partition_month: date | None = None,
) -> InvoiceBatch:
    """Parse one invoice file into clean and quarantined rows; raise InvoiceFileError if the file is unusable.

    ``source_file`` (lineage column) defaults to ``str(path)``. With ``partition_month`` (any day of it), a
    record dated outside that month is quarantined (``invoice_date ... outside partition month YYYY-MM``). Quarantine reasons of one record are joined
    with ``'; '``; ``raw_record`` is the record's JSON re-serialised compactly by DuckDB.
    """
    path = Path(path)
    lo, hi = (float(b) for b in price_range)
    if lo > hi:
        raise ValueError(f"price_range lower bound {lo} exceeds upper bound {hi}")
    _check_file_shape(path)
    table = f"invoice_batch_{uuid.uuid4().hex}"
    params = {
        "path": str(path),
        "lo": lo,
        "hi": hi,
        "range_reason": f"price outside [{_fmt(lo)}, {_fmt(hi)}]",
        "source_file": source_file if source_file is not None else str(path),
        "month_start": partition_month.replace(day=1) if partition_month is not None else None,
    }
    try:
        n = _check_keys(con, path)
        con.execute(_parse_sql(table), params)
    except duckdb.Error as exc:
        raise InvoiceFileError(f"{path}: cannot read as a JSON array of objects: {exc}") from exc
    rows_clean, rows_quarantined = con.execute(
        f"SELECT count(*) FILTER (reason IS NULL), count(*) FILTER (reason IS NOT NULL) FROM {table}"
    ).fetchall()[0]
    if rows_clean + rows_quarantined != n:
        raise AssertionError(f"{path}: row accounting broken ({n} read, {rows_clean} + {rows_quarantined})")
    clean = con.sql(
        f"SELECT {', '.join(CLEAN_SCHEMA)} FROM {table} WHERE reason IS NULL ORDER BY record_number"
    )
    quarantine = con.sql(
        f"SELECT {', '.join(QUARANTINE_SCHEMA)} FROM {table} WHERE reason IS NOT NULL ORDER BY record_number"
    )
    return InvoiceBatch(
        source_file=params["source_file"],
        table=table,
        clean=clean,
        quarantine=quarantine,
        rows_read=n,
        rows_clean=int(rows_clean),
        rows_quarantined=int(rows_quarantined),
    )


PARSER_VERSION = "invoices/1"
PARTITION_EXPR = "strftime(invoice_date, '%Y-%m')"  # clean.invoices rows -> monthly partition key


def parse_invoice_partitions(
    con: duckdb.DuckDBPyConnection,
    partitions: Sequence[tuple[str, list[Path]]],
    *,
    price_range: tuple[float, float] = (0.0, 10_000.0),
) -> ParsedBatch:
    """`write_partitions`' parse contract for monthly invoice files (partition key YYYY-MM).

    Each file goes through ``read_invoice_file`` with its partition month, so a record dated outside the
    month is quarantined; record numbers become the quarantine's line numbers.
    """
    clean: list[pa.Table] = []
    quarantine: list[pa.Table] = []
    counts: list[dict[str, object]] = []
    for key, files in partitions:
        month = datetime.strptime(key, "%Y-%m").date()
        read = kept = dropped = 0
        for path in files:
            batch = read_invoice_file(con, path, price_range=price_range, partition_month=month)
            try:
                clean.append(batch.clean.to_arrow_table())
                quarantine.append(
                    con.sql(
                        "SELECT CAST($key AS VARCHAR) AS partition_key, source_file, "
                        "record_number AS line_number, raw_record AS raw_line, reason "
                        f"FROM {batch.table} WHERE reason IS NOT NULL ORDER BY record_number",
                        params={"key": key},
                    ).to_arrow_table()
                )
            finally:
                batch.drop(con)
            read, kept, dropped = (
                read + batch.rows_read,
                kept + batch.rows_clean,
                dropped + batch.rows_quarantined,
            )
        counts.append(
            {
                "partition_key": key,
                "lines_read": read,
                "lines_clean": kept,
                "lines_quarantined": dropped,
                "rows_written": kept,
            }
        )
    clean_schema = pa.schema([(name, _ARROW_TYPES[sql]) for name, sql in CLEAN_SCHEMA.items()])
    return ParsedBatch(
        clean=pa.concat_tables([t.cast(clean_schema) for t in clean])
        if clean
        else clean_schema.empty_table(),
        quarantine=pa.concat_tables([t.cast(INGEST_QUARANTINE_SCHEMA) for t in quarantine])
        if quarantine
        else INGEST_QUARANTINE_SCHEMA.empty_table(),
        counts=pa.Table.from_pylist(counts, schema=_COUNTS_SCHEMA),
    )


_ARROW_TYPES = {
    "DATE": pa.date32(),
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "DOUBLE": pa.float64(),
}
_COUNTS_SCHEMA = pa.schema(
    [
        ("partition_key", pa.string()),
        ("lines_read", pa.int64()),
        ("lines_clean", pa.int64()),
        ("lines_quarantined", pa.int64()),
        ("rows_written", pa.int64()),
    ]
)


def default_price_range() -> tuple[float, float]:
    """The sane price range (env REVCAST_INVOICE_PRICE_MIN / REVCAST_INVOICE_PRICE_MAX, default 0..10000)."""
    env = settings()
    return env.invoice_price_min, env.invoice_price_max
