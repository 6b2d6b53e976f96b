"""`/v1/forecasts`: every published forecast stream through one set of routes, each answer logged.

The routes only translate HTTP to `forecasts.query` (the read path `revcast report` uses too) and back. Every
answer under /v1/forecasts, refusals included (bad parameters, a missing or wrong token, a busy warehouse), is
appended to the prediction log like the revenue forecasts are: the exception handlers below log the ones that
never reach a route body.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from revcast_app.service import forecasts, store
from revcast_app.service.auth import require_token
from revcast_app.service.forecasts import STREAMS, ForecastQuery, MissingTable, QueryError
from revcast_app.service.store import Settings, WarehouseUnavailable

PREFIX = "/v1/forecasts"
MAX_LIMIT = 1000
MAX_ENTITIES = 1000
MAX_OFFSET = 1_000_000_000
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_only(value: Any) -> Any:
    """Dates arrive as YYYY-MM-DD only (pydantic alone would also take timestamps and datetimes)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]

StreamName = StrEnum("StreamName", {name: name for name in STREAMS})
STREAM_DOC = "; ".join(
    f"`{s.name}`: {s.description} ({s.table}; entity = {s.entity_label}"
    + (f", series = {s.series_label}" if s.series else "")
    + ")"
    for s in STREAMS.values()
)

stream_param = Path(description=f"the forecast stream. {STREAM_DOC}")


class ForecastRow(BaseModel):
    """One day (or month, or 30-day window) of one series: the point forecast with 80/95% bounds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entity": "memory",
                    "series": None,
                    "date": "2024-01-01",
                    "forecast": 1523.4,
                    "lo_80": 1400.2,
                    "hi_80": 1650.9,
                    "lo_95": 1335.0,
                    "hi_95": 1718.3,
                    "actual": None,
                    "currency": None,
                    "model": "ets",
                    "model_id": "usage/ets/2023-12/memory",
                    "run_id": "3f1c2a9e-0d6b-4c55-9f3e-2b7d0f1a8c44",
                    "detail": {"horizon": 1},
                }
            ]
        }
    )

    entity: str = Field(description="the metric, country, platform or account the row is about")
    series: str | None = Field(
        default=None,
        description="the second key where a stream has one: accounts a metric, subscriptions a revenue "
        "type (new, recurrent, total), revenue the source stream",
    )
    date: dt.date = Field(description="the day, the first day of the month, or the first day of the window")
    forecast: float | None = Field(description="the point forecast (NULL on revenue rows with only actuals)")
    lo_80: float | None = None
    hi_80: float | None = None
    lo_95: float | None = None
    hi_95: float | None = None
    actual: float | None = Field(default=None, description="revenue stream only: the actual, where known")
    currency: str | None = Field(default=None, description="revenue stream only")
    model: str | None = None
    model_id: str | None = Field(
        default=None, description="the model version: <domain>/<model>/<cutoff>/<id>"
    )
    run_id: str | None = Field(default=None, description="the Dagster run that wrote the row")
    detail: dict[str, Any] = Field(
        default_factory=dict, description="stream-specific columns (horizon, window_end, fallback_reason)"
    )


class ForecastPage(BaseModel):
    """One page of a stream's rows for a cutoff, ordered by entity, series and date, with the total."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stream": "invoices",
                    "table": "forecasts.invoice_revenue_forecasts",
                    "entity_kind": "country",
                    "cutoff": "2023-12",
                    "grain": "30-day window",
                    "total": 62,
                    "limit": 1,
                    "offset": 0,
                    "next_offset": 1,
                    "items": [
                        {
                            "entity": "United Kingdom",
                            "series": None,
                            "date": "2024-01-01",
                            "forecast": 812345.5,
                            "lo_80": 701220.0,
                            "hi_80": 930115.2,
                            "lo_95": 650010.7,
                            "hi_95": 1001200.9,
                            "actual": None,
                            "currency": None,
                            "model": "ets",
                            "model_id": "invoices/ets/2023-12/United Kingdom",
                            "run_id": "8b0e6f4c-51a2-4d1e-b1a3-5e2f7c9d0a12",
                            "detail": {"window_end": "2024-01-30"},
                        }
                    ],
                }
            ]
        }
    )

    stream: str
    table: str = Field(description="the warehouse table behind the stream")
    entity_kind: str = Field(description="what `entity` is in this stream")
    cutoff: str | None = Field(
        description="the training cutoff served (YYYY-MM); null when there is none yet"
    )
    grain: str = Field(description="day, month (revenue only) or 30-day window (invoices)")
    total: int = Field(description="rows matching the filters, over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")
    items: list[ForecastRow]


class StreamSummary(BaseModel):
    """A stream's latest cutoff and what it holds."""

    stream: str
    table: str
    entity: str
    cutoff: str | None
    rows: int
    entities: int | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    models: int | None = None
    run_id: str | None = None
    status: str = Field(description="ok, no forecasts yet, or why the table cannot be read")


class ForecastSearch(BaseModel):
    """The GET filters as a JSON body, with a list of entities (e.g. hundreds of accounts)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entities": ["acct-0001", "acct-0002"],
                    "series": "memory",
                    "start": "2024-01-01",
                    "end": "2024-01-31",
                    "limit": 100,
                }
            ]
        },
    )

    entities: list[str] | None = Field(default=None, max_length=MAX_ENTITIES)
    series: str | None = None
    start: IsoDate | None = None
    end: IsoDate | None = None
    cutoff: str | None = None
    grain: Literal["day", "month"] | None = None
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


ERRORS = {
    400: {"description": "inconsistent parameters (start after end, a grain or series the stream lacks)"},
    404: {"description": "unknown entity, series or cutoff; the detail lists the known values"},
    422: {"description": "a malformed parameter (stream, date, limit, offset); `parameter` names it"},
    503: {"description": "the warehouse is missing, locked by a writer, or lacks the stream's table"},
}


def _start_clock(request: Request) -> None:
    request.state.started = time.perf_counter()


def _logged_query(request: Request, body: Any = None) -> dict:
    given = getattr(request.state, "forecast_query", None)
    if given is not None:
        return given
    query: dict[str, Any] = dict(request.path_params)
    for key in request.query_params:
        values = request.query_params.getlist(key)
        query[key] = values if len(values) > 1 else values[0]
    if body is not None:
        query["body"] = body
    return query


def _log(request: Request, status: int, result: dict, *, model_id=None, source=None, body=None) -> None:
    started = getattr(request.state, "started", None)
    request.app.state.log.record_prediction(
        endpoint=request.url.path,
        query=jsonable_encoder(_logged_query(request, body)),
        status_code=status,
        result=jsonable_encoder(result),
        model_id=model_id,
        source=source,
        latency_ms=(time.perf_counter() - started) * 1000 if started else 0.0,
    )


def _parameter(loc: tuple) -> str:
    """The parameter a validation error is about: ('query', 'limit') -> limit, ('body', 'entities', 3)."""
    names = [str(part) for part in loc[1:] if isinstance(part, str)]
    return names[0] if names else str(loc[0])


def install(app: FastAPI, settings: Settings) -> None:
    """Add the /v1/forecasts routes and the handlers that log their refusals."""

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError) -> JSONResponse:
        content = {"detail": exc.message, "parameter": exc.param}
        _log(request, exc.status, content)
        return JSONResponse(content, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        if not request.url.path.startswith(PREFIX):
            return await request_validation_exception_handler(request, exc)
        errors = jsonable_encoder(exc.errors())
        detail = "; ".join(f"{_parameter(tuple(e['loc']))}: {e['msg']}" for e in errors)
        content = {"detail": detail, "parameter": _parameter(tuple(errors[0]["loc"])), "errors": errors}
        _log(request, 422, content, body=exc.body)
        return JSONResponse(content, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith(PREFIX):
            _log(request, exc.status_code, {"detail": exc.detail})
        return await http_exception_handler(request, exc)

    def _page(request: Request, name: str, q: ForecastQuery) -> ForecastPage:
        try:
            with store.read_warehouse(settings) as con:
                page = forecasts.query(con, name, q)
        except (WarehouseUnavailable, MissingTable) as exc:
            raise HTTPException(503, str(exc)) from exc
        spec = STREAMS[name]
        answer = ForecastPage(
            stream=name,
            table=spec.table,
            entity_kind=spec.entity_label,
            cutoff=page.cutoff,
            grain=page.grain,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            next_offset=page.next_offset,
            items=[ForecastRow(**item) for item in page.items],
        )
        model_ids = {item["model_id"] for item in page.items}
        _log(
            request,
            200,
            answer.model_dump(mode="json"),
            model_id=model_ids.pop() if len(model_ids) == 1 else None,
            source=spec.table,
        )
        return answer

    @app.get(PREFIX, response_model=list[StreamSummary], dependencies=[Depends(_start_clock)])
    def forecast_streams(request: Request) -> list[StreamSummary]:
        """Every stream with its latest cutoff, rows, entities and dates (what `revcast report` shows)."""
        try:
            with store.read_warehouse(settings) as con:
                summary = [StreamSummary(**row) for row in forecasts.latest(con)]
        except WarehouseUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        _log(request, 200, {"streams": [s.model_dump(mode="json") for s in summary]})
        return summary

    @app.get(
        PREFIX + "/{stream}",
        response_model=ForecastPage,
        responses=ERRORS,
        dependencies=[Depends(_start_clock)],
    )
    def forecast_stream(
        request: Request,
        stream: Annotated[StreamName, stream_param],
        entity: Annotated[
            list[str] | None,
            Query(
                description="the stream's entity (metric, country, platform, account; case-insensitive); "
                "repeat for several",
                examples=["memory"],
            ),
        ] = None,
        series: Annotated[
            str | None,
            Query(
                description="accounts: a metric; subscriptions: new | recurrent | total; revenue: a stream"
            ),
        ] = None,
        start: Annotated[IsoDate | None, Query(description="first date, YYYY-MM-DD (inclusive)")] = None,
        end: Annotated[IsoDate | None, Query(description="last date, YYYY-MM-DD (inclusive)")] = None,
        cutoff: Annotated[
            str | None, Query(description="training cutoff YYYY-MM; default: the latest")
        ] = None,
        grain: Annotated[
            Literal["day", "month"] | None, Query(description="revenue only; default: day")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip (see next_offset)")] = 0,
    ) -> ForecastPage:
        """One stream's forecasts for a cutoff (the latest by default), filtered and paged."""
        q = ForecastQuery(
            entities=tuple(entity) if entity else None,
            series=series,
            start=start,
            end=end,
            cutoff=cutoff,
            grain=grain,
            limit=limit,
            offset=offset,
        )
        return _page(request, stream.value, q)

    @app.post(
        PREFIX + "/{stream}/query",
        response_model=ForecastPage,
        responses={**ERRORS, 401: {"description": "no bearer token"}, 403: {"description": "wrong token"}},
        dependencies=[Depends(_start_clock), Depends(require_token)],
    )
    def search_stream(
        request: Request,
        stream: Annotated[StreamName, stream_param],
        search: Annotated[ForecastSearch, Body()],
    ) -> ForecastPage:
        """The GET filters as a JSON body (many entities at once); needs the bearer token of POST /v1/train."""
        request.state.forecast_query = {"stream": stream.value, **search.model_dump(mode="json")}
        q = ForecastQuery(
            entities=tuple(search.entities) if search.entities is not None else None,
            series=search.series,
            start=search.start,
            end=search.end,
            cutoff=search.cutoff,
            grain=search.grain,
            limit=search.limit,
            offset=search.offset,
            entity_param="entities",
        )
        return _page(request, stream.value, q)
