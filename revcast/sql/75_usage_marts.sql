-- Usage revenue per training cutoff: actual (history through the cutoff) and forecast (the cutoff's forecasts),
-- per metric and for all metrics together (metric = 'total'), in the price book's currency.
CREATE TABLE IF NOT EXISTS marts.usage_revenue_daily (
    cutoff      VARCHAR NOT NULL,   -- training cutoff partition YYYY-MM
    metric      VARCHAR NOT NULL,   -- a metric, or 'total'
    ds          DATE    NOT NULL,
    kind        VARCHAR NOT NULL,   -- actual | forecast
    quantity    DOUBLE,             -- NULL for 'total' (units differ)
    unit_price  DOUBLE,             -- NULL for 'total'
    currency    VARCHAR NOT NULL,
    revenue     DOUBLE  NOT NULL,
    lo_80 DOUBLE, hi_80 DOUBLE, lo_95 DOUBLE, hi_95 DOUBLE,   -- NULL for actuals
    model_id    VARCHAR,
    run_id      VARCHAR
);

-- Monthly sums of the daily mart. Interval bounds of a sum are not sums of daily quantiles: lo_/hi_ assume
-- independent daily errors (half-width = sqrt of summed squared daily half-widths, the narrowest honest
-- choice); lo_95_comonotonic/hi_95_comonotonic are the plain sums of daily bounds, exact when daily errors are
-- perfectly positively dependent (the widest). The truth for autocorrelated errors lies between the two.
CREATE TABLE IF NOT EXISTS marts.usage_revenue_monthly (
    cutoff      VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    month       DATE    NOT NULL,   -- first day of the month
    kind        VARCHAR NOT NULL,
    days        INTEGER NOT NULL,   -- days of the month present (a forecast horizon may end mid-month)
    quantity    DOUBLE,
    currency    VARCHAR NOT NULL,
    revenue     DOUBLE  NOT NULL,
    lo_80 DOUBLE, hi_80 DOUBLE, lo_95 DOUBLE, hi_95 DOUBLE,
    lo_95_comonotonic DOUBLE, hi_95_comonotonic DOUBLE,
    run_id      VARCHAR
);

-- Accuracy of past usage forecasts against the actuals that arrived since, per horizon bucket.
CREATE TABLE IF NOT EXISTS marts.usage_forecast_accuracy (
    cutoff        VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    horizon_bucket VARCHAR NOT NULL,  -- '1-7', '8-30', '31-90', '91-182'
    horizon_from  INTEGER NOT NULL,
    horizon_to    INTEGER NOT NULL,
    n_days        INTEGER NOT NULL,   -- forecast days in the bucket that have actuals
    mae           DOUBLE,
    mase          DOUBLE,             -- MAE / in-sample weekly seasonal-naive MAE of the data through the cutoff
    scale         DOUBLE,
    coverage_80   DOUBLE,
    coverage_95   DOUBLE,
    scored_at     TIMESTAMPTZ NOT NULL
);
