"""command_forecasts and forecast_command_job: a forecast command (the command payload as run config) makes tagged
forecast records, rates them with the targeted pricing model, and bills them."""

import json

import dagster as dg

from assets.billing.scenarios import pricing_dir
from assets.metadata import table_definition, table_metadata
from resources import LandingZoneResource, WarehouseResource
from resources.dask import DaskResource
from revcast.billing import load_pricing, rate, write_rating
from revcast.billing.commands import (
    COMMAND_JOB,
    RECORDS_TABLE,
    CommandError,
    command_records,
    history_end,
    parse_command,
    record_command,
)
from revcast.usage.accounts import account_series
from revcast.warehouse import replace_with_frame

RATE_RECORDS_SQL = """
CREATE OR REPLACE TEMP TABLE _command_usage AS
SELECT account_id, metric, ds, yhat AS quantity, tags FROM forecasts.command_forecasts WHERE run_id = ?
"""


class ForecastCommandConfig(dg.Config):
    """The forecast command payload: {"command": "Forecast" | "GlobalForecast", "account": A (optional,
    Forecast only), "target": T (a pricing model tag), "forecastSize": N (days)}. The defaults (a 30-day
    GlobalForecast priced by production) are what a launch without config, such as `make demo`, runs."""

    command: str = "GlobalForecast"
    target: str = "production"
    forecastSize: int = 30  # noqa: N815 - the payload's own field name
    account: str | None = None


def command_run_key(run_id: str) -> str:
    """The billing run of a command's rating."""
    return f"command/{run_id}"


@dg.asset(
    metadata=table_definition(RECORDS_TABLE),
    group_name="billing",
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:finance"],
    deps=["usage_daily_totals"],  # reads features.usage_account_daily through the last observed day
    check_specs=[
        dg.AssetCheckSpec(
            "command_forecasts_all_rated",
            asset="command_forecasts",
            blocking=True,
            description="Every forecast record of the command is priced (none quarantined).",
        )
    ],
)
def command_forecasts(
    context: dg.AssetExecutionContext,
    config: ForecastCommandConfig,
    warehouse: WarehouseResource,
    landing: LandingZoneResource,
    dask: DaskResource,
) -> dg.MaterializeResult:
    """Forecast records of one forecast command (forecasts.command_forecasts, by run id) from the latest usage:
    one account's series, all accounts aggregated per metric, or the pattern-based global forecast; tagged with
    the target and rated with that pricing model (production the floor) into billing.udr/cdr/bills (run
    command/<run id>). A malformed command is recorded in audit.commands with its reason and fails the run."""
    payload = {k: v for k, v in config.model_dump().items() if v is not None}
    text = json.dumps(payload)
    book = load_pricing(pricing_dir(landing))

    def rejected(exc: CommandError, cmd=None) -> dg.Failure:
        """Record the rejection in audit.commands; the failure to raise."""
        record_command(
            warehouse.path, source="run", payload=text, status="rejected", reason=str(exc), cmd=cmd,
            run_id=context.run_id,
        )  # fmt: skip
        return dg.Failure(description=f"rejected forecast command: {exc}")

    try:
        cmd = parse_command(payload, book)
    except CommandError as exc:
        raise rejected(exc) from exc
    try:
        with warehouse.connect(read_only=True) as con:
            end = history_end(con)
            if end is None:
                raise CommandError("no usage history: materialize usage_daily_totals first")
            series = account_series(con, end)
        with dask.executor() as executor:
            records = command_records(series, cmd, executor=executor)
    except CommandError as exc:
        raise rejected(exc, cmd) from exc
    run = command_run_key(context.run_id)
    rows = records.assign(run_id=context.run_id, command=cmd.command, target=cmd.target)
    rows["ds"] = rows["ds"].dt.date
    with warehouse.connect() as con:
        written = {
            RECORDS_TABLE: replace_with_frame(con, RECORDS_TABLE, rows, key={"run_id": context.run_id})
        }
        con.execute(RATE_RECORDS_SQL, [context.run_id])
        counts = rate(con, book, "_command_usage")
        written |= write_rating(con, run)
        bills = con.execute(
            "SELECT time_from AS month, currency, count(*) AS bills, round(sum(charge), 2) AS charge "
            "FROM billing.bills WHERE run = ? GROUP BY ALL ORDER BY ALL",
            [run],
        ).df()
        metadata = table_metadata(con, RECORDS_TABLE, "run_id = ?", [context.run_id])
    record_command(
        warehouse.path, source="run", payload=text, status="completed", cmd=cmd, run_id=context.run_id
    )
    metadata |= {
        "command": dg.MetadataValue.json(cmd.payload()),
        "billing_run": run,
        "bills": dg.MetadataValue.md(bills.to_markdown(index=False) if len(bills) else "_no bills_"),
        "rows_written": dg.MetadataValue.json(written),
    }
    check = dg.AssetCheckResult(
        check_name="command_forecasts_all_rated",
        passed=counts.unrated == 0,
        metadata={"unrated_udr": counts.unrated},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


forecast_command_job = dg.define_asset_job(
    COMMAND_JOB,
    selection=[command_forecasts],
    description="Run one forecast command: the run config is the payload under ops.command_forecasts.config.",
)
