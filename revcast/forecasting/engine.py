"""The many-series driver: fan (model, series chunk, fold) tasks out over a pluggable executor, isolate
failures per (series, model) in one place, and run rolling-origin cross-validation.

Models know one series or one vectorised batch (`Forecaster`); the engine owns everything about running many
of them, as statsforecast's `StatsForecast` does for its models. An executor is anything with
`map(fn, items) -> list` (in-process, a local process pool, or a dask.distributed client: `DaskExecutor`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from revcast.forecasting.base import (
    LEVELS,
    Forecaster,
    bound_columns,
    check_levels,
    validate_series,
)

ModelFactory = Callable[[], Forecaster]
BACKTEST_KEYS = ["unique_id", "model", "fold", "cutoff", "ds", "horizon", "y", "yhat"]
BACKTEST_COLUMNS = [*BACKTEST_KEYS, *bound_columns()]
FAILURE_COLUMNS = ["unique_id", "model", "fold", "reason"]
FULL_WINDOW = -1  # the `fold` of a failure on the full training window


class Executor(Protocol):
    """Runs a function over items and returns the results in order."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


class InProcess:
    """Runs every task in this process, in order."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(item) for item in items]


@dataclass
class ProcessPool:
    """A local process pool (spawned workers, so TensorFlow or BLAS state is never forked)."""

    workers: int = 2

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [fn(item) for item in items]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            return list(pool.map(fn, items))


@dataclass
class DaskExecutor:
    """Tasks on a dask.distributed cluster through its client (`client.map` + `client.gather`), results in
    order. Failures inside a task are already isolated per series, so a raised task is a real error."""

    client: Any

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        # scatter the task data first: a task graph that embeds large frames goes through the scheduler
        data = self.client.scatter(list(items))
        return list(self.client.gather(self.client.map(fn, data, pure=False)))


def failure_reason(exc: BaseException) -> str:
    """`Type: message`, cut to 500 characters."""
    return f"{type(exc).__name__}: {exc}"[:500]


def _checked_forecast(model: Forecaster, h: int, levels=LEVELS) -> pd.DataFrame:
    fc = model.predict(h, levels)
    bad = ~np.isfinite(fc[["yhat", *bound_columns(levels)]].to_numpy(float)).all(axis=1)
    if bad.any():
        raise ValueError(f"non-finite forecast for series {sorted(set(fc.loc[bad, 'unique_id']))}")
    return fc


def fit_isolated(
    make: ModelFactory, train: pd.DataFrame, h: int | None, levels=LEVELS
) -> tuple[dict[str, Forecaster], pd.DataFrame | None, dict[str, str]]:
    """Fit one model on a batch of series (and forecast h days if h is given); when the batch raises, retry
    each series alone so a bad series only costs itself. The one place failures are isolated. Forecasts
    carry lo_/hi_<level> bounds for each of `levels`.

    Series the model's `screen` refuses on this very training window (e.g. a backtest fold too short for it)
    are left out of the batch and recorded as screened, so one short series never breaks a vectorised batch.

    Returns (fitted model per series, forecasts or None, failure reason per series).
    """
    refused = {u: f"screened out: {why}" for u, why in make().screen(train).items()} if len(train) else {}
    if refused:
        train = train[~train["unique_id"].astype(str).isin(refused)]
        if train.empty:
            return {}, None, refused
    try:
        model = make().fit(train)
        fc = _checked_forecast(model, h, levels) if h else None
        return {str(u): model for u in model.windows_.index}, fc, refused
    except Exception:  # noqa: BLE001 - isolate the failing series below
        pass
    fitted, forecasts, failed = {}, [], dict(refused)
    for uid, part in train.groupby("unique_id", sort=True):
        try:
            model = make().fit(part)
            if h:
                forecasts.append(_checked_forecast(model, h, levels))
            fitted[str(uid)] = model
        except Exception as exc:  # noqa: BLE001 - recorded per (series, model)
            failed[str(uid)] = failure_reason(exc)
    fc = pd.concat(forecasts, ignore_index=True) if h and forecasts else None
    return fitted, fc, failed


@dataclass(frozen=True)
class _Task:
    name: str
    make: ModelFactory
    fold: int
    train: pd.DataFrame
    h: int | None
    keep_models: bool
    levels: tuple[float, ...] = LEVELS


def _run_task(task: _Task) -> tuple[_Task, dict[str, Forecaster], pd.DataFrame | None, dict[str, str]]:
    fitted, fc, failed = fit_isolated(task.make, task.train, task.h, task.levels)
    light = _Task(task.name, task.make, task.fold, task.train.iloc[:0], task.h, task.keep_models, task.levels)
    return light, (fitted if task.keep_models else {}), fc, failed


def fold_cutoffs(df: pd.DataFrame, h: int, n_windows: int, step: int | None = None) -> pd.DataFrame:
    """Per series and fold (0 = earliest): cutoff = end - h - step * (n_windows - 1 - fold).

    Folds whose cutoff falls before a series' first day are dropped for that series.
    """
    g = df.groupby("unique_id", sort=True)["ds"]
    start, end = g.min(), g.max()
    step = h if step is None else step
    back = h + step * np.arange(n_windows - 1, -1, -1)
    grid = end.to_numpy()[:, None] - back[None, :].astype("timedelta64[D]")
    out = pd.DataFrame(
        {
            "unique_id": np.repeat(end.index.to_numpy(), grid.shape[1]),
            "fold": np.tile(np.arange(grid.shape[1]), len(end)),
            "cutoff": grid.ravel().astype("datetime64[ns]"),
        }
    )
    return out[out["cutoff"] >= out["unique_id"].map(start)].reset_index(drop=True)


def _chunks(uids: Sequence[str], size: int) -> list[list[str]]:
    return [list(uids[i : i + size]) for i in range(0, len(uids), size)] or [[]]


@dataclass
class ForecastEngine:
    """Fits many models on many series through one executor; screened and failed pairs are recorded.

    `chunk_size` series go into one task (a vectorised model still sees a batch); every (model, chunk, fold)
    is an independent task, so the executor can spread them over cores or a cluster. Backtests and forecasts
    carry lo_/hi_<level> bounds for each of `levels` (the warehouse tables keep 80 and 95).
    """

    models: Mapping[str, ModelFactory]
    executor: Executor = field(default_factory=InProcess)
    chunk_size: int = 1000
    levels: tuple[float, ...] = LEVELS

    def __post_init__(self) -> None:
        self.levels = check_levels(self.levels)

    def screened(self, data: pd.DataFrame) -> dict[tuple[str, str], str]:
        """(series, model) pairs a model refuses up front, with the reason."""
        out = {}
        for name, make in self.models.items():
            out |= {(uid, name): f"screened out: {why}" for uid, why in make().screen(data).items()}
        return out

    def _tasks(
        self, data: pd.DataFrame, folds: pd.DataFrame, h: int | None, skip: Iterable[tuple[str, str]]
    ) -> list[_Task]:
        skip = set(skip)
        tasks = []
        rows = data.groupby("unique_id", sort=True).indices  # row positions per series, no rescans per chunk
        for name, make in self.models.items():
            uids = [u for u in sorted(rows) if (u, name) not in skip]
            for chunk in _chunks(uids, self.chunk_size):
                part = data.iloc[np.concatenate([rows[u] for u in chunk])] if chunk else data.iloc[:0]
                for fold, cut in folds.groupby("fold", sort=True):
                    limit = part["unique_id"].map(cut.set_index("unique_id")["cutoff"])
                    train = part[part["ds"] <= limit]  # NaT (fold dropped for that series) compares False
                    if len(train):
                        tasks.append(_Task(name, make, int(fold), train, h, fold == FULL_WINDOW, self.levels))
        return tasks

    def cross_validation(
        self,
        df: pd.DataFrame,
        h: int,
        n_windows: int = 3,
        step: int | None = None,
        *,
        complete_only: bool = True,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rolling-origin backtests of every model: each fold fits on data through its cutoff only and
        forecasts h days. Returns (backtests, failures); with `complete_only`, a pair that failed or was
        screened on any fold is left out of the backtests entirely, so every scored pair has the same folds."""
        data = validate_series(df)
        screened = self.screened(data)
        folds = fold_cutoffs(data, h, n_windows, step)
        frames, failures = (
            [],
            [{"unique_id": u, "model": m, "fold": None, "reason": r} for (u, m), r in screened.items()],
        )
        for task, _, fc, failed in self.executor.map(_run_task, self._tasks(data, folds, h, screened)):
            failures += [
                {"unique_id": u, "model": task.name, "fold": task.fold, "reason": r}
                for u, r in failed.items()
            ]
            if fc is not None and len(fc):
                cut = folds[folds["fold"] == task.fold][["unique_id", "cutoff"]]
                frames.append(fc.merge(cut, on="unique_id").assign(model=task.name, fold=task.fold))
        fail = pd.DataFrame(failures, columns=FAILURE_COLUMNS)
        if not frames:
            return pd.DataFrame(columns=[*BACKTEST_KEYS, *bound_columns(self.levels)]), fail
        bt = pd.concat(frames, ignore_index=True).merge(data, on=["unique_id", "ds"], how="inner")
        bt["horizon"] = ((bt["ds"] - bt["cutoff"]) / pd.Timedelta(days=1)).astype(int)
        if complete_only:
            bad = fail[["unique_id", "model"]].drop_duplicates().assign(_bad=True)
            bt = bt.merge(bad, on=["unique_id", "model"], how="left")
            bt = bt[bt["_bad"].isna()]
        bt = bt[[*BACKTEST_KEYS, *bound_columns(self.levels)]]
        return bt.sort_values(["unique_id", "model", "fold", "ds"], ignore_index=True), fail

    def fit(
        self, df: pd.DataFrame, pairs: Iterable[tuple[str, str]] | None = None
    ) -> tuple[dict[tuple[str, str], Forecaster], dict[tuple[str, str], str]]:
        """Fit on the full window: every (series, model) pair (or just `pairs`). Returns fitted models and
        failure reasons per pair."""
        data = validate_series(df)
        uids = data["unique_id"].unique()
        wanted = set(pairs) if pairs is not None else {(u, m) for u in uids for m in self.models}
        skip = {(u, m) for u in uids for m in self.models if (u, m) not in wanted}
        screened = {pair: why for pair, why in self.screened(data).items() if pair in wanted}
        ends = data.groupby("unique_id")["ds"].max()
        full = pd.DataFrame({"unique_id": ends.index, "fold": FULL_WINDOW, "cutoff": ends.to_numpy()})
        fitted, failures = {}, dict(screened)
        skip |= set(screened)
        for task, models, _, failed in self.executor.map(_run_task, self._tasks(data, full, None, skip)):
            fitted |= {(u, task.name): m for u, m in models.items()}
            failures |= {(u, task.name): r for u, r in failed.items()}
        return fitted, failures

    def forecast(self, df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fit every model on the full window and forecast h days: (forecasts with a model column, failures)."""
        fitted, failed = self.fit(df)
        frames = []
        # a batch model predicts once for all of its series
        batches: dict[int, tuple[str, Forecaster, set[str]]] = {}
        for (uid, name), model in fitted.items():
            batches.setdefault(id(model), (name, model, set()))[2].add(uid)
        for name, model, uids in batches.values():
            fc = model.predict(h, self.levels)
            frames.append(fc[fc["unique_id"].isin(uids)].assign(model=name))
        fail = pd.DataFrame(
            [{"unique_id": u, "model": m, "fold": FULL_WINDOW, "reason": r} for (u, m), r in failed.items()],
            columns=FAILURE_COLUMNS,
        )
        if not frames:
            return pd.DataFrame(
                columns=["unique_id", "ds", "yhat", *bound_columns(self.levels), "model"]
            ), fail
        out = pd.concat(frames, ignore_index=True)
        return out.sort_values(["unique_id", "model", "ds"], ignore_index=True), fail


def local_executor(workers: int) -> Executor:
    """In-process for one worker, else a local process pool of `workers` processes."""
    return InProcess() if workers <= 1 else ProcessPool(workers)
