"""Evidence pack: content, reproducibility data, and rendering in a real headless browser."""

import shutil
from html import unescape
import subprocess

import pytest
from click.testing import CliRunner

import followmoney as fm
from followmoney.cli import main

CONTROLLER = "DEXB/1001002001"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, sample_data=fm.sample_data_path()):
    out = tmp_path_factory.mktemp("run")
    r = CliRunner().invoke(main, ["score", str(sample_data / "goaml"), "--jurisdiction", "AE", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def pack(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "case.html"
    r = CliRunner().invoke(main, ["report", CONTROLLER, "--run", str(run_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_pack_holds_case_alerts_evidence_and_reproduction_data(pack):
    html = unescape(pack.read_text("utf-8"))
    assert "Evidence pack: Tariq Fictus (C" in html and CONTROLLER in html and "controller" in html  # his case, his account
    for rule in ("ML-01", "HT-11"):
        assert rule in html
    assert "str_2026_001.xml#/report[1]/transaction[1]" in html  # source reference into the original report
    assert html.count("data:image/png;base64,") >= 3  # link chart, timeline, flow diagram: embedded
    assert "sha256" in html and '"jurisdiction": "AE"' in html
    assert "Trace of funds (LIBR)" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_pack_says_what_each_fired_rule_looks_for_and_its_sources_from_the_catalogue(pack):
    from followmoney.detect.rules.catalogue import CATALOGUE

    html = unescape(pack.read_text("utf-8"))
    assert "The rules that fired" in html
    for rule in ("ML-01", "HT-11"):  # the controller's alerts
        entry = CATALOGUE[rule]
        assert entry.name in html and entry.description in html and entry.source in html


def test_unknown_subject_is_a_clear_error(run_dir, tmp_path):
    r = CliRunner().invoke(main, ["report", "NOPE/1", "--run", str(run_dir), "--out", str(tmp_path / "x.html")])
    assert r.exit_code == 2 and "no alert for subject" in r.output


def test_bundle_method_matches_the_function(sample_data):
    b = fm.read(sample_data / "goaml")
    alerts = fm.score(b, fm.Config(jurisdiction="AE"))
    assert "Evidence pack: P" not in fm.evidence_pack(b, alerts, CONTROLLER)


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_pack_renders_in_headless_chromium(pack, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package when it can)")
    shot = tmp_path / "case.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    r = subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,2400", pack.as_uri()],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a real page, not a blank one
    dom = subprocess.run([browser, *flags, "--dump-dom", pack.as_uri()], capture_output=True, text=True, timeout=120)
    assert "Evidence pack" in dom.stdout and "<img" in dom.stdout


def test_interactive_chart_in_the_pack_expands_on_click_in_chromium(pack, tmp_path):
    """The pack's interactive chart runs in a real browser: clicking the company's account opens its payers."""
    import re

    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package when it can)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip

    def shown(uri):
        dom = subprocess.run([browser, *flags, "--dump-dom", uri], capture_output=True, text=True, timeout=120).stdout
        nodes = re.findall(r'data-node="([^"]+)"', dom)
        return int(re.search(r'data-shown="(\d+)"', dom).group(1)), set(nodes)

    n0, before = shown(pack.as_uri())
    assert CONTROLLER in before and "GSMB/2002003001" in before and "OTBK/3003001101" not in before
    n1, after = shown(pack.as_uri() + "#fm-click=GSMB%2F2002003001")  # the page clicks this node once loaded
    assert n1 > n0 and "OTBK/3003001101" in after  # a payer of the company, one hop further
