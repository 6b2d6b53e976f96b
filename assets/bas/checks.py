"""Checks on BAS tables: quarantine share in whole lines (BAS days are small), unknown organisations, marts."""

import math

import dagster as dg
import duckdb

from revcast.config import quarantine_threshold
from revcast.warehouse import table_name


def quarantine_lines_check(
    con: duckdb.DuckDBPyConnection, *, asset: str, check: str, source: str, keys: list[str]
) -> dg.AssetCheckResult:
    """Fail when a partition quarantines more than the threshold share of its lines, rounded up to whole lines.

    A BAS day can have five runs: one bad line is 20%, yet within a 1% budget rounded up to a line. The usage
    check's strict share would fail such a day; row accounting (read = clean + quarantined) is checked too.
    """
    threshold = quarantine_threshold()
    rows = con.execute(
        """
        SELECT partition_key, arg_max(lines_read, finished_at), arg_max(lines_quarantined, finished_at),
               bool_and(lines_read = lines_clean + lines_quarantined)
        FROM audit.ingest_runs WHERE source = ? AND partition_key IN (SELECT unnest(?))
        GROUP BY partition_key ORDER BY partition_key
        """,
        [source, keys],
    ).fetchall()
    over = [k for k, read, bad, _ in rows if bad > math.ceil(threshold * read)]
    unbalanced = [k for k, *_, ok in rows if not ok]
    read, bad = sum(r[1] for r in rows), sum(r[2] for r in rows)
    problems = []
    if over:
        problems.append(f"{len(over)} partition(s) over the {threshold:.1%} budget: {', '.join(over[:10])}")
    if unbalanced:
        problems.append("row accounting broken for " + ", ".join(unbalanced[:10]))
    if len(rows) != len(keys):
        problems.append(f"no audit record for {len(keys) - len(rows)} partition(s)")
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or None,
        metadata={
            "threshold": threshold,
            "partitions": len(keys),
            "partitions_over_budget": len(over),
            "lines_read": int(read),
            "lines_quarantined": int(bad),
            "quarantined_share": float(bad / read) if read else 0.0,
        },
    )


def unknown_orgs_check(
    con: duckdb.DuckDBPyConnection, *, asset: str, check: str, table: str, key: str, where: str, params: list
) -> dg.AssetCheckResult:
    """Count runs whose organisation is not on the card (kept and flagged, so a warning, never blocking)."""
    table = table_name(table)
    runs, unknown, orgs = con.execute(
        f"SELECT count(*), count(*) FILTER (NOT org_known), count(DISTINCT {key}) FILTER (NOT org_known) "
        f"FROM {table} WHERE {where}",
        params,
    ).fetchall()[0]
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
