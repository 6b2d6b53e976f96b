"""The vectorised ETS: per-series fits independent of the batch, sensible forecasts and intervals, screening."""

import numpy as np
import pandas as pd

from revcast.forecasting import load_forecaster
from revcast.forecasting.batch_ets import BatchETS


def series(n_series: int = 12, days: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    frames = []
    for i in range(n_series):
        week = np.array([1.0, 1.1, 1.2, 1.1, 1.0, 0.5, 0.4])[(t + i) % 7]
        y = 50 * (1 + i / 10) * week * (1 + 0.002 * i * t) + rng.normal(0, 2, days)
        frames.append(
            pd.DataFrame({"unique_id": f"s{i:02d}", "ds": pd.date_range("2023-01-01", periods=days), "y": y})
        )
    return pd.concat(frames, ignore_index=True)


def test_a_series_fits_the_same_alone_or_in_a_batch():
    df = series()
    batch = BatchETS().fit(df).predict(14)
    alone = BatchETS().fit(df[df["unique_id"] == "s03"]).predict(14)
    pd.testing.assert_frame_equal(batch[batch["unique_id"] == "s03"].reset_index(drop=True), alone)


def test_forecasts_follow_the_weekly_pattern_with_widening_intervals():
    df = series()
    model = BatchETS().fit(df)
    fc = model.predict(21)
    assert len(fc) == 12 * 21
    one = fc[fc["unique_id"] == "s00"].reset_index(drop=True)
    # the weekend dip is forecast (weekday pattern index 5, 6 of the generator)
    week = np.array([1.0, 1.1, 1.2, 1.1, 1.0, 0.5, 0.4])[(np.arange(120, 141)) % 7]
    assert np.corrcoef(one["yhat"], week)[0, 1] > 0.95
    width = (one["hi_95"] - one["lo_95"]).to_numpy()
    assert (np.diff(width) >= -1e-9).all() and width[-1] > width[0]
    assert (one["lo_95"] <= one["lo_80"]).all() and (one["hi_80"] <= one["hi_95"]).all()
    kinds = model.chosen()["model"].str.removeprefix("log ")
    assert set(kinds) <= {"ETS(A,N,N)", "ETS(A,Ad,N)", "ETS(A,N,A)", "ETS(A,Ad,A)"}
    assert (kinds.str.endswith(",A)")).mean() > 0.8  # seasonal models win on seasonal data


def test_series_of_different_lengths_and_ends_share_a_batch():
    df = series(4)
    df = df[~((df["unique_id"] == "s01") & (df["ds"] < "2023-03-01"))]  # starts later
    df = df[~((df["unique_id"] == "s02") & (df["ds"] > "2023-04-10"))]  # ends earlier
    fc = BatchETS().fit(df).predict(7)
    assert fc.groupby("unique_id")["ds"].min()["s02"] == pd.Timestamp("2023-04-11")
    alone = BatchETS().fit(df[df["unique_id"] == "s01"]).predict(7)
    np.testing.assert_allclose(fc[fc["unique_id"] == "s01"]["yhat"].to_numpy(), alone["yhat"].to_numpy())


def test_screen_names_short_and_mostly_zero_series():
    df = series(3, days=60)
    df.loc[(df["unique_id"] == "s01") & (df.index % 3 != 0), "y"] = 0.0
    short = pd.DataFrame({"unique_id": "s09", "ds": pd.date_range("2023-01-01", periods=10), "y": 1.0})
    reasons = BatchETS().screen(pd.concat([df, short]))
    assert reasons["s09"] == "10 days of history, under two seasons (14)"
    assert reasons["s01"].startswith("intermittent: 6")
    assert "s00" not in reasons


def test_save_and_load_give_the_same_forecast(tmp_path):
    model = BatchETS().fit(series(5))
    model.save(tmp_path)
    pd.testing.assert_frame_equal(load_forecaster(tmp_path).predict(10), model.predict(10))


def test_a_multiplicative_series_is_fitted_on_the_log_scale():
    t = np.arange(200)
    rng = np.random.default_rng(1)
    y = (
        20
        * np.exp(0.01 * t)
        * np.array([1.0, 1.4, 1.5, 1.3, 1.0, 0.3, 0.2])[t % 7]
        * rng.lognormal(0, 0.05, 200)
    )
    # additive: log would blow up the troughs
    flat = 100 + 90 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 8, 200)
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": "growing", "ds": pd.date_range("2023-01-01", periods=200), "y": y}),
            pd.DataFrame({"unique_id": "flat", "ds": pd.date_range("2023-01-01", periods=200), "y": flat}),
        ]
    )
    model = BatchETS().fit(df)
    chosen = model.chosen()["model"]
    assert chosen["growing"].startswith("log ") and not chosen["flat"].startswith("log ")
    fc = model.predict(14)
    assert (fc.loc[fc["unique_id"] == "growing", "lo_95"] >= 0).all()  # a log-scale interval stays positive
    assert BatchETS(log=False).fit(df).chosen()["model"].str.startswith("log ").sum() == 0
