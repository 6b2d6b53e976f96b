"""The training frames' gap treatment: interpolated and flagged inside, trimmed before, an error at the end."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from revcast.training import MissingDaysError, fill_gaps, gap_report


def _frame(values: dict[str, list[float | None]], start: str = "2023-01-01") -> pd.DataFrame:
    rows = [
        (uid, pd.Timestamp(start) + pd.Timedelta(days=i), v, v is not None)
        for uid, vs in values.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y", "observed"])


def test_inner_gaps_are_interpolated_and_flagged():
    frame = _frame({"a": [None, 1.0, None, None, 4.0, 5.0], "b": [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]})
    frame = frame.drop(index=3)  # a day with no row at all is a gap too
    out = fill_gaps(frame, date(2023, 1, 6))
    a = out[out["unique_id"] == "a"]
    assert a["ds"].dt.date.tolist()[0] == date(2023, 1, 2)  # starts at the first observed day
    np.testing.assert_allclose(a["y"], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert a["observed"].tolist() == [True, False, False, True, True]
    assert gap_report(out) == {"a": 2, "b": 0}
    b = out[out["unique_id"] == "b"]
    np.testing.assert_allclose(b["y"], [7.0, 8.0, 9.0, 10.0, 11.0, 12.0])  # untouched


def test_rows_after_the_end_are_ignored_and_other_columns_interpolate_too():
    frame = _frame({"a": [2.0, None, 6.0, 100.0]}).assign(views=[10.0, None, 30.0, 1e6])
    out = fill_gaps(frame, date(2023, 1, 3), ("y", "views"))
    np.testing.assert_allclose(out["y"], [2.0, 4.0, 6.0])
    np.testing.assert_allclose(out["views"], [10.0, 20.0, 30.0])


def test_a_flagged_value_is_not_trusted():
    frame = _frame({"a": [1.0, 50.0, 3.0]})
    frame.loc[1, "observed"] = False  # a stale value on a day marked unobserved
    out = fill_gaps(frame, date(2023, 1, 3))
    np.testing.assert_allclose(out["y"], [1.0, 2.0, 3.0])


def test_missing_last_days_fail_naming_them():
    frame = _frame({"a": [1.0, 2.0, None], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(MissingDaysError, match=r"a: 2023-01-03\.\.2023-01-04") as err:
        fill_gaps(frame, date(2023, 1, 4))
    assert "b: 2023-01-04..2023-01-04" in str(err.value)
