"""usage_profile: the usage EDA (statistics, distributions, correlation, seasonality, heavy users, outliers)."""

from pathlib import Path

import dagster as dg

from resources import WarehouseResource
from revcast.plots import png_data_uri
from revcast.usage.profile import build_profile, markdown_tables, read_profile_inputs, report_html


def report_path(warehouse_path: str) -> Path:
    """warehouse/reports/usage_profile.html next to the warehouse file."""
    return Path(warehouse_path).parent / "reports" / "usage_profile.html"


@dg.asset(
    group_name="usage",
    pool="duckdb",
    kinds={"duckdb", "python", "html"},
    owners=["team:data-science"],
    tags={"layer": "report"},
    deps=["usage_daily_totals"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_profile_report",
            asset="usage_profile",
            blocking=True,
            description="The HTML report is written and heavy-user shares lie in [0, 1] with top 1% <= top 10%.",
        )
    ],
)
def usage_profile(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Usage EDA over the whole history: plots and tables in the metadata, one HTML page in warehouse/reports/."""
    with warehouse.connect(read_only=True) as con:
        inputs = read_profile_inputs(con)
    totals = inputs.totals
    if totals.empty:
        raise dg.Failure("features.usage_daily_totals is empty: materialize usage_daily_totals first")
    profile = build_profile(inputs)
    path = report_path(warehouse.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(profile))
    heavy = profile.heavy
    shares_ok = bool(
        heavy[["top_1pct_share", "top_10pct_share"]].stack().between(0, 1).all()
        and (heavy["top_1pct_share"] <= heavy["top_10pct_share"] + 1e-12).all()
    )
    check = dg.AssetCheckResult(
        check_name="usage_profile_report",
        passed=path.exists() and path.stat().st_size > 0 and shares_ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"report_bytes": path.stat().st_size, "heavy_shares_valid": shares_ok},
    )
    tables = markdown_tables(profile)
    metadata = {name: dg.MetadataValue.md(md) for name, md in tables.items()}
    metadata |= {
        f"plot_{name}": dg.MetadataValue.md(f"![{name}]({png_data_uri(png)})")
        for name, png in profile.figures.items()
    }
    metadata |= {
        "report": dg.MetadataValue.path(str(path)),
        "days": int(totals["ds"].nunique()),
        "accounts": int(inputs.account_totals["account_id"].nunique()),
        **{
            f"{row.metric}_top_{p}pct_share": float(getattr(row, f"top_{p}pct_share"))
            for row in heavy.itertuples(index=False)
            for p in (1, 10)
        },
    }
    context.log.info(f"usage_profile: report written to {path}")
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
