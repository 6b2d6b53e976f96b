"""What the Dagster UI shows about every definition: assets described, owned, kinded, grouped, naming their
table with its column schema; jobs, schedules, sensors and asset checks described. Walks the whole code
location, so a new asset group is held to the same standard the day it is added. (Row counts, the schemas of
tables shaped by their frame and the plots are reported at materialization: tests/browser/test_ui.py checks
them on a small demo warehouse.)"""

import dagster as dg
import duckdb

from pipelines.definitions import defs
from revcast.warehouse import apply_ddl, table_columns


def _writes_files(node) -> bool:
    """A report page (kind html) or a file export (layer export) writes files, not one warehouse table: its
    metadata is the path and what the files hold."""
    return "html" in node.kinds or node.tags.get("layer") == "export"


def _described(obj) -> bool:
    return bool((getattr(obj, "description", None) or "").strip())


def _ddl_tables() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    apply_ddl(con)
    return con


def test_every_asset_carries_what_the_ui_shows():
    graph = defs.resolve_asset_graph()
    ddl = _ddl_tables()
    problems, tables = [], 0
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        name = key.to_user_string()
        if not _described(node):
            problems.append(f"asset {name}: no description")
        if not node.owners:
            problems.append(f"asset {name}: no owners")
        if not node.kinds:
            problems.append(f"asset {name}: no kinds")
        if not node.group_name or node.group_name == "default":
            problems.append(f"asset {name}: no group")
        if _writes_files(node):
            continue
        table = node.metadata.get("dagster/table_name")
        if not table:
            problems.append(f"asset {name}: no dagster/table_name on its definition")
            continue
        tables += 1
        columns = table_columns(ddl, str(table))
        schema = node.metadata.get("dagster/column_schema")
        if columns and not isinstance(schema, dg.TableSchema):
            problems.append(
                f"asset {name}: {table} is fixed by the DDL but no dagster/column_schema is declared"
            )
        elif columns and [(c.name, c.type) for c in schema.columns] != columns:
            problems.append(f"asset {name}: declared column schema differs from the DDL of {table}")
    assert not problems, "\n".join(problems)
    assert tables >= 40


def test_every_check_job_schedule_and_sensor_is_described():
    graph = defs.resolve_asset_graph()
    problems = [
        f"check {key.asset_key.to_user_string()}:{key.name}: no description"
        for key in sorted(graph.asset_check_keys, key=str)
        if not _described(graph.get_check_spec(key))
    ]
    problems += [
        f"job {job.name}: no description"
        for job in defs.resolve_all_job_defs()
        if not job.name.startswith("__") and not _described(job)
    ]
    repository = defs.get_repository_def()
    problems += [f"schedule {s.name}: no description" for s in repository.schedule_defs if not _described(s)]
    problems += [f"sensor {s.name}: no description" for s in repository.sensor_defs if not _described(s)]
    assert not problems, "\n".join(problems)
    assert len(repository.sensor_defs) >= 5 and len(repository.schedule_defs) >= 2


def test_column_descriptions_come_from_the_ddl_comments():
    """A column commented in revcast/sql is described in the UI's column table."""
    node = defs.resolve_asset_graph().get(dg.AssetKey("usage_daily_totals"))
    described = {c.name: c.description for c in node.metadata["dagster/column_schema"].columns}
    assert described["observed"] == "the day was ingested"
    assert described["quantity"] == "sum over accounts; NULL when not observed"
    assert described["metric"] is None
