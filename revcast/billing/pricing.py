"""Pricing models: YAML rule sets (the `pricing/*.yaml` files), validated on load with errors that name the file,
the rule and the field.

A file holds one pricing model::

    model: volume_discount          # its tag; `production` is the real price book (the floor)
    description: ...
    currency: USD                   # default of its rules
    rules:
      - name: discounted api calls
        salience: 60                # higher is tried first; what-if rules sit above production's
        when:
          metric: api_calls         # exact metric name
          account: "C000*"          # glob on the account id (default "*")
          tags: {segment: smb}      # every pair must be among the record's tags (optional)
          from: 2024-01-01          # period start on or after (optional)
          to: 2024-12-31            # period start on or before (optional)
        unit_price: 0.15            # per unit; or `tiers` (below), not both
        unit: calls
        included: 1000              # free quantity per account and month (optional)
        minimum: 5.00               # monthly minimum charge of the line (optional)
        currency: USD               # overrides the model's (optional)
      - name: tiered storage
        salience: 60
        when: {metric: storage_gb}
        tiers:                      # graduated: each slice at its price; volume: all units at one tier's price
          mode: graduated
          bands: [{up_to: 1000, unit_price: 0.10}, {up_to: null, unit_price: 0.08}]

A rule of a model other than production only matches records tagged `target=<model>` (the forecast records a
pricing evaluation creates carry that tag), so untagged real usage is
always priced by production.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

PRODUCTION = "production"
TARGET_TAG = "target"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MODEL_FIELDS = {"model", "description", "currency", "rules"}
RULE_FIELDS = {"name", "salience", "when", "unit_price", "tiers", "unit", "included", "minimum", "currency"}
WHEN_FIELDS = {"metric", "account", "tags", "from", "to"}
TIER_FIELDS = {"mode", "bands"}
BAND_FIELDS = {"up_to", "unit_price"}
TIER_MODES = ("graduated", "volume")


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps (dates stay text, so a bad one is reported with its rule and field)
    and with YAML 1.2 floats: `1e-3` is a number, not the text PyYAML's YAML 1.1 rules make of it."""


_FLOAT_12 = re.compile(
    r"^[-+]?(?:(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+)$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "-+0123456789.":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(("tag:yaml.org,2002:float", _FLOAT_12))


class PricingError(ValueError):
    """A pricing model that cannot be used: `<file>: rule <name>: <field>: what is wrong`."""


@dataclass(frozen=True)
class Band:
    lower: float
    upper: float  # math.inf for the last band
    unit_price: float


@dataclass(frozen=True)
class Rule:
    model: str
    name: str
    salience: int
    metric: str
    account: str = "*"
    tags: tuple[tuple[str, str], ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    mode: str = "graduated"  # a flat unit price is one graduated band
    bands: tuple[Band, ...] = ()
    unit: str | None = None
    included: float = 0.0
    minimum: float = 0.0
    currency: str = "USD"
    position: int = 0  # order in its file, the last tie-breaker

    def matches(self, account: str, metric: str, tags: dict[str, str], period: date) -> bool:
        """The rule's `when`, in Python (the rating engine does the same in SQL; tests compare them)."""
        return (
            metric == self.metric
            and fnmatch.fnmatchcase(account, self.account)
            and all(tags.get(k) == v for k, v in self.tags)
            and (self.date_from is None or period >= self.date_from)
            and (self.date_to is None or period <= self.date_to)
        )


@dataclass(frozen=True)
class PricingModel:
    model: str
    description: str
    currency: str
    rules: tuple[Rule, ...]
    source: str


@dataclass(frozen=True)
class PricingBook:
    """Every loaded pricing model by tag; production must be among them."""

    models: dict[str, PricingModel] = field(default_factory=dict)

    def rules(self) -> list[Rule]:
        return [r for m in self.models.values() for r in m.rules]

    def candidates(self) -> list[str]:
        """The what-if models (every model but production), sorted."""
        return sorted(m for m in self.models if m != PRODUCTION)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _date(value: object, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PricingError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _unknown(raw: dict, allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise PricingError(f"{where}: unknown field {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _price(value: object, where: str) -> float:
    if not _number(value) or value < 0:
        raise PricingError(f"{where}: must be a number >= 0, got {value!r}")
    return float(value)


def _bands(raw: object, where: str) -> tuple[str, tuple[Band, ...]]:
    if not isinstance(raw, dict):
        raise PricingError(f"{where}: must be a mapping with mode and bands, got {raw!r}")
    _unknown(raw, TIER_FIELDS, where)
    mode = raw.get("mode", "graduated")
    if mode not in TIER_MODES:
        raise PricingError(f"{where}.mode: must be one of {', '.join(TIER_MODES)}, got {mode!r}")
    bands_raw = raw.get("bands")
    if not isinstance(bands_raw, list) or not bands_raw:
        raise PricingError(f"{where}.bands: must be a non-empty list of {{up_to, unit_price}}")
    bands, lower = [], 0.0
    for i, b in enumerate(bands_raw):
        at = f"{where}.bands[{i}]"
        if not isinstance(b, dict):
            raise PricingError(f"{at}: must be a mapping with up_to and unit_price, got {b!r}")
        _unknown(b, BAND_FIELDS, at)
        up_to = b.get("up_to")
        last = i == len(bands_raw) - 1
        if up_to is None and not last:
            raise PricingError(f"{at}.up_to: only the last band may be open (null)")
        if up_to is not None and (not _number(up_to) or up_to <= lower):
            raise PricingError(
                f"{at}.up_to: must be a number above the previous band's ({lower:g}), got {up_to!r}"
            )
        upper = math.inf if up_to is None else float(up_to)
        bands.append(Band(lower, upper, _price(b.get("unit_price"), f"{at}.unit_price")))
        lower = upper
    if bands[-1].upper != math.inf:
        raise PricingError(f"{where}.bands[{len(bands) - 1}].up_to: the last band must be open (null)")
    return mode, tuple(bands)


def parse_rule(raw: object, model: str, currency: str, position: int, source: str) -> Rule:
    """One rule of a model file, validated."""
    name = raw.get("name") if isinstance(raw, dict) else None
    where = f"{source}: rule {name!r}" if isinstance(name, str) and name else f"{source}: rules[{position}]"
    if not isinstance(raw, dict):
        raise PricingError(f"{where}: must be a mapping, got {raw!r}")
    _unknown(raw, RULE_FIELDS, where)
    if not isinstance(name, str) or not name.strip():
        raise PricingError(f"{where}.name: required, a non-empty string")
    salience = raw.get("salience")
    if not isinstance(salience, int) or isinstance(salience, bool):
        raise PricingError(f"{where}.salience: required, an integer, got {salience!r}")
    when = raw.get("when")
    if not isinstance(when, dict):
        raise PricingError(f"{where}.when: required, a mapping with at least metric, got {when!r}")
    _unknown(when, WHEN_FIELDS, f"{where}.when")
    metric = when.get("metric")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise PricingError(f"{where}.when.metric: required, a metric name such as api_calls, got {metric!r}")
    account = when.get("account", "*")
    if not isinstance(account, str) or not account:
        raise PricingError(f"{where}.when.account: must be a glob string such as 'C000*', got {account!r}")
    tags_raw = when.get("tags", {}) or {}
    if not isinstance(tags_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int) for k, v in tags_raw.items()
    ):
        raise PricingError(f"{where}.when.tags: must be a mapping of tag -> value, got {tags_raw!r}")
    tags = {k: str(v) for k, v in tags_raw.items()}
    if model != PRODUCTION:
        if tags.get(TARGET_TAG, model) != model:
            raise PricingError(
                f"{where}.when.tags.{TARGET_TAG}: a rule of model {model!r} only fires on its own tag"
            )
        tags[TARGET_TAG] = model
    date_from = _date(when.get("from"), f"{where}.when.from")
    date_to = _date(when.get("to"), f"{where}.when.to")
    if date_from and date_to and date_to < date_from:
        raise PricingError(f"{where}.when.to: {date_to} is before from {date_from}")
    has_price, has_tiers = "unit_price" in raw, "tiers" in raw
    if has_price == has_tiers:
        raise PricingError(f"{where}.unit_price: give exactly one of unit_price or tiers")
    if has_price:
        mode, bands = "graduated", (Band(0.0, math.inf, _price(raw["unit_price"], f"{where}.unit_price")),)
    else:
        mode, bands = _bands(raw["tiers"], f"{where}.tiers")
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise PricingError(f"{where}.unit: must be a string, got {unit!r}")
    rule_currency = raw.get("currency", currency)
    if not isinstance(rule_currency, str) or not _CURRENCY.match(rule_currency):
        raise PricingError(f"{where}.currency: must be a 3-letter code such as USD, got {rule_currency!r}")
    return Rule(
        model=model,
        name=name,
        salience=salience,
        metric=metric,
        account=account,
        tags=tuple(sorted(tags.items())),
        date_from=date_from,
        date_to=date_to,
        mode=mode,
        bands=bands,
        unit=unit,
        included=_price(raw.get("included", 0), f"{where}.included"),
        minimum=_price(raw.get("minimum", 0), f"{where}.minimum"),
        currency=rule_currency,
        position=position,
    )


def parse_pricing_model(text: str, source: str = "<pricing model>") -> PricingModel:
    """A pricing model from YAML text; PricingError names the file, the rule and the field."""
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise PricingError(f"{source}:{at}: invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(raw, dict):
        raise PricingError(
            f"{source}: must be a mapping with model, currency and rules, got {type(raw).__name__}"
        )
    _unknown(raw, MODEL_FIELDS, source)
    model = raw.get("model")
    if not isinstance(model, str) or not _NAME.match(model):
        raise PricingError(f"{source}: model: required, a tag of letters, digits, _ . -, got {model!r}")
    currency = raw.get("currency", "USD")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise PricingError(f"{source}: currency: must be a 3-letter code such as USD, got {currency!r}")
    rules = raw.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PricingError(f"{source}: rules: required, a non-empty list")
    parsed = tuple(parse_rule(r, model, currency, i, source) for i, r in enumerate(rules))
    names = [r.name for r in parsed]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise PricingError(f"{source}: rule {dup!r}: name: used twice in model {model!r}")
    return PricingModel(model, str(raw.get("description", "")), currency, parsed, source)


def load_pricing(paths: list[Path] | Path) -> PricingBook:
    """Every pricing model of a folder (its *.yaml) or of the given files; production is required."""
    if isinstance(paths, Path | str) and Path(paths).is_dir():
        files = sorted(Path(paths).glob("*.yaml")) + sorted(Path(paths).glob("*.yml"))
    else:
        files = [Path(p) for p in ([paths] if isinstance(paths, Path | str) else paths)]
    models: dict[str, PricingModel] = {}
    for path in files:
        model = parse_pricing_model(path.read_text(encoding="utf-8"), str(path))
        if model.model in models:
            raise PricingError(
                f"{path}: model: {model.model!r} is also defined in {models[model.model].source}"
            )
        models[model.model] = model
    if PRODUCTION not in models:
        raise PricingError(
            f"{', '.join(map(str, files)) or paths}: no {PRODUCTION!r} model (the floor of every rating)"
        )
    return PricingBook(models)
