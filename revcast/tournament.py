"""One model tournament for every domain: backtest every candidate once, rank once, publish with a margin.

1. Every candidate model is backtested once on the same rolling origins (`ForecastEngine.cross_validation`);
   a fixed equal-weight combination of some of them is a candidate too, scored from its members' backtests.
2. One ranking rule per series: lowest MASE, ties to the simpler model (`rank_candidates`).
3. One publishing rule (`published_order`): a series publishes its baseline unless a challenger's MASE is at
   most (1 - margin) x the baseline's, out of sample, and its error is lower than the baseline's on at least
   `min_win_share` of the backtest folds (one lucky fold cannot carry a mean); a forced champion (to show the
   gate failing) goes first.
   With `top_k`, the mean of each series' k best single candidates (`top_mean`, the baseline among them
   when it ranks) is published first. Its backtest picks the k best on the folds that had ended by each
   fold's cutoff (`rolling_top_mean`), so the selection never sees the fold it is scored on; with
   `top_mean_margin` it is published only where that backtest beats the baseline's by the margin (measured
   on generated revenue in docs/forecasting.md).
4. One fallback path: the first model of that order that fits on the full window is the champion; every
   one that failed before it is named in `fallback_reason`.
Artifacts are saved with `Forecaster.save`; interval calibration factors (split-conformal on the backtests)
go in the registry row's parameters. `write_tournament` replaces exactly the (domain, cutoff) rows of
models.backtests, models.scores and models.registry in one transaction.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from revcast.forecasting.aggregate import Combination, combine_backtests, mean_backtest, member_spec
from revcast.forecasting.base import Forecaster, load_forecaster, validate_series
from revcast.forecasting.calibration import (
    apply_calibration,
    factors_from_parameters,
    factors_to_json,
    fit_calibration,
    held_out_coverage,
)
from revcast.forecasting.engine import BACKTEST_COLUMNS, Executor, ForecastEngine, InProcess, ModelFactory
from revcast.forecasting.metrics import score_frame
from revcast.warehouse import replace_where, transaction

ArtifactDir = Callable[[str, str, str], Path]  # (model folder, cutoff, unique_id) -> directory
Scorer = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]  # (backtests, series) -> scores
CalibrationFrame = Callable[[pd.DataFrame], pd.DataFrame]  # backtests -> the rows intervals are calibrated on
METRICS = (
    "mae",
    "mase",
    "smape",
    "mape",
    "coverage_80",
    "coverage_95",
    "coverage_80_calibrated",  # leave-one-fold-out coverage after interval calibration
    "coverage_95_calibrated",
)
BASELINE = "seasonal_naive"
COMBINATION = "combination"
TOP_MEAN = "top_mean"  # the mean of a series' k best single candidates
# simpler first: ties in MASE go to the model earlier in this list (unlisted models after, in given order)
SIMPLEST_FIRST = (
    "naive",
    "seasonal_naive",
    "previous_30_days",
    "same_30_days_last_year",
    "scaled_last_year",
    "drift",
    "croston_sba",
    "tsb",
    "adida",
    "imapa",
    "window_total",
    "auto_ets",
    "auto_theta",
    "auto_arima",
    "mstl",
    COMBINATION,
    TOP_MEAN,
)
DEFAULT_MARGIN = 0.05
DEFAULT_MIN_WIN_SHARE = 0.5  # a challenger must also have the lower error on this share of the backtest folds
BACKTEST_TABLE, SCORES_TABLE, REGISTRY_TABLE = "models.backtests", "models.scores", "models.registry"


@dataclass(frozen=True)
class DomainTournament:
    """A tournament's rows for models.backtests / models.scores / models.registry and the champions."""

    domain: str
    cutoff: str
    backtests: pd.DataFrame
    scores: pd.DataFrame
    registry: pd.DataFrame
    champions: pd.DataFrame  # unique_id, model, mase, mae, baseline_mase, baseline_mae, beats_baseline, ...
    margin: float

    def table(self) -> pd.DataFrame:
        """The tournament table: one row per (series, model) with the metrics, champion first per series."""
        cols = ["unique_id", "model", *METRICS, "n_folds", "is_champion", "failure"]
        s = self.scores[cols].copy()
        s["_order"] = ~s["is_champion"]
        return s.sort_values(["unique_id", "_order", "mase"]).drop(columns="_order").reset_index(drop=True)


def model_id(domain: str, model: str, cutoff: str, unique_id: str) -> str:
    """Registry key <domain>/<model>/<cutoff>/<unique_id>."""
    return f"{domain}/{model}/{cutoff}/{unique_id}"


def default_artifact_dir(root: Path) -> ArtifactDir:
    """<root>/<model folder>/<cutoff>/<unique_id>/ (the ModelStoreResource layout), created."""

    def make(model: str, cutoff: str, unique_id: str) -> Path:
        path = Path(root) / model / cutoff / unique_id.replace("/", "_")
        path.mkdir(parents=True, exist_ok=True)
        return path

    return make


def with_scale(bt: pd.DataFrame, df: pd.DataFrame, season: int = 7) -> pd.DataFrame:
    """Add `scale`: the seasonal-naive in-sample MAE of each row's own training window (through its cutoff)."""
    data = validate_series(df)
    diff = (data["y"] - data.groupby("unique_id", sort=False)["y"].shift(season)).abs()
    g = diff.groupby(data["unique_id"], sort=False)
    scales = data[["unique_id", "ds"]].rename(columns={"ds": "cutoff"})
    scales["scale"] = g.cumsum() / diff.notna().groupby(data["unique_id"], sort=False).cumsum()
    return bt.merge(scales, on=["unique_id", "cutoff"], how="left")


def score_backtest(bt: pd.DataFrame, df: pd.DataFrame, season: int = 7) -> pd.DataFrame:
    """Per (unique_id, model): mae, mase, smape, mape, coverage_80, coverage_95, n_folds of daily backtests."""
    return score_frame(with_scale(bt, df, season), by=("unique_id", "model"))


def rank_candidates(scores: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """The one ranking rule: per series, lowest MASE first, ties (and undefined MASE) to the simpler model.
    With a `relative_mase` column (`relative_mase`), series that have it rank on it: a model backtested on
    fewer folds is compared with the baseline on the same folds."""
    rank = {m: i for i, m in enumerate(order)}
    key = scores["mase"].astype(float)
    if "relative_mase" in scores:
        rel = scores["relative_mase"].astype(float)
        key = rel.where(rel.groupby(scores["unique_id"]).transform("count") > 0, key)
    s = scores.assign(_mase=key.fillna(np.inf), _rank=scores["model"].map(rank).fillna(len(rank)))
    return s.sort_values(["unique_id", "_mase", "_rank"], kind="stable").drop(columns=["_mase", "_rank"])


def enough_folds(bt: pd.DataFrame, min_fold_share: float) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Keep the (series, model) backtests that cover at least `min_fold_share` of the folds their series has
    (its most-covered model's); the rest -> reason. A model that needs a year of history before each fold
    still competes where the series' first folds come too early for it."""
    n = bt.groupby(["unique_id", "model"])["fold"].nunique()
    most = n.groupby(level="unique_id").transform("max")
    short = n[n < np.ceil(min_fold_share * most - 1e-9)]
    why = {
        (str(u), str(m)): f"backtest on {k} of {most[(u, m)]} folds (needs {min_fold_share:.0%})"
        for (u, m), k in short.items()
    }
    keep = ~pd.MultiIndex.from_frame(bt[["unique_id", "model"]]).isin(short.index)
    return bt[keep], why


def relative_mase(per_fold: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per (unique_id, model): mean MASE over the baseline's mean MASE on the folds both have (`fold_scores`
    rows); the baseline's own is 1. Series without a baseline score get none."""
    base = per_fold.loc[per_fold["model"] == baseline, ["unique_id", "fold", "mase"]]
    both = per_fold[["unique_id", "model", "fold", "mase"]].merge(
        base, on=["unique_id", "fold"], suffixes=("", "_base")
    )
    both = both.dropna(subset=["mase", "mase_base"])
    g = both.groupby(["unique_id", "model"], as_index=False)[["mase", "mase_base"]].mean()
    ratio = g["mase"] / g["mase_base"].where(g["mase_base"] > 0)
    return g[["unique_id", "model"]].assign(relative_mase=ratio)


def fold_errors(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (unique_id, model, fold): the mean absolute error of the scored rows (for the invoice tournament,
    one 30-day sum per fold, so the 30-day error), the per-fold evidence of the win-rate rule."""
    err = (rows["y"].astype(float) - rows["yhat"].astype(float)).abs()
    out = err.groupby([rows["unique_id"], rows["model"], rows["fold"]], sort=True).mean()
    return out.rename("error").reset_index()


def win_shares(errors: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per (unique_id, model): folds scored against the baseline, folds with a strictly lower error, their share."""
    base = errors.loc[errors["model"] == baseline, ["unique_id", "fold", "error"]]
    both = errors.merge(base.rename(columns={"error": "_base"}), on=["unique_id", "fold"]).dropna(
        subset=["error", "_base"]
    )
    both["wins"] = both["error"] < both["_base"]
    out = both.groupby(["unique_id", "model"])["wins"].agg(folds="size", wins="sum")
    out["share"] = out["wins"] / out["folds"]
    return out


def fold_scores(scorer: Scorer, bt: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Per (unique_id, model, fold): the scorer's metrics on that fold alone, in one scorer call."""
    keyed = bt.assign(model=bt["model"].astype(str) + "\x1f" + bt["fold"].astype(str))
    out = scorer(keyed, df)
    if out.empty:
        return out.assign(fold=pd.Series(dtype=int))
    parts = out["model"].str.split("\x1f", n=1, expand=True)
    return out.assign(model=parts[0], fold=parts[1].astype(int))


def rolling_top_mean(
    bt: pd.DataFrame,
    per_fold: pd.DataFrame,
    order: Sequence[str],
    k: int,
    h: int,
    min_folds: int = 3,
    name: str = TOP_MEAN,
) -> pd.DataFrame:
    """Out-of-sample backtest rows of publishing the mean of the k best candidates: on each fold, the mean of
    the k lowest mean MASEs over the folds whose h days had ended by its cutoff (at least `min_folds` of them,
    a candidate only if it has all of them); `per_fold` from `fold_scores`."""
    cuts = bt.groupby(["unique_id", "fold"], sort=True)["cutoff"].first()
    chosen = []
    for (uid, fold), cut in cuts.items():
        folds = cuts.loc[uid]
        prior = folds.index[folds + pd.Timedelta(days=h) <= cut]
        if len(prior) < min_folds:
            continue
        hist = per_fold[(per_fold["unique_id"] == uid) & per_fold["fold"].isin(prior)]
        full = hist.groupby("model")["fold"].transform("nunique") == len(prior)
        means = hist[full].groupby("model", as_index=False)["mase"].mean().dropna(subset=["mase"])
        members = rank_candidates(means.assign(unique_id=uid), order)["model"].head(k).tolist()
        if len(members) == k:
            chosen += [(uid, fold, m) for m in members]
    if not chosen:
        return bt.iloc[:0]
    picked = bt.merge(
        pd.DataFrame(chosen, columns=["unique_id", "fold", "model"]), on=["unique_id", "fold", "model"]
    )
    return mean_backtest(picked, k, name)


def top_members(ranked: pd.DataFrame, k: int) -> dict[str, list[str]]:
    """Per series: its k best single candidates by MASE over every fold (fewer than k: none)."""
    singles = ranked[~ranked["model"].isin([COMBINATION, TOP_MEAN]) & ranked["mase"].notna()]
    top = singles.groupby("unique_id", sort=True)["model"].agg(lambda m: list(m)[:k])
    return {str(u): m for u, m in top.items() if len(m) == k}


def top_mean_gate(per_fold: pd.DataFrame, baseline: str) -> dict[str, tuple[float, float, int]]:
    """Per series: (top_mean MASE, the baseline's MASE on the same folds, folds) for the publishing rule."""
    top = per_fold.loc[per_fold["model"] == TOP_MEAN, ["unique_id", "fold", "mase"]]
    base = per_fold.loc[per_fold["model"] == baseline, ["unique_id", "fold", "mase"]]
    both = top.merge(base, on=["unique_id", "fold"], suffixes=("", "_base")).dropna()
    g = both.groupby("unique_id", sort=True).agg(
        mase=("mase", "mean"), base=("mase_base", "mean"), folds=("fold", "size")
    )
    return {str(u): (float(r.mase), float(r.base), int(r.folds)) for u, r in g.iterrows()}


def published_order(
    ranked: pd.DataFrame,
    baseline: str,
    margin: float,
    force: str | None = None,
    *,
    errors: pd.DataFrame | None = None,
    min_win_share: float = DEFAULT_MIN_WIN_SHARE,
) -> dict[str, tuple[list[str], str | None]]:
    """Per series: the models to try on the full window, in order, and why the first is not simply the best.

    Challengers whose MASE is at most (1 - margin) x the baseline's come first (best first), then the
    baseline, then the other challengers (only reached if the baseline cannot be fitted). With per-fold
    `errors` (`fold_errors`), a challenger also needs the lower error on at least `min_win_share` of the folds
    it shares with the baseline. Without a baseline score the ranking stands. A forced model goes first
    wherever it was scored.
    """
    shares = win_shares(errors, baseline) if errors is not None and len(errors) else None
    out = {}
    for uid, cands in ranked.groupby("unique_id", sort=True):
        models, mase = cands["model"].tolist(), cands["mase"].astype(float).tolist()
        by_model = dict(zip(models, mase, strict=True))
        base = by_model.get(baseline, np.nan)
        ratio = _ratios(cands, base)
        reason = None
        if force is not None and force in models:
            order = [force, *(m for m in models if m != force)]
            reason = f"forced champion {force} (override)"
        elif baseline in models and np.isfinite(base):
            by_mean = [m for m, r in zip(models, ratio, strict=True) if m != baseline and r <= 1 - margin]
            winners = by_mean
            if errors is not None:
                won = {m: _share(shares, str(uid), m) for m in by_mean}
                winners = [m for m in by_mean if won[m][0] >= min_win_share]
            order = [*winners, baseline, *(m for m in models if m not in winners and m != baseline)]
            if by_mean and (not winners or winners[0] != by_mean[0]):
                top = by_mean[0]
                share, wins, folds = won[top]
                reason = (
                    f"{top} beat {baseline} by {margin:.0%} on mean MASE ({by_model[top]:.4g} vs "
                    f"{base:.4g}) but had the lower error on only {wins} of {folds} backtest folds (below "
                    f"{min_win_share:.0%}): publishing {winners[0] if winners else baseline}"
                )
            elif not winners and models[0] != baseline:
                reason = (
                    f"no challenger beat {baseline} by {margin:.0%} out of sample "
                    f"(best {models[0]} MASE {mase[0]:.4g} vs {base:.4g}): publishing {baseline}"
                )
        else:
            order = models
        out[str(uid)] = (order, reason)
    return out


def pooled_choice(
    ranked: pd.DataFrame, zero_share: pd.Series, baseline: str, above: float, margin: float
) -> dict[str, tuple[str, str]]:
    """Aggregate selection for intermittent series: the one challenger with the lowest mean MASE relative to
    the baseline over every series (ranked on at least half of them), if that mean beats the baseline by the
    margin, for each series whose share of zero days is above `above` -> (model, reason)."""
    key = "relative_mase" if "relative_mase" in ranked else "mase"
    singles = ranked[~ranked["model"].isin([COMBINATION, TOP_MEAN, baseline])]
    per = singles.groupby("model")[key].agg(["mean", "count"]).dropna()
    per = per[per["count"] >= 0.5 * ranked["unique_id"].nunique()]
    if per.empty or per["mean"].min() > 1 - margin:
        return {}
    best, value = per["mean"].idxmin(), per["mean"].min()
    return {
        str(uid): (
            best,
            f"pooled selection for an intermittent series ({share:.0%} zero days): {best} has the lowest mean "
            f"MASE relative to {baseline} over the series ({value:.3g})",
        )
        for uid, share in zero_share.items()
        if share > above
    }


def _ratios(cands: pd.DataFrame, base: float) -> list[float]:
    """Each candidate's MASE over the baseline's: on the folds both have where `relative_mase` is given."""
    plain = cands["mase"].astype(float) / base if np.isfinite(base) and base > 0 else cands["mase"] * np.nan
    if "relative_mase" in cands:
        plain = cands["relative_mase"].astype(float).fillna(plain)
    return plain.tolist()


def _share(shares: pd.DataFrame | None, uid: str, model: str) -> tuple[float, int, int]:
    """(win share, wins, folds) of one challenger against the baseline; no folds in common count as no wins."""
    if shares is None or (uid, model) not in shares.index:
        return 0.0, 0, 0
    r = shares.loc[(uid, model)]
    return float(r["share"]), int(r["wins"]), int(r["folds"])


def negative_forecasts(fitted: Mapping[tuple[str, str], Forecaster], h: int) -> dict[tuple[str, str], str]:
    """Per (series, model) whose forecast of the next h days sums below zero: why it is implausible for a
    non-negative target. A model fitted on a batch of series forecasts once for all of them."""
    totals: dict[int, pd.Series] = {}
    out = {}
    for (uid, name), model in fitted.items():
        if id(model) not in totals:
            fc = model.predict(h)
            totals[id(model)] = fc.groupby(fc["unique_id"].astype(str))["yhat"].sum()
        total = float(totals[id(model)].get(uid, 0.0))
        if total < 0:
            out[(uid, name)] = f"implausible forecast: the next {h} days sum to {total:,.2f} < 0"
    return out


def _fit_top_means(
    models: Mapping[str, ModelFactory], data: pd.DataFrame, members: Mapping[str, Sequence[str]]
) -> tuple[dict[tuple[str, str], Forecaster], dict[tuple[str, str], str]]:
    """Each series' mean of its members on the full window (members fitted on the batch of series that need
    them, as in the backtests, so a pooled model stays pooled); a series whose member fails gets the reason."""
    pairs = {(uid, m) for uid, ms in members.items() for m in ms}
    fitted, failed = ForecastEngine(dict(models)).fit(data[data["unique_id"].isin(list(members))], pairs)
    got, why = {}, {}
    for uid, ms in members.items():
        bad = [f"member {m}: {failed.get((uid, m), 'not fitted')}" for m in ms if (uid, m) not in fitted]
        if bad:
            why[(uid, TOP_MEAN)] = "; ".join(bad)
        else:
            got[(uid, TOP_MEAN)] = Combination.of({m: fitted[(uid, m)] for m in ms}, TOP_MEAN, series=[uid])
    return got, why


def _order(models: Sequence[str]) -> list[str]:
    return [m for m in SIMPLEST_FIRST if m in models] + [m for m in models if m not in SIMPLEST_FIRST]


def run_domain_tournament(
    domain: str,
    cutoff: str,
    df: pd.DataFrame,
    models: Mapping[str, ModelFactory],
    *,
    h: int,
    artifact_dir: ArtifactDir,
    n_windows: int = 3,
    step: int | None = None,
    season: int = 7,
    baseline: str = BASELINE,
    combine: Sequence[str] = (),
    margin: float = DEFAULT_MARGIN,
    min_win_share: float = DEFAULT_MIN_WIN_SHARE,
    top_k: int = 0,
    top_mean_margin: float | None = None,
    min_fold_share: float = 1.0,
    pooled_above_zero_share: float | None = None,
    scorer: Scorer | None = None,
    calibration_frame: CalibrationFrame | None = None,
    force_champion: str | None = None,
    non_negative: bool = True,
    run_id: str | None = None,
    executor: Executor | None = None,
) -> DomainTournament:
    """Backtest `models` on `df` (data through the cutoff only), publish one champion per series, save it.

    `combine` names members of an equal-weight combination candidate (needs two or more of `models`).
    `scorer` turns backtests into scores (default: daily MASE against seasonal naive's in-sample error);
    intervals are calibrated on `calibration_frame(backtests)` (default the daily backtests), and the same rows
    give the per-fold errors of the win-rate rule (`min_win_share`, see `published_order`).
    `top_k` >= 2 adds `top_mean`, published first wherever it has a backtest or, with `top_mean_margin`, only
    where that backtest beats the baseline's on the same folds by that margin (module docstring).
    With `min_fold_share` < 1, a model backtested on at least that share of its series' folds is ranked (on its
    MASE relative to the baseline's on the same folds, `relative_mase`) instead of only one with every fold.
    With `pooled_above_zero_share`, a series with more zero days than that publishes the one model that is
    best over all series (`pooled_choice`) first: a dozen folds of an intermittent series are mostly noise.
    With `non_negative` (usage, revenue and installs cannot be negative), a model whose full-window forecast
    of the next `h` days sums below zero is implausible and hands over to the next in order, like a failed fit.
    """
    data = validate_series(df)
    members = [m for m in combine if m in models]
    candidates = [*models, *([COMBINATION] if len(members) >= 2 else [])]
    if force_champion is not None and force_champion not in candidates:
        raise ValueError(f"force_champion {force_champion!r} is not one of {sorted(candidates)}")
    engine = ForecastEngine(models, executor or InProcess())
    bt, fails = engine.cross_validation(data, h, n_windows, step, complete_only=min_fold_share >= 1)
    failures = {
        (r.unique_id, r.model): r.reason if pd.isna(r.fold) else f"fold {r.fold}: {r.reason}"
        for r in fails.itertuples()
    }
    if min_fold_share < 1 and len(bt):
        bt, short = enough_folds(bt, min_fold_share)
        failures |= {
            pair: f"{why}; {failures[pair]}" if pair in failures else why for pair, why in short.items()
        }
    if COMBINATION in candidates:
        combo = combine_backtests(bt, members)
        bt = pd.concat([bt, combo], ignore_index=True) if len(combo) else bt
        for uid in set(data["unique_id"]) - set(combo["unique_id"]):
            failures[(uid, COMBINATION)] = f"a member of {'+'.join(members)} has no backtest"
    score = scorer or functools.partial(score_backtest, season=season)
    gate: dict[str, tuple[float, float, int]] = {}
    if top_k >= 2 and len(bt):
        single_bt = bt[bt["model"] != COMBINATION]
        per_fold = fold_scores(score, single_bt, data)
        top = rolling_top_mean(single_bt, per_fold, _order(candidates), top_k, h)
        if len(top):
            candidates.append(TOP_MEAN)
            bt = pd.concat([bt, top], ignore_index=True)
            gate = top_mean_gate(pd.concat([per_fold, fold_scores(score, top, data)]), baseline)
    scores = score(bt, data) if len(bt) else pd.DataFrame()
    if min_fold_share < 1 and len(scores):
        scores = scores.merge(relative_mase(fold_scores(score, bt, data), baseline), how="left")
    cal_bt = calibration_frame(bt) if calibration_frame is not None and len(bt) else bt
    factors = fit_calibration(cal_bt)
    if len(scores):
        held = held_out_coverage(cal_bt).drop(columns=["coverage_80", "coverage_95"])
        scores = scores.drop(columns=[c for c in held.columns[2:] if c in scores])
        scores = scores.merge(held, on=["unique_id", "model"], how="left")
    ranked = rank_candidates(scores, _order(candidates)) if len(scores) else scores
    errors = fold_errors(cal_bt) if len(cal_bt) else None
    singles = ranked[ranked["model"] != TOP_MEAN] if len(ranked) else ranked
    plan = (
        published_order(singles, baseline, margin, force_champion, errors=errors, min_win_share=min_win_share)
        if len(singles)
        else {}
    )
    if pooled_above_zero_share is not None and force_champion is None and len(ranked):
        zero = (data["y"] == 0).groupby(data["unique_id"]).mean()
        for uid, (model, why) in pooled_choice(
            ranked, zero, baseline, pooled_above_zero_share, margin
        ).items():
            if uid in plan:
                plan[uid] = ([model, *(m for m in plan[uid][0] if m != model)], why)
    top_of = top_members(ranked, top_k) if gate else {}
    for uid, (mase, base, folds) in gate.items():
        beats = top_mean_margin is None or mase <= (1 - top_mean_margin) * base
        if uid in top_of and force_champion is None and beats:
            plan[uid] = (
                [TOP_MEAN, *plan[uid][0]],
                f"{TOP_MEAN} of {', '.join(top_of[uid])}: rolling-selection MASE {mase:.4g} vs {baseline} "
                f"{base:.4g} on the same {folds} folds",
            )

    # the one fallback path: try each series' models in published order until one fits on the full window
    factories = dict(models)
    if COMBINATION in candidates:
        specs = {m: member_spec(models[m]()) for m in members}
        factories[COMBINATION] = functools.partial(Combination, specs)
    full = ForecastEngine(factories)  # in-process: fitted models (TF nets too) stay in this process
    fitted: dict[str, tuple[str, Forecaster]] = {}
    tried: dict[str, list[str]] = {}
    pending = {uid: list(order) for uid, (order, _) in plan.items()}
    while pending:
        pairs = {(uid, order[0]) for uid, order in pending.items() if order[0] != TOP_MEAN}
        got, failed = full.fit(data[data["unique_id"].isin(list(pending))], pairs)
        top = {uid: top_of[uid] for uid, order in pending.items() if order[0] == TOP_MEAN}
        if top:
            got_top, failed_top = _fit_top_means(models, data, top)
            got, failed = got | got_top, failed | failed_top
        if non_negative:
            failed |= negative_forecasts(got, h)
            got = {pair: model for pair, model in got.items() if pair not in failed}
        for (uid, name), model in got.items():
            fitted[uid] = (name, model)
            pending.pop(uid, None)
        for (uid, name), reason in failed.items():
            failures[(uid, name)] = f"full window: {reason}"
            tried.setdefault(uid, []).append(name)
            pending[uid] = pending[uid][1:]
            if not pending[uid]:
                pending.pop(uid)

    by_pair = scores.set_index(["unique_id", "model"]) if len(scores) else None
    champions, reg = [], []
    now = pd.Timestamp.now(tz="UTC")
    windows = data.groupby("unique_id")["ds"].agg(["min", "max"])
    for uid in sorted(data["unique_id"].unique()):
        name, model = fitted.get(uid, (None, None))
        reason = plan.get(uid, ([], None))[1]
        if tried.get(uid):
            gone = "; ".join(f"{m}: {failures[(uid, m)]}" for m in tried[uid])
            reason = f"{'; '.join(filter(None, [reason]))}{'; ' if reason else ''}failed on the full window ({gone})"
            reason += f", next in order: {name}" if name else ", nothing left to publish"
        if name is None and uid not in plan:
            reason = "no model could be scored on this series"
        m = by_pair.loc[(uid, name)] if name is not None else None
        base = (
            by_pair.loc[(uid, baseline)] if by_pair is not None and (uid, baseline) in by_pair.index else None
        )
        champions.append(
            {
                "unique_id": uid,
                "model": name,
                "mase": float(m["mase"]) if m is not None else np.nan,
                "mae": float(m["mae"]) if m is not None else np.nan,
                "baseline_mase": float(base["mase"]) if base is not None else np.nan,
                "baseline_mae": float(base["mae"]) if base is not None else np.nan,
                "relative_mase": float(m.get("relative_mase", np.nan)) if m is not None else np.nan,
                "fallback_reason": (reason or None) and reason[:1000],
                "model_id": model_id(domain, name, cutoff, uid) if name else None,
            }
        )
        if model is None:
            continue
        path = artifact_dir(f"{domain}_{name}", cutoff, uid)
        shutil.rmtree(path, ignore_errors=True)
        model.save(path)
        calibration = factors[(factors["unique_id"] == uid) & (factors["model"] == name)]
        reg.append(
            {
                "model_id": model_id(domain, name, cutoff, uid),
                "domain": domain,
                "cutoff": cutoff,
                "unique_id": uid,
                "model": name,
                "algorithm": f"{type(model).__module__}.{type(model).__qualname__}",
                "parameters": json.dumps(
                    model.params() | {"interval_calibration": factors_to_json(calibration)}
                ),
                "train_start": windows.loc[uid, "min"].date(),
                "train_end": windows.loc[uid, "max"].date(),
                "metrics": json.dumps({k: _json_float(m[k]) for k in (*METRICS, "n_folds")}),
                "artifact_path": str(path),
                "run_id": run_id,
                "is_champion": True,
                "fallback_reason": champions[-1]["fallback_reason"],
                "registered_at": now,
            }
        )
    champ = pd.DataFrame(champions)
    ratio = champ.pop("relative_mase").fillna(champ["mase"] / champ["baseline_mase"])
    champ["beats_baseline"] = (champ["model"] != baseline) & (ratio <= 1 - margin)
    is_champ = set(zip(champ["unique_id"], champ["model"], strict=True))
    return DomainTournament(
        domain,
        cutoff,
        _backtest_rows(domain, cutoff, bt),
        _score_rows(domain, cutoff, scores, failures, is_champ),
        pd.DataFrame(reg),
        champ,
        margin,
    )


def _backtest_rows(domain: str, cutoff: str, bt: pd.DataFrame) -> pd.DataFrame:
    out = bt[BACKTEST_COLUMNS].rename(columns={"cutoff": "fold_cutoff"})
    out.insert(0, "cutoff", cutoff)
    out.insert(0, "domain", domain)
    return out


def _score_rows(
    domain: str,
    cutoff: str,
    scores: pd.DataFrame,
    failures: Mapping[tuple[str, str], str],
    champions: set[tuple[str, str]],
) -> pd.DataFrame:
    """Every scored pair plus every failed or screened pair (with its reason), champion flagged."""
    rows = scores.copy() if len(scores) else pd.DataFrame(columns=["unique_id", "model", *METRICS, "n_folds"])
    scored = set(zip(rows["unique_id"], rows["model"], strict=True))
    extra = [{"unique_id": u, "model": m} for (u, m) in failures if (u, m) not in scored]
    if extra:
        rows = pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)
    pairs = list(zip(rows["unique_id"], rows["model"], strict=True))
    rows["failure"] = [failures.get(p) for p in pairs]
    rows["is_champion"] = [p in champions for p in pairs]
    rows.insert(0, "cutoff", cutoff)
    rows.insert(0, "domain", domain)
    return rows[["domain", "cutoff", "unique_id", "model", *METRICS, "n_folds", "failure", "is_champion"]]


def _json_float(x: object) -> float | int | None:
    x = float(x)
    return None if not np.isfinite(x) else (int(x) if x.is_integer() and abs(x) < 2**53 else x)


def _dates(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        if c in out:
            out[c] = pd.to_datetime(out[c]).dt.date
    return out


def write_tournament(con: duckdb.DuckDBPyConnection, t: DomainTournament) -> dict[str, int]:
    """Replace exactly the (domain, cutoff) rows of models.backtests/scores/registry in one transaction."""
    key = {"domain": t.domain, "cutoff": t.cutoff}
    frames = {
        BACKTEST_TABLE: _dates(t.backtests, ["fold_cutoff", "ds"]),
        SCORES_TABLE: t.scores,
        REGISTRY_TABLE: _dates(t.registry, ["train_start", "train_end"]),
    }
    written = {}
    with transaction(con):
        for table, frame in frames.items():
            view = f"_tournament_{table.split('.')[1]}"
            con.register(view, frame)
            try:
                if len(frame):
                    written[table] = replace_where(con, table, f"SELECT * FROM {view}", key=key)
                else:
                    written[table] = replace_where(con, table, f"SELECT * FROM {table} WHERE FALSE", key=key)
            finally:
                con.unregister(view)
    return written


def champion_artifacts(con: duckdb.DuckDBPyConnection, domain: str, cutoff: str) -> pd.DataFrame:
    """The registry's champion rows of one (domain, cutoff): unique_id, model, model_id, artifact_path,
    fallback_reason, parameters (JSON text, with the interval calibration factors)."""
    return con.execute(
        "SELECT unique_id, model, model_id, artifact_path, fallback_reason, CAST(parameters AS VARCHAR) AS parameters "
        "FROM models.registry "
        "WHERE domain = ? AND cutoff = ? AND is_champion ORDER BY unique_id",
        [domain, cutoff],
    ).df()


def champion_forecasts(champions: pd.DataFrame, h: int) -> pd.DataFrame:
    """Each registered champion's daily forecast for the h days after its training end, with its interval
    calibration applied: unique_id, ds, horizon, yhat, bounds, model, model_id (from champion_artifacts rows)."""
    frames = []
    for r in champions.itertuples():
        fc = load_forecaster(r.artifact_path).predict(h)
        fc = fc[fc["unique_id"] == r.unique_id].reset_index(drop=True)
        fc["horizon"] = range(1, len(fc) + 1)
        fc = apply_calibration(fc, factors_from_parameters(r.parameters, r.unique_id))
        frames.append(fc.assign(model=r.model, model_id=r.model_id))
    return pd.concat(frames, ignore_index=True)
