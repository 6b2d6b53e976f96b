"""Every group is automated: the nightly ingest's downstream is refreshed after it, every asset partitioned by
month is in the monthly retrain, and the refresh sensor asks for the right runs."""

from types import SimpleNamespace

import dagster as dg

from assets.partitions import cutoff_partitions, daily_partitions
from pipelines.automation import nightly_refresh_sensor
from pipelines.definitions import defs

# launched per forecast command, with the command as run config (the forecast command job)
ON_DEMAND = ["command_forecasts"]


def _job_assets(name: str) -> set[str]:
    return {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.executable_asset_keys}


def test_everything_downstream_of_a_daily_source_is_refreshed_nightly_or_monthly():
    graph = defs.resolve_asset_graph()
    daily = [
        k
        for k in graph.get_all_asset_keys()
        if isinstance(graph.get(k).partitions_def, dg.DailyPartitionsDefinition)
    ]
    downstream, todo = set(), list(daily)
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in downstream:
                downstream.add(child)
                todo.append(child)
    automated = set().union(
        *(
            _job_assets(j)
            for j in ("daily_ingest_job", "nightly_refresh_job", "nightly_marts_job", "monthly_retrain_job")
        )
    )
    missing = sorted(
        k.to_user_string() for k in {*daily, *downstream}
        if graph.get(k).is_materializable and k.to_user_string() not in automated
    )  # fmt: skip
    assert [m for m in missing if m not in ON_DEMAND] == []


def test_every_monthly_asset_is_in_the_monthly_retrain():
    graph = defs.resolve_asset_graph()
    monthly = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and graph.get(k).partitions_def == cutoff_partitions
    }
    assert monthly and monthly <= _job_assets("monthly_retrain_job")
    assert {
        "usage_models",
        "invoice_revenue_models",
        "subscription_installs_models",
        "invoice_records",
    } <= monthly
    tags = defs.resolve_job_def("monthly_retrain_job").tags
    assert tags["revcast/workload"] == "training"  # one training run at a time (deploy/dagster.yaml)


def _context(instance):
    @dg.op
    def noop():
        pass

    @dg.job
    def daily_ingest_stand_in():
        noop()

    result = daily_ingest_stand_in.execute_in_process(instance=instance)
    return dg.build_run_status_sensor_context(
        sensor_name="nightly_refresh_sensor",
        dagster_event=result.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )


def test_a_successful_ingest_requests_the_refresh_and_the_latest_cutoffs_marts(monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    requests = nightly_refresh_sensor(_context(instance))
    assert [(r.job_name, r.partition_key) for r in requests] == [("nightly_refresh_job", None)]

    for cutoff in ("2023-11", "2023-12"):
        instance.report_runless_asset_event(dg.AssetMaterialization("usage_forecasts", partition=cutoff))
    requests = nightly_refresh_sensor(_context(instance))
    assert [(r.job_name, r.partition_key) for r in requests] == [
        ("nightly_refresh_job", None),
        ("nightly_marts_job", "2023-12"),
    ]

    context = _context(instance)
    queued = SimpleNamespace(dagster_run=SimpleNamespace(run_id="queued-refresh"))
    wanted = []

    def run_records(filters, limit=None):
        wanted.append((filters.job_name, tuple(filters.statuses)))
        return [queued]

    monkeypatch.setattr(instance, "get_run_records", run_records)
    assert isinstance(
        nightly_refresh_sensor(context), dg.SkipReason
    )  # the queued refresh covers the new data
    assert wanted == [("nightly_refresh_job", (dg.DagsterRunStatus.QUEUED,))]


def test_daily_assets_warn_when_yesterday_is_missing_after_the_deadline():
    from datetime import UTC, datetime, timedelta

    from pipelines.automation import daily_freshness_checks

    checked = {key.asset_key.to_user_string() for c in daily_freshness_checks for key in c.check_keys}
    assert checked == {"usage_records", "fullbas_runs", "simplebas_runs", "usage_daily_totals"}
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*daily_freshness_checks))
    run = dg.Definitions(
        assets=[dg.AssetSpec(k, partitions_def=daily_partitions) for k in checked],
        asset_checks=daily_freshness_checks,
        jobs=[job],
    ).resolve_job_def("freshness")
    instance = dg.DagsterInstance.ephemeral()

    def verdicts():
        result = run.execute_in_process(instance=instance)
        return {
            (e.asset_key.to_user_string(), e.passed, e.severity) for e in result.get_asset_check_evaluations()
        }

    assert verdicts() == {(a, False, dg.AssetCheckSeverity.WARN) for a in checked}
    today = datetime.now(UTC).date()
    for asset in checked:  # yesterday, and the day before (the deadline of today 06:00 may not have passed)
        for back in (1, 2):
            day = (today - timedelta(days=back)).isoformat()
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))
    assert verdicts() == {(a, True, dg.AssetCheckSeverity.WARN) for a in checked}
