"""The usage price book: a YAML file of unit prices per metric, validated on load with errors that name the field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from revcast.settings import settings

DEFAULT_PRICE_BOOK = Path(__file__).with_name("price_book.yaml")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TOP_FIELDS = {"currency", "prices"}
_PRICE_FIELDS = {"unit_price", "unit", "description"}


class PriceBookError(ValueError):
    """A price book that cannot be used; the message lists every problem as `field: what is wrong`."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"invalid price book {source}:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class PriceBook:
    """Unit prices per metric in one currency."""

    currency: str
    unit_prices: dict[str, float]
    units: dict[str, str]
    source: str

    def price(self, metric: str) -> float:
        """The unit price of a metric; a clear error for an unpriced one."""
        if metric not in self.unit_prices:
            raise PriceBookError(self.source, [f"prices.{metric}: missing (no price for metric {metric!r})"])
        return self.unit_prices[metric]


def price_book_path(override: str | None = None) -> Path:
    """The price book to use: an explicit override, else env REVCAST_PRICE_BOOK, else the packaged default."""
    return Path(override or settings().price_book or DEFAULT_PRICE_BOOK)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_price_book(
    raw: object, source: str = "<price book>", metrics: set[str] | None = None
) -> PriceBook:
    """Check a parsed price book; `metrics` (when given) are the metrics the data has: each needs a price and
    a priced metric outside them is reported as unknown (a typo such as `storage_GB`)."""
    if not isinstance(raw, dict):
        raise PriceBookError(source, [f"<root>: must be a mapping with currency and prices, got {raw!r}"])
    problems = [
        f"{k}: unknown field (expected one of {sorted(_TOP_FIELDS)})" for k in raw if k not in _TOP_FIELDS
    ]
    currency = raw.get("currency")
    if currency is None:
        problems.append("currency: missing")
    elif not isinstance(currency, str) or not _CURRENCY.match(currency):
        problems.append(f"currency: must be a three-letter ISO code such as USD, got {currency!r}")
    prices = raw.get("prices")
    unit_prices: dict[str, float] = {}
    units: dict[str, str] = {}
    if prices is None:
        problems.append("prices: missing")
    elif not isinstance(prices, dict) or not prices:
        problems.append(f"prices: must be a non-empty mapping of metric -> price entry, got {prices!r}")
    else:
        for metric, entry in prices.items():
            field = f"prices.{metric}"
            if not isinstance(metric, str) or not _METRIC.match(metric):
                problems.append(f"{field}: metric names are lower_snake_case")
                continue
            if metrics is not None and metric not in metrics:
                problems.append(f"{field}: unknown metric (the data has {sorted(metrics)})")
            if not isinstance(entry, dict):
                problems.append(f"{field}: must be a mapping with unit_price, got {entry!r}")
                continue
            problems += [
                f"{field}.{k}: unknown field (expected {sorted(_PRICE_FIELDS)})"
                for k in entry
                if k not in _PRICE_FIELDS
            ]
            value = entry.get("unit_price")
            if value is None:
                problems.append(f"{field}.unit_price: missing")
            elif not _is_number(value) or value < 0:
                problems.append(f"{field}.unit_price: must be a non-negative number, got {value!r}")
            else:
                unit_prices[metric] = float(value)
            unit = entry.get("unit", "")
            if not isinstance(unit, str):
                problems.append(f"{field}.unit: must be text, got {unit!r}")
            units[metric] = str(unit)
    if metrics is not None and isinstance(prices, dict):
        problems += [
            f"prices.{m}: missing (the data has metric {m!r})" for m in sorted(metrics - set(prices))
        ]
    if problems:
        raise PriceBookError(source, problems)
    return PriceBook(currency=currency, unit_prices=unit_prices, units=units, source=source)


def load_price_book(path: str | Path | None = None, metrics: set[str] | None = None) -> PriceBook:
    """Read and validate the price book at `path` (default: price_book_path())."""
    path = price_book_path(str(path) if path else None)
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise PriceBookError(str(path), ["<file>: not found"]) from None
    except yaml.YAMLError as exc:
        raise PriceBookError(str(path), [f"<file>: not valid YAML ({exc})"]) from None
    return validate_price_book(raw, str(path), metrics)
