"""Parquet exports of every marts.* table: `exports/<table>/month=YYYY-MM/*.parquet` (hive-style), written into
a staging folder and swapped in whole, so a crash while writing leaves the previous export as it was. A NULL
month lands in `month=__HIVE_DEFAULT_PARTITION__`."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from revcast.warehouse import column_name, table_columns, table_name

MONTH_KEY = "month"
# the column a table is split by month on: its own `month` column, else `date` or `ds`, else its training
# `cutoff` (YYYY-MM), else its first DATE or TIMESTAMP column; a table with none of them is written whole
DAY_COLUMNS = ("date", "ds")


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


def _is_time(type_: str) -> bool:
    return type_ == "DATE" or type_.startswith("TIMESTAMP")


def month_column(columns: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(column, SQL expression of the month key) a table is split by, or (None, None) when it has none.

    A table's own `month` column always gives the key (a date as YYYY-MM, any other value as written), so the
    key stands in for it in the files and nothing is lost."""
    types = dict(columns)
    if MONTH_KEY in types:
        t = types[MONTH_KEY]
        return MONTH_KEY, f"strftime({MONTH_KEY}, '%Y-%m')" if _is_time(
            t
        ) else f"CAST({MONTH_KEY} AS VARCHAR)"
    for name in DAY_COLUMNS:
        if name in types and _is_time(types[name]):
            return name, f"strftime({column_name(name)}, '%Y-%m')"
    if types.get("cutoff") == "VARCHAR":
        return "cutoff", "left(cutoff, 7)"
    for name, t in columns:
        if _is_time(t):
            return name, f"strftime({column_name(name)}, '%Y-%m')"
    return None, None


def _export_table(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> TableExport:
    columns = table_columns(con, table)
    column, month_sql = month_column(columns)
    folder.mkdir(parents=True)
    if month_sql is None:  # nothing to split by: the table whole, in one file
        data = con.sql(f"SELECT * FROM {table}").to_arrow_table()
        if data.num_rows:
            pq.write_table(data, folder / "part-0.parquet")
        return TableExport(table, data.num_rows, None, 0)
    kept = [column_name(c) for c, _ in columns if c != MONTH_KEY]  # the key stands in for its own month
    select = ", ".join([*kept, f"{month_sql} AS {MONTH_KEY}"])
    data = con.sql(f"SELECT {select} FROM {table} ORDER BY {MONTH_KEY}").to_arrow_table()
    if data.num_rows:
        pads.write_dataset(
            data,
            folder,
            format="parquet",
            partitioning=pads.partitioning(pa.schema([(MONTH_KEY, pa.string())]), flavor="hive"),
            basename_template="part-{i}.parquet",
            existing_data_behavior="error",
        )
    months = len(set(data.column(MONTH_KEY).to_pylist())) if data.num_rows else 0
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
