"""Robustness cases r05 and r08 (shared/cases/robustness.md) on the output side.

r05: values beginning ``=``, ``+``, ``-``, ``@`` (names, an institution code written as a
``HYPERLINK`` formula) are stored as text in ``cases.xlsx`` and in every CSV, the i2
files and the trace tables included; HTML in names and narratives stays escaped in the
evidence pack. r08: a name containing ``$...$`` is drawn literally by matplotlib and
``report`` does not crash.
"""

import csv
import re
from decimal import Decimal, InvalidOperation
from html import unescape

import openpyxl
import pytest
from click.testing import CliRunner

import followmoney as fm
from followmoney.cli import main

CONTROLLER = "DEXB/1001002001"
FORMULA = re.compile(r"^[=+\-@\t\r]")


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def rob():
    from conftest import SHARED

    d = SHARED / "cases" / "files" / "robustness"
    if not d.is_dir():
        pytest.skip("shared/cases/files/robustness is not present")
    return d


@pytest.fixture(scope="module")
def r05_run(rob, tmp_path_factory):
    out = tmp_path_factory.mktemp("r05") / "run"
    r = run("score", rob / "r05_goaml_formula_and_html_injection.xml", "--jurisdiction", "AE", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    return out


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _live_cells(path):
    """Cells of a CSV that a spreadsheet would read as a formula (numbers such as -5 are fine)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [v for row in csv.reader(fh) for v in row if FORMULA.match(v) and not _is_number(v)]


def test_r05_workbook_stores_formula_like_values_as_text(r05_run):
    wb = openpyxl.load_workbook(r05_run / "cases.xlsx")
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{ws.title}!{c.coordinate} is a formula"
                if isinstance(c.value, str):
                    texts.append(c.value)
    # the injected names reach the workbook (so the test can fail) and are inert text
    assert any(t.startswith("'=1+1") for t in texts) or any("'=1+1" in t for t in texts)
    assert not [t for t in texts if FORMULA.match(t)]


def test_r05_every_csv_of_the_run_is_inert(r05_run):
    files = sorted(r05_run.glob("*.csv"))
    assert {f.name for f in files} >= {"alerts.csv", "cases.csv"}
    text = "".join(f.read_text("utf-8") for f in files)
    assert "'=1+1" in text  # the formula-like name is there, defused
    for f in files:
        assert _live_cells(f) == [], f.name


def test_r05_i2_export_is_inert(r05_run, tmp_path):
    r = run("export", "--run", r05_run, "--to", "i2", "--out", tmp_path / "i2")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "i2" / "entities.csv").read_text("utf-8-sig") + (tmp_path / "i2" / "links.csv").read_text("utf-8-sig")
    assert "'=1+1" in text and "'+cmd" in text and "'-2+3" in text
    for name in ("entities.csv", "links.csv"):
        assert _live_cells(tmp_path / "i2" / name) == [], name


def test_r05_trace_tables_are_inert(r05_run, tmp_path):
    import pyarrow.parquet as pq

    cases = pq.read_table(r05_run / "cases.parquet").to_pylist()
    # the controller's account (the institution code is part of the account id)
    controller = next(a for c in cases if c["role"] == "controller" for a in c["accounts"])
    assert controller.startswith("=HYPERLINK")
    out = tmp_path / "trace"
    r = run("trace", r05_run, "--to", controller, "--out", out)
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("*.csv"))
    assert files
    assert "'=HYPERLINK" in "".join(f.read_text("utf-8") for f in files)  # the account id, defused
    for f in files:
        assert _live_cells(f) == [], f.name


def test_r05_html_stays_escaped_in_the_evidence_pack(r05_run, tmp_path):
    out = tmp_path / "pack.html"
    r = run("report", "1001002001", "--run", r05_run, "--out", out)  # the account number finds the account
    assert r.exit_code == 0, r.output
    raw = out.read_text("utf-8")
    # the only scripts are the interactive chart's own two (its data and its code)
    assert raw.lower().count("<script") == 2 and "<img src=x" not in raw and "<svg onload" not in raw
    chart_data = re.search(r"<script type='application/json'>(.*?)</script>", raw, re.S).group(1)
    assert "<" not in chart_data and "XSS-SCRIPT" in chart_data  # names travel escaped inside the chart's JSON
    # the holder's name (an HTML payload) is shown as text, heading and title included
    assert "&lt;script&gt;document.title=" in raw
    assert "XSS-SCRIPT" in unescape(re.search(r"<h1>(.*?)</h1>", raw).group(1))
    assert "<title>" in raw and "&lt;script&gt;" in re.search(r"<title>(.*?)</title>", raw).group(1)


# ----------------------------------------------------------------------------- r08
def test_r08_mathtext_name_is_drawn_literally(rob):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from followmoney.view.plot import LinkChartDisplay

    b = fm.read(rob / "r08_goaml_mathtext_name.xml")
    d = LinkChartDisplay.from_bundle(b, CONTROLLER, hops=1, max_nodes=40)
    d.figure_.canvas.draw()  # mathtext parse errors surface here
    shown = [t for t in d.ax_.texts if "Ex" in t.get_text()]
    assert shown
    # what matplotlib draws: the escaped dollars come out as literal "$"
    assert any(t._preprocess_math(t.get_text()) == (t.get_text().replace("\\$", "$"), False) and "Ex$^$" in t.get_text().replace("\\$", "$")
               for t in shown)  # fmt: skip
    plt.close(d.figure_)


def test_r08_report_does_not_crash(rob, tmp_path):
    out = tmp_path / "run"
    assert run("score", rob / "r08_goaml_mathtext_name.xml", "--jurisdiction", "AE", "--out", out, "-q").exit_code == 0
    r = run("report", "Ana Ex$^$", "--run", out, "--out", tmp_path / "pack.html")
    assert r.exit_code == 0, r.output
    html = unescape((tmp_path / "pack.html").read_text("utf-8"))
    assert "Evidence pack: Ana Ex$^$" in html and html.count("data:image/png;base64,") >= 2
    r = run("report", CONTROLLER, "--run", out, "--out", tmp_path / "controller.html")
    assert r.exit_code == 0, r.output
