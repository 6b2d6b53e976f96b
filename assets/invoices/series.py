"""Daily revenue per country and for 'all', and the 30-day revenue features with the 30-day target."""

import dagster as dg

from assets.metadata import table_definition, table_metadata
from resources import WarehouseResource
from revcast.invoices import sql
from revcast.invoices.series import all_minus_countries, ingested_range, series_completeness
from revcast.invoices.sql import DAILY_TABLE, FEATURES_TABLE
from revcast.warehouse import replace_where, transaction


@dg.asset(
    metadata=table_definition(DAILY_TABLE),
    group_name="invoices",
    deps=["invoice_records"],
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:forecasting"],
    tags={"layer": "features"},
    check_specs=[
        dg.AssetCheckSpec(
            "invoice_daily_revenue_complete",
            asset="invoice_daily_revenue",
            blocking=True,
            description="Every series has exactly one row per calendar day of the ingested months, last day included.",
        ),
        dg.AssetCheckSpec(
            "invoice_daily_revenue_all_is_sum",
            asset="invoice_daily_revenue",
            blocking=True,
            description="Each day, the 'all' series' revenue, purchases and views equal the sum over countries.",
        ),
    ],
)
def invoice_daily_revenue(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily revenue, purchases, unique invoices, unique streams and views per country and for 'all', every
    calendar day of the ingested months (zero days included); cancellations excluded and counted apart. A
    day of a month without any invoice line is observed = false with NULL measures (never a zero)."""
    with warehouse.connect() as con:
        window = ingested_range(con)
        if window is None:
            raise dg.Failure("no invoice month ingested yet: materialize invoice_records first")
        start, end = window
        with transaction(con):
            rows = replace_where(
                con,
                DAILY_TABLE,
                sql.DAILY_REVENUE,
                key={},
                params={"start": start, "end": end},
            )
        incomplete = series_completeness(con, start, end, daily=DAILY_TABLE)
        mismatched = all_minus_countries(con, daily=DAILY_TABLE)
        series, unobserved = con.execute(sql.DAILY_SERIES_AND_UNOBSERVED_DAYS).fetchall()[0]
        metadata = table_metadata(con, DAILY_TABLE)
    context.log.info(f"invoice_daily_revenue: {rows} rows, {series} series, {start}..{end}")
    checks = [
        dg.AssetCheckResult(
            check_name="invoice_daily_revenue_complete",
            passed=not incomplete and rows > 0,
            description=None
            if not incomplete
            else "; ".join(f"{u}: {n} rows, {d} days, {a}..{b}" for u, n, d, a, b in incomplete[:5]),
            metadata={"series": series, "days": (end - start).days + 1, "incomplete_series": len(incomplete)},
        ),
        dg.AssetCheckResult(
            check_name="invoice_daily_revenue_all_is_sum",
            passed=not mismatched,
            description=None
            if not mismatched
            else "; ".join(f"{ds} {m}: all - countries = {d}" for ds, m, d in mismatched[:5]),
            metadata={"mismatched_days": len({ds for ds, _, _ in mismatched})},
        ),
    ]
    metadata |= {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "series": series,
        "unobserved_days": int(unobserved),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


@dg.asset(
    metadata=table_definition(FEATURES_TABLE),
    group_name="invoices",
    deps=["invoice_daily_revenue"],
    pool="duckdb",
    kinds={"duckdb", "sql"},
    owners=["team:forecasting"],
    tags={"layer": "features"},
    check_specs=[
        dg.AssetCheckSpec(
            "invoice_features_cover_series",
            asset="invoice_features",
            blocking=True,
            description="One feature row per series and day; the target is known for every day whose next 30 days "
            "are all observed (all but the last 29 days when no month is missing).",
        )
    ],
)
def invoice_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The 30-day revenue features for each day d (revenue of the previous 7/14/28/70 days and of the same 30 days a
    year earlier, mean invoices and views over the previous 30 days) and the target, revenue of d..d+29."""
    with warehouse.connect() as con:
        with transaction(con):
            rows = replace_where(
                con,
                FEATURES_TABLE,
                sql.INVOICE_FEATURES,
                key={},
                params={"start": None, "end": None},
            )
        problems = con.execute(sql.FEATURES_COVERAGE_PROBLEMS).fetchall()
        metadata = table_metadata(con, FEATURES_TABLE)
    context.log.info(f"invoice_features: {rows} rows")
    check = dg.AssetCheckResult(
        check_name="invoice_features_cover_series",
        passed=not problems and rows > 0,
        description=None
        if not problems
        else "; ".join(f"{u}: {d} days, {f} feature rows, {t} targets" for u, d, f, t in problems[:5]),
        metadata={"series_with_problems": len(problems)},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
