"""The landing zone: raw exports in a hive-style layout, `<root>/<source>/<key>=<value>/*.<ext>`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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


# a partition key as its folder spells it; anything else (`..`, `/`, quotes) is refused before it meets a path
KEY_PATTERNS = {"date": re.compile(r"\d{4}-\d{2}-\d{2}"), "month": re.compile(r"\d{4}-\d{2}")}
# a producer that writes a partition's files and then this empty file says the partition is complete
SUCCESS_MARKER = "_SUCCESS"


class MissingLandingFile(FileNotFoundError):
    """A partition has no file in the landing zone: a missing day is not an empty day."""


class UnsafeLandingPath(ValueError):
    """A partition key or a file that would lead outside the landing root."""


def _layout(source: str) -> tuple[str, str, str]:
    try:
        return {**DAILY_SOURCES, **MONTHLY_SOURCES}[source]
    except KeyError:
        raise ValueError(f"unknown landing source {source!r}") from None


def partition_dir(root: str | Path, source: str, key: str) -> Path:
    """The folder that holds one partition's files, e.g. data/landing/usage/date=2021-03-01.

    Raises UnsafeLandingPath for a key that is not a date (daily) or a month (monthly) as the folders spell it.
    """
    folder, part, _ = _layout(source)
    if not isinstance(key, str) or not KEY_PATTERNS[part].fullmatch(key):
        raise UnsafeLandingPath(
            f"{source} partition key {key!r} is not a {part} (expected {KEY_PATTERNS[part].pattern})"
        )
    return Path(root) / folder / f"{part}={key}"


def _inside(root: Path, path: Path) -> bool:
    """Whether `path`, links resolved, is under `root` (a link to /etc/passwd is not)."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def partition_files(root: str | Path, source: str, key: str) -> list[Path]:
    """The files of one partition, sorted; raises MissingLandingFile when there are none.

    A file (or a link) whose real path is outside the landing root is refused (UnsafeLandingPath).
    """
    folder = partition_dir(root, source, key)
    ext = _layout(source)[2]
    files = sorted(p for pattern in _patterns(ext) for p in folder.glob(pattern) if p.is_file())
    outside = [p for p in files if not _inside(Path(root), p)]
    if outside:
        raise UnsafeLandingPath(
            f"{source} partition {key}: {outside[0]} leads outside the landing root {root}"
        )
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
    return sorted(k for k in keys if KEY_PATTERNS[part].fullmatch(k))


def still_arriving(keys: Iterable[str], *, within_days: int, today: date | None = None) -> bool:
    """Whether every missing partition is recent enough (a day, or a month, ending at most `within_days`
    before today, UTC) that its export may still be on its way, rather than a gap in the history."""
    today = today or datetime.now(UTC).date()
    horizon = today - timedelta(days=within_days)
    ends = []
    for key in keys:
        if len(key) == 7:  # a month: it ends on its last day
            first = date.fromisoformat(f"{key}-01")
            ends.append((first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
        else:
            ends.append(date.fromisoformat(key))
    return bool(ends) and min(ends) >= horizon


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


@dataclass(frozen=True)
class LandingChanges:
    """One look at a source's partitions: the keys whose content changed and are complete, the keys still
    being written (looked at again later), and the state to carry to the next look."""

    changed: list[str]
    settling: list[str]
    state: dict


def _stat_signature(files: list[Path]) -> str:
    """Names, sizes, modification and change times: equal means no write happened in between."""
    parts = []
    for path in files:
        st = path.stat()
        parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")
    return hashlib.blake2b("|".join(parts).encode(), digest_size=8).hexdigest()  # short: it lives in a cursor


def look_for_changes(
    root: str | Path,
    source: str,
    keys: Iterable[str],
    state: dict | None,
    *,
    now: float,
    settle_seconds: float,
) -> LandingChanges:
    """Which partitions of `source` have new content (a sha256 over the files' names and bytes, not their
    times) that is complete: the folder holds a `_SUCCESS` marker, or no file in it has changed for
    `settle_seconds`. A partition still being written is left for a later look.

    `state` (JSON-ready) carries, per key, the content hash last acted on, and the stat signature it was
    computed from (a file is re-read only when a write changed its signature) or first seen at (settling).
    """
    state = {"hashes": {}, "stats": {}, "settling": {}, **(state or {})}
    hashes, stats, settling = dict(state["hashes"]), dict(state["stats"]), dict(state["settling"])
    changed, waiting = [], []
    for key in keys:
        try:
            files = partition_files(root, source, key)
        except MissingLandingFile:
            continue
        signature = _stat_signature(files)
        if stats.get(key) == signature:
            settling.pop(key, None)
            continue  # no write since its content was hashed
        complete = (partition_dir(root, source, key) / SUCCESS_MARKER).is_file()
        if not complete:
            seen_signature, seen_at = settling.get(key, (None, now))
            if seen_signature != signature:
                seen_at = now  # written since the last look: the quiet period starts again
            if now - seen_at < settle_seconds or now - _newest_change(files) < settle_seconds:
                settling[key] = (signature, seen_at)
                waiting.append(key)
                continue
        settling.pop(key, None)
        digest = fingerprint(files)[:32]
        stats[key] = signature
        if hashes.get(key) != digest:
            hashes[key] = digest
            changed.append(key)
    return LandingChanges(
        changed=changed, settling=waiting, state={"hashes": hashes, "stats": stats, "settling": settling}
    )


def _newest_change(files: list[Path]) -> float:
    return max(max(p.stat().st_mtime, p.stat().st_ctime) for p in files)
