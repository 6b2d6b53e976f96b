"""The `invoices` group (see DESIGN.md): invoice ingest, daily revenue and features, models, forecasts."""

import dagster as dg

from assets.invoices.ingest import invoice_records
from assets.invoices.models import invoice_revenue_forecasts, invoice_revenue_models
from assets.invoices.series import invoice_daily_revenue, invoice_features
from assets.partitions import cutoff_partitions

TRAINING_JOB = "invoice_training_job"
TRAINING_ASSETS = ("invoice_revenue_models", "invoice_revenue_forecasts")

assets = [invoice_records, invoice_daily_revenue, invoice_features]
assets += [invoice_revenue_models, invoice_revenue_forecasts]
asset_checks: list = []

# Launched by the service's POST /v1/train through Dagster's GraphQL API (tag dagster/partition = cutoff).
invoice_training_job = dg.define_asset_job(
    TRAINING_JOB,
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    partitions_def=cutoff_partitions,
    description="Retrain the invoice revenue tournament for one cutoff and write its 30-day forecasts.",
)
# Registered once the model assets are (they come from assets/invoices/models.py).
_registered = {key.to_user_string() for a in assets for key in a.keys}
jobs: list = [invoice_training_job] if set(TRAINING_ASSETS) <= _registered else []
schedules: list = []
