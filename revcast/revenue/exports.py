"""Parquet exports of every marts.* table: `exports/<table>/month=YYYY-MM/*.parquet` (hive-style), written into
a staging folder and swapped in whole, so a crash while writing leaves the previous export as it was."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.dataset as pads

from revcast.warehouse import column_name, table_columns, table_name

MONTH_KEY = "month"
# the column a table is split by month on, in order of preference; then any DATE or TIMESTAMP column,
# then a `cutoff` (YYYY-MM); a table with none of them lands in month=__HIVE_DEFAULT_PARTITION__
MONTH_COLUMNS = ("month", "date", "ds")
NO_MONTH = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class TableExport:
    """One exported table: its rows, the column its month comes from, and the months written."""

    table: str
    rows: int
    month_column: str | None
    months: int


def exports_dir(warehouse_path: str | Path) -> Path:
    """exports/ next to the warehouse file."""
    return Path(warehouse_path).parent / "exports"


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table of the marts schema, sorted."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [table_name(f"marts.{r[0]}") for r in rows]


def month_column(columns: list[tuple[str, str]]) -> tuple[str | None, str]:
    """(column, SQL expression of its YYYY-MM) a table is split by, or (None, NULL)."""
    types = dict(columns)
    for name in (*MONTH_COLUMNS, *(c for c, t in columns if t == "DATE" or t.startswith("TIMESTAMP"))):
        if name in types and (types[name] == "DATE" or types[name].startswith("TIMESTAMP")):
            return name, f"strftime({column_name(name)}, '%Y-%m')"
    if types.get("cutoff") == "VARCHAR":
        return "cutoff", "left(cutoff, 7)"
    return None, "CAST(NULL AS VARCHAR)"


def _export_table(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> TableExport:
    columns = table_columns(con, table)
    column, month_sql = month_column(columns)
    # the month key replaces a table's own `month` column (the first day of that month) in the files
    kept = [column_name(c) for c, _ in columns if c != MONTH_KEY]
    select = ", ".join(kept) if kept else "*"
    data = con.execute(
        f"SELECT {select}, {month_sql} AS {MONTH_KEY} FROM {table} ORDER BY {MONTH_KEY}"
    ).to_arrow_table()
    folder.mkdir(parents=True)
    if data.num_rows:
        pads.write_dataset(
            data,
            folder,
            format="parquet",
            partitioning=[MONTH_KEY],
            partitioning_flavor="hive",
            basename_template="part-{i}.parquet",
            existing_data_behavior="error",
        )
    months = len({m for m in data.column(MONTH_KEY).to_pylist()}) if data.num_rows else 0
    return TableExport(table, data.num_rows, column, months)


def export_marts(con: duckdb.DuckDBPyConnection, root: str | Path) -> list[TableExport]:
    """Export every marts.* table under `root`/<table>/ and swap the new export in for the old one."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    _recover(root)
    token = uuid.uuid4().hex[:12]
    staging = root.parent / f".{root.name}.staging-{token}"
    try:
        exported = [_export_table(con, table, staging / table.split(".", 1)[1]) for table in mart_tables(con)]
        staging.mkdir(exist_ok=True)
        swap_in(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return exported


def swap_in(staging: Path, root: Path) -> None:
    """Replace `root` by `staging` with two renames; the old export is removed only once the new one is in."""
    old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:12]}"
    if root.exists():
        os.rename(root, old)
    os.rename(staging, root)
    shutil.rmtree(old, ignore_errors=True)


def _recover(root: Path) -> None:
    """After a crash between the two renames of a swap: put the previous export back; drop stale staging."""
    parent = root.parent
    olds = sorted(parent.glob(f".{root.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not root.exists() and olds:
        os.rename(olds[-1], root)
        olds = olds[:-1]
    for stale in (*olds, *parent.glob(f".{root.name}.staging-*")):
        shutil.rmtree(stale, ignore_errors=True)
