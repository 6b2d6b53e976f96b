"""The revenue forecast HTTP service (`revcast serve`): forecasts, training launches and logs."""
