"""Calendar exogenous variables that models compute themselves for any date, past or future."""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd


def holiday_flags(ds: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    """1.0 on the country's public holidays, else 0.0; all zeros when country is None."""
    ds = pd.DatetimeIndex(ds)
    if country is None or len(ds) == 0:
        return np.zeros(len(ds), dtype=float)
    years = range(int(ds.year.min()), int(ds.year.max()) + 1)
    days = pd.DatetimeIndex(list(holidays.country_holidays(country, years=years).keys()))
    return ds.normalize().isin(days).astype(float)
