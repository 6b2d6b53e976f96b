"""The Dagster entry point: Definitions, partitions, jobs, schedules and sensors."""
