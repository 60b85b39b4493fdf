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

_COLUMNS = ["subject", "start", "end", "peak", "typical", "evidence_txn_ids", "evidence_rows", "evidence_t", "episode_start", "episode_end"]


def episodes(
    frame: pd.DataFrame,
    *,
    subject: str,
    window_us: int,
    min_count: int,
    member: str | None = None,
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

    Returns
    -------
    pandas.DataFrame
        One row per episode (stretches of one subject less than a window apart are
        one episode): ``subject``; ``peak``, the highest windowed count reached;
        ``evidence_txn_ids`` (list, in (t, txn_id) order), the subject's
        transactions in the first window where the peak is reached, and
        ``evidence_rows`` their index labels in ``frame``, ``evidence_t`` their times; ``typical``, the median windowed count over all
        of the subject's transactions (its usual level); ``start`` and ``end``, the first and last
        evidence time; ``episode_start`` and ``episode_end``, the first and last
        transaction time at which the count was at or above ``min_count``. All
        times int64 µs since the epoch, UTC.

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
    # the subject's typical windowed count: median over every transaction it has
    rises = delta == 1
    typical = pd.Series(level[rises]).groupby(subj_ev[rises]).median()
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
    out["typical"] = out["subj"].map(typical).astype(float)
    out["subject"] = subj_uniques[out["subj"].to_numpy()]
    out["episode_start"] = out["s"]
    out["episode_end"] = out["e"] - 1  # coverage ends at e, exclusive
    return out[_COLUMNS].reset_index(drop=True)
