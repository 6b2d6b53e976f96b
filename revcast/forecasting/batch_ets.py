"""Additive-error exponential smoothing fitted as one vectorised batch across many series.

`BatchETS` fits ETS(A,N,N), ETS(A,Ad,N), ETS(A,N,A) and ETS(A,Ad,A) with a weekly season on every series of a
batch at once: the series are the rows of a NumPy matrix (left-aligned, each frozen after its own last day) and
every point of a small grid of smoothing parameters is a further array axis, so one pass of the state-space
recursion over the days evaluates every (series, parameters) pair. Each series keeps the grid point with the
lowest AIC of its one-step in-sample errors. Intervals use the per-series residual variance with the ETS
h-step variance formula (Hyndman et al., class 1): Var(h) = sigma^2 * (1 + sum_{j<h} c_j^2), with
c_j = alpha + beta * phi * (1 - phi^j) / (1 - phi) + gamma * [j mod m == 0].

Series under two seasons of history, or mostly zeros, are refused up front (`screen`): the per-account driver
gives them the seasonal-naive fallback and records the reason.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, forecast_frame, normal_intervals

ALPHAS = (0.02, 0.1, 0.25, 0.5, 0.85)
# (beta, phi): no trend, then damped trends
TRENDS = ((0.0, 0.9), (0.02, 0.9), (0.005, 0.98))
GAMMAS = (None, 0.02, 0.1, 0.25)  # None: no season
INIT_SEASONS = 4  # seasons averaged for the initial level and seasonal states
CHUNK = 1024  # series per vectorised pass (arrays of grid x CHUNK stay in cache)


def parameter_grid() -> np.ndarray:
    """Rows (alpha, beta, phi, gamma, trend, seasonal, k): every candidate with its parameter count k."""
    rows = []
    for alpha, (beta, phi), gamma in itertools.product(ALPHAS, TRENDS, GAMMAS):
        trend, seasonal = beta > 0, gamma is not None
        k = 1 + 1 + (3 if trend else 0) + (1 + 6 if seasonal else 0)  # alpha, l0; beta, phi, b0; gamma, s0
        rows.append((alpha, beta, phi, gamma or 0.0, trend, seasonal, k))
    return np.asarray(rows, dtype=float)


def series_matrix(df: pd.DataFrame, lengths: np.ndarray) -> np.ndarray:
    """A validated long frame (sorted by unique_id, ds) as a left-aligned matrix, NaN after each series' end."""
    y = np.full((len(lengths), int(lengths.max())), np.nan)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.arange(len(df)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    y[rows, cols] = df["y"].to_numpy(float)
    return y


def _fit_chunk(y: np.ndarray, n: np.ndarray, m: int, grid: np.ndarray) -> dict[str, np.ndarray]:
    """Fit every grid point on every row of y (series x days, left-aligned); keep each series' best by AIC."""
    alpha, beta, phi, gamma = (grid[:, i, None] for i in range(4))
    seasonal = grid[:, 5, None, None]
    k = grid[:, 6, None]
    # initial states from the first INIT_SEASONS whole seasons (at least two; NaN past a series' end)
    head = np.full((len(n), INIT_SEASONS * m), np.nan)
    width = min(y.shape[1], INIT_SEASONS * m)
    head[:, :width] = y[:, :width]
    weeks = head.reshape(len(n), INIT_SEASONS, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # seasons past a short series' end are all NaN
        weekly = np.nanmean(weeks, axis=2)  # mean of each whole season
        season0 = np.nanmean(weeks - weekly[:, :, None], axis=1)
    level0 = weekly[:, 0]
    trend0 = (weekly[:, 1] - weekly[:, 0]) / m
    level = np.broadcast_to(level0, (len(grid), len(n))).copy()
    trend = np.where(beta > 0, trend0[None, :], 0.0)
    season = seasonal * season0[None, :, :]  # grid x series x m
    sse = np.zeros_like(level)
    for t in range(y.shape[1]):
        slot = t % m
        live = t < n  # series still inside their history
        s_old = season[:, :, slot]
        damped = phi * trend
        e = np.where(live, y[:, t] - (level + damped + s_old), 0.0)
        sse += e * e
        level = np.where(live, level + damped + alpha * e, level)
        trend = np.where(live, damped + beta * e, trend)
        season[:, :, slot] = s_old + gamma * e  # e is 0 where not live
    sigma2 = np.maximum(sse / n[None, :], 1e-12)
    aic = n[None, :] * np.log(sigma2) + 2 * k
    best = np.argmin(aic, axis=0)
    cols = np.arange(len(n))
    return {
        "aic": aic[best, cols],
        "grid_index": best,
        "level": level[best, cols],
        "trend": trend[best, cols],
        "season": season[best, cols, :],
        "sigma": np.sqrt(sse[best, cols] / np.maximum(n - k[best, 0], 1)),
    }


class BatchETS(Forecaster):
    """Vectorised additive ETS with per-series model and smoothing parameters chosen by AIC from a grid."""

    def __init__(
        self, season: int = 7, max_zero_share: float = 0.5, log: bool = True, name: str = "batch_ets"
    ) -> None:
        super().__init__()
        if season < 2:
            raise ValueError("season must be >= 2")
        self.season, self.max_zero_share, self.log, self.name = season, max_zero_share, log, name

    def params(self) -> dict[str, Any]:
        return {
            "season": self.season,
            "max_zero_share": self.max_zero_share,
            "log": self.log,
            "name": self.name,
        }

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        """Series under two seasons of history, or with more than max_zero_share zero days."""
        g = df.assign(zero=df["y"].to_numpy(float) == 0).groupby("unique_id", sort=True)
        n, zeros = g.size(), g["zero"].mean()
        out = {
            str(u): f"{k} days of history, under two seasons ({2 * self.season})"
            for u, k in n.items()
            if k < 2 * self.season
        }
        for u, share in zeros.items():
            if str(u) not in out and share > self.max_zero_share:
                out[str(u)] = f"intermittent: {share:.0%} of days are zero"
        return out

    def _fit(self, df: pd.DataFrame) -> None:
        m = self.season
        n = self.windows_["n"].to_numpy()
        if (n < 2 * m).any():
            short = self.windows_.index[n < 2 * m][0]
            raise ValueError(f"series {short!r} has fewer than two seasons ({2 * m} days)")
        y = series_matrix(df, n)
        if not np.isfinite(y[~np.isnan(y)]).all():
            raise ValueError(f"{self.name}: non-finite values")
        grid = parameter_grid()
        parts = [_fit_chunk(y[i : i + CHUNK], n[i : i + CHUNK], m, grid) for i in range(0, len(n), CHUNK)]
        fitted = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        self.log_ = np.zeros(len(n), dtype=bool)
        eligible = (np.nan_to_num(y, nan=0.0) >= 0).all(axis=1)  # log1p needs y >= 0
        if self.log and eligible.any():
            # the same grid on log1p(y): a multiplicative season and trend in additive form; its AIC on the
            # original scale adds the Jacobian, 2 * sum(log1p(y)), so the two are compared like for like
            ly = np.log1p(np.where(eligible[:, None], y, 0.0))
            logged = [
                _fit_chunk(ly[i : i + CHUNK], n[i : i + CHUNK], m, grid) for i in range(0, len(n), CHUNK)
            ]
            alt = {key: np.concatenate([p[key] for p in logged]) for key in logged[0]}
            alt["aic"] = alt["aic"] + 2 * np.nansum(ly, axis=1)
            self.log_ = eligible & (alt["aic"] < fitted["aic"])
            for key, value in fitted.items():
                value[self.log_] = alt[key][self.log_]
        self.grid_index_ = fitted["grid_index"].astype(int)
        self.level_, self.trend_, self.season_ = fitted["level"], fitted["trend"], fitted["season"]
        self.sigma_ = fitted["sigma"]

    def chosen(self) -> pd.DataFrame:
        """Per series: the chosen model (e.g. ETS(A,Ad,A)) and its alpha, beta, phi, gamma, sigma."""
        g = parameter_grid()[self.grid_index_]
        names = np.where(g[:, 4] > 0, "Ad", "N").astype(object)
        seas = np.where(g[:, 5] > 0, "A", "N").astype(object)
        return pd.DataFrame(
            {
                "model": np.where(self.log_, "log ", "").astype(object) + "ETS(A," + names + "," + seas + ")",
                "alpha": g[:, 0],
                "beta": g[:, 1],
                "phi": np.where(g[:, 4] > 0, g[:, 2], 1.0),
                "gamma": g[:, 3],
                "sigma": self.sigma_,
            },
            index=self.windows_.index,
        )

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        m = self.season
        g = parameter_grid()[self.grid_index_]
        alpha, beta, phi, gamma = (g[:, i, None] for i in range(4))
        steps = np.arange(1, h + 1)[None, :]
        damp = np.cumsum(phi**steps, axis=1)  # phi + phi^2 + ... + phi^h
        n = self.windows_["n"].to_numpy()
        slots = (n[:, None] - 1 + steps) % m
        yhat = self.level_[:, None] + damp * self.trend_[:, None] + np.take_along_axis(self.season_, slots, 1)
        j = steps[:, :-1] if h > 1 else np.zeros((1, 0))
        c = alpha + beta * phi * (1 - phi**j) / (1 - phi) + gamma * (j % m == 0)
        var_factor = 1 + np.concatenate([np.zeros((len(n), 1)), np.cumsum(c**2, axis=1)], axis=1)
        sd = self.sigma_[:, None] * np.sqrt(var_factor)
        bounds = normal_intervals(yhat, sd, levels)
        if self.log_.any():  # back to the original scale: the median and the same quantiles
            rows = self.log_[:, None]
            yhat = np.where(rows, np.expm1(np.minimum(yhat, 700)), yhat)
            bounds = {k: np.where(rows, np.expm1(np.minimum(v, 700)), v) for k, v in bounds.items()}
        return forecast_frame(future, yhat.ravel(), {k: v.ravel() for k, v in bounds.items()})

    def _state(self, directory: Path) -> dict[str, Any]:
        return {
            "grid_index": self.grid_index_.tolist(),
            "level": self.level_.tolist(),
            "trend": self.trend_.tolist(),
            "season": self.season_.tolist(),
            "sigma": self.sigma_.tolist(),
            "log": self.log_.tolist(),
        }

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.grid_index_ = np.asarray(state["grid_index"], dtype=int)
        self.level_ = np.asarray(state["level"], dtype=float)
        self.trend_ = np.asarray(state["trend"], dtype=float)
        self.season_ = np.asarray(state["season"], dtype=float).reshape(-1, self.season)
        self.sigma_ = np.asarray(state["sigma"], dtype=float)
        self.log_ = np.asarray(state["log"], dtype=bool)
