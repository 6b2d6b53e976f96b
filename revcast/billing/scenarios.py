"""Pricing scenarios: every candidate pricing model evaluated on forecast usage against production.

The forecast usage of a cutoff (forecasts.account_forecasts) is rated once per pricing model: untagged for
production and tagged `target=<model>` for each candidate, in one rating run (`scenario_run(cutoff)`). From
that run's bills: revenue per candidate, month and account segment against production, the difference, and the
accounts whose bill rises or falls by more than `threshold` (10%). Segments split accounts by their production
forecast bill over the horizon: `large` (top 10%), `medium` (next 40%), `small` (the rest).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from revcast.billing.pricing import PRODUCTION, TARGET_TAG, PricingBook
from revcast.billing.rating import RatingCounts, rate, write_rating
from revcast.warehouse import replace_where, transaction

SCENARIOS_TABLE, ACCOUNTS_TABLE = "marts.pricing_scenarios", "marts.pricing_scenario_accounts"
THRESHOLD = 0.10


def scenario_run(cutoff: str) -> str:
    """The rating run key of a cutoff's scenarios."""
    return f"scenarios/{cutoff}"


FORECAST_USAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _scenario_usage AS
SELECT f.account_id, f.metric, f.ds, f.yhat AS quantity,
       CASE WHEN t.model = '{PRODUCTION}' THEN []::VARCHAR[] ELSE ['{TARGET_TAG}=' || t.model] END AS tags
FROM forecasts.account_forecasts f CROSS JOIN (SELECT unnest($models::VARCHAR[]) AS model) t
WHERE f.cutoff = $cutoff
"""

BILL_CHANGES_SQL = """
WITH b AS (SELECT account_id, time_from AS month, target, currency, charge FROM billing.bills WHERE run = $run),
prod AS (SELECT * FROM b WHERE target = $production),
cand AS (SELECT * FROM b WHERE target <> $production),
models AS (SELECT DISTINCT target FROM cand),
totals AS (SELECT account_id, sum(charge) AS total FROM prod GROUP BY account_id),
seg AS (
    SELECT account_id,
           CASE WHEN percent_rank() OVER (ORDER BY total) >= 0.9 THEN 'large'
                WHEN percent_rank() OVER (ORDER BY total) >= 0.5 THEN 'medium' ELSE 'small' END AS segment
    FROM totals
),
grid AS (SELECT m.target, p.account_id, p.month, p.currency, p.charge FROM prod p CROSS JOIN models m)
SELECT coalesce(g.target, c.target) AS pricing_model, coalesce(g.month, c.month) AS month,
       coalesce(g.account_id, c.account_id) AS account_id, coalesce(g.currency, c.currency) AS currency,
       coalesce(s.segment, 'small') AS segment,
       coalesce(g.charge, 0) AS production_charge, coalesce(c.charge, 0) AS candidate_charge
FROM grid g
FULL JOIN cand c ON c.target = g.target AND c.account_id = g.account_id AND c.month = g.month AND c.currency = g.currency
LEFT JOIN seg s ON s.account_id = coalesce(g.account_id, c.account_id)
"""

SCENARIOS_SQL = """
SELECT $cutoff AS cutoff, pricing_model, month, coalesce(segment, 'all') AS segment, currency,
       count(DISTINCT account_id) AS accounts,
       sum(production_charge) AS production_revenue, sum(candidate_charge) AS candidate_revenue,
       sum(candidate_charge) - sum(production_charge) AS difference,
       CASE WHEN sum(production_charge) > 0 THEN (sum(candidate_charge) - sum(production_charge)) / sum(production_charge) END
           AS difference_pct,
       count(*) FILTER (WHERE candidate_charge > production_charge * (1 + $threshold)) AS accounts_rising,
       count(*) FILTER (WHERE candidate_charge < production_charge * (1 - $threshold)) AS accounts_falling
FROM _bill_changes
GROUP BY GROUPING SETS ((pricing_model, month, currency, segment), (pricing_model, month, currency))
"""

ACCOUNTS_SQL = """
SELECT $cutoff AS cutoff, pricing_model, month, account_id, segment, currency, production_charge, candidate_charge,
       CASE WHEN production_charge > 0 THEN (candidate_charge - production_charge) / production_charge END AS change_pct,
       CASE WHEN candidate_charge > production_charge THEN 'rises' ELSE 'falls' END AS direction
FROM _bill_changes
WHERE candidate_charge > production_charge * (1 + $threshold) OR candidate_charge < production_charge * (1 - $threshold)
"""


def evaluate_scenarios(
    con: duckdb.DuckDBPyConnection, book: PricingBook, cutoff: str, threshold: float = THRESHOLD
) -> tuple[RatingCounts, dict[str, int]]:
    """Rate the cutoff's forecast usage under production and every candidate (billing.* run
    `scenario_run(cutoff)`), then replace the cutoff's rows of the two scenario marts; one transaction each."""
    models = [PRODUCTION, *book.candidates()]
    con.execute(FORECAST_USAGE_SQL, {"models": models, "cutoff": cutoff})
    counts = rate(con, book, "_scenario_usage")
    run = scenario_run(cutoff)
    written = write_rating(con, run)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bill_changes AS {BILL_CHANGES_SQL}",
        {"run": run, "production": PRODUCTION},
    )
    params = {"cutoff": cutoff, "threshold": threshold}
    with transaction(con):
        written[SCENARIOS_TABLE] = replace_where(
            con, SCENARIOS_TABLE, SCENARIOS_SQL, key={"cutoff": cutoff}, params=params
        )
        written[ACCOUNTS_TABLE] = replace_where(
            con, ACCOUNTS_TABLE, ACCOUNTS_SQL, key={"cutoff": cutoff}, params=params
        )
    return counts, written


def scenario_summary(con: duckdb.DuckDBPyConnection, cutoff: str) -> pd.DataFrame:
    """Per candidate (all segments, whole horizon): production and candidate revenue, difference, movers."""
    return con.execute(
        f"""SELECT pricing_model, currency, sum(production_revenue) AS production_revenue,
                  sum(candidate_revenue) AS candidate_revenue, sum(difference) AS difference,
                  sum(difference) / nullif(sum(production_revenue), 0) AS difference_pct,
                  sum(accounts_rising) AS accounts_rising, sum(accounts_falling) AS accounts_falling
           FROM {SCENARIOS_TABLE} WHERE cutoff = ? AND segment = 'all' GROUP BY ALL ORDER BY ALL""",
        [cutoff],
    ).df()


def scenarios_png(summary: pd.DataFrame) -> bytes:
    """Bar chart: forecast revenue under production and each candidate."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [PRODUCTION, *summary["pricing_model"]]
    base = float(summary["production_revenue"].iloc[0]) if len(summary) else 0.0
    values = [base, *summary["candidate_revenue"].astype(float)]
    ax.bar(labels, values, color=["#888888", *["#3b7dd8"] * len(summary)])
    ax.set_ylabel(f"forecast revenue ({summary['currency'].iloc[0] if len(summary) else ''})")
    ax.set_title("Pricing models on the forecast usage")
    for i, v in enumerate(values):
        pct = "" if i == 0 or not base else f"\n{100 * (v - base) / base:+.1f}%"
        ax.text(i, v, f"{v:,.0f}{pct}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
