"""Checks shared by the groups: a clean table's Great Expectations suite, the quarantine budget, forecast bounds."""

from __future__ import annotations

import math
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from expectations import validate_frame, validation_frame
from revcast.anomalies import find_anomalies, record_anomalies
from revcast.quality import FORECAST_BOUNDS as FORECAST_BOUNDS  # the bound columns every forecast table has
from revcast.quality import forecast_bound_violations, ingest_audit, worst_quarantined_files
from revcast.settings import settings


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
    frame = validation_frame(con.sql(f"SELECT * FROM {table} WHERE {where}", params=params).to_arrow_table())
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
    keys: list[str],
    quarantine_table: str | None = None,
) -> dg.AssetCheckResult:
    """Fail when a partition quarantines more than its budget of lines; name the files and top reasons.

    The budget is the threshold share (REVCAST_QUARANTINE_THRESHOLD, 1%) of the lines read, rounded up to
    whole lines: a 17-line day may quarantine one line, a 380-line day four. Row accounting is checked too.
    """
    threshold = settings().quarantine_threshold
    rows = ingest_audit(con, source, keys)
    over = [k for k, read, bad, _ in rows if bad > math.ceil(threshold * read)]
    unbalanced = [k for k, *_, ok in rows if not ok]
    read, bad = sum(r[1] for r in rows), sum(r[2] for r in rows)
    problems = []
    if over:
        worst = worst_quarantined_files(con, quarantine_table or f"quarantine.{asset}", over)
        files = "; ".join(f"{f}: {n} lines quarantined ({', '.join(r)})" for f, n, r in worst)
        problems.append(f"{len(over)} partition(s) over the {threshold:.1%} quarantine budget: {files}")
    if unbalanced:
        problems.append("row accounting broken for " + ", ".join(unbalanced[:10]))
    if len(rows) != len(keys):
        problems.append(f"no audit record for {len(keys) - len(rows)} partition(s)")
    shares = [q / r for _, r, q, _ in rows if r]
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
            "max_partition_share": float(max(shares, default=0.0)),
        },
    )


def forecast_bound_check_specs(asset: str, prefix: str, point: str) -> list[dg.AssetCheckSpec]:
    """Blocking checks every forecast table gets: no NaN, non-negative, ordered 80/95% bounds."""
    return [
        dg.AssetCheckSpec(
            f"{prefix}_no_nan", asset=asset, blocking=True, description=f"No NaN in {point} or its bounds."
        ),
        dg.AssetCheckSpec(
            f"{prefix}_non_negative",
            asset=asset,
            blocking=True,
            description=f"{point} and bounds >= 0 (clipped at 0: the quantity cannot be negative).",
        ),
        dg.AssetCheckSpec(
            f"{prefix}_ordered_bounds",
            asset=asset,
            blocking=True,
            description=f"lo_95 <= lo_80 <= {point} <= hi_80 <= hi_95.",
        ),
    ]


def forecast_bound_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    asset: str,
    prefix: str,
    table: str,
    point: str,
    cutoff: str,
    clipped: int,
) -> list[dg.AssetCheckResult]:
    """Count the cutoff's rows with a NaN, a negative value or unordered bounds, and judge each."""
    nan_rows, negative_rows, unordered_rows = forecast_bound_violations(con, table, point, cutoff)

    def result(name: str, counted: str, bad: int, **extra) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=asset,
            check_name=f"{prefix}_{name}",
            passed=bad == 0,
            metadata={counted: int(bad), **extra},
        )

    return [
        result("no_nan", "nan_rows", nan_rows),
        result("non_negative", "negative_rows", negative_rows, rows_clipped_at_0=clipped),
        result("ordered_bounds", "unordered_rows", unordered_rows),
    ]


def publishing_gate(check_name: str, champions: pd.DataFrame, baseline: str) -> dg.AssetCheckResult:
    """Passes when every series publishes its baseline or a challenger that beat it by the margin (a forced
    champion that did not fails it), with both MASEs per series in the metadata."""
    passed = bool((champions["beats_baseline"] | (champions["model"] == baseline)).all())
    metadata: dict[str, object] = {}
    for r in champions.itertuples():
        metadata[str(r.unique_id)] = dg.MetadataValue.md(
            f"champion {r.model} MASE {r.mase:.4f} vs {baseline} MASE {r.baseline_mase:.4f}"
        )
        metadata[f"{r.unique_id}_champion_mase"] = float(r.mase)
        metadata[f"{r.unique_id}_{baseline}_mase"] = float(r.baseline_mase)
    return dg.AssetCheckResult(
        check_name=check_name, passed=passed, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
    )


def anomalies_check(
    con: duckdb.DuckDBPyConnection, *, asset: str, check: str, source: str, keys: list[str], run_id: str
) -> dg.AssetCheckResult:
    """Warn about days of the run whose line count or totals are far from the same weekday of the previous
    weeks (revcast/anomalies.py); the flagged days go to audit.anomalies with their numbers."""
    current = settings()
    days = [date.fromisoformat(key) for key in keys]
    report = find_anomalies(
        con, source, days, threshold=current.anomaly_threshold, weeks=current.anomaly_weeks
    )
    record_anomalies(con, report, days, run_id)
    flagged = report.flagged
    table = "\n".join(
        f"| {r.ds} | {r.measure} | {r.value:,.6g} | {r.median:,.6g} | {r.mad:,.6g} | {r.robust_z:+.1f} |"
        for r in flagged.head(50).itertuples()
    )
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=flagged.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if flagged.empty
        else f"{flagged['ds'].nunique()} day(s) beyond {report.threshold:g} robust deviations from the "
        f"same weekday of the previous {report.weeks} weeks: "
        + ", ".join(
            f"{r.ds} {r.measure} {r.value:,.6g} (median {r.median:,.6g}, z {r.robust_z:+.1f})"
            for r in flagged.head(5).itertuples()
        ),
        metadata={
            "days_judged": int(report.judged.loc[~report.judged["median"].isna(), "ds"].nunique()),
            "days_flagged": int(flagged["ds"].nunique()),
            "threshold": report.threshold,
            "history_weeks": report.weeks,
            "anomalies": dg.MetadataValue.md(
                "| day | measure | value | median | MAD | robust z |\n|---|---|--:|--:|--:|--:|\n" + table
                if table
                else "_none_"
            ),
        },
    )
