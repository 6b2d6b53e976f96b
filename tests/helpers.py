"""Helpers shared by tests (not part of the product)."""

import duckdb

from revcast.warehouse import column_name, table_name


def table_checksum(con: duckdb.DuckDBPyConnection, table: str, columns: list[str] | None = None) -> str:
    """An order-independent checksum of a table's rows (or of the given columns): equal means same rows."""
    cols = ", ".join(column_name(c) for c in columns) if columns else "*"
    row = con.execute(
        f"SELECT count(*), coalesce(sum(hash(r)), 0)::HUGEINT FROM (SELECT ({cols}) AS r FROM {table_name(table)})"
    ).fetchall()[0]
    return f"{row[0]}:{row[1]}"
