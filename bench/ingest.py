"""Ingest benchmark: usage_records over one year of 10,000 accounts vs bare DuckDB read_csv of the same files.

    .venv/bin/python bench/ingest.py [--accounts 10000] [--days 365] [--repeat 2] [--workdir DIR]

Each variant runs in a fresh subprocess (so peak RSS is its own), alternating, `--repeat` times; the
median is reported. Variants:
  bare        DuckDB: CREATE TABLE AS SELECT * FROM read_csv('<landing>/usage/*/*.csv') into a new file
  pipeline    dagster.materialize(usage_records) as one single-run backfill over the year, checks
              included (GE suite + quarantine share), ephemeral in-memory Dagster instance
  pipeline+sqlite  the same with a persistent SQLite Dagster instance (what `make demo` / `dagster dev` use)
  pipeline+postgres  with --postgres: the same on the production instance (deploy/dagster.yaml) in a
              throwaway database on PostgreSQL at 127.0.0.1:5432 (user postgres), dropped afterwards
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import duckdb, resource, sys, time
t = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE usage AS SELECT * FROM read_csv(?)", [sys.argv[1] + '/usage/*/*.csv'])
rows = con.execute("SELECT count(*) FROM usage").fetchall()[0][0]
con.close()
print(rows, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

PIPELINE = """
import os, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import dagster as dg
from assets.usage.ingest import usage_records
from resources import LandingZoneResource, WarehouseResource
landing, warehouse, start, end, home = sys.argv[1:6]
instance = dg.DagsterInstance.from_config(home) if home != "-" else dg.DagsterInstance.ephemeral()
t = time.perf_counter()
result = dg.materialize(
    [usage_records],
    instance=instance,
    resources={"warehouse": WarehouseResource(path=warehouse), "landing": LandingZoneResource(root=landing)},
    tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
)
elapsed = time.perf_counter() - t
assert result.success
import duckdb
con = duckdb.connect(warehouse, read_only=True)
rows = con.execute("SELECT count(*) FROM clean.usage").fetchall()[0][0]
lines = con.execute("SELECT sum(lines_read), sum(lines_quarantined) FROM audit.ingest_runs").fetchall()[0]
print(rows, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, lines[0], lines[1])
"""


def _run_all(
    runs: dict[str, list[dict]], repeat: int, work: Path, landing: Path, start: date, end: date
) -> None:
    """Each variant `repeat` times, alternating, appending to `runs`."""
    for i in range(repeat):
        for name in runs:
            target = work / f"{name.replace('+', '_')}_{i}.duckdb"
            if name == "bare":
                result = run_variant(BARE, [str(landing), str(target)])
            else:
                home = {
                    "pipeline": "-",
                    "pipeline+postgres": str(work / "dagster_home_postgres"),
                }.get(name) or tempfile.mkdtemp(dir=work, prefix="dagster_home_")
                result = run_variant(
                    PIPELINE, [str(landing), str(target), start.isoformat(), end.isoformat(), home]
                )
            target.unlink(missing_ok=True)
            runs[name].append(result)
            print(
                f"  {name:<16} run {i + 1}: {result['seconds']:.2f}s  rows {result['rows']:,}  "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )


def run_variant(code: str, args: list[str]) -> dict:
    """Run one variant in a subprocess; return its printed numbers, wall time and its own peak RSS."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    values = done.stdout.strip().splitlines()[-1].split()
    return {
        "rows": int(values[0]),
        "seconds": float(values[1]),
        "process_seconds": wall,
        "peak_rss_mb": int(values[2]) / 1024,
        "extra": values[3:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--postgres", action="store_true", help="also on the PostgreSQL production instance")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from revcast.generate import generate_landing

    work = Path(args.workdir or tempfile.mkdtemp(prefix="revcast-bench-"))
    landing = work / "landing"
    start = date(2023, 1, 1)
    end = start + timedelta(days=args.days - 1)
    t = time.perf_counter()
    generate_landing(landing, seed=42, accounts=args.accounts, start=start, end=end, domains=("usage",))
    generated = time.perf_counter() - t
    print(
        f"generated {args.accounts} accounts x {args.days} days in {generated:.1f}s into {landing}",
        flush=True,
    )

    runs: dict[str, list[dict]] = {"bare": [], "pipeline": [], "pipeline+sqlite": []}
    if args.postgres:
        runs["pipeline+postgres"] = []
        database = _postgres_instance(work / "dagster_home_postgres")
    try:
        _run_all(runs, args.repeat, work, landing, start, end)
    finally:
        if args.postgres:
            _drop_database(database)
    summary = {}
    for name, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        summary[name] = {
            "seconds": seconds,
            "rows": results[0]["rows"],
            "rows_per_second": results[0]["rows"] / seconds,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        }
    bare = summary["bare"]["seconds"]
    for name in summary:
        if name != "bare":
            summary[name]["ratio_to_bare"] = summary[name]["seconds"] / bare
    lines_read, lines_quarantined = runs["pipeline"][0]["extra"]
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} cpus={_cpus()}",
        "command": f"python bench/ingest.py --accounts {args.accounts} --days {args.days} --repeat {args.repeat}",
        "accounts": args.accounts,
        "days": args.days,
        "wide_lines": int(lines_read),
        "lines_quarantined": int(lines_quarantined),
        "generate_seconds": generated,
        "variants": summary,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print("\n| variant | seconds (median) | rows | rows/s | peak RSS MB | ratio to bare DuckDB |")
    print("|---|---|---|---|---|---|")
    for name, s in summary.items():
        ratio = f"{s.get('ratio_to_bare', 1.0):.2f}x"
        print(
            f"| {name} | {s['seconds']:.2f} | {s['rows']:,} | {s['rows_per_second']:,.0f} | {s['peak_rss_mb']:.0f} | {ratio} |"
        )


def _postgres_instance(home: Path) -> str:
    """A throwaway database and a DAGSTER_HOME with deploy/dagster.yaml pointing at it (via DAGSTER_PG_*)."""
    import os
    import shutil
    import uuid

    name = f"revcast_bench_{uuid.uuid4().hex[:10]}"
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], check=True)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    os.environ.update(
        DAGSTER_PG_HOST="127.0.0.1", DAGSTER_PG_PORT="5432", DAGSTER_PG_DB=name,
        DAGSTER_PG_USER="postgres", DAGSTER_PG_PASSWORD="",
    )  # fmt: skip
    return name


def _drop_database(name: str) -> None:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", name], check=True)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
