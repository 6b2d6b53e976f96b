"""`revcast report`: what the warehouse holds, as rich tables for people or JSON for machines.

Tables and row counts per schema, quarantined lines per source with their top reasons, the latest
forecasts per stream (read through `service.forecasts`, the same path the API serves them from) and the
published champions per model domain.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from revcast.quality import quarantine_overview, table_rows
from revcast_app.service import forecasts


def _champions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per domain, the champions of its latest cutoff (one per series, the latest registration)."""
    rows = con.execute(
        """
        WITH champions AS (
            SELECT domain, cutoff, unique_id, model, fallback_reason
            FROM models.registry WHERE is_champion
            QUALIFY cutoff = max(cutoff) OVER (PARTITION BY domain)
                AND row_number() OVER (PARTITION BY domain, unique_id ORDER BY registered_at DESC) = 1
        ), per_model AS (
            SELECT domain, cutoff, model, count(*) AS series, count(fallback_reason) AS fallbacks
            FROM champions GROUP BY ALL
        )
        SELECT domain, any_value(cutoff), sum(series)::BIGINT, sum(fallbacks)::BIGINT,
               list({'model': model, 'series': series} ORDER BY series DESC, model)
        FROM per_model GROUP BY domain ORDER BY domain
        """
    ).fetchall()
    return [
        {
            "domain": domain,
            "cutoff": cutoff,
            "series": series,
            "fallbacks": fallbacks,
            "models": [{"model": m["model"], "series": m["series"]} for m in models],
        }
        for domain, cutoff, series, fallbacks, models in rows
    ]


def build_report(con: duckdb.DuckDBPyConnection, warehouse: str | Path) -> dict[str, Any]:
    """Everything `revcast report` shows, as plain data (JSON-ready once dates are strings)."""
    tables = table_rows(con)
    return {
        "warehouse": str(warehouse),
        "tables": tables,
        "quarantine": quarantine_overview(con, tables),
        "forecasts": forecasts.latest(con),
        "champions": _champions(con),
    }


def jsonable(value: Any) -> Any:
    """Dates as ISO strings, recursively."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def render(report: dict[str, Any], console) -> None:
    """Print the report as rich tables on `console` (a rich Console)."""
    from rich.table import Table

    console.print(f"Warehouse {report['warehouse']}", soft_wrap=True)
    tables = Table(title="Tables and rows per schema", title_justify="left")
    tables.add_column("schema")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    previous = None
    for t in report["tables"]:
        if previous is not None and t["schema"] != previous:
            tables.add_section()
        tables.add_row(t["schema"] if t["schema"] != previous else "", t["table"], f"{t['rows']:,}")
        previous = t["schema"]
    console.print(tables)

    quarantine = Table(title="Quarantined lines per source", title_justify="left")
    quarantine.add_column("source")
    quarantine.add_column("lines", justify="right")
    quarantine.add_column("top reasons")
    for q in report["quarantine"]:
        reasons = "; ".join(f"{r['reason'][:60]} ({r['lines']:,})" for r in q["top_reasons"]) or "none"
        quarantine.add_row(q["source"], f"{q['lines']:,}", reasons)
    console.print(quarantine)

    latest = Table(title="Latest forecasts per stream", title_justify="left")
    for column, justify in (
        ("stream", "left"),
        ("table", "left"),
        ("cutoff", "left"),
        ("rows", "right"),
        ("entities", "right"),
        ("dates", "left"),
        ("models", "right"),
        ("status", "left"),
    ):
        latest.add_column(column, justify=justify)
    for f in report["forecasts"]:
        dates = f"{f['first_date']} .. {f['last_date']}" if f.get("first_date") else ""
        latest.add_row(
            f["stream"],
            f["table"],
            f["cutoff"] or "-",
            f"{f['rows']:,}",
            f"{f['entities']:,} {f['entity']}" if f.get("entities") is not None else "",
            dates,
            "" if f.get("models") is None else str(f["models"]),
            f["status"],
        )
    console.print(latest)

    champions = Table(title="Published champions per domain", title_justify="left")
    for column in ("domain", "cutoff", "series", "fallbacks", "models"):
        champions.add_column(column, justify="right" if column in ("series", "fallbacks") else "left")
    for c in report["champions"]:
        models = ", ".join(f"{m['model']} x{m['series']}" for m in c["models"])
        champions.add_row(c["domain"], c["cutoff"], f"{c['series']:,}", f"{c['fallbacks']:,}", models)
    if not report["champions"]:
        champions.add_row("none yet", "", "", "", "")
    console.print(champions)
