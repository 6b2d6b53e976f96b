"""The usage profile's per-account aggregates, computed in DuckDB, against pandas and numpy on the same rows."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from revcast.usage.profile import ROBUST_Z, build_profile, read_profile_inputs
from revcast.warehouse import apply_ddl


@pytest.fixture()
def account_daily() -> pd.DataFrame:
    """Unkind per-account days: spiky and intermittent accounts, a flat one (MAD 0), even and odd day counts."""
    rng = np.random.default_rng(7)
    rows = []
    days = pd.date_range("2023-01-01", periods=60, freq="D")
    for metric, scale in (("api_calls", 1000.0), ("storage_gb", 3.0)):
        for i in range(40):
            n = 60 - (i % 2)  # even and odd counts: the median interpolates
            q = rng.lognormal(np.log(scale), 0.6 + 0.05 * (i % 5), n)
            if i % 7 == 0:
                q[rng.choice(n, 3, replace=False)] *= 40  # spikes
            if i % 11 == 0:
                q[rng.random(n) < 0.5] = 0.0  # intermittent
            if i == 3:
                q[:] = scale  # flat: MAD 0, no z-score
            rows.append(
                pd.DataFrame({"account_id": f"A{i:03d}", "metric": metric, "ds": days[:n], "quantity": q})
            )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture()
def con(account_daily):
    con = duckdb.connect()
    apply_ddl(con)
    con.register("frame", account_daily)
    con.execute(
        "INSERT INTO features.usage_account_daily SELECT account_id, metric, ds::DATE, quantity FROM frame"
    )
    con.execute(
        "INSERT INTO features.usage_daily_totals (metric, ds, quantity, active_accounts) "
        "SELECT metric, ds::DATE, sum(quantity), count(*) FILTER (WHERE quantity > 0) FROM frame GROUP BY ALL"
    )
    yield con
    con.close()


def test_account_aggregates_match_pandas(con, account_daily):
    inputs = read_profile_inputs(con, top=50)
    expected_totals = account_daily.groupby(["metric", "account_id"])["quantity"].sum()
    got_totals = inputs.account_totals.set_index(["metric", "account_id"])["quantity"]
    pd.testing.assert_series_equal(got_totals.sort_index(), expected_totals.sort_index(), check_names=False)

    g = account_daily.groupby(["metric", "account_id"])["quantity"]
    median = g.transform("median")
    mad = (
        (account_daily["quantity"] - median)
        .abs()
        .groupby([account_daily["metric"], account_daily["account_id"]])
        .transform("median")
    )
    z = (0.6745 * (account_daily["quantity"] - median) / mad.where(mad > 0)).abs()
    flagged = (
        account_daily.assign(z=z)[z > ROBUST_Z].groupby(["metric", "account_id"])["z"].agg(["size", "max"])
    )
    got = inputs.account_outliers.set_index(["metric", "account_id"]).sort_index()
    assert len(flagged) > 5 and list(got.index) == list(flagged.index)
    np.testing.assert_array_equal(got["outlier_days"], flagged["size"])
    np.testing.assert_allclose(got["max_abs_z"], flagged["max"], rtol=1e-12)
    assert ("api_calls", "A003") not in got.index  # MAD 0: no z-score, never flagged

    for metric, rows in account_daily[account_daily["quantity"] > 0].groupby("metric"):
        counts, edges = np.histogram(np.log10(rows["quantity"]), bins=50)
        bins = inputs.account_day_histogram[inputs.account_day_histogram["metric"] == metric]
        got_counts = np.zeros(50, dtype=int)
        got_counts[bins["bin"]] = bins["account_days"]
        np.testing.assert_array_equal(got_counts, counts)
        assert bins["lo"].iloc[0] == pytest.approx(edges[0]) and bins["hi"].iloc[0] == pytest.approx(
            edges[-1]
        )


def test_top_outlier_accounts_are_capped_per_metric(con):
    capped = read_profile_inputs(con, top=2).account_outliers
    assert capped.groupby("metric").size().max() == 2
    full = read_profile_inputs(con, top=50).account_outliers
    expected = full.groupby("metric").head(2).reset_index(drop=True)  # already ordered: most days, largest z
    pd.testing.assert_frame_equal(capped, expected)


def test_profile_from_warehouse_aggregates(con, account_daily):
    profile = build_profile(read_profile_inputs(con))
    per_account = account_daily.groupby(["metric", "account_id"])["quantity"].sum()
    api = per_account.loc["api_calls"]
    assert profile.heavy.set_index("metric").loc["api_calls", "top_10pct_share"] == pytest.approx(
        api.nlargest(4).sum() / api.sum()
    )
    last = profile.pareto.groupby("metric").tail(1)
    np.testing.assert_allclose(last["usage_share"], 1.0)
    np.testing.assert_allclose(last["account_share"], 1.0)
    assert profile.account_outliers.groupby("metric").size().max() <= 10
    assert set(profile.figures) >= {"distributions", "pareto"}
