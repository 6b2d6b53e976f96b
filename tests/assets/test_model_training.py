"""Models train from the feature tables through the cutoff, gaps are flagged, and a cutoff depends on all history."""

import shutil
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.invoices import invoice_daily_revenue, invoice_features, invoice_records
from assets.usage.features import usage_daily_totals, usage_features
from revcast.invoices.series import top_countries
from revcast.invoices.training import training_series as invoice_training_series
from revcast.usage.features import USAGE_FEATURES
from revcast.usage.training import training_series as usage_training_series
from revcast.warehouse import connect
from tests.conftest import QUIET, SAMPLE_END, SAMPLE_START, make_resources, materialize_range

CUTOFF, LAST_DAY = "2023-11", date(2023, 11, 30)


def _read(path, sql: str, params=None) -> pd.DataFrame:
    con = connect(path, read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def _as_series(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame[["unique_id", "ds", *columns]].copy()
    out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
    out[columns] = out[columns].astype(float)
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


def test_usage_training_frame_is_the_feature_table_through_the_cutoff(usage_features_warehouse):
    con = connect(usage_features_warehouse, read_only=True)
    try:
        frame = usage_training_series(con, CUTOFF)
    finally:
        con.close()
    table = _read(
        usage_features_warehouse,
        "SELECT metric AS unique_id, ds, quantity AS y FROM features.usage_features WHERE ds <= ?",
        [LAST_DAY],
    )
    pd.testing.assert_frame_equal(_as_series(frame, ["y"]), _as_series(table, ["y"]))
    assert frame["observed"].all()
    assert set(frame.groupby("unique_id")["ds"].max().dt.date) == {LAST_DAY}
    assert set(frame.groupby("unique_id")["ds"].min().dt.date) == {SAMPLE_START}


def test_usage_day_never_ingested_is_flagged_not_zero(usage_model_resources):
    path = usage_model_resources["warehouse"].path
    day = date(2023, 3, 15)
    con = connect(path)
    try:  # the day's export never arrived
        con.execute("DELETE FROM clean.usage WHERE usage_date = ?", [day])
        con.execute(
            "DELETE FROM audit.ingest_runs WHERE source = 'usage' AND partition_key = ?", [day.isoformat()]
        )
    finally:
        con.close()
    totals = dg.materialize(
        [usage_daily_totals], resources=usage_model_resources, partition_key=day.isoformat(), run_config=QUIET
    )
    assert totals.success
    assert (
        totals.asset_materializations_for_node("usage_daily_totals")[0].metadata["unobserved_days"].value == 1
    )
    assert dg.materialize([usage_features], resources=usage_model_resources, run_config=QUIET).success
    row = _read(path, "SELECT quantity, observed FROM features.usage_daily_totals WHERE ds = ?", [day])
    assert len(row) == 2 and row["quantity"].isna().all() and not row["observed"].any()

    con = connect(path, read_only=True)
    try:
        frame = usage_training_series(con, CUTOFF)
    finally:
        con.close()
    neighbours = _read(
        path,
        "SELECT metric, avg(quantity) AS y FROM features.usage_daily_totals WHERE ds IN (?, ?) GROUP BY metric",
        [date(2023, 3, 14), date(2023, 3, 16)],
    ).set_index("metric")["y"]
    filled = frame[frame["ds"].dt.date == day].set_index("unique_id")
    assert not filled["observed"].any() and (filled["y"] > 0).all()
    np.testing.assert_allclose(filled["y"], neighbours.reindex(filled.index))
    assert (~frame["observed"]).sum() == 2  # one day, two metrics: the count usage_models reports


@pytest.fixture(scope="module")
def invoice_warehouse(sample_landing, tmp_path_factory):
    """Invoices ingested for the whole sample range, then the daily revenue and the features."""
    workdir = tmp_path_factory.mktemp("invoice_training")
    resources = make_resources(sample_landing, workdir)
    first, last = SAMPLE_START.strftime("%Y-%m"), SAMPLE_END.strftime("%Y-%m")
    assert materialize_range([invoice_records], resources, first, last).success
    assert dg.materialize(
        [invoice_daily_revenue, invoice_features], resources=resources, run_config=QUIET
    ).success
    return workdir / "revcast.duckdb"


def test_invoice_training_frame_is_the_feature_table_through_the_cutoff(invoice_warehouse):
    con = connect(invoice_warehouse, read_only=True)
    try:
        frame = invoice_training_series(con, LAST_DAY, countries=5)
        top = top_countries(con, 5, daily="features.invoice_daily_revenue", end=LAST_DAY)
    finally:
        con.close()
    table = _read(
        invoice_warehouse,
        "SELECT unique_id, ds, revenue AS y, unique_invoices, views FROM features.invoice_daily_revenue "
        "WHERE ds <= ? AND list_contains(?, unique_id)",
        [LAST_DAY, ["all", *top]],
    )
    columns = ["y", "unique_invoices", "views"]
    pd.testing.assert_frame_equal(_as_series(frame, columns), _as_series(table, columns))
    assert set(frame["unique_id"]) == {"all", *top} and frame["observed"].all()
    assert set(frame.groupby("unique_id")["ds"].max().dt.date) == {LAST_DAY}


def test_invoice_month_never_ingested_is_flagged_not_zero(invoice_warehouse, sample_landing, tmp_path):
    shutil.copy(invoice_warehouse, tmp_path / "revcast.duckdb")
    resources = make_resources(sample_landing, tmp_path)
    path = resources["warehouse"].path
    con = connect(path)
    try:  # March 2023's lines are lost: the month stays inside the ingested range
        con.execute("DELETE FROM clean.invoices WHERE invoice_date BETWEEN '2023-03-01' AND '2023-03-31'")
    finally:
        con.close()
    result = dg.materialize([invoice_daily_revenue, invoice_features], resources=resources, run_config=QUIET)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    meta = result.asset_materializations_for_node("invoice_daily_revenue")[0].metadata
    assert meta["unobserved_days"].value == 31
    march = _read(
        path,
        "SELECT revenue, observed FROM features.invoice_daily_revenue WHERE ds BETWEEN '2023-03-01' AND '2023-03-31'",
    )
    assert march["revenue"].isna().all() and not march["observed"].any()
    # a feature window that holds a missing day is NULL, not a sum over fewer days
    prev_7 = _read(path, "SELECT revenue_prev_7d FROM features.invoice_features WHERE ds = '2023-04-03'")
    assert prev_7["revenue_prev_7d"].isna().all()

    con = connect(path, read_only=True)
    try:
        frame = invoice_training_series(con, LAST_DAY, countries=5)
    finally:
        con.close()
    gaps = frame[~frame["observed"]]
    assert set(gaps["ds"].dt.month) == {3} and len(gaps) == 31 * frame["unique_id"].nunique()
    everyday = frame[frame["unique_id"] == "all"].set_index("ds")["y"]
    edge = everyday[pd.Timestamp("2023-02-28")], everyday[pd.Timestamp("2023-04-01")]
    step = (edge[1] - edge[0]) / 32
    np.testing.assert_allclose(everyday["2023-03-01":"2023-03-31"], edge[0] + step * np.arange(1, 32))


def _ancestor_partitions(graph, key: str, partition: str, target: str) -> set[str]:
    """Partition keys of `target` that partition `partition` of `key` depends on, through any path."""
    found: set[str] = set()
    frontier = {(dg.AssetKey(key), partition)}
    seen = set()
    while frontier:
        asset, part = frontier.pop()
        if (asset, part) in seen:
            continue
        seen.add((asset, part))
        for parent in graph.get_parents_partitions(asset, part).parent_partitions:
            if parent.asset_key == dg.AssetKey(target):
                found.add(parent.partition_key)
            else:
                frontier.add((parent.asset_key, parent.partition_key))
    return found


@pytest.mark.parametrize(
    ("model", "feature", "history", "last_key"),
    [
        ("usage_models", "usage_features", "usage_daily_totals", "2023-12-31"),
        ("invoice_revenue_models", "invoice_daily_revenue", "invoice_records", "2023-12"),
    ],
)
def test_cutoff_partition_depends_on_all_history_through_its_last_day(model, feature, history, last_key):
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assert dg.AssetKey(feature) in graph.get(dg.AssetKey(model)).parent_keys  # feature -> model edge
    upstream = _ancestor_partitions(graph, model, "2023-12", history)
    keys = graph.get(dg.AssetKey(history)).partitions_def.get_partition_keys()
    through_cutoff = {k for k in keys if k <= last_key}
    assert len(through_cutoff) > 31 and through_cutoff <= upstream  # every day (month) up to the cutoff


def test_lstm_inputs_are_the_feature_tables_lag_columns(usage_features_warehouse):
    """The LSTM's input window for day d is lag_180 .. lag_1 of d in features.usage_features."""
    from revcast.forecasting.lstm import lag_windows

    lags = max(USAGE_FEATURES.lags)
    con = connect(usage_features_warehouse, read_only=True)
    try:
        frame = usage_training_series(con, CUTOFF)
        columns = ", ".join(f"lag_{k}" for k in range(lags, 0, -1))
        table = con.execute(
            f"SELECT {columns} FROM features.usage_features WHERE metric = 'api_calls' AND ds <= ? ORDER BY ds",
            [LAST_DAY],
        ).fetchnumpy()
    finally:
        con.close()
    y = frame.loc[frame["unique_id"] == "api_calls", "y"].to_numpy()
    inputs, _ = lag_windows(y, lags, 1)  # row i: the lags days before day i + lags
    expected = np.column_stack([table[f"lag_{k}"] for k in range(lags, 0, -1)])[lags:]
    np.testing.assert_array_equal(inputs, expected)
