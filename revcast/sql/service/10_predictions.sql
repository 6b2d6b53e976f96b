-- The prediction log of `revcast serve`. It lives in its own DuckDB file (REVCAST_PREDICTION_LOG, default
-- predictions.duckdb next to the warehouse) so the service never competes with Dagster for the warehouse's
-- single write lock; it is not applied to the warehouse itself.
CREATE TABLE IF NOT EXISTS audit.predictions (
    logged_at      TIMESTAMPTZ NOT NULL,
    endpoint       VARCHAR     NOT NULL,   -- e.g. /v1/revenue/forecast
    query          JSON        NOT NULL,   -- the request's parameters as received
    status_code    INTEGER     NOT NULL,
    result         JSON,                   -- the response body (the forecast, or the error)
    model_id       VARCHAR,                -- the model version that answered
    source         VARCHAR,                -- precomputed | computed
    latency_ms     DOUBLE      NOT NULL
);

-- Training jobs launched through POST /v1/train (the run itself is in Dagster and in models.registry).
CREATE TABLE IF NOT EXISTS audit.training_launches (
    requested_at  TIMESTAMPTZ NOT NULL,
    job_name      VARCHAR     NOT NULL,
    cutoff        VARCHAR     NOT NULL,   -- YYYY-MM partition requested
    run_id        VARCHAR,                -- Dagster run id, NULL when the launch failed
    status        VARCHAR     NOT NULL,   -- submitted | failed
    detail        VARCHAR
);
