"""Rolling-origin backtest and the model tournament shared by every domain (usage, invoices, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revcast.forecasting.base import FORECAST_COLUMNS, Forecaster, validate_series
from revcast.forecasting.metrics import score_frame

BACKTEST_COLUMNS = ["unique_id", "model", "fold", "cutoff", "ds", "horizon", "y", *FORECAST_COLUMNS[2:]]
FAILURE_COLUMNS = ["unique_id", "model", "fold", "reason"]
BASELINE = "seasonal_naive"
SIMPLEST_FIRST = ("naive", "seasonal_naive", "drift")


def fold_cutoffs(
    df: pd.DataFrame,
    h: int,
    n_folds: int = 3,
    step: int | None = None,
    cutoffs: Sequence[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Cutoffs per series and fold (0 = earliest): end - h - step*(n_folds-1-fold), or the explicit `cutoffs`.

    Folds whose cutoff falls before a series' first day are dropped for that series.
    """
    g = df.groupby("unique_id", sort=True)["ds"]
    start, end = g.min(), g.max()
    if cutoffs is not None:
        cut = np.sort(pd.to_datetime(list(cutoffs)).to_numpy().astype("datetime64[ns]"))
        grid = np.broadcast_to(cut, (len(end), len(cut)))
    else:
        step = h if step is None else step
        back = h + step * np.arange(n_folds - 1, -1, -1)
        grid = end.to_numpy()[:, None] - back[None, :].astype("timedelta64[D]")
    out = pd.DataFrame(
        {
            "unique_id": np.repeat(end.index.to_numpy(), grid.shape[1]),
            "fold": np.tile(np.arange(grid.shape[1]), len(end)),
            "cutoff": grid.ravel().astype("datetime64[ns]"),
        }
    )
    first = out["unique_id"].map(start)
    return out[out["cutoff"] >= first].reset_index(drop=True)


def _failure(uid: str, model: str, fold: int, exc: BaseException) -> dict[str, object]:
    return {"unique_id": uid, "model": model, "fold": fold, "reason": f"{type(exc).__name__}: {exc}"}


def _forecast(make_model: Callable[[], Forecaster], train: pd.DataFrame, h: int) -> pd.DataFrame:
    """Fit a fresh model and forecast h days; raise if any forecast value is not finite."""
    fc = make_model().fit(train).predict(h)
    bad = ~np.isfinite(fc[FORECAST_COLUMNS[2:]].to_numpy(float)).all(axis=1)
    if bad.any():
        raise ValueError(f"non-finite forecast for series {sorted(set(fc.loc[bad, 'unique_id']))}")
    return fc


def backtest_with_failures(
    make_model: Callable[[], Forecaster],
    df: pd.DataFrame,
    h: int,
    n_folds: int = 3,
    step: int | None = None,
    cutoffs: Sequence[pd.Timestamp] | None = None,
    model_name: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like rolling_origin_backtest, but a series on which the model raises is recorded, not fatal.

    The model is first fitted on all series of a fold at once (vectorised models stay fast); if that
    raises, each series is retried alone so one bad series only costs itself.
    """
    data = validate_series(df)
    folds = fold_cutoffs(data, h, n_folds, step, cutoffs)
    name = model_name or make_model().name
    frames, failures = [], []
    for fold, fc_cut in folds.groupby("fold", sort=True):
        cut = data["unique_id"].map(fc_cut.set_index("unique_id")["cutoff"])
        train = data[data["ds"] <= cut]  # NaT cutoff (fold dropped for a series) compares False
        try:
            fcs = [_forecast(make_model, train, h)]
        except Exception:  # noqa: BLE001 - retry per series to isolate the failing ones
            fcs = []
            for uid, part in train.groupby("unique_id", sort=True):
                try:
                    fcs.append(_forecast(make_model, part, h))
                except Exception as exc:  # noqa: BLE001 - recorded per (series, model, fold)
                    failures.append(_failure(str(uid), name, int(fold), exc))
        if fcs:
            fc = pd.concat(fcs, ignore_index=True).merge(fc_cut, on="unique_id")
            fc = fc.merge(data, on=["unique_id", "ds"], how="inner")
            frames.append(fc)
    if frames:
        bt = pd.concat(frames, ignore_index=True)
        bt["model"] = name
        bt["horizon"] = ((bt["ds"] - bt["cutoff"]) / pd.Timedelta(days=1)).astype(int)
        bt = bt[BACKTEST_COLUMNS].sort_values(["unique_id", "fold", "ds"], ignore_index=True)
    else:
        bt = pd.DataFrame(columns=BACKTEST_COLUMNS)
    return bt, pd.DataFrame(failures, columns=FAILURE_COLUMNS)


def rolling_origin_backtest(
    make_model: Callable[[], Forecaster],
    df: pd.DataFrame,
    h: int,
    n_folds: int = 3,
    step: int | None = None,
    cutoffs: Sequence[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Fit a fresh model on data through each fold's cutoff only and forecast the next h days.

    Cutoffs step back from each series' end by `step` (default h), so the last fold ends at the last
    observation. Raises if the model fails on any series (the tournament records failures instead).
    """
    bt, failures = backtest_with_failures(make_model, df, h, n_folds, step, cutoffs)
    if len(failures):
        row = failures.iloc[0]
        raise RuntimeError(
            f"{row['model']} failed on {row['unique_id']!r} fold {row['fold']}: {row['reason']}"
        )
    return bt


def with_scale(bt: pd.DataFrame, df: pd.DataFrame, season: int = 7) -> pd.DataFrame:
    """Add `scale`: the seasonal-naive in-sample MAE of each row's own training window (through its cutoff)."""
    data = validate_series(df)
    diff = (data["y"] - data.groupby("unique_id", sort=False)["y"].shift(season)).abs()
    g = diff.groupby(data["unique_id"], sort=False)
    scales = data[["unique_id", "ds"]].rename(columns={"ds": "cutoff"})
    scales["scale"] = g.cumsum() / diff.notna().groupby(data["unique_id"], sort=False).cumsum()
    return bt.merge(scales, on=["unique_id", "cutoff"], how="left")


def score_backtest(bt: pd.DataFrame, df: pd.DataFrame, season: int = 7) -> pd.DataFrame:
    """Per (unique_id, model): mae, mase, smape, mape, coverage_80, coverage_95, n_folds."""
    return score_frame(with_scale(bt, df, season), by=("unique_id", "model"))


def score_by_horizon(bt: pd.DataFrame, df: pd.DataFrame, season: int = 7) -> pd.DataFrame:
    """Per (unique_id, model, horizon): the same metrics, to see accuracy decay with lead time."""
    return score_frame(with_scale(bt, df, season), by=("unique_id", "model", "horizon"))


@dataclass(frozen=True)
class TournamentResult:
    """Backtests and scores of every (series, model), the champion per series, and recorded failures."""

    backtests: pd.DataFrame
    scores: pd.DataFrame
    champions: pd.DataFrame
    failures: pd.DataFrame


def pick_champions(scores: pd.DataFrame, order: Sequence[str], baseline: str = BASELINE) -> pd.DataFrame:
    """Lowest MASE per series (then MAE, then simpler model first); beats_baseline vs `baseline`'s MASE."""
    rank = {m: i for i, m in enumerate(order)}
    s = scores.assign(
        _mase=scores["mase"].fillna(np.inf),
        _rank=scores["model"].map(rank).fillna(len(rank)),
    )
    best = s.sort_values(["unique_id", "_mase", "mae", "_rank"]).groupby("unique_id", sort=True).head(1)
    base = scores[scores["model"] == baseline].set_index("unique_id")
    out = best[["unique_id", "model", "mase", "mae"]].reset_index(drop=True)
    out["baseline_mase"] = out["unique_id"].map(base["mase"]).astype(float)
    out["baseline_mae"] = out["unique_id"].map(base["mae"]).astype(float)
    strictly = (out["mase"] < out["baseline_mase"]) | (
        out["mase"].isna() & out["baseline_mase"].isna() & (out["mae"] < out["baseline_mae"])
    )
    out["beats_baseline"] = strictly & (out["model"] != baseline)
    return out


def run_tournament(
    models: Mapping[str, Callable[[], Forecaster]],
    df: pd.DataFrame,
    h: int,
    n_folds: int = 3,
    step: int | None = None,
    season: int = 7,
    baseline: str = BASELINE,
) -> TournamentResult:
    """Backtest every model on every series on the same folds; a model that fails on a series is left out
    of that series' ranking (its reason is in `failures` and the champion's `failed_models`)."""
    data = validate_series(df)
    bts, fails = [], []
    for name, make in models.items():
        bt, failed = backtest_with_failures(make, data, h, n_folds, step, model_name=name)
        bts.append(bt)
        fails.append(failed)
    failures = pd.concat([f for f in fails if len(f)] or fails[:1], ignore_index=True)
    backtests = pd.concat([b for b in bts if len(b)] or bts[:1], ignore_index=True)
    # a (series, model) that failed on any fold is not comparable with the others: drop all its folds
    failed_pairs = failures[["unique_id", "model"]].drop_duplicates().assign(_failed=True)
    backtests = backtests.merge(failed_pairs, on=["unique_id", "model"], how="left")
    backtests = backtests[backtests["_failed"].isna()].drop(columns="_failed").reset_index(drop=True)
    scores = score_backtest(backtests, data, season) if len(backtests) else pd.DataFrame()
    order = [m for m in SIMPLEST_FIRST if m in models] + [m for m in models if m not in SIMPLEST_FIRST]
    champions = pick_champions(scores, order, baseline) if len(scores) else pd.DataFrame()
    if len(champions):
        failed_by_uid = failures.groupby("unique_id")["model"].agg(lambda m: ",".join(sorted(set(m))))
        champions["failed_models"] = champions["unique_id"].map(failed_by_uid).fillna("")
    return TournamentResult(backtests=backtests, scores=scores, champions=champions, failures=failures)
