"""Subscriptions (the revenue plan): plan config validation, ingest of installs and purchases, new and
recurrent revenue, retention, the plan per platform and its report. Dagster-free."""
