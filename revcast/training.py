"""Training frames from the feature tables: the one gap treatment every domain's loader applies.

A feature table marks each day `observed` (the day's source data was ingested) and leaves an unobserved
day's values NULL; a model needs a contiguous daily series. The rule, per series:
- days before the first observed day are dropped (the series starts when its data starts);
- an unobserved day between two observed days is filled by linear interpolation between them and keeps
  observed = false, so the fill is visible and counted (`gap_report`);
- an unobserved last day (no data on the training window's last day) is an error: extrapolating the
  forecast origin would hide a missing ingest, so the loader names the days to ingest instead.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


class MissingDaysError(ValueError):
    """The training window ends in days whose source data was never ingested."""


def fill_gaps(frame: pd.DataFrame, end: date, columns: tuple[str, ...] = ("y",)) -> pd.DataFrame:
    """Each series of `frame` (unique_id, ds, observed, `columns`) daily from its first observed day to `end`,
    unobserved inner days linearly interpolated in `columns` and flagged observed = false (see module doc)."""
    df = frame.assign(
        unique_id=frame["unique_id"].astype(str),
        ds=pd.to_datetime(frame["ds"]).astype("datetime64[ns]"),
        observed=frame["observed"].fillna(False).astype(bool) & frame[list(columns)].notna().all(axis=1),
    )
    firsts = df[df["observed"]].groupby("unique_id", sort=True)["ds"].min()
    last = pd.Timestamp(end)
    lengths = np.maximum((last - firsts).dt.days.to_numpy() + 1, 0)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    spine = pd.DataFrame(
        {
            "unique_id": np.repeat(firsts.index.to_numpy(), lengths),
            "ds": np.repeat(firsts.to_numpy(), lengths) + offsets.astype("timedelta64[D]"),
        }
    )
    out = spine.merge(df[df["ds"] <= last], on=["unique_id", "ds"], how="left")
    out["observed"] = out["observed"].astype("boolean").fillna(False).astype(bool)
    seen = out[out["observed"]].groupby("unique_id", sort=True)["ds"].max()
    behind = seen[seen < last]
    if len(behind):
        runs = "; ".join(
            f"{uid}: {(d + pd.Timedelta(days=1)).date()}..{last.date()}" for uid, d in behind.items()
        )
        raise MissingDaysError(
            f"no source data for the last days of the training window ({runs}): "
            "ingest those days or train on an earlier cutoff"
        )
    # linear interpolation between the observed neighbours (by position: the spine is daily and sorted)
    pos = pd.Series(np.arange(len(out), dtype=float))
    groups = out["unique_id"]
    prev_pos = pos.where(out["observed"]).groupby(groups).ffill()
    next_pos = pos.where(out["observed"]).groupby(groups).bfill()
    weight = ((pos - prev_pos) / (next_pos - prev_pos).where(lambda s: s > 0, 1.0)).to_numpy()
    for column in columns:
        value = out[column].astype(float).where(out["observed"])
        before = value.groupby(groups).ffill().to_numpy()
        after = value.groupby(groups).bfill().to_numpy()
        out[column] = np.where(out["observed"], value, before + (after - before) * weight)
    return out[["unique_id", "ds", *columns, "observed"]]


def gap_report(frame: pd.DataFrame) -> dict[str, int]:
    """Interpolated (unobserved) days per series of a filled training frame."""
    return (~frame["observed"]).groupby(frame["unique_id"], sort=True).sum().astype(int).to_dict()
