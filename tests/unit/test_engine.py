"""The many-series driver: failure isolation per (series, model), executors that agree, screening,
and the window-total model."""

import functools

import numpy as np
import pandas as pd

from revcast.forecasting import (
    ForecastEngine,
    InProcess,
    ProcessPool,
    SeasonalNaive,
    StatsForecastModel,
    WindowTotal,
    load_forecaster,
)
from revcast.forecasting.engine import FULL_WINDOW
from revcast.invoices.models import window_total


def frame(uid: str, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2022-01-01", periods=len(y)), "y": y})


def panel(n_series: int = 4, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    return pd.concat(
        frame(f"s{i}", 50 + i * 10 + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 2, n))
        for i in range(n_series)
    )


class RefusesS2(SeasonalNaive):
    """A real seasonal naive that raises whenever series s2 is in its batch."""

    def _fit(self, df: pd.DataFrame) -> None:
        if (df["unique_id"] == "s2").any():
            raise ValueError("s2 is unusable")
        super()._fit(df)


def test_a_series_whose_fit_raises_is_recorded_and_the_others_finish() -> None:
    df = panel()
    engine = ForecastEngine({"naive7": RefusesS2, "ets": StatsForecastModel})
    bt, failures = engine.cross_validation(df, h=7, n_windows=2)
    assert set(zip(failures["unique_id"], failures["model"], strict=True)) == {("s2", "naive7")}
    assert failures["reason"].str.contains("s2 is unusable").all() and len(failures) == 2  # both folds
    done = bt.groupby("model")["unique_id"].agg(set)
    assert done["naive7"] == {"s0", "s1", "s3"}
    assert done["ets"] == {"s0", "s1", "s2", "s3"}
    fitted, failed = engine.fit(df)
    assert set(failed) == {("s2", "naive7")} and len(fitted) == 7
    # a batch model isolated per series gives the same forecast as the batch
    alone = SeasonalNaive().fit(df[df.unique_id == "s0"]).predict(7)
    pd.testing.assert_frame_equal(fitted[("s0", "naive7")].predict(7).iloc[:7], alone)


class NeedsLongHistory(SeasonalNaive):
    """A real seasonal naive that refuses training windows under 190 days."""

    def _fit(self, df: pd.DataFrame) -> None:
        if df.groupby("unique_id").size().min() < 190:
            raise ValueError("under 190 days")
        super()._fit(df)


def test_a_pair_failing_one_fold_is_dropped_unless_partial_backtests_are_asked_for() -> None:
    df = panel(n_series=2)  # 200 days: the first of two 7-day folds trains on 186, the second on 193
    engine = ForecastEngine({"long": NeedsLongHistory})
    complete, failures = engine.cross_validation(df, h=7, n_windows=2)
    assert complete.empty and len(failures) == 2 and (failures["fold"] == 0).all()
    partial, _ = engine.cross_validation(df, h=7, n_windows=2, complete_only=False)
    assert set(partial["fold"]) == {1} and len(partial) == 2 * 7
    assert partial.groupby("unique_id")["cutoff"].first().eq(pd.Timestamp("2022-07-12")).all()


def test_in_process_and_process_pool_give_identical_forecasts() -> None:
    df = panel(n_series=5)
    models = {
        "seasonal_naive": SeasonalNaive,
        "auto_ets": functools.partial(StatsForecastModel, "auto_ets"),
        "auto_theta": functools.partial(StatsForecastModel, "auto_theta"),
    }
    local, local_fail = ForecastEngine(models, InProcess(), chunk_size=2).cross_validation(
        df, h=14, n_windows=2
    )
    pooled, pool_fail = ForecastEngine(models, ProcessPool(2), chunk_size=2).cross_validation(
        df, h=14, n_windows=2
    )
    assert local_fail.empty and pool_fail.empty
    pd.testing.assert_frame_equal(local, pooled, check_exact=True)
    assert len(local) == 3 * 5 * 2 * 14


def test_screened_series_never_reach_the_model() -> None:
    df = pd.concat([panel(n_series=1, n=400), frame("short", np.ones(100))])
    engine = ForecastEngine({"mstl": functools.partial(StatsForecastModel, "mstl")})
    bt, failures = engine.cross_validation(df, h=7, n_windows=1)
    assert set(bt["unique_id"]) == set()  # 400 days is under two years too
    assert failures["reason"].str.startswith("screened out: mstl").all() and failures["fold"].isna().all()
    _, failed = engine.fit(df)
    assert set(failed) == {("s0", "mstl"), ("short", "mstl")}
    assert FULL_WINDOW == -1


def test_window_total_forecasts_the_thirty_day_total_and_spreads_it_by_weekday(tmp_path) -> None:
    t = np.arange(360)
    weekday = np.where(pd.date_range("2022-01-01", periods=360).dayofweek < 5, 10.0, 2.0)
    df = frame("shop", weekday + 0 * t)
    model = WindowTotal(window=30).fit(df)
    fc = model.predict(30)
    assert fc["yhat"].sum() == np.float64(fc["yhat"].sum())
    np.testing.assert_allclose(fc["yhat"].sum(), df["y"].tail(30).sum(), rtol=0.05)
    weekend = fc["ds"].dt.dayofweek >= 5
    np.testing.assert_allclose(
        fc.loc[~weekend, "yhat"].mean() / fc.loc[weekend, "yhat"].mean(), 5.0, rtol=1e-6
    )
    # the 30-day sum with root-sum-of-squares widths gives back the total's own interval
    total = window_total(fc).iloc[0]
    raw = model.models_["shop"].predict(1, level=[80, 95])
    np.testing.assert_allclose(total["hi_95"], raw["hi-95"][0], rtol=1e-9)
    np.testing.assert_allclose(total["lo_80"], raw["lo-80"][0], rtol=1e-9)
    model.save(tmp_path)
    pd.testing.assert_frame_equal(load_forecaster(tmp_path).predict(30), fc, check_exact=True)


def test_interval_levels_cover_what_they_say_on_random_walks() -> None:
    """The naive forecast of a Gaussian random walk has exact normal intervals: backtested at levels 50 and
    90 over 300 walks, each level covers its share of the actuals."""
    rng = np.random.default_rng(11)
    walks = pd.concat(frame(f"w{i}", 100 + np.cumsum(rng.normal(0, 1, 120))) for i in range(300))
    engine = ForecastEngine({"naive": lambda: SeasonalNaive(season=1)}, levels=(90, 50))
    bt, failures = engine.cross_validation(walks, h=10, n_windows=2)
    assert failures.empty and list(bt.columns[-4:]) == ["lo_50", "hi_50", "lo_90", "hi_90"]
    for level in (50, 90):
        covered = bt["y"].between(bt[f"lo_{level}"], bt[f"hi_{level}"]).mean()
        assert abs(covered - level / 100) < 0.03, (level, covered)
    fc, _ = engine.forecast(walks, h=5)
    assert {"lo_50", "hi_90"} <= set(fc.columns) and "lo_80" not in fc.columns
