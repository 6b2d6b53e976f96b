-- Daily usage totals per metric (features.usage_daily_totals) and per account (features.usage_account_daily).
-- features.usage_features (calendar, lags 1..180, rolling stats) is rebuilt whole by its asset: its lag columns
-- are generated in Python (revcast/usage/features.py), so it has no fixed DDL here.
CREATE TABLE IF NOT EXISTS features.usage_daily_totals (
    metric          VARCHAR NOT NULL,
    ds              DATE    NOT NULL,
    quantity        DOUBLE  NOT NULL,   -- sum over accounts
    active_accounts BIGINT  NOT NULL    -- accounts with quantity > 0 that day
);

CREATE TABLE IF NOT EXISTS features.usage_account_daily (
    account_id VARCHAR NOT NULL,
    metric     VARCHAR NOT NULL,
    ds         DATE    NOT NULL,
    quantity   DOUBLE  NOT NULL
);
