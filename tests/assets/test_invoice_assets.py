"""Invoice ingest, daily revenue and features materialized in-process on the generated sample landing zone."""

import json
import shutil
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from assets.invoices import invoice_daily_revenue, invoice_features, invoice_records
from assets.partitions import monthly_partitions
from revcast.invoices import FEATURE_COLUMNS, revenue_features_sql
from revcast.warehouse import connect
from tests.conftest import QUIET, SAMPLE_END, SAMPLE_START, make_resources, materialize_range
from tests.helpers import table_checksum


def key(month: str) -> str:
    """The monthly partition key of a YYYY-MM month (whatever the partitions' key format)."""
    when = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    return monthly_partitions.get_partition_key_for_timestamp(when.timestamp())


FIRST, LAST = key(SAMPLE_START.strftime("%Y-%m")), key(SAMPLE_END.strftime("%Y-%m"))
BUSINESS_COLUMNS = ["invoice_date", "country", "customer_id", "invoice_id", "invoice_prefix", "is_cancellation",
                    "stream_id", "times_viewed", "price", "source_file", "record_number"]  # fmt: skip


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def loaded(sample_landing, tmp_path_factory):
    """Invoices ingested for the whole sample range, then the daily series and the features."""
    workdir = tmp_path_factory.mktemp("invoices_wh")
    resources = make_resources(sample_landing, workdir)
    ingest = materialize_range([invoice_records], resources, FIRST, LAST)
    series = dg.materialize([invoice_daily_revenue, invoice_features], resources=resources, run_config=QUIET)
    return resources, ingest, series


def test_ingest_accounts_for_every_record_and_quarantines_with_reasons(sample_landing, loaded):
    resources, ingest, _ = loaded
    assert ingest.success and _checks(ingest) == {
        "invoice_expectations": True,
        "invoice_quarantine_share": True,
    }
    files = sorted((sample_landing / "invoices").glob("month=*/*.json"))
    records = sum(len(json.loads(f.read_text())) for f in files)
    manifest = json.loads((sample_landing / "_manifest.json").read_text())["summary"]["bad_rows"]["invoices"]
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        months, read, clean, quarantined = con.execute(
            "SELECT count(*), sum(lines_read), sum(lines_clean), sum(lines_quarantined) FROM audit.ingest_runs "
            "WHERE source = 'invoices'"
        ).fetchall()[0]
        clean_rows = con.execute("SELECT count(*) FROM clean.invoices").fetchall()[0][0]
        reasons = dict(
            con.execute(
                "SELECT CASE WHEN reason LIKE 'invalid date%' THEN 'malformed_day' "
                "WHEN reason = 'price outside [0, 10000]' THEN 'price_out_of_range' ELSE reason END AS kind, "
                "count(*) FROM quarantine.invoices GROUP BY kind"
            ).fetchall()
        )
        lineage = con.execute(
            "SELECT bool_and(partition_key = regexp_extract(source_file, 'month=([0-9-]+)', 1)), "
            "bool_and(raw_line LIKE '{%}' AND line_number >= 1) FROM quarantine.invoices"
        ).fetchall()[0]
        outside = con.execute(
            "SELECT count(*) FROM clean.invoices "
            "WHERE strftime(invoice_date, '%Y-%m') <> regexp_extract(source_file, 'month=([0-9-]+)', 1)"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert months == 24 and read == records == clean + quarantined and clean == clean_rows
    assert reasons == manifest  # every injected bad record, and nothing else, with its reason
    assert lineage == (True, True) and outside == 0


def test_daily_series_complete_all_is_sum_and_checks_pass(loaded):
    resources, _, series = loaded
    assert series.success
    assert _checks(series) == {
        "invoice_daily_revenue_complete": True,
        "invoice_daily_revenue_all_is_sum": True,
        "invoice_features_cover_series": True,
    }
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        columns = [r[0] for r in con.execute("DESCRIBE features.invoice_daily_revenue").fetchall()]
        per_series = con.execute(
            "SELECT count(*), count(DISTINCT ds), min(ds), max(ds) FROM features.invoice_daily_revenue "
            "GROUP BY unique_id"
        ).fetchall()
        zero_days = con.execute(
            "SELECT count(*) FROM features.invoice_daily_revenue WHERE unique_id = 'all' AND revenue = 0"
        ).fetchall()[0][0]
        revenue = con.execute(
            "SELECT (SELECT sum(revenue) FROM features.invoice_daily_revenue WHERE unique_id = 'all'), "
            "(SELECT sum(price) FROM clean.invoices WHERE NOT is_cancellation)"
        ).fetchall()[0]
        countries = con.execute("SELECT count(DISTINCT country) FROM clean.invoices").fetchall()[0][0]
    finally:
        con.close()
    days = (SAMPLE_END - SAMPLE_START).days + 1
    assert columns[:7] == [
        "unique_id",
        "ds",
        "revenue",
        "purchases",
        "unique_invoices",
        "unique_streams",
        "views",
    ]
    assert len(per_series) == countries + 1
    assert set(per_series) == {(days, days, SAMPLE_START, SAMPLE_END)}  # last day of the range included
    assert zero_days > 0  # closed days are rows with zero revenue, not gaps
    assert revenue[0] == pytest.approx(revenue[1])


def test_features_only_see_days_before_d(loaded, tmp_path):
    """Features of day d recomputed from a series that stops at d-1 are the same: nothing from d or later."""
    resources, _, _ = loaded
    shutil.copy(resources["warehouse"].path, tmp_path / "copy.duckdb")
    con = connect(tmp_path / "copy.duckdb")
    try:
        d = date(2023, 3, 15)
        con.execute(
            "CREATE TABLE main.truncated AS SELECT * REPLACE (CASE WHEN ds >= ? THEN 1e9 ELSE revenue END AS revenue, "
            "CASE WHEN ds >= ? THEN 10**6 ELSE views END AS views) FROM features.invoice_daily_revenue",
            [d, d],
        )
        cols = ", ".join(FEATURE_COLUMNS)
        stored = con.execute(
            f"SELECT unique_id, {cols} FROM features.invoice_features WHERE ds = ? ORDER BY unique_id", [d]
        ).fetchall()
        recomputed = con.execute(
            f"SELECT unique_id, {cols} FROM ({revenue_features_sql('main.truncated')}) ORDER BY unique_id",
            {"start": d, "end": d},
        ).fetchall()
        target = con.execute(
            "SELECT f.target_revenue_next_30d, (SELECT sum(revenue) FROM features.invoice_daily_revenue s "
            "WHERE s.unique_id = 'all' AND s.ds BETWEEN ? AND ?) FROM features.invoice_features f "
            "WHERE f.unique_id = 'all' AND f.ds = ?",
            [d, d + timedelta(days=29), d],
        ).fetchall()[0]
    finally:
        con.close()
    assert stored == recomputed and stored and all(v is not None for row in stored for v in row)
    assert target[0] == pytest.approx(target[1])


def test_rerun_is_idempotent(loaded):
    resources, _, _ = loaded
    path = resources["warehouse"].path

    def state():
        con = connect(path, read_only=True)
        try:
            return table_checksum(con, "clean.invoices", BUSINESS_COLUMNS), table_checksum(
                con,
                "quarantine.invoices",
                ["partition_key", "source_file", "line_number", "raw_line", "reason"],
            )
        finally:
            con.close()

    before = state()
    again = materialize_range([invoice_records], resources, FIRST, LAST)
    mat = again.asset_materializations_for_node("invoice_records")[0].metadata
    assert mat["partitions_unchanged"].value == 24 and mat["partitions_loaded"].value == 0
    assert state() == before
    forced = materialize_range(
        [invoice_records],
        resources,
        FIRST,
        LAST,
        run_config={**QUIET, "ops": {"invoice_records": {"config": {"force": True}}}},
    )
    assert forced.success and state() == before


def _small_landing(sample_landing, tmp_path, months):
    for month in months:
        shutil.copytree(
            sample_landing / "invoices" / f"month={month}",
            tmp_path / "landing" / "invoices" / f"month={month}",
        )
    return tmp_path / "landing"


def test_record_outside_its_month_and_price_range_are_quarantined(sample_landing, tmp_path, monkeypatch):
    monkeypatch.setenv("REVCAST_QUARANTINE_THRESHOLD", "0.01")
    landing = _small_landing(sample_landing, tmp_path, ["2022-03"])
    path = next((landing / "invoices" / "month=2022-03").glob("*.json"))
    records = json.loads(path.read_text())
    records[0]["month"], records[0]["day"] = "4", "2"
    path.write_text(json.dumps(records))
    resources = make_resources(landing, tmp_path / "wh")
    config = {**QUIET, "ops": {"invoice_records": {"config": {"price_max": 50.0}}}}
    result = dg.materialize([invoice_records], resources=resources, partition_key=key("2022-03"), run_config=config,
                            raise_on_error=False)  # fmt: skip
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        reasons = con.execute(
            "SELECT line_number, reason FROM quarantine.invoices ORDER BY line_number"
        ).fetchall()
        expensive = con.execute("SELECT count(*) FROM clean.invoices WHERE price > 50").fetchall()[0][0]
    finally:
        con.close()
    assert (1, "invoice_date 2022-04-02 outside partition month 2022-03") in reasons
    prices = [float(r["price"] if "price" in r else r["total_price"]) for r in records]
    assert sum("price outside [0, 50]" in r for _, r in reasons) == sum(not 0 <= p <= 50 for p in prices) > 0
    assert expensive == 0
    share = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "invoice_quarantine_share"
    )
    assert len(reasons) / len(records) > 0.01 and not share.passed and not result.success  # blocking
    assert str(path) in share.description and "price outside [0, 50]" in share.description


def test_unknown_key_fails_the_partition_naming_the_file(sample_landing, tmp_path):
    landing = _small_landing(sample_landing, tmp_path, ["2022-05"])
    path = next((landing / "invoices" / "month=2022-05").glob("*.json"))
    records = json.loads(path.read_text())
    records[3]["discount"] = 0.1
    path.write_text(json.dumps(records))
    resources = make_resources(landing, tmp_path / "wh")
    result = dg.materialize([invoice_records], resources=resources, partition_key=key("2022-05"), run_config=QUIET,
                            raise_on_error=False)  # fmt: skip
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    message = failure.message + "".join(c.message for c in [failure.cause] if c)
    assert str(path) in message and "'discount'" in message
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM audit.ingest_runs").fetchall()[0][0] == 0
    finally:
        con.close()


def test_missing_month_folder_is_a_clear_error(sample_landing, tmp_path):
    landing = _small_landing(sample_landing, tmp_path, ["2022-05"])
    resources = make_resources(landing, tmp_path / "wh")
    result = materialize_range(
        [invoice_records], resources, key("2022-05"), key("2022-06"), raise_on_error=False
    )
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "2022-06" in (error.message + (error.cause.message if error.cause else ""))
