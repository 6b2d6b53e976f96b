"""The usage models' training frame: daily totals per metric from features.usage_features through a cutoff."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from revcast.training import fill_gaps
from revcast.usage.features import cutoff_end

TRAINING_SQL = """
SELECT metric AS unique_id, ds, quantity AS y, observed
FROM features.usage_features
WHERE ds <= $cutoff
ORDER BY unique_id, ds
"""
"""The feature table's rows through the cutoff (the table is a dense daily spine with an observed flag)."""


def training_series(con: duckdb.DuckDBPyConnection, cutoff: str | date) -> pd.DataFrame:
    """unique_id (metric), ds, y (daily total), observed: every day from a metric's first observed day through
    the cutoff's last day; unobserved inner days interpolated and flagged (revcast.training.fill_gaps)."""
    end = cutoff_end(cutoff)
    return fill_gaps(con.execute(TRAINING_SQL, {"cutoff": end}).df(), end)
