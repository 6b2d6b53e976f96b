"""The usage EDA profile: statistics, distributions, correlation, seasonality (STL), heavy users and outliers.

Pure functions over the daily totals (metric, ds, quantity, active_accounts) and three per-account
aggregates that DuckDB computes over every account-day of the history (`read_profile_inputs`: totals per
account, accounts with outlying days, a histogram of account-day quantities), so the account-days never
leave the warehouse; figures as PNG bytes on matplotlib's Agg canvas, and one HTML page.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from statsmodels.tsa.seasonal import STL

from revcast.plots import figure_png, png_data_uri
from revcast.usage import sql

HEAVY_USER_SHARES = (0.01, 0.10)
ROBUST_Z = 3.5  # Iglewicz & Hoaglin's cut-off for the modified z-score
HISTOGRAM_BINS = 50
TOP_OUTLIER_ACCOUNTS = 10
MIN_RELATIVE = 0.10  # a daily outlier also deviates by at least 10% of the trend level
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1050px;margin:2em auto;line-height:1.45;color:#222}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#f3f3f3}img{max-width:100%}h2{border-bottom:1px solid #ddd;margin-top:1.6em}"
)


def summary_statistics(totals: pd.DataFrame) -> pd.DataFrame:
    """Per metric: days, mean, std, min, quartiles, max, skewness and total of the daily totals."""
    g = totals.groupby("metric", sort=True)["quantity"]
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    out = pd.DataFrame(
        {
            "days": g.size(),
            "mean": g.mean(),
            "std": g.std(),
            "min": g.min(),
            "p25": q[0.25],
            "median": q[0.5],
            "p75": q[0.75],
            "max": g.max(),
            "skew": g.skew(),
            "total": g.sum(),
            "mean_active_accounts": totals.groupby("metric", sort=True)["active_accounts"].mean(),
        }
    )
    return out.reset_index()


def metric_correlation(totals: pd.DataFrame) -> pd.DataFrame:
    """Pearson and Spearman correlation between metrics, of daily levels and of day-over-day changes."""
    wide = totals.pivot_table(index="ds", columns="metric", values="quantity").sort_index()
    rows = []
    metrics = list(wide.columns)
    for i, a in enumerate(metrics):
        for b in metrics[i + 1 :]:
            pair = wide[[a, b]].dropna()
            diff = pair.diff().dropna()
            rows.append(
                {
                    "metric_a": a,
                    "metric_b": b,
                    "pearson_level": pair[a].corr(pair[b]),
                    "spearman_level": pair[a].corr(pair[b], method="spearman"),
                    "pearson_change": diff[a].corr(diff[b]),
                }
            )
    return pd.DataFrame(
        rows, columns=["metric_a", "metric_b", "pearson_level", "spearman_level", "pearson_change"]
    )


def stl_decomposition(totals: pd.DataFrame, period: int = 7) -> pd.DataFrame:
    """Robust STL of each metric's daily totals (weekly season): observed, trend, seasonal, resid."""
    parts = []
    for metric, rows in totals.groupby("metric", sort=True):
        series = rows.set_index(pd.DatetimeIndex(rows["ds"]))["quantity"].sort_index().asfreq("D")
        series = series.interpolate(limit_direction="both")
        if len(series) < 2 * period + 1:
            continue
        fit = STL(series, period=period, robust=True).fit()
        parts.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "ds": series.index,
                    "observed": series.to_numpy(),
                    "trend": fit.trend.to_numpy(),
                    "seasonal": fit.seasonal.to_numpy(),
                    "resid": fit.resid.to_numpy(),
                }
            )
        )
    cols = ["metric", "ds", "observed", "trend", "seasonal", "resid"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def weekday_seasonality(stl: pd.DataFrame) -> pd.DataFrame:
    """Mean STL weekly component per metric and weekday, in units and as % of the mean trend level."""
    frame = stl.assign(weekday=pd.DatetimeIndex(stl["ds"]).weekday)
    effect = frame.groupby(["metric", "weekday"])["seasonal"].mean()
    level = frame.groupby("metric")["trend"].mean()
    out = effect.rename("effect").reset_index()
    out["effect_pct"] = 100 * out["effect"] / out["metric"].map(level).replace(0, np.nan)
    out["weekday_name"] = out["weekday"].map(dict(enumerate(WEEKDAYS)))
    return out


def month_seasonality(totals: pd.DataFrame) -> pd.DataFrame:
    """Month-of-year index per metric: mean over years of (month's mean daily total / that year's mean)."""
    ds = pd.DatetimeIndex(totals["ds"])
    frame = totals.assign(year=ds.year, month=ds.month)
    monthly = frame.groupby(["metric", "year", "month"])["quantity"].mean()
    yearly = frame.groupby(["metric", "year"])["quantity"].mean()
    ratio = (monthly / yearly.reindex(monthly.index.droplevel("month")).to_numpy()).rename("index")
    return ratio.groupby(["metric", "month"]).mean().reset_index()


@dataclass
class ProfileInputs:
    """What the profile reads from the warehouse: daily totals and the per-account aggregates."""

    totals: pd.DataFrame  # metric, ds, quantity, active_accounts
    account_totals: pd.DataFrame  # metric, account_id, quantity (whole history)
    account_outliers: pd.DataFrame  # metric, account_id, outlier_days, max_abs_z
    account_day_histogram: pd.DataFrame  # metric, lo, hi, bin, account_days


def read_profile_inputs(con, threshold: float = ROBUST_Z, top: int = TOP_OUTLIER_ACCOUNTS) -> ProfileInputs:
    """Daily totals and the per-account aggregates over the whole history, computed inside DuckDB."""
    return ProfileInputs(
        totals=con.execute(sql.DAILY_TOTALS).df(),
        account_totals=con.execute(sql.ACCOUNT_TOTALS).df(),
        account_outliers=con.execute(sql.ACCOUNT_OUTLIERS, {"threshold": threshold, "top": top}).df(),
        account_day_histogram=con.execute(sql.ACCOUNT_DAY_HISTOGRAM, {"bins": HISTOGRAM_BINS}).df(),
    )


def _heaviest_first(account_totals: pd.DataFrame) -> pd.DataFrame:
    return account_totals.sort_values(
        ["metric", "quantity", "account_id"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def heavy_users(account_totals: pd.DataFrame, shares: tuple[float, ...] = HEAVY_USER_SHARES) -> pd.DataFrame:
    """Per metric: share of usage from the top p of accounts (top ceil(p * accounts), at least one)."""
    totals = _heaviest_first(account_totals)
    rank = totals.groupby("metric").cumcount() + 1
    n = totals.groupby("metric")["account_id"].transform("size")
    out = pd.DataFrame({"accounts": totals.groupby("metric").size()})
    grand = totals.groupby("metric")["quantity"].sum().replace(0, np.nan)
    for p in shares:
        top = rank <= np.maximum(1, np.ceil(n * p - 1e-9))
        share = totals["quantity"].where(top, 0.0).groupby(totals["metric"]).sum() / grand
        out[f"top_{round(p * 100)}pct_share"] = share.fillna(0.0).clip(0, 1)
    return out.reset_index()


def pareto_curve(account_totals: pd.DataFrame) -> pd.DataFrame:
    """Cumulative share of usage against cumulative share of accounts (heaviest first), per metric."""
    totals = _heaviest_first(account_totals)
    g = totals.groupby("metric")
    grand = g["quantity"].transform("sum").replace(0, np.nan)
    return pd.DataFrame(
        {
            "metric": totals["metric"],
            "account_share": (g.cumcount() + 1) / g["account_id"].transform("size"),
            "usage_share": (g["quantity"].cumsum() / grand).fillna(0.0),
        }
    )


def robust_z(values: pd.Series, by: pd.Series) -> pd.Series:
    """Modified z-score 0.6745 (x - median) / MAD, per group; NaN where the MAD is 0."""
    median = values.groupby(by).transform("median")
    mad = (values - median).abs().groupby(by).transform("median")
    return 0.6745 * (values - median) / mad.where(mad > 0)


def daily_outliers(
    stl: pd.DataFrame, threshold: float = ROBUST_Z, min_relative: float = MIN_RELATIVE
) -> pd.DataFrame:
    """Days whose STL residual (trend and weekday removed) has |robust z| > threshold per metric and is at
    least `min_relative` of the trend level (a smooth series has a tiny MAD; immaterial blips are not news)."""
    z = robust_z(stl["resid"], stl["metric"])
    material = stl["resid"].abs() >= min_relative * stl["trend"].abs()
    out = stl.assign(robust_z=z, ds=pd.to_datetime(stl["ds"]).dt.date)[(z.abs() > threshold) & material]
    out = out.assign(order=out["robust_z"].abs()).sort_values(["metric", "order"], ascending=[True, False])
    return out[["metric", "ds", "observed", "trend", "seasonal", "resid", "robust_z"]].reset_index(drop=True)


# ---------------------------------------------------------------- figures


def _png(fig: Figure) -> bytes:
    return figure_png(fig, dpi=80)


def _grid(n: int, width: float = 10, height: float = 2.8) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height * max(n, 1)))
    return fig, [fig.add_subplot(max(n, 1), 1, i + 1) for i in range(max(n, 1))]


def series_png(totals: pd.DataFrame) -> bytes:
    """Daily totals per metric over time."""
    metrics = sorted(totals["metric"].unique())
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=False):
        rows = totals[totals["metric"] == metric].sort_values("ds")
        ax.plot(pd.DatetimeIndex(rows["ds"]), rows["quantity"], lw=0.8)
        ax.set(title=f"{metric}: daily total", ylabel=metric)
    fig.tight_layout()
    return _png(fig)


def distribution_png(totals: pd.DataFrame, histogram: pd.DataFrame) -> bytes:
    """Histograms of daily totals and of account-day quantities (log scale, binned in DuckDB), per metric."""
    metrics = sorted(totals["metric"].unique())
    fig = Figure(figsize=(10, 2.8 * max(len(metrics), 1)))
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(len(metrics), 2, 2 * i + 1)
        ax.hist(totals.loc[totals["metric"] == metric, "quantity"], bins=50, color="#1f77b4")
        ax.set(title=f"{metric}: daily totals", xlabel=metric, ylabel="days")
        ax = fig.add_subplot(len(metrics), 2, 2 * i + 2)
        bins = histogram[histogram["metric"] == metric]
        if len(bins):
            lo, hi = float(bins["lo"].iloc[0]), float(bins["hi"].iloc[0])
            counts = np.zeros(HISTOGRAM_BINS)
            counts[bins["bin"].to_numpy()] = bins["account_days"].to_numpy()
            span = hi - lo if hi > lo else 1.0
            ax.stairs(
                counts, lo + span * np.arange(HISTOGRAM_BINS + 1) / HISTOGRAM_BINS, fill=True, color="#ff7f0e"
            )
        ax.set(title=f"{metric}: account-days (log10, > 0)", xlabel=f"log10 {metric}", ylabel="account-days")
    fig.tight_layout()
    return _png(fig)


def correlation_png(totals: pd.DataFrame) -> bytes:
    """Scatter of the first two metrics' daily totals."""
    wide = totals.pivot_table(index="ds", columns="metric", values="quantity").dropna()
    fig = Figure(figsize=(5, 4.5))
    ax = fig.add_subplot()
    if wide.shape[1] >= 2:
        a, b = wide.columns[:2]
        ax.scatter(wide[a], wide[b], s=4, alpha=0.5)
        ax.set(xlabel=a, ylabel=b, title=f"daily totals: {a} vs {b}")
    return _png(fig)


def stl_png(stl: pd.DataFrame) -> bytes:
    """STL panels (observed, trend, weekly seasonal, residual) per metric."""
    metrics = sorted(stl["metric"].unique())
    parts = ("observed", "trend", "seasonal", "resid")
    fig = Figure(figsize=(11, 1.7 * len(parts) * max(len(metrics), 1)))
    for i, metric in enumerate(metrics):
        rows = stl[stl["metric"] == metric]
        for j, part in enumerate(parts):
            ax = fig.add_subplot(len(parts) * len(metrics), 1, i * len(parts) + j + 1)
            ax.plot(pd.DatetimeIndex(rows["ds"]), rows[part], lw=0.7)
            ax.set_ylabel(part, fontsize=8)
            if j == 0:
                ax.set_title(f"{metric}: STL decomposition (weekly)")
    fig.tight_layout()
    return _png(fig)


def seasonality_png(weekday: pd.DataFrame, month: pd.DataFrame) -> bytes:
    """Weekday effect (% of level) and month-of-year index per metric."""
    fig = Figure(figsize=(11, 3.5))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    metrics = sorted(weekday["metric"].unique())
    width = 0.8 / max(len(metrics), 1)
    for i, metric in enumerate(metrics):
        w = weekday[weekday["metric"] == metric].sort_values("weekday")
        ax1.bar(w["weekday"] + i * width, w["effect_pct"], width=width, label=metric)
        m = month[month["metric"] == metric].sort_values("month")
        ax2.plot(m["month"], m["index"], marker="o", label=metric)
    ax1.set(xticks=range(7), xticklabels=WEEKDAYS, ylabel="% of level", title="weekday effect (STL)")
    ax2.set(xticks=range(1, 13), xlabel="month", ylabel="index (1 = year mean)", title="month of year")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    return _png(fig)


def pareto_png(pareto: pd.DataFrame) -> bytes:
    """Pareto curve: cumulative usage share against cumulative account share."""
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    for metric, rows in pareto.groupby("metric"):
        ax.plot(
            np.r_[0, rows["account_share"]] * 100,
            np.r_[0, rows["usage_share"]] * 100,
            label=metric,
            drawstyle="steps-pre",
        )
    ax.plot([0, 100], [0, 100], ls="--", color="grey", lw=0.8, label="equal usage")
    ax.set(xlabel="% of accounts (heaviest first)", ylabel="% of usage", title="Pareto curve")
    ax.legend(fontsize=8)
    return _png(fig)


def outliers_png(stl: pd.DataFrame, outliers: pd.DataFrame) -> bytes:
    """Daily totals per metric with the outlying days marked."""
    metrics = sorted(stl["metric"].unique())
    fig, axes = _grid(len(metrics))
    for ax, metric in zip(axes, metrics, strict=False):
        rows = stl[stl["metric"] == metric]
        hits = outliers[outliers["metric"] == metric]
        ax.plot(pd.DatetimeIndex(rows["ds"]), rows["observed"], lw=0.7)
        ax.scatter(
            pd.DatetimeIndex(hits["ds"]), hits["observed"], color="red", s=14, zorder=3, label="outlier"
        )
        ax.set(title=f"{metric}: {len(hits)} outlying day(s) (|robust z| of STL residual > {ROBUST_Z})")
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------- the profile


@dataclass
class UsageProfile:
    """Every table and figure of the usage EDA."""

    summary: pd.DataFrame
    correlation: pd.DataFrame
    weekday: pd.DataFrame
    month: pd.DataFrame
    heavy: pd.DataFrame
    pareto: pd.DataFrame
    daily_outliers: pd.DataFrame
    account_outliers: pd.DataFrame
    figures: dict[str, bytes] = field(default_factory=dict)


def build_profile(inputs: ProfileInputs) -> UsageProfile:
    """Compute the whole profile from the daily totals and the per-account aggregates."""
    totals = inputs.totals.sort_values(["metric", "ds"]).reset_index(drop=True)
    stl = stl_decomposition(totals)
    weekday, month = weekday_seasonality(stl), month_seasonality(totals)
    pareto, outliers = pareto_curve(inputs.account_totals), daily_outliers(stl)
    return UsageProfile(
        summary=summary_statistics(totals),
        correlation=metric_correlation(totals),
        weekday=weekday,
        month=month,
        heavy=heavy_users(inputs.account_totals),
        pareto=pareto,
        daily_outliers=outliers,
        account_outliers=inputs.account_outliers,
        figures={
            "daily_totals": series_png(totals),
            "distributions": distribution_png(totals, inputs.account_day_histogram),
            "correlation": correlation_png(totals),
            "stl": stl_png(stl),
            "seasonality": seasonality_png(weekday, month),
            "pareto": pareto_png(pareto),
            "outliers": outliers_png(stl, outliers),
        },
    )


def _md(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=",.4g") if len(frame) else "_none_"


def markdown_tables(p: UsageProfile) -> dict[str, str]:
    """The profile's tables as markdown, for Dagster metadata."""
    weekday = p.weekday.pivot(index="weekday_name", columns="metric", values="effect_pct").reindex(WEEKDAYS)
    month = p.month.pivot(index="month", columns="metric", values="index")
    return {
        "summary": _md(p.summary),
        "correlation": _md(p.correlation),
        "weekday_effect_pct": _md(weekday.reset_index()),
        "month_index": _md(month.reset_index()),
        "heavy_users": _md(p.heavy),
        "daily_outliers": _md(p.daily_outliers.head(20)),
        "account_outliers": _md(p.account_outliers),
    }


def _findings(p: UsageProfile) -> list[str]:
    """A few sentences a reader can act on."""
    items = []
    for row in p.heavy.itertuples(index=False):
        items.append(
            f"{row.metric}: the top 1% of {row.accounts} accounts use {row.top_1pct_share:.1%} of it, "
            f"the top 10% {row.top_10pct_share:.1%}."
        )
    for row in p.correlation.itertuples(index=False):
        items.append(
            f"{row.metric_a} and {row.metric_b}: correlation {row.pearson_level:.2f} in levels, "
            f"{row.pearson_change:.2f} in day-over-day changes."
        )
    for metric, rows in p.weekday.groupby("metric"):
        lo, hi = rows.loc[rows["effect_pct"].idxmin()], rows.loc[rows["effect_pct"].idxmax()]
        if not (math.isnan(lo["effect_pct"]) or math.isnan(hi["effect_pct"])):
            items.append(
                f"{metric}: busiest weekday {hi['weekday_name']} ({hi['effect_pct']:+.1f}%), "
                f"quietest {lo['weekday_name']} ({lo['effect_pct']:+.1f}%)."
            )
    counts = p.daily_outliers.groupby("metric").size()
    items += [
        f"{m}: {n} outlying day(s) after removing trend and weekday pattern." for m, n in counts.items()
    ]
    return items


def report_html(p: UsageProfile, title: str = "Usage profile") -> str:
    """One self-contained HTML page: findings, tables and the figures inlined as base64 PNG."""

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}", border=0, na_rep="–")

    def img(name: str) -> str:
        return f'<img alt="{html.escape(name)}" src="{png_data_uri(p.figures[name])}">'

    findings = "".join(f"<li>{html.escape(s)}</li>" for s in _findings(p))
    sections = [
        f"<h1>{html.escape(title)}</h1><h2>Findings</h2><ul>{findings}</ul>",
        f"<h2>Summary statistics (daily totals)</h2>{table(p.summary)}{img('daily_totals')}",
        f"<h2>Distributions</h2>{img('distributions')}",
        f"<h2>Correlation between metrics</h2>{table(p.correlation)}{img('correlation')}",
        "<h2>Seasonality</h2><p>Weekly pattern from a robust STL decomposition (period 7); month-of-year index "
        f"= mean over years of the month's mean daily total over the year's mean.</p>{img('stl')}{img('seasonality')}",
        "<h2>Heavy users</h2><p>Top p of accounts = the ceil(p x accounts) heaviest accounts by total usage "
        f"(at least one). The Pareto curve plots the share of usage against the share of accounts.</p>"
        f"{table(p.heavy)}{img('pareto')}",
        f"<h2>Outliers</h2><p>Modified z-score 0.6745 (x - median) / MAD above {ROBUST_Z}: on STL residuals of the "
        f"daily totals (and at least {MIN_RELATIVE:.0%} off the trend), and per account against its own median."
        "</p>{table(p.daily_outliers.head(30))}"
        f"{img('outliers')}<h3>Accounts with the most outlying days</h3>{table(p.account_outliers)}",
    ]
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
