"""The landing zone: raw exports in a hive-style layout, `<root>/<source>/<key>=<value>/*.<ext>`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

# source -> (partition folder key, file extension); paths are relative to the landing root
DAILY_SOURCES = {
    "usage": ("usage", "date", "csv"),
    "fullbas": ("bas/fullbas", "date", "csv"),
    "simplebas": ("bas/simplebas", "date", "csv"),
}
MONTHLY_SOURCES = {"invoices": ("invoices", "month", "json")}


def _patterns(ext: str) -> tuple[str, ...]:
    """File name patterns of an extension; a CSV export may also land gzipped (`*.csv.gz`)."""
    return (f"*.{ext}", f"*.{ext}.gz") if ext == "csv" else (f"*.{ext}",)


class MissingLandingFile(FileNotFoundError):
    """A partition has no file in the landing zone: a missing day is not an empty day."""


def _layout(source: str) -> tuple[str, str, str]:
    try:
        return {**DAILY_SOURCES, **MONTHLY_SOURCES}[source]
    except KeyError:
        raise ValueError(f"unknown landing source {source!r}") from None


def partition_dir(root: str | Path, source: str, key: str) -> Path:
    """The folder that holds one partition's files, e.g. data/landing/usage/date=2021-03-01."""
    folder, part, _ = _layout(source)
    return Path(root) / folder / f"{part}={key}"


def partition_files(root: str | Path, source: str, key: str) -> list[Path]:
    """The files of one partition, sorted; raises MissingLandingFile when there are none."""
    folder = partition_dir(root, source, key)
    ext = _layout(source)[2]
    files = sorted(p for pattern in _patterns(ext) for p in folder.glob(pattern) if p.is_file())
    if not files:
        raise MissingLandingFile(
            f"no {source} file for partition {key}: expected {folder}/*.{ext}. "
            "A missing day is not an empty day: land the export (or an empty file with its header) first."
        )
    return files


def available_keys(root: str | Path, source: str) -> list[str]:
    """Partition keys that have at least one file, sorted."""
    folder, part, ext = _layout(source)
    base = Path(root) / folder
    keys = {
        p.parent.name.split("=", 1)[1] for pattern in _patterns(ext) for p in base.glob(f"{part}=*/{pattern}")
    }

    return sorted(keys)


def days(start: date, end_exclusive: date) -> Iterable[date]:
    """Each day in [start, end_exclusive)."""
    for offset in range((end_exclusive - start).days):
        yield start + timedelta(days=offset)


def fingerprint(files: Iterable[Path], salt: str = "") -> str:
    """sha256 over file names and bytes (and a parser-version salt): equal means nothing to redo."""
    digest = hashlib.sha256(salt.encode())
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()
