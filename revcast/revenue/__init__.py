"""The conformed revenue mart across streams, its Parquet exports and the revenue dashboard."""

from revcast.revenue.dashboard import DashboardData, latest_cutoff, read_dashboard, render_dashboard
from revcast.revenue.exports import TableExport, export_marts, exports_dir
from revcast.revenue.mart import REVENUE_TABLE, STREAMS, Currencies, reconciliation, write_revenue

__all__ = [
    "REVENUE_TABLE",
    "STREAMS",
    "Currencies",
    "DashboardData",
    "TableExport",
    "export_marts",
    "exports_dir",
    "latest_cutoff",
    "read_dashboard",
    "reconciliation",
    "render_dashboard",
    "write_revenue",
]
