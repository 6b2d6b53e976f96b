"""Usage features in DuckDB SQL: daily totals, calendar, lags 1..180 and past-only rolling stats.

Every feature of day d is a function of days before d (lags, rolling windows ending at d-1) or of the
calendar, so the rows of a training window never see later data; scalers are fitted on ds <= cutoff only.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import duckdb
import holidays

from revcast.warehouse import table_name

LAGS = tuple(range(1, 181))  # 180 daily lags
ROLLING_WINDOWS = (3, 7, 28)


@dataclass(frozen=True)
class UsageFeatureConfig:
    """The usage domain's one feature configuration, read by usage_features and by the usage models.

    holiday_country: AU, the company's home market (its BAS reporting runs in Sydney time); the calendar
    column is_holiday and the ARIMA holiday regressor use the same country. lags: 1..180 days
    (the LSTM's input window is max(lags) days). rolling_windows: past-only means/stds over w days.
    """

    holiday_country: str | None = "AU"
    lags: tuple[int, ...] = LAGS
    rolling_windows: tuple[int, ...] = ROLLING_WINDOWS


USAGE_FEATURES = UsageFeatureConfig()

DAILY_TOTALS_SQL = """
WITH days AS (
    SELECT CAST(d AS DATE) AS ds
    FROM generate_series(CAST($start AS DATE), CAST($end AS DATE) - INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
),
observed AS (
    SELECT DISTINCT CAST(partition_key AS DATE) AS ds FROM audit.ingest_runs
    WHERE source = 'usage' AND CAST(partition_key AS DATE) >= $start AND CAST(partition_key AS DATE) < $end
    UNION
    SELECT DISTINCT usage_date FROM clean.usage WHERE usage_date >= $start AND usage_date < $end
),
metrics AS (SELECT DISTINCT metric FROM clean.usage),
agg AS (
    SELECT metric, usage_date AS ds, sum(quantity) AS quantity,
           count(DISTINCT account_id) FILTER (WHERE quantity > 0) AS active_accounts
    FROM clean.usage WHERE usage_date >= $start AND usage_date < $end
    GROUP BY ALL
)
SELECT m.metric, d.ds,
       CASE WHEN o.ds IS NOT NULL THEN coalesce(a.quantity, 0.0) END AS quantity,
       CASE WHEN o.ds IS NOT NULL THEN coalesce(a.active_accounts, 0) END AS active_accounts,
       o.ds IS NOT NULL AS observed
FROM metrics m CROSS JOIN days d
LEFT JOIN observed o ON o.ds = d.ds
LEFT JOIN agg a ON a.metric = m.metric AND a.ds = d.ds
"""
"""Totals per metric for every day of [$start, $end). An ingested day without rows for a metric is a real zero;
a day that was never ingested is a row with observed = false and NULL quantity, never a zero."""

ACCOUNT_DAILY_SQL = """
SELECT account_id, metric, usage_date AS ds, sum(quantity) AS quantity
FROM clean.usage WHERE usage_date >= $start AND usage_date < $end
GROUP BY ALL
"""


def usage_features_sql(
    source: str = "features.usage_daily_totals",
    lags: tuple[int, ...] = LAGS,
    windows: tuple[int, ...] = ROLLING_WINDOWS,
) -> str:
    """SELECT of one row per metric and day (a dense daily spine; observed = false and NULL quantity where a
    day is missing or was not ingested).

    Lag k is `lag(quantity, k)` over the dense spine, i.e. the value k days earlier; rolling stats cover the
    w days ending the day before (a full window only, else NULL). Parameter $holidays: a DATE[] list.
    """
    source = table_name(source)
    lag_sql = ",\n    ".join(f"lag(quantity, {int(k)}) OVER w AS lag_{int(k)}" for k in lags)
    roll_sql = ",\n    ".join(
        f"CASE WHEN count(quantity) OVER r{w} = {w} THEN {fn}(quantity) OVER r{w} END AS rolling_{stat}_{w}"
        for w in (int(w) for w in windows)
        for stat, fn in (("mean", "avg"), ("std", "stddev_samp"))
    )
    frames = ",\n    ".join(
        f"r{int(w)} AS (PARTITION BY metric ORDER BY ds ROWS BETWEEN {int(w)} PRECEDING AND 1 PRECEDING)"
        for w in windows
    )
    return f"""
WITH bounds AS (SELECT metric, min(ds) AS first_ds, max(ds) AS last_ds FROM {source} GROUP BY metric),
spine AS (
    SELECT metric, CAST(unnest(generate_series(first_ds, last_ds, INTERVAL 1 DAY)) AS DATE) AS ds FROM bounds
),
series AS (
    SELECT s.metric, s.ds, t.quantity, t.active_accounts,
           coalesce(t.observed AND t.quantity IS NOT NULL, false) AS observed
    FROM spine s LEFT JOIN {source} t ON t.metric = s.metric AND t.ds = s.ds
)
SELECT
    metric, ds, quantity, active_accounts, observed,
    CAST(isodow(ds) - 1 AS INTEGER) AS weekday,
    CAST(month(ds) AS INTEGER) AS month,
    CAST(day(ds) AS INTEGER) AS day_of_month,
    ds IN (SELECT unnest(CAST($holidays AS DATE[]))) AS is_holiday,
    {lag_sql},
    {roll_sql}
FROM series
WINDOW w AS (PARTITION BY metric ORDER BY ds),
    {frames}
ORDER BY metric, ds
"""


def holiday_dates(country: str | None, first: date, last: date) -> list[date]:
    """Public holidays of `country` (ISO code, via the holidays package) between first and last."""
    if not country:
        return []
    days = holidays.country_holidays(country, years=range(first.year, last.year + 1))
    return sorted(d for d in days if first <= d <= last)


def build_usage_features(
    con: duckdb.DuckDBPyConnection,
    config: UsageFeatureConfig = USAGE_FEATURES,
    *,
    source: str = "features.usage_daily_totals",
    target: str = "features.usage_features",
) -> int:
    """Rebuild `target` from the daily totals in `source` (CREATE OR REPLACE); returns its row count."""
    target = table_name(target)
    span = con.execute(f"SELECT min(ds), max(ds) FROM {table_name(source)}").fetchall()[0]
    days = holiday_dates(config.holiday_country, span[0], span[1]) if span[0] else []
    sql = usage_features_sql(source, config.lags, config.rolling_windows)
    con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}", {"holidays": days})
    return con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0]


def cutoff_end(cutoff: str | date) -> date:
    """The last day of data a cutoff may use: '2023-12' or '2023-12-01' -> 2023-12-31; a date as is."""
    if isinstance(cutoff, date):
        return cutoff
    year, month = int(cutoff[:4]), int(cutoff[5:7])
    return date(year, month, calendar.monthrange(year, month)[1])
