"""Usage model tournament benchmark on the default demo data (500 accounts, 2021-01-01..2023-12-31).

    .venv/bin/python bench/usage_models.py [--workdir DIR] [--lstm-epochs 3] [--horizon 182] [--cutoff 2023-12]

Generates the sample landing zone into DIR (if missing) and loads clean.usage with usage_records, then runs
each tournament entry alone through `revcast.tournament.run_domain_tournament` (rolling-origin backtest,
3 folds, then the full-window fit and save) to time it, and prints the tournament table (MASE per metric),
the champion per metric vs seasonal naive, raw vs calibrated interval coverage (calibrated: leave-one-fold-out,
`revcast.forecasting.calibration`), and JSON under bench/results/usage_models.json.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--lstm-epochs", type=int, default=3)
    ap.add_argument("--horizon", type=int, default=182)
    ap.add_argument("--cutoff", default="2023-12")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="revcast_bench_"))
    import warnings

    warnings.filterwarnings("ignore")
    import pandas as pd

    from assets.usage.models import DAILY_TOTALS_SQL, UsageModelsConfig, usage_model_factories
    from revcast.tournament import default_artifact_dir, run_domain_tournament
    from revcast.warehouse import connect

    db = work / "revcast.duckdb"
    if not db.exists():
        import dagster as dg

        from assets.usage.ingest import usage_records
        from resources import LandingZoneResource, WarehouseResource
        from revcast.generate import generate_landing

        landing = work / "landing"
        generate_landing(landing, seed=42, accounts=500, start=date(2021, 1, 1), end=date(2023, 12, 31))
        dg.materialize(
            [usage_records],
            resources={
                "warehouse": WarehouseResource(path=str(db)),
                "landing": LandingZoneResource(root=str(landing)),
            },
            tags={
                "dagster/asset_partition_range_start": "2021-01-01",
                "dagster/asset_partition_range_end": "2023-12-31",
            },
        )
    last = pd.Period(args.cutoff, "M").end_time.date()
    con = connect(db, read_only=True)
    series = con.execute(DAILY_TOTALS_SQL, {"cutoff": last}).df()[["unique_id", "ds", "y"]]
    con.close()
    cfg = UsageModelsConfig(horizon=args.horizon, lstm_epochs=args.lstm_epochs)
    store = default_artifact_dir(work / "models")
    scores, timings = [], {}
    for name, make in usage_model_factories(cfg).items():
        t0 = time.perf_counter()
        t = run_domain_tournament(
            "usage", args.cutoff, series, {name: make}, h=args.horizon, artifact_dir=store
        )
        timings[name] = time.perf_counter() - t0
        scores.append(t.scores.assign(seconds=timings[name]))
        print(f"{name:>15}: {timings[name]:6.1f}s", flush=True)
    table = pd.concat(scores, ignore_index=True)
    table = table[
        [
            "unique_id",
            "model",
            "mase",
            "mae",
            "smape",
            "coverage_80",
            "coverage_95",
            "coverage_80_calibrated",
            "coverage_95_calibrated",
            "n_folds",
            "seconds",
        ]
    ]
    table = table.sort_values(["unique_id", "mase"]).reset_index(drop=True)
    best = table.groupby("unique_id").head(1).set_index("unique_id")
    naive = table[table["model"] == "seasonal_naive"].set_index("unique_id")
    champs = pd.DataFrame(
        {"champion": best["model"], "champion_mase": best["mase"], "seasonal_naive_mase": naive["mase"]}
    )
    champs["beats_naive"] = champs["champion_mase"] < champs["seasonal_naive_mase"]
    print(table.to_markdown(index=False, floatfmt=".4g"))
    print(champs.to_markdown(floatfmt=".4g"))
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "horizon": args.horizon,
        "folds": 3,
        "lstm_epochs": args.lstm_epochs,
        "timings_s": timings,
        "table": table.to_dict(orient="records"),
        "champions": champs.reset_index().to_dict(orient="records"),
    }
    path = ROOT / "bench" / "results" / "usage_models.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
