"""A small real warehouse with rows in every forecast stream's table (for the API and `revcast report`)."""

from pathlib import Path

from revcast.warehouse import connect

# Every value below is a simple function of the day index i (0-based) so tests can assert exact numbers.
ROWS = [
    # usage, latest cutoff 2023-12: memory = 100 + i, cpu = 10 + i, ten days from 2024-01-01
    """INSERT INTO forecasts.usage_forecasts
       SELECT '2023-12', m.metric, DATE '2024-01-01' + CAST(i AS INTEGER), CAST(i + 1 AS INTEGER),
              m.base + i, m.base + i - 5, m.base + i + 5, m.base + i - 9, m.base + i + 9,
              'ets', 'usage/ets/2023-12/' || m.metric, 'run-usage'
       FROM range(10) t(i), (VALUES ('memory', 100.0), ('cpu', 10.0)) m(metric, base)""",
    # usage, an older cutoff: memory only, five days
    """INSERT INTO forecasts.usage_forecasts
       SELECT '2023-11', 'memory', DATE '2023-12-01' + CAST(i AS INTEGER), CAST(i + 1 AS INTEGER),
              50.0 + i, 45.0 + i, 55.0 + i, 41.0 + i, 59.0 + i,
              'seasonal_naive', 'usage/seasonal_naive/2023-11/memory', 'run-old'
       FROM range(5) t(i)""",
    # invoices: 30-day revenue from each of three days, per country and 'all'
    """INSERT INTO forecasts.invoice_revenue_forecasts
       SELECT '2023-12', c.country, DATE '2024-01-01' + CAST(i AS INTEGER),
              c.base + 10 * i, c.base + 10 * i - 100, c.base + 10 * i + 100,
              c.base + 10 * i - 200, c.base + 10 * i + 200,
              'ets', 'invoices/ets/2023-12/' || c.country, 'run-invoices'
       FROM range(3) t(i), (VALUES ('United Kingdom', 1000.0), ('all', 3000.0)) c(country, base)""",
    # subscription revenue plan: iOS and all, three revenue types, two days
    """INSERT INTO marts.subscription_revenue_plan
       SELECT '2023-12', DATE '2024-01-01' + CAST(i AS INTEGER), p.platform, r.revenue_type,
              p.base * r.share + i, p.base * r.share + i - 1, p.base * r.share + i + 1,
              p.base * r.share + i - 2, p.base * r.share + i + 2, 'run-subscriptions'
       FROM range(2) t(i), (VALUES ('iOS', 100.0), ('all', 300.0)) p(platform, base),
            (VALUES ('new', 0.25), ('recurrent', 0.75), ('total', 1.0)) r(revenue_type, share)""",
    # installs: iOS and Android, three days
    """INSERT INTO forecasts.subscription_installs_forecasts
       SELECT '2023-12', p.platform, DATE '2024-01-01' + CAST(i AS INTEGER), CAST(i + 1 AS INTEGER),
              p.base + i, p.base + i - 3, p.base + i + 3, p.base + i - 6, p.base + i + 6,
              'prophet', 'installs/prophet/2023-12/' || p.platform, 'run-installs'
       FROM range(3) t(i), (VALUES ('iOS', 400.0), ('Android', 700.0)) p(platform, base)""",
    # per-account usage: three accounts x two metrics x two days
    """INSERT INTO forecasts.account_forecasts
       SELECT '2023-12', a.account_id, m.metric, DATE '2024-01-01' + CAST(i AS INTEGER),
              CAST(i + 1 AS INTEGER), a.base * m.scale + i, a.base * m.scale + i - 1, a.base * m.scale + i + 1,
              a.base * m.scale + i - 2, a.base * m.scale + i + 2, 'batch_ets',
              'accounts/batch_ets/2023-12/' || a.account_id || '/' || m.metric,
              CASE WHEN a.account_id = 'acct-003' THEN 'short history' END, 'run-accounts'
       FROM range(2) t(i), (VALUES ('acct-001', 1.0), ('acct-002', 2.0), ('acct-003', 3.0)) a(account_id, base),
            (VALUES ('memory', 10.0), ('cpu', 1.0)) m(metric, scale)""",
    # the revenue mart: usage 'all' and invoices 'all'; an actual day, two forecast days, and months
    """INSERT INTO marts.revenue VALUES
       ('2023-12', 'day',   DATE '2023-12-31', 'usage', 'all', 'CHF', 120.50, NULL, NULL, NULL, NULL, NULL,
        NULL, 'run-revenue'),
       ('2023-12', 'day',   DATE '2024-01-01', 'usage', 'all', 'CHF', NULL, 130.0, 120.0, 140.0, 110.0, 150.0,
        'usage/ets/2023-12/memory', 'run-revenue'),
       ('2023-12', 'day',   DATE '2024-01-02', 'usage', 'all', 'CHF', NULL, 131.0, 121.0, 141.0, 111.0, 151.0,
        'usage/ets/2023-12/memory', 'run-revenue'),
       ('2023-12', 'day',   DATE '2024-01-01', 'invoices', 'all', 'GBP', NULL, 3000.0, 2900.0, 3100.0, 2800.0,
        3200.0, 'invoices/ets/2023-12/all', 'run-revenue'),
       ('2023-12', 'month', DATE '2023-12-01', 'usage', 'all', 'CHF', 3700.25, NULL, NULL, NULL, NULL, NULL,
        NULL, 'run-revenue'),
       ('2023-12', 'month', DATE '2024-01-01', 'usage', 'all', 'CHF', NULL, 4000.0, 3800.0, 4200.0, 3600.0,
        4400.0, 'usage/ets/2023-12/memory', 'run-revenue')""",
    # champions: two usage metrics (one a fallback) and one invoices series, plus a non-champion
    """INSERT INTO models.registry (model_id, domain, cutoff, unique_id, model, algorithm, is_champion,
                                    fallback_reason, run_id, registered_at) VALUES
       ('usage/ets/2023-12/memory', 'usage', '2023-12', 'memory', 'ets', 'ETS', TRUE, NULL, 'r', now()),
       ('usage/seasonal_naive/2023-12/cpu', 'usage', '2023-12', 'cpu', 'seasonal_naive', 'SeasonalNaive', TRUE,
        'sparse series', 'r', now()),
       ('usage/lstm/2023-12/cpu', 'usage', '2023-12', 'cpu', 'lstm', 'LSTM', FALSE, NULL, 'r', now()),
       ('usage/ets/2023-11/memory', 'usage', '2023-11', 'memory', 'ets', 'ETS', TRUE, NULL, 'r', now()),
       ('invoices/ets/2023-12/all', 'invoices', '2023-12', 'all', 'ets', 'ETS', TRUE, NULL, 'r', now())""",
    # quarantine: two usage lines (one reason twice), one invoice line
    """INSERT INTO quarantine.usage (partition_key, source_file, line_number, raw_line, reason, ingested_at)
       VALUES ('2023-12-01', 'a.csv', 3, 'x', 'malformed date', now()),
              ('2023-12-02', 'b.csv', 7, 'y', 'malformed date', now())""",
    """INSERT INTO quarantine.invoices (partition_key, source_file, line_number, raw_line, reason, ingested_at)
       VALUES ('2023-12', 'c.json', 2, 'z', 'negative price', now())""",
]


def build_forecast_warehouse(path: Path) -> Path:
    """Create the warehouse at `path` (every table of the DDL) and fill each forecast stream."""
    con = connect(path)
    try:
        for sql in ROWS:
            con.execute(sql)
    finally:
        con.close()
    return path
