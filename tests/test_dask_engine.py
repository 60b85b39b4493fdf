"""The Dask engine (issue 16): the same alerts as the pandas engine, row for row."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pyarrow as pa
import pytest

import followmoney as fm
from followmoney.detect.rules import REGISTRY
from followmoney.detect.score import failures_of, notes_of, score

dask = pytest.importorskip("dask", reason="the followmoney[dask] extra is not installed")


def _assert_same(expected: pa.Table, got: pa.Table) -> None:
    assert failures_of(expected) == [] and failures_of(got) == []  # equal because both failed is no proof
    assert got.schema == expected.schema
    assert got.column("alert_id").to_pylist() == expected.column("alert_id").to_pylist()
    assert got.equals(expected)
    assert notes_of(got) == notes_of(expected)  # what the run could not assess, counted once


def test_every_rule_declares_a_known_partitioning():
    from followmoney.detect._dask import PARTITIONINGS

    assert {r.partition for r in REGISTRY.values()} <= set(PARTITIONINGS)
    assert any(r.partition == "account" for r in REGISTRY.values())


@pytest.mark.parametrize("partitions", [1, 5])
def test_synthetic_alerts_identical_to_pandas(synthetic, synthetic_pandas, partitions):
    bundle, cfg = synthetic
    with dask.config.set(scheduler="synchronous"):
        got = score(bundle, cfg, engine="dask", partitions=partitions)
    assert synthetic_pandas.num_rows > 50
    assert len(set(synthetic_pandas.column("rule_id").to_pylist())) >= 10  # many rules fire: the test has teeth
    _assert_same(synthetic_pandas, got)


def test_each_rule_alone_identical_on_synthetic_data(synthetic):
    """Every registered rule, run alone on both engines (7 partitions, small chunks)."""
    from followmoney.detect import _dask

    bundle, cfg = synthetic
    with dask.config.set(scheduler="synchronous"):
        for rule_id in REGISTRY:
            expected = score(bundle, cfg, rules=[rule_id])
            out, failures, notes = _dask.score_dask(bundle, cfg, [rule_id], _run_id(bundle, cfg), assemble=_assemble(),
                                             partitions=7, chunk_rows=20_000)
            got = _table(out, failures, notes)
            assert failures == [] and failures_of(expected) == [], rule_id
            assert got.equals(expected), rule_id


def _assemble():
    from followmoney.detect.score import _alerts_for

    return _alerts_for


def _run_id(bundle, cfg):
    from followmoney.detect.score import _run_id

    return _run_id(bundle, cfg)


def _table(out, failures, notes=()):
    from followmoney.detect.score import _alerts_table

    return _alerts_table(out, failures, list(notes))


@pytest.mark.parametrize(("folder", "jurisdiction"), [("goaml", "AE"), ("amlsim", "US")])
def test_sample_data_identical_to_pandas(folder, jurisdiction):
    bundle = fm.read(fm.sample_data_path() / folder)
    cfg = fm.Config(jurisdiction=jurisdiction)
    expected = score(bundle, cfg)
    with dask.config.set(scheduler="synchronous"):
        got = score(bundle, cfg, engine="dask", partitions=3)
    _assert_same(expected, got)


@pytest.fixture(scope="module")
def payroll_world():
    """make_transactions 4,000 x 200 days (seed 0): HT-09 and FL-02 both find controllers and their victims."""
    from followmoney.datasets.synth import make_transactions

    bundle, _ = make_transactions(n_accounts=4000, n_days=200, n_per_typology=6, random_state=0)
    return bundle, fm.Config(jurisdiction="US")


def test_payer_rules_find_controllers_and_victims_from_every_bucket(payroll_world):
    """HT-09 / FL-02 decide each forward on its payer's bucket and build controllers and victims from all buckets'
    forwards in one task: any partition count gives the pandas engine's alerts."""
    bundle, cfg = payroll_world
    rules = ["HT-09", "FL-02"]
    assert {REGISTRY[r].partition for r in rules} == {"payer"}
    expected = score(bundle, cfg, rules=rules)
    assert {"controller", "potential_victim"} <= set(expected.column("subject_role").to_pylist())
    assert set(expected.column("rule_id").to_pylist()) == set(rules)
    with dask.config.set(scheduler="synchronous"):
        for partitions in (2, 11):
            _assert_same(expected, score(bundle, cfg, rules=rules, engine="dask", partitions=partitions))


def test_a_receiver_of_remittances_elsewhere_is_no_controller_on_any_partition(payroll_world):
    """Whether a receiver takes remittances is a fact of the whole data (a WholeStat): one remittance from a
    payer outside the controller's feeders' buckets clears it on both engines."""
    import pyarrow.compute as pc

    bundle, cfg = payroll_world
    before = score(bundle, cfg, rules=["HT-09"])
    roles = before.column("subject_role").to_pylist()
    controller = before.column("subject_id").to_pylist()[roles.index("controller")]
    tx = bundle.transactions
    feeders = set(tx.filter(pc.equal(tx["to_account"], controller))["from_account"].to_pylist())
    other = next(i for i, (f, t) in enumerate(zip(tx["from_account"].to_pylist(), tx["to_account"].to_pylist()))
                 if f not in feeders and f != controller and t is not None and t != controller)  # fmt: skip
    mcc = tx["merchant_category"].to_pylist()
    to = tx["to_account"].to_pylist()
    mcc[other], to[other] = "4829", controller  # one payment to the controller, as to a money service business
    changed = dataclasses.replace(bundle, transactions=tx.set_column(tx.schema.get_field_index("merchant_category"), "merchant_category",
                                                                     pa.array(mcc, pa.string())).set_column(
        tx.schema.get_field_index("to_account"), "to_account", pa.array(to, pa.string())))  # fmt: skip
    expected = score(changed, cfg, rules=["HT-09"])
    assert controller not in expected.column("subject_id").to_pylist() and expected.num_rows < before.num_rows
    with dask.config.set(scheduler="synchronous"):
        _assert_same(expected, score(changed, cfg, rules=["HT-09"], engine="dask", partitions=13))


def test_a_rule_of_ones_own_declared_neighbourhood_runs_on_semi_joined_buckets(payroll_world, monkeypatch):
    """The ``neighbourhood`` partitioning (a bucket with its counterparties' rows; a victim's finding kept with its
    controller), for rules that declare it: HT-09's plain function declared so gives the same alerts."""
    bundle, cfg = payroll_world
    expected = score(bundle, cfg, rules=["HT-09"])
    monkeypatch.setitem(REGISTRY, "HT-09", dataclasses.replace(REGISTRY["HT-09"], partition="neighbourhood", pairs=None, from_pairs=None))
    with dask.config.set(scheduler="synchronous"):
        _assert_same(expected, score(bundle, cfg, rules=["HT-09"], engine="dask", partitions=5))


def test_failing_rule_is_recorded_like_pandas(synthetic, monkeypatch):
    bundle, cfg = synthetic

    def boom(frame, ctx):
        raise RuntimeError("no")

    monkeypatch.setitem(REGISTRY, "ML-02", dataclasses.replace(REGISTRY["ML-02"], func=boom))
    with dask.config.set(scheduler="synchronous"):
        got = score(bundle, cfg, rules=["ML-02", "ML-01"], engine="dask", partitions=3)
    assert failures_of(got) == [{"detector": "rule", "id": "ML-02", "error": "RuntimeError"}]
    assert set(got.column("rule_id").to_pylist()) == {"ML-01"}
    with pytest.raises(RuntimeError):
        with dask.config.set(scheduler="synchronous"):
            score(bundle, cfg, rules=["ML-02"], engine="dask", partitions=2, on_error="raise")


def test_unknown_engine_is_a_config_error(synthetic):
    bundle, cfg = synthetic
    with pytest.raises(fm.ConfigError, match="unknown engine 'spark'"):
        score(bundle, cfg, engine="spark")


def test_threads_on_a_local_cluster_identical(synthetic, synthetic_pandas):
    distributed = pytest.importorskip("distributed")
    bundle, cfg = synthetic
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = score(bundle, cfg, engine="dask", client=client, partitions=4)
    _assert_same(synthetic_pandas, got)


def test_two_worker_processes_identical_and_benchmarked():
    """One real LocalCluster with 2 worker processes, through the benchmark function `make bench-scale` calls."""
    import hashlib

    pytest.importorskip("distributed")
    from followmoney.detect._dask_bench import benchmark

    bundle = fm.read(fm.sample_data_path() / "goaml")
    cfg = fm.Config(jurisdiction="AE")
    expected = score(bundle, cfg)
    (row,) = benchmark(bundle, cfg, workers=(2,), partitions=2)
    sha = hashlib.blake2b("\x1f".join(expected.column("alert_id").to_pylist()).encode(), digest_size=8).hexdigest()
    assert (row["workers"], row["alerts"], row["failures"], row["alert_ids_sha"]) == (2, expected.num_rows, 0, sha)
    assert row["score_s"] > 0 and row["peak_worker_rss_mb"] > 10 and row["peak_workers_rss_mb"] >= row["peak_worker_rss_mb"]


def test_import_followmoney_does_not_import_dask():
    code = "import sys, followmoney as fm; fm.read; import followmoney.detect.score; print('dask' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "False", res.stderr[-2000:]


def test_cli_dask_engine_on_a_local_cluster(tmp_path):
    """`followmoney score --engine dask --workers 1` writes the same alerts as the pandas engine."""
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from followmoney.cli import main

    goaml = fm.sample_data_path() / "goaml"
    runner = CliRunner()
    a = runner.invoke(main, ["score", str(goaml), "--out", str(tmp_path / "p"), "--jurisdiction", "AE", "-q"])
    b = runner.invoke(main, ["score", str(goaml), "--out", str(tmp_path / "d"), "--jurisdiction", "AE", "-q", "--engine", "dask", "--workers", "1"])
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    assert pq.read_table(tmp_path / "d" / "alerts.parquet").equals(pq.read_table(tmp_path / "p" / "alerts.parquet"))
    for name in ("transactions", "observations"):  # written whole before either engine scores
        assert pq.read_table(tmp_path / "d" / "tables" / f"{name}.parquet").equals(getattr(fm.read(goaml), name))


def test_cli_scheduler_needs_dask_engine(tmp_path):
    from click.testing import CliRunner

    from followmoney.cli import main

    res = CliRunner().invoke(main, ["score", str(fm.sample_data_path() / "goaml"), "--out", str(tmp_path / "x"), "--workers", "2"])
    assert res.exit_code != 0 and "--engine dask" in res.output


def test_missing_extra_is_exit_code_5(monkeypatch):
    from followmoney.detect import _dask
    from followmoney.pipeline import exit_code

    monkeypatch.setitem(sys.modules, "dask", None)  # import dask now fails
    with pytest.raises(ImportError) as info:
        _dask.require_dask()
    assert "followmoney[dask]" in str(info.value) and exit_code(info.value) == 5


def test_whole_data_statistics_combine_over_any_split(synthetic):
    """A rule's WholeStat on the whole frame equals the combination of its values on parts (the engine's contract)."""
    import numpy as np

    from followmoney.core.frame import prepare_transactions

    bundle, cfg = synthetic
    frame = prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts)
    declared = [(r, st) for r in REGISTRY.values() for st in r.whole_data]
    assert {r.id for r, _ in declared} >= {"ML-03", "ML-04", "ML-05", "ML-06", "ML-08", "ML-19", "HS-01", "HT-03"}
    parts = np.array_split(np.random.default_rng(3).permutation(len(frame)), 5)
    for rule, st in declared:
        params = rule.resolve_params()
        pieces = [st.value(frame.iloc[np.sort(ix)].reset_index(drop=True), params, bundle) for ix in parts]
        whole = st.value(frame, params, bundle)
        assert st.combine(pieces) == (st.combine([whole]) if st.reduce == "sum" else whole), (rule.id, st.name)
        if st.name == "new_account_inflows":  # the synthetic world opens accounts during its span: the sum is tested on values
            assert whole and len(whole) > 10, whole


def test_gather_scatter_hub_is_judged_from_the_whole_data_start_on_its_partition():
    """ML-08 runs on account partitions: a hub's usual count of senders depends on when the data start (a first
    month of rent 60 days into the data has an empty baseline before it: a burst; at the start of the data, the
    months after it are the baseline: not one), and the partition holding the hub has none of the earlier rows."""
    from rule_cases import bundle, tx

    from followmoney.detect._dask import bucket_of

    rows, i = [], 0
    for m in range(6):  # five tenants pay a landlord every month, and it pays three suppliers 90 % of it
        rows += [tx(i + k, f"TENANT/{k}", "HUB/1", "1000.00", 60 + 30 * m + 0.2 * k) for k in range(5)]
        rows += [tx(i + 5 + k, "HUB/1", f"SUPPLIER/{k}", "1500.00", 60 + 30 * m + 3 + k) for k in range(3)]
        i += 8
    hub = int(bucket_of(["HUB/1"], 4)[0])
    early = [a for a in (f"EARLY/{n}" for n in range(40)) if int(bucket_of([a], 4)[0]) != hub][:2]
    rows.append(tx(i, early[0], early[1], "250.00", 0))  # the data start two months before the rent
    b, cfg = bundle(rows), fm.Config()
    expected = score(b, cfg, rules=["ML-08"])
    assert expected.column("subject_id").to_pylist() == ["HUB/1"]  # the first month, against an empty baseline
    with dask.config.set(scheduler="synchronous"):
        _assert_same(expected, score(b, cfg, rules=["ML-08"], engine="dask", partitions=4))


@pytest.mark.parametrize("rates", [None, {"AED": [{"from": "2000-01-01", "rate": "0.18"}]}])
def test_foreign_cash_converted_and_noted_as_in_pandas(sample_data, rates):
    """Cash in another currency: converted in every partition, noted once for the run."""
    b = fm.read(sample_data / "goaml")
    cfg = fm.Config(jurisdiction="US", fx_rates=rates or {})
    expected = score(b, cfg)
    with dask.config.set(scheduler="synchronous"):
        got = score(b, cfg, engine="dask", partitions=3)
    topics = {n["topic"] for n in notes_of(expected)}
    assert ("foreign_cash_converted" if rates else "foreign_cash") in topics and "local_currency" in topics
    _assert_same(expected, got)


def test_date_only_cash_noted_once_as_in_pandas(shared):
    """BR-37: date-only cash deposits are not night-time; the note counts each deposit once."""
    d = shared / "cases" / "files" / "BR-37"
    if not d.is_dir():
        pytest.skip("BR-37 is not in ../shared/cases/files")
    b = fm.read(d / "cash_dateonly.csv")
    cfg = fm.Config(jurisdiction="AU")
    expected = score(b, cfg)
    with dask.config.set(scheduler="synchronous"):
        got = score(b, cfg, engine="dask", partitions=4)
    assert [n["count"] for n in notes_of(expected) if n["topic"] == "no_time_of_day"] == [4]
    _assert_same(expected, got)


def test_consolidated_payments_list_every_source_as_in_pandas(tmp_path):
    """A payment seen in several sources: its evidence names every place on both engines."""
    w = fm.datasets.make_multisource(tmp_path, seed=2, n_workers=4)
    b = fm.read(w.files)
    cfg = fm.Config(jurisdiction="MY")
    expected = score(b, cfg)
    refs, counts = expected["evidence_source_refs"].to_pylist(), expected["evidence_count"].to_pylist()
    assert any(len(r) > c for r, c in zip(refs, counts))
    with dask.config.set(scheduler="synchronous"):
        got = score(b, cfg, engine="dask", partitions=3)
    _assert_same(expected, got)


# --------------------------------------------------------------------------- a store scored on Dask
def _store_of(bundle, folder, parts: int = 3):
    """A store holding ``bundle``'s transactions, appended in ``parts`` slices (several files per day)."""
    import dataclasses as dc

    from followmoney.core.store import append_store

    tx = bundle.transactions
    step = -(-tx.num_rows // parts)
    for i in range(0, tx.num_rows, step):
        piece = tx.slice(i, step)
        append_store(dc.replace(bundle, transactions=piece, load_log=bundle.load_log.schema.empty_table()), folder)
    return folder


@pytest.fixture(scope="module")
def synthetic_store(synthetic, tmp_path_factory):
    from followmoney.detect.incremental import score_store

    bundle, cfg = synthetic
    folder = _store_of(bundle, tmp_path_factory.mktemp("store"))
    return folder, cfg, score_store(folder, cfg)


def test_store_chunks_are_the_store_in_order(synthetic_store):
    import pyarrow.parquet as pq

    from followmoney.core.store import read_store_transactions, store_chunks

    folder, _, _ = synthetic_store
    groups = store_chunks(folder, rows_per_chunk=5_000)
    assert len(groups) > 2 and all(n >= 5_000 for _, n in groups[:-1])  # grouped, not one file per task
    whole = pa.concat_tables([pq.read_table(f) for paths, _ in groups for f in paths])
    assert sum(n for _, n in groups) == whole.num_rows
    assert whole.equals(read_store_transactions(folder))


def test_store_on_dask_identical_to_a_full_pandas_run(synthetic_store, monkeypatch, tmp_path):
    """The workers read the store's files: this process never reads its transactions, and the alerts,
    state and notes are those of the pandas engine's full run."""
    from followmoney.detect import incremental
    from followmoney.detect.incremental import score_store

    folder, cfg, expected = synthetic_store

    def no_rows(*a, **k):
        raise AssertionError("the driver read the store's transactions")

    monkeypatch.setattr(incremental, "read_store_transactions", no_rows)
    spill = tmp_path / "spill"
    spill.mkdir()
    with dask.config.set(scheduler="synchronous"):
        got = score_store(folder, cfg, engine="dask", partitions=4, spill_dir=spill)
    assert expected.alerts.num_rows > 50
    _assert_same(expected.alerts, got.alerts)
    assert got.state == expected.state  # the next (pandas) incremental run starts from the same state
    assert got.info["mode"] == "full" and got.info["engine"] == "dask" and got.info["rows_read"] == expected.bundle.transactions.num_rows
    assert list(spill.iterdir()) == []  # the pieces were spilled under it, and removed after the run
    # what this process keeps of the rows: those the alerts cite, and what the resolver reads of the others
    kept = got.bundle.transactions
    assert set(kept["txn_id"].to_pylist()) == set(pa.compute.list_flatten(got.alerts["evidence_txn_ids"]).to_pylist())
    assert 0 < got.info["rows_kept"] == kept.num_rows < got.info["rows_read"] / 2
    assert 0 < got.resolver_rows.num_rows < got.info["rows_read"] and got.resolver_rows.column_names == [
        "from_party", "to_party", "from_account", "to_account"]  # fmt: skip
    merged = fm.resolve(got.bundle, counterparties=got.resolver_rows)
    truth = fm.resolve(expected.bundle)
    assert truth.stats == merged.stats and merged.party_clusters.equals(truth.party_clusters)  # cases merge the same persons
    assert merged.match_reasons.equals(truth.match_reasons)


def test_store_on_dask_spills_pieces_and_keeps_them_in_memory_alike(synthetic_store, monkeypatch):
    """Pieces through files (the default on one machine) or in the workers' memory: the same alerts.
    The pieces on disk are about the size of the store's own files (each row goes to at most two
    buckets): as Arrow IPC, every all-null column was written in full, more than the disk at 50 M rows."""
    from followmoney.core.store import store_chunks
    from followmoney.detect import _dask
    from followmoney.detect.incremental import score_store

    folder, cfg, expected = synthetic_store
    sizes = {}
    real = _dask._write_piece

    def write(piece, path):
        out = real(piece, path)
        sizes[path] = os.path.getsize(path)  # the run's folder is removed at its end
        return out

    monkeypatch.setattr(_dask, "_write_piece", write)
    with dask.config.set(scheduler="synchronous"):
        on_disk = score_store(folder, cfg, rules=["ML-05", "HT-09", "ML-07"], engine="dask", partitions=3)
        assert sizes and all(p.endswith(".parquet") for p in sizes)
        stored = sum(os.path.getsize(f) for paths, _ in store_chunks(folder) for f in paths)
        assert sum(sizes.values()) < 2.5 * stored
        sizes.clear()
        in_memory = score_store(folder, cfg, rules=["ML-05", "HT-09", "ML-07"], engine="dask", partitions=3, spill_dir=False)
    assert sizes == {}
    _assert_same(on_disk.alerts, in_memory.alerts)
    assert on_disk.alerts.num_rows > 0


def test_store_on_dask_asked_for_an_incremental_run_runs_in_full(synthetic_store):
    from followmoney.detect.incremental import score_store

    folder, cfg, expected = synthetic_store
    with dask.config.set(scheduler="synchronous"):
        got = score_store(folder, cfg, rules=["ML-01"], engine="dask", partitions=2, since="2020-01-01")
    assert got.info["mode"] == "full" and "pandas engine" in got.info["reason"]
    with pytest.raises(fm.ConfigError, match="threads goes with engine='pandas'"):
        score_store(folder, cfg, engine="dask", threads=2)
    with pytest.raises(fm.ConfigError, match="unknown engine"):
        score_store(folder, cfg, engine="spark")


def test_cli_store_on_a_local_cluster(tmp_path):
    """`followmoney score --store S --engine dask --workers 1`: the pandas engine's alerts; tables/ holds the rows they cite;
    a second run with --previous marks every alert unchanged."""
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from followmoney.cli import main

    amlsim = fm.sample_data_path() / "amlsim"
    runner = CliRunner()
    args = ["--jurisdiction", "US", "-q"]
    a = runner.invoke(main, ["score", str(amlsim), "--store", str(tmp_path / "s"), "--out", str(tmp_path / "p"), *args])
    b = runner.invoke(main, ["score", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "d"), *args, "--engine", "dask", "--workers", "1"])
    assert a.exit_code == 0 and b.exit_code == 0, b.output
    expected, got = pq.read_table(tmp_path / "p" / "alerts.parquet"), pq.read_table(tmp_path / "d" / "alerts.parquet")
    assert got.num_rows > 0 and got.equals(expected)
    kept = pq.read_table(tmp_path / "d" / "tables" / "transactions.parquet")
    assert set(kept["txn_id"].to_pylist()) == set(pa.compute.list_flatten(got["evidence_txn_ids"]).to_pylist())
    c = runner.invoke(main, ["score", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "n"), *args, "--engine", "dask", "--workers", "1",
                             "--previous", str(tmp_path / "d")])  # fmt: skip
    assert c.exit_code == 0, c.output
    assert set(pq.read_table(tmp_path / "n" / "alerts.parquet")["status"].to_pylist()) == {"unchanged"}


def test_the_context_reaches_the_workers_in_its_own_size(synthetic):
    """A bundle is pickled to a worker, and a pickled Arrow slice takes its parent's buffers: 6.6 GB of
    pickle for 0.85 GB of context tables of a 50 M-row store, the run killed for memory in its first minute."""
    import pickle

    from followmoney.detect._dask import for_tasks

    bundle, _ = synthetic
    many = pa.concat_tables([bundle.accounts] * 50).combine_chunks()
    context = dataclasses.replace(bundle, transactions=bundle.transactions.slice(0, 0), accounts=many.slice(0, 10))
    sent = for_tasks(context, compact=True)
    assert sent.accounts.equals(context.accounts) and sent.parties.equals(context.parties)
    assert sent.load_log.num_rows == 0 < context.load_log.num_rows  # no task reads the load's accounting
    assert len(pickle.dumps(context.accounts)) > 20 * len(pickle.dumps(sent.accounts))
    assert len(pickle.dumps(sent)) < len(pickle.dumps(context)) / 10


def _cash_note_topics(notes):
    return [n for n in notes if n["topic"] in ("foreign_cash", "foreign_cash_converted", "no_time_of_day")]


@pytest.mark.parametrize("rates", [None, {"AED": [{"from": "2000-01-01", "rate": "0.18"}]}])
def test_run_notes_summed_over_chunks_are_the_whole_datas(sample_data, shared, rates):
    """Each chunk counts its own cash rows (the driver gathered every cash row: 7.3 GB at 50 M rows); the sums give the
    pandas engine's notes, word for word, however the rows are cut."""
    from followmoney.detect._dask import _notes_chunk, combine_notes

    cases = [(fm.read(sample_data / "goaml"), fm.Config(jurisdiction="US", fx_rates=rates or {}))]
    if (shared / "cases" / "files" / "BR-37").is_dir():
        cases.append((fm.read(shared / "cases" / "files" / "BR-37" / "cash_dateonly.csv"), fm.Config(jurisdiction="AU")))
    for bundle, cfg in cases:
        expected = _cash_note_topics(notes_of(score(bundle, cfg)))
        assert expected
        tx = bundle.transactions
        for size in (1, 2, 5, tx.num_rows):
            parts = [_notes_chunk(tx.slice(i, size), cfg, bundle, list(REGISTRY)) for i in range(0, tx.num_rows, size)]
            assert combine_notes(parts, cfg) == expected


def test_a_note_without_a_way_to_sum_it_is_an_error():
    from followmoney.detect._dask import combine_notes

    with pytest.raises(ValueError, match="no way to sum"):
        combine_notes([[{"topic": "something_new", "count": 1}]], fm.Config(jurisdiction="US"))


def test_graph_and_identifier_rules_never_prepare_the_whole_data(synthetic, monkeypatch):
    """ML-07, ML-09..12 run on the edge table built chunk by chunk, ML-15 and HT-11 on the rows of the people who
    share identifiers: no task prepares a frame of more than a chunk's rows, and the alerts are the pandas engine's."""
    from followmoney.detect import _dask

    bundle, cfg = synthetic
    rules = [r for r, rule in REGISTRY.items() if rule.partition in ("graph", "touching")]
    assert set(rules) == {"ML-07", "ML-09", "ML-10", "ML-11", "ML-12", "ML-15", "HT-11"}
    expected = score(bundle, cfg, rules=rules)
    assert {"ML-07", "ML-15", "HT-11"} <= set(expected.column("rule_id").to_pylist())  # the test has teeth
    prepared, original = [], _dask._prepare
    monkeypatch.setattr(_dask, "_prepare", lambda tx, *a: prepared.append(tx.num_rows) or original(tx, *a))
    chunk = 5_000
    with dask.config.set(scheduler="synchronous"):
        out, failures, notes = _dask.score_dask(bundle, cfg, rules, _run_id(bundle, cfg), assemble=_assemble(), partitions=3,
                                                chunk_rows=chunk)  # fmt: skip
    assert _table(out, failures, notes).equals(expected)
    assert bundle.transactions.num_rows > 4 * chunk and max(prepared) <= chunk


def test_identifier_rules_read_only_the_rows_of_the_people_sharing_identifiers(synthetic):
    from followmoney.detect import _dask

    bundle, cfg = synthetic
    keys = _dask._touching_keys(bundle, cfg, ["ML-15", "HT-11"])
    assert keys.merchants and len(keys.parties) > 5 and len(keys.accounts) > 5
    tx = bundle.transactions
    payees = _dask._keyed_payees(tx, keys)
    rows = _dask._keyed_rows(tx, keys, payees)
    assert 0 < rows.num_rows < tx.num_rows / 10  # 40 people in groups (not households) of 1,526
    assert len(payees) > 5
    nobody = _dask._touching_keys(dataclasses.replace(bundle, identifiers=bundle.identifiers.slice(0, 0)), cfg, ["ML-15", "HT-11"])
    assert not nobody.parties and _dask._keyed_rows(tx, nobody, []) is None


def test_a_stores_context_is_read_by_each_worker_once_per_version(synthetic_store):
    """The store's context tables are not sent from the driver: each worker process reads them (cached per version)."""
    from followmoney.detect._dask import StoreContext, _Released

    path, _, _ = synthetic_store
    ctx = StoreContext.of(path)
    tables = ctx.load()
    assert tables is ctx.load() and tables.accounts.num_rows > 0
    assert tables.transactions.num_rows == 0 and tables.account_aliases.num_rows == 0  # what no task reads
    assert StoreContext(ctx.path, ctx.version + "x").load() is not tables  # a changed store is read again
    assert _Released(lambda bundle, n: (bundle, n))(ctx, 3) == (tables, 3)  # a task gets the tables in its place


def test_the_graph_task_starts_after_every_other_rules_task(synthetic):
    """The graph rules' task is the run's largest: it waits for the bucket tasks so that none runs beside it."""
    from dask.core import get_deps

    from followmoney.detect import _dask

    bundle, cfg = synthetic
    tasks, _ = _dask.build_graph(_dask.for_tasks(bundle, compact=False), [bundle.transactions], cfg, ["ML-01", "HT-09", "ML-07"],
                                 "run", assemble=None, partitions=3)  # fmt: skip
    deps, _ = get_deps(dict(dask.delayed(tasks).dask))
    (graph_key,) = [k for k in deps if str(k[0] if isinstance(k, tuple) else k).startswith("_run_graph-")]
    before, todo = set(), [graph_key]
    while todo:
        for d in deps[todo.pop()] - before:
            before.add(d)
            todo.append(d)
    others = [t.key for t in tasks[:-1]]  # the 3 bucket tasks and the payer rules' findings; the last is the graph rules'
    assert len(others) == 4 and set(others) <= before
