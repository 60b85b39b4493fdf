"""The time-window kernel: keyed range sums, distinct-in-window counts, runs and episodes.

Detectors keep asking the same few questions of a stream of timestamped events that
belong to keys (an account, an account and a currency, a pair of accounts): how much,
how many, how many *different* counterparties, in a window around each event, and
where are the stretches when that count is high. Each question is answered here once,
vectorised over all keys at once, with no per-key Python loop and no self-join:

* **Keyed order.** Packing (key, time) -- or (key, rank of the time) -- into one
  sortable int64 turns "rows of this key in this time range" into two binary searches
  (:class:`KeyedSeries`, :class:`KeyedRanks`, :class:`TimeIndex`, :func:`search`);
  :func:`expand` lists the rows of many ranges at once.
* **Coverage.** An event covers the window positions (ends or starts) whose window
  contains it. For *distinct* counting, the coverage of a repeated (key, member) event
  is cut where the member's previous event already covers (:func:`merge_coverage`), so
  each member counts once; the count at a position is then the number of covering
  intervals (:class:`Coverage`). Cost: one sort, ``O(n log n)``.
* **Runs and episodes.** :func:`runs` numbers the stretches of one key whose events are
  closer than a gap; :func:`episodes` finds the stretches where a key's windowed
  (distinct) count reaches a threshold.

Times are int64 microseconds since the epoch (UTC) unless a function works on ranks
(positions in a time-sorted stream). Nothing here knows a rule: rules, features and the
graph searches of :mod:`followmoney.detect` build on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from followmoney.core.frame import CODE_COLUMNS, account_codes

__all__ = [
    "Coverage",
    "KeyedRanks",
    "KeyedSeries",
    "TimeIndex",
    "codes_for",
    "distinct_forward",
    "distinct_in_window",
    "episodes",
    "expand",
    "group_rolling_sum",
    "merge_coverage",
    "runs",
    "search",
    "unique_sorted",
    "window_end",
    "window_start",
]

_SHIFT = 34  # 2**34 seconds ≈ 544 years of time range per key
_US = 1_000_000
_SORT_QUERIES_FROM = 4096  # below this many queries, sorting them first does not pay


# ------------------------------------------------------------------------ searching
def search(a: np.ndarray, q, side: str = "left", perm: np.ndarray | None = None) -> np.ndarray:
    """``numpy.searchsorted(a, q, side)``, with the queries visited in sorted order.

    Binary searches over sorted queries walk memory in order and run several times
    faster on large inputs. ``perm`` is an order of the queries (e.g. by key and rank)
    the caller already has; without it, large query arrays are sorted first. The
    answers do not depend on the order.

    Examples
    --------
    >>> search(np.array([1, 3, 5]), np.array([5, 0, 3]), "right").tolist()
    [3, 0, 2]
    """
    q = np.asarray(q)
    if perm is None:
        if q.ndim == 0 or len(q) < _SORT_QUERIES_FROM:
            return np.searchsorted(a, q, side)
        perm = np.argsort(q)  # any order of equal queries gives the same answers
    out = np.empty(len(q), np.int64)
    out[perm] = np.searchsorted(a, q[perm], side=side)
    return out


def unique_sorted(t: np.ndarray) -> np.ndarray:
    """Distinct values in ascending order (cheaper than ``np.unique`` on sorted input).

    Examples
    --------
    >>> unique_sorted(np.array([1, 1, 2, 5, 5])).tolist()
    [1, 2, 5]
    """
    if len(t) > 1 and (t[1:] < t[:-1]).any():
        t = np.sort(t)
    return t[np.r_[True, t[1:] != t[:-1]]] if len(t) else t


#: Below this many keys :func:`stable_order` leaves the sort to NumPy.
_RADIX_FROM = 1 << 16


def stable_order(key: np.ndarray) -> np.ndarray:
    """``numpy.argsort(key, kind="stable")`` for integer keys: the same order (a stable order is unique).

    Non-negative keys below 2**32 that are not largely in order already are sorted as two
    16-bit digits, the low then the high, each a stable counting sort (NumPy's radix sort of
    16-bit integers): about twice as fast as NumPy's stable sort of int64 at millions of keys.
    Other keys (wider, negative, few, or in long sorted runs, where NumPy's timsort takes them
    in one pass) go to NumPy.

    Examples
    --------
    >>> stable_order(np.array([3, 1, 2**31, 1, 0])).tolist()
    [4, 1, 3, 0, 2]
    """
    key = np.asarray(key)
    n = len(key)
    if n < _RADIX_FROM or key.dtype.kind not in "iu" or key.min() < 0 or key.max() >= 1 << 32 or (key[1:] < key[:-1]).sum() < n // 8:
        return np.argsort(key, kind="stable")
    # the digits read in place (as little-endian: the low 16 bits first; a copy only on a big-endian machine),
    # no key-sized temporaries; the second pass's order is turned into the result in place (each position read
    # before its slot is written)
    step = key.dtype.itemsize // 2
    digits = np.ascontiguousarray(key, dtype=key.dtype.newbyteorder("<")).view(np.uint16)
    order = np.argsort(digits[0::step], kind="stable")
    result = np.argsort(digits[1::step][order], kind="stable")
    return np.take(order, result, out=result, mode="clip")


def member(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """Whether each of the integers ``values`` is one of ``sorted_unique`` (sorted, distinct, non-empty).

    One pass over ``values``: a look-up in a table of flags when ``sorted_unique`` spans at
    most a few times as many numbers as there are values (``numpy.isin(kind="table")``),
    else in a hash table (pandas). A binary search per value, as ``numpy.searchsorted``
    does, misses the cache at every step: at 10 M values it took 7 s where these take
    0.2-0.6 s (issue 16).

    Examples
    --------
    >>> member(np.array([5, 1, 9, 5]), np.array([5, 9])).tolist()
    [True, False, True, True]
    >>> member(np.array([3, 2**40]), np.array([0, 2**40])).tolist()
    [False, True]
    """
    span = int(sorted_unique[-1]) - int(sorted_unique[0])
    if span < 4 * len(values) + 1024:  # the table of flags: span + 1 bytes
        return np.isin(values, sorted_unique, kind="table")
    return pd.Series(values, copy=False).isin(sorted_unique).to_numpy()


def expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (range number, position) of the ranges ``[lo[i], hi[i])``, range by range.

    Empty and reversed ranges give nothing.

    Examples
    --------
    >>> owner, pos = expand(np.array([2, 5, 0]), np.array([4, 5, 1]))
    >>> owner.tolist(), pos.tolist()
    ([0, 0, 2], [2, 3, 0])
    """
    n = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(len(lo)), n)
    pos = np.arange(int(n.sum()), dtype=np.int64) + np.repeat(lo - (np.cumsum(n) - n), n)
    return owner, pos


def batches(lo: np.ndarray, hi: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive runs ``[a, b)`` of the ranges ``[lo[i], hi[i])`` holding at most ``limit`` positions
    together (a range longer than ``limit`` is a run of its own), so that :func:`expand` can be done a run
    at a time in bounded memory.

    Examples
    --------
    >>> batches(np.array([0, 0, 0, 0]), np.array([3, 2, 9, 1]), 5)
    [(0, 2), (2, 3), (3, 4)]
    """
    end = np.cumsum(np.maximum(hi - lo, 0))
    runs, a = [], 0
    while a < len(end):
        before = int(end[a - 1]) if a else 0
        b = max(int(np.searchsorted(end, before + limit, side="right")), a + 1)
        runs.append((a, b))
        a = b
    return runs


def packable(ranges: list[tuple[int, int]]) -> bool:
    """Whether columns of these (lowest, highest) ranges pack into one :func:`packed_key`.

    Examples
    --------
    >>> packable([(0, 9), (0, 99)]), packable([(0, 2**31), (0, 2**31)])
    (True, False)
    """
    return math.prod(hi - lo + 1 for lo, hi in ranges) < 2**62


def packed_key(*columns: np.ndarray, ranges: list[tuple[int, int]] | None = None) -> np.ndarray | None:
    """Non-negative int64 columns as one int64 key ordered as the tuples are; None if it would overflow.

    ``ranges`` (lowest, highest) per column, when the key must be comparable with another's packed
    over them; else each column's own. One sort of such a key replaces a sort on several columns.

    Examples
    --------
    >>> packed_key(np.array([1, 0, 1]), np.array([0, 2, 1])).tolist()
    [3, 2, 4]
    """
    columns = [np.asarray(c) for c in columns]
    if ranges is None:
        ranges = [(int(c.min()), int(c.max())) if len(c) else (0, 0) for c in columns]
    if not packable(ranges):
        return None
    key = None
    for c, (lo, hi) in zip(columns, ranges):
        size = hi - lo + 1
        if key is None:
            key = c.astype(np.int64)  # a copy, even of an int64 column
        else:  # in place: one array of the rows' keys, no temporaries of their size
            key *= size
            np.add(key, c, out=key, casting="unsafe")
        key -= lo
    return key


def first_contact(key: np.ndarray, who: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row, the earliest time ``t`` among the rows of its (``key``, ``who``) pair: when an account
    (``key``) first dealt with that counterparty (``who``) that way, in the data at hand (µs).

    Examples
    --------
    >>> first_contact(np.array([0, 0, 1, 0]), np.array([5, 6, 5, 5]), np.array([30, 10, 20, 20])).tolist()
    [20, 10, 20, 20]
    """
    if len(key) == 0:
        return np.zeros(0, np.int64)
    packed = packed_key(key, who)
    order = np.lexsort((t, who, key)) if packed is None else np.lexsort((t, packed))
    k, w = key[order], who[order]
    new = np.r_[True, (k[1:] != k[:-1]) | (w[1:] != w[:-1])]
    group = np.cumsum(new) - 1
    out = np.empty(len(key), np.int64)
    out[order] = t[order][new][group]
    return out


def codes_for(*columns: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes for the (possibly composite) key given by ``columns``; -1 for nulls.

    Examples
    --------
    >>> codes_for(pd.Series(["b", "a", None, "b"]))[0].tolist()
    [1, 0, -1, 1]
    """
    if len(columns) == 1:
        codes, uniques = pd.factorize(columns[0], sort=True)
        return codes.astype(np.int64), pd.Index(uniques)
    frame = pd.concat(list(columns), axis=1)
    mi = pd.MultiIndex.from_frame(frame)
    codes, uniques = pd.factorize(mi, sort=True)
    codes = np.where(frame.isna().any(axis=1).to_numpy(), -1, codes)
    return codes.astype(np.int64), pd.Index(uniques)


def window_start(t: np.ndarray, w: int) -> np.ndarray:
    """Per row of a time-sorted stream, the first row whose time is after ``t - w``.

    Rows ``window_start(t, w)[q] .. q`` are those in the trailing window ``(t_q - w, t_q]``.

    Examples
    --------
    >>> window_start(np.array([0, 5, 10, 30]), 10).tolist()
    [0, 0, 1, 3]
    """
    return np.searchsorted(t, t - w, side="right").astype(np.int64)


def window_end(lo: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per row ``x``, the first row ``q`` whose window no longer reaches it (``lo[q] > x``).

    Examples
    --------
    >>> window_end(np.array([0, 0, 1, 3]), np.arange(5)).tolist()
    [2, 3, 3, 4, 4]
    """
    return np.searchsorted(lo, x, side="right").astype(np.int64)


# ------------------------------------------------------------------------ keyed sums
@dataclass
class KeyedSeries:
    """Values at times, per key, ready for range sums (time to the second).

    Parameters
    ----------
    codes : ndarray of int64, shape (n,)
        Key code per row (from :func:`codes_for`); rows with code -1 are ignored.
    t : ndarray of int64, shape (n,)
        Time in µs since the epoch (UTC); compared to the whole second.
    values : ndarray of int64 or float, shape (n,), optional
        What to sum (e.g. amounts in cents). None: count the rows (no array of ones
        and no cumulative sum is held).

    Examples
    --------
    >>> s = KeyedSeries(np.array([0, 0, 0, 1]), np.array([0, 10, 20, 5]) * _US, np.array([1, 2, 4, 8]))
    >>> s.range_sum(np.array([0, 1]), np.array([20, 20]) * _US, -16 * _US, 0)[0].tolist()
    [6, 8]
    """

    codes: np.ndarray
    t: np.ndarray
    values: np.ndarray | None = None

    def __post_init__(self) -> None:
        keep = self.codes >= 0
        every = bool(keep.all())  # then no row is copied out to be kept
        self.t0 = int(self.t.min()) if len(self.t) else 0
        key = self._key(self.codes, self.t) if every else self._key(self.codes[keep], self.t[keep])
        if len(key) and (key[1:] < key[:-1]).any():
            by_key = stable_order(key)
            self.order, self.key = np.flatnonzero(keep)[by_key], key[by_key]
            self._as_given = False
        else:  # rows given in (key, time) order (an account's activity table) are not sorted again
            self.order, self.key = np.flatnonzero(keep), key
            self._as_given = every  # the order is 0, 1, 2, ...: values are read in place
        self.cumsum = None if self.values is None else self.cumulative(self.values)

    def cumulative(self, values: np.ndarray) -> np.ndarray:
        """Cumulative sums of a value column (one value per row, as given) in the series' (key, time) order, after a 0.

        ``cum[stop] - cum[start]`` sums it over the ranges :meth:`range_sum` returns: one
        sort and one pair of binary searches serve every column summed over the same keys
        and times.

        Examples
        --------
        >>> s = KeyedSeries(np.array([0, 0, 0, 1]), np.array([0, 10, 20, 5]) * _US)
        >>> n, a, b = s.range_sum(np.array([0, 1]), np.array([20, 20]) * _US, -16 * _US, 0)
        >>> cum = s.cumulative(np.array([1, 1, 0, 1]))
        >>> n.tolist(), (cum[b] - cum[a]).tolist()
        ([2, 1], [1, 1])
        """
        values = np.asarray(values)
        values = values if self._as_given else values[self.order]
        cum = np.empty(len(values) + 1, np.cumsum(values[:0]).dtype)  # the dtype NumPy sums in (bool and int32: int64)
        cum[0] = 0
        np.cumsum(values, out=cum[1:])  # written in place: no second array of the rows' size
        return cum

    def _key(self, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
        sec = t - self.t0  # then in place: two arrays of the rows' size alive at once, not five
        sec //= _US
        sec += 1 << (_SHIFT - 1)
        np.clip(sec, 0, (1 << _SHIFT) - 1, out=sec)
        key = codes.astype(np.int64)  # a copy, shifted in place
        key <<= _SHIFT
        key |= sec
        return key

    def range_sum(self, codes: np.ndarray, t: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sum of values with the same key and time in ``(t + lo, t + hi]`` (µs offsets).

        Returns
        -------
        sums : ndarray, shape (q,)
        start, stop : ndarray of int, shape (q,)
            The matching rows are ``self.order[start:stop]`` (in key, time order).
        """
        a = np.searchsorted(self.key, self._key(codes, t + lo), side="right")
        b = np.searchsorted(self.key, self._key(codes, t + hi), side="right")
        return (b - a if self.cumsum is None else self.cumsum[b] - self.cumsum[a]), a, b

    def rows(self, start: np.ndarray, stop: np.ndarray) -> list[np.ndarray]:
        """Original row positions of each ``[start, stop)`` range from :meth:`range_sum`."""
        return [self.order[a:b] for a, b in zip(start, stop)]


class KeyedRanks:
    """Sums of value columns over rank ranges of one key: two binary searches a query.

    Rows are sorted by the composite ``key * (n + 1) + rank``; the sum over a key's
    rows with rank in ``[lo, hi)`` is a difference of two cumulative sums at the
    positions :meth:`prefix` finds.

    Parameters
    ----------
    key : ndarray of int64
        Key per row (>= 0).
    rank : ndarray of int64
        Position of the row in the time-sorted stream, ``0 <= rank <= n``.
    values : ndarray, shape (m,) or (m, k), or None
        Columns to sum; None when only :meth:`prefix` and :meth:`last` are needed.
    n : int
        Length of the stream.

    Examples
    --------
    >>> k = KeyedRanks(np.array([0, 1, 0, 0]), np.array([0, 1, 2, 3]), np.array([5, 7, 1, 2]), 4)
    >>> k.sums(np.array([0, 1, -1]), np.array([0, 0, 0]), np.array([3, 4, 4]))[:, 0].tolist()
    [6, 7, 0]
    """

    def __init__(self, key: np.ndarray, rank: np.ndarray, values: np.ndarray | None, n: int):
        self.n = n + 1
        comp = key * self.n + rank
        order = stable_order(comp)
        self.comp = comp[order]
        self.rank = rank[order]
        if values is None:
            self.cum = None
        else:
            v = values[order] if values.ndim == 2 else values[order][:, None]
            self.cum = np.vstack([np.zeros((1, v.shape[1]), v.dtype), np.cumsum(v, axis=0)])

    def prefix(self, key: np.ndarray, rank: np.ndarray, perm: np.ndarray | None = None) -> np.ndarray:
        """Per query, the number of rows before (key, rank); 0 for key -1.

        ``perm`` (optional) orders the queries by (key, rank): binary searches over
        sorted queries run several times faster (fewer cache misses).
        """
        ok = key >= 0
        pos = search(self.comp, np.where(ok, key, 0) * self.n + rank, perm=perm)
        return np.where(ok, pos, 0)

    def sums(self, key: np.ndarray, lo: np.ndarray, hi: np.ndarray, perm: np.ndarray | None = None) -> np.ndarray:
        """Per query, the sums over the key's rows with rank in ``[lo, hi)``; 0 for key -1."""
        return self.cum[self.prefix(key, hi, perm)] - self.cum[self.prefix(key, lo, perm)]

    def last(self, key: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """From ``b = prefix(key, q)``: whether the key has a row before q, and its rank."""
        if len(self.comp) == 0:
            return np.zeros(len(key), bool), np.zeros(len(key), np.int64)
        prev = np.maximum(b - 1, 0)
        has = (b > 0) & (key >= 0) & (self.comp[prev] // self.n == key)
        return has, self.rank[prev]


class TimeIndex:
    """Rows sorted by (group, t) for range queries "same group, time in an interval".

    Times are replaced by their rank among the distinct times so that (group, rank)
    fits one int64 key; ties keep the input order (stable sort).

    Examples
    --------
    >>> ix = TimeIndex(np.array([0, 0, 1, 0]), np.array([10, 20, 20, 30]))
    >>> lo, hi = ix.range(np.array([0]), np.array([10]), np.array([30]))
    >>> ix.order[lo[0]:hi[0]].tolist()
    [1, 3]
    """

    def __init__(self, group: np.ndarray, t: np.ndarray):
        t = np.asarray(t)
        in_order = len(t) > 1 and not (t[1:] < t[:-1]).any()
        if in_order:  # in time order (edge tables, prepared frames): ranks by runs
            new = np.empty(len(t), bool)
            new[0], new[1:] = True, t[1:] != t[:-1]
            self.times = t[new]
            rank = np.cumsum(new, dtype=np.int64)
            rank -= 1
            del new
        else:
            self.times = unique_sorted(t)
            rank = search(self.times, t)
        self.stride = np.int64(len(self.times) + 1)
        group = np.asarray(group)
        key = group.astype(np.int64) * self.stride
        key += rank
        # rows in time order (rank never falls): the (group, rank) order is the rows' stable order by group
        self.order = stable_order(group) if in_order and group.dtype.kind in "iu" else stable_order(key)
        del rank
        self.key = key[self.order]

    def range(self, group, after, until, *, inclusive_after: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``[lo, hi)`` in :attr:`order` of the rows of ``group`` with
        ``after < t <= until`` (``after <= t`` when ``inclusive_after``).

        Many queries are sorted twice, not once per search: by ``after`` for the two searches
        among the times, then by group for the two among the keys (an order serves every
        search; it only makes them faster; integer groups are ordered by :func:`stable_order`)."""
        base = np.asarray(group, np.int64) * self.stride
        after, until = np.asarray(after), np.asarray(until)
        many = after.ndim > 0 and len(after) >= _SORT_QUERIES_FROM
        perm = np.argsort(after) if many else None
        lo = search(self.times, after, "left" if inclusive_after else "right", perm)
        lo -= 1
        lo += base
        hi = search(self.times, until, "right", perm)
        hi -= 1
        hi += base
        if many:  # by group: each group's keys are a short run, so searches in group order walk memory in order too
            g = np.asarray(group)
            perm = stable_order(g) if g.shape == lo.shape and g.dtype.kind in "iu" else np.argsort(lo)
        else:
            perm = None
        lo = search(self.key, lo, "right", perm)
        hi = search(self.key, hi, "right", perm)
        return lo, np.maximum(hi, lo)


def group_rolling_sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum of the last ``n`` values (this row included) within each key; rows sorted by key.

    Examples
    --------
    >>> group_rolling_sum(np.array([0, 0, 0, 0, 1, 1]), np.array([1, 0, 1, 1, 1, 1]), 3).tolist()
    [1, 1, 2, 2, 1, 2]
    """
    if len(codes) == 0:
        return np.zeros(0, np.int64)
    cs = np.r_[0, np.cumsum(values)]
    idx = np.arange(len(codes))
    start = np.r_[0, np.flatnonzero(codes[1:] != codes[:-1]) + 1]
    group_start = start[np.searchsorted(start, idx, side="right") - 1]
    lo = np.maximum(idx - n + 1, group_start)
    return cs[idx + 1] - cs[lo]


# ------------------------------------------------------------------- distinct counts
def merge_coverage(
    key: np.ndarray, member: np.ndarray, pos: np.ndarray, start: np.ndarray, end: np.ndarray, *, pos_bound: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage intervals of events, cut so that each (key, member) counts once.

    Event ``i`` (``key[i]``, ``member[i]``, at ``pos[i]``) covers ``[start[i], end[i])``;
    both must grow with ``pos`` within a (key, member). Sorted by (key, member, pos),
    an event's interval starts no earlier than where the member's previous event of the
    same key stops covering; empty intervals are dropped.

    Parameters
    ----------
    key, member, pos, start, end : ndarray of int64, shape (n,)
    pos_bound : int, optional
        ``pos < pos_bound``: sort one packed int64 instead of three columns when it fits.

    Returns
    -------
    key, start, end : ndarray of int64
        The kept intervals, in (key, member, pos) order.

    Examples
    --------
    >>> k, s, e = merge_coverage(np.zeros(3, int), np.array([7, 7, 8]), np.array([0, 2, 3]),
    ...                          np.array([0, 2, 3]), np.array([5, 7, 8]))
    >>> s.tolist(), e.tolist()
    ([0, 5, 3], [5, 7, 8])
    """
    order = None
    if len(key) and int(key.min()) >= 0 and int(member.min()) >= 0 and (int(key.max()) + 1) * (int(member.max()) + 1) < 2**62:
        pair = key * (int(member.max()) + 1) + member
        if pos_bound is not None and (int(pair.max()) + 1) * pos_bound < 2**62:
            order = stable_order(pair * pos_bound + pos)
        else:  # two stable sorts of one key each, not a three-key lexsort (millions of rows, many accounts)
            by_pos = stable_order(pos)
            order = by_pos[stable_order(pair[by_pos])]
    if order is None:
        order = np.lexsort((pos, member, key))
    k, m, s, e = key[order], member[order], start[order], end[order]
    same = np.r_[False, (k[1:] == k[:-1]) & (m[1:] == m[:-1])]
    s = np.where(same, np.maximum(s, np.r_[np.int64(0), e[:-1]]), s)
    keep = s < e
    return k[keep], s[keep], e[keep]


class Coverage:
    """How many intervals of a key cover a position: the distinct count at that position.

    Built from the output of :func:`merge_coverage`. Queries are two binary searches over
    sorted packed (key, position) values: the count is the key's starts at or before the
    position less its ends at or before it. With ``size`` every position is ``< size``;
    without it (positions are times) keys and times are packed over their own ranges, or
    keys and the ranks of the times; where neither fits an int64, events and queries are
    merged in one sort.

    Examples
    --------
    >>> c = Coverage(np.array([0, 0, 1]), np.array([0, 5, 0]), np.array([5, 7, 9]), size=10)
    >>> c.count(np.array([0, 0, 0, 1, -1]), np.array([4, 5, 7, 3, 3])).tolist()
    [1, 1, 0, 1, 0]
    >>> Coverage(np.array([0, 0, 1]), np.array([0, 5, 0]), np.array([5, 7, 9])).count(np.array([0, 0, 1]), np.array([4, 7, 8])).tolist()
    [1, 0, 1]
    """

    def __init__(self, key: np.ndarray, start: np.ndarray, end: np.ndarray, *, size: int | None = None):
        self.size, self.span = size, None
        if size is not None:
            self.starts = np.sort(key * size + start)
            self.ends = np.sort(key * size + end)
            return
        self.key, self.start, self.end = key, start, end
        if len(key):
            # (key, time) packed in an int64: times offset from just before the earliest, else by their rank
            self.k0, self.t0, self.times = int(key.min()), min(int(start.min()), int(end.min())) - 1, None
            self.n_keys, span = int(key.max()) - self.k0 + 1, max(int(start.max()), int(end.max())) - self.t0 + 1
            rank = None
            if self.n_keys * span >= 2**62:
                # the times' ranks from one hash of the bounds (pandas' factorize, its few distinct values sorted),
                # not a sort of every bound and a binary search of each: a bound's place on the axis is its rank + 1
                rank, times = pd.factorize(np.concatenate([start, end]), sort=True)
                self.times = np.asarray(times, np.int64)
                span = len(self.times) + 1
            if self.n_keys * span < 2**62:
                self.span = span
                n = len(start)
                self.starts = np.sort((key - self.k0) * span + (self._axis(start, True) if rank is None else rank[:n] + 1))
                self.ends = np.sort((key - self.k0) * span + (self._axis(end, True) if rank is None else rank[n:] + 1))

    def _axis(self, t: np.ndarray, bound: bool) -> np.ndarray:
        """Times on the packed axis, where a bound (an interval's start or end) is at or before a
        query's time exactly when its value is at most the query's."""
        if self.times is None:  # a query outside the times is clipped to them: its count is 0 either way
            return np.clip(t, self.t0, self.t0 + self.span - 1) - self.t0
        return np.searchsorted(self.times, t, "left") + 1 if bound else np.searchsorted(self.times, t, "right")

    def count(self, q_key: np.ndarray, q_pos: np.ndarray, perm: np.ndarray | None = None) -> np.ndarray:
        """Per query, the number of the key's intervals with ``start <= pos < end``.

        With ``size``, a key of -1 counts 0; ``perm`` (optional) orders the queries.
        """
        if self.size is not None:
            ok = q_key >= 0
            qk = np.where(ok, q_key, 0) * self.size + q_pos
            cnt = search(self.starts, qk, "right", perm) - search(self.ends, qk, "right", perm)
            return np.where(ok, cnt, 0)
        if self.span is not None:
            q_key, q_pos = np.asarray(q_key, np.int64), np.asarray(q_pos, np.int64)
            ok = (q_key >= self.k0) & (q_key < self.k0 + self.n_keys)
            qk = (np.clip(q_key, self.k0, self.k0 + self.n_keys - 1) - self.k0) * self.span + self._axis(q_pos, False)
            cnt = search(self.starts, qk, "right", perm) - search(self.ends, qk, "right", perm)
            return np.where(ok, cnt, 0)
        k, a, b = self.key, self.start, self.end
        nq = len(q_key)
        all_key = np.r_[k, k, np.asarray(q_key, np.int64)]
        all_time = np.r_[b, a, np.asarray(q_pos, np.int64)]
        kind = np.r_[np.zeros(len(b), np.int8), np.ones(len(a), np.int8), np.full(nq, 2, np.int8)]  # ends, starts, queries
        delta = np.r_[-np.ones(len(b), np.int64), np.ones(len(a), np.int64), np.zeros(nq, np.int64)]
        order = _event_order(all_key, all_time, kind, 3)
        level = np.cumsum(delta[order])
        out = np.empty(nq, np.int64)
        is_q = kind[order] == 2
        out[order[is_q] - 2 * len(a)] = level[is_q]
        return out


def distinct_in_window(key, member, rank, end_of, n, queries, *, inclusive: bool = False) -> list[np.ndarray]:
    """Distinct ``member`` values per key among events in each query's trailing window (ranks).

    An event (key, member, rank r) is in the window of query rank q when
    ``lo[q] <= r < q`` (``<= q`` if ``inclusive``); ``end_of[r]`` is the first q whose
    window no longer reaches r (:func:`window_end`). An event covers the query ranks
    ``[r + 1, end_of[r])`` (from ``r`` if ``inclusive``), cut by :func:`merge_coverage`.

    Parameters
    ----------
    key, member, rank : ndarray of int64
        Events; ``0 <= rank < n``.
    end_of : ndarray of int64, shape (n + 1,)
    n : int
        Length of the stream.
    queries : list of (qkey, qrank, perm)
        One count array is returned per query set (the events are sorted once).

    Examples
    --------
    >>> t = np.arange(5)
    >>> end_of = window_end(window_start(t, 3), np.arange(6))
    >>> distinct_in_window(np.zeros(4, int), np.array([1, 2, 1, 3]), np.arange(4), end_of, 5,
    ...                    [(np.zeros(5, int), np.arange(5), None)])[0].tolist()
    [0, 1, 2, 2, 2]
    """
    if len(key) == 0:
        return [np.zeros(len(q[0]), np.int64) for q in queries]
    start = rank if inclusive else rank + 1
    k, s, e = merge_coverage(key, member, rank, start, end_of[rank], pos_bound=n + 1)
    cov = Coverage(k, s, e, size=n + 2)
    return [cov.count(qkey, qrank, perm) for qkey, qrank, perm in queries]


def distinct_forward(key, member, t, q_key, q_start, window_us: int, *, strict_after: bool) -> np.ndarray:
    """Distinct ``member`` values among rows of ``q_key`` with ``t`` in ``[s, s + W]``
    (``(s, s + W]`` when ``strict_after``), for each query (``q_key``, ``s``); times in µs.

    A row at time ``t`` counts for window starts ``s`` in ``[t - W, t]``; the coverage of
    repeated (key, member) rows is merged (:func:`merge_coverage`) so the member counts
    once, and :class:`Coverage` reads the count at each query. O(n log n).

    Examples
    --------
    >>> distinct_forward(np.zeros(3, int), np.array([1, 1, 2]), np.array([0, 5, 9]),
    ...                  np.array([0, 0]), np.array([0, 6]), 5, strict_after=False).tolist()
    [1, 1]
    """
    key = np.asarray(key, np.int64)
    k, a, b = merge_coverage(key, np.asarray(member), t, t - window_us, t + (0 if strict_after else 1))
    return Coverage(k, a, b).count(np.asarray(q_key, np.int64), np.asarray(q_start, np.int64))


# ------------------------------------------------------------------ runs and episodes
def runs(codes: np.ndarray, t: np.ndarray, gap_us: int) -> np.ndarray:
    """Episode number per row: rows of one key closer than ``gap_us`` in time share one.

    Rows may come in any order (e.g. time order across keys); episode numbers are 0, 1,
    2, ... in (code, t) order.

    Examples
    --------
    >>> runs(np.array([0, 0, 0, 1]), np.array([0, 5, 50, 6]), 10).tolist()
    [0, 0, 1, 2]
    >>> runs(np.array([0, 1, 0, 1]), np.array([0, 1, 2, 3]), 10).tolist()  # two keys interleaved in time
    [0, 1, 0, 1]
    """
    if len(codes) == 0:
        return np.zeros(0, np.int64)
    if (t[1:] >= t[:-1]).all():  # rows in time order (a frame's): one stable sort by key
        order = stable_order(codes)
    else:
        order = np.lexsort((t, codes))
    c, tt = codes[order], t[order]  # rows of one (code, t) in any order give the same episodes
    new = np.r_[True, (c[1:] != c[:-1]) | (tt[1:] - tt[:-1] >= gap_us)]
    ep = np.empty(len(order), np.int64)
    ep[order] = np.cumsum(new) - 1
    return ep


_EPISODE_COLUMNS = ["subject", "start", "end", "peak", "typical", "baseline_count", "evidence_txn_ids", "evidence_rows", "evidence_t", "episode_start", "episode_end"]


def episodes(
    frame: pd.DataFrame,
    *,
    subject: str,
    window_us: int,
    min_count: int,
    member: str | None = None,
    baseline_us: int | None = None,
    data_start: int | None = None,
) -> pd.DataFrame:
    """Find the episodes where a subject's windowed count reaches ``min_count``.

    An *episode* of a subject is a maximal stretch of time during which the number of
    its transactions (or of its distinct counterparties) in the trailing window of
    length ``W`` is at least ``k``: the building block of fan-in, fan-out and
    structuring rules. Each transaction at time ``t`` covers the window ends
    ``[t, t + W)`` (for distinct counting, cut by :func:`merge_coverage`); coverage
    intervals become +1/−1 events, a cumulative sum per subject gives the windowed count
    at every event, and up/down crossings of ``k`` delimit the episodes. One sort of
    ``2n`` events, O(n log n).

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
    data_start : int, optional
        When the data start (µs), for the baseline's "peak near the start" test; default
        the earliest time in ``frame`` (rows with a subject and member). An engine that
        passes a part of the data gives the whole data's value.

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
    coded = [c for c in (subject, member) if c in CODE_COLUMNS and CODE_COLUMNS[c] in frame.columns]  # accounts hashed once per run
    cols = ["t", "txn_id", subject] + ([member] if member else []) + [CODE_COLUMNS[c] for c in coded]
    f = frame[cols].dropna(subset=[subject] + ([member] if member else []))
    if f.empty:
        return pd.DataFrame(columns=_EPISODE_COLUMNS)
    subj_codes, subj_uniques = account_codes((f, subject)) if subject in coded else pd.factorize(f[subject], sort=True)
    t = f["t"].to_numpy(np.int64)
    rank = np.empty(len(t), np.int64)
    rank[stable_order(t)] = np.arange(len(t))  # time order as small integers: one packed sort
    if member:
        mem_codes = account_codes((f, member), names=False)[0] if member in coded else pd.factorize(f[member])[0]
        ev_subj, starts, ends = merge_coverage(subj_codes, mem_codes, rank, t, t + window_us, pos_bound=len(t))
    else:
        ev_subj, starts, ends = subj_codes, t, t + window_us
    subj_ev = np.r_[ev_subj, ev_subj]
    time_ev = np.r_[starts, ends]
    delta = np.r_[np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)]
    order = _event_order(subj_ev, time_ev, delta > 0)  # -1 before +1 at equal times
    subj_ev, time_ev, delta = subj_ev[order], time_ev[order], delta[order]
    level = np.cumsum(delta)  # per subject: levels return to 0 at each subject's end
    ups = (delta == 1) & (level == min_count)
    downs = (delta == -1) & (level == min_count - 1)
    if not ups.any():
        return pd.DataFrame(columns=_EPISODE_COLUMNS)
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
    out = ep.join(_lists_by_episode(_peak_windows(ep, subj_codes, t, rank, f, window_us)), on="episode")
    if baseline_us is None:
        out["typical"], out["baseline_count"] = np.nan, 0
    else:
        out["typical"], out["baseline_count"] = _baseline(
            out, subj_ev, time_ev, delta, level, window_us, baseline_us, int(t.min()) if data_start is None else int(data_start)
        )
    out["subject"] = subj_uniques[out["subj"].to_numpy()]
    out["episode_start"] = out["s"]
    out["episode_end"] = out["e"] - 1  # coverage ends at e, exclusive
    return out[_EPISODE_COLUMNS].reset_index(drop=True)


def _lists_by_episode(ev: pd.DataFrame) -> pd.DataFrame:
    """Per episode of ``ev`` (sorted by episode, then time): its evidence lists, first and last time.

    The lists are cut from the sorted columns at the episode boundaries (NumPy), not
    built by a Python aggregation per group; elements are Python scalars.
    """
    episode = ev["episode"].to_numpy()
    cuts = np.flatnonzero(episode[1:] != episode[:-1]) + 1
    first, last = np.r_[0, cuts], np.r_[cuts, len(episode)] - 1
    t = ev["t"].to_numpy(np.int64)

    def lists(values: np.ndarray) -> list[list]:
        return [part.tolist() for part in np.split(values, cuts)]

    return pd.DataFrame(
        {"evidence_txn_ids": lists(ev["txn_id"].to_numpy(object)), "evidence_rows": lists(ev["row"].to_numpy()),
         "evidence_t": lists(t), "start": t[first], "end": t[last]},
        index=pd.Index(episode[first], name="episode"),
    )  # fmt: skip


def _event_order(key: np.ndarray, time: np.ndarray, kind: np.ndarray, kinds: int = 2) -> np.ndarray:
    """An order by (key, time, kind), ``0 <= kind < kinds``, for events whose equal (key, time, kind) are alike:
    one sort of a packed key (times as ranks) where it fits in int64, rather than a three-key lexsort (a third
    of the time on millions of events)."""
    if len(time) and int(key.min()) >= 0:
        by_time = np.argsort(time)
        rank_sorted = np.cumsum(np.r_[False, time[by_time][1:] != time[by_time][:-1]])  # dense time ranks
        rank = np.empty(len(time), np.int64)
        rank[by_time] = rank_sorted
        n_times = int(rank_sorted[-1]) + 1
        if (int(key.max()) + 1) * n_times * kinds < 2**62:
            return np.argsort((key * n_times + rank) * kinds + kind)
    return np.lexsort((kind, time, key))


def _peak_windows(ep, subj_codes, t, rank, f, window_us) -> pd.DataFrame:
    """The rows of each episode's peak window ``(t_peak - W, t_peak]`` of its subject, in (episode, t, txn_id)
    order: columns ``episode``, ``t``, ``txn_id``, ``row`` (index label in ``f``)."""
    n = len(t)
    keys = subj_codes * n + rank
    by_subject = np.argsort(keys)  # (subject, time) order; the keys are distinct
    keys = keys[by_subject]
    ut = np.sort(t)
    subj = ep["subj"].to_numpy(np.int64) * n
    peak = ep["t_peak"].to_numpy(np.int64)
    # a rank is a position in time order: the window's first and last rank come from the sorted times
    lo = np.searchsorted(keys, subj + np.searchsorted(ut, peak - window_us, "right"))
    hi = np.searchsorted(keys, subj + np.searchsorted(ut, peak, "right"))
    owner, pos = expand(lo, hi)
    rows = by_subject[pos]
    episode, times = ep["episode"].to_numpy()[owner], t[rows]
    ids = f["txn_id"].iloc[rows].to_numpy()  # the evidence rows only, not every id as a Python string
    tie = np.r_[False, (episode[1:] == episode[:-1]) & (times[1:] == times[:-1])]
    if tie.any():  # rows of one time: by txn id (the frame's own order puts the source position first)
        tie |= np.r_[tie[1:], False]
        rank_id = np.zeros(len(rows), np.int64)
        rank_id[tie] = pd.factorize(pd.Series(ids[tie]).astype(str), sort=True)[0]
        order = np.lexsort((rank_id, times, episode))
        episode, times, rows, ids = episode[order], times[order], rows[order], ids[order]
    return pd.DataFrame({"episode": episode, "t": times, "txn_id": ids, "row": f.index.to_numpy()[rows]})


#: Most levels gathered at once for the baseline medians (bounds memory on busy subjects).
_MEDIAN_BATCH = 4_000_000


def _baseline(ep, subj_ev, time_ev, delta, level, window_us, baseline_us, t0):
    """Median windowed count at the subject's arrivals before (else after) each peak; see ``episodes``."""
    rises = delta == 1
    subj_r, time_r, level_r = subj_ev[rises], time_ev[rises], level[rises]
    # (subject, time) as one sorted key: a subject's arrivals in a time range by one binary search
    ut = unique_sorted(time_r)
    keys = subj_r * len(ut) + np.searchsorted(ut, time_r)
    c = ep["subj"].to_numpy(np.int64) * len(ut)
    p = ep["t_peak"].to_numpy(np.int64)

    def find(x, side):  # the subject's first arrival at or after x ("left"), after x ("right")
        return np.searchsorted(keys, c + np.searchsorted(ut, x, side))

    b_lo, b_hi = find(p - window_us - baseline_us, "left"), find(p - window_us, "left")
    a_lo, a_hi = find(p + window_us, "right"), find(p + window_us + baseline_us, "right")
    covered = p - window_us - baseline_us // 2 >= t0
    before = covered | (b_hi - b_lo >= a_hi - a_lo)
    lo, hi = np.where(before, b_lo, a_lo), np.where(before, b_hi, a_hi)
    used = hi - lo
    typical = np.zeros(len(ep))
    top = int(level_r.max()) + 1
    ends = np.cumsum(used)
    start = 0
    while start < len(ep):  # batches of episodes of at most _MEDIAN_BATCH levels (or one episode)
        stop = max(int(np.searchsorted(ends, ends[start] - used[start] + _MEDIAN_BATCH, "right")), start + 1)
        owner, pos = expand(lo[start:stop], hi[start:stop])
        vals = np.sort(owner * top + level_r[pos]) % top  # each episode's levels, sorted
        n = used[start:stop]
        first = np.cumsum(n) - n
        some = np.flatnonzero(n > 0)
        typical[start + some] = (vals[first[some] + (n[some] - 1) // 2] + vals[first[some] + n[some] // 2]) / 2
        start = stop
    return typical, used
