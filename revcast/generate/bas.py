"""BAS report runs (fullbas, simplebas) and the organisation card, shaped like the BAS report-run extracts.

Runs cluster before lodgement deadlines (monthly statements due the 21st of the next month, quarterly ones the
28th of the month after the quarter, 28 Feb for Oct-Dec) in Sydney business hours, converted to UTC.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from revcast.formats import FULLBAS_COLUMNS, ORGCARD_COLUMNS, SIMPLEBAS_COLUMNS
from revcast.generate._common import (
    DomainResult,
    allocate_bad,
    count_by_file,
    day_range,
    file_variants,
    fixed_str,
    int_str,
    join,
    replace_at,
    variants_rng,
    with_duplicates,
    write_bytes,
    write_groups,
    zpad,
)

FULLBAS_HEADER = ",".join(FULLBAS_COLUMNS)
SIMPLEBAS_HEADER = ",".join(SIMPLEBAS_COLUMNS)
FULLBAS_BAD_KINDS = ("malformed_timestamp", "negative_runtime", "duplicate_row")
SIMPLEBAS_BAD_KINDS = ("malformed_timestamp", "duplicate_row")
SYDNEY = ZoneInfo("Australia/Sydney")
NO_SIGNUP_SHARE = 0.08  # organisations whose (optional) signupdateutc is empty
BOTH_CHANNELS_SHARE = 0.1  # partner organisations whose channel type is "Accountant, Bookkeeper"
EMPTY_CODES_SHARE = 0.005  # Full BAS lines with empty (optional) versioncode and countrycode

STATUSES = (("Active", 0.88), ("Deleted", 0.07), ("Suspended", 0.05))
TAX_PERIODS = (
    ("Australian Monthly", "M", 0.26), ("Australian Quarterly (Option 1)", "Q", 0.48),
    ("Australian Quarterly (Option 2)", "Q", 0.08), ("Australian Quarterly (Option 3)", "Q", 0.04),
    ("Australian Annual", "A", 0.06), ("None", "N", 0.08),
)  # fmt: skip
PRODUCTS = (
    ("Standard", 0.30), ("Premium 5", 0.08), ("Premium 20", 0.05), ("Premium 50", 0.02), ("Premium 100", 0.01),
    ("Premium", 0.06), ("Starter", 0.12), ("GST Cashbook", 0.08), ("Non-GST Cashbook", 0.03),
    ("Payroll Cashbook", 0.02), ("Ledger", 0.04), ("Payroll only", 0.02), ("Unknown", 0.01),
    ("Standard + Expenses", 0.05), ("Standard + Projects", 0.03), ("Premium 5 + Expenses", 0.03),
    ("Premium 5 + Projects", 0.02), ("Starter + Expenses", 0.03),
)  # fmt: skip
_SHORTCODE_CHARS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))


def fullbas_path(d: date) -> str:
    """Landing path of one UTC day's fullbas file."""
    return f"bas/fullbas/date={d.isoformat()}/fullbas_{d.isoformat()}.csv"


def simplebas_path(d: date) -> str:
    """Landing path of one UTC day's simplebas file."""
    return f"bas/simplebas/date={d.isoformat()}/simplebas_{d.isoformat()}.csv"


def _choice(rng: np.random.Generator, options: tuple, n: int) -> np.ndarray:
    """Indices into (name, ..., weight) options drawn by weight."""
    w = np.array([o[-1] for o in options], dtype=float)
    return rng.choice(len(options), size=n, p=w / w.sum())


def _guids(rng: np.random.Generator, n: int) -> list[str]:
    """Deterministic version-4 GUIDs (lower case)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw]


def _sydney_offsets(first: date, n_days: int) -> np.ndarray:
    """UTC offset in seconds of Australia/Sydney at local noon of each day (DST aware)."""
    return np.array(
        [
            SYDNEY.utcoffset(datetime.combine(first + timedelta(days=i), time(12))).total_seconds()
            for i in range(n_days)
        ],
        dtype=np.int64,
    )


def _stamp(days: np.ndarray, ms: np.ndarray) -> list[str]:
    """'YYYY-MM-DD HH:MM:SS.fff' strings for small arrays (orgcard)."""
    base = np.datetime64("1970-01-01T00:00:00.000") + (days * 86_400_000 + ms).astype("timedelta64[ms]")
    return [str(x).replace("T", " ") for x in base]


def simulate_orgs(rng: np.random.Generator, accounts: int, start: date, end: date) -> dict[str, np.ndarray]:
    """Organisations (known ones first, then a few unknown to orgcard), their practices and users."""
    n_known = max(10, 2 * accounts)
    n = n_known + max(4, n_known // 33)
    d0 = (start - date(1970, 1, 1)).days
    d1 = (end - date(1970, 1, 1)).days
    status = _choice(rng, STATUSES, n)
    paying = np.where(status == 0, rng.random(n) < 0.86, rng.random(n) < 0.45)
    trial = ~paying & (rng.random(n) < 0.6)
    old = rng.random(n) < 0.8
    created = np.where(old, rng.integers(d0 - 3650, d0 - 30, n), rng.integers(d0 - 30, d1 - 20, n))
    signup = created + np.where(rng.random(n) < 0.6, 0, rng.geometric(1 / 200, n))
    deleted = np.where(status == 1, rng.integers(np.maximum(created, d0) + 30, d1 + 200), -1)
    period = _choice(rng, TAX_PERIODS, n)
    partner = rng.random(n) < 0.62
    managed = np.where(partner, rng.random(n) < 0.92, rng.random(n) < 0.08)
    n_practices = max(3, n // 12)
    practice_w = 1.0 / np.arange(1, n_practices + 1) ** 0.9
    practice = rng.choice(n_practices, size=n, p=practice_w / practice_w.sum())
    staff = 1 + rng.poisson(2.5, n_practices)
    own_users = np.where(managed, rng.integers(0, 3, n), 1 + rng.poisson(0.8, n))
    own_off = np.cumsum(own_users) - own_users
    system = rng.choice(3, size=n, p=[0.68, 0.22, 0.10])  # full, simple, both
    system[n_known:] = np.arange(n - n_known) % 2  # unknown orgs show up in both systems
    staff_off = own_users.sum() + np.cumsum(staff) - staff
    return {
        "n_known": np.array(n_known), "status": status, "paying": paying, "trial": trial, "created": created,
        "created_ms": rng.integers(0, 86_400_000, n), "signup": signup, "deleted": deleted,
        "deleted_ms": rng.integers(0, 86_400_000, n), "shard": rng.integers(1, 151, n), "period": period, "partner": partner, "managed": managed,
        "practice": practice, "staff": staff, "own_users": own_users, "own_off": own_off, "staff_off": staff_off,
        "n_users": np.array(own_users.sum() + staff.sum()), "product": _choice(rng, PRODUCTS, n),
        "system": system,
        "size": rng.lognormal(0.0, 0.5, n),
    }  # fmt: skip


def _period_deadlines(start: date, end: date, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(period-end day, deadline day) as days since epoch for statement periods whose deadline is near the range."""
    m0 = np.datetime64(start, "M") - 14
    months = np.arange(m0, np.datetime64(end, "M") + 1)
    month_num = months.astype(int) % 12 + 1
    if kind == "M":
        ends = months
        deadline = (months + 1).astype("datetime64[D]") + 20
    elif kind == "Q":
        ends = months[month_num % 3 == 0]
        nxt = np.where(ends.astype(int) % 12 + 1 == 12, 2, 1)
        deadline = (ends + nxt).astype("datetime64[D]") + 27
    else:  # annual: financial year to June, lodged by 31 October
        ends = months[month_num == 6]
        deadline = (ends + 5).astype("datetime64[D]") - 1
    period_end = (ends + 1).astype("datetime64[D]") - 1
    return period_end.astype(int), deadline.astype(int)


def simulate_runs(rng: np.random.Generator, orgs: dict, start: date, end: date) -> dict[str, np.ndarray]:
    """Report runs: sessions before deadlines plus ad-hoc ones, several runs per session within minutes."""
    d0 = (start - date(1970, 1, 1)).days
    d1 = (end - date(1970, 1, 1)).days + 1  # local days one past the end still fall on the last UTC day
    n = len(orgs["status"])
    kinds = np.array([p[1] for p in TAX_PERIODS])[orgs["period"]]
    s_org, s_day, s_pend = [], [], []
    for kind in ("M", "Q", "A"):
        who = np.nonzero(kinds == kind)[0]
        pend, dl = _period_deadlines(start, end, kind)
        o, k = np.repeat(who, len(dl)), np.tile(np.arange(len(dl)), len(who))
        rate = np.where(orgs["paying"][o], 4.0, 1.8) * np.where(orgs["status"][o] == 2, 0.3, 1.0)
        count = rng.poisson(rate)
        o, k = np.repeat(o, count), np.repeat(k, count)
        offset = np.rint(rng.gamma(1.3, 2.8, len(o))).astype(np.int64)
        offset = np.minimum(offset, dl[k] - pend[k] - 1)
        late = rng.random(len(o)) < 0.05
        offset[late] = -rng.integers(1, 8, int(late.sum()))
        s_org.append(o), s_day.append(dl[k] - offset), s_pend.append(pend[k])
    # ad-hoc sessions: about one every two months per org, any day
    adhoc = rng.poisson(np.where(orgs["paying"], 1 / 55, 1 / 120) * (d1 - d0 + 1))
    o = np.repeat(np.arange(n), adhoc)
    day = rng.integers(d0, d1 + 1, len(o))
    s_org.append(o), s_day.append(day), s_pend.append((day.astype("datetime64[D]").astype("datetime64[M]")).astype(
        "datetime64[D]").astype(int) - 1)  # fmt: skip
    org, day, pend = np.concatenate(s_org), np.concatenate(s_day), np.concatenate(s_pend)

    # weekends: most Saturday work moves to Friday, Sunday work to Friday or Monday
    wd = (day + 3) % 7
    u = rng.random(len(day))
    day = day - np.where((wd == 5) & (u < 0.8), 1, 0) - np.where((wd == 6) & (u < 0.4), 2, 0)
    day = day + np.where((wd == 6) & (u >= 0.4) & (u < 0.8), 1, 0)
    alive = (day >= np.maximum(orgs["created"][org], d0 - 1)) & (day <= d1)
    alive &= (orgs["deleted"][org] < 0) | (day < orgs["deleted"][org])
    org, day, pend = org[alive], day[alive], pend[alive]
    ns = len(org)

    # who runs it: practice staff for managed orgs (mostly), otherwise the org's own users
    by_staff = orgs["managed"][org] & ((rng.random(ns) < 0.8) | (orgs["own_users"][org] == 0))
    pr = orgs["practice"][org]
    user = np.where(
        by_staff,
        orgs["staff_off"][pr] + np.floor(rng.random(ns) * orgs["staff"][pr]).astype(np.int64),
        orgs["own_off"][org]
        + np.floor(rng.random(ns) * np.maximum(orgs["own_users"][org], 1)).astype(np.int64),
    )
    # local start time: morning and afternoon peaks, a few evenings
    mix = rng.random(ns)
    hour = np.where(mix < 0.55, rng.normal(10.6, 1.3, ns), np.where(mix < 0.95, rng.normal(14.4, 1.5, ns),
                                                                    rng.normal(20.0, 1.2, ns)))  # fmt: skip
    start_sec = np.clip(hour, 6.0, 23.7) * 3600.0
    system = orgs["system"][org]
    system = np.where(system == 2, rng.integers(0, 2, ns), system)  # "both": each session picks one

    runs = rng.geometric(0.32, ns)  # runs per session, mean ~3
    sess = np.repeat(np.arange(ns), runs)
    first = np.cumsum(runs) - runs
    gaps = 2.0 + rng.exponential(75.0, len(sess))
    gaps[first] = 0.0
    csum = np.cumsum(gaps)
    within = csum - np.repeat(csum[first], runs)
    local_sec = start_sec[sess] + within
    offsets = _sydney_offsets(
        date(1970, 1, 1) + timedelta(days=int(day.min())), int(day.max() - day.min()) + 1
    )
    utc_1e4 = (
        day[sess].astype(np.int64) * 86_400 * 10_000
        + np.rint(local_sec * 10_000).astype(np.int64)
        - offsets[day[sess] - day.min()] * 10_000
    )
    back = rng.random(len(sess)) < 0.15  # some runs are for an earlier statement month
    stmt_month = pend[sess].astype("datetime64[D]").astype("datetime64[M]").astype(int) - np.where(
        back, rng.integers(1, 4, len(sess)), 0
    )
    runtime = orgs["size"][org[sess]] * rng.lognormal(np.log(0.55), 1.05, len(sess))
    return {
        "org": org[sess], "user": user[sess], "system": system[sess], "utc_1e4": utc_1e4,
        "stmt_month": stmt_month, "runtime": runtime,
    }  # fmt: skip


def _card_field(value: str) -> str:
    """A card value as a BI tool exports it: text in double quotes (inner quotes doubled), numbers and empty bare."""
    if value == "" or value.replace(".", "", 1).isdigit():
        return value
    return '"' + value.replace('"', '""') + '"'


def _orgcard_csv(
    rng: np.random.Generator,
    orgs: dict,
    guids: list[str],
    shortcodes: list[str],
    variants: np.random.Generator,
) -> tuple[str, int, int]:
    """orgcard.csv text (known orgs, sorted by organisationid), its row count and how many lack a signup date.

    As real cards are: deleteddateutc empty for an organisation never deleted, signupdateutc sometimes empty,
    a channel type with a comma in it, text quoted, a UTF-8 byte-order mark (see `_card_field`).
    """
    n = int(orgs["n_known"])
    no_signup = variants.random(n) < NO_SIGNUP_SHARE
    both_channels = variants.random(n) < BOTH_CHANNELS_SHARE
    status = np.array([s[0] for s in STATUSES])[orgs["status"][:n]]
    created = _stamp(orgs["created"][:n], orgs["created_ms"][:n])
    deleted = _stamp(np.maximum(orgs["deleted"][:n], 0), orgs["deleted_ms"][:n])
    channel = np.where(orgs["partner"][:n], np.where(rng.random(n) < 0.7, "Accountant", "Bookkeeper"), "None")
    channel = np.where(orgs["partner"][:n] & both_channels, "Accountant, Bookkeeper", channel)
    basis = np.array(["Accruals", "Cash", "None"])[rng.choice(3, n, p=[0.55, 0.35, 0.10])]
    income = np.array(["Australian Quarterly Installment (Option 1)", "Australian Quarterly Installment (Option 2)",
                       "None"])[rng.choice(3, n, p=[0.25, 0.10, 0.65])]  # fmt: skip
    provisional = np.array(["Standard", "Estimate", "None"])[rng.choice(3, n, p=[0.04, 0.02, 0.94])]
    practice_staff = np.where(orgs["managed"][:n], orgs["staff"][orgs["practice"][:n]], 0)
    rows = []
    for i in range(n):
        period_name = TAX_PERIODS[orgs["period"][i]][0]
        row = (
            guids[i].upper(), str(orgs["shard"][i]), shortcodes[i], status[i],
            created[i], "" if no_signup[i] else str(np.datetime64(int(orgs["signup"][i]), "D")) + " 00:00:00",
            PRODUCTS[orgs["product"][i]][0],
            deleted[i] if orgs["deleted"][i] >= 0 else "", "Partner" if orgs["partner"][i] else "Online",
            channel[i], basis[i], period_name, "None" if period_name == "None" else "Australian GST", income[i],
            provisional[i], str(int(orgs["managed"][i])), str(int(orgs["paying"][i])), "AU",
            str(int(orgs["own_users"][i])), str(int(practice_staff[i])), str(int(orgs["trial"][i])),
        )  # fmt: skip
        rows.append(row)
    rows.sort()
    lines = [",".join(_card_field(v) for v in row) for row in rows]
    return (
        "\ufeff" + ",".join(ORGCARD_COLUMNS) + "\n" + "".join(r + "\n" for r in lines),
        n,
        int(no_signup.sum()),
    )


def _shortcodes(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct org short codes like !V5xDN."""
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        for row in _SHORTCODE_CHARS[rng.integers(0, len(_SHORTCODE_CHARS), size=(n, 5))]:
            code = "!" + "".join(row)
            if code not in seen and len(codes) < n:
                seen.add(code)
                codes.append(code)
    return codes


def _mixed_case(rng: np.random.Generator, guid: str) -> str:
    """The GUID with a random mix of upper- and lower-case hex letters."""
    flips = rng.random(len(guid)) < 0.5
    return "".join(c.upper() if f else c for c, f in zip(guid, flips, strict=True))


def generate_bas(
    out: Path, rng: np.random.Generator, accounts: int, start: date, end: date, bad_share: float
) -> DomainResult:
    """Write orgcard.csv and one fullbas and one simplebas CSV per UTC day; returns what was written."""
    variants = variants_rng(rng)
    orgs = simulate_orgs(rng, accounts, start, end)
    n_orgs, n_known = len(orgs["status"]), int(orgs["n_known"])
    guids, shortcodes = _guids(rng, n_orgs), _shortcodes(rng, n_orgs)
    users = _guids(rng, int(orgs["n_users"]))
    card, card_rows, no_signup = _orgcard_csv(rng, orgs, guids, shortcodes, variants)
    write_bytes(out / "bas/orgcard.csv", card.encode())

    runs = simulate_runs(rng, orgs, start, end)
    d0 = (start - date(1970, 1, 1)).days
    utc_day = runs["utc_1e4"] // (86_400 * 10_000) - d0
    days = day_range(start, end)
    keep = (utc_day >= 0) & (utc_day < len(days))
    order = np.lexsort((runs["user"], runs["org"], runs["utc_1e4"]))
    order = order[keep[order]]
    res = DomainResult(files=["bas/orgcard.csv"], rows={"bas.orgcard": card_rows})
    res.flagged["bas.orgcard"]["empty_signupdateutc"] = no_signup

    # orgid rendering: mostly lower case, some upper, some mixed (per org pattern)
    org_lower = pa.array(guids)
    org_upper = pa.array([g.upper() for g in guids])
    org_mixed = pa.array([_mixed_case(rng, g) for g in guids])
    day_strings = pa.array([d.isoformat() for d in days])
    user_col_all = pa.array(users)
    for system, name in ((0, "fullbas"), (1, "simplebas")):
        idx = order[runs["system"][order] == system]
        idx = idx[_first_of_each(runs, idx, per_second=system == 1)]  # only injected duplicates may repeat
        group = utc_day[idx]
        paths = [fullbas_path(d) if system == 0 else simplebas_path(d) for d in days]
        kinds_t = FULLBAS_BAD_KINDS if system == 0 else SIMPLEBAS_BAD_KINDS
        bad_rows, kinds = allocate_bad(rng, group, len(days), bad_share, len(kinds_t))
        t = runs["utc_1e4"][idx] % (86_400 * 10_000)
        hh, mm = t // (3600 * 10_000), (t // (60 * 10_000)) % 60
        ss, frac = (t // 10_000) % 60, t % 10_000
        clock = join([zpad(hh, 2), zpad(mm, 2), zpad(ss, 2)], ":")
        user_col = user_col_all.take(pa.array(runs["user"][idx]))
        org_idx = runs["org"][idx]
        pick = rng.random(len(bad_rows))
        dup = kinds == kinds_t.index("duplicate_row")
        mal = kinds == kinds_t.index("malformed_timestamp")
        if system == 0:
            case = rng.random(len(idx))
            org_col = _pick_case(org_idx, case, org_lower, org_upper, org_mixed)
            timestring = join([clock, join([zpad(frac, 4), "Z"], "")], ".")
            timestring = replace_at(timestring, bad_rows[mal], [_bad_time(p) for p in pick[mal]])
            runtime = runs["runtime"][idx].copy()
            neg = kinds == kinds_t.index("negative_runtime")
            runtime[bad_rows[neg]] = -runtime[bad_rows[neg]]
            level = pa.array(np.where(np.abs(runtime) > 15.0, "WARN", "INFO"))
            # optional version and country codes left empty on a few good lines
            empty = np.zeros(len(idx), dtype=bool)
            empty[np.nonzero(variants.random(len(idx)) < EMPTY_CODES_SHARE)[0]] = True
            empty[bad_rows] = False
            res.flagged[f"bas.{name}"]["empty_versioncode_countrycode"] = int(empty.sum())
            version = pa.array(np.where(empty, "", "VERSION/AU"))
            country = pa.array(np.where(empty, "", "CNTRY/AU"))
            cols = [day_strings.take(pa.array(group)), timestring, level, user_col, org_col, "ActivityStatement",
                    version, country, fixed_str(runtime, 6)]  # fmt: skip
            header = FULLBAS_HEADER
        else:
            code_col = pa.array(shortcodes).take(pa.array(org_idx))
            sm = runs["stmt_month"][idx]
            stamp = join([day_strings.take(pa.array(group)), clock], " ")
            stamp = replace_at(stamp, bad_rows[mal], [_bad_datetime(days[g], p) for g, p in
                                                      zip(group[bad_rows[mal]], pick[mal], strict=True)])  # fmt: skip
            cols = [user_col, code_col, int_str(sm // 12 + 1970), int_str(sm % 12 + 1), stamp]
            header = SIMPLEBAS_HEADER
        lines = join([join(cols, ","), ""], "\n")
        take = with_duplicates(rng, group, bad_rows[dup])
        lines, group_out = lines.take(pa.array(take)), group[take]
        write_groups(out, paths, header + "\n", group_out, lambda s, lines=lines: lines[s],
                     file_variants(variants, len(paths)))  # fmt: skip
        source = f"bas.{name}"
        res.files.extend(paths)
        res.rows[source] = len(take)
        res.bad[source].update({k: int((kinds == i).sum()) for i, k in enumerate(kinds_t)})
        res.flagged[source]["unknown_org"] = int((org_idx[take] >= n_known).sum())
        res.bad_by_file.update(count_by_file(paths, group[bad_rows], kinds_t, kinds))
    return res


def _first_of_each(runs: dict, idx: np.ndarray, per_second: bool) -> np.ndarray:
    """Positions (sorted) of the first run of each distinct (user, org, statement month, time) among idx."""
    stamp = (runs["utc_1e4"][idx] // (10_000 if per_second else 1)).astype(np.uint64)
    h = stamp * np.uint64(0x9E3779B97F4A7C15)  # 64-bit mix of the key; a collision is astronomically unlikely
    for part, mult in (
        ("user", 0xC2B2AE3D27D4EB4F),
        ("org", 0x165667B19E3779F9),
        ("stmt_month", 0x27D4EB2F165667C5),
    ):
        h = (h ^ (runs[part][idx].astype(np.uint64) * np.uint64(mult))) * np.uint64(0x94D049BB133111EB)
    _, first = np.unique(h, return_index=True)
    return np.sort(first)


def _pick_case(
    org_idx: np.ndarray, u: np.ndarray, lower: pa.Array, upper: pa.Array, mixed: pa.Array
) -> pa.Array:
    """orgid strings: 94% lower case, 3% upper case, 3% mixed case."""
    col = lower.take(pa.array(org_idx))
    for arr, sel in ((upper, (u >= 0.94) & (u < 0.97)), (mixed, u >= 0.97)):
        pos = np.nonzero(sel)[0]
        col = replace_at(col, pos, arr.take(pa.array(org_idx[pos])).to_pylist())
    return col


def _bad_time(p: float) -> str:
    """A timestring ingest must reject."""
    return ("25:61:07.1234Z", "12:34:56", "12.34.56.7890Z", "noon")[int(p * 4) % 4]


def _bad_datetime(d: date, p: float) -> str:
    """A simplebas datetime ingest must reject."""
    return (d.strftime("%Y/%m/%d 10:15:00"), d.strftime("%d-%m-%Y 10:15"), f"{d.isoformat()}T25:00:00")[
        int(p * 3) % 3
    ]
