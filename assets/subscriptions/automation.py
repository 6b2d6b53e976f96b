"""Subscriptions automation: the job that reloads the snapshot exports (unchanged files are skipped); the code
location's nightly refresh runs the same assets, and the monthly retrain the plan assets."""

import dagster as dg

INGEST_ASSETS = ("subscription_installs", "subscription_purchases", "subscription_plan")
# the cutoff assets, retrained and re-planned by the monthly retrain job
PLAN_ASSETS = (
    "subscription_installs_models",
    "subscription_installs_forecasts",
    "subscription_retention",
    "subscription_new_revenue",
    "subscription_recurrent_revenue",
    "subscription_revenue_plan",
    "subscription_plan_report",
)

subscription_ingest_job = dg.define_asset_job(
    "subscription_ingest_job",
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    description="Reload installs.csv and recurrent.csv when they changed, and validate plan.yaml.",
)
