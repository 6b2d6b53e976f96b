"""Great Expectations 1.x suites (one JSON file per table under suites/) and the adapter that runs them."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

SUITES_DIR = Path(__file__).parent / "suites"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict with the numbers that explain a failure."""

    expectation: str
    column: str
    success: bool
    unexpected_count: int | None
    detail: str


@dataclass(frozen=True)
class SuiteOutcome:
    """A suite's verdict over one set of rows."""

    suite: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]

    def markdown(self) -> str:
        """A table for the Dagster UI."""
        lines = ["| expectation | column | ok | unexpected | detail |", "|---|---|---|---|---|"]
        for o in self.outcomes:
            lines.append(
                f"| {o.expectation} | {o.column} | {'yes' if o.success else '**no**'} | "
                f"{'' if o.unexpected_count is None else o.unexpected_count} | {o.detail} |"
            )
        return "\n".join(lines)

    def failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def load_suite_config(name: str) -> dict:
    """The JSON of suite `name` (expectations/suites/<name>.json)."""
    return json.loads((SUITES_DIR / f"{name}.json").read_text())


@cache
def _context():
    """One ephemeral GE context per process (importing GE is slow: do it once, lazily)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from expectations import duckdb_dialect  # noqa: F401  (registers duckdb+autocommit with SQLAlchemy)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _suite(name: str):
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    raw = load_suite_config(name)
    suite = gx.ExpectationSuite(name=raw["name"], meta=raw.get("meta", {}))
    for item in raw["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=item["type"], kwargs=item["kwargs"])
        )
    return suite


_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Import GE and build its context on a thread (~2.5 s) while the caller's DuckDB work runs."""
    global _warming
    if _warming is None:
        _warming = threading.Thread(target=_context, name="ge-warm-up", daemon=True)
        _warming.start()


def validate_rows(
    con: duckdb.DuckDBPyConnection, suite_name: str, table: str, where: str, params: list
) -> SuiteOutcome:
    """Run suite `suite_name` over the rows of `table` matching `where` (bound `params`) as SQL in DuckDB.

    GX's SQL assets take no bound parameters, so the rows are first copied by a parameterised query into
    a scratch table with a generated name (so `con` must be read-write), which GX validates through
    cursors of `con` (the process cannot open the file a second time) and which is dropped afterwards.
    """
    scratch = f"gx_batch_{uuid.uuid4().hex}"  # in `main`, outside the warehouse's schemas and reports
    try:
        con.execute(f"CREATE TABLE {scratch} AS SELECT * FROM {table} WHERE {where}", params)
        rows = con.execute(f"SELECT count(*) FROM {scratch}").fetchall()[0][0]
        result = _validate_table(con, suite_name, scratch)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {scratch}")
    return _outcome(suite_name, result, rows)


def _validate_table(con: duckdb.DuckDBPyConnection, suite_name: str, table: str):
    """GX's SQL engine over `table` (in `main`) on cursors of `con`; the datasource and cursors go afterwards."""
    import duckdb_engine
    from sqlalchemy.dialects import postgresql

    from expectations.duckdb_dialect import URL_SCHEME

    if _warming is not None:
        _warming.join()
    context = _context()
    cursors: list[duckdb.DuckDBPyConnection] = []

    def cursor() -> duckdb_engine.ConnectionWrapper:
        cursors.append(con.cursor())
        return duckdb_engine.ConnectionWrapper(cursors[-1])

    # the URL only picks the dialect: every connection comes from `cursor`
    source = context.data_sources.add_sql(
        table, connection_string=f"{URL_SCHEME}://", kwargs={"creator": cursor}
    )
    try:
        # GX builds some SQL by dialect (regex matches) for the dialects it knows, which DuckDB is not;
        # DuckDB reads PostgreSQL's forms (`col ~ 'regex'`), as duckdb_engine's compiler assumes
        source.get_execution_engine().dialect_module = postgresql
        asset = source.add_table_asset(table, table_name=table)
        batch = asset.add_batch_definition_whole_table("whole").get_batch()
        return batch.validate(_suite(suite_name), result_format="SUMMARY")
    finally:
        context.data_sources.delete(table)
        for c in cursors:
            c.close()


def _outcome(suite_name: str, result, rows: int) -> SuiteOutcome:
    """Summarise each expectation of a GX validation result."""
    outcomes = []
    for r in result.results:
        kwargs = r.expectation_config.kwargs
        column = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
        info = r.result or {}
        detail = ""
        if "observed_value" in info and not r.success:
            detail = f"observed {info['observed_value']}"
        elif info.get("partial_unexpected_list"):
            detail = "e.g. " + ", ".join(map(str, info["partial_unexpected_list"][:3]))
        error = _error_message(r.exception_info or {})
        if error:
            detail = f"error: {error}"
        outcomes.append(
            ExpectationOutcome(
                expectation=r.expectation_config.type,
                column=column,
                success=bool(r.success),
                unexpected_count=info.get("unexpected_count"),
                detail=detail.replace("|", "/"),
            )
        )
    return SuiteOutcome(suite=suite_name, success=bool(result.success), rows=rows, outcomes=outcomes)


def _error_message(exception_info: dict) -> str | None:
    """The first error GX caught: its info is flat, or keyed by metric when a metric's SQL failed."""
    for info in [exception_info, *exception_info.values()]:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message")).splitlines()[0]
    return None
