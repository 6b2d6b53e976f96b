"""The conformed revenue mart (marts.revenue), the Parquet exports of every mart and the revenue dashboard."""

from pathlib import Path

import dagster as dg
import pandas as pd

from assets.metadata import table_definition, table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import WarehouseResource
from revcast.revenue import (
    REVENUE_TABLE,
    STREAMS,
    Currencies,
    export_marts,
    exports_dir,
    latest_cutoff,
    read_dashboard,
    render_dashboard,
    write_revenue,
)
from revcast.revenue.dashboard import summary_markdown
from revcast.revenue.mart import stream_summary


class RevenueMartConfig(dg.Config):
    """Currencies of the streams whose sources carry none (usage and billing rows keep their own)."""

    invoice_currency: str = "USD"
    subscription_currency: str = "USD"


@dg.asset(
    group_name="revenue",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff", "layer": "mart"},
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:fpa"],
    metadata=table_definition(REVENUE_TABLE),
    deps=[
        "usage_revenue",
        "pricing_scenarios",
        "invoice_daily_revenue",
        "invoice_revenue_forecasts",
        "subscription_installs_forecasts",
        "subscription_revenue_plan",
    ],
)
def revenue(
    context: dg.AssetExecutionContext, config: RevenueMartConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every revenue stream of a training cutoff in one long table, marts.revenue (daily and monthly, actual in
    cents and forecast with 80/95% intervals, per entity and 'all'): usage priced by the price book, the billing
    engine's bills of the forecast usage, invoice revenue and the subscription revenue plan, each copied from its
    own mart. A rerun replaces the cutoff's rows in one transaction."""
    cutoff, _ = cutoff_of(context)
    currencies = Currencies(invoices=config.invoice_currency, subscriptions=config.subscription_currency)
    with warehouse.connect() as con:
        written = write_revenue(con, cutoff, context.run_id, currencies)
        summary = stream_summary(con, cutoff)
        metadata = table_metadata(con, REVENUE_TABLE, "cutoff = ?", [cutoff])
    missing = [s for s in STREAMS if not written[s]]
    if missing:
        context.log.warning(f"revenue {cutoff}: no rows for stream(s) {', '.join(missing)}")
    metadata |= {
        "rows_by_stream": dg.MetadataValue.json(written),
        "streams_missing": ", ".join(missing) or "none",
        "stream_totals": dg.MetadataValue.md(
            summary.to_markdown(index=False, floatfmt=",.2f") if len(summary) else "_no rows_"
        ),
    }
    return dg.MaterializeResult(metadata=metadata)


def _mart_writers() -> list[dg.AssetKey]:
    """The assets that write marts.* tables: the revenue marts of every group and the BAS marts."""
    from assets import bas

    bas_marts = [
        key
        for a in bas.defs.assets
        for key in a.keys
        if key.to_user_string().startswith("bas_") and key.to_user_string() != "bas_report"
    ]
    named = ["revenue", "usage_revenue", "usage_forecast_accuracy", "global_forecasts", "pricing_scenarios",
             "subscription_retention", "subscription_new_revenue", "subscription_recurrent_revenue",
             "subscription_revenue_plan"]  # fmt: skip
    return [dg.AssetKey(n) for n in named] + bas_marts


@dg.asset(
    group_name="revenue",
    pool="duckdb",
    kinds={"parquet", "duckdb"},
    owners=["team:fpa"],
    tags={"layer": "export"},
    deps=_mart_writers(),
    check_specs=[
        dg.AssetCheckSpec(
            "revenue_exports_complete",
            asset="revenue_exports",
            blocking=True,
            description="Every marts.* table is exported, with as many Parquet rows as the table has.",
        )
    ],
)
def revenue_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every marts.* table as a Parquet dataset under exports/<table>/month=YYYY-MM/ next to the warehouse file
    (hive-style, split by the table's month, date or day column, else its cutoff), written into a staging folder
    and swapped in whole: a crash leaves the previous export."""
    import pyarrow.dataset as pads

    root = exports_dir(warehouse.path)
    with warehouse.connect(read_only=True) as con:
        exported = export_marts(con, root)
        counts = {e.table: con.execute(f"SELECT count(*) FROM {e.table}").fetchall()[0][0] for e in exported}
    files = {e.table: _dataset_rows(pads, root / e.table.split(".", 1)[1]) for e in exported}
    frame = pd.DataFrame(
        [
            {
                "table": e.table,
                "rows": e.rows,
                "parquet_rows": files[e.table],
                "month_from": e.month_column or "none",
                "months": e.months,
            }
            for e in exported
        ]
    )
    bad = [t for t in counts if counts[t] != files[t]]
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(int(frame["rows"].sum()) if len(frame) else 0),
        # the export's manifest: one row per exported table
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()]
        ),
        "path": dg.MetadataValue.path(str(root)),
        "url": dg.MetadataValue.url(root.resolve().as_uri()),
        "tables": len(exported),
        "exports": dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_no marts_"),
    }
    check = dg.AssetCheckResult(
        check_name="revenue_exports_complete",
        passed=not bad and len(exported) > 0,
        metadata={"tables": len(exported), "row_count_mismatches": ", ".join(bad) or "none"},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


def _dataset_rows(pads, folder: Path) -> int:
    """Rows of a hive-partitioned Parquet dataset (0 when the table had none and no file was written)."""
    if not any(folder.rglob("*.parquet")):
        return 0
    import pyarrow as pa

    # the key read as text: an all-NULL key (month=__HIVE_DEFAULT_PARTITION__ only) has no type to infer
    key = pads.partitioning(pa.schema([("month", pa.string())]), flavor="hive")
    return pads.dataset(folder, format="parquet", partitioning=key).count_rows()


def dashboard_path(warehouse_path: str) -> Path:
    """reports/revenue_dashboard.html next to the warehouse file."""
    return Path(warehouse_path).parent / "reports" / "revenue_dashboard.html"


def _check_keys(context: dg.AssetExecutionContext) -> list[dg.AssetCheckKey]:
    """Every check of the code location; an in-process run (dg.materialize) has no code location, so there
    the checks the instance has seen evaluated."""
    try:
        return list(context.repository_def.asset_graph.asset_check_keys)
    except Exception:
        records = context.instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), limit=10_000
        )
        seen = {r.event_log_entry.dagster_event.event_specific_data.asset_check_key for r in records}
        return sorted(seen, key=lambda k: k.to_user_string())


def failed_checks(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """The checks whose latest evaluation failed (asset, check, partition, severity, run)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    records = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(_check_keys(context))
    rows = []
    for key, record in sorted(records.items(), key=lambda kv: kv[0].to_user_string()):
        if record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        evaluation = record.event.dagster_event.event_specific_data if record.event else None
        rows.append(
            {
                "asset": key.asset_key.to_user_string(),
                "check": key.name,
                "partition": record.partition or "",
                "severity": evaluation.severity.value if evaluation else "",
                "run": record.run_id[:8],
            }
        )
    return pd.DataFrame(rows, columns=["asset", "check", "partition", "severity", "run"])


class DashboardConfig(dg.Config):
    """cutoff: YYYY-MM to show (empty: the newest cutoff in marts.revenue)."""

    cutoff: str = ""


@dg.asset(
    group_name="revenue",
    kinds={"html", "python"},
    owners=["team:fpa"],
    tags={"layer": "report", "revcast/warehouse": "read-only"},
    deps=["revenue", "usage_models", "invoice_revenue_models", "subscription_installs_models"],
    check_specs=[
        dg.AssetCheckSpec(
            "revenue_dashboard_complete",
            asset="revenue_dashboard",
            description="The page exists with every stream, the total, the tournaments and the quality summary.",
        )
    ],
)
def revenue_dashboard(
    context: dg.AssetExecutionContext, config: DashboardConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One self-contained HTML page, reports/revenue_dashboard.html next to the warehouse file: actual vs forecast
    with 80/95% intervals per stream and in total (monthly) for the newest cutoff of marts.revenue, the model
    tournament of each domain, and data quality (quarantined lines per source, failed checks, anomalies,
    failed runs)."""
    with warehouse.connect(read_only=True) as con:
        cutoff = config.cutoff or latest_cutoff(con)
        if not cutoff:
            raise ValueError("marts.revenue is empty: materialize the revenue asset for a cutoff first")
        data = read_dashboard(con, cutoff, failed_checks(context))
    page = render_dashboard(data)
    path = dashboard_path(warehouse.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    sections = [f"stream-{s}" for s in ("total", *STREAMS)] + ["tournament", "quality-summary"]
    missing = [s for s in sections if f"id='{s}'" not in page]
    metadata = {
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.resolve().as_uri()),
        "cutoff": cutoff,
        "bytes": len(page.encode()),
        "summary": dg.MetadataValue.md(summary_markdown(data)),
        "dagster/row_count": dg.MetadataValue.int(len(data.monthly)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(str(c), str(t)) for c, t in data.monthly.dtypes.items()]
        ),
    }
    check = dg.AssetCheckResult(
        check_name="revenue_dashboard_complete",
        passed=not missing,
        metadata={"missing_sections": ", ".join(missing) or "none"},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
