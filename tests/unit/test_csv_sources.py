"""Real exports as they come: empty optional fields, RFC 4180 quoting, encodings and gzip, for every CSV source."""

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from revcast import formats
from revcast.formats import FULLBAS_COLUMNS, ORGCARD_COLUMNS, USAGE_WIDE_COLUMNS
from revcast.ingest.bas import parse_fullbas, parse_orgcard, parse_simplebas
from revcast.ingest.core import RawFileError, read_records
from revcast.ingest.usage import parse_usage
from revcast.invoices.ingest import InvoiceFileError, read_invoice_file
from revcast.subscriptions.ingest import INSTALLS_COLUMNS, PURCHASES_COLUMNS, parse_installs, parse_purchases

DAY = "2021-03-01"
HEADER = ",".join(USAGE_WIDE_COLUMNS)
USER = "e07083a1-8528-4bf7-8c43-f4e33066e889"
ORG = "6220e36d-457e-4221-953c-8d1c8f07a3b1"


def card_line(
    i: int, *, deleted: str = "", signup: str = "2015-10-14 05:32:10.737", shard: str = "12"
) -> str:
    values = {
        "organisationid": f"{i:08X}-457E-4221-953C-8D1C8F07A3B1", "shardid": shard, "shortcode": f"!c{i:04d}",
        "organisationstatus": "Deleted" if deleted else "Active", "createddateutc": "2015-10-14 05:32:10.737",
        "signupdateutc": signup, "productoption": "Standard", "deleteddateutc": deleted,
        "saleschannel": "Partner", "channeltype": "", "salestaxbasis": "Accruals",
        "salestaxperiod": "Australian Monthly", "salestaxtype": "Australian GST", "incometaxbasis": "None",
        "provisionaltaxbasis": "", "managedbypracticeflag": "1", "payingflag": "1", "marketcode": "AU",
        "nonpracticestaffusers": "2", "practicestaffusers": "", "trialflag": "0",
    }  # fmt: skip
    return ",".join(values[c] for c in ORGCARD_COLUMNS)


# source -> (columns, optional columns, a valid line by column, parser over one partition, its key)
VALID = {
    "usage_wide": (
        USAGE_WIDE_COLUMNS, formats.USAGE_WIDE_OPTIONAL, [DAY, "C1", "3", "1.5"], parse_usage, DAY,
    ),
    "usage_long": (
        formats.USAGE_LONG_COLUMNS, (), ["A1", "cpu", DAY, "2.5", "vCPU-h"], parse_usage, DAY,
    ),
    "fullbas": (
        FULLBAS_COLUMNS, formats.FULLBAS_OPTIONAL,
        ["2022-03-01", "01:02:03.4567Z", "INFO", USER, ORG, "ActivityStatement", "VERSION/AU", "CNTRY/AU", "1.5"],
        parse_fullbas, "2022-03-01",
    ),
    "simplebas": (
        formats.SIMPLEBAS_COLUMNS, formats.SIMPLEBAS_OPTIONAL, [USER, "!QddkQ", "2022", "2", "2022-03-01 01:00:00"],
        parse_simplebas, "2022-03-01",
    ),
    "orgcard": (ORGCARD_COLUMNS, formats.ORGCARD_OPTIONAL, None, parse_orgcard, "snapshot"),
    "installs": (INSTALLS_COLUMNS, (), ["2022-03-01", "3", "4", "5"], parse_installs, "snapshot"),
    "purchases": (PURCHASES_COLUMNS, (), ["2022-03-01", "iOS", "1month_trial", "1", "2", "7"], parse_purchases,
                  "snapshot"),
}  # fmt: skip

CASES = [(source, column) for source, (columns, *_) in VALID.items() for column in columns]


@pytest.mark.parametrize("source, column", CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_every_column_is_required_or_optional_as_documented(tmp_path: Path, source: str, column: str) -> None:
    """An empty optional value loads (as NULL); an empty required value quarantines the line as 'missing <column>'."""
    columns, optional, valid, parse, key = VALID[source]
    values = dict(zip(columns, valid or card_line(1).split(","), strict=True))
    values[column] = ""
    path = tmp_path / f"{source}.csv"
    path.write_text(",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n")
    batch = parse([(key, [path])])
    batch.check_accounting()
    if column in optional:
        assert batch.quarantine.num_rows == 0, batch.quarantine.to_pylist()
    else:
        reasons = batch.quarantine.to_pylist()[0]["reason"].split("; ")
        assert any(r == f"missing {column}" or r.startswith(f"missing {column} ") for r in reasons), reasons


def test_orgcard_with_empty_optional_fields_loads_whole(tmp_path: Path) -> None:
    """A real card leaves deleteddateutc empty for every live organisation and signupdateutc sometimes."""
    lines = [card_line(i, signup="" if i % 10 == 0 else "2015-10-14 05:32:10.737") for i in range(1, 200)]
    lines.append(card_line(200, deleted="2022-01-05 10:00:00.123"))
    path = tmp_path / "orgcard.csv"
    path.write_text(",".join(ORGCARD_COLUMNS) + "\n" + "\n".join(lines) + "\n")
    batch = parse_orgcard([("snapshot", [path])])
    batch.check_accounting()
    assert batch.quarantine.num_rows == 0 and batch.clean.num_rows == 200
    rows = {r["shortcode"]: r for r in batch.clean.to_pylist()}
    assert rows["!c0001"]["deleted_at_utc"] is None and rows["!c0010"]["signup_at_utc"] is None
    assert rows["!c0001"]["channel_type"] is None and rows["!c0001"]["practice_staff_users"] is None
    assert str(rows["!c0200"]["deleted_at_utc"]) == "2022-01-05 10:00:00.123000"


def test_orgcard_required_field_empty_is_quarantined_with_a_reason(tmp_path: Path) -> None:
    required_empty = card_line(2).replace("!c0002", "")
    status_empty = card_line(3).replace(",Active,", ",,")
    path = tmp_path / "orgcard.csv"
    path.write_text(",".join(ORGCARD_COLUMNS) + f"\n{card_line(1)}\n{required_empty}\n{status_empty}\n")
    batch = parse_orgcard([("snapshot", [path])])
    reasons = {r["line_number"]: r["reason"] for r in batch.quarantine.to_pylist()}
    assert reasons == {3: "missing shortcode", 4: "missing organisationstatus"}


def test_quoted_fields_are_parsed_as_rfc_4180_with_exact_line_numbers(tmp_path: Path) -> None:
    text = (
        f'"date","customer_id","#api_calls(Product_1)","storage_capacity_used(Product_2)"\n'
        f'{DAY},"C1",3,"1.5"\n'  # 2: quoted, fine
        f'{DAY},"C2, Inc.",4,2\n'  # 3: a comma inside quotes is part of the field
        f'{DAY},"C3 ""the big one""",5,2\n'  # 4: doubled quotes
        f'{DAY},"C4\nsecond line",6,2\n'  # 5-6: a newline inside quotes: one record starting on line 5
        f"{DAY},C5,-1,2\n"  # 7: bad, and its line number still exact after the multi-line record
        f"{DAY},C6,,2.5\n"  # 8: empty optional api calls: one row (storage)
        f"{DAY},C7,,\n"  # 9: both products empty: nothing measured, quarantined
    )
    path = tmp_path / "usage.csv"
    path.write_text(text)
    batch = parse_usage([(DAY, [path])])
    batch.check_accounting()
    counts = batch.counts.to_pylist()[0]
    assert (counts["lines_read"], counts["lines_clean"], counts["lines_quarantined"]) == (7, 5, 2)
    assert counts["rows_written"] == 9 and batch.clean.num_rows == 9
    accounts = {r["account_id"] for r in batch.clean.to_pylist()}
    assert accounts == {"C1", "C2, Inc.", 'C3 "the big one"', "C4\nsecond line", "C6"}
    quarantined = {r["line_number"]: r for r in batch.quarantine.to_pylist()}
    assert sorted(quarantined) == [7, 9]
    assert quarantined[7]["raw_line"] == f"{DAY},C5,-1,2"
    assert quarantined[9]["reason"].startswith("no usage value")


def test_a_multi_line_record_keeps_its_first_line_and_raw_text_in_quarantine(tmp_path: Path) -> None:
    path = tmp_path / "fullbas.csv"
    good = f"2022-03-01,01:02:03.4567Z,INFO,{USER},{ORG},ActivityStatement,VERSION/AU,CNTRY/AU,1.5"
    bad = f'2022-03-01,01:02:04.4567Z,"IN\nFO",{USER},{ORG},ActivityStatement,,,"-1"'
    path.write_text(",".join(FULLBAS_COLUMNS) + f"\n{good}\n{bad}\n{good.replace('1.5', 'x')}\n")
    batch = parse_fullbas([("2022-03-01", [path])])
    rows = {r["line_number"]: r for r in batch.quarantine.to_pylist()}
    assert sorted(rows) == [3, 5]
    assert rows[3]["raw_line"] == bad and rows[3]["reason"] == "negative runtime -1"
    assert rows[5]["reason"] == "non-numeric runtime 'x'"

    clean = batch.clean.to_pylist()
    assert len(clean) == 1 and clean[0]["version_code"] == "VERSION/AU"


def test_empty_optional_run_fields_are_null_and_empty_required_ones_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "fullbas.csv"
    optional_empty = f"2022-03-01,01:02:03.4567Z,INFO,{USER},{ORG},ActivityStatement,,,1.5"
    required_empty = f"2022-03-01,01:02:04.4567Z,,{USER},{ORG},ActivityStatement,VERSION/AU,CNTRY/AU,"
    path.write_text(",".join(FULLBAS_COLUMNS) + f"\n{optional_empty}\n{required_empty}\n")
    batch = parse_fullbas([("2022-03-01", [path])])
    row = batch.clean.to_pylist()[0]
    assert row["version_code"] is None and row["country_code"] is None
    assert batch.quarantine.to_pylist()[0]["reason"] == "missing level; missing runtime"


def test_an_unterminated_quote_is_quarantined_not_silently_joined(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(f'{HEADER}\n{DAY},C1,3,1.0\n{DAY},C2,4,"2.5\n{DAY},C3,5,1.0\n')
    batch = parse_usage([(DAY, [path])])
    batch.check_accounting()
    rows = batch.quarantine.to_pylist()
    assert [(r["line_number"], r["reason"].split(";")[0]) for r in rows] == [
        (3, "unterminated quoted field (runs to the end of the file)")
    ]


BODY = f"{HEADER}\n{DAY},C1,3,1.0\n{DAY},Zoë,4,2.5\n"


@pytest.mark.parametrize(
    "name, data",
    [
        ("utf8", BODY.encode("utf-8")),
        ("utf8_bom", BODY.encode("utf-8-sig")),
        ("utf16_le_bom", BODY.encode("utf-16")),  # Python writes the BOM, little-endian here
        ("utf16_be_bom", b"\xfe\xff" + BODY.encode("utf-16-be")),
        ("utf32_bom", BODY.encode("utf-32")),
        ("utf16_crlf", BODY.replace("\n", "\r\n").encode("utf-16")),
        ("gzip", gzip.compress(BODY.encode("utf-8"))),
        ("gzip_utf16", gzip.compress(BODY.encode("utf-16"))),
    ],
)
def test_encodings_announced_by_a_bom_and_gzip_are_decoded(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    batch = parse_usage([(DAY, [path])])
    assert batch.counts.to_pylist()[0]["lines_clean"] == 2
    assert {r["account_id"] for r in batch.clean.to_pylist()} == {"C1", "Zoë"}


@pytest.mark.parametrize(
    "name, data, problem",
    [
        ("latin1", BODY.encode("latin-1"), "line 3: not valid UTF-8 (byte 0xeb"),
        ("utf16_no_bom", BODY.encode("utf-16-le"), "line 1: starts with NUL bytes"),
        ("corrupt_gzip", gzip.compress(BODY.encode())[:20], "line 1: cannot decompress gzip file"),
        ("bad_utf16", b"\xff\xfe" + BODY.encode("utf-16-le")[:-1], "not valid utf-16-le"),
        ("gzip_of_nothing", gzip.compress(b""), "line 1: file is empty"),
    ],
)
def test_other_encodings_fail_naming_the_file_and_the_problem(
    tmp_path: Path, name: str, data: bytes, problem: str
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    with pytest.raises(RawFileError) as error:
        parse_usage([(DAY, [path])])
    assert str(error.value).startswith(f"{path}, ") and problem in str(error.value)


def test_gzip_by_name_and_a_stray_control_byte_are_read(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv.gz"
    path.write_bytes(gzip.compress(f"{HEADER}\n{DAY},C\x011,3,1.0\n".encode()))
    records = read_records(path)
    assert records.header == list(USAGE_WIDE_COLUMNS)
    assert records.records["fields"].to_pylist() == [[DAY, "C\x011", "3", "1.0"]]


INVOICE = {"country": "Curaçao", "customer_id": 1.0, "invoice": "536365", "price": 2.5, "stream_id": "x",
           "times_viewed": 1, "year": "2022", "month": "3", "day": "1"}  # fmt: skip


@pytest.mark.parametrize(
    "name, data, problem",
    [
        ("utf8_bom", b"\xef\xbb\xbf" + json.dumps([INVOICE]).encode(), None),
        ("gzip", gzip.compress(json.dumps([INVOICE]).encode()), "gzip-compressed"),
        ("utf16", json.dumps([INVOICE]).encode("utf-16"), "UTF-16/UTF-32"),
        (
            "latin1",
            json.dumps([INVOICE], ensure_ascii=False).encode("latin-1"),
            "cannot read as a JSON array",
        ),
    ],
)
def test_invoice_json_loads_or_fails_naming_the_file(
    tmp_path: Path, name: str, data: bytes, problem: str
) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(data)
    con = duckdb.connect()
    try:
        if problem is None:
            assert read_invoice_file(con, path).rows_clean == 1
        else:
            with pytest.raises(InvoiceFileError, match=problem) as error:
                read_invoice_file(con, path)
            assert str(error.value).startswith(f"{path}: ")
    finally:
        con.close()
