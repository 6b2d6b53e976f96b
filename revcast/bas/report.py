"""The BAS data story: one self-contained HTML page for the product manager, plots inlined as base64 PNG."""

from __future__ import annotations

import html

import pandas as pd

from revcast.bas.analysis import CAPACITY_MEASURE, BasAnalysis
from revcast.bas.plots import (
    daily_series_png,
    forecast_png,
    hourly_load_png,
    hourly_runs_png,
    outage_heatmap_png,
)
from revcast.bas.profiles import profile
from revcast.bas.runs import FULLBAS, SYSTEM_LABELS
from revcast.bas.scope import excluded_share
from revcast.plots import img_tag

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;line-height:1.45;color:#222}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#f3f3f3}img{max-width:100%}h2{border-bottom:1px solid #ddd;margin-top:1.6em}"
)


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    """A compact HTML table with readable numbers."""
    return frame.to_html(index=index, float_format=_number, border=0, na_rep="–")


def _number(value: float) -> str:
    """Whole numbers without decimals (counts in transposed tables arrive as floats), others to 2 places."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _label(system: str) -> str:
    """Display name of a system."""
    return SYSTEM_LABELS.get(system, system)


def _busiest(profiles: pd.DataFrame, dimension: str, system: str) -> str:
    """The busiest bucket of a dimension and its share of runs, in words."""
    rows = profile(profiles, dimension, system)
    if rows.empty or rows["runs"].sum() == 0:
        return "no runs"
    top = rows.loc[rows["runs"].idxmax()]
    return f"{html.escape(str(top['bucket']))} ({top['share']:.1%} of runs)"


def _scope_section(a: BasAnalysis) -> str:
    """Who is in the analysis and what was left out."""
    excluded = excluded_share(a.scope_report)
    lines = [
        f"<li>{_label(s)}: {excluded.get(s, 0.0):.1%} of runs excluded.</li>"
        for s in a.scope_report["system"].unique()
    ]
    table = a.scope_report.pivot(index="reason", columns="system", values="runs")
    return (
        "<h2>Scope</h2><p>Only Active, paying organisations are analysed (Full BAS matched by organisation id, "
        f"Simple BAS by short code).</p><ul>{''.join(lines)}</ul>{_table(table, index=True)}"
    )


def _interaction_section(a: BasAnalysis) -> str:
    """Question 1: how and when users interact with each system."""
    items = []
    for system in a.comparison["system"]:
        items.append(
            f"<li><b>{_label(system)}</b>: busiest hour {_busiest(a.profiles, 'hour', system)}, "
            f"busiest weekday {_busiest(a.profiles, 'weekday', system)}, busiest day of month "
            f"{_busiest(a.profiles, 'day_of_month', system)}.</li>"
        )
    return (
        "<h2>1. How and when users run BAS</h2><p>All times are Sydney local time (daylight saving applied).</p>"
        f"<ul>{''.join(items)}</ul>{img_tag(hourly_runs_png(a.profiles), 'runs by hour')}"
        f"{img_tag(daily_series_png(a.daily), 'daily runs')}"
    )


def _comparison_section(a: BasAnalysis) -> str:
    """Question 2: the two systems side by side."""
    table = a.comparison.set_index("system").drop(columns=["first_run_local", "last_run_local"]).T
    table.columns = [_label(c) for c in table.columns]
    return (
        "<h2>2. Full BAS and Simple BAS compared</h2>"
        f"<p>A repeat run is a run by the same user for the same organisation within "
        f"{a.settings.repeat_minutes:g} minutes of the previous one.</p>{_table(table, index=True)}"
    )


def _capacity_section(a: BasAnalysis) -> str:
    """Question 3: seasonality and the capacity outlook."""
    parts = ["<h2>3. Seasonality and compute capacity</h2>"]
    for _, row in a.peak_load.iterrows():
        if pd.notna(row["peak_runtime_seconds"]):
            parts.append(
                f"<p>{_label(row['system'])} peak hourly load: {row['peak_runtime_seconds']:,.0f} runtime seconds "
                f"in the hour starting {row['peak_runtime_hour']:%Y-%m-%d %H:00} (95% of hours stay below "
                f"{row['p95_hourly_runtime_seconds']:,.0f}).</p>"
            )
        parts.append(
            f"<p>{_label(row['system'])} busiest hour: {row['peak_runs']:,.0f} runs starting "
            f"{row['peak_runs_hour']:%Y-%m-%d %H:00}.</p>"
        )
    if len(a.periods):
        found = a.periods.groupby("system")["period_days"].apply(lambda p: ", ".join(f"{v:.1f}" for v in p))
        parts.append(
            "<p>Dominant cycles in daily load (days, periodogram of the detrended series, checked with STL): "
            + "; ".join(f"{_label(s)}: {v}" for s, v in found.items())
            + ". A ~30-day cycle is the monthly lodgement deadline; 7 days is the working week.</p>"
        )
        parts.append(
            _table(a.periods[["system", "rank", "period_days", "relative_power", "stl_seasonal_strength"]])
        )
    parts.append(img_tag(hourly_load_png(a.hour_of_day, FULLBAS), "runtime load by hour"))
    parts.append(_forecast_summary(a))
    return "".join(parts)


def _forecast_summary(a: BasAnalysis) -> str:
    """The load forecast in words and pictures."""
    if a.forecast.empty:
        return "<p>Not enough history for a load forecast.</p>"
    parts = [
        f"<p>Forecast for the next {a.settings.horizon_days} days (linear trend, ARMA errors, weekly and "
        "day-of-month cycles; peak-hour load = daily load x the median share of a day's load in its busiest hour):</p><ul>"
    ]
    for (system, quantity), rows in a.forecast.groupby(["system", "quantity"]):
        worst = rows.loc[rows["forecast"].idxmax()]
        parts.append(
            f"<li>{_label(system)} {quantity.replace('_', ' ')} ({rows['measure'].iloc[0].replace('_', ' ')}): "
            f"mean {rows['forecast'].mean():,.0f}, highest {worst['forecast']:,.0f} on {worst['date']:%Y-%m-%d} "
            f"(95% upper bound {worst['upper_95']:,.0f}).</li>"
        )
    parts.append("</ul>")
    for system, rows in a.forecast.groupby("system"):
        parts.append(img_tag(forecast_png(a.daily, rows, CAPACITY_MEASURE[system]), f"{system} forecast"))
    return "".join(parts)


def _outage_section(a: BasAnalysis) -> str:
    """Question 4: the recommended two-hour outage windows."""
    s = a.settings
    parts = [
        f"<h2>4. Best {s.window_hours}-hour outage window</h2><p>Every (day of month, start hour) window in Sydney "
        "time was scored by the runs and runtime it would have hit, averaged over the months in range (a day a "
        "month lacks counts as zero that month). Days avoided: "
        f"{', '.join(map(str, s.avoid_days))} (lodgement deadlines and the days before them).</p>"
    ]
    columns = [
        "rank",
        "day_of_month",
        "window",
        "expected_runs",
        "expected_runtime_seconds",
        "months_with_day",
    ]
    for system, rows in a.outage_windows.groupby("system"):
        best = rows.iloc[0]
        parts.append(
            f"<p><b>{_label(system)}</b>: day {best['day_of_month']} of the month, {best['window']} — about "
            f"{best['expected_runs']:.1f} runs affected per month.</p>{_table(rows[columns])}"
        )
        grid = a.outage_grid.loc[a.outage_grid["system"].eq(system)]
        parts.append(img_tag(outage_heatmap_png(grid, rows), f"{system} outage heatmap"))
    return "".join(parts)


def _segments_section(a: BasAnalysis) -> str:
    """Organisation segments by usage pattern."""
    agreement = a.segments["agrees"].mean() if len(a.segments) else float("nan")
    return (
        "<h2>Organisation segments</h2><p>Organisations are grouped by when and how often they run BAS: "
        "monthly lodgers (active most months), quarterly lodgers (active about every third month), occasional "
        "users, and heavy repeat runners (most runs are quick re-runs). Overall, "
        f"{agreement:.0%} of organisations behave as their declared sales tax period suggests.</p>"
        f"{_table(a.segment_summary)}{_table(a.segment_crosstab, index=True)}"
    )


def _key_points_section(a: BasAnalysis) -> str:
    """The five key data points."""
    k = a.key_points
    months = "; ".join(
        f"{_label(s) if s != 'combined' else 'both'}: {v['month']} ({v['runs']:,} runs)"
        for s, v in k["busiest_month"].items()
    )
    return (
        "<h2>Key data points</h2><ul>"
        f"<li>Month with the most runs — {months}.</li>"
        f"<li>{k['orgs_ran_both']:,} organisations ran both reports.</li>"
        f"<li>{k['users_either']:,} users ran either report.</li>"
        f"<li>{k['users_multi_org']:,} users ran reports for more than one organisation.</li>"
        "<li>Most popular plans among organisations using BAS:</li></ul>"
        f"{_table(k['popular_plans'])}"
    )


def render_bas_report(analysis: BasAnalysis, title: str = "BAS usage and capacity") -> str:
    """One self-contained HTML page answering the four questions, the segments and the key data points."""
    sections = [
        _key_points_section,
        _scope_section,
        _interaction_section,
        _comparison_section,
        _capacity_section,
        _outage_section,
        _segments_section,
    ]
    body = "".join(section(analysis) for section in sections)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
