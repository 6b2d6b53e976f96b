"""What every ingest asset does: its two blocking checks, the partition write, the checks and the metadata."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from assets.checks import anomalies_check, expectations_check, quarantine_share_check
from assets.metadata import table_definition, table_metadata
from expectations import warm_up_in_background
from revcast.anomalies import TOTALS_SQL as ANOMALY_SOURCES
from revcast.ingest.core import ParsedBatch, quarantine_summary, write_partitions


class IngestConfig(dg.Config):
    """force: reload partitions even when their files are unchanged since the last load."""

    force: bool = False


@dataclass(frozen=True)
class IngestTarget:
    """Where one landing source goes: clean and quarantine tables, partition column, GE suite, check names."""

    asset: str
    source: str
    clean_table: str
    quarantine_table: str
    partition_expr: (
        str  # SQL over the clean table giving a row's partition key, e.g. CAST(usage_date AS VARCHAR)
    )
    suite: str
    check_prefix: str

    @property
    def expectations_check(self) -> str:
        return f"{self.check_prefix}_expectations"

    @property
    def quarantine_check(self) -> str:
        return f"{self.check_prefix}_quarantine_share"

    @property
    def anomalies_check(self) -> str | None:
        """The warning check on day-level anomalies, for the daily sources."""
        return f"{self.check_prefix}_anomalies" if self.source in ANOMALY_SOURCES else None


def ingest_check_specs(target: IngestTarget, what: str) -> list[dg.AssetCheckSpec]:
    """The blocking GE-suite and quarantine-budget checks of an ingest asset (and the anomaly warning of a
    daily source)."""
    anomalies = (
        [
            dg.AssetCheckSpec(
                target.anomalies_check,
                asset=target.asset,
                blocking=False,
                description="Warns about days whose line count or totals are more than REVCAST_ANOMALY_THRESHOLD robust "
                "deviations (MAD) from the same weekday of the previous REVCAST_ANOMALY_WEEKS weeks; recorded in "
                "audit.anomalies.",
            )
        ]
        if target.anomalies_check
        else []
    )
    return anomalies + [
        dg.AssetCheckSpec(
            target.expectations_check,
            asset=target.asset,
            blocking=True,
            description=f"Great Expectations suite {target.suite}: {what}.",
        ),
        dg.AssetCheckSpec(
            target.quarantine_check,
            asset=target.asset,
            blocking=True,
            description="Quarantined lines per partition within REVCAST_QUARANTINE_THRESHOLD (1%, in whole lines "
            "rounded up); rows read = clean + quarantined.",
        ),
    ]


def ingest_asset(
    target: IngestTarget,
    *,
    group: str,
    what: str,
    partitions_def: dg.PartitionsDefinition | None = None,
    extra_check_specs: Sequence[dg.AssetCheckSpec] = (),
    **kwargs,
):
    """The @dg.asset of an ingest: its group, partitions with single-run backfills, the duckdb pool, checks."""
    return dg.asset(
        name=target.asset,
        group_name=group,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions_def else None,
        pool="duckdb",
        kinds={"duckdb", "python"},
        owners=["team:data-engineering"],
        tags={"layer": "clean"},
        check_specs=[*ingest_check_specs(target, what), *extra_check_specs],
        metadata=table_definition(target.clean_table),
        **kwargs,
    )


def ingest_partitions(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    target: IngestTarget,
    *,
    partitions: Sequence[tuple[str, list[Path]]],
    parse: Callable[[Sequence[tuple[str, list[Path]]]], ParsedBatch],
    parser_version: str,
    force: bool,
    extra_checks: Callable[[str, list], list[dg.AssetCheckResult]] = lambda where, params: [],
    extra_metadata: dict | None = None,
    after_write: Callable[[], dict] | None = None,
) -> dg.MaterializeResult:
    """Load changed partitions, run the suite and the quarantine budget over the run's partitions, report.

    `after_write` runs between the write and the checks (e.g. re-linking runs to a new card) and returns
    metadata; `extra_checks(where, params)` adds asset-specific checks over the same partitions.
    """
    keys = [key for key, _ in partitions]
    warm_up_in_background()  # GE's import overlaps the parse (DuckDB releases the GIL)
    report = write_partitions(
        con,
        source=target.source,
        partitions=partitions,
        parse=parse,
        clean_table=target.clean_table,
        partition_expr=target.partition_expr,
        quarantine_table=target.quarantine_table,
        parser_version=parser_version,
        run_id=context.run_id,
        force=force,
    )
    extra_metadata = {**(extra_metadata or {}), **(after_write() if after_write else {})}
    context.log.info(
        f"{target.source}: {len(report.loaded)} partition(s) loaded, {len(report.unchanged)} unchanged; "
        f"{report.total('lines_read')} lines read, {report.total('lines_quarantined')} quarantined"
    )
    where, params = f"{target.partition_expr} IN (SELECT unnest(?))", [keys]
    checks = [
        expectations_check(
            con,
            asset=target.asset,
            check=target.expectations_check,
            suite=target.suite,
            table=target.clean_table,
            where=where,
            params=params,
        ),
        quarantine_share_check(
            con,
            asset=target.asset,
            check=target.quarantine_check,
            source=target.source,
            quarantine_table=target.quarantine_table,
            keys=keys,
        ),
        *extra_checks(where, params),
    ]
    if target.anomalies_check:
        checks.append(
            anomalies_check(
                con,
                asset=target.asset,
                check=target.anomalies_check,
                source=target.source,
                keys=keys,
                run_id=context.run_id,
            )
        )
    top_reasons = quarantine_summary(con, target.quarantine_table, keys)
    metadata = table_metadata(con, target.clean_table, where=where, params=params) | {
        "partitions_loaded": len(report.loaded),
        "partitions_unchanged": len(report.unchanged),
        "lines_read": report.total("lines_read"),
        "lines_quarantined": report.total("lines_quarantined"),
        "rows_written": report.total("rows_written"),
        "top_quarantine_reasons": dg.MetadataValue.md(
            "\n".join(f"- {why}: {n}" for why, n in top_reasons) or "_none_"
        ),
        **extra_metadata,
    }
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
