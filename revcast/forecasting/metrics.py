"""Forecast accuracy metrics (vectorised, NaN-safe) and the scorer for backtest frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=float)


def mae(y: object, yhat: object) -> float:
    """Mean absolute error, ignoring NaN pairs."""
    return float(np.nanmean(np.abs(_arr(y) - _arr(yhat))))


def seasonal_naive_scale(y_train: object, season: int = 7) -> float:
    """In-sample MAE of the seasonal-naive forecast on the training window (the MASE denominator)."""
    y = _arr(y_train)
    if len(y) <= season:
        return float("nan")
    return float(np.nanmean(np.abs(y[season:] - y[:-season])))


def mase(y: object, yhat: object, y_train: object, season: int = 7) -> float:
    """MAE scaled by the seasonal-naive in-sample MAE of y_train; NaN when that scale is 0 or undefined."""
    scale = seasonal_naive_scale(y_train, season)
    return mae(y, yhat) / scale if scale > 0 else float("nan")


def smape(y: object, yhat: object) -> float:
    """Symmetric MAPE in percent (0..200); a pair of exact zeros counts as 0 error."""
    y, yhat = _arr(y), _arr(yhat)
    denom = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2 * np.abs(y - yhat), denom, out=np.zeros_like(denom), where=denom > 0)
    ratio[np.isnan(y) | np.isnan(yhat)] = np.nan
    return float(100 * np.nanmean(ratio))


def mape(y: object, yhat: object) -> float:
    """Mean absolute percentage error in percent over non-zero actuals; NaN when all actuals are 0."""
    y, yhat = _arr(y), _arr(yhat)
    keep = (y != 0) & ~np.isnan(y) & ~np.isnan(yhat)
    if not keep.any():
        return float("nan")
    return float(100 * np.mean(np.abs((y[keep] - yhat[keep]) / y[keep])))


def coverage(y: object, lo: object, hi: object) -> float:
    """Share of actuals inside [lo, hi]."""
    y, lo, hi = _arr(y), _arr(lo), _arr(hi)
    keep = ~(np.isnan(y) | np.isnan(lo) | np.isnan(hi))
    return float(np.mean((y[keep] >= lo[keep]) & (y[keep] <= hi[keep]))) if keep.any() else float("nan")


def score_frame(bt: pd.DataFrame, by: Sequence[str] = ("unique_id", "model")) -> pd.DataFrame:
    """Score a backtest frame that carries a `scale` column (MASE denominator of each row's fold), per `by`.

    Returns by + mae, mase, smape, mape, coverage_80, coverage_95, n_folds; computed with grouped sums only.
    """
    by = list(by)
    y, yhat = bt["y"].to_numpy(float), bt["yhat"].to_numpy(float)
    err = np.abs(y - yhat)
    denom = np.abs(y) + np.abs(yhat)
    scale = bt["scale"].to_numpy(float)
    nonzero = y != 0
    parts = pd.DataFrame(
        {
            "ae": err,
            "se": np.divide(err, scale, out=np.full_like(err, np.nan), where=scale > 0),
            "sp": np.divide(2 * err, denom, out=np.zeros_like(err), where=denom > 0),
            "pe": np.divide(err, np.abs(y), out=np.full_like(err, np.nan), where=nonzero),
            "in80": ((y >= bt["lo_80"]) & (y <= bt["hi_80"])).to_numpy(float),
            "in95": ((y >= bt["lo_95"]) & (y <= bt["hi_95"])).to_numpy(float),
        }
    )
    parts[np.isnan(err)] = np.nan
    keys = [bt[c].to_numpy() for c in by]
    g = parts.groupby(keys, sort=True)
    means = g.mean()  # pandas skips NaN: MASE over folds with a defined scale, MAPE over non-zero actuals
    out = pd.DataFrame(
        {
            "mae": means["ae"],
            "mase": means["se"],
            "smape": 100 * means["sp"],
            "mape": 100 * means["pe"],
            "coverage_80": means["in80"],
            "coverage_95": means["in95"],
        }
    )
    out["n_folds"] = bt.groupby(keys, sort=True)["fold"].nunique().to_numpy()
    out.index.names = by
    return out.reset_index()
