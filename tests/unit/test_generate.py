"""Sample-data generator: determinism, raw formats and layout, injected bad rows, realism of the structure."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from revcast.generate import MANIFEST, generate_landing

START, END = date(2021, 10, 1), date(2022, 1, 31)
PARAMS = {"seed": 7, "accounts": 40, "start": START, "end": END, "bad_share": 0.01}
ORGCARD_COLUMNS = [
    "organisationid", "shardid", "shortcode", "organisationstatus", "createddateutc", "signupdateutc",
    "productoption", "deleteddateutc", "saleschannel", "channeltype", "salestaxbasis", "salestaxperiod",
    "salestaxtype", "incometaxbasis", "provisionaltaxbasis", "managedbypracticeflag", "payingflag", "marketcode",
    "nonpracticestaffusers", "practicestaffusers", "trialflag",
]  # fmt: skip
USAGE_HEADER = ["date", "customer_id", "#api_calls(Product_1)", "storage_capacity_used(Product_2)"]
FULLBAS_HEADER = ["datestring", "timestring", "level", "userid", "orgid", "reportname", "versioncode", "countrycode",
                  "runtime"]  # fmt: skip
SIMPLEBAS_HEADER = ["userid", "shortcode", "statementyear", "statementmonth", "datetime"]
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate_landing(out, **PARAMS)
    return out


@pytest.fixture(scope="module")
def manifest(landing: Path) -> dict:
    return json.loads((landing / MANIFEST).read_text())


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}  # fmt: skip


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as f:  # some exports start with a byte-order mark
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _is_valid_date(s: str) -> bool:
    if not DAY.match(s):
        return False
    try:
        date.fromisoformat(s)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_the_same_bytes(landing: Path, tmp_path: Path) -> None:
    generate_landing(tmp_path, **PARAMS)
    first, second = _hashes(landing), _hashes(tmp_path)
    assert len(first) > 300
    assert first == second


def test_different_seed_gives_different_data(landing: Path, tmp_path: Path) -> None:
    generate_landing(tmp_path, **{**PARAMS, "seed": 8}, domains=("usage", "invoices"))
    a, b = _hashes(landing), _hashes(tmp_path)
    day = "usage/date=2021-11-15/usage_2021-11-15.csv"
    assert a[day] != b[day]
    assert (
        a["invoices/month=2021-11/invoices_2021-11.json"] != b["invoices/month=2021-11/invoices_2021-11.json"]
    )


def test_rerun_leaves_unchanged_files_untouched(tmp_path: Path) -> None:
    kwargs = {**PARAMS, "end": date(2021, 10, 10), "domains": ("usage",)}
    generate_landing(tmp_path, **kwargs)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.csv")}
    generate_landing(tmp_path, **kwargs)
    assert before == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.csv")}


# ------------------------------------------------------------------ layout and raw formats


def test_landing_layout_has_a_partition_for_every_day_and_month(landing: Path, manifest: dict) -> None:
    days = _days(START, END)
    for kind, folder in (("usage", "usage"), ("fullbas", "bas/fullbas"), ("simplebas", "bas/simplebas")):
        found = sorted(p.relative_to(landing).as_posix() for p in (landing / folder).glob("*/*.csv"))
        assert found == [f"{folder}/date={d}/{kind}_{d}.csv" for d in days]
    months = sorted({(d.year, d.month) for d in days})
    found = sorted(p.relative_to(landing).as_posix() for p in (landing / "invoices").glob("*/*.json"))
    assert found == [f"invoices/month={y:04d}-{m:02d}/invoices_{y:04d}-{m:02d}.json" for y, m in months]
    for name in ("bas/orgcard.csv", "subscriptions/installs.csv", "subscriptions/recurrent.csv",
                 "subscriptions/plan.yaml", "pricing/production.yaml"):  # fmt: skip
        assert (landing / name).is_file(), name
    assert sorted(manifest["files"]) == sorted(
        p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file() and p.name != MANIFEST
    )


def test_raw_headers_match_the_design(landing: Path) -> None:
    for d in (START, END):
        assert _rows(landing / f"usage/date={d}/usage_{d}.csv")[0] == USAGE_HEADER
        assert _rows(landing / f"bas/fullbas/date={d}/fullbas_{d}.csv")[0] == FULLBAS_HEADER
        assert _rows(landing / f"bas/simplebas/date={d}/simplebas_{d}.csv")[0] == SIMPLEBAS_HEADER
    assert _rows(landing / "bas/orgcard.csv")[0] == ORGCARD_COLUMNS
    assert _rows(landing / "subscriptions/installs.csv")[0] == ["date", "iOS", "Android", "Web"]
    assert _rows(landing / "subscriptions/recurrent.csv")[0] == [
        "date", "platform", "product_id", "duration", "billing_cycle", "purchases"]  # fmt: skip


def test_usage_values_are_formatted_as_exported(landing: Path) -> None:
    _, rows = _rows(landing / "usage/date=2021-11-02/usage_2021-11-02.csv")
    copies = Counter(tuple(r) for r in rows)
    good = [
        r for r in rows if copies[tuple(r)] == 1 and not _usage_kinds(r, set())
    ]  # duplicated rows left out
    assert len(good) >= len(rows) - 4
    assert all(r[0] == "2021-11-02" and re.fullmatch(r"C\d{6}", r[1]) for r in good)
    assert all(
        re.fullmatch(r"\d+", r[2]) and re.fullmatch(r"(\d+\.\d{3})?", r[3]) for r in good
    )  # storage optional
    ids = [r[1] for r in good]
    assert ids == sorted(ids)


def test_orgcard_values(landing: Path) -> None:
    _, rows = _rows(landing / "bas/orgcard.csv")
    col = {c: i for i, c in enumerate(ORGCARD_COLUMNS)}
    assert len(rows) == 2 * PARAMS["accounts"]
    guid = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
    assert all(guid.match(r[col["organisationid"]]) for r in rows)
    assert all(re.fullmatch(r"![A-Za-z0-9]{5}", r[col["shortcode"]]) for r in rows)
    assert len({r[col["shortcode"]] for r in rows}) == len(rows)
    assert {r[col["organisationstatus"]] for r in rows} <= {"Active", "Deleted", "Suspended"}
    for flag in ("managedbypracticeflag", "payingflag", "trialflag"):
        assert {r[col[flag]] for r in rows} <= {"0", "1"}
    periods = {"Australian Monthly", "Australian Quarterly (Option 1)", "Australian Quarterly (Option 2)",
               "Australian Quarterly (Option 3)", "Australian Annual", "None"}  # fmt: skip
    assert {r[col["salestaxperiod"]] for r in rows} <= periods
    active_paying = [
        r for r in rows if r[col["organisationstatus"]] == "Active" and r[col["payingflag"]] == "1"
    ]
    assert len(active_paying) > len(rows) / 2
    assert all(r[col["deleteddateutc"]] == "" for r in rows if r[col["organisationstatus"]] != "Deleted")


def test_exports_carry_real_world_variants(landing: Path, manifest: dict) -> None:
    """Byte-order marks, quoted fields, CRLF line ends and empty optional fields, at realistic rates."""
    files = [
        p for folder in ("usage", "bas/fullbas", "bas/simplebas") for p in (landing / folder).glob("*/*.csv")
    ]
    raw = [p.read_bytes() for p in files]
    for variant in (
        lambda b: b.startswith(b"\xef\xbb\xbf"),
        lambda b: b"\r\n" in b,
        lambda b: b.lstrip(b"\xef\xbb\xbf").split(b"\n")[1].startswith(b'"'),
    ):
        assert 0 < sum(map(variant, raw)) < len(raw) / 10
    flagged = manifest["summary"]["flagged_rows"]
    usage_lines = [r for p in (landing / "usage").glob("*/*.csv") for r in _rows(p)[1]]
    assert sum(r[3] == "" and r[2] != "" for r in usage_lines) == flagged["usage"]["empty_storage"] > 0
    fullbas_lines = [r for p in (landing / "bas/fullbas").glob("*/*.csv") for r in _rows(p)[1]]
    empty_codes = sum(r[6] == r[7] == "" for r in fullbas_lines)
    assert empty_codes == flagged["bas.fullbas"]["empty_versioncode_countrycode"] > 0
    card = (landing / "bas/orgcard.csv").read_bytes()
    assert card.startswith(b"\xef\xbb\xbforganisationid,") and b'"Accountant, Bookkeeper"' in card
    col = {c: i for i, c in enumerate(ORGCARD_COLUMNS)}
    assert (
        sum(r[col["signupdateutc"]] == "" for r in _rows(landing / "bas/orgcard.csv")[1])
        == (flagged["bas.orgcard"]["empty_signupdateutc"])
    )


def test_invoice_files_drift_in_keys_and_layout(landing: Path) -> None:

    allowed = [{"price", "total_price"}, {"stream_id", "StreamID"}, {"times_viewed", "TimesViewed"}]
    seen_keys, layouts = set(), set()
    for path in sorted((landing / "invoices").glob("*/*.json")):
        text = path.read_text()
        layouts.add("pretty" if text.startswith("[\n") else "compact")
        lines = json.loads(text)
        keys = set(lines[0])
        assert {"country", "customer_id", "invoice", "year", "month", "day"} <= keys
        assert len(keys) == 9 and all(len(keys & a) == 1 for a in allowed)
        seen_keys |= keys
        assert all(isinstance(x["year"], str) and isinstance(x["month"], str) for x in lines)
        assert all(x["customer_id"] is None or isinstance(x["customer_id"], float) for x in lines)
        assert all(re.fullmatch(r"[A-Z]?\d+", x["invoice"]) for x in lines)
    assert seen_keys & {"price", "total_price"}


def test_invoice_countries_are_heavy_tailed_and_close_at_year_end(landing: Path) -> None:
    lines = [x for p in sorted((landing / "invoices").glob("*/*.json")) for x in json.loads(p.read_text())]
    revenue = Counter()
    for x in lines:
        revenue[x["country"]] += x.get("price", x.get("total_price"))
    top, share = revenue.most_common(1)[0][0], revenue.most_common(1)[0][1] / sum(revenue.values())
    assert top == "United Kingdom" and share > 0.6
    christmas = [x for x in lines if x["country"] == top and x["month"] == "12" and x["day"] in ("25", "26")]
    assert christmas == []


def test_subscription_files(landing: Path) -> None:
    _, installs = _rows(landing / "subscriptions/installs.csv")
    assert [r[0] for r in installs] == [d.isoformat() for d in _days(START, END)]
    assert all(int(v) >= 0 for r in installs for v in r[1:])
    _, recurrent = _rows(landing / "subscriptions/recurrent.csv")
    assert {r[3] for r in recurrent} == {"1", "12"}
    by_cycle = Counter()
    for r in recurrent:
        if r[3] == "1":
            by_cycle[int(r[4])] += int(r[5])
    assert by_cycle[1] > by_cycle[2] > by_cycle[3] > 0
    plan = yaml.safe_load((landing / "subscriptions/plan.yaml").read_text())
    prices = {p["product_id"]: p["price"] for p in plan["iOS"]["products"]}
    assert prices == {"1month_trial": 5.99, "1year_trial": 19.99, "1year_instant": 14.99,
                      "1month_trial_old": 2.99, "1year_trial_old": 14.99, "1year_instant_old": 9.99}  # fmt: skip
    assert "default" in plan["iOS"]["install2access"] and isinstance(plan["Android"]["install2access"], float)
    assert all(len(plan[p]["commission"]) == 2 for p in ("iOS", "Android"))


def test_pricing_models(landing: Path) -> None:
    models = {p.name: yaml.safe_load(p.read_text()) for p in (landing / "pricing").glob("*.yaml")}
    assert len(models) >= 2
    prod = models["production.yaml"]
    assert {r["when"]["metric"]: r["unit_price"] for r in prod["rules"]} == {
        "api_calls": 0.20,
        "storage_gb": 0.10,
    }
    top_prod = max(r["salience"] for r in prod["rules"])
    for name, m in models.items():
        if name != "production.yaml":
            assert m["model"] != "production" and min(r["salience"] for r in m["rules"]) > top_prod


# ------------------------------------------------------------------ injected bad rows


def _usage_kinds(row: list[str], seen: set) -> list[str]:
    kinds = []
    key = tuple(row)
    if key in seen:
        return ["duplicate_row"]
    seen.add(key)
    if not _is_valid_date(row[0]):
        kinds.append("malformed_date")
    if row[1] in ("", "null"):
        kinds.append("unknown_account")
    for v in row[2:]:
        if v == "":  # an optional product column left empty: not bad
            continue
        if re.fullmatch(r"-\d+(\.\d+)?", v):
            kinds.append("negative_quantity")
        elif not re.fullmatch(r"\d+(\.\d+)?", v):
            kinds.append("non_numeric_quantity")
    return kinds


def test_usage_bad_rows_match_manifest_and_share(landing: Path, manifest: dict) -> None:
    found, per_file_share, total = Counter(), [], 0
    for path in sorted((landing / "usage").glob("*/*.csv")):
        _, rows = _rows(path)
        seen: set = set()
        kinds = [k for r in rows for k in _usage_kinds(r, seen)]
        found.update(kinds)
        total += len(rows)
        per_file_share.append(len(kinds) / len(rows))
        expected = manifest["bad_rows_by_file"].get(path.relative_to(landing).as_posix(), {})
        assert Counter(kinds) == Counter(expected), path
    assert dict(found) == manifest["summary"]["bad_rows"]["usage"]
    assert set(found) == {"non_numeric_quantity", "negative_quantity", "duplicate_row", "unknown_account",
                          "malformed_date"}  # fmt: skip
    assert total == manifest["summary"]["rows"]["usage"]
    assert sum(found.values()) / total == pytest.approx(PARAMS["bad_share"], rel=0.15)
    assert max(per_file_share) <= 2.5 * PARAMS["bad_share"] + 1 / 25


def test_default_bad_share_stays_below_a_one_percent_quarantine_threshold(tmp_path: Path) -> None:
    summary = generate_landing(tmp_path, accounts=300, start=date(2021, 1, 1), end=date(2021, 1, 20),
                               domains=("usage",))  # fmt: skip
    assert summary.bad_share("usage") == pytest.approx(0.005, rel=0.15)
    bad = json.loads((tmp_path / MANIFEST).read_text())["bad_rows_by_file"]
    for path in (tmp_path / "usage").glob("*/*.csv"):
        n_rows = len(_rows(path)[1])
        assert sum(bad.get(path.relative_to(tmp_path).as_posix(), {}).values()) / n_rows < 0.01


def test_bas_bad_and_unknown_rows_match_manifest(landing: Path, manifest: dict) -> None:
    orgcard = _rows(landing / "bas/orgcard.csv")[1]
    known_ids, known_codes = {r[0].lower() for r in orgcard}, {r[2] for r in orgcard}
    fb, sb, unknown = Counter(), Counter(), Counter()
    time_ok = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{4}Z$")
    for path in sorted((landing / "bas/fullbas").glob("*/*.csv")):
        seen: set = set()
        for r in _rows(path)[1]:
            if tuple(r) in seen:
                fb["duplicate_row"] += 1
                continue
            seen.add(tuple(r))
            fb["malformed_timestamp"] += not time_ok.match(r[1])
            fb["negative_runtime"] += float(r[8]) < 0
            unknown["bas.fullbas"] += r[4].lower() not in known_ids
    for path in sorted((landing / "bas/simplebas").glob("*/*.csv")):
        seen = set()
        for r in _rows(path)[1]:
            if tuple(r) in seen:
                sb["duplicate_row"] += 1
                continue
            seen.add(tuple(r))
            try:
                datetime.strptime(r[4], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                sb["malformed_timestamp"] += 1
            unknown["bas.simplebas"] += r[1] not in known_codes
    summary = manifest["summary"]
    assert dict(fb) == summary["bad_rows"]["bas.fullbas"]
    assert dict(sb) == summary["bad_rows"]["bas.simplebas"]
    for source in ("bas.fullbas", "bas.simplebas"):
        assert unknown[source] == summary["flagged_rows"][source]["unknown_org"] > 0
        share = sum(summary["bad_rows"][source].values()) / summary["rows"][source]
        assert share == pytest.approx(PARAMS["bad_share"], rel=0.25)


def test_invoice_bad_rows_match_manifest(landing: Path, manifest: dict) -> None:
    found, nulls, total = Counter(), 0, 0
    for path in sorted((landing / "invoices").glob("*/*.json")):
        for x in json.loads(path.read_text()):
            total += 1
            price = x.get("price", x.get("total_price"))
            found["price_out_of_range"] += not 0 <= price <= 10_000
            try:
                date(int(x["year"]), int(x["month"]), int(x["day"]))
            except ValueError:
                found["malformed_day"] += 1
            nulls += x["customer_id"] is None
    summary = manifest["summary"]
    assert dict(found) == summary["bad_rows"]["invoices"]
    assert nulls == summary["flagged_rows"]["invoices"]["null_customer_id"] > 0
    assert total == summary["rows"]["invoices"]
    assert sum(found.values()) / total == pytest.approx(PARAMS["bad_share"], rel=0.2)


# ------------------------------------------------------------------ realism


def test_heavy_users_carry_most_usage(landing: Path) -> None:
    calls = Counter()
    for path in (landing / "usage").glob("*/*.csv"):
        for r in _rows(path)[1]:
            if r[2].isdigit() and r[1].startswith("C"):
                calls[r[1]] += int(r[2])
    ranked = sorted(calls.values(), reverse=True)
    assert sum(ranked[: max(1, len(ranked) // 10)]) / sum(ranked) > 0.5


def test_usage_totals_have_weekly_and_yearly_structure(tmp_path: Path) -> None:
    generate_landing(
        tmp_path, accounts=60, start=date(2021, 1, 1), end=date(2022, 12, 31), domains=("usage",)
    )
    totals: dict[date, int] = Counter()
    for path in (tmp_path / "usage").glob("*/*.csv"):
        for r in _rows(path)[1]:
            if _is_valid_date(r[0]) and r[2].isdigit():
                totals[date.fromisoformat(r[0])] += int(r[2])
    days = sorted(totals)
    y = np.array([totals[d] for d in days], dtype=float)
    weekend = np.array([d.weekday() >= 5 for d in days])
    assert y[weekend].mean() < 0.75 * y[~weekend].mean()
    test = slice(365, None)
    naive = np.abs(y[test] - y[364:-1]).mean()
    seasonal_naive = np.abs(y[test] - y[358:-7]).mean()
    assert seasonal_naive < naive
    christmas = np.array([(d.month == 12 and d.day >= 24) or (d.month == 1 and d.day <= 1) for d in days])
    december = np.array([d.month == 12 and 1 <= d.day <= 15 for d in days])
    assert y[christmas].mean() < y[december].mean()


@pytest.fixture(scope="module")
def bas_half_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bas")
    generate_landing(out, accounts=30, start=date(2022, 1, 1), end=date(2022, 6, 30), domains=("bas",))
    return out


def _local_runs(root: Path) -> list[datetime]:
    runs = []
    for path in (root / "bas/fullbas").glob("*/*.csv"):
        for r in _rows(path)[1]:
            if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{4}Z", r[1]):
                utc = datetime.fromisoformat(f"{r[0]}T{r[1][:-1]}+00:00")
                runs.append(utc.astimezone(SYDNEY))
    return runs


def test_bas_runs_peak_before_lodgement_deadlines(bas_half_year: Path) -> None:
    per_day = Counter(t.date() for t in _local_runs(bas_half_year))
    days = _days(date(2022, 1, 1), date(2022, 6, 30))
    by_dom = {k: np.mean([per_day[d] for d in days if d.day in k]) for k in
              (range(19, 22), range(25, 29), (*range(1, 19), 22, 23, 24, 29, 30, 31))}  # fmt: skip
    monthly_peak, quarterly_peak, other = by_dom.values()
    assert monthly_peak > 1.5 * other
    assert quarterly_peak > 1.2 * other


def test_bas_runs_fall_in_sydney_business_hours(bas_half_year: Path) -> None:
    runs = _local_runs(bas_half_year)
    for months in ({1, 2, 3}, {5, 6}):  # daylight saving and standard time
        hours = np.array([t.hour for t in runs if t.month in months])
        assert ((hours >= 7) & (hours < 19)).mean() > 0.85


def test_invalid_parameters_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown domains"):
        generate_landing(tmp_path, domains=("usage", "sales"))
    with pytest.raises(ValueError, match="before start"):
        generate_landing(tmp_path, start=date(2022, 1, 2), end=date(2022, 1, 1))
    with pytest.raises(ValueError, match="bad_share"):
        generate_landing(tmp_path, bad_share=0.5)
