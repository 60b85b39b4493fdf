"""Transactions prepared for tracing: sorted, integer-coded, with per-currency running balances."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema, timing
from followmoney.core.bundle import Bundle
from followmoney.exceptions import TraceError
from followmoney.trace._common import _minor, _parse_us

__all__ = ["TraceIndex"]


def _transactions(data) -> pa.Table:
    if isinstance(data, Bundle):
        return data.transactions
    if isinstance(data, pa.Table):
        return schema.conform(data, "transactions") if data.schema != schema.SCHEMAS["transactions"] else data
    if isinstance(data, pd.DataFrame):
        return schema.conform(pa.Table.from_pandas(data, preserve_index=False), "transactions")
    raise TraceError("data must be a Bundle, a transactions pyarrow.Table, a pandas.DataFrame or a TraceIndex")


class TraceIndex:
    """Transactions prepared for tracing: sorted, integer-coded, with per-currency ledgers.

    Building the index is the ``O(n log n)`` part of a trace; build it once with
    ``TraceIndex(bundle)`` and pass it to several :func:`forward` / :func:`backward`
    calls to pay it once. Per-currency precomputations (running balances, cumulative
    receipts and payments, minimal opening balances) are cached on first use.

    Parameters
    ----------
    data : Bundle, pyarrow.Table or pandas.DataFrame
        Canonical ``transactions`` (reads ``txn_id, timestamp, amount, currency,
        from_account, to_account, source_ref, channel``).

    Attributes
    ----------
    n : int
        Transactions kept (valid timestamp, positive amount, currency, not a self-transfer).
    dropped : dict of str to int
        Transactions left out, by reason.
    currencies : list of str
        ISO 4217 codes present, sorted.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from decimal import Decimal
    >>> tx = schema.conform({"txn_id": ["a", "b"], "source": ["x", "x"], "source_ref": ["f:2", "f:3"],
    ...     "timestamp": pa.array([1, 2], pa.timestamp("us", tz="UTC")),
    ...     "amount": [Decimal("5.00"), Decimal("-1.00")], "currency": ["EUR", "EUR"],
    ...     "from_account": ["A", "B"], "to_account": ["B", "C"]}, "transactions")
    >>> ix = TraceIndex(tx)
    >>> ix.n, ix.dropped
    (1, {'no_timestamp_or_positive_amount': 1, 'self_transfer': 0})
    """

    def __init__(self, data) -> None:
        tx = _transactions(data)
        cents = schema.to_cents(tx["amount"])
        ok = pc.and_(pc.is_valid(tx["timestamp"]), pc.is_valid(tx["currency"]))
        ok = pc.and_(ok, pc.fill_null(pc.greater(cents, 0), False))
        self_tr = pc.fill_null(pc.equal(tx["from_account"], tx["to_account"]), False)
        keep = pc.and_(ok, pc.invert(self_tr))
        self.dropped = {
            "no_timestamp_or_positive_amount": int(tx.num_rows - pc.sum(ok).as_py()) if tx.num_rows else 0,
            "self_transfer": int(pc.sum(pc.and_(ok, self_tr)).as_py() or 0) if tx.num_rows else 0,
        }
        cols = ["txn_id", "timestamp", "currency", "from_account", "to_account", "source_ref", "channel"]
        t = tx.select(cols).append_column("cents", cents)
        # rows of one timestamp keep the source's order (statement position), never a hash order
        seq = tx["source_seq"] if "source_seq" in tx.column_names else timing.source_sequence(tx["source_ref"])
        t = t.append_column("seq", pc.fill_null(seq, 0) if tx.num_rows else pa.array([], pa.int64()))
        filtered = pc.sum(keep).as_py() != tx.num_rows
        if filtered:
            t = t.filter(keep)
        t = t.combine_chunks()
        self._rows = t  # kept in input order; ``order`` maps global position -> row
        # a date-only row counts from the start of the date its source wrote, whatever the source
        ts = timing.comparable_time(tx.filter(keep) if filtered else tx)
        order = np.asarray(
            pc.sort_indices(
                pa.table({"t": ts, "seq": t["seq"], "id": t["txn_id"]}),
                sort_keys=[("t", "ascending"), ("seq", "ascending"), ("id", "ascending")],
            ),
            dtype=np.int64,
        )
        self.order = order
        self.n = t.num_rows
        self.t = ts[order]
        self.cents = t["cents"].to_numpy()[order]
        names = pc.unique(pa.concat_arrays([t["from_account"].combine_chunks(), t["to_account"].combine_chunks()]))
        names = pc.drop_null(names)
        self.accounts = names.take(pc.sort_indices(names)) if len(names) else pa.array([], pa.string())
        self.frm = self._codes(t["from_account"])[order]
        self.to = self._codes(t["to_account"])[order]
        curs = pc.unique(t["currency"]).to_pylist()
        self.currencies = sorted(curs)
        self.cur = np.asarray(
            pc.index_in(t["currency"], value_set=pa.array(self.currencies, pa.string())).to_numpy(zero_copy_only=False),
            dtype=np.int32,
        )[order]
        self._inverse = None
        self._scopes: dict = {}

    def _codes(self, col) -> np.ndarray:
        idx = pc.index_in(col, value_set=self.accounts)
        return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)

    def account_code(self, account: str) -> int:
        """Integer code of ``account`` (its rank in sorted order), or -1 if it is in no kept transaction."""
        i = pc.index_in(pa.array([account], pa.string()), value_set=self.accounts)[0].as_py()
        return -1 if i is None else int(i)

    def account_name(self, code: int) -> str | None:
        """The account id of an integer code (None for -1: no account)."""
        return None if code < 0 else self.accounts[int(code)].as_py()

    def names(self, codes: np.ndarray) -> pa.Array:
        """Account ids of an array of codes, as a string array (null for -1)."""
        codes = np.asarray(codes, dtype=np.int64)
        return pc.take(self.accounts, pa.array(codes, mask=codes < 0))

    def position(self, txn_ids) -> np.ndarray:
        """Global positions, in (timestamp, txn_id) order, of ``txn_ids`` (-1 for ids not kept)."""
        idx = pc.index_in(pa.array(list(txn_ids), pa.string()), value_set=self._rows["txn_id"])
        rows = np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        if self._inverse is None:
            self._inverse = np.empty(self.n, dtype=np.int64)
            self._inverse[self.order] = np.arange(self.n, dtype=np.int64)
        return np.where(rows >= 0, self._inverse[np.maximum(rows, 0)] if self.n else rows, -1)

    def rows(self, positions, columns=None) -> pa.Table:
        """The transactions at global ``positions`` (txn_id, timestamp, currency, accounts, source_ref, channel)."""
        t = self._rows if columns is None else self._rows.select(columns)
        return t.take(pa.array(self.order[np.asarray(positions, dtype=np.int64)], pa.int64()))

    def scope(self, currency: str, *, rates=None, opening: Mapping[int, int] | None = None) -> _Scope:
        """Running balances and links of the transactions in ``currency`` (cached without ``rates``).

        Parameters
        ----------
        currency : str
            ISO 4217 code.
        rates : table, optional
            Rate table (see :func:`forward`): convert every transaction into ``currency``.
        opening : mapping of int to int, optional
            Known opening balances in cents, by account code.

        Returns
        -------
        _Scope
            Internal; built in ``O(n log n)`` (one sort of the account events).
        """
        key = (currency, tuple(sorted((opening or {}).items())))
        if rates is None and key in self._scopes:
            return self._scopes[key]
        sc = _Scope(self, currency, rates, dict(opening or {}))
        if rates is None:
            self._scopes[key] = sc
        return sc


class _Scope:
    """The transactions of one currency (or all, converted), with per-account running sums.

    Local position ``i`` is the ``i``-th such transaction in global order. For each
    transaction: ``bal_from[i]`` the payer's balance just before paying (after any
    top-up), ``cout_from[i]`` the payer's cumulative payments before it, ``bal_to[i]``
    the payee's balance before receiving, ``cin_to[i]`` the payee's opening balance plus
    cumulative receipts (and top-ups) before it: the start of this receipt on the FIFO
    axis; ``next_from[i]`` / ``next_to[i]`` the next payment (local position, -1 if
    none) by the payer / the payee after ``i``. All vectorised: one sort of the
    (account, position) events and a few grouped cumulative sums.
    """

    def __init__(self, ix: TraceIndex, currency: str, rates, opening: dict[int, int]) -> None:
        self.ix = ix
        self.currency = currency
        self.rate = None
        if rates is None:
            code = ix.currencies.index(currency) if currency in ix.currencies else -2
            pos = np.flatnonzero(ix.cur == code)
            amt = ix.cents[pos]
        else:
            pos, amt, self.rate, self.rate_date = _convert(ix, rates, currency)
        self.pos = pos
        self.t = ix.t[pos]
        self.frm = ix.frm[pos]
        self.to = ix.to[pos]
        self.amt = amt
        n = self.n = len(pos)
        na = len(ix.accounts)
        stride = self.stride = max(n, 1)
        loc = np.arange(n, dtype=np.int64)
        o = self.frm >= 0
        i_ = self.to >= 0
        key = np.concatenate([self.frm[o] * stride + loc[o], self.to[i_] * stride + loc[i_]])
        d = np.concatenate([-amt[o], amt[i_]])
        order = np.argsort(key)  # keys are unique: any sort is deterministic
        key = key[order]
        d = d[order]
        del order
        m = len(key)
        acct = key // stride
        epos = key - acct * stride
        is_out = d < 0
        newg = np.empty(m, dtype=bool)
        if m:
            newg[0] = True
            newg[1:] = acct[1:] != acct[:-1]
        starts = np.flatnonzero(newg)
        gid = np.cumsum(newg) - 1
        cs = np.cumsum(d)
        s_net = cs - (cs - d)[starts][gid]  # net flow of the account up to and including the event
        eout = np.where(is_out, -d, 0)
        cs = np.cumsum(eout)
        cum_out = cs - (cs - eout)[starts][gid]
        del cs, eout
        self.opening = np.zeros(na, np.int64)
        if m:
            self.opening[acct[starts]] = np.maximum(0, -np.minimum.reduceat(s_net, starts))
        topup_cum = np.zeros(m, np.int64)
        self.known_opening = dict(opening)
        for a, value in opening.items():
            self.opening[a] = value
            g = int(np.searchsorted(key, a * stride))
            e = int(np.searchsorted(key, (a + 1) * stride))
            if e > g:
                x = value + s_net[g:e]
                topup_cum[g:e] = np.maximum(0, -np.minimum(np.minimum.accumulate(x), 0))
        bal_after = self.opening[acct] + s_net + topup_cum
        self.cout_after = cum_out
        self.cin_after = bal_after + cum_out
        bal_before = bal_after - d  # for a payment: after any top-up
        # next payment by the same account after each event
        idx = np.where(is_out, np.arange(m, dtype=np.int64), m)
        first_out = np.minimum.accumulate(idx[::-1])[::-1]
        nxt = np.empty(m, np.int64)
        nxt[:-1] = first_out[1:] if m else first_out[:0]
        if m:
            nxt[-1] = m
        ok = nxt < m
        ok[ok] = gid[nxt[ok]] == gid[ok]
        next_pos = np.where(ok, epos[np.minimum(nxt, max(m - 1, 0))], -1) if m else nxt
        del idx, first_out, nxt, ok
        self.bal_from = np.zeros(n, np.int64)
        self.cout_from = np.zeros(n, np.int64)
        self.topup = np.zeros(n, np.int64)
        self.next_from = np.full(n, -1, np.int64)
        self.bal_to = np.zeros(n, np.int64)
        self.cin_to = np.zeros(n, np.int64)
        self.next_to = np.full(n, -1, np.int64)
        p_out = epos[is_out]
        self.bal_from[p_out] = bal_before[is_out]
        self.cout_from[p_out] = cum_out[is_out] + d[is_out]
        self.next_from[p_out] = next_pos[is_out]
        if opening:
            prev = np.r_[0, topup_cum[:-1]] if m else topup_cum
            prev[starts] = 0
            self.topup[p_out] = (topup_cum - prev)[is_out]
        is_in = ~is_out
        p_in = epos[is_in]
        self.bal_to[p_in] = bal_before[is_in]
        self.cin_to[p_in] = self.cin_after[is_in] - d[is_in]
        self.next_to[p_in] = next_pos[is_in]
        self.ev_key = key
        self.ev_out = is_out
        self.ev_next = next_pos
        self.topped_up = np.flatnonzero(self.topup)
        self._fast = None

    def fast(self) -> dict:
        """The per-transaction arrays as :class:`array.array` (quick scalar access in the walk)."""
        if self._fast is None:
            names = ("amt", "frm", "to", "bal_from", "cout_from", "next_from", "bal_to", "cin_to", "next_to")
            self._fast = {k: array("q", np.ascontiguousarray(getattr(self, k), dtype=np.int64).tobytes()) for k in names}
        return self._fast

    def local(self, global_pos: int, side: str = "left") -> int:
        """First local position at or after a global position."""
        return int(np.searchsorted(self.pos, global_pos, side=side))

    def local_time(self, us: int, side: str = "left") -> int:
        return int(np.searchsorted(self.t, us, side=side))

    def state_before(self, acct: int, p: int) -> tuple[int, int]:
        """(opening + receipts, payments) of ``acct`` before local position ``p``."""
        k = int(np.searchsorted(self.ev_key, acct * self.stride + p)) - 1
        if k >= 0 and self.ev_key[k] // self.stride == acct:
            return int(self.cin_after[k]), int(self.cout_after[k])
        return int(self.opening[acct]), 0

    def balances_before(self, accts: np.ndarray, p: int) -> np.ndarray:
        """Balances of ``accts`` (int codes) before local position ``p``, vectorised."""
        keys = accts * self.stride + p
        k = np.searchsorted(self.ev_key, keys) - 1
        kk = np.maximum(k, 0)
        mine = (k >= 0) & (self.ev_key[kk] // self.stride == accts) if len(self.ev_key) else np.zeros(len(accts), bool)
        inside = self.cin_after[kk] - self.cout_after[kk] if len(self.ev_key) else np.zeros(len(accts), np.int64)
        return np.where(mine, inside, self.opening[accts]).astype(np.int64)

    def next_out(self, acct: int, p: int) -> int:
        """Local position of ``acct``'s first payment after local position ``p``; -1 if none."""
        k = int(np.searchsorted(self.ev_key, acct * self.stride + p, side="right"))
        if k < len(self.ev_key) and self.ev_key[k] < (acct + 1) * self.stride:
            return int(self.ev_key[k] % self.stride) if self.ev_out[k] else int(self.ev_next[k])
        return -1

    def receipts(self, acct: int, lo: int, hi: int) -> np.ndarray:
        """Local positions of ``acct``'s receipts with ``lo <= position <= hi``."""
        a = int(np.searchsorted(self.ev_key, acct * self.stride + lo))
        b = int(np.searchsorted(self.ev_key, acct * self.stride + hi, side="right"))
        sel = ~self.ev_out[a:b]
        return self.ev_key[a:b][sel] % self.stride


def _convert(ix: TraceIndex, rates, target: str):
    """Convert every transaction it can into ``target`` with the user's rate table.

    A transaction in currency ``c`` uses the rate ``c -> target`` with the latest
    ``date`` on or before its timestamp (or ``1 / rate`` of ``target -> c``, to 12
    significant digits, when only the inverse pair is given). Rounding: half to even,
    to the minor unit of ``target`` (the cent, the fils, the yen). Returns (global
    positions, thousandths, rate strings, rate dates).
    """
    if isinstance(rates, pa.Table):
        rates = rates.to_pandas()
    if isinstance(rates, Mapping):
        rates = pd.DataFrame(rates)
    if not isinstance(rates, pd.DataFrame):
        raise TraceError("rates must be a table with columns from_currency, to_currency, rate, date")
    need = {"from_currency", "to_currency", "rate", "date"}
    if not need <= set(rates.columns):
        raise TraceError(f"rates: missing column(s) {sorted(need - set(rates.columns))}")
    table: dict[str, list] = defaultdict(list)
    for row in rates.itertuples(index=False):
        try:
            r = Decimal(str(row.rate))
        except InvalidOperation:
            raise TraceError("rates: a rate is not a number") from None
        if not r.is_finite() or r <= 0:
            raise TraceError("rates: rates must be positive numbers")
        d = _parse_us(row.date, "rates.date")
        if row.to_currency == target and row.from_currency != target:
            table[row.from_currency].append((d, 0, r))
        elif row.from_currency == target and row.to_currency != target:
            inv = (Decimal(1) / r).normalize()
            inv = Decimal(f"{inv:.12g}")
            table[row.to_currency].append((d, 1, inv))  # direct pairs win over inverses on a date
    pos_all, cents_all, rate_all, date_all = [], [], [], []
    same = np.flatnonzero(ix.cur == (ix.currencies.index(target) if target in ix.currencies else -2))
    pos_all.append(same)
    cents_all.append(ix.cents[same])
    rate_all.append(np.full(len(same), None, dtype=object))
    date_all.append(np.full(len(same), -1, dtype=np.int64))
    for cur, entries in table.items():
        if cur not in ix.currencies:
            continue
        entries.sort(key=lambda e: (e[0], e[1]))
        dedup: dict[int, Decimal] = {}
        for d, _, r in entries:
            dedup.setdefault(d, r)
        dates = np.array(sorted(dedup), dtype=np.int64)
        vals = [dedup[d] for d in sorted(dedup)]
        p = np.flatnonzero(ix.cur == ix.currencies.index(cur))
        k = np.searchsorted(dates, ix.t[p], side="right") - 1
        ok = k >= 0
        p, k = p[ok], k[ok]
        out = np.empty(len(p), np.int64)
        ratios = [v.as_integer_ratio() for v in vals]
        unit = _minor(target)
        for j, (c, kk) in enumerate(zip(ix.cents[p].tolist(), k.tolist())):
            num, den = ratios[kk]
            q, r = divmod(c * num, den * unit)
            if 2 * r > den * unit or (2 * r == den * unit and q % 2):
                q += 1
            out[j] = q * unit
        pos_all.append(p)
        cents_all.append(out)
        rate_all.append(np.array([str(vals[kk]) for kk in k.tolist()], dtype=object))
        date_all.append(dates[k])
    pos = np.concatenate(pos_all)
    order = np.argsort(pos, kind="stable")
    cents = np.concatenate(cents_all)[order]
    keep = cents > 0
    order = order[keep]
    return pos[order], cents[keep], np.concatenate(rate_all)[order], np.concatenate(date_all)[order]
