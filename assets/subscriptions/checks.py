"""The revenue plan's blocking checks: judged on the mart's rows of one cutoff (SQL in revcast.subscriptions.sql)."""

import dagster as dg
import duckdb

from revcast.subscriptions.sql import plan_violations

PLAN_ASSET = "subscription_revenue_plan"
PLAN_CHECK_DESCRIPTIONS = {
    "total_is_new_plus_recurrent": "Every day and platform: total = new + recurrent (point and bounds).",
    "platforms_sum_to_grand_total": "Every day and revenue type: the platforms add up to the 'all' row, "
    "each platform counted once.",
    "no_negative_revenue": "No negative or NaN revenue or bound.",
}


def plan_check_name(name: str) -> str:
    return f"subscription_plan_{name}"


def plan_check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(plan_check_name(name), asset=PLAN_ASSET, blocking=True, description=text)
        for name, text in PLAN_CHECK_DESCRIPTIONS.items()
    ]


def plan_checks(con: duckdb.DuckDBPyConnection, cutoff: str) -> list[dg.AssetCheckResult]:
    """One result per plan check, with the count and the first offending rows."""
    results = []
    for name, bad in plan_violations(con, cutoff).items():
        results.append(
            dg.AssetCheckResult(
                asset_key=PLAN_ASSET,
                check_name=plan_check_name(name),
                passed=bad.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "bad_rows": len(bad),
                    "examples": dg.MetadataValue.md(
                        bad.head(10).to_markdown(index=False) if len(bad) else "_none_"
                    ),
                },
            )
        )
    return results
