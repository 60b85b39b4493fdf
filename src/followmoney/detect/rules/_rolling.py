"""Keyed time-range sums and runs, vectorised with sorting and binary search.

Rules often ask, for every transaction of a subject, "how much did the same subject
receive / send in the window around this time?". Packing (subject code, time in
seconds) into one sortable int64 key turns each such question into two
``numpy.searchsorted`` calls over a cumulative sum: O((n + q) log n) for q questions,
no per-subject Python loop, no self-join.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from followmoney.core.units import MONEY_SCALE

__all__ = ["KeyedSeries", "runs", "codes_for", "group_rolling_sum", "make_findings", "margin_score", "threshold_cents"]


_SHIFT = 34  # 2**34 seconds ≈ 544 years of time range per key
_US = 1_000_000


def codes_for(*columns: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes for the (possibly composite) key given by ``columns``; -1 for nulls."""
    if len(columns) == 1:
        codes, uniques = pd.factorize(columns[0], sort=True)
        return codes.astype(np.int64), pd.Index(uniques)
    frame = pd.concat(list(columns), axis=1)
    mi = pd.MultiIndex.from_frame(frame)
    codes, uniques = pd.factorize(mi, sort=True)
    codes = np.where(frame.isna().any(axis=1).to_numpy(), -1, codes)
    return codes.astype(np.int64), pd.Index(uniques)


@dataclass
class KeyedSeries:
    """Values at times, per key, ready for range sums.

    Parameters
    ----------
    codes : ndarray of int64, shape (n,)
        Key code per row (from :func:`codes_for`); rows with code -1 are ignored.
    t : ndarray of int64, shape (n,)
        Time in µs since the epoch (UTC).
    values : ndarray of int64 or float, shape (n,)
        What to sum (e.g. amounts in cents, or 1 to count).

    Examples
    --------
    >>> s = KeyedSeries(np.array([0, 0, 0, 1]), np.array([0, 10, 20, 5]) * _US, np.array([1, 2, 4, 8]))
    >>> s.range_sum(np.array([0, 1]), np.array([20, 20]) * _US, -16 * _US, 0)[0].tolist()
    [6, 8]
    """

    codes: np.ndarray
    t: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        keep = self.codes >= 0
        self.t0 = int(self.t.min()) if len(self.t) else 0
        key = self._key(self.codes[keep], self.t[keep])
        self.order = np.flatnonzero(keep)[np.argsort(key, kind="stable")]
        self.key = np.sort(key, kind="stable")
        self.cumsum = np.r_[0, np.cumsum(np.asarray(self.values)[self.order])]

    def _key(self, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
        sec = np.clip((t - self.t0) // _US + (1 << (_SHIFT - 1)), 0, (1 << _SHIFT) - 1)
        return (codes.astype(np.int64) << _SHIFT) | sec

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
        return self.cumsum[b] - self.cumsum[a], a, b

    def rows(self, start: np.ndarray, stop: np.ndarray) -> list[np.ndarray]:
        """Original row positions of each ``[start, stop)`` range from :meth:`range_sum`."""
        return [self.order[a:b] for a, b in zip(start, stop)]


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
    order = np.lexsort((t, codes))  # stable: already sorted rows keep their order
    c, tt = codes[order], t[order]
    new = np.r_[True, (c[1:] != c[:-1]) | (tt[1:] - tt[:-1] >= gap_us)]
    ep = np.empty(len(order), np.int64)
    ep[order] = np.cumsum(new) - 1
    return ep


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


def make_findings(
    frame: pd.DataFrame,
    subjects: list,
    evidence_rows: list,
    scores: list,
    facts: list[dict],
    *,
    roles: list | None = None,
    related: list | None = None,
    subject_kind: str = "account",
) -> pd.DataFrame:
    """Assemble a rule's findings from evidence row positions into ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The prepared transaction frame (sorted by t, txn_id).
    subjects : list of str
    evidence_rows : list of array-like of int
        Positional row numbers into ``frame`` per finding.
    scores : list of float
        0..1 per finding.
    facts : list of dict
        Values for the rule's explanation.
    roles, related : list, optional
        The subject's likely role (``controller``, ``potential_victim``) and the ids
        of linked subjects, per finding.

    Returns
    -------
    pandas.DataFrame
        The columns :func:`followmoney.score` expects of a rule.
    """
    cols = ["subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids", "score", "facts", "role", "related_subjects"]
    if not subjects:
        return pd.DataFrame(columns=cols)
    t = frame["t"].to_numpy()
    ids = frame["txn_id"].to_numpy()
    out = []
    for i, (subj, rows) in enumerate(zip(subjects, evidence_rows)):
        rows = np.unique(np.asarray(rows, dtype=np.int64))  # frame order = (t, txn_id) order
        out.append(
            {
                "subject_kind": subject_kind,
                "subject_id": subj,
                "window_start": int(t[rows].min()),
                "window_end": int(t[rows].max()),
                "evidence_txn_ids": ids[rows].tolist(),
                "score": float(scores[i]),
                "facts": facts[i],
                "role": roles[i] if roles else None,
                "related_subjects": list(related[i]) if related else [],
            }
        )
    return pd.DataFrame(out, columns=cols)


def threshold_cents(jurisdiction, fraction: float = 1.0) -> int:
    """``fraction`` × the jurisdiction's cash reporting threshold, in integer thousandths, exactly.

    Thousandths of the jurisdiction's currency (:data:`followmoney.core.units.MONEY_SCALE`),
    the unit of the frame's ``amount_cents``: exact for three-decimal currencies (KWD).

    Examples
    --------
    >>> from followmoney.core.config import jurisdictions
    >>> threshold_cents(jurisdictions()["US"], 0.8)
    8000000
    """
    return int((Decimal(str(jurisdiction.cash_threshold)) * MONEY_SCALE * Decimal(str(fraction))).to_integral_value())


def margin_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold, rising linearly to 1.0 at twice the threshold (indicators.md 8.3).

    Examples
    --------
    >>> margin_score(np.array([3, 4.5, 9]), 3).tolist()
    [0.5, 0.75, 1.0]
    """
    obs = np.asarray(observed, dtype=float)
    margin = (obs - threshold) / threshold if threshold else np.ones_like(obs)
    return np.clip(0.5 + 0.5 * margin, 0.5, 1.0)
