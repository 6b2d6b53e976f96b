"""Nightly refresh of one day against the full-history build, usage domain, for several history lengths.

    .venv/bin/python bench/incremental.py [--accounts 10000] [--years 1 2 3] [--repeat 1] [--workdir DIR]
    .venv/bin/python bench/incremental.py --accounts 200 --days 60          # a quick check of the script

One landing zone (`revcast.generate`, default profile, usage only) covers the longest history, ending
2023-12-31, plus one more day, 2024-01-01, which is held back from the landing zone until the nightly run.
A history of N years starts N years before 2024-01-01 (REVCAST_START_DATE); shorter histories read the
later part of the same files, so every variant's new day is the same day with the same lines.

Per history and repeat, in a fresh warehouse and a fresh temp SQLite Dagster instance:
  full     one fresh subprocess, from an empty warehouse, partitions through 2023-12-31:
           ingest   the usage part of daily_ingest_job (usage_records, usage_daily_totals and their
                    checks) as one single-run backfill over every day of the history
           refresh  the usage part of nightly_refresh_job (usage_features, usage_profile,
                    usage_forecast_accuracy and their checks)
           (setup, not timed: usage_models and usage_forecasts for cutoff 2023-12 -- the monthly retrain,
           which the nightly jobs never run; the tournament is restricted to seasonal naive, one fold)
           marts    nightly_marts_job for cutoff 2023-12 (usage_revenue, revenue, revenue_exports,
                    revenue_dashboard and their checks)
  nightly  the held-back day lands; another fresh subprocess on the same warehouse and instance, partitions
           through 2024-01-01: daily_ingest_job's usage part for partition 2024-01-01, then the same refresh
           and marts selections (what nightly_schedule and nightly_refresh_sensor would start).
The BAS and subscription assets of the nightly jobs are left out (no such data is generated). Each step is
timed around its dg.materialize call, and every Dagster step inside it from its STEP_START to its
STEP_SUCCESS events; the median over `--repeat` is reported.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAST_DAY = date(2023, 12, 31)  # the history's last day; its month is the cutoff the marts use
NEW_DAY = LAST_DAY + timedelta(days=1)
CUTOFF = LAST_DAY.strftime("%Y-%m")
STEPS = ("ingest", "refresh", "marts")


def _selections(defs):
    """The usage domain's share of the nightly jobs' selections, taken from pipelines/automation.py."""
    import dagster as dg

    from pipelines import automation

    usage = dg.AssetSelection.groups("usage")
    freshness = dg.AssetSelection.checks(*automation.daily_freshness_checks)
    return {
        "ingest": (dg.AssetSelection.assets(*automation.DAILY_ASSETS) & usage) - freshness,
        "refresh": automation.NIGHTLY_REFRESH & usage,
        "marts": dg.AssetSelection.assets(*automation.NIGHTLY_MARTS),
    }


def _run_phase(phase: str, home: str, first: str, last: str, horizon: int) -> None:
    """In a child process (env already set): run one phase's steps; print one JSON line of timings."""
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.from_config(home)
    assets = [*defs.assets, *(defs.asset_checks or [])]
    selections = _selections(defs)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    report: dict = {"steps": {}, "dagster_steps": {}}

    def materialize(name, selection, *, partition_key=None, tags=None, run_config=None, timed=True):
        started = time.perf_counter()
        result = dg.materialize(
            assets,
            selection=selection,
            instance=instance,
            resources=defs.resources,
            partition_key=partition_key,
            tags=tags,
            run_config={**quiet, **(run_config or {})},
            raise_on_error=False,
        )
        seconds = time.perf_counter() - started
        if not result.success:
            failures = [e.message for e in result.all_events if e.is_failure]
            raise SystemExit(f"{name} failed: {failures[:3]}")
        if timed:
            report["steps"][name] = seconds
            report["dagster_steps"][name] = _step_seconds(instance, result.run_id)
        else:
            report.setdefault("untimed", {})[name] = seconds
        return result

    if phase == "full":
        materialize(
            "ingest",
            selections["ingest"],
            tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        )
        materialize("refresh", selections["refresh"])
        training = {
            "ops": {
                "usage_models": {
                    "config": {"models": ["seasonal_naive"], "n_windows": 1, "horizon": horizon}
                },
                "usage_forecasts": {"config": {"horizon": horizon}},
            }
        }
        materialize(
            "train",
            dg.AssetSelection.assets("usage_models", "usage_forecasts"),
            partition_key=CUTOFF,
            run_config=training,
            timed=False,
        )
    else:
        materialize("ingest", selections["ingest"], partition_key=last)
        materialize("refresh", selections["refresh"])
    materialize("marts", selections["marts"], partition_key=CUTOFF)
    report["rows"] = _rows(os.environ["REVCAST_WAREHOUSE"])
    print(json.dumps(report))


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    """Seconds of each Dagster step of a run, from its STEP_START to its STEP_SUCCESS event."""
    import dagster as dg

    starts, seconds = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and entry.step_key in starts:
            seconds[entry.step_key] = entry.timestamp - starts[entry.step_key]
    return seconds


def _rows(warehouse: str) -> dict[str, int]:
    """Row counts of the tables whose size grows with the history."""
    import duckdb

    tables = (
        "clean.usage",
        "features.usage_account_daily",
        "features.usage_daily_totals",
        "features.usage_features",
        "marts.usage_revenue_daily",
        "marts.revenue",
    )
    with duckdb.connect(warehouse, read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def run_phase(phase: str, work: Path, landing: Path, first: date, last: date, horizon: int) -> dict:
    """One phase in a fresh subprocess; its printed timings plus the process's own wall time."""
    env = os.environ | {
        "REVCAST_LANDING": str(landing),
        "REVCAST_WAREHOUSE": str(work / "warehouse" / "revcast.duckdb"),
        "REVCAST_MODEL_STORE": str(work / "warehouse" / "models"),
        "REVCAST_START_DATE": first.isoformat(),
        "REVCAST_END_DATE": last.isoformat(),
    }
    args = [phase, str(work / "dagster_home"), first.isoformat(), last.isoformat(), str(horizon)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--phase", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    result["seconds"] = sum(result["steps"].values())
    return result


def measure(landing: Path, held: Path, work: Path, first: date, horizon: int) -> dict:
    """Full build through LAST_DAY, then the new day lands and the nightly work runs, in a fresh workdir."""
    day = landing / "usage" / f"date={NEW_DAY.isoformat()}"
    (work / "warehouse").mkdir(parents=True)
    (work / "dagster_home").mkdir()
    if day.exists():
        shutil.move(day, held)
    full = run_phase("full", work, landing, first, LAST_DAY, horizon)
    shutil.move(held, day)
    nightly = run_phase("nightly", work, landing, first, NEW_DAY, horizon)
    return {"full": full, "nightly": nightly}


def _median_steps(runs: list[dict], phase: str) -> dict:
    """Median seconds per step and per Dagster step of one phase over the repeats."""
    steps = {s: statistics.median(r[phase]["steps"][s] for r in runs) for s in STEPS}
    inner = {}
    for s in STEPS:
        keys = runs[0][phase]["dagster_steps"][s]
        inner[s] = {
            k: statistics.median(r[phase]["dagster_steps"][s].get(k, 0.0) for r in runs) for k in keys
        }
    return {
        "seconds": statistics.median(r[phase]["seconds"] for r in runs),
        "process_seconds": statistics.median(r[phase]["process_seconds"] for r in runs),
        "steps": steps,
        "dagster_steps": inner,
        "rows": runs[-1][phase]["rows"],
    }


def _machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "node": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "ram_gib": round(ram, 1),
        "load_average_at_start": os.getloadavg()[0],
    }


def _markdown(report: dict) -> str:
    """The summary tables for BENCHMARKS.md."""
    lines = [
        "| history | days | clean.usage rows | full build s | nightly s | nightly / full |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for label, h in report["histories"].items():
        lines.append(
            f"| {label} | {h['days']} | {h['full']['rows']['clean.usage']:,} | {h['full']['seconds']:.1f} "
            f"| {h['nightly']['seconds']:.1f} | {h['ratio']:.1%} |"
        )
    lines += ["", "| history | phase | " + " | ".join(STEPS) + " |", "|---|---|--:|--:|--:|"]
    for label, h in report["histories"].items():
        for phase in ("full", "nightly"):
            cells = " | ".join(f"{h[phase]['steps'][s]:.1f}" for s in STEPS)
            lines.append(f"| {label} | {phase} | {cells} |")
    keys = sorted(
        {k for h in report["histories"].values() for s in STEPS for k in h["nightly"]["dagster_steps"][s]}
    )
    labels = list(report["histories"])
    lines += ["", "| nightly Dagster step | " + " | ".join(labels) + " |", "|---|" + "--:|" * len(labels)]
    for k in keys:
        cells = []
        for h in report["histories"].values():
            value = next(
                (h["nightly"]["dagster_steps"][s][k] for s in STEPS if k in h["nightly"]["dagster_steps"][s]),
                None,
            )
            cells.append("" if value is None else f"{value:.2f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--years", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--days", type=int, nargs="+", help="history lengths in days (instead of --years)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--phase", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.phase:
        phase, home, first, last, horizon = args.phase
        _run_phase(phase, home, first, last, int(horizon))
        return

    from revcast.generate import generate_landing

    histories = {}
    for n in args.days or []:
        histories[f"{n} days"] = LAST_DAY - timedelta(days=n - 1)
    for n in [] if args.days else args.years:
        histories[f"{n} year{'s' * (n > 1)}"] = NEW_DAY.replace(year=NEW_DAY.year - n)
    machine = _machine()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="revcast-incremental-"))
    landing = work / "landing"
    earliest = min(histories.values())
    t = time.perf_counter()
    generate_landing(
        landing, seed=42, accounts=args.accounts, start=earliest, end=NEW_DAY, domains=("usage",)
    )
    generated = time.perf_counter() - t
    print(
        f"generated {args.accounts} accounts, {earliest}..{NEW_DAY}, in {generated:.1f}s into {landing}",
        flush=True,
    )

    results = {}
    for label, first in histories.items():
        days = (LAST_DAY - first).days + 1
        horizon = 182 if days >= 365 else 28  # the forecast horizon the setup trains for
        runs = []
        for i in range(args.repeat):
            run_work = work / f"{label.replace(' ', '_')}_{i}"
            run = measure(landing, work / "held", run_work, first, horizon)
            shutil.rmtree(run_work)
            runs.append(run)
            print(
                f"  {label} run {i + 1}: full {run['full']['seconds']:.1f}s {run['full']['steps']}"
                f" (setup {run['full']['untimed']['train']:.1f}s untimed)  nightly {run['nightly']['seconds']:.1f}s"
                f" {run['nightly']['steps']}",
                flush=True,
            )
        full, nightly = _median_steps(runs, "full"), _median_steps(runs, "nightly")
        results[label] = {
            "first_day": first.isoformat(),
            "days": days,
            "full": full,
            "nightly": nightly,
            "ratio": nightly["seconds"] / full["seconds"],
            "setup_train_seconds": statistics.median(r["full"]["untimed"]["train"] for r in runs),
        }
    command = "python bench/incremental.py --accounts {} {} --repeat {}".format(
        args.accounts,
        f"--days {' '.join(map(str, args.days))}"
        if args.days
        else f"--years {' '.join(map(str, args.years))}",
        args.repeat,
    )
    report = {
        "date": date.today().isoformat(),
        "machine": machine,
        "command": command,
        "accounts": args.accounts,
        "new_day": NEW_DAY.isoformat(),
        "cutoff": CUTOFF,
        "generate_seconds": generated,
        "histories": results,
    }
    if not args.workdir:
        shutil.rmtree(work)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "incremental.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    print(_markdown(report))


if __name__ == "__main__":
    main()
