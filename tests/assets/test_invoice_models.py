"""invoice_revenue_models / invoice_revenue_forecasts on the 20-account sample (sparse countries included)."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.invoices.models import invoice_revenue_forecasts, invoice_revenue_models
from assets.usage.models import usage_models
from revcast.forecasting import load_forecaster
from revcast.invoices import daily_revenue_sql, read_invoice_file
from revcast.invoices.models import window_total
from revcast.warehouse import connect

CUTOFF = "2023-11"
QUIET = {"console": {"config": {"log_level": "WARNING"}}}


def load_daily_revenue(warehouse_path: str, landing: Path) -> None:
    """features.invoice_daily_revenue from the sample's invoice files, through the real reader and SQL."""
    con = connect(warehouse_path)
    try:
        files = sorted((landing / "invoices").rglob("*.json"))
        for i, path in enumerate(files):
            batch = read_invoice_file(con, path)
            verb = "CREATE TABLE inv AS" if i == 0 else "INSERT INTO inv"
            con.execute(f"{verb} SELECT * FROM ({batch.clean.sql_query()})")
            batch.drop(con)
        window = {"start": date(2022, 1, 1), "end": date(2023, 12, 31)}
        con.execute(f"INSERT INTO features.invoice_daily_revenue BY NAME {daily_revenue_sql('inv')}", window)
        con.execute("DROP TABLE inv")
    finally:
        con.close()


def test_invoice_tournament_fallback_forecasts_and_shared_tables(
    usage_model_resources, sample_landing
) -> None:
    wh = usage_model_resources["warehouse"].path
    load_daily_revenue(wh, sample_landing)
    models = [
        "same_30_days_last_year",
        "auto_ets",
        "auto_theta",
        "croston_sba",
        "window_total",
        "revenue_net",
    ]
    cfg = {"net_epochs": 10, "n_windows": 4, "models": models, "top_k": 4}
    config = {"ops": {"invoice_revenue_models": {"config": cfg}}, "loggers": QUIET}
    result = dg.materialize(
        [invoice_revenue_models, invoice_revenue_forecasts],
        resources=usage_model_resources,
        partition_key=CUTOFF,
        run_config=config,
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    con = connect(wh, read_only=True)
    reg = con.execute("SELECT * FROM models.registry WHERE domain = 'invoices' AND cutoff = ?", [CUTOFF]).df()
    champ = reg[reg["is_champion"]].set_index("unique_id")
    assert len(champ) == 11 and "all" in champ.index  # top 10 countries + all
    assert all((Path(p) / "model.json").exists() for p in reg["artifact_path"])
    scores = con.execute("SELECT * FROM models.scores WHERE domain = 'invoices'").df()
    mase = scores.set_index(["unique_id", "model"])["mase"]
    # publishing rule: the mean of the four best single candidates (the baseline among them if it ranks);
    # where that cannot be formed, the baseline unless a challenger beat its backtest MASE by the 5% margin
    # (and its 30-day error on at least half of the folds)
    for uid, r in champ.iterrows():
        if r["model"] == "top_mean":
            members = json.loads(str(r["parameters"]))["members"]
            singles = mase[uid].drop(["combination", "top_mean"]).dropna().sort_values()
            assert set(members) == set(singles.index[:4])
            assert r["fallback_reason"].startswith(f"top_mean of {', '.join(singles.index[:4])}")
        else:
            assert (
                r["model"] == "previous_30_days"
                or mase[uid, r["model"]] <= 0.95 * mase[uid, "previous_30_days"]
            )
            assert pd.isna(r["fallback_reason"]) or (
                "no challenger beat previous_30_days by 5%" in r["fallback_reason"]
                or "backtest folds (below 50%)" in r["fallback_reason"]
            )
    assert (champ["model"] == "top_mean").sum() >= 6
    # intermittent-demand models compete on every series; only the pooled net skips the sparse countries
    assert set(scores.loc[scores["model"] == "croston_sba", "unique_id"]) == set(champ.index)
    assert scores.loc[scores["failure"].notna(), "model"].eq("revenue_net").all()
    assert scores.loc[scores["failure"].notna(), "failure"].str.contains("too sparse").all()
    dense = scores[(scores["unique_id"] == "all") & scores["failure"].isna()]
    assert {"auto_ets", "window_total", "combination", "revenue_net", "previous_30_days"} <= set(
        dense["model"]
    )
    assert dense.loc[dense["model"] != "top_mean", "n_folds"].eq(4).all()
    assert dense.loc[dense["model"] == "top_mean", "n_folds"].eq(1).all()  # only fold 4 has 3 ended before it

    fc = con.execute("SELECT * FROM forecasts.invoice_revenue_forecasts WHERE cutoff = ?", [CUTOFF]).df()
    assert len(fc) == 11 and fc["unique_id"].is_unique
    assert (fc["as_of"].astype(str) == "2023-12-01").all()
    v = fc[["lo_95", "lo_80", "revenue_30d", "hi_80", "hi_95"]].to_numpy()
    assert (v >= 0).all() and (v[:, :-1] <= v[:, 1:] + 1e-9).all()
    # the 'all' forecast is its champion artifact's 30-day sum, reproduced after reloading
    row = champ.loc["all"]
    again = load_forecaster(row["artifact_path"]).predict(30)
    total = window_total(again[again["unique_id"] == "all"])["yhat"].iloc[0]
    assert abs(max(total, 0) - fc.set_index("unique_id").loc["all", "revenue_30d"]) < 1e-6 * max(1, total)
    con.close()

    # one tournament code path: the usage domain writes the same models.* tables next to invoices
    usage_cfg = {"horizon": 28, "models": ["drift"]}
    run = dg.materialize(
        [usage_models],
        resources=usage_model_resources,
        partition_key=CUTOFF,
        run_config={"ops": {"usage_models": {"config": usage_cfg}}, "loggers": QUIET},
        raise_on_error=False,
    )
    assert run.get_asset_materialization_events()
    con = connect(wh, read_only=True)
    domains = con.execute("SELECT DISTINCT domain FROM models.scores ORDER BY domain").fetchall()
    assert domains == [("invoices",), ("usage",)]
    assert con.execute("SELECT count(*) FROM models.registry WHERE domain = 'invoices'").fetchall()[0][
        0
    ] == len(reg)
    con.close()
