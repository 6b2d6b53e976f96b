"""Checks on BAS tables: unknown organisations and the marts (the quarantine budget is in assets/checks.py)."""

import dagster as dg
import duckdb

from revcast.bas.sql import unknown_orgs_sql


def unknown_orgs_check(
    con: duckdb.DuckDBPyConnection, *, asset: str, check: str, table: str, key: str, where: str, params: list
) -> dg.AssetCheckResult:
    """Count runs whose organisation is not on the card (kept and flagged, so a warning, never blocking)."""
    runs, unknown, orgs = con.execute(unknown_orgs_sql(table, key, where), params).fetchall()[0]
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=unknown == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{unknown} of {runs} runs ({unknown / runs if runs else 0:.1%}) from {orgs} organisation(s) "
        "not on the organisation card"
        if unknown
        else None,
        metadata={"runs": int(runs), "unknown_org_runs": int(unknown), "unknown_orgs": int(orgs)},
    )


def mart_check(asset: str, check: str, problems: list[str], **numbers) -> dg.AssetCheckResult:
    """A blocking mart check: passes when `problems` is empty; `numbers` explain the verdict."""
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or None,
        metadata={k: v if isinstance(v, str | bool) else float(v) for k, v in numbers.items()},
    )
