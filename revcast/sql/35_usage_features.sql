-- Daily usage totals per metric (features.usage_daily_totals) and per account (features.usage_account_daily).
-- features.usage_features (calendar, lags 1..180, rolling stats) is rebuilt whole by its asset: its lag columns
-- are generated in Python (revcast/usage/features.py), so it has no fixed DDL here.
-- A day of a materialized window that was never ingested is a row with observed = false and NULL quantity
-- (a missing day is not a zero); an ingested day without usage has quantity 0.
CREATE TABLE IF NOT EXISTS features.usage_daily_totals (
    metric          VARCHAR NOT NULL,
    ds              DATE    NOT NULL,
    quantity        DOUBLE,             -- sum over accounts; NULL when not observed
    active_accounts BIGINT,             -- accounts with quantity > 0 that day; NULL when not observed
    observed        BOOLEAN DEFAULT true -- the day was ingested
);
-- warehouses created before the observed flag: every row they hold was an ingested day
ALTER TABLE features.usage_daily_totals ADD COLUMN IF NOT EXISTS observed BOOLEAN DEFAULT true;
ALTER TABLE features.usage_daily_totals ALTER COLUMN quantity DROP NOT NULL;
ALTER TABLE features.usage_daily_totals ALTER COLUMN active_accounts DROP NOT NULL;

CREATE TABLE IF NOT EXISTS features.usage_account_daily (
    account_id VARCHAR NOT NULL,
    metric     VARCHAR NOT NULL,
    ds         DATE    NOT NULL,
    quantity   DOUBLE  NOT NULL
);
