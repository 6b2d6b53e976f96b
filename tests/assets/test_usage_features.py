"""Usage features, EDA profile, revenue mart and forecast accuracy, materialized in-process on sample data."""

import math
import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.usage.features import usage_daily_totals, usage_features
from assets.usage.profile import report_path, usage_profile
from assets.usage.revenue import usage_forecast_accuracy, usage_revenue
from revcast.usage.features import USAGE_FEATURES, holiday_dates
from revcast.warehouse import connect
from tests.conftest import QUIET, SAMPLE_END, SAMPLE_START, make_resources, materialize_range

PRICES = {"api_calls": 0.20, "storage_gb": 0.10}
CUTOFF = "2023-06"  # the label the tables store
CUTOFF_KEY = "2023-06"  # the monthly partition key (YYYY-MM)


@pytest.fixture(scope="module")
def features_warehouse(usage_warehouse, sample_landing, tmp_path_factory):
    """Daily totals over the whole sample, then the feature table (copy before writing)."""
    workdir = tmp_path_factory.mktemp("usage_features")
    shutil.copy(usage_warehouse, workdir / "revcast.duckdb")
    resources = make_resources(sample_landing, workdir)
    totals = materialize_range(
        [usage_daily_totals], resources, SAMPLE_START.isoformat(), SAMPLE_END.isoformat()
    )
    assert totals.success
    assert all(c.passed for c in totals.get_asset_check_evaluations())
    features = dg.materialize([usage_features], resources=resources, run_config=QUIET)
    assert features.success
    assert all(c.passed for c in features.get_asset_check_evaluations())
    return workdir / "revcast.duckdb"


@pytest.fixture
def resources_with_features(features_warehouse, sample_landing, tmp_path):
    shutil.copy(features_warehouse, tmp_path / "revcast.duckdb")
    return make_resources(sample_landing, tmp_path)


def _read(path, sql, params=None) -> pd.DataFrame:
    con = connect(path, read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def test_daily_totals_and_features_match_clean_usage(features_warehouse):
    days = (SAMPLE_END - SAMPLE_START).days + 1
    clean = _read(features_warehouse, "SELECT metric, usage_date AS ds, quantity FROM clean.usage")
    expected = clean.groupby(["metric", "ds"])["quantity"].sum()
    totals = _read(features_warehouse, "SELECT * FROM features.usage_daily_totals").set_index(
        ["metric", "ds"]
    )
    assert len(totals) == 2 * days
    np.testing.assert_allclose(totals["quantity"].reindex(expected.index), expected, rtol=1e-12)
    f = _read(features_warehouse, "SELECT * FROM features.usage_features ORDER BY metric, ds")
    assert len(f) == 2 * days and f["quantity"].notna().all()
    api = f[f["metric"] == "api_calls"].reset_index(drop=True)
    np.testing.assert_array_equal(api["lag_180"].to_numpy()[180:], api["quantity"].to_numpy()[:-180])
    np.testing.assert_allclose(
        api["rolling_mean_28"], api["quantity"].shift(1).rolling(28).mean(), equal_nan=True
    )
    assert USAGE_FEATURES.holiday_country == "AU"  # one country for the features and the models
    au_holidays = holiday_dates("AU", SAMPLE_START, SAMPLE_END)
    assert len(au_holidays) >= 14 and f["is_holiday"].sum() == 2 * len(au_holidays)
    assert f["observed"].all()


def test_daily_totals_rerun_of_one_day_is_idempotent(resources_with_features):
    path = resources_with_features["warehouse"].path
    before = _read(path, "SELECT * FROM features.usage_daily_totals ORDER BY metric, ds")
    result = dg.materialize(
        [usage_daily_totals], resources=resources_with_features, partition_key="2023-03-05", run_config=QUIET
    )
    assert result.success
    after = _read(path, "SELECT * FROM features.usage_daily_totals ORDER BY metric, ds")
    pd.testing.assert_frame_equal(before, after)


def test_profile_report_and_heavy_user_shares(resources_with_features):
    result = dg.materialize([usage_profile], resources=resources_with_features, run_config=QUIET)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    metadata = result.asset_materializations_for_node("usage_profile")[0].metadata
    # independent: from clean.usage, with pandas nlargest
    clean = _read(
        resources_with_features["warehouse"].path, "SELECT account_id, metric, quantity FROM clean.usage"
    )
    per_account = clean.groupby(["metric", "account_id"])["quantity"].sum()
    for metric, totals in per_account.groupby(level="metric"):
        for p in (1, 10):
            k = max(1, math.ceil(len(totals) * p / 100))
            expected = totals.nlargest(k).sum() / totals.sum()
            assert metadata[f"{metric}_top_{p}pct_share"].value == pytest.approx(expected, rel=1e-9)
            assert 0 <= expected <= 1
    html = report_path(resources_with_features["warehouse"].path).read_text()
    assert html.count('src="data:image/png;base64,') == 7
    assert "Heavy users" in html and "STL" in html and "Pareto" in html
    assert metadata["plot_pareto"].value.startswith("![pareto](data:image/png;base64,")
    assert "top_10pct_share" in metadata["heavy_users"].value


def _insert_forecasts(
    path, cutoff: str, start: str, h: int, *, bias: float, model: str = "toy"
) -> pd.DataFrame:
    """Forecasts built from the actuals (scaled by `bias`) with fixed-width bounds, as the models helper would."""
    con = connect(path)
    try:
        con.execute(
            """
            INSERT INTO forecasts.usage_forecasts
            SELECT $cutoff, metric, ds, CAST(ds - CAST($start AS DATE) + 1 AS INTEGER),
                   quantity * $bias, quantity * $bias * 0.9, quantity * $bias * 1.1,
                   quantity * $bias * 0.8, quantity * $bias * 1.2, $model, 'usage/' || $model || '/' || $cutoff, 'test'
            FROM features.usage_daily_totals
            WHERE ds >= CAST($start AS DATE) AND ds < CAST($start AS DATE) + to_days(CAST($h AS INTEGER))
            """,
            {"cutoff": cutoff, "start": start, "h": h, "bias": bias, "model": model},
        )
        return con.execute("SELECT * FROM forecasts.usage_forecasts WHERE cutoff = ?", [cutoff]).df()
    finally:
        con.close()


def test_revenue_mart_reconciles_and_prices_forecasts(resources_with_features):
    path = resources_with_features["warehouse"].path
    forecasts = _insert_forecasts(path, CUTOFF, "2023-07-01", 182, bias=1.05)
    result = dg.materialize(
        [usage_revenue], resources=resources_with_features, partition_key=CUTOFF_KEY, run_config=QUIET
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["usage_revenue_reconciles"].passed and checks["usage_revenue_matches_forecast"].passed
    daily = _read(path, "SELECT * FROM marts.usage_revenue_daily WHERE cutoff = ?", [CUTOFF])
    fc = daily[daily["kind"] == "forecast"].merge(forecasts, on=["metric", "ds"], suffixes=("", "_f"))
    assert len(fc) == len(forecasts) == 2 * 182
    np.testing.assert_allclose(fc["revenue"], fc["yhat"] * fc["metric"].map(PRICES), rtol=1e-12)
    np.testing.assert_allclose(fc["lo_95"], fc["lo_95_f"] * fc["metric"].map(PRICES), rtol=1e-12)
    assert daily.loc[daily["kind"] == "actual", "ds"].max() == pd.Timestamp("2023-06-30")
    # actual revenue from clean.usage, independently
    clean = _read(
        path,
        "SELECT metric, quantity FROM clean.usage WHERE usage_date BETWEEN '2023-06-01' AND '2023-06-30'",
    )
    june = (clean["quantity"] * clean["metric"].map(PRICES)).sum()
    monthly = _read(path, "SELECT * FROM marts.usage_revenue_monthly WHERE cutoff = ?", [CUTOFF])
    row = (
        (monthly["metric"] == "total")
        & (monthly["kind"] == "actual")
        & (monthly["month"] == pd.Timestamp("2023-06-01"))
    )
    got = monthly.loc[row, "revenue"].item()
    assert got == pytest.approx(june, rel=1e-9)
    sums = daily.assign(month=daily["ds"].dt.to_period("M").dt.start_time).groupby(
        ["metric", "month", "kind"]
    )["revenue"]
    merged = monthly.set_index(["metric", "month", "kind"])["revenue"]
    np.testing.assert_allclose(merged.sort_index(), sums.sum().reindex(merged.index).sort_index(), rtol=1e-12)
    fc_months = monthly[(monthly["kind"] == "forecast") & (monthly["metric"] != "total")]
    assert (fc_months["lo_95_comonotonic"] <= fc_months["lo_95"]).all()
    assert (fc_months["hi_95"] <= fc_months["hi_95_comonotonic"]).all()


def test_revenue_fails_on_a_bad_price_book(resources_with_features, tmp_path):
    _insert_forecasts(resources_with_features["warehouse"].path, CUTOFF, "2023-07-01", 30, bias=1.0)
    book = tmp_path / "bad.yaml"
    book.write_text(
        "currency: USD\nprices:\n  api_calls: {unit_price: 0.2}\n  storage_gb: {unit_price: abc}\n"
    )
    with pytest.raises(Exception, match=r"prices\.storage_gb\.unit_price: must be a non-negative number"):
        dg.materialize(
            [usage_revenue],
            resources=resources_with_features,
            partition_key=CUTOFF_KEY,
            run_config={**QUIET, "ops": {"usage_revenue": {"config": {"price_book": str(book)}}}},
        )


def test_forecast_accuracy_scores_past_cutoffs_and_flags_drift(resources_with_features):
    path = resources_with_features["warehouse"].path
    _insert_forecasts(path, "2023-06", "2023-07-01", 182, bias=1.0)  # perfect: MAE 0, full coverage
    _insert_forecasts(path, "2023-09-01", "2023-10-01", 182, bias=1.5)  # 50% too high; key-style cutoff
    result = dg.materialize([usage_forecast_accuracy], resources=resources_with_features, run_config=QUIET)
    assert result.success
    acc = _read(path, "SELECT * FROM marts.usage_forecast_accuracy ORDER BY cutoff, metric, horizon_from")
    june = acc[acc["cutoff"] == "2023-06"]
    assert list(june["n_days"]) == [7, 23, 60, 92] * 2  # Jul..Dec: 184 days with actuals, horizon <= 182
    assert (june["mae"] == 0).all() and (june["coverage_95"] == 1).all()
    sept = acc[acc["cutoff"] == "2023-09"]
    assert list(sept["n_days"]) == [7, 23, 60, 2] * 2  # Oct..Dec only: 92 days have actuals
    totals = _read(path, "SELECT metric, ds, quantity FROM features.usage_daily_totals")
    week = totals[
        (totals["ds"] >= "2023-10-01") & (totals["ds"] <= "2023-10-07") & (totals["metric"] == "api_calls")
    ]
    first = sept[(sept["metric"] == "api_calls") & (sept["horizon_bucket"] == "1-7")].iloc[0]
    assert first["mae"] == pytest.approx((0.5 * week["quantity"]).mean())
    assert first["coverage_80"] == 0.0
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "2023-09" in check.description
