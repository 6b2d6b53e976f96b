"""One read path for every published forecast: the stream -> table map, filters, paging and summaries.

The API (`/v1/forecasts/{stream}`) and `revcast report` both read through this module, so what a stream is,
which table backs it and how its latest cutoff is chosen live in one place. Table and column names come only
from the fixed `STREAMS` map below; every value a caller gives (entity, dates, cutoff, paging) is a bound
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from revcast.warehouse import column_name, table_name

# How many known values an "unknown entity" message lists before it says how many more there are.
SHOWN_CHOICES = 20


@dataclass(frozen=True)
class Stream:
    """How one stream's table maps onto the common forecast row (every name is ours, never user text)."""

    name: str
    table: str
    description: str
    entity: str  # the column the `entity` filter matches
    entity_label: str  # what an entity is in this stream (metric, country, platform, account)
    date: str
    forecast: str
    series: str | None = None  # a second key within an entity (a metric, a revenue type, a source stream)
    series_label: str | None = None
    model: str | None = None
    model_id: str | None = None
    actual: str | None = None
    currency: str | None = None
    grain: str | None = None  # a column holding 'day' | 'month'; None: the stream has one grain
    fixed_grain: str = "day"
    extras: dict[str, str] = field(default_factory=dict)  # detail key -> SQL expression over the table

    def __post_init__(self) -> None:
        table_name(self.table)
        columns = (self.entity, self.date, self.forecast, self.series, self.model, self.model_id, self.actual)
        for col in (*columns, self.currency, self.grain):
            if col is not None:
                column_name(col)


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream(
            name="usage",
            table="forecasts.usage_forecasts",
            description="daily usage per metric (quantities, not money) from the usage champion",
            entity="metric",
            entity_label="metric",
            date="ds",
            forecast="yhat",
            model="model",
            model_id="model_id",
            extras={"horizon": "horizon"},
        ),
        Stream(
            name="invoices",
            table="forecasts.invoice_revenue_forecasts",
            description="invoice revenue of the 30 days starting at each date, per country and 'all'",
            entity="unique_id",
            entity_label="country",
            date="as_of",
            forecast="revenue_30d",
            model="model",
            model_id="model_id",
            fixed_grain="30-day window",
            extras={"window_end": "CAST(as_of + INTERVAL 29 DAY AS DATE)"},
        ),
        Stream(
            name="subscriptions",
            table="marts.subscription_revenue_plan",
            description=(
                "the subscription revenue plan, which is what the subscription forecast means to finance: "
                "daily revenue per platform and 'all', by revenue type (new, recurrent, total), from the "
                "installs forecast, retention and the plan's prices; the installs behind it are `installs`"
            ),
            entity="platform",
            entity_label="platform",
            series="revenue_type",
            series_label="revenue type",
            date="ds",
            forecast="revenue",
        ),
        Stream(
            name="installs",
            table="forecasts.subscription_installs_forecasts",
            description="daily app installs per platform from the installs champion (the plan's driver)",
            entity="platform",
            entity_label="platform",
            date="ds",
            forecast="yhat",
            model="model",
            model_id="model_id",
            extras={"horizon": "horizon"},
        ),
        Stream(
            name="accounts",
            table="forecasts.account_forecasts",
            description="daily usage per account and metric from each series' champion",
            entity="account_id",
            entity_label="account",
            series="metric",
            series_label="metric",
            date="ds",
            forecast="yhat",
            model="model",
            model_id="model_id",
            extras={"horizon": "horizon", "fallback_reason": "fallback_reason"},
        ),
        Stream(
            name="revenue",
            table="marts.revenue",
            description=(
                "the conformed revenue mart: actual and forecast revenue per source stream and entity, "
                "daily or monthly, in each stream's currency"
            ),
            entity="entity",
            entity_label="entity",
            series="stream",
            series_label="source stream",
            date="date",
            forecast="forecast",
            model_id="model_id",
            actual="actual",
            currency="currency",
            grain="grain",
        ),
    )
}
GRAINS = ("day", "month")


class QueryError(ValueError):
    """A request the data cannot answer: `param` names the offending parameter, `status` the HTTP code."""

    def __init__(self, status: int, param: str, message: str):
        super().__init__(message)
        self.status, self.param, self.message = status, param, message


class MissingTable(RuntimeError):
    """The warehouse predates the stream's table (an older file, or the asset never ran)."""


@dataclass(frozen=True)
class ForecastQuery:
    """What a caller asks of one stream; None means no filter (cutoff None: the latest)."""

    entities: tuple[str, ...] | None = None
    series: str | None = None
    start: date | None = None
    end: date | None = None
    cutoff: str | None = None
    grain: str | None = None
    limit: int = 100
    offset: int = 0
    entity_param: str = "entity"


@dataclass(frozen=True)
class Page:
    """One page of a stream's rows with the total that matched."""

    stream: str
    cutoff: str | None
    grain: str
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]

    @property
    def next_offset(self) -> int | None:
        return self.offset + len(self.items) if self.offset + len(self.items) < self.total else None


def stream(name: str) -> Stream:
    """The stream called `name`, or a QueryError naming the `stream` parameter."""
    found = STREAMS.get(name)
    if found is None:
        raise QueryError(404, "stream", f"unknown stream {name!r}; streams: {', '.join(STREAMS)}")
    return found


def _execute(con: duckdb.DuckDBPyConnection, spec: Stream, sql: str, params: list) -> list[tuple]:
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.CatalogException as exc:
        raise MissingTable(
            f"table {spec.table} (stream {spec.name}) is not in this warehouse yet: materialize it first"
        ) from exc


def cutoffs(con: duckdb.DuckDBPyConnection, spec: Stream) -> list[str]:
    """The stream's cutoffs, latest first."""
    rows = _execute(con, spec, f"SELECT DISTINCT cutoff FROM {spec.table} ORDER BY cutoff DESC", [])
    return [r[0] for r in rows]


def resolve_cutoff(con: duckdb.DuckDBPyConnection, spec: Stream, cutoff: str | None) -> str | None:
    """The requested cutoff if the stream has it (QueryError otherwise), else the latest (None: no rows)."""
    known = cutoffs(con, spec)
    if cutoff is None:
        return known[0] if known else None
    if cutoff not in known:
        shown = ", ".join(known[:SHOWN_CHOICES]) or "none yet"
        raise QueryError(404, "cutoff", f"unknown cutoff {cutoff!r} for stream {spec.name}; cutoffs: {shown}")
    return cutoff


def _choices(values: list[str]) -> str:
    shown = ", ".join(values[:SHOWN_CHOICES]) or "none"
    more = len(values) - SHOWN_CHOICES
    return f"{shown} and {more} more" if more > 0 else shown


def _resolve_values(
    con: duckdb.DuckDBPyConnection,
    spec: Stream,
    column: str,
    cutoff: str,
    raw: tuple[str, ...],
    *,
    param: str,
    label: str,
) -> list[str]:
    """Map each requested value to the stored spelling (exact, else case-insensitive); unknown -> QueryError."""
    known = [
        r[0]
        for r in _execute(
            con,
            spec,
            f"SELECT DISTINCT {column} FROM {spec.table} WHERE cutoff = ? ORDER BY 1",
            [cutoff],
        )
    ]
    exact = set(known)
    by_lower: dict[str, str] = {}
    for k in known:
        by_lower.setdefault(k.lower(), k)
    resolved = []
    for value in raw:
        found = value if value in exact else by_lower.get(value.strip().lower())
        if found is None:
            raise QueryError(
                404,
                param,
                f"unknown {param} {value!r}: no {label} {value!r} in stream {spec.name} at cutoff {cutoff}; "
                f"known: {_choices(known)}",
            )
        resolved.append(found)
    return resolved


def query(con: duckdb.DuckDBPyConnection, name: str, q: ForecastQuery) -> Page:
    """One page of a stream's forecast rows for the filters in `q` (raises QueryError or MissingTable)."""
    spec = stream(name)
    if q.start is not None and q.end is not None and q.start > q.end:
        raise QueryError(400, "start", f"start {q.start} is after end {q.end}")
    if spec.grain is None and q.grain is not None and q.grain != spec.fixed_grain:
        raise QueryError(
            400, "grain", f"grain applies to stream revenue only; stream {spec.name} is {spec.fixed_grain}"
        )
    if q.grain is not None and spec.grain is not None and q.grain not in GRAINS:
        raise QueryError(400, "grain", f"unknown grain {q.grain!r}; grains: {', '.join(GRAINS)}")
    if q.series is not None and spec.series is None:
        raise QueryError(400, "series", f"stream {spec.name} has no series within an entity")
    grain = (q.grain or "day") if spec.grain else spec.fixed_grain
    cutoff = resolve_cutoff(con, spec, q.cutoff)
    if cutoff is None:
        return Page(spec.name, None, grain, 0, q.limit, q.offset, [])

    where, params = ["cutoff = ?"], [cutoff]
    if q.entities is not None:
        entities = _resolve_values(
            con, spec, spec.entity, cutoff, q.entities, param=q.entity_param, label=spec.entity_label
        )
        where.append(f"{spec.entity} IN (SELECT unnest(?))")
        params.append(entities)
    if q.series is not None:
        (series,) = _resolve_values(
            con, spec, spec.series, cutoff, (q.series,), param="series", label=spec.series_label or "series"
        )
        where.append(f"{spec.series} = ?")
        params.append(series)
    if spec.grain:
        where.append(f"{spec.grain} = ?")
        params.append(grain)
    if q.start is not None:
        where.append(f"{spec.date} >= ?")
        params.append(q.start)
    if q.end is not None:
        where.append(f"{spec.date} <= ?")
        params.append(q.end)
    clause = " AND ".join(where)

    total = _execute(con, spec, f"SELECT count(*) FROM {spec.table} WHERE {clause}", params)[0][0]
    columns = {
        "entity": spec.entity,
        "series": spec.series or "NULL",
        "date": spec.date,
        "forecast": spec.forecast,
        "lo_80": "lo_80",
        "hi_80": "hi_80",
        "lo_95": "lo_95",
        "hi_95": "hi_95",
        "actual": f"CAST({spec.actual} AS DOUBLE)" if spec.actual else "NULL",
        "currency": spec.currency or "NULL",
        "model": spec.model or "NULL",
        "model_id": spec.model_id or "NULL",
        "run_id": "run_id",
        **{f"detail.{k}": expr for k, expr in spec.extras.items()},
    }
    select = ", ".join(f'{expr} AS "{key}"' for key, expr in columns.items())
    order = ", ".join(c for c in (spec.entity, spec.series, spec.date) if c)
    rows = _execute(
        con,
        spec,
        f"SELECT {select} FROM {spec.table} WHERE {clause} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, q.limit, q.offset],
    )
    items = []
    for row in rows:
        item: dict[str, Any] = {"detail": {}}
        for key, value in zip(columns, row, strict=True):
            if key.startswith("detail."):
                item["detail"][key.removeprefix("detail.")] = value
            else:
                item[key] = value
        items.append(item)
    return Page(spec.name, cutoff, grain, total, q.limit, q.offset, items)


def latest(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per stream: the latest cutoff, its rows, entities, date range and models (a missing table says so)."""
    out = []
    for spec in STREAMS.values():
        row: dict[str, Any] = {"stream": spec.name, "table": spec.table, "entity": spec.entity_label}
        try:
            cutoff = resolve_cutoff(con, spec, None)
        except MissingTable as exc:
            out.append(row | {"cutoff": None, "rows": 0, "status": str(exc)})
            continue
        if cutoff is None:
            out.append(row | {"cutoff": None, "rows": 0, "status": "no forecasts yet"})
            continue
        model = spec.model_id or spec.model
        models = f"count(DISTINCT {model})" if model else "NULL"
        rows, entities, first, last, n_models, run_id = _execute(
            con,
            spec,
            f"SELECT count(*), count(DISTINCT {spec.entity}), min({spec.date}), max({spec.date}), {models}, "
            f"max(run_id) FROM {spec.table} WHERE cutoff = ?",
            [cutoff],
        )[0]
        out.append(
            row
            | {
                "cutoff": cutoff,
                "rows": rows,
                "entities": entities,
                "first_date": first,
                "last_date": last,
                "models": n_models,
                "run_id": run_id,
                "status": "ok",
            }
        )
    return out
