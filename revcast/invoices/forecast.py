"""Turn a champion's daily forecast into the API's answer: revenue of the 30 days starting at a date."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from revcast.forecasting import Forecaster, apply_calibration, load_forecaster
from revcast.invoices.models import window_total

WINDOW_DAYS = 30


@dataclass(frozen=True)
class WindowForecast:
    """Revenue of [start, start + days - 1] with 80/95% bounds."""

    unique_id: str
    start: date
    days: int
    revenue_30d: float
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float
    trained_through: date  # last day the model saw; start is at least one day later

    def as_dict(self) -> dict:
        out = asdict(self)
        out["start"], out["trained_through"] = self.start.isoformat(), self.trained_through.isoformat()
        return out


def window_forecast(
    model: Forecaster,
    unique_id: str,
    start: date,
    days: int = WINDOW_DAYS,
    factors: pd.DataFrame | None = None,
) -> WindowForecast:
    """Forecast from the end of the model's training window far enough to cover start..start+days-1, summed.

    Refit-free: the artifact is used as trained. Bounds of the sum come from the daily bounds as in the
    precomputed forecasts (`revcast.invoices.models.window_total`: independent daily errors), rescaled by the
    champion's interval `factors` (calibrated on 30-day sums starting the day after a fold's cutoff; applied
    as they are to a later start); floored at 0.
    """
    if model.windows_ is None:
        raise ValueError("model is not fitted")
    windows = model.windows_
    if unique_id not in windows.index:
        if len(windows) != 1:
            raise KeyError(f"model has no series {unique_id!r} (it has {', '.join(map(str, windows.index))})")
        unique_id_in_model = str(windows.index[0])
    else:
        unique_id_in_model = unique_id
    trained_through = pd.Timestamp(windows.loc[unique_id_in_model, "end"]).date()
    if start <= trained_through:
        raise ValueError(f"start {start} is not after the model's last training day {trained_through}")
    last = start + timedelta(days=days - 1)
    frame = model.predict((last - trained_through).days)
    frame = frame[frame["unique_id"] == unique_id_in_model]
    ds = pd.to_datetime(frame["ds"]).dt.date
    window = frame[(ds >= start) & (ds <= last)]
    if len(window) != days:
        raise ValueError(f"forecast covers {len(window)} of the {days} days from {start}")
    total = window_total(window, days).assign(horizon=days)
    if factors is not None and len(factors):
        total = apply_calibration(total, factors.assign(unique_id=total["unique_id"].iloc[0]))
    total = total.iloc[0]
    return WindowForecast(
        unique_id=unique_id,
        start=start,
        days=days,
        revenue_30d=max(float(total["yhat"]), 0.0),
        lo_80=max(float(total["lo_80"]), 0.0),
        hi_80=max(float(total["hi_80"]), 0.0),
        lo_95=max(float(total["lo_95"]), 0.0),
        hi_95=max(float(total["hi_95"]), 0.0),
        trained_through=trained_through,
    )


def resolve_artifact(artifact_path: str | Path, bases: tuple[Path, ...] = ()) -> Path:
    """The artifact folder; a relative path is tried against the working directory, then each base."""
    path = Path(artifact_path)
    candidates = [path] if path.is_absolute() else [path, *(b / path for b in bases)]
    for candidate in candidates:
        if (candidate / "model.json").exists():
            return candidate
    raise FileNotFoundError(f"model artifact {artifact_path} not found (no model.json)")


def load_champion(artifact_path: str | Path, bases: tuple[Path, ...] = ()) -> Forecaster:
    """Load a registered artifact (see resolve_artifact)."""
    return load_forecaster(resolve_artifact(artifact_path, bases))
