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


def year_end_closure(ds: pd.DatetimeIndex) -> np.ndarray:
    """1.0 from 24 December through 2 January (the trade's year-end closure), else 0.0."""
    ds = pd.DatetimeIndex(ds)
    return (((ds.month == 12) & (ds.day >= 24)) | ((ds.month == 1) & (ds.day <= 2))).astype(float)


def yearly_fourier(ds: pd.DatetimeIndex, pairs: int = 2) -> np.ndarray:
    """`pairs` sine/cosine pairs of the day of year (annual seasonality as regressors)."""
    w = 2 * np.pi * pd.DatetimeIndex(ds).dayofyear.to_numpy() / 365.25
    return np.column_stack([f(k * w) for k in range(1, pairs + 1) for f in (np.sin, np.cos)])


def calendar_regressors(ds: pd.DatetimeIndex, country: str | None, yearly: bool) -> np.ndarray:
    """Public holidays of `country`, the year-end closure and, if `yearly`, two Fourier pairs of the year."""
    cols = [holiday_flags(ds, country), year_end_closure(ds)]
    if yearly:
        cols.append(yearly_fourier(ds))
    return np.column_stack(cols)
