"""Usage revenue per training cutoff: actual (history) and forecast (quantity x unit price), daily and monthly.

Interval bounds of a sum are not the sums of daily quantiles. Monthly (and all-metric) bounds assume
independent errors: half-width = sqrt(sum of squared daily half-widths), the narrowest defensible choice.
The plain sums of the daily 95% bounds are kept as `*_comonotonic`: exact for perfectly dependent errors,
the widest. Autocorrelated usage errors put the truth between the two.
"""

from __future__ import annotations

from datetime import date

import duckdb

from revcast.usage.pricing import PriceBook

TOTAL = "total"

DAILY_SQL = """
WITH price AS (SELECT unnest($metrics) AS metric, unnest($prices) AS unit_price),
per_metric AS (
    SELECT t.metric, t.ds, 'actual' AS kind, t.quantity, p.unit_price, t.quantity * p.unit_price AS revenue,
           CAST(NULL AS DOUBLE) AS lo_80, CAST(NULL AS DOUBLE) AS hi_80,
           CAST(NULL AS DOUBLE) AS lo_95, CAST(NULL AS DOUBLE) AS hi_95, CAST(NULL AS VARCHAR) AS model_id
    FROM features.usage_daily_totals t JOIN price p ON p.metric = t.metric
    WHERE t.ds <= $cutoff_end
    UNION ALL
    SELECT f.metric, f.ds, 'forecast', f.yhat, p.unit_price, f.yhat * p.unit_price,
           f.lo_80 * p.unit_price, f.hi_80 * p.unit_price, f.lo_95 * p.unit_price, f.hi_95 * p.unit_price,
           f.model_id
    FROM forecasts.usage_forecasts f JOIN price p ON p.metric = f.metric
    WHERE left(f.cutoff, 7) = $cutoff
),
all_metrics AS (
    SELECT '{total}' AS metric, ds, kind, CAST(NULL AS DOUBLE) AS quantity, CAST(NULL AS DOUBLE) AS unit_price,
           sum(revenue) AS revenue,
           sum(revenue) - sqrt(sum(pow(revenue - lo_80, 2))) AS lo_80,
           sum(revenue) + sqrt(sum(pow(hi_80 - revenue, 2))) AS hi_80,
           sum(revenue) - sqrt(sum(pow(revenue - lo_95, 2))) AS lo_95,
           sum(revenue) + sqrt(sum(pow(hi_95 - revenue, 2))) AS hi_95,
           string_agg(DISTINCT model_id, ',' ORDER BY model_id) AS model_id
    FROM per_metric GROUP BY ds, kind
)
SELECT $cutoff AS cutoff, *, $currency AS currency, $run_id AS run_id
FROM (SELECT * FROM per_metric UNION ALL BY NAME SELECT * FROM all_metrics)
""".replace("{total}", TOTAL)
"""Daily mart rows of one cutoff: every metric and the 'total' over metrics."""

MONTHLY_SQL = """
WITH g AS (
    SELECT metric, CAST(date_trunc('month', ds) AS DATE) AS month, kind,
           CAST(count(DISTINCT ds) AS INTEGER) AS days, sum(quantity) AS quantity, any_value(currency) AS currency,
           sum(revenue) AS revenue,
           sum(pow(revenue - lo_80, 2)) AS v_lo_80, sum(pow(hi_80 - revenue, 2)) AS v_hi_80,
           sum(pow(revenue - lo_95, 2)) AS v_lo_95, sum(pow(hi_95 - revenue, 2)) AS v_hi_95,
           sum(lo_95) AS c_lo_95, sum(hi_95) AS c_hi_95, any_value(run_id) AS run_id
    FROM marts.usage_revenue_daily
    WHERE cutoff = $cutoff AND metric <> '{total}'
    GROUP BY GROUPING SETS ((metric, month, kind), (month, kind))
)
SELECT $cutoff AS cutoff, coalesce(metric, '{total}') AS metric, month, kind, days,
       CASE WHEN metric IS NOT NULL THEN quantity END AS quantity, currency, revenue,
       revenue - sqrt(v_lo_80) AS lo_80, revenue + sqrt(v_hi_80) AS hi_80,
       revenue - sqrt(v_lo_95) AS lo_95, revenue + sqrt(v_hi_95) AS hi_95,
       c_lo_95 AS lo_95_comonotonic, c_hi_95 AS hi_95_comonotonic, run_id
FROM g
""".replace("{total}", TOTAL)
"""Monthly mart rows of one cutoff, summed from the per-metric daily rows (GROUPING SETS adds the total)."""


def revenue_metrics(con: duckdb.DuckDBPyConnection, cutoff: str, cutoff_end: date) -> set[str]:
    """Metrics that need a price for a cutoff (YYYY-MM): those with actuals through it or forecasts of it."""
    rows = con.execute(
        "SELECT DISTINCT metric FROM features.usage_daily_totals WHERE ds <= ? "
        "UNION SELECT DISTINCT metric FROM forecasts.usage_forecasts WHERE left(cutoff, 7) = ?",
        [cutoff_end, cutoff],
    ).fetchall()
    return {r[0] for r in rows}


def _price_params(book: PriceBook) -> dict:
    metrics = sorted(book.unit_prices)
    return {"metrics": metrics, "prices": [book.unit_prices[m] for m in metrics], "currency": book.currency}


def write_usage_revenue(
    con: duckdb.DuckDBPyConnection, cutoff: str, cutoff_end: date, book: PriceBook, run_id: str | None
) -> dict[str, int]:
    """Replace the cutoff's rows of both marts in one transaction; returns rows written per table."""
    from revcast.warehouse import replace_where, transaction

    params = {"cutoff": cutoff, "cutoff_end": cutoff_end, "run_id": run_id, **_price_params(book)}
    with transaction(con):
        daily = replace_where(
            con, "marts.usage_revenue_daily", DAILY_SQL, key={"cutoff": cutoff}, params=params
        )
        monthly = replace_where(
            con, "marts.usage_revenue_monthly", MONTHLY_SQL, key={"cutoff": cutoff}, params={"cutoff": cutoff}
        )
    return {"daily": daily, "monthly": monthly}


def reconciliation_gaps(con: duckdb.DuckDBPyConnection, cutoff: str) -> dict[str, float]:
    """Largest absolute gaps: monthly vs summed daily revenue (per metric, month, kind), and daily total vs
    the sum over metrics; both are 0 up to float rounding in a consistent mart."""
    monthly = con.execute(
        """
        SELECT coalesce(max(abs(m.revenue - d.revenue)), 0), count(*) FILTER (WHERE d.revenue IS NULL)
        FROM marts.usage_revenue_monthly m
        LEFT JOIN (
            SELECT metric, CAST(date_trunc('month', ds) AS DATE) AS month, kind, sum(revenue) AS revenue
            FROM marts.usage_revenue_daily WHERE cutoff = $cutoff GROUP BY ALL
        ) d ON d.metric = m.metric AND d.month = m.month AND d.kind = m.kind
        WHERE m.cutoff = $cutoff
        """,
        {"cutoff": cutoff},
    ).fetchall()[0]
    total = con.execute(
        f"""
        SELECT coalesce(max(abs(t.revenue - s.revenue)), 0)
        FROM (SELECT ds, kind, revenue FROM marts.usage_revenue_daily WHERE cutoff = $cutoff AND metric = '{TOTAL}') t
        JOIN (SELECT ds, kind, sum(revenue) AS revenue FROM marts.usage_revenue_daily
              WHERE cutoff = $cutoff AND metric <> '{TOTAL}' GROUP BY ALL) s ON s.ds = t.ds AND s.kind = t.kind
        """,
        {"cutoff": cutoff},
    ).fetchall()[0][0]
    return {
        "monthly_vs_daily": float(monthly[0]),
        "unmatched_months": int(monthly[1]),
        "total_vs_metrics": float(total),
    }


def forecast_price_gaps(con: duckdb.DuckDBPyConnection, cutoff: str, book: PriceBook) -> dict[str, float]:
    """Largest |mart revenue or bound - forecast x price| over the cutoff's forecasts, and forecasts missing
    from the mart (both 0 when revenue = forecast x price everywhere)."""
    row = con.execute(
        """
        WITH price AS (SELECT unnest($metrics) AS metric, unnest($prices) AS unit_price)
        SELECT count(*) AS forecasts, count(m.revenue) AS matched,
               coalesce(max(greatest(abs(m.revenue - f.yhat * p.unit_price),
                                     abs(m.lo_80 - f.lo_80 * p.unit_price), abs(m.hi_80 - f.hi_80 * p.unit_price),
                                     abs(m.lo_95 - f.lo_95 * p.unit_price), abs(m.hi_95 - f.hi_95 * p.unit_price))), 0)
        FROM forecasts.usage_forecasts f JOIN price p ON p.metric = f.metric
        LEFT JOIN marts.usage_revenue_daily m
          ON m.cutoff = left(f.cutoff, 7) AND m.metric = f.metric AND m.ds = f.ds AND m.kind = 'forecast'
        WHERE left(f.cutoff, 7) = $cutoff
        """,
        {"cutoff": cutoff, **{k: v for k, v in _price_params(book).items() if k != "currency"}},
    ).fetchall()[0]
    return {"forecast_rows": int(row[0]), "missing_from_mart": int(row[0] - row[1]), "max_gap": float(row[2])}
