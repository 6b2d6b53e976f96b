"""The one forecasting interface every model answers, plus series helpers shared by all models."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.stats import norm

SERIES_COLUMNS = ["unique_id", "ds", "y"]
LEVELS = (80, 95)  # the interval levels the warehouse tables keep (lo_80, hi_80, lo_95, hi_95)
Z_80 = float(norm.ppf(0.90))


def check_levels(levels) -> tuple[float, ...]:
    """Interval levels as sorted unique percentages strictly between 0 and 100; raise on anything else."""
    levels = list(levels)
    out = tuple(sorted({int(lv) if float(lv).is_integer() else float(lv) for lv in levels}))
    if not out or out[0] <= 0 or out[-1] >= 100:
        raise ValueError(f"interval levels must be percentages strictly between 0 and 100, got {levels}")
    return out


def level_name(level: float) -> str:
    """80 -> '80', 99.5 -> '99.5': the suffix of a bound column."""
    return f"{level:g}"


def bound_columns(levels=LEVELS) -> list[str]:
    """lo_<level>, hi_<level> for each level, narrowest first (lo_80, hi_80, lo_95, hi_95 by default)."""
    return [f"{side}_{level_name(lv)}" for lv in check_levels(levels) for side in ("lo", "hi")]


def level_of(column: str) -> float:
    """'hi_95' -> 95.0."""
    return float(column.split("_", 1)[1])


def sf_column(column: str) -> str:
    """The statsforecast name of a bound column: 'lo_80' -> 'lo-80'."""
    return column.replace("_", "-")


FORECAST_COLUMNS = ["unique_id", "ds", "yhat", *bound_columns()]


def validate_series(df: pd.DataFrame) -> pd.DataFrame:
    """Return a typed, sorted copy of a long series frame; raise if a series is not contiguous daily."""
    missing = set(SERIES_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"series frame lacks columns {sorted(missing)}")
    out = pd.DataFrame(
        {
            "unique_id": df["unique_id"].astype(str).to_numpy(),
            "ds": pd.to_datetime(df["ds"]).astype("datetime64[ns]").to_numpy(),
            "y": df["y"].astype(float).to_numpy(),
        }
    )
    if out.empty:
        raise ValueError("series frame is empty")
    out = out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    step = out.groupby("unique_id", sort=False)["ds"].diff().dropna()
    bad = step != pd.Timedelta(days=1)
    if bad.any():
        uid = out.loc[step[bad].index[0], "unique_id"]
        raise ValueError(f"series {uid!r} is not contiguous daily (duplicate or missing days)")
    return out


def series_windows(df: pd.DataFrame) -> pd.DataFrame:
    """Per series: first and last ds and the number of observations (df already validated)."""
    g = df.groupby("unique_id", sort=True)["ds"]
    return pd.DataFrame({"start": g.min(), "end": g.max(), "n": g.size()})


def future_frame(ends: pd.Series, h: int) -> pd.DataFrame:
    """The h days after each series' last ds, as unique_id/ds/horizon columns (series in index order)."""
    uids = np.repeat(ends.index.to_numpy().astype(str), h)
    steps = np.tile(np.arange(1, h + 1), len(ends))
    ds = np.repeat(ends.to_numpy().astype("datetime64[ns]"), h) + steps.astype("timedelta64[D]")
    return pd.DataFrame({"unique_id": uids, "ds": ds.astype("datetime64[ns]"), "horizon": steps})


def clip_at_zero(frame: pd.DataFrame, columns: list[str]) -> int:
    """Clip point and bounds at 0 in place (quantities that cannot be negative); return rows changed."""
    clipped = int((frame[columns] < 0).any(axis=1).sum())
    frame[columns] = frame[columns].clip(lower=0)
    return clipped


def normal_intervals(yhat: np.ndarray, sd: np.ndarray, levels=LEVELS) -> dict[str, np.ndarray]:
    """Normal prediction intervals around yhat with standard deviation sd, one lo/hi pair per level."""
    out = {}
    for lv in check_levels(levels):
        z = float(norm.ppf(0.5 + lv / 200))
        out[f"lo_{level_name(lv)}"], out[f"hi_{level_name(lv)}"] = yhat - z * sd, yhat + z * sd
    return out


def empirical_bounds(resid: np.ndarray, levels=LEVELS, axis=None) -> dict[str, np.ndarray]:
    """Offsets from the point forecast: the central `level` % of the residuals, per level."""
    out = {}
    for lv in check_levels(levels):
        tail = (1 - lv / 100) / 2
        lo, hi = np.quantile(resid, [tail, 1 - tail], axis=axis)
        out[f"lo_{level_name(lv)}"], out[f"hi_{level_name(lv)}"] = lo, hi
    return out


def forecast_frame(future: pd.DataFrame, yhat: np.ndarray, bounds: dict[str, np.ndarray]) -> pd.DataFrame:
    """Assemble the standard forecast frame from yhat and lo_/hi_<level> bounds, forcing the intervals to
    nest around the point (lo_95 <= lo_80 <= yhat <= hi_80 <= hi_95 for the default levels)."""
    out = future[["unique_id", "ds"]].reset_index(drop=True).copy()
    out["yhat"] = yhat
    lo, hi = yhat, yhat
    for lv in check_levels(level_of(k) for k in bounds if k.startswith("lo_")):
        name = level_name(lv)
        lo = np.minimum(bounds[f"lo_{name}"], lo)
        hi = np.maximum(bounds[f"hi_{name}"], hi)
        out[f"lo_{name}"], out[f"hi_{name}"] = lo, hi
    return out


class Forecaster(ABC):
    """Fit on a long frame of daily series, forecast h days with intervals at any levels, save and reload."""

    name: str = "forecaster"

    def __init__(self) -> None:
        self.windows_: pd.DataFrame | None = None

    def fit(self, df: pd.DataFrame) -> Self:
        """Fit every series in df (unique_id, ds, y) on its own; returns self."""
        data = validate_series(df)
        self.windows_ = series_windows(data)
        self._fit(data)
        return self

    def predict(self, h: int, levels=LEVELS) -> pd.DataFrame:
        """Forecast the h days after each series' last ds: unique_id, ds, yhat and lo_/hi_<level> per
        interval level (default lo_80, hi_80, lo_95, hi_95)."""
        if self.windows_ is None:
            raise RuntimeError(f"{self.name}: predict called before fit")
        if h < 1:
            raise ValueError("h must be >= 1")
        levels = check_levels(levels)
        future = future_frame(self.windows_["end"], h)
        return self._predict(future, h, levels)[["unique_id", "ds", "yhat", *bound_columns(levels)]]

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        """Series this model refuses up front (unique_id -> reason); none by default."""
        return {}

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe; cls(**params()) rebuilds an unfitted model."""

    @abstractmethod
    def _fit(self, df: pd.DataFrame) -> None:
        """Fit on a validated frame."""

    @abstractmethod
    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        """Forecast the rows of future (unique_id, ds, horizon; series in sorted order, h rows each) with
        lo_/hi_<level> bounds for each of the (checked, sorted) levels."""

    @abstractmethod
    def _state(self, directory: Path) -> dict[str, Any]:
        """JSON-safe fitted state; may write extra artifacts into directory."""

    @abstractmethod
    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        """Inverse of _state."""

    def save(self, directory: Path) -> None:
        """Write model.json (class, params, training window, state) and any artifact into directory."""
        if self.windows_ is None:
            raise RuntimeError(f"{self.name}: save called before fit")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        window = {
            str(uid): {"start": row.start.isoformat(), "end": row.end.isoformat(), "n": int(row.n)}
            for uid, row in self.windows_.iterrows()
        }
        meta = {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "name": self.name,
            "params": self.params(),
            "training_window": window,
            "state": self._state(directory),
        }
        (directory / "model.json").write_text(json.dumps(meta, indent=1))


def load_forecaster(directory: Path) -> Forecaster:
    """Rebuild a fitted Forecaster from a directory written by Forecaster.save."""
    directory = Path(directory)
    meta = json.loads((directory / "model.json").read_text())
    module_name, _, class_name = meta["class"].rpartition(".")
    if not module_name.startswith("revcast."):
        raise ValueError(f"refusing to load model class {meta['class']!r} from outside revcast")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Forecaster)):
        raise ValueError(f"{meta['class']!r} is not a Forecaster")
    model = cls(**meta["params"])
    window = meta["training_window"]
    model.windows_ = pd.DataFrame(
        {
            "start": pd.to_datetime([w["start"] for w in window.values()]).astype("datetime64[ns]"),
            "end": pd.to_datetime([w["end"] for w in window.values()]).astype("datetime64[ns]"),
            "n": [w["n"] for w in window.values()],
        },
        index=pd.Index(list(window), name="unique_id"),
    ).sort_index()
    model._restore(meta["state"], directory)
    return model
