"""The forecast bound checks every forecast asset shares: each fails on exactly the rows that break it."""

from datetime import date

import pandas as pd

from assets.checks import forecast_bound_checks
from revcast.warehouse import connect, replace_with_frame


def test_forecast_bound_checks_count_nan_negative_and_unordered_rows(tmp_path):
    rows = pd.DataFrame(
        {
            "cutoff": "2023-12",
            "metric": "api_calls",
            "ds": [date(2024, 1, d) for d in range(1, 6)],
            "horizon": range(1, 6),
            #        ok    NaN point (set below)  negative  unordered (lo_80 > yhat)  ok
            "yhat": [10.0, 2.0, -1.0, 5.0, 8.0],
            "lo_80": [8.0, 1.0, -2.0, 6.0, 7.0],
            "hi_80": [12.0, 3.0, 0.0, 7.0, 9.0],
            "lo_95": [6.0, 0.0, -3.0, 4.0, 6.0],
            "hi_95": [14.0, 4.0, 1.0, 8.0, 10.0],
            "model": "ets",
            "model_id": "usage/ets/2023-12/api_calls",
            "run_id": "r",
        }
    )
    con = connect(tmp_path / "wh.duckdb")
    replace_with_frame(con, "forecasts.usage_forecasts", rows, key={"cutoff": "2023-12"})
    # pandas NaN arrives as NULL (refused by NOT NULL); a NaN computed in SQL does not, so the check matters
    con.execute("UPDATE forecasts.usage_forecasts SET yhat = 'nan'::DOUBLE WHERE horizon = 2")
    checks = forecast_bound_checks(
        con, asset="usage_forecasts", prefix="usage_forecast", table="forecasts.usage_forecasts",
        point="yhat", cutoff="2023-12", clipped=0,
    )  # fmt: skip
    con.close()
    verdicts = {c.check_name: (c.passed, {k: v.value for k, v in c.metadata.items()}) for c in checks}
    assert verdicts["usage_forecast_no_nan"] == (False, {"nan_rows": 1})
    assert verdicts["usage_forecast_non_negative"] == (False, {"negative_rows": 1, "rows_clipped_at_0": 0})
    # the NaN row also fails the ordering comparison (NaN is never <=), so two rows are unordered
    assert verdicts["usage_forecast_ordered_bounds"] == (False, {"unordered_rows": 2})


def test_forecast_bound_checks_pass_on_clean_rows_and_replacement_is_idempotent(tmp_path):
    rows = pd.DataFrame(
        {
            "cutoff": "2023-12", "unique_id": ["all", "France"], "as_of": date(2024, 1, 1),
            "revenue_30d": [100.0, 5.0], "lo_80": [90.0, 4.0], "hi_80": [110.0, 6.0], "lo_95": [80.0, 3.0],
            "hi_95": [120.0, 7.0], "model": "ets", "model_id": "m", "run_id": "r",
        }
    )  # fmt: skip
    con = connect(tmp_path / "wh.duckdb")
    for _ in range(2):
        replace_with_frame(con, "forecasts.invoice_revenue_forecasts", rows, key={"cutoff": "2023-12"})
    assert con.execute("SELECT count(*) FROM forecasts.invoice_revenue_forecasts").fetchall()[0][0] == 2
    checks = forecast_bound_checks(
        con, asset="invoice_revenue_forecasts", prefix="invoice_forecast",
        table="forecasts.invoice_revenue_forecasts", point="revenue_30d", cutoff="2023-12", clipped=0,
    )  # fmt: skip
    con.close()
    assert all(c.passed for c in checks)
