"""The `usage` group: usage ingest, features, the model tournament, forecasts and usage revenue."""

from assets.usage.features import usage_daily_totals, usage_features
from assets.usage.ingest import usage_records
from assets.usage.models import usage_forecasts, usage_models
from assets.usage.profile import usage_profile
from assets.usage.revenue import usage_forecast_accuracy, usage_revenue
from pipelines.retrain import monthly_retrain_job, monthly_retrain_schedule  # usage + invoices models

assets = [usage_records]
assets += [usage_models, usage_forecasts]
assets += [usage_daily_totals, usage_features, usage_profile, usage_revenue, usage_forecast_accuracy]
asset_checks: list = []
jobs: list = []
jobs += [monthly_retrain_job]
schedules: list = [monthly_retrain_schedule]
