"""The metadata figures render real frames to PNGs of the expected size."""

import io

import numpy as np
import pandas as pd
from matplotlib.image import imread

from revcast.plots import forecast_png, interval_bars_png, tournament_png


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(io.BytesIO(png)).shape[:2]
    return width, height


def test_forecast_png_one_panel_per_series_up_to_the_limit():
    ds = pd.date_range("2023-01-01", periods=30)
    frames = []
    for i, metric in enumerate(["cpu", "memory", "storage"]):
        y = np.linspace(10, 20, 30) * (i + 1)
        frames.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "ds": ds,
                    "yhat": y,
                    "lo_80": y - 1,
                    "hi_80": y + 1,
                    "lo_95": y - 2,
                    "hi_95": y + 2,
                }
            )
        )
    forecast = pd.concat(frames)
    history = forecast.rename(columns={"yhat": "y"})[["metric", "ds", "y"]].assign(
        ds=ds.repeat(1).tolist() * 3
    )
    one = _size(forecast_png(forecast, series="metric", point="yhat", max_series=1))
    three = _size(forecast_png(forecast, series="metric", point="yhat", history=history, title="t"))
    assert three[1] > 2.5 * one[1] * 0.8  # three stacked panels
    assert abs(three[0] - one[0]) < 40


def test_tournament_and_interval_bars():
    scores = pd.DataFrame(
        {
            "unique_id": ["all"] * 3 + ["DE"] * 3,
            "model": ["seasonal_naive", "ets", "lstm"] * 2,
            "mase": [1.0, 0.8, np.nan, 1.1, 1.3, 0.9],
            "is_champion": [False, True, False, False, False, True],
        }
    )
    width, height = _size(tournament_png(scores))
    assert width > 300 and height > 150
    bars = pd.DataFrame(
        {"unique_id": ["all", "DE"], "revenue_30d": [100.0, 40.0], "lo_80": [90, 35], "hi_80": [110, 45]}
    )
    width, height = _size(interval_bars_png(bars, label="unique_id", point="revenue_30d", title="30 days"))
    assert width > 300 and height > 50
