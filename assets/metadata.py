"""Metadata every table asset carries: its column schema on the definition (from the warehouse DDL), and at
each materialization the row count, column schema, a markdown preview and, where a picture says more, a plot."""

from __future__ import annotations

import re
from functools import cache

import dagster as dg
import duckdb

from revcast.warehouse import SQL_DIR, apply_ddl, table_columns, table_name


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
        "dagster/column_schema": _schema(table_columns(con, table), _ddl_descriptions().get(table)),
        "preview": dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_no rows_"),
    }


def _schema(columns: list[tuple[str, str]], descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, description=descriptions.get(name)) for name, type_ in columns]
    )


_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS ([a-z_]+\.[a-z_0-9]+)\s*\(", re.IGNORECASE)


@cache
def _ddl_descriptions() -> dict[str, dict[str, str]]:
    """Column descriptions from the DDL's trailing comments (`name TYPE ...,  -- what it is`), for lines that
    define one column."""
    found: dict[str, dict[str, str]] = {}
    for script in sorted((p for p in SQL_DIR.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name):
        table = None
        for line in script.read_text().splitlines():
            created = _CREATE.search(line)
            if created:
                table = created.group(1).lower()
                continue
            if table and line.strip().startswith(")"):
                table = None
            if not table or "--" not in line:
                continue
            definition, comment = line.split("--", 1)
            pieces = [p for p in re.sub(r"\([^)]*\)", "", definition).split(",") if p.strip()]
            if len(pieces) == 1 and comment.strip():
                found.setdefault(table, {})[pieces[0].split()[0]] = comment.strip()
    return found


@cache
def _ddl_columns() -> dict[str, list[tuple[str, str]]]:
    """Every warehouse table's (column, type) pairs, from the shipped DDL applied to an in-memory database."""
    con = duckdb.connect(":memory:")
    try:
        apply_ddl(con)
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in rows:
        tables.setdefault(table, []).append((column, type_))
    return tables


def table_definition(table: str, *, fixed: bool = True) -> dict:
    """Definition metadata of an asset that writes `table`: its name and, for a table the warehouse DDL fixes,
    its column schema, shown in the UI before the first materialization (the same schema each materialization
    reports). A table whose columns follow the frame written (`fixed=False`) reports its schema only when
    materialized."""
    table = table_name(table)
    if not fixed:
        return {"dagster/table_name": table}
    columns = _ddl_columns().get(table)
    if not columns:
        raise ValueError(f"{table} is not a table of the warehouse DDL (revcast/sql)")
    return {
        "dagster/table_name": table,
        "dagster/column_schema": _schema(columns, _ddl_descriptions().get(table)),
    }


def plot_metadata(png: bytes, title: str) -> dg.MarkdownMetadataValue:
    """A PNG as a markdown image (inline data URI), which the Dagster UI renders in the metadata panel."""
    from revcast.plots import png_data_uri

    return dg.MetadataValue.md(f"![{title}]({png_data_uri(png)})")


def tournament_metadata(con: duckdb.DuckDBPyConnection, domain: str, cutoff: str, scores) -> dict:
    """What a model tournament asset reports: its rows of models.scores and a plot of MASE by model."""
    from revcast.plots import tournament_png

    return table_metadata(con, "models.scores", "domain = ? AND cutoff = ?", [domain, cutoff]) | {
        "plot_mase_by_model": plot_metadata(
            tournament_png(scores, title=f"{domain} {cutoff}: MASE by model (champion in green)"),
            "MASE by model",
        )
    }


def forecast_plot(
    forecast, *, series: str, point: str = "yhat", title: str, **kwargs
) -> dg.MarkdownMetadataValue:
    """A forecast's point and 80/95% bands per series, as a markdown image."""
    from revcast.plots import forecast_png

    return plot_metadata(forecast_png(forecast, series=series, point=point, title=title, **kwargs), title)
