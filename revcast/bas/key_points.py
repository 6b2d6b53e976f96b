"""The product manager's five data points, computed on the in-scope (Active, paying) runs."""

from __future__ import annotations

from typing import Any

import pandas as pd

from revcast.bas.runs import FULLBAS, SIMPLEBAS, stack_systems

DEFAULT_SMALL_PLAN_SHARE = 0.03
OTHER_PLANS = "Other"


def busiest_month(runs: pd.DataFrame) -> dict[str, Any]:
    """The Sydney calendar month with the most runs (earliest on a tie): {'month': 'YYYY-MM', 'runs': n}."""
    counts = runs["run_at_local"].dt.to_period("M").value_counts().sort_index()
    if counts.empty:
        return {"month": None, "runs": 0}
    return {"month": str(counts.idxmax()), "runs": int(counts.max())}


def plan_popularity(
    orgs: pd.DataFrame, org_ids: pd.Series, small_plan_share: float = DEFAULT_SMALL_PLAN_SHARE
) -> pd.DataFrame:
    """Organisations per pricing plan (product_option) among `org_ids`; plans under `small_plan_share` become Other.

    Columns: product_option, orgs, share; sorted by organisations with Other last.
    """
    card = orgs.drop_duplicates("org_id").set_index("org_id")["product_option"]
    plans = pd.Series(org_ids.drop_duplicates().to_numpy()).map(card).fillna("Unknown")
    counts = plans.value_counts()
    share = counts / counts.sum()
    grouped = counts.groupby(share.index.where(share >= small_plan_share, OTHER_PLANS)).sum()
    out = grouped.rename("orgs").rename_axis("product_option").reset_index()
    out = out.assign(share=out["orgs"] / out["orgs"].sum(), is_other=out["product_option"].eq(OTHER_PLANS))
    return (
        out.sort_values(["is_other", "orgs", "product_option"], ascending=[True, False, True])
        .drop(columns="is_other")
        .reset_index(drop=True)
    )


def key_data_points(
    fullbas: pd.DataFrame,
    simplebas: pd.DataFrame,
    orgs: pd.DataFrame,
    small_plan_share: float = DEFAULT_SMALL_PLAN_SHARE,
) -> dict[str, Any]:
    """Busiest month (per system and combined), orgs that ran both reports, users of either report,
    users who ran reports for more than one org, and plan popularity among BAS organisations.

    Inputs are the in-scope runs (`active_paying_scope`); months are Sydney calendar months; users and
    orgs are counted across both systems (a user running Full BAS for one org and Simple BAS for another
    ran reports for two orgs). `popular_plans` is a DataFrame (product_option, orgs, share).
    """
    runs = stack_systems(fullbas, simplebas)
    org_users = runs.dropna(subset=["org_id"]).groupby("user_id")["org_id"].nunique()
    return {
        "busiest_month": {
            FULLBAS: busiest_month(fullbas),
            SIMPLEBAS: busiest_month(simplebas),
            "combined": busiest_month(runs),
        },
        "orgs_ran_both": len(set(fullbas["org_id"].dropna()) & set(simplebas["org_id"].dropna())),
        "orgs_ran_either": int(runs["org_id"].nunique()),
        "users_either": int(runs["user_id"].nunique()),
        "users_multi_org": int((org_users > 1).sum()),
        "popular_plans": plan_popularity(orgs, runs["org_id"].dropna(), small_plan_share),
    }
