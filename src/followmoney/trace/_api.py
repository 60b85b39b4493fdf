"""Forward and backward traces: checking the request, choosing the rule, walking, assembling."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from followmoney.core import schema
from followmoney.exceptions import TraceError
from followmoney.trace._allocation import allocation
from followmoney.trace._common import METHODS, _dec, _fmt, _iso, _minor, _parse_cents, _parse_us
from followmoney.trace._engine import walk
from followmoney.trace._index import TraceIndex
from followmoney.trace._result import (
    _EXIT_SCHEMA,
    _FUND_SCHEMA,
    _HOP_SCHEMA,
    _LEDGER_SCHEMA,
    _POS_SCHEMA,
    _RATE_FIELDS,
    _SRC_SCHEMA,
    _TAGS_SCHEMA,
    _TOTAL_SCHEMA,
    TraceResult,
    _assemble,
    _assumption_lines,
    _concat,
    _ledger_table,
    _skipped_lines,
    _sort_positions,
)

__all__ = ["backward", "forward"]


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
        run = walk(
            sc,
            allocation(method, sc, [i[1] for i in initial] + inj_tag),
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
    inj_tag = [tag_id[lab] for lab in labels]
    run = walk(
        sc,
        allocation(method, sc, inj_tag),
        start=start_l,
        end=end,
        initial=[],
        inject_pos=inj,
        inject_tag=inj_tag,
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
