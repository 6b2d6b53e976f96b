"""usage_models / usage_forecasts on the 20-account sample: registry, artifacts, champion gate, forecasts."""

import dagster as dg
import pandas as pd

from assets.usage.models import usage_forecasts, usage_models
from revcast.forecasting import load_forecaster
from revcast.warehouse import connect

CUTOFF = "2023-11"
H = 28


def run_config(force: str | None, models: list[str] | None, names: list[str]) -> dict:
    models = {
        "horizon": H,
        "lstm_lags": 14,
        "lstm_epochs": 2,
        "lstm_patience": 1,
        "force_champion": force,
        "models": models,
    }
    return {
        "ops": {
            k: v
            for k, v in {
                "usage_models": {"config": models},
                "usage_forecasts": {"config": {"horizon": H}},
            }.items()
            if k in names
        },
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }


def materialize(
    resources: dict, force: str | None = None, models=None, assets=None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets or [usage_models, usage_forecasts],
        resources=resources,
        partition_key=CUTOFF,
        run_config=run_config(
            force, models, [a.key.to_user_string() for a in assets or [usage_models, usage_forecasts]]
        ),
        raise_on_error=False,
    )


def gate(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (ev,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "usage_champion_beats_naive"]
    return ev


def test_usage_tournament_forecasts_and_rerun(usage_model_resources) -> None:
    result = materialize(usage_model_resources)
    assert result.success
    assert gate(result).passed
    con = connect(usage_model_resources["warehouse"].path, read_only=True)
    reg = con.execute("SELECT * FROM models.registry WHERE domain = 'usage' AND cutoff = ?", [CUTOFF]).df()
    assert set(reg["unique_id"]) == {"api_calls", "storage_gb"}
    assert reg["is_champion"].all() and len(reg) == 2  # the registry holds what is published
    assert reg["train_end"].astype(str).eq("2023-11-30").all()
    assert all((pd.io.common.Path(p) / "model.json").exists() for p in reg["artifact_path"])
    scores = con.execute("SELECT * FROM models.scores WHERE domain = 'usage'").df()
    scored = scores[scores["failure"].isna()]
    assert {"seasonal_naive", "drift", "auto_ets", "auto_arima", "auto_theta", "lstm", "combination"} <= set(
        scored["model"]
    )
    assert scored["n_folds"].min() >= 3
    # under two years of history: MSTL's yearly season is refused up front, with the reason
    mstl = scores[scores["model"] == "mstl"]
    assert len(mstl) == 2 and mstl["failure"].str.contains("screened out: mstl").all()
    fc = con.execute(
        "SELECT * FROM forecasts.usage_forecasts WHERE cutoff = ? ORDER BY metric, ds", [CUTOFF]
    ).df()
    assert fc.groupby("metric")["horizon"].agg(["count", "min", "max"]).eq([H, 1, H]).all().all()
    assert str(fc["ds"].min())[:10] == "2023-12-01"
    cols = ["lo_95", "lo_80", "yhat", "hi_80", "hi_95"]
    v = fc[cols].to_numpy()
    assert (v >= 0).all() and (v[:, :-1] <= v[:, 1:] + 1e-9).all()
    champ = reg[reg["is_champion"]].set_index("unique_id")
    fc_api = fc[fc["metric"] == "api_calls"]
    again = load_forecaster(champ.loc["api_calls", "artifact_path"]).predict(H)
    again = again[again["unique_id"] == "api_calls"]["yhat"].clip(lower=0).to_numpy()
    assert abs(again - fc_api["yhat"].to_numpy()).max() < 1e-6
    n_fc = len(fc)
    con.close()

    # forecasts rerun: the cutoff's rows are replaced, not duplicated
    assert materialize(usage_model_resources, assets=[usage_forecasts]).success
    con = connect(usage_model_resources["warehouse"].path, read_only=True)
    assert con.execute("SELECT count(*) FROM forecasts.usage_forecasts").fetchall()[0][0] == n_fc
    con.close()

    # a rerun of the same cutoff (baselines + ETS only) with the champion forced to drift: the gate fails
    # and the cutoff's models.* rows are replaced by the new tournament's
    forced = materialize(
        usage_model_resources, force="drift", models=["drift", "auto_ets"], assets=[usage_models]
    )
    assert not forced.success
    ev = gate(forced)
    assert not ev.passed
    meta = ev.metadata
    assert "MASE" in meta["api_calls"].value and "seasonal_naive" in meta["api_calls"].value
    worse = [
        m
        for m in ("api_calls", "storage_gb")
        if meta[f"{m}_champion_mase"].value >= meta[f"{m}_seasonal_naive_mase"].value
    ]
    assert worse  # drift's MASE is not below seasonal naive's on at least one metric: both numbers shown
    con = connect(usage_model_resources["warehouse"].path, read_only=True)
    reg = con.execute("SELECT model, is_champion FROM models.registry WHERE domain = 'usage'").df()
    assert len(reg) == 2 and set(reg["model"]) == {"drift"} and reg["is_champion"].all()
    n_scores = con.execute("SELECT count(*) FROM models.scores WHERE domain = 'usage'").fetchall()[0][0]
    assert n_scores == 6
    folds = con.execute("SELECT DISTINCT model FROM models.backtests WHERE domain = 'usage'").fetchall()
    assert {m for (m,) in folds} == {"seasonal_naive", "drift", "auto_ets"}
    con.close()
