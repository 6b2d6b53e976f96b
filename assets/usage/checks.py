"""Checks on usage tables: the Great Expectations suite and the quarantine share, per partition window."""

from __future__ import annotations

import dagster as dg
import duckdb
import pandas as pd

from expectations import validate_frame
from revcast.config import quarantine_threshold


def expectations_check(
    con: duckdb.DuckDBPyConnection,
    *,
    asset: str,
    check: str,
    suite: str,
    table: str,
    where: str,
    params: list,
) -> dg.AssetCheckResult:
    """Run a GE suite over the rows of `table` in the run's partition window."""
    # Arrow-backed columns: no Python string objects, 5x faster to fetch than .df() on millions of rows
    frame = con.sql(f"SELECT * FROM {table} WHERE {where}", params=params).to_arrow_table().to_pandas(
        types_mapper=pd.ArrowDtype
    )
    outcome = validate_frame(suite, frame)
    failed = outcome.failures()
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if outcome.success
        else "; ".join(f"{o.expectation}({o.column}): {o.unexpected_count} unexpected" for o in failed),
        metadata={
            "rows_validated": outcome.rows,
            "expectations": len(outcome.outcomes),
            "failed": len(failed),
            "results": dg.MetadataValue.md(outcome.markdown()),
        },
    )


def quarantine_share_check(
    con: duckdb.DuckDBPyConnection,
    *,
    asset: str,
    check: str,
    source: str,
    quarantine_table: str,
    keys: list[str],
) -> dg.AssetCheckResult:
    """Fail when a partition's quarantined share of lines exceeds the threshold; name files and reasons."""
    threshold = quarantine_threshold()
    rows = con.execute(
        """
        SELECT partition_key, arg_max(lines_read, finished_at) AS lines_read,
               arg_max(lines_quarantined, finished_at) AS lines_quarantined,
               bool_and(lines_read = lines_clean + lines_quarantined) AS balanced
        FROM audit.ingest_runs WHERE source = ? AND partition_key IN (SELECT unnest(?))
        GROUP BY partition_key ORDER BY partition_key
        """,
        [source, keys],
    ).fetchall()
    share = {k: (q / r if r else 0.0) for k, r, q, _ in rows}
    over = [k for k, s in share.items() if s > threshold]
    unbalanced = [k for k, *_, ok in rows if not ok]
    total_read = sum(r for _, r, _, _ in rows)
    total_q = sum(q for _, _, q, _ in rows)
    details = ""
    if over:
        worst = con.execute(
            f"""
            SELECT source_file, count(*) AS lines, list(DISTINCT split_part(reason, ';', 1))[1:3] AS reasons
            FROM {quarantine_table} WHERE partition_key IN (SELECT unnest(?))
            GROUP BY source_file ORDER BY lines DESC LIMIT 5
            """,
            [over],
        ).fetchall()
        details = "; ".join(f"{f}: {n} lines quarantined ({', '.join(r)})" for f, n, r in worst)
    passed = not over and not unbalanced and len(rows) == len(keys)
    description = (
        f"{len(over)} partition(s) above the {threshold:.1%} quarantine threshold: {details}"
        if over
        else ("row accounting broken for " + ", ".join(unbalanced) if unbalanced else None)
    )
    if len(rows) != len(keys):
        description = f"no audit record for {len(keys) - len(rows)} partition(s)"
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "threshold": threshold,
            "partitions": len(keys),
            "partitions_over_threshold": len(over),
            "lines_read": int(total_read),
            "lines_quarantined": int(total_q),
            "quarantined_share": float(total_q / total_read) if total_read else 0.0,
            "max_partition_share": float(max(share.values(), default=0.0)),
        },
    )
