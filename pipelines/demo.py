"""`make demo`: sample data if missing, then every asset materialized into the persistent instance.

Assets are run stage by stage in dependency order, each stage one run: daily and monthly data partitions
over the whole sample range (single-run backfills), model and forecast partitions (tag
`revcast/partition: cutoff`) for the latest cutoff only, unpartitioned assets once.

A second demo only does what changed: a data stage runs just the partitions that were never materialized
or whose landing files are newer than the asset's last materialization; a later stage runs only when an
earlier stage ran in this demo or it was never materialized.
"""

import json
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.partitions import contiguous_ranges, range_tags
from revcast.settings import SAMPLE_END, SAMPLE_START, settings

CUTOFF_TAG = "revcast/partition"
# assets that read the landing zone -> (landing source, or a single file under the landing root)
LANDING_INPUTS = {
    "usage_records": "usage",
    "fullbas_runs": "fullbas",
    "simplebas_runs": "simplebas",
    "invoice_records": "invoices",
    "organisations": "bas/orgcard.csv",
    "subscription_installs": "subscriptions/installs.csv",
    "subscription_purchases": "subscriptions/recurrent.csv",
    "subscription_plan": "subscriptions/plan.yaml",
}


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


def _progress():
    """A live progress bar on a terminal; disabled when output is not a TTY (the [demo] lines stay as they are)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console()
    return Progress(
        TextColumn("[demo] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _tracked(stages: list[tuple[str, list[dg.AssetKey]]]):
    """Yield the stages while a progress bar counts them (prints inside the loop appear above the bar)."""
    with _progress() as bar:
        task = bar.add_task("stages", total=len(stages))
        for kind, keys in stages:
            bar.update(task, description=f"{kind} stage: {keys[0].to_user_string()} ...")
            yield kind, keys
            bar.advance(task)


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
    with _progress() as bar:
        task = bar.add_task("generating", total=None)

        def step(domain: str, done: int, total: int) -> None:
            bar.update(task, description=f"generating {domain}", completed=done, total=total)

        generate_landing(
            landing, seed=seed, accounts=accounts, start=SAMPLE_START, end=SAMPLE_END, progress=step
        )
    print(f"[demo] sample data written in {time.perf_counter() - started:.1f}s")
    return SAMPLE_START, SAMPLE_END


def run_demo(*, accounts: int = 500, seed: int = 42) -> int:
    """Materialize everything; print tables, quarantine reasons and where to look. Returns an exit code."""
    landing = Path(settings().landing)
    start, end = ensure_sample_data(landing, accounts=accounts, seed=seed)
    from pipelines.definitions import defs

    instance = dg.DagsterInstance.get()
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    # the blocking checks defined apart from their assets run with them (they guard what is downstream)
    blocking = [c for c in defs.asset_checks or [] if all(spec.blocking for spec in c.check_specs)]
    assets = [*defs.assets, *blocking]
    ok, anything_ran = True, False
    for kind, keys in _tracked(_stages(defs)):  # the bar stops when the loop ends or breaks
        names = ", ".join(k.to_user_string() for k in keys)
        runs = _plan_stage(instance, defs, kind, keys, landing, start, end, upstream_ran=anything_ran)
        if not runs:
            print(f"[demo] {kind:>13}: {names}: up to date, skipped", flush=True)
            continue
        for tags, partition_key, label in runs:
            print(f"[demo] {kind:>13}: {names} {label}", flush=True)
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
            status = "ok" if result.success else "FAILED (open the run in the UI: make ui)"
            print(
                f"[demo] {'':>13}  {status} in {time.perf_counter() - started:.1f}s (run {result.run_id[:8]})"
            )
            anything_ran = True
            if not result.success:
                ok = False
                break
        if not ok:
            break
    print_summary()
    return 0 if ok else 1


def _partition_keys(kind: str, start: date, end: date) -> list[str]:
    """The sample range's partition keys for a daily or monthly stage."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    if kind == "daily":
        return [d.isoformat() for d in days]
    return sorted({d.strftime("%Y-%m") for d in days})


def _landing_mtime(landing: Path, source: str, key: str | None) -> float:
    """Newest modification time of the files behind one partition (or of a single landing file)."""
    from revcast.landing import partition_dir

    if key is None:
        path = landing / source
        return path.stat().st_mtime if path.exists() else float("inf")
    files = list(partition_dir(landing, source, key).glob("*.*"))
    return max((f.stat().st_mtime for f in files), default=float("inf"))


def _plan_stage(instance, defs, kind, keys, landing, start, end, *, upstream_ran: bool) -> list:
    """The runs a stage needs: (tags, partition key, label) for each, or none when it is up to date."""
    latest = {k: instance.get_latest_materialization_event(k) for k in keys}
    if kind in ("daily", "monthly"):
        wanted = _partition_keys(kind, start, end)
        todo: set[str] = set()
        for key in keys:
            done = instance.get_materialized_partitions(key)
            todo |= {p for p in wanted if p not in done}
            source = LANDING_INPUTS.get(key.to_user_string())
            if source and latest[key] is not None:
                since = latest[key].timestamp
                todo |= {p for p in wanted if _landing_mtime(landing, source, p) > since}
            elif upstream_ran and not source:
                todo |= set(wanted)
        return [(range_tags(a, b), None, f"[{a}...{b}]") for a, b in contiguous_ranges(sorted(todo), wanted)]
    stale = any(event is None for event in latest.values()) or upstream_ran
    for key in keys:
        source = LANDING_INPUTS.get(key.to_user_string())
        if (
            source
            and latest[key] is not None
            and _landing_mtime(landing, source, None) > latest[key].timestamp
        ):
            stale = True
    if not stale:
        return []
    if kind == "cutoff":
        return [({}, end.strftime("%Y-%m"), f"[cutoff {end.strftime('%Y-%m')}]")]
    return [({}, None, "")]


def print_summary() -> None:
    """Tables with row counts, quarantine counts with top reasons, and how to open the UI."""
    from revcast.quality import quarantine_overview, table_rows
    from revcast.warehouse import connect

    con = connect(settings().warehouse, read_only=True)
    try:
        tables = table_rows(con)
        quarantine = quarantine_overview(con, tables)
    finally:
        con.close()
    print(f"\nWarehouse {settings().warehouse}:")
    for t in tables:
        print(f"  {t['schema']}.{t['table']:<32} {t['rows']:>12,} rows")
    print("\nQuarantined lines (top reasons):")
    for q in quarantine:
        shown = "; ".join(f"{r['reason'][:60]} ({r['lines']})" for r in q["top_reasons"])
        print(f"  {q['source']:<16} {shown or 'none'}")
    from assets.revenue.assets import dashboard_path
    from revcast.revenue import exports_dir

    print(
        "\nOpen the Dagster UI with `make ui` (http://127.0.0.1:3000): asset catalog, checks, runs."
        "\nReports: warehouse/reports/ ; query the warehouse with `duckdb warehouse/revcast.duckdb -readonly`."
        f"\nRevenue dashboard: {dashboard_path(settings().warehouse)} (open it in a browser);"
        f" Parquet exports of every mart: {exports_dir(settings().warehouse)}/"
    )
