"""A small demo warehouse and a Dagster webserver over it, for the browser test (not part of the product)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from tests.helpers import background_server, free_port

ROOT = Path(__file__).resolve().parents[2]
START, END = date(2023, 1, 1), date(2023, 3, 31)  # short: enough weeks for the BAS capacity forecast
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
INSTANCE_YAML = (
    "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    "telemetry:\n  enabled: false\n"
)


@dataclass(frozen=True)
class Demo:
    root: Path
    landing: Path
    warehouse: Path
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_HOME": str(self.home),
            "REVCAST_WAREHOUSE": str(self.warehouse),
            "REVCAST_LANDING": str(self.landing),
            "REVCAST_MODEL_STORE": str(self.root / "models"),
            "REVCAST_END_DATE": END.isoformat(),
        }


def build_demo(root: Path, *, dashboard: bool = False) -> tuple[Demo, dict[str, dg.ExecuteInProcessResult]]:
    """Generate a small landing zone (6 accounts, three months) and materialize a handful of assets of several
    groups into a warehouse under `root`, recorded in a Dagster instance under `root/dagster_home`; with
    `dashboard`, also the invoice revenue, the conformed revenue mart of the last month and the revenue
    dashboard."""
    from assets.bas.ingest import fullbas_runs, organisations, simplebas_runs
    from assets.bas.marts import bas_capacity, bas_interaction_profiles, bas_scope
    from assets.subscriptions.ingest import subscription_installs, subscription_plan, subscription_purchases
    from assets.usage.features import usage_daily_totals
    from assets.usage.ingest import usage_records
    from resources import LandingZoneResource, ModelStoreResource, WarehouseResource
    from revcast.generate import generate_landing

    demo = Demo(root, root / "landing", root / "warehouse" / "revcast.duckdb", root / "dagster_home")
    demo.home.mkdir(parents=True)
    (demo.home / "dagster.yaml").write_text(INSTANCE_YAML)
    generate_landing(demo.landing, seed=11, accounts=6, start=START, end=END, bad_share=0.0)
    resources = {
        "warehouse": WarehouseResource(path=str(demo.warehouse)),
        "landing": LandingZoneResource(root=str(demo.landing)),
        "model_store": ModelStoreResource(root=str(root / "models")),
    }
    instance = dg.DagsterInstance.from_config(str(demo.home))
    span = {
        "dagster/asset_partition_range_start": START.isoformat(),
        "dagster/asset_partition_range_end": END.isoformat(),
    }

    def run(assets, tags=None):
        return dg.materialize(assets, resources=resources, instance=instance, tags=tags, run_config=QUIET)

    results = {
        "organisations": run([organisations]),
        "bas_runs": run([fullbas_runs, simplebas_runs], span),
        "bas_marts": run([bas_scope, bas_interaction_profiles, bas_capacity]),
        "usage": run([usage_records, usage_daily_totals], span),
        "subscriptions": run([subscription_installs, subscription_purchases, subscription_plan]),
    }
    if dashboard:
        from pipelines.definitions import defs

        months = {
            "dagster/asset_partition_range_start": START.strftime("%Y-%m"),
            "dagster/asset_partition_range_end": END.strftime("%Y-%m"),
        }
        invoices = [defs.get_assets_def(a) for a in ("invoice_records", "invoice_daily_revenue")]
        results["invoices"] = run(invoices[:1], months)
        results["invoice_daily_revenue"] = run(invoices[1:])
        results["revenue"] = dg.materialize(
            [defs.get_assets_def("revenue")],
            resources=resources,
            instance=instance,
            partition_key=END.strftime("%Y-%m"),
            run_config=QUIET,
        )
        results["revenue_dashboard"] = run([defs.get_assets_def("revenue_dashboard")])
    return demo, results


@contextmanager
def webserver(demo: Demo, log: Path) -> Iterator[str]:
    """dagster-webserver over the demo's instance and warehouse on a free loopback port; yields its URL. The
    server runs in its own process group, killed (TERM, then KILL) on the way out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-m", "pipelines.definitions"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    with background_server(
        command, f"{url}/server_info", log, env=os.environ | demo.env(), cwd=ROOT, timeout=180
    ):
        yield url
