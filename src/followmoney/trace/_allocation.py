"""Allocation rules as state: which part of a mixed balance a payment is deemed to carry.

One small class per rule, all with the same operations, so that one walk
(:func:`followmoney.trace._engine.walk`) serves every rule:

``seed(acct, tag, taint, cin, bal)``
    Make ``taint`` cents of ``acct``'s balance tainted with ``tag`` (the most recently
    received part of it: ``cin`` is the account's opening balance plus receipts so far,
    ``bal`` its balance).
``take(x, p, a, held, off) -> (cents, parcels)``
    Payment at local position ``p`` of ``a`` cents by ``x``, which holds ``held``
    tainted cents (``off``: the account's assumed extra opening balance): remove what
    the rule says the payment carries from ``x``'s state and return it.
``drop(x)``
    ``x`` holds no taint any more.
``inject(parcels, a, tag, fresh) -> parcels``
    The payment becomes tainted in full with ``tag``: the ``fresh`` cents not already
    carried are added to ``parcels``.
``receive(y, p, parcels, off)``
    Payee ``y`` of the payment at ``p`` gets ``parcels``.
``carried(parcels, cents) -> {tag: cents}`` and ``holdings(held) -> {acct: {tag: cents}}``
    Totals by tag of what a payment carries, and of what every account holds.

Clean money is never stored: :class:`~followmoney.trace._index._Scope` precomputes every
account's balance, cumulative receipts and payments, so clean deposits into a tainted
account move the taint's place on the axes without being visited. All amounts are int
thousandths of the currency unit (named cents for short); nothing here is a float.
"""

from __future__ import annotations

from collections import defaultdict, deque

from followmoney.trace._common import _minor

__all__ = ["Fifo", "Lifo", "OneTag", "Tags", "allocation"]


def _hamilton(total: int, parts: dict, unit: int = 1) -> dict:
    """Split ``total`` over ``parts`` (tag -> amount) in proportion, exactly, in whole ``unit``s.

    Largest-remainder (Hamilton) method: floors first, then one minor unit (``unit``
    thousandths: a cent, a fils) each to the largest remainders, ties to the smaller tag.
    Each share is at most its part.

    Examples
    --------
    >>> _hamilton(70, {1: 10, 2: 10, 3: 10}, 10)  # 7 cents over three equal parts, in whole cents
    {1: 30, 2: 20, 3: 20}
    >>> _hamilton(70, {1: 10, 2: 10, 3: 10})  # in thousandths
    {1: 24, 2: 23, 3: 23}
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


def _interval_totals(segs) -> dict:
    out: dict = defaultdict(int)
    for s, e, g in segs:
        out[g] += e - s
    return dict(out)


class _Intervals:
    """Shared by FIFO and LIFO: parcels are ``(start, end, tag)`` intervals of cents."""

    def __init__(self, sc) -> None:
        f = sc.fast()
        self.cout_from, self.bal_from, self.cin_to, self.bal_to = f["cout_from"], f["bal_from"], f["cin_to"], f["bal_to"]
        self.state: dict = {}

    def drop(self, x: int) -> None:
        del self.state[x]

    def inject(self, segs, a: int, tag: int, fresh: int) -> list:
        """The payment's carried intervals with the gaps (its clean part) filled by ``tag``."""
        full = []
        cursor = 0
        for s, e, g in segs or ():
            if s > cursor:
                full.append((cursor, s, tag))
            full.append((s, e, g))
            cursor = e
        if cursor < a:
            full.append((cursor, a, tag))
        return full

    def _put(self, y: int, base: int, segs) -> None:
        st = self.state.get(y)
        if st is None:
            self.state[y] = st = self._new()
        for s, e, g in segs:
            s += base
            e += base
            if st and st[-1][1] == s and st[-1][2] == g:
                st[-1][1] = e
            else:
                st.append([s, e, g])

    def carried(self, segs, cents: int) -> dict:
        return _interval_totals(segs)

    def holdings(self, held: dict) -> dict:
        return {acct: _interval_totals(st) for acct, st in self.state.items()}


class Fifo(_Intervals):
    """First in, first out: a deque of ``[start, end, tag]`` on the account's cumulative-receipt axis.

    A payment takes ``[payments before it, + amount)`` of that axis; a receipt of taint
    occupies ``[opening + receipts before it, + amount)``.
    """

    _new = deque

    def seed(self, acct: int, tag: int, taint: int, cin: int, bal: int) -> None:
        self.state[acct] = deque([[cin - taint, cin, tag]])

    def take(self, x: int, p: int, a: int, held: int, off: int):
        st = self.state[x]
        co = self.cout_from[p]
        hi = co + a
        segs = []
        ctotal = 0
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
        return ctotal, segs

    def receive(self, y: int, p: int, segs, off: int) -> None:
        self._put(y, self.cin_to[p] + off, segs)


class Lifo(_Intervals):
    """Last in, first out: a stack of ``[low, high, tag]`` intervals of balance height.

    A payment takes the top ``[balance - amount, balance)``; a receipt of taint lands on
    ``[balance before it, + amount)``.
    """

    _new = list

    def seed(self, acct: int, tag: int, taint: int, cin: int, bal: int) -> None:
        self.state[acct] = [[bal - taint, bal, tag]]

    def take(self, x: int, p: int, a: int, held: int, off: int):
        st = self.state[x]
        cut = self.bal_from[p] - a + off
        segs = []
        ctotal = 0
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
        return ctotal, segs

    def receive(self, y: int, p: int, segs, off: int) -> None:
        self._put(y, self.bal_to[p] + off, segs)


def _share(prorata: bool, held: int, a: int, bal: int, unit: int = 1) -> int:
    """Tainted amount of a payment of ``a`` from a balance ``bal`` holding ``held`` tainted.

    Pro-rata: the tainted share of the balance, rounded down to whole minor units of the
    currency (``unit`` thousandths: a cent, a fils, a yen). LIBR: only what the clean part
    ``bal - held`` cannot cover (clean money is spent first).

    Examples
    --------
    >>> _share(True, 1000, 1000, 3000, 10), _share(True, 1000, 1000, 3000, 1000)
    (330, 0)
    """
    if prorata:
        return held * a // bal // unit * unit
    clean = bal - held
    return a - clean if a > clean else 0


class Tags:
    """Pro-rata and LIBR with several sources: ``{tag: cents}`` per account.

    A payment's tainted cents (:func:`_share`) are split among the account's tags by
    :func:`_hamilton` (largest remainder, ties to the smaller tag).
    """

    def __init__(self, sc, prorata: bool) -> None:
        self.bal_from = sc.fast()["bal_from"]
        self.prorata = prorata
        self.unit = _minor(sc.currency)  # pro-rata shares are whole minor units of the currency
        self.state: dict = {}

    def seed(self, acct: int, tag: int, taint: int, cin: int, bal: int) -> None:
        self.state[acct] = {tag: taint}

    def take(self, x: int, p: int, a: int, held: int, off: int):
        ctotal = _share(self.prorata, held, a, self.bal_from[p] + off, self.unit)
        if not ctotal:
            return 0, None
        st = self.state[x]
        segs = _hamilton(ctotal, st, self.unit)
        for g, v in segs.items():
            left = st[g] - v
            if left:
                st[g] = left
            else:
                del st[g]
        return ctotal, segs

    def drop(self, x: int) -> None:
        del self.state[x]

    def inject(self, segs, a: int, tag: int, fresh: int) -> dict:
        segs = dict(segs or {})
        segs[tag] = segs.get(tag, 0) + fresh
        return segs

    def receive(self, y: int, p: int, segs, off: int) -> None:
        st = self.state.get(y)
        if st is None:
            self.state[y] = st = {}
        for g, v in segs.items():
            st[g] = st.get(g, 0) + v

    def carried(self, segs, cents: int) -> dict:
        return dict(segs)

    def holdings(self, held: dict) -> dict:
        return {acct: dict(st) for acct, st in self.state.items()}


class OneTag:
    """Pro-rata and LIBR with one source: the state is the account's tainted cents alone.

    The walk's ``held`` (account -> tainted cents) is the whole state, so ``take`` only
    computes the share and ``receive`` has nothing to store.
    """

    def __init__(self, sc, prorata: bool, tag: int = 0) -> None:
        self.bal_from = sc.fast()["bal_from"]
        self.prorata = prorata
        self.unit = _minor(sc.currency)
        self.tag = tag

    def seed(self, acct: int, tag: int, taint: int, cin: int, bal: int) -> None:
        pass

    def take(self, x: int, p: int, a: int, held: int, off: int):
        return _share(self.prorata, held, a, self.bal_from[p] + off, self.unit), None

    def drop(self, x: int) -> None:
        pass

    def inject(self, segs, a: int, tag: int, fresh: int) -> None:
        return None

    def receive(self, y: int, p: int, segs, off: int) -> None:
        pass

    def carried(self, segs, cents: int) -> dict:
        return {self.tag: cents}

    def holdings(self, held: dict) -> dict:
        return {acct: {self.tag: v} for acct, v in held.items()}


def allocation(method: str, sc, tags_used):
    """The allocation state for ``method`` over scope ``sc``.

    Parameters
    ----------
    method : {"fifo", "lifo", "pro_rata", "libr"}
    sc : followmoney.trace._index._Scope
        The scope whose precomputed per-transaction arrays the rule reads.
    tags_used : iterable of int
        Every tag the walk can meet; with one tag, pro-rata and LIBR keep one integer
        per account (:class:`OneTag`).

    Returns
    -------
    Fifo, Lifo, Tags or OneTag
    """
    if method == "fifo":
        return Fifo(sc)
    if method == "lifo":
        return Lifo(sc)
    prorata = method == "pro_rata"
    used = set(tags_used)
    if len(used) <= 1:
        return OneTag(sc, prorata, next(iter(used), 0))
    return Tags(sc, prorata)
