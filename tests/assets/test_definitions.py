"""The code location loads, and every asset is described, grouped, checked and (if it writes) pooled."""

import dagster as dg
import pytest

from assets import bas, billing, invoices, subscriptions, usage
from pipelines.definitions import defs
from resources import default_resources


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("daily_ingest_job") is not None
    assert {s.name for s in defs.schedules} >= {"nightly_schedule", "monthly_retrain_schedule"}
    assert {s.name for s in defs.sensors} >= {
        "landing_sensor",
        "nightly_refresh_sensor",
        "bas_orgcard_sensor",
    }
    retrain = defs.resolve_job_def("monthly_retrain_job")
    assert {k.to_user_string() for k in retrain.asset_layer.executable_asset_keys} >= {
        "subscription_installs_models",
        "subscription_revenue_plan",
        "subscription_plan_report",
    }
    nightly = defs.resolve_job_def("daily_ingest_job")
    assert {k.to_user_string() for k in nightly.asset_layer.executable_asset_keys} >= {
        "usage_records",
        "fullbas_runs",
        "simplebas_runs",
        "usage_daily_totals",
    }


@pytest.mark.parametrize(
    "group",
    [usage, bas, invoices, subscriptions, billing],
    ids=["usage", "bas", "invoices", "subscriptions", "billing"],
)
def test_each_group_loads_on_its_own(group):
    """A group's Definitions (assets, checks, its own jobs, schedules, sensors) needs only the resources."""
    dg.Definitions.validate_loadable(
        dg.Definitions.merge(group.defs, dg.Definitions(resources=default_resources()))
    )
    names = {group.__name__.rsplit(".", 1)[-1]}
    for asset in group.defs.assets:
        assert {asset.group_names_by_key[key] for key in asset.keys} == names


def test_every_asset_has_description_group_and_check():
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key for key in graph.asset_check_keys}
    problems = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        name = key.to_user_string()
        if not (node.description or "").strip():
            problems.append(f"{name}: no description")
        if not node.group_name or node.group_name == "default":
            problems.append(f"{name}: no group")
        if key not in checked:
            problems.append(f"{name}: no check")
        read_only = node.tags.get("revcast/warehouse") == "read-only"
        if node.pools != {"duckdb"} and not read_only:
            problems.append(f"{name}: not in the duckdb pool ({node.pools})")
    assert not problems, "\n".join(problems)


def test_usage_records_is_a_single_run_daily_backfill():
    node = defs.resolve_asset_graph().get(dg.AssetKey("usage_records"))
    assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
    assert node.backfill_policy == dg.BackfillPolicy.single_run()
