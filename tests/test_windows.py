"""The sliding-window episode finder against a brute-force reference."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from followmoney.detect.rules._windows import episodes

W = 10


def brute_peaks(rows, k, distinct):
    """Highest windowed count per subject, checking every window end (t - W, t]."""
    peaks = {}
    for subj in {r[1] for r in rows}:
        mine = [r for r in rows if r[1] == subj]
        best = 0
        for _, _, t_end, _ in mine:
            inwin = [r for r in mine if t_end - W < r[2] <= t_end]
            n = len({r[3] for r in inwin}) if distinct else len(inwin)
            best = max(best, n)
        if best >= k:
            peaks[subj] = best
    return peaks


rows_st = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 60), st.sampled_from(["s1", "s2", "s3", "s4", "s5"])),
    min_size=0,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(rows_st, st.integers(1, 4), st.booleans())
def test_episode_peaks_match_brute_force(raw, k, distinct):
    rows = [(f"x{i:03d}", subj, t, m) for i, (subj, t, m) in enumerate(raw)]
    frame = pd.DataFrame(rows, columns=["txn_id", "acct", "t", "src"])
    ep = episodes(frame, subject="acct", window_us=W, min_count=k, member="src" if distinct else None)
    got = ep.groupby("subject")["peak"].max().to_dict() if len(ep) else {}
    assert got == brute_peaks(rows, k, distinct)
    for _, e in ep.iterrows():
        # evidence lies in one window and reaches the peak
        assert max(e.evidence_t) - min(e.evidence_t) < W
        ev = [r for r in rows if r[0] in set(e.evidence_txn_ids)]
        n = len({r[3] for r in ev}) if distinct else len(ev)
        assert n == e.peak
        assert all(r[1] == e.subject for r in ev)
        assert e.evidence_t == sorted(e.evidence_t)


def test_repeated_counterparty_counts_once():
    frame = pd.DataFrame({"txn_id": list("abcd"), "acct": "X", "t": [0, 1, 2, 3], "src": ["s1", "s1", "s1", "s2"]})
    assert episodes(frame, subject="acct", member="src", window_us=W, min_count=3).empty
    ep = episodes(frame, subject="acct", member="src", window_us=W, min_count=2)
    assert ep.peak.tolist() == [2] and ep.evidence_txn_ids.tolist() == [["a", "b", "c", "d"]]


def test_bursts_far_apart_are_separate_episodes():
    frame = pd.DataFrame({"txn_id": list("abcdef"), "acct": "X", "t": [0, 1, 2, 100, 101, 102]})
    ep = episodes(frame, subject="acct", window_us=W, min_count=3)
    assert ep.evidence_txn_ids.tolist() == [["a", "b", "c"], ["d", "e", "f"]]


def test_empty_input():
    frame = pd.DataFrame({"txn_id": [], "acct": [], "t": []})
    assert episodes(frame, subject="acct", window_us=W, min_count=1).empty
