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
FORECAST_COLUMNS = ["unique_id", "ds", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]
Z_80 = float(norm.ppf(0.90))
Z_95 = float(norm.ppf(0.975))


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


def normal_intervals(yhat: np.ndarray, sd: np.ndarray) -> dict[str, np.ndarray]:
    """80/95 % normal prediction intervals around yhat with standard deviation sd."""
    return {
        "lo_80": yhat - Z_80 * sd,
        "hi_80": yhat + Z_80 * sd,
        "lo_95": yhat - Z_95 * sd,
        "hi_95": yhat + Z_95 * sd,
    }


def forecast_frame(future: pd.DataFrame, yhat: np.ndarray, bounds: dict[str, np.ndarray]) -> pd.DataFrame:
    """Assemble the standard forecast frame, forcing lo_95 <= lo_80 <= yhat <= hi_80 <= hi_95."""
    lo_80 = np.minimum(bounds["lo_80"], yhat)
    hi_80 = np.maximum(bounds["hi_80"], yhat)
    out = future[["unique_id", "ds"]].reset_index(drop=True).copy()
    out["yhat"] = yhat
    out["lo_80"] = lo_80
    out["hi_80"] = hi_80
    out["lo_95"] = np.minimum(bounds["lo_95"], lo_80)
    out["hi_95"] = np.maximum(bounds["hi_95"], hi_80)
    return out


class Forecaster(ABC):
    """Fit on a long frame of daily series, forecast h days with 80/95 % intervals, save and reload."""

    name: str = "forecaster"

    def __init__(self) -> None:
        self.windows_: pd.DataFrame | None = None

    def fit(self, df: pd.DataFrame) -> Self:
        """Fit every series in df (unique_id, ds, y) on its own; returns self."""
        data = validate_series(df)
        self.windows_ = series_windows(data)
        self._fit(data)
        return self

    def predict(self, h: int) -> pd.DataFrame:
        """Forecast the h days after each series' last ds: unique_id, ds, yhat, lo_80, hi_80, lo_95, hi_95."""
        if self.windows_ is None:
            raise RuntimeError(f"{self.name}: predict called before fit")
        if h < 1:
            raise ValueError("h must be >= 1")
        future = future_frame(self.windows_["end"], h)
        return self._predict(future, h)[FORECAST_COLUMNS]

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
    def _predict(self, future: pd.DataFrame, h: int) -> pd.DataFrame:
        """Forecast the rows of future (unique_id, ds, horizon; series in sorted order, h rows each)."""

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
