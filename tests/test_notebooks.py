"""Every notebook in notebooks/ runs top to bottom on the bundled sample data, and is stored without outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    code = [c for c in nb.cells if c.cell_type == "code"]
    # no warnings (red stderr boxes) and every figure drawn once
    assert not [o.text for c in code for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    for c in code:
        images = [o for o in c.outputs if "image/png" in o.get("data", {})]
        assert len(images) <= 1, c.source
    if path.name.startswith("02"):
        _check_trafficking_case(nb)


def _check_trafficking_case(nb):
    """Notebook 02 shows what its text says: the same person merged across reports, the controller's chart."""
    import re

    cells = nb.cells
    step = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## 1. The same person across reports" in c.source)
    shown = next(c for c in cells[step:] if c.cell_type == "code")
    html = next(o["data"]["text/html"] for o in shown.outputs if o.output_type == "execute_result")
    rows = re.findall(r"<tr>", html.split("<tbody>", 1)[1]) if "<tbody>" in html else []
    assert len(rows) >= 3, "the merge reasons table is empty"
    assert "same" in html.lower() or "identifier" in html.lower()  # explanations of the merges
    chart = next(c for c in cells if c.cell_type == "code" and "LinkChartDisplay" in c.source)
    assert sum("image/png" in o.get("data", {}) for o in chart.outputs) == 1


def test_notebooks_match_their_source():
    """notebooks/make_notebooks.py is the source of the notebooks' cells."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS[0].parent / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, cells in mod.NOTEBOOKS.items():
        stored = nbformat.read(NOTEBOOKS[0].parent / name, as_version=4)
        assert [c.source for c in stored.cells] == [src for _, src in cells], name


def test_alert_and_case_tables_render_as_html_in_a_kernel(tmp_path):
    """After fm.enable_notebook(), Jupyter shows alerts and cases as followmoney's HTML tables."""
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("import followmoney as fm\nfm.enable_notebook()\nb = fm.read(fm.sample_data_path() / 'goaml')\n"
                      "alerts = fm.score(b, fm.Config(jurisdiction='AE'))\nalerts"),
        new_code_cell("fm.build_cases(alerts)"),
        new_code_cell("b"),
    ])  # fmt: skip
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    htmls = [o["data"].get("text/html", "") for c in nb.cells for o in c.outputs if o.output_type == "execute_result"]
    assert "alerts</b>" in htmls[0] and "ML-01" in htmls[0]
    assert "cases</b>" in htmls[1] and "controller" in htmls[1]
    assert "followmoney.Bundle" in htmls[2]
