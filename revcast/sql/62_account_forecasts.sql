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

-- Usage per metric forecast three ways (revcast.usage.global_forecast): the sum of the per-account forecasts,
-- the aggregate forecast as one series, and the pattern-based forecast (active accounts x usage patterns).
CREATE TABLE IF NOT EXISTS forecasts.global_forecasts (
    cutoff   VARCHAR NOT NULL,
    method   VARCHAR NOT NULL,   -- account_sum | model_global | pattern_global
    metric   VARCHAR NOT NULL,
    ds       DATE    NOT NULL,
    horizon  INTEGER NOT NULL,
    yhat DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    run_id   VARCHAR
);

-- The three methods backtested on the last forecast_size days before the cutoff, per metric.
CREATE TABLE IF NOT EXISTS marts.global_forecast_comparison (
    cutoff          VARCHAR NOT NULL,
    method          VARCHAR NOT NULL,
    metric          VARCHAR NOT NULL,
    backtest_cutoff DATE    NOT NULL,   -- last training day of the backtest
    days            INTEGER NOT NULL,
    actual_total    DOUBLE,
    forecast_total  DOUBLE,
    mae DOUBLE, mase DOUBLE, bias DOUBLE, total_error_pct DOUBLE, coverage_80 DOUBLE, coverage_95 DOUBLE,
    run_id          VARCHAR
);
