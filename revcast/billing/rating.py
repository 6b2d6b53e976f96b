"""The rating engine, in DuckDB SQL: usage records -> usage data records (UDR) -> charge data records (CDR) ->
monthly bills per account, under the rules of a `PricingBook`.

1. Usage records (account_id, metric, ds, quantity, tags: a list of 'key=value' strings; actual or forecast)
   aggregate into UDRs: one per account, metric, calendar month and tag set. A UDR's `target` is its
   `target=` tag (the pricing model under evaluation), NULL for real usage.
2. Each UDR takes the highest-salience rule whose `when` matches (metric, account glob, every rule tag among
   the record's tags, the month inside the rule's dates); ties go to the what-if model over production, then
   to the earlier rule in its file. Production rules have no tag, so they are the floor for every record.
3. The charge: billable = max(quantity - included, 0); graduated bands price each slice at its band's price,
   volume bands price all billable units at the price of the band the total falls in; then the monthly
   minimum. A CDR keeps quantity, billable quantity, the effective unit price, charge, rule, model, currency.
4. Bills: per run, account, month, pricing model evaluated and currency, the sum of its CDR lines.
A UDR that no rule matches goes to quarantine.unrated_usage with the reason, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from revcast.billing.pricing import PRODUCTION, TARGET_TAG, PricingBook
from revcast.warehouse import replace_where, transaction

UDR_TABLE, CDR_TABLE, BILLS_TABLE = "billing.udr", "billing.cdr", "billing.bills"
UNRATED_TABLE = "quarantine.unrated_usage"
USAGE_COLUMNS = ["account_id", "metric", "ds", "quantity", "tags"]


def rules_frames(book: PricingBook) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rules, bands) as frames for the SQL: one row per rule (with its precedence) and per price band."""
    rules, bands = [], []
    ordered = sorted(book.rules(), key=lambda r: (-r.salience, r.model == PRODUCTION, r.model, r.position))
    for rule_id, r in enumerate(ordered):
        rules.append(
            {
                "rule_id": rule_id,  # also the precedence: lower wins
                "model": r.model,
                "rule": r.name,
                "salience": r.salience,
                "metric": r.metric,
                "account_glob": r.account,
                "tags": [f"{k}={v}" for k, v in r.tags],
                "date_from": r.date_from,
                "date_to": r.date_to,
                "mode": r.mode,
                "included": r.included,
                "minimum": r.minimum,
                "currency": r.currency,
            }
        )
        bands += [
            {"rule_id": rule_id, "lower": b.lower, "upper": b.upper, "unit_price": b.unit_price}
            for b in r.bands
        ]
    rules_df = pd.DataFrame(rules)
    rules_df["date_from"] = pd.to_datetime(rules_df["date_from"]).dt.date
    rules_df["date_to"] = pd.to_datetime(rules_df["date_to"]).dt.date
    return rules_df, pd.DataFrame(bands)


RATING_SQL = f"""
CREATE OR REPLACE TEMP TABLE _udr AS
SELECT row_number() OVER () AS udr_id, *,
       (list_filter(tags, lambda x: starts_with(x, '{TARGET_TAG}=')))[1][{len(TARGET_TAG) + 2}:] AS target
FROM (
    SELECT account_id, metric, CAST(date_trunc('month', ds) AS DATE) AS time_from,
           CAST(date_trunc('month', ds) + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS time_to,
           list_sort(coalesce(tags, [])) AS tags, sum(quantity) AS quantity, count(*) AS records
    FROM _usage GROUP BY ALL
);

CREATE OR REPLACE TEMP TABLE _matched AS
SELECT u.udr_id, r.rule_id
FROM _udr u JOIN _rules r
  ON r.metric = u.metric AND u.account_id GLOB r.account_glob AND list_has_all(u.tags, r.tags)
 AND (r.date_from IS NULL OR u.time_from >= r.date_from) AND (r.date_to IS NULL OR u.time_from <= r.date_to)
QUALIFY row_number() OVER (PARTITION BY u.udr_id ORDER BY r.rule_id) = 1;

CREATE OR REPLACE TEMP TABLE _cdr AS
WITH m AS (
    SELECT u.*, r.model AS pricing_model, r.rule, r.mode, r.included, r.minimum, r.currency, r.rule_id,
           greatest(u.quantity - r.included, 0) AS billable
    FROM _udr u JOIN _matched USING (udr_id) JOIN _rules r USING (rule_id)
),
priced AS (
    SELECT m.udr_id,
           sum(CASE WHEN m.mode = 'graduated' THEN b.unit_price * greatest(least(m.billable, b.upper) - b.lower, 0)
                    WHEN (m.billable > b.lower AND m.billable <= b.upper) OR (m.billable = 0 AND b.lower = 0)
                    THEN m.billable * b.unit_price ELSE 0 END) AS usage_charge
    FROM m JOIN _bands b USING (rule_id)
    GROUP BY m.udr_id
)
SELECT m.udr_id, m.account_id, m.metric, m.time_from, m.time_to, m.tags, coalesce(m.target, '{PRODUCTION}') AS target,
       m.quantity, m.billable AS billable_quantity,
       CASE WHEN m.billable > 0 THEN p.usage_charge / m.billable END AS unit_price,
       greatest(p.usage_charge, m.minimum) AS charge, m.rule, m.pricing_model, m.currency
FROM m JOIN priced p USING (udr_id);

CREATE OR REPLACE TEMP TABLE _bills AS
SELECT account_id, time_from, time_to, target, currency,
       account_id || '/' || strftime(time_from, '%Y-%m') || '/' || target || '/' || currency AS bill_id,
       sum(charge) AS charge, count(*) AS lines
FROM _cdr GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE _unrated AS
SELECT u.account_id, u.metric, u.time_from, u.time_to, u.tags, coalesce(u.target, '{PRODUCTION}') AS target,
       u.quantity,
       'no rule matches metric ' || u.metric || ' for account ' || u.account_id || ' in ' ||
       strftime(u.time_from, '%Y-%m') || ' (pricing model ' ||
       CASE WHEN u.target IS NULL THEN '{PRODUCTION}' ELSE u.target || ' or {PRODUCTION}' END || ')' AS reason
FROM _udr u ANTI JOIN _matched m USING (udr_id);
"""


@dataclass(frozen=True)
class RatingCounts:
    records: int
    udr: int
    cdr: int
    bills: int
    unrated: int


def rate(con: duckdb.DuckDBPyConnection, book: PricingBook, usage: str = "_usage") -> RatingCounts:
    """Rate the usage records of the relation or view `usage` (USAGE_COLUMNS) into the temp tables _udr, _cdr,
    _bills and _unrated of `con` (write them with `write_rating`, or read them)."""
    rules, bands = rules_frames(book)
    con.register("_rules", rules)
    con.register("_bands", bands)
    try:
        if usage != "_usage":
            con.execute(f"CREATE OR REPLACE TEMP VIEW _usage AS SELECT * FROM {usage}")
        con.execute(RATING_SQL)
    finally:
        con.unregister("_rules")
        con.unregister("_bands")
    counts = con.execute(
        "SELECT (SELECT sum(records) FROM _udr), (SELECT count(*) FROM _udr), (SELECT count(*) FROM _cdr), "
        "(SELECT count(*) FROM _bills), (SELECT count(*) FROM _unrated)"
    ).fetchall()[0]
    return RatingCounts(*(int(c or 0) for c in counts))


def rate_frame(usage: pd.DataFrame, book: PricingBook) -> dict[str, pd.DataFrame]:
    """Rate a frame of usage records in a private in-memory DuckDB: udr, cdr, bills, unrated frames."""
    con = duckdb.connect()
    try:
        frame = usage.copy()
        if "tags" not in frame:
            frame["tags"] = [[] for _ in range(len(frame))]
        frame["ds"] = pd.to_datetime(frame["ds"]).dt.date
        con.register("_usage_frame", frame[USAGE_COLUMNS])
        con.execute(
            "CREATE TEMP TABLE _usage_records AS SELECT account_id::VARCHAR AS account_id, metric::VARCHAR AS metric, "
            "ds::DATE AS ds, quantity::DOUBLE AS quantity, tags::VARCHAR[] AS tags FROM _usage_frame"
        )
        rate(con, book, "_usage_records")
        return {
            name: con.execute(f"SELECT * FROM _{name} ORDER BY ALL").df()
            for name in ("udr", "cdr", "bills", "unrated")
        }
    finally:
        con.close()


def write_rating(con: duckdb.DuckDBPyConnection, run: str) -> dict[str, int]:
    """Replace the `run` rows of billing.udr/cdr/bills and quarantine.unrated_usage by the temp tables of `rate`,
    in one transaction."""
    key = {"run": run}
    selects = {
        UDR_TABLE: "SELECT ? AS run, udr_id, account_id, metric, time_from, time_to, quantity, records, tags, "
        f"coalesce(target, '{PRODUCTION}') AS target FROM _udr",
        CDR_TABLE: "SELECT ? AS run, udr_id, account_id || '/' || strftime(time_from, '%Y-%m') || '/' || target || '/' "
        "|| currency AS bill_id, account_id, metric, time_from, time_to, target, quantity, billable_quantity, "
        "unit_price, charge, rule, pricing_model, currency FROM _cdr",
        BILLS_TABLE: "SELECT ? AS run, bill_id, account_id, time_from, time_to, target, currency, charge, lines FROM _bills",
        UNRATED_TABLE: "SELECT ? AS run, account_id, metric, time_from, time_to, tags, target, quantity, reason, "
        "now() AS quarantined_at FROM _unrated",
    }
    written = {}
    with transaction(con):
        for table, select in selects.items():
            written[table] = replace_where(con, table, select, key=key, params=[run])
    return written
