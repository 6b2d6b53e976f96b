-- Forecast commands (revcast.billing.commands): every command received, from the Dagster UI or GraphQL (the
-- job's run), or from the AMQP queue; a rejected one with its reason, an accepted one with its run id.
CREATE TABLE IF NOT EXISTS audit.commands (
    command_id    VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,   -- amqp | run (the job itself: UI, GraphQL, CLI)
    payload       VARCHAR NOT NULL,   -- as received (cut to 10,000 characters)
    status        VARCHAR NOT NULL,   -- rejected | accepted | launch_failed | completed | failed
    reason        VARCHAR,            -- why rejected or failed
    command       VARCHAR,
    target        VARCHAR,
    account       VARCHAR,
    forecast_size INTEGER,
    run_id        VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL
);

-- The forecast records a command makes, tagged target=<pricing model> and command=<command>; rated into
-- billing.* under run command/<run_id>.
CREATE TABLE IF NOT EXISTS forecasts.command_forecasts (
    run_id     VARCHAR NOT NULL,
    command    VARCHAR NOT NULL,
    target     VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,   -- *all* for all-account and pattern forecasts
    metric     VARCHAR NOT NULL,
    ds         DATE    NOT NULL,
    horizon    INTEGER NOT NULL,
    yhat DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    tags       VARCHAR[]
);
