"""Report runs of both BAS systems as one long frame (ingest adds the Australia/Sydney wall clock)."""

from __future__ import annotations

import pandas as pd

FULLBAS = "fullbas"
SIMPLEBAS = "simplebas"
SYSTEMS = (FULLBAS, SIMPLEBAS)
SYSTEM_LABELS = {FULLBAS: "Full BAS", SIMPLEBAS: "Simple BAS"}
RUN_COLUMNS = [
    "system",
    "run_date",
    "run_at_utc",
    "run_at_local",
    "user_id",
    "org_id",
    "runtime_seconds",
    "statement_year",
    "statement_month",
]


def stack_systems(fullbas: pd.DataFrame, simplebas: pd.DataFrame) -> pd.DataFrame:
    """Both systems' runs in one frame (`RUN_COLUMNS`); Simple BAS has no runtime, Full BAS no statement period."""
    full = fullbas.assign(system=FULLBAS, statement_year=pd.NA, statement_month=pd.NA)
    simple = simplebas.assign(system=SIMPLEBAS, runtime_seconds=float("nan"))
    frames = [f[RUN_COLUMNS] for f in (full, simple) if len(f)]
    runs = pd.concat(frames, ignore_index=True) if frames else full[RUN_COLUMNS].iloc[:0]
    return runs.astype(
        {"statement_year": "Int64", "statement_month": "Int64", "runtime_seconds": "float64"}
    ).reset_index(drop=True)


def for_system(runs: pd.DataFrame, system: str | None) -> pd.DataFrame:
    """The runs of one system from a stacked frame (all of them when `system` is None or there is no column)."""
    if system is None or "system" not in runs:
        return runs
    return runs.loc[runs["system"].eq(system)]


def local_month(local: pd.Series) -> pd.Series:
    """Month start (naive Timestamp) of each Sydney wall-clock instant."""
    return local.dt.to_period("M").dt.to_timestamp()


def has_runtime(runs: pd.DataFrame) -> pd.Series:
    """Per system: whether its runs carry a runtime (Full BAS does, Simple BAS does not)."""
    return runs["runtime_seconds"].notna().groupby(runs["system"]).any()
