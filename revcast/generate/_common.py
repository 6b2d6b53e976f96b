"""Shared helpers of the sample-data generator: seeded RNGs, Arrow string formatting, bad-row allocation, writers."""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 2_000_000


def domain_rng(seed: int, domain: str) -> np.random.Generator:
    """One PCG64 generator per domain, derived from the seed and the domain name (independent of other domains)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(domain.encode())])))


def day_range(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_numbers(days: Sequence[date]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day-of-month, weekday (Mon=0) and day-of-year arrays of a list of days."""
    d64 = np.array([d.isoformat() for d in days], dtype="datetime64[D]")
    years = d64.astype("datetime64[Y]").astype(int) + 1970
    months = d64.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (d64 - d64.astype("datetime64[M]")).astype(int) + 1
    weekday = (d64.astype(int) + 3) % 7
    return years, months, dom, weekday


def day_of_year(days: Sequence[date]) -> np.ndarray:
    """Day of year (1..366) per day."""
    return np.array([d.timetuple().tm_yday for d in days], dtype=np.int64)


@dataclass
class DomainResult:
    """What one domain wrote: files, rows per source, injected bad rows and flagged (valid but notable) rows."""

    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    bad: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    flagged: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    bad_by_file: dict[str, dict[str, int]] = field(default_factory=dict)


# ---------------------------------------------------------------- formatting (vectorised, Arrow kernels)


def int_str(values: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def zpad(values: np.ndarray, width: int) -> pa.Array:
    """Non-negative integers as zero-padded strings of a fixed width."""
    return pc.utf8_lpad(int_str(values), width, padding="0")


def fixed_str(values: np.ndarray, decimals: int) -> pa.Array:
    """Floats with a fixed number of decimals (round half to even on the last digit), e.g. 12.500."""
    scaled = np.rint(np.asarray(values, dtype=np.float64) * 10**decimals).astype(np.int64)
    mag = np.abs(scaled)
    body = pc.binary_join_element_wise(int_str(mag // 10**decimals), zpad(mag % 10**decimals, decimals), ".")
    if (scaled < 0).any():
        body = pc.if_else(pa.array(scaled < 0), pc.binary_join_element_wise("-", body, ""), body)
    return body


def join(columns: Sequence[pa.Array | str], sep: str) -> pa.Array:
    """Join string columns (or scalar strings) element-wise."""
    return pc.binary_join_element_wise(*columns, sep)


def replace_at(column: pa.Array, positions: np.ndarray, values: Sequence[str]) -> pa.Array:
    """Replace the strings at the given (sorted, distinct) positions."""
    if len(positions) == 0:
        return column
    order = np.argsort(positions, kind="stable")
    mask = np.zeros(len(column), dtype=bool)
    mask[positions] = True
    return pc.replace_with_mask(column, pa.array(mask), pa.array([values[i] for i in order], pa.string()))


# ---------------------------------------------------------------- bad rows


def allocate_bad(
    rng: np.random.Generator, group: np.ndarray, n_groups: int, bad_share: float, n_kinds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick bad rows spread evenly over groups (files) of rows sorted by group: (sorted row positions, kind codes).

    Per group the count is floor or ceil of bad_share x rows (cumulative rounding), so no file is far above the share.
    """
    n = len(group)
    if n == 0 or bad_share <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sizes = np.bincount(group, minlength=n_groups)
    cum = np.floor(bad_share * np.cumsum(sizes) + 0.5).astype(np.int64)
    per_group = np.minimum(np.diff(cum, prepend=0), sizes)
    starts = np.cumsum(sizes) - sizes
    owner = np.repeat(np.arange(n_groups), per_group)
    chosen = np.full(len(owner), -1, dtype=np.int64)
    todo = np.arange(len(owner))
    while len(todo):  # draw distinct rows per group; redraw the few collisions
        chosen[todo] = starts[owner[todo]] + np.floor(rng.random(len(todo)) * sizes[owner[todo]]).astype(
            np.int64
        )
        _, first = np.unique(chosen, return_index=True)
        keep = np.zeros(len(chosen), dtype=bool)
        keep[first] = True
        todo = np.nonzero(~keep)[0]
    chosen.sort()
    kinds = rng.permutation(np.arange(len(chosen)) % n_kinds)
    return chosen, kinds


def with_duplicates(rng: np.random.Generator, group: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Take-indices that add one copy of each source row at a random place inside the same group (rows sorted by group)."""
    n = len(group)
    if len(sources) == 0:
        return np.arange(n)
    starts = np.searchsorted(group, group[sources], side="left")
    ends = np.searchsorted(group, group[sources], side="right")
    at = starts + np.floor(rng.random(len(sources)) * (ends - starts + 1)).astype(np.int64)
    return np.insert(np.arange(n), at, sources)


def count_by_file(paths: Sequence[str], group: np.ndarray, kinds: Sequence[str], codes: np.ndarray) -> dict:
    """{file: {kind: count}} for the injected rows."""
    out: dict[str, dict[str, int]] = {}
    for g, k in zip(group.tolist(), codes.tolist(), strict=True):
        per = out.setdefault(paths[g], {})
        per[kinds[k]] = per.get(kinds[k], 0) + 1
    return out


# ---------------------------------------------------------------- writing


def write_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write a file, leaving it untouched (mtime included) when its bytes are already the same."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == bytes(data):
        return
    path.write_bytes(data)


def array_bytes(lines: pa.Array) -> bytes:
    """The concatenated bytes of a string array (its data buffer between the first and last offset)."""
    if len(lines) == 0:
        return b""
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return bytes(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


# ---------------------------------------------------------------- real-world export variants

BOM_SHARE, QUOTED_SHARE, CRLF_SHARE = 0.03, 0.03, 0.02  # of the files of a daily source


def variants_rng(rng: np.random.Generator) -> np.random.Generator:
    """A generator for export variants, independent of `rng`'s draws (which it leaves as they are)."""
    return np.random.Generator(rng.bit_generator.jumped())


def quote_all(text: bytes) -> bytes:
    """Every field in double quotes (inner quotes doubled), as spreadsheet exports write them; empty stays empty."""
    out = []
    for line in text.decode("utf-8").split("\n"):
        fields = line.split(",") if line else []
        out.append(",".join('"' + f.replace('"', '""') + '"' if f else "" for f in fields))
    return "\n".join(out).encode("utf-8")


def file_variants(rng: np.random.Generator, n_files: int) -> Callable[[int, bytes], bytes]:
    """Per file, at realistic rates: a UTF-8 byte-order mark, every field quoted, CRLF line ends."""
    draws = rng.random((n_files, 3))
    bom, quoted, crlf = draws[:, 0] < BOM_SHARE, draws[:, 1] < QUOTED_SHARE, draws[:, 2] < CRLF_SHARE

    def finish(k: int, data: bytes) -> bytes:
        data = quote_all(data) if quoted[k] else data
        data = data.replace(b"\n", b"\r\n") if crlf[k] else data
        return b"\xef\xbb\xbf" + data if bom[k] else data

    return finish


def write_groups(
    out: Path,
    paths: Sequence[str],
    header: str,
    group: np.ndarray,
    format_lines: Callable[[slice], pa.Array],
    finish: Callable[[int, bytes], bytes] | None = None,
) -> None:
    """Write one CSV per group; rows are sorted by group and formatted chunk by chunk as newline-terminated lines.

    `finish(k, data)` turns file k's bytes into their exported form (see `file_variants`).
    """
    bounds = np.searchsorted(group, np.arange(len(paths) + 1), side="left")
    head = header.encode()
    g = 0
    while g < len(paths):
        # whole groups, up to about CHUNK_ROWS rows at a time
        g_end = min(
            max(int(np.searchsorted(bounds, bounds[g] + CHUNK_ROWS, side="right")) - 1, g + 1), len(paths)
        )
        lo, hi = int(bounds[g]), int(bounds[g_end])
        lines = format_lines(slice(lo, hi)) if hi > lo else pa.array([], pa.string())
        for k in range(g, g_end):
            data = head + array_bytes(lines[int(bounds[k]) - lo : int(bounds[k + 1]) - lo])
            write_bytes(out / paths[k], finish(k, data) if finish is not None else data)

        g = g_end
