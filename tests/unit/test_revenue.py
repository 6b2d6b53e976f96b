"""The revenue core without Dagster: cent-exact reconciliation on an in-memory warehouse, the export's month
column and crash recovery, the dashboard's total and its page."""

from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest

from revcast.revenue import reconciliation, write_revenue
from revcast.revenue.dashboard import svg_chart, total_series
from revcast.revenue.exports import _recover, export_marts, month_column
from revcast.warehouse import apply_ddl

CUTOFF = "2023-11"


@pytest.fixture
def con():
    con = duckdb.connect(":memory:")
    apply_ddl(con)
    # usage: two metrics and the total; 0.1 + 0.2 style floats and half-cents on purpose
    rows = [
        ("api_calls", date(2023, 11, 30), "actual", 0.105),
        ("storage_gb", date(2023, 11, 30), "actual", 0.2),
        ("total", date(2023, 11, 30), "actual", 0.105 + 0.2),
        ("api_calls", date(2023, 12, 1), "forecast", 10.004999),
        ("total", date(2023, 12, 1), "forecast", 10.004999),
    ]
    for metric, ds, kind, revenue in rows:
        con.execute(
            "INSERT INTO marts.usage_revenue_daily (cutoff, metric, ds, kind, currency, revenue, lo_95, hi_95, "
            "model_id) VALUES (?, ?, ?, ?, 'USD', ?, ?, ?, ?)",
            [CUTOFF, metric, ds, kind, revenue, *((revenue - 1, revenue + 1, "usage/m") if kind == "forecast" else (None, None, None))],
        )  # fmt: skip
    con.execute(
        "INSERT INTO marts.usage_revenue_monthly (cutoff, metric, month, kind, days, currency, revenue) "
        "SELECT cutoff, metric, date_trunc('month', ds), kind, 1, currency, revenue FROM marts.usage_revenue_daily"
    )
    # invoices: three observed days and an unobserved one, and the 30-day forecast
    for ds, revenue, observed in [("2023-11-28", 1.005, True), ("2023-11-29", 2.675, True),
                                  ("2023-11-30", None, False), ("2023-10-31", 0.333, True)]:  # fmt: skip
        con.execute(
            "INSERT INTO features.invoice_daily_revenue (unique_id, ds, revenue, observed) VALUES ('all', ?, ?, ?)",
            [ds, revenue, observed],
        )
    con.execute(
        "INSERT INTO forecasts.invoice_revenue_forecasts VALUES (?, 'all', DATE '2023-12-01', 100.0, 90, 110, 80, "
        "120, 'previous_30_days', 'invoices/previous_30_days/2023-11/all', 'r0')",
        [CUTOFF],
    )
    yield con
    con.close()


def test_write_and_reconcile_to_the_cent(con):
    written = write_revenue(con, CUTOFF, "run-1")
    assert written == {"usage": 10, "billing": 0, "invoices": 6, "subscriptions": 0}
    rows = con.execute(
        "SELECT grain, date, stream, entity, actual, forecast, model_id FROM marts.revenue ORDER BY ALL"
    ).fetchall()
    usage_total_day = [r for r in rows if r[:4] == ("day", date(2023, 11, 30), "usage", "all")][0]
    cents = "SELECT CAST(CAST(? AS DOUBLE) AS DECIMAL(18,2))"
    assert usage_total_day[4] == con.execute(cents, [0.105 + 0.2]).fetchall()[0][0] == Decimal("0.31")
    month_inv = [r for r in rows if r[:3] == ("month", date(2023, 11, 1), "invoices")][0]
    days = sum(
        con.execute(cents, [v]).fetchall()[0][0] for v in (1.005, 2.675)
    )  # the unobserved day left out
    assert month_inv[4] == days and Decimal("3.67") <= days <= Decimal("3.69")
    fc = [r for r in rows if r[:3] == ("month", date(2023, 12, 1), "invoices")][0]
    assert fc[4] is None and fc[5] == 100.0 and fc[6] == "invoices/previous_30_days/2023-11/all"
    frame = reconciliation(con, CUTOFF)
    assert frame["matches"].all()
    assert set(map(tuple, frame[["stream", "grain"]].values)) == {
        ("usage", "day"), ("usage", "month"), ("billing", "month"), ("invoices", "day"), ("invoices", "month"),
        ("subscriptions", "day"), ("subscriptions", "month"),
    }  # fmt: skip
    # a half-cent move changes the cents of one row: caught; the same float noise is not
    con.execute("UPDATE marts.revenue SET forecast = forecast + 1e-9 WHERE stream = 'usage'")
    assert reconciliation(con, CUTOFF)["matches"].all()
    con.execute(
        "UPDATE marts.revenue SET forecast = forecast + 0.006 WHERE stream = 'usage' AND entity = 'all'"
    )
    bad = reconciliation(con, CUTOFF).query("not matches")
    assert list(zip(bad["stream"], bad["grain"], strict=True)) == [("usage", "day"), ("usage", "month")]
    # a row deleted from the mart is missing from the counts even when its value is zero
    write_revenue(con, CUTOFF, "run-2")
    con.execute(
        "DELETE FROM marts.revenue WHERE stream = 'invoices' AND grain = 'day' AND date = '2023-10-31'"
    )
    bad = reconciliation(con, CUTOFF).query("not matches").iloc[0]
    assert (bad["stream"], bad["source_n_actual"] - bad["mart_n_actual"]) == ("invoices", 1)


def test_rerun_replaces_only_its_cutoff(con):
    write_revenue(con, CUTOFF, "run-1")
    con.execute("INSERT INTO marts.revenue SELECT '2023-10', * EXCLUDE (cutoff) FROM marts.revenue")
    write_revenue(con, CUTOFF, "run-2")
    assert con.execute(
        "SELECT cutoff, count(*), any_value(run_id) FROM marts.revenue GROUP BY cutoff ORDER BY cutoff"
    ).fetchall() == [("2023-10", 16, "run-1"), ("2023-11", 16, "run-2")]


def test_month_column_preference():
    assert month_column([("cutoff", "VARCHAR"), ("month", "DATE"), ("ds", "DATE")])[0] == "month"
    assert month_column([("cutoff", "VARCHAR"), ("ds", "DATE")])[0] == "ds"
    assert month_column([("x", "VARCHAR"), ("scored_at", "TIMESTAMP WITH TIME ZONE")])[0] == "scored_at"
    assert month_column([("cutoff", "VARCHAR"), ("metric", "VARCHAR")]) == ("cutoff", "left(cutoff, 7)")
    assert month_column([("metric", "VARCHAR")]) == (None, None)
    assert month_column([("cutoff", "VARCHAR"), ("scored_at", "TIMESTAMP WITH TIME ZONE")])[0] == "cutoff"
    assert month_column([("month", "INTEGER"), ("ds", "DATE")]) == ("month", "CAST(month AS VARCHAR)")


def test_export_swap_and_recovery(con, tmp_path):
    write_revenue(con, CUTOFF, "run-1")
    root = tmp_path / "exports"
    exported = {e.table: e for e in export_marts(con, root)}
    assert exported["marts.revenue"].rows == 16 and exported["marts.revenue"].month_column == "date"
    assert sorted(p.name for p in (root / "revenue").iterdir()) == [
        "month=2023-10",
        "month=2023-11",
        "month=2023-12",
    ]
    # a table with nothing to split by is one file; its own non-date month column is the key, as written
    con.execute("CREATE TABLE marts.plans AS SELECT 'p' || i AS plan, i AS n FROM range(3) t(i)")
    con.execute("CREATE TABLE marts.seasons AS SELECT i % 2 + 1 AS month, i AS n FROM range(5) t(i)")
    export_marts(con, root)
    assert [p.name for p in (root / "plans").iterdir()] == ["part-0.parquet"]
    assert pads.dataset(root / "plans", format="parquet", partitioning="hive").count_rows() == 3
    seasons = pads.dataset(root / "seasons", format="parquet", partitioning="hive").to_table()
    assert sorted(p.name for p in (root / "seasons").iterdir()) == ["month=1", "month=2"]
    assert seasons.num_rows == 5 and sorted(seasons.column("month").to_pylist()) == [1, 1, 1, 2, 2]
    # a crash between the two renames of a swap: the next run puts the previous export back first
    (tmp_path / "exports").rename(tmp_path / ".exports.old-abc")
    (tmp_path / ".exports.staging-def").mkdir()
    _recover(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exports"]
    assert (root / "revenue" / "month=2023-12").is_dir()


def test_total_combines_streams_and_skips_months_a_stream_does_not_forecast():
    m = pd.DataFrame(
        [
            ("usage", "USD", "2023-11-01", 10.0, np.nan, np.nan, np.nan, np.nan, np.nan),
            ("invoices", "USD", "2023-11-01", 5.0, np.nan, np.nan, np.nan, np.nan, np.nan),
            ("usage", "USD", "2023-12-01", np.nan, 100.0, 97.0, 104.0, 95.0, 106.0),
            ("invoices", "USD", "2023-12-01", np.nan, 50.0, 46.0, 53.0, 40.0, 60.0),
            ("usage", "USD", "2024-01-01", np.nan, 90.0, 87.0, 93.0, 85.0, 95.0),
            ("billing", "USD", "2023-12-01", np.nan, 999.0, np.nan, np.nan, np.nan, np.nan),
            # the plan has no actuals: adding it would lift the forecast above the actuals it follows
            ("subscriptions", "USD", "2023-12-01", np.nan, 400.0, 390.0, 410.0, 380.0, 420.0),
        ],
        columns=["stream", "currency", "month", "actual", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"],
    )
    t = total_series(m).set_index("month")
    assert list(t.index) == ["2023-11-01", "2023-12-01"]  # 2024-01: invoices has no forecast, no total
    assert t.loc["2023-11-01", "actual"] == 15.0 and np.isnan(t.loc["2023-11-01", "forecast"])
    dec = t.loc["2023-12-01"]
    assert dec["forecast"] == 150.0  # neither billing nor the forecast-only plan is added
    assert dec["lo_80"] == pytest.approx(150 - 5.0) and dec["hi_80"] == pytest.approx(
        150 + 5.0
    )  # 3-4-5, 4-3-5
    assert dec["lo_95"] == pytest.approx(150 - np.hypot(5, 10)) and dec["streams"] == "invoices, usage"


def test_svg_chart_is_inline_and_draws_both_lines():
    f = pd.DataFrame(
        {
            "month": pd.to_datetime(["2023-10-01", "2023-11-01", "2023-12-01", "2024-01-01"]),
            "actual": [1.0, 2.0, np.nan, np.nan],
            "forecast": [np.nan, np.nan, 3.0, 4.0],
            "lo_80": [np.nan, np.nan, 2.5, 3.0],
            "hi_80": [np.nan, np.nan, 3.5, 5.0],
            "lo_95": [np.nan, np.nan, 2.0, 2.0],
            "hi_95": [np.nan, np.nan, 4.0, 6.0],
        }
    )
    svg = svg_chart(f, "t")
    assert svg.startswith("<svg") and "<script" not in svg and svg.count("<polyline") == 2
    assert svg.count("<rect") == 4 + 4  # two bands x two months, four legend swatches
