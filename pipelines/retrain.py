"""Monthly retraining: the cutoff-partitioned model and forecast assets of usage and invoices."""

import dagster as dg

from assets.partitions import cutoff_partitions

RETRAIN_ASSETS = ("usage_models", "usage_forecasts", "invoice_revenue_models", "invoice_revenue_forecasts")

monthly_retrain_job = dg.define_asset_job(
    "monthly_retrain_job",
    selection=dg.AssetSelection.assets(*RETRAIN_ASSETS),
    partitions_def=cutoff_partitions,
    description="Retrain, backtest and select champions, then forecast, for one training cutoff (month).",
)

monthly_retrain_schedule = dg.build_schedule_from_partitioned_job(
    monthly_retrain_job,
    name="monthly_retrain_schedule",
    day_of_month=1,
    hour_of_day=4,
    description="On the 1st of each month at 04:00: the previous month's cutoff (data through its last day).",
)
