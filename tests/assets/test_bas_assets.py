"""BAS assets end to end on the sample landing zone: ingest, organisation card, marts and the data story."""

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from assets import bas
from assets.bas.automation import bas_orgcard_sensor
from assets.bas.ingest import fullbas_runs, organisations, simplebas_runs
from assets.bas.report import QUESTIONS, report_path
from revcast.bas import DEFAULT_AVOID_DAYS
from revcast.bas.key_points import DEFAULT_SMALL_PLAN_SHARE
from tests.conftest import QUIET, make_resources, materialize_range

START, END = "2022-01-01", "2022-09-30"
MARTS = [a for a in bas.defs.assets if a not in (fullbas_runs, simplebas_runs, organisations)]


@pytest.fixture(scope="module")
def bas_warehouse(sample_landing, tmp_path_factory) -> tuple[dict, dict]:
    """Organisation card, nine months of runs, then every mart and the report; returns resources and results."""
    resources = make_resources(sample_landing, tmp_path_factory.mktemp("bas_wh"))
    results = {
        "organisations": dg.materialize([organisations], resources=resources, run_config=QUIET),
        "ingest": materialize_range([fullbas_runs, simplebas_runs], resources, START, END),
        "marts": dg.materialize(MARTS, resources=resources, run_config=QUIET),
    }
    assert all(r.success for r in results.values())
    return resources, results


def query(resources: dict, sql: str, params=None) -> pd.DataFrame:
    with duckdb.connect(resources["warehouse"].path, read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, params or []).df()


def raw_runs(landing: Path, system: str) -> pd.DataFrame:
    """The sample's raw export lines for the test range, read with pandas."""
    files = [
        landing / f"bas/{system}/date={d:%Y-%m-%d}/{system}_{d:%Y-%m-%d}.csv"
        for d in pd.date_range(START, END)
    ]
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)


def expected_points(landing: Path) -> dict:
    """The five data points computed independently with pandas from the raw CSVs."""
    card = pd.read_csv(landing / "bas/orgcard.csv", dtype=str, keep_default_na=False)
    card["org"] = card["organisationid"].str.lower()
    scope = card.loc[card["organisationstatus"].eq("Active") & card["payingflag"].eq("1")]
    full = raw_runs(landing, "fullbas").drop_duplicates()
    full["utc"] = pd.to_datetime(
        full["datestring"] + " " + full["timestring"], format="%Y-%m-%d %H:%M:%S.%fZ", errors="coerce"
    )
    full = full.loc[full["utc"].notna() & (full["runtime"].astype(float) >= 0)]
    full = full.assign(org=full["orgid"].str.lower()).loc[lambda f: f["org"].isin(scope["org"])]
    simple = raw_runs(landing, "simplebas").drop_duplicates()
    simple["utc"] = pd.to_datetime(simple["datetime"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    simple = simple.loc[simple["utc"].notna() & simple["shortcode"].isin(scope["shortcode"])]
    simple["org"] = simple["shortcode"].map(scope.set_index("shortcode")["org"])
    both = pd.concat([full[["userid", "org", "utc"]], simple[["userid", "org", "utc"]]])
    months = (
        both["utc"]
        .dt.tz_localize("UTC")
        .dt.tz_convert("Australia/Sydney")
        .dt.strftime("%Y-%m")
        .value_counts()
    )
    months = months.sort_index()
    plans = scope.set_index("org").loc[both["org"].unique(), "productoption"].value_counts()
    return {
        "busiest_month": (months.idxmax(), int(months.max())),
        "orgs_ran_both": len(set(full["org"]) & set(simple["org"])),
        "users_either": both["userid"].str.lower().nunique(),
        "users_multi_org": int((both.groupby("userid")["org"].nunique() > 1).sum()),
        "plans": plans,
        "runs": (len(full), len(simple)),
    }


def test_key_data_points_match_independent_pandas(bas_warehouse, sample_landing) -> None:
    resources, _ = bas_warehouse
    expected = expected_points(sample_landing)
    points = query(resources, "SELECT * FROM marts.bas_key_data_points").set_index(["data_point", "system"])
    combined = points.loc[("busiest_month", "combined")]
    assert (combined["label"], int(combined["value"])) == expected["busiest_month"]
    for name in ("orgs_ran_both", "users_either", "users_multi_org"):
        assert int(points.loc[(name, "both"), "value"]) == expected[name], name
    plans = query(resources, "SELECT * FROM marts.bas_popular_plans")
    big = expected["plans"][expected["plans"] / expected["plans"].sum() >= DEFAULT_SMALL_PLAN_SHARE]
    assert plans["orgs"].sum() == expected["plans"].sum()
    named = plans.loc[plans["product_option"].ne("Other")].set_index("product_option")["orgs"]
    assert named.to_dict() == big.to_dict()
    assert plans["product_option"].iloc[0] == expected["plans"].idxmax()
    in_scope = query(resources, "SELECT system, count(*) AS n FROM marts.bas_runs GROUP BY system").set_index(
        "system"
    )
    assert (in_scope.loc["fullbas", "n"], in_scope.loc["simplebas", "n"]) == expected["runs"]


def test_ingest_quarantines_the_injected_rows_and_flags_unknown_orgs(bas_warehouse, sample_landing) -> None:
    resources, results = bas_warehouse
    checks = {e.check_name: e for e in results["ingest"].get_asset_check_evaluations()}
    assert checks["fullbas_runs_expectations"].passed and checks["simplebas_runs_quarantine_share"].passed
    unknown = checks["fullbas_runs_unknown_orgs"]
    assert not unknown.passed and unknown.severity == dg.AssetCheckSeverity.WARN
    flagged = query(resources, "SELECT count(*) AS n FROM clean.fullbas_runs WHERE NOT org_known")["n"].iloc[
        0
    ]
    assert unknown.metadata["unknown_org_runs"].value == flagged > 0  # kept in the clean table, flagged
    quarantined = query(
        resources, "SELECT partition_key, count(*) AS n FROM quarantine.fullbas_runs GROUP BY 1"
    )
    raw = raw_runs(sample_landing, "fullbas")
    audit = query(
        resources,
        "SELECT sum(lines_read) AS r, sum(lines_clean) AS c FROM audit.ingest_runs WHERE source = 'fullbas'",
    )
    clean = query(resources, "SELECT count(*) AS n FROM clean.fullbas_runs")["n"].iloc[0]
    assert audit["r"].iloc[0] == len(raw) == clean + quarantined["n"].sum()
    assert audit["c"].iloc[0] == clean


def test_outage_windows_five_per_system_off_deadline_days(bas_warehouse) -> None:
    resources, _ = bas_warehouse
    windows = query(resources, "SELECT * FROM marts.bas_outage_windows ORDER BY system, rank")
    assert windows.groupby("system").size().to_dict() == {"fullbas": 5, "simplebas": 5}
    assert not windows["day_of_month"].isin(DEFAULT_AVOID_DAYS).any()
    wraps_into = windows["wraps_midnight"] & (windows["day_of_month"] % 31 + 1).isin(DEFAULT_AVOID_DAYS)
    assert not wraps_into.any()
    assert (
        windows.groupby("system")["expected_runs"].diff().dropna() >= 0
    ).all()  # ranked, fewest runs first


def test_marts_exist_with_their_checks_passing(bas_warehouse) -> None:
    resources, results = bas_warehouse
    checks = results["marts"].get_asset_check_evaluations()
    assert len(checks) >= 9 and all(c.passed for c in checks)
    forecast = query(resources, "SELECT * FROM marts.bas_capacity_forecast")
    assert set(forecast["quantity"]) == {"daily_load", "peak_hour_load"} and len(forecast) == 2 * 2 * 92
    scope = query(resources, "SELECT * FROM marts.bas_scope_report")
    assert 0 < scope.loc[~scope["in_scope"], "share"].sum() < 2


def test_report_html_answers_each_question(bas_warehouse) -> None:
    resources, results = bas_warehouse
    page = report_path(resources["warehouse"].path).read_text()
    for question in QUESTIONS:
        assert question in page
    assert page.count("data:image/png;base64,") >= 5
    report = results["marts"].asset_materializations_for_node("bas_report")[0]
    assert report.metadata["runs_by_hour"].value.startswith("![runs_by_hour](data:image/png;base64,")


def test_orgcard_sensor_and_refresh_relink_loaded_runs(sample_landing, tmp_path) -> None:
    landing = tmp_path / "landing"
    for path in ["bas/orgcard.csv", "bas/fullbas/date=2022-02-25", "bas/simplebas/date=2022-02-25"]:
        copy = shutil.copytree if (sample_landing / path).is_dir() else shutil.copy
        (landing / path).parent.mkdir(parents=True, exist_ok=True)
        copy(sample_landing / path, landing / path)
    resources = make_resources(landing, tmp_path)
    context = dg.build_sensor_context(resources={"landing": resources["landing"]})
    first = bas_orgcard_sensor(context)
    assert len(first.run_requests) == 1
    assert not bas_orgcard_sensor(
        dg.build_sensor_context(cursor=first.cursor, resources={"landing": resources["landing"]})
    ).run_requests

    assert dg.materialize([organisations], resources=resources, run_config=QUIET).success
    assert materialize_range([fullbas_runs, simplebas_runs], resources, "2022-02-25", "2022-02-25").success
    known = query(resources, "SELECT org_id FROM clean.fullbas_runs WHERE org_known LIMIT 1")["org_id"].iloc[
        0
    ]
    card = (landing / "bas/orgcard.csv").read_text().splitlines()
    (landing / "bas/orgcard.csv").write_text(
        "\n".join(line for line in card if not line.lower().lstrip('"').startswith(known))
        + "\n"  # ids quoted
    )
    changed = bas_orgcard_sensor(
        dg.build_sensor_context(cursor=first.cursor, resources={"landing": resources["landing"]})
    )
    assert len(changed.run_requests) == 1 and changed.cursor != first.cursor
    assert dg.materialize([organisations], resources=resources, run_config=QUIET).success
    flags = query(resources, "SELECT DISTINCT org_known FROM clean.fullbas_runs WHERE org_id = ?", [known])
    assert flags["org_known"].tolist() == [False]
