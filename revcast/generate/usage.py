"""Daily usage per account in the wide usage form: one CSV per day under usage/date=YYYY-MM-DD/."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.special import ndtri

from revcast.formats import USAGE_WIDE_COLUMNS
from revcast.generate._common import (
    DomainResult,
    allocate_bad,
    count_by_file,
    day_numbers,
    day_of_year,
    day_range,
    file_variants,
    fixed_str,
    int_str,
    join,
    replace_at,
    variants_rng,
    with_duplicates,
    write_groups,
)

HEADER = ",".join(USAGE_WIDE_COLUMNS)
BAD_KINDS = (
    "non_numeric_quantity",
    "negative_quantity",
    "duplicate_row",
    "unknown_account",
    "malformed_date",
)
WEEKLY_API = np.array([1.0, 1.06, 1.07, 1.04, 0.93, 0.46, 0.38])  # Mon..Sun
_NON_NUMERIC = ("abc", "12..5", "1.2.3", "twelve", "#VALUE!")
UNMEASURED_STORAGE_SHARE = 0.002  # lines whose (optional) storage column is empty


def account_ids(accounts: int) -> list[str]:
    """Customer ids C000001, C000002, ... (sorted order is account order)."""
    return [f"C{i:06d}" for i in range(1, accounts + 1)]


def usage_path(d: date) -> str:
    """Landing path of one day's usage file."""
    return f"usage/date={d.isoformat()}/usage_{d.isoformat()}.csv"


def yearly_factor(doy: np.ndarray) -> np.ndarray:
    """Shared yearly seasonality: busy March and October, quiet summer, a dip over Christmas and New Year."""
    w = 2 * np.pi * doy / 365.25
    f = 1 + 0.16 * np.cos(w - 2 * np.pi * 80 / 365.25) + 0.07 * np.cos(2 * w - 2 * np.pi * 2 * 290 / 365.25)
    holiday = (doy >= 356) | (doy <= 2)
    return f * np.where(holiday, 0.62, 1.0)


def simulate_usage(
    rng: np.random.Generator, accounts: int, days: list[date], profile: str = "kind"
) -> dict[str, np.ndarray]:
    """Accounts x days matrices (days first) of API calls and storage GB plus the active mask. Profile "hard"
    adds intermittent accounts and level shifts (`harden_usage`)."""
    n_days, n = len(days), accounts
    t = np.arange(n_days, dtype=np.float64)
    # sign-ups and churn: ~85% exist at the start, the rest join at a growing rate; exponential lifetimes
    existing = rng.random(n) < 0.85
    signup = np.where(existing, -rng.integers(30, 1500, n), np.floor(n_days * np.sqrt(rng.random(n)))).astype(
        int
    )
    churn = np.maximum(signup, 0) + 30 + np.ceil(rng.exponential(365.25 * 8, n)).astype(int)
    active = (t[:, None] >= signup[None, :]) & (t[:, None] < churn[None, :])

    # heavy tail: a few percent of accounts carry most calls; stratified draws keep the shape for small samples
    level = np.exp(np.log(35.0) + 1.9 * ndtri((rng.permutation(n) + rng.random(n)) / n))
    growth = rng.normal(0.12, 0.30, n) / 365.25
    weekly_amp = rng.uniform(0.6, 1.2, n)
    _, _, _, weekday = day_numbers(days)
    weekly = 1 + weekly_amp[None, :] * (WEEKLY_API[weekday][:, None] - 1)
    ramp = 1 - np.exp(-np.maximum(t[:, None] - signup[None, :], 0) / 25.0)
    lam = level[None, :] * np.exp(growth[None, :] * t[:, None]) * weekly * ramp
    lam *= yearly_factor(day_of_year(days))[:, None]
    lam *= rng.lognormal(-0.02, 0.2, (n_days, n))
    spikes = rng.random((n_days, n)) < 0.0015
    lam[spikes] *= rng.uniform(4, 15, int(spikes.sum()))
    if profile == "hard":
        lam = harden_usage(rng, lam)
    api = rng.poisson(lam)

    # storage is a level: starts small for new accounts, grows slowly with a random walk
    s0 = rng.lognormal(np.log(4.0), 1.4, n) * (0.5 + 0.5 * np.minimum(level / 35.0, 4.0) ** 0.3)
    s_growth = rng.normal(0.25, 0.15, n) / 365.25
    age = np.maximum(t[:, None] - signup[None, :], 0)
    walk = np.cumsum(rng.normal(0, 0.006, (n_days, n)), axis=0)
    storage = s0[None, :] * np.exp(s_growth[None, :] * age + walk) * (0.15 + 0.85 * (1 - np.exp(-age / 60.0)))
    return {"active": active, "api": api, "storage": storage}


def harden_usage(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Hard profile: a third of the accounts call the API only on some days (each its own chance, 5-40%), and a
    fifth change level once (x0.3 to x3) at a random day."""
    n_days, n = lam.shape
    intermittent = rng.random(n) < 1 / 3
    used = rng.random((n_days, n)) < rng.uniform(0.05, 0.4, n)[None, :]
    shifted = rng.random(n) < 0.2
    at = rng.integers(0, n_days, n)
    factor = np.where(shifted, np.exp(rng.uniform(np.log(0.3), np.log(3.0), n)), 1.0)
    level = np.where(np.arange(n_days)[:, None] >= at[None, :], factor[None, :], 1.0)
    return lam * level * np.where(intermittent[None, :] & ~used, 0.0, 1.0)


def generate_usage(
    out: Path,
    rng: np.random.Generator,
    accounts: int,
    start: date,
    end: date,
    bad_share: float,
    profile: str = "kind",
) -> DomainResult:
    """Write one usage CSV per day with the injected bad rows and export variants; returns what was written."""
    variants = variants_rng(rng)
    days = day_range(start, end)
    sim = simulate_usage(rng, accounts, days, profile)
    day_idx, acc_idx = np.nonzero(sim["active"])  # day-major, accounts sorted inside a day
    api = sim["api"][day_idx, acc_idx].astype(np.int64)
    storage = sim["storage"][day_idx, acc_idx]
    del sim
    paths = [usage_path(d) for d in days]

    bad_rows, kinds = allocate_bad(rng, day_idx, len(days), bad_share, len(BAD_KINDS))
    date_col = pa.array([d.isoformat() for d in days]).take(pa.array(day_idx))
    cust_col = pa.array(account_ids(accounts)).take(pa.array(acc_idx))
    api_col, storage_col = int_str(api), fixed_str(storage, 3)

    pick = rng.random(len(bad_rows))
    on_api = pick < 0.5
    for kind in (0, 1):  # non_numeric_quantity, negative_quantity: in one of the two quantity columns
        sel_api, sel_sto = (kinds == kind) & on_api, (kinds == kind) & ~on_api
        rows_api, rows_sto = bad_rows[sel_api], bad_rows[sel_sto]
        if kind == 0:
            api_vals = [_NON_NUMERIC[int(p * 97) % len(_NON_NUMERIC)] for p in pick[sel_api]]
            sto_vals = [_NON_NUMERIC[int(p * 89) % len(_NON_NUMERIC)] for p in pick[sel_sto]]
        else:
            api_vals = [f"-{max(int(v), 1)}" for v in api[rows_api]]
            sto_vals = [f"-{max(float(v), 0.001):.3f}" for v in storage[rows_sto]]
        api_col = replace_at(api_col, rows_api, api_vals)
        storage_col = replace_at(storage_col, rows_sto, sto_vals)
    rows = bad_rows[kinds == 3]
    cust_col = replace_at(cust_col, rows, ["null" if p < 0.5 else "" for p in pick[kinds == 3]])
    rows = bad_rows[kinds == 4]
    date_col = replace_at(
        date_col,
        rows,
        [_malformed_date(days[d], p) for d, p in zip(day_idx[rows], pick[kinds == 4], strict=True)],
    )

    # a storage reading that was not taken (an empty optional field), never on a line that is bad already
    unmeasured = np.setdiff1d(
        np.nonzero(variants.random(len(day_idx)) < UNMEASURED_STORAGE_SHARE)[0], bad_rows
    )
    storage_col = replace_at(storage_col, unmeasured, [""] * len(unmeasured))

    lines = join([join([date_col, cust_col, api_col, storage_col], ","), ""], "\n")
    order = with_duplicates(rng, day_idx, bad_rows[kinds == 2])
    lines, group = lines.take(pa.array(order)), day_idx[order]
    write_groups(out, paths, HEADER + "\n", group, lambda s: lines[s], file_variants(variants, len(paths)))

    res = DomainResult(files=paths, rows={"usage": len(order)})
    res.flagged["usage"]["empty_storage"] = len(unmeasured)
    res.bad["usage"].update({k: int((kinds == i).sum()) for i, k in enumerate(BAD_KINDS)})
    res.bad_by_file.update(count_by_file(paths, day_idx[bad_rows], BAD_KINDS, kinds))
    return res


def _malformed_date(d: date, p: float) -> str:
    """A date the ingest must reject: slashes, day-first, or an impossible month/day."""
    if p < 1 / 3:
        return d.strftime("%Y/%m/%d")
    if p < 2 / 3:
        return d.strftime("%d-%m-%Y")
    return f"{d.year}-13-45"
