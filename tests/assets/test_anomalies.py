"""Day-level anomalies: the generator's Christmas-New-Year dip is found in the sample, ordinary days stay
quiet, and a partial export and a surge landed by hand are flagged by usage_anomalies (a warning) and
recorded in audit.anomalies."""

import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb

from assets.usage.ingest import usage_records
from revcast.anomalies import find_anomalies
from tests.conftest import make_resources, materialize_range


def _holiday(day: date) -> bool:
    """The generator's year-end dip (revcast.generate.usage.yearly_factor): 22 Dec to 2 Jan."""
    return (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 2)


# account-days whose API calls are over 4x the account's own same-weekday median (the generator's spikes,
# revcast.generate.usage.simulate_usage), with the excess as a share of the day's usual total
SPIKES_SQL = """
WITH a AS (SELECT account_id, usage_date AS d, quantity AS q FROM clean.usage WHERE metric = 'api_calls'),
weeks AS (SELECT 7 * range AS back FROM range(1, 9)),
own AS (SELECT a.account_id, a.d, a.q, median(b.q) AS m FROM a, weeks JOIN a b
        ON b.account_id = a.account_id AND b.d = a.d - weeks.back::INT GROUP BY ALL),
total AS (SELECT d, sum(q) AS tot FROM a GROUP BY d),
usual AS (SELECT t.d, median(u.tot) AS mt FROM total t, weeks JOIN total u ON u.d = t.d - weeks.back::INT
          GROUP BY ALL)
SELECT own.d, (own.q - own.m) / usual.mt AS share FROM own JOIN usual USING (d)
WHERE own.q > 4 * own.m AND own.m > 0 AND own.d >= DATE '2022-03-01'
"""


def test_the_generated_outliers_are_found_and_ordinary_days_stay_quiet(usage_warehouse):
    """The year-end dip and the per-account spikes that move a day's total by half or more are flagged;
    other flags (level shifts as accounts churn, big accounts' lines in quarantine) stay under 3%."""
    days = [
        date(2022, 3, 1) + timedelta(days=i) for i in range((date(2023, 12, 31) - date(2022, 3, 1)).days + 1)
    ]
    with duckdb.connect(str(usage_warehouse), read_only=True) as con:
        report = find_anomalies(con, "usage", days, threshold=5.0, weeks=8)
        spikes = con.execute(SPIKES_SQL).df()
    judged = report.judged.dropna(subset=["median"])
    flagged = report.flagged
    api = flagged[flagged["measure"] == "total api_calls"].set_index("ds")["robust_z"]

    dips = api[[_holiday(d) for d in api.index]]
    assert len(dips) >= 4 and (dips < -5).all(), dips
    assert {d.year for d in dips.index} == {2022, 2023}  # both year ends

    big = sorted(spikes.loc[spikes["share"] >= 0.5, "d"].dt.date)
    assert big, "the sample has spikes that move a day's total"
    assert all(api.get(d, 0) > 5 for d in big), (big, api)

    assert len(flagged) <= 0.03 * len(judged), flagged


def _scale_api_calls(path, factor):
    lines = path.read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        if fields[2].isdigit():
            fields[2] = str(int(fields[2]) * factor)
        out.append(",".join(fields))
    path.write_text("\n".join(out) + "\n")


def test_a_partial_export_and_a_surge_are_flagged_and_recorded(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    first = date(2023, 3, 1)
    days = [(first + timedelta(days=i)).isoformat() for i in range(70)]
    for day in days:
        shutil.copytree(sample_landing / "usage" / f"date={day}", landing / "usage" / f"date={day}")
    partial, surge = days[63], days[66]  # Wednesday and Saturday of the tenth week
    partial_file = landing / "usage" / f"date={partial}" / f"usage_{partial}.csv"
    lines = partial_file.read_text().splitlines()
    partial_file.write_text("\n".join(lines[: len(lines) * 2 // 5]) + "\n")  # the export stopped at 40%
    _scale_api_calls(landing / "usage" / f"date={surge}" / f"usage_{surge}.csv", 10)

    result = materialize_range([usage_records], make_resources(landing, tmp_path), days[0], days[-1])
    assert result.success  # a warning does not stop the run
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "usage_anomalies"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["days_flagged"].value == 2
    assert partial in check.description and surge in check.description

    with duckdb.connect(str(tmp_path / "revcast.duckdb"), read_only=True) as con:
        recorded = con.execute(
            "SELECT ds::VARCHAR, measure, sign(robust_z), value, median, history_days FROM audit.anomalies "
            "ORDER BY ds, measure"
        ).fetchall()
    found = {(r[0], r[1], r[2]) for r in recorded} - {
        (partial, "total storage_gb", -1)
    }  # depends on who is cut
    assert found == {(partial, "lines", -1), (partial, "total api_calls", -1), (surge, "total api_calls", 1)}
    assert all(r[5] == 8 for r in recorded)  # eight previous same weekdays
