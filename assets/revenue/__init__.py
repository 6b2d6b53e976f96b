"""The `revenue` group: the conformed revenue mart across streams with its reconciliation checks, the Parquet
exports of every mart and the revenue dashboard."""

import dagster as dg

from assets.revenue.assets import revenue, revenue_dashboard, revenue_exports
from assets.revenue.checks import revenue_reconciliation_checks

defs = dg.Definitions(
    assets=[revenue, revenue_exports, revenue_dashboard],
    asset_checks=revenue_reconciliation_checks,
)
