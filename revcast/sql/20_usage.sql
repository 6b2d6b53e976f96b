-- Usage in long form: one row per account, metric and day.
CREATE TABLE IF NOT EXISTS clean.usage (
    account_id   VARCHAR     NOT NULL,
    metric       VARCHAR     NOT NULL,
    usage_date   DATE        NOT NULL,
    quantity     DOUBLE      NOT NULL,
    unit         VARCHAR     NOT NULL,
    source_file  VARCHAR     NOT NULL,
    ingested_at  TIMESTAMPTZ NOT NULL
);

-- Usage lines that failed parsing or rules, with where they came from and why.
CREATE TABLE IF NOT EXISTS quarantine.usage (
    partition_key  VARCHAR     NOT NULL,  -- the partition the line arrived in
    source_file    VARCHAR     NOT NULL,
    line_number    BIGINT      NOT NULL,
    raw_line       VARCHAR     NOT NULL,
    reason         VARCHAR     NOT NULL,
    ingested_at    TIMESTAMPTZ NOT NULL
);
