"""statsmodels ETS and SARIMAX, fitted per series; artifacts are the fitted parameters plus the training data."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, forecast_frame
from revcast.forecasting.calendar import holiday_flags

TRAINING_FILE = "training.parquet"


def _daily(y: np.ndarray, start: pd.Timestamp) -> pd.Series:
    """A Series with a daily DatetimeIndex (statsmodels 0.15 needs one for get_prediction)."""
    return pd.Series(y, index=pd.date_range(start, periods=len(y), freq="D"))


class _PerSeries(Forecaster):
    """Shared loop: one statsmodels result per series, rebuilt from saved params without refitting."""

    def _fit(self, df: pd.DataFrame) -> None:
        self.results_: dict[str, Any] = {}
        self.train_ = df
        for uid, part in df.groupby("unique_id", sort=True):
            y = part["y"].to_numpy()
            if not np.isfinite(y).all():
                raise ValueError(f"series {uid!r} has non-finite values")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.results_[str(uid)] = self._fit_one(_daily(y, part["ds"].iloc[0]))

    def _predict(self, future: pd.DataFrame, h: int) -> pd.DataFrame:
        parts = [self._forecast_one(self.results_[str(uid)], h) for uid in self.windows_.index]
        fc = np.vstack(parts)  # rows of (yhat, lo_80, hi_80, lo_95, hi_95)
        bounds = {k: fc[:, i + 1] for i, k in enumerate(["lo_80", "hi_80", "lo_95", "hi_95"])}
        return forecast_frame(future, fc[:, 0], bounds)

    def _state(self, directory: Path) -> dict[str, Any]:
        self.train_.to_parquet(directory / TRAINING_FILE, index=False)
        return {
            "training_file": TRAINING_FILE,
            "params": {uid: np.asarray(r.params).tolist() for uid, r in self.results_.items()},
        }

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.train_ = pd.read_parquet(directory / state["training_file"])
        self.results_ = {}
        for uid, part in self.train_.groupby("unique_id", sort=True):
            y = _daily(part["y"].to_numpy(), part["ds"].iloc[0])
            params = np.asarray(state["params"][str(uid)], dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.results_[str(uid)] = self._rebuild_one(y, params)

    def _fit_one(self, y: pd.Series) -> Any:
        raise NotImplementedError

    def _rebuild_one(self, y: pd.Series, params: np.ndarray) -> Any:
        raise NotImplementedError

    def _forecast_one(self, result: Any, h: int) -> np.ndarray:
        raise NotImplementedError


class ETS(_PerSeries):
    """Additive-error ETS (statsmodels ETSModel) with optional damped trend and weekly seasonality."""

    def __init__(
        self,
        trend: bool = True,
        damped_trend: bool = True,
        season: int | None = 7,
        name: str = "ets",
    ) -> None:
        super().__init__()
        self.trend = trend
        self.damped_trend = damped_trend and trend
        self.season = season
        self.name = name

    def params(self) -> dict[str, Any]:
        return {
            "trend": self.trend,
            "damped_trend": self.damped_trend,
            "season": self.season,
            "name": self.name,
        }

    def _model(self, y: pd.Series) -> Any:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        return ETSModel(
            y,
            error="add",
            trend="add" if self.trend else None,
            damped_trend=self.damped_trend,
            seasonal="add" if self.season else None,
            seasonal_periods=self.season or None,
        )

    def _fit_one(self, y: pd.Series) -> Any:
        return self._model(y).fit(disp=False, maxiter=1000)

    def _rebuild_one(self, y: pd.Series, params: np.ndarray) -> Any:
        return self._model(y).smooth(params)

    def _forecast_one(self, result: Any, h: int) -> np.ndarray:
        n = result.nobs
        pred = result.get_prediction(start=n, end=n + h - 1)
        f80 = pred.summary_frame(alpha=0.2)
        f95 = pred.summary_frame(alpha=0.05)
        cols = [f80["mean"], f80["pi_lower"], f80["pi_upper"], f95["pi_lower"], f95["pi_upper"]]
        return np.column_stack([c.to_numpy(dtype=float) for c in cols])


class SARIMAX(_PerSeries):
    """Seasonal ARIMA with weekly seasonality and a public-holiday regressor for `country` (if given)."""

    def __init__(
        self,
        order: tuple[int, int, int] = (1, 1, 1),
        seasonal_order: tuple[int, int, int, int] = (1, 0, 1, 7),
        trend: str | None = "t",
        country: str | None = None,
        name: str = "sarimax",
    ) -> None:
        super().__init__()
        self.order = tuple(order)
        self.seasonal_order = tuple(seasonal_order)
        self.trend = trend
        self.country = country
        self.name = name

    def params(self) -> dict[str, Any]:
        return {
            "order": list(self.order),
            "seasonal_order": list(self.seasonal_order),
            "trend": self.trend,
            "country": self.country,
            "name": self.name,
        }

    def _exog(self, index: pd.DatetimeIndex) -> np.ndarray:
        return holiday_flags(index, self.country)[:, None]

    def _model(self, y: pd.Series, with_exog: bool) -> Any:
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _SM

        exog = self._exog(y.index) if with_exog else None
        return _SM(y, exog=exog, order=self.order, seasonal_order=self.seasonal_order, trend=self.trend)

    def _with_exog(self, y: pd.Series) -> bool:
        """Use the holiday regressor only when the training window contains a holiday (else unidentified)."""
        return self.country is not None and bool(self._exog(y.index).any())

    def _fit_one(self, y: pd.Series) -> Any:
        return self._model(y, self._with_exog(y)).fit(disp=False, maxiter=100)

    def _rebuild_one(self, y: pd.Series, params: np.ndarray) -> Any:
        return self._model(y, self._with_exog(y)).filter(params)

    def _forecast_one(self, result: Any, h: int) -> np.ndarray:
        last = result.model._index[-1]
        future = pd.date_range(last + pd.Timedelta(days=1), periods=h, freq="D")
        exog = self._exog(future) if result.model.k_exog else None
        fc = result.get_forecast(steps=h, exog=exog)
        ci80 = np.asarray(fc.conf_int(alpha=0.2))
        ci95 = np.asarray(fc.conf_int(alpha=0.05))
        mean = np.asarray(fc.predicted_mean, dtype=float)
        return np.column_stack([mean, ci80[:, 0], ci80[:, 1], ci95[:, 0], ci95[:, 1]])
