"""Figures for the BAS data story, as PNG bytes (matplotlib's Agg canvas, no pyplot state)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from revcast.bas.outage import LODGEMENT_DEADLINES
from revcast.bas.runs import SYSTEM_LABELS
from revcast.plots import figure_png

COLOURS = {"fullbas": "#1f77b4", "simplebas": "#ff7f0e"}


def _png(fig: Figure) -> bytes:
    return figure_png(fig, dpi=100)


def hourly_runs_png(profiles: pd.DataFrame) -> bytes:
    """Overlaid bars: share of each system's runs by Sydney hour of day."""
    fig = Figure(figsize=(9, 3.8))
    ax = fig.add_subplot()
    hours = profiles.loc[profiles["dimension"].eq("hour")]
    for offset, (system, rows) in zip((-0.2, 0.2), hours.groupby("system"), strict=False):
        rows = rows.sort_values("bucket_order")
        ax.bar(
            rows["bucket_order"] - 1 + offset,
            rows["share"] * 100,
            width=0.4,
            label=SYSTEM_LABELS.get(system, system),
            color=COLOURS.get(system),
        )
    ax.set(
        xlabel="hour of day (Sydney)",
        ylabel="% of the system's runs",
        xticks=range(0, 24, 2),
        title="When reports are run",
    )
    ax.legend()
    return _png(fig)


def hourly_load_png(hour_of_day: pd.DataFrame, system: str = "fullbas") -> bytes:
    """Runtime-weighted load by Sydney hour of day: mean and 95th percentile of runtime seconds per hour."""
    fig = Figure(figsize=(9, 3.8))
    ax = fig.add_subplot()
    rows = hour_of_day.loc[hour_of_day["system"].eq(system)].sort_values("hour")
    ax.bar(rows["hour"], rows["mean_runtime_seconds"], color=COLOURS.get(system), label="mean")
    ax.plot(rows["hour"], rows["p95_runtime_seconds"], color="black", marker=".", label="95th percentile")
    ax.set(
        xlabel="hour of day (Sydney)",
        ylabel="runtime seconds per hour",
        xticks=range(0, 24, 2),
        title=f"{SYSTEM_LABELS.get(system, system)} compute load by hour",
    )
    ax.legend()
    return _png(fig)


def daily_series_png(daily: pd.DataFrame, deadlines: tuple[int, ...] = LODGEMENT_DEADLINES) -> bytes:
    """Daily runs per system with the lodgement-deadline days marked."""
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    for system, rows in daily.groupby("system"):
        ax.plot(
            rows["period_start"],
            rows["runs"],
            lw=0.8,
            label=SYSTEM_LABELS.get(system, system),
            color=COLOURS.get(system),
        )
        marks = rows.loc[rows["period_start"].dt.day.isin(deadlines)]
        ax.scatter(marks["period_start"], marks["runs"], s=10, color="red", zorder=3)
    ax.scatter([], [], s=10, color="red", label=f"deadline days ({', '.join(map(str, deadlines))})")
    ax.set(xlabel="date (Sydney)", ylabel="runs per day", title="Daily runs and lodgement deadlines")
    ax.legend()
    return _png(fig)


def outage_heatmap_png(grid: pd.DataFrame, recommended: pd.DataFrame | None = None) -> bytes:
    """Expected runs hit per month by a window starting on each day of month (rows) and hour (columns)."""
    table = grid.pivot(index="day_of_month", columns="start_hour", values="expected_runs").reindex(
        index=range(1, 32), columns=range(24)
    )
    fig = Figure(figsize=(9, 7))
    ax = fig.add_subplot()
    image = ax.imshow(
        table.to_numpy(), aspect="auto", cmap="viridis", origin="upper", extent=(-0.5, 23.5, 31.5, 0.5)
    )
    fig.colorbar(image, ax=ax, label="expected runs affected per month")
    if recommended is not None and len(recommended):
        ax.scatter(
            recommended["start_hour"],
            recommended["day_of_month"],
            marker="o",
            facecolors="none",
            edgecolors="red",
            s=120,
            label="recommended",
        )
        ax.legend(loc="lower right")
    system = grid["system"].dropna().iloc[0] if grid["system"].notna().any() else ""
    ax.set(
        xlabel="window start hour (Sydney)",
        ylabel="day of month",
        xticks=range(0, 24, 2),
        yticks=np.arange(1, 32, 2),
        title=f"{SYSTEM_LABELS.get(system, system)} outage-window impact".strip(),
    )
    return _png(fig)


def forecast_png(
    history: pd.DataFrame, forecast: pd.DataFrame, measure: str, quantity: str = "daily_load"
) -> bytes:
    """Recent daily history of one system and its forecast with 80/95% bands."""
    rows = forecast.loc[forecast["quantity"].eq(quantity)]
    system = rows["system"].iloc[0]
    past = history.loc[history["system"].eq(system)].tail(180)
    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    ax.plot(past["period_start"], past[measure], lw=0.8, color="grey", label="actual")
    ax.fill_between(
        rows["date"], rows["lower_95"], rows["upper_95"], alpha=0.2, color=COLOURS.get(system), label="95%"
    )
    ax.fill_between(
        rows["date"], rows["lower_80"], rows["upper_80"], alpha=0.35, color=COLOURS.get(system), label="80%"
    )
    ax.plot(rows["date"], rows["forecast"], color=COLOURS.get(system), label="forecast")
    ax.set(
        xlabel="date (Sydney)",
        ylabel=measure.replace("_", " ") + " per day",
        title=f"{SYSTEM_LABELS.get(system, system)} {quantity.replace('_', ' ')} forecast",
    )
    ax.legend()
    return _png(fig)
