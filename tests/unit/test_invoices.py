"""revcast.invoices: reading real-shaped invoice JSON, daily series completeness, features without leakage."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from revcast.invoices import (
    CLEAN_SCHEMA,
    DAILY_COLUMNS,
    FEATURE_COLUMNS,
    QUARANTINE_SCHEMA,
    InvoiceFileError,
    daily_revenue,
    read_invoice_file,
    revenue_features,
    top_countries,
)


def rec(
    day: date,
    *,
    country: str = "United Kingdom",
    customer: float | None = 13085.0,
    invoice: str = "489434",
    price: float = 6.95,
    stream: str = "85048",
    views: int | str = 12,
    drift: bool = False,
) -> dict:
    """One raw record as the exports write it (drift=True: the total_price/StreamID/TimesViewed spelling)."""
    out: dict = {"country": country, "customer_id": customer, "invoice": invoice}
    out["total_price" if drift else "price"] = price
    out["StreamID" if drift else "stream_id"] = stream
    out["TimesViewed" if drift else "times_viewed"] = views
    out.update(year=str(day.year), month=str(day.month), day=str(day.day))
    return out


def write(path: Path, records: list[dict], *, pretty: bool = False) -> Path:
    path.write_text(json.dumps(records, indent=2) if pretty else json.dumps(records, separators=(",", ":")))
    return path


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


# --- reading files ------------------------------------------------------------------------------------


def test_key_drift_compact_and_pretty_give_same_clean_rows(tmp_path, con):
    d = date(2018, 1, 5)
    a = write(tmp_path / "a.json", [rec(d), rec(d, invoice="C536379", price=2.5)])
    b = write(
        tmp_path / "b.json",
        [rec(d, drift=True), rec(d, invoice="C536379", price=2.5, drift=True)],
        pretty=True,
    )
    assert "\n" in b.read_text() and "\n" not in a.read_text()
    rows_a = read_invoice_file(con, a).clean.fetchall()
    batch_b = read_invoice_file(con, b)
    rows_b = batch_b.clean.fetchall()
    assert list(batch_b.clean.columns) == list(CLEAN_SCHEMA)
    strip = [r[:-2] for r in rows_a]  # all but source_file, record_number
    assert strip == [r[:-2] for r in rows_b]
    assert [r[-1] for r in rows_b] == [1, 2]
    assert rows_b[0][-2] == str(b)
    first = dict(zip(CLEAN_SCHEMA, rows_b[0], strict=True))
    assert first["invoice_date"] == d
    assert first["price"] == pytest.approx(6.95)
    assert first["stream_id"] == "85048" and first["times_viewed"] == 12


def test_invoice_prefixes_and_cancellation_flag(tmp_path, con):
    d = date(2019, 3, 1)
    path = write(
        tmp_path / "p.json", [rec(d, invoice="C536379"), rec(d, invoice="A123"), rec(d, invoice="489434")]
    )
    df = read_invoice_file(con, path).clean.df()
    assert df["invoice_id"].tolist() == [536379, 123, 489434]
    assert df["invoice_prefix"].tolist() == ["C", "A", None]
    assert df["is_cancellation"].tolist() == [True, False, False]


def test_null_customer_kept_and_float_ids_become_integers(tmp_path, con):
    d = date(2019, 3, 1)
    path = write(tmp_path / "c.json", [rec(d, customer=None), rec(d, customer=17850.0)])
    batch = read_invoice_file(con, path)
    assert batch.rows_quarantined == 0
    assert batch.clean.fetchall()[0][2] is None
    assert con.sql(
        f"SELECT customer_id, typeof(customer_id) FROM {batch.table} ORDER BY record_number"
    ).fetchall() == [
        (None, "BIGINT"),
        (17850, "BIGINT"),
    ]


def test_bad_rows_quarantined_with_reasons_and_accounting(tmp_path, con):
    d = date(2021, 2, 1)
    bad_day = rec(d)
    bad_day["day"] = "30"
    records = [
        rec(d),
        rec(d, price=12_000.0),
        rec(d, price=-1.0),
        bad_day,
        rec(d, views="lots"),
        rec(d, price=9_999.0),
    ]
    path = write(tmp_path / "q.json", records)
    batch = read_invoice_file(con, path)
    assert (batch.rows_read, batch.rows_clean, batch.rows_quarantined) == (6, 2, 4)
    assert batch.rows_read == batch.rows_clean + batch.rows_quarantined
    assert len(batch.clean.fetchall()) == batch.rows_clean
    q = batch.quarantine.df()
    assert list(q.columns) == list(QUARANTINE_SCHEMA)
    assert q["record_number"].tolist() == [2, 3, 4, 5]
    assert q["reason"].tolist() == [
        "price outside [0, 10000]",
        "price outside [0, 10000]",
        "invalid date 2021-02-30",
        "non-numeric times_viewed",
    ]
    assert json.loads(q["raw_record"].iloc[2]) == bad_day
    assert set(q["source_file"]) == {str(path)}


def test_price_range_is_configurable(tmp_path, con):
    path = write(tmp_path / "r.json", [rec(date(2020, 1, 1), price=50.0), rec(date(2020, 1, 1), price=5.0)])
    batch = read_invoice_file(con, path, price_range=(0.0, 10.0))
    assert batch.rows_clean == 1
    assert batch.quarantine.fetchall()[0][3] == "price outside [0, 10]"


def test_unknown_key_fails_whole_file_naming_file_and_key(tmp_path, con):
    extra = rec(date(2020, 1, 1))
    extra["discount"] = 0.1
    path = write(tmp_path / "u.json", [rec(date(2020, 1, 1)), extra])
    with pytest.raises(InvoiceFileError) as err:
        read_invoice_file(con, path)
    assert str(path) in str(err.value) and "'discount'" in str(err.value)
    assert "record 2" in str(err.value)


def test_missing_required_key_fails_whole_file(tmp_path, con):
    missing = rec(date(2020, 1, 1), drift=True)
    del missing["TimesViewed"]
    path = write(tmp_path / "m.json", [rec(date(2020, 1, 1)), missing])
    with pytest.raises(
        InvoiceFileError, match=r"missing required key 'times_viewed' or 'TimesViewed' in 1 record"
    ) as err:
        read_invoice_file(con, path)
    assert str(path) in str(err.value)


def test_truncated_or_non_array_file_fails(tmp_path, con):
    truncated = tmp_path / "t.json"
    truncated.write_text(json.dumps([rec(date(2020, 1, 1))])[:-1] + ",")
    obj = tmp_path / "o.json"
    obj.write_text(json.dumps(rec(date(2020, 1, 1))))
    for path in (truncated, obj):
        with pytest.raises(InvoiceFileError, match=str(path)):
            read_invoice_file(con, path)


# --- daily series ------------------------------------------------------------------------------------


def load_clean(con: duckdb.DuckDBPyConnection, records: list[dict], tmp_path: Path) -> None:
    """Read records through the real reader into a clean.invoices table."""
    batch = read_invoice_file(con, write(tmp_path / "in.json", records))
    con.execute("CREATE SCHEMA IF NOT EXISTS clean")
    con.execute(f"CREATE OR REPLACE TABLE clean.invoices AS SELECT * FROM {batch.table} WHERE reason IS NULL")


def test_daily_series_complete_with_gap_and_last_day(tmp_path, con):
    d0 = date(2019, 1, 1)
    records = [
        rec(d0, country="France", price=10.0, invoice="1", stream="s1", views=3),
        rec(d0, country="France", price=5.0, invoice="1", stream="s2", views=4),
        rec(d0, country="Norway", price=7.0, invoice="2", stream="s1", views=1),
        rec(d0, country="Norway", price=100.0, invoice="C3", stream="s9", views=9),  # cancellation
        rec(d0 + timedelta(days=3), country="France", price=2.0, invoice="4", stream="s1", views=2),
    ]
    load_clean(con, records, tmp_path)
    df = daily_revenue(con, d0, d0 + timedelta(days=3)).df()
    assert list(df.columns) == DAILY_COLUMNS
    assert sorted(df["unique_id"].unique()) == ["France", "Norway", "all"]
    assert len(df) == 3 * 4  # every id x every day, gap days and the last day included
    fr = df[df.unique_id == "France"].set_index("ds")
    assert fr["revenue"].tolist() == [15.0, 0.0, 0.0, 2.0]
    assert fr.loc[pd.Timestamp(d0), ["purchases", "unique_invoices", "unique_streams", "views"]].tolist() == [
        2,
        1,
        2,
        7,
    ]
    no = df[df.unique_id == "Norway"].set_index("ds").loc[pd.Timestamp(d0)]
    assert (no["revenue"], no["purchases"], no["cancellations"], no["cancelled_revenue"]) == (
        7.0,
        1,
        1,
        100.0,
    )
    countries = df[df.unique_id != "all"].groupby("ds")[["revenue", "purchases", "views"]].sum()
    alls = df[df.unique_id == "all"].set_index("ds")[["revenue", "purchases", "views"]]
    pd.testing.assert_frame_equal(countries, alls, check_dtype=False)
    assert df[df.unique_id == "all"].set_index("ds").loc[pd.Timestamp(d0), "unique_streams"] == 2  # s1, s2


def test_daily_series_rejects_bad_table_name_and_range(con):
    with pytest.raises(ValueError):
        daily_revenue(con, date(2020, 1, 1), date(2020, 1, 2), invoices="clean.invoices; DROP TABLE x")
    with pytest.raises(ValueError):
        daily_revenue(con, date(2020, 1, 2), date(2020, 1, 1))


# --- features, target, baselines ---------------------------------------------------------------------


def make_daily(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS features")
    con.register("frame_view", frame)
    con.execute("CREATE OR REPLACE TABLE features.daily_revenue AS SELECT * FROM frame_view")
    con.unregister("frame_view")


def synthetic_daily(days: int, start: date = date(2018, 1, 1), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=days, freq="D")
    parts = []
    for uid in ("France", "Norway"):
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": ds.date,
                    "revenue": rng.integers(0, 100, days).astype(float),
                    "unique_invoices": rng.integers(0, 5, days),
                    "views": rng.integers(0, 50, days),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_target_and_features_equal_hand_computed_sums(con):
    daily = synthetic_daily(500)
    make_daily(con, daily)
    d = date(2019, 3, 10)
    feats = revenue_features(con, start=d, end=d).df().set_index("unique_id")
    assert list(feats.columns) == ["ds", *FEATURE_COLUMNS, "target_revenue_next_30d"]
    fr = daily[daily.unique_id == "France"].set_index("ds")["revenue"]
    inv = daily[daily.unique_id == "France"].set_index("ds")["unique_invoices"]

    def span(a: int, b: int) -> float:
        return float(fr.loc[d + timedelta(days=a) : d + timedelta(days=b)].sum())

    row = feats.loc["France"]
    assert row["target_revenue_next_30d"] == span(0, 29)
    assert row["revenue_prev_7d"] == span(-7, -1)
    assert row["revenue_prev_70d"] == span(-70, -1)
    assert row["revenue_year_ago_30d"] == span(-365, -336)
    assert row["invoices_mean_prev_30d"] == pytest.approx(
        inv.loc[d - timedelta(days=30) : d - timedelta(days=1)].mean()
    )


def test_features_have_no_leakage(con):
    daily = synthetic_daily(500)
    make_daily(con, daily)
    cut = date(2019, 2, 1)
    before = revenue_features(con, end=cut).df()
    changed = daily.copy()
    later = pd.to_datetime(changed["ds"]) >= pd.Timestamp(cut)
    changed.loc[later, ["revenue", "unique_invoices", "views"]] = 999
    extra = synthetic_daily(40, start=date(2019, 5, 16), seed=7)  # appended days after the end
    make_daily(con, pd.concat([changed, extra], ignore_index=True))
    after = revenue_features(con, end=cut).df()
    pd.testing.assert_frame_equal(
        before[["unique_id", "ds", *FEATURE_COLUMNS]], after[["unique_id", "ds", *FEATURE_COLUMNS]]
    )
    # the target does look ahead, so it changes
    assert not before["target_revenue_next_30d"].equals(after["target_revenue_next_30d"])


def test_incomplete_windows_are_null(con):
    make_daily(con, synthetic_daily(400))
    df = revenue_features(con).df()
    fr = df[df.unique_id == "France"].reset_index(drop=True)
    assert fr["revenue_prev_7d"].isna().sum() == 7
    assert fr["revenue_year_ago_30d"].isna().sum() == 365
    assert fr["target_revenue_next_30d"].isna().sum() == 29  # the last 29 days run past the data


def test_top_countries_by_revenue_in_window(tmp_path, con):
    d0 = date(2020, 1, 1)
    records = [
        rec(d0, country="France", price=50.0),
        rec(d0, country="Norway", price=20.0),
        rec(d0 + timedelta(days=10), country="Norway", price=100.0),
        rec(d0, country="EIRE", price=30.0),
    ]
    load_clean(con, records, tmp_path)
    con.execute("CREATE SCHEMA features")
    daily = daily_revenue(con, d0, d0 + timedelta(days=10))
    daily.create("features.daily_revenue")
    assert top_countries(con, 2) == ["Norway", "France"]
    assert top_countries(con, 2, end=d0) == ["France", "EIRE"]
    assert top_countries(con, 10, start=d0, end=d0) == ["France", "EIRE", "Norway"]


def test_malformed_values_quarantined_not_coerced(tmp_path, con):
    d = date(2020, 6, 1)
    records = [rec(d, invoice="C"), rec(d, customer=12.5), rec(d, views=2.5), rec(d, country="  ")]
    batch = read_invoice_file(con, write(tmp_path / "v.json", records))
    assert batch.rows_clean == 0
    assert [r[3] for r in batch.quarantine.fetchall()] == [
        "invalid invoice C",
        "invalid customer_id 12.5",
        "invalid times_viewed 2.5",
        "missing country",
    ]
