"""Temporal path search: time-respecting cycles (ML-09) and chains (ML-12) under a work budget.

Paths grow one hop per step for all start transactions at once (a breadth-first
frontier held in arrays, :func:`_frontier_search`); every hop is found by binary search
among the transactions of the last account sorted by time and must be later than the
previous hop, so only time-respecting paths are ever built. Simple cycles are never
enumerated first and filtered by time afterwards (the blow-up of networkx #3021). A work
budget (``max_paths``) bounds the search; when it stops a search the findings carry
``truncated`` and a warning is logged (counts only, no account ids).

Public as :func:`find_cycles` and :func:`find_chains`; the rules turn the paths found into
findings with :func:`_path_findings`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from followmoney.core._timeline import TimeIndex, expand
from followmoney.core.units import DAY_US, HOUR_US
from followmoney.detect.rules._graph._table import _Edges, _edges, _evidence, _findings, _window_us

__all__ = ["CycleSearch", "ChainSearch", "find_cycles", "find_chains"]

#: Path extensions materialised at once by the path searches (memory, not work, bound).
_BATCH_ROWS = 500_000


class CycleSearch(NamedTuple):
    """Result of :func:`find_cycles`.

    Attributes
    ----------
    cycles : pandas.DataFrame
        One row per cycle found.
    truncated : bool
        True when the work budget stopped the search: more cycles may exist.
    paths : int
        Path extensions examined (the work the budget counts).
    """

    cycles: pd.DataFrame
    truncated: bool
    paths: int


class ChainSearch(NamedTuple):
    """Result of :func:`find_chains`; fields as in :class:`CycleSearch` (``chains``)."""

    chains: pd.DataFrame
    truncated: bool
    paths: int


def _cap(lo, hi, used: int, budget: int) -> tuple[np.ndarray, bool]:
    """Shrink the ranges so at most ``budget - used`` rows are produced, first rows first."""
    n = hi - lo
    if used + int(n.sum()) <= budget:
        return hi, False
    before = np.cumsum(n) - n
    return lo + np.clip(budget - used - before, 0, n), True


def _batches(n: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Split consecutive paths into batches of about ``rows`` extensions (at least one path each).

    Examples
    --------
    >>> _batches(np.array([3, 0, 4, 2, 5]), 5)
    [(0, 3), (3, 5)]
    """
    ids = np.cumsum(n)
    ids -= n  # extensions before each path (in place: millions of paths at the search's start)
    ids //= rows
    cut = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return list(zip(np.r_[0, cut].tolist(), np.r_[cut, len(n)].tolist()))


def _start_ranges(n_edges: int, ranges, block: int) -> tuple[list, np.ndarray, np.ndarray, list]:
    """``ranges([arange(n_edges)])`` computed ``block`` start transactions at a time: the same paths, candidates
    and records (``ranges`` judges each path on its own), without its temporaries for every transaction at once
    (at 34 M edges, 3.9 GB for ML-09 against 1.0 GB)."""
    parts = [ranges([np.arange(a, min(a + block, n_edges))]) for a in range(0, n_edges, block)]
    if not parts:
        return ranges([np.arange(0)])
    hops = [np.concatenate([p[0][i] for p in parts]) for i in range(len(parts[0][0]))]
    return hops, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]), [r for p in parts for r in p[3]]


def _frontier_search(n_edges: int, *, ranges, step, budget: int, batch_rows: int | None = None):
    """Grow paths from every transaction, one hop per step, under a work budget.

    Paths are held as lists of int arrays (one per hop, edge indices, one row per path).
    ``ranges(hops) -> (hops, lo, hi, records)`` gives each path's candidate next hops as
    a range of positions (it may drop paths first, or record them); ``step(hops, q, j)
    -> (edges, keep, records)`` judges the candidates ``j`` of path rows ``q`` and says
    which extended paths continue. Within a batch all paths advance together
    (breadth-first, vectorised); batches are taken depth-first in path order, so memory
    stays near ``batch_rows`` extensions per level while the total work is capped by
    ``budget``. The order of work, hence what a truncated search has covered, is
    deterministic: start transactions in (t, txn_id) order.

    Returns ``(records, truncated, work)``.
    """
    batch_rows = batch_rows or _BATCH_ROWS
    found, work = [], 0
    stack = [("start", None)]
    while stack:
        item = stack.pop()
        if item[0] in ("start", "paths"):
            hops, lo, hi, records = _start_ranges(n_edges, ranges, 4 * batch_rows) if item[0] == "start" else ranges(item[1])
            found += records
            for a, b in reversed(_batches(hi - lo, batch_rows) if len(lo) else []):
                stack.append(("batch", [h[a:b] for h in hops], lo[a:b], hi[a:b]))
            continue
        _, hops, lo, hi = item
        hi, cut = _cap(lo, hi, work, budget)
        work += int((hi - lo).sum())
        q, j = expand(lo, hi)
        e, keep, records = step(hops, q, j)
        found += records
        if keep.any():
            stack.append(("paths", [h[q[keep]] for h in hops] + [e[keep]]))
        if cut:
            return [f for f in found if len(f)], True, work
    return [f for f in found if len(f)], False, work


def _cycle_search(E: _Edges, *, max_length: int, window_us: int, min_return: float, budget: int,
                  max_hop_decrease: float = 1.0):
    """Time-respecting simple cycles (see :func:`_frontier_search` for the traversal).

    A path grows by a transaction of its last account, in the same currency, strictly
    later than the previous hop (or at the same time when both carry a date only: their
    order within the day is unknown, so a same-day round trip in date-only data is a
    cycle whatever the order of its rows or their ids) and no later than ``window_us``
    after the first, for no
    more than the previous hop and at least ``min_return`` of the first amount (the
    same money going round, less fees); it closes when the money reaches the first
    account again. Paths whose first account receives
    nothing more before the deadline are dropped (they cannot close).

    Returns ``(cycles, truncated, work)``: ``cycles`` is a list of int arrays of shape
    (n_cycles, length) holding edge indices in hop order.
    """
    n_cur = E.n_cur
    out, inn = TimeIndex(E.out_key(), E.t), TimeIndex(E.in_key(), E.t)

    def ranges(hops):
        first, last = hops[0], hops[-1]
        lo, hi = inn.range(E.src[first] * n_cur + E.cur[first], E.t[last], E.t[first] + window_us, inclusive_after=True)
        alive = hi > lo
        if not alive.all():
            hops = [h[alive] for h in hops]
            first, last = hops[0], hops[-1]
        key = E.dst[last] * n_cur + E.cur[last]
        lo, hi = out.range(key, E.t[last], E.t[first] + window_us)
        tie = E.day[last]
        if tie.any():  # date-only hops may be followed by date-only hops of the same date
            lo_tie, _ = out.range(key, E.t[last], E.t[first] + window_us, inclusive_after=True)
            lo = np.where(tie, lo_tie, lo)
            hi = np.maximum(hi, lo)
        return hops, lo, hi, []

    def step(hops, q, j):
        e = out.order[j]
        first = hops[0][q]
        v = E.dst[e]
        closes = v == E.src[first]
        # the same money going round: no hop more than the one before, none below min_return of the first, none
        # losing more than max_hop_decrease of the one before (a fee or a cut, not an unrelated smaller payment)
        prev = E.amt[hops[-1][q]]
        carried = (E.amt[e] >= min_return * E.amt[first] - 1e-9) & (E.amt[e] <= prev)
        carried &= E.amt[e] >= (1.0 - max_hop_decrease) * prev - 1e-9
        carried &= (E.t[e] > E.t[hops[-1][q]]) | E.day[e]  # a tie only between date-only hops
        good = closes & carried
        records = [np.column_stack([h[q[good]] for h in hops] + [e[good]])] if good.any() else []
        keep = ~closes & carried if len(hops) + 1 < max_length else np.zeros(len(e), bool)
        for h in hops[:-1]:
            keep &= v != E.dst[h[q]]
        return e, keep, records

    return _frontier_search(len(E), ranges=ranges, step=step, budget=budget)


def _chain_search(E: _Edges, *, min_hops: int, max_hops: int, hop_us: int, keep: float, budget: int):
    """Maximal time-respecting simple paths of at least ``min_hops`` transactions.

    Each hop leaves the previous hop's receiving account, in the same currency, strictly
    later and at most ``hop_us`` after the previous hop, for at least ``keep`` times and
    at most all of the previous amount, and visits a new account. A path is recorded
    when it cannot be extended (or reaches ``max_hops``); paths that are the tail of
    another recorded path are dropped.

    Returns ``(paths, truncated, work)`` like :func:`_cycle_search`.
    """
    n_cur = E.n_cur
    out = TimeIndex(E.out_key(), E.t)

    def ranges(hops):
        last = hops[-1]
        if len(hops) >= max_hops:
            empty = np.zeros(0, np.int64)
            return hops, empty, empty, [np.column_stack(hops)]
        lo, hi = out.range(E.dst[last] * n_cur + E.cur[last], E.t[last], E.t[last] + hop_us)
        return hops, lo, hi, []

    def step(hops, q, j):
        e = out.order[j]
        prev = E.amt[hops[-1][q]]
        v = E.dst[e]
        ok = (E.amt[e] >= keep * prev - 1e-9) & (E.amt[e] <= prev) & (v != E.src[hops[0][q]])
        for h in hops[:-1]:
            ok &= v != E.dst[h[q]]
        records = []
        if len(hops) >= min_hops:
            stop = np.bincount(q[ok], minlength=len(hops[0])) == 0
            if stop.any():
                records.append(np.column_stack([h[stop] for h in hops]))
        return e, ok, records

    found, truncated, work = _frontier_search(len(E), ranges=ranges, step=step, budget=budget)
    # drop tails: a path whose first transaction is a later hop of another recorded path
    if found:
        later = np.unique(np.concatenate([f[:, 1:].ravel() for f in found]))
        found = [f[~np.isin(f[:, 0], later)] for f in found]
        found = [f for f in found if len(f)]
    return found, truncated, work


def _paths_long(found: list[np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per path: first/last edge and length; long table path, hop, edge).

    Paths are numbered in a canonical order, by length and then by their edges (which
    are in (t, txn_id) order), whatever order the search found them in.
    """
    if not found:
        return pd.DataFrame(columns=["path", "first", "last", "length"]), pd.DataFrame(columns=["path", "hop", "edge"])
    by_len: dict[int, list[np.ndarray]] = {}
    for f in found:
        by_len.setdefault(f.shape[1], []).append(f)
    firsts, lasts, lens, longs, base = [], [], [], [], 0
    for L in sorted(by_len):
        f = np.concatenate(by_len[L])
        f = f[np.lexsort(f.T[::-1])]
        n = len(f)
        ids = np.arange(base, base + n)
        firsts.append(f[:, 0]), lasts.append(f[:, -1]), lens.append(np.full(n, L))
        longs.append(pd.DataFrame({"path": np.repeat(ids, L), "hop": np.tile(np.arange(L), n), "edge": f.ravel()}))
        base += n
    summary = pd.DataFrame(
        {"path": np.arange(base), "first": np.concatenate(firsts), "last": np.concatenate(lasts), "length": np.concatenate(lens)}
    )
    return summary, pd.concat(longs, ignore_index=True)


def _path_frame(E: _Edges, found: list[np.ndarray], subject_col: str, *, closed: bool = False) -> pd.DataFrame:
    columns = [subject_col, "accounts", "txn_ids", "currency", "length", "t_first", "t_last", "first_cents", "last_cents"]
    summary, long = _paths_long(found)
    if summary.empty:
        return pd.DataFrame(columns=columns)
    long = long.sort_values(["path", "hop"], kind="stable")
    edge, path = long["edge"].to_numpy(), long["path"].to_numpy()
    accounts = pd.Series(E.accounts[E.dst[edge]]).groupby(path).agg(list).reindex(summary["path"]).tolist()
    txns = pd.Series(E.txn_id[edge]).groupby(path).agg(list).reindex(summary["path"]).tolist()
    first, last = summary["first"].to_numpy(), summary["last"].to_numpy()
    start = E.accounts[E.src[first]]
    return pd.DataFrame(
        {
            subject_col: start,
            "accounts": [[s] + (a[:-1] if closed else a) for s, a in zip(start, accounts)],
            "txn_ids": txns,
            "currency": E.currencies[E.cur[first]],
            "length": summary["length"].to_numpy(),
            "t_first": E.t[first],
            "t_last": E.t[last],
            "first_cents": E.amt[first],
            "last_cents": E.amt[last],
        },
        columns=columns,
    )


def find_cycles(
    frame: pd.DataFrame,
    *,
    max_length: int = 6,
    window_days: float = 30.0,
    min_return: float = 0.7,
    max_paths: int = 10_000_000,
) -> CycleSearch:
    """Find time-respecting simple cycles (round trips) in a transaction frame.

    A cycle is a sequence of 2 to ``max_length`` transactions A→B→…→A, each leaving
    the account the previous one paid, in one currency, with strictly increasing times,
    the last no more than ``window_days`` after the first, and every amount no larger
    than the one before and at least ``min_return`` of the first (money that grows on
    the way was topped up: it is not the same money). Accounts other than A are not
    revisited.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared transactions (:func:`followmoney.detect.score.prepare_transactions`):
        ``txn_id``, ``t`` (int64 µs since the epoch, UTC), ``amount_cents`` (thousandths
        of ``currency``), ``currency``, ``from_account``, ``to_account`` and optionally
        ``self_transfer``. Rows without both accounts or a positive amount are ignored.
    max_length : int, default=6
        Longest cycle, in transactions (at least 2).
    window_days : float, default=30.0
        Time from the first to the last transaction of a cycle.
    min_return : float, default=0.7
        Smallest amount of any hop, the closing one included, as a fraction of the
        first amount.
    max_paths : int, default=10_000_000
        Work budget: path extensions examined before the search stops. Time grows
        with it (roughly a second per million extensions); memory does not, as
        extensions are made in batches of about 500,000.

    Returns
    -------
    CycleSearch
        ``cycles`` has one row per cycle: ``account`` (where the money left and came
        back), ``accounts`` (list, in hop order, starting with ``account``), ``txn_ids``
        (list, in hop order, which is also (t, txn_id) order), ``currency``,
        ``length``, ``t_first`` and ``t_last`` (int64 µs), ``first_cents`` and
        ``last_cents``; rows are ordered by length, then by first transaction.
        ``truncated`` says whether the budget stopped the search.

    Notes
    -----
    Breadth-first over all start transactions at once, in batches: every open path
    of ``L`` hops finds its next hops by binary search among the transactions of its
    last account sorted by time, so a step costs O(F log n) for F open paths plus the
    extensions it makes. Only time-respecting paths are built; a path is dropped as
    soon as its first account receives nothing more before the deadline. The total
    work is at most ``max_paths`` extensions, whatever the graph (a complete graph of
    12 accounts has over 10⁵ simple cycles up to length 6 if time is ignored; see
    networkx issues #2159 and #3021), and the result says when the budget was hit.
    Memory is O(n) for n transactions plus about 500,000 extensions per level
    (``_BATCH_ROWS``), independent of the budget.

    Examples
    --------
    >>> import pandas as pd
    >>> day = 86_400_000_000
    >>> f = pd.DataFrame({"txn_id": list("abcd"), "t": [day, 2 * day, 3 * day, 4 * day],
    ...     "amount_cents": [1000, 1000, 1000, 900], "currency": "EUR",
    ...     "from_account": ["A", "B", "C", "D"], "to_account": ["B", "C", "D", "A"]})
    >>> r = find_cycles(f)
    >>> r.cycles[["account", "length", "txn_ids"]].values.tolist(), r.truncated
    ([['A', 4, ['a', 'b', 'c', 'd']]], False)
    >>> find_cycles(f, min_return=0.95).cycles.empty  # 900 is 90 % of 1000
    True
    """
    E = _edges(frame)
    if len(E) == 0:
        return CycleSearch(_path_frame(E, [], "account", closed=True), False, 0)
    found, truncated, work = _cycle_search(
        E, max_length=max_length, window_us=_window_us(window_days), min_return=min_return, budget=max_paths
    )
    return CycleSearch(_path_frame(E, found, "account", closed=True), truncated, work)


def find_chains(
    frame: pd.DataFrame,
    *,
    min_hops: int = 4,
    max_hops: int = 12,
    hop_hours: float = 72.0,
    min_hop_fraction: float = 0.9,
    max_paths: int = 10_000_000,
) -> ChainSearch:
    """Find layering chains: long time-respecting paths of quick, nearly equal hops.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared transactions, as for :func:`find_cycles`.
    min_hops : int, default=4
        Shortest chain reported, in transactions.
    max_hops : int, default=12
        Longest chain followed; longer chains are cut here.
    hop_hours : float, default=72.0
        Each hop follows the previous one strictly later and within this many hours.
    min_hop_fraction : float, default=0.9
        Each hop moves at least this fraction of the previous hop's amount, and at most
        all of it (a larger payment is other money, not the same sum moving on).
    max_paths : int, default=10_000_000
        Work budget, as for :func:`find_cycles`.

    Returns
    -------
    ChainSearch
        ``chains`` with the columns of :attr:`CycleSearch.cycles` (``account`` is the
        first payer; ``accounts`` lists every account in the chain). Only maximal
        chains: neither extendable at the end nor the tail of another chain found.

    Notes
    -----
    Same breadth-first engine as :func:`find_cycles`; O((F + X) log n) per hop for F
    open paths and X extensions, total extensions bounded by ``max_paths``.

    Examples
    --------
    >>> import pandas as pd
    >>> h = 3_600_000_000
    >>> f = pd.DataFrame({"txn_id": list("abcd"), "t": [0, 10 * h, 20 * h, 30 * h],
    ...     "amount_cents": [10000, 9800, 9500, 9400], "currency": "EUR",
    ...     "from_account": ["A", "B", "C", "D"], "to_account": ["B", "C", "D", "E"]})
    >>> find_chains(f).chains[["account", "accounts", "length"]].values.tolist()
    [['A', ['A', 'B', 'C', 'D', 'E'], 4]]
    >>> find_chains(f, hop_hours=8).chains.empty
    True
    """
    E = _edges(frame)
    if len(E) == 0:
        return ChainSearch(_path_frame(E, [], "account"), False, 0)
    found, truncated, work = _chain_search(
        E, min_hops=min_hops, max_hops=max_hops, hop_us=int(round(hop_hours * HOUR_US)), keep=min_hop_fraction, budget=max_paths
    )
    return ChainSearch(_path_frame(E, found, "account"), truncated, work)


# --------------------------------------------------------------------------- paths as findings (ML-09, ML-12)
def _path_findings(E, best: pd.DataFrame, long: pd.DataFrame, truncated: bool, work: int, extra) -> pd.DataFrame:
    fid = pd.Series(np.arange(len(best)), index=best["path"].to_numpy())
    sel = long[long["path"].isin(best["path"])].sort_values(["path", "hop"], kind="stable")
    f_ids = fid.reindex(sel["path"].to_numpy()).to_numpy()
    evidence = _evidence(E, f_ids, sel["edge"].to_numpy(), len(best))
    path_accounts = pd.Series(E.accounts[E.dst[sel["edge"].to_numpy()]]).groupby(f_ids).agg(list)
    facts = []
    for i, r in enumerate(best.itertuples()):
        facts.append(
            {
                "accounts": [r.subject_id] + path_accounts[i],
                "length": int(r.length),
                "first_cents": int(E.amt[r.first]),
                "last_cents": int(E.amt[r.last]),
                "currency": E.currencies[E.cur[r.first]],
                "span_days": (r.window_end - r.window_start) / DAY_US,
                "in_episode": int(r.in_episode),
                "episode_start": int(r.episode_start),
                "episode_end": int(r.episode_end),
                "truncated": bool(truncated),
                "paths_examined": int(work),
                **extra(r),
            }
        )
    return _findings(best["subject_id"], best["window_start"], best["window_end"], evidence, best["score"], facts)


def _truncation_note(facts: dict, params: dict) -> str:
    if not facts["truncated"]:
        return ""
    return (
        f" The search stopped at its work budget ({params['max_paths']:,} path extensions): "
        "further patterns may exist (truncated)."
    )
