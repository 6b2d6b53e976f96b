"""The conformed revenue mart (marts.revenue): every revenue stream's actuals and forecasts in one long table.

One row per (cutoff, grain, date, stream, entity, currency). Rows are copied from each stream's own mart, never
recomputed: usage priced by the price book, the billing engine's bills of the forecast usage, invoice revenue
and the subscription revenue plan. The reconciliation compares, per stream and grain, the mart's actual and
forecast totals in cents with the stream's own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb
import pandas as pd

from revcast.billing.pricing import PRODUCTION
from revcast.billing.scenarios import scenario_run
from revcast.revenue import sql
from revcast.warehouse import replace_where, transaction

REVENUE_TABLE = "marts.revenue"
STREAMS = sql.STREAMS


@dataclass(frozen=True)
class Currencies:
    """The currency of the streams whose sources carry none (invoices, the subscription plan)."""

    invoices: str = "USD"
    subscriptions: str = "USD"


def _params(cutoff: str, cutoff_end: date | None, currencies: Currencies) -> dict:
    return {
        "cutoff": cutoff,
        "cutoff_end": cutoff_end,
        "billing_run": scenario_run(cutoff),
        "production": PRODUCTION,
        "invoice_currency": currencies.invoices,
        "subscription_currency": currencies.subscriptions,
    }


def cutoff_end(cutoff: str) -> date:
    """The last day of a YYYY-MM cutoff."""
    return (pd.Period(cutoff, "M").end_time).date()


def stream_rows_sql(stream: str) -> str:
    """One stream's mart rows (without cutoff and run_id)."""
    return sql.STREAM_SQL[stream]


def write_revenue(
    con: duckdb.DuckDBPyConnection, cutoff: str, run_id: str | None, currencies: Currencies = Currencies()
) -> dict[str, int]:
    """Replace the cutoff's rows of marts.revenue by every stream's rows, in one transaction (delete +
    insert); returns the rows written per stream."""
    params = _params(cutoff, cutoff_end(cutoff), currencies)
    written: dict[str, int] = {}
    with transaction(con):
        con.execute(f"DELETE FROM {REVENUE_TABLE} WHERE cutoff = ?", [cutoff])
        for stream in STREAMS:
            select = f"SELECT $cutoff_key AS cutoff, *, $run_id AS run_id FROM ({sql.STREAM_SQL[stream]})"
            stream_params = {k: params[k] for k in sql.STREAM_PARAMS[stream]}
            written[stream] = replace_where(
                con,
                REVENUE_TABLE,
                select,
                key={"cutoff": cutoff, "stream": stream},
                params=stream_params | {"cutoff_key": cutoff, "run_id": run_id},
            )
    return written


def reconciliation(
    con: duckdb.DuckDBPyConnection, cutoff: str, currencies: Currencies = Currencies()
) -> pd.DataFrame:
    """Per stream and grain: actual and forecast values counted and summed in cents, in the stream's own
    tables (source_*) and in marts.revenue (mart_*), and whether they agree exactly."""
    params = _params(cutoff, cutoff_end(cutoff), currencies)
    rows = []
    for stream in STREAMS:
        source = con.execute(
            sql.SOURCE_TOTALS_SQL[stream], {k: params[k] for k in sql.SOURCE_TOTALS_PARAMS[stream]}
        ).fetchall()
        rows += [(stream, *r) for r in source]
    cols = ["n_actual", "actual", "n_forecast", "forecast"]
    src = pd.DataFrame(rows, columns=["stream", "grain", *cols])
    mart = pd.DataFrame(
        con.execute(sql.MART_TOTALS_SQL, {"cutoff": cutoff}).fetchall(), columns=["stream", "grain", *cols]
    )
    grid = pd.DataFrame([(s, g) for s in STREAMS for g in sql.GRAINS[s]], columns=["stream", "grain"])
    extra = mart[~mart.set_index(["stream", "grain"]).index.isin(grid.set_index(["stream", "grain"]).index)]
    grid = pd.concat([grid, extra[["stream", "grain"]]], ignore_index=True)
    out = grid.merge(src.add_prefix("source_").rename(columns={"source_stream": "stream", "source_grain": "grain"}),
                     how="left", on=["stream", "grain"])  # fmt: skip
    out = out.merge(mart.add_prefix("mart_").rename(columns={"mart_stream": "stream", "mart_grain": "grain"}),
                    how="left", on=["stream", "grain"])  # fmt: skip
    for side in ("source", "mart"):
        for c in ("n_actual", "n_forecast"):
            out[f"{side}_{c}"] = out[f"{side}_{c}"].fillna(0).astype(int)
        for c in ("actual", "forecast"):
            out[f"{side}_{c}"] = out[f"{side}_{c}"].map(_cents)
    out["matches"] = (
        (out["source_n_actual"] == out["mart_n_actual"])
        & (out["source_actual"] == out["mart_actual"])
        & (out["source_n_forecast"] == out["mart_n_forecast"])
        & (out["source_forecast"] == out["mart_forecast"])
    )
    return out


def _cents(value: object) -> Decimal:
    """A DECIMAL sum as exact cents (NULL, an empty sum, is zero)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return Decimal("0.00")
    return Decimal(value).quantize(Decimal("0.01"))


def stream_summary(con: duckdb.DuckDBPyConnection, cutoff: str) -> pd.DataFrame:
    """Rows and totals per stream and grain of the cutoff's mart rows (the stream total entity only)."""
    return con.execute(
        f"""SELECT stream, grain, currency, count(*) AS rows,
                   count(*) FILTER (WHERE entity = 'all') AS total_rows,
                   sum(actual) FILTER (WHERE entity = 'all') AS actual,
                   sum(forecast) FILTER (WHERE entity = 'all') AS forecast
            FROM {REVENUE_TABLE} WHERE cutoff = ? GROUP BY ALL ORDER BY stream, grain, currency""",
        [cutoff],
    ).df()
