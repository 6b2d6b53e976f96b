"""pricing_scenarios on the sample: every example pricing model rated on the forecast usage against production."""

import dagster as dg
import pytest

from assets.billing.scenarios import pricing_scenarios
from assets.usage.accounts import account_forecasts
from resources import DaskResource
from revcast.warehouse import connect

CUTOFF = "2023-11"


def test_pricing_scenarios_against_production(usage_model_resources):
    resources = usage_model_resources | {"dask": DaskResource()}
    result = dg.materialize(
        [account_forecasts, pricing_scenarios],
        resources=resources,
        partition_key=CUTOFF,
        run_config={"ops": {"account_forecasts": {"config": {"forecast_size": 14, "arima_sample": 0}}}},
    )
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    con = connect(resources["warehouse"].path, read_only=True)
    s = con.execute(
        "SELECT * FROM marts.pricing_scenarios WHERE cutoff = ? AND segment = 'all' ORDER BY pricing_model",
        [CUTOFF],
    ).df()
    assert set(s["pricing_model"]) == {"storage_premium", "usage_tiers", "volume_discount"}
    api, storage = con.execute(
        "SELECT sum(yhat) FILTER (WHERE metric = 'api_calls'), sum(yhat) FILTER (WHERE metric = 'storage_gb') "
        "FROM forecasts.account_forecasts WHERE cutoff = ?",
        [CUTOFF],
    ).fetchall()[0]
    row = s.set_index("pricing_model")
    assert row.loc["volume_discount", "production_revenue"] == pytest.approx(0.2 * api + 0.1 * storage)
    # the sample's accounts are all C0000xx: every API call 0.15 instead of 0.20
    assert row.loc["volume_discount", "difference"] == pytest.approx(-0.05 * api)
    assert row.loc["storage_premium", "difference"] == pytest.approx(0.02 * storage - 0.02 * api)
    # segments add up to the whole
    seg = con.execute(
        "SELECT pricing_model, sum(candidate_revenue) FROM marts.pricing_scenarios WHERE cutoff = ? AND segment <> 'all' "
        "GROUP BY ALL",
        [CUTOFF],
    ).fetchall()
    assert {m: pytest.approx(v) for m, v in seg} == dict(
        zip(row.index, row["candidate_revenue"], strict=True)
    )
    movers = con.execute(
        "SELECT pricing_model, direction, count(*) FROM marts.pricing_scenario_accounts WHERE cutoff = ? GROUP BY ALL",
        [CUTOFF],
    ).fetchall()
    assert ("volume_discount", "falls", row.loc["volume_discount", "accounts_falling"]) in movers
    bills = con.execute(
        "SELECT count(DISTINCT target) FROM billing.bills WHERE run = 'scenarios/2023-11'"
    ).fetchall()
    assert bills[0][0] == 4
    meta = result.asset_materializations_for_node("pricing_scenarios")[0].metadata
    assert "data:image/png;base64," in meta["plot"].value
