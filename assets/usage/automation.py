"""Usage automation: the nightly refresh of features, the EDA report and forecast accuracy."""

import dagster as dg

nightly_refresh_job = dg.define_asset_job(
    "nightly_refresh_job",
    selection=dg.AssetSelection.assets("usage_features", "usage_profile", "usage_forecast_accuracy"),
    description="Rebuild the usage feature table and EDA report, and score past forecasts against new actuals.",
)

nightly_refresh_schedule = dg.ScheduleDefinition(
    name="nightly_refresh_schedule",
    job=nightly_refresh_job,
    cron_schedule="45 2 * * *",
    description="Every night at 02:45, after the ingest: features, EDA report, forecast accuracy.",
)
