"""The `usage` group: usage ingest, features, the model tournament, forecasts, per-account forecasts and usage revenue."""

import dagster as dg

from assets.usage.accounts import account_forecasts, global_forecasts
from assets.usage.features import usage_daily_totals, usage_features
from assets.usage.ingest import usage_records
from assets.usage.models import usage_forecasts, usage_models
from assets.usage.profile import usage_profile
from assets.usage.revenue import usage_forecast_accuracy, usage_revenue

defs = dg.Definitions(
    assets=[
        usage_records,
        usage_daily_totals,
        usage_features,
        usage_profile,
        usage_models,
        usage_forecasts,
        usage_revenue,
        usage_forecast_accuracy,
        account_forecasts,
        global_forecasts,
    ],
)
