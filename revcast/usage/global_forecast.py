"""Global usage forecasts per metric, three ways, and their comparison on a held-out window.

- `account_sum`: the sum of the per-account forecasts (`revcast.usage.accounts`).
- `model_global`: all accounts aggregated per metric and forecast as one series (the "model based
  global forecast").
- `pattern_global`: the GlobalForecast command. Per metric: forecast the number of active accounts (usage > 0)
  per day; cluster the accounts' normalised usage profiles (weekday shape over the last `profile_days`, log
  level, share of active days) into k patterns (k-means); forecast each pattern's usage per active member;
  assign the expected active accounts to patterns in proportion to their share of active account-days over
  the last `profile_days`, and sum expected usage. With every account its own pattern and every account active
  every day this is exactly the sum of the per-account forecasts (tested).
All forecasts use `BatchETS` with the seasonal-naive fallback, and share the forecast schema
(unique_id = metric, ds, yhat, lo_80, hi_80, lo_95, hi_95). Pattern intervals add the patterns' bounds
(comonotone: conservative).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from revcast.forecasting.base import FORECAST_COLUMNS, validate_series
from revcast.forecasting.baselines import SeasonalNaive
from revcast.forecasting.batch_ets import BatchETS
from revcast.forecasting.engine import Executor
from revcast.forecasting.metrics import coverage
from revcast.usage.accounts import MIN_DAYS, pad_short, run_account_forecasts, split_ids
from revcast.warehouse import replace_where, transaction

METHODS = ("account_sum", "model_global", "pattern_global")
BOUNDS = FORECAST_COLUMNS[3:]


def batch_forecast(df: pd.DataFrame, h: int) -> pd.DataFrame:
    """BatchETS on the series it accepts, seasonal naive on the rest: the standard forecast frame."""
    data = pad_short(validate_series(df), MIN_DAYS)
    refused = BatchETS().screen(data)
    frames = []
    ok = data[~data["unique_id"].isin(refused)]
    if len(ok):
        frames.append(BatchETS().fit(ok).predict(h))
    rest = data[data["unique_id"].isin(refused)]
    if len(rest):
        frames.append(SeasonalNaive(7).fit(rest).predict(h))
    return pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)


def totals(series: pd.DataFrame) -> pd.DataFrame:
    """Daily totals per metric of account series (unique_id = account:metric)."""
    ids = split_ids(series["unique_id"])
    out = series.assign(metric=ids["metric"]).groupby(["metric", "ds"], as_index=False)["y"].sum()
    return out.rename(columns={"metric": "unique_id"})


def model_global(series: pd.DataFrame, h: int) -> pd.DataFrame:
    """All accounts aggregated per metric, forecast as one series each."""
    return batch_forecast(totals(series), h)


def account_sum(account_fc: pd.DataFrame) -> pd.DataFrame:
    """Per-account forecasts (account_id, metric, ds, yhat, bounds) summed per metric and day (bounds added)."""
    out = account_fc.groupby(["metric", "ds"], as_index=False)[["yhat", *BOUNDS]].sum()
    return out.rename(columns={"metric": "unique_id"})[FORECAST_COLUMNS]


@dataclass(frozen=True)
class Patterns:
    """Account -> pattern per metric, and each pattern's share of active account-days."""

    members: pd.DataFrame  # metric, account_id, pattern
    shares: pd.DataFrame  # metric, pattern, share


def usage_profiles(series: pd.DataFrame, profile_days: int = 56) -> pd.DataFrame:
    """Per account and metric over the last profile_days: the weekday shape (mean by weekday over the mean),
    log1p of the mean level and the share of active days. Index (metric, account_id)."""
    ids = split_ids(series["unique_id"])
    df = series.assign(account_id=ids["account_id"], metric=ids["metric"])
    end = df.groupby("metric")["ds"].transform("max")
    recent = df[df["ds"] > end - pd.Timedelta(days=profile_days)]
    recent = recent.assign(weekday=recent["ds"].dt.weekday, active=(recent["y"] > 0).astype(float))
    keys = ["metric", "account_id"]
    mean = recent.groupby(keys)["y"].mean()
    by_day = recent.pivot_table(index=keys, columns="weekday", values="y", aggfunc="mean").reindex(
        columns=range(7)
    )
    shape = by_day.div(mean.where(mean > 0), axis=0).fillna(0.0)
    shape.columns = [f"weekday_{d}" for d in range(7)]
    shape["level"] = np.log1p(mean.clip(lower=0))
    shape["active_share"] = recent.groupby(keys)["active"].mean()
    return shape


def cluster_patterns(series: pd.DataFrame, k: int, profile_days: int = 56, seed: int = 0) -> Patterns:
    """k-means on the standardised profiles per metric (each account its own pattern when k >= accounts)."""
    profiles = usage_profiles(series, profile_days)
    ids = split_ids(series["unique_id"])
    df = series.assign(account_id=ids["account_id"], metric=ids["metric"])
    end = df.groupby("metric")["ds"].transform("max")
    recent = df[df["ds"] > end - pd.Timedelta(days=profile_days)]
    members, shares = [], []
    for metric, prof in profiles.groupby(level="metric", sort=True):
        accounts = prof.index.get_level_values("account_id").to_numpy()
        if k >= len(accounts):
            labels = np.arange(len(accounts))
        else:
            x = prof.to_numpy(float)
            x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
            _, labels = kmeans2(x, k, minit="++", seed=np.random.default_rng(seed), missing="warn")
        m = pd.DataFrame({"metric": metric, "account_id": accounts, "pattern": labels.astype(int)})
        members.append(m)
        r = recent[recent["metric"] == metric].merge(m, on=["metric", "account_id"])
        active = (r["y"] > 0).groupby(r["pattern"]).sum()
        share = active / active.sum() if active.sum() > 0 else active * 0 + 1 / max(len(active), 1)
        shares.append(
            pd.DataFrame({"metric": metric, "pattern": share.index.astype(int), "share": share.to_numpy()})
        )
    return Patterns(pd.concat(members, ignore_index=True), pd.concat(shares, ignore_index=True))


def pattern_global(
    series: pd.DataFrame, h: int, k: int = 8, profile_days: int = 56, seed: int = 0
) -> pd.DataFrame:
    """The pattern-based global forecast per metric (see the module doc)."""
    data = validate_series(series)
    patterns = cluster_patterns(data, k, profile_days, seed)
    ids = split_ids(data["unique_id"])
    df = data.assign(account_id=ids["account_id"], metric=ids["metric"], active=(data["y"] > 0).astype(float))
    df = df.merge(patterns.members, on=["metric", "account_id"])
    # active accounts per metric and day
    active = (
        df.groupby(["metric", "ds"], as_index=False)["active"]
        .sum()
        .rename(columns={"metric": "unique_id", "active": "y"})
    )
    active_fc = batch_forecast(active, h).rename(columns={"unique_id": "metric"})
    # usage per active member of each pattern, per day (0 on a day without active members)
    g = df.groupby(["metric", "pattern", "ds"], as_index=False).agg(y=("y", "sum"), n=("active", "sum"))
    g["y"] = np.where(g["n"] > 0, g["y"] / g["n"].where(g["n"] > 0, 1), 0.0)
    g["unique_id"] = g["metric"] + "|" + g["pattern"].astype(str)
    per_member = batch_forecast(g[["unique_id", "ds", "y"]], h)
    key = per_member["unique_id"].str.rsplit("|", n=1, expand=True)
    per_member = per_member.assign(metric=key[0], pattern=key[1].astype(int))
    per_member = per_member.merge(patterns.shares, on=["metric", "pattern"])
    cols = ["yhat", *BOUNDS]
    weighted = per_member[cols].mul(per_member["share"], axis=0)
    mix = (
        weighted.assign(metric=per_member["metric"], ds=per_member["ds"])
        .groupby(["metric", "ds"], as_index=False)[cols]
        .sum()
    )
    out = mix.merge(
        active_fc[["metric", "ds", "yhat"]].rename(columns={"yhat": "accounts"}), on=["metric", "ds"]
    )
    out[cols] = out[cols].mul(out["accounts"].clip(lower=0), axis=0)
    return out.rename(columns={"metric": "unique_id"})[FORECAST_COLUMNS].sort_values(
        ["unique_id", "ds"], ignore_index=True
    )


def global_forecasts(
    series: pd.DataFrame,
    h: int,
    *,
    account_fc: pd.DataFrame | None = None,
    k: int = 8,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """The three forecasts per metric (a `method` column); `account_fc` are published per-account forecasts
    (account_id, metric, ds, yhat, bounds), else they are computed here."""
    if account_fc is None:
        account_fc = run_account_forecasts(series, "global", h=h, executor=executor).forecasts
    frames = {
        "account_sum": account_sum(account_fc),
        "model_global": model_global(series, h),
        "pattern_global": pattern_global(series, h, k),
    }
    out = pd.concat([f.assign(method=m) for m, f in frames.items()], ignore_index=True)
    out[["yhat", *BOUNDS]] = out[["yhat", *BOUNDS]].clip(lower=0)
    out["horizon"] = out.groupby(["method", "unique_id"]).cumcount() + 1
    return out


def compare_global(
    series: pd.DataFrame, h: int, *, k: int = 8, executor: Executor | None = None
) -> pd.DataFrame:
    """Backtest the three methods on the last h days (trained on the days before): per method and metric the
    MAE, MASE (scale: the totals' in-sample seasonal-naive MAE), bias (mean forecast - actual), MAPE of the
    h-day total and 80/95% coverage."""
    data = validate_series(series)
    cut = data["ds"].max() - pd.Timedelta(days=h)
    train = data[data["ds"] <= cut]
    fc = global_forecasts(train, h, k=k, executor=executor)
    actual = totals(data[data["ds"] > cut])
    hist = totals(train)
    scale = hist.groupby("unique_id")["y"].apply(
        lambda y: np.mean(np.abs(y.to_numpy()[7:] - y.to_numpy()[:-7])) if len(y) > 7 else np.nan
    )
    m = fc.merge(actual, on=["unique_id", "ds"])
    rows = []
    for (method, metric), part in m.groupby(["method", "unique_id"], sort=True):
        err = part["yhat"] - part["y"]
        total_actual = part["y"].sum()
        rows.append(
            {
                "method": method,
                "metric": metric,
                "days": len(part),
                "actual_total": float(total_actual),
                "forecast_total": float(part["yhat"].sum()),
                "mae": float(err.abs().mean()),
                "mase": float(err.abs().mean() / scale[metric]) if scale[metric] > 0 else np.nan,
                "bias": float(err.mean()),
                "total_error_pct": float(100 * (part["yhat"].sum() - total_actual) / total_actual)
                if total_actual
                else np.nan,
                "coverage_80": coverage(part["y"], part["lo_80"], part["hi_80"]),
                "coverage_95": coverage(part["y"], part["lo_95"], part["hi_95"]),
                "backtest_cutoff": cut.date(),
            }
        )
    return pd.DataFrame(rows)


def write_global_forecasts(
    con: duckdb.DuckDBPyConnection, cutoff: str, forecasts: pd.DataFrame, comparison: pd.DataFrame
) -> dict[str, int]:
    """Replace the cutoff's rows of forecasts.global_forecasts and marts.global_forecast_comparison together."""
    written = {}
    with transaction(con):
        for table, frame in (
            ("forecasts.global_forecasts", forecasts),
            ("marts.global_forecast_comparison", comparison),
        ):
            con.register("_global_rows", frame)
            try:
                written[table] = replace_where(
                    con, table, "SELECT * FROM _global_rows", key={"cutoff": cutoff}
                )
            finally:
                con.unregister("_global_rows")
    return written
