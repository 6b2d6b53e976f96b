"""The DuckDB warehouse: connections, the DDL shipped in revcast/sql, and partition-replacing writes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import duckdb

# package data, so a non-editable install has the DDL too
SQL_DIR: Traversable = files("revcast") / "sql"
SCHEMAS = ("clean", "features", "models", "forecasts", "marts", "billing", "quarantine", "audit")
_TABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def table_name(name: str) -> str:
    """Validate a `schema.table` identifier written by our own code (never user input)."""
    if not _TABLE_NAME.match(name):
        raise ValueError(f"not a schema-qualified table name: {name!r}")
    return name


def column_name(name: str) -> str:
    """Validate a column identifier written by our own code."""
    if not _COLUMN_NAME.match(name):
        raise ValueError(f"not a column name: {name!r}")
    return name


def apply_ddl(con: duckdb.DuckDBPyConnection, sql_dir: Traversable = SQL_DIR) -> None:
    """Create the schemas and every table from revcast/sql/*.sql (idempotent, sorted by file name)."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    scripts = sorted((p for p in sql_dir.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    for script in scripts:
        con.execute(script.read_text())


def connect(path: str | Path, *, read_only: bool = False, retries: int = 20) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer creates the file and the DDL, a reader waits out a writer's lock."""
    path = Path(path)
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"warehouse {path} does not exist yet: materialize an asset first")
        for attempt in range(retries):
            try:
                return duckdb.connect(str(path), read_only=True)
            except duckdb.IOException:
                if attempt == retries - 1:
                    raise
                time.sleep(0.25 * (attempt + 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    apply_ddl(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it lands, or (on any error) none of it."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def replace_window(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    *,
    column: str,
    start: object,
    end: object,
    params: list | None = None,
) -> int:
    """Replace rows with `start <= column < end` by the rows of `select_sql` (call inside a transaction)."""
    table, column = table_name(table), column_name(column)
    con.execute(f"DELETE FROM {table} WHERE {column} >= ? AND {column} < ?", [start, end])
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params or [])
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before


def replace_where(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    *,
    key: dict[str, object],
    params: list | None = None,
) -> int:
    """Replace the rows matching `key` (column -> value) by the rows of `select_sql` (inside a transaction)."""
    table = table_name(table)
    where = " AND ".join(f"{column_name(c)} = ?" for c in key) or "TRUE"
    con.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
    before = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.execute(f"INSERT INTO {table} BY NAME {select_sql}", params or [])
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] - before


def replace_with_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: object, *, key: dict[str, object]
) -> int:
    """Replace the rows matching `key` by a DataFrame's (or Arrow table's) rows in one transaction."""
    con.register("_replacement_rows", frame)
    try:
        with transaction(con):
            return replace_where(con, table, "SELECT * FROM _replacement_rows", key=key)
    finally:
        con.unregister("_replacement_rows")


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, type) pairs of a table, in order."""
    schema, name = table_name(table).split(".")
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
