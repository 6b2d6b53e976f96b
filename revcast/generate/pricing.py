"""Example pricing models written to pricing/*.yaml.

A pricing model file has: ``model`` (its tag; ``production`` is the real price book), ``description``, ``currency``
and ``rules``. Each rule has ``name``, ``salience`` (higher is tried first; tagged what-if rules sit above the
production rules, which use 10), ``when`` (``metric``: exact metric name; optional ``account``: a glob on the account
id, default ``*``; optional ``tags``, ``from``, ``to``) and ``unit_price`` per ``unit`` or ``tiers`` (graduated or
volume bands), optional ``included`` free quantity, monthly ``minimum`` and ``currency``. A usage record is priced by
the first matching rule of the targeted model, highest salience first, falling back to the production rules. The
format is validated and rated by ``revcast.billing`` (its module doc describes every field).
"""

from __future__ import annotations

from pathlib import Path

from revcast.generate._common import DomainResult, write_bytes

PRICING_MODELS: dict[str, str] = {
    "production.yaml": """\
# the usage price book: $0.20 per API call, $0.10 per GB of storage per day
model: production
description: Default price book of the usage products
currency: USD
rules:
  - name: api calls
    salience: 10
    when: {metric: api_calls}
    unit_price: 0.20
    unit: calls
  - name: storage
    salience: 10
    when: {metric: storage_gb}
    unit_price: 0.10
    unit: GB-day
""",
    "volume_discount.yaml": """\
# what-if: cheaper API calls for the first thousand accounts, storage unchanged (falls back to production)
model: volume_discount
description: API calls at $0.15 for accounts C000001-C000999
currency: USD
rules:
  - name: discounted api calls
    salience: 60
    when: {metric: api_calls, account: "C000*"}
    unit_price: 0.15
    unit: calls
""",
    "storage_premium.yaml": """\
# what-if: storage repriced for everybody, API calls slightly cheaper
model: storage_premium
description: Storage at $0.12 per GB-day, API calls at $0.18
currency: USD
rules:
  - name: premium storage
    salience: 60
    when: {metric: storage_gb, account: "*"}
    unit_price: 0.12
    unit: GB-day
  - name: api calls
    salience: 60
    when: {metric: api_calls}
    unit_price: 0.18
    unit: calls
""",
    "usage_tiers.yaml": """\
# what-if: a free allowance and graduated API prices, volume-priced storage, a monthly minimum per line
model: usage_tiers
description: 1,000 free API calls a month then graduated prices; storage priced by volume band; $5 minimum
currency: USD
rules:
  - name: graduated api calls
    salience: 60
    when: {metric: api_calls}
    included: 1000
    tiers:
      mode: graduated
      bands:
        - {up_to: 10000, unit_price: 0.20}
        - {up_to: 100000, unit_price: 0.16}
        - {up_to: null, unit_price: 0.12}
    unit: calls
    minimum: 5.0
  - name: volume storage
    salience: 60
    when: {metric: storage_gb}
    tiers:
      mode: volume
      bands:
        - {up_to: 300, unit_price: 0.10}
        - {up_to: null, unit_price: 0.09}
    unit: GB-day
""",
}


def generate_pricing(out: Path) -> DomainResult:
    """Write the example pricing models; returns what was written."""
    files = []
    for name, text in sorted(PRICING_MODELS.items()):
        write_bytes(out / "pricing" / name, text.encode())
        files.append(f"pricing/{name}")
    return DomainResult(files=files, rows={"pricing": len(files)})
