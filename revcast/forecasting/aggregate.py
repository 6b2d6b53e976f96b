"""Temporal aggregation (ADIDA-style) and forecast combination, both behind the Forecaster interface.

`WindowTotal` forecasts the total of each coming `window` days directly from the series of past window
totals (AutoETS on the totals), then spreads each total over its days by the recent weekday profile. Spiky
and intermittent daily series are far smoother as 30-day totals, and a 30-day revenue target is such a total.

`Combination` averages the forecasts and bounds of member models (an equal-weight combination: the
lesson of the M competitions is that combining usually beats selecting one model).
"""

from __future__ import annotations

import importlib
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, bound_columns, forecast_frame, load_forecaster, sf_column

BOUNDS = tuple(bound_columns())  # the bounds the backtest tables keep
TOTALS_FILE = "window_total_models.pkl"
PROFILE_DAYS = 56


def spread_totals(
    future: pd.DataFrame, weekday: np.ndarray, totals: np.ndarray, bounds: dict[str, np.ndarray], window: int
) -> pd.DataFrame:
    """Daily forecast whose window sums are `totals` (series x windows), split by the weekday profile
    (series x 7); daily bound offsets are chosen so that their root sum of squares per window is the total's
    half-width (what `window_total`-style summing gives back)."""
    n, h = weekday.shape[0], len(future) // max(weekday.shape[0], 1)
    wd = future["ds"].dt.dayofweek.to_numpy().reshape(n, h)
    prof = np.take_along_axis(weekday, wd, axis=1)
    block = np.arange(h) // window
    share = np.empty_like(prof)
    norm = np.empty_like(prof)
    for b in np.unique(block):
        cols = block == b
        s = prof[:, cols] / np.where(
            prof[:, cols].sum(axis=1, keepdims=True) > 0, prof[:, cols].sum(axis=1, keepdims=True), 1.0
        )
        share[:, cols] = s
        norm[:, cols] = np.sqrt((s**2).sum(axis=1, keepdims=True))
    yhat = share * totals[:, block]
    daily = {
        k: yhat + share / np.where(norm > 0, norm, 1.0) * (v[:, block] - totals[:, block])
        for k, v in bounds.items()
    }
    return forecast_frame(future, yhat.ravel(), {k: v.ravel() for k, v in daily.items()})


class WindowTotal(Forecaster):
    """Forecast `window`-day totals directly (AutoETS on past non-overlapping totals ending at the last day)."""

    def __init__(self, window: int = 30, name: str = "window_total") -> None:
        super().__init__()
        self.window, self.name = window, name

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "name": self.name}

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        n = df.groupby("unique_id")["ds"].size()
        short = n[n < 6 * self.window]
        return {
            str(u): f"{self.name}: {k} days, needs six {self.window}-day totals" for u, k in short.items()
        }

    def _fit(self, df: pd.DataFrame) -> None:
        from statsforecast.models import AutoETS

        w = self.window
        self.models_, weekday = {}, []
        for uid, part in df.groupby("unique_id", sort=True):
            y = part["y"].to_numpy(float)
            k = len(y) // w
            if k < 6:
                raise ValueError(f"{self.name}: series {uid!r} has {len(y)} days, needs six {w}-day totals")
            totals = y[len(y) - k * w :].reshape(k, w).sum(axis=1)
            model = AutoETS(season_length=1, model="ZZN")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(totals)
            self.models_[str(uid)] = model
            recent = part.tail(PROFILE_DAYS)
            by_day = recent.groupby(recent["ds"].dt.dayofweek)["y"].mean().reindex(range(7), fill_value=0.0)
            weekday.append(by_day.to_numpy() if by_day.sum() > 0 else np.ones(7))
        self.weekday_ = np.vstack(weekday)

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        k = -(-h // self.window)
        totals, bounds = [], {b: [] for b in bound_columns(levels)}
        for uid in self.windows_.index:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self.models_[str(uid)].predict(k, level=list(levels))
            totals.append(np.asarray(out["mean"], dtype=float))
            for b in bounds:
                bounds[b].append(np.asarray(out[sf_column(b)], dtype=float))
        return spread_totals(
            future,
            self.weekday_,
            np.vstack(totals),
            {b: np.vstack(v) for b, v in bounds.items()},
            self.window,
        )

    def _state(self, directory: Path) -> dict[str, Any]:
        (directory / TOTALS_FILE).write_bytes(pickle.dumps(self.models_))
        return {"file": TOTALS_FILE, "weekday": self.weekday_.tolist()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.models_ = pickle.loads((directory / state["file"]).read_bytes())  # noqa: S301 - revcast's own file
        self.weekday_ = np.asarray(state["weekday"], dtype=float)


def _build(spec: dict[str, Any]) -> Forecaster:
    module, _, cls = spec["class"].rpartition(".")
    if not module.startswith("revcast."):
        raise ValueError(f"refusing to build model class {spec['class']!r} from outside revcast")
    return getattr(importlib.import_module(module), cls)(**spec["params"])


def member_spec(model: Forecaster) -> dict[str, Any]:
    """{class, params}: enough to rebuild an unfitted member."""
    return {"class": f"{type(model).__module__}.{type(model).__qualname__}", "params": model.params()}


class Combination(Forecaster):
    """Equal-weight mean of its members' forecasts and bounds; members are {name: {class, params}}."""

    def __init__(self, members: dict[str, dict[str, Any]], name: str = "combination") -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError("a combination needs at least two members")
        self.members, self.name = members, name

    @classmethod
    def of(
        cls, models: dict[str, Forecaster], name: str = "combination", series: Sequence[str] | None = None
    ) -> Combination:
        """A combination of these (unfitted or fitted) models; fitted ones are used as they are, and may have
        been fitted on a larger batch than the combination forecasts (`series`: the ones it does)."""
        combo = cls({n: member_spec(m) for n, m in models.items()}, name=name)
        if all(m.windows_ is not None for m in models.values()):
            combo.fitted_ = dict(models)
            windows = next(iter(models.values())).windows_
            combo.windows_ = windows if series is None else windows.loc[list(series)]
        return combo

    def params(self) -> dict[str, Any]:
        return {"members": self.members, "name": self.name}

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, spec in self.members.items():
            for uid, why in _build(spec).screen(df).items():
                out.setdefault(uid, f"{self.name}: member {name}: {why}")
        return out

    def _fit(self, df: pd.DataFrame) -> None:
        self.fitted_ = {name: _build(spec).fit(df) for name, spec in self.members.items()}

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        uids = set(future["unique_id"])
        parts = []
        for m in self.fitted_.values():
            p = m.predict(h, levels)
            parts.append(p[p["unique_id"].isin(uids)].sort_values(["unique_id", "ds"], ignore_index=True))
        cols = ["yhat", *bound_columns(levels)]
        mean = {c: np.mean([p[c].to_numpy(float) for p in parts], axis=0) for c in cols}
        return forecast_frame(future, mean["yhat"], {b: mean[b] for b in cols[1:]})

    def _state(self, directory: Path) -> dict[str, Any]:
        for name, model in self.fitted_.items():
            model.save(directory / name)
        return {"members": list(self.fitted_)}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.fitted_ = {name: load_forecaster(directory / name) for name in state["members"]}


def mean_backtest(rows: pd.DataFrame, n: int, name: str) -> pd.DataFrame:
    """Per backtest row (series, fold, day): the mean of the points and bounds of the models in `rows`, kept
    only where exactly `n` of them are present; `model` is `name`."""
    keys = [c for c in ("unique_id", "fold", "cutoff", "ds", "horizon", "y") if c in rows]
    g = rows.groupby(keys, sort=True)
    out = g[["yhat", *BOUNDS]].mean()[g["model"].nunique() == n].reset_index().assign(model=name)
    return out[[c for c in rows.columns if c in out]] if len(out) else rows.iloc[:0]


def combine_backtests(backtests: pd.DataFrame, members: list[str], name: str = "combination") -> pd.DataFrame:
    """The combination's backtest rows from its members' (same folds, every member present): the mean of
    their points and bounds, which is exactly what `Combination` forecasts on each fold."""
    return mean_backtest(backtests[backtests["model"].isin(members)], len(members), name)
