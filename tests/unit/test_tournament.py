"""revcast.tournament: one code path for every domain, fallback on sparse series, writer replaces rows."""

import numpy as np
import pandas as pd

from revcast import warehouse
from revcast.forecasting import ETS, Drift, SeasonalNaive, load_forecaster
from revcast.invoices.models import DenseETS, PreviousDays, thirty_day_scores
from revcast.tournament import default_artifact_dir, run_domain_tournament, write_tournament


def frame(uid: str, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2022-01-01", periods=len(y)), "y": y})


def test_tournament_rows_fallback_and_idempotent_write(tmp_path) -> None:
    t = np.arange(400)
    rng = np.random.default_rng(0)
    dense = 100 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, 400)
    sparse = np.where(rng.random(400) < 0.9, 0.0, 50.0)
    df = pd.concat([frame("dense", dense), frame("sparse", sparse)])
    models = {"seasonal_naive": SeasonalNaive, "drift": Drift, "ets": lambda: DenseETS(max_zero_share=0.5)}
    res = run_domain_tournament(
        "toy", "2023-01", df, models, h=14, artifact_dir=default_artifact_dir(tmp_path / "m"), run_id="r1"
    )
    champ = res.champions.set_index("unique_id")
    assert champ.loc["dense", "model"] == "ets" and champ.loc["dense", "beats_baseline"]
    assert champ.loc["sparse", "model"] in ("seasonal_naive", "drift")
    assert "too sparse" in champ.loc["sparse", "fallback_reason"]
    failed = res.scores[(res.scores.unique_id == "sparse") & (res.scores.model == "ets")]
    assert failed["failure"].str.contains("screened out").all()
    reg = res.registry.set_index("model_id")
    row = reg.loc["toy/ets/2023-01/dense"]
    assert row["is_champion"] and (tmp_path / "m" / "toy_ets" / "2023-01" / "dense" / "model.json").exists()
    # the artifact reloads and reproduces its forecast
    again = load_forecaster(row["artifact_path"]).predict(14)
    direct = ETS(season=7).fit(frame("dense", dense)).predict(14)
    np.testing.assert_allclose(again["yhat"], direct["yhat"], rtol=1e-6)

    con = warehouse.connect(tmp_path / "w.duckdb")
    for _ in range(2):
        write_tournament(con, res)
    n = con.execute("SELECT count(*) FROM models.registry WHERE domain = 'toy'").fetchall()[0][0]
    assert n == len(res.registry)
    assert con.execute("SELECT count(*) FROM models.scores WHERE is_champion").fetchall()[0][0] == 2
    fb = con.execute("SELECT fallback_reason FROM models.registry WHERE is_champion AND unique_id='sparse'")
    assert "too sparse" in fb.fetchall()[0][0]


def test_thirty_day_scorer_scales_by_previous_30_days_in_sample(tmp_path) -> None:
    y = np.tile([10.0, 20.0, 30.0], 100)[:300] + np.arange(300)
    df = frame("x", y)
    res = run_domain_tournament(
        "toy",
        "2023-01",
        df,
        {"previous_30_days": PreviousDays, "seasonal_naive": SeasonalNaive},
        h=30,
        step=30,
        artifact_dir=default_artifact_dir(tmp_path),
        baseline="previous_30_days",
        fallbacks=("previous_30_days",),
        scorer=thirty_day_scores,
    )
    prev = res.scores.set_index("model").loc["previous_30_days"]
    # a linear trend of slope 1: each 30-day sum exceeds the previous one by 900, in sample and out of sample
    assert prev["mae"] == np.float64(900.0) and abs(prev["mase"] - 1.0) < 1e-9
