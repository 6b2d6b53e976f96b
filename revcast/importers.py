"""Importers: split a user's monolithic export into the landing zone's partition layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from revcast.ingest.core import read_lines
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
    lines = read_lines(export)
    header = lines["line"][0].as_py() if lines.num_rows else ""
    layout = detect_layout(export, header)
    date_position = layout.positions["date" if layout.kind == "wide" else "usage_date"] - 1
    body = lines["line"].slice(1) if lines.num_rows > 1 else pa.array([], pa.string())
    fields = pc.split_pattern(body, ",")
    dates = pc.utf8_trim(pc.list_element(fields, date_position), characters=' "')
    valid = pc.match_substring_regex(dates, r"^\d{4}-\d{2}-\d{2}$")
    table = pa.table({"day": pc.if_else(valid, dates, pa.scalar(None, pa.string())), "line": body})
    name = f"{export.stem}.csv"
    partitions = 0
    frame = table.to_pandas()
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
