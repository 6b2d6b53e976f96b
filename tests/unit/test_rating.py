"""The rating engine: table-driven rule cases, properties (hypothesis), the YAML format's errors, the warehouse write."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revcast.billing import (
    PricingBook,
    PricingError,
    load_pricing,
    parse_pricing_model,
    rate,
    rate_frame,
    write_rating,
)
from revcast.generate.pricing import PRICING_MODELS
from revcast.warehouse import apply_ddl

PRODUCTION = """
model: production
currency: USD
rules:
  - {name: api, salience: 10, when: {metric: api_calls}, unit_price: 0.2}
  - {name: storage, salience: 10, when: {metric: storage_gb}, unit_price: 0.1}
  - {name: vip api, salience: 20, when: {metric: api_calls, account: "VIP*"}, unit_price: 0.1}
  - {name: smb api, salience: 15, when: {metric: api_calls, tags: {segment: smb}}, unit_price: 0.18}
  - {name: memory 2024, salience: 10, when: {metric: memory, from: 2024-01-01, to: 2024-12-31}, unit_price: 0.01,
     currency: CHF}
"""
TEST1 = """
model: test1
currency: USD
rules:
  - {name: api free 100, salience: 60, when: {metric: api_calls}, unit_price: 0.3, included: 100}
  - name: storage graduated
    salience: 60
    when: {metric: storage_gb}
    tiers: {mode: graduated, bands: [{up_to: 100, unit_price: 1.0}, {up_to: 200, unit_price: 0.5}, {up_to: null, unit_price: 0.25}]}
  - name: cpu volume
    salience: 60
    when: {metric: cpu}
    tiers: {mode: volume, bands: [{up_to: 100, unit_price: 1.0}, {up_to: null, unit_price: 0.5}]}
  - {name: memory minimum, salience: 60, when: {metric: memory}, unit_price: 0.01, minimum: 5, currency: CHF}
"""


def book(*texts: str) -> PricingBook:
    models = [parse_pricing_model(t, f"<{i}>") for i, t in enumerate(texts)]
    return PricingBook({m.model: m for m in models})


BOOK = book(PRODUCTION, TEST1)

# account, metric, month, quantity, tags -> rule, model, charge, currency (None: unrated)
CASES = [
    ("plain production price", "A1", "api_calls", "2024-03-01", 100, [], "api", "production", 20.0, "USD"),
    (
        "account glob, higher salience",
        "VIP9",
        "api_calls",
        "2024-03-01",
        100,
        [],
        "vip api",
        "production",
        10.0,
        "USD",
    ),
    (
        "tag rule fires only with its tag",
        "A1",
        "api_calls",
        "2024-03-01",
        100,
        ["segment=smb"],
        "smb api",
        "production",
        18.0,
        "USD",
    ),
    (
        "salience: VIP beats the smb tag",
        "VIP1",
        "api_calls",
        "2024-03-01",
        100,
        ["segment=smb"],
        "vip api",
        "production",
        10.0,
        "USD",
    ),
    (
        "target tag: what-if above production",
        "VIP1",
        "api_calls",
        "2024-03-01",
        150,
        ["target=test1"],
        "api free 100",
        "test1",
        15.0,
        "USD",
    ),
    (
        "included quantity: nothing billable",
        "A1",
        "api_calls",
        "2024-03-01",
        80,
        ["target=test1"],
        "api free 100",
        "test1",
        0.0,
        "USD",
    ),
    (
        "graduated bands",
        "A1",
        "storage_gb",
        "2024-03-01",
        250,
        ["target=test1"],
        "storage graduated",
        "test1",
        100 + 50 + 12.5,
        "USD",
    ),
    (
        "graduated, inside the first band",
        "A1",
        "storage_gb",
        "2024-03-01",
        40,
        ["target=test1"],
        "storage graduated",
        "test1",
        40.0,
        "USD",
    ),
    (
        "volume: all units at the band's price",
        "A1",
        "cpu",
        "2024-03-01",
        150,
        ["target=test1"],
        "cpu volume",
        "test1",
        75.0,
        "USD",
    ),
    (
        "volume: on the band edge",
        "A1",
        "cpu",
        "2024-03-01",
        100,
        ["target=test1"],
        "cpu volume",
        "test1",
        100.0,
        "USD",
    ),
    (
        "monthly minimum and currency",
        "A1",
        "memory",
        "2024-03-01",
        100,
        ["target=test1"],
        "memory minimum",
        "test1",
        5.0,
        "CHF",
    ),
    (
        "production floor for an unpriced metric",
        "A1",
        "storage_gb",
        "2024-03-01",
        10,
        ["target=other"],
        "storage",
        "production",
        1.0,
        "USD",
    ),
    ("date range inside", "A1", "memory", "2024-06-01", 1000, [], "memory 2024", "production", 10.0, "CHF"),
    ("date range outside: unrated", "A1", "memory", "2025-01-01", 1000, [], None, None, None, None),
    ("unknown metric: unrated", "A1", "gpu", "2024-03-01", 5, [], None, None, None, None),
    ("cpu without the target: unrated", "A1", "cpu", "2024-03-01", 5, [], None, None, None, None),
]


@pytest.mark.parametrize(
    ("case", "account", "metric", "day", "qty", "tags", "rule", "model", "charge", "currency"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_rating_rules(case, account, metric, day, qty, tags, rule, model, charge, currency):
    usage = pd.DataFrame(
        {"account_id": [account], "metric": [metric], "ds": [day], "quantity": [float(qty)], "tags": [tags]}
    )
    out = rate_frame(usage, BOOK)
    if rule is None:
        assert out["cdr"].empty and len(out["unrated"]) == 1
        assert (
            out["unrated"]["reason"]
            .iloc[0]
            .startswith(f"no rule matches metric {metric} for account {account}")
        )
        return
    (cdr,) = out["cdr"].to_dict("records")
    assert (cdr["rule"], cdr["pricing_model"], cdr["currency"]) == (rule, model, currency)
    assert cdr["charge"] == pytest.approx(charge)
    assert out["unrated"].empty
    # the SQL picks the rule the Python reading of `when` picks first
    tagmap = dict(t.split("=", 1) for t in tags)
    period = date.fromisoformat(day).replace(day=1)
    first = next(
        r
        for r in sorted(
            BOOK.rules(), key=lambda r: (-r.salience, r.model == "production", r.model, r.position)
        )
        if r.matches(account, metric, tagmap, period)
    )
    assert first.name == rule


def test_records_aggregate_into_monthly_udrs_and_bills():
    usage = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "B", "A"],
            "metric": ["api_calls", "api_calls", "storage_gb", "api_calls", "api_calls"],
            "ds": ["2024-01-03", "2024-01-20", "2024-01-05", "2024-01-01", "2024-02-01"],
            "quantity": [10.0, 5.0, 2.0, 1.0, 7.0],
        }
    )
    out = rate_frame(usage, BOOK)
    udr = out["udr"].sort_values(["account_id", "metric", "time_from"])
    assert udr[["account_id", "metric", "quantity", "records"]].values.tolist() == [
        ["A", "api_calls", 15.0, 2],
        ["A", "api_calls", 7.0, 1],
        ["A", "storage_gb", 2.0, 1],
        ["B", "api_calls", 1.0, 1],
    ]
    assert str(udr["time_to"].iloc[0])[:10] == "2024-01-31"
    bills = out["bills"].set_index("bill_id")
    assert bills.loc["A/2024-01/production/USD", "charge"] == pytest.approx(15 * 0.2 + 2 * 0.1)
    assert bills.loc["A/2024-01/production/USD", "lines"] == 2


records = st.lists(
    st.tuples(
        st.sampled_from(["A1", "VIP2", "C3"]),
        st.sampled_from(["api_calls", "storage_gb", "cpu", "memory", "gpu"]),
        st.dates(date(2023, 11, 1), date(2024, 2, 28)),
        st.floats(0, 1e6, allow_nan=False),
        st.sampled_from([[], ["target=test1"], ["segment=smb"]]),
    ),
    min_size=1,
    max_size=40,
)


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "metric", "ds", "quantity", "tags"])


@settings(max_examples=40, deadline=None)
@given(records)
def test_charges_sum_to_bill_totals_and_nothing_is_lost(rows):
    out = rate_frame(frame(rows), BOOK)
    by_bill = out["cdr"].assign(
        bill_id=lambda d: (
            d["account_id"]
            + "/"
            + pd.to_datetime(d["time_from"]).dt.strftime("%Y-%m")
            + "/"
            + d["target"]
            + "/"
            + d["currency"]
        )
    )
    sums = by_bill.groupby("bill_id")["charge"].sum()
    bills = out["bills"].set_index("bill_id")["charge"]
    pd.testing.assert_series_equal(sums.sort_index(), bills.sort_index(), check_names=False, rtol=1e-9)
    # every record's quantity is in a CDR or in the quarantine
    assert out["cdr"]["quantity"].sum() + out["unrated"]["quantity"].sum() == pytest.approx(
        sum(r[3] for r in rows)
    )


@settings(max_examples=30, deadline=None)
@given(records, st.randoms(use_true_random=False))
def test_rating_does_not_depend_on_record_order(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = rate_frame(frame(rows), BOOK), rate_frame(frame(shuffled), BOOK)
    cols = ["account_id", "metric", "time_from", "target", "rule", "charge", "currency"]
    left = a["cdr"][cols].sort_values(cols).reset_index(drop=True)
    right = b["cdr"][cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=20),
    st.floats(0, 1000, allow_nan=False),
)
def test_a_single_flat_rule_is_quantity_times_price(quantities, price):
    flat = book(
        f"model: production\nrules:\n  - {{name: flat, salience: 1, when: {{metric: m}}, unit_price: {price!r}}}\n"
    )
    usage = pd.DataFrame({"account_id": "A", "metric": "m", "ds": "2024-05-10", "quantity": quantities})
    (cdr,) = rate_frame(usage, flat)["cdr"].to_dict("records")
    assert cdr["charge"] == pytest.approx(sum(quantities) * price, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m}, unit_price: 1, colour: red}]",
            "rule 'a': unknown field 'colour'",
        ),
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m, acount: x}, unit_price: 1}]",
            "rule 'a'.when: unknown field 'acount'",
        ),
        (
            "model: production\nrules: [{name: a, salience: high, when: {metric: m}, unit_price: 1}]",
            "rule 'a'.salience: required, an integer",
        ),
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m}, unit_price: -1}]",
            "rule 'a'.unit_price: must be a number >= 0",
        ),
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m}}]",
            "rule 'a'.unit_price: give exactly one of unit_price or tiers",
        ),
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m}, unit_price: 1, currency: usd}]",
            "rule 'a'.currency",
        ),
        (
            "model: p2\nrules: [{name: a, salience: 1, when: {metric: m}, tiers: {mode: graduated, bands: [{up_to: 5, unit_price: 1}]}}]",
            "rule 'a'.tiers.bands[0].up_to: the last band must be open",
        ),
        (
            "model: p2\nrules: [{name: a, salience: 1, when: {metric: m}, tiers: {mode: flat, bands: [{up_to: null, unit_price: 1}]}}]",
            "rule 'a'.tiers.mode",
        ),
        (
            "model: production\nrules: [{name: a, salience: 1, when: {metric: m, from: 2024-13-01}, unit_price: 1}]",
            "rule 'a'.when.from",
        ),
        ("model: production\nrules: [{name: a\n  salience: 1", "invalid YAML"),
        ("model: production\nrules: []", "rules: required"),
    ],
)
def test_invalid_pricing_names_file_rule_and_field(text, message):
    with pytest.raises(PricingError, match="^pricing/x.yaml") as err:
        parse_pricing_model(text, "pricing/x.yaml")
    assert message in str(err.value)


def test_generated_pricing_models_load_and_production_is_required(tmp_path: Path):
    for name, text in PRICING_MODELS.items():
        (tmp_path / name).write_text(text)
    loaded = load_pricing(tmp_path)
    assert loaded.candidates() == ["storage_premium", "usage_tiers", "volume_discount"]
    (tmp_path / "production.yaml").unlink()
    with pytest.raises(PricingError, match="no 'production' model"):
        load_pricing(tmp_path)


def test_write_rating_replaces_its_run_in_the_warehouse():
    con = duckdb.connect()
    apply_ddl(con)
    usage = pd.DataFrame(
        {
            "account_id": ["A", "A"],
            "metric": ["api_calls", "gpu"],
            "ds": [date(2024, 1, 2)] * 2,
            "quantity": [3.0, 1.0],
        }
    )
    con.register("_u", usage)
    con.execute("CREATE TEMP VIEW usage_records AS SELECT *, []::VARCHAR[] AS tags FROM _u")
    for _ in range(2):  # a rerun replaces, never appends
        rate(con, BOOK, "usage_records")
        written = write_rating(con, "actual/2024-01")
    assert written == {"billing.udr": 2, "billing.cdr": 1, "billing.bills": 1, "quarantine.unrated_usage": 1}
    assert con.execute("SELECT count(*) FROM billing.cdr").fetchone()[0] == 1
    assert con.execute("SELECT charge FROM billing.bills").fetchone()[0] == pytest.approx(0.6)


def test_prices_in_exponent_notation_are_numbers() -> None:
    """`1e-3` is a YAML 1.2 float; YAML 1.1 (PyYAML's default) would read it as text and refuse the price."""
    flat = book(
        "model: production\nrules:\n  - {name: flat, salience: 1, when: {metric: m}, unit_price: 1e-3}\n"
    )
    assert flat.models["production"].rules[0].bands[0].unit_price == 0.001
