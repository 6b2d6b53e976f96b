"""One settings object: every REVCAST_* variable is read in revcast/settings.py and listed in the README."""

import ast
import re
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest

from revcast.settings import Settings, env_name, settings

ROOT = Path(__file__).resolve().parents[2]
# bench scripts may set variables for the code they drive; they never read them
SOURCE_TREES = ("revcast", "revcast_app", "assets", "resources", "pipelines", "expectations")


def test_defaults_when_nothing_is_set():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"REVCAST_WAREHOUSE": ""}).warehouse == "warehouse/revcast.duckdb"


def test_values_are_parsed_to_their_types(monkeypatch):
    monkeypatch.setenv("REVCAST_END_DATE", "2023-12-31")
    monkeypatch.setenv("REVCAST_DAGSTER_PORT", "3333")
    monkeypatch.setenv("REVCAST_QUARANTINE_THRESHOLD", "0.05")
    current = settings()
    assert (current.end_date, current.dagster_port, current.quarantine_threshold) == (
        date(2023, 12, 31),
        3333,
        0.05,
    )


def test_a_malformed_value_names_its_variable():
    with pytest.raises(ValueError, match="REVCAST_MAX_HORIZON_DAYS='soon'"):
        Settings.from_env({"REVCAST_MAX_HORIZON_DAYS": "soon"})


def test_no_module_but_settings_names_a_variable():
    """A REVCAST_* name as a string literal outside revcast/settings.py means a second reader."""
    found = []
    for tree in SOURCE_TREES:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if path == ROOT / "revcast" / "settings.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                literal = node.value if isinstance(node, ast.Constant) else None
                if isinstance(literal, str) and re.fullmatch(r"REVCAST_[A-Z_]+", literal):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {literal}")
    assert not found, "\n".join(found)


def test_the_readme_lists_every_variable_with_its_default():
    defaults = {f.metadata["env"]: f.default for f in fields(Settings)}
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(REVCAST_[A-Z_]+)` \| ([^|]+) \|", readme, flags=re.MULTILINE))
    assert set(rows) == set(defaults)
    for name, default in defaults.items():
        if default is not None:
            shown = default.isoformat() if isinstance(default, date) else str(default)
            shown = f"{default:g}" if isinstance(default, float) else shown
            assert f"`{shown}`" in rows[name], f"{name}: README shows {rows[name]!r}, default {shown!r}"
        else:
            assert rows[name].startswith("unset"), name
    assert env_name("warehouse") == "REVCAST_WAREHOUSE"
