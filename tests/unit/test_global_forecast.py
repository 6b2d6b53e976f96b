"""Global forecasts: the pattern method reduces to the per-account sum, k-means patterns, the comparison table."""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from revcast.generate.usage import simulate_usage
from revcast.usage.accounts import split_ids
from revcast.usage.global_forecast import (
    METHODS,
    account_sum,
    batch_forecast,
    cluster_patterns,
    compare_global,
    pattern_global,
)

H = 14


def always_active(n_accounts: int = 12, days: int = 90, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    frames = []
    for i in range(n_accounts):
        for metric, base in (("api_calls", 100.0), ("storage_gb", 5.0)):
            y = base * (1 + i) * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 7)) + rng.gamma(2, 1 + i, days)
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": f"A{i:02d}:{metric}",
                        "ds": pd.date_range("2023-01-01", periods=days),
                        "y": y,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_pattern_forecast_is_the_account_sum_when_every_account_is_its_own_pattern():
    series = always_active()
    per_account = batch_forecast(series, H)
    ids = split_ids(per_account["unique_id"])
    expected = account_sum(per_account.assign(account_id=ids["account_id"], metric=ids["metric"]))
    got = pattern_global(series, H, k=1000)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-9)


def test_patterns_group_similar_accounts_and_shares_sum_to_one():
    series = always_active(20)
    # half the accounts are weekend-only users: a different weekday shape
    ids = split_ids(series["unique_id"])
    weekend = series["ds"].dt.weekday >= 5
    odd = ids["account_id"].str[1:].astype(int) % 2 == 1
    series.loc[odd & ~weekend, "y"] = 0.0
    p = cluster_patterns(series, k=2)
    api = p.members[p.members["metric"] == "api_calls"].set_index("account_id")["pattern"]
    odd_ids = [f"A{i:02d}" for i in range(1, 20, 2)]
    assert (
        api[odd_ids].nunique() == 1
        and api.drop(odd_ids).nunique() == 1
        and api[odd_ids].iloc[0] != api.drop(odd_ids).iloc[0]
    )
    assert p.shares.groupby("metric")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])


def test_the_three_methods_are_compared_on_a_held_out_window():
    days = [date(2023, 3, 1) + timedelta(days=i) for i in range(120)]
    sim = simulate_usage(np.random.default_rng(5), 30, days)
    ds = pd.to_datetime(days)
    frames = [
        pd.DataFrame({"unique_id": f"C{i:06d}:{metric}", "ds": ds, "y": mat[:, i].astype(float)})
        for metric, mat in (("api_calls", sim["api"]), ("storage_gb", sim["storage"]))
        for i in range(30)
    ]
    table = compare_global(pd.concat(frames, ignore_index=True), H, k=4)
    assert set(table["method"]) == set(METHODS) and set(table["metric"]) == {"api_calls", "storage_gb"}
    assert (table["days"] == H).all()
    # every method forecasts the right order of magnitude of the held-out total
    assert table["total_error_pct"].abs().max() < 50
    assert table["mase"].notna().all()
