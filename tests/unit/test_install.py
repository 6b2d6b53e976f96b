"""A non-editable install works on its own: the DDL ships as package data and creates the warehouse."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from revcast.warehouse import SQL_DIR, apply_ddl, connect

ROOT = Path(__file__).resolve().parents[2]
# what an sdist of the project holds (pyproject's package discovery picks the packages from these)
SDIST = (
    "pyproject.toml",
    "README.md",
    "revcast",
    "revcast_app",
    "pipelines",
    "assets",
    "resources",
    "expectations",
)

PROBE = """
import json, sys
from pathlib import Path
import revcast, revcast_app.cli
from revcast.warehouse import SQL_DIR, apply_ddl, connect
con = connect(Path(sys.argv[1]) / "warehouse" / "revcast.duckdb")
apply_ddl(con, SQL_DIR / "service")
tables = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
print(json.dumps({"module": revcast.__file__, "tables": sorted(t for (t,) in tables)}))
"""


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
    return sorted(t for (t,) in rows)


def test_a_non_editable_install_creates_the_warehouse(tmp_path):
    source, target, elsewhere = tmp_path / "source", tmp_path / "site", tmp_path / "elsewhere"
    source.mkdir()
    for name in SDIST:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True, cwd=tmp_path, timeout=120)

    elsewhere.mkdir()
    # the venv supplies the dependencies; the installed copy (first on the path) supplies revcast
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(elsewhere)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    installed = json.loads(probe.stdout.strip().splitlines()[-1])

    assert Path(installed["module"]).is_relative_to(target)
    reference = connect(tmp_path / "reference.duckdb")
    apply_ddl(reference, SQL_DIR / "service")
    assert installed["tables"] == _tables(reference)
    assert {t.split(".")[0] for t in installed["tables"]} >= {
        "clean",
        "features",
        "models",
        "forecasts",
        "audit",
    }
