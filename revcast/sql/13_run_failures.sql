-- Dagster runs that failed (the run_failure_sensor, pipelines/automation.py): one row per run.
CREATE TABLE IF NOT EXISTS audit.run_failures (
    run_id        VARCHAR     NOT NULL PRIMARY KEY,
    job_name      VARCHAR     NOT NULL,
    partition     VARCHAR,               -- the run's partition or partition range, if any
    failed_steps  VARCHAR[]   NOT NULL,
    error         VARCHAR,               -- the first failed step's error (or the run's), first 4000 characters
    failed_at     TIMESTAMPTZ NOT NULL,
    alerted       BOOLEAN     NOT NULL   -- a webhook was configured and answered 2xx
);
