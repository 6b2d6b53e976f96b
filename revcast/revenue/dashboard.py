"""The revenue dashboard: one self-contained HTML page (inline SVG, no scripts) with actual vs forecast and their
80/95% intervals per stream and in total (monthly), the model tournaments and a data-quality summary."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from revcast.revenue.mart import REVENUE_TABLE, STREAMS

# streams added up in the total: billing is the same usage revenue rated by the billing engine
TOTAL_STREAMS = ("usage", "invoices", "subscriptions")
STREAM_TITLES = {
    "usage": "Usage revenue (price book)",
    "billing": "Usage revenue (billing engine, production pricing)",
    "invoices": "Transaction revenue (invoices)",
    "subscriptions": "Subscription revenue (plan)",
    "total": "Total of the streams with actuals",
}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{padding:3px 8px;border-bottom:1px solid #eee;
text-align:right}th:first-child,td:first-child{text-align:left}td.l,th.l{text-align:left}.note{color:#666;font-size:.85em}
.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3a}svg{max-width:100%;height:auto}
"""
MONTHLY_SQL = f"""
SELECT stream, currency, date AS month, actual, forecast, lo_80, hi_80, lo_95, hi_95
FROM {REVENUE_TABLE} WHERE cutoff = ? AND grain = 'month' AND entity = 'all' ORDER BY stream, currency, date
"""
TOURNAMENT_SQL = """
WITH latest AS (SELECT domain, max(cutoff) AS cutoff FROM models.scores WHERE cutoff <= ? GROUP BY domain)
SELECT s.domain, s.cutoff, s.model, count(DISTINCT s.unique_id) AS series,
       count(*) FILTER (WHERE s.is_champion) AS champions,
       count(*) FILTER (WHERE s.failure IS NOT NULL) AS failures,
       median(s.mase) AS median_mase, avg(s.mase) AS mean_mase,
       avg(s.coverage_80) AS coverage_80, avg(s.coverage_95) AS coverage_95
FROM models.scores s JOIN latest l ON l.domain = s.domain AND l.cutoff = s.cutoff
GROUP BY ALL ORDER BY s.domain, champions DESC, median_mase NULLS LAST, s.model
"""
ANOMALIES_SQL = """
SELECT source, count(*) AS flagged, count(DISTINCT ds) AS days, min(ds) AS first_day, max(ds) AS last_day,
       max(abs(robust_z)) AS max_abs_robust_z
FROM audit.anomalies GROUP BY source ORDER BY source
"""
RUN_FAILURES_SQL = (
    "SELECT job_name, partition, failed_at, error FROM audit.run_failures ORDER BY failed_at DESC"
)


@dataclass(frozen=True)
class DashboardData:
    """Everything the page shows, read from the warehouse (and the failed checks, from the orchestrator)."""

    cutoff: str
    monthly: pd.DataFrame
    tournament: pd.DataFrame
    quarantine: pd.DataFrame
    anomalies: pd.DataFrame
    run_failures: pd.DataFrame
    failed_checks: pd.DataFrame = field(default_factory=pd.DataFrame)


def latest_cutoff(con: duckdb.DuckDBPyConnection) -> str | None:
    """The newest cutoff in marts.revenue (None when the mart is empty)."""
    return con.execute(f"SELECT max(cutoff) FROM {REVENUE_TABLE}").fetchall()[0][0]


# quarantine tables whose ingest audit (audit.ingest_runs.source) goes by another name
AUDIT_SOURCE = {"fullbas_runs": "fullbas", "simplebas_runs": "simplebas", "organisations": "orgcard"}


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Quarantined lines per source (each quarantine.* table), with the lines read where the ingest audit has
    them."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine' ORDER BY 1"
        ).fetchall()
    ]
    read = dict(
        con.execute("SELECT source, sum(lines_read) FROM audit.ingest_runs GROUP BY source").fetchall()
    )
    rows = []
    for t in tables:
        n = con.execute(f'SELECT count(*) FROM quarantine."{t}"').fetchall()[0][0]
        lines = read.get(AUDIT_SOURCE.get(t, t))
        rows.append(
            {
                "source": t,
                "quarantined": int(n),
                "lines_read": "" if lines is None else str(int(lines)),
                "share": None if not lines else n / lines,
            }
        )
    return pd.DataFrame(rows, columns=["source", "quarantined", "lines_read", "share"])


def read_dashboard(
    con: duckdb.DuckDBPyConnection, cutoff: str, failed_checks: pd.DataFrame | None = None
) -> DashboardData:
    """The page's data for one cutoff of marts.revenue."""
    return DashboardData(
        cutoff=cutoff,
        monthly=con.execute(MONTHLY_SQL, [cutoff]).df(),
        tournament=con.execute(TOURNAMENT_SQL, [cutoff]).df(),
        quarantine=quarantine_counts(con),
        anomalies=con.execute(ANOMALIES_SQL).df(),
        run_failures=con.execute(RUN_FAILURES_SQL).df(),
        failed_checks=failed_checks if failed_checks is not None else pd.DataFrame(),
    )


def total_series(monthly: pd.DataFrame) -> pd.DataFrame:
    """Monthly total per currency over the TOTAL_STREAMS that have actuals (a forecast-only stream such as the
    subscription plan would make the forecast jump above the actuals it follows): actuals and forecasts
    summed; interval half-widths combined as independent errors (sqrt of summed squares), on each side;
    `streams` says who contributed."""
    m = monthly[monthly["stream"].isin(TOTAL_STREAMS)].copy()
    m = m[m["stream"].isin(set(m.loc[m["actual"].notna(), "stream"]))]
    if m.empty:
        return m.assign(streams=pd.Series(dtype=str))
    m["actual"] = m["actual"].astype(float)
    rows = []
    for (currency, month), g in m.groupby(["currency", "month"], sort=True):
        f = g[g["forecast"].notna()]
        forecasting = set(m[(m["currency"] == currency) & m["forecast"].notna()]["stream"])
        if set(f["stream"]) != forecasting:  # a month some stream does not forecast has no total forecast
            f = f.iloc[0:0]
        if f.empty and g["actual"].isna().all():
            continue
        row = {
            "stream": "total",
            "currency": currency,
            "month": month,
            "actual": g["actual"].sum() if g["actual"].notna().any() else np.nan,
            "forecast": f["forecast"].sum() if len(f) else np.nan,
            "streams": ", ".join(sorted(set(g[g["actual"].notna()]["stream"]) | set(f["stream"]))),
        }
        for level in ("80", "95"):
            lo = (f["forecast"] - f[f"lo_{level}"]).fillna(0.0)
            hi = (f[f"hi_{level}"] - f["forecast"]).fillna(0.0)
            row[f"lo_{level}"] = row["forecast"] - math.sqrt((lo**2).sum()) if len(f) else np.nan
            row[f"hi_{level}"] = row["forecast"] + math.sqrt((hi**2).sum()) if len(f) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def svg_chart(frame: pd.DataFrame, title: str, width: int = 760, height: int = 260) -> str:
    """Actual (black) and forecast (blue) by month, with the 95% (light) and 80% (darker) bands, as SVG."""
    f = frame.sort_values("month").reset_index(drop=True)
    if f.empty:
        return "<p class='note'>No rows.</p>"
    values = pd.concat([f[c].astype(float) for c in ("actual", "forecast", "lo_95", "hi_95")]).dropna()
    top = float(values.max()) if len(values) else 1.0
    bottom = min(0.0, float(values.min())) if len(values) else 0.0
    top = top if top > bottom else bottom + 1.0
    left, right, upper, lower = 70, 10, 24, 40
    n = len(f)

    def x(i: int) -> float:
        return left + (i + 0.5) * (width - left - right) / n

    def y(v: float) -> float:
        return upper + (top - v) * (height - upper - lower) / (top - bottom)

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{html.escape(title)}'>",
        f"<text x='{left}' y='14' font-size='12'>{html.escape(title)}</text>",
        f"<line x1='{left}' y1='{y(bottom)}' x2='{width - right}' y2='{y(bottom)}' stroke='#999'/>",
    ]
    for k in range(5):
        v = bottom + (top - bottom) * k / 4
        parts.append(
            f"<text x='{left - 6}' y='{y(v) + 4:.1f}' font-size='10' text-anchor='end'>{_short(v)}</text>"
            f"<line x1='{left}' y1='{y(v):.1f}' x2='{width - right}' y2='{y(v):.1f}' stroke='#eee'/>"
        )
    step = max(1, n // 12)
    for i, month in enumerate(f["month"]):
        if (n - 1 - i) % step == 0:  # counted from the last month, which is always labelled
            label = pd.Timestamp(month).strftime("%Y-%m")
            parts.append(
                f"<text x='{x(i):.1f}' y='{height - lower + 16}' font-size='10' text-anchor='middle'>{label}</text>"
            )
    for level, colour in (("95", "#cfe0f7"), ("80", "#9fc1ee")):
        band = f[f[f"lo_{level}"].notna() & f[f"hi_{level}"].notna()]
        for i, r in band.iterrows():
            w = (width - left - right) / n * 0.7
            parts.append(
                f"<rect x='{x(i) - w / 2:.1f}' y='{y(r[f'hi_{level}']):.1f}' width='{w:.1f}' "
                f"height='{max(0.5, y(r[f'lo_{level}']) - y(r[f'hi_{level}'])):.1f}' fill='{colour}'>"
                f"<title>{level}% interval {_short(r[f'lo_{level}'])} to {_short(r[f'hi_{level}'])}</title></rect>"
            )
    for column, colour in (("actual", "#111111"), ("forecast", "#1f5fbf")):
        pts = [(x(i), y(float(v))) for i, v in f[column].items() if pd.notna(v)]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='1.8'/>")
        for px, py in pts:
            parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='2.6' fill='{colour}'/>")
    parts.append(
        f"<g font-size='10'><rect x='{width - 250}' y='4' width='10' height='10' fill='#111'/>"
        f"<text x='{width - 236}' y='13'>actual</text>"
        f"<rect x='{width - 190}' y='4' width='10' height='10' fill='#1f5fbf'/>"
        f"<text x='{width - 176}' y='13'>forecast</text>"
        f"<rect x='{width - 124}' y='4' width='10' height='10' fill='#9fc1ee'/>"
        f"<text x='{width - 110}' y='13'>80%</text>"
        f"<rect x='{width - 80}' y='4' width='10' height='10' fill='#cfe0f7'/>"
        f"<text x='{width - 66}' y='13'>95%</text></g>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _short(v: float) -> str:
    a = abs(v)
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if a >= scale:
            return f"{v / scale:,.1f}{unit}"
    return f"{v:,.0f}"


def _table(
    frame: pd.DataFrame, table_id: str, money: tuple[str, ...] = (), floats: tuple[str, ...] = ()
) -> str:
    """An HTML table with an id; money columns to the cent, float columns to three significant digits."""
    if frame.empty:
        return f"<p class='note' id='{html.escape(table_id)}'>None.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for r in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, r, strict=True):
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
                text = ""
            elif c in money:
                text = f"{float(v):,.2f}"
            elif c in floats:
                text = f"{float(v):.3g}"
            elif isinstance(v, pd.Timestamp):
                text = v.strftime("%Y-%m-%d")
            else:
                text = str(v)
            cells.append(f"<td data-col='{html.escape(str(c))}'>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table id='{html.escape(table_id)}'><tr>{head}</tr>{''.join(body)}</table>"


def _series_section(key: str, frame: pd.DataFrame) -> str:
    out = [f"<section id='stream-{key}'><h3>{html.escape(STREAM_TITLES[key])}</h3>"]
    if frame.empty:
        out.append("<p class='note'>No rows for this cutoff.</p></section>")
        return "".join(out)
    for currency, g in frame.groupby("currency"):
        g = g.sort_values("month")
        out.append(svg_chart(g, f"{key}, {currency}, monthly"))
        # the table: the last 12 months with actuals and every forecast month
        recent = g[g["actual"].notna()].tail(12)
        g = pd.concat([recent, g[g["actual"].isna()]]).sort_values("month")
        shown = g.assign(month=pd.to_datetime(g["month"]).dt.strftime("%Y-%m"))
        columns = ["month", "actual", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
        columns += ["streams"] if "streams" in shown else []
        money = ("actual", "forecast", "lo_80", "hi_80", "lo_95", "hi_95")
        out.append(_table(shown[columns], f"monthly-{key}-{currency}", money=money))
    out.append("</section>")
    return "".join(out)


def render_dashboard(data: DashboardData) -> str:
    """The dashboard as one HTML document (no external resources)."""
    monthly = data.monthly.copy()
    total = total_series(monthly)
    sections = [
        f"<p>Training cutoff <b>{html.escape(data.cutoff)}</b>: actuals through its last day, forecasts after it, "
        "from marts.revenue (the stream totals, monthly). Shaded: 80% (darker) and 95% intervals. The invoice "
        "forecast is the revenue of the 30 days after the cutoff, shown on that month. Billing is the usage "
        "revenue again, as the billing engine rates the forecast usage under production pricing; it is left out "
        "of the total, and it has no intervals. The total adds the streams that have actuals (usage and "
        "invoices), so its actual and forecast compare like for like; the subscription plan, forecast only, is "
        "shown on its own. The total's forecast is shown for the months each of its streams forecasts, with "
        "intervals that treat the streams' errors as independent. Tables: the last 12 actual months and every "
        "forecast month.</p>",
        "<h2>Actual vs forecast</h2>",
        _series_section("total", total),
    ]
    for stream in STREAMS:
        sections.append(_series_section(stream, monthly[monthly["stream"] == stream]))
    sections.append(
        "<h2 id='tournament'>Model tournaments</h2><p class='note'>Per domain, the latest tournament at or "
        "before the cutoff: per model, the series it was scored on, how many it won (champions), failures, and "
        "its out-of-sample MASE and interval coverage over those series.</p>"
    )
    if data.tournament.empty:
        sections.append("<p class='note'>No tournament has run yet.</p>")
    for domain, g in data.tournament.groupby("domain", sort=True):
        sections.append(
            f"<h3>{html.escape(str(domain))} (cutoff {html.escape(str(g['cutoff'].iloc[0]))})</h3>"
        )
        sections.append(
            _table(
                g.drop(columns=["domain", "cutoff"]),
                f"tournament-{domain}",
                floats=("median_mase", "mean_mase", "coverage_80", "coverage_95"),
            )
        )
    quarantined = int(data.quarantine["quarantined"].sum()) if len(data.quarantine) else 0
    anomalies = int(data.anomalies["flagged"].sum()) if len(data.anomalies) else 0
    failed = len(data.failed_checks)
    sections += [
        "<h2 id='quality'>Data quality</h2>",
        "<table id='quality-summary'>"
        f"<tr><td>quarantined lines</td><td data-measure='quarantined'>{quarantined}</td></tr>"
        f"<tr><td>failed checks (latest evaluation)</td><td data-measure='failed_checks' "
        f"class='{'bad' if failed else 'ok'}'>{failed}</td></tr>"
        f"<tr><td>anomalies flagged</td><td data-measure='anomalies'>{anomalies}</td></tr>"
        f"<tr><td>failed runs</td><td data-measure='failed_runs'>{len(data.run_failures)}</td></tr></table>",
        "<h3>Quarantined lines per source</h3>",
        _table(data.quarantine, "quarantine", floats=("share",)),
        "<h3>Failed checks</h3>",
        _table(data.failed_checks, "failed-checks"),
        "<h3>Anomalies (audit.anomalies)</h3>",
        _table(data.anomalies, "anomalies", floats=("max_abs_robust_z",)),
        "<h3>Failed runs (audit.run_failures)</h3>",
        _table(
            data.run_failures.head(10).assign(error=lambda f: f["error"].str.slice(0, 200)), "run-failures"
        )
        if len(data.run_failures)
        else _table(data.run_failures, "run-failures"),
    ]
    title = f"Revenue dashboard, cutoff {data.cutoff}"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )


def summary_markdown(data: DashboardData) -> str:
    """A short markdown summary for the asset's metadata: stream totals of the first forecast month and the
    quality counts."""
    m = data.monthly
    lines = [f"**Cutoff {data.cutoff}**", "", "| stream | currency | last actual month | actual | next forecast |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for (stream, currency), g in m.groupby(["stream", "currency"], sort=True):
        act = g[g["actual"].notna()].sort_values("month")
        fc = g[g["forecast"].notna()].sort_values("month")
        last_month = pd.Timestamp(act["month"].iloc[-1]).strftime("%Y-%m") if len(act) else ""
        last_actual = f"{float(act['actual'].iloc[-1]):,.2f}" if len(act) else ""
        next_fc = (
            f"{float(fc['forecast'].iloc[0]):,.2f} ({pd.Timestamp(fc['month'].iloc[0]).strftime('%Y-%m')})"
            if len(fc)
            else ""
        )
        lines.append(f"| {stream} | {currency} | {last_month} | {last_actual} | {next_fc} |")
    quarantined = int(data.quarantine["quarantined"].sum()) if len(data.quarantine) else 0
    anomalies = int(data.anomalies["flagged"].sum()) if len(data.anomalies) else 0
    lines += [
        "",
        f"Quarantined lines: {quarantined}; failed checks: {len(data.failed_checks)}; anomalies: {anomalies}; "
        f"failed runs: {len(data.run_failures)}.",
    ]
    return "\n".join(lines)
