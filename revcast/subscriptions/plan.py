"""The subscription plan config (`subscriptions/plan.yaml`): validated on load, every error naming its field.

Per platform:
- `install2access`: the share of installs that start a subscription (trial or paid), a number in [0, 1], or
  per-month values (`YYYY-MM: value`) with a `default` for the other months;
- `commission`: what the store leaves the company, [first year, later years], each in (0, 1];
- `products`: `product_id`, `price` (> 0), `share` of new subscriptions in [0, 1], `trial2purchase` (the
  share of trials that pay) in [0, 1], `actual` (sold to new users; an old product only renews), optional
  `duration` in months (1 or 12; by default 1 for an id containing "month", 12 for one containing "year").
The shares of a platform's actual products sum to 1. Optional top-level `plan_start` / `plan_end` (dates)
fix the plan period; without them a plan covers the four months after its training cutoff.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

PERIOD_KEYS = ("plan_start", "plan_end")
DURATIONS = (1, 12)
SHARE_TOLERANCE = 1e-6
DEFAULT_PLAN_MONTHS = 4


class PlanError(ValueError):
    """plan.yaml is invalid: the message names the field (e.g. `iOS.products[2].share`)."""


@dataclass(frozen=True)
class Product:
    """One subscription product of a platform."""

    product_id: str
    duration: int  # months: 1 or 12
    price: float
    share: float
    trial2purchase: float
    actual: bool


@dataclass(frozen=True)
class PlatformPlan:
    """install2access (default and per-month overrides), store commission and products of one platform."""

    platform: str
    install2access_default: float
    install2access_by_month: dict[str, float]  # "YYYY-MM" -> value
    commission_first_year: float
    commission_later_years: float
    products: tuple[Product, ...]

    def product(self, product_id: str) -> Product:
        for p in self.products:
            if p.product_id == product_id:
                return p
        raise KeyError(product_id)

    def install2access(self, days: pd.DatetimeIndex | pd.Series) -> np.ndarray:
        """install2access of each day: the value of its month if the plan sets one, else the default."""
        months = pd.DatetimeIndex(days).strftime("%Y-%m")
        return np.array([self.install2access_by_month.get(m, self.install2access_default) for m in months])


@dataclass(frozen=True)
class SubscriptionPlan:
    """The validated plan: one PlatformPlan per platform, and the plan period if the file fixes one."""

    platforms: dict[str, PlatformPlan]
    plan_start: date | None = None
    plan_end: date | None = None
    source: str = field(default="", compare=False)

    def check_products(self, purchases: pd.DataFrame) -> None:
        """Every (platform, product_id) in the purchase history must be in the plan, or a PlanError names it."""
        seen = purchases[["platform", "product_id"]].drop_duplicates().sort_values(["platform", "product_id"])
        unknown = [
            f"{r.product_id!r} on {r.platform}"
            for r in seen.itertuples()
            if r.platform not in self.platforms
            or r.product_id not in {p.product_id for p in self.platforms[r.platform].products}
        ]
        if unknown:
            raise PlanError(
                f"{self.source or 'plan.yaml'}: the purchase history has product(s) the plan does not know: "
                f"{', '.join(unknown)}; add them (with price) under their platform's products"
            )

    def period(self, last_day: date, months: int = DEFAULT_PLAN_MONTHS) -> tuple[date, date]:
        """The plan period after a training cutoff's last day: the file's, else the `months` months after it."""
        if self.plan_start is not None:
            start, end = self.plan_start, self.plan_end
            if start <= last_day:
                raise PlanError(
                    f"plan_start {start} is on or before the training cutoff's last day {last_day}: the plan "
                    "forecasts forward; move plan_start/plan_end in plan.yaml, or drop them for the default "
                    f"({months} months after the cutoff)"
                )
            return start, end
        start = pd.Timestamp(last_day) + pd.Timedelta(days=1)
        return start.date(), (start + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()

    def products_frame(self) -> pd.DataFrame:
        """One row per (platform, product): the table clean.subscription_plan holds."""
        rows = []
        for pp in self.platforms.values():
            for p in pp.products:
                rows.append(
                    {
                        "platform": pp.platform,
                        "product_id": p.product_id,
                        "duration": p.duration,
                        "price": p.price,
                        "share": p.share,
                        "trial2purchase": p.trial2purchase,
                        "actual": p.actual,
                        "commission_first_year": pp.commission_first_year,
                        "commission_later_years": pp.commission_later_years,
                        "install2access_default": pp.install2access_default,
                        "install2access_by_month": json.dumps(pp.install2access_by_month, sort_keys=True),
                        "plan_start": self.plan_start,
                        "plan_end": self.plan_end,
                    }
                )
        return pd.DataFrame(rows)


def _number(value: Any, where: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanError(f"{where}: expected a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x > hi or x < lo or (lo_open and x == lo):
        left = "(" if lo_open else "["
        right = "]" if math.isfinite(hi) else ")"
        raise PlanError(f"{where}: {value!r} is outside {left}{lo:g}, {hi:g}{right}")
    return x


def _month_key(key: Any, where: str) -> str:
    """A per-month install2access key: YYYY-MM (or a date / YYYY-MM-DD naming its month)."""
    if isinstance(key, date):
        return key.strftime("%Y-%m")
    text = str(key).strip()
    for fmt in ("%Y-%m", "%Y-%m-%d"):
        try:
            return pd.to_datetime(text, format=fmt).strftime("%Y-%m")
        except ValueError:
            continue
    raise PlanError(f"{where}: month key {key!r} is not YYYY-MM (or 'default')")


def _install2access(value: Any, where: str) -> tuple[float, dict[str, float]]:
    if isinstance(value, dict):
        if "default" not in value:
            raise PlanError(f"{where}: per-month values need a 'default' for the other months")
        default = _number(value["default"], f"{where}.default", 0.0, 1.0)
        months = {}
        for key, v in value.items():
            if key == "default":
                continue
            month = _month_key(key, where)
            months[month] = _number(v, f"{where}.{month}", 0.0, 1.0)
        return default, months
    return _number(value, where, 0.0, 1.0), {}


def _duration(product_id: str, value: Any, where: str) -> int:
    if value is None:
        lowered = product_id.lower()
        if "month" in lowered and "year" not in lowered:
            return 1
        if "year" in lowered and "month" not in lowered:
            return 12
        raise PlanError(f"{where}.duration: cannot tell from {product_id!r}; set duration (1 or 12 months)")
    if isinstance(value, bool) or value not in DURATIONS:
        raise PlanError(f"{where}.duration: {value!r} is not one of {list(DURATIONS)} (months)")
    return int(value)


def _product(raw: Any, where: str) -> Product:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: expected a mapping with product_id, price, share, trial2purchase, actual")
    allowed = {"product_id", "price", "share", "trial2purchase", "actual", "duration"}
    extra = sorted(set(raw) - allowed)
    if extra:
        raise PlanError(f"{where}: unknown field(s) {', '.join(map(str, extra))}")
    for key in ("product_id", "price", "share", "trial2purchase", "actual"):
        if key not in raw:
            raise PlanError(f"{where}.{key}: missing")
    pid = raw["product_id"]
    if not isinstance(pid, str) or not pid.strip():
        raise PlanError(f"{where}.product_id: expected a non-empty string, got {pid!r}")
    if not isinstance(raw["actual"], bool):
        raise PlanError(f"{where}.actual: expected true or false, got {raw['actual']!r}")
    return Product(
        product_id=pid.strip(),
        duration=_duration(pid, raw.get("duration"), where),
        price=_number(raw["price"], f"{where}.price", 0.0, math.inf, lo_open=True),
        share=_number(raw["share"], f"{where}.share", 0.0, 1.0),
        trial2purchase=_number(raw["trial2purchase"], f"{where}.trial2purchase", 0.0, 1.0),
        actual=raw["actual"],
    )


def _platform(name: str, raw: Any) -> PlatformPlan:
    if not isinstance(raw, dict):
        raise PlanError(f"{name}: expected a mapping with install2access, commission and products")
    extra = sorted(set(raw) - {"install2access", "commission", "products"})
    if extra:
        raise PlanError(f"{name}: unknown field(s) {', '.join(map(str, extra))}")
    for key in ("install2access", "commission", "products"):
        if key not in raw:
            raise PlanError(f"{name}.{key}: missing")
    default, months = _install2access(raw["install2access"], f"{name}.install2access")
    commission = raw["commission"]
    if not isinstance(commission, list) or len(commission) != 2:
        raise PlanError(f"{name}.commission: expected [first year, later years], got {commission!r}")
    first = _number(commission[0], f"{name}.commission[0]", 0.0, 1.0, lo_open=True)
    later = _number(commission[1], f"{name}.commission[1]", 0.0, 1.0, lo_open=True)
    products = raw["products"]
    if not isinstance(products, list) or not products:
        raise PlanError(f"{name}.products: expected a non-empty list of products")
    parsed = tuple(_product(p, f"{name}.products[{i}]") for i, p in enumerate(products))
    ids = [p.product_id for p in parsed]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise PlanError(f"{name}.products: product_id {', '.join(map(repr, duplicated))} listed twice")
    actual = [p for p in parsed if p.actual]
    if not actual:
        raise PlanError(f"{name}.products: no actual product (actual: true) to sell to new users")
    total = sum(p.share for p in actual)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        listed = " + ".join(f"{p.product_id} {p.share:g}" for p in actual)
        raise PlanError(f"{name}.products: shares of the actual products sum to {total:g} ({listed}), not 1")
    return PlatformPlan(name, default, months, first, later, parsed)


def _plan_date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise PlanError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_plan(raw: Any, source: str = "plan.yaml") -> SubscriptionPlan:
    """Validate a loaded plan.yaml document (see the module doc); a PlanError names the first bad field."""
    if not isinstance(raw, dict) or not raw:
        raise PlanError(f"{source}: expected a mapping of platform -> plan")
    start = _plan_date(raw.get("plan_start"), "plan_start")
    end = _plan_date(raw.get("plan_end"), "plan_end")
    if (start is None) != (end is None):
        raise PlanError("plan_start and plan_end: set both or neither")
    if start is not None and end < start:
        raise PlanError(f"plan_end: {end} is before plan_start {start}")
    platforms = {str(k): _platform(str(k), v) for k, v in raw.items() if k not in PERIOD_KEYS}
    if not platforms:
        raise PlanError(f"{source}: no platform in the plan")
    return SubscriptionPlan(platforms, start, end, source)


def load_plan(path: Path | str) -> SubscriptionPlan:
    """Read and validate plan.yaml."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise PlanError(f"{path}: not valid YAML ({error})") from error
    return parse_plan(raw, str(path))


def plan_from_frame(frame: pd.DataFrame) -> SubscriptionPlan:
    """Rebuild the plan from clean.subscription_plan rows (the inverse of SubscriptionPlan.products_frame)."""
    if frame.empty:
        raise PlanError("clean.subscription_plan is empty: materialize subscription_plan first")
    platforms = {}
    for name, rows in frame.groupby("platform", sort=True):
        first = rows.iloc[0]
        products = tuple(
            Product(r.product_id, int(r.duration), float(r.price), float(r.share), float(r.trial2purchase),
                    bool(r.actual))
            for r in rows.itertuples()
        )  # fmt: skip
        platforms[str(name)] = PlatformPlan(
            str(name),
            float(first["install2access_default"]),
            json.loads(first["install2access_by_month"]),
            float(first["commission_first_year"]),
            float(first["commission_later_years"]),
            products,
        )
    start, end = frame["plan_start"].iloc[0], frame["plan_end"].iloc[0]
    to_date = lambda v: None if v is None or pd.isna(v) else pd.Timestamp(v).date()  # noqa: E731
    return SubscriptionPlan(platforms, to_date(start), to_date(end), "clean.subscription_plan")
