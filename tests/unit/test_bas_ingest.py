"""BAS ingest parsers: quarantine reasons with exact lines, headers, Sydney time across DST, unknown orgs."""

from pathlib import Path

import pyarrow as pa
import pytest

from revcast.ingest.bas import (
    FULLBAS_COLUMNS,
    KNOWN_ORGS_SCHEMA,
    ORGCARD_COLUMNS,
    SIMPLEBAS_COLUMNS,
    parse_fullbas,
    parse_orgcard,
    parse_simplebas,
    refresh_org_links,
)
from revcast.ingest.core import RawFileError
from revcast.warehouse import connect

ORG_A = "6220e36d-457e-4221-953c-8d1c8f07a3b1"
ORG_B = "256263f5-f1e2-457c-96db-382492e5e7cf"
ORG_UNKNOWN = "bed924b2-41d9-4151-acba-62725556b5dc"
USER = "e07083a1-8528-4bf7-8c43-f4e33066e889"
USER_2 = "55681c55-2199-4a05-aa14-abc965c17829"
KNOWN = pa.table({"org_id": [ORG_A, ORG_B], "shortcode": ["!QddkQ", "!DhWsK"]}).cast(KNOWN_ORGS_SCHEMA)


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


def full_row(date: str, time: str, org: str = ORG_A, runtime: str = "1.5", user: str = USER) -> str:
    return f"{date},{time},INFO,{user},{org},ActivityStatement,VERSION/AU,CNTRY/AU,{runtime}"


def test_fullbas_bad_rows_are_quarantined_with_every_reason_and_line(tmp_path) -> None:
    rows = [
        full_row("2022-03-01", "01:02:03.4567Z", org=ORG_A.upper()),  # line 2: fine (upper-case orgid)
        full_row("2022-03-01", "25:61:07.1234Z"),  # 3: malformed time
        full_row("2022-03-01", "12:34:56"),  # 4: no fraction/Z
        full_row("2022-03-01", "noon", runtime="-2.5"),  # 5: malformed time AND negative runtime
        full_row("2022-03-01", "01:02:03.4567Z", org=ORG_A),  # 6: duplicate of line 2 (ids are case-blind)
        full_row("2022-03-02", "01:00:00.0000Z"),  # 7: outside the partition
        full_row("2022-03-01", "02:00:00.0000Z", user="not-a-guid"),  # 8: bad user
        "2022-03-01,03:00:00.0000Z,INFO",  # 9: too few fields
        "",  # 10: blank
        full_row("2022-03-01", "04:00:00.0000Z", org=ORG_UNKNOWN, runtime="0"),  # 11: fine, unknown org
    ]
    path = write(tmp_path / "fullbas_2022-03-01.csv", ",".join(FULLBAS_COLUMNS), rows)
    batch = parse_fullbas([("2022-03-01", [path])], KNOWN)
    batch.check_accounting()
    reasons = {r["line_number"]: r["reason"] for r in batch.quarantine.to_pylist()}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert reasons[3].startswith("malformed timestamp '2022-03-01 25:61:07.1234Z'")
    assert reasons[4].startswith("malformed timestamp")
    assert "malformed timestamp" in reasons[5] and "negative runtime -2.5" in reasons[5]
    assert reasons[6] == "duplicate of line 2"
    assert reasons[7] == "run date 2022-03-02 is outside partition 2022-03-01"
    assert reasons[8] == "malformed userid 'not-a-guid'"
    assert reasons[9] == "expected 9 comma-separated fields, got 3"
    assert reasons[10] == "blank line"
    counts = batch.counts.to_pylist()[0]
    assert (counts["lines_read"], counts["lines_clean"], counts["lines_quarantined"]) == (10, 2, 8)
    clean = batch.clean.to_pylist()
    assert [r["org_id"] for r in clean] == [ORG_A, ORG_UNKNOWN]  # lower-cased
    assert [r["org_known"] for r in clean] == [True, False]  # unknown org flagged, not dropped
    assert (
        clean[0]["runtime_seconds"] == 1.5
        and str(clean[0]["run_at_utc"]) == "2022-03-01 01:02:03.456700+00:00"
    )


@pytest.mark.parametrize(
    ("day", "time", "local"),
    [
        # DST ends 2022-04-03 03:00 AEDT -> 02:00 AEST (16:00 UTC on the 2nd): 02:30 happens twice.
        ("2022-04-02", "14:59:00.0000Z", "2022-04-03 01:59:00"),
        ("2022-04-02", "15:30:00.0000Z", "2022-04-03 02:30:00"),
        ("2022-04-02", "16:30:00.0000Z", "2022-04-03 02:30:00"),
        ("2022-04-02", "17:00:00.0000Z", "2022-04-03 03:00:00"),
        # DST starts 2022-10-02 02:00 AEST -> 03:00 AEDT (16:00 UTC on the 1st): 02:xx never happens.
        ("2022-10-01", "15:30:00.0000Z", "2022-10-02 01:30:00"),
        ("2022-10-01", "16:00:00.0000Z", "2022-10-02 03:00:00"),
        ("2022-06-30", "23:00:00.0000Z", "2022-07-01 09:00:00"),  # winter: UTC+10
    ],
)
def test_sydney_wall_clock_across_daylight_saving(tmp_path, day: str, time: str, local: str) -> None:
    path = write(tmp_path / "f.csv", ",".join(FULLBAS_COLUMNS), [full_row(day, time)])
    clean = parse_fullbas([(day, [path])], KNOWN).clean.to_pylist()
    assert str(clean[0]["run_at_local"]) == local
    assert str(clean[0]["run_date"]) == day  # the UTC day stays the partition


def test_simplebas_rules_org_by_shortcode_and_dst(tmp_path) -> None:
    rows = [
        f"{USER},!QddkQ,2022,3,2022-04-02 16:30:00",  # 2: fine, 02:30 AEST after the change
        f"{USER},!QddkQ,2022,3,2022-04-02 15:30:00",  # 3: fine, 02:30 AEDT before it
        f"{USER},!QddkQ,2022,3,2022-04-02 16:30:00",  # 4: duplicate of 2
        f"{USER},!QddkQ,2022,2,2022-04-02 16:30:00",  # 5: same instant, other statement month: fine
        f"{USER_2},!Nobody,2022,3,2022-04-02 10:00:00",  # 6: fine, unknown shortcode
        f"{USER},!QddkQ,2022,13,2022/04/02 10:15:00",  # 7: bad month and datetime
        f"{USER},!QddkQ,2022,3,2022-04-02T25:00:00",  # 8: bad datetime
    ]
    path = write(tmp_path / "s.csv", ",".join(SIMPLEBAS_COLUMNS), rows)
    batch = parse_simplebas([("2022-04-02", [path])], KNOWN)
    batch.check_accounting()
    reasons = {r["line_number"]: r["reason"] for r in batch.quarantine.to_pylist()}
    assert reasons[4] == "duplicate of line 2"
    assert (
        "malformed datetime '2022/04/02 10:15:00'" in reasons[7]
        and "invalid statementmonth '13'" in reasons[7]
    )
    assert reasons[8].startswith("malformed datetime '2022-04-02T25:00:00'")
    assert sorted(reasons) == [4, 7, 8]
    clean = {(r["user_id"], str(r["run_at_utc"]), r["statement_month"]): r for r in batch.clean.to_pylist()}
    assert len(clean) == 4
    after = clean[(USER, "2022-04-02 16:30:00+00:00", 3)]
    before = clean[(USER, "2022-04-02 15:30:00+00:00", 3)]
    assert str(after["run_at_local"]) == str(before["run_at_local"]) == "2022-04-03 02:30:00"
    assert after["org_id"] == ORG_A and after["org_known"]
    unknown = clean[(USER_2, "2022-04-02 10:00:00+00:00", 3)]
    assert unknown["org_id"] is None and unknown["org_known"] is False


def test_header_errors_name_the_file_and_line(tmp_path) -> None:
    missing = write(tmp_path / "a.csv", "datestring,timestring,level,userid,orgid", [])
    with pytest.raises(
        RawFileError, match=r"a\.csv, line 1: header does not match a fullbas export \(missing"
    ):
        parse_fullbas([("2022-03-01", [missing])])
    semicolon = write(tmp_path / "b.csv", ";".join(SIMPLEBAS_COLUMNS), [])
    with pytest.raises(RawFileError, match=r"b\.csv, line 1: header is semicolon-delimited"):
        parse_simplebas([("2022-03-01", [semicolon])])
    empty = tmp_path / "c.csv"
    empty.write_text("")
    with pytest.raises(RawFileError, match=r"c\.csv, line 1: file is empty"):
        parse_orgcard([("snapshot", [empty])])


def card_row(
    org: str, shortcode: str, status: str = "Active", paying: str = "1", period: str = "None"
) -> str:
    values = {c: "None" for c in ORGCARD_COLUMNS}
    values |= {
        "organisationid": org, "shardid": "87", "shortcode": shortcode, "organisationstatus": status,
        "createddateutc": "2015-10-14 05:32:10.737", "signupdateutc": "2020-02-13 00:00:00",
        "productoption": "Standard", "salestaxperiod": period, "managedbypracticeflag": "1", "payingflag": paying,
        "marketcode": "AU", "nonpracticestaffusers": "2", "practicestaffusers": "6", "trialflag": "0",
    }  # fmt: skip
    return ",".join(values[c] for c in ORGCARD_COLUMNS)


def test_orgcard_none_flags_guids_and_bad_rows(tmp_path) -> None:
    rows = [
        card_row(ORG_A.upper(), "!QddkQ", period="Australian Monthly"),  # 2: fine
        card_row(ORG_B.upper(), "!DhWsK", paying="0"),  # 3: fine, not paying, period None
        card_row(ORG_A.upper(), "!Other"),  # 4: duplicate organisationid
        card_row("5CDF4968-430D-4C55-A52E-845CD144B786", "!QddkQ"),  # 5: duplicate shortcode
        card_row("5CDF4968", "!x1"),  # 6: malformed guid
        card_row(
            "8F483757-ACE6-4A36-8805-10481BCCAC42", "!x2", status="Archived", paying="2"
        ),  # 7: two reasons
    ]
    path = write(tmp_path / "orgcard.csv", ",".join(ORGCARD_COLUMNS), rows)
    batch = parse_orgcard([("snapshot", [path])])
    batch.check_accounting()
    reasons = {r["line_number"]: r["reason"] for r in batch.quarantine.to_pylist()}
    assert reasons[4] == "duplicate of line 2"
    assert reasons[5] == "duplicate shortcode of line 2"
    assert reasons[6].startswith("malformed organisationid '5CDF4968'")
    assert "unknown organisationstatus 'Archived'" in reasons[7] and "payingflag must be 0 or 1" in reasons[7]
    clean = batch.clean.to_pylist()
    assert [r["org_id"] for r in clean] == sorted([ORG_A, ORG_B])
    b = next(r for r in clean if r["org_id"] == ORG_B)
    assert b["paying"] is False and b["managed_by_practice"] is True and b["trial"] is False
    assert b["sales_tax_period"] is None and b["deleted_at_utc"] is None and b["channel_type"] is None
    assert b["shard_id"] == 87 and b["practice_staff_users"] == 6


def test_a_new_card_relinks_runs_already_loaded(tmp_path) -> None:
    con = connect(tmp_path / "w.duckdb")
    day = "2022-03-01"
    full = write(tmp_path / "f.csv", ",".join(FULLBAS_COLUMNS), [full_row(day, "01:00:00.0000Z", org=ORG_B)])
    simple = write(tmp_path / "s.csv", ",".join(SIMPLEBAS_COLUMNS), [f"{USER},!DhWsK,2022,2,{day} 01:00:00"])
    for table, batch in (
        ("clean.fullbas_runs", parse_fullbas([(day, [full])], KNOWN)),
        ("clean.simplebas_runs", parse_simplebas([(day, [simple])], KNOWN)),
    ):
        con.register("b", batch.clean)
        con.execute(f"INSERT INTO {table} BY NAME SELECT *, now() AS ingested_at FROM b")
    card = write(tmp_path / "orgcard.csv", ",".join(ORGCARD_COLUMNS), [card_row(ORG_A.upper(), "!QddkQ")])
    con.register("c", parse_orgcard([("snapshot", [card])]).clean)
    con.execute("INSERT INTO clean.organisations BY NAME SELECT *, now() AS ingested_at FROM c")
    assert refresh_org_links(con) == {"clean.fullbas_runs": 1, "clean.simplebas_runs": 1}
    assert con.execute("SELECT org_known FROM clean.fullbas_runs").fetchall() == [(False,)]
    assert con.execute("SELECT org_id, org_known FROM clean.simplebas_runs").fetchall() == [(None, False)]
    assert refresh_org_links(con) == {"clean.fullbas_runs": 0, "clean.simplebas_runs": 0}
    con.close()
