"""Seasonal-naive and drift baselines, vectorised across series, with the textbook interval scaling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, forecast_frame, normal_intervals


def _rms(values: pd.Series, by: pd.Series) -> pd.Series:
    """Root mean square of values per group, ignoring NaN."""
    return np.sqrt((values**2).groupby(by, sort=True).mean())


class SeasonalNaive(Forecaster):
    """y_hat(T+h) = y(T+h-m*k); sigma from in-sample seasonal differences, sd = sigma*sqrt(floor((h-1)/m)+1)."""

    def __init__(self, season: int = 7, name: str = "seasonal_naive") -> None:
        super().__init__()
        if season < 1:
            raise ValueError("season must be >= 1")
        self.season = season
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"season": self.season, "name": self.name}

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        """Series with fewer than one season of observations."""
        n = df.groupby("unique_id", sort=True).size()
        return {str(u): f"{k} days, under one season ({self.season})" for u, k in n[n < self.season].items()}

    def _fit(self, df: pd.DataFrame) -> None:
        m = self.season
        short = self.windows_[self.windows_["n"] < m]
        if len(short):
            raise ValueError(f"series {short.index[0]!r} has fewer than season={m} observations")
        resid = df["y"] - df.groupby("unique_id", sort=False)["y"].shift(m)
        self.sigma_ = _rms(resid, df["unique_id"]).fillna(0.0)
        self.last_season_ = df.groupby("unique_id", sort=True)["y"].tail(m).to_numpy().reshape(-1, m)

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        m = self.season
        steps = np.arange(h)
        yhat = self.last_season_[:, steps % m].ravel()
        k = np.floor(steps / m) + 1
        sd = (self.sigma_.to_numpy()[:, None] * np.sqrt(k)[None, :]).ravel()
        return forecast_frame(future, yhat, normal_intervals(yhat, sd, levels))

    def _state(self, directory: Path) -> dict[str, Any]:
        return {
            "sigma": self.sigma_.tolist(),
            "last_season": self.last_season_.tolist(),
        }

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.sigma_ = pd.Series(state["sigma"], index=self.windows_.index, dtype=float)
        self.last_season_ = np.asarray(state["last_season"], dtype=float).reshape(-1, self.season)


class Drift(Forecaster):
    """Straight line from the first to the last observation; sd = sigma*sqrt(h*(1+h/T))."""

    def __init__(self, name: str = "drift") -> None:
        super().__init__()
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"name": self.name}

    def _fit(self, df: pd.DataFrame) -> None:
        g = df.groupby("unique_id", sort=True)["y"]
        first, last, n = g.first(), g.last(), g.size()
        if (n < 2).any():
            raise ValueError(f"series {n[n < 2].index[0]!r} has fewer than 2 observations")
        self.slope_ = (last - first) / (n - 1)
        self.last_ = last
        resid = df.groupby("unique_id", sort=False)["y"].diff() - df["unique_id"].map(self.slope_)
        sse = (resid**2).groupby(df["unique_id"], sort=True).sum()
        self.sigma_ = np.sqrt(sse / np.maximum(n - 2, 1))

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        steps = np.arange(1, h + 1)[None, :]
        yhat = (self.last_.to_numpy()[:, None] + self.slope_.to_numpy()[:, None] * steps).ravel()
        t = self.windows_["n"].to_numpy()[:, None]
        sd = (self.sigma_.to_numpy()[:, None] * np.sqrt(steps * (1 + steps / t))).ravel()
        return forecast_frame(future, yhat, normal_intervals(yhat, sd, levels))

    def _state(self, directory: Path) -> dict[str, Any]:
        return {"slope": self.slope_.tolist(), "last": self.last_.tolist(), "sigma": self.sigma_.tolist()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        idx = self.windows_.index
        self.slope_ = pd.Series(state["slope"], index=idx, dtype=float)
        self.last_ = pd.Series(state["last"], index=idx, dtype=float)
        self.sigma_ = pd.Series(state["sigma"], index=idx, dtype=float)
