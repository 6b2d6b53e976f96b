"""Shared fixtures: a small generated landing zone, temp warehouses, resources and a range materializer."""

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from resources import LandingZoneResource, ModelStoreResource, WarehouseResource  # noqa: E402
from revcast.generate import generate_landing  # noqa: E402

SAMPLE_START, SAMPLE_END = date(2022, 1, 1), date(2023, 12, 31)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory) -> Path:
    """20 accounts, two years, every domain, 0.5% bad rows; shared read-only by all tests."""
    root = tmp_path_factory.mktemp("landing")
    generate_landing(root, seed=7, accounts=20, start=SAMPLE_START, end=SAMPLE_END, bad_share=0.005)
    return root


def make_resources(landing: Path, workdir: Path) -> dict:
    """Resources over a landing zone and a warehouse + model store in `workdir`."""
    return {
        "warehouse": WarehouseResource(path=str(workdir / "revcast.duckdb")),
        "landing": LandingZoneResource(root=str(landing)),
        "model_store": ModelStoreResource(root=str(workdir / "models")),
    }


@pytest.fixture
def resources(sample_landing, tmp_path) -> dict:
    """Fresh warehouse per test over the shared sample landing zone."""
    return make_resources(sample_landing, tmp_path)


def materialize_range(assets, resources: dict, start: str, end: str, **kwargs) -> dg.ExecuteInProcessResult:
    """Materialize partitioned assets over [start, end] in one run (a single-run backfill)."""
    return dg.materialize(
        assets,
        resources=resources,
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        run_config=kwargs.pop("run_config", QUIET),
        **kwargs,
    )


@pytest.fixture(scope="session")
def usage_warehouse(sample_landing, tmp_path_factory) -> Path:
    """A warehouse with usage_records loaded for the whole sample range (copy it before writing)."""
    from assets.usage.ingest import usage_records

    workdir = tmp_path_factory.mktemp("usage_wh")
    result = materialize_range(
        [usage_records],
        make_resources(sample_landing, workdir),
        SAMPLE_START.isoformat(),
        SAMPLE_END.isoformat(),
    )
    assert result.success
    return workdir / "revcast.duckdb"


@pytest.fixture
def usage_resources(usage_warehouse, sample_landing, tmp_path) -> dict:
    """Resources over a private copy of the loaded usage warehouse."""
    shutil.copy(usage_warehouse, tmp_path / "revcast.duckdb")
    return make_resources(sample_landing, tmp_path)


@pytest.fixture(scope="session")
def usage_features_warehouse(usage_warehouse, sample_landing, tmp_path_factory) -> Path:
    """The loaded usage warehouse plus usage_daily_totals (whole range) and usage_features (copy before writing)."""
    from assets.usage.features import usage_daily_totals, usage_features

    workdir = tmp_path_factory.mktemp("usage_features_wh")
    shutil.copy(usage_warehouse, workdir / "revcast.duckdb")
    resources = make_resources(sample_landing, workdir)
    totals = materialize_range(
        [usage_daily_totals], resources, SAMPLE_START.isoformat(), SAMPLE_END.isoformat()
    )
    assert totals.success
    assert dg.materialize([usage_features], resources=resources, run_config=QUIET).success
    return workdir / "revcast.duckdb"


@pytest.fixture
def usage_model_resources(usage_features_warehouse, sample_landing, tmp_path) -> dict:
    """Resources over a private copy of the warehouse the usage models train from (usage features loaded)."""
    shutil.copy(usage_features_warehouse, tmp_path / "revcast.duckdb")
    return make_resources(sample_landing, tmp_path)
