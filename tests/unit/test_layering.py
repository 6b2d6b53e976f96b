"""Import rules: the core is Dagster-free, the assets sit below the code location, nothing imports upward."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level modules it must never import (anywhere in the file, function bodies included)
FORBIDDEN = {
    "revcast": ("dagster", "dagster_*", "pipelines", "assets", "resources", "revcast_app"),
    "assets": ("pipelines", "revcast_app"),
    "resources": ("pipelines", "assets", "revcast_app"),
}


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _is_forbidden(module: str, rules: tuple[str, ...]) -> bool:
    top = module.split(".")[0]
    return any(top.startswith(rule[:-1]) if rule.endswith("*") else top == rule for rule in rules)


def violations(package: str) -> list[str]:
    """`path:line imports module` for every forbidden import in one package's source tree."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, module in _imported_modules(tree):
            if _is_forbidden(module, FORBIDDEN[package]):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports(package):
    assert not violations(package), "\n".join(violations(package))


def test_the_rule_catches_a_forbidden_import():
    tree = ast.parse(
        "def f():\n    from dagster_graphql import Client\nimport pipelines.demo\nimport pandas\n"
    )
    modules = [m for _, m in _imported_modules(tree)]
    forbidden = {m for m in modules if _is_forbidden(m, FORBIDDEN["revcast"])}
    assert forbidden == {"dagster_graphql", "pipelines.demo"}
    assert not _is_forbidden("dagsterish", ("dagster",))
