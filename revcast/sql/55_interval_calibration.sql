-- Interval calibration (revcast.forecasting.calibration): leave-one-fold-out coverage of the calibrated
-- intervals. ALTER ... IF NOT EXISTS so warehouses created before these columns upgrade on the next writer
-- connection. The factors themselves live in models.registry.parameters -> interval_calibration.
ALTER TABLE models.scores ADD COLUMN IF NOT EXISTS coverage_80_calibrated DOUBLE;
ALTER TABLE models.scores ADD COLUMN IF NOT EXISTS coverage_95_calibrated DOUBLE;
