"""The subscriptions domain's SQL: the installs training frame, the plan marts' reads and the plan checks."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from revcast.training import fill_gaps

INSTALLS_SQL = """
SELECT platform AS unique_id, install_date AS ds, installs AS y, TRUE AS observed
FROM clean.subscription_installs WHERE install_date <= ? ORDER BY unique_id, ds
"""
PURCHASES_SQL = """
SELECT purchase_date, platform, product_id, duration, billing_cycle, purchases
FROM clean.subscription_purchases WHERE purchase_date <= ?
ORDER BY purchase_date, platform, product_id, duration, billing_cycle
"""
PLAN_SQL = (
    "SELECT * EXCLUDE (source_file, fingerprint, ingested_at) FROM clean.subscription_plan ORDER BY rowid"
)
FORECAST_SQL = """
SELECT platform, ds, yhat, lo_80, hi_80, lo_95, hi_95 FROM forecasts.subscription_installs_forecasts
WHERE cutoff = ? ORDER BY platform, ds
"""
TOLERANCE = 1e-6  # relative: a plan row off by more than this share (or a millionth of a cent) is wrong

# Each returns the offending rows of one cutoff (empty when the check passes).
PLAN_TOTAL_SQL = """
SELECT t.ds, t.platform, t.revenue AS total, n.revenue AS new, r.revenue AS recurrent
FROM marts.subscription_revenue_plan t
JOIN marts.subscription_revenue_plan n USING (cutoff, ds, platform)
JOIN marts.subscription_revenue_plan r USING (cutoff, ds, platform)
WHERE t.cutoff = $cutoff AND t.revenue_type = 'total' AND n.revenue_type = 'new' AND r.revenue_type = 'recurrent'
  AND (abs(t.revenue - n.revenue - r.revenue) > $tol * greatest(1, abs(t.revenue))
       OR abs(t.lo_80 - n.lo_80 - r.lo_80) > $tol * greatest(1, abs(t.lo_80))
       OR abs(t.hi_80 - n.hi_80 - r.hi_80) > $tol * greatest(1, abs(t.hi_80))
       OR abs(t.lo_95 - n.lo_95 - r.lo_95) > $tol * greatest(1, abs(t.lo_95))
       OR abs(t.hi_95 - n.hi_95 - r.hi_95) > $tol * greatest(1, abs(t.hi_95)))
ORDER BY t.ds, t.platform
"""
PLAN_PLATFORM_SUM_SQL = """
WITH parts AS (
    SELECT ds, revenue_type, sum(revenue) AS platforms, count(*) AS n
    FROM marts.subscription_revenue_plan WHERE cutoff = $cutoff AND platform <> 'all' GROUP BY ALL
)
SELECT a.ds, a.revenue_type, a.revenue AS grand_total, p.platforms, p.n AS platform_rows
FROM marts.subscription_revenue_plan a FULL JOIN parts p USING (ds, revenue_type)
WHERE coalesce(a.cutoff, $cutoff) = $cutoff AND coalesce(a.platform, 'all') = 'all'
  AND (a.revenue IS NULL OR p.platforms IS NULL
       OR abs(a.revenue - p.platforms) > $tol * greatest(1, abs(a.revenue)))
ORDER BY ds, revenue_type
"""
PLAN_NEGATIVE_SQL = """
SELECT ds, platform, revenue_type, revenue, lo_80, hi_80, lo_95, hi_95 FROM marts.subscription_revenue_plan
WHERE cutoff = $cutoff AND (revenue < 0 OR lo_80 < 0 OR hi_80 < 0 OR lo_95 < 0 OR hi_95 < 0
                            OR isnan(revenue) OR isnan(lo_95) OR isnan(hi_95))
ORDER BY ds, platform, revenue_type
"""
PLAN_CHECKS = {
    "total_is_new_plus_recurrent": PLAN_TOTAL_SQL,
    "platforms_sum_to_grand_total": PLAN_PLATFORM_SUM_SQL,
    "no_negative_revenue": PLAN_NEGATIVE_SQL,
}


def installs_series(con: duckdb.DuckDBPyConnection, last_day: date) -> pd.DataFrame:
    """Daily installs per platform through `last_day` (unique_id, ds, y, observed): a day missing inside the
    history is interpolated and flagged; missing last days fail naming them (revcast.training.fill_gaps)."""
    rows = con.execute(INSTALLS_SQL, [last_day]).df()
    if rows.empty:
        return rows
    return fill_gaps(rows, last_day)


def purchases_through(con: duckdb.DuckDBPyConnection, last_day: date) -> pd.DataFrame:
    """The purchase history through `last_day`."""
    return con.execute(PURCHASES_SQL, [last_day]).df()


def plan_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """clean.subscription_plan as loaded (revcast.subscriptions.plan.plan_from_frame rebuilds the plan)."""
    return con.execute(PLAN_SQL).df()


def installs_forecast(con: duckdb.DuckDBPyConnection, cutoff: str) -> pd.DataFrame:
    """The installs forecast of a cutoff (platform, ds and the SCENARIOS columns)."""
    return con.execute(FORECAST_SQL, [cutoff]).df()


def plan_violations(con: duckdb.DuckDBPyConnection, cutoff: str) -> dict[str, pd.DataFrame]:
    """The plan checks of one cutoff: check name -> offending rows (empty frame: passed)."""
    params = {"cutoff": cutoff, "tol": TOLERANCE}
    return {
        name: con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).df()
        for name, sql in PLAN_CHECKS.items()
    }
