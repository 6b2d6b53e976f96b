"""One model tournament for every domain: backtest, select, fit, save, and rows for the models.* tables.

`run_domain_tournament` wraps `revcast.forecasting.run_tournament` (same folds for every model), optionally
re-scores the backtests with a domain scorer (invoices score 30-day sums), picks a champion per series
(lowest MASE; a forced champion for testing the gate; the best fallback model when every real model
failed), fits every scored model on the full training window and saves it with `Forecaster.save`.
`write_tournament` replaces exactly the (domain, cutoff) rows of models.backtests, models.scores and
models.registry in one transaction.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from revcast.forecasting.backtest import (
    BACKTEST_COLUMNS,
    BASELINE,
    FAILURE_COLUMNS,
    SIMPLEST_FIRST,
    TournamentResult,
    run_tournament,
    score_backtest,
)
from revcast.forecasting.base import Forecaster, validate_series
from revcast.forecasting.calibration import factors_to_json, fit_calibration, held_out_coverage
from revcast.warehouse import replace_where, transaction

ModelFactory = Callable[[], Forecaster]
ArtifactDir = Callable[[str, str, str], Path]  # (model folder, cutoff, unique_id) -> directory
Scorer = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]  # (backtests, series) -> scores
METRICS = (
    "mae",
    "mase",
    "smape",
    "mape",
    "coverage_80",
    "coverage_95",
    "coverage_80_calibrated",  # leave-one-fold-out coverage after interval calibration
    "coverage_95_calibrated",
)
CalibrationFrame = Callable[[pd.DataFrame], pd.DataFrame]  # backtests -> the rows intervals are calibrated on
BACKTEST_TABLE, SCORES_TABLE, REGISTRY_TABLE = "models.backtests", "models.scores", "models.registry"


@dataclass(frozen=True)
class DomainTournament:
    """A tournament's rows for models.backtests / models.scores / models.registry and the champions."""

    domain: str
    cutoff: str
    backtests: pd.DataFrame
    scores: pd.DataFrame
    registry: pd.DataFrame
    champions: pd.DataFrame  # unique_id, model, mase, mae, baseline_mase, beats_baseline, model_id, ...
    result: TournamentResult

    def table(self) -> pd.DataFrame:
        """The tournament table: one row per (series, model) with the metrics, champion first per series."""
        cols = ["unique_id", "model", *METRICS, "n_folds", "is_champion", "failure"]
        s = self.scores[cols].copy()
        s["_order"] = ~s["is_champion"]
        return s.sort_values(["unique_id", "_order", "mase"]).drop(columns="_order").reset_index(drop=True)


def model_id(domain: str, model: str, cutoff: str, unique_id: str) -> str:
    """Registry key <domain>/<model>/<cutoff>/<unique_id>."""
    return f"{domain}/{model}/{cutoff}/{unique_id}"


def default_artifact_dir(root: Path) -> ArtifactDir:
    """<root>/<model folder>/<cutoff>/<unique_id>/ (the ModelStoreResource layout), created."""

    def make(model: str, cutoff: str, unique_id: str) -> Path:
        path = Path(root) / model / cutoff / unique_id.replace("/", "_")
        path.mkdir(parents=True, exist_ok=True)
        return path

    return make


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _fit_full(make: ModelFactory, data: pd.DataFrame) -> tuple[dict[str, Forecaster], dict[str, str]]:
    """Fit on every series at once (as the backtest does); on failure, each series alone. -> models, failures."""
    try:
        model = make().fit(data)
        return {str(u): model for u in model.windows_.index}, {}
    except Exception:  # noqa: BLE001 - isolate the failing series, as in the backtest
        fitted, failed = {}, {}
        for uid, part in data.groupby("unique_id", sort=True):
            try:
                fitted[str(uid)] = make().fit(part)
            except Exception as exc:  # noqa: BLE001 - recorded as the (series, model) failure
                failed[str(uid)] = _reason(exc)
        return fitted, failed


def _rank(scores: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Scores sorted per series best first: lowest MASE, then MAE, then the simpler model."""
    rank = {m: i for i, m in enumerate(order)}
    s = scores.assign(_mase=scores["mase"].fillna(np.inf), _rank=scores["model"].map(rank).fillna(len(rank)))
    return s.sort_values(["unique_id", "_mase", "mae", "_rank"]).drop(columns=["_mase", "_rank"])


def run_domain_tournament(
    domain: str,
    cutoff: str,
    df: pd.DataFrame,
    models: Mapping[str, ModelFactory],
    *,
    h: int,
    artifact_dir: ArtifactDir,
    n_folds: int = 3,
    step: int | None = None,
    season: int = 7,
    baseline: str = BASELINE,
    fallbacks: Sequence[str] = ("seasonal_naive", "drift"),
    scorer: Scorer | None = None,
    force_champion: str | None = None,
    run_id: str | None = None,
    calibration_frame: CalibrationFrame | None = None,
) -> DomainTournament:
    """Backtest `models` on `df` (data through the cutoff only), pick champions, fit and save every model.

    `fallbacks` are the baselines a sparse series falls back to when every other model failed on it; that
    champion's registry row gets `fallback_reason`. `force_champion` makes that model the champion wherever
    it was scored (to show the champion gate failing); the reason is recorded the same way.
    Interval calibration factors (`revcast.forecasting.calibration`) are fitted on `calibration_frame(backtests)`
    (default: the daily backtests; invoices pass their 30-day sums), stored in each registry row's
    `parameters.interval_calibration`, and scored leave-one-fold-out as coverage_80/95_calibrated.
    """
    data = validate_series(df)
    if force_champion is not None and force_champion not in models:
        raise ValueError(f"force_champion {force_champion!r} is not one of {sorted(models)}")
    failures: dict[tuple[str, str], str] = {}
    backtests, fails = [], []
    for name, make in models.items():  # one run_tournament per model: each on the series it accepts
        screen = getattr(make(), "screen", None)
        refused = screen(data) if screen is not None else {}
        failures.update({(uid, name): f"screened out: {why}" for uid, why in refused.items()})
        part = data[~data["unique_id"].isin(list(refused))]
        if part.empty:
            continue
        res = run_tournament({name: make}, part, h, n_folds, step, season, baseline)
        backtests.append(res.backtests)
        fails.append(res.failures)
        failures.update(
            {
                (r.unique_id, r.model): f"fold {r.fold}: {r.reason}"
                for r in res.failures.itertuples(index=False)
            }
        )
    bt_all = (
        pd.concat([b for b in backtests if len(b)], ignore_index=True)
        if any(len(b) for b in backtests)
        else pd.DataFrame(columns=BACKTEST_COLUMNS)
    )
    fail_all = pd.concat(fails, ignore_index=True) if fails else pd.DataFrame(columns=FAILURE_COLUMNS)
    if scorer is not None:
        scores = scorer(bt_all, data)
    else:
        scores = score_backtest(bt_all, data, season) if len(bt_all) else pd.DataFrame()
    cal_bt = calibration_frame(bt_all) if calibration_frame is not None and len(bt_all) else bt_all
    factors = fit_calibration(cal_bt)
    if len(scores):
        held = held_out_coverage(cal_bt).drop(columns=["coverage_80", "coverage_95"])
        scores = scores.drop(columns=[c for c in held.columns[2:] if c in scores])
        scores = scores.merge(held, on=["unique_id", "model"], how="left")
    result = TournamentResult(backtests=bt_all, scores=scores, champions=pd.DataFrame(), failures=fail_all)

    # full-window fits and artifacts of every (series, model) that was scored
    fitted: dict[tuple[str, str], Forecaster] = {}
    scored = set(zip(scores["unique_id"], scores["model"], strict=True)) if len(scores) else set()
    for name, make in models.items():
        uids = sorted(u for u, m in scored if m == name)
        if not uids:
            continue
        models_by_uid, failed = _fit_full(make, data[data["unique_id"].isin(uids)])
        for uid, reason in failed.items():
            failures[(uid, name)] = f"full window: {reason}"
        fitted.update({(uid, name): m for uid, m in models_by_uid.items()})

    order = [m for m in SIMPLEST_FIRST if m in models] + [m for m in models if m not in SIMPLEST_FIRST]
    ranked = _rank(scores, order) if len(scores) else scores
    all_uids = sorted(data["unique_id"].unique())
    champions = []
    for uid in all_uids:
        cands = ranked[ranked["unique_id"] == uid] if len(ranked) else ranked
        usable = [m for m in (cands["model"] if len(cands) else []) if (uid, m) in fitted]
        reason = None
        if force_champion is not None and force_champion in usable:
            pick = force_champion
            reason = f"forced champion {force_champion} (override)"
        elif not usable:
            pick = None
        else:
            pick = usable[0]
            real = [m for m in models if m not in fallbacks]
            if pick in fallbacks and real and all((uid, m) in failures for m in real):
                why = "; ".join(f"{m}: {failures[(uid, m)]}" for m in real)
                reason = f"every real model failed, fell back to {pick} ({why})"[:1000]
            elif pick != cands["model"].iloc[0]:
                top = cands["model"].iloc[0]
                reason = (
                    f"{top} failed on the full window ({failures.get((uid, top), '?')}), next best {pick}"
                )
        base = cands[cands["model"] == baseline] if len(cands) else cands
        row = cands[cands["model"] == pick].iloc[0] if pick else None
        champions.append(
            {
                "unique_id": uid,
                "model": pick,
                "mase": float(row["mase"]) if row is not None else np.nan,
                "mae": float(row["mae"]) if row is not None else np.nan,
                "baseline_mase": float(base["mase"].iloc[0]) if len(base) else np.nan,
                "baseline_mae": float(base["mae"].iloc[0]) if len(base) else np.nan,
                "fallback_reason": reason,
                "model_id": model_id(domain, pick, cutoff, uid) if pick else None,
            }
        )
    champ = pd.DataFrame(champions)
    champ["beats_baseline"] = (champ["mase"] < champ["baseline_mase"]) & (champ["model"] != baseline)
    is_champ = set(zip(champ["unique_id"], champ["model"], strict=True))

    # artifacts + registry rows
    now = pd.Timestamp.now(tz="UTC")
    windows = data.groupby("unique_id")["ds"].agg(["min", "max"])
    reg = []
    metrics_by_pair = scores.set_index(["unique_id", "model"]) if len(scores) else None
    for (uid, name), model in sorted(fitted.items()):
        path = artifact_dir(f"{domain}_{name}", cutoff, uid)
        shutil.rmtree(path, ignore_errors=True)
        model.save(path)
        m = metrics_by_pair.loc[(uid, name)]
        champ_row = champ[(champ["unique_id"] == uid) & (champ["model"] == name)]
        reg.append(
            {
                "model_id": model_id(domain, name, cutoff, uid),
                "domain": domain,
                "cutoff": cutoff,
                "unique_id": uid,
                "model": name,
                "algorithm": f"{type(model).__module__}.{type(model).__qualname__}",
                "parameters": json.dumps(
                    model.params()
                    | {
                        "interval_calibration": factors_to_json(
                            factors[(factors["unique_id"] == uid) & (factors["model"] == name)]
                        )
                    }
                ),
                "train_start": windows.loc[uid, "min"].date(),
                "train_end": windows.loc[uid, "max"].date(),
                "metrics": json.dumps({k: _json_float(m[k]) for k in (*METRICS, "n_folds")}),
                "artifact_path": str(path),
                "run_id": run_id,
                "is_champion": (uid, name) in is_champ,
                "fallback_reason": champ_row["fallback_reason"].iloc[0] if len(champ_row) else None,
                "registered_at": now,
            }
        )
    registry = pd.DataFrame(reg)

    # scores: every scored pair plus every failed pair (with its reason)
    score_rows = scores.copy() if len(scores) else pd.DataFrame(columns=["unique_id", "model", *METRICS])
    if "n_folds" not in score_rows:
        score_rows["n_folds"] = pd.Series(dtype="Int64")
    score_rows["failure"] = [
        failures.get((u, m)) for u, m in zip(score_rows["unique_id"], score_rows["model"], strict=True)
    ]
    missing = [
        (u, m)
        for (u, m) in failures
        if not ((score_rows["unique_id"] == u) & (score_rows["model"] == m)).any()
    ]
    if missing:
        extra = pd.DataFrame([{"unique_id": u, "model": m, "failure": failures[(u, m)]} for u, m in missing])
        score_rows = pd.concat([score_rows, extra], ignore_index=True)
    score_rows["is_champion"] = [
        (u, m) in is_champ for u, m in zip(score_rows["unique_id"], score_rows["model"], strict=True)
    ]
    score_rows.insert(0, "cutoff", cutoff)
    score_rows.insert(0, "domain", domain)
    score_rows = score_rows[
        ["domain", "cutoff", "unique_id", "model", *METRICS, "n_folds", "failure", "is_champion"]
    ]

    bt = result.backtests.rename(columns={"cutoff": "fold_cutoff"}).copy()
    bt.insert(0, "cutoff", cutoff)
    bt.insert(0, "domain", domain)
    return DomainTournament(domain, cutoff, bt, score_rows, registry, champ, result)


def _json_float(x: object) -> float | int | None:
    x = float(x)
    return None if not np.isfinite(x) else (int(x) if x.is_integer() and abs(x) < 2**53 else x)


def _dates(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        if c in out:
            out[c] = pd.to_datetime(out[c]).dt.date
    return out


def write_tournament(con: duckdb.DuckDBPyConnection, t: DomainTournament) -> dict[str, int]:
    """Replace exactly the (domain, cutoff) rows of models.backtests/scores/registry in one transaction."""
    key = {"domain": t.domain, "cutoff": t.cutoff}
    frames = {
        BACKTEST_TABLE: _dates(t.backtests, ["fold_cutoff", "ds"]),
        SCORES_TABLE: t.scores,
        REGISTRY_TABLE: _dates(t.registry, ["train_start", "train_end"]),
    }
    written = {}
    with transaction(con):
        for table, frame in frames.items():
            view = f"_tournament_{table.split('.')[1]}"
            con.register(view, frame)
            try:
                if len(frame):
                    written[table] = replace_where(con, table, f"SELECT * FROM {view}", key=key)
                else:
                    written[table] = replace_where(con, table, f"SELECT * FROM {table} WHERE FALSE", key=key)
            finally:
                con.unregister(view)
    return written


def champion_artifacts(con: duckdb.DuckDBPyConnection, domain: str, cutoff: str) -> pd.DataFrame:
    """The registry's champion rows of one (domain, cutoff): unique_id, model, model_id, artifact_path,
    fallback_reason, parameters (JSON text, with the interval calibration factors)."""
    return con.execute(
        "SELECT unique_id, model, model_id, artifact_path, fallback_reason, CAST(parameters AS VARCHAR) AS parameters "
        "FROM models.registry "
        "WHERE domain = ? AND cutoff = ? AND is_champion ORDER BY unique_id",
        [domain, cutoff],
    ).df()
