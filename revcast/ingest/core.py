"""What every ingest shares: raw lines with exact line numbers, header checks, and the partition writer.

A parser turns one partition's files into clean rows and quarantined lines; `write_partitions` replaces
exactly those partitions' rows in one transaction, records row accounting in audit.ingest_runs and skips
partitions whose files (and parser version) are unchanged since the last load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from revcast.landing import fingerprint
from revcast.warehouse import table_name, transaction

QUARANTINE_SCHEMA = pa.schema(
    [
        ("partition_key", pa.string()),
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("raw_line", pa.string()),
        ("reason", pa.string()),
    ]
)


class RawFileError(ValueError):
    """A raw file that cannot be read at all: the message names the file, the line and the reason."""

    def __init__(self, path: Path | str, line: int, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}, line {line}: {reason}")


@dataclass
class ParsedBatch:
    """A parse of several partitions: clean rows, quarantined lines and per-partition line counts."""

    clean: pa.Table | duckdb.DuckDBPyRelation  # a relation must live in the writer's connection
    quarantine: pa.Table | duckdb.DuckDBPyRelation  # QUARANTINE_SCHEMA columns
    counts: pa.Table  # partition_key, lines_read, lines_clean, lines_quarantined, rows_written
    release: Callable[[], object] | None = None  # frees temp tables behind relation-backed batches

    def check_accounting(self) -> None:
        """Rows in = rows clean + rows quarantined for every partition, or the load stops."""
        for row in self.counts.to_pylist():
            if row["lines_read"] != row["lines_clean"] + row["lines_quarantined"]:
                raise AssertionError(
                    f"row accounting broken for partition {row['partition_key']}: read {row['lines_read']} "
                    f"lines, {row['lines_clean']} clean + {row['lines_quarantined']} quarantined"
                )


@dataclass
class IngestReport:
    """What a load did: the parsed batch (None if nothing changed) and the partitions left as they were."""

    batch: ParsedBatch | None = None
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def total(self, column: str) -> int:
        """Sum of a count column over the loaded partitions."""
        return int(sum(self.batch.counts[column].to_pylist())) if self.batch else 0


def read_lines(path: Path) -> pa.Table:
    """A file's lines as one string column, blank lines kept so row i is line i+1 (BOM and CRLF handled)."""
    if path.stat().st_size == 0:
        raise RawFileError(path, 1, "file is empty: expected a header line")
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=["line"], block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter="\x01",
            quote_char=False,
            escape_char=False,
            ignore_empty_lines=False,
            newlines_in_values=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={"line": pa.string()},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def split_header(path: Path, header: str) -> list[str]:
    """Column names of a comma-separated header; a header in another delimiter is a clear error."""
    names = [name.strip().strip('"').strip() for name in header.split(",")]
    if len(names) == 1:
        for delimiter, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header:
                raise RawFileError(path, 1, f"header is {label}-delimited; exports must be comma-separated")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise RawFileError(path, 1, f"duplicated column(s) in header: {', '.join(duplicated)}")
    return names


def last_fingerprints(con: duckdb.DuckDBPyConnection, source: str, keys: Sequence[str]) -> dict[str, str]:
    """The fingerprint of each partition's latest load, for the given keys."""
    rows = con.execute(
        "SELECT partition_key, arg_max(fingerprint, finished_at) FROM audit.ingest_runs "
        "WHERE source = ? AND partition_key IN (SELECT unnest(?)) GROUP BY partition_key",
        [source, list(keys)],
    ).fetchall()
    return dict(rows)


def write_partitions(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    partitions: Sequence[tuple[str, list[Path]]],
    parse: Callable[[Sequence[tuple[str, list[Path]]]], ParsedBatch],
    clean_table: str,
    partition_expr: str,
    quarantine_table: str,
    parser_version: str,
    run_id: str | None = None,
    force: bool = False,
) -> IngestReport:
    """Parse changed partitions and replace exactly their rows in one transaction, with row accounting."""
    clean_table, quarantine_table = table_name(clean_table), table_name(quarantine_table)
    started = datetime.now(UTC)
    prints = {key: fingerprint(files, salt=parser_version) for key, files in partitions}
    previous = {} if force else last_fingerprints(con, source, list(prints))
    changed = [(key, files) for key, files in partitions if previous.get(key) != prints[key]]
    report = IngestReport(unchanged=[key for key, _ in partitions if previous.get(key) == prints[key]])
    if not changed:
        return report
    batch = parse(changed)
    batch.check_accounting()
    report.batch, report.loaded = batch, [key for key, _ in changed]
    files = {key: [str(f) for f in paths] for key, paths in changed}
    keys = batch.counts["partition_key"].to_pylist()
    audit = batch.counts.append_column("files", pa.array([files[k] for k in keys], pa.list_(pa.string())))
    audit = audit.append_column("fingerprint", pa.array([prints[k] for k in keys], pa.string()))
    for name, data in (("_clean_batch", batch.clean), ("_quarantine_batch", batch.quarantine)):
        if isinstance(data, pa.Table):
            con.register(name, data)
        else:
            data.create_view(name, replace=True)
    con.register("_audit_batch", audit)
    try:
        with transaction(con):
            con.execute(
                f"DELETE FROM {clean_table} WHERE {partition_expr} IN (SELECT unnest(?))", [report.loaded]
            )
            con.execute(
                f"DELETE FROM {quarantine_table} WHERE partition_key IN (SELECT unnest(?))", [report.loaded]
            )
            con.execute(
                f"INSERT INTO {clean_table} BY NAME SELECT *, ?::TIMESTAMPTZ AS ingested_at FROM _clean_batch",
                [started],
            )
            con.execute(
                f"INSERT INTO {quarantine_table} BY NAME "
                "SELECT *, ?::TIMESTAMPTZ AS ingested_at FROM _quarantine_batch",
                [started],
            )
            con.execute(
                "INSERT INTO audit.ingest_runs BY NAME SELECT *, ? AS source, 'loaded' AS status, ? AS run_id, "
                "?::TIMESTAMPTZ AS started_at, now() AS finished_at FROM _audit_batch",
                [source, run_id, started],
            )
    finally:
        for name, data in (("_clean_batch", batch.clean), ("_quarantine_batch", batch.quarantine)):
            if isinstance(data, pa.Table):
                con.unregister(name)
            else:
                con.execute(f"DROP VIEW IF EXISTS {name}")
        con.unregister("_audit_batch")
        if batch.release is not None:
            batch.release()
    return report


# A reason's kind: its first clause with quoted values and numbers masked ("duplicate of line #").
REASON_KIND_SQL = (
    "regexp_replace(regexp_replace(split_part(reason, ';', 1), '''[^'']*''', '''...''', 'g'), "
    "'(^|[ \\[(,])-?[0-9][0-9A-Za-z.:/-]*', '\\1#', 'g')"
)


def quarantine_summary(
    con: duckdb.DuckDBPyConnection, quarantine_table: str, keys: Sequence[str] | None = None, top: int = 5
) -> list[tuple[str, int]]:
    """The most frequent kinds of quarantine reason across the given partitions (all when keys is None)."""
    quarantine_table = table_name(quarantine_table)
    where, params = (
        ("partition_key IN (SELECT unnest(?))", [list(keys)]) if keys is not None else ("TRUE", [])
    )
    return con.execute(
        f"SELECT {REASON_KIND_SQL} AS why, count(*) AS n FROM {quarantine_table} "
        f"WHERE {where} GROUP BY why ORDER BY n DESC, why LIMIT ?",
        [*params, top],
    ).fetchall()
