"""Dagster-free forecasting core: one Forecaster interface, baselines, statsmodels, LSTM, backtest, tournament."""

from revcast.forecasting.backtest import (
    TournamentResult,
    rolling_origin_backtest,
    run_tournament,
    score_backtest,
    score_by_horizon,
)
from revcast.forecasting.base import FORECAST_COLUMNS, Forecaster, clip_at_zero, load_forecaster
from revcast.forecasting.baselines import Drift, SeasonalNaive
from revcast.forecasting.calendar import holiday_flags
from revcast.forecasting.calibration import (
    apply_calibration,
    factors_from_parameters,
    fit_calibration,
    held_out_coverage,
)
from revcast.forecasting.lstm import LSTMForecaster
from revcast.forecasting.statistical import ETS, SARIMAX

__all__ = [
    "clip_at_zero",
    "ETS",
    "FORECAST_COLUMNS",
    "SARIMAX",
    "Drift",
    "Forecaster",
    "LSTMForecaster",
    "SeasonalNaive",
    "TournamentResult",
    "apply_calibration",
    "factors_from_parameters",
    "fit_calibration",
    "held_out_coverage",
    "holiday_flags",
    "load_forecaster",
    "rolling_origin_backtest",
    "run_tournament",
    "score_backtest",
    "score_by_horizon",
]
