"""Invoice automation: the training job that the service's POST /v1/train launches."""

import dagster as dg

from assets.partitions import cutoff_partitions

TRAINING_JOB = "invoice_training_job"

# Launched through Dagster's GraphQL API with the tag dagster/partition = cutoff.
invoice_training_job = dg.define_asset_job(
    TRAINING_JOB,
    selection=dg.AssetSelection.assets("invoice_revenue_models", "invoice_revenue_forecasts"),
    partitions_def=cutoff_partitions,
    tags={"revcast/workload": "training"},  # one training run at a time in production (deploy/dagster.yaml)
    description="Retrain the invoice revenue tournament for one cutoff and write its 30-day forecasts.",
)
