"""`make demo`: sample data if missing, then every asset materialized into the persistent instance.

Assets are run stage by stage in dependency order, each stage one run: daily and monthly data partitions
over the whole sample range (single-run backfills), model and forecast partitions (tag
`revcast/partition: cutoff`) for the latest cutoff only, unpartitioned assets once. Ingest skips
partitions whose files are unchanged, so a second demo only does what changed.
"""

import json
import time
from datetime import date
from pathlib import Path

import dagster as dg

from revcast import config

CUTOFF_TAG = "revcast/partition"


def _stages(defs: dg.Definitions) -> list[tuple[str, list[dg.AssetKey]]]:
    """Asset keys in dependency order, grouped into consecutive runs of the same partitioning kind."""
    graph = defs.resolve_asset_graph()
    stages: list[tuple[str, list[dg.AssetKey]]] = []
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if not node.is_materializable:
            continue
        partitions = node.partitions_def
        if partitions is None:
            kind = "unpartitioned"
        elif node.tags.get(CUTOFF_TAG) == "cutoff":
            kind = "cutoff"
        else:
            kind = "daily" if isinstance(partitions, dg.DailyPartitionsDefinition) else "monthly"
        if stages and stages[-1][0] == kind:
            stages[-1][1].append(key)
        else:
            stages.append((kind, [key]))
    return stages


def _tags(kind: str, start: date, end: date) -> tuple[dict[str, str], str | None]:
    """Run tags (a partition range) or a single partition key for one stage."""
    if kind == "daily":
        return {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }, None
    if kind == "monthly":
        return {
            "dagster/asset_partition_range_start": start.strftime("%Y-%m"),
            "dagster/asset_partition_range_end": end.strftime("%Y-%m"),
        }, None
    if kind == "cutoff":
        return {}, end.strftime("%Y-%m")
    return {}, None


def ensure_sample_data(landing: Path, *, accounts: int, seed: int) -> tuple[date, date]:
    """Generate the sample landing zone unless one with the same parameters is there already."""
    manifest = landing / "_manifest.json"
    wanted = {"seed": seed, "accounts": accounts}
    if manifest.exists():
        params = json.loads(manifest.read_text()).get("parameters", {})
        if all(params.get(k) == v for k, v in wanted.items()):
            print(f"[demo] sample data already in {landing} (seed {seed}, {accounts} accounts): reusing it")
            return date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    from revcast.generate import generate_landing

    print(f"[demo] generating sample data into {landing} ({accounts} accounts, seed {seed}) ...")
    started = time.perf_counter()
    generate_landing(landing, seed=seed, accounts=accounts, start=config.SAMPLE_START, end=config.SAMPLE_END)
    print(f"[demo] sample data written in {time.perf_counter() - started:.1f}s")
    return config.SAMPLE_START, config.SAMPLE_END


def run_demo(*, accounts: int = 500, seed: int = 42) -> int:
    """Materialize everything; print tables, quarantine reasons and where to look. Returns an exit code."""
    landing = Path(config.landing_root())
    start, end = ensure_sample_data(landing, accounts=accounts, seed=seed)
    from pipelines.definitions import defs

    instance = dg.DagsterInstance.get()
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    assets = list(defs.assets)
    ok = True
    for kind, keys in _stages(defs):
        tags, partition_key = _tags(kind, start, end)
        names = ", ".join(k.to_user_string() for k in keys)
        print(f"[demo] {kind:>13}: {names}", flush=True)
        started = time.perf_counter()
        result = dg.materialize(
            assets,
            selection=keys,
            instance=instance,
            resources=defs.resources,
            partition_key=partition_key,
            tags=tags,
            run_config=run_config,
            raise_on_error=False,
        )
        status = "ok" if result.success else "FAILED (see the run in the UI)"
        print(f"[demo] {'':>13}  {status} in {time.perf_counter() - started:.1f}s (run {result.run_id[:8]})")
        if not result.success:
            ok = False
            break
    print_summary()
    return 0 if ok else 1


def print_summary() -> None:
    """Tables with row counts, quarantine counts with top reasons, and how to open the UI."""
    from revcast.warehouse import connect

    con = connect(config.warehouse_path(), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
            "WHERE schema_name NOT IN ('main') ORDER BY schema_name, table_name"
        ).fetchall()
        print(f"\nWarehouse {config.warehouse_path()}:")
        for schema, table, _ in tables:
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0]
            print(f"  {schema}.{table:<32} {rows:>12,} rows")
        print("\nQuarantined lines (top reasons):")
        for schema, table, _ in tables:
            if schema != "quarantine":
                continue
            reasons = con.execute(
                f'SELECT split_part(reason, \';\', 1) AS why, count(*) FROM "{schema}"."{table}" '
                "GROUP BY why ORDER BY 2 DESC LIMIT 3"
            ).fetchall()
            shown = "; ".join(f"{why[:60]} ({n})" for why, n in reasons)
            print(f"  {table:<16} {shown or 'none'}")
    finally:
        con.close()
    print(
        "\nOpen the Dagster UI with `make ui` (http://127.0.0.1:3000): asset catalog, checks, runs."
        "\nReports: warehouse/reports/ ; query the warehouse with `duckdb warehouse/revcast.duckdb -readonly`."
    )
