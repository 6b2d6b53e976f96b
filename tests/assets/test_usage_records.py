"""usage_records materialized in-process against temp warehouses on generated sample data."""

import json
import os
import shutil
import subprocess
import sys

import dagster as dg

from assets.usage.ingest import usage_records
from revcast.warehouse import connect
from tests.conftest import QUIET, make_resources, materialize_range
from tests.helpers import table_checksum

BUSINESS_COLUMNS = ["account_id", "metric", "usage_date", "quantity", "unit", "source_file"]


def _copy_days(landing, target, days):
    for day in days:
        shutil.copytree(landing / "usage" / f"date={day}", target / "usage" / f"date={day}")


def _partition_checksums(path, days):
    con = connect(path, read_only=True)
    try:
        return {
            day: con.execute(
                "SELECT count(*), sum(hash(account_id, metric, quantity)) FROM clean.usage WHERE usage_date = ?",
                [day],
            ).fetchall()[0]
            for day in days
        }
    finally:
        con.close()


def test_range_backfill_accounts_for_every_line(sample_landing, resources):
    result = materialize_range([usage_records], resources, "2022-01-01", "2022-03-31")
    assert result.success
    manifest = json.loads((sample_landing / "_manifest.json").read_text())
    con = connect(resources["warehouse"].path, read_only=True)
    audit = con.execute(
        "SELECT count(*), sum(lines_read), sum(lines_clean), sum(lines_quarantined), sum(rows_written) "
        "FROM audit.ingest_runs WHERE source = 'usage'"
    ).fetchall()[0]
    clean_rows = con.execute("SELECT count(*) FROM clean.usage").fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM quarantine.usage").fetchall()[0][0]
    con.close()
    partitions, read, clean, quarantine, written = audit
    assert partitions == 90
    texts = [
        (sample_landing / "usage" / f"date={d}" / f"usage_{d}.csv").read_text()
        for d in [k for k in manifest_days(manifest) if k <= "2022-03-31"]
    ]
    no_storage = sum(
        line.endswith(",") for text in texts for line in text.splitlines()[1:]
    )  # optional, empty
    assert no_storage > 0
    assert read == clean + quarantine and quarantine == quarantined
    assert written == clean_rows == 2 * clean - no_storage
    assert read == sum(len(text.splitlines()) - 1 for text in texts)

    materialization_partitions = {
        e.event_specific_data.materialization.partition
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert len(materialization_partitions) == 90
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks.keys() == {"usage_expectations", "usage_quarantine_share", "usage_anomalies"}
    assert checks["usage_expectations"] and checks["usage_quarantine_share"]  # anomalies only warn


def manifest_days(manifest):
    start, end = manifest["parameters"]["start"], manifest["parameters"]["end"]
    import pandas as pd

    return [d.strftime("%Y-%m-%d") for d in pd.date_range(start, end)]


def test_rerun_leaves_table_byte_identical_and_changed_file_touches_only_its_partition(
    sample_landing, tmp_path
):
    days = ["2022-02-01", "2022-02-02", "2022-02-03"]
    landing = tmp_path / "landing"
    _copy_days(sample_landing, landing, days)
    res = make_resources(landing, tmp_path)
    assert materialize_range([usage_records], res, days[0], days[-1]).success
    con = connect(res["warehouse"].path)
    first = table_checksum(con, "clean.usage")
    first_business = table_checksum(con, "clean.usage", BUSINESS_COLUMNS)
    con.close()

    assert materialize_range([usage_records], res, days[0], days[-1]).success
    con = connect(res["warehouse"].path)
    assert table_checksum(con, "clean.usage") == first  # unchanged files: nothing rewritten
    statuses = con.execute("SELECT count(*) FROM audit.ingest_runs").fetchall()[0][0]
    con.close()
    assert statuses == 3

    forced = materialize_range(
        [usage_records],
        res,
        days[0],
        days[-1],
        run_config={**QUIET, "ops": {"usage_records": {"config": {"force": True}}}},
    )
    assert forced.success
    con = connect(res["warehouse"].path)
    assert table_checksum(con, "clean.usage", BUSINESS_COLUMNS) == first_business  # reload: same rows
    con.close()

    before = _partition_checksums(res["warehouse"].path, days)
    target = landing / "usage" / f"date={days[1]}" / f"usage_{days[1]}.csv"
    lines = target.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 2)[0] + ",999999,1.0"
    target.write_text("\n".join(lines) + "\n")
    assert materialize_range([usage_records], res, days[0], days[-1]).success
    after = _partition_checksums(res["warehouse"].path, days)
    assert after[days[0]] == before[days[0]] and after[days[2]] == before[days[2]]
    assert after[days[1]] != before[days[1]]


def test_missing_day_fails_with_a_message_naming_it(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    _copy_days(sample_landing, landing, ["2022-02-01", "2022-02-03"])
    result = materialize_range(
        [usage_records], make_resources(landing, tmp_path), "2022-02-01", "2022-02-03", raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.to_string()
    assert "2022-02-02" in message and "missing day is not an empty day" in message


def test_quarantine_share_check_fails_and_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REVCAST_QUARANTINE_THRESHOLD", "0.01")
    day = "2022-02-01"
    folder = tmp_path / "landing" / "usage" / f"date={day}"
    folder.mkdir(parents=True)
    rows = [f"{day},C{i},{i},1.0" for i in range(50)] + [f"{day},C98,-1,1.0", f"{day},C99,-2,1.0"]
    (folder / "bad.csv").write_text(
        "date,customer_id,#api_calls(Product_1),storage_capacity_used(Product_2)\n" + "\n".join(rows) + "\n"
    )
    result = dg.materialize(
        [usage_records],
        resources=make_resources(tmp_path / "landing", tmp_path),
        partition_key=day,
        run_config=QUIET,
        raise_on_error=False,
    )
    assert not result.success
    check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "usage_quarantine_share")
    assert not check.passed
    assert "bad.csv" in check.description and "negative #api_calls" in check.description
    assert check.metadata["lines_quarantined"].value == 2  # the budget is ceil(1% of 52) = 1 line


def _dagster_materialize(landing, workdir, partition: str, **env) -> subprocess.CompletedProcess:
    """`dagster asset materialize` for one usage partition in a subprocess, against a temp warehouse."""
    environment = {
        **os.environ,
        "REVCAST_LANDING": str(landing),
        "REVCAST_WAREHOUSE": str(workdir / "cli.duckdb"),
        "DAGSTER_HOME": str(workdir),
        **env,
    }
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    command = ["asset", "materialize", "-m", "pipelines.definitions", "--select", "usage_records"]
    return subprocess.run(
        [dagster, *command, "--partition", partition],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_cli_materializes_one_partition(sample_landing, tmp_path):
    done = _dagster_materialize(sample_landing, tmp_path, "2022-03-01", REVCAST_START_DATE="2022-01-01")
    assert done.returncode == 0, done.stderr[-2000:]
    con = connect(tmp_path / "cli.duckdb", read_only=True)
    days = con.execute("SELECT DISTINCT usage_date::VARCHAR FROM clean.usage").fetchall()
    con.close()
    assert days == [("2022-03-01",)]


def test_cli_reports_a_missing_day(sample_landing, tmp_path):
    missing = "2021-12-31"  # inside the partitions (default start 2021-01-01), before the sample's first day
    done = _dagster_materialize(sample_landing, tmp_path, missing)
    assert done.returncode != 0
    assert missing in (done.stdout + done.stderr) and "missing day is not an empty day" in (
        done.stdout + done.stderr
    )
