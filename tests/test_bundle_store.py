import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.core.bundle import Bundle, ReconciliationError
from followmoney.ingest._collect import Collector


def _bundle(file, accounts):
    c = Collector("test", file)
    for i, (aid, name) in enumerate(accounts, start=2):
        c.add("accounts", {"account_id": aid, "name": name, "source_ref": c.ref(i)})
    c.reject("accounts", 99, "account: missing", "raw,line")
    return c.bundle()


def test_collector_counts_merges_and_rejects():
    b = _bundle("a.csv", [("X/1", None), ("X/1", "Alpha"), ("X/2", "Beta")])
    assert b.accounts.num_rows == 2
    log = b.load_log.to_pylist()[0]
    assert (log["records_read"], log["rows_written"], log["merged"], log["rejected"]) == (4, 2, 1, 1)
    # first non-null value wins when rows merge
    assert b.accounts.to_pylist()[0]["name"] == "Alpha"
    b.reconcile()


def test_concat_merges_across_files_and_still_reconciles():
    b = Bundle.concat([_bundle("a.csv", [("X/1", "A")]), _bundle("b.csv", [("X/1", None), ("X/3", "C")])])
    assert b.accounts["account_id"].to_pylist() == ["X/1", "X/3"]
    b.reconcile()
    merged = {r["source_file"]: r["merged"] for r in b.load_log.to_pylist()}
    assert merged == {"a.csv": 0, "b.csv": 1}


def test_reconcile_detects_a_lost_row():
    b = _bundle("a.csv", [("X/1", "A"), ("X/2", "B")])
    b.accounts = b.accounts.slice(0, 1)
    with pytest.raises(ReconciliationError, match="accounts"):
        b.reconcile()


def test_store_round_trip(tmp_path, sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    fm.write_bundle(b, tmp_path / "bundle")
    back = fm.read_bundle(tmp_path / "bundle")
    for name in ("transactions", "accounts", "load_log"):
        assert getattr(back, name).equals(getattr(b, name)), name
    assert back.transactions.schema.field("amount").type == pa.decimal128(18, 3)


def test_repr_html_shows_counts(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    html = b._repr_html_()
    assert "transactions" in html and "17,177" in html and "USD" in html


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["x", "y", None]), st.integers(0, 9)), min_size=1, max_size=25))
@settings(max_examples=150, deadline=None)
def test_merging_rows_on_a_key_keeps_the_first_non_null_value_of_each_column(rows):
    """Whatever the nulls (all set, all null or mixed), each key's row holds its first non-null values, in first-seen order."""
    import pyarrow as pa

    from followmoney.core.bundle import _merge_on_key

    t = pa.table({"k": [r[0] for r in rows], "v": pa.array([r[1] for r in rows], pa.string()), "n": [r[2] for r in rows],
                  "none": pa.nulls(len(rows), pa.string())})  # fmt: skip
    out = _merge_on_key(t, ("k",)).to_pylist()
    keys = list(dict.fromkeys(r[0] for r in rows))
    want = [{"k": k, "v": next((r[1] for r in rows if r[0] == k and r[1] is not None), None),
             "n": next(r[2] for r in rows if r[0] == k), "none": None} for k in keys]  # fmt: skip
    assert out == want


@given(st.lists(st.text(alphabet="ab\x00é", max_size=70), min_size=1, max_size=30), st.integers(0, 30))
@settings(max_examples=150, deadline=None)
def test_merging_finds_repeated_keys_of_any_text_over_chunks(keys, cut):
    """Keys empty, with NUL or non-ASCII characters, longer than 64 bytes, split over two chunks:
    one row per key, in first-seen order (the row where it was first seen)."""
    from followmoney.core.bundle import _merge_on_key

    cut = min(cut, len(keys))
    batches = [pa.RecordBatch.from_pydict({"k": pa.array(part, pa.string()), "i": pa.array(range(lo, lo + len(part)), pa.int64())})
               for part, lo in ((keys[:cut], 0), (keys[cut:], cut))]  # fmt: skip
    out = _merge_on_key(pa.Table.from_batches(batches), ("k",))
    first = list(dict.fromkeys(keys))
    assert out["k"].to_pylist() == first and out["i"].to_pylist() == [keys.index(k) for k in first]


def test_null_columns_of_every_canonical_type_equal_arrows():
    """``schema.nulls``, which ``conform`` fills missing columns with, gives what ``pa.nulls`` gives."""
    types = {f.type for name in fm.schema.TABLES for f in fm.schema.empty(name).schema} | {pa.struct([("a", pa.int8())]), pa.null()}
    for t in types:
        for n in (0, 1, 9, 1000):
            a = fm.schema.nulls(n, t)
            a.validate(full=True)
            assert a.type == t and a.null_count == n and a.equals(pa.nulls(n, t))


def test_two_appends_at_once_are_refused_not_interleaved(tmp_path):
    """An append holds a lock beside the store: a second one at the same time is refused with one line, and the
    store stays as the first left it (two at once would each write the manifest without the other's entry)."""
    from filelock import FileLock

    import followmoney as fm
    from followmoney.core.store import append_store, store_manifest

    bundle = fm.read(fm.sample_data_path() / "goaml")
    store = tmp_path / "store"
    append_store(bundle, store)
    with FileLock(str(tmp_path / ".store.lock")):  # another process's append, in progress
        with pytest.raises(fm.RunError, match="another followmoney append is writing this store"):
            append_store(bundle, store)
    assert [a["seq"] for a in store_manifest(store)["appends"]] == [1]
    assert append_store(bundle, store)["duplicates"] == bundle.transactions.num_rows  # free again afterwards
    assert not (tmp_path / ".store.lock").exists()


@given(st.lists(st.tuples(st.sampled_from([None, "x", "é"]), st.sampled_from([None, 1, -5]), st.booleans()), min_size=1, max_size=40),
       st.integers(1, 7), st.permutations(["s", "i", "l"]))  # fmt: skip
@settings(max_examples=100, deadline=None)
def test_a_store_part_reads_as_parquet_does_with_its_empty_columns_not_read(tmp_path_factory, rows, row_group_size, order):
    """Columns null in some, every or no row group: the same table as pyarrow's read (values, types, field metadata)."""
    from followmoney.core.store import read_part

    path = tmp_path_factory.mktemp("part") / "part.parquet"
    table = pa.table({"s": pa.array([r[0] for r in rows], pa.string()), "i": pa.array([r[1] for r in rows], pa.int64()),
                      "l": pa.array([[r[0]] if r[2] else None for r in rows], pa.list_(pa.string()))})  # fmt: skip
    table = table.replace_schema_metadata({"k": "v"}).cast(table.schema.set(0, pa.field("s", pa.string(), metadata={"doc": "d"})))
    pq.write_table(table, path, row_group_size=row_group_size)
    assert read_part(path).equals(pq.read_table(path), check_metadata=True)
    assert read_part(path, order).equals(pq.read_table(path, columns=order), check_metadata=True)
    assert read_part(path, [*order, "absent"], skip_missing=True).equals(pq.read_table(path, columns=order), check_metadata=True)
