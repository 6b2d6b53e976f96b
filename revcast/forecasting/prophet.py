"""Prophet behind the Forecaster interface: weekly and yearly seasonality plus public holidays of a few countries.

One Prophet model per series. Fits are quiet (cmdstanpy and prophet loggers at ERROR while fitting) and deterministic:
the Stan optimiser gets a fixed seed and the uncertainty simulation runs on a seeded NumPy state that is
restored afterwards. Prophet gives one interval width per model; it simulates the 80 % interval and the
95 % bounds follow from its spread under normality, (hi_80 - lo_80) / (2 z_80) as the standard deviation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import holidays
import numpy as np
import pandas as pd

from revcast.forecasting.base import Z_80, Forecaster, bound_columns, forecast_frame, normal_intervals

MODELS_FILE = "prophet_models.json"
DEFAULT_COUNTRIES = ("US", "GB")
_YEARS_AHEAD = 3  # holidays are listed this many years past the training data (covers any horizon we serve)


def holiday_frame(countries: Sequence[str], years: range) -> pd.DataFrame:
    """Prophet's holidays frame (holiday, ds): the public holidays of every country, one row per (name, day).

    A holiday two countries share by name and day (Christmas Day) is one effect, as in the source analysis.
    """
    rows = [
        (name, pd.Timestamp(day))
        for country in countries
        for day, name in holidays.country_holidays(country, years=years).items()
    ]
    frame = pd.DataFrame(rows, columns=["holiday", "ds"]).drop_duplicates()
    return frame.sort_values(["ds", "holiday"]).reset_index(drop=True)


def _prophet_class():
    """Prophet, imported lazily with its optional-plotly notice muted (plots here use matplotlib)."""
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    from prophet import Prophet

    return Prophet


@contextmanager
def _quiet_seeded(seed: int):
    """Silence cmdstanpy/prophet and run with a seeded global NumPy state, restored afterwards."""
    _prophet_class()
    from cmdstanpy.utils import get_logger

    loggers = [get_logger(), logging.getLogger("prophet")]  # cmdstanpy sets its own level on first use
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class ProphetForecaster(Forecaster):
    """Prophet per series: linear trend, weekly and yearly seasonality, holidays of `countries`.

    `uncertainty_samples` draws simulate the trend and noise for the 80 % interval (fewer is faster; the
    tournament's backtests calibrate intervals afterwards anyway).
    """

    def __init__(
        self,
        countries: Sequence[str] | None = DEFAULT_COUNTRIES,
        weekly: bool = True,
        yearly: bool = True,
        uncertainty_samples: int = 300,
        seed: int = 42,
        name: str = "prophet",
    ) -> None:
        super().__init__()
        self.countries = list(countries or [])
        self.weekly, self.yearly = weekly, yearly
        self.uncertainty_samples, self.seed = uncertainty_samples, seed
        self.name = name

    def params(self) -> dict[str, Any]:
        return {
            "countries": self.countries,
            "weekly": self.weekly,
            "yearly": self.yearly,
            "uncertainty_samples": self.uncertainty_samples,
            "seed": self.seed,
            "name": self.name,
        }

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        n = df.groupby("unique_id")["ds"].size()
        short = n[n < 14]
        return {str(u): f"{self.name}: {k} days, needs two weeks" for u, k in short.items()}

    def _model(self, start: pd.Timestamp, end: pd.Timestamp):
        prophet = _prophet_class()
        years = range(start.year, end.year + _YEARS_AHEAD + 1)
        return prophet(
            holidays=holiday_frame(self.countries, years) if self.countries else None,
            daily_seasonality=False,
            weekly_seasonality=self.weekly,
            yearly_seasonality=self.yearly,
            interval_width=0.80,
            uncertainty_samples=self.uncertainty_samples,
        )

    def _fit(self, df: pd.DataFrame) -> None:
        self.models_: dict[str, Any] = {}
        for uid, part in df.groupby("unique_id", sort=True):
            y = part["y"].to_numpy(float)
            if not np.isfinite(y).all():
                raise ValueError(f"{self.name}: series {uid!r} has non-finite values")
            model = self._model(part["ds"].min(), part["ds"].max())
            with _quiet_seeded(self.seed):
                model.fit(part[["ds", "y"]].reset_index(drop=True), seed=self.seed)
            self.models_[str(uid)] = model

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        yhat, bounds = [], {k: [] for k in bound_columns(levels)}
        for uid, days in future.groupby("unique_id", sort=True):
            with _quiet_seeded(self.seed):
                out = self.models_[str(uid)].predict(days[["ds"]].reset_index(drop=True))
            mean = out["yhat"].to_numpy(float)
            if self.uncertainty_samples:
                lo, hi = out["yhat_lower"].to_numpy(float), out["yhat_upper"].to_numpy(float)
                sd = np.maximum(hi - lo, 0.0) / (2 * Z_80)
            else:
                lo = hi = mean
                sd = np.zeros_like(mean)
            b = normal_intervals(mean, sd, levels)
            if 80 in levels:  # the simulated interval itself
                b |= {"lo_80": lo, "hi_80": hi}
            yhat.append(mean)
            for k in bounds:
                bounds[k].append(b[k])
        return forecast_frame(future, np.concatenate(yhat), {k: np.concatenate(v) for k, v in bounds.items()})

    def _state(self, directory: Path) -> dict[str, Any]:
        from prophet.serialize import model_to_json

        models = {uid: model_to_json(model) for uid, model in self.models_.items()}
        (directory / MODELS_FILE).write_text(json.dumps(models))
        return {"file": MODELS_FILE}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        _prophet_class()
        from prophet.serialize import model_from_json

        models = json.loads((directory / state["file"]).read_text())
        self.models_ = {uid: model_from_json(text) for uid, text in models.items()}
