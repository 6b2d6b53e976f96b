"""Figures as PNG bytes (matplotlib's Agg canvas, no pyplot state), and PNGs inlined as data URIs: the one
rendering path of every report and metadata plot; plus the small figures of asset metadata (forecasts with
their 80/95% bands, a tournament's out-of-sample MASE per model)."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def figure_png(fig: Figure, dpi: int = 72) -> bytes:
    """Render a figure to PNG bytes (tight bounding box)."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A PNG as a data URI (for markdown images and HTML)."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def img_tag(png: bytes, alt: str) -> str:
    """An HTML <img> with the PNG inlined."""
    return f'<img alt="{html.escape(alt)}" src="{png_data_uri(png)}">'


def forecast_png(
    forecast: pd.DataFrame,
    *,
    series: str,
    point: str,
    bands: tuple[tuple[str, str], ...] = (("lo_95", "hi_95"), ("lo_80", "hi_80")),
    history: pd.DataFrame | None = None,
    title: str = "",
    max_series: int = 4,
) -> bytes:
    """One panel per series (the first `max_series` by name): the point forecast over `ds` with its bands
    shaded, after the recent history (`history`: series, ds, y) when given."""
    names = sorted(forecast[series].astype(str).unique())[:max_series]
    fig = Figure(figsize=(7, 1.9 * max(1, len(names))))
    for i, name in enumerate(names or [""]):
        ax = fig.add_subplot(max(1, len(names)), 1, i + 1)
        rows = forecast.loc[forecast[series].astype(str).eq(name)].sort_values("ds")
        ds = pd.to_datetime(rows["ds"])
        if history is not None:
            past = history.loc[history[series].astype(str).eq(name)].sort_values("ds")
            ax.plot(pd.to_datetime(past["ds"]), past["y"], color="#555555", lw=1, label="actual")
        for (lo, hi), alpha in zip(bands, (0.18, 0.32), strict=False):
            if lo in rows and hi in rows:
                ax.fill_between(ds, rows[lo], rows[hi], color="#1f77b4", alpha=alpha, lw=0)
        ax.plot(ds, rows[point], color="#1f77b4", lw=1.5, label="forecast")
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.margins(x=0)
        if i == 0:
            ax.set_title(title, fontsize=9)
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return figure_png(fig)


def tournament_png(scores: pd.DataFrame, *, title: str = "", max_series: int = 4) -> bytes:
    """Out-of-sample MASE per model for each series (columns unique_id, model, mase, is_champion); the
    champion's bar is highlighted, the line at 1 is the in-sample seasonal-naive error."""
    names = sorted(scores["unique_id"].astype(str).unique())[:max_series]
    fig = Figure(figsize=(7, 1.8 * max(1, len(names))))
    for i, name in enumerate(names or [""]):
        ax = fig.add_subplot(max(1, len(names)), 1, i + 1)
        rows = scores.loc[scores["unique_id"].astype(str).eq(name)].dropna(subset=["mase"])
        rows = rows.sort_values("mase")
        colours = ["#2ca02c" if c else "#9fb8d0" for c in rows["is_champion"].fillna(False)]
        ax.barh(rows["model"].astype(str), rows["mase"], color=colours)
        ax.axvline(1.0, color="#888888", lw=0.8, ls="--")
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
        if i == 0:
            ax.set_title(title or "MASE by model (champion in green)", fontsize=9)
    fig.tight_layout()
    return figure_png(fig)


def interval_bars_png(frame: pd.DataFrame, *, label: str, point: str, title: str = "") -> bytes:
    """One bar per row (`label`) at the point value, with its 80% (thick) and 95% (thin) intervals."""
    rows = frame.sort_values(point)
    fig = Figure(figsize=(7, 0.35 * max(3, len(rows)) + 0.8))
    ax = fig.add_subplot()
    y = range(len(rows))
    ax.barh(list(y), rows[point], color="#9fb8d0")
    for (lo, hi), width in ((("lo_95", "hi_95"), 1), (("lo_80", "hi_80"), 3)):
        if lo in rows and hi in rows:
            ax.hlines(list(y), rows[lo], rows[hi], color="#1f4e79", lw=width)
    ax.set_yticks(list(y), rows[label].astype(str))
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return figure_png(fig)
