"""The Dagster UI tells the story, checked in a real browser: a small demo warehouse, dagster-webserver over
it, and Debian's Chromium driven headless by Playwright. The asset graph shows every group, the catalog and an
asset's page show descriptions, column schemas, row counts and plots, a materialization launched with the
Materialize button succeeds, and the revenue dashboard (when the code location has it) opens. Screenshots go
to a temporary folder, or to REVCAST_SCREENSHOTS when set (`make screenshots` refreshes the README's).

Without Chromium on PATH the browser test skips; with REVCAST_REQUIRE_BROWSER=1 (CI) it fails instead."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import defs
from tests.browser.demo import build_demo, webserver

# a plain `make test` leaves the tracked screenshots alone; `make screenshots` sets this to docs/screenshots
SCREENSHOTS = Path(os.environ.get("REVCAST_SCREENSHOTS") or tempfile.mkdtemp(prefix="revcast-screenshots-"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FORECAST_ASSET = "bas_capacity_forecast"  # a forecast in the demo, with plots in its metadata
CHEAP_ASSET = "subscription_plan"  # materialized from the UI: reads one YAML file
HAS_DASHBOARD = dg.AssetKey("revenue_dashboard") in defs.resolve_all_asset_keys()

pytestmark = pytest.mark.browser


def _chromium() -> str:
    """Chromium's path, or skip (fail when REVCAST_REQUIRE_BROWSER=1) saying what is missing."""
    path = shutil.which("chromium")
    missing = None
    if path is None:
        missing = "no `chromium` on PATH (Debian: apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("REVCAST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"REVCAST_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser test skipped: {missing}; set REVCAST_REQUIRE_BROWSER=1 to fail instead")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui_demo")
    demo, results = build_demo(root, dashboard=HAS_DASHBOARD)
    failed = [name for name, result in results.items() if not result.success]
    assert not failed, f"demo materializations failed: {failed}"
    return demo


@pytest.fixture(scope="module")
def server(demo, tmp_path_factory):
    with webserver(demo, tmp_path_factory.mktemp("ui_logs") / "webserver.log") as url:
        yield url


@pytest.fixture(scope="module")
def page():
    chromium = _chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a loaded machine renders the graph and tables slowly
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(60_000)
            yield context.new_page()
        finally:
            browser.close()


def _latest(instance: dg.DagsterInstance, asset: str) -> dict:
    record = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert record is not None, f"{asset} was not materialized"
    return record.asset_materialization.metadata


def test_demo_materializations_report_row_counts_schemas_and_plots(demo):
    """Every table asset of the demo reports its row count (the table's, in the warehouse) and column schema
    (the table's columns); the forecast asset reports a plot as an inline PNG."""
    instance = dg.DagsterInstance.from_config(str(demo.home))
    graph = defs.resolve_asset_graph()
    con = duckdb.connect(str(demo.warehouse), read_only=True)
    checked = []
    for key in sorted(instance.get_asset_keys()):
        node = graph.get(key)
        if "html" in node.kinds or node.tags.get("layer") == "export":
            continue
        metadata = _latest(instance, key.to_user_string())
        table = str(metadata["dagster/table_name"].value)
        schema = metadata["dagster/column_schema"].value
        columns = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        assert [c.name for c in schema.columns] == [c for (c,) in columns], key
        assert metadata["dagster/row_count"].value > 0, key
        if not node.partitions_def:  # a partitioned asset reports the rows of its run's partitions
            assert (
                metadata["dagster/row_count"].value
                == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            )
        checked.append(key.to_user_string())
    assert {"usage_records", "bas_runs", FORECAST_ASSET, CHEAP_ASSET} <= set(checked)
    plots = {k: v.value for k, v in _latest(instance, FORECAST_ASSET).items() if k.startswith("plot_")}
    assert plots and all(v.startswith("![") and "(data:image/png;base64," in v for v in plots.values())


def _dismiss_welcome(page) -> None:
    """The first visit to a fresh instance opens a 'Join the Dagster community' dialog: skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=8_000)
    except Exception:  # noqa: BLE001 - no dialog on this instance
        return
    skip.click()


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1_000)  # let the graph layout and fonts settle
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_ui_shows_the_story_and_materializes(page, server, demo):
    from playwright.sync_api import expect

    graph = defs.resolve_asset_graph()
    groups = sorted(
        {graph.get(k).group_name for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    )
    assert {"usage", "bas", "invoices", "subscriptions", "billing"} <= set(groups)

    # the asset graph: every group of the code location
    page.goto(f"{server}/asset-groups")
    _dismiss_welcome(page)
    for group in groups:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    expect(page.get_by_text("fetching statuses")).to_have_count(0)
    _shoot(page, "asset_graph")

    # the catalog: assets with their descriptions and their group
    for asset in ("usage_records", "bas_runs", FORECAST_ASSET):
        page.goto(f"{server}/assets?asset-selection=" + quote(f'key:"{asset}"'))
        expect(page.get_by_test_id(f"checkbox-{asset}")).to_have_count(1)  # one row: the filter applied
        expect(page.get_by_role("link", name=re.compile(rf"^{asset}( {asset})?$"))).to_be_visible()
        node = graph.get(dg.AssetKey(asset))
        expect(page.get_by_text(" ".join(node.description.split()[:5]))).to_be_visible()
        expect(page.get_by_role("link", name=re.compile(rf"{node.group_name}$"))).to_be_visible()
    page.goto(f"{server}/assets")
    expect(
        page.get_by_role("link", name=re.compile(r"^account_forecasts( account_forecasts)?$"))
    ).to_be_visible()
    expect(page.get_by_text("Materialized").first).to_be_visible()
    _shoot(page, "catalog")

    # an asset's page: description, owners, columns and row count
    instance = dg.DagsterInstance.from_config(str(demo.home))
    rows = _latest(instance, FORECAST_ASSET)["dagster/row_count"].value
    page.goto(f"{server}/assets/{FORECAST_ASSET}")
    node = graph.get(dg.AssetKey(FORECAST_ASSET))
    expect(page.get_by_text(node.description, exact=True)).to_be_visible()
    expect(page.get_by_text("Row count", exact=True)).to_be_visible()
    expect(page.get_by_text(str(rows), exact=True).first).to_be_visible()
    expect(page.get_by_text("Columns", exact=True)).to_be_visible()
    for column in ("system", "forecast", "lower_80", "upper_95"):
        expect(page.get_by_role("cell", name=column, exact=True)).to_be_visible()
    expect(page.get_by_text("product-analytics").first).to_be_visible()
    _shoot(page, "asset_page")

    # a table fixed by the DDL: its columns are described from the DDL's comments
    page.goto(f"{server}/assets/usage_daily_totals")
    expect(page.get_by_role("cell", name="observed", exact=True)).to_be_visible()
    expect(page.get_by_text("the day was ingested", exact=True)).to_be_visible()

    # its latest materialization: the plot renders as an image
    page.goto(f"{server}/assets/{FORECAST_ASSET}?view=events")
    plot = next(k for k in _latest(instance, FORECAST_ASSET) if k.startswith("plot_"))
    page.locator("tr", has_text=plot).get_by_text("[Show Markdown]").click()
    image = page.locator("img[src^='data:image/png;base64,']")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 300
    _shoot(page, "asset_plot")
    page.get_by_role("button", name="Close").click()

    # Materialize from the UI, then follow the run to success
    before = {r.run_id for r in instance.get_runs()}
    page.goto(f"{server}/assets/{CHEAP_ASSET}")
    page.get_by_role("button").filter(has=page.get_by_text("Materialize", exact=True)).click()
    deadline, run = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        new = [r for r in instance.get_runs() if r.run_id not in before]
        run = new[0] if new else None
        if run is not None and run.is_finished:
            break
        time.sleep(2)
    assert run is not None, "no run was launched by the Materialize button"
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    assert dg.AssetKey(CHEAP_ASSET) in (run.asset_selection or set())
    page.goto(f"{server}/runs/{run.run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible()
    expect(page.get_by_text(CHEAP_ASSET).first).to_be_visible()
    _shoot(page, "run")


@pytest.mark.skipif(not HAS_DASHBOARD, reason="the code location has no revenue_dashboard asset yet")
def test_revenue_dashboard_opens(page, demo):
    from playwright.sync_api import expect

    path = demo.warehouse.parent / "reports" / "revenue_dashboard.html"
    assert path.is_file(), f"revenue_dashboard wrote no {path}"
    page.goto(path.resolve().as_uri())
    expect(page.locator("body")).to_contain_text("revenue")
    page.set_viewport_size({"width": 1400, "height": 1100})
    _shoot(page, "revenue_dashboard")
    page.set_viewport_size({"width": 1400, "height": 900})
