"""SQL the usage assets run for their metadata and checks (the core's writers keep theirs beside them)."""

# the largest monthly revenue of a cutoff: the scale of the reconciliation tolerance (params: cutoff)
REVENUE_SCALE = "SELECT coalesce(max(abs(revenue)), 1) FROM marts.usage_revenue_monthly WHERE cutoff = ?"

# monthly revenue of a cutoff for the metadata preview: the forecast and the last three months of actuals
# (params: cutoff, last day of the cutoff)
MONTHLY_REVENUE_PREVIEW = """
SELECT metric, kind, strftime(month, '%Y-%m') AS month, days, round(revenue, 2) AS revenue,
       round(lo_95, 2) AS lo_95, round(hi_95, 2) AS hi_95
FROM marts.usage_revenue_monthly
WHERE cutoff = ? AND (kind = 'forecast' OR month > ?::DATE - INTERVAL 3 MONTH)
ORDER BY metric, month
"""

FORECAST_ACCURACY = """
SELECT * EXCLUDE (scored_at) FROM marts.usage_forecast_accuracy ORDER BY cutoff, metric, horizon_from
"""

# the EDA report's inputs
DAILY_TOTALS = "SELECT metric, ds, quantity, active_accounts FROM features.usage_daily_totals"
# per metric and account over the whole history
ACCOUNT_TOTALS = """
SELECT metric, account_id, sum(quantity) AS quantity FROM features.usage_account_daily GROUP BY ALL
"""

# per metric, the accounts with the most days whose modified z-score 0.6745 (x - median) / MAD against the
# account's own median and MAD exceeds $threshold (accounts with MAD 0 have no z), at most $top per metric
ACCOUNT_OUTLIERS = """
WITH med AS (SELECT metric, account_id, median(quantity) AS med FROM features.usage_account_daily GROUP BY ALL),
dev AS (SELECT a.metric, a.account_id, abs(a.quantity - med.med) AS dev
        FROM features.usage_account_daily a JOIN med USING (metric, account_id)),
mad AS (SELECT metric, account_id, median(dev) AS mad FROM dev GROUP BY ALL HAVING median(dev) > 0),
flagged AS (SELECT metric, account_id, count(*) AS outlier_days, max(0.6745 * dev / mad) AS max_abs_z
            FROM dev JOIN mad USING (metric, account_id)
            WHERE 0.6745 * dev / mad > $threshold GROUP BY ALL)
SELECT * FROM flagged
QUALIFY row_number() OVER (PARTITION BY metric ORDER BY outlier_days DESC, max_abs_z DESC, account_id) <= $top
ORDER BY metric, outlier_days DESC, max_abs_z DESC, account_id
"""

# per metric, a histogram of log10 of the positive account-day quantities: $bins equal-width bins between
# the smallest and largest value (the last bin closed, as numpy.histogram does); lo and hi are the range
ACCOUNT_DAY_HISTOGRAM = """
WITH l AS (SELECT metric, log10(quantity) AS x FROM features.usage_account_daily WHERE quantity > 0),
r AS (SELECT metric, min(x) AS lo, max(x) AS hi FROM l GROUP BY metric)
SELECT metric, lo, hi,
       coalesce(least(CAST(floor((x - lo) / nullif(hi - lo, 0) * $bins) AS INTEGER), $bins - 1), 0) AS bin,
       count(*) AS account_days
FROM l JOIN r USING (metric) GROUP BY ALL ORDER BY metric, bin
"""

# usage_daily_totals' check: per metric, clean.usage vs the window's totals and per-account rows (params: start, end)
TOTALS_VS_CLEAN = """
WITH c AS (SELECT metric, sum(quantity) AS q, count(*) AS n FROM clean.usage
           WHERE usage_date >= $start AND usage_date < $end GROUP BY metric),
     t AS (SELECT metric, sum(quantity) AS q FROM features.usage_daily_totals
           WHERE ds >= $start AND ds < $end GROUP BY metric),
     a AS (SELECT metric, sum(quantity) AS q, count(*) AS n FROM features.usage_account_daily
           WHERE ds >= $start AND ds < $end GROUP BY metric)
SELECT c.metric, c.q, coalesce(t.q, 0), coalesce(a.q, 0), c.n, coalesce(a.n, 0)
FROM c LEFT JOIN t USING (metric) LEFT JOIN a USING (metric) ORDER BY c.metric
"""

UNOBSERVED_DAYS = """
SELECT count(DISTINCT ds) FROM features.usage_daily_totals WHERE ds >= $start AND ds < $end AND NOT observed
"""


def lag_check_sql(max_lag: int) -> str:
    """usage_features' past-only check: the largest gap of lag_1, lag_7 and lag_<max_lag> to the total that
    many days earlier, and lag_1 values without a day before."""
    max_lag = int(max_lag)
    return f"""
WITH f AS (SELECT * FROM features.usage_features)
SELECT
    coalesce(max(abs(f.lag_1 - p1.quantity)), 0) + coalesce(max(abs(f.lag_7 - p7.quantity)), 0)
      + coalesce(max(abs(f.lag_{max_lag} - pl.quantity)), 0),
    count(f.lag_1) - count(p1.quantity)
FROM f
LEFT JOIN f p1 ON p1.metric = f.metric AND p1.ds = f.ds - 1
LEFT JOIN f p7 ON p7.metric = f.metric AND p7.ds = f.ds - 7
LEFT JOIN f pl ON pl.metric = f.metric AND pl.ds = f.ds - {max_lag}
"""


def rolling_check_sql(window: int) -> str:
    """usage_features' past-only check: the largest gap of rolling_mean_<window> to the mean of the days before."""
    window = int(window)
    return f"""
SELECT coalesce(max(abs(f.rolling_mean_{window} - p.m)), 0)
FROM features.usage_features f
JOIN (SELECT a.metric, a.ds, avg(b.quantity) AS m FROM features.usage_features a
      JOIN features.usage_features b ON b.metric = a.metric AND b.ds BETWEEN a.ds - {window} AND a.ds - 1
      GROUP BY ALL) p ON p.metric = f.metric AND p.ds = f.ds
WHERE f.rolling_mean_{window} IS NOT NULL
"""


FEATURES_SPAN = """
SELECT min(ds), max(ds), count(DISTINCT metric), count(*) FILTER (WHERE is_holiday),
       count(*) FILTER (WHERE NOT observed)
FROM features.usage_features
"""

FEATURES_PREVIEW = """
SELECT metric, ds, quantity, weekday, is_holiday, lag_1, lag_7, lag_180, rolling_mean_7, rolling_std_7
FROM features.usage_features WHERE lag_180 IS NOT NULL ORDER BY ds DESC, metric LIMIT 6
"""
