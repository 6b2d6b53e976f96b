"""statsforecast models behind the Forecaster interface: per-series order selection by AICc (AutoETS,
AutoARIMA), the Theta family, MSTL for weekly + yearly seasonality, and intermittent-demand models
(Croston SBA, TSB, ADIDA, IMAPA) for series that are mostly zeros.

Each series gets its own statsforecast model object (orders chosen per series); artifacts are those fitted
objects, pickled by revcast itself, plus the regressor columns kept per series.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, bound_columns, forecast_frame, normal_intervals, sf_column
from revcast.forecasting.calendar import calendar_regressors

MODELS_FILE = "statsforecast_models.pkl"
YEAR = 365
KINDS = ("auto_ets", "auto_arima", "auto_theta", "mstl", "croston_sba", "tsb", "adida", "imapa")
INTERMITTENT = ("croston_sba", "tsb", "adida", "imapa")


def _statsforecast_model(kind: str, season: int, n: int) -> Any:
    """A fresh statsforecast model; the weekly season is dropped for series shorter than two seasons."""
    from statsforecast import models as sf

    m = season if n >= 2 * season else 1
    if kind == "auto_ets":
        return sf.AutoETS(season_length=m, model="ZZA" if m > 1 else "ZZN")  # additive season: zeros allowed
    if kind == "auto_arima":  # stepwise over small orders, approximate likelihood: about 0.5 s a series
        return sf.AutoARIMA(
            season_length=m, approximation=True, max_p=2, max_q=2, max_P=1, max_Q=1, nmodels=12
        )
    if kind == "auto_theta":
        return sf.AutoTheta(season_length=m)
    if kind == "mstl":
        return sf.MSTL(season_length=[m, YEAR], trend_forecaster=sf.AutoETS(model="ZZN"))
    if kind == "croston_sba":
        return sf.CrostonSBA()
    if kind == "tsb":
        return sf.TSB(alpha_d=0.1, alpha_p=0.1)
    if kind == "adida":
        return sf.ADIDA()
    if kind == "imapa":
        return sf.IMAPA()
    raise ValueError(f"unknown statsforecast model kind {kind!r}; choose from {KINDS}")


class StatsForecastModel(Forecaster):
    """One statsforecast model kind fitted per series.

    `country` (one code, or a code per series) and `yearly` add calendar regressors (holidays, year-end closure, yearly Fourier terms when the
    series has two years) to AutoARIMA. Intermittent kinds give a flat point forecast; their intervals are
    normal with the spread of the last year's daily values around that level (calibrated later on backtests).
    """

    def __init__(
        self,
        kind: str = "auto_ets",
        season: int = 7,
        country: str | dict[str, str] | None = None,
        yearly: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown statsforecast model kind {kind!r}; choose from {KINDS}")
        self.kind, self.season, self.country, self.yearly = kind, season, country, yearly
        self.name = name or kind

    def params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "season": self.season,
            "country": self.country,
            "yearly": self.yearly,
            "name": self.name,
        }

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        if self.kind != "mstl":
            return {}
        n = df.groupby("unique_id")["ds"].size()
        short = n[n < 2 * YEAR]
        return {
            str(u): f"{self.name}: {k} days, needs two years for the yearly season" for u, k in short.items()
        }

    def _regressors(self, uid: str, ds: pd.DatetimeIndex, n: int) -> np.ndarray | None:
        if self.kind != "auto_arima" or (self.country is None and not self.yearly):
            return None
        country = self.country.get(uid) if isinstance(self.country, dict) else self.country
        return calendar_regressors(ds, country, self.yearly and n >= 2 * YEAR)

    def _fit(self, df: pd.DataFrame) -> None:
        self.models_: dict[str, Any] = {}
        self.cols_: dict[str, list[bool]] = {}
        self.sigma_: dict[str, float] = {}
        for uid, part in df.groupby("unique_id", sort=True):
            y = part["y"].to_numpy(float)
            if not np.isfinite(y).all():
                raise ValueError(f"{self.name}: series {uid!r} has non-finite values")
            x = self._regressors(str(uid), pd.DatetimeIndex(part["ds"]), len(y))
            keep = (x.std(axis=0) > 0) if x is not None else np.zeros(0, dtype=bool)
            model = _statsforecast_model(self.kind, self.season, len(y))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(y, X=x[:, keep] if keep.any() else None)
            self.models_[str(uid)], self.cols_[str(uid)] = model, keep.tolist()
            recent = y[-YEAR:]
            self.sigma_[str(uid)] = float(np.sqrt(np.mean((recent - recent.mean()) ** 2)))

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        yhat, bounds = [], {k: [] for k in bound_columns(levels)}
        for uid, days in future.groupby("unique_id", sort=True):
            model, keep = self.models_[str(uid)], np.asarray(self.cols_[str(uid)], dtype=bool)
            n = int(self.windows_.loc[uid, "n"])
            x = self._regressors(str(uid), pd.DatetimeIndex(days["ds"]), n)
            xf = x[:, keep] if x is not None and keep.any() else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.kind in INTERMITTENT:
                    mean = np.asarray(model.predict(h)["mean"], dtype=float)
                    b = normal_intervals(mean, np.full(h, self.sigma_[str(uid)]), levels)
                else:
                    out = model.predict(h, X=xf, level=list(levels))
                    mean = np.asarray(out["mean"], dtype=float)
                    b = {k: np.asarray(out[sf_column(k)], dtype=float) for k in bounds}
            yhat.append(mean)
            for k in bounds:
                bounds[k].append(b[k])
        return forecast_frame(future, np.concatenate(yhat), {k: np.concatenate(v) for k, v in bounds.items()})

    def _state(self, directory: Path) -> dict[str, Any]:
        (directory / MODELS_FILE).write_bytes(pickle.dumps(self.models_))
        return {"file": MODELS_FILE, "cols": self.cols_, "sigma": self.sigma_}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        # the file is one revcast wrote itself next to model.json (load_forecaster only builds revcast classes)
        self.models_ = pickle.loads((directory / state["file"]).read_bytes())  # noqa: S301
        self.cols_, self.sigma_ = state["cols"], state["sigma"]
