"""The walk: one loop, forward in time, over the payments of accounts that hold taint.

Every allocation rule runs through :func:`walk`; what a payment carries and where it
lands is the allocation object's business (:mod:`followmoney.trace._allocation`). The
walk keeps what is the same for every rule: which payment comes next (a heap of the next
payment of each tainted account, merged with the tainted transactions still to inject),
each account's tainted cents and depth, hops, stops (hop limit, minimum amount, cash
out, outside the upstream set), exits and the ledger.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from followmoney.trace._common import _BIG

__all__ = ["walk"]


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


def _stop(y: int, hop: int, ctotal: int, is_inj: bool, allowed, max_hops, min_cents) -> str | None:
    """Why taint carried by a payment to ``y`` at ``hop`` is not followed (None: it is)."""
    if y < 0:
        return "external"
    if allowed is not None and not allowed[y]:
        return "outside_upstream"
    if not is_inj:
        if max_hops is not None and hop > max_hops:
            return "hop_limit"
        if ctotal < min_cents:
            return "below_min_amount"
    return None


def walk(
    sc,
    alloc,
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

    Parameters
    ----------
    sc : followmoney.trace._index._Scope
        One currency's transactions with precomputed balances.
    alloc : Fifo, Lifo, Tags or OneTag
        The allocation rule's state (:func:`followmoney.trace._allocation.allocation`).
    start, end : int
        Local positions of the first and last transaction replayed.
    initial : list of tuple
        ``(account, tag, cents or None, offset)`` made tainted just before ``start``
        (None: the whole balance; offset: cents added to the account's opening balance
        where the tainted amount exceeds what the data show).
    inject_pos, inject_tag : array of int, list of int
        Transactions (sorted local positions) whose whole amount is deemed tainted with
        that tag on arrival.
    max_hops : int or None
        Hop limit (forward only).
    min_cents : int
        Payments carrying fewer tainted cents are not followed.
    allowed : array of bool, optional
        Backward: the upstream set; taint paid outside it stops.
    levels : array of int, optional
        Backward: each account's distance to the destination, used as the hop number.
    record_tags, record_ledger : bool
        Keep the split by tag of each hop; keep the ledger rows.
    capture : int
        Local position of a payment whose split by tag is kept in ``captured``.

    Returns
    -------
    _Run
        Hops, sources, exits, what each account holds (in total and by tag), depths,
        ledger rows, in local positions and tag ids; amounts in int cents.
    """
    run = _Run()
    f = sc.fast()
    amt, frm, to = f["amt"], f["frm"], f["to"]
    bal_from, bal_to = f["bal_from"], f["bal_to"]
    next_from, next_to = f["next_from"], f["next_to"]
    held, depth, offsets, visited = run.held, run.depth, run.offsets, run.visited
    heap: list = []  # local positions of the next payment of each tainted account
    push, pop = heapq.heappush, heapq.heappop
    hop_pos, hop_num, hop_taint, hop_stop, hop_tags = run.hop_pos, run.hop_num, run.hop_taint, run.hop_stop, run.hop_tags
    exits, ledger = run.exits, run.ledger
    take, receive, inject = alloc.take, alloc.receive, alloc.inject
    # hop rules that need more than the hop limit and the minimum amount
    plain = allowed is None
    inf = _BIG

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
        alloc.seed(acct, tag, taint, cin, bal)
        visited.add(acct)
        q = sc.next_out(acct, start - 1)
        if q >= 0:
            push(heap, q)
        depth[acct] = 0
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
        if ph == p:  # a payment by a tainted account: the rule says what it carries
            pop(heap)
            x = frm[p]
            ox = offsets.get(x, 0) if offsets else 0
            t_ = held[x]
            ctotal, segs = take(x, p, a, t_, ox)
            left = t_ - ctotal
            if record_ledger:
                ledger.append((p, x, "out", left, bal_from[p] + ox - a))
            if left:
                held[x] = left
                q = next_from[p]
                if q >= 0:
                    push(heap, q)
            else:
                alloc.drop(x)
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
            if plain and y >= 0 and (is_inj or ((max_hops is None or hop <= max_hops) and ctotal >= min_cents)):
                stop = None
            else:
                stop = _stop(y, hop, ctotal, is_inj, allowed, max_hops, min_cents)
            row = len(hop_pos)
            hop_pos.append(p)
            hop_num.append(hop)
            hop_taint.append(ctotal)
            hop_stop.append(stop)
            if record_tags or p == capture:
                totals = alloc.carried(segs, ctotal)
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
                segs = inject(segs, a, tag, fresh)
                ctotal = a
                run.src.append((p, y, tag, fresh))
                if y < 0:
                    e_ = exits["external"]
                    e_[0] += fresh
                    e_[1] += 1
                    segs = None
                    ctotal = 0
        if ctotal and y >= 0:  # the payee receives taint
            oy = offsets.get(y, 0) if offsets else 0
            if y in held:
                held[y] += ctotal
            else:
                held[y] = ctotal
                visited.add(y)
                q = next_to[p]
                if q >= 0:
                    push(heap, q)
            receive(y, p, segs, oy)
            if levels is None:
                d = 0 if is_inj else hop
                if d < depth.get(y, inf):
                    depth[y] = d
            if record_ledger:
                ledger.append((p, y, "in", held[y], bal_to[p] + oy + a))
        elif record_ledger and y >= 0 and y in held:
            ledger.append((p, y, "in", held[y], bal_to[p] + offsets.get(y, 0) + a))
    run.by_tag = alloc.holdings(held)
    return run
