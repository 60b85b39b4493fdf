"""The house: stages point one way, no import cycles, a light and side-effect-free import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layers_contract_holds():
    """import-linter's contracts in pyproject.toml (imports inside functions included)."""
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_no_import_cycles_between_modules():
    """Every import, top-level or inside a function, forms no cycle, but the one declared accessor."""
    graph = grimp.build_graph("followmoney", cache_dir=None)
    g = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            g.add_edge(module, imported)
    # A package's __init__ re-exporting its own modules is not a dependency between stages.
    for a, b in list(g.edges):
        if b.startswith(a + ".") or a.startswith(b + "."):
            g.remove_edge(a, b)
    g.remove_edge("followmoney.trace._result", "followmoney.view.plot")  # TraceResult.plot(), declared in pyproject
    cycles = list(nx.simple_cycles(g, length_bound=6))
    assert cycles == []


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_is_light_and_changes_nothing():
    """``import followmoney`` loads no stage dependency and registers no display formatter."""
    loaded = _fresh(
        "import sys, followmoney\n"
        "heavy = ('pandas', 'sklearn', 'scipy', 'networkx', 'matplotlib', 'IPython', 'lxml')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))"
    )
    assert loaded == "[]"


def test_command_line_help_loads_no_stage():
    """``followmoney --help`` (and option checking) loads click and the data model, not the stages."""
    loaded = _fresh(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from followmoney.cli import main\n"
        "for args in (['--help'], ['score', '--help'], ['share', '--help'], ['trace', '--help']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0, args\n"
        "heavy = ('pandas', 'sklearn', 'scipy', 'networkx', 'matplotlib', 'lxml', 'followmoney.ingest', 'followmoney.detect',\n"
        "         'followmoney.consolidate', 'followmoney.trace', 'followmoney.pipeline', 'followmoney.share')\n"
        "print(sorted({h for h in heavy for m in sys.modules if m == h or m.startswith(h + '.')}))"
    )
    assert loaded == "[]"


def test_command_line_choices_equal_the_registries():
    """The lists the command line offers (``core.choices``) are the registries the stages use."""
    from followmoney import trace
    from followmoney.core import choices
    from followmoney.ingest import ADAPTERS

    assert choices.INPUT_FORMATS == tuple(ADAPTERS)
    assert choices.TRACE_METHODS == trace.METHODS


def test_public_names_resolve():
    import followmoney as fm

    for name in fm.__all__:
        assert getattr(fm, name) is not None, name
    assert callable(fm.resolve) and callable(fm.evaluate)  # functions, though modules share the names
    import followmoney.evaluate  # noqa: F401  (importing the submodule must not shadow the function)

    assert callable(fm.evaluate)


def test_one_exception_family():
    import followmoney as fm

    for name in ("InputError", "SchemaError", "ReconciliationError", "ConfigError", "ParameterError", "TraceError", "RunError"):
        cls = getattr(fm, name)
        assert issubclass(cls, fm.FollowMoneyError) and issubclass(cls, ValueError), name


@pytest.mark.parametrize("stage", ["core", "detect", "view", "datasets", "ingest"])
def test_stage_packages_have_a_public_face(stage):
    import importlib

    mod = importlib.import_module(f"followmoney.{stage}")
    assert mod.__doc__ and mod.__all__
    assert all(not n.startswith("_") for n in mod.__all__)
