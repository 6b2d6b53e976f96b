"""Dagster-free forecasting core: one Forecaster interface, the many-series engine, and the models."""

from revcast.forecasting.aggregate import Combination, WindowTotal
from revcast.forecasting.auto import StatsForecastModel
from revcast.forecasting.base import FORECAST_COLUMNS, Forecaster, clip_at_zero, load_forecaster
from revcast.forecasting.baselines import Drift, SeasonalNaive
from revcast.forecasting.calendar import holiday_flags
from revcast.forecasting.calibration import (
    apply_calibration,
    factors_from_parameters,
    fit_calibration,
    held_out_coverage,
)
from revcast.forecasting.engine import ForecastEngine, InProcess, ProcessPool
from revcast.forecasting.lstm import LSTMForecaster

__all__ = [
    "FORECAST_COLUMNS",
    "Combination",
    "Drift",
    "ForecastEngine",
    "Forecaster",
    "InProcess",
    "LSTMForecaster",
    "ProcessPool",
    "SeasonalNaive",
    "StatsForecastModel",
    "WindowTotal",
    "apply_calibration",
    "clip_at_zero",
    "factors_from_parameters",
    "fit_calibration",
    "held_out_coverage",
    "holiday_flags",
    "load_forecaster",
]
