"""The `billing` group: pricing models rated on forecast usage (pricing scenarios) and the forecast commands."""

import dagster as dg

from assets.billing.commands import command_forecasts, forecast_command_job
from assets.billing.scenarios import pricing_scenarios

defs = dg.Definitions(assets=[pricing_scenarios, command_forecasts], jobs=[forecast_command_job])
