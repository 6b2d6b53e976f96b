"""The `subscriptions` group: installs and purchases ingest, the plan config, the installs tournament and
forecast, retention, new and recurrent revenue, the revenue plan per platform and its report."""

import dagster as dg

from assets.subscriptions.automation import subscription_ingest_job
from assets.subscriptions.ingest import subscription_installs, subscription_plan, subscription_purchases
from assets.subscriptions.models import subscription_installs_forecasts, subscription_installs_models
from assets.subscriptions.revenue import (
    subscription_new_revenue,
    subscription_plan_report,
    subscription_recurrent_revenue,
    subscription_retention,
    subscription_revenue_plan,
)

defs = dg.Definitions(
    assets=[
        subscription_installs,
        subscription_purchases,
        subscription_plan,
        subscription_installs_models,
        subscription_installs_forecasts,
        subscription_retention,
        subscription_new_revenue,
        subscription_recurrent_revenue,
        subscription_revenue_plan,
        subscription_plan_report,
    ],
    jobs=[subscription_ingest_job],
)
