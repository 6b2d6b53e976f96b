"""Invoice lines as monthly JSON arrays: key names and layout drift between months."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import holidays
import numpy as np
import pyarrow as pa

from revcast.formats import INVOICE_KEY_VARIANTS
from revcast.generate._common import (
    DomainResult,
    allocate_bad,
    array_bytes,
    count_by_file,
    day_numbers,
    day_of_year,
    day_range,
    fixed_str,
    int_str,
    join,
    replace_at,
    write_bytes,
)

COUNTRIES = (
    "United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain", "Belgium", "Switzerland", "Portugal",
    "Australia", "Norway", "Channel Islands", "Italy", "Finland", "Cyprus", "Sweden", "Denmark", "Austria", "Japan",
    "Poland", "Greece", "Unspecified", "USA", "Israel", "Singapore", "Iceland", "Canada", "Lithuania", "Malta",
    "United Arab Emirates", "Bahrain", "Hong Kong", "RSA", "Saudi Arabia", "Brazil", "Czech Republic",
    "European Community", "Lebanon", "Korea", "Thailand", "Nigeria", "West Indies", "Bermuda",
)  # fmt: skip
BAD_KINDS = ("price_out_of_range", "malformed_day")
KEY_VARIANTS = tuple(v for v in INVOICE_KEY_VARIANTS.values() if len(v) > 1)  # the drifting keys
WEEKLY = np.array([1.0, 1.1, 1.12, 1.25, 0.85, 0.04, 0.62])  # Mon..Sun: next to no trading on Saturdays
MAX_SANE_PRICE = 10_000.0
# Hard profile: outside the dominant market orders are wholesale (BULK times the lines, 1/BULK as frequent), so
# small countries trade on a minority of days; one key account places large orders worth KEY_ACCOUNT_SHARE.
BULK = 5.0
KEY_ACCOUNT_SHARE = 0.2
KEY_ACCOUNT_ORDER_DAYS = 0.12  # chance of a key-account order on an open day


def invoices_path(year: int, month: int) -> str:
    """Landing path of one month's invoice file."""
    return f"invoices/month={year:04d}-{month:02d}/invoices_{year:04d}-{month:02d}.json"


def country_weights() -> np.ndarray:
    """Share of invoices per country: one dominant market, then a Zipf-like tail."""
    tail = 1.0 / np.arange(2, len(COUNTRIES) + 1) ** 1.35
    return np.concatenate([[0.80], 0.20 * tail / tail.sum()])


def daily_rates(days: list[date], accounts: int) -> np.ndarray:
    """Expected invoices per day and country (days x countries)."""
    _, months, dom, weekday = day_numbers(days)
    doy = day_of_year(days)
    t = np.arange(len(days)) / 365.25
    yearly = 1 + 0.55 * np.exp(-(((doy - 318) / 38.0) ** 2)) - 0.12 * np.cos(2 * np.pi * (doy - 200) / 365.25)
    base = accounts / 10.0 * np.exp(0.10 * t) * WEEKLY[weekday] * yearly
    rates = base[:, None] * country_weights()[None, :]
    uk_holidays = holidays.country_holidays("GB", years=sorted({d.year for d in days}))
    closed = np.array(
        [(m == 12 and x >= 24) or (m == 1 and x <= 2) for m, x in zip(months, dom, strict=True)]
    )
    bank = np.array([d in uk_holidays for d in days])
    rates[closed, 0] = 0.0  # year-end closure in the dominant market
    rates[bank & ~closed, 0] *= 0.1  # Easter and other bank holidays
    rates[closed, 1:] *= 0.3
    return rates


def hard_rates(rng: np.random.Generator, days: list[date], rates: np.ndarray) -> np.ndarray:
    """The hard profile's rates from the kind ones: a Sep-Dec ramp to a peak, every market closed 24 Dec - 2 Jan
    and slow in January, level shifts (one in the dominant market), over-dispersed days, spikes, and wholesale
    (rare, large) orders outside the dominant market."""
    n_days, n_countries = rates.shape
    _, months, dom, _ = day_numbers(days)
    doy = day_of_year(days)
    closed = ((months == 12) & (dom >= 24)) | ((months == 1) & (dom <= 2))
    ramp = np.clip((doy - 244) / (345.0 - 244), 0.0, 1.0) ** 2
    season = (1 + 1.3 * ramp) * np.where((months == 1) & ~closed, 0.6, 1.0) * ~closed
    steps = np.zeros((n_days, n_countries))
    lo, hi = int(0.15 * n_days), max(int(0.85 * n_days), int(0.15 * n_days) + 1)
    for c in range(n_countries):
        k = rng.poisson(1.0) + (c == 0)
        size = rng.uniform(0.25, 0.45, k) * rng.choice([-1.0, 1.0], k) if c == 0 else rng.normal(0.0, 0.6, k)
        np.add.at(steps[:, c], rng.integers(lo, hi, k), size)
    shifts = np.exp(np.cumsum(steps, axis=0))
    noise = rng.lognormal(-0.045, 0.3, n_days)[:, None] * rng.lognormal(-0.08, 0.4, (n_days, n_countries))
    spikes = rng.random((n_days, n_countries)) < 0.01
    noise[spikes] *= rng.uniform(3.0, 8.0, int(spikes.sum()))
    out = rates * season[:, None] * shifts * noise
    out[:, 1:] /= BULK
    return out


def _harden_invoices(
    rng: np.random.Generator, rates: np.ndarray, inv: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Wholesale line counts outside the dominant market, plus the key account's large orders (customer 0, in
    the dominant market, never a guest or a cancellation); invoices stay in day order."""
    n_lines = inv["n_lines"].copy()
    abroad = inv["country"] != 0
    n_lines[abroad] = rng.geometric(1 / (6.0 * BULK), int(abroad.sum()))
    order_days = np.nonzero((rates[:, 0] > 0) & (rng.random(len(rates)) < KEY_ACCOUNT_ORDER_DAYS))[0]
    expected_lines = 6.0 * (rates[:, 0].sum() + BULK * rates[:, 1:].sum())
    mean_lines = KEY_ACCOUNT_SHARE / (1 - KEY_ACCOUNT_SHARE) * expected_lines / max(len(order_days), 1)
    k = len(order_days)
    extra = {
        "day": order_days,
        "country": np.zeros(k, np.int64),
        "cust": np.zeros(k, np.int64),
        "guest": np.zeros(k, bool),
        "prefix": np.full(k, ""),
        "n_lines": rng.geometric(1 / max(mean_lines, 1.0), k),
    }
    inv = inv | {"n_lines": n_lines}
    order = np.argsort(np.concatenate([inv["day"], order_days]), kind="stable")
    return {key: np.concatenate([inv[key], extra[key]])[order] for key in inv}


def _json_rows(cols: list[tuple[str, pa.Array]], pretty: bool) -> pa.Array:
    """One JSON object per row from (key, encoded value) columns; each object ends with its array separator."""
    kv = [join([f'"{k}"', v], ": " if pretty else ":") for k, v in cols]
    if pretty:
        return join(["  {\n    ", join(kv, ",\n    "), "\n  },\n"], "")
    return join(["{", join(kv, ","), "},"], "")


def _frame(body: bytes, pretty: bool) -> bytes:
    """Wrap the objects of one file into a JSON array (dropping the last separator)."""
    if not body:
        return b"[]\n"
    if pretty:
        return b"[\n" + body[: -len(b",\n")] + b"\n]\n"
    return b"[" + body[:-1] + b"]\n"


def generate_invoices(
    out: Path,
    rng: np.random.Generator,
    accounts: int,
    start: date,
    end: date,
    bad_share: float,
    profile: str = "kind",
) -> DomainResult:
    """Write one JSON file of invoice lines per month; returns what was written. Profile "hard" (see
    `hard_rates`) makes the series intermittent, spiky and shifting, like a real online retailer's."""
    days = day_range(start, end)
    years, months, dom, _ = day_numbers(days)
    n_cust = max(20, 10 * accounts, len(COUNTRIES))  # every country needs a customer, however few accounts
    cust_country = rng.choice(len(COUNTRIES), size=n_cust, p=country_weights())
    cust_country[: len(COUNTRIES)] = np.arange(len(COUNTRIES))  # every country has a customer
    by_country = [np.nonzero(cust_country == c)[0] for c in range(len(COUNTRIES))]
    n_items = max(200, 4 * accounts)
    item_price = np.round(rng.lognormal(np.log(2.8), 0.85, n_items), 2).clip(0.08, 650.0)
    item_views = rng.gamma(2.0, 3.0, n_items)
    item_ids = [str(20000 + i * 7 % 80000) + ("" if r > 0.2 else "ABCPLM"[int(r * 30) % 6]) for i, r in
                enumerate(rng.random(n_items))]  # fmt: skip

    rates = daily_rates(days, accounts)
    if profile == "hard":
        rates = hard_rates(rng, days, rates)
    counts = rng.poisson(rates)  # invoices per day and country
    inv_day, inv_country = np.nonzero(counts)
    reps = counts[inv_day, inv_country]
    inv_day, inv_country = np.repeat(inv_day, reps), np.repeat(inv_country, reps)
    n_inv = len(inv_day)
    pools = [by_country[c] for c in inv_country]
    inv_cust = np.array(
        [p[int(len(p) * u * u)] for p, u in zip(pools, rng.random(n_inv), strict=True)], np.int64
    )
    guest = rng.random(n_inv) < 0.15  # null customer ids: guest check-outs
    prefix = np.where(rng.random(n_inv) < 0.02, "C", np.where(rng.random(n_inv) < 0.002, "A", ""))
    inv_no = 489_434 + np.arange(n_inv)
    n_lines = rng.geometric(1 / 6.0, n_inv)
    if profile == "hard":
        inv = {"day": inv_day, "country": inv_country, "cust": inv_cust, "guest": guest, "prefix": prefix,
               "n_lines": n_lines}  # fmt: skip
        inv = _harden_invoices(rng, rates, inv)
        inv_day, inv_country, inv_cust = inv["day"], inv["country"], inv["cust"]
        guest, prefix, n_lines = inv["guest"], inv["prefix"], inv["n_lines"]
        n_inv = len(inv_day)
        inv_no = 489_434 + np.arange(n_inv)

    line_inv = np.repeat(np.arange(n_inv), n_lines)
    n = len(line_inv)
    item = np.minimum((rng.pareto(1.2, n) * n_items / 40).astype(np.int64), n_items - 1)
    item = (item + rng.integers(0, 3, n)) % n_items
    qty = rng.choice([1, 1, 1, 2, 2, 3, 4, 6, 12], n)
    price = item_price[item] * qty
    views = rng.poisson(item_views[item])
    day = inv_day[line_inv]
    month_key = (years[day] - years[0]) * 12 + months[day] - months[0]
    n_months = int(month_key[-1]) + 1 if n else (years[-1] - years[0]) * 12 + months[-1] - months[0] + 1
    month_list = [(int(years[0]) + (int(months[0]) - 1 + k) // 12, (int(months[0]) - 1 + k) % 12 + 1)
                  for k in range(n_months)]  # fmt: skip
    paths = [invoices_path(y, m) for y, m in month_list]

    bad_rows, kinds = allocate_bad(rng, month_key, n_months, bad_share, len(BAD_KINDS))
    pick = rng.random(len(bad_rows))
    price = price.copy()
    sel = bad_rows[kinds == 0]
    price[sel] = np.where(pick[kinds == 0] < 0.5, -np.maximum(price[sel], 1.0), 250_000.0 + 1000 * price[sel])
    days_col = pa.array([f'"{x}"' for x in dom]).take(pa.array(day))
    sel = bad_rows[kinds == 1]
    days_col = replace_at(days_col, sel, ['"' + ("32", "0", "3rd", "day", "")[int(p * 5) % 5] + '"'
                                          for p in pick[kinds == 1]])  # fmt: skip
    cust = np.where(guest[line_inv], -1, inv_cust[line_inv] + 12346)
    cust_col = replace_at(
        join([int_str(cust), "0"], "."), np.nonzero(cust < 0)[0], ["null"] * int((cust < 0).sum())
    )
    invoice_col = join(['"', join([pa.array(prefix[line_inv]), int_str(inv_no[line_inv])], ""), '"'], "")
    country_col = pa.array([f'"{c}"' for c in COUNTRIES]).take(pa.array(inv_country[line_inv]))
    stream_col = pa.array([f'"{s}"' for s in item_ids]).take(pa.array(item))
    year_col = pa.array([f'"{y}"' for y in years]).take(pa.array(day))
    month_col = pa.array([f'"{m}"' for m in months]).take(pa.array(day))
    price_col, views_col = fixed_str(price, 2), int_str(views)

    variant = rng.integers(0, 2, size=(n_months, 3))
    variant[0] = 0  # the first month uses the canonical names
    pretty = rng.random(n_months) < 0.4
    bounds = np.searchsorted(month_key, np.arange(n_months + 1))
    res = DomainResult(files=paths, rows={"invoices": n})
    for k in range(n_months):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        keys = [KEY_VARIANTS[j][variant[k, j]] for j in range(3)]
        cols = [("country", country_col[lo:hi]), ("customer_id", cust_col[lo:hi]), ("invoice", invoice_col[lo:hi]),
                (keys[0], price_col[lo:hi]), (keys[1], stream_col[lo:hi]), (keys[2], views_col[lo:hi]),
                ("year", year_col[lo:hi]), ("month", month_col[lo:hi]), ("day", days_col[lo:hi])]  # fmt: skip
        body = array_bytes(_json_rows(cols, bool(pretty[k]))) if hi > lo else b""
        write_bytes(out / paths[k], _frame(body, bool(pretty[k])))
    res.bad["invoices"].update({k: int((kinds == i).sum()) for i, k in enumerate(BAD_KINDS)})
    res.flagged["invoices"]["null_customer_id"] = int((cust < 0).sum())
    res.flagged["invoices"]["cancellation"] = int((prefix[line_inv] == "C").sum())
    res.bad_by_file.update(count_by_file(paths, month_key[bad_rows], BAD_KINDS, kinds))
    return res
