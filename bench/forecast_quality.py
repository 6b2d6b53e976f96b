"""Forecast quality of the published invoice revenue forecasts, scored on what happened next.

    .venv/bin/python bench/forecast_quality.py --profile hard --cutoffs 12 [--skip-latest 4] [--accounts 500] [--usage]
        [--model-config '{"net_epochs": 20}'] [--json bench/results/forecast_quality_hard.json]

Generates a landing zone (`--profile kind|hard`, seed 42, 2021-01-01..2023-12-31 by default) into a temp
workdir, loads it through the public assets in-process (invoice_records for every month, then the invoice
series/features assets), and for each of the last `--cutoffs` month-end cutoffs whose next 30 days are in the
data (12: cutoffs 2022-12..2023-11) materializes invoice_revenue_models + invoice_revenue_forecasts for that
cutoff. Each published 30-day revenue (forecasts.invoice_revenue_forecasts) is scored against the actual
revenue of the 30 days from `as_of` (features.invoice_daily_revenue), next to the previous-30-days baseline
(the revenue of the 30 days before `as_of`). Per series: MAE(published) / MAE(previous 30 days) over the
cutoffs, and the share of cutoffs whose actual fell inside the published 80% and 95% intervals.

`--usage` also loads usage (usage_records, usage_daily_totals, usage_features) and runs usage_models at the
data's last month (`--usage-cutoff`), reporting the champion MASE per metric and the tournament's wall time.
Only asset names, partition keys and asset config are used, so the script outlives the engine behind them.

`--rescore A.json [B.json] [--months 2023-05..2023-11]` runs nothing: it scores the saved rows of earlier
runs together, e.g. the two halves of a year split with `--skip-latest`, or a sub-window of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
WINDOW = 30
GOOD, BAD = 0.85, 1.0  # the goal: at most 0.85x on 8 of 11 series, none above 1.0x

SCORE_SQL = """
WITH f AS (SELECT * FROM forecasts.invoice_revenue_forecasts WHERE cutoff = $cutoff)
SELECT f.cutoff, f.unique_id, f.model, f.as_of, f.revenue_30d AS published,
       f.lo_80, f.hi_80, f.lo_95, f.hi_95,
       coalesce(sum(d.revenue) FILTER (WHERE d.ds >= f.as_of AND d.ds < f.as_of + INTERVAL 30 DAY), 0) AS actual,
       coalesce(sum(d.revenue) FILTER (WHERE d.ds < f.as_of AND d.ds >= f.as_of - INTERVAL 30 DAY), 0)
           AS previous_30_days
FROM f LEFT JOIN features.invoice_daily_revenue d
  ON d.unique_id = f.unique_id AND d.ds >= f.as_of - INTERVAL 30 DAY AND d.ds < f.as_of + INTERVAL 30 DAY
GROUP BY ALL ORDER BY f.unique_id
"""


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["kind", "hard"], default="hard")
    ap.add_argument(
        "--cutoffs", type=int, default=12, help="month-end cutoffs, the latest ones with 30 days after"
    )
    ap.add_argument(
        "--skip-latest",
        type=int,
        default=0,
        help="leave out the latest N of those (to split a long run in two)",
    )
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default="2021-01-01")
    ap.add_argument("--end", default="2023-12-31")
    ap.add_argument("--workdir", default=None, help="reuses a landing zone and loaded data found there")
    ap.add_argument("--model-config", default="{}", help="JSON run config of invoice_revenue_models")
    ap.add_argument("--usage", action="store_true", help="also run usage_models (slow)")
    ap.add_argument("--usage-cutoff", default=None, help="YYYY-MM, default the last month of the data")
    ap.add_argument("--usage-config", default="{}", help="JSON run config of usage_models")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument(
        "--rescore",
        nargs="+",
        default=None,
        metavar="JSON",
        help="run nothing: score the rows of earlier --json results together (e.g. the two halves of a split run)",
    )
    ap.add_argument("--months", default=None, help="with --rescore, only cutoffs FROM..TO (YYYY-MM..YYYY-MM)")
    return ap.parse_args()


def machine() -> str:
    """CPU model and count, as lscpu reports them."""
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"
    except (OSError, subprocess.CalledProcessError):
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def materialize_whole_range(dg, assets: list, resources: dict) -> None:
    """Materialize assets over every partition they have (one single-run backfill per partitions definition)."""
    groups: dict[object, list] = {}
    for a in assets:
        groups.setdefault(a.partitions_def, []).append(a)
    for partitions_def, group in groups.items():
        tags = {}
        if partitions_def is not None:
            keys = partitions_def.get_partition_keys()
            tags = {
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            }
        result = dg.materialize(group, resources=resources, tags=tags, run_config=QUIET, raise_on_error=False)
        if not result.success:
            raise SystemExit(f"loading {[a.key.to_user_string() for a in group]} failed")


def cutoff_key(partitions_def, month: str) -> str:
    """The partition key of the cutoff month YYYY-MM, whatever the key format."""
    import pandas as pd

    start = pd.Timestamp(f"{month}-01", tz="UTC")
    return partitions_def.get_partition_key_for_timestamp(start.timestamp())


def invoice_quality(args, dg, resources: dict, con_factory) -> dict:
    """Run the invoice tournament at each cutoff and score the published forecasts on the next 30 days."""
    import pandas as pd

    from assets.invoices import invoice_revenue_forecasts, invoice_revenue_models

    end = pd.Timestamp(args.end)
    last = (end - pd.Timedelta(days=WINDOW)).to_period("M")  # latest cutoff with 30 observed days after it
    if (last + 1).start_time + pd.Timedelta(days=WINDOW - 1) > end:
        last -= 1
    months = [str(last - k) for k in range(args.cutoffs - 1, args.skip_latest - 1, -1)]
    config = {"ops": {"invoice_revenue_models": {"config": json.loads(args.model_config)}}} | QUIET
    rows, timings = [], {}
    for month in months:
        t0 = time.perf_counter()
        result = dg.materialize(
            [invoice_revenue_models, invoice_revenue_forecasts],
            resources=resources,
            partition_key=cutoff_key(invoice_revenue_models.partitions_def, month),
            run_config=config,
            raise_on_error=False,
        )
        timings[month] = time.perf_counter() - t0
        if not result.success:
            print(f"cutoff {month}: the tournament run failed; skipped", flush=True)
            continue
        with con_factory() as con:
            scored = con.execute(SCORE_SQL, {"cutoff": month}).df()
        rows.append(scored)
        print(f"cutoff {month}: {timings[month]:.1f} s, {len(scored)} series", flush=True)
    return {
        "cutoffs": months,
        "tournament_s": {"total": sum(timings.values()), "per_cutoff": timings},
        **score_summary(pd.concat(rows, ignore_index=True)),
    }


def score_summary(scores) -> dict:
    """Per series MAE(published) / MAE(previous 30 days) and interval coverage over the scored cutoffs, the
    goal's counts, and the total error ratio over all series and over the series below the two largest."""
    scores = scores.copy()
    scores["err_published"] = (scores["published"] - scores["actual"]).abs()
    scores["err_previous"] = (scores["previous_30_days"] - scores["actual"]).abs()
    scores["in_80"] = scores["actual"].between(scores["lo_80"], scores["hi_80"])
    scores["in_95"] = scores["actual"].between(scores["lo_95"], scores["hi_95"])
    per = scores.groupby("unique_id").agg(
        cutoffs=("cutoff", "size"),
        mae_published=("err_published", "mean"),
        mae_previous_30_days=("err_previous", "mean"),
        coverage_80=("in_80", "mean"),
        coverage_95=("in_95", "mean"),
        models=("model", lambda m: ", ".join(f"{k} {v}" for k, v in m.value_counts().items())),
    )
    per.insert(3, "ratio", per["mae_published"] / per["mae_previous_30_days"])
    per = per.sort_values("mae_previous_30_days", ascending=False).reset_index()
    small = scores[~scores["unique_id"].isin(per["unique_id"].head(2))]  # the total and the dominant country
    return {
        "series": int(len(per)),
        "at_most_0.85": int((per["ratio"] <= GOOD).sum()),
        "above_1.0": int((per["ratio"] > BAD).sum()),
        "total_ratio": float(scores["err_published"].sum() / scores["err_previous"].sum()),
        "small_series_ratio": float(small["err_published"].sum() / small["err_previous"].sum()),
        "median_ratio": float(per["ratio"].median()),
        "coverage_80": float(scores["in_80"].mean()),
        "coverage_95": float(scores["in_95"].mean()),
        "per_series": per.to_dict(orient="records"),
        "rows": scores.astype({"as_of": str}).to_dict(orient="records"),
    }


def usage_quality(args, dg, resources: dict, con_factory) -> dict:
    """Load usage, run usage_models at one cutoff, and read its champion MASE per metric."""
    import assets.usage as usage_group

    data = [getattr(usage_group, n) for n in ("usage_records", "usage_daily_totals", "usage_features")
            if hasattr(usage_group, n)]  # fmt: skip
    t0 = time.perf_counter()
    materialize_whole_range(dg, data, resources)
    load_s = time.perf_counter() - t0
    month = args.usage_cutoff or args.end[:7]
    models = usage_group.usage_models
    config = {"ops": {"usage_models": {"config": json.loads(args.usage_config)}}} | QUIET
    t0 = time.perf_counter()
    result = dg.materialize(
        [models],
        resources=resources,
        partition_key=cutoff_key(models.partitions_def, month),
        run_config=config,
        raise_on_error=False,
    )
    seconds = time.perf_counter() - t0
    with con_factory() as con:
        champions = con.execute(
            "SELECT unique_id AS metric, model, mase, mae, coverage_80, coverage_95 FROM models.scores "
            "WHERE domain = 'usage' AND cutoff = ? AND is_champion ORDER BY unique_id",
            [month],
        ).df()
    return {
        "cutoff": month,
        "run_succeeded": bool(result.success),
        "load_s": load_s,
        "tournament_s": seconds,
        "champions": champions.to_dict(orient="records"),
    }


def report(out: dict) -> str:
    """The results as markdown."""
    import pandas as pd

    inv = out["invoices"]
    per = pd.DataFrame(inv["per_series"])
    lines = [
        f"profile {out['profile']}, {out['accounts']} accounts, seed {out['seed']}, {out['start']}..{out['end']}, "
        f"cutoffs {inv['cutoffs'][0]}..{inv['cutoffs'][-1]} ({len(inv['cutoffs'])})",
        "",
        per[
            [
                "unique_id",
                "cutoffs",
                "mae_published",
                "mae_previous_30_days",
                "ratio",
                "coverage_80",
                "coverage_95",
                "models",
            ]
        ].to_markdown(index=False, floatfmt=",.3g"),  # fmt: skip
        "",
        f"series at most {GOOD}x: {inv['at_most_0.85']} of {inv['series']}; above {BAD}x: {inv['above_1.0']}; "
        f"total error / baseline's: {inv['total_ratio']:.3f}, without the two largest series: "
        f"{inv['small_series_ratio']:.3f}; median ratio {inv['median_ratio']:.3f}; "
        f"coverage 80%: {inv['coverage_80']:.2f}, 95%: {inv['coverage_95']:.2f}; "
        f"invoice tournament + forecasts: {inv['tournament_s']['total']:.0f} s for {len(inv['cutoffs'])} cutoffs "
        f"({inv['tournament_s']['total'] / max(len(inv['cutoffs']), 1):.0f} s each)",
    ]
    if "usage" in out:
        u = out["usage"]
        lines += [
            "",
            f"usage_models at cutoff {u['cutoff']}: {u['tournament_s']:.0f} s (run succeeded: {u['run_succeeded']})",
            "",
            pd.DataFrame(u["champions"]).to_markdown(index=False, floatfmt=".4g"),
        ]
    return "\n".join(lines)


def load_invoices(args, work: Path, usage: bool = False) -> dict:
    """Generate the landing zone into `work` and load invoices through the assets (once); the resources."""
    import dagster as dg

    from assets.invoices import invoice_daily_revenue, invoice_features, invoice_records
    from resources import LandingZoneResource, ModelStoreResource, WarehouseResource
    from revcast.generate import generate_landing

    landing, db = work / "landing", work / "revcast.duckdb"
    domains = ["invoices", "pricing"] + (["usage"] if usage else [])
    t0 = time.perf_counter()
    if not (landing / "_manifest.json").exists():
        generate_landing(
            landing,
            seed=args.seed,
            accounts=args.accounts,
            start=date.fromisoformat(args.start),
            end=date.fromisoformat(args.end),
            domains=domains,
            profile=args.profile,
        )
    resources = {
        "warehouse": WarehouseResource(path=str(db)),
        "landing": LandingZoneResource(root=str(landing)),
        "model_store": ModelStoreResource(root=str(work / "models")),
    }
    if not db.exists():
        materialize_whole_range(dg, [invoice_records], resources)
        materialize_whole_range(dg, [invoice_daily_revenue, invoice_features], resources)
    print(f"data ready in {time.perf_counter() - t0:.1f} s under {work}", flush=True)
    return resources


def rescore(paths: list[str], months: str | None) -> dict:
    """Earlier results' rows scored together (a cutoff found twice keeps its latest run), optionally only
    the cutoffs FROM..TO; the metadata of the first file."""
    import pandas as pd

    runs = [json.loads(Path(p).read_text()) for p in paths]
    rows = pd.concat([pd.DataFrame(r["invoices"]["rows"]) for r in runs], ignore_index=True)
    rows = rows.drop_duplicates(["cutoff", "unique_id"], keep="last")
    if months:
        first, last = months.split("..")
        rows = rows[rows["cutoff"].between(first, last)]
    timings = {m: t for r in runs for m, t in r["invoices"]["tournament_s"]["per_cutoff"].items()}
    cutoffs = sorted(rows["cutoff"].unique())
    per_cutoff = {m: timings[m] for m in cutoffs if m in timings}
    return runs[0] | {
        "rescored_from": paths,
        "invoices": {
            "cutoffs": cutoffs,
            "tournament_s": {"total": sum(per_cutoff.values()), "per_cutoff": per_cutoff},
            **score_summary(rows),
        },
    }


def main() -> None:
    args = parse_args()
    if args.rescore:
        out = rescore(args.rescore, args.months)
        print(report(out))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix=f"revcast_quality_{args.profile}_"))
    # partitions are defined at import time from these
    os.environ["REVCAST_START_DATE"], os.environ["REVCAST_END_DATE"] = args.start, args.end
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    resources = load_invoices(args, work, usage=args.usage)

    def con_factory():
        return resources["warehouse"].connect(read_only=True)

    out = {
        "machine": machine(),
        "date": date.today().isoformat(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "profile": args.profile,
        "accounts": args.accounts,
        "seed": args.seed,
        "start": args.start,
        "end": args.end,
        "model_config": json.loads(args.model_config),
        "invoices": invoice_quality(args, dg, resources, con_factory),
    }
    if args.usage:
        out["usage"] = usage_quality(args, dg, resources, con_factory)
    print(report(out))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
