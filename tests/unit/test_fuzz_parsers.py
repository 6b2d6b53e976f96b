"""Fuzzing every source's parser: no crash but the documented whole-file errors, and lines read = clean + quarantined.

CSV sources get files built from valid values, random text (commas, quotes, newlines, control and non-ASCII
characters), random quoting, line ends, byte-order marks, UTF-16 and gzip; invoices get JSON arrays of records
with drifting keys and values of any type, and broken JSON. Examples are few so the suite stays fast.
"""

import csv
import gzip
import io
import json
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from revcast import formats
from revcast.generate import generate_landing
from revcast.ingest.bas import parse_fullbas, parse_orgcard, parse_simplebas
from revcast.ingest.core import RawFileError, read_records
from revcast.ingest.usage import parse_usage
from revcast.invoices.ingest import InvoiceFileError, parse_invoice_partitions
from revcast.subscriptions.ingest import INSTALLS_COLUMNS, PURCHASES_COLUMNS, parse_installs, parse_purchases

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY = "2022-03-01"
USER = "e07083a1-8528-4bf7-8c43-f4e33066e889"
ORG = "6220E36D-457E-4221-953C-8D1C8F07A3B1"
# source -> (header columns, typical valid values per column, parser over one partition, partition key)
SOURCES = {
    "usage_wide": (formats.USAGE_WIDE_COLUMNS, [[DAY], ["C1", "C2", "null"], ["3", "-1", "2.5"], ["1.5", ""]],
                   parse_usage, DAY),
    "usage_long": (formats.USAGE_LONG_COLUMNS, [["A1"], ["cpu", "api_calls"], [DAY, "2022-03-02"], ["2.5", "x"],
                                                ["vCPU-h"]], parse_usage, DAY),
    "fullbas": (formats.FULLBAS_COLUMNS, [[DAY], ["01:02:03.4567Z", "noon"], ["INFO"], [USER], [ORG, ORG.lower()],
                                          ["ActivityStatement"], ["VERSION/AU", ""], ["CNTRY/AU"], ["1.5", "-2"]],
                parse_fullbas, DAY),
    "simplebas": (formats.SIMPLEBAS_COLUMNS, [[USER], ["!QddkQ", "None"], ["2022"], ["2", "13"],
                                              [f"{DAY} 01:00:00", f"{DAY}T25:00"]], parse_simplebas, DAY),
    "orgcard": (formats.ORGCARD_COLUMNS, [[ORG], ["12", ""], ["!c0001", "!c0002"], ["Active", "Deleted"],
                                          ["2015-10-14 05:32:10.737", ""], ["", "None"], ["Standard"], [""],
                                          ["Partner"], ["Accountant, Bookkeeper"], ["Cash"], ["None"], ["GST"],
                                          ["None"], [""], ["1", "2"], ["0", "1"], ["AU"], ["2"], ["6", ""], ["0"]],
                parse_orgcard, "snapshot"),
    "installs": (INSTALLS_COLUMNS, [[DAY, "2022-03-02"], ["3"], ["0", "-1"], ["12", ""]], parse_installs, "snapshot"),
    "purchases": (PURCHASES_COLUMNS, [[DAY], ["iOS"], ["1month_trial"], ["1", "12", "6"], ["1", "0"], ["4"]],
                  parse_purchases, "snapshot"),
}  # fmt: skip


TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(',"\n\r \t;\x00\x01\ufeffé€'),
        st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF),
    ),
    max_size=10,
)


@st.composite
def csv_file(draw: st.DrawFn, source: str) -> bytes:
    """A file of one source: its header, then records mixing valid values, junk and raw broken lines."""
    columns, values, _, _ = SOURCES[source]
    lines = [",".join(columns)]
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 9)) == 0:  # a raw line, quotes unbalanced or not
            lines.append(draw(TEXT))
            continue
        n = len(columns) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
        fields = [
            draw(st.one_of(st.sampled_from(values[i % len(values)]), TEXT))
            if i < len(columns)
            else draw(TEXT)
            for i in range(max(n, 1))
        ]
        quote_all = draw(st.booleans())
        lines.append(
            ",".join(
                '"' + f.replace('"', '""') + '"' if quote_all or any(c in f for c in ',"\r\n') else f
                for f in fields
            )
        )
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(st.sampled_from(["\n", ""]))
    if draw(st.integers(0, 9)) == 0:  # a header that is not the source's
        text = (
            draw(st.sampled_from(["", ";".join(columns), ",".join(columns[:-1]), "x"]))
            + text[len(lines[0]) :]
        )
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    return gzip.compress(data, mtime=0) if draw(st.integers(0, 5)) == 0 else data


def _records(data: bytes) -> int:
    """An independent count of the data records: Python's csv over the decoded text."""
    text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
    ):
        if text.startswith(bom):
            decoded = text.decode(encoding)
            break
    else:
        decoded = text.decode("utf-8")
    rows = list(csv.reader(io.StringIO(decoded.lstrip("\ufeff"), newline="")))
    return len(rows) - 1


@pytest.mark.parametrize("source", sorted(SOURCES))
@FUZZ
@given(data=st.data())
def test_csv_parsers_account_for_every_record(source: str, data: st.DataObject) -> None:
    raw = data.draw(csv_file(source))
    _, _, parse, key = SOURCES[source]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{source}.csv"
        path.write_bytes(raw)
        try:
            batch = parse([(key, [path])])
        except RawFileError as error:  # a whole-file error names the file
            assert str(error).startswith(f"{path}, line ")
            event(f"whole-file error: {error.reason.split(' (')[0].split(':')[0]}")
            return
        event(f"parsed, {'some' if batch.quarantine.num_rows else 'nothing'} quarantined")
        batch.check_accounting()
        counts = batch.counts.to_pylist()[0]
        assert counts["lines_read"] == read_records(path).records.num_rows == _records(raw)
        lines = [r["line_number"] for r in batch.quarantine.to_pylist()]
        assert len(set(lines)) == len(lines) and all(line >= 2 for line in lines)


KEYS = [k for variants in formats.INVOICE_KEY_VARIANTS.values() for k in variants]
JSON_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False), TEXT,
    st.sampled_from(["United Kingdom", "C536365", "536365", "2022", "3", "1", "12.5", ""]),
    st.lists(st.integers(), max_size=2),
)  # fmt: skip


@st.composite
def invoice_file(draw: st.DrawFn) -> bytes:
    """A month's JSON array: records with one spelling of each key (sometimes both, missing or unknown)."""
    records = []
    drift = draw(st.integers(0, 4)) == 0  # now and then a key missing, doubled or unknown (a file error)
    for _ in range(draw(st.integers(0, 6))):
        record = {}
        for variants in formats.INVOICE_KEY_VARIANTS.values():
            spellings = [[variants[0]], [variants[-1]]] + ([list(variants), []] if drift else [])
            for key in draw(st.sampled_from(spellings)):
                record[key] = draw(JSON_VALUE)
        if drift and draw(st.booleans()):
            record[draw(TEXT)] = 1
        records.append(record)

    text = json.dumps(records, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 7)) == 0:  # broken: truncated or not an array of objects
        text = draw(st.sampled_from([text[: len(text) // 2], "{}", "[1, 2]", "", "[{]"]))
    return text.encode()


@FUZZ
@given(raw=invoice_file())
def test_invoice_parser_accounts_for_every_record(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "invoices.json"
        path.write_bytes(raw)
        con = duckdb.connect()
        try:
            batch = parse_invoice_partitions(con, [("2022-03", [path])])
        except InvoiceFileError as error:  # a whole-file error names the file
            assert str(error).startswith(str(path))
            event("whole-file error")
            return
        finally:
            con.close()
    batch.check_accounting()
    assert batch.counts.to_pylist()[0]["lines_read"] == len(json.loads(raw))
    event(f"parsed, {'some' if batch.quarantine.num_rows else 'nothing'} quarantined")


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 10_000), bad_share=st.sampled_from([0.0, 0.01, 0.05]))
def test_every_generated_file_parses_with_full_accounting(seed: int, bad_share: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_landing(root, seed=seed, accounts=5, start=date(2022, 2, 25), end=date(2022, 3, 3),
                         bad_share=bad_share, domains=("usage", "bas", "invoices"))  # fmt: skip
        for folder, parse in (("usage", parse_usage), ("bas/fullbas", parse_fullbas),
                              ("bas/simplebas", parse_simplebas)):  # fmt: skip
            for path in sorted((root / folder).glob("*/*.csv")):
                batch = parse([(path.parent.name.split("=")[1], [path])])
                batch.check_accounting()
                assert batch.counts.to_pylist()[0]["lines_read"] == _records(path.read_bytes())
        card = parse_orgcard([("snapshot", [root / "bas/orgcard.csv"])])
        card.check_accounting()
        assert card.quarantine.num_rows == 0
        con = duckdb.connect()
        for path in sorted((root / "invoices").glob("*/*.json")):
            batch = parse_invoice_partitions(con, [(path.parent.name.split("=")[1], [path])])
            batch.check_accounting()
            assert batch.counts.to_pylist()[0]["lines_read"] == len(json.loads(path.read_text()))
        con.close()
