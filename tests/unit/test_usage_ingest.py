"""The usage parser on a corpus of bad inputs: each ends as a clear error or quarantined lines, never loss."""

from pathlib import Path

import pytest

from revcast.importers import import_usage
from revcast.ingest.core import RawFileError
from revcast.ingest.usage import parse_usage

HEADER = "date,customer_id,#api_calls(Product_1),storage_capacity_used(Product_2)"
DAY = "2021-03-01"

# name -> (file bytes, expected clean lines, expected quarantine reasons in line order) or an error fragment
CORPUS = {
    "missing_column": (
        f"date,customer_id,#api_calls(Product_1)\n{DAY},C1,3\n",
        "missing column(s) storage_capacity_used",
    ),
    "extra_column": (f"{HEADER},region\n{DAY},C1,3,1.0,EU\n", "unexpected column(s) region"),
    "wrong_delimiter": (HEADER.replace(",", ";") + f"\n{DAY};C1;3;1.0\n", "semicolon-delimited"),
    "empty_file": ("", "file is empty"),
    "non_numeric_quantity": (
        f"{HEADER}\n{DAY},C1,abc,1.0\n{DAY},C2,4,2.5\n",
        (1, ["non-numeric #api_calls(Product_1) 'abc'"]),
    ),
    "negative_quantity": (
        f"{HEADER}\n{DAY},C1,3,-1.5\n{DAY},C2,4,2.5\n",
        (1, ["negative storage_capacity_used(Product_2) -1.5"]),
    ),
    "duplicate_key": (f"{HEADER}\n{DAY},C1,3,1.0\n{DAY},C1,3,1.0\n", (1, ["duplicate key of line 2"])),
    "date_right_shape_with_letter": (
        f"{HEADER}\n2021-03-0a,C1,3,1.0\n{DAY},C2,4,2.5\n",
        (1, ["malformed date '2021-03-0a'"]),
    ),
    "unknown_date_format": (
        f"{HEADER}\n01/03/2021,C1,3,1.0\n{DAY},C2,4,2.5\n",
        (1, ["malformed date '01/03/2021'"]),
    ),
    "header_only": (f"{HEADER}\n", (0, [])),
    "utf8_bom": (f"\ufeff{HEADER}\n{DAY},C1,3,1.0\n", (1, [])),
    "crlf_line_ends": (f"{HEADER}\r\n{DAY},C1,3,1.0\r\n{DAY},C2,4,2.5\r\n", (2, [])),
    "truncated_last_line": (
        f"{HEADER}\n{DAY},C1,3,1.0\n{DAY},C2,4",
        (1, ["expected 4 comma-separated fields, got 3"]),
    ),
    "unknown_account": (
        f"{HEADER}\n{DAY},,3,1.0\n{DAY},null,3,1.0\n{DAY},C2,4,2.5\n",
        (1, ["missing customer_id", "unknown account id 'null'"]),
    ),
    "date_outside_partition": (
        f"{HEADER}\n2021-03-02,C1,3,1.0\n{DAY},C2,4,2.5\n",
        (1, ["usage date 2021-03-02 is outside partition 2021-03-01"]),
    ),
    "fractional_calls_and_nan": (
        f"{HEADER}\n{DAY},C1,2.5,nan\n",
        (0, ["#api_calls(Product_1) must be a whole number, got 2.5; non-finite"]),
    ),
    "blank_line_in_middle": (f"{HEADER}\n{DAY},C1,3,1.0\n\n{DAY},C2,4,2.5\n", (2, ["blank line"])),
    "quoted_fields": (f'{HEADER}\n"{DAY}","C1","3","1.0"\n', (1, [])),
    "long_form": (
        "account_id,metric,usage_date,quantity,unit\nA1,cpu,2021-03-01,2.5,vCPU-h\nA1,cpu,2021-03-01,1,vCPU-h\n",
        (1, ["duplicate key of line 2"]),
    ),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_input_corpus(tmp_path, name):
    text, expected = CORPUS[name]
    path = _write(tmp_path, name, text)
    if isinstance(expected, str):
        with pytest.raises(RawFileError) as error:
            parse_usage([(DAY, [path])])
        message = str(error.value)
        assert str(path) in message and "line 1" in message and expected in message
        return
    clean_lines, reasons = expected
    batch = parse_usage([(DAY, [path])])
    batch.check_accounting()
    counts = batch.counts.to_pylist()[0]
    data_lines = len(text.lstrip("\ufeff").splitlines()) - 1
    assert counts["lines_read"] == data_lines
    assert counts["lines_clean"] == clean_lines
    assert counts["lines_quarantined"] == len(reasons)
    got = batch.quarantine.to_pylist()
    for row, fragment in zip(got, reasons, strict=True):
        assert fragment in row["reason"]
        assert row["source_file"] == str(path) and row["line_number"] >= 2
    metrics_per_line = 1 if name == "long_form" else 2
    assert batch.clean.num_rows == clean_lines * metrics_per_line


def test_quarantine_keeps_raw_line_and_line_number(tmp_path):
    path = _write(tmp_path, "mixed", f"{HEADER}\n{DAY},C1,3,1.0\n{DAY},C2,-4,2.5\n")
    row = parse_usage([(DAY, [path])]).quarantine.to_pylist()[0]
    assert (row["line_number"], row["raw_line"]) == (3, f"{DAY},C2,-4,2.5")


def test_wide_lines_become_long_rows_with_units(tmp_path):
    path = _write(tmp_path, "ok", f"{HEADER}\n{DAY},C1,3,1.25\n")
    rows = sorted(parse_usage([(DAY, [path])]).clean.to_pylist(), key=lambda r: r["metric"])
    assert [(r["metric"], r["quantity"], r["unit"]) for r in rows] == [
        ("api_calls", 3.0, "calls"),
        ("storage_gb", 1.25, "GB"),
    ]


def test_import_splits_a_monolithic_export(tmp_path):
    export = _write(
        tmp_path,
        "history",
        f"{HEADER}\n2021-03-01,C1,3,1.0\n2021-03-02,C1,4,1.1\n2021/03/03,C1,5,1.2\n2021-03-01,C2,1,0.5\n",
    )
    summary = import_usage(export, tmp_path / "landing")
    assert (summary.partitions, summary.lines, summary.unassigned_lines) == (2, 3, 1)
    day1 = (tmp_path / "landing/usage/date=2021-03-01/history.csv").read_text().splitlines()
    assert day1 == [HEADER, "2021-03-01,C1,3,1.0", "2021-03-01,C2,1,0.5"]
    assert summary.unassigned_file.read_text().splitlines() == [HEADER, "2021/03/03,C1,5,1.2"]
    again = import_usage(export, tmp_path / "landing")
    assert again == summary
