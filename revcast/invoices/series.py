"""Daily revenue series, 30-day revenue features/target and the top countries, as DuckDB SQL.

Table names are code-chosen identifiers (validated, quoted); dates and counts are always bound parameters.

Cancellations: rows flagged ``is_cancellation`` (invoice prefix ``C``) are excluded from revenue, purchases,
unique_invoices, unique_streams and views; they are reported separately as ``cancellations`` (distinct
cancelled invoices) and ``cancelled_revenue`` (their summed price), so nothing is netted or lost.
"""

from __future__ import annotations

import re
from datetime import date

import duckdb

ALL = "all"
DAILY_COLUMNS = [
    "unique_id",
    "ds",
    "revenue",
    "purchases",
    "unique_invoices",
    "unique_streams",
    "views",
    "cancellations",
    "cancelled_revenue",
    "observed",
]
# feature name -> (first, last) day offset relative to d, both inclusive; all strictly before d
FEATURE_WINDOWS: dict[str, tuple[int, int]] = {
    "revenue_prev_7d": (-7, -1),
    "revenue_prev_14d": (-14, -1),
    "revenue_prev_28d": (-28, -1),
    "revenue_prev_70d": (-70, -1),
    "revenue_year_ago_30d": (-365, -336),  # the target's 30 days (d..d+29) shifted back 365 days
}
MEAN_WINDOW = (-30, -1)  # invoices_mean_prev_30d, views_mean_prev_30d
TARGET_WINDOW = (0, 29)  # target_revenue_next_30d
FEATURE_COLUMNS = [
    *FEATURE_WINDOWS,
    "invoices_mean_prev_30d",
    "views_mean_prev_30d",
]

ADDITIVE_MEASURES = ("revenue", "purchases", "views")  # 'all' = sum of the countries for these

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_table(name: str) -> str:
    """Quote a possibly schema-qualified table name; reject anything that is not plain identifiers."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENT.match(p) for p in parts):
        raise ValueError(f"not a plain table name: {name!r}")
    return ".".join(f'"{p}"' for p in parts)


def daily_revenue_sql(invoices: str = "clean.invoices") -> str:
    """SQL (parameters $start, $end) for every day of [start, end] x (each country in `invoices`, 'all').

    A day is observed when its month has invoice lines (the month was ingested); a day without lines in an
    observed month is a real zero, a day of a month without any line is observed = false with NULL measures.
    """
    src = quote_table(invoices)
    return f"""
    WITH inv AS (
        SELECT invoice_date AS ds, country, invoice_id, stream_id, times_viewed, price,
               coalesce(is_cancellation, false) AS cancelled
        FROM {src}
        WHERE invoice_date BETWEEN $start AND $end
    ), agg AS (
        SELECT CASE WHEN grouping(country) = 1 THEN '{ALL}' ELSE country END AS unique_id, ds,
            sum(price) FILTER (NOT cancelled) AS revenue,
            count(*) FILTER (NOT cancelled) AS purchases,
            count(DISTINCT invoice_id) FILTER (NOT cancelled) AS unique_invoices,
            count(DISTINCT stream_id) FILTER (NOT cancelled) AS unique_streams,
            sum(times_viewed) FILTER (NOT cancelled) AS views,
            count(DISTINCT invoice_id) FILTER (cancelled) AS cancellations,
            sum(price) FILTER (cancelled) AS cancelled_revenue
        FROM inv
        GROUP BY GROUPING SETS ((country, ds), (ds))
    ), ids AS (
        SELECT DISTINCT country AS unique_id FROM {src} WHERE country IS NOT NULL
        UNION SELECT '{ALL}'
    ), months AS (
        SELECT DISTINCT CAST(date_trunc('month', ds) AS DATE) AS month FROM inv
    ), calendar AS (
        SELECT CAST(d AS DATE) AS ds,
            CAST(date_trunc('month', d) AS DATE) IN (SELECT month FROM months) AS observed
        FROM generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY) AS t(d)
    )
    SELECT ids.unique_id, calendar.ds,
        CASE WHEN observed THEN coalesce(agg.revenue, 0.0) END AS revenue,
        CASE WHEN observed THEN coalesce(agg.purchases, 0) END AS purchases,
        CASE WHEN observed THEN coalesce(agg.unique_invoices, 0) END AS unique_invoices,
        CASE WHEN observed THEN coalesce(agg.unique_streams, 0) END AS unique_streams,
        CASE WHEN observed THEN coalesce(agg.views, 0) END AS views,
        CASE WHEN observed THEN coalesce(agg.cancellations, 0) END AS cancellations,
        CASE WHEN observed THEN coalesce(agg.cancelled_revenue, 0.0) END AS cancelled_revenue,
        observed
    FROM ids CROSS JOIN calendar
    LEFT JOIN agg ON agg.unique_id = ids.unique_id AND agg.ds = calendar.ds
    ORDER BY ids.unique_id, calendar.ds
    """


def daily_revenue(
    con: duckdb.DuckDBPyConnection, start: date, end: date, *, invoices: str = "clean.invoices"
) -> duckdb.DuckDBPyRelation:
    """Daily revenue per country and for 'all' over every day of [start, end] (DAILY_COLUMNS); zero on
    days without lines in an observed month, NULL on days of months without any line (observed = false)."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return con.sql(daily_revenue_sql(invoices), params={"start": start, "end": end})


def _window(lo: int, hi: int) -> str:
    """A RANGE frame over ds covering days d+lo .. d+hi (offsets are code constants, not input)."""

    def bound(k: int) -> str:
        if k == 0:
            return "CURRENT ROW"
        return f"INTERVAL {abs(k)} DAY {'PRECEDING' if k < 0 else 'FOLLOWING'}"

    return f"(PARTITION BY unique_id ORDER BY ds RANGE BETWEEN {bound(lo)} AND {bound(hi)})"


def _complete(expr: str, lo: int, hi: int) -> str:
    """`expr` over the frame, NULL unless all hi-lo+1 days are in the series and observed (no partial windows)."""
    w = _window(lo, hi)
    return f"CASE WHEN count(revenue) OVER {w} = {hi - lo + 1} THEN {expr} OVER {w} END"


def revenue_features_sql(daily: str = "features.daily_revenue") -> str:
    """SQL (parameters $start, $end, may be NULL) for the 30-day revenue features and 30-day target per day."""
    src = quote_table(daily)
    cols = [f"{_complete('sum(revenue)', lo, hi)} AS {name}" for name, (lo, hi) in FEATURE_WINDOWS.items()]
    cols.append(f"{_complete('avg(unique_invoices)', *MEAN_WINDOW)} AS invoices_mean_prev_30d")
    cols.append(f"{_complete('avg(views)', *MEAN_WINDOW)} AS views_mean_prev_30d")
    cols.append(f"{_complete('sum(revenue)', *TARGET_WINDOW)} AS target_revenue_next_30d")
    body = ",\n            ".join(cols)
    return f"""
    SELECT * FROM (
        SELECT unique_id, ds,
            {body}
        FROM {src}
    )
    WHERE ($start IS NULL OR ds >= CAST($start AS DATE)) AND ($end IS NULL OR ds <= CAST($end AS DATE))
    ORDER BY unique_id, ds
    """


def revenue_features(
    con: duckdb.DuckDBPyConnection,
    *,
    daily: str = "features.daily_revenue",
    start: date | None = None,
    end: date | None = None,
) -> duckdb.DuckDBPyRelation:
    """Features for each day d in [start, end] of a complete daily series; NULL where a window lacks days.

    Columns: unique_id, ds, FEATURE_COLUMNS, target_revenue_next_30d (revenue of d..d+29). Windows are
    computed over the whole series before the date filter, so a feature only ever sees days before d.
    """
    return con.sql(revenue_features_sql(daily), params={"start": start, "end": end})


def top_countries(
    con: duckdb.DuckDBPyConnection,
    n: int = 10,
    *,
    daily: str = "features.daily_revenue",
    start: date | None = None,
    end: date | None = None,
) -> list[str]:
    """The n countries with the most revenue in [start, end] (ties by name), excluding 'all'."""
    rows = con.execute(
        f"""
        SELECT unique_id FROM {quote_table(daily)}
        WHERE unique_id <> '{ALL}'
          AND ($start IS NULL OR ds >= CAST($start AS DATE)) AND ($end IS NULL OR ds <= CAST($end AS DATE))
        GROUP BY unique_id
        ORDER BY sum(revenue) DESC, unique_id
        LIMIT $n
        """,
        {"n": int(n), "start": start, "end": end},
    ).fetchall()
    return [r[0] for r in rows]


def ingested_range(con: duckdb.DuckDBPyConnection, source: str = "invoices") -> tuple[date, date] | None:
    """First day of the first and last day of the last month ingested (audit.ingest_runs), or None."""
    rows = con.execute(
        "SELECT min(partition_key), max(partition_key) FROM audit.ingest_runs WHERE source = ?", [source]
    ).fetchall()
    first, last = rows[0]
    if first is None:
        return None
    start = date.fromisoformat(f"{first}-01")
    last_start = date.fromisoformat(f"{last}-01")
    nxt = date(last_start.year + (last_start.month == 12), last_start.month % 12 + 1, 1)
    return start, date.fromordinal(nxt.toordinal() - 1)


def series_completeness(
    con: duckdb.DuckDBPyConnection, start: date, end: date, *, daily: str = "features.invoice_daily_revenue"
) -> list[tuple[str, int, int, date | None, date | None]]:
    """Series that are not exactly one row per day of [start, end]: (unique_id, rows, days, first, last)."""
    return con.execute(
        f"""
        SELECT unique_id, count(*) AS n, count(DISTINCT ds) AS days, min(ds), max(ds)
        FROM {quote_table(daily)} GROUP BY unique_id
        HAVING n <> $days OR days <> $days OR min(ds) <> $start OR max(ds) <> $end
        ORDER BY unique_id
        """,
        {"start": start, "end": end, "days": (end - start).days + 1},
    ).fetchall()


def all_minus_countries(
    con: duckdb.DuckDBPyConnection, *, daily: str = "features.invoice_daily_revenue", tolerance: float = 1e-9
) -> list[tuple[date, str, float | None]]:
    """Days where 'all' is not the sum of the countries for an additive measure: (ds, measure, all - sum).

    Revenue, purchases and views add up across countries; distinct counts (invoices, streams) need not.
    """
    rows = con.execute(
        f"""
        WITH per_day AS (
            SELECT ds,
                {
            ", ".join(
                f"sum({m}) FILTER (unique_id = '{ALL}') AS all_{m}, "
                f"sum({m}) FILTER (unique_id <> '{ALL}') AS countries_{m}"
                for m in ADDITIVE_MEASURES
            )
        }
            FROM {quote_table(daily)} WHERE observed GROUP BY ds
        )
        SELECT ds, measure, total - parts AS diff FROM (
            {
            " UNION ALL ".join(
                f"SELECT ds, '{m}' AS measure, all_{m} AS total, countries_{m} AS parts FROM per_day"
                for m in ADDITIVE_MEASURES
            )
        }
        )
        WHERE diff IS NULL OR abs(diff) > $tol * greatest(1.0, abs(total))
        ORDER BY ds, measure
        """,
        {"tol": tolerance},
    ).fetchall()
    return [(ds, m, None if d is None else float(d)) for ds, m, d in rows]
