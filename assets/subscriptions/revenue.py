"""The revenue plan per training cutoff: retention, new revenue, recurrent revenue, the plan mart and its report."""

import base64
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.metadata import table_definition, table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from assets.subscriptions.checks import plan_check_specs, plan_checks
from assets.subscriptions.models import DOMAIN, plan_horizon
from resources import WarehouseResource
from revcast.subscriptions.report import installs_png, plan_png, render_plan_report, retention_png
from revcast.subscriptions.revenue import (
    monthly_plan,
    new_revenue,
    recurrent_revenue,
    retention,
    revenue_plan,
)
from revcast.subscriptions.sql import installs_forecast, installs_series, purchases_through
from revcast.tournament import champion_artifacts
from revcast.warehouse import replace_with_frame, transaction

CUTOFF_ASSET = {
    "group_name": "subscriptions",
    "partitions_def": cutoff_partitions,
    "tags": {"revcast/partition": "cutoff"},
    "owners": ["team:finance"],
}


def _md_png(name: str, png: bytes) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})")


def _non_negative(asset: str, check: str, frame: pd.DataFrame, columns: list[str]) -> dg.AssetCheckResult:
    bad = int((frame[columns] < 0).any(axis=1).sum() + frame[columns].isna().any(axis=1).sum())
    return dg.AssetCheckResult(asset_key=asset, check_name=check, passed=bad == 0, metadata={"bad_rows": bad})


def _write(con, table: str, frame: pd.DataFrame, cutoff: str) -> dict:
    out = frame.assign(cutoff=cutoff)
    for column in ("ds", "month"):
        if column in out:
            out[column] = pd.to_datetime(out[column]).dt.date
    replace_with_frame(con, table, out, key={"cutoff": cutoff})
    return table_metadata(con, table, "cutoff = ?", [cutoff])


@dg.asset(
    metadata=table_definition("marts.subscription_retention"),
    **CUTOFF_ASSET,
    pool="duckdb",
    kinds={"duckdb", "python"},
    deps=["subscription_purchases", "subscription_plan"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_retention_ratios_valid",
            asset="subscription_retention",
            blocking=True,
            description="Renewal ratios in [0, 1] (more renewals than renewable purchases is a data error).",
        )
    ],
)
def subscription_retention(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Renewal ratio of billing cycle i -> i+1 per (platform, product, duration) among cohorts that could have
    renewed by the cutoff, and its cumulative product (the retention curve); where fewer than 30 purchases
    support a ratio it is 0.8 (monthly, cycle <= 12), 0.9 (monthly, later) or 0.5 (annual), and
    `ratio_source` says which. The curves per product are in the metadata."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        plan, _, end, _ = plan_horizon(con, last_day)
        purchases = purchases_through(con, last_day.date())
    plan.check_products(purchases)
    ratios = retention(purchases, plan, last_day.date(), end)
    with warehouse.connect() as con:
        metadata = _write(con, "marts.subscription_retention", ratios, cutoff)
    curves = {
        f"{p}/{pid}": dg.MetadataValue.json(
            {int(r.billing_cycle): round(float(r.retention), 4) for r in rows.itertuples()}
        )
        for (p, pid), rows in ratios.groupby(["platform", "product_id"])
    }
    bad = ratios[(ratios["renewal_ratio"] < 0) | (ratios["renewal_ratio"] > 1)]
    metadata |= {
        "retention_curves": _md_png("retention", retention_png(ratios)),
        "ratio_sources": dg.MetadataValue.json(ratios["ratio_source"].value_counts().to_dict()),
        **{f"curve {k}": v for k, v in curves.items()},
    }
    check = dg.AssetCheckResult(
        check_name="subscription_retention_ratios_valid",
        passed=bad.empty,
        metadata={
            "bad_rows": len(bad),
            "examples": dg.MetadataValue.md(bad.head(10).to_markdown(index=False)),
        },
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    metadata=table_definition("marts.subscription_new_revenue"),
    **CUTOFF_ASSET,
    pool="duckdb",
    kinds={"duckdb", "python"},
    deps=["subscription_installs_forecasts", "subscription_plan"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_new_revenue_non_negative",
            asset="subscription_new_revenue",
            blocking=True,
            description="No negative or NaN purchases or revenue.",
        )
    ],
)
def subscription_new_revenue(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """New subscriptions of the forecast installs, per day, platform and product: accesses = installs x
    install2access (of that month) x share, purchases = accesses x trial2purchase, revenue = purchases x price x
    first-year commission; bounds from the installs forecast's 80/95% intervals."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        plan, _, _, _ = plan_horizon(con, last_day)
        installs = installs_forecast(con, cutoff)
    if installs.empty:
        raise ValueError(
            f"no installs forecast for cutoff {cutoff}: materialize subscription_installs_forecasts"
        )
    new = new_revenue(installs, plan)
    with warehouse.connect() as con:
        metadata = _write(con, "marts.subscription_new_revenue", new, cutoff)
    cols = [c for c in new.columns if c.startswith(("purchases", "revenue", "accesses"))]
    metadata["revenue_by_platform"] = dg.MetadataValue.json(
        new.groupby("platform")["revenue"].sum().round(2).to_dict()
    )
    check = _non_negative("subscription_new_revenue", "subscription_new_revenue_non_negative", new, cols)
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    metadata=table_definition("marts.subscription_recurrent_revenue"),
    **CUTOFF_ASSET,
    pool="duckdb",
    kinds={"duckdb", "python"},
    deps=["subscription_retention", "subscription_new_revenue", "subscription_purchases"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_recurrent_revenue_non_negative",
            asset="subscription_recurrent_revenue",
            blocking=True,
            description="No negative or NaN renewals or revenue.",
        )
    ],
)
def subscription_recurrent_revenue(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Renewals falling due in the plan period, per platform (never mixed across platforms): every purchase
    before the cutoff whose next renewal is still to come, and every forecast new purchase, renews with its
    cycle's renewal ratio; revenue = renewals x price x commission (the later-years rate from the 13th month)."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        plan, start, end, _ = plan_horizon(con, last_day)
        history = purchases_through(con, last_day.date())
        ratios = con.execute("SELECT * FROM marts.subscription_retention WHERE cutoff = ?", [cutoff]).df()
        new = con.execute("SELECT * FROM marts.subscription_new_revenue WHERE cutoff = ?", [cutoff]).df()
    if ratios.empty or new.empty:
        raise ValueError(
            f"cutoff {cutoff}: materialize subscription_retention and subscription_new_revenue first"
        )
    recurrent = recurrent_revenue(history, new, ratios, plan, last_day.date(), start, end)
    with warehouse.connect() as con:
        metadata = _write(con, "marts.subscription_recurrent_revenue", recurrent, cutoff)
    by = recurrent.groupby(["platform", "origin"])["revenue"].sum().round(2)
    metadata["revenue_by_platform_and_origin"] = dg.MetadataValue.json(
        {f"{p}/{o}": v for (p, o), v in by.items()}
    )
    cols = [c for c in recurrent.columns if c.startswith(("purchases", "revenue"))]
    check = _non_negative(
        "subscription_recurrent_revenue", "subscription_recurrent_revenue_non_negative", recurrent, cols
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    metadata=table_definition("marts.subscription_revenue_plan"),
    **CUTOFF_ASSET,
    pool="duckdb",
    kinds={"duckdb", "python"},
    deps=["subscription_new_revenue", "subscription_recurrent_revenue"],
    check_specs=plan_check_specs(),
)
def subscription_revenue_plan(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The revenue plan per day and platform (and 'all', the sum over platforms) of new, recurrent and total
    revenue with 80/95% bounds carried from the installs forecast, in marts.subscription_revenue_plan, and its
    monthly roll-up in marts.subscription_revenue_plan_monthly."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        plan, start, end, _ = plan_horizon(con, last_day)
        new = con.execute("SELECT * FROM marts.subscription_new_revenue WHERE cutoff = ?", [cutoff]).df()
        recurrent = con.execute(
            "SELECT * FROM marts.subscription_recurrent_revenue WHERE cutoff = ?", [cutoff]
        ).df()
    daily = revenue_plan(new, recurrent, list(plan.platforms), start, end).assign(run_id=context.run_id)
    monthly = monthly_plan(daily.drop(columns="run_id")).assign(run_id=context.run_id)
    with warehouse.connect() as con:
        with transaction(con):
            for table, frame in (
                ("marts.subscription_revenue_plan", daily),
                ("marts.subscription_revenue_plan_monthly", monthly),
            ):
                con.register("_plan_rows", frame.assign(cutoff=cutoff, **_dates(frame)))
                try:
                    con.execute(f"DELETE FROM {table} WHERE cutoff = ?", [cutoff])
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _plan_rows")
                finally:
                    con.unregister("_plan_rows")
        checks = plan_checks(con, cutoff)
        metadata = table_metadata(con, "marts.subscription_revenue_plan", "cutoff = ?", [cutoff])
    totals = monthly[(monthly["revenue_type"] == "total")][["month", "platform", "revenue", "lo_80", "hi_80"]]
    metadata |= {
        "plan_period": f"{start} to {end}",
        "monthly_total": dg.MetadataValue.md(totals.to_markdown(index=False, floatfmt=",.0f")),
        "plan": _md_png("plan", plan_png(daily)),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def _dates(frame: pd.DataFrame) -> dict:
    return {c: pd.to_datetime(frame[c]).dt.date for c in ("ds", "month") if c in frame}


def report_path(warehouse_path: str, cutoff: str) -> Path:
    """warehouse/reports/subscription_revenue_plan_<cutoff>.html, next to the warehouse file."""
    return Path(warehouse_path).parent / "reports" / f"subscription_revenue_plan_{cutoff}.html"


@dg.asset(
    **(CUTOFF_ASSET | {"tags": {"revcast/partition": "cutoff", "revcast/warehouse": "read-only"}}),
    kinds={"html", "python"},
    deps=["subscription_revenue_plan", "subscription_retention", "subscription_installs_forecasts"],
    check_specs=[
        dg.AssetCheckSpec(
            "subscription_plan_report_complete",
            asset="subscription_plan_report",
            description="The page exists with the monthly plan, the installs forecast and the retention curves.",
        )
    ],
)
def subscription_plan_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The revenue plan as one HTML page under warehouse/reports/ (monthly totals with bounds, the daily plan
    per platform, the installs forecast and its champions, the retention curves); the figures in the metadata."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        _, start, end, _ = plan_horizon(con, last_day)
        daily = con.execute("SELECT * FROM marts.subscription_revenue_plan WHERE cutoff = ?", [cutoff]).df()
        monthly = con.execute(
            "SELECT * FROM marts.subscription_revenue_plan_monthly WHERE cutoff = ? ORDER BY month", [cutoff]
        ).df()
        ratios = con.execute("SELECT * FROM marts.subscription_retention WHERE cutoff = ?", [cutoff]).df()
        forecast = installs_forecast(con, cutoff)
        history = installs_series(con, last_day.date())
        champions = champion_artifacts(con, DOMAIN, cutoff)[["unique_id", "model", "fallback_reason"]]
    plots = {
        "plan": plan_png(daily),
        "installs": installs_png(history, forecast),
        "retention": retention_png(ratios),
    }
    page = render_plan_report(cutoff, str(start), str(end), monthly, champions, plots)
    path = report_path(warehouse.path, cutoff)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    sections = ("Monthly plan", "Installs forecast", "Retention curves")
    missing = [s for s in sections if s not in page]
    metadata = {name: _md_png(name, png) for name, png in plots.items()}
    metadata |= {"path": dg.MetadataValue.path(str(path)), "bytes": len(page.encode())}
    check = dg.AssetCheckResult(
        check_name="subscription_plan_report_complete",
        passed=not missing,
        metadata={"missing_sections": ", ".join(missing) or "none"},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
