"""The Dagster entry point: the merged Definitions, the automation across groups, the demo driver."""
