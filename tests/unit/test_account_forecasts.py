"""Per-account forecasts in bulk: fallbacks with reasons, registry rows, and the Dask path equal to the local one."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from revcast.forecasting.engine import DaskExecutor, InProcess
from revcast.generate.usage import simulate_usage
from revcast.tournament import default_artifact_dir
from revcast.usage.accounts import BASELINE, ETS, run_account_forecasts

H = 14


@pytest.fixture(scope="module")
def account_frame() -> pd.DataFrame:
    """40 accounts x 2 metrics over 150 days from the generator's simulation, plus a new and an idle account."""
    days = [date(2023, 6, 1) + timedelta(days=i) for i in range(150)]
    sim = simulate_usage(np.random.default_rng(3), 40, days)
    ds = pd.to_datetime(days)
    frames = []
    for metric, mat in (("api_calls", sim["api"]), ("storage_gb", sim["storage"])):
        for i in range(40):
            frames.append(
                pd.DataFrame({"unique_id": f"C{i:06d}:{metric}", "ds": ds, "y": mat[:, i].astype(float)})
            )
    frames.append(pd.DataFrame({"unique_id": "NEW:api_calls", "ds": ds[-5:], "y": 3.0}))  # 5 days old
    idle = np.zeros(150)
    idle[::9] = 4.0
    frames.append(pd.DataFrame({"unique_id": "IDLE:api_calls", "ds": ds, "y": idle}))
    return pd.concat(frames, ignore_index=True)


def test_every_series_is_forecast_with_its_model_and_reason(account_frame, tmp_path):
    r = run_account_forecasts(account_frame, "2023-10", h=H, artifact_dir=default_artifact_dir(tmp_path))
    fc = r.forecasts
    assert fc.groupby(["account_id", "metric"]).size().eq(H).all()
    assert len(fc) == 82 * H and fc["horizon"].between(1, H).all()
    reason = fc.drop_duplicates("account_id").set_index("account_id")["fallback_reason"]
    assert (
        reason["NEW"] == "fallback to seasonal_naive: 7 days of history, under two seasons (14)"
    )  # padded to a week
    assert reason["IDLE"].startswith("fallback to seasonal_naive: intermittent")
    assert fc.loc[fc["account_id"].isin(["NEW", "IDLE"]), "model"].eq(BASELINE).all()
    assert (fc[["yhat", "lo_80", "lo_95"]] >= 0).all().all()
    assert (
        (fc["lo_95"] <= fc["lo_80"]).all()
        and (fc["lo_80"] <= fc["yhat"]).all()
        and (fc["yhat"] <= fc["hi_95"]).all()
    )
    t = r.tournament
    assert len(t.registry) == 82 and t.registry["is_champion"].all()
    assert t.registry["artifact_path"].notna().all()
    # one artifact per fitted batch, not one per series
    assert t.registry["artifact_path"].nunique() <= 2
    scored = t.scores[t.scores["failure"].isna()]
    assert {BASELINE, ETS} <= set(scored["model"]) and scored[
        "mase"
    ].notna().mean() > 0.9  # all-zero: no scale
    assert (
        t.scores.loc[(t.scores["unique_id"] == "IDLE:api_calls") & (t.scores["model"] == ETS), "failure"]
        .iloc[0]
        .startswith("screened out: intermittent")
    )
    # the vectorised ETS beats seasonal naive on most of these series, and the gate decides per series
    assert (fc.drop_duplicates(["account_id", "metric"])["model"] == ETS).mean() > 0.5
    champ = t.champions
    assert (champ["beats_baseline"] | (champ["model"] == BASELINE)).all()


def test_arima_runs_on_a_sample_only(account_frame):
    r = run_account_forecasts(account_frame, "2023-10", h=H, arima_sample=2, seed=1)
    arima = r.tournament.scores[r.tournament.scores["model"] == "auto_arima"]
    assert len(arima) == 2


def test_dask_local_cluster_gives_the_same_forecasts(account_frame):
    distributed = pytest.importorskip("distributed")
    local = run_account_forecasts(account_frame, "2023-10", h=H, executor=InProcess(), chunk_size=20)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_account_forecasts(
            account_frame, "2023-10", h=H, executor=DaskExecutor(client), chunk_size=20
        )
    pd.testing.assert_frame_equal(local.forecasts, remote.forecasts)
    pd.testing.assert_frame_equal(local.tournament.scores, remote.tournament.scores)
