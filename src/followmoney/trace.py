"""Follow tainted funds through accounts, forward and backward in time.

Confiscating the proceeds of trafficking needs an answer a court accepts to "where did
the tainted money go, and how much of this balance is it?". Forensic accountants answer
it with *allocation rules* that say which part of a mixed (commingled) balance an outgoing
payment is deemed to take. This module applies those rules to bank transactions, exactly
to the cent:

* :func:`forward` follows taint from a source (an account holding a tainted amount at a
  time, an account all of whose receipts are proceeds, or a set of tainted transactions)
  through later payments, hop by hop, strictly forward in time, across accounts.
* :func:`backward` answers "which sources funded this balance (or this purchase), and
  how much from each".

Both return a :class:`TraceResult` with tables of hops, end positions, sources and exits,
the assumptions made, a plain-words :meth:`~TraceResult.summary` for a case file and a
flow diagram (:meth:`~TraceResult.plot`).

Allocation rules (``method=``)
------------------------------
``"fifo"`` -- first in, first out
    A payment takes the oldest money in the account first: the account is a queue of
    parcels in order of receipt. The rule of *Clayton's Case* (Devaynes v Noble (1816)
    1 Mer 572) for running accounts; English courts now often displace it as arbitrary
    between innocent contributors (*Barlow Clowes v Vaughan* [1992] 4 All ER 22), but it
    remains the usual default in accounting.
``"lifo"`` -- last in, first out
    A payment takes the most recent receipts first: the account is a stack. The mirror
    of FIFO, used by forensic accountants as a sensitivity check and in forfeiture
    cases ("drugs-in, first-out"; see *United States v Banco Cafetero Panama*, 797 F.2d
    1154 (2d Cir. 1986)).
``"pro_rata"`` -- proportional, "well mixed", the haircut or rolling charge
    Every payment carries taint in proportion to the account's tainted share just before
    it: money is a well-mixed fluid. The "North American" rolling charge considered in
    *Barlow Clowes v Vaughan*; *Banco Cafetero* discusses it for forfeiture too.
``"libr"`` -- lowest intermediate balance rule
    The account holder is presumed to spend their own (clean) money first (*Re Hallett's
    Estate* (1880) 13 Ch D 696), so a payment carries taint only when the clean part of
    the balance is exhausted; the taint left in the account can never exceed the lowest
    balance since it arrived, and later clean deposits do not restore it (*James Roscoe
    (Bolton) Ltd v Winder* [1915] 1 Ch 62; *Bishopsgate Investment Management v Homan*
    [1995] Ch 211). The choice a claimant may have to follow a traceable asset instead
    (*Re Oatway* [1903] 2 Ch 356) is not modelled.

Conventions (what a reader of the output must know)
---------------------------------------------------
* **One global order.** Transactions are processed in (``timestamp``, ``txn_id``) order;
  same inputs, same output, row for row.
* **Exact money.** Amounts are integer thousandths (:func:`followmoney.core.schema.to_cents`);
  no float touches money. Pro-rata and LIBR shares are rounded *down* to the cent (the
  remainder stays in the account); when several tainted sources share one account, a
  payment's tainted cents are split among them by the largest-remainder (Hamilton)
  method, ties to the earlier source. So total taint is conserved exactly:
  ``created = still held + left the trace``, at every account and every step.
* **Within one payment** the parcels keep their order from the paying account (FIFO:
  oldest first; LIFO: bottom of the stack first), so the receiving account queues them
  in that order.
* **Opening balances.** Where the data do not state an account's balance, its opening
  balance is taken to be the smallest one that never lets the balance fall below zero
  over all its transactions in the data (clean money, present before the first record);
  the result's ``assumptions`` say so. Known opening balances can be passed; where an
  account then pays out more than it holds, the shortfall is taken as clean money from
  outside the data, arriving just before the payment, and reported.
* **Currencies** are never added: each trace follows one currency and reports the
  transactions it skipped, unless a rate table is given; then every amount is converted
  explicitly into one currency and each hop row records the rate used.
* Self-transfers (``from_account == to_account``) move nothing and are ignored;
  transactions without a timestamp or a positive amount are left out and counted.

Hops, limits and time
---------------------
A *hop* is one payment: the source accounts are at depth 0, a payment by an account at
depth ``d`` is hop ``d + 1``, and an account's depth is the fewest hops by which taint
has reached it so far. Taint is only ever carried by a payment that comes after its
arrival in the global order (same timestamp: the smaller ``txn_id`` first). Taint that
stops being followed *leaves the trace* and is counted in ``exits`` by reason: paid to
cash or an unknown recipient, paid on by an account at the hop limit (such an account
still holds and allocates its taint; only what it pays on is not followed), or moved in
a payment carrying less than ``min_amount``. So ``created = held + exited`` always.

Scale
-----
Only accounts that hold taint have a ledger, and only their payments are visited:
balances, cumulative receipts and payments of every account are precomputed once,
vectorised, per currency (:class:`TraceIndex`), so clean deposits into a tainted account
are accounted for without visiting them (FIFO positions become intervals on the
account's cumulative-receipt axis, LIFO positions intervals of balance height, pro-rata
and LIBR need only the balance). Next payments of tainted accounts come from a heap over
per-account sorted positions. A forward trace costs ``O(n log n)`` preparation plus
``O(k (log a + p))`` for the ``k`` payments of tainted accounts it visits (``a`` tainted
accounts, ``p`` taint parcels per account: 1 for one source under pro-rata and LIBR).

Examples
--------
>>> import followmoney as fm
>>> from followmoney import trace
>>> b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv", progress=False)
>>> r = trace.forward(b, "amlsim/475", amount="500.00", since="2017-01-01", method="libr", hops=3)
>>> r.totals.to_pylist()[0]["tainted"]
Decimal('500.000')
>>> r.check_conservation()
True
"""

from __future__ import annotations

import heapq
import html
from array import array
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema, timing
from followmoney.core.bundle import Bundle
from followmoney.core.units import MONEY_DECIMALS, MONEY_SCALE, minor_units, money_text
from followmoney.exceptions import TraceError

__all__ = ["METHODS", "STOP_REASONS", "TraceError", "TraceIndex", "TraceResult", "backward", "forward"]

#: Allocation rules accepted by ``method=``.
METHODS = ("fifo", "lifo", "pro_rata", "libr")

_METHOD_WORDS = {
    "fifo": "first in, first out (FIFO, Clayton's Case)",
    "lifo": "last in, first out (LIFO)",
    "pro_rata": "pro-rata (proportional, well-mixed funds)",
    "libr": "lowest intermediate balance rule (LIBR, Re Hallett / Roscoe v Winder)",
}

#: Why taint stopped being followed (the ``stop`` column of ``hops``; ``exits.reason``).
STOP_REASONS = {
    "external": "paid to cash or to an unknown recipient (no to_account)",
    "hop_limit": "paid on beyond the hop limit",
    "below_min_amount": "moved in payments carrying less taint than the minimum amount",
    "outside_upstream": "paid to accounts outside the upstream set of the destination",
}

_BIG = 1 << 62
_US_PER_DAY = 86_400_000_000


# ----------------------------------------------------------------------------- helpers
def _dec(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-MONEY_DECIMALS)


def _fmt(currency: str, cents: int) -> str:
    return money_text(cents, currency)


def _parse_cents(value, what: str) -> int:
    """Money given by the user (str, int, Decimal; float via its repr) -> int cents."""
    if value is None:
        raise TraceError(f"{what} is missing")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TraceError(f"{what}: not a number") from None
    if not d.is_finite():
        raise TraceError(f"{what}: not a finite number")
    c = d * MONEY_SCALE
    if c != c.to_integral_value():
        raise TraceError(f"{what}: more than three decimal places")
    return int(c)


def _parse_us(value, what: str) -> int:
    """A time given by the user (ISO string, date, datetime, Timestamp) -> int µs UTC."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise TraceError(f"{what}: not a date or time") from None
    if ts is pd.NaT:
        raise TraceError(f"{what}: not a date or time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1000)


def _iso(us: int) -> str:
    return pd.Timestamp(us * 1000, tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


def _transactions(data) -> pa.Table:
    if isinstance(data, Bundle):
        return data.transactions
    if isinstance(data, pa.Table):
        return schema.conform(data, "transactions") if data.schema != schema.SCHEMAS["transactions"] else data
    if isinstance(data, pd.DataFrame):
        return schema.conform(pa.Table.from_pandas(data, preserve_index=False), "transactions")
    raise TraceError("data must be a Bundle, a transactions pyarrow.Table, a pandas.DataFrame or a TraceIndex")


def _minor(currency) -> int:
    """Thousandths per minor unit of ``currency`` (10 for EUR cents, 1 for KWD fils, 1000 for JPY)."""
    return 10 ** (MONEY_DECIMALS - minor_units(currency))


def _hamilton(total: int, parts: dict, unit: int = 1) -> dict:
    """Split ``total`` over ``parts`` (tag -> amount) in proportion, exactly, in whole ``unit``s.

    Largest-remainder (Hamilton) method: floors first, then one minor unit (``unit``
    thousandths: a cent, a fils) each to the largest remainders, ties to the smaller tag.
    Each share is at most its part.
    """
    if len(parts) == 1:
        ((g, _),) = parts.items()
        return {g: total}
    if unit > 1 and total % unit == 0 and all(v % unit == 0 for v in parts.values()):
        return {g: v * unit for g, v in _hamilton(total // unit, {g: v // unit for g, v in parts.items()}).items()}
    whole = sum(parts.values())
    out, rems, given = {}, [], 0
    for g in sorted(parts):
        q, r = divmod(total * parts[g], whole)
        out[g] = q
        given += q
        rems.append((-r, g))
    left = total - given
    if left:
        rems.sort()
        for _, g in rems[:left]:
            out[g] += 1
    return out


# ------------------------------------------------------------------------------ index
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
        if pc.sum(keep).as_py() != tx.num_rows:
            t = t.filter(keep)
        t = t.combine_chunks()
        self._rows = t  # kept in input order; ``order`` maps global position -> row
        ts = timing.comparable_time(tx.filter(keep) if pc.sum(keep).as_py() != tx.num_rows else tx)
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
    to the cent. Returns (global positions, cents, rate strings, rate dates).
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
        for j, (c, kk) in enumerate(zip(ix.cents[p].tolist(), k.tolist())):
            num, den = ratios[kk]
            q, r = divmod(c * num, den)
            if 2 * r > den or (2 * r == den and q % 2):
                q += 1
            out[j] = q
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


# ----------------------------------------------------------------------------- engine
@dataclass
class _Run:
    """Raw output of one engine run, in local positions and tag ids."""

    hop_pos: list = field(default_factory=list)
    hop_num: list = field(default_factory=list)
    hop_taint: list = field(default_factory=list)
    hop_stop: list = field(default_factory=list)
    hop_tags: list = field(default_factory=list)  # (row, tag, cents)
    src: list = field(default_factory=list)  # (local pos or -1, acct, tag, cents, time us)
    exits: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    held: dict = field(default_factory=dict)
    by_tag: dict = field(default_factory=dict)  # acct -> {tag: cents}
    depth: dict = field(default_factory=dict)
    ledger: list = field(default_factory=list)  # (local pos or -1, acct, side, tainted after, balance after)
    captured: dict | None = None
    visited: set = field(default_factory=set)
    offsets: dict = field(default_factory=dict)


def _engine(
    sc: _Scope,
    method: str,
    *,
    start: int,
    end: int,
    initial: list,
    inject_pos: np.ndarray,
    inject_tag: list,
    max_hops: int | None,
    min_cents: int,
    allowed: np.ndarray | None = None,
    levels: np.ndarray | None = None,
    record_tags: bool = False,
    record_ledger: bool = False,
    capture: int = -1,
) -> _Run:
    """Walk forward in time over the payments of tainted accounts (local positions ``start..end``).

    ``initial``: list of (account, tag, cents or None, offset) made tainted just before
    ``start`` (None: the whole balance). ``inject_pos``/``inject_tag``: transactions
    whose whole amount is deemed tainted with that tag on arrival.

    State per tainted account: FIFO, a deque of ``[start, end, tag]`` intervals on the
    account's cumulative-receipt axis (a payment takes ``[payments before, + amount)``);
    LIFO, a list of ``[low, high, tag]`` intervals of balance height (a payment takes the
    top ``[balance - amount, balance)``); pro-rata and LIBR, ``{tag: cents}``. Clean
    money is never stored: the precomputed balances account for it.
    """
    fifo, lifo, prorata = method == "fifo", method == "lifo", method == "pro_rata"
    intervals = fifo or lifo
    if (
        not intervals
        and not record_tags
        and capture < 0
        and levels is None
        and allowed is None
        and all(i[1] == 0 for i in initial)
        and not any(inject_tag)
    ):
        return _walk_one_source(
            sc, prorata, start=start, end=end, initial=initial, inject_pos=inject_pos, max_hops=max_hops,
            min_cents=min_cents, record_ledger=record_ledger,
        )  # fmt: skip
    run = _Run()
    f = sc.fast()
    unit = _minor(sc.currency)  # pro-rata shares are whole minor units of the currency (cents, fils, yen)
    amt, frm, to = f["amt"], f["frm"], f["to"]
    bal_from, cout_from, bal_to, cin_to = f["bal_from"], f["cout_from"], f["bal_to"], f["cin_to"]
    next_from, next_to = f["next_from"], f["next_to"]
    led: dict = {}
    held = run.held
    depth = run.depth
    offsets = run.offsets
    heap: list = []  # local positions of the next payment of each tainted account
    push, pop = heapq.heappush, heapq.heappop
    visited = run.visited
    hop_pos, hop_num, hop_taint, hop_stop, hop_tags = run.hop_pos, run.hop_num, run.hop_taint, run.hop_stop, run.hop_tags
    exits = run.exits
    ledger = run.ledger
    inf = _BIG

    def new_state():
        return deque() if fifo else ([] if lifo else {})

    # -- initial taint at the start
    for acct, tag, cents, off in initial:
        cin, cout = sc.state_before(acct, start)
        if off:
            offsets[acct] = off
            cin += off
        bal = cin - cout
        taint = bal if cents is None else cents
        if taint <= 0:
            continue
        led[acct] = st = new_state()
        visited.add(acct)
        q = sc.next_out(acct, start - 1)
        if q >= 0:
            push(heap, q)
        depth[acct] = 0
        if fifo:
            st.append([cin - taint, cin, tag])
        elif lifo:
            st.append([bal - taint, bal, tag])
        else:
            st[tag] = taint
        held[acct] = taint
        run.src.append((-1, acct, tag, taint))
        if record_ledger:
            ledger.append((-1, acct, "start", taint, bal))

    inj = inject_pos.tolist()
    n_inj = len(inj)
    ii = 0
    while ii < n_inj and inj[ii] < start:
        ii += 1
    pi = inj[ii] if ii < n_inj else inf
    while True:
        ph = heap[0] if heap else inf
        p = ph if ph < pi else pi
        if p > end:
            break
        a = amt[p]
        segs = None
        ctotal = 0
        x = -1
        if ph == p:
            pop(heap)
            x = frm[p]
            st = led[x]
            if fifo:
                co = cout_from[p]
                hi = co + a
                segs = []
                while st and st[0][0] < hi:
                    s, e, g = st[0]
                    if e <= hi:
                        st.popleft()
                        segs.append((s - co, e - co, g))
                        ctotal += e - s
                    else:
                        segs.append((s - co, a, g))
                        ctotal += hi - s
                        st[0][0] = hi
                        break
            elif lifo:
                cut = bal_from[p] - a
                if offsets:
                    cut += offsets.get(x, 0)
                segs = []
                while st and st[-1][1] > cut:
                    lo, hi, g = st[-1]
                    if lo >= cut:
                        st.pop()
                        segs.append((lo - cut, hi - cut, g))
                        ctotal += hi - lo
                    else:
                        segs.append((0, hi - cut, g))
                        ctotal += hi - cut
                        st[-1][1] = cut
                        break
                segs.reverse()
            else:
                bal = bal_from[p]
                if offsets:
                    bal += offsets.get(x, 0)
                t_ = held[x]
                if prorata:
                    ctotal = t_ * a // bal // unit * unit
                else:
                    clean = bal - t_
                    ctotal = a - clean if a > clean else 0
                if ctotal:
                    if len(st) == 1:
                        for g in st:
                            pass
                        segs = {g: ctotal}
                        if ctotal == t_:
                            del st[g]
                        else:
                            st[g] = t_ - ctotal
                    else:
                        segs = _hamilton(ctotal, st, unit)
                        for g, v in segs.items():
                            left = st[g] - v
                            if left:
                                st[g] = left
                            else:
                                del st[g]
            left = held[x] - ctotal
            if record_ledger:
                ledger.append((p, x, "out", left, bal_from[p] + offsets.get(x, 0) - a))
            if left:
                held[x] = left
                q = next_from[p]
                if q >= 0:
                    push(heap, q)
            else:
                del led[x]
                del held[x]
        is_inj = pi == p
        if is_inj:
            tag = inject_tag[ii]
            ii += 1
            pi = inj[ii] if ii < n_inj else inf
        y = to[p]
        hop = 0
        carried = ctotal
        if ctotal:
            hop = int(levels[x]) if levels is not None else depth[x] + 1
            stop = None
            if y < 0:
                stop = "external"
            elif allowed is not None and not allowed[y]:
                stop = "outside_upstream"
            elif not is_inj:
                if max_hops is not None and hop > max_hops:
                    stop = "hop_limit"
                elif ctotal < min_cents:
                    stop = "below_min_amount"
            row = len(hop_pos)
            hop_pos.append(p)
            hop_num.append(hop)
            hop_taint.append(ctotal)
            hop_stop.append(stop)
            if record_tags or p == capture:
                totals = _tag_totals(segs, intervals)
                if record_tags:
                    hop_tags.extend((row, g, v) for g, v in sorted(totals.items()) if v)
                if p == capture:
                    run.captured = totals
            if stop is not None:
                e_ = exits[stop]
                e_[0] += ctotal
                e_[1] += 1
                segs = None
                ctotal = 0
        elif p == capture:
            run.captured = {}
        if is_inj:
            fresh = a - carried
            if fresh:
                if intervals:
                    full = []
                    cursor = 0
                    for s, e, g in segs or ():
                        if s > cursor:
                            full.append((cursor, s, tag))
                        full.append((s, e, g))
                        cursor = e
                    if cursor < a:
                        full.append((cursor, a, tag))
                    segs = full
                else:
                    segs = dict(segs or {})
                    segs[tag] = segs.get(tag, 0) + fresh
                ctotal = a
                run.src.append((p, y, tag, fresh))
                if y < 0:
                    e_ = exits["external"]
                    e_[0] += fresh
                    e_[1] += 1
                    segs = None
                    ctotal = 0
        if ctotal and y >= 0:
            st = led.get(y)
            if st is None:
                led[y] = st = new_state()
                held[y] = 0
                visited.add(y)
                q = next_to[p]
                if q >= 0:
                    push(heap, q)
            if intervals:
                base = cin_to[p] if fifo else bal_to[p]
                if offsets:
                    base += offsets.get(y, 0)
                for s, e, g in segs:
                    s += base
                    e += base
                    if st and st[-1][1] == s and st[-1][2] == g:
                        st[-1][1] = e
                    else:
                        st.append([s, e, g])
            else:
                for g, v in segs.items():
                    st[g] = st.get(g, 0) + v
            held[y] += ctotal
            if levels is None:
                d = 0 if is_inj else hop
                if d < depth.get(y, inf):
                    depth[y] = d
            if record_ledger:
                ledger.append((p, y, "in", held[y], bal_to[p] + offsets.get(y, 0) + a))
        elif record_ledger and y >= 0 and y in held:
            ledger.append((p, y, "in", held[y], bal_to[p] + offsets.get(y, 0) + a))
    for acct, st in led.items():
        run.by_tag[acct] = _tag_totals(st, intervals)
    return run


def _walk_one_source(
    sc: _Scope,
    prorata: bool,
    *,
    start: int,
    end: int,
    initial: list,
    inject_pos: np.ndarray,
    max_hops: int | None,
    min_cents: int,
    record_ledger: bool,
) -> _Run:
    """:func:`_engine` for pro-rata and LIBR with one source: the state is one integer per account."""
    run = _Run()
    f = sc.fast()
    unit = _minor(sc.currency)
    amt, frm, to, bal_from, bal_to = f["amt"], f["frm"], f["to"], f["bal_from"], f["bal_to"]
    next_from, next_to = f["next_from"], f["next_to"]
    held, depth, offsets, visited = run.held, run.depth, run.offsets, run.visited
    heap: list = []
    push, pop = heapq.heappush, heapq.heappop
    hop_pos, hop_num, hop_taint, hop_stop = run.hop_pos, run.hop_num, run.hop_taint, run.hop_stop
    exits, ledger = run.exits, run.ledger
    inf = _BIG
    for acct, _, cents, off in initial:
        cin, cout = sc.state_before(acct, start)
        if off:
            offsets[acct] = off
            cin += off
        bal = cin - cout
        taint = bal if cents is None else cents
        if taint <= 0:
            continue
        held[acct] = taint
        visited.add(acct)
        depth[acct] = 0
        q = sc.next_out(acct, start - 1)
        if q >= 0:
            push(heap, q)
        run.src.append((-1, acct, 0, taint))
        if record_ledger:
            ledger.append((-1, acct, "start", taint, bal))
    inj = inject_pos.tolist()
    n_inj = len(inj)
    ii = 0
    while ii < n_inj and inj[ii] < start:
        ii += 1
    pi = inj[ii] if ii < n_inj else inf
    while True:
        ph = heap[0] if heap else inf
        p = ph if ph < pi else pi
        if p > end:
            break
        a = amt[p]
        ctotal = 0
        if ph == p:
            pop(heap)
            x = frm[p]
            t_ = held[x]
            bal = bal_from[p]
            if offsets:
                bal += offsets.get(x, 0)
            if prorata:
                ctotal = t_ * a // bal // unit * unit
            elif a > bal - t_:
                ctotal = a - bal + t_
            left = t_ - ctotal
            if record_ledger:
                ledger.append((p, x, "out", left, bal - a))
            if left:
                held[x] = left
                q = next_from[p]
                if q >= 0:
                    push(heap, q)
            else:
                del held[x]
        is_inj = pi == p
        if is_inj:
            ii += 1
            pi = inj[ii] if ii < n_inj else inf
        y = to[p]
        carried = ctotal
        hop = 0
        if ctotal:
            hop = depth[x] + 1
            stop = None
            if y < 0:
                stop = "external"
            elif not is_inj:
                if max_hops is not None and hop > max_hops:
                    stop = "hop_limit"
                elif ctotal < min_cents:
                    stop = "below_min_amount"
            hop_pos.append(p)
            hop_num.append(hop)
            hop_taint.append(ctotal)
            hop_stop.append(stop)
            if stop is not None:
                e_ = exits[stop]
                e_[0] += ctotal
                e_[1] += 1
                ctotal = 0
        if is_inj:
            fresh = a - carried
            if fresh:
                run.src.append((p, y, 0, fresh))
                if y < 0:
                    e_ = exits["external"]
                    e_[0] += fresh
                    e_[1] += 1
                else:
                    ctotal = a
        if ctotal and y >= 0:
            if y in held:
                held[y] += ctotal
            else:
                held[y] = ctotal
                visited.add(y)
                q = next_to[p]
                if q >= 0:
                    push(heap, q)
            d = 0 if is_inj else hop
            if d < depth.get(y, inf):
                depth[y] = d
            if record_ledger:
                ledger.append((p, y, "in", held[y], bal_to[p] + offsets.get(y, 0) + a))
        elif record_ledger and y >= 0 and y in held:
            ledger.append((p, y, "in", held[y], bal_to[p] + offsets.get(y, 0) + a))
    return run  # by_tag stays empty: one source, its split is the total


def _tag_totals(st, intervals: bool) -> dict:
    if not intervals:
        return dict(st)
    out: dict = defaultdict(int)
    for s, e, g in st:
        out[g] += e - s
    return dict(out)


# ----------------------------------------------------------------------------- result
@dataclass
class TraceResult:
    """The outcome of a trace: hops, end positions, sources, exits, assumptions.

    Every money column is ``decimal128(18, 3)`` in the row's ``currency``; times are
    ``timestamp[us, UTC]``. Rows are in a deterministic order: hops in global
    (timestamp, txn_id) order, positions by tainted balance (largest first) then account.

    Attributes
    ----------
    direction : {"forward", "backward"}
    method : str
        One of :data:`METHODS`.
    params : dict
        The request as run (start, amount, since, until, hops, min_amount, currency,
        rates given or not), for the case file.
    hops : pyarrow.Table
        One row per transaction that moved existing taint: ``hop`` (int32: 1 = a payment
        by the source account; backward: the sending account's distance to the
        destination), ``txn_id``, ``timestamp``, ``from_account``, ``to_account``,
        ``amount`` (the whole payment), ``currency``, ``tainted_amount`` (the part of
        it deemed tainted), ``method``, ``stop`` (null when followed on, else a key of
        :data:`STOP_REASONS`), ``source_ref`` (file:line or file#XPath of the
        transaction). With a rate table also ``original_amount``,
        ``original_currency``, ``rate`` (string, exact) and ``rate_date``.
    positions : pyarrow.Table
        One row per account still holding taint at the end: ``account``, ``currency``,
        ``tainted_balance``, ``balance`` (the account's whole balance then, with the
        opening-balance assumption), ``share`` (float64, tainted / balance), ``depth``
        (fewest hops by which taint reached it; backward: distance to the destination).
    sources : pyarrow.Table
        Where taint was created: ``source`` (label), ``txn_id`` (null for a balance
        marked tainted), ``timestamp``, ``from_account``, ``account`` (receiving),
        ``amount`` (taint created: the part of the transaction not already tainted),
        ``currency``, ``source_ref``.
    exits : pyarrow.Table
        Taint no longer followed: ``currency``, ``reason`` (key of
        :data:`STOP_REASONS`), ``tainted_amount``, ``transactions``.
    totals : pyarrow.Table
        Per currency: ``tainted`` (created) = ``held`` (sum of positions) + ``exited``.
    assumptions : list of str
        Assumptions the figures rest on (opening balances, skipped currencies, ...).
    funding : pyarrow.Table or None
        Backward only: ``origin`` (an account, or "(outside the data: <channel>)"),
        ``kind`` ("own_funds": what that upstream account held before the window, or
        its opening balance, where the trail ends; "inflow": paid in by an account
        outside the upstream set, e.g. beyond the hop limit; "external": cash or an
        unknown payer), ``amount``, ``share`` (of the destination balance or payment),
        ``currency``. Amounts sum exactly to the destination amount.
    hop_sources, position_sources : pyarrow.Table or None
        With ``by_source=True``: the tainted amounts of ``hops`` and ``positions`` split
        by ``source``.
    ledger : pyarrow.Table or None
        With ``ledger=True``: the schedule a forensic accountant files. One row after each
        step that can change an account's taint (its payments while it holds taint, and
        its receipts of taint): ``seq``, ``txn_id`` (null for the starting balance),
        ``timestamp``, ``account``, ``side`` ("start", "out", "in"),
        ``tainted_balance`` and ``balance`` after the step, ``currency``. Clean receipts
        change no taint and have no row; they show in the next row's ``balance``.
    """

    direction: str
    method: str
    params: dict
    hops: pa.Table
    positions: pa.Table
    sources: pa.Table
    exits: pa.Table
    totals: pa.Table
    assumptions: list
    funding: pa.Table | None = None
    hop_sources: pa.Table | None = None
    position_sources: pa.Table | None = None
    ledger: pa.Table | None = None

    def check_conservation(self) -> bool:
        """True when, per currency, taint created = taint held at the end + taint that left.

        Also checks every account: tainted in (followed hops and sources into it) =
        tainted out (hops out of it) + tainted remaining.
        """
        for row in self.totals.to_pylist():
            if row["tainted"] != row["held"] + row["exited"]:
                return False
        flows: dict = defaultdict(int)
        h = self.hops.select(["from_account", "to_account", "tainted_amount", "stop", "currency"]).to_pylist()
        for r in h:
            flows[(r["from_account"], r["currency"])] -= r["tainted_amount"]
            if r["stop"] is None and r["to_account"] is not None:
                flows[(r["to_account"], r["currency"])] += r["tainted_amount"]
        for r in self.sources.select(["account", "amount", "currency"]).to_pylist():
            if r["account"] is not None:
                flows[(r["account"], r["currency"])] += r["amount"]
        held = {(r["account"], r["currency"]): r["tainted_balance"] for r in self.positions.to_pylist()}
        for k in set(flows) | set(held):
            if flows.get(k, 0) != held.get(k, 0):
                return False
        return True

    # -- presentation
    def summary(self, top: int = 5) -> str:
        """A short account in plain words, for a case file.

        Parameters
        ----------
        top : int, default 5
            How many destinations (forward) or origins (backward) to name.

        Returns
        -------
        str
        """
        p = self.params
        lines = []
        rule = _METHOD_WORDS[self.method]
        window = f"from {p['since']}" if p.get("since") else "from the start of the data"
        window += f" to {p['until']}" if p.get("until") else " to the end of the data"
        for tot in self.totals.to_pylist():
            cur = tot["currency"]
            tainted = _cents(tot["tainted"])
            if self.direction == "forward":
                lines.append(f"Forward trace ({cur}) {window}, allocation rule: {rule}.")
                lines.append(f"Source: {p['source_words']}; tainted in total: {_fmt(cur, tainted)}.")
            else:
                lines.append(f"Backward trace ({cur}) {window}, allocation rule: {rule}.")
                lines.append(f"Destination: {p['source_words']}: {_fmt(cur, p['destination_cents'][cur])}.")
            hops = self.hops.filter(pc.equal(self.hops["currency"], cur))
            pos = self.positions.filter(pc.equal(self.positions["currency"], cur))
            followed = hops.filter(pc.is_null(hops["stop"]))
            reached = len(set(followed["to_account"].to_pylist()))
            if self.direction == "forward":
                if hops.num_rows:
                    max_hop = pc.max(hops["hop"]).as_py()
                    lines.append(
                        f"Taint moved in {hops.num_rows} payment(s), up to hop {max_hop}, into {reached} account(s)."
                    )
                else:
                    lines.append("No tainted money was paid out in the window.")
                held = _cents(tot["held"])
                lines.append(f"At the end {_fmt(cur, held)} ({_pct(held, tainted)}) is held in {pos.num_rows} account(s)")
                lines[-1] += ":" if top and pos.num_rows else "."
                for r in pos.slice(0, top).to_pylist():
                    lines.append(
                        f"  - {r['account']}: {_fmt(cur, _cents(r['tainted_balance']))} tainted, "
                        f"{r['share']:.1%} of its balance of {_fmt(cur, _cents(r['balance']))} (hop {r['depth']})"
                    )
                if top and pos.num_rows > top:
                    lines.append(f"  - and {pos.num_rows - top} other account(s)")
                ex = self.exits.filter(pc.equal(self.exits["currency"], cur)).to_pylist()
                if ex:
                    out = _cents(tot["exited"])
                    lines.append(f"{_fmt(cur, out)} ({_pct(out, tainted)}) left the trace:")
                    for r in ex:
                        c = _cents(r["tainted_amount"])
                        lines.append(f"  - {_fmt(cur, c)} {STOP_REASONS[r['reason']]} ({r['transactions']} payment(s))")
            else:
                total = p["destination_cents"][cur]
                fund = self.funding.filter(pc.equal(self.funding["currency"], cur))
                lines.append(
                    f"The upstream set has {p['upstream_accounts']} account(s); money of identified origins "
                    f"moved between them in {followed.num_rows} payment(s)."
                )
                lines.append(f"It was funded by {fund.num_rows} origin(s)")
                lines[-1] += ":" if top and fund.num_rows else "."
                kind = {"own_funds": "own funds", "inflow": "paid in from outside the set", "external": "cash or unknown"}
                for r in fund.slice(0, top).to_pylist():
                    lines.append(
                        f"  - {r['origin']} ({kind[r['kind']]}): {_fmt(cur, _cents(r['amount']))} "
                        f"({_pct(_cents(r['amount']), total)})"
                    )
                if top and fund.num_rows > top:
                    lines.append(f"  - and {fund.num_rows - top} other origin(s)")
        lines.append(
            "Conservation: taint created = taint held + taint that left the trace, exactly to the cent."
            if self.check_conservation()
            else "WARNING: conservation check failed."
        )
        if self.assumptions:
            lines.append("Assumptions:")
            lines.extend(f"  - {a}" for a in self.assumptions)
        return "\n".join(lines)

    def top_destinations(self, n: int = 10) -> pa.Table:
        """The ``n`` largest end positions (forward) or origins (backward).

        Returns
        -------
        pyarrow.Table
            The first ``n`` rows of ``positions`` (forward) or ``funding`` (backward).
        """
        return (self.funding if self.direction == "backward" else self.positions).slice(0, n)

    def plot(self, ax=None, **kwargs):
        """Draw the flow diagram; see :class:`followmoney.view.plot.TraceFlowDisplay`.

        Returns
        -------
        followmoney.view.plot.TraceFlowDisplay
        """
        from followmoney.view.plot import TraceFlowDisplay

        return TraceFlowDisplay.from_trace(self, ax=ax, **kwargs)

    def _repr_html_(self) -> str:
        head = html.escape(self.summary()).replace("\n", "<br>")
        top = self.top_destinations(10).to_pandas()
        return f"<div><p style='font-family:monospace'>{head}</p>{top.to_html(index=False)}</div>"

    def __repr__(self) -> str:
        return (
            f"TraceResult(direction={self.direction!r}, method={self.method!r}, hops={self.hops.num_rows}, "
            f"positions={self.positions.num_rows}, exits={self.exits.num_rows})"
        )


def _cents(d: Decimal | None) -> int:
    return 0 if d is None else int(d * MONEY_SCALE)


def _pct(a: int, b: int) -> str:
    return f"{a / b:.1%}" if b else "n/a"


# --------------------------------------------------------------------- assembling
_HOP_SCHEMA = pa.schema(
    [
        ("hop", pa.int32()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("from_account", pa.string()),
        ("to_account", pa.string()),
        ("amount", schema.MONEY),
        ("currency", pa.string()),
        ("tainted_amount", schema.MONEY),
        ("method", pa.string()),
        ("stop", pa.string()),
        ("source_ref", pa.string()),
    ]
)
_RATE_FIELDS = [
    ("original_amount", schema.MONEY),
    ("original_currency", pa.string()),
    ("rate", pa.string()),
    ("rate_date", pa.date32()),
]
_POS_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("currency", pa.string()),
        ("tainted_balance", schema.MONEY),
        ("balance", schema.MONEY),
        ("share", pa.float64()),
        ("depth", pa.int32()),
    ]
)
_SRC_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("from_account", pa.string()),
        ("account", pa.string()),
        ("amount", schema.MONEY),
        ("currency", pa.string()),
        ("source_ref", pa.string()),
    ]
)
_EXIT_SCHEMA = pa.schema(
    [("currency", pa.string()), ("reason", pa.string()), ("tainted_amount", schema.MONEY), ("transactions", pa.int64())]
)
_TOTAL_SCHEMA = pa.schema(
    [("currency", pa.string()), ("tainted", schema.MONEY), ("held", schema.MONEY), ("exited", schema.MONEY)]
)
_LEDGER_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("txn_id", pa.string()),
        ("timestamp", schema.TIMESTAMP),
        ("account", pa.string()),
        ("side", pa.string()),
        ("tainted_balance", schema.MONEY),
        ("balance", schema.MONEY),
        ("currency", pa.string()),
    ]
)
_TAGS_SCHEMA = {
    "hop": pa.schema([("txn_id", pa.string()), ("source", pa.string()), ("tainted_amount", schema.MONEY), ("currency", pa.string())]),
    "pos": pa.schema([("account", pa.string()), ("source", pa.string()), ("tainted_balance", schema.MONEY), ("currency", pa.string())]),
}
_FUND_SCHEMA = pa.schema(
    [("origin", pa.string()), ("kind", pa.string()), ("amount", schema.MONEY), ("share", pa.float64()), ("currency", pa.string())]
)


def _assemble(sc: _Scope, run: _Run, method: str, tags: list[str], end: int, start_us: int, record_tags: bool):
    """Turn an engine run into tables (one currency)."""
    ix = sc.ix
    cur = sc.currency
    lp = np.asarray(run.hop_pos, dtype=np.int64)
    gp = sc.pos[lp]
    base = ix.rows(gp)
    hops = {
        "hop": pa.array(run.hop_num, pa.int32()),
        "txn_id": base["txn_id"],
        "timestamp": base["timestamp"],
        "from_account": base["from_account"],
        "to_account": base["to_account"],
        "amount": schema.from_cents(sc.amt[lp]),
        "currency": pa.array([cur] * len(lp), pa.string()),
        "tainted_amount": schema.from_cents(run.hop_taint),
        "method": pa.array([method] * len(lp), pa.string()),
        "stop": pa.array(run.hop_stop, pa.string()),
        "source_ref": base["source_ref"],
    }
    fields = list(_HOP_SCHEMA)
    if sc.rate is not None:
        hops["original_amount"] = schema.from_cents(ix.cents[gp])
        hops["original_currency"] = base["currency"]
        hops["rate"] = pa.array(sc.rate[lp].tolist(), pa.string())
        rd = sc.rate_date[lp]
        hops["rate_date"] = pa.array(np.where(rd < 0, 0, rd // _US_PER_DAY).astype(np.int32), pa.date32(), mask=rd < 0)
        fields += [pa.field(n, t) for n, t in _RATE_FIELDS]
    hop_table = pa.Table.from_pydict(hops, schema=pa.schema(fields))

    accts = np.fromiter(run.held, dtype=np.int64, count=len(run.held))
    held = np.fromiter(run.held.values(), dtype=np.int64, count=len(run.held))
    bal = sc.balances_before(accts, end + 1)
    if run.offsets:
        bal += np.array([run.offsets.get(a, 0) for a in accts.tolist()], dtype=np.int64)
    names = ix.names(accts)
    order = pc.sort_indices(
        pa.table({"h": held, "a": names}), sort_keys=[("h", "descending"), ("a", "ascending")]
    ).to_numpy()
    accts, held, bal = accts[order], held[order], bal[order]
    pos_table = pa.Table.from_pydict(
        {
            "account": names.take(pa.array(order)),
            "currency": pa.array([cur] * len(accts), pa.string()),
            "tainted_balance": schema.from_cents(held),
            "balance": schema.from_cents(bal),
            "share": pa.array(held / np.where(bal == 0, 1, bal), pa.float64()),
            "depth": pa.array([run.depth.get(a, 0) for a in accts.tolist()], pa.int32()),
        },
        schema=_POS_SCHEMA,
    )
    accts = accts.tolist()
    held = held.tolist()

    src_rows = run.src
    sp = np.array([s[0] for s in src_rows], dtype=np.int64)
    has = sp >= 0
    g_src = np.where(has, sc.pos[np.where(has, sp, 0)] if len(sp) else sp, 0)
    sbase = ix.rows(g_src)
    mask = pa.array(~has) if len(sp) else None
    src_table = pa.Table.from_pydict(
        {
            "source": pa.array([tags[s[2]] for s in src_rows], pa.string()),
            "txn_id": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["txn_id"]) if len(sp) else pa.array([], pa.string()),
            "timestamp": pc.if_else(mask, pa.scalar(start_us, schema.TIMESTAMP), sbase["timestamp"])
            if len(sp)
            else pa.array([], schema.TIMESTAMP),
            "from_account": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["from_account"])
            if len(sp)
            else pa.array([], pa.string()),
            "account": ix.names(np.array([s[1] for s in src_rows], dtype=np.int64)),
            "amount": schema.from_cents([s[3] for s in src_rows]),
            "currency": pa.array([cur] * len(src_rows), pa.string()),
            "source_ref": pc.if_else(mask, pa.scalar(None, pa.string()), sbase["source_ref"])
            if len(sp)
            else pa.array([], pa.string()),
        },
        schema=_SRC_SCHEMA,
    )

    reasons = sorted(run.exits)
    exit_table = pa.Table.from_pydict(
        {
            "currency": pa.array([cur] * len(reasons), pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "tainted_amount": schema.from_cents([run.exits[r][0] for r in reasons]),
            "transactions": pa.array([run.exits[r][1] for r in reasons], pa.int64()),
        },
        schema=_EXIT_SCHEMA,
    )
    created = sum(s[3] for s in src_rows)
    exited = sum(v[0] for v in run.exits.values())
    kept = sum(held)
    if created != kept + exited:  # pragma: no cover - would be a bug in the engine
        raise AssertionError("taint not conserved: created != held + exited")
    totals = pa.Table.from_pydict(
        {"currency": [cur], "tainted": schema.from_cents([created]), "held": schema.from_cents([kept]), "exited": schema.from_cents([exited])},
        schema=_TOTAL_SCHEMA,
    )

    hop_src = pos_src = None
    if record_tags:
        rows = run.hop_tags
        hop_src = pa.Table.from_pydict(
            {
                "txn_id": hop_table["txn_id"].take(pa.array([r[0] for r in rows], pa.int64())),
                "source": pa.array([tags[r[1]] for r in rows], pa.string()),
                "tainted_amount": schema.from_cents([r[2] for r in rows]),
                "currency": pa.array([cur] * len(rows), pa.string()),
            },
            schema=_TAGS_SCHEMA["hop"],
        )
        prow = [(a, g, v) for a in accts for g, v in sorted(run.by_tag.get(a, {}).items()) if v]
        pos_src = pa.Table.from_pydict(
            {
                "account": ix.names(np.array([r[0] for r in prow], dtype=np.int64)),
                "source": pa.array([tags[r[1]] for r in prow], pa.string()),
                "tainted_balance": schema.from_cents([r[2] for r in prow]),
                "currency": pa.array([cur] * len(prow), pa.string()),
            },
            schema=_TAGS_SCHEMA["pos"],
        )
    return hop_table, pos_table, src_table, exit_table, totals, hop_src, pos_src


def _ledger_table(sc: _Scope, run: _Run, start_us: int) -> pa.Table:
    rows = run.ledger
    lp = np.array([r[0] for r in rows], dtype=np.int64)
    has = lp >= 0
    gp = np.where(has, sc.pos[np.where(has, lp, 0)], 0) if len(lp) else lp
    base = sc.ix.rows(gp)
    mask = pa.array(~has)
    return pa.Table.from_pydict(
        {
            "seq": pa.array(np.arange(len(rows)), pa.int64()),
            "txn_id": pc.if_else(mask, pa.scalar(None, pa.string()), base["txn_id"]),
            "timestamp": pc.if_else(mask, pa.scalar(start_us, schema.TIMESTAMP), base["timestamp"]),
            "account": sc.ix.names(np.array([r[1] for r in rows], dtype=np.int64)),
            "side": pa.array([r[2] for r in rows], pa.string()),
            "tainted_balance": schema.from_cents([r[3] for r in rows]),
            "balance": schema.from_cents([r[4] for r in rows]),
            "currency": pa.array([sc.currency] * len(rows), pa.string()),
        },
        schema=_LEDGER_SCHEMA,
    )


def _concat(parts: list, schema_: pa.Schema | None = None) -> pa.Table | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return schema_.empty_table() if schema_ is not None else None
    return pa.concat_tables(parts, promote_options="default")


def _assumption_lines(sc: _Scope, run: _Run, start: int, end: int) -> list[str]:
    """Opening-balance and top-up assumptions for the accounts this trace touched."""
    out = []
    touched = sorted(run.visited)
    unknown = [a for a in touched if a not in sc.known_opening]
    positive = [a for a in unknown if sc.opening[a] > 0]
    cur = sc.currency
    if unknown:
        out.append(
            f"{cur}: the opening balance of {len(unknown)} traced account(s) is not in the data; each is taken to be "
            "the smallest that keeps its balance from going below zero (clean funds, held before the first record)"
            + (f"; {len(positive)} of them needed one above zero" if positive else "")
            + "."
        )
    if sc.known_opening:
        out.append(f"{cur}: opening balances were given for {len(sc.known_opening)} account(s).")
    if len(sc.topped_up):
        tp = sc.topped_up[(sc.topped_up >= start) & (sc.topped_up <= end)]
        tp = [p for p in tp.tolist() if int(sc.frm[p]) in run.visited]
        if tp:
            total = int(sc.topup[tp].sum())
            out.append(
                f"{cur}: in {len(tp)} payment(s) a traced account with a given opening balance paid out more than it "
                f"held; the shortfall ({_fmt(cur, total)} in all) is taken as clean money from outside the data."
            )
    for a, off in sorted(run.offsets.items()):
        out.append(
            f"{cur}: the tainted amount exceeds the source account's balance in the data by {_fmt(cur, off)}; "
            "its opening balance is taken to be that much higher."
        )
    return out


def _skipped_lines(ix: TraceIndex, sc: _Scope, visited: set, t0: int, t1: int) -> list[str]:
    if not visited:
        return []
    in_scope = np.zeros(ix.n, dtype=bool)
    in_scope[sc.pos] = True
    v = np.zeros(len(ix.accounts) + 1, dtype=bool)
    v[np.fromiter(visited, dtype=np.int64)] = True
    touch = v[ix.frm] | v[ix.to]  # -1 indexes the spare last slot (False)
    win = (ix.t >= t0) & (ix.t <= t1)
    skip = touch & win & ~in_scope
    if not skip.any():
        return []
    codes, counts = np.unique(ix.cur[skip], return_counts=True)
    what = ", ".join(f"{ix.currencies[c]}: {n}" for c, n in zip(codes.tolist(), counts.tolist()))
    if sc.rate is not None:
        return [
            f"{sc.currency}: {int(skip.sum())} transaction(s) of traced accounts in other currencies were not "
            f"followed ({what}): no rate for them in the rate table."
        ]
    return [
        f"{sc.currency}: {int(skip.sum())} transaction(s) of traced accounts in other currencies were not "
        f"followed in this trace ({what}): currencies are traced separately and never added."
    ]


def _check_common(method: str, hops, min_amount) -> tuple[int | None, int]:
    if method not in METHODS:
        raise TraceError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if hops is not None and (not isinstance(hops, (int, np.integer)) or isinstance(hops, bool) or hops < 1):
        raise TraceError("hops must be a positive integer or None")
    min_cents = 1 if min_amount is None else _parse_cents(min_amount, "min_amount")
    if min_cents < 0:
        raise TraceError("min_amount must not be negative")
    return (None if hops is None else int(hops)), max(min_cents, 1)


def _openings(ix: TraceIndex, opening_balances) -> dict[int, int]:
    out = {}
    for acct, value in (opening_balances or {}).items():
        c = ix.account_code(acct)
        cents = _parse_cents(value, "opening_balances")
        if cents < 0:
            raise TraceError("opening_balances must not be negative")
        if c >= 0:
            out[c] = cents
    return out


def _start_txn_ids(start) -> list[str] | None:
    """A set of tainted transactions given as ids, a table/frame with txn_id or evidence_txn_ids."""
    if isinstance(start, str):
        return None
    if isinstance(start, (pa.Table, pd.DataFrame)):
        cols = start.column_names if isinstance(start, pa.Table) else list(start.columns)
        col = "txn_id" if "txn_id" in cols else ("evidence_txn_ids" if "evidence_txn_ids" in cols else None)
        if col is None:
            raise TraceError("a start table needs a txn_id or evidence_txn_ids column")
        values = start[col].to_pylist() if isinstance(start, pa.Table) else start[col].tolist()
        if col == "evidence_txn_ids":
            values = [v for vs in values for v in (vs or [])]
        return [v for v in values if v is not None]
    if isinstance(start, Iterable):
        return [str(v) for v in start]
    raise TraceError("start must be an account id (str) or a collection of txn_ids")


# ----------------------------------------------------------------------------- forward
def forward(
    data,
    start,
    *,
    amount=None,
    since=None,
    until=None,
    method: str = "fifo",
    hops: int | None = None,
    min_amount=None,
    currency: str | None = None,
    rates=None,
    opening_balances: Mapping[str, Any] | None = None,
    by_source: bool = False,
    ledger: bool = False,
) -> TraceResult:
    """Follow tainted money forward in time from a source, hop by hop, with an allocation rule.

    Transactions are replayed in (``timestamp``, ``txn_id``) order from the source time.
    Each payment by an account holding taint carries the part of the payment that the
    allocation rule deems tainted to the payee, which then holds it; payees holding
    taint are followed in turn. Time never runs backwards: a payment can only carry
    taint that arrived before it in the global order.

    Parameters
    ----------
    data : Bundle, pyarrow.Table, pandas.DataFrame or TraceIndex
        Canonical ``transactions`` (``txn_id, timestamp, amount, currency,
        from_account, to_account, source_ref, channel``), or a prepared
        :class:`TraceIndex` to reuse across traces.
    start : str or collection of str or table
        The source of the taint:

        * an account id (``str``) with ``amount``: that amount of the account's balance
          at ``since`` is tainted (taken as the most recently received part of the
          balance: spent last under FIFO, first under LIFO);
        * an account id without ``amount``: the account is a proceeds account: its whole
          balance at ``since`` and everything it receives afterwards (to ``until``) are
          tainted;
        * a collection of ``txn_id`` (or a table with a ``txn_id`` column, or an alerts
          table with ``evidence_txn_ids``): each transaction is tainted in full on
          arrival (e.g. the deposits of a structuring alert). Ids not in the data are
          reported in ``assumptions``.
    amount : str, int or Decimal, optional
        Tainted amount for an account source, in ``currency``. Floats are read via
        their shortest repr; prefer strings ("1234.50").
    since, until : str, datetime or pandas.Timestamp, optional
        Time window (UTC if naive). ``since`` is when an account source becomes tainted
        (default: the start of the data); nothing after ``until`` is followed (default:
        the end of the data). Balances always use the whole history.
    method : {"fifo", "lifo", "pro_rata", "libr"}, default "fifo"
        Allocation rule; see the module documentation for each rule's legal meaning.
    hops : int, optional
        Hop limit: taint reaching an account after ``hops`` payments is held there
        (still allocated by the rule) but not followed further; what such an account
        pays on leaves the trace as ``"hop_limit"``. Default: no limit.
    min_amount : str, int or Decimal, optional
        Payments carrying less taint than this are not followed: their taint leaves the
        trace as ``"below_min_amount"``. Default 0.01 (follow every cent).
    currency : str, optional
        ISO 4217 code to trace. Default: the source's currency; an account source
        without ``amount`` and with several currencies is traced once per currency.
    rates : table, optional
        Convert instead of tracing per currency: a pyarrow.Table, DataFrame or mapping
        with columns ``from_currency``, ``to_currency``, ``rate`` (units of
        ``to_currency`` per unit of ``from_currency``; str or Decimal for exactness) and
        ``date`` (valid from that date until the next). Every transaction is converted
        into ``currency`` with the latest rate on or before it (an inverse pair is used
        when only that is given); each hop records the rate. Transactions without a
        usable rate are skipped and reported.
    opening_balances : mapping of str to money, optional
        Known opening balances (before the first transaction in the data), by account.
    by_source : bool, default False
        With several tainted transactions, keep each as a separate source and report the
        split in ``hop_sources`` and ``position_sources``. Totals do not change.
    ledger : bool, default False
        Also return the step-by-step ``ledger`` of tainted accounts.

    Returns
    -------
    TraceResult

    Raises
    ------
    TraceError
        Unknown method, bad hop limit or amount, a start not in the data, or an
        ambiguous currency.

    See Also
    --------
    backward : which sources funded a balance or a payment.
    TraceIndex : prepare once, trace many times.

    Notes
    -----
    Complexity: building the index is ``O(n log n)`` for ``n`` transactions (skipped when
    a :class:`TraceIndex` is passed); the walk is ``O(k (log a + p))`` for the ``k``
    payments made by accounts while they hold taint, ``a`` tainted accounts and ``p``
    taint parcels per account (FIFO/LIFO: fragments of taint in the queue; pro-rata and
    LIBR: one per source). Clean payments and deposits of untainted accounts are never
    visited, and clean deposits into tainted accounts only through precomputed balances.

    Conservation holds exactly, per account and per step: tainted received = tainted
    paid out + tainted held; so, per currency, ``totals.tainted == totals.held +
    totals.exited``.

    References
    ----------
    .. [1] Devaynes v Noble; Clayton's Case (1816) 1 Mer 572 (FIFO).
    .. [2] Re Hallett's Estate (1880) 13 Ch D 696 (the wrongdoer spends own money first).
    .. [3] James Roscoe (Bolton) Ltd v Winder [1915] 1 Ch 62 (LIBR).
    .. [4] Barlow Clowes International Ltd v Vaughan [1992] 4 All ER 22 (pro-rata,
       rolling charge).
    .. [5] United States v Banco Cafetero Panama, 797 F.2d 1154 (2d Cir. 1986) (tracing
       rules for forfeiture of commingled funds).

    Examples
    --------
    A deposits 100 of proceeds, receives 50 clean, pays 120 to B (LIBR: clean first, so
    70 of the 120 is tainted), then B pays 100 to C (50 clean first, then 50 tainted).

    >>> import pyarrow as pa
    >>> from decimal import Decimal as D
    >>> tx = schema.conform({"txn_id": ["t1", "t2", "t3", "t4"], "source": ["x"] * 4,
    ...     "source_ref": ["f:1", "f:2", "f:3", "f:4"],
    ...     "timestamp": pa.array([1, 2, 3, 4], pa.timestamp("us", tz="UTC")),
    ...     "amount": [D("100"), D("50"), D("120"), D("100")], "currency": ["EUR"] * 4,
    ...     "from_account": [None, None, "A", "B"], "to_account": ["A", "A", "B", "C"]},
    ...     "transactions")
    >>> r = forward(tx, ["t1"], method="libr")
    >>> r.hops.select(["hop", "from_account", "to_account", "tainted_amount"]).to_pylist()[0]
    {'hop': 1, 'from_account': 'A', 'to_account': 'B', 'tainted_amount': Decimal('70.000')}
    >>> [(p["account"], p["tainted_balance"]) for p in r.positions.to_pylist()]
    [('C', Decimal('50.000')), ('A', Decimal('30.000')), ('B', Decimal('20.000'))]
    >>> forward(tx, ["t1"], method="fifo").positions["tainted_balance"].to_pylist()
    [Decimal('100.000')]
    """
    max_hops, min_cents = _check_common(method, hops, min_amount)
    ix = data if isinstance(data, TraceIndex) else TraceIndex(data)
    t0 = _parse_us(since, "since") if since is not None else None
    t1 = _parse_us(until, "until") if until is not None else None
    if t0 is not None and t1 is not None and t1 < t0:
        raise TraceError("until is before since")
    openings = _openings(ix, opening_balances)
    amount_cents = None if amount is None else _parse_cents(amount, "amount")
    if amount_cents is not None and amount_cents <= 0:
        raise TraceError("amount must be positive")
    assumptions: list[str] = []
    txn_ids = _start_txn_ids(start)
    jobs = []  # (currency, kind, payload)
    if txn_ids is None:
        acct = ix.account_code(start)
        if acct < 0:
            raise TraceError("the start account is in no transaction of the data")
        if amount_cents is None and by_source:
            by_source = False
        mine = (ix.frm == acct) | (ix.to == acct)
        curs = sorted({ix.currencies[c] for c in np.unique(ix.cur[mine]).tolist()})
        if currency is not None:
            curs = [currency]
        elif rates is not None or amount_cents is not None:
            if len(curs) > 1:
                raise TraceError(f"the start account has transactions in several currencies ({', '.join(curs)}); pass currency=")
        for cur in curs:
            jobs.append((cur, "account", acct))
        source_words = (
            f"{_fmt(curs[0], amount_cents)} of the balance of account {start} at {_iso(t0) if t0 is not None else 'the start of the data'}"
            if amount_cents is not None
            else f"account {start} as a proceeds account (its balance at "
            f"{_iso(t0) if t0 is not None else 'the start of the data'} and all it receives later)"
        )
    else:
        if amount is not None:
            raise TraceError("amount is for an account source; a transaction source is tainted in full")
        gpos = ix.position(txn_ids)
        missing = int((gpos < 0).sum())
        if missing:
            assumptions.append(f"{missing} of the {len(txn_ids)} source transaction id(s) are not in the data (or not valid) and were ignored.")
        gpos = np.unique(gpos[gpos >= 0])
        if not len(gpos):
            raise TraceError("none of the source transactions is in the data")
        src_curs = sorted({ix.currencies[c] for c in np.unique(ix.cur[gpos]).tolist()})
        if rates is not None:
            if currency is None and len(src_curs) > 1:
                raise TraceError(f"the source transactions are in several currencies ({', '.join(src_curs)}); pass currency= to convert into")
            jobs.append((currency or src_curs[0], "txns", gpos))
        else:
            for cur in [currency] if currency is not None else src_curs:
                code = ix.currencies.index(cur) if cur in ix.currencies else -2
                jobs.append((cur, "txns", gpos[ix.cur[gpos] == code]))
            if currency is not None:
                other = int((ix.cur[gpos] != (ix.currencies.index(currency) if currency in ix.currencies else -2)).sum())
                if other:
                    assumptions.append(
                        f"{other} source transaction(s) not in {currency} were not traced (currency={currency}, no rates)."
                    )
        source_words = f"{len(gpos)} tainted transaction(s), each tainted in full"
    parts = defaultdict(list)
    for cur, kind, payload in jobs:
        sc = ix.scope(cur, rates=rates, opening=openings)
        end = sc.local_time(t1, "right") - 1 if t1 is not None else sc.n - 1
        if kind == "account":
            acct = payload
            start_l = sc.local_time(t0) if t0 is not None else 0
            start_us = t0 if t0 is not None else (int(sc.t[0]) if sc.n else 0)
            tags = [ix.account_name(acct)]
            off = 0
            if amount_cents is not None and amount_cents % _minor(cur):
                raise TraceError(f"amount has more decimals than {cur} has")
            if amount_cents is not None:
                cin, cout = sc.state_before(acct, start_l)
                if acct in sc.known_opening and amount_cents > cin - cout:
                    raise TraceError("amount exceeds the source account's balance at since, given its stated opening balance")
                off = max(0, amount_cents - (cin - cout))
            initial = [(acct, 0, amount_cents, off)]
            if amount_cents is None:
                inj = sc.receipts(acct, start_l, end)
            else:
                inj = np.zeros(0, np.int64)
            inj_tag = [0] * len(inj)
            record_tags = False
        else:
            loc = np.searchsorted(sc.pos, payload)
            ok = (loc < sc.n) & (sc.pos[np.minimum(loc, max(sc.n - 1, 0))] == payload) if sc.n else np.zeros(len(payload), bool)
            inj = np.sort(loc[ok])
            dropped = int((~ok).sum())
            if dropped:
                assumptions.append(f"{dropped} source transaction(s) have no usable rate into {cur} and were ignored.")
            if t0 is not None:
                inj = inj[sc.t[inj] >= t0]
            inj = inj[inj <= end]
            if not len(inj):
                continue
            start_l = int(inj[0])
            start_us = int(sc.t[start_l])
            if by_source:
                gids = ix.rows(sc.pos[inj], ["txn_id"])["txn_id"].to_pylist()
                tags = gids
                inj_tag = list(range(len(inj)))
            else:
                tags = [f"{len(inj)} source transaction(s)"]
                inj_tag = [0] * len(inj)
            initial = []
            record_tags = by_source
        run = _engine(
            sc,
            method,
            start=start_l,
            end=end,
            initial=initial,
            inject_pos=np.asarray(inj, dtype=np.int64),
            inject_tag=inj_tag,
            max_hops=max_hops,
            min_cents=min_cents,
            record_tags=record_tags,
            record_ledger=ledger,
        )
        pieces = _assemble(sc, run, method, tags, end, start_us, record_tags)
        for name, piece in zip(("hops", "positions", "sources", "exits", "totals", "hop_sources", "position_sources"), pieces):
            parts[name].append(piece)
        if ledger:
            parts["ledger"].append(_ledger_table(sc, run, start_us))
        assumptions.extend(_assumption_lines(sc, run, start_l, end))
        end_us = t1 if t1 is not None else (int(sc.t[-1]) if sc.n else start_us)
        assumptions.extend(_skipped_lines(ix, sc, run.visited, start_us, end_us))
    dropped_total = sum(ix.dropped.values())
    if dropped_total:
        assumptions.append(
            f"{ix.dropped['no_timestamp_or_positive_amount']} transaction(s) without a timestamp or a positive amount "
            f"and {ix.dropped['self_transfer']} self-transfer(s) in the data were left out."
        )
    params = {
        "start": start if isinstance(start, str) else f"{len(txn_ids)} transaction id(s)",
        "source_words": source_words,
        "amount": None if amount_cents is None else str(_dec(amount_cents)),
        "since": _iso(t0) if t0 is not None else None,
        "until": _iso(t1) if t1 is not None else None,
        "hops": max_hops,
        "min_amount": str(_dec(min_cents)),
        "currency": currency,
        "rates": rates is not None,
        "by_source": by_source,
    }
    hop_schema = _HOP_SCHEMA if rates is None else pa.schema(list(_HOP_SCHEMA) + [pa.field(n, t) for n, t in _RATE_FIELDS])
    return TraceResult(
        direction="forward",
        method=method,
        params=params,
        hops=_concat(parts["hops"], hop_schema),
        positions=_sort_positions(_concat(parts["positions"], _POS_SCHEMA)),
        sources=_concat(parts["sources"], _SRC_SCHEMA),
        exits=_concat(parts["exits"], _EXIT_SCHEMA),
        totals=_concat(parts["totals"], _TOTAL_SCHEMA),
        assumptions=assumptions,
        hop_sources=_concat(parts["hop_sources"], _TAGS_SCHEMA["hop"]) if by_source else None,
        position_sources=_concat(parts["position_sources"], _TAGS_SCHEMA["pos"]) if by_source else None,
        ledger=_concat(parts["ledger"], _LEDGER_SCHEMA) if ledger else None,
    )


def _sort_positions(t: pa.Table) -> pa.Table:
    if t.num_rows < 2:
        return t
    return t.take(
        pc.sort_indices(
            t, sort_keys=[("currency", "ascending"), ("tainted_balance", "descending"), ("account", "ascending")]
        )
    )


# ---------------------------------------------------------------------------- backward
def backward(
    data,
    destination: str,
    *,
    at=None,
    txn_id: str | None = None,
    since=None,
    method: str = "fifo",
    hops: int | None = None,
    currency: str | None = None,
    rates=None,
    opening_balances: Mapping[str, Any] | None = None,
    ledger: bool = False,
) -> TraceResult:
    """Which sources funded a balance or a payment, and how much from each.

    The *upstream set* of the destination is found first: the accounts from which money
    could have reached it in time (a payment into an upstream account counts only if
    the account pays on towards the destination later), up to ``hops`` payments away.
    The allocation rule is then replayed forward in time over the upstream accounts,
    exactly as in :func:`forward`, with every receipt of an upstream account tagged by
    its origin: money already tagged keeps its origin; the rest is the payer's own
    funds (what it held before ``since``, by default its opening balance), or money
    from outside the set (an account beyond the hop limit, cash, an unknown payer).
    The destination's balance at ``at`` (or the payment ``txn_id``) is split by origin
    in ``funding``. Under LIBR each account is deemed to spend its own funds first (*Re
    Hallett's Estate*); money it received from others is reduced, in proportion among
    the origins, only when its balance falls below it.

    Parameters
    ----------
    data : Bundle, pyarrow.Table, pandas.DataFrame or TraceIndex
        Canonical ``transactions``; see :func:`forward`.
    destination : str
        Account id whose balance (or payment) is explained.
    at : str, datetime or pandas.Timestamp, optional
        Explain the balance at this time (default: the end of the data).
    txn_id : str, optional
        Explain this payment made by ``destination`` instead (e.g. an asset purchase).
    since : str, datetime or pandas.Timestamp, optional
        Start of the window; balances held then are own funds. Default: the start of
        the data.
    method : {"fifo", "lifo", "pro_rata", "libr"}, default "fifo"
    hops : int, optional
        Largest distance (in payments) of an upstream account from the destination.
    currency : str, optional
        Default: the destination's only currency (else pass one).
    rates, opening_balances, ledger
        As in :func:`forward`.

    Returns
    -------
    TraceResult
        ``funding`` splits the destination amount by origin (summing to it exactly);
        ``hops`` are the payments between upstream accounts that moved identified
        money (``hop``: the payer's distance to the destination); ``sources`` are the
        payments by which money entered the upstream set; ``positions`` the identified
        money each upstream account still holds.

    Raises
    ------
    TraceError
        Unknown method, destination not in the data, ``txn_id`` not a payment by the
        destination, or an ambiguous currency.

    Notes
    -----
    Complexity: the upstream set costs ``O(n)`` per level (vectorised); the replay costs
    as :func:`forward` over the upstream accounts, times the number of origins held per
    account under pro-rata and LIBR.

    References
    ----------
    .. [1] Re Hallett's Estate (1880) 13 Ch D 696.
    .. [2] Barlow Clowes International Ltd v Vaughan [1992] 4 All ER 22.
    .. [3] Foskett v McKeown [2001] 1 AC 102 (tracing into an asset bought with mixed funds).

    Examples
    --------
    >>> import pyarrow as pa
    >>> from decimal import Decimal as D
    >>> tx = schema.conform({"txn_id": ["t1", "t2", "t3"], "source": ["x"] * 3,
    ...     "source_ref": ["f:1", "f:2", "f:3"],
    ...     "timestamp": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
    ...     "amount": [D("60"), D("40"), D("50")], "currency": ["EUR"] * 3,
    ...     "from_account": ["V1", "V2", "H"], "to_account": ["H", "H", "SHOP"]},
    ...     "transactions")
    >>> r = backward(tx, "H", txn_id="t3", method="fifo")
    >>> [(f["origin"], f["kind"], f["amount"]) for f in r.funding.to_pylist()]
    [('V1', 'own_funds', Decimal('50.000'))]
    >>> [(f["origin"], f["amount"]) for f in backward(tx, "H", txn_id="t3", method="pro_rata").funding.to_pylist()]
    [('V1', Decimal('30.000')), ('V2', Decimal('20.000'))]
    """
    max_hops, _ = _check_common(method, hops, None)
    ix = data if isinstance(data, TraceIndex) else TraceIndex(data)
    dest = ix.account_code(destination)
    if dest < 0:
        raise TraceError("the destination account is in no transaction of the data")
    if at is not None and txn_id is not None:
        raise TraceError("pass at or txn_id, not both")
    t0 = _parse_us(since, "since") if since is not None else None
    t_at = _parse_us(at, "at") if at is not None else None
    openings = _openings(ix, opening_balances)
    gcap = -1
    if txn_id is not None:
        g = ix.position([txn_id])[0]
        if g < 0 or ix.frm[g] != dest:
            raise TraceError("txn_id is not a valid payment made by the destination account")
        gcap = int(g)
    if currency is None:
        if gcap >= 0 and rates is None:
            currency = ix.currencies[ix.cur[gcap]]
        else:
            mine = (ix.frm == dest) | (ix.to == dest)
            curs = sorted({ix.currencies[c] for c in np.unique(ix.cur[mine]).tolist()})
            if len(curs) > 1:
                raise TraceError(f"the destination has transactions in several currencies ({', '.join(curs)}); pass currency=")
            currency = curs[0]
    sc = ix.scope(currency, rates=rates, opening=openings)
    start_l = sc.local_time(t0) if t0 is not None else 0
    if gcap >= 0:
        cap = sc.local(gcap)
        if cap >= sc.n or sc.pos[cap] != gcap:
            raise TraceError("txn_id has no usable rate into the trace currency")
        end = cap
        cutoff = cap  # inflows strictly before the payment
    else:
        cap = -1
        end = sc.local_time(t_at, "right") - 1 if t_at is not None else sc.n - 1
        cutoff = end + 1
    # upstream set: deadline = latest local position before which money must arrive
    na = len(ix.accounts)
    dl = np.full(na + 1, -1, dtype=np.int64)  # slot na: "no account"
    level = np.full(na + 1, -1, dtype=np.int64)
    dl[dest] = cutoff
    level[dest] = 0
    loc = np.arange(sc.n, dtype=np.int64)
    frm_s = np.where(sc.frm >= 0, sc.frm, na)
    to_s = np.where(sc.to >= 0, sc.to, na)
    base_ok = (sc.frm >= 0) & (sc.to >= 0) & (loc >= start_l)
    lev = 0
    while max_hops is None or lev < max_hops:
        lev += 1
        cand = base_ok & (loc < dl[to_s])
        new = np.full(na + 1, -1, dtype=np.int64)
        np.maximum.at(new, frm_s[cand], loc[cand])
        better = new > dl
        better[na] = False
        if not better.any():
            break
        level[better & (level < 0)] = lev
        dl = np.maximum(dl, new)
        dl[na] = -1
    allowed = dl[:na] >= 0
    # Every receipt of an upstream account is attributed to its payer: the part not
    # already attributed (for an upstream payer: its own funds, i.e. what it held
    # before the window) takes the payer as origin.
    ins = (loc >= start_l) & (loc <= end) & (sc.to >= 0)
    ins &= allowed[np.where(sc.to >= 0, sc.to, 0)]
    inj = loc[ins]
    g_inj = sc.pos[inj]
    payer = sc.frm[inj]
    inj_rows = ix.rows(g_inj, ["from_account", "channel"])
    labels_from = inj_rows["from_account"].to_pylist()
    chan = inj_rows["channel"].to_pylist()
    labels = [f if f is not None else f"(outside the data: {c or 'unknown channel'})" for f, c in zip(labels_from, chan)]
    kinds = {}
    for lab, pay in zip(labels, payer.tolist()):
        kinds[lab] = "external" if pay < 0 else ("own_funds" if allowed[pay] else "inflow")
    tags = sorted(set(labels))
    tag_id = {t: i for i, t in enumerate(tags)}
    run = _engine(
        sc,
        method,
        start=start_l,
        end=end,
        initial=[],
        inject_pos=inj,
        inject_tag=[tag_id[lab] for lab in labels],
        max_hops=None,
        min_cents=1,
        allowed=allowed,
        levels=level[:na],
        record_ledger=ledger,
        capture=cap,
    )
    for a in run.held:
        run.depth[a] = int(level[a])
    start_us = t0 if t0 is not None else (int(sc.t[0]) if sc.n else 0)
    hop_t, pos_t, src_t, exit_t, totals, _, _ = _assemble(sc, run, method, tags, end, start_us, False)
    # funding of the destination
    if cap >= 0:
        comp = run.captured or {}
        total = int(sc.amt[cap])
    else:
        comp = run.by_tag.get(dest, {})
        cin, cout = sc.state_before(dest, end + 1)
        total = cin - cout
    acc: dict = {}
    for g, v in comp.items():
        if v:
            acc[tags[g]] = acc.get(tags[g], 0) + v
    own = total - sum(acc.values())
    if own:
        acc[destination] = acc.get(destination, 0) + own
        kinds[destination] = "own_funds"
    rows = [(o, kinds[o], v) for o, v in acc.items()]
    rows.sort(key=lambda r: (-r[2], r[0]))
    funding = pa.Table.from_pydict(
        {
            "origin": pa.array([r[0] for r in rows], pa.string()),
            "kind": pa.array([r[1] for r in rows], pa.string()),
            "amount": schema.from_cents([r[2] for r in rows]),
            "share": pa.array([r[2] / total if total else float("nan") for r in rows], pa.float64()),
            "currency": pa.array([currency] * len(rows), pa.string()),
        },
        schema=_FUND_SCHEMA,
    )
    assumptions = _assumption_lines(sc, run, start_l, end)
    end_us = int(sc.t[end]) if 0 <= end < sc.n else start_us
    assumptions.extend(_skipped_lines(ix, sc, run.visited | {dest}, start_us, end_us))
    assumptions.append(
        f"{currency}: the upstream set has {int(allowed.sum())} account(s)"
        + (f" within {max_hops} hop(s)" if max_hops is not None else "")
        + "; money entering it from elsewhere is attributed to its immediate origin."
    )
    what = (
        f"payment {txn_id} by account {destination}"
        if txn_id is not None
        else f"balance of account {destination} at {_iso(t_at) if t_at is not None else 'the end of the data'}"
    )
    params = {
        "destination": destination,
        "source_words": what,
        "destination_cents": {currency: total},
        "upstream_accounts": int(allowed.sum()),
        "at": _iso(t_at) if t_at is not None else None,
        "txn_id": txn_id,
        "since": _iso(t0) if t0 is not None else None,
        "until": _iso(int(sc.t[end])) if 0 <= end < sc.n else None,
        "hops": max_hops,
        "currency": currency,
        "rates": rates is not None,
    }
    return TraceResult(
        direction="backward",
        method=method,
        params=params,
        hops=hop_t,
        positions=_sort_positions(pos_t),
        sources=src_t,
        exits=exit_t,
        totals=totals,
        assumptions=assumptions,
        funding=funding,
        ledger=_ledger_table(sc, run, start_us) if ledger else None,
    )
