-- Daily usage forecasts per metric from the champion of a cutoff, with 80/95% intervals.
CREATE TABLE IF NOT EXISTS forecasts.usage_forecasts (
    cutoff     VARCHAR NOT NULL,   -- training cutoff partition YYYY-MM (data through its last day)
    metric     VARCHAR NOT NULL,
    ds         DATE    NOT NULL,
    horizon    INTEGER NOT NULL,
    yhat DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    model      VARCHAR NOT NULL,
    model_id   VARCHAR NOT NULL,
    run_id     VARCHAR
);

-- Revenue of the 30 days starting at `as_of` per country (or 'all'), with 80/95% intervals.
CREATE TABLE IF NOT EXISTS forecasts.invoice_revenue_forecasts (
    cutoff     VARCHAR NOT NULL,
    unique_id  VARCHAR NOT NULL,   -- country or 'all'
    as_of      DATE    NOT NULL,   -- first day of the 30-day window
    revenue_30d DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    model      VARCHAR NOT NULL,
    model_id   VARCHAR NOT NULL,
    run_id     VARCHAR
);
