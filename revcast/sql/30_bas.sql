-- BAS report runs: one row per run, UTC instant plus the Australia/Sydney wall clock.
-- org_known: the run's organisation is on the current organisation card (re-flagged when the card changes).
CREATE TABLE IF NOT EXISTS clean.fullbas_runs (
    run_date         DATE        NOT NULL,  -- UTC day = the partition
    run_at_utc       TIMESTAMPTZ NOT NULL,
    run_at_local     TIMESTAMP   NOT NULL,  -- Australia/Sydney wall clock (DST applied)
    level            VARCHAR     NOT NULL,
    user_id          VARCHAR     NOT NULL,  -- lower-case GUID
    org_id           VARCHAR     NOT NULL,  -- lower-case GUID
    report_name      VARCHAR     NOT NULL,
    version_code     VARCHAR,
    country_code     VARCHAR,
    runtime_seconds  DOUBLE      NOT NULL,
    org_known        BOOLEAN     NOT NULL,
    source_file      VARCHAR     NOT NULL,
    ingested_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS clean.simplebas_runs (
    run_date         DATE        NOT NULL,
    run_at_utc       TIMESTAMPTZ NOT NULL,
    run_at_local     TIMESTAMP   NOT NULL,
    user_id          VARCHAR     NOT NULL,
    shortcode        VARCHAR     NOT NULL,  -- the organisation as Simple BAS logs it
    statement_year   INTEGER     NOT NULL,
    statement_month  INTEGER     NOT NULL,
    org_id           VARCHAR,               -- resolved through the current card's shortcode; NULL when unknown
    org_known        BOOLEAN     NOT NULL,
    source_file      VARCHAR     NOT NULL,
    ingested_at      TIMESTAMPTZ NOT NULL
);

-- The organisation card: a snapshot, replaced whole when bas/orgcard.csv changes.
CREATE TABLE IF NOT EXISTS clean.organisations (
    org_id                    VARCHAR     NOT NULL,
    shard_id                  INTEGER,
    shortcode                 VARCHAR     NOT NULL,
    organisation_status       VARCHAR     NOT NULL,  -- Active | Deleted | Suspended
    created_at_utc            TIMESTAMP,
    signup_at_utc             TIMESTAMP,
    product_option            VARCHAR,
    deleted_at_utc            TIMESTAMP,
    sales_channel             VARCHAR,
    channel_type              VARCHAR,
    sales_tax_basis           VARCHAR,
    sales_tax_period          VARCHAR,
    sales_tax_type            VARCHAR,
    income_tax_basis          VARCHAR,
    provisional_tax_basis     VARCHAR,
    managed_by_practice       BOOLEAN,
    paying                    BOOLEAN,
    market_code               VARCHAR,
    non_practice_staff_users  INTEGER,
    practice_staff_users      INTEGER,
    trial                     BOOLEAN,
    source_file               VARCHAR     NOT NULL,
    ingested_at               TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine.fullbas_runs (
    partition_key  VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_number BIGINT NOT NULL,
    raw_line       VARCHAR NOT NULL, reason VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine.simplebas_runs (
    partition_key  VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_number BIGINT NOT NULL,
    raw_line       VARCHAR NOT NULL, reason VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine.organisations (
    partition_key  VARCHAR NOT NULL, source_file VARCHAR NOT NULL, line_number BIGINT NOT NULL,
    raw_line       VARCHAR NOT NULL, reason VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);
