"""Figures (PNG bytes, matplotlib Agg) and the HTML page of the subscription revenue plan."""

from __future__ import annotations

import html

import pandas as pd
from matplotlib.figure import Figure

from revcast.plots import figure_png, img_tag
from revcast.subscriptions.revenue import ALL_PLATFORMS

STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;"
    "text-align:right}img{max-width:100%}"
)


def _png(fig: Figure) -> bytes:
    return figure_png(fig, dpi=90)


def plan_png(plan: pd.DataFrame) -> bytes:
    """Daily total revenue per platform (and all platforms) with 80/95 % bands, new and recurrent beneath."""
    platforms = [p for p in plan["platform"].unique() if p != ALL_PLATFORMS] + [ALL_PLATFORMS]
    fig = Figure(figsize=(10, 2.8 * len(platforms)))
    for i, name in enumerate(platforms, start=1):
        ax = fig.add_subplot(len(platforms), 1, i)
        rows = plan[plan["platform"] == name]
        total = rows[rows["revenue_type"] == "total"].sort_values("ds")
        ds = pd.to_datetime(total["ds"])
        ax.fill_between(ds, total["lo_95"], total["hi_95"], color="#1f77b4", alpha=0.15, label="95%")
        ax.fill_between(ds, total["lo_80"], total["hi_80"], color="#1f77b4", alpha=0.3, label="80%")
        ax.plot(ds, total["revenue"], color="#1f77b4", label="total")
        for kind, colour in (("new", "#2ca02c"), ("recurrent", "#ff7f0e")):
            part = rows[rows["revenue_type"] == kind].sort_values("ds")
            ax.plot(pd.to_datetime(part["ds"]), part["revenue"], color=colour, lw=1, label=kind)
        ax.set_title("all platforms" if name == ALL_PLATFORMS else name, fontsize=10)
        ax.set_ylabel("revenue per day")
        ax.legend(fontsize=8, ncol=5, loc="upper left")
    fig.tight_layout()
    return _png(fig)


def retention_png(retention: pd.DataFrame) -> bytes:
    """Retention curves (share of a cohort still paying by billing cycle) per product, one panel a platform;
    hollow markers are cycles whose ratio is a fallback."""
    platforms = sorted(retention["platform"].unique())
    fig = Figure(figsize=(10, 3.2 * len(platforms)))
    for i, name in enumerate(platforms, start=1):
        ax = fig.add_subplot(len(platforms), 1, i)
        for (pid, duration), rows in retention[retention["platform"] == name].groupby(
            ["product_id", "duration"]
        ):
            rows = rows.sort_values("billing_cycle")
            months = (rows["billing_cycle"] - 1) * duration
            (line,) = ax.plot(months, rows["retention"], label=f"{pid} ({duration} mo)")
            fb = rows["ratio_source"].shift(1).eq("fallback")  # the ratio that led into this cycle
            ax.plot(months[fb], rows["retention"][fb], "o", mfc="none", color=line.get_color(), ms=4)
        ax.set(title=name, xlabel="months since first payment", ylabel="retention", ylim=(0, 1.05))
        ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return _png(fig)


def installs_png(history: pd.DataFrame, forecast: pd.DataFrame) -> bytes:
    """Installs per platform: the last year of history and the forecast with 80/95 % bands."""
    platforms = sorted(forecast["platform"].unique())
    fig = Figure(figsize=(10, 2.6 * len(platforms)))
    for i, name in enumerate(platforms, start=1):
        ax = fig.add_subplot(len(platforms), 1, i)
        h = history[history["unique_id"] == name].sort_values("ds").tail(365)
        f = forecast[forecast["platform"] == name].sort_values("ds")
        ds = pd.to_datetime(f["ds"])
        ax.plot(pd.to_datetime(h["ds"]), h["y"], color="#555", lw=0.8, label="actual")
        ax.fill_between(ds, f["lo_95"], f["hi_95"], color="#9467bd", alpha=0.15)
        ax.fill_between(ds, f["lo_80"], f["hi_80"], color="#9467bd", alpha=0.3)
        ax.plot(ds, f["yhat"], color="#9467bd", label="forecast")
        ax.set(title=name, ylabel="installs per day")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda x: f"{x:,.0f}")


def render_plan_report(
    cutoff: str,
    plan_start: str,
    plan_end: str,
    monthly: pd.DataFrame,
    champions: pd.DataFrame,
    plots: dict[str, bytes],
) -> str:
    """The plan as one HTML page: monthly totals with bounds, the installs champions and the figures."""
    wide = monthly[monthly["revenue_type"] == "total"].assign(month=lambda f: pd.to_datetime(f["month"]))
    wide = wide.assign(month=wide["month"].dt.strftime("%Y-%m"))[
        ["month", "platform", "days", "revenue", "lo_80", "hi_80", "lo_95", "hi_95"]
    ]
    split = monthly.pivot_table(
        index=["month", "platform"], columns="revenue_type", values="revenue"
    ).reset_index()
    split["month"] = pd.to_datetime(split["month"]).dt.strftime("%Y-%m")
    sections = [
        f"<p>Training cutoff {html.escape(cutoff)}; plan period {html.escape(plan_start)} to "
        f"{html.escape(plan_end)}. Revenue is what the company keeps after the store's commission. Bounds "
        "come from the installs forecast's 80/95% intervals (summed over days and platforms they are "
        "conservative).</p>",
        "<h2>Monthly plan: total revenue with bounds</h2>" + _table(wide),
        "<h2>Monthly plan: new and recurrent revenue</h2>"
        + _table(split[["month", "platform", "new", "recurrent", "total"]]),
        "<h2>Daily plan per platform</h2>" + img_tag(plots["plan"], "daily plan"),
        "<h2>Installs forecast</h2>"
        + champions.to_html(index=False, border=0, float_format=lambda x: f"{x:.3f}")
        + img_tag(plots["installs"], "installs forecast"),
        "<h2>Retention curves</h2><p>Hollow markers: a renewal ratio with fewer than 30 purchases behind it, "
        "replaced by the fallback (0.8 monthly up to cycle 12, 0.9 later, 0.5 annual).</p>"
        + img_tag(plots["retention"], "retention curves"),
    ]
    title = f"Subscription revenue plan {plan_start} to {plan_end}"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )
