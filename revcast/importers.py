"""Importers: split a user's monolithic export into the landing zone's partition layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from revcast.ingest.core import read_records
from revcast.ingest.usage import detect_layout
from revcast.landing import partition_dir

UNASSIGNED_DIR = "_unassigned"


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: files per partition, lines placed, and lines that had no usable date."""

    partitions: int
    lines: int
    unassigned_lines: int
    unassigned_file: Path | None


def import_usage(export: Path, landing_root: Path) -> ImportSummary:
    """Split a usage export (wide or long) into usage/date=YYYY-MM-DD/<name>.csv, header on each file.

    Lines whose date field is not YYYY-MM-DD go to usage/_unassigned/<name>.csv so nothing is dropped.
    Re-importing the same file replaces its own files and leaves other files alone.
    """
    parsed = read_records(export)
    header = parsed.header_line
    layout = detect_layout(export, parsed.header)
    date_position = layout.positions["date" if layout.kind == "wide" else "usage_date"]
    con = duckdb.connect()
    try:  # raw records (a record with quoted newlines stays whole); day NULL where the date is not YYYY-MM-DD
        con.register("_records", parsed.records)
        day = f"trim(fields[{date_position}])"
        frame = con.sql(
            f"SELECT CASE WHEN regexp_full_match({day}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') THEN {day} END AS day, "
            "line FROM _records ORDER BY line_number"
        ).df()
    finally:
        con.close()

    name = f"{export.stem.removesuffix('.csv')}.csv"
    partitions = 0

    for day, group in frame[frame["day"].notna()].groupby("day", sort=True):
        folder = partition_dir(landing_root, "usage", day)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / name, header, group["line"])
        partitions += 1
    unassigned = frame[frame["day"].isna()]
    unassigned_file = None
    if len(unassigned):
        unassigned_file = Path(landing_root) / "usage" / UNASSIGNED_DIR / name
        unassigned_file.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(unassigned_file, header, unassigned["line"])
    return ImportSummary(partitions, int(frame["day"].notna().sum()), len(unassigned), unassigned_file)


def _write_atomically(path: Path, header: str, lines) -> None:
    """Write header + lines to a temp file and rename, so a crash never leaves half a file."""
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text("\n".join([header, *lines]) + "\n")
    tmp.replace(path)
