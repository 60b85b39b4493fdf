"""`make bench` runs to the end on a clean clone: every benchmark imports and names only what exists."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
MODULES = sorted(BENCH.glob("bench_*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_benchmark_imports_and_has_run(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert callable(mod.run)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_followmoney_name_a_benchmark_imports_exists(path):
    """Imports inside functions too: a removed name fails here, not after an hour of `make bench`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("followmoney"):
            mod = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(mod, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                    f"{path.name}: {node.module}.{alias.name} does not exist"
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("followmoney"):
                    importlib.import_module(alias.name)
