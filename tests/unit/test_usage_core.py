"""Usage core on toy data: lags, past-only rolling stats, no leakage, price book, revenue and accuracy math."""

import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from revcast.usage.features import UsageFeatureConfig, build_usage_features, holiday_dates
from revcast.usage.monitoring import drift_flags, write_forecast_accuracy
from revcast.usage.pricing import PriceBookError, load_price_book, validate_price_book
from revcast.usage.revenue import reconciliation_gaps, write_usage_revenue
from revcast.warehouse import apply_ddl

START = date(2023, 1, 1)


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    apply_ddl(con)
    return con


def _totals(con, metric: str, values, start: date = START) -> None:
    frame = pd.DataFrame(
        {
            "metric": metric,
            "ds": [start + timedelta(days=i) for i in range(len(values))],
            "quantity": np.asarray(values, float),
            "active_accounts": 1,
        }
    )
    con.register("_toy", frame)
    con.execute("INSERT INTO features.usage_daily_totals BY NAME SELECT * FROM _toy")
    con.unregister("_toy")


def _features(con, country="US") -> pd.DataFrame:
    build_usage_features(con, UsageFeatureConfig(holiday_country=country))
    return con.execute("SELECT * FROM features.usage_features ORDER BY metric, ds").df()


def test_lag_k_is_the_value_k_days_earlier():
    con = _warehouse()
    values = np.arange(400, dtype=float) ** 2  # every value distinct
    _totals(con, "api_calls", values)
    _totals(con, "storage_gb", -values)  # a second metric must not leak into the first's lags
    f = _features(con)
    api = f[f["metric"] == "api_calls"].reset_index(drop=True)
    for k in (1, 2, 7, 28, 91, 180):
        lag = api[f"lag_{k}"].to_numpy()
        assert np.isnan(lag[:k]).all()
        np.testing.assert_array_equal(lag[k:], values[:-k])
    assert (f.loc[f["metric"] == "storage_gb", "lag_1"].dropna() <= 0).all()
    assert [c for c in f.columns if c.startswith("lag_")] == [f"lag_{k}" for k in range(1, 181)]


def test_missing_day_stays_a_gap_and_lags_count_calendar_days():
    con = _warehouse()
    _totals(con, "m", [1.0, 2.0, 3.0])
    _totals(con, "m", [5.0, 6.0], start=START + timedelta(days=4))  # day 4 missing
    f = _features(con, country=None)
    assert len(f) == 6 and math.isnan(f.loc[3, "quantity"])
    assert f["observed"].tolist() == [True, True, True, False, True, True]
    assert f.loc[5, "lag_1"] == 5.0 and math.isnan(f.loc[5, "lag_2"]) and f.loc[5, "lag_3"] == 3.0
    assert math.isnan(f.loc[5, "rolling_mean_3"])  # the window holds the missing day: not a full window


def test_rolling_stats_use_only_past_days():
    con = _warehouse()
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 50.0, 120)
    _totals(con, "m", values)
    f = _features(con)
    past = pd.Series(values).shift(1)
    for w in (3, 7, 28):
        np.testing.assert_allclose(f[f"rolling_mean_{w}"], past.rolling(w).mean(), equal_nan=True)
        np.testing.assert_allclose(f[f"rolling_std_{w}"], past.rolling(w).std(), equal_nan=True)
    # a spike today changes no feature of today
    con2 = _warehouse()
    spiked = values.copy()
    spiked[100] = 1e9
    _totals(con2, "m", spiked)
    g = _features(con2)
    feature_cols = [c for c in f.columns if c.startswith(("lag_", "rolling_"))]
    pd.testing.assert_series_equal(f.loc[100, feature_cols], g.loc[100, feature_cols])


def test_calendar_and_holidays():
    con = _warehouse()
    _totals(con, "m", np.ones(11), start=date(2023, 12, 22))
    f = _features(con, country="US").set_index("ds")
    christmas = f.loc[pd.Timestamp("2023-12-25")]
    assert bool(christmas["is_holiday"]) and christmas["weekday"] == 0  # a Monday
    assert christmas["month"] == 12 and christmas["day_of_month"] == 25
    assert f["is_holiday"].sum() == 2  # 25 Dec, 1 Jan
    assert holiday_dates("DE", date(2023, 12, 22), date(2023, 12, 31)) == [
        date(2023, 12, 25),
        date(2023, 12, 26),
    ]


def test_features_for_a_cutoff_do_not_change_when_later_data_arrives():
    rng = np.random.default_rng(11)
    history = rng.normal(100, 10, 400)  # 2023-01-01 .. 2024-02-04
    later = rng.normal(10_000, 500, 120)  # a regime change after the cutoff
    con = _warehouse()
    _totals(con, "m", history)
    before = _features(con)
    con2 = _warehouse()
    _totals(con2, "m", np.r_[history, later])
    after = _features(con2)
    end = pd.Timestamp("2023-12-31")
    pd.testing.assert_frame_equal(before[before["ds"] <= end], after[after["ds"] <= end])


GOOD = {"currency": "USD", "prices": {"api_calls": {"unit_price": 0.2}, "storage_gb": {"unit_price": 0.1}}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {
                "currency": "USD",
                "prices": {"storage_gb": {"unit_price": "abc"}, "api_calls": {"unit_price": 0.2}},
            },
            "prices.storage_gb.unit_price: must be a non-negative number, got 'abc'",
        ),
        (
            {"currency": "USD", "prices": {"api_calls": {"unit_price": -1}}},
            "prices.api_calls.unit_price: must be",
        ),
        (
            {"currency": "USD", "prices": {"api_calls": {"unit": "call"}}},
            "prices.api_calls.unit_price: missing",
        ),
        ({"prices": GOOD["prices"]}, "currency: missing"),
        ({"currency": "dollars", "prices": GOOD["prices"]}, "currency: must be a three-letter ISO code"),
        ({"currency": "USD"}, "prices: missing"),
        (
            {"currency": "USD", "prices": {"api_calls": {"unit_price": 0.2, "colour": 1}}},
            "prices.api_calls.colour",
        ),
        ({**GOOD, "discount": 0.1}, "discount: unknown field"),
    ],
)
def test_price_book_errors_name_the_field(raw, message):
    with pytest.raises(PriceBookError) as err:
        validate_price_book(raw)
    assert message in str(err.value)


def test_price_book_unknown_and_unpriced_metrics(tmp_path, monkeypatch):
    raw = {"currency": "USD", "prices": {"api_calls": {"unit_price": 0.2}, "storage_GB": {"unit_price": 0.1}}}
    with pytest.raises(PriceBookError) as err:
        validate_price_book(raw, "book.yaml", metrics={"api_calls", "storage_gb"})
    text = str(err.value)
    assert "book.yaml" in text and "prices.storage_GB: metric names are lower_snake_case" in text
    assert "prices.storage_gb: missing" in text
    raw["prices"]["cpu"] = raw["prices"].pop("storage_GB")
    with pytest.raises(PriceBookError, match=r"prices\.cpu: unknown metric"):
        validate_price_book(raw, metrics={"api_calls"})
    default = load_price_book()
    assert default.currency == "USD" and default.unit_prices == {"api_calls": 0.2, "storage_gb": 0.1}
    custom = tmp_path / "prices.yaml"
    custom.write_text("currency: EUR\nprices:\n  api_calls: {unit_price: 0.5}\n")
    monkeypatch.setenv("REVCAST_PRICE_BOOK", str(custom))
    assert load_price_book().unit_prices == {"api_calls": 0.5}
    custom.write_text("currency: EUR\nprices: [\n")
    with pytest.raises(PriceBookError, match="not valid YAML"):
        load_price_book()


def _forecasts(con, cutoff, metric, start: date, yhat, lo80, hi80, lo95, hi95, model="toy"):
    n = len(yhat)
    frame = pd.DataFrame(
        {
            "cutoff": cutoff,
            "metric": metric,
            "ds": [start + timedelta(days=i) for i in range(n)],
            "horizon": np.arange(1, n + 1, dtype=np.int32),
            "yhat": yhat,
            "lo_80": lo80,
            "hi_80": hi80,
            "lo_95": lo95,
            "hi_95": hi95,
            "model": model,
            "model_id": f"usage/{model}/{cutoff}/{metric}",
            "run_id": "test",
        }
    )
    con.register("_fc", frame)
    con.execute("INSERT INTO forecasts.usage_forecasts BY NAME SELECT * FROM _fc")
    con.unregister("_fc")


def test_revenue_is_forecast_times_price_and_months_reconcile():
    con = _warehouse()
    _totals(con, "api_calls", np.full(31, 100.0))  # January actuals
    _totals(con, "storage_gb", np.full(31, 10.0))
    days = 28 + 5  # February and five days of March
    ones = np.ones(days)
    _forecasts(
        con,
        "2023-01",
        "api_calls",
        date(2023, 2, 1),
        200 * ones,
        190 * ones,
        210 * ones,
        180 * ones,
        220 * ones,
    )
    _forecasts(
        con, "2023-01", "storage_gb", date(2023, 2, 1), 20 * ones, 18 * ones, 22 * ones, 16 * ones, 24 * ones
    )
    book = validate_price_book(GOOD)
    write_usage_revenue(con, "2023-01", date(2023, 1, 31), book, "run")
    daily = con.execute("SELECT * FROM marts.usage_revenue_daily ORDER BY metric, ds").df()
    monthly = (
        con.execute("SELECT * FROM marts.usage_revenue_monthly").df().set_index(["metric", "month", "kind"])
    )
    fc = daily[(daily["kind"] == "forecast") & (daily["metric"] == "api_calls")]
    assert len(fc) == days and np.allclose(fc["revenue"], 40.0) and np.allclose(fc["hi_95"], 44.0)
    jan = monthly.loc[("total", pd.Timestamp("2023-01-01"), "actual")]
    assert jan["revenue"] == pytest.approx(31 * (100 * 0.2 + 10 * 0.1)) and jan["days"] == 31
    feb = monthly.loc[("api_calls", pd.Timestamp("2023-02-01"), "forecast")]
    assert feb["revenue"] == pytest.approx(28 * 40.0) and feb["days"] == 28
    # independence: half-width sqrt(28) * 4 (95%), comonotonic: 28 * 4
    assert feb["lo_95"] == pytest.approx(28 * 40 - math.sqrt(28) * 4.0)
    assert feb["hi_95_comonotonic"] == pytest.approx(28 * 44.0)
    total_feb = monthly.loc[("total", pd.Timestamp("2023-02-01"), "forecast")]
    assert total_feb["hi_95"] == pytest.approx(28 * 42 + math.sqrt(28 * (4.0**2 + 0.4**2)))
    assert monthly.loc[("api_calls", pd.Timestamp("2023-03-01"), "forecast"), "days"] == 5
    gaps = reconciliation_gaps(con, "2023-01")
    assert (
        gaps["monthly_vs_daily"] < 1e-9 and gaps["total_vs_metrics"] < 1e-9 and gaps["unmatched_months"] == 0
    )


def test_accuracy_by_horizon_against_hand_computed_values():
    con = _warehouse()
    january = [10.0 + 2 * (i % 2) for i in range(31)]  # |y_t - y_(t-7)| = 2 every day: scale 2
    _totals(con, "m", january + [20.0] * 10)  # actuals through 10 February
    yhat = [18.0] * 7 + [23.0] * 13  # 20 forecast days; only 10 have actuals
    hi_95 = [19.5] * 3 + [20.5] * 4 + [25.5] * 13  # 4 of the first 7 days covered at 95%
    _forecasts(con, "2023-01", "m", date(2023, 2, 1), yhat, [v - 1 for v in yhat], [v + 1 for v in yhat],
               [v - 2.5 for v in yhat], hi_95)  # fmt: skip
    assert write_forecast_accuracy(con) == 2
    acc = con.execute("SELECT * FROM marts.usage_forecast_accuracy ORDER BY horizon_from").df()
    first, second = acc.iloc[0], acc.iloc[1]
    assert first["horizon_bucket"] == "1-7" and first["n_days"] == 7
    assert first["mae"] == pytest.approx(2.0) and first["scale"] == pytest.approx(2.0)
    assert first["mase"] == pytest.approx(1.0)
    assert first["coverage_80"] == 0.0 and first["coverage_95"] == pytest.approx(4 / 7)
    assert second["horizon_bucket"] == "8-30" and second["n_days"] == 3
    assert second["mae"] == pytest.approx(3.0) and second["mase"] == pytest.approx(1.5)
    assert second["coverage_95"] == 0.0
    flags = drift_flags(acc)
    assert list(flags["horizon_bucket"]) == ["1-7", "8-30"]
    assert "95% coverage" in flags.loc[0, "reason"] and "MASE 1.5 > 1.0" in flags.loc[1, "reason"]
    assert drift_flags(acc, max_mase=2.0, min_coverage_95=0.5).empty is False  # 8-30 still at 0% coverage
