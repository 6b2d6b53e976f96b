"""pricing_scenarios: every candidate pricing model rated on a cutoff's forecast usage against production."""

from pathlib import Path

import dagster as dg

from assets.metadata import plot_metadata, table_definition, table_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import LandingZoneResource, WarehouseResource
from revcast.billing import load_pricing
from revcast.billing.scenarios import (
    SCENARIOS_TABLE,
    evaluate_scenarios,
    scenario_run,
    scenario_summary,
    scenarios_png,
)


def pricing_dir(landing: LandingZoneResource) -> Path:
    """The pricing models: the landing zone's pricing/*.yaml."""
    return Path(landing.root) / "pricing"


@dg.asset(
    metadata=table_definition(SCENARIOS_TABLE),
    group_name="billing",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:finance"],
    deps=["account_forecasts"],
    check_specs=[
        dg.AssetCheckSpec(
            "pricing_scenarios_all_rated",
            asset="pricing_scenarios",
            blocking=True,
            description="Every forecast usage record is priced under every pricing model (none quarantined).",
        )
    ],
)
def pricing_scenarios(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, landing: LandingZoneResource
) -> dg.MaterializeResult:
    """Every candidate pricing model (pricing/*.yaml) evaluated on the cutoff's per-account forecast usage against
    production: revenue per month and account segment, the difference, and the accounts whose bill rises or falls
    by more than 10% (marts.pricing_scenarios, marts.pricing_scenario_accounts); UDRs, CDRs and bills of the
    rating in billing.* (run scenarios/<cutoff>), unpriced records in quarantine.unrated_usage."""
    cutoff, _ = cutoff_of(context)
    book = load_pricing(pricing_dir(landing))
    with warehouse.connect() as con:
        n = con.execute(
            "SELECT count(*) FROM forecasts.account_forecasts WHERE cutoff = ?", [cutoff]
        ).fetchall()[0][0]
        if not n:
            raise ValueError(
                f"no forecasts.account_forecasts rows for cutoff {cutoff}: materialize account_forecasts"
            )
        counts, written = evaluate_scenarios(con, book, cutoff)
        summary = scenario_summary(con, cutoff)
        unrated = con.execute(
            "SELECT target, metric, count(*) AS udr, any_value(reason) AS reason FROM quarantine.unrated_usage "
            "WHERE run = ? GROUP BY ALL ORDER BY ALL",
            [scenario_run(cutoff)],
        ).df()
        metadata = table_metadata(con, SCENARIOS_TABLE, "cutoff = ?", [cutoff])
    metadata |= {
        "pricing_models": list(book.models),
        "summary": dg.MetadataValue.md(summary.to_markdown(index=False, floatfmt=",.2f")),
        "plot": plot_metadata(scenarios_png(summary), "pricing scenarios"),
        "usage_records_rated": counts.records,
        "rows_written": dg.MetadataValue.json(written),
    }
    check = dg.AssetCheckResult(
        check_name="pricing_scenarios_all_rated",
        passed=counts.unrated == 0,
        metadata={
            "unrated_udr": counts.unrated,
            "unrated": dg.MetadataValue.md(unrated.to_markdown(index=False) if len(unrated) else "_none_"),
        },
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])
