"""Issue 14, run side: a nightly run never falls over, never leaks and never lies.

Rule isolation, one-line errors with the documented exit codes, atomic locked run
directories with a completion marker, and the robustness cases of
../shared/cases/robustness.md that concern scoring and outputs (r01, r03, r07d, r20).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import followmoney as fm
from followmoney.cli import main
from followmoney.detect.rules import REGISTRY
from followmoney.detect.score import failures_of
from followmoney.pipeline import EXIT_CODES, check_previous, run_score


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture
def robustness(shared):
    d = shared / "cases" / "files" / "robustness"
    if not d.is_dir():
        pytest.skip("shared/cases/files/robustness is not present")
    return d


@pytest.fixture
def broken_rule(monkeypatch):
    """ML-01 raises, as a rule with a bug would."""
    import dataclasses

    def boom(frame, ctx):
        raise TypeError("Invalid comparison between dtype=str and ndarray")

    monkeypatch.setitem(REGISTRY, "ML-01", dataclasses.replace(REGISTRY["ML-01"], func=boom))
    return REGISTRY["ML-01"]


# --------------------------------------------------------------------------- isolation


def test_a_failing_rule_does_not_take_the_run_down(sample_data, broken_rule, caplog):
    b = fm.read(sample_data / "goaml")
    with caplog.at_level(logging.WARNING, logger="followmoney"):
        alerts = fm.score(b, fm.Config(jurisdiction="AE"))
    assert failures_of(alerts) == [{"detector": "rule", "id": "ML-01", "error": "TypeError"}]
    rules = set(alerts["rule_id"].to_pylist())
    assert "ML-01" not in rules and {"HT-11"} <= rules  # the other rules' alerts are there
    assert "ML-01" in caplog.text and "dtype" not in caplog.text  # rule and error type, no exception text
    with pytest.raises(TypeError):
        fm.score(b, fm.Config(jurisdiction="AE"), on_error="raise")


def test_cli_reports_failed_rules_with_exit_4(sample_data, broken_rule, tmp_path):
    out = tmp_path / "run"
    r = run("score", sample_data / "goaml", "--out", out, "--jurisdiction", "AE", "-q")
    assert r.exit_code == EXIT_CODES["complete_with_failures"] == 4, r.output
    assert "ML-01 failed (TypeError)" in r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete_with_failures"
    assert summary["failures"] == [{"detector": "rule", "id": "ML-01", "error": "TypeError"}]
    assert summary["cases"] > 0 and pq.read_table(out / "alerts.parquet").num_rows == summary["alerts"] > 0


def test_one_unreadable_file_among_many(sample_data, tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_text("<report><transaction>")  # not well-formed
    out = tmp_path / "run"
    r = run("score", sample_data / "goaml", bad, "--out", out, "--jurisdiction", "AE", "-q")
    assert r.exit_code == EXIT_CODES["input"] == 2
    err = [line for line in r.output.splitlines() if line.startswith("followmoney: error")]
    assert len(err) == 1 and str(bad) in err[0]
    summary = json.loads((out / "summary.json").read_text())
    assert [f["file"] for f in summary["failed_files"]] == [str(bad)]
    assert summary["alerts"] > 0 and summary["cases"] > 0  # the other files were scored and written


# --------------------------------------------------------------------------- user errors


@pytest.mark.parametrize(
    "extra, code, words",
    [
        (["--jurisdiction", "XX"], 3, "unknown jurisdiction"),
        (["--config", "CFG:disabled_rules = ['ML-O1']"], 3, "did you mean ML-01"),
        (["--config", "CFG:[rules.\"ML-99\"]\nx = 1"], 3, "unknown rule id"),
        (["--config", "CFG:jurisdiction = "], 3, "cfg.toml"),
        (["--previous", "EMPTYDIR"], 2, "not a completed followmoney run"),
        (["--model", "JUNK"], 2, "not a followmoney model"),
    ],
)
def test_user_errors_are_one_line_with_their_code(sample_data, tmp_path, extra, code, words):
    args = []
    for a in extra:
        if a.startswith("CFG:"):
            (tmp_path / "cfg.toml").write_text(a[4:])
            a = tmp_path / "cfg.toml"
        elif a == "EMPTYDIR":
            (tmp_path / "empty").mkdir()
            a = tmp_path / "empty"
        elif a == "JUNK":
            (tmp_path / "m.fmm").write_text("not a model")
            a = tmp_path / "m.fmm"
        args.append(a)
    r = run("score", sample_data / "goaml", "--out", tmp_path / "run", "-q", *args)
    assert r.exit_code == code, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("followmoney: error:") and words in lines[0], r.output
    assert "Traceback" not in r.output


def test_out_that_is_a_file_or_a_foreign_folder(sample_data, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    r = run("score", sample_data / "goaml", "--out", f, "-q")
    assert r.exit_code == 2 and "is a file" in r.output
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.docx").write_text("keep me")
    r = run("score", sample_data / "goaml", "--out", d, "-q")
    assert r.exit_code == 2 and "not a followmoney run" in r.output
    assert (d / "thesis.docx").read_text() == "keep me"


def test_verbose_shows_the_traceback_for_developers(sample_data, broken_rule, tmp_path, monkeypatch):
    import followmoney.pipeline as pipeline

    def crash(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(pipeline, "build_cases", crash)
    r = run("score", sample_data / "goaml", "--out", tmp_path / "a", "-q")
    assert r.exit_code == 1 and "internal error (RuntimeError)" in r.output and "Traceback" not in r.output
    r = run("-v", "score", sample_data / "goaml", "--out", tmp_path / "b", "-q")
    assert r.exit_code == 1 and "Traceback" in r.output


def test_disk_full_is_one_line(sample_data, tmp_path, monkeypatch):
    import errno

    import followmoney.pipeline as pipeline

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x" / "cases.xlsx"))

    monkeypatch.setattr(pipeline, "to_excel", full)
    r = run("score", sample_data / "goaml", "--out", tmp_path / "x", "-q")
    assert r.exit_code == 2 and "No space left on device" in r.output and "Traceback" not in r.output


def test_disk_full_while_the_tables_are_written_beside_scoring(sample_data, tmp_path, monkeypatch):
    """The canonical tables are written on a thread of their own while the rules run: its error is the run's
    one-line error, the rules' work is not kept, and no temporary folder is left."""
    import errno

    import followmoney.pipeline as pipeline

    scored = []

    def full(bundle, directory):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "transactions.parquet"))

    def score(*a, **k):
        scored.append(True)
        return real_score(*a, **k)

    real_score = pipeline.score
    monkeypatch.setattr(pipeline, "write_bundle", full)
    monkeypatch.setattr(pipeline, "score", score)
    r = run("score", sample_data / "goaml", "--out", tmp_path / "x", "-q")
    assert r.exit_code == 2 and "No space left on device" in r.output and "Traceback" not in r.output
    assert scored and sorted(p.name for p in tmp_path.iterdir()) == []  # no run folder, temporary folder or lock


def test_a_failed_score_waits_for_the_tables_beside_it(sample_data, tmp_path, monkeypatch):
    """Scoring fails while the tables are still being written: the run ends only after the writer has,
    and removes the temporary folder it wrote into."""
    import threading

    import followmoney.pipeline as pipeline

    started, finished = threading.Event(), []
    real_write = pipeline.write_bundle

    def slow_write(bundle, directory):
        started.set()
        time.sleep(0.5)
        out = real_write(bundle, directory)
        finished.append(directory)
        return out

    def crash(*a, **k):
        started.wait(5)
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "write_bundle", slow_write)
    monkeypatch.setattr(pipeline, "score", crash)
    with pytest.raises(RuntimeError):
        run_score([sample_data / "goaml"], tmp_path / "run", progress=False)
    assert finished and not finished[0].exists()  # written to the end, then removed with its folder
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_summary_times_the_tables_written_beside_scoring(sample_data, tmp_path):
    summary = run_score([sample_data / "goaml"], tmp_path / "run", progress=False)
    assert set(summary["stage_seconds"]) == {"read", "tables", "score", "cases", "write"}
    assert summary["stage_seconds"]["tables"] > 0 and summary["stage_peak_rss_mb"]["tables"] > 0
    written = fm.read_bundle(tmp_path / "run" / "tables")
    assert written.transactions.num_rows == summary["rows"]["transactions"] > 0


# --------------------------------------------------------------------------- run directory


def test_a_killed_run_leaves_the_previous_run_intact(sample_data, tmp_path, monkeypatch):
    import followmoney.pipeline as pipeline

    out = tmp_path / "run"
    first = run_score([sample_data / "goaml"], out, cfg=fm.Config(jurisdiction="AE"), progress=False)
    before = (out / "alerts.parquet").read_bytes()

    def killed(*a, **k):
        raise KeyboardInterrupt  # the process dies half-way through writing

    monkeypatch.setattr(pipeline, "to_excel", killed)
    with pytest.raises(KeyboardInterrupt):
        run_score([sample_data / "goaml"], out, cfg=fm.Config(jurisdiction="US"), progress=False)
    assert (out / "alerts.parquet").read_bytes() == before
    assert check_previous(out)["run_id"] == first["run_id"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder, no lock left


def test_previous_and_report_refuse_an_unfinished_run(sample_data, tmp_path):
    out = tmp_path / "run"
    run_score([sample_data / "goaml"], out, cfg=fm.Config(jurisdiction="AE"), progress=False)
    summary = json.loads((out / "summary.json").read_text())
    summary["status"] = "running"
    (out / "summary.json").write_text(json.dumps(summary))
    r = run("score", sample_data / "goaml", "--out", tmp_path / "next", "--previous", out, "-q")
    assert r.exit_code == 2 and "did not complete" in r.output
    r = run("report", "DEXB/1001002001", "--run", out, "--out", tmp_path / "p.html")
    assert r.exit_code == 2 and "did not complete" in r.output


def test_two_runs_cannot_write_one_folder(sample_data, tmp_path):
    from filelock import FileLock

    out = tmp_path / "run"
    with FileLock(str(tmp_path / ".run.lock")):
        r = run("score", sample_data / "goaml", "--out", out, "-q")
    assert r.exit_code == 2 and "another followmoney run" in r.output
    assert not out.exists()


def test_a_rerun_replaces_the_folder(sample_data, tmp_path):
    out = tmp_path / "run"
    a = run_score([sample_data / "goaml"], out, cfg=fm.Config(jurisdiction="AE"), progress=False)
    b = run_score([sample_data / "amlsim" / "transactions.csv"], out, progress=False)
    assert a["run_id"] != b["run_id"] and check_previous(out)["run_id"] == b["run_id"]
    assert json.loads((out / "summary.json").read_text())["inputs"] == b["inputs"]


# --------------------------------------------------------------------------- cases r01 r03 r07d r20


def test_r01_ml19_on_a_one_transaction_report(robustness, tmp_path):
    b = fm.read(robustness / "r01_goaml_opened_one_side.xml")
    for j in ("AE", "US"):
        alerts = fm.score(b, fm.Config(jurisdiction=j), on_error="raise")  # ML-19 scores, no TypeError
        assert failures_of(alerts) == []
    r = run("score", robustness / "r01_goaml_opened_one_side.xml", "--out", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "complete"


def test_r03_four_goaml_reports_together(robustness, shared, sample_data):
    goaml = shared / "samples" / "goaml"
    paths = [sample_data / "goaml" / "str_2026_002.xml"] + [goaml / f"uae_v5.0.2_{k}_synthetic.xml" for k in ("DPMSR", "ECDD", "SAR")]
    b = fm.read(paths)
    for j in ("AE", "US"):
        alerts = fm.score(b, fm.Config(jurisdiction=j), on_error="raise")  # HT-11 runs
        assert failures_of(alerts) == []


def test_r20_alert_with_evidence_missing_its_currency(robustness):
    b = fm.read(robustness / "r20_mt940_currency_missing_alert_crash.sta")
    alerts = fm.score(b, on_error="raise")
    assert alerts.num_rows >= 1
    row = alerts.to_pylist()[0]
    assert row["currency"] is None and row["amount_total"] is None  # mixed/unknown: never summed
    assert "unknown currency" in row["explanation"]


def test_r07d_not_a_model(robustness, sample_data, tmp_path):
    r = run("score", sample_data / "goaml", "--out", tmp_path / "run", "--model", robustness / "r07d_not_a_model.fmm", "-q")
    assert r.exit_code == 2 and "not a followmoney model" in r.output and "Traceback" not in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1
