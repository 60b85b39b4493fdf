"""Sliding-window episode detection, vectorised over all subjects at once.

An *episode* of a subject is a maximal stretch of time during which the number of
its transactions (or of its distinct counterparties) in the trailing window of
length ``W`` is at least ``k``. This is the building block of fan-in, fan-out and
structuring rules.

Method (no per-subject Python loop): each transaction at time ``t`` "covers" the
window ends ``[t, t + W)``. For distinct counting, the coverage of a repeated
(subject, counterparty) pair is merged, so the pair counts once. Coverage intervals
become +1/−1 events; a cumulative sum per subject gives the windowed count at every
event, and up/down crossings of ``k`` delimit the episodes. Cost: one sort of
``2n`` events, O(n log n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["episodes"]

_COLUMNS = ["subject", "start", "end", "peak", "typical", "baseline_count", "evidence_txn_ids", "evidence_rows", "evidence_t", "episode_start", "episode_end"]


def episodes(
    frame: pd.DataFrame,
    *,
    subject: str,
    window_us: int,
    min_count: int,
    member: str | None = None,
    baseline_us: int | None = None,
) -> pd.DataFrame:
    """Find the episodes where a subject's windowed count reaches ``min_count``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``t`` (int64 microseconds since the epoch, UTC), ``txn_id``, the
        ``subject`` column and, for distinct counting, the ``member`` column. Rows
        with a null subject or member are ignored.
    subject : str
        Column whose values are the subjects (e.g. ``"to_account"``).
    window_us : int
        Window length in microseconds (> 0).
    min_count : int
        Threshold (>= 1).
    member : str, optional
        Count distinct values of this column (e.g. ``"from_account"``) instead of
        transactions.
    baseline_us : int, optional
        Length of the reference period for ``typical`` (e.g. 90 days in µs). Without
        it ``typical`` is NaN.

    Returns
    -------
    pandas.DataFrame
        One row per episode (stretches of one subject less than a window apart are
        one episode): ``subject``; ``peak``, the highest windowed count reached;
        ``evidence_txn_ids`` (list, in (t, txn_id) order), the subject's
        transactions in the first window where the peak is reached, and
        ``evidence_rows`` their index labels in ``frame``, ``evidence_t`` their times; ``typical``, the subject's usual level
        (see Notes); ``baseline_count``, the number of samples behind it; ``start`` and ``end``, the first and last
        evidence time; ``episode_start`` and ``episode_end``, the first and last
        transaction time at which the count was at or above ``min_count``. All
        times int64 µs since the epoch, UTC.

    Notes
    -----
    ``typical`` is the median of the subject's windowed count at each of its
    transactions (each new counterparty, when counting distinct members) during the
    ``baseline_us`` that end one window before the peak: point in time, and clear of
    the peak window. When the data cover less than half a baseline before the peak
    (a peak near the start of the data) and the same length beginning one window
    after the peak holds more transactions, that is used instead. No transaction in
    the reference period gives ``typical`` 0 with ``baseline_count`` 0: a new or
    newly active account. An account that is always this busy (one long episode)
    has its own high level as its reference, so it is not a burst.

    Examples
    --------
    >>> day = 86_400_000_000
    >>> f = pd.DataFrame({"t": [0, day, 2 * day, 40 * day], "txn_id": list("abcd"),
    ...                   "acct": ["X"] * 4, "src": ["S1", "S2", "S3", "S4"]})
    >>> ep = episodes(f, subject="acct", member="src", window_us=7 * day, min_count=3)
    >>> ep[["subject", "peak"]].values.tolist(), ep.evidence_txn_ids.tolist()
    ([['X', 3]], [['a', 'b', 'c']])
    """
    cols = ["t", "txn_id", subject] + ([member] if member else [])
    f = frame[cols].dropna(subset=[subject] + ([member] if member else []))
    if f.empty:
        return pd.DataFrame(columns=_COLUMNS)
    subj_codes, subj_uniques = pd.factorize(f[subject], sort=True)
    t = f["t"].to_numpy(np.int64)
    if member:
        mem_codes, _ = pd.factorize(f[member])
        order = np.lexsort((t, mem_codes, subj_codes))
        s_sorted, m_sorted, t_sorted = subj_codes[order], mem_codes[order], t[order]
        same_pair = np.r_[False, (s_sorted[1:] == s_sorted[:-1]) & (m_sorted[1:] == m_sorted[:-1])]
        prev_end = np.r_[0, t_sorted[:-1] + window_us]
        start = np.where(same_pair, np.maximum(t_sorted, prev_end), t_sorted)
        end = t_sorted + window_us
        keep = start < end
        ev_subj = s_sorted[keep]
        starts, ends = start[keep], end[keep]
    else:
        ev_subj, starts, ends = subj_codes, t, t + window_us
    subj_ev = np.r_[ev_subj, ev_subj]
    time_ev = np.r_[starts, ends]
    delta = np.r_[np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)]
    order = np.lexsort((delta, time_ev, subj_ev))  # -1 before +1 at equal times
    subj_ev, time_ev, delta = subj_ev[order], time_ev[order], delta[order]
    level = np.cumsum(delta)  # per subject: levels return to 0 at each subject's end
    ups = (delta == 1) & (level == min_count)
    downs = (delta == -1) & (level == min_count - 1)
    if not ups.any():
        return pd.DataFrame(columns=_COLUMNS)
    ep = pd.DataFrame({"subj": subj_ev[ups], "s": time_ev[ups], "e": time_ev[downs]})
    # one episode per burst: stretches of the same subject less than a window apart merge
    new_group = np.r_[True, (ep.subj.to_numpy()[1:] != ep.subj.to_numpy()[:-1]) | (ep.s.to_numpy()[1:] - ep.e.to_numpy()[:-1] >= window_us)]
    ep["episode"] = np.cumsum(new_group) - 1
    ep = ep.groupby("episode", as_index=False).agg(subj=("subj", "first"), s=("s", "min"), e=("e", "max"))
    # the peak: highest windowed count inside [s, e), and the first time it is reached
    inside = pd.DataFrame({"subj": subj_ev, "time": time_ev, "level": level})
    inside = inside[(inside.level >= min_count) & (delta == 1)]
    inside = pd.merge_asof(
        inside.sort_values("time", kind="stable"), ep[["subj", "s", "episode"]].sort_values("s"),
        left_on="time", right_on="s", by="subj", direction="backward",
    )  # fmt: skip
    inside = inside.sort_values(["episode", "level", "time"], ascending=[True, False, True], kind="stable")
    top = inside.drop_duplicates("episode").set_index("episode")
    ep["peak"] = ep["episode"].map(top["level"]).astype(np.int64)
    ep["t_peak"] = ep["episode"].map(top["time"]).astype(np.int64)
    # evidence: the subject's transactions in the peak window (t_peak - W, t_peak]
    tx = pd.DataFrame({"subj": subj_codes, "t": t, "txn_id": f["txn_id"].to_numpy(), "row": f.index.to_numpy()})
    ev = tx.merge(ep[["subj", "t_peak", "episode"]], on="subj")
    ev = ev[(ev.t > ev.t_peak - window_us) & (ev.t <= ev.t_peak)].sort_values(["episode", "t", "txn_id"])
    grouped = ev.groupby("episode", sort=True).agg(
        evidence_txn_ids=("txn_id", list), evidence_rows=("row", list), evidence_t=("t", list),
        start=("t", "min"), end=("t", "max"),
    )
    out = ep.join(grouped, on="episode")
    if baseline_us is None:
        out["typical"], out["baseline_count"] = np.nan, 0
    else:
        out["typical"], out["baseline_count"] = _baseline(
            out, subj_ev, time_ev, delta, level, window_us, baseline_us, int(t.min())
        )
    out["subject"] = subj_uniques[out["subj"].to_numpy()]
    out["episode_start"] = out["s"]
    out["episode_end"] = out["e"] - 1  # coverage ends at e, exclusive
    return out[_COLUMNS].reset_index(drop=True)


def _baseline(ep, subj_ev, time_ev, delta, level, window_us, baseline_us, t0):
    """Median windowed count at the subject's arrivals before (else after) each peak; see ``episodes``."""
    rises = delta == 1
    subj_r, time_r, level_r = subj_ev[rises], time_ev[rises], level[rises]
    offsets = np.searchsorted(subj_r, np.arange(subj_ev.max() + 2))
    typical, used = np.zeros(len(ep)), np.zeros(len(ep), np.int64)
    for i, (c, p) in enumerate(zip(ep["subj"].to_numpy(), ep["t_peak"].to_numpy())):
        lo, hi = offsets[c], offsets[c + 1]
        times, levels = time_r[lo:hi], level_r[lo:hi]
        before = slice(*np.searchsorted(times, [p - window_us - baseline_us, p - window_us]))
        after = slice(*np.searchsorted(times, [p + window_us, p + window_us + baseline_us], side="right"))
        covered = p - window_us - baseline_us // 2 >= t0
        pick = before if covered or before.stop - before.start >= after.stop - after.start else after
        if pick.stop > pick.start:
            typical[i] = np.median(levels[pick])
            used[i] = pick.stop - pick.start
    return typical, used
