"""Accuracy of past usage forecasts once their days have actuals: MAE, MASE and 80/95% coverage by horizon."""

from __future__ import annotations

import duckdb
import pandas as pd

HORIZON_BUCKETS = (("1-7", 1, 7), ("8-30", 8, 30), ("31-90", 31, 90), ("91-182", 91, 182))
SEASON = 7  # the MASE scale is the in-sample weekly seasonal-naive MAE

ACCURACY_SQL = f"""
WITH buckets AS (
    SELECT * FROM (VALUES {", ".join(f"('{n}', {a}, {b})" for n, a, b in HORIZON_BUCKETS)})
        AS b(horizon_bucket, horizon_from, horizon_to)
),
scored AS (
    SELECT left(f.cutoff, 7) AS cutoff, f.metric, f.model, b.horizon_bucket, b.horizon_from, b.horizon_to,
           a.quantity AS y, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95
    FROM forecasts.usage_forecasts f
    JOIN features.usage_daily_totals a ON a.metric = f.metric AND a.ds = f.ds
    JOIN buckets b ON f.horizon BETWEEN b.horizon_from AND b.horizon_to
),
cutoffs AS (
    SELECT DISTINCT cutoff, metric, last_day(CAST(cutoff || '-01' AS DATE)) AS cutoff_end FROM scored
),
naive_errors AS (
    SELECT t.metric, t.ds, abs(t.quantity - p.quantity) AS err
    FROM features.usage_daily_totals t
    JOIN features.usage_daily_totals p ON p.metric = t.metric AND p.ds = t.ds - {SEASON}
),
scale AS (
    SELECT c.cutoff, c.metric, avg(e.err) AS scale
    FROM cutoffs c JOIN naive_errors e ON e.metric = c.metric AND e.ds <= c.cutoff_end
    GROUP BY ALL
)
SELECT s.cutoff, s.metric, s.model, s.horizon_bucket, s.horizon_from, s.horizon_to,
       CAST(count(*) AS INTEGER) AS n_days,
       avg(abs(s.y - s.yhat)) AS mae,
       CASE WHEN any_value(k.scale) > 0 THEN avg(abs(s.y - s.yhat)) / any_value(k.scale) END AS mase,
       any_value(k.scale) AS scale,
       avg(CAST(s.y BETWEEN s.lo_80 AND s.hi_80 AS DOUBLE)) AS coverage_80,
       avg(CAST(s.y BETWEEN s.lo_95 AND s.hi_95 AS DOUBLE)) AS coverage_95,
       now() AS scored_at
FROM scored s LEFT JOIN scale k ON k.cutoff = s.cutoff AND k.metric = s.metric
GROUP BY s.cutoff, s.metric, s.model, s.horizon_bucket, s.horizon_from, s.horizon_to
"""
"""One row per cutoff, metric, model and horizon bucket that has forecast days with actuals."""


def write_forecast_accuracy(con: duckdb.DuckDBPyConnection) -> int:
    """Rescore every past cutoff's forecasts against today's actuals (replaces the whole table)."""
    from revcast.warehouse import replace_where, transaction

    with transaction(con):
        return replace_where(con, "marts.usage_forecast_accuracy", ACCURACY_SQL, key={})


def drift_flags(accuracy: pd.DataFrame, max_mase: float = 1.0, min_coverage_95: float = 0.8) -> pd.DataFrame:
    """Rows of the latest scored cutoff per metric whose MASE exceeds `max_mase` or 95% coverage falls below
    `min_coverage_95`, with the reason; empty when the forecasts hold up."""
    if accuracy.empty:
        return accuracy.assign(reason=pd.Series(dtype=str))
    latest = accuracy[accuracy["cutoff"] == accuracy.groupby("metric")["cutoff"].transform("max")]
    bad_mase = latest["mase"] > max_mase
    bad_cov = latest["coverage_95"] < min_coverage_95
    flagged = latest[bad_mase | bad_cov].copy()
    mase_reason = ("MASE " + flagged["mase"].round(2).astype(str) + f" > {max_mase}").where(bad_mase, "")
    cov_reason = (
        "95% coverage " + flagged["coverage_95"].round(3).astype(str) + f" < {min_coverage_95}"
    ).where(bad_cov, "")
    flagged["reason"] = (mase_reason + "; " + cov_reason).str.strip("; ")
    return flagged.reset_index(drop=True)
