"""revcast.tournament: the ranking rule, the publishing margin, the full-window fallback, the combination
candidates (fixed and the rolling mean of the best), and the writer that replaces rows."""

import functools
import json

import numpy as np
import pandas as pd
import pytest

from revcast import warehouse
from revcast.forecasting import Combination, Drift, SeasonalNaive, StatsForecastModel, load_forecaster
from revcast.invoices.models import PreviousDays, ScaledLastYear, thirty_day_scores
from revcast.tournament import (
    TOP_MEAN,
    default_artifact_dir,
    enough_folds,
    fold_errors,
    pooled_choice,
    published_order,
    rank_candidates,
    relative_mase,
    rolling_top_mean,
    run_domain_tournament,
    top_mean_gate,
    write_tournament,
)


def frame(uid: str, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2022-01-01", periods=len(y)), "y": y})


def weekly_trend(n: int = 400, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)


def test_ranking_rule_lowest_mase_then_the_simpler_model() -> None:
    scores = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "a", "b", "b"],
            "model": ["auto_arima", "auto_ets", "seasonal_naive", "lstm", "auto_ets", "seasonal_naive"],
            "mase": [0.8, 0.8, 1.0, np.nan, 1.2, 1.2],
        }
    )
    order = ["seasonal_naive", "auto_ets", "auto_arima"]
    ranked = rank_candidates(scores, order)
    assert ranked[ranked.unique_id == "a"]["model"].tolist() == [
        "auto_ets",
        "auto_arima",
        "seasonal_naive",
        "lstm",
    ]
    assert ranked[ranked.unique_id == "b"]["model"].tolist() == ["seasonal_naive", "auto_ets"]


def test_baseline_is_published_unless_a_challenger_beats_it_by_the_margin() -> None:
    scores = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b", "b"],
            "model": ["auto_ets", "seasonal_naive", "drift", "auto_ets", "seasonal_naive"],
            "mase": [0.96, 1.0, 0.90, 0.5, 1.0],
        }
    )
    ranked = rank_candidates(scores, ["seasonal_naive", "drift", "auto_ets"])
    plan = published_order(ranked, "seasonal_naive", margin=0.05)
    # a: drift beats 1.0 by 10%, auto_ets by only 4%: drift, then the baseline, then auto_ets
    assert plan["a"] == (["drift", "seasonal_naive", "auto_ets"], None)
    assert plan["b"][0] == ["auto_ets", "seasonal_naive"]
    strict = published_order(ranked, "seasonal_naive", margin=0.2)
    assert strict["a"][0][0] == "seasonal_naive"
    assert "no challenger beat seasonal_naive by 20%" in strict["a"][1]
    forced = published_order(ranked, "seasonal_naive", margin=0.05, force="auto_ets")
    assert forced["a"][0][0] == "auto_ets" and "forced" in forced["a"][1]


def folds(errors: dict[str, list[float]], uid: str = "a") -> pd.DataFrame:
    """Per-fold 30-day sums (y = 100) whose absolute errors are `errors` per model."""
    rows = [
        {"unique_id": uid, "model": m, "fold": k, "y": 100.0, "yhat": 100.0 + e}
        for m, errs in errors.items()
        for k, e in enumerate(errs)
    ]
    return pd.DataFrame(rows)


def test_a_challenger_carried_by_one_lucky_fold_keeps_the_baseline() -> None:
    # the baseline misses one fold badly, which lucky gets right; lucky loses the other 11 narrowly
    errors = fold_errors(folds({"previous_30_days": [60.0] + [10.0] * 11, "lucky": [0.0] + [11.0] * 11}))
    scores = errors.groupby(["unique_id", "model"], as_index=False)["error"].mean()
    scores["mase"] = scores["error"] / 20.0
    mase = scores.set_index("model")["mase"]
    assert mase["lucky"] <= 0.75 * mase["previous_30_days"]  # far better on the mean
    ranked = rank_candidates(scores, ["previous_30_days", "lucky"])
    order, reason = published_order(ranked, "previous_30_days", margin=0.05, errors=errors)["a"]
    assert order == ["previous_30_days", "lucky"]
    assert "lower error on only 1 of 12 backtest folds" in reason and "publishing previous_30_days" in reason
    # without per-fold errors (or with a win share of 0) the mean alone decides, as before
    assert published_order(ranked, "previous_30_days", margin=0.05)["a"] == (
        ["lucky", "previous_30_days"],
        None,
    )
    assert (
        published_order(ranked, "previous_30_days", 0.05, errors=errors, min_win_share=0.0)["a"][0][0]
        == "lucky"
    )


def test_a_consistent_winner_publishes_and_the_win_rate_can_pass_over_the_best_mean() -> None:
    errors = fold_errors(
        folds(
            {
                "previous_30_days": [10.0] * 10,
                "steady": [8.0] * 7 + [12.0] * 3,  # lower on 7 of 10 folds, mean 9.2
                "spiky": [0.0] * 2 + [11.0] * 8,  # best mean (8.8) but lower on 2 of 10
            }
        )
    )
    scores = (
        errors.groupby(["unique_id", "model"], as_index=False)["error"]
        .mean()
        .assign(mase=lambda f: f["error"] / 10)
    )
    ranked = rank_candidates(scores, ["previous_30_days", "steady", "spiky"])
    order, reason = published_order(ranked, "previous_30_days", margin=0.05, errors=errors)["a"]
    assert order == ["steady", "previous_30_days", "spiky"]
    assert "spiky beat previous_30_days" in reason and "2 of 10" in reason and "publishing steady" in reason
    only_steady = errors[errors["model"] != "spiky"]
    plan = published_order(ranked[ranked["model"] != "spiky"], "previous_30_days", 0.05, errors=only_steady)
    assert plan["a"] == (["steady", "previous_30_days"], None)
    # a forced champion still goes first whatever its win rate
    forced = published_order(ranked, "previous_30_days", 0.05, force="spiky", errors=errors)["a"]
    assert forced[0][0] == "spiky" and "forced" in forced[1]


class FailsOnFullWindow(Drift):
    """Fits on the backtest folds but not on the whole window (its last day is the 400th)."""

    def _fit(self, df: pd.DataFrame) -> None:
        if (self.windows_["n"] >= 400).any():
            raise RuntimeError("diverged on the full window")
        super()._fit(df)


def test_champion_that_fails_on_the_full_window_hands_over_to_the_next_best(tmp_path) -> None:
    y = 5.0 + 0.5 * np.arange(400)  # a straight line: drift is exact, seasonal naive lags by a week
    models = {
        "seasonal_naive": SeasonalNaive,
        "fragile_drift": lambda: FailsOnFullWindow(name="fragile_drift"),
    }
    res = run_domain_tournament(
        "toy", "2023-02", frame("line", y), models, h=14, artifact_dir=default_artifact_dir(tmp_path)
    )
    scores = res.scores.set_index("model")
    assert scores.loc["fragile_drift", "mase"] < scores.loc["seasonal_naive", "mase"]  # best on the folds
    champ = res.champions.iloc[0]
    assert champ["model"] == "seasonal_naive"
    assert (
        "fragile_drift" in champ["fallback_reason"]
        and "diverged on the full window" in champ["fallback_reason"]
    )
    assert "next in order: seasonal_naive" in champ["fallback_reason"]
    assert scores.loc["fragile_drift", "failure"].startswith("full window: RuntimeError")
    assert res.registry["model"].tolist() == ["seasonal_naive"]


def test_a_negative_forecast_of_a_non_negative_target_hands_over_to_the_next_best(tmp_path) -> None:
    y = 402.0 - 1.0 * np.arange(400)  # a line falling to 3: drift is exact on every fold, then goes below 0
    models = {"seasonal_naive": SeasonalNaive, "drift": Drift}
    run = dict(h=14, artifact_dir=default_artifact_dir(tmp_path))
    res = run_domain_tournament("toy", "2023-02", frame("falling", y), models, **run)
    scores = res.scores.set_index("model")
    assert scores.loc["drift", "mase"] < scores.loc["seasonal_naive", "mase"]
    champ = res.champions.iloc[0]
    assert champ["model"] == "seasonal_naive"
    assert "drift: full window: implausible forecast: the next 14 days sum to -" in champ["fallback_reason"]
    allowed = run_domain_tournament("toy", "2023-02", frame("falling", y), models, non_negative=False, **run)
    assert allowed.champions.iloc[0]["model"] == "drift"


def test_tournament_rows_combination_and_idempotent_write(tmp_path) -> None:
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random(400) < 0.9, 0.0, 50.0)
    df = pd.concat([frame("dense", weekly_trend()), frame("sparse", sparse)])
    models = {
        "seasonal_naive": SeasonalNaive,
        "auto_ets": lambda: StatsForecastModel("auto_ets"),
        "auto_theta": lambda: StatsForecastModel("auto_theta"),
        "croston_sba": lambda: StatsForecastModel("croston_sba"),
    }
    res = run_domain_tournament(
        "toy",
        "2023-01",
        df,
        models,
        h=14,
        artifact_dir=default_artifact_dir(tmp_path / "m"),
        combine=("auto_ets", "auto_theta"),
        run_id="r1",
    )
    champ = res.champions.set_index("unique_id")
    assert champ.loc["dense", "model"] in ("auto_ets", "auto_theta", "combination")
    assert champ.loc["dense", "beats_baseline"]
    assert champ.loc["sparse", "model"] is not None  # intermittent models compete, nothing is screened out
    # the combination's backtest is the mean of its members' on every fold
    bt = res.backtests.set_index(["unique_id", "fold_cutoff", "ds", "model"])["yhat"].unstack("model")
    np.testing.assert_allclose(bt["combination"], (bt["auto_ets"] + bt["auto_theta"]) / 2)
    # ... which is what a Combination fitted on one fold forecasts
    fold = res.backtests[(res.backtests.unique_id == "dense") & (res.backtests.model == "combination")]
    first = fold[fold["fold"] == fold["fold"].min()]
    train = df[(df.unique_id == "dense") & (df.ds <= first["fold_cutoff"].iloc[0])]
    combo = Combination.of(
        {"auto_ets": StatsForecastModel("auto_ets"), "auto_theta": StatsForecastModel("auto_theta")}
    )
    np.testing.assert_allclose(combo.fit(train).predict(14)["yhat"], first["yhat"], rtol=1e-6)
    # the champion artifact reloads and reproduces its forecast
    row = res.registry.set_index("unique_id").loc["dense"]
    again = load_forecaster(row["artifact_path"]).predict(14)
    assert np.isfinite(again["yhat"]).all() and len(again) == 14

    con = warehouse.connect(tmp_path / "w.duckdb")
    for _ in range(2):
        write_tournament(con, res)
    n = con.execute("SELECT count(*) FROM models.registry WHERE domain = 'toy'").fetchall()[0][0]
    assert n == len(res.registry) == 2
    assert con.execute("SELECT count(*) FROM models.scores WHERE is_champion").fetchall()[0][0] == 2
    assert con.execute("SELECT count(*) FROM models.backtests").fetchall()[0][0] == len(res.backtests)


def test_thirty_day_scorer_scales_by_previous_30_days_in_sample(tmp_path) -> None:
    y = np.tile([10.0, 20.0, 30.0], 100)[:300] + np.arange(300)
    res = run_domain_tournament(
        "toy",
        "2023-01",
        frame("x", y),
        {"previous_30_days": PreviousDays, "seasonal_naive": SeasonalNaive},
        h=30,
        step=30,
        artifact_dir=default_artifact_dir(tmp_path),
        baseline="previous_30_days",
        scorer=thirty_day_scores,
    )
    prev = res.scores.set_index("model").loc["previous_30_days"]
    # a linear trend of slope 1: each 30-day sum exceeds the previous one by 900, in sample and out of sample
    assert prev["mae"] == np.float64(900.0) and abs(prev["mase"] - 1.0) < 1e-9


def test_force_champion_must_be_a_candidate(tmp_path) -> None:
    with pytest.raises(ValueError, match="force_champion 'nope'"):
        run_domain_tournament(
            "toy",
            "2023-01",
            frame("x", weekly_trend(100)),
            {"seasonal_naive": SeasonalNaive},
            h=7,
            artifact_dir=default_artifact_dir(tmp_path),
            force_champion="nope",
        )


def test_rolling_top_mean_picks_members_only_from_folds_that_had_ended() -> None:
    cut = pd.date_range("2023-01-01", periods=5, freq="10D")
    # per-fold MASE: a leads on folds 0-2 and collapses on fold 3; c misses fold 1, so it is never a member
    mase = {"a": [0.5, 0.5, 0.5, 9.0, 0.5], "b": [1.0] * 5, "c": [0.1, np.nan, 0.1, 0.1, 0.1]}
    per_fold = pd.DataFrame(
        [
            {"unique_id": "s", "model": m, "fold": f, "mase": v}
            for m, vs in mase.items()
            for f, v in enumerate(vs)
            if not np.isnan(v)
        ]
    )
    bt = per_fold.assign(
        cutoff=cut[per_fold["fold"]],
        ds=cut[per_fold["fold"]] + pd.Timedelta(days=1),
        horizon=1,
        y=10.0,
        yhat=per_fold["model"].map({"a": 2.0, "b": 4.0, "c": 100.0}) + per_fold["fold"],
    )
    for b in ("lo_80", "hi_80", "lo_95", "hi_95"):
        bt[b] = bt["yhat"]
    top = rolling_top_mean(bt, per_fold, ["a", "b", "c"], k=2, h=10, min_folds=3)
    # folds 0-2 have fewer than 3 ended folds before them; fold 3 sees 0-2 (a, b best; c lacks fold 1),
    # fold 4 sees 0-3: b (1.0) and a (2.625)
    assert top["fold"].tolist() == [3, 4]
    np.testing.assert_allclose(top["yhat"], [(2 + 4) / 2 + 3, (2 + 4) / 2 + 4])
    assert (top["model"] == TOP_MEAN).all() and "mase" not in top
    # a fold 10 days after its predecessor with h=15 has not seen it end: fold 4 then sees folds 0-2 only
    later = rolling_top_mean(bt, per_fold, ["a", "b", "c"], k=2, h=15, min_folds=3)
    assert later["fold"].tolist() == [4]


def test_top_mean_gate_compares_with_the_baseline_on_the_same_folds() -> None:
    per_fold = pd.DataFrame(
        {
            "unique_id": "s",
            "model": ["base"] * 4 + [TOP_MEAN] * 2,
            "fold": [0, 1, 2, 3, 2, 3],
            "mase": [9.0, 9.0, 1.0, 1.0, 0.8, 0.9],
        }
    )
    assert top_mean_gate(per_fold, "base") == {"s": (pytest.approx(0.85), 1.0, 2)}


def test_top_mean_is_published_where_it_beats_the_baseline_and_reloads(tmp_path) -> None:
    models = {
        "seasonal_naive": SeasonalNaive,
        "drift": Drift,
        "auto_ets": lambda: StatsForecastModel("auto_ets"),
        "auto_theta": lambda: StatsForecastModel("auto_theta"),
    }
    run = dict(h=14, n_windows=6, step=14, artifact_dir=default_artifact_dir(tmp_path))
    res = run_domain_tournament("toy", "2023-02", frame("shop", weekly_trend()), models, top_k=2, **run)
    champ = res.champions.iloc[0]
    assert champ["model"] == TOP_MEAN, champ["fallback_reason"]
    assert (
        champ["fallback_reason"].startswith(f"{TOP_MEAN} of ")
        and "on the same 3 folds" in champ["fallback_reason"]
    )
    # scored out of sample only: folds with three ended folds before them
    top_folds = res.backtests.loc[res.backtests["model"] == TOP_MEAN, "fold"].unique()
    assert sorted(top_folds) == [3, 4, 5]
    members = json.loads(res.registry.iloc[0]["parameters"])["members"]
    assert len(members) == 2 and set(members) <= set(models)
    fc = load_forecaster(res.registry.iloc[0]["artifact_path"]).predict(14)
    alone = [models[m]().fit(frame("shop", weekly_trend())).predict(14)["yhat"] for m in members]
    np.testing.assert_allclose(fc["yhat"], np.mean(alone, axis=0), rtol=1e-6)
    # with a margin no backtest can clear, the single-model rule publishes instead
    strict = run_domain_tournament(
        "toy", "2023-02", frame("shop", weekly_trend()), models, top_k=2, top_mean_margin=0.99, **run
    )
    assert strict.champions.iloc[0]["model"] in models


def test_top_mean_whose_member_fails_on_the_full_window_hands_over(tmp_path) -> None:
    y = 5.0 + 0.5 * np.arange(400)
    models = {
        "seasonal_naive": SeasonalNaive,
        "fragile_drift": lambda: FailsOnFullWindow(name="fragile_drift"),
        "drift": Drift,
    }
    run = dict(h=14, n_windows=5, step=14, artifact_dir=default_artifact_dir(tmp_path))
    res = run_domain_tournament("toy", "2023-02", frame("line", y), models, top_k=2, **run)
    champ = res.champions.iloc[0]
    assert champ["model"] == "drift"
    reason = champ["fallback_reason"]
    assert f"{TOP_MEAN}: full window: member fragile_drift" in reason and "next in order: drift" in reason


def test_a_mean_of_batch_fitted_members_forecasts_only_its_own_series(tmp_path) -> None:
    df = pd.concat([frame("a", weekly_trend(seed=1)), frame("b", weekly_trend(seed=2))])
    naive, drift = SeasonalNaive().fit(df), Drift().fit(df)  # each fitted on both series at once
    combo = Combination.of({"naive": naive, "drift": drift}, TOP_MEAN, series=["b"])
    fc = combo.predict(7)
    assert set(fc["unique_id"]) == {"b"}
    expected = (
        naive.predict(7).query("unique_id == 'b'")["yhat"].to_numpy()
        + drift.predict(7).query("unique_id == 'b'")["yhat"].to_numpy()
    ) / 2
    np.testing.assert_allclose(fc["yhat"], expected)
    combo.save(tmp_path / "b")
    pd.testing.assert_frame_equal(load_forecaster(tmp_path / "b").predict(7), fc)


def test_a_model_on_fewer_folds_is_ranked_against_the_baseline_on_the_same_folds() -> None:
    # the baseline had easy early folds and hard late ones; 'partial' was only backtested on the late ones
    per_fold = pd.DataFrame(
        {
            "unique_id": "s",
            "model": ["base"] * 6 + ["complete"] * 6 + ["partial"] * 3,
            "fold": [*range(6), *range(6), 3, 4, 5],
            "mase": [1, 1, 1, 3, 3, 3, *[0.9] * 6, 1.2, 1.2, 1.2],
        }
    )
    rel = relative_mase(per_fold, "base").set_index("model")["relative_mase"]
    assert rel.to_dict() == pytest.approx({"base": 1.0, "complete": 0.45, "partial": 0.4})
    scores = per_fold.groupby(["unique_id", "model"], as_index=False)["mase"].mean()
    assert rank_candidates(scores, ["base"])["model"].tolist() == ["complete", "partial", "base"]
    ranked = rank_candidates(scores.merge(rel.reset_index()), ["base"])
    assert ranked["model"].tolist() == ["partial", "complete", "base"]
    # the margin too: 'partial' has a mean MASE of 1.2, but 0.4x the baseline's on the folds it has
    assert published_order(ranked, "base", 0.05)["s"][0][0] == "partial"


def test_enough_folds_keeps_pairs_with_the_share_of_their_series_folds() -> None:
    bt = pd.DataFrame(
        {
            "unique_id": "s",
            "model": ["base"] * 6 + ["half"] * 3 + ["third"] * 2,
            "fold": [*range(6), 3, 4, 5, 4, 5],
        }
    )
    kept, why = enough_folds(bt, 0.5)
    assert set(kept["model"]) == {"base", "half"} and len(kept) == 9
    assert why == {("s", "third"): "backtest on 2 of 6 folds (needs 50%)"}


def test_a_yearly_model_missing_the_early_folds_still_competes_with_a_fold_share(tmp_path) -> None:
    t = np.arange(560)
    total = 1000 * (1 + 1.3 * np.clip(((t % 364) - 244) / 100, 0, 1) ** 2) * 1.1 ** (t / 364)
    df = pd.concat([frame("all", total), frame("small", 0.05 * total)])
    models = {
        "previous_30_days": PreviousDays,
        "scaled_last_year": functools.partial(ScaledLastYear, df[df["unique_id"] == "all"]),
    }
    kw = {"h": 30, "n_windows": 6, "step": 30, "baseline": "previous_30_days", "scorer": thirty_day_scores}
    whole = run_domain_tournament("toy", "c", df, models, artifact_dir=default_artifact_dir(tmp_path), **kw)
    assert set(whole.champions["model"]) == {"previous_30_days"}  # needs 455 days: only 3 of 6 folds
    share = run_domain_tournament(
        "toy", "c", df, models, artifact_dir=default_artifact_dir(tmp_path), min_fold_share=0.5, **kw
    )
    assert set(share.champions["model"]) == {"scaled_last_year"}
    scores = share.scores.set_index(["unique_id", "model"])
    assert (scores.xs("scaled_last_year", level="model")["n_folds"] == 3).all()
    assert (scores.xs("previous_30_days", level="model")["n_folds"] == 6).all()
    assert share.champions["beats_baseline"].all()


def test_pooled_choice_gives_intermittent_series_the_model_best_over_all_series() -> None:
    ranked = pd.DataFrame(
        {
            "unique_id": ["a", "a", "a", "b", "b", "c", "c"],
            "model": ["base", "m1", "m2", "base", "m2", "base", "m2"],
            "mase": [1.0, 0.5, 0.9, 1.0, 0.6, 1.0, 0.7],
        }
    )
    zero = pd.Series({"a": 0.1, "b": 0.8, "c": 0.9})
    got = pooled_choice(ranked, zero, "base", 0.3, 0.05)
    # m1 is best where it ran but ranked on one series of three: m2 (0.73 over all three) is chosen
    assert {u: m for u, (m, _) in got.items()} == {"b": "m2", "c": "m2"}
    assert "80% zero days" in got["b"][1]
    assert pooled_choice(ranked.assign(mase=0.97), zero, "base", 0.3, 0.05) == {}  # no pooled 5% margin


def test_an_intermittent_series_publishes_the_pooled_best(tmp_path) -> None:
    t = np.arange(560)
    total = 1000 * (1 + 1.3 * np.clip(((t % 364) - 244) / 100, 0, 1) ** 2) * 1.1 ** (t / 364)
    sparse = np.where(t % 5 == 0, 0.2 * total, 0.0)
    df = pd.concat([frame("all", total), frame("small", 0.05 * total), frame("sparse", sparse)])
    models = {
        "previous_30_days": PreviousDays,
        "scaled_last_year": functools.partial(ScaledLastYear, df[df["unique_id"] == "all"]),
    }
    kw = {"h": 30, "n_windows": 6, "step": 30, "baseline": "previous_30_days", "scorer": thirty_day_scores}
    res = run_domain_tournament(
        "toy",
        "c",
        df,
        models,
        artifact_dir=default_artifact_dir(tmp_path),
        min_fold_share=0.5,
        pooled_above_zero_share=0.3,
        **kw,
    )
    champ = res.champions.set_index("unique_id")
    assert champ.loc["sparse", "model"] == "scaled_last_year"
    assert champ.loc["sparse", "fallback_reason"].startswith(
        "pooled selection for an intermittent series (80%"
    )
    assert champ.loc["all", "fallback_reason"] is None
