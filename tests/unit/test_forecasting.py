"""Unit tests of revcast.forecasting: metrics by hand, backtest folds and leakage, models, tournament."""

from __future__ import annotations

import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from revcast.forecasting import (
    FORECAST_COLUMNS,
    Drift,
    ForecastEngine,
    Forecaster,
    LSTMForecaster,
    SeasonalNaive,
    StatsForecastModel,
    holiday_flags,
    load_forecaster,
)
from revcast.forecasting.base import validate_series
from revcast.forecasting.engine import fold_cutoffs
from revcast.forecasting.metrics import coverage, mae, mape, mase, seasonal_naive_scale, smape
from revcast.tournament import default_artifact_dir, run_domain_tournament, score_backtest


def series(uid: str, y: np.ndarray, start: str = "2022-01-01") -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y), freq="D"), "y": y})


def trend_weekly(n: int = 420, slope: float = 0.4, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    """Linear trend + weekly pattern + Gaussian noise: what ETS/SARIMAX should beat seasonal naive on."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + slope * t + 12 * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n)


def backtest(make, df: pd.DataFrame, h: int, n_windows: int = 3, step: int | None = None) -> pd.DataFrame:
    """Rolling-origin backtest of one model through the engine; fails the test if the model failed."""
    bt, failures = ForecastEngine({"m": make}).cross_validation(df, h, n_windows, step)
    assert failures.empty, failures.to_dict("records")
    return bt


def tiny_lstm() -> LSTMForecaster:
    return LSTMForecaster(lags=14, horizon=14, units=(4, 4), epochs=3, patience=2, batch_size=64)


# ---------------------------------------------------------------- metrics, by hand

Y_TRAIN = [1, 2, 3, 4, 5, 6, 7, 2, 3, 4]  # seasonal (m=7) diffs: 2-1, 3-2, 4-3 -> in-sample MAE 1.0
Y = [2.0, 4.0, 0.0, 5.0]
YHAT = [3.0, 3.0, 1.0, 5.0]  # |errors| 1, 1, 1, 0


def test_metrics_against_hand_computed_values() -> None:
    assert seasonal_naive_scale(Y_TRAIN, 7) == 1.0
    assert mae(Y, YHAT) == 0.75  # (1+1+1+0)/4
    assert mase(Y, YHAT, Y_TRAIN, 7) == 0.75  # 0.75 / 1.0
    # sMAPE terms 2|e|/(|y|+|yhat|): 2/5, 2/7, 2/1, 0 -> mean 94/140
    assert smape(Y, YHAT) == pytest.approx(100 * 94 / 140)
    # MAPE skips the zero actual: (1/2 + 1/4 + 0/5) / 3
    assert mape(Y, YHAT) == pytest.approx(25.0)
    # inside [lo, hi]: yes, yes, no (0 < 0.5), yes (on the boundary)
    assert coverage(Y, [1, 3.5, 0.5, 5], [3, 5, 2, 6]) == 0.75


def test_metric_edge_cases() -> None:
    assert smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert smape([0.0], [5.0]) == 200.0
    assert math.isnan(mape([0.0, 0.0], [1.0, 2.0]))
    assert math.isnan(mase([1.0], [2.0], [3.0] * 10, 7))  # constant training window: scale 0
    assert mae([1.0, np.nan], [2.0, 5.0]) == 1.0


def test_score_backtest_scales_mase_on_each_folds_own_window() -> None:
    df = series("a", trend_weekly(60, noise=3.0))
    bt = backtest(Drift, df, h=7, n_windows=3)
    scores = score_backtest(bt, df, season=7).set_index("model").loc["m"]
    fold_mase = []
    for _, fold in bt.groupby("fold"):
        train = df[df["ds"] <= fold["cutoff"].iloc[0]]["y"]
        fold_mase.append(mase(fold["y"], fold["yhat"], train, 7))
    assert scores["mase"] == pytest.approx(np.mean(fold_mase))
    assert scores["mae"] == pytest.approx(mae(bt["y"], bt["yhat"]))
    assert scores["smape"] == pytest.approx(smape(bt["y"], bt["yhat"]))
    assert scores["coverage_95"] == pytest.approx(coverage(bt["y"], bt["lo_95"], bt["hi_95"]))
    assert scores["n_folds"] == 3


# ---------------------------------------------------------------- backtest folds and leakage


def test_fold_cutoffs_step_back_from_the_end() -> None:
    df = validate_series(series("a", np.arange(100.0)))
    end = df["ds"].max()
    cuts = fold_cutoffs(df, h=7, n_windows=3)["cutoff"].tolist()
    assert cuts == [end - pd.Timedelta(days=d) for d in (21, 14, 7)]
    cuts = fold_cutoffs(df, h=7, n_windows=3, step=3)["cutoff"].tolist()
    assert cuts == [end - pd.Timedelta(days=d) for d in (13, 10, 7)]


class SpySeasonalNaive(SeasonalNaive):
    """A real seasonal naive that also records the last day it was trained on."""

    def __init__(self, seen: list[pd.Timestamp]) -> None:
        super().__init__()
        self.seen = seen

    def _fit(self, df: pd.DataFrame) -> None:
        self.seen.append(df["ds"].max())
        super()._fit(df)


def test_backtest_model_sees_nothing_after_its_cutoff() -> None:
    df = pd.concat([series("a", trend_weekly(80)), series("b", trend_weekly(50, seed=1), "2022-02-01")])
    seen: list[pd.Timestamp] = []
    bt = backtest(lambda: SpySeasonalNaive(seen), df, h=5, n_windows=3)
    cutoffs = bt.groupby("fold")["cutoff"].max().tolist()
    assert seen == cutoffs  # one fit per fold, trained through exactly its (latest) cutoff
    assert (bt["ds"] > bt["cutoff"]).all()
    assert (bt["horizon"] == (bt["ds"] - bt["cutoff"]).dt.days).all()
    assert bt.groupby(["unique_id", "fold"]).size().eq(5).all()
    last = bt[bt["fold"] == 2].groupby("unique_id")["ds"].max()
    assert (last == df.groupby("unique_id")["ds"].max()).all()  # the last fold ends at the last observation


# ---------------------------------------------------------------- models


def test_seasonal_naive_repeats_a_pure_weekly_pattern_exactly() -> None:
    week = np.array([5.0, 7.0, 9.0, 11.0, 3.0, 1.0, 2.0])
    df = series("w", np.tile(week, 10)[:-3])  # ends mid-week
    fc = SeasonalNaive(season=7).fit(df).predict(10)
    expected = np.tile(week, 3)[4:14]
    np.testing.assert_array_equal(fc["yhat"].to_numpy(), expected)
    np.testing.assert_array_equal(fc["lo_95"].to_numpy(), expected)  # zero residuals: zero width
    assert fc["ds"].iloc[0] == df["ds"].max() + pd.Timedelta(days=1)


def test_baseline_interval_horizon_scaling() -> None:
    df = series("a", trend_weekly(100))
    sn = SeasonalNaive().fit(df).predict(15)
    width = (sn["hi_80"] - sn["yhat"]).to_numpy()
    np.testing.assert_allclose(width[7] / width[0], math.sqrt(2))  # h=8: floor(7/7)+1 = 2
    np.testing.assert_allclose(width[14] / width[0], math.sqrt(3))
    dr = Drift().fit(df).predict(10)
    w = (dr["hi_95"] - dr["yhat"]).to_numpy()
    np.testing.assert_allclose(w[9] / w[0], math.sqrt(10 * (1 + 10 / 100)) / math.sqrt(1 + 1 / 100))


def test_drift_continues_a_straight_line() -> None:
    fc = Drift().fit(series("line", 1.0 + 2.0 * np.arange(30))).predict(3)
    np.testing.assert_allclose(fc["yhat"], [61.0, 63.0, 65.0])


def test_aicc_selected_models_beat_seasonal_naive_and_win_the_tournament(tmp_path) -> None:
    df = pd.concat([series("a", trend_weekly(250)), series("b", trend_weekly(250, slope=-0.2, seed=3))])
    models = {
        "seasonal_naive": SeasonalNaive,
        "drift": Drift,
        "auto_ets": lambda: StatsForecastModel("auto_ets"),
        "auto_arima": lambda: StatsForecastModel("auto_arima"),
    }
    res = run_domain_tournament(
        "toy", "2022-09", df, models, h=14, artifact_dir=default_artifact_dir(tmp_path)
    )
    mase_of = res.scores.set_index(["unique_id", "model"])["mase"]
    for uid in ("a", "b"):
        assert mase_of[uid, "auto_ets"] < mase_of[uid, "seasonal_naive"]
        assert mase_of[uid, "auto_arima"] < mase_of[uid, "seasonal_naive"]
        assert mase_of[uid, "drift"] > mase_of[uid, "seasonal_naive"]  # drift ignores the weekly pattern
    champs = res.champions.set_index("unique_id")
    assert set(champs["model"]) <= {"auto_ets", "auto_arima"}
    assert champs["beats_baseline"].all()
    assert res.scores["failure"].isna().all()
    assert res.scores["n_folds"].eq(3).all()


def test_failing_and_too_short_models_are_recorded_per_series() -> None:
    class FailsOnB(Drift):
        def _fit(self, df: pd.DataFrame) -> None:
            if (df["unique_id"] == "b").any():
                raise ValueError("cannot model b")
            super()._fit(df)

    df = pd.concat([series("a", trend_weekly(120)), series("b", np.zeros(60))])
    models = {
        "seasonal_naive": SeasonalNaive,
        "flaky": lambda: FailsOnB(name="flaky"),
        "lstm": lambda: LSTMForecaster(lags=180, horizon=14),  # far too short: raises before any TF work
    }
    bt, failures = ForecastEngine(models).cross_validation(df, h=14, n_windows=3)
    failed = failures.groupby("model")["unique_id"].agg(set)
    assert failed["flaky"] == {"b"}
    assert failed["lstm"] == {"a", "b"}
    assert failures["reason"].str.contains("cannot model b|too short").all()
    assert set(bt["model"]) == {"seasonal_naive", "flaky"}
    assert not ((bt["unique_id"] == "b") & (bt["model"] == "flaky")).any()
    assert bt[bt["model"] == "seasonal_naive"].groupby("unique_id")["fold"].nunique().eq(3).all()


MODELS = {
    "seasonal_naive": SeasonalNaive,
    "drift": Drift,
    "auto_ets": StatsForecastModel,
    "auto_arima": lambda: StatsForecastModel("auto_arima", country="US"),
    "auto_theta": lambda: StatsForecastModel("auto_theta"),
    "croston_sba": lambda: StatsForecastModel("croston_sba"),
    "lstm": tiny_lstm,
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Forecaster, pd.DataFrame]]:
    """Every model fitted once on two series, with its 14-day forecast."""
    df = pd.concat([series("a", trend_weekly(200)), series("b", trend_weekly(150, seed=5), "2022-03-01")])
    out = {}
    for name, make in MODELS.items():
        model = make().fit(df)
        out[name] = (model, model.predict(14))
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_forecast_frame_and_interval_order(name: str, fitted: dict) -> None:
    _, fc = fitted[name]
    assert list(fc.columns) == FORECAST_COLUMNS
    assert fc.groupby("unique_id").size().eq(14).all()
    assert np.isfinite(fc[FORECAST_COLUMNS[2:]].to_numpy()).all()
    assert (fc["lo_95"] <= fc["lo_80"]).all() and (fc["lo_80"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["hi_80"]).all() and (fc["hi_80"] <= fc["hi_95"]).all()
    assert (fc["hi_95"] > fc["lo_95"]).all()
    assert fc.loc[fc["unique_id"] == "b", "ds"].min() == pd.Timestamp("2022-03-01") + pd.Timedelta(days=150)


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_reproduces_forecast_exactly(name: str, fitted: dict, tmp_path) -> None:
    model, fc = fitted[name]
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["params"] == model.params()
    assert meta["training_window"]["b"] == {
        "start": "2022-03-01T00:00:00",
        "end": "2022-07-28T00:00:00",
        "n": 150,
    }
    reloaded = load_forecaster(tmp_path)
    assert type(reloaded) is type(model)
    pd.testing.assert_frame_equal(reloaded.predict(14), fc, check_exact=True)


def test_lstm_scaler_and_forecast_ignore_data_after_the_cutoff() -> None:
    df = series("a", trend_weekly(120))
    extreme = series("a", np.full(20, 1e6), start=str((df["ds"].max() + pd.Timedelta(days=1)).date()))
    cutoff = [df["ds"].max() - pd.Timedelta(days=14)]
    plain = backtest(tiny_lstm, df, h=14, n_windows=1)
    # with 20 more days, the earlier of two folds 20 days apart has the same cutoff as plain's only fold
    appended = backtest(tiny_lstm, pd.concat([df, extreme]), h=14, n_windows=2, step=20)
    appended = appended[appended["fold"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(plain, appended, check_exact=True)
    train = df[df["ds"] <= cutoff[0]]
    model = tiny_lstm().fit(train)
    assert model.state_["a"]["mean"] == pytest.approx(train["y"].mean())
    assert model.state_["a"]["std"] == pytest.approx(train["y"].std(ddof=0))
    with pytest.raises(ValueError, match="horizon=14"):
        model.predict(15)


def test_lstm_units_per_series_and_json_params() -> None:
    model = LSTMForecaster(units={"api_calls": (50, 50), "storage_gb": (100, 50)})
    assert model.units_for("storage_gb") == (100, 50)
    assert json.loads(json.dumps(model.params()))["units"] == {"api_calls": [50, 50], "storage_gb": [100, 50]}


def test_arima_uses_holiday_regressor_only_when_the_window_has_holidays() -> None:
    with_hol = StatsForecastModel("auto_arima", country="US").fit(
        series("a", trend_weekly(120), "2022-06-01")
    )
    assert with_hol.cols_["a"] == [True, False]  # July 4th and Labor Day fall inside; no year-end closure
    without = StatsForecastModel("auto_arima", country="US").fit(series("a", trend_weekly(30), "2022-01-18"))
    assert without.cols_["a"] == [False, False]


def test_holiday_flags() -> None:
    ds = pd.date_range("2024-07-03", periods=3, freq="D")
    np.testing.assert_array_equal(holiday_flags(ds, "US"), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(holiday_flags(ds, None), [0.0, 0.0, 0.0])


def test_validate_series_rejects_gaps_and_duplicates() -> None:
    df = series("a", np.arange(10.0))
    with pytest.raises(ValueError, match="not contiguous"):
        validate_series(df.drop(index=4))
    with pytest.raises(ValueError, match="not contiguous"):
        validate_series(pd.concat([df, df.iloc[[3]]]))


def test_lstm_series_are_fitted_independently(fitted: dict) -> None:
    _, both = fitted["lstm"]
    alone = tiny_lstm().fit(series("a", trend_weekly(200))).predict(14)
    pd.testing.assert_frame_equal(
        alone, both[both["unique_id"] == "a"].reset_index(drop=True), check_exact=True
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_interval_levels_are_a_parameter(name: str, fitted: dict, tmp_path) -> None:
    model, default = fitted[name]
    fc = model.predict(14, levels=[99, 50, 80])
    assert list(fc.columns) == [
        "unique_id",
        "ds",
        "yhat",
        "lo_50",
        "hi_50",
        "lo_80",
        "hi_80",
        "lo_99",
        "hi_99",
    ]
    assert (fc["lo_99"] <= fc["lo_80"]).all() and (fc["lo_80"] <= fc["lo_50"]).all()
    assert (fc["lo_50"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi_50"]).all()
    assert (fc["hi_50"] <= fc["hi_80"]).all() and (fc["hi_80"] <= fc["hi_99"]).all()
    # the same model answers the same 80% interval whatever other levels are asked with it
    np.testing.assert_allclose(fc[["yhat", "lo_80", "hi_80"]], default[["yhat", "lo_80", "hi_80"]], rtol=1e-9)
    assert (fc["hi_99"] >= default["hi_95"]).all() and (
        fc["hi_99"] - fc["lo_99"] > fc["hi_50"] - fc["lo_50"]
    ).any()
    model.save(tmp_path)
    pd.testing.assert_frame_equal(
        load_forecaster(tmp_path).predict(14, levels=(50,)), model.predict(14, levels=(50,))
    )


@pytest.mark.parametrize("levels", [[], [0], [100], [80, 120]])
def test_interval_levels_outside_0_100_are_refused(levels: list, fitted: dict) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 100"):
        fitted["drift"][0].predict(7, levels=levels)
