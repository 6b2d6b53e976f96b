"""Interval calibration: known-answer factors, held-out coverage, ordering, and the published usage forecasts."""

from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.usage.models import usage_forecasts, usage_models
from revcast.forecasting import (
    SeasonalNaive,
    apply_calibration,
    factors_from_parameters,
    fit_calibration,
    held_out_coverage,
    load_forecaster,
)
from revcast.forecasting.calibration import FLOOR, conformal_quantile
from revcast.invoices.forecast import window_forecast
from revcast.warehouse import connect

Z = {80: 1.2815516, 95: 1.9599640}


def synthetic_backtest(sigma_true: float, sigma_model: float, folds: int = 3, h: int = 120, seed: int = 0):
    """A backtest whose errors have sd `sigma_true` while the model's intervals claim `sigma_model`."""
    rng = np.random.default_rng(seed)
    n = folds * h
    bt = pd.DataFrame(
        {
            "unique_id": "s",
            "model": "m",
            "fold": np.repeat(np.arange(folds), h),
            "horizon": np.tile(np.arange(1, h + 1), folds),
            "yhat": 50.0,
        }
    )
    bt["y"] = 50.0 + rng.normal(0.0, sigma_true, n)
    for lv, z in Z.items():
        bt[f"lo_{lv}"], bt[f"hi_{lv}"] = 50.0 - z * sigma_model, 50.0 + z * sigma_model
    return bt


def test_factor_recovers_known_scale_and_held_out_coverage_is_nominal() -> None:
    bt = synthetic_backtest(sigma_true=2.0, sigma_model=1.0, folds=3, h=400)
    f = fit_calibration(bt, buckets=1)
    for lv in (80, 95):
        assert f.loc[f["level"] == lv, "factor"].item() == pytest.approx(2.0, rel=0.12)
    cov = held_out_coverage(bt, buckets=1).iloc[0]
    assert cov["coverage_80"] < 0.55 and cov["coverage_95"] < 0.70  # raw: claims sigma 1
    assert cov["coverage_80_calibrated"] == pytest.approx(0.80, abs=0.04)
    assert cov["coverage_95_calibrated"] == pytest.approx(0.95, abs=0.025)


def test_conformal_quantile_rank_and_small_n() -> None:
    s = np.arange(1.0, 11.0)  # n = 10: rank ceil(11 * 0.8) = 9
    assert conformal_quantile(s, 80) == 9.0
    assert conformal_quantile(np.array([1.0, 2.0]), 95) == 2.0  # rank past n: the maximum


def test_over_wide_intervals_shrink_but_not_below_floor_and_buckets_are_monotone() -> None:
    f = fit_calibration(synthetic_backtest(sigma_true=0.1, sigma_model=1.0), buckets=3, floor=0.5)
    assert (f["factor"] == 0.5).all()
    assert (fit_calibration(synthetic_backtest(0.1, 1.0))["factor"] == FLOOR).all()  # default: widen only
    g = fit_calibration(synthetic_backtest(sigma_true=3.0, sigma_model=1.0, seed=3), buckets=3)
    assert g["h_start"].tolist()[:3] == [1, 41, 81]
    for _, part in g.groupby("level"):
        assert part.sort_values("h_start")["factor"].is_monotonic_increasing


def test_sparse_series_pool_over_series() -> None:
    a = synthetic_backtest(2.0, 1.0, folds=3, h=1).assign(unique_id="a")
    b = synthetic_backtest(2.0, 1.0, folds=3, h=1, seed=1).assign(unique_id="b")
    many = pd.concat(
        [a, b] + [synthetic_backtest(2.0, 1.0, 3, 1, seed=i).assign(unique_id=f"c{i}") for i in range(8)]
    )
    f = fit_calibration(many, min_n=10)
    assert f["pooled"].all() and f.groupby("level")["factor"].nunique().eq(1).all()


def test_apply_keeps_order_and_non_negative_widths() -> None:
    fc = pd.DataFrame(
        {
            "unique_id": "s",
            "horizon": [1, 2, 3, 500],
            "yhat": [10.0, 10.0, 10.0, 10.0],
            "lo_80": [9.0, 10.0, 11.0, 8.0],  # a zero width and an inverted (negative) width
            "hi_80": [11.0, 10.0, 12.0, 12.0],
            "lo_95": [8.5, 10.0, 12.0, 7.0],
            "hi_95": [11.5, 10.0, 13.0, 13.0],
        }
    )
    factors = pd.DataFrame(
        {
            "unique_id": "s",
            "level": [80, 95],
            "h_start": 1,
            "h_end": 10,
            "factor": [3.0, 1.0],  # 95% factor smaller than 80%: order must still hold
            "n": 30,
            "pooled": False,
        }
    )
    out = apply_calibration(fc, factors)
    v = out[["lo_95", "lo_80", "yhat", "hi_80", "hi_95"]].to_numpy()
    assert (np.diff(v, axis=1) >= 0).all()
    assert out["hi_80"].tolist() == [13.0, 10.0, 16.0, 16.0]  # horizon 500 uses the last bucket
    assert out["lo_80"].tolist() == [7.0, 10.0, 10.0, 4.0]
    assert apply_calibration(fc, factors.iloc[0:0])["hi_80"].tolist() == fc["hi_80"].tolist()


def test_window_forecast_applies_factors() -> None:
    ds = pd.date_range("2023-01-01", "2023-06-30", freq="D")
    y = 100 + 10 * np.sin(np.arange(len(ds))) + np.random.default_rng(0).normal(0, 3, len(ds))
    model = SeasonalNaive(season=7).fit(pd.DataFrame({"unique_id": "UK", "ds": ds, "y": y}))
    raw = window_forecast(model, "UK", date(2023, 7, 1))
    params = {
        "interval_calibration": [{"level": lv, "h_start": 1, "h_end": 30, "factor": 2.0} for lv in (80, 95)]
    }
    cal = window_forecast(model, "UK", date(2023, 7, 1), factors=factors_from_parameters(params, "UK"))
    assert cal.revenue_30d == raw.revenue_30d
    assert cal.hi_80 - cal.revenue_30d == pytest.approx(2 * (raw.hi_80 - raw.revenue_30d))
    assert cal.hi_95 - cal.revenue_30d == pytest.approx(2 * (raw.hi_95 - raw.revenue_30d))


def test_usage_forecasts_publish_calibrated_widths(usage_model_resources) -> None:
    usage_resources = usage_model_resources
    h, cutoff = 28, "2023-11"
    # usage_models alone (its blocking gate may fail with baselines only), then usage_forecasts
    dg.materialize(
        [usage_models],
        resources=usage_resources,
        partition_key=cutoff,
        run_config={
            "ops": {"usage_models": {"config": {"horizon": h, "models": ["seasonal_naive", "drift"]}}}
        },
        raise_on_error=False,
    )
    result = dg.materialize(
        [usage_forecasts],
        resources=usage_resources,
        partition_key=cutoff,
        run_config={"ops": {"usage_forecasts": {"config": {"horizon": h}}}},
    )
    assert result.success
    con = connect(usage_resources["warehouse"].path, read_only=True)
    champs = con.execute(
        "SELECT unique_id, artifact_path, CAST(parameters AS VARCHAR) AS p FROM models.registry "
        "WHERE domain = 'usage' AND cutoff = ? AND is_champion",
        [cutoff],
    ).df()
    scores = con.execute("SELECT * FROM models.scores WHERE domain = 'usage' AND cutoff = ?", [cutoff]).df()
    fc = con.execute(
        "SELECT * FROM forecasts.usage_forecasts WHERE cutoff = ? ORDER BY metric, horizon", [cutoff]
    ).df()
    con.close()
    assert scores[["coverage_80_calibrated", "coverage_95_calibrated"]].notna().all().all()
    assert len(champs) == 2
    for r in champs.itertuples():
        factors = factors_from_parameters(r.p, r.unique_id)
        assert set(factors["level"]) == {80, 95} and (factors["factor"] > 0).all()
        raw = load_forecaster(r.artifact_path).predict(h)
        raw = raw[raw["unique_id"] == r.unique_id].reset_index(drop=True)
        pub = fc[fc["metric"] == r.unique_id].reset_index(drop=True)
        f80 = factors[factors["level"] == 80].sort_values("h_start")
        expected = np.ones(h)
        for b in f80.itertuples():
            expected[(np.arange(1, h + 1) >= b.h_start)] = b.factor
        keep = raw["yhat"].to_numpy() >= 0  # rows untouched by the clip at 0
        width = (raw["hi_80"] - raw["yhat"]).to_numpy()
        np.testing.assert_allclose(
            (pub["hi_80"] - pub["yhat"]).to_numpy()[keep], (width * expected)[keep], rtol=1e-9
        )


def test_pooled_factor_is_a_floor_for_a_series_own_factor() -> None:
    calm = synthetic_backtest(1.0, 1.0, folds=12, h=1, seed=5).assign(unique_id="calm")
    shocked = [
        synthetic_backtest(4.0, 1.0, folds=12, h=1, seed=i).assign(unique_id=f"s{i}") for i in range(4)
    ]
    bt = pd.concat([calm, *shocked], ignore_index=True)
    own = fit_calibration(bt, pool_floor=False).set_index(["unique_id", "level"])["factor"]
    floored = fit_calibration(bt).set_index(["unique_id", "level"])["factor"]
    pooled = fit_calibration(bt, min_n=100).set_index(["unique_id", "level"])["factor"]  # every series pooled
    for lv in (80, 95):
        assert own[("calm", lv)] < pooled[("calm", lv)]  # its own dozen scores saw no shock
        assert floored[("calm", lv)] == pooled[("calm", lv)]
        for i in range(4):  # a series whose own factor is above the pooled one keeps it
            assert floored[(f"s{i}", lv)] == max(own[(f"s{i}", lv)], pooled[(f"s{i}", lv)])
