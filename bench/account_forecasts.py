"""Per-account forecasting at scale: the vectorised ETS against statsforecast's AutoETS on the same series.

10,000 accounts x 2 metrics (API calls, storage GB) x 365 days from the sample generator's simulation
(`revcast.generate.usage.simulate_usage`), forecasting the held-out last 30 days. Measured in one run:
- BatchETS: fit + 30-day forecast of every series (the series the model accepts: at least two seasons and
  at most half zeros; the rest are the seasonal-naive fallback's and timed with it);
- the whole per-account driver (`run_account_forecasts`: backtest, per-series selection, full-window fit and
  forecast of every series) in-process and, with --dask, on a LocalCluster (its overhead);
- statsforecast AutoETS(season_length=7) on a random sample of the same accepted series (--reference-sample,
  default 1000: the full set would take about 2 hours on 2 cores), series per second compared;
- mean MASE on the held-out 30 days of BatchETS and AutoETS on that sample (scale: in-sample seasonal naive).

    .venv/bin/python bench/account_forecasts.py [--accounts 10000] [--reference-sample 1000] [--dask]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date, timedelta

import numpy as np
import pandas as pd

from revcast.forecasting.base import validate_series
from revcast.forecasting.baselines import SeasonalNaive
from revcast.forecasting.batch_ets import BatchETS
from revcast.generate.usage import simulate_usage
from revcast.usage.accounts import MIN_DAYS, pad_short

H = 30


def bench_series(accounts: int, days: int, seed: int) -> pd.DataFrame:
    """unique_id (account:metric), ds, y: each account from its first active day (at least a week) to the end."""
    start = date(2023, 1, 1)
    calendar = [start + timedelta(days=i) for i in range(days)]
    sim = simulate_usage(np.random.default_rng(seed), accounts, calendar)
    active = sim["active"]
    keep = active.any(axis=0)
    first = np.minimum(active.argmax(axis=0), days - 7)
    ds = pd.to_datetime(calendar).to_numpy()
    frames = []
    for metric, mat in (("api_calls", sim["api"].astype(float)), ("storage_gb", sim["storage"] * active)):
        cols = np.flatnonzero(keep)
        lengths = days - first[cols]
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        rows = np.repeat(first[cols], lengths) + offsets
        acc = np.repeat(cols, lengths)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": np.char.add(np.char.mod("C%06d:", acc + 1), metric),
                    "ds": ds[rows],
                    "y": mat[rows, acc],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)


def mase_per_series(fc: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame) -> pd.Series:
    """Held-out MAE over the in-sample seasonal-naive MAE, per series (NaN where that scale is 0)."""
    diff = (train["y"] - train.groupby("unique_id")["y"].shift(7)).abs()
    scale = diff.groupby(train["unique_id"]).mean()
    m = fc.merge(test, on=["unique_id", "ds"])
    mae = (m["y"] - m["yhat"]).abs().groupby(m["unique_id"]).mean()
    return (mae / scale.reindex(mae.index)).replace([np.inf, -np.inf], np.nan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--reference-sample", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dask", action="store_true", help="also run the driver on a 2-worker LocalCluster")
    args = ap.parse_args()

    t = time.perf_counter()
    df = bench_series(args.accounts, args.days, args.seed)
    cut = df["ds"].max() - pd.Timedelta(days=H)
    # a series under a week old at the cutoff gets zero days before its first day, as the driver does
    train, test = pad_short(validate_series(df[df["ds"] <= cut]), MIN_DAYS), df[df["ds"] > cut]
    print(
        f"series: {df['unique_id'].nunique()} ({len(df):,} rows), generated in {time.perf_counter() - t:.1f} s"
    )

    ets = BatchETS()
    refused = ets.screen(train)
    accepted = train[~train["unique_id"].isin(refused)]
    fallback = train[train["unique_id"].isin(refused)]
    t = time.perf_counter()
    fc = ets.fit(accepted).predict(H)
    ets_s = time.perf_counter() - t
    t = time.perf_counter()
    fb = SeasonalNaive(7).fit(fallback).predict(H) if len(fallback) else fc.iloc[:0]
    fallback_s = time.perf_counter() - t
    n_acc, n_all = accepted["unique_id"].nunique(), train["unique_id"].nunique()
    print(
        f"BatchETS: {n_acc} series fit + forecast in {ets_s:.1f} s ({n_acc / ets_s:,.0f} series/s); "
        f"seasonal-naive fallback: {n_all - n_acc} series in {fallback_s:.2f} s; all {n_all} series in "
        f"{ets_s + fallback_s:.1f} s"
    )
    print("chosen models:", ets.chosen()["model"].value_counts().to_dict())

    rng = np.random.default_rng(args.seed)
    ids = np.sort(
        rng.choice(accepted["unique_id"].unique(), min(args.reference_sample, n_acc), replace=False)
    )
    sample = accepted[accepted["unique_id"].isin(ids)]
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    StatsForecast(models=[AutoETS(season_length=7)], freq="D").forecast(
        df=sample[sample["unique_id"] == ids[0]], h=H
    )
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = StatsForecast(models=[AutoETS(season_length=7)], freq="D", n_jobs=1).forecast(df=sample, h=H)
    ref_s = time.perf_counter() - t
    ref = ref.reset_index() if "unique_id" not in ref.columns else ref
    ref = ref.rename(columns={"AutoETS": "yhat"})[["unique_id", "ds", "yhat"]]
    print(
        f"AutoETS(season_length=7): {len(ids)} sampled series in {ref_s:.1f} s ({len(ids) / ref_s:,.1f} series/s)"
    )
    speedup = (n_acc / ets_s) / (len(ids) / ref_s)

    test_s = test[test["unique_id"].isin(ids)]
    m_ets = mase_per_series(fc[fc["unique_id"].isin(ids)], test_s, sample)
    m_ref = mase_per_series(ref, test_s, sample)
    both = m_ets.notna() & m_ref.notna()
    m_all = mase_per_series(pd.concat([fc, fb]), test, train)
    print(
        f"held-out 30-day MASE on the {int(both.sum())} sampled series: BatchETS {m_ets[both].mean():.4f}, "
        f"AutoETS {m_ref[both].mean():.4f} (median {m_ets[both].median():.4f} vs {m_ref[both].median():.4f}); "
        f"BatchETS + fallback on all series {m_all.mean():.4f}"
    )
    print(f"series/s vs the reference: {speedup:,.0f}x")

    from revcast.usage.accounts import run_account_forecasts

    t = time.perf_counter()
    local = run_account_forecasts(train, "bench", h=H)
    driver_s = time.perf_counter() - t
    print(
        f"run_account_forecasts in-process (backtest + select + fit + forecast): {driver_s:.1f} s {local.timings}"
    )
    if args.dask:
        from distributed import Client, LocalCluster

        from revcast.forecasting.engine import DaskExecutor, InProcess

        t = time.perf_counter()
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            start_s = time.perf_counter() - t
            t = time.perf_counter()
            remote = run_account_forecasts(
                train, "bench", h=H, executor=DaskExecutor(client), chunk_size=2500
            )
            dask_s = time.perf_counter() - t
        t = time.perf_counter()
        same_chunks = run_account_forecasts(train, "bench", h=H, executor=InProcess(), chunk_size=2500)
        local_s = time.perf_counter() - t
        identical = remote.forecasts.equals(same_chunks.forecasts)
        print(
            f"LocalCluster (2 workers x 1 thread): start {start_s:.1f} s, driver {dask_s:.1f} s vs {local_s:.1f} s "
            f"in-process with the same chunks (overhead {dask_s - local_s:+.1f} s); identical forecasts: {identical}"
        )
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
