"""SQL of the conformed revenue mart: each stream's rows as read from its own mart, and each stream's own
totals (for the reconciliation).

Money is compared in cents: every source amount is cast to DECIMAL(18,2) row by row, so a sum over the
mart and a sum over the source are exact and do not depend on the order DuckDB adds floats in. Parameters
(never interpolated): $cutoff (YYYY-MM), $cutoff_end (its last day), $billing_run (the billing engine's run
of the cutoff), $production (the production pricing model), $invoice_currency, $subscription_currency.
"""

from __future__ import annotations

CENTS = "DECIMAL(18,2)"
STREAMS = ("usage", "billing", "invoices", "subscriptions")
# the grains each stream's own mart has
GRAINS = {
    "usage": ("day", "month"),
    "billing": ("month",),
    "invoices": ("day", "month"),
    "subscriptions": ("day", "month"),
}
MART_COLUMNS = ("grain", "date", "stream", "entity", "currency", "actual", "forecast",
                "lo_80", "hi_80", "lo_95", "hi_95", "model_id")  # fmt: skip

_NO_BOUNDS = "CAST(NULL AS DOUBLE) AS lo_80, CAST(NULL AS DOUBLE) AS hi_80, " \
    "CAST(NULL AS DOUBLE) AS lo_95, CAST(NULL AS DOUBLE) AS hi_95"  # fmt: skip


def _forecast_columns(alias: str = "") -> str:
    """forecast, bounds and model_id of the row whose kind is 'forecast' in a group of usage mart rows."""
    p = f"{alias}." if alias else ""
    cols = [f"any_value({p}revenue) FILTER (WHERE {p}kind = 'forecast') AS forecast"]
    cols += [
        f"any_value({p}{b}) FILTER (WHERE {p}kind = 'forecast') AS {b}"
        for b in ("lo_80", "hi_80", "lo_95", "hi_95")
    ]
    return ", ".join(cols)


# Usage priced by the price book (marts.usage_revenue_daily/_monthly): the metric 'total' is the stream total.
USAGE_SQL = f"""
SELECT 'day' AS grain, ds AS date, 'usage' AS stream,
       CASE WHEN metric = 'total' THEN 'all' ELSE metric END AS entity, currency,
       any_value(CAST(revenue AS {CENTS})) FILTER (WHERE kind = 'actual') AS actual,
       {_forecast_columns()},
       any_value(model_id) FILTER (WHERE kind = 'forecast') AS model_id
FROM marts.usage_revenue_daily WHERE cutoff = $cutoff
GROUP BY ds, metric, currency
UNION ALL BY NAME
SELECT 'month' AS grain, m.month AS date, 'usage' AS stream,
       CASE WHEN m.metric = 'total' THEN 'all' ELSE m.metric END AS entity, m.currency,
       any_value(CAST(m.revenue AS {CENTS})) FILTER (WHERE m.kind = 'actual') AS actual,
       {_forecast_columns("m")},
       any_value(i.model_id) FILTER (WHERE m.kind = 'forecast') AS model_id
FROM marts.usage_revenue_monthly m
LEFT JOIN (
    SELECT metric, string_agg(DISTINCT model_id, ',' ORDER BY model_id) AS model_id
    FROM marts.usage_revenue_daily WHERE cutoff = $cutoff AND kind = 'forecast' GROUP BY metric
) i ON i.metric = m.metric
WHERE m.cutoff = $cutoff
GROUP BY m.month, m.metric, m.currency
"""

# The billing engine's bills of the cutoff's forecast usage under the production pricing model: per month the
# bills summed over accounts ('all') and their charge lines per metric. Bills are money: cents per bill.
BILLING_SQL = f"""
WITH lines AS (
    SELECT time_from, 'all' AS entity, currency, CAST(charge AS {CENTS}) AS charge
    FROM billing.bills WHERE run = $billing_run AND target = $production
    UNION ALL
    SELECT time_from, metric, currency, CAST(charge AS {CENTS})
    FROM billing.cdr WHERE run = $billing_run AND target = $production
)
SELECT 'month' AS grain, CAST(date_trunc('month', time_from) AS DATE) AS date, 'billing' AS stream, entity,
       currency, CAST(NULL AS {CENTS}) AS actual, CAST(sum(charge) AS DOUBLE) AS forecast, {_NO_BOUNDS},
       CAST(NULL AS VARCHAR) AS model_id
FROM lines GROUP BY ALL
"""

# Invoice revenue: actuals from the daily revenue per country and 'all' (observed days through the cutoff;
# a month's actual is the sum of its days in cents), the forecast from forecasts.invoice_revenue_forecasts:
# the revenue of the 30 days from `as_of` (the day after the cutoff), at grain month on its first day.
INVOICES_SQL = f"""
WITH days AS (
    SELECT unique_id AS entity, ds, CAST(revenue AS {CENTS}) AS actual
    FROM features.invoice_daily_revenue
    WHERE ds <= $cutoff_end AND coalesce(observed, true) AND revenue IS NOT NULL
),
months AS (
    SELECT entity, CAST(date_trunc('month', ds) AS DATE) AS date, sum(actual) AS actual FROM days GROUP BY ALL
),
fc AS (
    SELECT unique_id AS entity, as_of AS date, revenue_30d AS forecast, lo_80, hi_80, lo_95, hi_95, model_id
    FROM forecasts.invoice_revenue_forecasts WHERE cutoff = $cutoff
)
SELECT 'day' AS grain, ds AS date, 'invoices' AS stream, entity, $invoice_currency AS currency, actual,
       CAST(NULL AS DOUBLE) AS forecast, {_NO_BOUNDS}, CAST(NULL AS VARCHAR) AS model_id
FROM days
UNION ALL BY NAME
SELECT 'month' AS grain, coalesce(m.date, f.date) AS date, 'invoices' AS stream,
       coalesce(m.entity, f.entity) AS entity, $invoice_currency AS currency, m.actual,
       f.forecast, f.lo_80, f.hi_80, f.lo_95, f.hi_95, f.model_id
FROM months m FULL JOIN fc f ON f.entity = m.entity AND f.date = m.date
"""

# The subscription revenue plan (total of new and recurrent, per platform and 'all'), daily and monthly; the
# model is the installs forecast's champion of the platform the plan is built on.
SUBSCRIPTIONS_SQL = f"""
WITH ids AS (
    SELECT platform, string_agg(DISTINCT model_id, ',' ORDER BY model_id) AS model_id
    FROM forecasts.subscription_installs_forecasts WHERE cutoff = $cutoff GROUP BY platform
    UNION ALL
    SELECT 'all', string_agg(DISTINCT model_id, ',' ORDER BY model_id)
    FROM forecasts.subscription_installs_forecasts WHERE cutoff = $cutoff
),
plan AS (
    SELECT 'day' AS grain, ds AS date, platform, revenue, lo_80, hi_80, lo_95, hi_95
    FROM marts.subscription_revenue_plan WHERE cutoff = $cutoff AND revenue_type = 'total'
    UNION ALL
    SELECT 'month', month, platform, revenue, lo_80, hi_80, lo_95, hi_95
    FROM marts.subscription_revenue_plan_monthly WHERE cutoff = $cutoff AND revenue_type = 'total'
)
SELECT p.grain, p.date, 'subscriptions' AS stream, p.platform AS entity, $subscription_currency AS currency,
       CAST(NULL AS {CENTS}) AS actual, p.revenue AS forecast, p.lo_80, p.hi_80, p.lo_95, p.hi_95, i.model_id
FROM plan p LEFT JOIN ids i ON i.platform = p.platform
"""

STREAM_SQL = {
    "usage": USAGE_SQL,
    "billing": BILLING_SQL,
    "invoices": INVOICES_SQL,
    "subscriptions": SUBSCRIPTIONS_SQL,
}
# the parameters each stream's SQL uses (DuckDB refuses unused named parameters)
STREAM_PARAMS = {
    "usage": ("cutoff",),
    "billing": ("billing_run", "production"),
    "invoices": ("cutoff", "cutoff_end", "invoice_currency"),
    "subscriptions": ("cutoff", "subscription_currency"),
}

# Each stream's own totals per grain: (grain, actual values, actual in cents, forecast values, forecast in cents),
# read from the stream's tables independently of the mapping above.
SOURCE_TOTALS_SQL = {
    "usage": f"""
        SELECT grain,
               count(*) FILTER (WHERE kind = 'actual'),
               sum(CAST(revenue AS {CENTS})) FILTER (WHERE kind = 'actual'),
               count(*) FILTER (WHERE kind = 'forecast'),
               sum(CAST(revenue AS {CENTS})) FILTER (WHERE kind = 'forecast')
        FROM (SELECT 'day' AS grain, kind, revenue FROM marts.usage_revenue_daily WHERE cutoff = $cutoff
              UNION ALL
              SELECT 'month', kind, revenue FROM marts.usage_revenue_monthly WHERE cutoff = $cutoff)
        GROUP BY grain""",
    "billing": f"""
        SELECT 'month', 0, NULL, count(*), sum(charge)
        FROM (SELECT sum(CAST(charge AS {CENTS})) AS charge FROM billing.bills
              WHERE run = $billing_run AND target = $production
              GROUP BY date_trunc('month', time_from), currency
              UNION ALL
              SELECT sum(CAST(charge AS {CENTS})) FROM billing.cdr
              WHERE run = $billing_run AND target = $production
              GROUP BY date_trunc('month', time_from), metric, currency)""",
    "invoices": f"""
        WITH d AS (
            SELECT unique_id, date_trunc('month', ds) AS month, CAST(revenue AS {CENTS}) AS revenue
            FROM features.invoice_daily_revenue
            WHERE ds <= $cutoff_end AND coalesce(observed, true) AND revenue IS NOT NULL
        ),
        f AS (SELECT count(*) AS n, sum(CAST(revenue_30d AS {CENTS})) AS cents
              FROM forecasts.invoice_revenue_forecasts WHERE cutoff = $cutoff)
        SELECT 'day', count(*), sum(revenue), 0, NULL FROM d
        UNION ALL
        SELECT 'month', (SELECT count(DISTINCT (unique_id, month)) FROM d), (SELECT sum(revenue) FROM d),
               f.n, f.cents
        FROM f""",
    "subscriptions": f"""
        SELECT grain, 0, NULL, count(*), sum(CAST(revenue AS {CENTS}))
        FROM (SELECT 'day' AS grain, revenue FROM marts.subscription_revenue_plan
              WHERE cutoff = $cutoff AND revenue_type = 'total'
              UNION ALL
              SELECT 'month', revenue FROM marts.subscription_revenue_plan_monthly
              WHERE cutoff = $cutoff AND revenue_type = 'total')
        GROUP BY grain""",
}
SOURCE_TOTALS_PARAMS = {
    "usage": ("cutoff",),
    "billing": ("billing_run", "production"),
    "invoices": ("cutoff", "cutoff_end"),
    "subscriptions": ("cutoff",),
}

# The conformed mart's totals per stream and grain, counted and summed the same way.
MART_TOTALS_SQL = f"""
SELECT stream, grain, count(actual), sum(actual), count(forecast), sum(CAST(forecast AS {CENTS}))
FROM marts.revenue WHERE cutoff = $cutoff GROUP BY stream, grain
"""
