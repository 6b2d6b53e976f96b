"""The `invoices` group: invoice ingest, daily revenue and features, models, forecasts."""

import dagster as dg

from assets.invoices.automation import invoice_training_job
from assets.invoices.ingest import invoice_records
from assets.invoices.models import invoice_revenue_forecasts, invoice_revenue_models
from assets.invoices.series import invoice_daily_revenue, invoice_features

defs = dg.Definitions(
    assets=[
        invoice_records,
        invoice_daily_revenue,
        invoice_features,
        invoice_revenue_models,
        invoice_revenue_forecasts,
    ],
    jobs=[invoice_training_job],
)
