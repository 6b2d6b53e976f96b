-- Rating (revcast.billing.rating): usage data records, charge data records and monthly bills per rating run.
-- A run is one rating of one set of usage records (actual usage of a month, a cutoff's forecasts under every
-- pricing model, a forecast command); `target` is the pricing model evaluated ('production' for real usage).
CREATE TABLE IF NOT EXISTS billing.udr (
    run        VARCHAR NOT NULL,
    udr_id     BIGINT  NOT NULL,
    account_id VARCHAR NOT NULL,
    metric     VARCHAR NOT NULL,
    time_from  DATE    NOT NULL,   -- first day of the month
    time_to    DATE    NOT NULL,   -- last day of the month
    quantity   DOUBLE  NOT NULL,
    records    BIGINT  NOT NULL,   -- usage records aggregated
    tags       VARCHAR[],          -- 'key=value' tags of the records (target=<pricing model> on forecasts)
    target     VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS billing.cdr (
    run               VARCHAR NOT NULL,
    udr_id            BIGINT  NOT NULL,
    bill_id           VARCHAR NOT NULL,
    account_id        VARCHAR NOT NULL,
    metric            VARCHAR NOT NULL,
    time_from         DATE    NOT NULL,
    time_to           DATE    NOT NULL,
    target            VARCHAR NOT NULL,
    quantity          DOUBLE  NOT NULL,
    billable_quantity DOUBLE  NOT NULL,   -- after the rule's included free quantity
    unit_price        DOUBLE,             -- effective price per billable unit (NULL when nothing is billable)
    charge            DOUBLE  NOT NULL,   -- after tiers and the monthly minimum
    rule              VARCHAR NOT NULL,
    pricing_model     VARCHAR NOT NULL,   -- the model of the rule that fired (the target or production)
    currency          VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS billing.bills (
    run        VARCHAR NOT NULL,
    bill_id    VARCHAR NOT NULL,   -- account/YYYY-MM/target/currency
    account_id VARCHAR NOT NULL,
    time_from  DATE    NOT NULL,
    time_to    DATE    NOT NULL,
    target     VARCHAR NOT NULL,
    currency   VARCHAR NOT NULL,
    charge     DOUBLE  NOT NULL,   -- the sum of its CDR lines
    lines      BIGINT  NOT NULL
);

-- Usage data records no pricing rule matches: kept with the reason, never dropped.
CREATE TABLE IF NOT EXISTS quarantine.unrated_usage (
    run            VARCHAR NOT NULL,
    account_id     VARCHAR NOT NULL,
    metric         VARCHAR NOT NULL,
    time_from      DATE    NOT NULL,
    time_to        DATE    NOT NULL,
    tags           VARCHAR[],
    target         VARCHAR NOT NULL,
    quantity       DOUBLE  NOT NULL,
    reason         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);
