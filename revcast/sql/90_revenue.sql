-- The conformed revenue mart: one long table across revenue streams, per training cutoff, daily and monthly.
-- Each stream's rows are copied from its own mart (never recomputed); a rerun of a cutoff replaces its rows.
CREATE TABLE IF NOT EXISTS marts.revenue (
    cutoff    VARCHAR NOT NULL,   -- training cutoff partition YYYY-MM
    grain     VARCHAR NOT NULL,   -- day | month
    date      DATE    NOT NULL,   -- the day, or the first day of the month
    stream    VARCHAR NOT NULL,   -- usage | billing | invoices | subscriptions
    entity    VARCHAR NOT NULL,   -- metric, country or platform; 'all' for the stream total
    currency  VARCHAR NOT NULL,
    actual    DECIMAL(18,2),      -- NULL where there is no actual
    forecast  DOUBLE,
    lo_80 DOUBLE, hi_80 DOUBLE, lo_95 DOUBLE, hi_95 DOUBLE,
    model_id  VARCHAR,
    run_id    VARCHAR             -- the Dagster run that wrote the row
);
