"""The clean tables' GX suites run as SQL inside DuckDB, on the warehouse file, over one partition's rows."""

import pytest

from assets.checks import expectations_check
from expectations import validate_rows
from revcast.warehouse import connect

WHERE = "CAST(usage_date AS VARCHAR) IN (SELECT unnest(?))"


@pytest.fixture
def con(tmp_path):
    """A warehouse file with 2 days x 5 accounts x 2 metrics of good usage and a bad third day."""
    con = connect(tmp_path / "revcast.duckdb")
    con.execute(
        "INSERT INTO clean.usage SELECT 'acct_' || a, m, DATE '2024-03-01' + d::INTEGER, a * 1.5, 'u', 'f.csv', "
        "now() FROM range(5) t(a), (VALUES ('api_calls'), ('storage_gb')) s(m), range(3) r(d)"
    )
    con.execute(
        "UPDATE clean.usage SET quantity = -2 "
        "WHERE usage_date = '2024-03-03' AND account_id = 'acct_1' AND metric = 'storage_gb'"
    )
    con.execute(
        "INSERT INTO clean.usage SELECT * FROM clean.usage "
        "WHERE usage_date = '2024-03-03' AND account_id = 'acct_4' AND metric = 'api_calls'"
    )
    yield con
    con.close()


def _check(con, days):
    return expectations_check(
        con,
        asset="usage_records",
        check="usage_expectations",
        suite="clean_usage",
        table="clean.usage",
        where=WHERE,
        params=[days],
    )


def _scratch_tables(con):
    return con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'gx_batch_%'").fetchall()


def test_good_partitions_pass_and_only_their_rows_are_validated(con):
    result = _check(con, ["2024-03-01", "2024-03-02"])
    assert result.passed, result.metadata["results"].value
    assert result.metadata["rows_validated"].value == 20  # not the bad third day's 11
    assert result.metadata["failed"].value == 0 and result.metadata["expectations"].value == 7
    assert _scratch_tables(con) == []


def test_a_negative_quantity_and_a_duplicated_key_fail_with_their_counts(con):
    result = _check(con, ["2024-03-02", "2024-03-03"])
    assert not result.passed
    assert result.metadata["rows_validated"].value == 21
    assert set(result.description.split("; ")) == {
        "expect_column_values_to_be_between(quantity): 1 unexpected",
        "expect_compound_columns_to_be_unique(account_id,metric,usage_date): 2 unexpected",
    }
    assert "| expect_column_values_to_be_between | quantity | **no** | 1 | e.g. -2.0 |" in (
        result.metadata["results"].value
    )
    assert _scratch_tables(con) == []
    # the shared connection is still the warehouse's, usable for writing
    con.execute("DELETE FROM clean.usage WHERE quantity < 0")
    assert _check(con, ["2024-03-01"]).passed


def test_regex_and_set_expectations_run_in_duckdb(con):
    con.execute(
        "INSERT INTO clean.organisations (org_id, shortcode, organisation_status, source_file, ingested_at) "
        "SELECT CASE WHEN i = 0 THEN upper(uuid()::VARCHAR) ELSE uuid()::VARCHAR END, 'sc' || (i % 3), "
        "CASE WHEN i = 1 THEN 'Closed' ELSE 'Active' END, 'f.csv', now() FROM range(4) t(i)"
    )
    outcome = validate_rows(con, "clean_organisations", "clean.organisations", "true", [])
    failed = {(o.expectation, o.column): o.unexpected_count for o in outcome.failures()}
    assert failed == {
        ("expect_column_values_to_match_regex", "org_id"): 1,
        ("expect_column_values_to_be_unique", "shortcode"): 2,
        ("expect_column_values_to_be_in_set", "organisation_status"): 1,
    }
    assert outcome.rows == 4
