"""Reconciliation of marts.revenue with each stream's own tables: blocking checks, one per stream, that read the
finished table (runnable on their own for any cutoff)."""

import dagster as dg
import pandas as pd

from assets.partitions import cutoff_of
from resources import WarehouseResource
from revcast.revenue import REVENUE_TABLE, STREAMS, reconciliation

SOURCES = {
    "usage": "marts.usage_revenue_daily / marts.usage_revenue_monthly",
    "billing": "billing.bills / billing.cdr (run scenarios/<cutoff>, target production)",
    "invoices": "features.invoice_daily_revenue / forecasts.invoice_revenue_forecasts",
    "subscriptions": "marts.subscription_revenue_plan / _monthly (revenue_type total)",
}


def check_name(stream: str) -> str:
    return f"revenue_reconciles_{stream}"


def reconciliation_result(frame: pd.DataFrame, stream: str) -> dg.AssetCheckResult:
    """The check result of one stream from reconciliation()'s rows (one or more cutoffs): passed when every
    cutoff and grain matches."""
    rows = frame[frame["stream"] == stream]
    bad = rows[~rows["matches"]]
    shown = rows.drop(columns="stream").astype(str)
    metadata = {
        "cutoffs": ", ".join(sorted(rows["cutoff"].unique())) or "none",
        "source": SOURCES[stream],
        "grains_compared": len(rows),
        "mismatched_grains": len(bad),
        "totals": dg.MetadataValue.md(shown.to_markdown(index=False) if len(shown) else "_none_"),
    }
    for grain, g in rows.groupby("grain"):
        metadata[f"{grain}_actual_gap"] = float(sum(g["mart_actual"] - g["source_actual"]))
        metadata[f"{grain}_forecast_gap"] = float(sum(g["mart_forecast"] - g["source_forecast"]))
    where = ", ".join(f"{r.cutoff} {r.grain}" for r in bad.itertuples())
    return dg.AssetCheckResult(
        asset_key="revenue",
        check_name=check_name(stream),
        passed=bad.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if bad.empty
        else f"{stream}: marts.revenue differs from {SOURCES[stream]} at {where}",
        metadata=metadata,
    )


def _reconciliation_check(stream: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset="revenue",
        name=check_name(stream),
        blocking=True,
        description=f"The {stream} rows of marts.revenue equal {SOURCES[stream]} to the cent: per cutoff and "
        "grain, the count and DECIMAL(18,2) sum of actuals and of forecasts. In the revenue asset's run it "
        "reconciles the run's cutoff; run on its own, every cutoff in the mart.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            if context.has_partition_key:
                cutoffs = [cutoff_of(context)[0]]
            else:
                cutoffs = [
                    r[0]
                    for r in con.execute(f"SELECT DISTINCT cutoff FROM {REVENUE_TABLE} ORDER BY 1").fetchall()
                ]
            frames = [reconciliation(con, c).assign(cutoff=c) for c in cutoffs]
        frame = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["stream", "grain", "cutoff", "matches"])
        )
        return reconciliation_result(frame, stream)

    return _check


revenue_reconciliation_checks = [_reconciliation_check(s) for s in STREAMS]
