"""Usage model tournament benchmark on the default demo data (500 accounts, 2021-01-01..2023-12-31).

    .venv/bin/python bench/usage_models.py [--workdir DIR] [--lstm-epochs 3] [--horizon 182] [--cutoff 2023-12]

Generates the sample landing zone into DIR (if missing) and loads it with usage_records, usage_daily_totals
and usage_features, then runs the usage tournament (`revcast.tournament.run_domain_tournament` with the
asset's defaults: rolling origins, the combination, the publishing margin) on the feature table through the
cutoff, and prints the tournament table (MASE per metric, raw and leave-one-fold-out calibrated coverage),
the published champion per metric against seasonal naive, the wall time, and JSON under
bench/results/usage_models.json.
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

    from assets.usage.models import BASELINE, COMBINED, UsageModelsConfig, usage_model_factories
    from revcast.tournament import default_artifact_dir, run_domain_tournament
    from revcast.usage.training import training_series
    from revcast.warehouse import connect

    db = work / "revcast.duckdb"
    if not db.exists():
        import dagster as dg

        from assets.usage.features import usage_daily_totals, usage_features
        from assets.usage.ingest import usage_records
        from resources import LandingZoneResource, WarehouseResource
        from revcast.generate import generate_landing

        landing = work / "landing"
        generate_landing(landing, seed=42, accounts=500, start=date(2021, 1, 1), end=date(2023, 12, 31))
        resources = {
            "warehouse": WarehouseResource(path=str(db)),
            "landing": LandingZoneResource(root=str(landing)),
        }
        tags = {
            "dagster/asset_partition_range_start": "2021-01-01",
            "dagster/asset_partition_range_end": "2023-12-31",
        }
        dg.materialize([usage_records, usage_daily_totals], resources=resources, tags=tags)
        dg.materialize([usage_features], resources=resources)
    last = pd.Period(args.cutoff, "M").end_time.date()
    con = connect(db, read_only=True)
    series = training_series(con, last)[["unique_id", "ds", "y"]]
    con.close()
    cfg = UsageModelsConfig(horizon=args.horizon, lstm_epochs=args.lstm_epochs)
    t0 = time.perf_counter()
    t = run_domain_tournament(
        "usage",
        args.cutoff,
        series,
        usage_model_factories(cfg),
        h=args.horizon,
        n_windows=cfg.n_windows,
        step=cfg.fold_step,
        baseline=BASELINE,
        combine=COMBINED,
        margin=cfg.margin,
        artifact_dir=default_artifact_dir(work / "models"),
    )
    seconds = time.perf_counter() - t0
    print(f"tournament: {seconds:.1f}s", flush=True)
    table = t.scores[t.scores["failure"].isna()]
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
        ]
    ]
    table = table.sort_values(["unique_id", "mase"]).reset_index(drop=True)
    champs = t.champions.set_index("unique_id")[["model", "mase", "baseline_mase", "beats_baseline"]]
    print(table.to_markdown(index=False, floatfmt=".4g"))
    print(champs.to_markdown(floatfmt=".4g"))
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "horizon": args.horizon,
        "folds": cfg.n_windows,
        "lstm_epochs": args.lstm_epochs,
        "tournament_s": seconds,
        "table": table.to_dict(orient="records"),
        "champions": champs.reset_index().to_dict(orient="records"),
    }
    path = ROOT / "bench" / "results" / "usage_models.json"
    path.write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
