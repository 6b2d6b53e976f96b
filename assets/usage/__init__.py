"""The `usage` group: usage ingest, features, the model tournament, forecasts and usage revenue."""

from assets.usage.ingest import usage_records

assets = [usage_records]
asset_checks: list = []
jobs: list = []
schedules: list = []
