-- Invoice lines , one row per JSON record; key drift normalised, invoice prefix kept as a flag.
CREATE TABLE IF NOT EXISTS clean.invoices (
    invoice_date     DATE        NOT NULL,
    country          VARCHAR     NOT NULL,
    customer_id      BIGINT,                 -- null customer ids are kept
    invoice_id       BIGINT      NOT NULL,   -- digits of the invoice number
    invoice_prefix   VARCHAR,                -- letter prefix, upper-cased (C = cancellation)
    is_cancellation  BOOLEAN     NOT NULL,
    stream_id        VARCHAR     NOT NULL,
    times_viewed     BIGINT      NOT NULL,
    price            DOUBLE      NOT NULL,
    source_file      VARCHAR     NOT NULL,
    record_number    BIGINT      NOT NULL,   -- 1-based position of the record in its file's JSON array
    ingested_at      TIMESTAMPTZ NOT NULL
);

-- Invoice records that failed a rule; line_number is the record number, raw_line the record's JSON.
CREATE TABLE IF NOT EXISTS quarantine.invoices (
    partition_key  VARCHAR     NOT NULL,  -- YYYY-MM, the month folder the file arrived in
    source_file    VARCHAR     NOT NULL,
    line_number    BIGINT      NOT NULL,
    raw_line       VARCHAR     NOT NULL,
    reason         VARCHAR     NOT NULL,
    ingested_at    TIMESTAMPTZ NOT NULL
);

-- Daily revenue per country and for 'all', every calendar day from the first to the last ingested month
-- (zero days included). Cancellations are excluded from revenue and counted apart. A day of a month without
-- any invoice line (not ingested) is observed = false with NULL measures, never a zero.
CREATE TABLE IF NOT EXISTS features.invoice_daily_revenue (
    unique_id          VARCHAR NOT NULL,   -- country or 'all'
    ds                 DATE    NOT NULL,
    revenue            DOUBLE,
    purchases          BIGINT,
    unique_invoices    BIGINT,
    unique_streams     BIGINT,
    views              BIGINT,
    cancellations      BIGINT,
    cancelled_revenue  DOUBLE,
    observed           BOOLEAN DEFAULT true
);
-- warehouses created before the observed flag: every row they hold is from an ingested month
ALTER TABLE features.invoice_daily_revenue ADD COLUMN IF NOT EXISTS observed BOOLEAN DEFAULT true;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN revenue DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN purchases DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN unique_invoices DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN unique_streams DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN views DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN cancellations DROP NOT NULL;
ALTER TABLE features.invoice_daily_revenue ALTER COLUMN cancelled_revenue DROP NOT NULL;

-- The 30-day revenue features for day d (windows strictly before d) and the target: revenue of d..d+29.
CREATE TABLE IF NOT EXISTS features.invoice_features (
    unique_id                VARCHAR NOT NULL,
    ds                       DATE    NOT NULL,
    revenue_prev_7d          DOUBLE,
    revenue_prev_14d         DOUBLE,
    revenue_prev_28d         DOUBLE,
    revenue_prev_70d         DOUBLE,
    revenue_year_ago_30d     DOUBLE,
    invoices_mean_prev_30d   DOUBLE,
    views_mean_prev_30d      DOUBLE,
    target_revenue_next_30d  DOUBLE    -- NULL for the last 29 days of the range (window incomplete)
);
