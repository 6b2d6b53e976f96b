-- Candidate pricing models on a cutoff's forecast usage against production (revcast.billing.scenarios).
CREATE TABLE IF NOT EXISTS marts.pricing_scenarios (
    cutoff             VARCHAR NOT NULL,
    pricing_model      VARCHAR NOT NULL,   -- the candidate
    month              DATE    NOT NULL,
    segment            VARCHAR NOT NULL,   -- large | medium | small (by production forecast bill) | all
    currency           VARCHAR NOT NULL,
    accounts           BIGINT  NOT NULL,
    production_revenue DOUBLE  NOT NULL,
    candidate_revenue  DOUBLE  NOT NULL,
    difference         DOUBLE  NOT NULL,   -- candidate - production
    difference_pct     DOUBLE,
    accounts_rising    BIGINT  NOT NULL,   -- bill up by more than 10%
    accounts_falling   BIGINT  NOT NULL    -- bill down by more than 10%
);

-- The accounts whose monthly bill rises or falls by more than 10% under a candidate.
CREATE TABLE IF NOT EXISTS marts.pricing_scenario_accounts (
    cutoff            VARCHAR NOT NULL,
    pricing_model     VARCHAR NOT NULL,
    month             DATE    NOT NULL,
    account_id        VARCHAR NOT NULL,
    segment           VARCHAR NOT NULL,
    currency          VARCHAR NOT NULL,
    production_charge DOUBLE  NOT NULL,
    candidate_charge  DOUBLE  NOT NULL,
    change_pct        DOUBLE,             -- NULL when production charges nothing
    direction         VARCHAR NOT NULL    -- rises | falls
);
