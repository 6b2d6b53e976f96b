"""Publishing rules compared on one long invoice backtest, scored on what happened next.

    .venv/bin/python bench/publish_rule.py --profile hard [--windows 24] [--workdir DIR] [--json FILE]

Loads a generated landing zone like `forecast_quality.py`, takes the invoice tournament's series through the
latest month-end cutoff with 30 observed days after it, and backtests every invoice candidate once on
`--windows` rolling origins 30 days apart (the combination is scored from its members). Then, for each of the
last `--evaluate` origins, every publishing rule sees only the `--history` folds whose 30 days ended by that
origin (as the tournament would at that cutoff), picks a model per series, and is scored on that origin's
actual next 30 days against the previous-30-days baseline. One backtest, every rule on the same forecasts:
the comparison costs one tournament instead of one per rule and cutoff.

Caveats: the series (the top countries) are chosen at the last cutoff, not at each origin. A candidate that
needs more than a year of history before a fold (same-30-days-last-year, scaled_last_year, MSTL) has no
backtest on the earliest folds, and a (series, model) that lacks one of the folds a rule sees is not ranked:
on data starting in January 2021 those candidates can be chosen only from about the seventh-latest origin
on, so `--evaluate 7` compares the rules where every candidate can be chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_quality import BAD, GOOD, WINDOW, load_invoices, machine  # noqa: E402

# (ranked scores, fold errors, the scored 30-day rows seen) -> per series, models (or tuples: their mean) in order
Rule = Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], dict[str, list]]
FIXED = ("scaled_last_year", "same_30_days_last_year", "mstl")  # reference rows: one model everywhere


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["kind", "hard"], default="hard")
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default="2021-01-01")
    ap.add_argument("--end", default="2023-12-31")
    ap.add_argument("--windows", type=int, default=24, help="rolling origins backtested, 30 days apart")
    ap.add_argument("--history", type=int, default=12, help="folds a rule sees at each origin")
    ap.add_argument("--evaluate", type=int, default=12, help="latest origins the rules are scored at")
    ap.add_argument(
        "--min-fold-share",
        type=float,
        default=0.5,
        help="share of the folds seen a candidate needs to be ranked",
    )
    ap.add_argument(
        "--workdir", default=None, help="reuses a landing zone, loaded data and backtest found there"
    )
    ap.add_argument(
        "--only", default=None, help="score only the rules whose name contains one of these (|-separated)"
    )
    ap.add_argument("--json", default=None)
    return ap.parse_args()


def backtest(args, work: Path, resources: dict) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(30-day sums per series, model and fold with their MASE scale, the daily series, candidate names)."""
    from assets.invoices.models import BASELINE, COMBINED, InvoiceModelsConfig, invoice_model_factories
    from revcast.forecasting.aggregate import combine_backtests
    from revcast.forecasting.engine import ForecastEngine, local_executor
    from revcast.invoices.models import thirty_day_scale, thirty_day_sums
    from revcast.invoices.training import training_series
    from revcast.settings import settings

    end = pd.Timestamp(args.end)
    last_day = (end - pd.Timedelta(days=WINDOW)).to_period("M").start_time - pd.Timedelta(days=1)
    with resources["warehouse"].connect(read_only=True) as con:
        daily = training_series(con, last_day.date(), InvoiceModelsConfig().countries)
    data = daily.rename(columns={"revenue": "y"})[["unique_id", "ds", "y"]]
    factories = invoice_model_factories(InvoiceModelsConfig(), daily)
    candidates = [*factories, "combination"]
    cache = work / f"publish_rule_backtest_{args.windows}.parquet"
    if cache.exists():
        bt = pd.read_parquet(cache)
    else:
        t0 = time.perf_counter()
        engine = ForecastEngine(factories, local_executor(settings().workers))
        bt, _ = engine.cross_validation(data, WINDOW, args.windows, WINDOW, complete_only=False)
        bt = pd.concat([bt, combine_backtests(bt, list(COMBINED))], ignore_index=True)
        print(f"backtest: {time.perf_counter() - t0:.0f} s, {len(bt):,} rows", flush=True)
        bt.to_parquet(cache)
    sums = thirty_day_sums(bt)
    keys = sums[["unique_id", "cutoff"]].drop_duplicates()
    sums = sums.merge(thirty_day_scale(data, keys), on=["unique_id", "cutoff"])
    assert BASELINE in candidates
    return sums, data, candidates


def margin_rule(margin: float, share: float | None) -> Rule:
    """The tournament's rule: best MASE within the margin of the baseline, optionally with a win share."""
    from assets.invoices.models import BASELINE
    from revcast.tournament import published_order

    def rule(ranked, errors, hist):
        plan = published_order(
            ranked, BASELINE, margin, errors=errors if share is not None else None, min_win_share=share or 0
        )
        return {uid: order for uid, (order, _) in plan.items()}

    return rule


def signed_rank_rule(margin: float, alpha: float) -> Rule:
    """Best MASE within the margin whose fold errors are lower than the baseline's by a one-sided Wilcoxon
    signed-rank test at level alpha."""
    from scipy.stats import wilcoxon

    from assets.invoices.models import BASELINE

    def rule(ranked, errors, hist):
        wide = errors.pivot_table(index=["unique_id", "fold"], columns="model", values="error")
        out = {}
        for uid, cands in ranked.groupby("unique_id", sort=True):
            models = cands["model"].tolist()
            mase = dict(zip(models, cands["mase"].astype(float), strict=True))
            base = mase.get(BASELINE, np.nan)
            winners = []
            for m in models:
                if m == BASELINE or not mase[m] <= (1 - margin) * base:
                    continue
                pair = wide.loc[uid, [m, BASELINE]].dropna()
                d = pair[m] - pair[BASELINE]
                if len(d) >= 5 and (d != 0).any() and wilcoxon(d, alternative="less").pvalue <= alpha:
                    winners.append(m)
            out[str(uid)] = [*winners, BASELINE]
        return out

    return rule


def top_k_rule(k: int, with_baseline: bool = False, within_baseline: bool = False) -> Rule:
    """Publish the equal-weight mean of the k best candidates by MASE (plus the baseline, if asked; only
    those no worse than the baseline, if asked), then fall back to the ranking."""
    from assets.invoices.models import BASELINE

    def rule(ranked, errors, hist):
        out = {}
        for uid, cands in ranked.groupby("unique_id", sort=True):
            cands = cands[cands["mase"].notna() & (cands["model"] != "combination")]
            base = cands.loc[cands["model"] == BASELINE, "mase"]
            if within_baseline and len(base):
                cands = cands[cands["mase"] <= float(base.iloc[0])]
            top = [m for m in cands["model"] if not (with_baseline and m == BASELINE)][:k]
            members = tuple(dict.fromkeys([*top, *([BASELINE] if with_baseline else [])]))
            out[str(uid)] = [members, *ranked.loc[ranked["unique_id"] == uid, "model"]]
        return out

    return rule


def gated_top_mean_rule(
    k: int, margin: float = 0.05, share: float | None = 0.5, fallback_margin: float | None = None
) -> Rule:
    """The tournament's rule with `top_k`: the mean of the k best where its rolling-selection backtest beats
    the baseline by the margin on the same folds, else the margin and win-share rule."""
    from assets.invoices.models import BASELINE
    from revcast.forecasting.metrics import score_frame
    from revcast.tournament import _order, rolling_top_mean, top_mean_gate, top_members

    fallback = (
        margin_rule(margin, share)
        if share is not None
        else lambda r, e, h: {str(u): [BASELINE] for u in r["unique_id"].unique()}
    )

    def rule(ranked, errors, hist):
        out = fallback(ranked, errors, hist)
        per_fold = score_frame(hist, by=("unique_id", "model", "fold"))
        top = rolling_top_mean(hist, per_fold, _order(ranked["model"].unique()), k, WINDOW)
        if top.empty:
            return out
        top = top.merge(hist[["unique_id", "cutoff", "scale"]].drop_duplicates(), on=["unique_id", "cutoff"])
        gate = top_mean_gate(
            pd.concat([per_fold, score_frame(top, by=("unique_id", "model", "fold"))]), BASELINE
        )
        members = top_members(ranked, k)
        for uid, (mase, base, _) in gate.items():
            if uid in members and mase <= (1 - margin) * base:
                out[uid] = [tuple(members[uid]), *out[uid]]
        return out

    return rule


def pooled_rule(gated: bool) -> Rule:
    """Aggregate selection (`pooled_choice`): the one model best over every series is published everywhere;
    gated, only where it also passes the margin and win-share rule for that series, else that rule's choice."""
    from assets.invoices.models import BASELINE
    from revcast.tournament import pooled_choice

    current = margin_rule(0.05, 0.5)

    def rule(ranked, errors, hist):
        uids = pd.Series(1.0, index=ranked["unique_id"].unique())
        best = {u: m for u, (m, _) in pooled_choice(ranked, uids, BASELINE, 0.0, 0.0).items()}
        out = current(ranked, errors, hist)
        for uid, order in out.items():
            passed = order[: order.index(BASELINE)] if BASELINE in order else order
            if uid in best and (not gated or best[uid] in passed):
                out[uid] = [best[uid], *order]
        return out

    return rule


def split_rule(data: pd.DataFrame, max_zero_share: float, sparse: Rule | None = None) -> Rule:
    """Series with more zero-revenue days (through the latest fold seen) than `max_zero_share` follow `sparse`
    or, by default, the tournament's `pooled_above_zero_share` (the model best over all series, if it beats
    the baseline by 5% there); the rest the margin and win-share rule."""
    from assets.invoices.models import BASELINE
    from revcast.tournament import pooled_choice

    current = margin_rule(0.05, 0.5)

    def rule(ranked, errors, hist):
        seen = data[data["ds"] <= hist["cutoff"].max()]
        zero = (seen["y"] == 0).groupby(seen["unique_id"]).mean()
        out = current(ranked, errors, hist)
        if sparse is not None:
            alt = sparse(ranked, errors, hist)
            return {u: alt[u] if zero.get(u, 0.0) > max_zero_share else order for u, order in out.items()}
        for uid, (model, _) in pooled_choice(ranked, zero, BASELINE, max_zero_share, 0.05).items():
            if uid in out:
                out[uid] = [model, *out[uid]]
        return out

    return rule


def fixed_rule(model: str) -> Rule:
    """Publish one model for every series, whatever the backtest says (then the baseline if it is missing)."""
    from assets.invoices.models import BASELINE

    def rule(ranked, errors, hist):
        return {str(u): [model, BASELINE] for u in ranked["unique_id"].unique()}

    return rule


def published(now: pd.DataFrame, uid: str, pick: str | tuple[str, ...]) -> pd.Series | None:
    """The calibrated 30-day forecast of one model, or the mean of several (None if one is missing)."""
    members = pick if isinstance(pick, tuple) else (pick,)
    if not members or any((uid, m) not in now.index for m in members):
        return None
    rows = now.loc[[(uid, m) for m in members], ["y", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]]
    return rows.mean()


def evaluate(sums: pd.DataFrame, candidates: list[str], rules: dict[str, Rule], args) -> pd.DataFrame:
    """Per rule, origin and series: the published model, its 30-day error and the baseline's."""
    from assets.invoices.models import BASELINE
    from revcast.forecasting.calibration import apply_calibration, fit_calibration
    from revcast.forecasting.metrics import score_frame
    from revcast.tournament import _order, enough_folds, fold_errors, rank_candidates, relative_mase

    origins = sorted(sums["cutoff"].unique())
    rows = []
    for o in origins[-args.evaluate :]:
        past = [c for c in origins if c + np.timedelta64(WINDOW, "D") <= o][-args.history :]
        hist = sums[sums["cutoff"].isin(past)]
        # as in the tournament: a (series, model) with enough of the folds its series has is ranked, against
        # the baseline on the same folds
        hist, _ = enough_folds(hist, args.min_fold_share)
        scores = score_frame(hist, by=("unique_id", "model"))
        if args.min_fold_share < 1:
            per_fold = score_frame(hist, by=("unique_id", "model", "fold"))
            scores = scores.merge(relative_mase(per_fold, BASELINE), how="left")
        ranked = rank_candidates(scores, _order(candidates))
        errors = fold_errors(hist)
        # each model's intervals calibrated on the folds it has seen, as the tournament publishes them
        now = apply_calibration(sums[sums["cutoff"] == o], fit_calibration(hist))
        now = now.set_index(["unique_id", "model"])
        for name, rule in rules.items():
            for uid, order in rule(ranked, errors, hist).items():
                # the first in order that forecasts this origin and not below zero (the fallback path)
                fcs = ((m, published(now, uid, m)) for m in order)
                pick, r = next(((m, f) for m, f in fcs if f is not None and f["yhat"] >= 0), (None, None))
                if pick is None or (uid, BASELINE) not in now.index:
                    continue
                b = now.loc[(uid, BASELINE)]
                rows.append(
                    {"rule": name, "origin": o, "unique_id": uid,
                     "model": "+".join(pick) if isinstance(pick, tuple) else pick, "actual": r["y"],
                     "err": abs(r["yhat"] - r["y"]), "err_baseline": abs(b["yhat"] - b["y"]),
                     "in_80": r["lo_80"] <= r["y"] <= r["hi_80"], "in_95": r["lo_95"] <= r["y"] <= r["hi_95"]}
                )  # fmt: skip
    return pd.DataFrame(rows)


def summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Per rule: series at most 0.85x and above 1.0x the baseline's MAE, worst series, total error ratio."""
    per = scored.groupby(["rule", "unique_id"])[["err", "err_baseline"]].mean()
    per["ratio"] = per["err"] / per["err_baseline"]
    g = per.groupby("rule")
    out = pd.DataFrame(
        {
            "series": g.size(),
            f"at_most_{GOOD}": g["ratio"].apply(lambda r: int((r <= GOOD).sum())),
            f"above_{BAD}": g["ratio"].apply(lambda r: int((r > BAD + 1e-9).sum())),
            "worst": g["ratio"].max(),
            "total": g["err"].sum() / g["err_baseline"].sum(),
            "coverage_80": scored.groupby("rule")["in_80"].mean(),
            "coverage_95": scored.groupby("rule")["in_95"].mean(),
            "baseline_published": scored.groupby("rule")["model"].apply(
                lambda m: (m == "previous_30_days").mean()
            ),
        }
    )
    return out.sort_values(["total"])


def main() -> None:
    args = parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix=f"revcast_publish_{args.profile}_"))
    os.environ["REVCAST_START_DATE"], os.environ["REVCAST_END_DATE"] = args.start, args.end
    import warnings

    warnings.filterwarnings("ignore")
    resources = load_invoices(args, work)
    sums, data, candidates = backtest(args, work, resources)
    rules: dict[str, Rule] = {"best MASE, no gate": margin_rule(0.0, None)}
    for margin in (0.05, 0.10, 0.20):
        rules[f"margin {margin:.2f}"] = margin_rule(margin, None)
        for share in (0.5, 0.6, 0.75):
            rules[f"margin {margin:.2f} + win share {share}"] = margin_rule(margin, share)
        for alpha in (0.05, 0.10, 0.25):
            rules[f"margin {margin:.2f} + signed-rank p<={alpha}"] = signed_rank_rule(margin, alpha)
    for k in (2, 3, 4, 5):
        rules[f"mean of top {k}"] = top_k_rule(k)
        rules[f"mean of top {k} if it beats the baseline by 5%, else margin 0.05 + win share 0.5"] = (
            gated_top_mean_rule(k)
        )
        for margin in (0.0, 0.05):
            rules[f"mean of top {k} if it beats the baseline by {margin:.0%}, else the baseline"] = (
                gated_top_mean_rule(k, margin, None)
            )
        rules[f"mean of top {k} if no worse than the baseline, else margin 0.05 + win share 0.5"] = (
            gated_top_mean_rule(k, 0.0, 0.5, fallback_margin=0.05)
        )
        rules[f"mean of top {k} no worse than baseline"] = top_k_rule(k, within_baseline=True)
    for k in (1, 2, 3):
        rules[f"mean of top {k} and the baseline"] = top_k_rule(k, with_baseline=True)
    rules["one model for every series (pooled selection)"] = pooled_rule(gated=False)
    rules["one model for every series where it passes margin 0.05 + win share 0.5"] = pooled_rule(gated=True)
    for share in (0.3, 0.5):
        rules[
            f"intermittent (over {share:.0%} zero days): pooled selection, else margin 0.05 + win share 0.5"
        ] = split_rule(data, share)
        rules[
            f"intermittent (over {share:.0%} zero days): mean of top 4, else margin 0.05 + win share 0.5"
        ] = split_rule(data, share, top_k_rule(4))
    for model in FIXED:  # no selection at all: what choosing on the backtest costs or gains
        rules[f"always {model}"] = fixed_rule(model)
    if args.only:
        rules = {name: r for name, r in rules.items() if any(w in name for w in args.only.split("|"))}
    scored = evaluate(sums, candidates, rules, args)
    table = summary(scored)
    print(table.to_markdown(floatfmt=".3f"))
    if args.json:
        out = {"machine": machine(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
               "summary": table.reset_index().to_dict(orient="records"),
               "rows": scored.astype({"origin": str}).to_dict(orient="records")}  # fmt: skip
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
