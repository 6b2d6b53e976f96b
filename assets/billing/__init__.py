"""The `billing` group: pricing models rated on forecast usage (pricing scenarios) and the forecast commands."""

import dagster as dg

from assets.billing.scenarios import pricing_scenarios

defs = dg.Definitions(assets=[pricing_scenarios])
