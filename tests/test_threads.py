"""Rules on several threads at once (issue 16): the same alerts, failures and notes as one thread."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import followmoney as fm
from followmoney.detect.rules import REGISTRY
from followmoney.detect.score import failures_of, notes_of, score


@pytest.mark.parametrize("threads", [2, 5])
def test_threads_give_the_alerts_of_one_thread(synthetic, synthetic_pandas, threads):
    bundle, cfg = synthetic
    got = score(bundle, cfg, threads=threads)
    assert synthetic_pandas.num_rows > 50 and len(set(synthetic_pandas.column("rule_id").to_pylist())) >= 10  # many rules fire
    assert got.column("alert_id").to_pylist() == synthetic_pandas.column("alert_id").to_pylist()
    assert got.equals(synthetic_pandas)
    assert notes_of(got) == notes_of(synthetic_pandas) and failures_of(got) == failures_of(synthetic_pandas) == []


def test_notes_and_failures_come_in_rule_order_whatever_finishes_first(synthetic, monkeypatch):
    """Two rules fail and two write notes; the slower of each pair comes first in the rule order."""
    bundle, cfg = synthetic
    release = threading.Event()

    def failing(name, wait):
        def func(frame, ctx):
            if wait:
                release.wait(5)  # the other rules finish first
            ctx.shared.setdefault("notes", []).append({"topic": "test", "rule": name, "note": name})
            raise RuntimeError("no")

        return func

    monkeypatch.setitem(REGISTRY, "ML-01", dataclasses.replace(REGISTRY["ML-01"], func=failing("ML-01", True)))
    monkeypatch.setitem(REGISTRY, "ML-02", dataclasses.replace(REGISTRY["ML-02"], func=failing("ML-02", False)))
    original = REGISTRY["ML-13"].func

    def last(frame, ctx):
        try:
            return original(frame, ctx)
        finally:
            release.set()

    monkeypatch.setitem(REGISTRY, "ML-13", dataclasses.replace(REGISTRY["ML-13"], func=last))
    ids = ["ML-01", "ML-02", "ML-13"]
    got = score(bundle, cfg, rules=ids, threads=3)
    assert [f["id"] for f in failures_of(got)] == ["ML-01", "ML-02"]
    assert [n["rule"] for n in notes_of(got) if n.get("topic") == "test"] == ["ML-01", "ML-02"]
    assert set(got.column("rule_id").to_pylist()) == {"ML-13"}
    with pytest.raises(RuntimeError):
        score(bundle, cfg, rules=["ML-02", "ML-13"], threads=2, on_error="raise")


def test_a_shared_table_is_built_once_while_its_readers_run_together(synthetic, monkeypatch):
    """The graph rules share one edge table: with four threads, the first reader builds it and the others wait."""
    from followmoney.detect.rules._graph import _table

    bundle, cfg = synthetic
    built = []
    original = _table._edges

    def counted(*args, **kwargs):
        built.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(_table, "_edges", counted)
    graph = ["ML-07", "ML-08", "ML-10", "ML-11"]
    got = score(bundle, cfg, rules=graph, threads=4)
    assert len(built) == 1
    assert got.equals(score(bundle, cfg, rules=graph, threads=1))


def test_thread_count_is_checked():
    b = fm.read(fm.sample_data_path() / "goaml")
    with pytest.raises(ValueError, match="threads must be at least 1"):
        score(b, fm.Config(jurisdiction="AE"), threads=0)
    with pytest.raises(fm.ConfigError, match="threads goes with engine='pandas'"):
        score(b, fm.Config(jurisdiction="AE"), engine="dask", threads=2)


def test_command_line_threads_give_the_same_run(tmp_path):
    from click.testing import CliRunner

    from followmoney.cli import main

    data = fm.sample_data_path()
    runs = {}
    for n in (1, 2):
        result = CliRunner().invoke(main, ["score", str(data / "amlsim" / "transactions.csv"), str(data / "goaml"), "--jurisdiction", "AE",
                                           "--out", str(tmp_path / f"run{n}"), "--quiet", "--threads", str(n)])  # fmt: skip
        assert result.exit_code in (0, 2), result.output
        runs[n] = (tmp_path / f"run{n}" / "alerts.csv").read_text()
    assert runs[1] == runs[2] and runs[1].count("\n") > 5
    bad = CliRunner().invoke(main, ["score", str(data / "goaml"), "--out", str(tmp_path / "x"), "--threads", "2", "--engine", "dask"])
    assert bad.exit_code == 2 and "--threads goes with --engine pandas" in bad.output
