"""The command modules import each other one way only, lazy imports inside functions included."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "certctl" / "cli"
MODULES = sorted(path.stem for path in CLI.glob("*.py") if path.stem != "__init__")


def cli_imports(module: str) -> set[str]:
    """The ``certctl.cli`` modules one module imports, at any depth of its code."""
    tree = ast.parse((CLI / f"{module}.py").read_text(), filename=f"{module}.py")
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "certctl.cli":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("certctl.cli."):
            found.add((node.module or "").split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[2]
                for alias in node.names
                if alias.name.startswith("certctl.cli.")
            )
    return found & set(MODULES)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_cli_modules_import_each_other_without_a_cycle() -> None:
    graph = {module: cli_imports(module) for module in MODULES}

    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_shared_acme_views_are_imported_by_get_describe_and_challenge() -> None:
    for module in ("acme", "describe", "get"):
        assert "acme_views" in cli_imports(module), module
        assert not {"acme", "describe", "get"} & cli_imports(module), module


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        pytest.param({"a": {"b"}, "b": set()}, None, id="a one-way import is no cycle"),
        pytest.param(
            {"a": {"b"}, "b": {"c"}, "c": {"a"}},
            ["a", "b", "c", "a"],
            id="three modules importing in a ring are a cycle",
        ),
        pytest.param({"a": {"a"}}, ["a", "a"], id="a module importing itself is a cycle"),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize("module", MODULES)
def test_each_cli_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import certctl.cli.{module}"],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
