"""The prepared frame's account codes and text lookups (issue 16: account text is hashed once per run).

Rules turn accounts into integers to group and sort them. ``prepare_transactions`` gives each row
``from_code`` / ``to_code``, the account's rank among all account ids in text order, and
``account_codes`` turns any rows of the frame into the codes ``pandas.factorize(..., sort=True)``
would give, without hashing the text again. These properties check that the two agree on random
accounts (nulls, empty ids, non-ASCII text, one account on both sides) and random row subsets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import followmoney as fm
from hypothesis import given, settings
from hypothesis import strategies as st

from followmoney.core.frame import CODE_COLUMNS, account_codes, isin, prepare_transactions
from rule_cases import bundle, tx

ACCOUNTS = st.one_of(st.none(), st.sampled_from(["A1", "a1", "B", "", "Ä-9", "ß", "b", "A10", "🙂", "zz"]))


def _frame(pairs):
    rows = [tx(i, frm, to, "10.00", i % 7) for i, (frm, to) in enumerate(pairs)]
    return prepare_transactions(bundle(rows).transactions)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ACCOUNTS, ACCOUNTS), min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_account_codes_equal_sorted_factorize(pairs, rnd):
    frame = _frame(pairs)
    # the codes are each id's rank in text order, -1 for none
    names = sorted({a for side in CODE_COLUMNS for a in frame[side].dropna()})
    for side, code in CODE_COLUMNS.items():
        expect = [names.index(a) if isinstance(a, str) else -1 for a in frame[side].astype(object).where(frame[side].notna(), None)]
        assert frame[code].tolist() == expect
    # any rows of either side, in any order, give what factorizing their text gives
    a = frame.iloc[sorted(rnd.sample(range(len(frame)), rnd.randint(0, len(frame))))]
    pos = np.array([rnd.randrange(len(frame)) for _ in range(rnd.randint(0, 10))], dtype=np.int64)
    codes, got = account_codes((a, "to_account"), (frame, "from_account", pos))
    text = pd.concat([a["to_account"], frame["from_account"].iloc[pos]], ignore_index=True)
    want_codes, want = pd.factorize(text, sort=True)
    assert codes.tolist() == want_codes.tolist() and got.tolist() == list(want)
    only, none = account_codes((a, "to_account"), (frame, "from_account", pos), names=False)
    assert only.tolist() == want_codes.tolist() and none is None
    # a frame without the code columns (built by hand) is factorized from its text, with the same result
    plain = account_codes((a.drop(columns=list(CODE_COLUMNS.values())), "to_account"), (frame.drop(columns=["from_code"]), "from_account", pos))
    assert plain[0].tolist() == want_codes.tolist() and plain[1].tolist() == list(want)


@given(st.lists(ACCOUNTS, max_size=30), st.lists(ACCOUNTS, max_size=8), st.sampled_from(["object", "string[pyarrow]", "str"]))
def test_isin_equals_pandas(values, wanted, dtype):
    column = pd.Series(values, dtype=dtype if dtype != "str" else "str") if values else pd.Series([], dtype=dtype)
    expect = column.isin(wanted).to_numpy(bool)
    assert isin(column, pd.Index(wanted, dtype=object)).tolist() == expect.tolist()


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b", None]), st.integers(0, 3)), min_size=1, max_size=60))
@settings(max_examples=100, deadline=None)
def test_the_bundle_in_time_order_equals_a_sort_and_keeps_shared_columns_shared(rows):
    """in_time_order gives the rows a plain sort gives; an all-null column shared by two stays one buffer,
    a one-value column is kept as it is (a plain take gave each column buffers of its own)."""
    from followmoney.core.frame import _take, in_time_order

    n = len(rows)
    nulls = pa.nulls(n, pa.string())
    t = pa.table({
        "txn_id": [f"t{i:03d}" for i in range(n)],
        "timestamp": pa.array([r[0] for r in rows], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "source_seq": pa.array([r[2] for r in rows], pa.int64()),
        "label": [r[1] for r in rows],
        "source": ["ibm_aml"] * n,
        "from_party": nulls, "to_party": nulls,
    })  # fmt: skip
    want = t.sort_by([("timestamp", "ascending"), ("source_seq", "ascending"), ("txn_id", "ascending")])
    assert in_time_order(t).equals(want)  # few rows: made of slices
    order = pa.array(np.random.default_rng(n).permutation(n))
    taken = _take(t, order)  # many rows out of place: taken, what is shared kept shared
    assert taken.equals(t.take(order))
    assert taken["from_party"].chunk(0).buffers()[1].address == taken["to_party"].chunk(0).buffers()[1].address
    assert taken["source"].chunk(0).buffers()[2].address == t["source"].chunk(0).buffers()[2].address  # one value: not copied


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.text("abz", min_size=1, max_size=3)), max_size=40, unique_by=lambda r: r[2]),
       st.sampled_from(["sorted", "by time and position only", "as drawn"]))  # fmt: skip
@settings(max_examples=150, deadline=None)
def test_rows_already_in_time_order_are_not_sorted_again(rows, arrangement):
    """time_order and in_time_order on rows in order (a file listed by time), in order but for the ids where time
    and position tie, or in any order: what a sort by (time, position, id as text) gives."""
    from followmoney.core.frame import in_time_order, time_order

    if arrangement == "sorted":
        rows = sorted(rows)
    elif arrangement == "by time and position only":
        rows = sorted(rows, key=lambda r: r[:2])  # ties keep the drawn order of their ids
    t = np.array([r[0] for r in rows], np.int64)
    seq = np.array([r[1] for r in rows], np.int64)
    ids = [r[2] for r in rows]
    want = sorted(range(len(rows)), key=lambda i: (t[i], seq[i], ids[i].encode()))
    assert time_order(t, seq, pd.Series(ids, dtype=object)).tolist() == want
    table = pa.table({"txn_id": pa.array(ids, pa.string()), "timestamp": pa.array(t).cast(pa.timestamp("us", tz="UTC")),
                      "source_seq": pa.array(seq)})  # fmt: skip
    ordered = in_time_order(table)
    assert ordered["txn_id"].to_pylist() == [ids[i] for i in want]
    if want == list(range(len(rows))):
        assert ordered is table  # in order already: the table itself


@pytest.mark.parametrize("source", ["goaml", "consolidate", "camt", "mt940", "ibm_aml", "wires", "bank_csv", "synthetic"])
def test_the_frame_is_prepared_from_its_declared_inputs_alone(source, sample_data):
    """A task that only prepares a frame reads FRAME_INPUTS (the Dask engine's chunks and pieces): the same
    frame, column for column, as from every column of the table, for every format and a synthetic world."""
    import followmoney as fm
    from followmoney.core.frame import FRAME_INPUTS
    from followmoney.datasets.synth import make_transactions

    if source == "synthetic":
        b = make_transactions(600, 45, n_per_typology=2, random_state=7)[0]
    elif source == "goaml":
        b = fm.read(sample_data / "goaml")
    else:
        b = fm.read(Path(__file__).parent / "data" / source)
    tx = b.transactions
    assert tx.num_rows and len(tx.column_names) > len([c for c in FRAME_INPUTS if c in tx.column_names])  # something left out
    for tz in ("UTC", "Asia/Dubai"):
        whole = prepare_transactions(tx, tz, b.accounts)
        lean = prepare_transactions(tx.select([c for c in FRAME_INPUTS if c in tx.column_names]), tz, b.accounts)
        pd.testing.assert_frame_equal(lean, whole, check_exact=True)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "bb", "ccc", "Ä"])), min_size=1, max_size=30), st.data(),
       st.sampled_from(["str", "string[pyarrow]", "arrow", "object"]), st.booleans())  # fmt: skip
def test_take_rows_is_loc_for_columns_in_many_chunks(values, data, dtype, frame):
    """take_rows gives what .loc gives (values, dtype, order, index; repeats), chunk by chunk where the column
    is Arrow-backed in many chunks; on an index that is not 0..n-1 it is .loc itself."""
    import pyarrow as pa

    from followmoney.core.frame import take_rows

    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), max_size=4)))
    bounds = [0, *cuts, len(values)]
    chunks = pa.chunked_array([pa.array(values[a:b], pa.string()) for a, b in zip(bounds[:-1], bounds[1:])], pa.string())
    if dtype == "arrow":
        col = pd.Series(pd.arrays.ArrowExtensionArray(chunks))
    elif dtype == "object":
        col = pd.Series(values, dtype=object)
    else:
        try:
            col = pd.Series(chunks.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get) if dtype == "string[pyarrow]" else chunks.to_pandas())
        except TypeError:
            col = pd.Series(values, dtype=dtype)
    rows = data.draw(st.lists(st.integers(0, len(values) - 1), max_size=12))
    if frame:
        f = pd.DataFrame({"x": col, "n": np.arange(len(values))})
        pd.testing.assert_frame_equal(take_rows(f, rows), f.loc[rows])
        shifted = f.set_axis(f.index + 7)
        pd.testing.assert_frame_equal(take_rows(shifted, [r + 7 for r in rows]), shifted.loc[[r + 7 for r in rows]])
    else:
        pd.testing.assert_series_equal(take_rows(col, rows), col.loc[rows])


def test_rules_raise_the_same_alerts_from_a_table_in_many_chunks(synthetic):
    """A table in time order is not copied into one piece (a time-ordered file read in blocks, a store's Parquet
    parts), so the frame's text stays in the table's chunks: every rule, including those taking their episodes'
    rows a chunk at a time (take_rows), raises the same alerts as from the table in one chunk."""
    from dataclasses import replace

    from followmoney.core.frame import _chunked, in_time_order

    bundle, cfg = synthetic
    ordered = in_time_order(bundle.transactions).combine_chunks()
    pieces = pa.Table.from_batches(ordered.to_batches(max_chunksize=max(ordered.num_rows // 23, 1)))
    one, many = replace(bundle, transactions=ordered), replace(bundle, transactions=pieces)
    frame = prepare_transactions(many.transactions, "UTC")
    if isinstance(frame["sender"].array, pd.arrays.ArrowExtensionArray):  # pandas 3: text stays in Arrow
        assert _chunked(frame["sender"]) and len(_chunked(frame["sender"])) > 1
    a, b = fm.score(one, cfg), fm.score(many, cfg)
    assert a.num_rows > 0 and a.drop_columns(["run_id"]).equals(b.drop_columns(["run_id"]))
