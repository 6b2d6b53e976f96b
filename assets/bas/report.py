"""bas_report: the BAS data story as one HTML page beside the warehouse, plots in the asset metadata."""

import base64
from pathlib import Path

import dagster as dg

from assets.bas.checks import mart_check
from resources import WarehouseResource
from revcast.bas import (
    FULLBAS,
    daily_series_png,
    hourly_load_png,
    hourly_runs_png,
    outage_heatmap_png,
    render_bas_report,
)
from revcast.bas.store import MART_TABLES, analysis_from_marts

QUESTIONS = (
    "How and when users run BAS",
    "Full BAS and Simple BAS compared",
    "Seasonality and compute capacity",
    "outage window",
    "Organisation segments",
    "Key data points",
)


def report_path(warehouse_path: str) -> Path:
    """warehouse/reports/bas_report.html: the reports folder next to the warehouse file."""
    return Path(warehouse_path).parent / "reports" / "bas_report.html"


@dg.asset(
    group_name="bas",
    pool="duckdb",
    kinds={"html", "python"},
    owners=["team:product-analytics"],
    tags={"layer": "report"},
    deps=[f"bas_{name}" for name in MART_TABLES],
    check_specs=[
        dg.AssetCheckSpec(
            "bas_report_complete",
            asset="bas_report",
            blocking=True,
            description="The page exists and answers the four questions, the segments and the key data points.",
        )
    ],
)
def bas_report(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The data story for the BAS product manager, regenerated from the marts on every refresh."""
    with warehouse.connect(read_only=True) as con:
        analysis = analysis_from_marts(con)
    page = render_bas_report(analysis)
    path = report_path(warehouse.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    plots = {
        "runs_by_hour": hourly_runs_png(analysis.profiles),
        "daily_runs": daily_series_png(analysis.daily),
    }
    if analysis.hour_of_day["system"].eq(FULLBAS).any():
        plots["fullbas_runtime_by_hour"] = hourly_load_png(analysis.hour_of_day, FULLBAS)
    for system, windows in analysis.outage_windows.groupby("system"):
        grid = analysis.outage_grid.loc[analysis.outage_grid["system"].eq(system)]
        plots[f"{system}_outage_heatmap"] = outage_heatmap_png(grid, windows)
    metadata = {
        name: dg.MetadataValue.md(f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})")
        for name, png in plots.items()
    }
    for name, png in plots.items():
        (path.parent / f"bas_{name}.png").write_bytes(png)
    missing = [q for q in QUESTIONS if q not in page]
    check = mart_check("bas_report", "bas_report_complete", [f"missing section: {q}" for q in missing])
    metadata |= {"path": dg.MetadataValue.path(str(path)), "bytes": len(page.encode())}
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
