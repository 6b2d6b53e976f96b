"""Data-quality numbers the checks judge: ingest row accounting, quarantined files, forecast bound violations.

Dagster-free: each function returns counts; the asset checks turn them into verdicts.
"""

from __future__ import annotations

from typing import Any

import duckdb

from revcast.ingest.core import quarantine_summary
from revcast.warehouse import column_name, table_name

FORECAST_BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")

# per partition: the latest run's lines read and quarantined, and whether every run's lines add up
INGEST_AUDIT_SQL = """
SELECT partition_key, arg_max(lines_read, finished_at), arg_max(lines_quarantined, finished_at),
       bool_and(lines_read = lines_clean + lines_quarantined)
FROM audit.ingest_runs WHERE source = ? AND partition_key IN (SELECT unnest(?))
GROUP BY partition_key ORDER BY partition_key
"""


def ingest_audit(
    con: duckdb.DuckDBPyConnection, source: str, keys: list[str]
) -> list[tuple[str, int, int, bool]]:
    """(partition, lines read, lines quarantined, lines balance) of each audited partition of `source`."""
    return con.execute(INGEST_AUDIT_SQL, [source, keys]).fetchall()


def table_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every warehouse table (outside `main`) with its row count: schema, table, rows."""
    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal AND schema_name <> 'main' "
        "ORDER BY schema_name, table_name"
    ).fetchall()
    # names come from the catalog (our DDL), quoted as identifiers
    return [
        {
            "schema": schema,
            "table": table,
            "rows": con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0],
        }
        for schema, table in names
    ]


def quarantine_overview(
    con: duckdb.DuckDBPyConnection, tables: list[dict[str, Any]], top: int = 3
) -> list[dict[str, Any]]:
    """Per quarantine table of `tables` (from `table_rows`): source, lines and its `top` reasons."""
    out = []
    for t in tables:
        if t["schema"] != "quarantine":
            continue
        reasons = quarantine_summary(con, f"quarantine.{t['table']}", top=top) if t["rows"] else []
        out.append(
            {
                "source": t["table"],
                "lines": t["rows"],
                "top_reasons": [{"reason": why, "lines": n} for why, n in reasons],
            }
        )
    return out


def worst_quarantined_files(
    con: duckdb.DuckDBPyConnection, quarantine_table: str, keys: list[str], limit: int = 5
) -> list[tuple[str, int, list[str]]]:
    """(file, lines quarantined, up to three first reasons) of the files quarantining most in `keys`."""
    return con.execute(
        f"""
        SELECT source_file, count(*) AS lines, list(DISTINCT split_part(reason, ';', 1))[1:3] AS reasons
        FROM {table_name(quarantine_table)} WHERE partition_key IN (SELECT unnest(?))
        GROUP BY source_file ORDER BY lines DESC, source_file LIMIT {int(limit)}
        """,
        [keys],
    ).fetchall()


def forecast_bound_violations(
    con: duckdb.DuckDBPyConnection, table: str, point: str, cutoff: str
) -> tuple[int, int, int]:
    """Rows of a cutoff's forecasts with a NaN, with a negative value, and with unordered 80/95% bounds."""
    table, point = table_name(table), column_name(point)
    values = ", ".join((point, *FORECAST_BOUNDS))
    nan = " OR ".join(f"isnan({c})" for c in (point, *FORECAST_BOUNDS))
    return con.execute(
        f"""
        SELECT count(*) FILTER (WHERE {nan}),
               count(*) FILTER (WHERE least({values}) < 0),
               count(*) FILTER (WHERE NOT (lo_95 <= lo_80 AND lo_80 <= {point} AND {point} <= hi_80
                                           AND hi_80 <= hi_95))
        FROM {table} WHERE cutoff = ?
        """,
        [cutoff],
    ).fetchall()[0]
