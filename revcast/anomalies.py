"""Day-level anomalies of the daily sources: a day whose row count or total is far from the same weekday of
the previous weeks.

For each day checked and each measure (the export's line count, and per source its totals), the history is the
same weekday in the `weeks` weeks before it (days that were ingested). The day is an anomaly when its robust
score, (value - median) / scale, exceeds `threshold` in either direction. The scale is 1.4826 x MAD (MAD: the
median absolute deviation of the history from its median; 1.4826 x MAD estimates the standard deviation of
normal data), but at least 5% of the median and at least 1. Fewer than MIN_HISTORY same-weekday days: not
judged. An ingested day without clean rows has totals 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

MIN_HISTORY = 4
MAD_TO_SIGMA = 1.4826
# the scale is at least 5% of the median (a steady history would otherwise flag one account more or less)
# and at least 1 (a count of a few runs a day)
MIN_RELATIVE_SCALE = 0.05

# per daily source: (ds, measure, value) totals over clean rows, for days between $first and $last
TOTALS_SQL = {
    "usage": """
        SELECT usage_date AS ds, 'total ' || metric AS measure, sum(quantity) AS value FROM clean.usage
        WHERE usage_date BETWEEN $first AND $last GROUP BY ALL""",
    "fullbas": """
        SELECT run_date AS ds, 'total runtime_seconds' AS measure, sum(runtime_seconds) AS value
        FROM clean.fullbas_runs WHERE run_date BETWEEN $first AND $last GROUP BY ALL""",
    "simplebas": None,  # report runs only: the line count is the measure
}

# the ingested days of a source and each day's line count, as the latest load recorded it
DAYS_SQL = """
SELECT TRY_CAST(partition_key AS DATE) AS ds, arg_max(lines_read, finished_at)::DOUBLE AS value
FROM audit.ingest_runs WHERE source = $source GROUP BY partition_key
HAVING TRY_CAST(partition_key AS DATE) BETWEEN $first AND $last
"""

RECORD_COLUMNS = ["source", "ds", "measure", "value", "median", "mad", "robust_z", "history_days"]


@dataclass(frozen=True)
class AnomalyReport:
    """Every judged (day, measure) of one source with its numbers; `flagged` holds the anomalies."""

    source: str
    threshold: float
    weeks: int
    judged: pd.DataFrame  # columns RECORD_COLUMNS[1:] + flagged

    @property
    def flagged(self) -> pd.DataFrame:
        return self.judged[self.judged["flagged"]].reset_index(drop=True)


def daily_measures(con: duckdb.DuckDBPyConnection, source: str, first: date, last: date) -> pd.DataFrame:
    """(ds, measure, value) of every ingested day in [first, last]: 'lines' and the source's totals."""
    if source not in TOTALS_SQL:
        raise ValueError(f"no anomaly measures for source {source!r}")
    params = {"source": source, "first": first, "last": last}
    days = con.execute(DAYS_SQL, params).df()
    frames = [days.assign(measure="lines")]
    if TOTALS_SQL[source]:
        totals = con.execute(TOTALS_SQL[source], {"first": first, "last": last}).df()
        for measure in sorted(totals["measure"].unique()):
            per_day = totals[totals["measure"] == measure].set_index("ds")["value"]
            frames.append(
                days[["ds"]].assign(measure=measure, value=days["ds"].map(per_day).fillna(0.0).to_numpy())
            )
    out = pd.concat(frames, ignore_index=True)
    out["ds"] = pd.to_datetime(out["ds"]).dt.date
    return out[["ds", "measure", "value"]]


def score(series: pd.DataFrame, days: list[date], *, threshold: float, weeks: int) -> pd.DataFrame:
    """Judge each of `days` in a (ds, measure, value) series against its same-weekday history."""
    by_key = {(r.ds, r.measure): r.value for r in series.itertuples(index=False)}
    rows = []
    for measure in sorted(series["measure"].unique()):
        for day in days:
            if (day, measure) not in by_key:
                continue
            history = np.array(
                [
                    by_key[(past, measure)]
                    for k in range(1, weeks + 1)
                    if (past := day - timedelta(days=7 * k), measure) in by_key
                ]
            )
            value = by_key[(day, measure)]
            if len(history) < MIN_HISTORY:
                rows.append((day, measure, value, np.nan, np.nan, np.nan, len(history), False))
                continue
            median = float(np.median(history))
            mad = float(np.median(np.abs(history - median)))
            scale = max(MAD_TO_SIGMA * mad, MIN_RELATIVE_SCALE * abs(median), 1.0)
            z = (value - median) / scale
            rows.append((day, measure, value, median, mad, z, len(history), bool(abs(z) > threshold)))
    return pd.DataFrame(rows, columns=[*RECORD_COLUMNS[1:], "flagged"])


def find_anomalies(
    con: duckdb.DuckDBPyConnection, source: str, days: list[date], *, threshold: float, weeks: int
) -> AnomalyReport:
    """Judge `days` of `source` (each against the same weekday of the `weeks` weeks before it)."""
    if not days:
        return AnomalyReport(
            source,
            threshold,
            weeks,
            score(pd.DataFrame(columns=["ds", "measure", "value"]), [], threshold=threshold, weeks=weeks),
        )
    series = daily_measures(con, source, min(days) - timedelta(days=7 * weeks), max(days))
    return AnomalyReport(
        source, threshold, weeks, score(series, sorted(days), threshold=threshold, weeks=weeks)
    )


def record_anomalies(
    con: duckdb.DuckDBPyConnection, report: AnomalyReport, days: list[date], run_id: str | None
) -> None:
    """Replace the anomalies of `days` of the report's source in audit.anomalies with the report's flagged rows."""
    flagged = report.flagged.assign(source=report.source, threshold=report.threshold, run_id=run_id)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM audit.anomalies WHERE source = ? AND ds IN (SELECT unnest(?::DATE[]))",
            [report.source, list(days)],
        )
        if len(flagged):
            con.register("_anomalies", flagged)
            con.execute(
                "INSERT INTO audit.anomalies (source, ds, measure, value, median, mad, robust_z, threshold, "
                "history_days, run_id, detected_at) SELECT source, ds, measure, value, median, mad, robust_z, "
                "threshold, history_days, run_id, now() FROM _anomalies"
            )
            con.unregister("_anomalies")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
