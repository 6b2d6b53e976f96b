-- Per-account usage forecasts: one row per (account, metric) series and day of the horizon, from each
-- series' champion (vectorised ETS, seasonal naive, or AutoARIMA where configured), with 80/95% intervals.
CREATE TABLE IF NOT EXISTS forecasts.account_forecasts (
    cutoff          VARCHAR NOT NULL,   -- training cutoff partition YYYY-MM (data through its last day)
    account_id      VARCHAR NOT NULL,
    metric          VARCHAR NOT NULL,
    ds              DATE    NOT NULL,
    horizon         INTEGER NOT NULL,   -- 1 = the day after the cutoff
    yhat DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    model           VARCHAR NOT NULL,
    model_id        VARCHAR NOT NULL,   -- models.registry key
    fallback_reason VARCHAR,            -- why the series publishes this model (short, intermittent, ...)
    run_id          VARCHAR
);
