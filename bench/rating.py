"""Rating throughput: usage records -> UDR -> CDR -> bills with the example pricing models, in DuckDB.

10M daily usage records (accounts x 2 metrics x days) are made in DuckDB; a quarter of the accounts' records are
untagged (production) and the others carry `target=<model>` of one of the example what-if models
(revcast/generate/pricing.py: volume_discount, storage_premium, usage_tiers), so every rule kind runs (flat,
account glob, graduated and volume tiers, included quantity, minimum). Timed: `rate` (aggregate, match, price,
bill) and `write_rating` (replace the run in billing.* tables) on an in-memory warehouse.

    .venv/bin/python bench/rating.py [--records 10000000] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import duckdb

from revcast.billing import PricingBook, parse_pricing_model, rate, write_rating
from revcast.generate.pricing import PRICING_MODELS
from revcast.warehouse import apply_ddl

DAYS = 100

USAGE_SQL = """
CREATE TABLE usage_records AS
SELECT printf('C%06d', a) AS account_id,
       CASE WHEN m = 0 THEN 'api_calls' ELSE 'storage_gb' END AS metric,
       CAST(DATE '2024-01-01' + to_days(CAST(d AS INTEGER)) AS DATE) AS ds,
       CAST(hash(a, m, d) % 5000 AS DOUBLE) / CASE WHEN m = 0 THEN 1 ELSE 10 END AS quantity,
       CASE a % 4 WHEN 0 THEN []::VARCHAR[] WHEN 1 THEN ['target=volume_discount']
                  WHEN 2 THEN ['target=storage_premium'] ELSE ['target=usage_tiers'] END AS tags
FROM range(1, $accounts + 1) t(a), range(2) u(m), range($days) v(d)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    book = PricingBook({m.model: m for m in (parse_pricing_model(t, n) for n, t in PRICING_MODELS.items())})
    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    apply_ddl(con)
    accounts = args.records // (2 * DAYS)
    t = time.perf_counter()
    con.execute(USAGE_SQL, {"accounts": accounts, "days": DAYS})
    n = con.execute("SELECT count(*) FROM usage_records").fetchall()[0][0]
    print(
        f"{n:,} usage records ({accounts:,} accounts x 2 metrics x {DAYS} days) made in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    counts = rate(con, book, "usage_records")
    rate_s = time.perf_counter() - t
    t = time.perf_counter()
    written = write_rating(con, "bench")
    write_s = time.perf_counter() - t
    print(f"rate: {rate_s:.2f} s ({n / rate_s / 1e6:.2f} M records/s): {counts}")
    print(
        f"write_rating: {write_s:.2f} s {written}; rate + write {n / (rate_s + write_s) / 1e6:.2f} M records/s"
    )
    by_model = con.execute(
        "SELECT target, pricing_model, rule, count(*) AS cdr, round(sum(charge), 2) AS charge FROM billing.cdr "
        "GROUP BY ALL ORDER BY ALL"
    ).df()
    print(by_model.to_string(index=False))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, DuckDB {duckdb.__version__}, threads {args.threads}"
    )


if __name__ == "__main__":
    main()
