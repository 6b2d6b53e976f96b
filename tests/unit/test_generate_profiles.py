"""The generator's hard profile: intermittent small countries, a dominant country and key account, year-end
peaks and closure, intermittent usage accounts; the default (kind) profile is unchanged by the flag."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from revcast.formats import INVOICE_KEY_VARIANTS
from revcast.generate import generate_landing

PARAMS = {"seed": 11, "accounts": 200, "start": date(2022, 1, 1), "end": date(2022, 12, 31)}
DOMAINS = ["usage", "invoices", "pricing"]


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*")
            if p.is_file()}  # fmt: skip


def daily_revenue(landing: Path) -> dict[str, dict[date, float]]:
    """Revenue per country and day from the raw invoice files (cancellations and bad lines left out)."""
    price_keys = INVOICE_KEY_VARIANTS["price"]
    out: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for path in sorted((landing / "invoices").rglob("*.json")):
        for r in json.loads(path.read_text()):
            price = next(float(r[k]) for k in price_keys if k in r)
            try:
                day = date(int(r["year"]), int(r["month"]), int(r["day"]))
            except ValueError:
                continue
            if not r["invoice"].startswith("C") and 0 <= price <= 10_000:
                out[r["country"]][day] += price
    return out


def customer_revenue(landing: Path) -> dict[object, float]:
    price_keys = INVOICE_KEY_VARIANTS["price"]
    out: dict[object, float] = defaultdict(float)
    for path in sorted((landing / "invoices").rglob("*.json")):
        for r in json.loads(path.read_text()):
            price = next(float(r[k]) for k in price_keys if k in r)
            if not r["invoice"].startswith("C") and 0 <= price <= 10_000:
                out[r["customer_id"]] += price
    return out


@pytest.fixture(scope="module")
def landings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    roots = {}
    for profile in ("kind", "hard"):
        roots[profile] = tmp_path_factory.mktemp(profile)
        generate_landing(roots[profile], domains=DOMAINS, profile=profile, **PARAMS)
    return roots


def test_default_profile_is_the_kind_one_byte_for_byte(landings: dict[str, Path], tmp_path: Path) -> None:
    generate_landing(tmp_path, domains=DOMAINS, **PARAMS)
    assert _hashes(tmp_path) == _hashes(landings["kind"])
    hard = json.loads((landings["hard"] / "_manifest.json").read_text())["parameters"]
    kind = json.loads((landings["kind"] / "_manifest.json").read_text())["parameters"]
    assert hard["profile"] == "hard" and "profile" not in kind
    with pytest.raises(ValueError, match="profile"):
        generate_landing(tmp_path / "x", domains=DOMAINS, profile="mean", **PARAMS)


def _zero_shares(revenue: dict[str, dict[date, float]]) -> dict[str, float]:
    days = (PARAMS["end"] - PARAMS["start"]).days + 1
    return {c: 1 - sum(v > 0 for v in by_day.values()) / days for c, by_day in revenue.items()}


def test_hard_invoices_are_intermittent_concentrated_and_peak_at_year_end(landings: dict[str, Path]) -> None:
    hard, kind = daily_revenue(landings["hard"]), daily_revenue(landings["kind"])
    total = {c: sum(v.values()) for c, v in hard.items()}
    ranked = sorted(total, key=total.get, reverse=True)
    assert ranked[0] == "United Kingdom" and total[ranked[0]] / sum(total.values()) > 0.7
    small = ranked[1:10]  # the other series of the invoice tournament
    zero_hard, zero_kind = _zero_shares(hard), _zero_shares(kind)
    assert min(zero_hard[c] for c in small) > 0.5
    assert np.mean([zero_hard[c] for c in small]) > np.mean([zero_kind.get(c, 1.0) for c in small]) + 0.1

    customers = customer_revenue(landings["hard"])
    key_share = max(v for k, v in customers.items() if k is not None) / sum(customers.values())
    assert key_share > 0.1  # one customer carries a large share (guests excluded)

    all_days: dict[date, float] = defaultdict(float)
    for by_day in hard.values():
        for d, v in by_day.items():
            all_days[d] += v
    closed = [d for d in all_days if (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day <= 2)]
    assert not closed  # every market closed 24 Dec - 2 Jan
    month = defaultdict(float)
    for d, v in all_days.items():
        month[d.month] += v
    assert month[11] > 1.5 * np.mean([month[m] for m in range(2, 9)])
    daily = np.array([all_days.get(d, 0.0) for d in sorted(all_days)])
    assert daily.max() > 4 * np.median(daily)  # spiky days


def _zero_share_per_account(landing: Path) -> np.ndarray:
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in (landing / "usage").rglob("*.csv"):
        with path.open() as f:
            for row in csv.DictReader(f):
                value = row["#api_calls(Product_1)"]
                if value.isdigit():
                    days[row["customer_id"]][0] += value == "0"
                    days[row["customer_id"]][1] += 1
    return np.array([z / n for z, n in days.values() if n >= 60])


def test_hard_usage_has_intermittent_accounts(landings: dict[str, Path]) -> None:
    hard, kind = _zero_share_per_account(landings["hard"]), _zero_share_per_account(landings["kind"])
    assert (hard > 0.5).mean() > 0.2  # a share of accounts call the API on a minority of their days
    assert (kind > 0.5).mean() < 0.05
