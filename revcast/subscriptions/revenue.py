"""The subscription revenue plan: new revenue from forecast installs, retention by billing cycle, recurrent
revenue of every purchase that falls due inside the plan period, and the plan per day and platform.

Everything is linear in the installs forecast, so the plan's 80/95 % bounds are the plan computed on the
installs bounds (`SCENARIOS`); summed over days or platforms they are comonotone (conservative) bounds.
Counts are expected values (fractions kept): rounding each day's and product's purchases down would lose
revenue systematically. Every step is computed per platform; only `revenue_plan` adds platforms together.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from revcast.subscriptions.plan import SubscriptionPlan

SCENARIOS = ("yhat", "lo_80", "hi_80", "lo_95", "hi_95")  # the installs forecast columns
BOUNDS = SCENARIOS[1:]
REVENUE_TYPES = ("new", "recurrent", "total")
ALL_PLATFORMS = "all"  # the platform label of the total across platforms
MIN_PURCHASES = 30  # a renewal ratio needs this many purchases on both sides, else the fallback applies


def fallback_ratio(duration, billing_cycle) -> np.ndarray:
    """The assumed renewal ratio of cycle i -> i+1: 0.8 monthly up to cycle 12, 0.9 monthly later, 0.5 annual."""
    duration, cycle = np.broadcast_arrays(np.asarray(duration), np.asarray(billing_cycle))
    unknown = ~np.isin(duration, (1, 12))
    if unknown.any():
        raise ValueError(f"unknown product duration {duration[unknown][0]} (expected 1 or 12 months)")
    return np.where(duration == 12, 0.5, np.where(cycle <= 12, 0.8, 0.9))


def commission_rate(plan: SubscriptionPlan, platform: str, duration, billing_cycle) -> np.ndarray:
    """The store's share kept by the company: first-year rate, later-years rate from a subscription's 13th month
    on (monthly cycle > 12, annual cycle > 1)."""
    pp = plan.platforms[platform]
    later = (np.asarray(billing_cycle) - 1) * np.asarray(duration) >= 12
    return np.where(later, pp.commission_later_years, pp.commission_first_year)


def add_months(days: pd.Series | np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """The same day of the month `months` later, clipped to that month's last day (datetime64[D])."""
    d = np.asarray(days, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    k = np.asarray(months).astype("timedelta64[M]")
    last = (m + k + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    return np.minimum((m + k).astype("datetime64[D]") + (d - m.astype("datetime64[D]")), last)


def new_revenue(installs: pd.DataFrame, plan: SubscriptionPlan) -> pd.DataFrame:
    """Per day, platform and actual product: installs x install2access (of that month) x share = accesses;
    x trial2purchase = purchases; x price x first-year commission = revenue.

    `installs` has platform, ds and the forecast columns of SCENARIOS; each bound gets its own purchases_* and
    revenue_* column. Platforms without a plan (e.g. Web, which sells nothing in the app stores) are left out.
    """
    missing = sorted(set(plan.platforms) - set(installs["platform"]))
    if missing:
        raise ValueError(f"no installs forecast for plan platform(s) {', '.join(missing)}")
    frames = []
    for name, pp in plan.platforms.items():
        days = installs[installs["platform"] == name].sort_values("ds")
        products = pd.DataFrame(
            [
                {"product_id": p.product_id, "duration": p.duration, "price": p.price, "share": p.share,
                 "trial2purchase": p.trial2purchase}
                for p in pp.products if p.actual
            ]
        )  # fmt: skip
        frame = days.assign(
            ds=pd.to_datetime(days["ds"]), install2access=pp.install2access(days["ds"])
        ).merge(products, how="cross")
        frame["commission"] = pp.commission_first_year
        rate = frame["install2access"] * frame["share"]
        frame["installs"] = frame["yhat"]
        frame["accesses"] = frame["yhat"] * rate
        for s in SCENARIOS:
            suffix = "" if s == "yhat" else f"_{s}"
            frame[f"purchases{suffix}"] = frame[s] * rate * frame["trial2purchase"]
            frame[f"revenue{suffix}"] = frame[f"purchases{suffix}"] * frame["price"] * frame["commission"]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    cols = [
        "ds", "platform", "product_id", "duration", "installs", "install2access", "share", "trial2purchase",
        "price", "commission", "accesses", "purchases", *(f"purchases_{b}" for b in BOUNDS),
        "revenue", *(f"revenue_{b}" for b in BOUNDS),
    ]  # fmt: skip
    return out[cols].sort_values(["ds", "platform", "product_id"]).reset_index(drop=True)


def retention(
    purchases: pd.DataFrame, plan: SubscriptionPlan, history_end: date, plan_end: date
) -> pd.DataFrame:
    """Renewal ratios per (platform, product, duration) and billing cycle, and the retention curve.

    `purchases` (purchase_date, platform, product_id, duration, billing_cycle, purchases) is the history
    through `history_end`. The ratio of cycle i -> i+1 is the purchases in cycle i+1 over the purchases in
    cycle i of the cohorts that could have renewed by `history_end` (renewal date on or before it); with
    fewer than MIN_PURCHASES on either side it is the fallback (`fallback_ratio`), and `ratio_source` says
    which. `retention` is the share of a cycle-1 cohort still subscribed in cycle i (1 at cycle 1). Cycles
    run far enough for every renewal up to `plan_end`, for every product of the plan.
    """
    hist = purchases.assign(purchase_date=pd.to_datetime(purchases["purchase_date"]))
    hist = hist[hist["purchase_date"] <= pd.Timestamp(history_end)]
    renews_by = add_months(hist["purchase_date"].to_numpy(), hist["duration"].to_numpy())
    could = hist[renews_by <= np.datetime64(history_end, "D")]
    keys = ["platform", "product_id", "duration", "billing_cycle"]
    from_ = could.groupby(keys)["purchases"].sum().rename("purchases_from")
    to = hist.groupby(keys)["purchases"].sum()
    to.index = to.index.set_levels(to.index.levels[3] - 1, level=3)  # cycle i+1 counts for ratio i
    to = to.rename("purchases_to")

    end = pd.Timestamp(plan_end)
    span = (end.year - pd.Timestamp(history_end).year) * 12 + end.month - pd.Timestamp(history_end).month + 1
    observed = hist.groupby(["platform", "product_id", "duration"])["billing_cycle"].max()
    rows = []
    for name, pp in plan.platforms.items():
        for p in pp.products:
            top = int(observed.get((name, p.product_id, p.duration), 1)) + span // p.duration + 2
            rows += [(name, p.product_id, p.duration, c) for c in range(1, top + 1)]
    # every (platform, product, duration) of the history too (an old plan may have another duration)
    for (name, pid, duration), top in observed.items():
        rows += [(name, pid, duration, c) for c in range(1, int(top) + span // duration + 3)]
    out = pd.DataFrame(rows, columns=keys).drop_duplicates()
    out = out.join(from_, on=keys).join(to, on=keys)
    out[["purchases_from", "purchases_to"]] = (
        out[["purchases_from", "purchases_to"]].fillna(0).astype("int64")
    )
    supported = (out["purchases_from"] >= MIN_PURCHASES) & (out["purchases_to"] >= MIN_PURCHASES)
    fallback = fallback_ratio(out["duration"].to_numpy(), out["billing_cycle"].to_numpy())
    observed_ratio = out["purchases_to"] / out["purchases_from"].where(out["purchases_from"] > 0)
    out["renewal_ratio"] = np.where(supported, observed_ratio, fallback)
    out["ratio_source"] = np.where(supported, "observed", "fallback")
    out = out.sort_values(keys).reset_index(drop=True)
    survival = out.groupby(keys[:3], sort=False)["renewal_ratio"].transform(
        lambda r: np.concatenate([[1.0], np.cumprod(r.to_numpy()[:-1])])
    )
    out["retention"] = survival
    return out[[*keys, "renewal_ratio", "ratio_source", "purchases_from", "purchases_to", "retention"]]


def recurrent_revenue(
    history: pd.DataFrame,
    new: pd.DataFrame,
    ratios: pd.DataFrame,
    plan: SubscriptionPlan,
    history_end: date,
    plan_start: date,
    plan_end: date,
) -> pd.DataFrame:
    """Expected renewals falling due in [plan_start, plan_end] and their revenue, per platform.

    Every purchase whose next renewal lies after `history_end` (historical ones, origin `history`, and the
    forecast new purchases, origin `new`) renews k times at k x duration months after its date, each time
    with the renewal ratio of the cycle it leaves. Revenue = renewals x price x commission (later-years rate
    from the 13th month on). Bounds come from the new purchases' bounds (history has none).
    """
    plan.check_products(history)
    hist = history.assign(ds=pd.to_datetime(history["purchase_date"]))
    hist = hist[hist["ds"] <= pd.Timestamp(history_end)]
    next_due = add_months(hist["ds"].to_numpy(), hist["duration"].to_numpy())
    hist = hist[next_due > np.datetime64(history_end, "D")]
    value_cols = ["purchases", *(f"purchases_{b}" for b in BOUNDS)]
    base_hist = hist[["ds", "platform", "product_id", "duration", "billing_cycle"]].assign(origin="history")
    for c in value_cols:
        base_hist[c] = hist["purchases"].astype(float)
    base_new = new[["ds", "platform", "product_id", "duration", *value_cols]].assign(
        ds=pd.to_datetime(new["ds"]), billing_cycle=1, origin="new"
    )
    base = pd.concat([base_hist, base_new], ignore_index=True)
    base = base[base["platform"].isin(list(plan.platforms))]
    ratio = ratios.set_index(["platform", "product_id", "duration", "billing_cycle"])["renewal_ratio"]
    start, end = np.datetime64(plan_start, "D"), np.datetime64(plan_end, "D")
    frames, factor, k = [], np.ones(len(base)), 1
    while len(base):
        leaving = pd.MultiIndex.from_arrays(
            [base["platform"], base["product_id"], base["duration"], base["billing_cycle"] + k - 1]
        )
        r = ratio.reindex(leaving).to_numpy()
        if np.isnan(r).any():
            gap = leaving[np.isnan(r)][0]
            raise ValueError(f"no renewal ratio for {gap} (platform, product, duration, billing cycle)")
        factor = factor * r
        due = add_months(base["ds"].to_numpy(), base["duration"].to_numpy() * k)
        inside = (due >= start) & (due <= end)
        if inside.any():
            part = base.loc[inside, ["platform", "product_id", "duration", "origin"]].copy()
            part["ds"] = due[inside].astype("datetime64[ns]")
            part["billing_cycle"] = base.loc[inside, "billing_cycle"].to_numpy() + k
            for c in value_cols:
                part[c] = base.loc[inside, c].to_numpy() * factor[inside]
            frames.append(part)
        keep = due <= end
        base, factor, k = base[keep], factor[keep], k + 1
    keys = ["ds", "platform", "product_id", "duration", "billing_cycle", "origin"]
    if not frames:
        return pd.DataFrame(columns=[*keys, *value_cols, "price", "commission", "revenue",
                                     *(f"revenue_{b}" for b in BOUNDS)])  # fmt: skip
    out = pd.concat(frames, ignore_index=True).groupby(keys, as_index=False)[value_cols].sum()
    prices = {(n, p.product_id): p.price for n, pp in plan.platforms.items() for p in pp.products}
    out["price"] = [prices[(n, p)] for n, p in zip(out["platform"], out["product_id"], strict=True)]
    out["commission"] = 0.0
    for name in out["platform"].unique():
        rows = out["platform"] == name
        out.loc[rows, "commission"] = commission_rate(
            plan, name, out.loc[rows, "duration"].to_numpy(), out.loc[rows, "billing_cycle"].to_numpy()
        )
    for c in value_cols:
        out[c.replace("purchases", "revenue")] = out[c] * out["price"] * out["commission"]
    return out.sort_values(keys).reset_index(drop=True)


def revenue_plan(
    new: pd.DataFrame, recurrent: pd.DataFrame, platforms: list[str], plan_start: date, plan_end: date
) -> pd.DataFrame:
    """The plan: per day in [plan_start, plan_end] and platform, revenue of each type in REVENUE_TYPES with
    80/95 % bounds; platform `all` is the sum over every platform (each counted once)."""
    days = pd.date_range(plan_start, plan_end, freq="D")
    grid = pd.MultiIndex.from_product([days, platforms], names=["ds", "platform"])
    cols = ["revenue", *(f"revenue_{b}" for b in BOUNDS)]

    def daily(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame(0.0, index=grid, columns=cols)
        f = frame.assign(ds=pd.to_datetime(frame["ds"]))
        return f.groupby(["ds", "platform"])[cols].sum().reindex(grid, fill_value=0.0)

    parts = {"new": daily(new), "recurrent": daily(recurrent)}
    parts["total"] = parts["new"] + parts["recurrent"]
    frames = []
    for kind in REVENUE_TYPES:
        per_platform = parts[kind]
        total = per_platform.groupby(level="ds").sum()
        total.index = pd.MultiIndex.from_arrays(
            [total.index, [ALL_PLATFORMS] * len(total)], names=["ds", "platform"]
        )
        frames.append(pd.concat([per_platform, total]).reset_index().assign(revenue_type=kind))
    out = pd.concat(frames, ignore_index=True).rename(columns={f"revenue_{b}": b for b in BOUNDS})
    order = {p: i for i, p in enumerate([*platforms, ALL_PLATFORMS])}
    out["_p"] = out["platform"].map(order)
    out["_t"] = out["revenue_type"].map({t: i for i, t in enumerate(REVENUE_TYPES)})
    out = out.sort_values(["ds", "_p", "_t"]).drop(columns=["_p", "_t"]).reset_index(drop=True)
    return out[["ds", "platform", "revenue_type", "revenue", *BOUNDS]]


def monthly_plan(daily: pd.DataFrame) -> pd.DataFrame:
    """The plan summed per calendar month (bounds summed too: comonotone, so conservative)."""
    month = pd.to_datetime(daily["ds"]).dt.to_period("M").dt.to_timestamp()
    out = daily.assign(month=month).groupby(["month", "platform", "revenue_type"], sort=False, as_index=False)
    out = out.agg(days=("ds", "nunique"), revenue=("revenue", "sum"), **{b: (b, "sum") for b in BOUNDS})
    return out[["month", "platform", "revenue_type", "days", "revenue", *BOUNDS]]
