"""Per-account usage forecasts: every (account, metric) series of a cutoff, in bulk.

The series come from features.usage_account_daily (sparse: an account's row exists on days it used the
product) over the last `history_days` through the cutoff: each series runs daily from the account's first
usage day in that window (at least its last week) to the cutoff; an ingested day without a row is a zero, a
day never ingested is interpolated like every training frame (`revcast.training.fill_gaps`).

Models: `BatchETS` (vectorised across series), seasonal naive (the baseline and the fallback for series under
two seasons or mostly zeros, with the reason per series) and, on a sample or when configured, AutoARIMA. Every
model is backtested on one held-out window of `h` days and scored per series by MASE; each series publishes
seasonal naive unless a challenger beats it by the margin (the tournament's rules, `revcast.tournament`).
Fitted batches are saved once per (model, chunk); every series has its models.registry row pointing at its
batch's artifact.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from revcast.forecasting.base import FORECAST_COLUMNS, Forecaster, clip_at_zero, validate_series
from revcast.forecasting.baselines import SeasonalNaive
from revcast.forecasting.batch_ets import BatchETS
from revcast.forecasting.engine import Executor, ForecastEngine, InProcess, ModelFactory
from revcast.tournament import (
    METRICS,
    ArtifactDir,
    DomainTournament,
    _backtest_rows,
    _json_float,
    _order,
    _score_rows,
    model_id,
    published_order,
    rank_candidates,
    score_backtest,
)
from revcast.training import fill_gaps

DOMAIN = "usage_accounts"
BASELINE = "seasonal_naive"
ETS = "batch_ets"
ARIMA = "auto_arima"
SEP = ":"  # unique_id = account_id:metric
FORECAST_TABLE = "forecasts.account_forecasts"
MIN_DAYS = 7  # one season: the seasonal-naive fallback needs it

ACCOUNT_SERIES_SQL = """
WITH firsts AS (
    SELECT account_id, metric, min(ds) AS first_ds
    FROM features.usage_account_daily
    WHERE ds > $cutoff::DATE - to_days(CAST($history AS INTEGER)) AND ds <= $cutoff
    GROUP BY ALL
),
spine AS (
    SELECT account_id, metric,
           CAST(unnest(generate_series(least(first_ds, $cutoff::DATE - INTERVAL 6 DAY), $cutoff::DATE,
                                       INTERVAL 1 DAY)) AS DATE) AS ds
    FROM firsts
)
SELECT s.account_id || ':' || s.metric AS unique_id, s.ds,
       CASE WHEN t.observed THEN coalesce(a.quantity, 0) END AS y,
       coalesce(t.observed, false) AS observed
FROM spine s
LEFT JOIN features.usage_account_daily a USING (account_id, metric, ds)
LEFT JOIN features.usage_daily_totals t USING (metric, ds)
ORDER BY unique_id, s.ds
"""


def account_series(con: duckdb.DuckDBPyConnection, cutoff: date, history_days: int = 365) -> pd.DataFrame:
    """unique_id (account:metric), ds, y, observed through `cutoff` (see the module doc for the rules)."""
    frame = con.execute(ACCOUNT_SERIES_SQL, {"cutoff": cutoff, "history": int(history_days)}).df()
    if frame.empty:
        return pd.DataFrame(columns=["unique_id", "ds", "y", "observed"])
    return fill_gaps(frame, cutoff)


def published_account_forecasts(con: duckdb.DuckDBPyConnection, cutoff: str) -> pd.DataFrame:
    """The account_forecasts rows of a cutoff: account_id, metric, ds, horizon, yhat and bounds."""
    return con.execute(
        f"SELECT account_id, metric, ds, horizon, yhat, {', '.join(FORECAST_COLUMNS[3:])} FROM {FORECAST_TABLE} "
        "WHERE cutoff = ? ORDER BY account_id, metric, ds",
        [cutoff],
    ).df()


def split_ids(unique_id: pd.Series) -> pd.DataFrame:
    """account_id and metric columns from account:metric ids."""
    parts = unique_id.astype(str).str.rsplit(SEP, n=1, expand=True)
    return pd.DataFrame({"account_id": parts[0], "metric": parts[1]}, index=unique_id.index)


def pad_short(data: pd.DataFrame, days: int) -> pd.DataFrame:
    """Series shorter than `days` get zero days before their first day (a new account used nothing before)."""
    n = data.groupby("unique_id", sort=True)["ds"].agg(["min", "size"])
    short = n[n["size"] < days]
    if short.empty:
        return data
    missing = (days - short["size"]).to_numpy()
    back = np.concatenate([np.arange(k, 0, -1) for k in missing])
    pad = pd.DataFrame(
        {
            "unique_id": np.repeat(short.index.to_numpy(), missing),
            "ds": np.repeat(short["min"].to_numpy(), missing) - back.astype("timedelta64[D]"),
            "y": 0.0,
        }
    )
    return validate_series(pd.concat([pad, data], ignore_index=True))


def account_models(arima: bool = False) -> dict[str, ModelFactory]:
    """Seasonal naive, the vectorised ETS and (when asked) AutoARIMA."""
    from revcast.forecasting.auto import StatsForecastModel

    models: dict[str, ModelFactory] = {
        BASELINE: functools.partial(SeasonalNaive, season=7),
        ETS: BatchETS,
    }
    if arima:
        models[ARIMA] = functools.partial(StatsForecastModel, "auto_arima")
    return models


@dataclass(frozen=True)
class AccountForecasts:
    """The per-account run: forecasts (one row per series and day) and the tournament rows."""

    forecasts: pd.DataFrame  # account_id, metric, ds, horizon, yhat, lo/hi, model, model_id, fallback_reason
    tournament: DomainTournament
    clipped: int
    timings: dict[str, float]


def _sample(uids: list[str], size: int, seed: int) -> list[str]:
    if size <= 0 or not uids:
        return []
    if size >= len(uids):
        return sorted(uids)
    return sorted(np.random.default_rng(seed).choice(np.asarray(sorted(uids)), size, replace=False).tolist())


def run_account_forecasts(
    df: pd.DataFrame,
    cutoff: str,
    *,
    h: int = 30,
    artifact_dir: ArtifactDir | None = None,
    executor: Executor | None = None,
    chunk_size: int = 5000,
    arima_sample: int = 0,
    margin: float = 0.05,
    seed: int = 0,
    run_id: str | None = None,
) -> AccountForecasts:
    """Backtest (one held-out window of h days), select per series, fit on the full window and forecast h days.

    `arima_sample` series (drawn with `seed` from those ETS accepts; all when larger) also get AutoARIMA.
    """
    import time

    clock = {"start": time.perf_counter()}
    data = pad_short(validate_series(df[["unique_id", "ds", "y"]]), MIN_DAYS)
    executor = executor or InProcess()
    main = account_models()
    engine = ForecastEngine(main, executor, chunk_size)
    bt, fails = engine.cross_validation(data, h, n_windows=1)
    screened = {(r.unique_id, r.model): r.reason for r in fails.itertuples() if pd.isna(r.fold)}
    arima_ids = _sample(
        sorted({u for u in data["unique_id"].unique() if (u, ETS) not in screened}), arima_sample, seed
    )
    clock["backtest"] = time.perf_counter()
    if arima_ids:
        arima_engine = ForecastEngine(
            {ARIMA: account_models(True)[ARIMA]}, executor, max(1, len(arima_ids) // 8)
        )
        sub = data[data["unique_id"].isin(arima_ids)]
        abt, afail = arima_engine.cross_validation(sub, h, n_windows=1)
        bt, fails = pd.concat([bt, abt], ignore_index=True), pd.concat([fails, afail], ignore_index=True)
    clock["arima_backtest"] = time.perf_counter()
    failures = {
        (r.unique_id, r.model): r.reason if pd.isna(r.fold) else f"fold {r.fold}: {r.reason}"
        for r in fails.itertuples()
    }
    scores = (
        score_backtest(bt, data)
        if len(bt)
        else pd.DataFrame(columns=["unique_id", "model", *METRICS[:6], "n_folds"])
    )
    for col in METRICS[6:]:
        scores[col] = np.nan  # per-account intervals are not calibrated (no folds to spare)
    candidates = [*main, *([ARIMA] if arima_ids else [])]
    ranked = rank_candidates(scores, _order(candidates)) if len(scores) else scores
    plan = published_order(ranked, BASELINE, margin) if len(ranked) else {}
    clock["select"] = time.perf_counter()

    # full window: every model on every series it accepts (cheap for the batch models), ARIMA on its sample
    fitted, full_fail = engine.fit(data)
    if arima_ids:
        got, bad = ForecastEngine(
            {ARIMA: account_models(True)[ARIMA]}, executor, max(1, len(arima_ids) // 8)
        ).fit(data[data["unique_id"].isin(arima_ids)])
        fitted |= got
        full_fail |= bad
    failures |= {pair: f"full window: {why}" for pair, why in full_fail.items() if pair not in screened}
    clock["fit"] = time.perf_counter()

    champions = _choose(data, plan, fitted, failures, screened, candidates)
    fc = _predict(fitted, champions, h)
    clipped = clip_at_zero(fc, ["yhat", *FORECAST_COLUMNS[3:]])
    clock["forecast"] = time.perf_counter()

    paths = _save(fitted, champions, cutoff, artifact_dir) if artifact_dir is not None else {}
    registry = _registry(data, champions, scores, cutoff, paths, run_id)
    champ = champions.merge(
        scores[["unique_id", "model", "mase", "mae"]], on=["unique_id", "model"], how="left"
    ).merge(
        scores.loc[scores["model"] == BASELINE, ["unique_id", "mase", "mae"]].rename(
            columns={"mase": "baseline_mase", "mae": "baseline_mae"}
        ),
        on="unique_id",
        how="left",
    )
    champ["beats_baseline"] = (champ["model"] != BASELINE) & (
        champ["mase"] <= (1 - margin) * champ["baseline_mase"]
    )
    is_champ = set(zip(champ["unique_id"], champ["model"], strict=True))
    tournament = DomainTournament(
        DOMAIN,
        cutoff,
        _backtest_rows(DOMAIN, cutoff, bt) if len(bt) else pd.DataFrame(),
        _score_rows(DOMAIN, cutoff, scores, failures, is_champ),
        registry,
        champ,
        margin,
    )
    ids = split_ids(fc["unique_id"])
    reasons = champions.set_index("unique_id")["fallback_reason"]
    out = pd.concat([ids, fc.drop(columns="unique_id")], axis=1)
    out["model_id"] = [
        model_id(DOMAIN, m, cutoff, u) for u, m in zip(fc["unique_id"], fc["model"], strict=True)
    ]
    out["fallback_reason"] = fc["unique_id"].map(reasons).to_numpy()
    clock["save"] = time.perf_counter()
    names = list(clock)
    timings = {b: round(clock[b] - clock[a], 3) for a, b in zip(names, names[1:], strict=False)}
    return AccountForecasts(out, tournament, clipped, timings)


def _choose(
    data: pd.DataFrame,
    plan: Mapping[str, tuple[list[str], str | None]],
    fitted: Mapping[tuple[str, str], Forecaster],
    failures: Mapping[tuple[str, str], str],
    screened: Mapping[tuple[str, str], str],
    candidates: list[str],
) -> pd.DataFrame:
    """Per series: the first model of its published order that fitted on the full window, and why it is not
    simply the best (screened out of ETS, no challenger beat the baseline, a failure)."""
    rows = []
    for uid in sorted(data["unique_id"].unique()):
        order, reason = plan.get(uid, ([BASELINE, *(c for c in candidates if c != BASELINE)], None))
        if uid not in plan:
            reason = "too short to backtest: publishing seasonal_naive"
        if (uid, ETS) in screened and order[0] == BASELINE:
            reason = f"fallback to seasonal_naive: {screened[(uid, ETS)].removeprefix('screened out: ')}"
        chosen = next((m for m in order if (uid, m) in fitted), None)
        skipped = [m for m in order[: order.index(chosen)] if (uid, m) in failures] if chosen in order else []
        if skipped:
            reason = "; ".join(
                [*(f"{m}: {failures[(uid, m)]}" for m in skipped), *([reason] if reason else [])]
            )
        rows.append({"unique_id": uid, "model": chosen, "fallback_reason": reason and reason[:1000]})
    out = pd.DataFrame(rows, columns=["unique_id", "model", "fallback_reason"])
    missing = out[out["model"].isna()]
    if len(missing):
        first = missing["unique_id"].iloc[0]
        raise ValueError(
            f"{len(missing)} series have no model that fits (e.g. {first!r}): {failures.get((first, BASELINE))}"
        )
    return out


def _predict(fitted: Mapping[tuple[str, str], Forecaster], champions: pd.DataFrame, h: int) -> pd.DataFrame:
    """Each distinct fitted batch predicts once; keep each series' champion rows."""
    want = set(zip(champions["unique_id"], champions["model"], strict=True))
    batches: dict[int, tuple[str, Forecaster, set[str]]] = {}
    for (uid, name), model in fitted.items():
        if (uid, name) in want:
            batches.setdefault(id(model), (name, model, set()))[2].add(uid)
    frames = []
    for name, model, uids in batches.values():
        fc = model.predict(h)
        fc = fc[fc["unique_id"].isin(uids)].copy()
        fc["model"] = name
        frames.append(fc)
    fc = pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], ignore_index=True)
    fc.insert(2, "horizon", np.tile(np.arange(1, h + 1), len(fc) // h))
    return fc


def _save(
    fitted: Mapping[tuple[str, str], Forecaster],
    champions: pd.DataFrame,
    cutoff: str,
    artifact_dir: ArtifactDir,
) -> dict[tuple[str, str], str]:
    """Save each distinct fitted batch that serves a champion once; return its path per (series, model)."""
    want = set(zip(champions["unique_id"], champions["model"], strict=True))
    saved: dict[int, str] = {}
    paths: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}
    for (uid, name), model in sorted(fitted.items(), key=lambda kv: kv[0]):
        if (uid, name) not in want:
            continue
        if id(model) not in saved:
            counters[name] = counters.get(name, 0) + 1
            path = artifact_dir(f"{DOMAIN}_{name}", cutoff, f"batch_{counters[name]:04d}")
            model.save(path)
            saved[id(model)] = str(path)
        paths[(uid, name)] = saved[id(model)]
    return paths


def _registry(
    data: pd.DataFrame,
    champions: pd.DataFrame,
    scores: pd.DataFrame,
    cutoff: str,
    paths: Mapping[tuple[str, str], str],
    run_id: str | None,
) -> pd.DataFrame:
    """One models.registry row per series: its champion, the champion's backtest scores and its batch artifact."""
    windows = data.groupby("unique_id", sort=True)["ds"].agg(["min", "max"])
    cols = [c for c in (*METRICS, "n_folds") if c in scores]
    rows = champions.merge(scores[["unique_id", "model", *cols]], on=["unique_id", "model"], how="left")
    models = account_models(True)
    params = {name: json.dumps(make().params()) for name, make in models.items()}
    algo = {name: f"{type(make()).__module__}.{type(make()).__qualname__}" for name, make in models.items()}
    values = rows[cols].to_numpy(float)
    return pd.DataFrame(
        {
            "model_id": [
                model_id(DOMAIN, m, cutoff, u) for u, m in zip(rows["unique_id"], rows["model"], strict=True)
            ],
            "domain": DOMAIN,
            "cutoff": cutoff,
            "unique_id": rows["unique_id"],
            "model": rows["model"],
            "algorithm": rows["model"].map(algo),
            "parameters": rows["model"].map(params),
            "train_start": rows["unique_id"].map(windows["min"]).dt.date,
            "train_end": rows["unique_id"].map(windows["max"]).dt.date,
            "metrics": [
                json.dumps({k: _json_float(v) for k, v in zip(cols, vals, strict=True)}) for vals in values
            ],
            "artifact_path": [paths.get(p) for p in zip(rows["unique_id"], rows["model"], strict=True)],
            "run_id": run_id,
            "is_champion": True,
            "fallback_reason": rows["fallback_reason"],
            "registered_at": pd.Timestamp.now(tz="UTC"),
        }
    )
