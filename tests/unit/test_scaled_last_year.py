"""The total's yearly shape at a series' own recent level (ScaledLastYear)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revcast.forecasting.base import load_forecaster
from revcast.invoices.models import ScaledLastYear

DAYS = pd.date_range("2021-01-01", "2023-09-30")


def _total() -> pd.DataFrame:
    """A total with a weekly pattern, a year-end ramp and 10% growth a year: y(t) = 1.1 x y(t - 364)."""
    t = np.arange(len(DAYS))
    season = 1 + 1.3 * np.clip(((t % 364) - 244) / 100, 0, 1) ** 2 + 0.2 * (t % 7 == 3)
    return pd.DataFrame({"unique_id": "all", "ds": DAYS, "y": 1000 * season * 1.1 ** (t / 364)})


def test_a_series_in_a_fixed_share_of_the_total_is_forecast_exactly() -> None:
    total = _total()
    small = total.assign(unique_id="small", y=0.05 * total["y"])
    cut = pd.Timestamp("2023-08-31")
    train = pd.concat([total, small])
    model = ScaledLastYear(total).fit(train[train["ds"] <= cut])
    fc = model.predict(30).set_index(["unique_id", "ds"])["yhat"]
    actual = train[(train["ds"] > cut) & (train["ds"] <= cut + pd.Timedelta(days=30))]
    keys = pd.MultiIndex.from_frame(actual[["unique_id", "ds"]])
    np.testing.assert_allclose(fc.loc[keys], actual["y"], rtol=1e-9)


def test_reference_days_after_a_series_end_are_never_read(tmp_path) -> None:
    total = _total()
    cut = pd.Timestamp("2023-06-30")
    small = total[total["ds"] <= cut].assign(unique_id="small", y=lambda d: 0.1 * d["y"])
    later = total.assign(y=np.where(total["ds"] > cut, 1e9, total["y"]))
    fc = ScaledLastYear(total).fit(small).predict(30)
    assert ScaledLastYear(later).fit(small).predict(30).equals(fc)
    ScaledLastYear(later).fit(small).save(tmp_path)
    assert load_forecaster(tmp_path).predict(30).equals(fc)


def test_short_reference_is_screened_and_a_gap_is_an_error_naming_the_series() -> None:
    total = _total()
    early = total[total["ds"] <= "2021-12-31"].assign(unique_id="small")
    assert "needs 455 days of reference" in ScaledLastYear(total).screen(early)["small"]
    assert ScaledLastYear(total).screen(total.assign(unique_id="small")) == {}
    holed = total[total["ds"] != pd.Timestamp("2023-01-15")]
    with pytest.raises(ValueError, match="reference lacks days .* for 'small'"):
        ScaledLastYear(holed).fit(total.assign(unique_id="small"))
