"""The clean_usage Great Expectations suite through the adapter: verdicts, unexpected counts, error details."""

import pandas as pd

from expectations import validate_frame


def _usage(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "metric", "usage_date", "quantity"])
    return frame.assign(
        usage_date=pd.to_datetime(frame["usage_date"]),
        unit="calls",
        source_file="usage/2023/2023-01-01.csv",
        ingested_at=pd.Timestamp("2023-01-02"),
    )


def test_bad_rows_fail_with_their_counts_and_good_rows_pass() -> None:
    good = [("a", "api_calls", "2023-01-01", 5.0), ("b", "api_calls", "2023-01-01", 0.0)]
    assert validate_frame("clean_usage", _usage(good)).success
    bad = _usage([*good, ("a", "api_calls", "2023-01-01", -1.0)])  # negative and a duplicated key
    outcome = validate_frame("clean_usage", bad)
    failed = {o.expectation: o.unexpected_count for o in outcome.failures()}
    assert not outcome.success and outcome.rows == 3
    assert failed == {"expect_column_values_to_be_between": 1, "expect_compound_columns_to_be_unique": 2}


def test_an_expectation_that_cannot_run_says_why() -> None:
    outcome = validate_frame(
        "clean_usage", _usage([("a", "api_calls", "2023-01-01", 5.0)]).drop(columns="quantity")
    )
    errors = {o.expectation: o.detail for o in outcome.failures() if o.column == "quantity"}
    assert errors["expect_column_values_to_be_between"].startswith("error: ")
    assert "quantity" in errors["expect_column_values_to_be_between"]
    assert "| **no** |" in outcome.markdown()
