"""The subscriptions group end to end on the small sample: ingest, plan, installs tournament, revenue plan, report."""

import dagster as dg
import duckdb
import pytest

from assets import subscriptions
from assets.subscriptions.checks import plan_checks
from tests.conftest import QUIET

CUTOFF = "2023-09"  # trained through 2023-09-30, plans 2023-10-01..2024-01-31
RUN_CONFIG = QUIET | {
    "ops": {"subscription_installs_models": {"config": {"models": ["prophet", "auto_ets"], "n_windows": 2}}}
}


@pytest.fixture(scope="module")
def planned(sample_landing, tmp_path_factory):
    """A warehouse with the whole group materialized for one cutoff (module-scoped: one Prophet tournament)."""
    from tests.conftest import make_resources

    workdir = tmp_path_factory.mktemp("subscriptions_wh")
    resources = make_resources(sample_landing, workdir)
    assets = list(subscriptions.defs.assets)
    ingest = [a for a in assets if a.partitions_def is None]
    first = dg.materialize(ingest, resources=resources, run_config=QUIET)
    assert first.success
    result = dg.materialize(
        assets,
        selection=[a for a in assets if a.partitions_def is not None],
        resources=resources,
        partition_key=CUTOFF,
        run_config=RUN_CONFIG,
    )
    assert result.success
    return workdir, resources, first, result


def test_ingest_accounts_for_every_line_and_skips_an_unchanged_file(planned):
    workdir, resources, first, _ = planned
    con = duckdb.connect(str(workdir / "revcast.duckdb"), read_only=True)
    audit = con.execute(
        "SELECT source, lines_read, lines_clean, lines_quarantined, rows_written FROM audit.ingest_runs "
        "WHERE source LIKE 'subscription_%' ORDER BY source"
    ).fetchall()
    installs = con.execute(
        "SELECT count(*), count(DISTINCT platform) FROM clean.subscription_installs"
    ).fetchone()
    con.close()
    assert [a[0] for a in audit] == ["subscription_installs", "subscription_purchases"]
    for _, read, clean, bad, _ in audit:
        assert read == clean + bad and read > 0
    assert audit[0][4] == installs[0] == 3 * audit[0][2] and installs[1] == 3
    again = dg.materialize(
        [subscriptions.defs.get_assets_def("subscription_installs")], resources=resources, run_config=QUIET
    )
    meta = again.asset_materializations_for_node("subscription_installs")[0].metadata
    assert meta["partitions_unchanged"].value == 1 and meta["partitions_loaded"].value == 0


def test_plan_checks_pass_and_fail_on_a_corrupted_row(planned, tmp_path):
    workdir, _, _, result = planned
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    con = duckdb.connect(str(workdir / "revcast.duckdb"), read_only=True)
    plan = con.execute(
        "SELECT platform, revenue_type, count(*) AS days, min(ds), max(ds), sum(revenue) "
        "FROM marts.subscription_revenue_plan WHERE cutoff = ? GROUP BY ALL ORDER BY ALL",
        [CUTOFF],
    ).fetchall()
    con.close()
    assert {(p, t) for p, t, *_ in plan} == {
        (p, t) for p in ("iOS", "Android", "all") for t in ("new", "recurrent", "total")
    }
    assert all(
        days == 123 and str(lo) == "2023-10-01" and str(hi) == "2024-01-31" for _, _, days, lo, hi, _ in plan
    )
    assert all(total > 0 for *_, total in plan)
    # a corrupted row: one platform's recurrent revenue changed on one day
    copy = tmp_path / "corrupt.duckdb"
    copy.write_bytes((workdir / "revcast.duckdb").read_bytes())
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE marts.subscription_revenue_plan SET revenue = revenue + 100 WHERE cutoff = ? "
        "AND ds = DATE '2023-11-15' AND platform = 'Android' AND revenue_type = 'recurrent'",
        [CUTOFF],
    )
    failed = {r.check_name: r.passed for r in plan_checks(con, CUTOFF)}
    con.close()
    assert failed == {
        "subscription_plan_total_is_new_plus_recurrent": False,
        "subscription_plan_platforms_sum_to_grand_total": False,
        "subscription_plan_no_negative_revenue": True,
    }


def test_installs_forecast_and_report(planned):
    workdir, _, _, result = planned
    con = duckdb.connect(str(workdir / "revcast.duckdb"), read_only=True)
    fc = con.execute(
        "SELECT platform, count(*), min(ds), max(ds) FROM forecasts.subscription_installs_forecasts "
        "WHERE cutoff = ? GROUP BY platform ORDER BY platform",
        [CUTOFF],
    ).fetchall()
    models = con.execute(
        "SELECT DISTINCT model FROM models.scores WHERE domain = 'subscription_installs' AND cutoff = ?",
        [CUTOFF],
    ).fetchall()
    sources = dict(
        con.execute(
            "SELECT ratio_source, count(*) FROM marts.subscription_retention WHERE cutoff = ? GROUP BY ALL",
            [CUTOFF],
        ).fetchall()
    )
    con.close()
    assert [f[0] for f in fc] == ["Android", "Web", "iOS"]
    assert all(n == 123 and str(lo) == "2023-10-01" and str(hi) == "2024-01-31" for _, n, lo, hi in fc)
    assert {m for (m,) in models} == {"prophet", "auto_ets", "seasonal_naive"}
    assert sources["observed"] > 0 and sources["fallback"] > 0
    page = (workdir / "reports" / f"subscription_revenue_plan_{CUTOFF}.html").read_text()
    assert "Monthly plan" in page and "Retention curves" in page and "data:image/png" in page
