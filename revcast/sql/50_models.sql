-- Shared by every domain's model tournament (usage, invoices, ...): one registry, one backtest table.

-- Rolling-origin backtest predictions: one row per domain, cutoff, series, model, fold and day.
CREATE TABLE IF NOT EXISTS models.backtests (
    domain       VARCHAR NOT NULL,   -- usage | invoices | ...
    cutoff       VARCHAR NOT NULL,   -- training cutoff partition, YYYY-MM
    unique_id    VARCHAR NOT NULL,   -- metric, country, 'all', ...
    model        VARCHAR NOT NULL,
    fold         INTEGER NOT NULL,
    fold_cutoff  DATE    NOT NULL,   -- last day of the fold's training window
    ds           DATE    NOT NULL,
    horizon      INTEGER NOT NULL,   -- 1 = the day after fold_cutoff
    y            DOUBLE,
    yhat         DOUBLE,
    lo_80 DOUBLE, hi_80 DOUBLE, lo_95 DOUBLE, hi_95 DOUBLE
);

-- Backtest scores per model and series, with the champion flagged.
CREATE TABLE IF NOT EXISTS models.scores (
    domain       VARCHAR NOT NULL,
    cutoff       VARCHAR NOT NULL,
    unique_id    VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    mae DOUBLE, mase DOUBLE, smape DOUBLE, mape DOUBLE, coverage_80 DOUBLE, coverage_95 DOUBLE,
    n_folds      INTEGER,
    failure      VARCHAR,            -- why the model could not be scored on this series, if it failed
    is_champion  BOOLEAN NOT NULL DEFAULT FALSE
);

-- Every trained model artifact: what it is, what it saw, how it scored, where it lives, who made it.
CREATE TABLE IF NOT EXISTS models.registry (
    model_id        VARCHAR NOT NULL,   -- <domain>/<model>/<cutoff>/<unique_id>
    domain          VARCHAR NOT NULL,
    cutoff          VARCHAR NOT NULL,
    unique_id       VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,   -- the tournament entry name, e.g. seasonal_naive, ets, lstm
    algorithm       VARCHAR NOT NULL,   -- the class, e.g. revcast.forecasting.statistical.ETS
    parameters      JSON,
    train_start     DATE,
    train_end       DATE,
    metrics         JSON,               -- backtest scores (mae, mase, smape, mape, coverage_80, coverage_95)
    artifact_path   VARCHAR,
    run_id          VARCHAR,
    is_champion     BOOLEAN NOT NULL DEFAULT FALSE,
    fallback_reason VARCHAR,            -- set when the champion is a fallback (e.g. sparse series)
    registered_at   TIMESTAMPTZ NOT NULL
);
