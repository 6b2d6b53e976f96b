-- Days of a daily source whose line count or total is far from the same weekday of the previous weeks
-- (revcast/anomalies.py): one row per flagged (source, day, measure); a re-check of a day replaces its rows.
CREATE TABLE IF NOT EXISTS audit.anomalies (
    source        VARCHAR     NOT NULL,  -- usage, fullbas, simplebas
    ds            DATE        NOT NULL,
    measure       VARCHAR     NOT NULL,  -- lines (the export's line count) or 'total <metric>'
    value         DOUBLE      NOT NULL,
    median        DOUBLE      NOT NULL,  -- of the same weekday over the history weeks
    mad           DOUBLE      NOT NULL,  -- median absolute deviation of that history
    robust_z      DOUBLE      NOT NULL,  -- (value - median) / max(1.4826 * mad, 5% of median, 1)
    threshold     DOUBLE      NOT NULL,
    history_days  INTEGER     NOT NULL,
    run_id        VARCHAR,
    detected_at   TIMESTAMPTZ NOT NULL
);
