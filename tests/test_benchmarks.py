"""`make bench` runs to the end on a clean clone: every benchmark imports and names only what exists."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
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


def _bench_scale():
    path = BENCH / "bench_scale.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_scale_generates_ibm_files_the_adapter_reads(tmp_path):
    import followmoney as fm

    bs = _bench_scale()
    path = tmp_path / "s_Trans.csv"
    gen = bs.write_ibm_csv(path, 3_000, seed=3, chunk=1_000)  # three chunks streamed
    assert gen["rows"] == 3_000 and gen["accounts"] == 300 and gen["laundering_rows"] > 0
    bs.write_ibm_csv(tmp_path / "again.csv", 3_000, seed=3, chunk=1_000)
    assert path.read_bytes() == (tmp_path / "again.csv").read_bytes()  # same seed, same file
    assert fm.sniff(path) == "ibm_aml"
    b = fm.read(path)
    t = b.transactions
    assert t.num_rows == 3_000 and b.rejects.num_rows == 0
    assert sum(t["is_laundering"].to_pylist()) == gen["laundering_rows"]
    assert t["timestamp"].to_pylist() == sorted(t["timestamp"].to_pylist())  # file in time order, like AMLworld
    # heavy-tailed: the busiest account takes part in far more than the ~20 of a typical one
    ends = t["from_account"].to_pylist() + t["to_account"].to_pylist()
    counts = sorted((ends.count(a) for a in set(ends)), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]


def test_bench_scale_measures_the_child_not_the_parent():
    bs = _bench_scale()
    big = bs.measure([sys.executable, "-c", "b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096])"])
    small = bs.measure([sys.executable, "-c", "pass"])
    assert big["peak_rss_mb"] >= 400 > small["peak_rss_mb"]


def test_bench_scale_smoke_run_reports_ratios_stages_and_exponent(tmp_path, capsys):
    bs = _bench_scale()
    res = bs.run(sizes=[1_000, 2_000], workdir=tmp_path, dask=False)
    a, b = res["sizes"]
    assert (a["rows"], b["rows"]) == (1_000, 2_000)
    for r in (a, b):
        assert r["score_wall_seconds"] > r["bare_read_seconds"] > 0
        assert r["time_ratio_score_over_bare_read"] == pytest.approx(r["score_wall_seconds"] / r["bare_read_seconds"], rel=0.3)
        assert r["score_peak_rss_mb"] > r["bare_read_peak_rss_mb"] > 0
        assert set(r["stage_seconds"]) >= {"read", "score", "cases", "write"} and r["alerts"] > 0
    assert isinstance(res["exponent_score_seconds_vs_rows"], float)
    assert "fitted exponent" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.csv"))  # generated files removed unless --keep


def test_bench_scale_dask_pass_compares_with_the_pandas_engine(tmp_path):
    pytest.importorskip("distributed")
    bs = _bench_scale()
    path = tmp_path / "t_Trans.csv"
    bs.write_ibm_csv(path, 3_000, seed=3)
    d = bs.measure_dask(path, workers=(2,))
    two = d["2_workers"]
    assert two["alerts_identical_to_pandas"] is True
    assert two["ratio_to_pandas_engine"] == pytest.approx(two["score_seconds"] / d["pandas_score_seconds"], rel=0.05)
    assert two["peak_workers_rss_mb"] >= two["peak_worker_rss_mb"] > 0 and two["peak_driver_rss_mb"] > 0


def test_rule_digests_tells_changed_findings_from_same(tmp_path, capsys):
    """The refactoring check (benchmarks/rule_digests.py): the same code gives the same digests, and a
    rule whose findings differ is named and fails the comparison."""
    import json

    import followmoney as fm

    spec = importlib.util.spec_from_file_location("rule_digests", BENCH / "rule_digests.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    data, saved = str(fm.sample_data_path() / "goaml"), tmp_path / "before.json"
    assert tool.main([data, "--save", str(saved)]) == 0
    before = json.loads(saved.read_text())
    found = [r for r, v in before.items() if v["findings"]]
    assert found and all(v["digest"] != "empty" for r, v in before.items() if r in found)
    assert tool.main([data, "--compare", str(saved)]) == 0
    before[found[0]]["digest"] = "0" * 40
    saved.write_text(json.dumps(before))
    assert tool.main([data, "--compare", str(saved)]) == 1
    assert f"findings changed: {found[0]}" in capsys.readouterr().out


def test_fan_observable_counts_a_patterns_own_counterparties_within_the_window():
    """The AMLSim ceiling for ML-05/06 (bench_detection._fan_observable): a fan-in whose five senders come within
    30 days reaches K = 5; one whose senders come a month apart does not, and the hub's other senders (not in the
    pattern) are not counted."""
    from types import SimpleNamespace

    import pandas as pd
    import pyarrow as pa

    spec = importlib.util.spec_from_file_location("bench_detection", BENCH / "bench_detection.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    day = pd.Timestamp("2024-01-01", tz="UTC")
    rows, truth = [], []
    for pid, hub, step in (("burst", "H1", 5), ("spread", "H2", 31)):
        truth.append({"typology": "ML-05", "pattern_id": pid, "account_id": hub, "is_subject": True, "txn_id": None})
        for i in range(5):
            tid = f"{pid}{i}"
            rows.append({"txn_id": tid, "from_account": f"{pid}S{i}", "to_account": hub, "timestamp": day + pd.Timedelta(days=step * i)})
            truth.append({"typology": "ML-05", "pattern_id": pid, "account_id": None, "is_subject": None, "txn_id": tid})
    for i in range(6):  # the spread hub's ordinary senders, in one week: not the pattern's
        rows.append({"txn_id": f"o{i}", "from_account": f"O{i}", "to_account": "H2", "timestamp": day + pd.Timedelta(days=i)})
    bundle = SimpleNamespace(transactions=pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False))
    out = bench._fan_observable(bundle, pa.Table.from_pandas(pd.DataFrame(truth), preserve_index=False),
                                {"ML-05": {"min_counterparties": 5, "window_days": 30.0}})
    assert out == {"ML-05": {"patterns": 2, "reach_k_within_d": 1, "k": 5, "window_days": 30.0, "most_in_one_window": [1, 5]}}


def test_bench_scale_store_on_dask_matches_the_pandas_engine_on_the_same_store(tmp_path):
    pytest.importorskip("distributed")
    bs = _bench_scale()
    path = tmp_path / "t_Trans.csv"
    bs.write_ibm_csv(path, 3_000, seed=3)
    d = bs.measure_store_dask(path, tmp_path / "work", part_rows=1_000, workers=1)
    assert d["rows"] == 3_000 and len(d["appends"]) == 3 and d["graph_rules"] is True
    assert d["peak_tree_rss_mb"] >= d["peak_process_rss_mb"] > 0 and d["alerts"] > 0
    assert d["pandas_engine"]["alerts_identical"] is True


def test_bench_scale_reports_what_would_not_fit_as_not_run(tmp_path, monkeypatch, capsys):
    """On a machine too small for the in-memory passes and the graph rules' one task: said, not measured."""
    pytest.importorskip("distributed")
    bs = _bench_scale()
    monkeypatch.setattr(bs, "_memory_bytes", lambda: 2_000 * bs.GRAPH_TASK_BYTES_PER_ROW)
    res = bs.run(sizes=[2_000], workdir=tmp_path, dask=True)
    (size,) = res["sizes"]
    assert "not_run" in size and "score_wall_seconds" not in size and res["exponent_score_seconds_vs_rows"] is None
    store = size["store_dask"]
    assert store["graph_rules"] is False and store["pandas_engine"] is None and store["alerts"] > 0
    out = capsys.readouterr().out
    assert "not run in memory" in out and "without the graph rules" in out
