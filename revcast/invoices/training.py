"""The invoice models' training frame: daily revenue per series from features.invoice_daily_revenue."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from revcast.invoices.series import ALL
from revcast.training import fill_gaps

EXOG_COLUMNS = ("unique_invoices", "views")  # read by the revenue net's features
TRAINING_SQL = """
WITH top AS (
    SELECT unique_id FROM features.invoice_daily_revenue
    WHERE unique_id <> $all AND ds <= $cutoff GROUP BY unique_id
    ORDER BY sum(revenue) DESC, unique_id LIMIT $n
)
SELECT unique_id, ds, revenue AS y, unique_invoices, views, observed
FROM features.invoice_daily_revenue
WHERE ds <= $cutoff AND (unique_id = $all OR unique_id IN (SELECT unique_id FROM top))
ORDER BY unique_id, ds
"""
"""The feature table's rows through the cutoff of 'all' and the `n` countries with most revenue by then."""


def training_series(con: duckdb.DuckDBPyConnection, cutoff: date, countries: int = 10) -> pd.DataFrame:
    """unique_id, ds, y (revenue), unique_invoices, views, observed for 'all' and the top `countries`, every
    day from a series' first observed day through `cutoff`; days of months never ingested interpolated and
    flagged (revcast.training.fill_gaps)."""
    frame = con.execute(TRAINING_SQL, {"cutoff": cutoff, "all": ALL, "n": int(countries)}).df()
    return fill_gaps(frame, cutoff, ("y", *EXOG_COLUMNS))
