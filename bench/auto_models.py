"""Per-series order selection: statsforecast's AutoETS/AutoARIMA against a statsmodels AICc search.

Both pick, per series, the model with the lowest AICc among their candidates and forecast 30 days at three
rolling origins; reported: wall time and mean MASE (seasonal-naive scaled) per library. The statsmodels
search covers ETS(A, {N, A, Ad}, {N, A7}) and ARIMA(p, 1, q)(1, 0, 0)7 for p, q in {0, 1, 2}.

    .venv/bin/python bench/auto_models.py [--series 6]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")
H, FOLDS = 30, 3


def panel(n_series: int, n: int = 730, seed: int = 0) -> list[np.ndarray]:
    """Daily series with trend, weekly and yearly seasonality, level shifts and spikes (as revenue has)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    out = []
    for i in range(n_series):
        base = 200 * (i + 1)
        y = base * (1 + 0.0004 * t * rng.uniform(-1, 2)) + 0.2 * base * np.sin(2 * np.pi * t / 7 + i)
        y += 0.3 * base * np.sin(2 * np.pi * t / 365) + rng.normal(0, 0.1 * base, n)
        y[rng.integers(n // 2, n) :] += 0.2 * base  # a level shift
        y[rng.random(n) < 0.02] *= 3  # spikes
        out.append(np.clip(y, 0, None))
    return out


def aicc(res: object, n: int) -> float:
    k = len(res.params)
    return res.aic + 2 * k * (k + 1) / max(n - k - 1, 1)


def statsmodels_ets(y: np.ndarray) -> np.ndarray:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    best = None
    for trend, damped in ((None, False), ("add", False), ("add", True)):
        for seasonal in (None, "add"):
            m = ETSModel(
                y, error="add", trend=trend, damped_trend=damped, seasonal=seasonal, seasonal_periods=7
            )
            r = m.fit(disp=False, maxiter=200)
            if best is None or aicc(r, len(y)) < best[0]:
                best = (aicc(r, len(y)), r)
    return np.asarray(best[1].forecast(H))


def statsmodels_arima(y: np.ndarray) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    best = None
    for p in range(3):
        for q in range(3):
            r = SARIMAX(y, order=(p, 1, q), seasonal_order=(1, 0, 0, 7)).fit(disp=False, maxiter=50)
            if best is None or aicc(r, len(y)) < best[0]:
                best = (aicc(r, len(y)), r)
    return np.asarray(best[1].forecast(H))


def statsforecast_model(kind: str):
    from revcast.forecasting.auto import _statsforecast_model

    def run(y: np.ndarray) -> np.ndarray:
        return np.asarray(_statsforecast_model(kind, 7, len(y)).fit(y).predict(H)["mean"])

    return run


def mase(y: np.ndarray, train: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean(np.abs(y - yhat)) / np.mean(np.abs(train[7:] - train[:-7])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=6)
    args = ap.parse_args()
    series = panel(args.series)
    runners = {
        "ETS: statsforecast AutoETS": statsforecast_model("auto_ets"),
        "ETS: statsmodels AICc search (6 models)": statsmodels_ets,
        "ARIMA: statsforecast AutoARIMA": statsforecast_model("auto_arima"),
        "ARIMA: statsmodels AICc search (9 models)": statsmodels_arima,
    }
    rows = []
    for name, run in runners.items():
        t0, scores = time.perf_counter(), []
        for y in series:
            for fold in range(FOLDS):
                end = len(y) - H * (FOLDS - fold)
                scores.append(mase(y[end : end + H], y[:end], run(y[:end])))
        rows.append({"selection": name, "seconds": time.perf_counter() - t0, "mean MASE": np.mean(scores)})
    out = pd.DataFrame(rows)
    print(f"{args.series} series x {FOLDS} origins x {H} days; {platform.processor() or platform.machine()}")
    print(out.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
