"""The revenue group on the small sample: every stream's upstream for one cutoff (baseline models only), then the
conformed mart, its reconciliation checks, the Parquet exports and the dashboard."""

import re
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pyarrow.dataset as pads
import pytest

from assets import billing, invoices, revenue, subscriptions, usage
from assets.revenue.assets import dashboard_path
from resources import DaskResource, default_resources
from revcast.revenue import exports_dir, reconciliation
from revcast.revenue.exports import mart_tables
from revcast.warehouse import connect
from tests.conftest import QUIET, SAMPLE_END, SAMPLE_START, make_resources, materialize_range

CUTOFF = "2023-11"
H = 28
UPSTREAM_CONFIG = QUIET | {
    "ops": {
        "usage_models": {"config": {"horizon": H, "n_windows": 2, "models": ["seasonal_naive"]}},
        "usage_forecasts": {"config": {"horizon": H}},
        "account_forecasts": {"config": {"forecast_size": 14, "arima_sample": 0}},
        "invoice_revenue_models": {
            "config": {"n_windows": 2, "countries": 3, "models": ["previous_30_days"]}
        },
        "subscription_installs_models": {"config": {"models": ["seasonal_naive"], "n_windows": 1}},
    }
}
UPSTREAM = [
    "usage_models",
    "usage_forecasts",
    "usage_revenue",
    "account_forecasts",
    "pricing_scenarios",
    "invoice_revenue_models",
    "invoice_revenue_forecasts",
    "subscription_installs_models",
    "subscription_installs_forecasts",
    "subscription_retention",
    "subscription_new_revenue",
    "subscription_recurrent_revenue",
    "subscription_revenue_plan",
]
REVENUE_ASSETS = list(revenue.defs.assets)
CHECKS = list(revenue.defs.asset_checks)


def _all_assets() -> list:
    return [a for g in (usage, invoices, subscriptions, billing, revenue) for a in g.defs.assets]


@pytest.fixture(scope="module")
def built(usage_features_warehouse, sample_landing, tmp_path_factory):
    """One warehouse with every stream's marts for CUTOFF, then the revenue group materialized."""
    workdir = tmp_path_factory.mktemp("revenue_wh")
    shutil.copy(usage_features_warehouse, workdir / "revcast.duckdb")
    resources = make_resources(sample_landing, workdir) | {"dask": DaskResource()}
    everything = _all_assets()
    by_name = {a.key.to_user_string(): a for a in everything}
    months = (SAMPLE_START.strftime("%Y-%m"), SAMPLE_END.strftime("%Y-%m"))
    assert materialize_range([by_name["invoice_records"]], resources, *months).success
    snapshots = ["invoice_daily_revenue", "invoice_features", "subscription_installs", "subscription_purchases",
                 "subscription_plan"]  # fmt: skip
    assert dg.materialize([by_name[n] for n in snapshots], resources=resources, run_config=QUIET).success
    up = dg.materialize(
        everything,
        selection=[by_name[n].key for n in UPSTREAM],
        resources=resources,
        partition_key=CUTOFF,
        run_config=UPSTREAM_CONFIG,
    )
    assert up.success
    result = dg.materialize(
        [*REVENUE_ASSETS, *CHECKS], resources=resources, partition_key=CUTOFF, run_config=QUIET
    )
    return workdir, resources, result


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_group_loads_with_only_the_resources():
    dg.Definitions.validate_loadable(
        dg.Definitions.merge(revenue.defs, dg.Definitions(resources=default_resources()))
    )
    for asset in revenue.defs.assets:
        (spec,) = asset.specs
        assert (
            spec.group_name == "revenue" and spec.owners and spec.kinds and (spec.description or "").strip()
        )


def test_mart_holds_every_stream_and_reconciles(built):
    workdir, resources, result = built
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {
        e.metadata["cutoffs"].value for e in evaluations if e.check_name.startswith("revenue_reconciles")
    } == {CUTOFF}
    assert _checks(result) == {
        "revenue_reconciles_usage": True,
        "revenue_reconciles_billing": True,
        "revenue_reconciles_invoices": True,
        "revenue_reconciles_subscriptions": True,
        "revenue_exports_complete": True,
        "revenue_dashboard_complete": True,
    }
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        schema = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'marts' AND table_name = 'revenue' ORDER BY ordinal_position"
        ).fetchall()
        per_stream = dict(
            con.execute(
                "SELECT stream || '/' || grain, count(*) FROM marts.revenue WHERE cutoff = ? GROUP BY ALL",
                [CUTOFF],
            ).fetchall()
        )
        keys_unique = con.execute(
            "SELECT count(*) = count(DISTINCT (grain, date, stream, entity, currency)) FROM marts.revenue"
        ).fetchall()[0][0]
        runs = con.execute("SELECT DISTINCT run_id FROM marts.revenue").fetchall()
        # usage: the monthly total of the last actual month, to the cent, as the usage mart has it
        usage_nov = con.execute(
            "SELECT actual FROM marts.revenue WHERE cutoff = ? AND stream = 'usage' AND grain = 'month' "
            "AND entity = 'all' AND date = DATE '2023-11-01'",
            [CUTOFF],
        ).fetchall()[0][0]
        usage_src = con.execute(
            "SELECT CAST(revenue AS DECIMAL(18,2)) FROM marts.usage_revenue_monthly WHERE cutoff = ? "
            "AND metric = 'total' AND kind = 'actual' AND month = DATE '2023-11-01'",
            [CUTOFF],
        ).fetchall()[0][0]
        # billing: the production bills of the cutoff's forecast usage, summed over accounts
        billing_dec = con.execute(
            "SELECT forecast FROM marts.revenue WHERE cutoff = ? AND stream = 'billing' AND entity = 'all' "
            "AND date = DATE '2023-12-01'",
            [CUTOFF],
        ).fetchall()[0][0]
        bills = con.execute(
            "SELECT sum(CAST(charge AS DECIMAL(18,2))) FROM billing.bills WHERE run = 'scenarios/2023-11' "
            "AND target = 'production' AND time_from = DATE '2023-12-01'"
        ).fetchall()[0][0]
        # invoices: the 30-day forecast on the month after the cutoff, a month's actual = its days in cents
        inv = con.execute(
            "SELECT forecast, lo_95, hi_95, model_id FROM marts.revenue WHERE cutoff = ? AND stream = 'invoices' "
            "AND grain = 'month' AND entity = 'all' AND date = DATE '2023-12-01'",
            [CUTOFF],
        ).fetchall()[0]
        inv_src = con.execute(
            "SELECT revenue_30d, lo_95, hi_95, model_id FROM forecasts.invoice_revenue_forecasts "
            "WHERE cutoff = ? AND unique_id = 'all'",
            [CUTOFF],
        ).fetchall()[0]
        inv_month, inv_days = con.execute(
            "SELECT (SELECT actual FROM marts.revenue WHERE cutoff = $c AND stream = 'invoices' AND grain = 'month' "
            "        AND entity = 'all' AND date = DATE '2023-10-01'),"
            "       (SELECT sum(actual) FROM marts.revenue WHERE cutoff = $c AND stream = 'invoices' AND grain = 'day' "
            "        AND entity = 'all' AND date BETWEEN DATE '2023-10-01' AND DATE '2023-10-31')",
            {"c": CUTOFF},
        ).fetchall()[0]
        subs = con.execute(
            "SELECT sum(forecast) FROM marts.revenue WHERE cutoff = ? AND stream = 'subscriptions' AND grain = 'day' "
            "AND entity = 'all'",
            [CUTOFF],
        ).fetchall()[0][0]
        subs_src = con.execute(
            "SELECT sum(revenue) FROM marts.subscription_revenue_plan WHERE cutoff = ? AND platform = 'all' "
            "AND revenue_type = 'total'",
            [CUTOFF],
        ).fetchall()[0][0]
        no_actual = con.execute(
            "SELECT count(*) FROM marts.revenue WHERE stream IN ('billing', 'subscriptions') AND actual IS NOT NULL"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert schema == [
        ("cutoff", "VARCHAR"), ("grain", "VARCHAR"), ("date", "DATE"), ("stream", "VARCHAR"), ("entity", "VARCHAR"),
        ("currency", "VARCHAR"), ("actual", "DECIMAL(18,2)"), ("forecast", "DOUBLE"), ("lo_80", "DOUBLE"),
        ("hi_80", "DOUBLE"), ("lo_95", "DOUBLE"), ("hi_95", "DOUBLE"), ("model_id", "VARCHAR"), ("run_id", "VARCHAR"),
    ]  # fmt: skip
    assert set(per_stream) == {"usage/day", "usage/month", "billing/month", "invoices/day", "invoices/month",
                               "subscriptions/day", "subscriptions/month"}  # fmt: skip
    assert keys_unique and runs == [(result.run_id,)]
    assert isinstance(usage_nov, Decimal) and usage_nov == usage_src > 0
    assert Decimal(str(round(billing_dec, 2))) == bills > 0
    assert inv == inv_src and inv[1] <= inv[0] <= inv[2] and inv[3].startswith("invoices/previous_30_days/")
    assert inv_month == inv_days > 0
    assert subs == pytest.approx(subs_src) and subs > 0
    assert no_actual == 0


def test_rerun_replaces_the_cutoff_and_a_tampered_row_fails_its_stream_check(built, tmp_path):
    workdir, resources, _ = built
    wh = tmp_path / "revcast.duckdb"
    shutil.copy(resources["warehouse"].path, wh)
    res = resources | {"warehouse": type(resources["warehouse"])(path=str(wh))}
    con = connect(wh, read_only=True)
    before = con.execute("SELECT count(*) FROM marts.revenue").fetchall()[0][0]
    con.close()
    again = dg.materialize(
        [REVENUE_ASSETS[0], *CHECKS], resources=res, partition_key=CUTOFF, run_config=QUIET
    )
    assert again.success and all(_checks(again).values())
    con = connect(wh)
    try:
        after, runs = con.execute("SELECT count(*), count(DISTINCT run_id) FROM marts.revenue").fetchall()[0]
        assert (after, runs) == (before, 1)
        # one usage day moved by a cent, one invoice forecast changed: those two streams fail, the others pass
        con.execute(
            "UPDATE marts.revenue SET actual = actual + 0.01 WHERE rowid = (SELECT min(rowid) FROM marts.revenue "
            "WHERE stream = 'usage' AND grain = 'day' AND actual IS NOT NULL)"
        )
        con.execute(
            "UPDATE marts.revenue SET forecast = forecast * 1.5 WHERE stream = 'invoices' AND entity = 'all' "
            "AND forecast IS NOT NULL"
        )
        frame = reconciliation(con, CUTOFF)
    finally:
        con.close()
    bad = frame[~frame["matches"]][["stream", "grain"]].values.tolist()
    assert bad == [["usage", "day"], ["invoices", "month"]]
    gap = frame.set_index(["stream", "grain"]).loc[("usage", "day")]
    assert gap["mart_actual"] - gap["source_actual"] == Decimal("0.01")
    # the checks alone, on the finished table (as the UI's "Execute checks" runs them): every cutoff
    instance = dg.DagsterInstance.ephemeral()
    checked = dg.materialize(
        [REVENUE_ASSETS[0], *CHECKS],
        selection=dg.AssetSelection.checks(*CHECKS),
        instance=instance,
        resources=res,
        run_config=QUIET,
        raise_on_error=False,
    )
    assert _checks(checked) == {
        "revenue_reconciles_usage": False,
        "revenue_reconciles_billing": True,
        "revenue_reconciles_invoices": False,
        "revenue_reconciles_subscriptions": True,
    }
    (usage_eval,) = [
        e for e in checked.get_asset_check_evaluations() if e.check_name == "revenue_reconciles_usage"
    ]
    assert usage_eval.metadata["day_actual_gap"].value == pytest.approx(0.01)
    assert usage_eval.severity == dg.AssetCheckSeverity.ERROR
    assert usage_eval.metadata["cutoffs"].value == CUTOFF
    # the dashboard lists the failed checks, as the instance recorded them
    page = dg.materialize(
        [*REVENUE_ASSETS, *CHECKS],
        selection=[REVENUE_ASSETS[2].key],
        instance=instance,
        resources=res,
        run_config=QUIET,
    )
    assert page.success
    html = dashboard_path(str(wh)).read_text(encoding="utf-8")
    assert "<td data-measure='failed_checks' class='bad'>2</td>" in html
    failed = html.split("id='failed-checks'")[1].split("</table>")[0]
    assert "revenue_reconciles_usage" in failed and "revenue_reconciles_invoices" in failed
    assert "revenue_reconciles_billing" not in failed


def test_exports_have_every_mart_with_its_row_count(built):
    workdir, resources, result = built
    root = exports_dir(resources["warehouse"].path)
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        tables = mart_tables(con)
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
        months = {
            r[0] for r in con.execute("SELECT DISTINCT strftime(date, '%Y-%m') FROM marts.revenue").fetchall()
        }
    finally:
        con.close()
    assert "marts.revenue" in tables and counts["marts.revenue"] > 0
    for table, n in counts.items():
        folder = root / table.split(".", 1)[1]
        rows = pads.dataset(folder, format="parquet", partitioning="hive").count_rows() if n else 0
        assert folder.is_dir() and rows == n, table
    written = {p.name for p in (root / "revenue").iterdir()}
    assert written == {f"month={m}" for m in months}
    # the monthly usage mart's own month column is the partition key; its files still hold every other column
    usage = pads.dataset(root / "usage_revenue_monthly", format="parquet", partitioning="hive")
    assert "month" in usage.schema.names and "revenue" in usage.schema.names
    assert not list(root.parent.glob(".exports.*"))  # no staging or old export left behind
    meta = result.asset_materializations_for_node("revenue_exports")[0].metadata
    assert meta["tables"].value == len(tables) and meta["dagster/row_count"].value == sum(counts.values())


def test_export_crash_leaves_the_previous_export(built, tmp_path, monkeypatch):
    from revcast.revenue import exports

    workdir, resources, _ = built
    root = tmp_path / "exports"
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        first = exports.export_marts(con, root)
        before = sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))

        def crash(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(exports.pads, "write_dataset", crash)
        with pytest.raises(OSError, match="disk full"):
            exports.export_marts(con, root)
    finally:
        con.close()
    assert first and sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["exports"]


def test_dashboard_shows_streams_tournaments_and_quality(built):
    workdir, resources, result = built
    path = dashboard_path(resources["warehouse"].path)
    assert path == Path(workdir) / "reports" / "revenue_dashboard.html"
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    for section in ("total", "usage", "billing", "invoices", "subscriptions"):
        assert f"id='stream-{section}'" in page
    assert page.count("<svg") >= 5
    con = connect(resources["warehouse"].path, read_only=True)
    try:
        quarantined = dict(
            con.execute(
                "SELECT 'usage', count(*) FROM quarantine.usage UNION ALL SELECT 'invoices', count(*) FROM quarantine.invoices"
            ).fetchall()
        )
        total_q = sum(
            con.execute(f'SELECT count(*) FROM quarantine."{t}"').fetchall()[0][0]
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine'"
            ).fetchall()
        )
        anomalies = con.execute("SELECT count(*) FROM audit.anomalies").fetchall()[0][0]
        domains = [
            r[0] for r in con.execute("SELECT DISTINCT domain FROM models.scores ORDER BY 1").fetchall()
        ]
        champions = con.execute(
            "SELECT model, count(*) FROM models.scores WHERE domain = 'invoices' AND cutoff = ? AND is_champion "
            "GROUP BY model",
            [CUTOFF],
        ).fetchall()
        nov_total = con.execute(
            "SELECT sum(actual) FROM marts.revenue WHERE cutoff = ? AND grain = 'month' AND entity = 'all' "
            "AND date = DATE '2023-11-01' AND stream IN ('usage', 'invoices', 'subscriptions')",
            [CUTOFF],
        ).fetchall()[0][0]
    finally:
        con.close()
    assert quarantined["usage"] > 0 and quarantined["invoices"] > 0
    assert f"<td data-measure='quarantined'>{total_q}</td>" in page
    assert f"<td data-measure='anomalies'>{anomalies}</td>" in page
    for source, n in quarantined.items():
        assert re.search(rf"<td data-col='source'>{source}</td><td data-col='quarantined'>{n}</td>", page)
    assert {"usage", "invoices", "subscription_installs", "usage_accounts"} <= set(domains)
    for domain in domains:
        assert f"id='tournament-{domain}'" in page
    ((model, n),) = champions
    assert re.search(
        rf"id='tournament-invoices'>.*?<td data-col='model'>{model}</td><td data-col='series'>\d+</td>"
        rf"<td data-col='champions'>{n}</td>",
        page,
    )
    # the total row of the last actual month: usage + invoices actuals, to the cent
    assert f"{float(nov_total):,.2f}" in page.split("id='stream-total'")[1].split("</section>")[0]
    meta = result.asset_materializations_for_node("revenue_dashboard")[0].metadata
    assert meta["path"].value == str(path) and meta["url"].value == path.resolve().as_uri()
    assert (
        "Quarantined lines:" in meta["summary"].value
        and f"Quarantined lines: {total_q};" in meta["summary"].value
    )


def test_demo_stages_the_group_after_every_stream_and_prints_the_dashboard(built, monkeypatch, capsys):
    from pipelines.definitions import defs
    from pipelines.demo import _stages, print_summary

    stages = [(kind, [k.to_user_string() for k in keys]) for kind, keys in _stages(defs)]
    at = {name: i for i, (_, names) in enumerate(stages) for name in names}
    assert stages[at["revenue"]][0] == "cutoff"  # materialized for the latest cutoff
    assert stages[at["revenue_exports"]][0] == stages[at["revenue_dashboard"]][0] == "unpartitioned"
    for upstream in (
        "usage_revenue",
        "pricing_scenarios",
        "invoice_revenue_forecasts",
        "subscription_revenue_plan",
    ):
        assert at[upstream] <= at["revenue"] < at["revenue_exports"]
    assert at["revenue"] < at["revenue_dashboard"]
    workdir, resources, _ = built
    monkeypatch.setenv("REVCAST_WAREHOUSE", resources["warehouse"].path)
    print_summary()
    out = capsys.readouterr().out
    assert f"Revenue dashboard: {dashboard_path(resources['warehouse'].path)}" in out
    assert "marts.revenue" in out
