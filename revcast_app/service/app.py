"""FastAPI app: every published forecast, 30-day revenue per country, training launches through Dagster, logs."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from revcast.forecasting import Forecaster, factors_from_parameters
from revcast.invoices.forecast import WINDOW_DAYS, load_champion, window_forecast
from revcast_app.service import forecast_routes, store, training
from revcast_app.service.auth import require_token
from revcast_app.service.store import PredictionLog, Settings, WarehouseUnavailable

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RevenueForecast(BaseModel):
    """Revenue of the 30 days starting at `date`, with 80/95% bounds and the model version that made it."""

    country: str
    date: date
    window_end: date
    days: int = WINDOW_DAYS
    revenue_30d: float
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float
    model: str
    model_id: str = Field(description="model version: <domain>/<model>/<cutoff>/<unique_id>")
    cutoff: str = Field(description="training cutoff YYYY-MM (data through its last day)")
    source: str = Field(
        description="precomputed (forecasts.invoice_revenue_forecasts) or computed (champion)"
    )
    fallback_reason: str | None = None


class TrainRequest(BaseModel):
    """Which cutoff to (re)train; defaults to the last ingested invoice month."""

    cutoff: str | None = Field(default=None, examples=["2023-12"])


class TrainResponse(BaseModel):
    run_id: str
    job_name: str
    cutoff: str
    partition_key: str


class Logs(BaseModel):
    predictions: list[dict[str, Any]]
    training_runs: list[dict[str, Any]]
    training_launches: list[dict[str, Any]]


@lru_cache(maxsize=64)
def _cached_model(path: str, mtime_ns: int) -> Forecaster:
    return load_champion(path)


def _load_model(artifact_path: str, bases: tuple[Path, ...]) -> Forecaster:
    from revcast.invoices.forecast import resolve_artifact

    folder = resolve_artifact(artifact_path, bases)
    return _cached_model(str(folder.resolve()), (folder / "model.json").stat().st_mtime_ns)


def _parse_date(raw: str) -> date:
    if not _DATE.match(raw):
        raise HTTPException(400, f"malformed date {raw!r}: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise HTTPException(400, f"malformed date {raw!r}: {exc}") from exc


def _resolve_country(raw: str, known: list[str]) -> str:
    by_lower = {k.lower(): k for k in known}
    found = by_lower.get(raw.strip().lower())
    if found is None:
        shown = ", ".join(known) if known else "none yet: train the invoice models first"
        raise HTTPException(404, f"unknown country {raw!r}; known countries: {shown}")
    return found


def _forecast(settings: Settings, country_raw: str, date_raw: str) -> RevenueForecast:
    """The answer for one query, or an HTTPException with a clear message."""
    as_of = _parse_date(date_raw)
    try:
        with store.read_warehouse(settings) as con:
            country = _resolve_country(country_raw, store.known_series(con))
            pre = store.precomputed_forecast(con, country, as_of)
            candidates = [] if pre else store.champions(con, country)
    except WarehouseUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    window_end = as_of + timedelta(days=WINDOW_DAYS - 1)
    if pre:
        bounds = {k: float(pre[k]) for k in ("revenue_30d", "lo_80", "hi_80", "lo_95", "hi_95")}
        return RevenueForecast(
            country=country,
            date=as_of,
            window_end=window_end,
            model=pre["model"],
            model_id=pre["model_id"],
            cutoff=pre["cutoff"],
            source="precomputed",
            **bounds,
        )
    # Only a model trained on data before the date answers: no look-ahead, as a forecast made that day.
    usable = [c for c in candidates if c["trained_through"] < as_of]
    if not usable:
        earliest = min((c["trained_through"] for c in candidates), default=None)
        hint = f"the earliest date served is {earliest + timedelta(days=1)}" if earliest else "no model yet"
        raise HTTPException(422, f"date {as_of} out of range for {country}: {hint}")
    champion = usable[0]
    gap = (as_of - champion["trained_through"]).days
    if gap > settings.max_horizon_days:
        latest = champion["trained_through"] + timedelta(days=settings.max_horizon_days)
        raise HTTPException(
            422,
            f"date {as_of} out of range for {country}: the latest model is trained through "
            f"{champion['trained_through']} and forecasts at most {settings.max_horizon_days} days ahead "
            f"(last date served {latest})",
        )
    if not champion["artifact_path"]:
        raise HTTPException(503, f"champion {champion['model_id']} has no artifact to forecast from")
    bases = (settings.warehouse_path.parent.parent, Path.cwd())
    try:
        model = _load_model(champion["artifact_path"], bases)
        factors = factors_from_parameters(champion.get("parameters"), country)
        answer = window_forecast(model, country, as_of, factors=factors)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise HTTPException(503, f"champion {champion['model_id']} cannot forecast: {exc}") from exc
    return RevenueForecast(
        country=country,
        date=as_of,
        window_end=window_end,
        revenue_30d=answer.revenue_30d,
        lo_80=answer.lo_80,
        hi_80=answer.hi_80,
        lo_95=answer.lo_95,
        hi_95=answer.hi_95,
        model=champion["model"],
        model_id=champion["model_id"],
        cutoff=champion["cutoff"],
        source="computed",
        fallback_reason=champion["fallback_reason"],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over one warehouse and one prediction log (settings from the environment by default)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.log = PredictionLog(settings.log_path)
        try:
            yield
        finally:
            app.state.log.close()

    app = FastAPI(
        title="revcast revenue API",
        version="1",
        description=(
            "Every published forecast (`/v1/forecasts/{stream}`: usage, invoices, subscriptions, installs, "
            "accounts, revenue), 30-day revenue forecasts per country, training launches and logs."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    forecast_routes.install(app, settings)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/revenue/forecast", response_model=RevenueForecast)
    def revenue_forecast(
        request: Request,
        country: Annotated[str, Query(description="a country, or 'all'")],
        date: Annotated[str, Query(description="first day of the 30-day window, YYYY-MM-DD")],
    ) -> RevenueForecast:
        """Revenue of the 30 days starting at `date`: precomputed when available, else from the champion."""
        started = time.perf_counter()
        query = {"country": country, "date": date}
        try:
            answer = _forecast(settings, country, date)
        except HTTPException as exc:
            request.app.state.log.record_prediction(
                endpoint="/v1/revenue/forecast",
                query=query,
                status_code=exc.status_code,
                result={"detail": exc.detail},
                model_id=None,
                source=None,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            raise
        request.app.state.log.record_prediction(
            endpoint="/v1/revenue/forecast",
            query=query,
            status_code=200,
            result=answer.model_dump(mode="json"),
            model_id=answer.model_id,
            source=answer.source,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        return answer

    @app.post("/v1/train", response_model=TrainResponse, dependencies=[Depends(require_token)])
    def train(request: Request, body: TrainRequest | None = None) -> TrainResponse:
        """Launch `invoice_training_job` for a cutoff on the Dagster webserver; returns the run id."""
        cutoff = body.cutoff if body and body.cutoff else None
        if cutoff is None:
            try:
                with store.read_warehouse(settings) as con:
                    cutoff = store.latest_ingested_month(con)
            except WarehouseUnavailable as exc:
                raise HTTPException(503, str(exc)) from exc
            if cutoff is None:
                raise HTTPException(422, "no invoice month ingested yet: give a cutoff (YYYY-MM)")
        if not training.valid_cutoff(cutoff):
            raise HTTPException(422, f"malformed cutoff {cutoff!r}: expected YYYY-MM")
        try:
            key = training.partition_key(cutoff)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        log = request.app.state.log
        try:
            run_id = training.launch_training(cutoff)
        except training.DagsterUnavailable as exc:
            log.record_training(
                run_id=None, job=training.TRAINING_JOB, cutoff=cutoff, status="failed", detail=str(exc)
            )
            raise HTTPException(502, str(exc)) from exc
        log.record_training(
            run_id=run_id, job=training.TRAINING_JOB, cutoff=cutoff, status="submitted", detail=None
        )
        return TrainResponse(run_id=run_id, job_name=training.TRAINING_JOB, cutoff=cutoff, partition_key=key)

    @app.get("/v1/logs", response_model=Logs)
    def logs(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> Logs:
        """The latest predictions, recent training runs (models.registry) and launches through this API."""
        log = request.app.state.log
        try:
            with store.read_warehouse(settings) as con:
                runs = store.training_runs(con, limit)
        except WarehouseUnavailable:
            runs = []
        return Logs(
            predictions=log.predictions(limit),
            training_runs=runs,
            training_launches=log.training_launches(limit),
        )

    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API with uvicorn (loopback by default)."""
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="info")
