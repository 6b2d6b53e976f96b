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
ACCOUNT_DAILY = "SELECT account_id, metric, ds, quantity FROM features.usage_account_daily"
