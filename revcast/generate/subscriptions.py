"""Subscription app data: daily installs, purchases renewing by billing cycle, and the plan config."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import holidays
import numpy as np
import pyarrow as pa
import yaml

from revcast.generate._common import (
    DomainResult,
    array_bytes,
    day_numbers,
    day_of_year,
    day_range,
    int_str,
    join,
    write_bytes,
)

PLATFORMS = ("iOS", "Android", "Web")
PURCHASE_PLATFORMS = ("iOS", "Android")
# product_id, duration (months), price, share, trial2purchase, actual (sold now; old plans only renew)
PRODUCTS = (
    ("1month_trial", 1, 5.99, 0.55, 0.45, True),
    ("1year_trial", 12, 19.99, 0.25, 0.35, True),
    ("1year_instant", 12, 14.99, 0.20, 1.0, True),
    ("1month_trial_old", 1, 2.99, 0.55, 0.45, False),
    ("1year_trial_old", 12, 14.99, 0.25, 0.35, False),
    ("1year_instant_old", 12, 9.99, 0.20, 1.0, False),
)
INSTALL2ACCESS = {"iOS": 0.025, "Android": 0.015}
COMMISSION = {"iOS": [0.7, 0.85], "Android": [0.7, 0.85]}
_BASE = {"iOS": 20.0, "Android": 30.0, "Web": 12.0}  # installs per day per account of the generator's scale
_WEEKLY = {
    "iOS": np.array([0.92, 0.90, 0.92, 0.95, 1.02, 1.16, 1.16]),
    "Android": np.array([0.93, 0.91, 0.92, 0.96, 1.02, 1.14, 1.15]),
    "Web": np.array([1.06, 1.06, 1.05, 1.02, 0.97, 0.86, 0.88]),
}


def simulate_installs(rng: np.random.Generator, accounts: int, days: list[date]) -> dict[str, np.ndarray]:
    """Daily installs per platform: trend, weekly and yearly seasonality, US public-holiday effects."""
    _, months, dom, weekday = day_numbers(days)
    doy = day_of_year(days)
    t = np.arange(len(days)) / 365.25
    us = holidays.country_holidays("US", years=sorted({d.year for d in days}))
    holiday = np.array([d in us for d in days])
    gifts = (months == 12) & (dom >= 25) | (months == 1) & (dom <= 3)  # new devices after Christmas
    yearly = 1 + 0.15 * np.exp(-(((doy - 10) / 25.0) ** 2)) + 0.08 * np.cos(2 * np.pi * (doy - 200) / 365.25)
    out = {}
    for p in PLATFORMS:
        lam = _BASE[p] * max(accounts, 1) * np.exp(0.18 * t) * _WEEKLY[p][weekday] * yearly
        lam *= np.where(holiday, 0.75 if p == "Web" else 1.3, 1.0) * np.where(
            gifts, 1.0 if p == "Web" else 1.35, 1.0
        )
        out[p] = rng.poisson(lam * rng.lognormal(0.0, 0.05, len(days)))
    return out


def _add_months(d: np.ndarray, k: int) -> np.ndarray:
    """Same day-of-month k months later, clipped to the month's last day (datetime64[D] arrays)."""
    m = d.astype("datetime64[M]")
    last = (m + k + 1).astype("datetime64[D]") - 1
    return np.minimum((m + k).astype("datetime64[D]") + (d - m.astype("datetime64[D]")), last)


def retention(duration: int, cycle: np.ndarray | int, platform: str) -> np.ndarray:
    """Probability that billing cycle i renews into i+1: low at first, rising for monthly plans; about 0.5 yearly."""
    cycle = np.asarray(cycle, dtype=float)
    r = (
        0.93 - 0.38 * np.exp(-(cycle - 1) / 2.5)
        if duration == 1
        else np.minimum(0.5 + 0.08 * (cycle - 1), 0.7)
    )
    return r * (0.96 if platform == "Android" else 1.0)


def simulate_purchases(rng: np.random.Generator, installs: dict, days: list[date]) -> list[tuple]:
    """(date, platform, product_id, duration, billing_cycle, purchases) rows with purchases > 0, sorted."""
    d64 = np.array([d.isoformat() for d in days], dtype="datetime64[D]")
    switch = d64[0].astype("datetime64[M]") + int(len(days) / 30.4 * 0.35)  # new plans from this month on
    end = d64[-1]
    rows: dict[tuple, int] = {}
    for platform in PURCHASE_PLATFORMS:
        for pid, duration, _, share, t2p, actual in PRODUCTS:
            sold = (
                (d64 >= switch.astype("datetime64[D]")) if actual else (d64 < switch.astype("datetime64[D]"))
            )
            n = rng.binomial(installs[platform], INSTALL2ACCESS[platform] * share * t2p) * sold
            cycle = 1
            dates = d64
            while n.sum() > 0:
                for dt, cnt in zip(dates[n > 0].tolist(), n[n > 0].tolist(), strict=True):
                    key = (dt.isoformat(), platform, pid, duration, cycle)
                    rows[key] = rows.get(key, 0) + cnt
                n = rng.binomial(n, retention(duration, cycle, platform))
                cycle += 1
                dates = _add_months(d64, (cycle - 1) * duration)
                n = np.where(dates <= end, n, 0)
    return sorted((*k, v) for k, v in rows.items())


def plan_config(end: date) -> dict:
    """The plan.yaml content: per platform install2access, commission and products .

    iOS shows the month -> value form of install2access (a promotion in the last month), Android the plain number.
    """

    def products() -> list[dict]:
        return [
            {"product_id": pid, "price": price, "share": share, "trial2purchase": t2p, "actual": actual}
            for pid, _, price, share, t2p, actual in PRODUCTS
        ]

    promo_month = f"{end.year:04d}-{end.month:02d}"
    return {
        "iOS": {"install2access": {"default": INSTALL2ACCESS["iOS"], promo_month: 0.03},
                "commission": list(COMMISSION["iOS"]), "products": products()},
        "Android": {"install2access": INSTALL2ACCESS["Android"], "commission": list(COMMISSION["Android"]),
                    "products": products()},
    }  # fmt: skip


def generate_subscriptions(
    out: Path, rng: np.random.Generator, accounts: int, start: date, end: date, bad_share: float
) -> DomainResult:
    """Write installs.csv, recurrent.csv and plan.yaml (clean: no injected bad rows)."""
    del bad_share  # the subscriptions sample is kept clean
    days = day_range(start, end)
    installs = simulate_installs(rng, accounts, days)
    cols = [pa.array([d.isoformat() for d in days])] + [int_str(installs[p]) for p in PLATFORMS]
    body = array_bytes(join([join(cols, ","), ""], "\n"))
    write_bytes(out / "subscriptions/installs.csv", b"date," + ",".join(PLATFORMS).encode() + b"\n" + body)
    purchases = simulate_purchases(rng, installs, days)
    text = "date,platform,product_id,duration,billing_cycle,purchases\n" + "".join(
        ",".join(map(str, r)) + "\n" for r in purchases
    )
    write_bytes(out / "subscriptions/recurrent.csv", text.encode())
    write_bytes(out / "subscriptions/plan.yaml", yaml.safe_dump(plan_config(end), sort_keys=False).encode())
    files = ["subscriptions/installs.csv", "subscriptions/recurrent.csv", "subscriptions/plan.yaml"]
    res = DomainResult(
        files=files, rows={"subscriptions.installs": len(days), "subscriptions.recurrent": len(purchases)}
    )
    return res
