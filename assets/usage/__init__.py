"""The `usage` group: usage ingest, features, the model tournament, forecasts and usage revenue."""
