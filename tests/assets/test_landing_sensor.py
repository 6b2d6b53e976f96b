"""landing_sensor: one single-run backfill per asset and range of days whose content changed, no flood, no
repeats; files still being written wait; a changed day reloads exactly that day, end to end."""

import os
import re
import shutil

import dagster as dg
import duckdb

from assets.usage.features import usage_daily_totals
from assets.usage.ingest import usage_records
from pipelines.automation import landing_sensor
from resources import LandingZoneResource
from revcast.landing import SUCCESS_MARKER
from tests.conftest import make_resources, materialize_range

DAYS = ["2022-02-01", "2022-02-02", "2022-02-03", "2022-02-05"]


def _evaluate(instance, landing, cursor=None, settle_seconds=0):
    resource = LandingZoneResource(root=str(landing), settle_seconds=settle_seconds)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": resource})
    result = landing_sensor(context)
    return result.run_requests, result.cursor


def _usage_file(landing, day):
    return landing / "usage" / f"date={day}" / f"usage_{day}.csv"


def _edit_one_quantity(path):
    """Change one digit of one api_calls value: same size; the file's times are put back as they were."""
    stat = path.stat()
    lines = path.read_bytes().split(b"\n")
    for i, line in enumerate(lines[1:], start=1):
        fields = line.split(b",")
        digits = list(re.finditer(rb"\d", fields[2])) if len(fields) > 2 else []
        if digits:
            at = digits[-1].start()
            new_digit = b"%d" % ((int(fields[2][at : at + 1]) + 1) % 10)
            fields[2] = fields[2][:at] + new_digit + fields[2][at + 1 :]
            lines[i] = b",".join(fields)
            break
    path.write_bytes(b"\n".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def _ranges(requests):
    return sorted(
        ("+".join(k.to_user_string() for k in r.asset_selection), r.tags["dagster/asset_partition_range_start"],
         r.tags["dagster/asset_partition_range_end"])
        for r in requests
    )  # fmt: skip


def test_sensor_requests_ranges_then_only_changes(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()

    requests, cursor = _evaluate(instance, landing)
    assert _ranges(requests) == [
        ("usage_records+usage_daily_totals", "2022-02-01", "2022-02-03"),
        ("usage_records+usage_daily_totals", "2022-02-05", "2022-02-05"),
    ]
    assert _evaluate(instance, landing, cursor)[0] == []  # nothing changed since the last look

    touched = _usage_file(landing, DAYS[0])
    os.utime(touched, (touched.stat().st_atime + 5, touched.stat().st_mtime + 5))
    requests, cursor = _evaluate(instance, landing, cursor)
    assert requests == []  # new times, same bytes: nothing to reload

    _edit_one_quantity(_usage_file(landing, DAYS[1]))  # same size, same modification time, new content
    requests, cursor = _evaluate(instance, landing, cursor)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[1], DAYS[1])]
    assert _evaluate(instance, landing, cursor)[0] == []


def test_a_day_still_being_written_waits_unless_marked_complete(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS[:2]:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()
    requests, cursor = _evaluate(instance, landing, settle_seconds=3600)
    assert requests == []  # just written: within the quiet period
    (landing / "usage" / f"date={DAYS[1]}" / SUCCESS_MARKER).touch()  # the producer says this day is complete
    requests, cursor = _evaluate(instance, landing, cursor, settle_seconds=3600)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[1], DAYS[1])]
    requests, _ = _evaluate(instance, landing, cursor, settle_seconds=0)  # quiet long enough
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[0], DAYS[0])]


def test_first_look_skips_days_already_materialized(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    for day in DAYS[:3]:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()
    res = make_resources(landing, tmp_path)
    assert materialize_range([usage_records], res, DAYS[0], DAYS[1], instance=instance).success
    requests, _ = _evaluate(instance, landing)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[2], DAYS[2])]


def test_a_fixed_day_reloads_only_that_day_end_to_end(sample_landing, tmp_path):
    """Load four days; fix one day's file; the sensor requests that day alone; after its run only that
    day's clean rows changed, the daily totals reconcile with clean.usage, and the audit has both loads."""
    landing = tmp_path / "landing"
    for day in DAYS[:3]:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    instance = dg.DagsterInstance.ephemeral()
    res = make_resources(landing, tmp_path)
    assets = [usage_records, usage_daily_totals]
    assert materialize_range(assets, res, DAYS[0], DAYS[2], instance=instance).success
    requests, cursor = _evaluate(instance, landing)
    assert requests == []  # first look: everything is loaded already

    def per_day(con):
        rows = con.execute(
            "SELECT usage_date::VARCHAR, count(*), sum(hash(account_id, metric, quantity, unit, source_file, "
            "ingested_at)) FROM clean.usage GROUP BY ALL"
        ).fetchall()
        return {day: (n, digest) for day, n, digest in rows}

    warehouse = str(tmp_path / "revcast.duckdb")
    with duckdb.connect(warehouse, read_only=True) as con:
        before = per_day(con)

    _edit_one_quantity(_usage_file(landing, DAYS[1]))
    requests, cursor = _evaluate(instance, landing, cursor)
    assert _ranges(requests) == [("usage_records+usage_daily_totals", DAYS[1], DAYS[1])]
    request = requests[0]
    result = dg.materialize(assets, resources=res, tags=request.tags, instance=instance)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())

    with duckdb.connect(warehouse, read_only=True) as con:
        after = per_day(con)
        mismatches = con.execute(
            """
            SELECT t.metric, t.ds FROM features.usage_daily_totals t
            LEFT JOIN (SELECT metric, usage_date AS ds, sum(quantity) AS quantity FROM clean.usage GROUP BY ALL) c
              USING (metric, ds)
            WHERE t.observed AND abs(t.quantity - coalesce(c.quantity, 0)) > 1e-6
            """
        ).fetchall()
        loads = con.execute(
            "SELECT partition_key, count(*), count(DISTINCT fingerprint) FROM audit.ingest_runs "
            "WHERE source = 'usage' AND status = 'loaded' GROUP BY ALL ORDER BY 1"
        ).fetchall()
    assert {d: after[d] for d in (DAYS[0], DAYS[2])} == {d: before[d] for d in (DAYS[0], DAYS[2])}
    assert after[DAYS[1]] != before[DAYS[1]] and after[DAYS[1]][0] == before[DAYS[1]][0]
    assert mismatches == []
    assert loads == [(DAYS[0], 1, 1), (DAYS[1], 2, 2), (DAYS[2], 1, 1)]
