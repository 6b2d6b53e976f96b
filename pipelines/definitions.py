"""The revcast code location: each asset group's definitions, the automation across groups, the resources."""

import dagster as dg

from assets import bas, billing, invoices, revenue, subscriptions, usage
from pipelines import automation
from resources import default_resources

defs = dg.Definitions.merge(
    usage.defs,
    bas.defs,
    invoices.defs,
    subscriptions.defs,
    billing.defs,
    revenue.defs,
    automation.defs,
    dg.Definitions(resources=default_resources()),
)
