"""Usage features: daily totals per metric and account (daily partitions), and the model feature table."""

import dagster as dg

from assets.metadata import table_definition, table_metadata
from assets.partitions import daily_partitions
from resources import WarehouseResource
from revcast.usage import sql
from revcast.usage.features import ACCOUNT_DAILY_SQL, DAILY_TOTALS_SQL, USAGE_FEATURES, build_usage_features
from revcast.warehouse import replace_window, transaction


@dg.asset(
    metadata=table_definition("features.usage_daily_totals"),
    group_name="usage",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:data-engineering"],
    tags={"layer": "features"},
    deps=["usage_records"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_totals_match_clean",
            asset="usage_daily_totals",
            blocking=True,
            description="Per metric, the window's daily totals and per-account rows sum to clean.usage exactly.",
        )
    ],
)
def usage_daily_totals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily usage per metric (total, active accounts) in features.usage_daily_totals and per account in
    features.usage_account_daily; an ingested day without usage is a zero, a day of the window that was not
    ingested is a row with observed = false and NULL quantity."""
    window = context.partition_time_window
    params = {"start": window.start.date(), "end": window.end.date()}
    with warehouse.connect() as con:
        with transaction(con):
            totals = replace_window(
                con, "features.usage_daily_totals", DAILY_TOTALS_SQL, column="ds", params=params, **params
            )
            accounts = replace_window(
                con, "features.usage_account_daily", ACCOUNT_DAILY_SQL, column="ds", params=params, **params
            )
        gaps = con.execute(sql.TOTALS_VS_CLEAN, params).fetchall()
        unobserved = con.execute(sql.UNOBSERVED_DAYS, params).fetchall()[0][0]
        metadata = table_metadata(con, "features.usage_daily_totals", "ds >= $start AND ds < $end", params)
    bad = [
        m
        for m, q, tq, aq, n, an in gaps
        if abs(q - tq) > 1e-6 * max(1.0, abs(q)) or abs(q - aq) > 1e-6 * max(1.0, abs(q))
    ]
    check = dg.AssetCheckResult(
        check_name="usage_totals_match_clean",
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"totals differ from clean.usage for {bad}" if bad else None,
        metadata={
            "metrics": len(gaps),
            "clean_quantity": float(sum(g[1] for g in gaps)),
            "totals_quantity": float(sum(g[2] for g in gaps)),
            "account_quantity": float(sum(g[3] for g in gaps)),
        },
    )
    metadata |= {
        "days": len(context.partition_keys),
        "unobserved_days": int(unobserved),
        "rows_totals": totals,
        "rows_account_daily": accounts,
    }
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    metadata=table_definition("features.usage_features", fixed=False),
    group_name="usage",
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:data-science"],
    tags={"layer": "features"},
    deps=["usage_daily_totals"],
    check_specs=[
        dg.AssetCheckSpec(
            "usage_features_past_only",
            asset="usage_features",
            blocking=True,
            description="lag_k equals the total k days earlier and rolling_mean_w the mean of the w days before.",
        )
    ],
)
def usage_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Model features per metric and day in features.usage_features, the usage models' training table: the
    daily total and its observed flag, calendar and holidays, lags 1..180 and rolling mean/std over 3/7/28
    past days (USAGE_FEATURES). Rebuilt whole: it holds the history every training cutoff reads."""
    cfg = USAGE_FEATURES
    lags, windows = cfg.lags, cfg.rolling_windows
    with warehouse.connect() as con:
        rows = build_usage_features(con, cfg)
        worst = con.execute(sql.lag_check_sql(max(lags))).fetchall()[0]
        roll = con.execute(sql.rolling_check_sql(windows[0])).fetchall()[0][0]
        span = con.execute(sql.FEATURES_SPAN).fetchall()[0]
        preview = con.execute(sql.FEATURES_PREVIEW).df()
        metadata = table_metadata(con, "features.usage_features", preview=0)
    passed = worst[0] < 1e-6 and worst[1] == 0 and roll < 1e-6
    check = dg.AssetCheckResult(
        check_name="usage_features_past_only",
        passed=bool(passed),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "max_lag_gap": float(worst[0]),
            "unmatched_lags": int(worst[1]),
            "max_rolling_gap": float(roll),
        },
    )
    metadata |= {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "first_day": str(span[0]),
        "last_day": str(span[1]),
        "metrics": int(span[2]),
        "unobserved_rows": int(span[4]),
        "holiday_country": cfg.holiday_country or "",
        "holiday_rows": int(span[3]),
        "lags": f"{min(lags)}..{max(lags)}",
        "rolling_windows": str(list(windows)),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "_no rows_"),
    }
    context.log.info(f"usage_features: {rows} rows, {span[2]} metric(s), {span[0]}..{span[1]}")
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
