"""Data cannot steer paths or SQL: a file name full of SQL is data, partition keys are dates or refused,
and the one secret the code location holds (the alert webhook) is an environment variable reference."""

import shutil

import dagster as dg
import duckdb
import pytest

from assets.usage.ingest import usage_records
from resources import LandingZoneResource, default_resources
from revcast.landing import UnsafeLandingPath
from revcast.settings import env_name
from tests.conftest import QUIET, make_resources

DAY = "2022-02-01"
HOSTILE = "usage_2022-02-01'); DROP TABLE clean.usage; --.csv"


def test_a_file_name_full_of_sql_is_only_a_name(sample_landing, tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "usage" / f"date={DAY}"
    folder.mkdir(parents=True)
    shutil.copy(sample_landing / "usage" / f"date={DAY}" / f"usage_{DAY}.csv", folder / HOSTILE)
    result = dg.materialize(
        [usage_records], resources=make_resources(landing, tmp_path), partition_key=DAY, run_config=QUIET
    )
    assert result.success
    with duckdb.connect(str(tmp_path / "revcast.duckdb"), read_only=True) as con:
        names = con.execute("SELECT DISTINCT source_file FROM clean.usage").fetchall()
        files = con.execute("SELECT files FROM audit.ingest_runs").fetchall()
    assert [n[0].rsplit("/", 1)[-1] for n in names] == [HOSTILE]
    assert files[0][0][0].endswith(HOSTILE)


@pytest.mark.parametrize("key", ["../../../etc/passwd", "2022-02-01' OR '1'='1"])
def test_a_partition_key_outside_the_calendar_is_refused(tmp_path, key):
    with pytest.raises(UnsafeLandingPath):
        LandingZoneResource(root=str(tmp_path)).partitions_files("usage", [key])


def test_the_webhook_url_is_an_environment_reference_not_a_value(monkeypatch):
    monkeypatch.setenv(env_name("alert_webhook_url"), "https://hooks.example/secret-token")
    alerts = default_resources()["alerts"]
    assert isinstance(alerts.webhook_url, dg.EnvVar)
    # Dagster keeps and shows the name
    assert alerts.webhook_url.env_var_name == env_name("alert_webhook_url")
