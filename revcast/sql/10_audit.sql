-- Row accounting for every ingested partition: lines read = lines clean + lines quarantined.
CREATE TABLE IF NOT EXISTS audit.ingest_runs (
    source             VARCHAR     NOT NULL,  -- e.g. usage, fullbas, invoices
    partition_key      VARCHAR     NOT NULL,  -- YYYY-MM-DD or YYYY-MM
    files              VARCHAR[]   NOT NULL,
    fingerprint        VARCHAR     NOT NULL,  -- sha256 over the files' bytes and the parser version
    lines_read         BIGINT      NOT NULL,
    lines_clean        BIGINT      NOT NULL,
    lines_quarantined  BIGINT      NOT NULL,
    rows_written       BIGINT      NOT NULL,  -- clean rows (a wide usage line gives one row per metric)
    status             VARCHAR     NOT NULL,  -- loaded | unchanged
    run_id             VARCHAR,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ NOT NULL,
    CHECK (lines_read = lines_clean + lines_quarantined)
);
