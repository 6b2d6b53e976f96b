-- Subscriptions: installs and purchases (snapshot files, replaced whole when they change), the validated plan
-- config, the installs forecast and the revenue plan marts (one set of rows per training cutoff).

CREATE TABLE IF NOT EXISTS clean.subscription_installs (
    install_date  DATE    NOT NULL,
    platform      VARCHAR NOT NULL,   -- iOS | Android | Web
    installs      BIGINT  NOT NULL,
    source_file   VARCHAR NOT NULL,
    line_number   BIGINT  NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS clean.subscription_purchases (
    purchase_date DATE    NOT NULL,
    platform      VARCHAR NOT NULL,
    product_id    VARCHAR NOT NULL,
    duration      INTEGER NOT NULL,   -- months: 1 or 12
    billing_cycle INTEGER NOT NULL,   -- 1 = the first paid period
    purchases     BIGINT  NOT NULL,
    source_file   VARCHAR NOT NULL,
    line_number   BIGINT  NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL
);

-- plan.yaml, validated: one row per platform and product, platform settings repeated on each row.
CREATE TABLE IF NOT EXISTS clean.subscription_plan (
    platform                VARCHAR NOT NULL,
    product_id              VARCHAR NOT NULL,
    duration                INTEGER NOT NULL,
    price                   DOUBLE  NOT NULL,
    share                   DOUBLE  NOT NULL,
    trial2purchase          DOUBLE  NOT NULL,
    actual                  BOOLEAN NOT NULL,   -- sold to new users (false: an old plan that only renews)
    commission_first_year   DOUBLE  NOT NULL,
    commission_later_years  DOUBLE  NOT NULL,
    install2access_default  DOUBLE  NOT NULL,
    install2access_by_month VARCHAR NOT NULL,   -- JSON {"YYYY-MM": value}
    plan_start              DATE,               -- NULL: the four months after each cutoff
    plan_end                DATE,
    source_file             VARCHAR NOT NULL,
    fingerprint             VARCHAR NOT NULL,
    ingested_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine.subscription_installs (
    partition_key  VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_number BIGINT NOT NULL,
    raw_line       VARCHAR NOT NULL, reason VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine.subscription_purchases (
    partition_key  VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_number BIGINT NOT NULL,
    raw_line       VARCHAR NOT NULL, reason VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);

-- Daily installs per platform from the champion of a cutoff, through the plan end, with 80/95% intervals.
CREATE TABLE IF NOT EXISTS forecasts.subscription_installs_forecasts (
    cutoff     VARCHAR NOT NULL,
    platform   VARCHAR NOT NULL,
    ds         DATE    NOT NULL,
    horizon    INTEGER NOT NULL,
    yhat DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    model      VARCHAR NOT NULL,
    model_id   VARCHAR NOT NULL,
    run_id     VARCHAR
);

-- Renewal ratio of billing cycle i -> i+1 and the retention curve (share of a cohort still paying in cycle i).
CREATE TABLE IF NOT EXISTS marts.subscription_retention (
    cutoff          VARCHAR NOT NULL,
    platform        VARCHAR NOT NULL,
    product_id      VARCHAR NOT NULL,
    duration        INTEGER NOT NULL,
    billing_cycle   INTEGER NOT NULL,
    renewal_ratio   DOUBLE  NOT NULL,
    ratio_source    VARCHAR NOT NULL,   -- observed | fallback (fewer than 30 purchases on a side)
    purchases_from  BIGINT  NOT NULL,   -- cycle-i purchases that could have renewed by the cutoff
    purchases_to    BIGINT  NOT NULL,   -- cycle-(i+1) purchases
    retention       DOUBLE  NOT NULL
);

-- New subscriptions of forecast installs, per day, platform and product (expected counts, not rounded).
CREATE TABLE IF NOT EXISTS marts.subscription_new_revenue (
    cutoff VARCHAR NOT NULL, ds DATE NOT NULL, platform VARCHAR NOT NULL, product_id VARCHAR NOT NULL,
    duration INTEGER NOT NULL, installs DOUBLE NOT NULL, install2access DOUBLE NOT NULL, share DOUBLE NOT NULL,
    trial2purchase DOUBLE NOT NULL, price DOUBLE NOT NULL, commission DOUBLE NOT NULL,
    accesses DOUBLE NOT NULL, purchases DOUBLE NOT NULL,
    purchases_lo_80 DOUBLE NOT NULL, purchases_hi_80 DOUBLE NOT NULL, purchases_lo_95 DOUBLE NOT NULL,
    purchases_hi_95 DOUBLE NOT NULL,
    revenue DOUBLE NOT NULL,
    revenue_lo_80 DOUBLE NOT NULL, revenue_hi_80 DOUBLE NOT NULL, revenue_lo_95 DOUBLE NOT NULL,
    revenue_hi_95 DOUBLE NOT NULL
);

-- Expected renewals inside the plan period, per day, platform, product, billing cycle and origin.
CREATE TABLE IF NOT EXISTS marts.subscription_recurrent_revenue (
    cutoff VARCHAR NOT NULL, ds DATE NOT NULL, platform VARCHAR NOT NULL, product_id VARCHAR NOT NULL,
    duration INTEGER NOT NULL, billing_cycle INTEGER NOT NULL,
    origin VARCHAR NOT NULL,   -- history (a purchase before the cutoff) | new (a forecast new purchase)
    purchases DOUBLE NOT NULL,
    purchases_lo_80 DOUBLE NOT NULL, purchases_hi_80 DOUBLE NOT NULL, purchases_lo_95 DOUBLE NOT NULL,
    purchases_hi_95 DOUBLE NOT NULL,
    price DOUBLE NOT NULL, commission DOUBLE NOT NULL,
    revenue DOUBLE NOT NULL,
    revenue_lo_80 DOUBLE NOT NULL, revenue_hi_80 DOUBLE NOT NULL, revenue_lo_95 DOUBLE NOT NULL,
    revenue_hi_95 DOUBLE NOT NULL
);

-- The revenue plan: per day, platform (and 'all') and revenue type (new, recurrent, total), with bounds.
CREATE TABLE IF NOT EXISTS marts.subscription_revenue_plan (
    cutoff       VARCHAR NOT NULL,
    ds           DATE    NOT NULL,
    platform     VARCHAR NOT NULL,   -- a plan platform, or 'all' (the sum over platforms)
    revenue_type VARCHAR NOT NULL,   -- new | recurrent | total
    revenue DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    run_id       VARCHAR
);

CREATE TABLE IF NOT EXISTS marts.subscription_revenue_plan_monthly (
    cutoff       VARCHAR NOT NULL,
    month        DATE    NOT NULL,   -- first day of the month
    platform     VARCHAR NOT NULL,
    revenue_type VARCHAR NOT NULL,
    days         INTEGER NOT NULL,   -- plan days in the month
    revenue DOUBLE NOT NULL, lo_80 DOUBLE NOT NULL, hi_80 DOUBLE NOT NULL, lo_95 DOUBLE NOT NULL, hi_95 DOUBLE NOT NULL,
    run_id       VARCHAR
);
