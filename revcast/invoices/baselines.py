"""Seed-002 baselines for the revenue of days d..d+29, vectorised over many dates d and all series.

Both read a daily series frame (``unique_id, ds, revenue``, e.g. from ``daily_revenue``); days missing
inside a series' span count as zero revenue; a window reaching outside the span gives NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

from revcast.invoices.series import FEATURE_WINDOWS

PREVIOUS_30_DAYS = (-30, -1)
SAME_30_DAYS_LAST_YEAR = FEATURE_WINDOWS["revenue_year_ago_30d"]  # (-365, -336), same as the feature


def _as_days(dates: date | str | pd.Timestamp | Iterable[date | str | pd.Timestamp]) -> np.ndarray:
    """Dates (one or many) as a datetime64[D] array."""
    if isinstance(dates, date | str | pd.Timestamp | np.datetime64):
        dates = [dates]
    return pd.to_datetime(pd.Index(list(dates))).to_numpy().astype("datetime64[D]")


def window_sums(
    series: pd.DataFrame,
    dates: date | str | pd.Timestamp | Iterable[date | str | pd.Timestamp],
    window: tuple[int, int],
    *,
    value: str = "revenue",
) -> pd.DataFrame:
    """Sum of `value` over days d+window[0] .. d+window[1] for every series and every d (unique_id, ds, yhat)."""
    lo, hi = window
    if lo > hi:
        raise ValueError(f"empty window {window}")
    if series[value].isna().any():
        raise ValueError(f"series column {value!r} has missing values")
    days_q = _as_days(dates)
    frames: list[pd.DataFrame] = []
    for uid, g in series.groupby("unique_id", sort=True):
        days = pd.to_datetime(g["ds"]).to_numpy().astype("datetime64[D]")
        first = days.min()
        n = int((days.max() - first).astype(int)) + 1
        dense = np.zeros(n)
        np.add.at(dense, (days - first).astype(int), g[value].to_numpy(dtype=float))
        cum = np.concatenate([[0.0], np.cumsum(dense)])
        offset = (days_q - first).astype(int)
        a, b = offset + lo, offset + hi
        ok = (a >= 0) & (b < n)
        yhat = np.where(ok, cum[np.clip(b + 1, 0, n)] - cum[np.clip(a, 0, n)], np.nan)
        frames.append(pd.DataFrame({"unique_id": uid, "ds": days_q.astype("datetime64[ns]"), "yhat": yhat}))
    if not frames:
        return pd.DataFrame({"unique_id": [], "ds": pd.Series([], dtype="datetime64[ns]"), "yhat": []})
    return pd.concat(frames, ignore_index=True)


def previous_30_days(
    series: pd.DataFrame, d: date | str | pd.Timestamp | Iterable[date | str | pd.Timestamp]
) -> pd.DataFrame:
    """Forecast of revenue(d..d+29) = revenue of d-30..d-1, per series and date (unique_id, ds=d, yhat)."""
    return window_sums(series, d, PREVIOUS_30_DAYS)


def same_30_days_last_year(
    series: pd.DataFrame, d: date | str | pd.Timestamp | Iterable[date | str | pd.Timestamp]
) -> pd.DataFrame:
    """Forecast of revenue(d..d+29) = revenue of d-365..d-336, per series and date (unique_id, ds=d, yhat)."""
    return window_sums(series, d, SAME_30_DAYS_LAST_YEAR)
