"""Revenue models behind the one Forecaster interface, and 30-day-sum scoring for the tournament.

Every model forecasts daily revenue; the target (revenue of the 30 days after the cutoff) is the sum of
the first 30 daily forecasts. Interval bounds of a sum come from the daily bounds assuming independent
daily errors: half-width = sqrt(sum of squared daily half-widths) (`window_total`). MASE of a 30-day sum
is scaled by the in-sample MAE of the previous-30-days baseline on 30-day sums over the fold's own
training window (`thirty_day_scale`), so MASE < 1 means better than that baseline has been in-sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from revcast.forecasting.base import Forecaster, empirical_bounds, forecast_frame, normal_intervals
from revcast.forecasting.metrics import score_frame
from revcast.invoices.series import ALL, FEATURE_COLUMNS, revenue_features_sql

WINDOW = 30
BOUNDS = ("lo_80", "hi_80", "lo_95", "hi_95")
# invoice country names -> `holidays` codes; 'all' follows the dominant market (United Kingdom)
COUNTRY_CODES: dict[str, str] = {
    ALL: "GB", "United Kingdom": "GB", "Germany": "DE", "France": "FR", "EIRE": "IE", "Netherlands": "NL",
    "Spain": "ES", "Belgium": "BE", "Switzerland": "CH", "Portugal": "PT", "Australia": "AU", "Norway": "NO",
    "Channel Islands": "GB", "Italy": "IT", "Finland": "FI", "Cyprus": "CY", "Sweden": "SE", "Denmark": "DK",
    "Austria": "AT", "Japan": "JP", "Poland": "PL", "Greece": "GR", "USA": "US", "Israel": "IL",
    "Singapore": "SG", "Iceland": "IS", "Canada": "CA", "Lithuania": "LT", "Malta": "MT",
    "United Arab Emirates": "AE", "Bahrain": "BH", "Hong Kong": "HK", "RSA": "ZA", "Saudi Arabia": "SA",
    "Brazil": "BR", "Czech Republic": "CZ", "Korea": "KR", "Thailand": "TH", "Nigeria": "NG", "Bermuda": "BM",
}  # fmt: skip


def sparse_series(df: pd.DataFrame, limit: float, name: str) -> dict[str, str]:
    """Series with more than `limit` zero-revenue days -> reason (the pooled net learns nothing from them)."""
    share = (df["y"] == 0).groupby(df["unique_id"].astype(str)).mean()
    return {
        uid: f"{name}: series {uid!r} too sparse: {v:.0%} zero days (limit {limit:.0%})"
        for uid, v in share[share > limit].items()
    }


class PreviousDays(Forecaster):
    """Baseline: every future day = the mean of the last `window` days (30-day sum = previous 30)."""

    def __init__(self, window: int = WINDOW, name: str = "previous_30_days") -> None:
        super().__init__()
        self.window = window
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "name": self.name}

    def _fit(self, df: pd.DataFrame) -> None:
        if (self.windows_["n"] < 2 * self.window).any():
            raise ValueError(f"{self.name}: a series has fewer than {2 * self.window} days")
        g = df.groupby("unique_id", sort=True)["y"]
        self.level_ = g.apply(lambda y: y.tail(self.window).mean())
        # sd of the daily error of this forecast, from the previous windows' in-sample errors
        roll = g.transform(lambda y: y.shift(1).rolling(self.window).mean())
        self.sigma_ = ((df["y"] - roll) ** 2).groupby(df["unique_id"], sort=True).mean() ** 0.5

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        yhat = np.repeat(self.level_.to_numpy(), h)
        sd = np.repeat(self.sigma_.fillna(0).to_numpy(), h)
        return forecast_frame(future, yhat, normal_intervals(yhat, sd, levels))

    def _state(self, directory: Path) -> dict[str, Any]:
        return {"level": self.level_.tolist(), "sigma": self.sigma_.fillna(0).tolist()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.level_ = pd.Series(state["level"], index=self.windows_.index, dtype=float)
        self.sigma_ = pd.Series(state["sigma"], index=self.windows_.index, dtype=float)


class SameDaysLastYear(Forecaster):
    """Baseline: day T+k = day T+k-365 (30-day sum = the same 30 days a year earlier)."""

    def __init__(self, lag: int = 365, name: str = "same_30_days_last_year") -> None:
        super().__init__()
        self.lag = lag
        self.name = name

    def params(self) -> dict[str, Any]:
        return {"lag": self.lag, "name": self.name}

    def _fit(self, df: pd.DataFrame) -> None:
        if (self.windows_["n"] < self.lag + WINDOW).any():
            raise ValueError(f"{self.name}: a series has fewer than {self.lag + WINDOW} days (needs a year)")
        g = df.groupby("unique_id", sort=True)["y"]
        self.last_year_ = np.vstack([y.to_numpy()[-self.lag :] for _, y in g])
        resid = df["y"] - g.shift(self.lag)
        self.sigma_ = ((resid**2).groupby(df["unique_id"], sort=True).mean() ** 0.5).fillna(0)

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        idx = np.arange(h) % self.lag
        yhat = self.last_year_[:, idx].ravel()
        sd = np.repeat(self.sigma_.to_numpy(), h)
        return forecast_frame(future, yhat, normal_intervals(yhat, sd, levels))

    def _state(self, directory: Path) -> dict[str, Any]:
        return {"last_year": self.last_year_.tolist(), "sigma": self.sigma_.tolist()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.last_year_ = np.asarray(state["last_year"], dtype=float)
        self.sigma_ = pd.Series(state["sigma"], index=self.windows_.index, dtype=float)


class ScaledLastYear(Forecaster):
    """A reference series' same days a year earlier, scaled to this series' recent level: day T+k =
    (y over the last `window` days / reference over the same days a year earlier) x reference(T+k-lag).

    With the total as the reference, a small intermittent country borrows the total's yearly shape (a ramp,
    a closure) while its level comes from a long window of its own; the total itself gets last year's shape at
    this year's level. Only reference days up to each series' own last day are read. Without a reference,
    each series is its own.
    """

    def __init__(
        self,
        reference: pd.DataFrame | None = None,
        window: int = 91,
        lag: int = 364,
        name: str = "scaled_last_year",
    ) -> None:
        super().__init__()
        self.window, self.lag, self.name = window, lag, name
        self.reference = None if reference is None else _daily_values(reference)

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "lag": self.lag, "name": self.name}

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        data = df.assign(ds=pd.to_datetime(df["ds"]), unique_id=df["unique_id"].astype(str))
        ends = data.groupby("unique_id")["ds"].agg(["min", "max", "size"])
        need = self.lag + self.window
        if self.reference is None:
            short = ends["size"] < need
        else:
            first = self.reference.index.min() if len(self.reference) else pd.Timestamp.max
            short = (ends["size"] < self.window) | (ends["max"] - pd.Timedelta(days=need - 1) < first)
        return {
            uid: f"{self.name}: needs {need} days of {'reference' if self.reference is not None else 'history'}"
            for uid in ends.index[short]
        }

    def _fit(self, df: pd.DataFrame) -> None:
        ratios, shapes, sigmas = [], [], []
        for uid, part in df.groupby("unique_id", sort=True):
            y = part.set_index("ds")["y"]
            ref = self.reference if self.reference is not None else y
            end = y.index[-1]
            days = pd.date_range(end - pd.Timedelta(days=self.lag + self.window - 1), end, freq="D")
            r = ref.reindex(days).to_numpy(float)
            if np.isnan(r).any():
                raise ValueError(
                    f"{self.name}: reference lacks days of {days[0].date()}..{end.date()} for {uid!r}"
                )
            then, shape = r[: self.window], r[-self.lag :]
            if then.sum() <= 0:
                raise ValueError(
                    f"{self.name}: reference has no revenue in the {self.window} days a year before"
                )
            recent = y.to_numpy(float)[-self.window :]
            ratio = recent.sum() / then.sum()
            ratios.append(ratio)
            shapes.append(shape)
            sigmas.append(float(np.sqrt(np.mean((recent - ratio * then) ** 2))))
        self.ratio_, self.shape_, self.sigma_ = np.array(ratios), np.vstack(shapes), np.array(sigmas)

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        yhat = (self.ratio_[:, None] * self.shape_[:, np.arange(h) % self.lag]).ravel()
        sd = np.repeat(self.sigma_, h)
        return forecast_frame(future, yhat, normal_intervals(yhat, sd, levels))

    def _state(self, directory: Path) -> dict[str, Any]:
        return {"ratio": self.ratio_.tolist(), "shape": self.shape_.tolist(), "sigma": self.sigma_.tolist()}

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        self.ratio_ = np.asarray(state["ratio"], dtype=float)
        self.shape_ = np.asarray(state["shape"], dtype=float)
        self.sigma_ = np.asarray(state["sigma"], dtype=float)


def _daily_values(series: pd.DataFrame) -> pd.Series:
    """One daily series (ds, y) as values indexed by day."""
    return pd.Series(
        series["y"].astype(float).to_numpy(), index=pd.to_datetime(series["ds"]).astype("datetime64[ns]")
    )


def features_for(daily: pd.DataFrame, ends: pd.Series) -> pd.DataFrame:
    """The 30-day revenue features (revenue_features_sql) of every day of `daily` plus the day after each series' end.

    `daily` has unique_id, ds, revenue, unique_invoices, views; the appended day's own values are never
    read by a feature (every feature window ends the day before).
    """
    extra = pd.DataFrame({"unique_id": ends.index.astype(str), "ds": ends.to_numpy() + pd.Timedelta(days=1)})
    extra[["revenue", "unique_invoices", "views"]] = 0.0
    frame = pd.concat([daily[extra.columns], extra], ignore_index=True)
    con = duckdb.connect()
    try:
        con.register("daily_frame", frame)
        return con.execute(revenue_features_sql("daily_frame"), {"start": None, "end": None}).df()
    finally:
        con.close()


class RevenueFeatureNet(Forecaster):
    """A small TensorFlow MLP on the 30-day revenue features predicting the next 30 days' revenue, pooled over series.

    Revenue features and target are divided by the series' mean 30-day revenue in the training window (the
    counts by their own means), so one network serves large and small countries. Daily output spreads the
    predicted 30-day sum by the training window's weekday profile; intervals are residual quantiles of the
    time-ordered validation tail, spread over the days so that `window_total` gives them back.
    Needs the daily invoices and views: pass the daily frame with `with_exog` (only days <= each series'
    training end are used).
    """

    def __init__(
        self,
        units: tuple[int, int] = (32, 16),
        epochs: int = 60,
        patience: int = 8,
        learning_rate: float = 3e-3,
        val_frac: float = 0.2,
        max_zero_share: float = 0.5,
        seed: int = 42,
        name: str = "revenue_net",
    ) -> None:
        super().__init__()
        self.units = tuple(units)
        self.epochs, self.patience, self.learning_rate = epochs, patience, learning_rate
        self.val_frac, self.max_zero_share, self.seed, self.name = val_frac, max_zero_share, seed, name
        self.exog: pd.DataFrame | None = None

    def screen(self, df: pd.DataFrame) -> dict[str, str]:
        return sparse_series(df, self.max_zero_share, self.name)

    def with_exog(self, daily: pd.DataFrame) -> RevenueFeatureNet:
        """Attach the daily unique_invoices/views (unique_id, ds, unique_invoices, views)."""
        self.exog = daily[["unique_id", "ds", "unique_invoices", "views"]].assign(
            ds=lambda d: pd.to_datetime(d["ds"]).astype("datetime64[ns]"),
            unique_id=lambda d: d["unique_id"].astype(str),
        )
        return self

    def params(self) -> dict[str, Any]:
        return {
            "units": list(self.units),
            "epochs": self.epochs,
            "patience": self.patience,
            "learning_rate": self.learning_rate,
            "val_frac": self.val_frac,
            "max_zero_share": self.max_zero_share,
            "seed": self.seed,
            "name": self.name,
        }

    def _fit(self, df: pd.DataFrame) -> None:
        import tensorflow as tf

        if self.exog is None:
            raise ValueError(f"{self.name}: call with_exog(daily) before fit")
        bad = sparse_series(df, self.max_zero_share, self.name)
        if bad:
            raise ValueError(next(iter(bad.values())))
        daily = df.rename(columns={"y": "revenue"}).merge(self.exog, on=["unique_id", "ds"], how="left")
        daily[["unique_invoices", "views"]] = daily[["unique_invoices", "views"]].fillna(0.0)
        feats = features_for(daily, self.windows_["end"])
        g = daily.groupby("unique_id", sort=True)
        scale = pd.DataFrame(
            {
                "rev": (g["revenue"].mean() * WINDOW).clip(lower=1e-9),
                "inv": g["unique_invoices"].mean().clip(lower=1e-9),
                "views": g["views"].mean().clip(lower=1e-9),
            }
        )
        x, y = self._design(feats, scale)
        ends = feats["unique_id"].map(self.windows_["end"])
        train = (
            (feats["ds"] <= ends - pd.Timedelta(days=WINDOW - 1))
            & np.isfinite(x).all(axis=1)
            & np.isfinite(y)
        )
        xs, ys, ds = x[train.to_numpy()], y[train.to_numpy()], feats.loc[train, "ds"].to_numpy()
        if len(xs) < 20:
            raise ValueError(f"{self.name}: only {len(xs)} complete feature rows (needs a year of history)")
        order = np.argsort(ds, kind="stable")  # time-ordered validation tail across series
        xs, ys = xs[order], ys[order]
        n_val = max(5, int(round(self.val_frac * len(xs))))
        self.mu_, self.sd_ = xs[:-n_val].mean(axis=0), xs[:-n_val].std(axis=0) + 1e-9
        tf.keras.utils.set_random_seed(self.seed)
        tf.config.experimental.enable_op_determinism()
        net = tf.keras.Sequential(
            [
                tf.keras.Input((xs.shape[1],)),
                tf.keras.layers.Dense(self.units[0], activation="relu"),
                tf.keras.layers.Dense(self.units[1], activation="relu"),
                tf.keras.layers.Dense(1),
            ]
        )
        net.compile(optimizer=tf.keras.optimizers.Adam(self.learning_rate), loss="mse")
        stop = tf.keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=self.patience, restore_best_weights=True
        )
        z = (xs - self.mu_) / self.sd_
        net.fit(
            z[:-n_val], ys[:-n_val], validation_data=(z[-n_val:], ys[-n_val:]),
            epochs=self.epochs, batch_size=256, shuffle=True, callbacks=[stop], verbose=0,
        )  # fmt: skip
        self.net_ = net
        resid = ys[-n_val:] - self._run(xs[-n_val:])
        self.resid_ = resid.astype(float)  # validation residuals of the scaled 30-day sum: any interval level
        nxt = feats[feats["ds"] == feats["unique_id"].map(self.windows_["end"]) + pd.Timedelta(days=1)]
        nx, _ = self._design(nxt, scale)
        if not np.isfinite(nx).all():
            raise ValueError(
                f"{self.name}: features of the forecast day are incomplete (needs a year of history)"
            )
        self.next_ = pd.Series(self._run(nx), index=nxt["unique_id"].to_numpy()).sort_index()
        self.scale_ = scale["rev"].sort_index()
        wd = (
            daily.assign(wd=daily["ds"].dt.dayofweek).groupby(["unique_id", "wd"])["revenue"].mean().unstack()
        )
        self.weekday_ = (
            (wd.div(wd.sum(axis=1).where(lambda s: s > 0, 1.0), axis=0) * 7).fillna(1.0).sort_index()
        )
        self.weekday_[wd.sum(axis=1) <= 0] = 1.0

    @staticmethod
    def _design(feats: pd.DataFrame, scale: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        s = scale.reindex(feats["unique_id"].to_numpy())
        x = feats[FEATURE_COLUMNS].to_numpy(float).copy()
        for i, c in enumerate(FEATURE_COLUMNS):
            x[:, i] /= s[
                "inv" if c.startswith("invoices") else "views" if c.startswith("views") else "rev"
            ].to_numpy()
        return x, feats["target_revenue_next_30d"].to_numpy(float) / s["rev"].to_numpy()

    def _run(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mu_) / self.sd_).astype("float32")
        return np.asarray(self.net_(z, training=False), dtype=float)[:, 0]

    def _predict(self, future: pd.DataFrame, h: int, levels: tuple[float, ...]) -> pd.DataFrame:
        uids = self.windows_.index.astype(str)
        total = (self.next_.reindex(uids).clip(lower=0) * self.scale_.reindex(uids)).to_numpy()
        wd = future["ds"].dt.dayofweek.to_numpy().reshape(len(uids), h)
        prof = np.take_along_axis(self.weekday_.reindex(uids).to_numpy(float), wd, axis=1)
        first = prof[:, : min(h, WINDOW)].sum(axis=1, keepdims=True)
        share = prof / np.where(first > 0, first, 1.0)  # the first 30 days' shares sum to 1
        yhat = (share * total[:, None]).ravel()
        norm = np.sqrt((share[:, : min(h, WINDOW)] ** 2).sum(axis=1, keepdims=True))
        bounds = {}
        for k, q in empirical_bounds(self.resid_, levels).items():  # per-day offsets: root sum of squares = q
            bounds[k] = yhat + (share / norm * q * self.scale_.reindex(uids).to_numpy()[:, None]).ravel()
        return forecast_frame(future, yhat, bounds)

    def _state(self, directory: Path) -> dict[str, Any]:
        self.net_.save(directory / "revenue_net.keras")
        return {
            "file": "revenue_net.keras",
            "mu": self.mu_.tolist(),
            "sd": self.sd_.tolist(),
            "resid": self.resid_.tolist(),
            "next": self.next_.to_dict(),
            "scale": self.scale_.to_dict(),
            "weekday": {u: row.tolist() for u, row in self.weekday_.iterrows()},
        }

    def _restore(self, state: dict[str, Any], directory: Path) -> None:
        import tensorflow as tf

        self.net_ = tf.keras.models.load_model(directory / state["file"], compile=False)
        self.mu_, self.sd_ = np.asarray(state["mu"]), np.asarray(state["sd"])
        self.resid_ = np.asarray(state["resid"], dtype=float)
        self.next_ = pd.Series(state["next"], dtype=float).sort_index()
        self.scale_ = pd.Series(state["scale"], dtype=float).sort_index()
        self.weekday_ = pd.DataFrame.from_dict(state["weekday"], orient="index").sort_index()
        self.weekday_.columns = range(7)


def revenue_net(daily: pd.DataFrame, **params: Any) -> RevenueFeatureNet:
    """A RevenueFeatureNet with the daily invoices and views attached (a picklable factory)."""
    return RevenueFeatureNet(**params).with_exog(daily)


def window_total(fc: pd.DataFrame, days: int = WINDOW) -> pd.DataFrame:
    """Per unique_id: the sum of the first `days` daily forecasts with bounds from root-sum-of-squares widths."""
    first = fc.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=True).head(days)
    g = first.assign(
        **{f"_w_{k}": (first[k] - first["yhat"]) ** 2 for k in BOUNDS},
    ).groupby("unique_id", sort=True)
    out = g["yhat"].sum().to_frame("yhat")
    for k in BOUNDS:
        sign = -1.0 if k.startswith("lo") else 1.0
        out[k] = out["yhat"] + sign * np.sqrt(g[f"_w_{k}"].sum())
    out["days"] = g.size()
    return out.reset_index()


def thirty_day_scale(series: pd.DataFrame, cutoffs: pd.DataFrame) -> pd.DataFrame:
    """Per (unique_id, cutoff): mean |S_t - S_{t-30}| of 30-day sums S over the window through the cutoff."""
    rows = []
    for uid, part in series.groupby("unique_id", sort=True):
        y = part["y"].to_numpy(float)
        ds = part["ds"].to_numpy()
        cum = np.concatenate([[0.0], np.cumsum(y)])
        s = cum[WINDOW:] - cum[:-WINDOW]  # s[i] = sum of y[i .. i+29], ending at day i+29
        err = np.abs(s[WINDOW:] - s[:-WINDOW])  # err[j] ends at day j+59
        cerr = np.concatenate([[0.0], np.cumsum(err)])
        for cut in cutoffs.loc[cutoffs["unique_id"] == uid, "cutoff"].unique():
            n = int(np.searchsorted(ds, np.datetime64(cut), side="right")) - 2 * WINDOW + 1
            scale = cerr[n] / n if n > 0 else np.nan
            rows.append({"unique_id": uid, "cutoff": cut, "scale": scale})
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale"])


def thirty_day_sums(backtests: pd.DataFrame) -> pd.DataFrame:
    """Per (unique_id, model, fold): the 30-day sum forecast (window_total bounds) and actual, horizon = 30.

    The rows the invoice tournament scores and calibrates its intervals on (folds with all 30 days only).
    """
    keys = ["unique_id", "model", "fold", "cutoff"]
    bt = backtests[backtests["horizon"] <= WINDOW]
    full = bt.groupby(keys)["horizon"].transform("size") == WINDOW
    bt = bt[full]
    parts = []
    for key, g in bt.groupby(keys, sort=True):
        tot = window_total(g.assign(unique_id=key[0]))
        tot["y"] = g["y"].sum()
        parts.append(tot.assign(model=key[1], fold=key[2], cutoff=key[3]))
    if not parts:
        return pd.DataFrame(columns=["unique_id", "model", "fold", "cutoff", "horizon", "y", *BOUNDS, "yhat"])
    return pd.concat(parts, ignore_index=True).assign(horizon=WINDOW)


def thirty_day_scores(backtests: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Tournament scorer: MAE, MASE (see module docstring), sMAPE, MAPE and coverage of 30-day sums per fold."""
    if backtests.empty:
        return pd.DataFrame()
    sums = thirty_day_sums(backtests)
    if sums.empty:
        return pd.DataFrame()
    sums = sums.merge(thirty_day_scale(series, sums[["unique_id", "cutoff"]]), on=["unique_id", "cutoff"])
    return score_frame(sums, by=("unique_id", "model"))
