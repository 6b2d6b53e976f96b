"""Metadata every table asset reports: row count, column schema and a markdown preview."""

from __future__ import annotations

import dagster as dg
import duckdb

from revcast.warehouse import table_columns, table_name


def table_metadata(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "TRUE", params=None, preview: int = 5
) -> dict:
    """Row count, column schema and a preview of `table` (optionally filtered by a parameterised where)."""
    table = table_name(table)
    rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params or []).fetchall()[0][0]
    frame = con.execute(f"SELECT * FROM {table} WHERE {where} LIMIT {int(preview)}", params or []).df()
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/table_name": table,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, type_) for name, type_ in table_columns(con, table)]
        ),
        "preview": dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_no rows_"),
    }
