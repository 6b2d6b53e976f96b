"""What every ingest shares: raw lines with exact line numbers, header checks, and the partition writer.

A parser turns one partition's files into clean rows and quarantined lines; `write_partitions` replaces
exactly those partitions' rows in one transaction, records row accounting in audit.ingest_runs and skips
partitions whose files (and parser version) are unchanged since the last load.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


# Whole-file encodings: a byte-order mark announces UTF-16/UTF-32 (decoded); otherwise UTF-8 (BOM optional).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = re.compile(r"\r\n|\r|\n")
RECORDS_SCHEMA = pa.schema(
    [
        ("line_number", pa.int64()),
        ("line", pa.string()),
        ("fields", pa.list_(pa.string())),
        ("problem", pa.string()),  # a record-level parse problem (a quarantine reason), else null
    ]
)


@dataclass(frozen=True)
class CsvRecords:
    """A CSV file parsed as RFC 4180: header names and one row per data record.

    `records` has the physical line a record starts on (`line_number`, 1-based, header included), its raw
    text (`line`; a record with quoted newlines spans several lines, joined by newline), its fields and a
    record-level parse problem (`problem`, e.g. an unterminated quote) that the parser quarantines.
    """

    header: list[str]
    header_line: str  # the header's raw text
    records: pa.Table  # RECORDS_SCHEMA


def _raw_bytes(path: Path) -> bytes | None:
    """The file's UTF-8 bytes when it needs decoding (gzip, UTF-16/32 BOM); None when it is read as is."""
    with path.open("rb") as fh:
        head = fh.read(4)
    data = None
    if head[:2] == GZIP_MAGIC or path.suffix == ".gz":
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error) as error:
            raise RawFileError(path, 1, f"cannot decompress gzip file: {error}") from error
        head = data[:4]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            raw = data if data is not None else path.read_bytes()
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                line = raw[: error.start].decode(encoding, errors="replace").count("\n") + 1
                raise RawFileError(
                    path,
                    line,
                    f"starts with a {encoding.upper()} byte-order mark but is not valid {encoding}",
                ) from error
            return text.encode("utf-8")
    if b"\x00" in head:
        raise RawFileError(
            path, 1, "starts with NUL bytes: UTF-16/UTF-32 without a byte-order mark? re-export as UTF-8"
        )
    return data


def _utf8_text(path: Path, data: bytes) -> str:
    """Decode UTF-8 (BOM dropped); any other encoding fails with the line and the offending byte."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise RawFileError(
            path,
            line,
            f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); re-export as UTF-8 "
            "(a UTF-16 or UTF-32 file needs its byte-order mark; Latin-1/Windows-1252 are not guessed)",
        ) from error


def _physical_lines(path: Path, source: bytes | None) -> pa.Array:
    """Every physical line (CRLF, LF or CR ends; blank lines kept), fast through Arrow's reader."""
    try:
        table = pacsv.read_csv(
            path if source is None else pa.BufferReader(source),
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
        return table["line"].combine_chunks()
    except pa.ArrowInvalid:  # invalid UTF-8 or a \x01 byte in a line: the slow path says which
        text = _utf8_text(path, source if source is not None else path.read_bytes())
        lines = _NEWLINE.split(text)
        if lines and lines[-1] == "":
            lines.pop()
        return pa.array(lines, pa.string())


def _quoted_records(lines: list[str]) -> tuple[list[int], list[str], list[list[str]]]:
    """RFC 4180 records of physical lines: start line, raw text and fields of each."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    starts, raws, fields = [], [], []
    reader = csv.reader((line + "\n" for line in lines), strict=False)
    end = 0
    for record in reader:
        start, end = end + 1, reader.line_num
        starts.append(start)
        raws.append("\n".join(lines[start - 1 : end]))
        fields.append(record or [""])
    return starts, raws, fields


def _unterminated(raw: str) -> bool:
    """Whether a record's text ends inside a quoted field."""
    try:
        for _ in csv.reader((line + "\n" for line in raw.split("\n")), strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def read_records(path: Path | str) -> CsvRecords:
    """Read a comma-separated export as RFC 4180 CSV, with the physical line each record starts on.

    Accepted: UTF-8 with or without BOM, UTF-16/UTF-32 with a BOM, gzip (by name or magic bytes) of any of
    those; CRLF, LF or CR line ends. Anything else is a RawFileError naming the file, the line and the
    problem. Files without a double quote are split on commas by Arrow (fast); files with quotes go
    through Python's csv module (quoted commas, doubled quotes, newlines inside quotes).
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise RawFileError(path, 1, "file is empty: expected a header line")
    source = _raw_bytes(path)
    if source is not None and not source.strip(b"\xef\xbb\xbf"):
        raise RawFileError(path, 1, "file is empty: expected a header line")
    lines = _physical_lines(path, source)
    if len(lines) == 0:
        raise RawFileError(path, 1, "file is empty: expected a header line")

    if pc.any(pc.match_substring(lines, '"')).as_py():
        starts, raws, fields = _quoted_records(lines.to_pylist())
        problems: list[str | None] = [None] * len(starts)
        if _unterminated(raws[-1]):  # the csv module closes an open quote at EOF silently
            problems[-1] = "unterminated quoted field (runs to the end of the file)"
        table = pa.table(
            {
                "line_number": pa.array(starts, pa.int64()),
                "line": pa.array(raws, pa.string()),
                "fields": pa.array(fields, pa.list_(pa.string())),
                "problem": pa.array(problems, pa.string()),
            }
        )
    else:
        table = pa.table(
            {
                "line_number": pa.array(np.arange(1, len(lines) + 1, dtype=np.int64)),
                "line": lines,
                "fields": pc.split_pattern(lines, ","),
                "problem": pa.nulls(len(lines), pa.string()),
            }
        )
    header = [name.strip() for name in table["fields"][0].as_py()]
    return CsvRecords(header=header, header_line=table["line"][0].as_py(), records=table.slice(1))


def split_header(path: Path, names: Sequence[str]) -> list[str]:
    """Check a header's column names; a header in another delimiter is a clear error."""
    names = [name.strip().strip('"').strip() for name in names]
    if len(names) == 1:
        for delimiter, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in names[0]:
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
