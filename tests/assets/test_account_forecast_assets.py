"""account_forecasts on the 20-account sample: one run per cutoff, every account and metric, registry rows."""

import dagster as dg

from assets.usage.accounts import account_forecasts, global_forecasts
from resources import DaskResource
from revcast.warehouse import connect

CUTOFF = "2023-11"


def test_account_forecasts_cover_every_account_and_metric(usage_model_resources):
    resources = usage_model_resources | {"dask": DaskResource()}
    config = {"forecast_size": 14, "arima_sample": 1}
    result = dg.materialize(
        [account_forecasts],
        resources=resources,
        partition_key=CUTOFF,
        run_config={"ops": {"account_forecasts": {"config": config}}},
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    con = connect(resources["warehouse"].path, read_only=True)
    fc = con.execute("SELECT * FROM forecasts.account_forecasts WHERE cutoff = ?", [CUTOFF]).df()
    active = con.execute(
        "SELECT count(DISTINCT (account_id, metric)) FROM features.usage_account_daily "
        "WHERE ds > DATE '2023-11-30' - INTERVAL 365 DAY AND ds <= DATE '2023-11-30'"
    ).fetchone()[0]
    assert fc.groupby(["account_id", "metric"]).size().eq(14).all()
    assert fc.groupby(["account_id", "metric"]).ngroups == active
    assert str(fc["ds"].min())[:10] == "2023-12-01"
    reg = con.execute(
        "SELECT * FROM models.registry WHERE domain = 'usage_accounts' AND cutoff = ?", [CUTOFF]
    ).df()
    assert len(reg) == active and reg["train_end"].astype(str).eq("2023-11-30").all()
    assert set(fc["model_id"]) == set(reg["model_id"])
    scores = con.execute(
        "SELECT model, count(*) FROM models.scores WHERE domain = 'usage_accounts' GROUP BY model"
    ).fetchall()
    assert {"batch_ets", "seasonal_naive", "auto_arima"} <= {m for m, _ in scores}
    meta = result.asset_materializations_for_node("account_forecasts")[0].metadata
    assert meta["series"].value == active


def test_global_forecasts_compare_three_methods(usage_model_resources):
    resources = usage_model_resources | {"dask": DaskResource()}
    config = {"forecast_size": 14, "arima_sample": 0}
    result = dg.materialize(
        [account_forecasts, global_forecasts],
        resources=resources,
        partition_key=CUTOFF,
        run_config={
            "ops": {
                "account_forecasts": {"config": config},
                "global_forecasts": {"config": {"forecast_size": 14, "patterns": 3}},
            }
        },
    )
    assert result.success
    con = connect(resources["warehouse"].path, read_only=True)
    fc = con.execute("SELECT * FROM forecasts.global_forecasts WHERE cutoff = ?", [CUTOFF]).df()
    assert fc.groupby(["method", "metric"]).size().eq(14).all()
    assert set(fc["method"]) == {"account_sum", "model_global", "pattern_global"}
    # the account sum is the per-account table summed
    total = con.execute(
        "SELECT sum(yhat) FROM forecasts.account_forecasts WHERE cutoff = ? AND metric = 'api_calls'",
        [CUTOFF],
    ).fetchall()[0][0]
    got = fc[(fc["method"] == "account_sum") & (fc["metric"] == "api_calls")]["yhat"].sum()
    assert abs(got - total) < 1e-6 * max(1.0, total)
    table = con.execute("SELECT * FROM marts.global_forecast_comparison WHERE cutoff = ?", [CUTOFF]).df()
    assert len(table) == 6 and table["mase"].notna().all()
