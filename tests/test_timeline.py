"""followmoney.core._timeline: every window kernel against a brute-force loop (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from followmoney.core import _timeline as tl

US = 1_000_000
SETTINGS = settings(max_examples=150, deadline=None)

# events: (key, member, time) with few keys, members and times so that windows collide
events = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 40)), min_size=0, max_size=40)


def _cols(rows):
    a = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return a[:, 0], a[:, 1], a[:, 2]


@SETTINGS
@given(st.lists(st.integers(-5, 30), max_size=30), st.lists(st.integers(-10, 40), max_size=5000), st.sampled_from(["left", "right"]))
def test_search_is_searchsorted(a, q, side):
    a = np.sort(np.array(a, np.int64))
    q = np.array(q, np.int64)
    assert tl.search(a, q, side).tolist() == np.searchsorted(a, q, side).tolist()
    assert tl.search(a, q, side, perm=np.argsort(q)).tolist() == np.searchsorted(a, q, side).tolist()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 300, 70_000, 2**31, 2**32, 2**40]), st.sampled_from([70_000, 200_000]),
       st.sampled_from(["random", "runs", "negative"]))  # fmt: skip
def test_stable_order_is_numpys_stable_argsort(seed, top, n, shape):
    """The radix path (non-negative keys below 2**32, out of order) and NumPy's (the others) give NumPy's stable order."""
    rng = np.random.default_rng(seed)
    key = rng.integers(0, top, n, dtype=np.int64)
    if shape == "runs":
        key = np.sort(key) if seed % 2 else np.sort(key)[::-1].copy()
    elif shape == "negative":
        key -= top // 2
    assert (tl.stable_order(key) == np.argsort(key, kind="stable")).all()
    assert (tl.stable_order(key.astype(np.int32) if top <= 2**31 else key) == np.argsort(key, kind="stable")).all()
    assert (tl.stable_order(key.astype(">i8")) == np.argsort(key, kind="stable")).all()  # digits of a big-endian key


@SETTINGS
@given(st.lists(st.integers(0, 60), max_size=300), st.lists(st.integers(0, 60), min_size=1, max_size=40), st.sampled_from([0, 1, 2**40, 2**62]))
def test_member_is_isin(values, wanted, scale):
    """Membership of integers, by the table of flags (narrow span) or the hash table (values spread wide)."""
    values = np.array(values, np.int64) * np.int64(max(scale, 1))
    wanted = np.unique(np.array(wanted, np.int64) * np.int64(max(scale, 1)))
    assert tl.member(values, wanted).tolist() == np.isin(values, wanted).tolist()


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(-3, 6)), max_size=20))
def test_expand_lists_every_position(ranges):
    lo = np.array([r[0] for r in ranges], np.int64)
    hi = lo + np.array([r[1] for r in ranges], np.int64)
    owner, pos = tl.expand(lo, hi)
    want = [(i, p) for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist())) for p in range(a, b)]
    assert list(zip(owner.tolist(), pos.tolist())) == want


@SETTINGS
@given(events, st.lists(st.tuples(st.integers(-1, 3), st.integers(0, 45)), min_size=1, max_size=10),
       st.integers(0, 15), st.integers(0, 15))  # fmt: skip
def test_keyed_series_range_sum(rows, queries, back, ahead):
    """Sum of a key's values with time in (t - back, t + ahead], time in whole seconds."""
    key, val, sec = _cols(rows)
    s = tl.KeyedSeries(key, sec * US, val)
    qk = np.array([q[0] for q in queries], np.int64)
    qt = np.array([q[1] for q in queries], np.int64) * US
    sums, a, b = s.range_sum(qk, qt, -back * US, ahead * US)
    for i, (k, t) in enumerate(zip(qk.tolist(), qt.tolist())):
        hit = [j for j in range(len(key)) if key[j] == k and t - back * US < sec[j] * US <= t + ahead * US]
        assert sums[i] == sum(int(val[j]) for j in hit)
        assert sorted(s.order[a[i] : b[i]].tolist()) == hit


@SETTINGS
@given(events, st.lists(st.tuples(st.integers(-1, 3), st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=10))
def test_keyed_ranks_sums_and_last(rows, queries):
    key, val, _ = _cols(rows)
    n = len(key)
    rank = np.arange(n, dtype=np.int64)
    k = tl.KeyedRanks(key, rank, val, n)
    qk = np.array([q[0] for q in queries], np.int64)
    lo = np.minimum([q[1] for q in queries], n).astype(np.int64)
    hi = np.minimum([q[2] for q in queries], n).astype(np.int64)
    hi = np.maximum(hi, lo)
    got = k.sums(qk, lo, hi)[:, 0]
    has, last = k.last(qk, k.prefix(qk, hi))
    for i in range(len(queries)):
        mine = [r for r in range(n) if key[r] == qk[i]]
        assert got[i] == sum(int(val[r]) for r in mine if lo[i] <= r < hi[i])
        before = [r for r in mine if r < hi[i]]
        assert bool(has[i]) == bool(before) and (not before or last[i] == before[-1])


@SETTINGS
@given(events, st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 42), st.integers(0, 20)), min_size=1, max_size=10), st.booleans())
def test_time_index_range(rows, queries, inclusive):
    key, _, t = _cols(rows)
    order = np.lexsort((np.arange(len(t)), t))  # (t, input) order, as the frames are sorted
    key, t = key[order], t[order]
    ix = tl.TimeIndex(key, t)
    g = np.array([q[0] for q in queries], np.int64)
    after = np.array([q[1] for q in queries], np.int64)
    until = after + np.array([q[2] for q in queries], np.int64)
    lo, hi = ix.range(g, after, until, inclusive_after=inclusive)
    for i in range(len(queries)):
        want = [j for j in range(len(t)) if key[j] == g[i] and (after[i] <= t[j] if inclusive else after[i] < t[j]) and t[j] <= until[i]]
        assert ix.order[lo[i] : hi[i]].tolist() == want


@SETTINGS
@given(events, st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 42), st.integers(0, 20)), min_size=1, max_size=30),
       st.booleans(), st.booleans())  # fmt: skip
def test_time_index_range_with_its_queries_sorted(rows, queries, inclusive, in_time_order):
    """The paths taken at millions of rows and queries (times in order ranked by their runs; the rows and the
    queries ordered by group by radix passes; the queries sorted once for two searches each), made to run on a
    few: the same rows as a scan, times in order or not."""
    from unittest import mock

    key, _, t = _cols(rows)
    if in_time_order:
        order = np.lexsort((np.arange(len(t)), t))
        key, t = key[order], t[order]
    g = np.array([q[0] for q in queries], np.int64)
    after = np.array([q[1] for q in queries], np.int64)
    until = after + np.array([q[2] for q in queries], np.int64)
    with mock.patch.object(tl, "_SORT_QUERIES_FROM", 1), mock.patch.object(tl, "_RADIX_FROM", 1):
        ix = tl.TimeIndex(key, t)
        lo, hi = ix.range(g, after, until, inclusive_after=inclusive)
    assert ix.times.tolist() == sorted(set(t.tolist()))
    for i in range(len(queries)):
        want = [j for j in range(len(t)) if key[j] == g[i] and (after[i] <= t[j] if inclusive else after[i] < t[j]) and t[j] <= until[i]]
        assert sorted(ix.order[lo[i] : hi[i]].tolist()) == want
        assert [t[j] for j in ix.order[lo[i] : hi[i]]] == sorted(t[j] for j in want)  # in time order


@SETTINGS
@given(events, st.integers(1, 12), st.booleans())
def test_distinct_in_window_counts_members_once(rows, w, inclusive):
    """Distinct members of a key among the events in each query's trailing window (ranks)."""
    key, member, t = _cols(rows)
    o = np.argsort(t, kind="stable")
    key, member, t = key[o], member[o], t[o]
    n = len(t)
    lo = tl.window_start(t, w)
    end_of = tl.window_end(lo, np.arange(n + 1))
    qk = np.r_[key, -1] if n else np.array([-1])
    qr = np.r_[np.arange(n), 0] if n else np.array([0])
    (got,) = tl.distinct_in_window(key, member, np.arange(n, dtype=np.int64), end_of, n, [(qk, qr, None)], inclusive=inclusive)
    for i, (k, q) in enumerate(zip(qk.tolist(), qr.tolist())):
        top = q + 1 if inclusive else q
        want = {member[r] for r in range(n) if k >= 0 and key[r] == k and lo[q] <= r < top}
        assert got[i] == len(want)


@SETTINGS
@given(events, st.lists(st.tuples(st.integers(-1, 4), st.integers(-5, 45)), min_size=1, max_size=12), st.integers(0, 12), st.booleans(),
       st.sampled_from([(1, 1), (2**55, 1), (1, 2**60)]))
def test_distinct_forward_counts_members_once(rows, queries, w, strict, units):
    """Times and keys in ``units``: (key, time) packed in an int64 as they are, with the times as
    ranks (times 2**55 apart), or not at all (keys 2**60 apart: events and queries merged in one sort)."""
    key, member, t = _cols(rows)
    (unit, key_unit), key = units, key * units[1]
    t, w = t * unit, w * unit
    qk = np.array([q[0] for q in queries], np.int64) * key_unit
    qs = np.array([q[1] for q in queries], np.int64) * unit
    got = tl.distinct_forward(key, member, t, qk, qs, w, strict_after=strict)
    for i in range(len(queries)):
        want = {member[j] for j in range(len(t)) if key[j] == qk[i] and (qs[i] < t[j] if strict else qs[i] <= t[j]) and t[j] <= qs[i] + w}
        assert got[i] == len(want)


@SETTINGS
@given(events, st.integers(1, 10))
def test_runs_split_at_gaps(rows, gap):
    key, _, t = _cols(rows)
    got = tl.runs(key, t, gap)
    order = sorted(range(len(t)), key=lambda j: (key[j], t[j], j))
    want, ep, prev = {}, -1, None
    for j in order:
        if prev is None or key[j] != key[prev] or t[j] - t[prev] >= gap:
            ep += 1
        want[j] = ep
        prev = j
    assert got.tolist() == [want[j] for j in range(len(t))]


@SETTINGS
@given(events, st.integers(1, 5))
def test_group_rolling_sum(rows, n):
    key, val, _ = _cols(rows)
    o = np.argsort(key, kind="stable")
    key, val = key[o], val[o]
    got = tl.group_rolling_sum(key, val, n)
    for i in range(len(key)):
        same = [j for j in range(max(0, i - n + 1), i + 1) if key[j] == key[i]]
        assert got[i] == sum(int(val[j]) for j in same)


@SETTINGS
@given(events, st.integers(1, 12), st.integers(1, 4), st.booleans())
def test_episodes_find_every_subject_whose_window_count_reaches_k(rows, w, k, distinct):
    """A subject has an episode iff some trailing window (t - W, t] holds k transactions
    (k distinct members); the highest peak is that window's count."""
    key, member, t = _cols(rows)
    f = pd.DataFrame({"t": t, "txn_id": [f"x{i:03d}" for i in range(len(t))], "s": key, "m": member})
    f = f.sort_values(["t", "txn_id"]).reset_index(drop=True)
    ep = tl.episodes(f, subject="s", member="m" if distinct else None, window_us=w, min_count=k)
    best = {}
    for s_, g in f.groupby("s"):
        for T in g.t:
            inside = g[(g.t > T - w) & (g.t <= T)]
            c = inside.m.nunique() if distinct else len(inside)
            best[s_] = max(best.get(s_, 0), c)
    want = {s_: c for s_, c in best.items() if c >= k}
    got = ep.groupby("subject")["peak"].max().to_dict() if len(ep) else {}
    assert got == want
    by_id = f.set_index("txn_id")
    for r in ep.itertuples():  # the evidence is the peak window's transactions
        ev = by_id.loc[r.evidence_txn_ids]
        assert (ev.m.nunique() if distinct else len(ev)) == r.peak
        assert (ev.s == r.subject).all() and ev.t.max() - ev.t.min() < w
