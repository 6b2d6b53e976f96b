"""The subscription plan's business logic on hand-computed examples (no Dagster)."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from revcast.subscriptions.ingest import SNAPSHOT_KEY, parse_installs, parse_purchases
from revcast.subscriptions.plan import PlanError, parse_plan
from revcast.subscriptions.revenue import (
    fallback_ratio,
    monthly_plan,
    new_revenue,
    recurrent_revenue,
    retention,
    revenue_plan,
)


def product(pid="1month_trial", price=5.99, share=1.0, t2p=0.5, actual=True, **extra):
    return {
        "product_id": pid,
        "price": price,
        "share": share,
        "trial2purchase": t2p,
        "actual": actual,
        **extra,
    }


def raw_plan(**platforms):
    default = {
        "iOS": {
            "install2access": {"default": 0.02, "2024-01": 0.03},
            "commission": [0.7, 0.85],
            "products": [product(), product("1year_trial", 19.99, share=0.0, t2p=0.35)],
        },
        "Android": {"install2access": 0.01, "commission": [0.8, 0.9], "products": [product()]},
    }
    return default | platforms


def installs_frame(platform: str, days, value: float) -> pd.DataFrame:
    ds = pd.to_datetime(list(days))
    return pd.DataFrame(
        {"platform": platform, "ds": ds, "yhat": value, "lo_80": 0.8 * value, "hi_80": 1.2 * value,
         "lo_95": 0.7 * value, "hi_95": 1.3 * value}
    )  # fmt: skip


def test_new_revenue_by_hand():
    plan = parse_plan(raw_plan())
    installs = installs_frame("iOS", ["2024-01-15"], 1000.0)
    row = new_revenue(pd.concat([installs, installs_frame("Android", ["2024-01-15"], 10.0)]), plan)
    ios = row[(row["platform"] == "iOS") & (row["product_id"] == "1month_trial")].iloc[0]
    # 1000 installs x 0.03 (January's install2access) x share 1.0 = 30 accesses; x 0.5 = 15 purchases
    assert ios["install2access"] == 0.03
    assert ios["accesses"] == pytest.approx(30.0)
    assert ios["purchases"] == pytest.approx(15.0)
    assert ios["revenue"] == pytest.approx(15 * 5.99 * 0.7)  # first-year commission
    assert ios["revenue_lo_80"] == pytest.approx(0.8 * 15 * 5.99 * 0.7)
    assert ios["purchases_hi_95"] == pytest.approx(1.3 * 15)
    android = row[row["platform"] == "Android"].iloc[0]
    assert android["revenue"] == pytest.approx(
        10 * 0.01 * 1.0 * 0.5 * 5.99 * 0.8
    )  # its own rate and commission
    # December: the default install2access
    dec = new_revenue(installs_frame("iOS", ["2023-12-15"], 1000.0).pipe(
        lambda f: pd.concat([f, installs_frame("Android", ["2023-12-15"], 0.0)])), plan)  # fmt: skip
    assert dec.loc[dec["platform"] == "iOS", "install2access"].iloc[0] == 0.02


def no_new_purchases(plan) -> pd.DataFrame:
    """New revenue of zero installs on the plan's first day (no forecast purchases)."""
    return new_revenue(pd.concat([installs_frame(p, ["2023-07-01"], 0.0) for p in plan.platforms]), plan)


def cohorts() -> pd.DataFrame:
    rows = [
        ("2023-01-10", "iOS", "1month_trial", 1, 1, 100),  # could renew by the cutoff
        ("2023-02-10", "iOS", "1month_trial", 1, 2, 60),
        ("2023-03-10", "iOS", "1month_trial", 1, 3, 20),  # < 30: ratios 2->3 and 3->4 fall back
        (
            "2023-06-20",
            "iOS",
            "1month_trial",
            1,
            1,
            50,
        ),  # renews 2023-07-20, after the cutoff: not in a ratio
        ("2022-07-10", "iOS", "1year_trial", 12, 1, 10),
    ]
    cols = ["purchase_date", "platform", "product_id", "duration", "billing_cycle", "purchases"]
    return pd.DataFrame(rows, columns=cols).assign(purchase_date=lambda f: pd.to_datetime(f["purchase_date"]))


def test_retention_on_a_constructed_cohort_table_with_fallbacks():
    plan = parse_plan(raw_plan())
    r = retention(cohorts(), plan, date(2023, 6, 30), date(2023, 10, 31))
    monthly = r[(r["platform"] == "iOS") & (r["product_id"] == "1month_trial")].set_index("billing_cycle")
    assert monthly.loc[1, "purchases_from"] == 100 and monthly.loc[1, "purchases_to"] == 60
    assert (
        monthly.loc[1, "renewal_ratio"] == pytest.approx(0.6) and monthly.loc[1, "ratio_source"] == "observed"
    )
    assert monthly.loc[2, "renewal_ratio"] == 0.8 and monthly.loc[2, "ratio_source"] == "fallback"
    assert monthly.loc[1:4, "retention"].tolist() == pytest.approx([1.0, 0.6, 0.48, 0.384])
    annual = r[(r["product_id"] == "1year_trial") & (r["platform"] == "iOS")].set_index("billing_cycle")
    assert annual.loc[1, "renewal_ratio"] == 0.5 and annual.loc[1, "ratio_source"] == "fallback"
    assert fallback_ratio(1, [12, 13]).tolist() == [0.8, 0.9]
    assert fallback_ratio(12, 30).tolist() == 0.5
    # Android has no history: every ratio is a fallback, curve from 1
    android = r[r["platform"] == "Android"]
    assert set(android["ratio_source"]) == {"fallback"} and android["retention"].iloc[0] == 1.0


def test_recurrent_revenue_by_hand_with_later_years_commission():
    plan = parse_plan(raw_plan())
    history = cohorts()
    r = retention(history, plan, date(2023, 6, 30), date(2023, 8, 31))
    new = no_new_purchases(plan)
    rec = recurrent_revenue(history, new, r, plan, date(2023, 6, 30), date(2023, 7, 1), date(2023, 8, 31))
    got = {(str(d.date()), p, c): (n, rev) for d, p, c, n, rev in
           rec.loc[rec["purchases"] > 0, ["ds", "product_id", "billing_cycle", "purchases", "revenue"]]
           .itertuples(index=False)}  # fmt: skip
    # the 50 purchases of 2023-06-20 renew on 07-20 (x 0.6) and 08-20 (x 0.6 x 0.8)
    assert got[("2023-07-20", "1month_trial", 2)][0] == pytest.approx(30.0)
    assert got[("2023-08-20", "1month_trial", 3)][0] == pytest.approx(24.0)
    assert got[("2023-07-20", "1month_trial", 2)][1] == pytest.approx(30 * 5.99 * 0.7)
    # the annual purchase of 2022-07-10 renews on 2023-07-10 into its second year: later-years commission
    assert got[("2023-07-10", "1year_trial", 2)] == pytest.approx((5.0, 5 * 19.99 * 0.85))
    # purchases whose next renewal was already observed (2023-01..03) do not renew again
    assert len(got) == 3


def test_recurrent_revenue_stays_on_its_platform():
    """The source added every platform's renewals into each platform (and priced them with one platform's
    plan): here only iOS has history, so Android's recurrent revenue must be zero."""
    plan = parse_plan(raw_plan())
    history = cohorts()
    r = retention(history, plan, date(2023, 6, 30), date(2023, 8, 31))
    new = no_new_purchases(plan)
    rec = recurrent_revenue(history, new, r, plan, date(2023, 6, 30), date(2023, 7, 1), date(2023, 8, 31))
    daily = revenue_plan(new, rec, list(plan.platforms), date(2023, 7, 1), date(2023, 8, 31))
    by = daily[daily["revenue_type"] == "recurrent"].groupby("platform")["revenue"].sum()
    assert by["iOS"] == pytest.approx(rec["revenue"].sum()) and by["iOS"] > 0
    assert by["Android"] == 0.0
    # Android's own renewals use Android's price list and commission
    android_hist = history[history["duration"] == 1].assign(platform="Android")
    rec2 = recurrent_revenue(android_hist, new, retention(android_hist, plan, date(2023, 6, 30), date(2023, 8, 31)),
                             plan, date(2023, 6, 30), date(2023, 7, 1), date(2023, 8, 31))  # fmt: skip
    renewing = rec2[rec2["purchases"] > 0]
    assert set(renewing["platform"]) == {"Android"}
    assert set(renewing["commission"]) == {0.8}


def test_total_across_platforms_counts_each_platform_once():
    """The source summed iOS twice for the total; here iOS and Android differ, so the defect would show."""
    plan = parse_plan(
        raw_plan(Web={"install2access": 0.001, "commission": [1.0, 1.0], "products": [product()]})
    )
    days = pd.date_range("2024-01-01", "2024-02-29")
    installs = pd.concat(
        [installs_frame(p, days, v) for p, v in (("iOS", 1000), ("Android", 3000), ("Web", 500))]
    )
    new = new_revenue(installs, plan)
    daily = revenue_plan(new, new.iloc[0:0], list(plan.platforms), date(2024, 1, 1), date(2024, 2, 29))
    one = daily[daily["ds"] == "2024-01-10"].set_index(["platform", "revenue_type"])["revenue"]
    ios, android, web = one[("iOS", "new")], one[("Android", "new")], one[("Web", "new")]
    assert ios != android
    assert one[("all", "new")] == pytest.approx(ios + android + web)
    assert one[("all", "total")] == pytest.approx(one[("iOS", "total")] + one[("Android", "total")] + web)
    monthly = monthly_plan(daily).set_index(["month", "platform", "revenue_type"])
    jan = pd.Timestamp("2024-01-01")
    assert monthly.loc[(jan, "all", "new"), "revenue"] == pytest.approx(31 * (ios + android + web))
    assert monthly.loc[(jan, "all", "new"), "days"] == 31


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p["iOS"]["products"][0].update(share=0.9),
            "iOS.products: shares of the actual products sum to 0.9",
        ),
        (
            lambda p: p["iOS"]["install2access"].pop("default"),
            "iOS.install2access: per-month values need a 'default'",
        ),
        (
            lambda p: p["Android"].update(commission=[0.7]),
            "Android.commission: expected [first year, later years]",
        ),
        (lambda p: p["iOS"]["products"][1].update(price=-1), "iOS.products[1].price: -1 is outside"),
        (
            lambda p: p["Android"]["products"][0].pop("trial2purchase"),
            "Android.products[0].trial2purchase: missing",
        ),
        (lambda p: p["iOS"]["install2access"].update({"2024-13": 0.1}), "month key '2024-13' is not YYYY-MM"),
        (lambda p: p["Android"].update(install2access=1.5), "Android.install2access: 1.5 is outside [0, 1]"),
        (
            lambda p: p["iOS"]["products"][0].update(actual="yes"),
            "iOS.products[0].actual: expected true or false",
        ),
    ],
)
def test_plan_validation_names_the_field(change, message):
    raw = raw_plan()
    raw["iOS"]["install2access"] = dict(raw["iOS"]["install2access"])
    change(raw)
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse_plan(raw)


def test_plan_rejects_a_product_it_does_not_know():
    plan = parse_plan(raw_plan())
    history = cohorts()
    history.loc[len(history)] = [pd.Timestamp("2023-01-01"), "Android", "1year_vip", 12, 1, 3]
    with pytest.raises(PlanError, match="'1year_vip' on Android"):
        plan.check_products(history)


def test_plan_period_default_and_configured():
    plan = parse_plan(raw_plan())
    assert plan.period(date(2023, 12, 31)) == (date(2024, 1, 1), date(2024, 4, 30))
    fixed = parse_plan(raw_plan() | {"plan_start": "2024-02-01", "plan_end": "2024-03-31"})
    assert fixed.period(date(2023, 12, 31)) == (date(2024, 2, 1), date(2024, 3, 31))
    with pytest.raises(PlanError, match="plan_start 2024-02-01 is on or before"):
        fixed.period(date(2024, 2, 29))


def test_ingest_quarantines_bad_lines_whole(tmp_path):
    installs = tmp_path / "installs.csv"
    installs.write_text("date,iOS,Android,Web\n2024-01-01,10,20,5\n2024-01-02,-3,20,5\n2024-01-01,1,2,3\n"
                        "2024-01-03,1.5,2,\n")  # fmt: skip
    batch = parse_installs([(SNAPSHOT_KEY, [installs])])
    assert batch.counts.to_pylist()[0] | {"partition_key": None} == {
        "partition_key": None, "lines_read": 4, "lines_clean": 1, "lines_quarantined": 3, "rows_written": 3,
    }  # fmt: skip
    reasons = batch.quarantine["reason"].to_pylist()
    assert "iOS installs '-3' is not a whole number >= 0" in reasons[0]
    assert reasons[1] == "duplicate of line 2"
    assert "iOS installs '1.5'" in reasons[2] and "missing Web installs" in reasons[2]
    purchases = tmp_path / "recurrent.csv"
    purchases.write_text("date,platform,product_id,duration,billing_cycle,purchases\n"
                         "2024-01-01,iOS,1month_trial,1,1,4\n2024-01-01,iOS,1month_trial,6,0,4\n")  # fmt: skip
    batch = parse_purchases([(SNAPSHOT_KEY, [purchases])])
    assert batch.clean.num_rows == 1
    assert batch.quarantine["reason"].to_pylist() == [
        "duration '6' is not 1 or 12 (months); billing_cycle 0 is below 1"
    ]


def test_prophet_is_deterministic_reloads_and_knows_both_countries_holidays(tmp_path):
    from revcast.forecasting import load_forecaster
    from revcast.forecasting.prophet import ProphetForecaster, holiday_frame

    hol = holiday_frame(["US", "GB"], range(2023, 2024))
    assert {"Independence Day", "Boxing Day"} <= set(hol["holiday"])
    assert (hol["holiday"] == "Christmas Day").sum() == 1  # shared by name and day: one effect
    ds = pd.date_range("2023-01-01", "2023-12-31")
    rng = np.random.default_rng(0)
    y = 100 + 10 * (ds.dayofweek >= 5) + rng.normal(0, 2, len(ds))
    df = pd.DataFrame({"unique_id": "iOS", "ds": ds, "y": y})
    model = ProphetForecaster(uncertainty_samples=100).fit(df)
    a, b = model.predict(14), ProphetForecaster(uncertainty_samples=100).fit(df).predict(14)
    pd.testing.assert_frame_equal(a, b)
    assert (
        (a["lo_95"] <= a["lo_80"]).all()
        and (a["lo_80"] <= a["yhat"]).all()
        and (a["hi_80"] <= a["hi_95"]).all()
    )
    weekend = a[a["ds"].dt.dayofweek >= 5]["yhat"].mean() - a[a["ds"].dt.dayofweek < 5]["yhat"].mean()
    assert weekend == pytest.approx(10, abs=2)
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(load_forecaster(tmp_path / "m").predict(14), a)
