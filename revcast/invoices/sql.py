"""SQL the invoice series assets run: the writes of the daily revenue and feature tables, and their checks."""

from revcast.invoices.series import DAILY_COLUMNS, daily_revenue_sql, revenue_features_sql

DAILY_TABLE = "features.invoice_daily_revenue"
FEATURES_TABLE = "features.invoice_features"

# every day of the ingested months x (country, 'all') from clean.invoices (params: start, end)
DAILY_REVENUE = f"SELECT {', '.join(DAILY_COLUMNS)} FROM ({daily_revenue_sql('clean.invoices')})"

# the 30-day revenue features and the 30-day target over the whole daily table (params: start, end, both NULL)
INVOICE_FEATURES = f"SELECT * FROM ({revenue_features_sql(DAILY_TABLE)})"

DAILY_SERIES_AND_UNOBSERVED_DAYS = f"""
SELECT count(DISTINCT unique_id), count(DISTINCT ds) FILTER (WHERE NOT observed) FROM {DAILY_TABLE}
"""

# series whose feature rows or known targets differ from what the daily table implies: one row per day, a
# target wherever the next 30 days are all observed
FEATURES_COVERAGE_PROBLEMS = f"""
WITH w AS (SELECT unique_id, count(revenue) OVER (PARTITION BY unique_id ORDER BY ds
               RANGE BETWEEN CURRENT ROW AND INTERVAL 29 DAY FOLLOWING) = 30 AS full_30
           FROM {DAILY_TABLE}),
     d AS (SELECT unique_id, count(*) AS days, count(*) FILTER (WHERE full_30) AS targets
           FROM w GROUP BY unique_id),
     f AS (SELECT unique_id, count(*) AS n, count(target_revenue_next_30d) AS targets
           FROM {FEATURES_TABLE} GROUP BY unique_id)
SELECT unique_id, d.days, f.n, f.targets FROM d FULL JOIN f USING (unique_id)
WHERE d.days IS DISTINCT FROM f.n OR f.targets IS DISTINCT FROM d.targets
ORDER BY unique_id
"""
