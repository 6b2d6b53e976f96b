"""The reference LSTM, done honestly: scaler fitted inside fit, time-ordered validation, direct multi-step output.

Design: one network per series. Input = the previous `lags` values, standardised with the training
window's mean/std and (when `relative`, the default) shifted so the window's last value is 0, which lets
the net follow a trend beyond the training range; the targets get the same shift. Two LSTM layers with
Dropout; Dense(horizon) emits all `horizon` steps at once (direct strategy, no error feedback), so
predict(h) needs h <= horizon. Training windows are split in time order: the last `val_frac` of them form
the validation tail used for early stopping (restore best weights) and for the intervals, which are
empirical quantiles of the validation residuals per step (pooled over +-`pool` neighbouring steps).
TensorFlow is imported inside the methods; it uses a GPU whenever it sees one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revcast.forecasting.base import LEVELS, Forecaster, empirical_bounds, forecast_frame


def lag_windows(z: np.ndarray, lags: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (S, lags) and targets (S, horizon) of every full window in z, in time order."""
    win = np.lib.stride_tricks.sliding_window_view(z, lags + horizon)
    return win[:, :lags].copy(), win[:, lags:].copy()


def residual_quantiles(resid: np.ndarray, pool: int, levels=LEVELS) -> dict[str, np.ndarray]:
    """Per-step bounds (offsets) from residuals (S, H) at each level, each step pooled with its +-pool
    neighbours."""
    steps = resid.shape[1]
    per_step = [
        empirical_bounds(resid[:, max(0, j - pool) : j + pool + 1].ravel(), levels) for j in range(steps)
    ]
    return {k: np.array([b[k] for b in per_step], dtype=float) for k in per_step[0]}


class LSTMForecaster(Forecaster):
    """Two-layer LSTM on the last `lags` days emitting `horizon` days; see the module docstring."""

    def __init__(
        self,
        lags: int = 180,
        horizon: int = 28,
        units: Sequence[int] | Mapping[str, Sequence[int]] = (50, 50),
        dropout: float = 0.2,
        epochs: int = 70,
        patience: int = 8,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        val_frac: float = 0.2,
        min_val: int = 8,
        pool: int = 3,
        relative: bool = True,
        seed: int = 42,
        name: str = "lstm",
    ) -> None:
        super().__init__()
        self.lags = lags
        self.horizon = horizon
        self.units = units
        self.dropout = dropout
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.val_frac = val_frac
        self.min_val = min_val
        self.pool = pool
        self.relative = relative
        self.seed = seed
        self.name = name

    def params(self) -> dict[str, Any]:
        units: Any = (
            {str(k): [int(u) for u in v] for k, v in self.units.items()}
            if isinstance(self.units, Mapping)
            else [int(u) for u in self.units]
        )
        return {
            "lags": self.lags,
            "horizon": self.horizon,
            "units": units,
            "dropout": self.dropout,
            "epochs": self.epochs,
            "patience": self.patience,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "val_frac": self.val_frac,
            "min_val": self.min_val,
            "pool": self.pool,
            "relative": self.relative,
            "seed": self.seed,
            "name": self.name,
        }

    def units_for(self, uid: str) -> tuple[int, int]:
        """The (first, second) layer sizes for a series."""
        units = self.units[uid] if isinstance(self.units, Mapping) else self.units
        first, second = (int(u) for u in units)
        return first, second

    def _network(self, units: tuple[int, int]) -> Any:
        import tensorflow as tf

        net = tf.keras.Sequential(
            [
                tf.keras.Input((self.lags, 1)),
                tf.keras.layers.LSTM(units[0], return_sequences=True),
                tf.keras.layers.Dropout(self.dropout),
                tf.keras.layers.LSTM(units[1]),
                tf.keras.layers.Dropout(self.dropout),
                tf.keras.layers.Dense(self.horizon),
            ]
        )
        net.compile(optimizer=tf.keras.optimizers.Adam(self.learning_rate), loss="mse")
        return net

    def _fit(self, df: pd.DataFrame) -> None:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        self.nets_: dict[str, Any] = {}
        self.state_: dict[str, dict[str, Any]] = {}
        for uid, part in df.groupby("unique_id", sort=True):
            uid = str(uid)
            y = part["y"].to_numpy(dtype=float)
            if not np.isfinite(y).all():
                raise ValueError(f"series {uid!r} has non-finite values")
            n_windows = len(y) - self.lags - self.horizon + 1
            n_val = max(self.min_val, int(round(self.val_frac * n_windows)))
            if n_windows - n_val < self.min_val:
                need = self.lags + self.horizon + 2 * self.min_val - 1
                raise ValueError(f"series {uid!r} too short for the LSTM: {len(y)} days, need >= {need}")
            mean, std = float(y.mean()), float(y.std())
            std = std if std > 0 else 1.0
            x, t = lag_windows((y - mean) / std, self.lags, self.horizon)
            anchor = x[:, -1:] if self.relative else np.zeros((len(x), 1))
            x, t = x - anchor, t - anchor
            tf.keras.utils.set_random_seed(self.seed)  # per series: a net does not depend on its neighbours
            net = self._network(self.units_for(uid))
            stop = tf.keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            net.fit(
                x[:-n_val, :, None],
                t[:-n_val],
                validation_data=(x[-n_val:, :, None], t[-n_val:]),
                epochs=self.epochs,
                batch_size=self.batch_size,
                shuffle=True,
                callbacks=[stop],
                verbose=0,
            )
            resid = (t[-n_val:] - self._run(net, x[-n_val:])) * std
            self.nets_[uid] = net
            self.state_[uid] = {
                "mean": mean,
                "std": std,
                "window": y[-self.lags :].tolist(),
                "resid": resid.tolist(),  # validation residuals (S, horizon): intervals at any level
            }

    @staticmethod
    def _run(net: Any, x: np.ndarray) -> np.ndarray:
        """Deterministic inference (dropout off) on inputs (S, lags) -> (S, horizon)."""
        return np.asarray(net(x[:, :, None].astype("float32"), training=False), dtype=float)

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        if h > self.horizon:
            raise ValueError(f"{self.name} was fitted for horizon={self.horizon}; asked for h={h}")
        yhat, bounds = [], {}
        for uid in self.windows_.index:
            st = self.state_[str(uid)]
            z = (np.asarray(st["window"]) - st["mean"]) / st["std"]
            anchor = z[-1] if self.relative else 0.0
            point = (self._run(self.nets_[str(uid)], z[None, :] - anchor)[0, :h] + anchor) * st["std"] + st[
                "mean"
            ]
            yhat.append(point)
            for k, offset in residual_quantiles(np.asarray(st["resid"]), self.pool, levels).items():
                bounds.setdefault(k, []).append(point + offset[:h])
        return forecast_frame(future, np.concatenate(yhat), {k: np.concatenate(v) for k, v in bounds.items()})

    def _state(self, directory: Path) -> dict[str, Any]:
        files = {}
        single = len(self.nets_) == 1
        for i, (uid, net) in enumerate(self.nets_.items()):
            files[uid] = "model.keras" if single else f"model_{i}.keras"
            net.save(directory / files[uid])
        return {uid: {**st, "file": files[uid]} for uid, st in self.state_.items()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        import tensorflow as tf

        self.state_ = {uid: {k: v for k, v in st.items() if k != "file"} for uid, st in state.items()}
        self.nets_ = {
            uid: tf.keras.models.load_model(directory / st["file"], compile=False)
            for uid, st in state.items()
        }
