"""Injectors of the money-laundering typologies ML-01 ... ML-20.

Each ``_mlNN(w, p)`` takes accounts from the world ``w``, records them as members of
pattern ``p`` and appends the pattern's transactions; shapes and parameters are those
of :data:`followmoney.datasets.synth.TYPOLOGIES`. ``_forward`` passes an inflow on.
"""

from __future__ import annotations

import math

import numpy as np

from followmoney.core.config import country_lists
from followmoney.datasets.synth._reference import _FAMILY, _N_REGIONS, _REMIT_COUNTRIES
from followmoney.datasets.synth._spend import _card_events


def _forward(w, p, src, dst_list, day, hour, cents, gap_h=(2, 30), share=(0.95, 0.99), chan="transfer"):
    """``src`` passes ``share`` of ``cents`` on to ``dst_list`` (split) ``gap_h`` hours after (day, hour)."""
    rng = w.rng
    total = int(cents * rng.uniform(*share))
    k = len(dst_list)
    split = rng.dirichlet(np.full(k, 4.0)) if k > 1 else np.ones(1)
    parts = np.floor(split * total).astype(np.int64)
    parts[-1] = total - parts[:-1].sum()
    h = hour + rng.uniform(*gap_h, k)
    w.tx.add(src, np.asarray(dst_list), day, h, parts, chan, pattern=p)
    return day, h


def _ml01(w, p):
    s = w.take(1)
    w.member(p, s, "subject", True)
    episodes = 2 if w.n_days >= 30 else 1
    d0 = w.window(5 + (12 if episodes == 2 else 0))
    for e in range(episodes):
        k = int(w.rng.integers(4, 7))
        days = d0 + 12 * e + np.sort(w.rng.integers(0, 5, k))
        cents = w.of_T(0.85, 0.99, k, round_to=10 * w.unit)
        w.tx.add(-1, s[0], days, w.hours(k, 9, 17), cents, "cash_deposit", pattern=p,
                 loc=w.locations(np.full(k, w.region[s[0]]), "BR"), conductor=s[0], fparty=s[0],
                 desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ml02(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    n_days = int(rng.integers(2, 4))
    conductors = [w.new_party(w.region[s]) for _ in range(6)]
    w.member_party(p, conductors, "conductor")
    d0 = w.window(3 * n_days + 2)
    for d in range(n_days):
        k = int(rng.integers(4, 7))
        who = rng.permutation(conductors)[:k]
        region = np.where(rng.random(k) < 0.6, w.region[s], rng.integers(0, _N_REGIONS, k))
        atm = rng.random(k) < 0.5
        loc = np.where(atm, w.locations(region, "ATM"), w.locations(region, "BR"))
        loc = np.unique(loc)
        while len(loc) < k:
            loc = np.unique(np.r_[loc, w.locations(rng.integers(0, _N_REGIONS, k), "BR")])
        loc = rng.permutation(loc)[:k]
        w.tx.add(-1, s, d0 + 3 * d, w.hours(k, 9, 17), w.of_T(0.25, 0.45, k, round_to=10 * w.unit), "cash_deposit",
                 pattern=p, loc=loc, fparty=who, conductor=who, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ml03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    conductors = [w.new_party(w.region[s]) for _ in range(int(rng.integers(2, 4)))]
    w.member_party(p, conductors, "conductor")
    away = np.array([r for r in range(_N_REGIONS) if r != w.region[s]])
    d = w.window(30)
    for _ in range(2):
        k = int(rng.integers(3, 6))
        regions = rng.choice(away, k, replace=False)
        days = d + np.sort(rng.integers(0, 4, k))
        cents = w.of_T(0.15, 0.35, k, round_to=10 * w.unit)
        who = rng.choice(conductors, k)
        w.tx.add(-1, s, days, w.hours(k, 9, 17), cents, "cash_deposit", pattern=p, loc=w.locations(regions, "BR"),
                 fparty=who, conductor=who, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip
        out_region = int(rng.choice([r for r in range(_N_REGIONS) if r not in set(regions.tolist())]))
        total = int(cents.sum() * rng.uniform(0.85, 0.95))
        m = max(1, math.ceil(total / (0.9 * w.T)))
        parts = np.full(m, total // m)
        parts[0] += total - parts.sum()
        hours = 17 + rng.uniform(12, 48) + np.arange(m) * rng.uniform(1, 4)
        w.tx.add(s, -1, int(days.max()), hours, parts, "cash_withdrawal", pattern=p,
                 loc=w.locations(np.full(m, out_region), "BR"), tparty=-1, desc=w.desc.code("CASH WITHDRAWAL"))  # fmt: skip
        d += int(rng.integers(10, 14))


def _ml04(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    src = w.take(2)
    dst = w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, src, "member", False)
    w.member(p, dst, "member", False)
    day = w.window(22)
    for e in range(3):
        cents = int(w.of_T(0.6, 1.5, 1, round_to=w.unit)[0])
        h = float(rng.uniform(9, 16))
        w.tx.add(src[e % 2], s, day, h, cents, "transfer", pattern=p)
        k = int(rng.integers(1, 3))
        _forward(w, p, s, dst[:k], day, h, cents)
        day += int(rng.integers(4, 10))


def _ml05(w, p):
    rng = w.rng
    s = w.take(1)[0]
    k = int(rng.integers(11, 15))
    senders = w.take(k)
    out = w.take(1)
    w.member(p, s, "subject", True)
    w.member(p, senders, "member", False)
    w.member(p, out, "member", False)
    d0 = w.window(12)
    days = d0 + rng.integers(0, 6, k)
    cents = w.of_T(0.05, 0.2, k)
    w.tx.add(senders, s, days, w.hours(k, 8, 22), cents, "transfer", pattern=p)
    last = int(days.max())
    _forward(w, p, s, np.repeat(out, int(rng.integers(1, 3))), last + int(rng.integers(1, 6)), 10.0,
             int(cents.sum()), gap_h=(0, 6), share=(0.8, 0.95))  # fmt: skip


def _ml06(w, p):
    rng = w.rng
    s = w.take(1)[0]
    src = w.take(1)
    k = int(rng.integers(11, 15))
    ben = w.take(k)
    w.member(p, s, "subject", True)
    w.member(p, src, "member", False)
    w.member(p, ben, "member", False)
    d0 = w.window(9)
    cents = int(w.of_T(1.0, 2.5, 1, round_to=w.unit)[0])
    w.tx.add(src[0], s, d0, 10.0, cents, "wire", pattern=p)
    parts = np.floor(rng.dirichlet(np.full(k, 5.0)) * cents * rng.uniform(0.85, 0.95)).astype(np.int64)
    w.tx.add(s, ben, d0 + 1 + rng.integers(0, 6, k), w.hours(k, 8, 20), parts, "transfer", pattern=p)


def _ml07(w, p):
    rng = w.rng
    a, b = w.take(2)
    k = int(rng.integers(5, 7))
    mid = w.take(k)
    w.member(p, [a, b], "subject", True)
    w.member(p, mid, "member", False)
    d0 = w.window(9)
    for i in mid:
        cents = int(w.of_T(0.3, 0.8, 1, round_to=w.unit)[0])
        d = d0 + int(rng.integers(0, 2))
        h = float(rng.uniform(9, 17))
        w.tx.add(a, i, d, h, cents, "transfer", pattern=p)
        _forward(w, p, i, [b], d, h, cents, gap_h=(24, 96), share=(0.92, 0.97))


def _ml08(w, p):
    rng = w.rng
    hub = w.take(1)[0]
    k_in, k_out = int(rng.integers(4, 7)), int(rng.integers(4, 7))
    senders, receivers = w.take(k_in), w.take(k_out)
    w.member(p, hub, "subject", True)
    w.member(p, senders, "member", False)
    w.member(p, receivers, "member", False)
    d0 = w.window(10)
    cents = w.of_T(0.15, 0.5, k_in, round_to=w.unit)
    w.tx.add(senders, hub, d0 + rng.integers(0, 4, k_in), w.hours(k_in, 9, 18), cents, "transfer", pattern=p)
    total = int(cents.sum() * rng.uniform(0.88, 0.95))
    parts = np.floor(rng.dirichlet(np.full(k_out, 5.0)) * total).astype(np.int64)
    w.tx.add(hub, receivers, d0 + 4 + rng.integers(0, 6, k_out), w.hours(k_out, 9, 18), parts, "transfer", pattern=p)


def _ml09(w, p):
    rng = w.rng
    k = int(rng.integers(4, 7))
    ring = w.take(k)
    w.bank[ring] = rng.permutation(np.arange(k) % 5)
    w.member(p, ring, "subject", True)
    d = w.window(4 * k + 1)
    cents = int(w.of_T(0.5, 2.0, 1, round_to=w.unit)[0])
    h = float(rng.uniform(9, 17))
    for i in range(k):
        w.tx.add(ring[i], ring[(i + 1) % k], d, h, cents, "transfer" if i % 2 else "wire", pattern=p)
        cents = int(cents * rng.uniform(0.95, 0.99))
        d += int(rng.integers(1, 5))
        h = float(rng.uniform(9, 17))


def _ml10(w, p):
    rng = w.rng
    orig, ben = w.take(3, quiet=True), w.take(3, quiet=True)  # shell / mule accounts
    w.member(p, np.r_[orig, ben], "subject", True)
    d0 = w.window(10)
    o, b = np.repeat(orig, 3), np.tile(ben, 3)
    w.tx.add(o, b, d0 + rng.integers(0, 10, 9), w.hours(9, 9, 18), w.of_T(0.1, 0.3, 9), "transfer", pattern=p)


def _ml11(w, p):
    rng = w.rng
    t1, t2, t3 = w.take(3, quiet=True), w.take(3, quiet=True), w.take(3, quiet=True)  # shell / mule accounts
    w.member(p, np.r_[t1, t2, t3], "subject", True)
    d0 = w.window(9)
    c = w.of_T(0.1, 0.3, 9)
    w.tx.add(np.repeat(t1, 3), np.tile(t2, 3), d0 + rng.integers(0, 4, 9), w.hours(9, 9, 18), c, "transfer", pattern=p)
    got = np.bincount(np.tile(np.arange(3), 3), weights=c, minlength=3)
    out = np.floor(np.repeat(got / 3, 3) * rng.uniform(0.95, 0.99, 9)).astype(np.int64)
    w.tx.add(np.repeat(t2, 3), np.tile(t3, 3), d0 + 4 + rng.integers(0, 5, 9), w.hours(9, 9, 18), out, "transfer",
             pattern=p)  # fmt: skip


def _ml12(w, p):
    rng = w.rng
    k = int(rng.integers(5, 7))
    hops = w.take(k)
    end = w.take_foreign([c for c, _ in _REMIT_COUNTRIES[:8]])
    w.bank[hops] = rng.permutation(np.arange(k) % 5)
    w.member(p, hops, "subject", True)
    w.member(p, end, "member", False)
    chain = list(hops) + [end]
    d = w.window(2 + k * 2)
    h = float(rng.uniform(9, 15))
    cents = int(w.of_T(1.0, 3.0, 1, round_to=w.unit)[0])
    for i in range(len(chain) - 1):
        last = i == len(chain) - 2
        w.tx.add(chain[i], chain[i + 1], d, h, cents, "wire" if last or i % 2 else "transfer", pattern=p)
        cents = int(cents * rng.uniform(0.95, 0.99))
        h += float(rng.uniform(6, 40))


def _ml13(w, p):
    rng = w.rng
    s = w.take(1)[0]
    listed = country_lists()["fatf_call_for_action"]["countries"]
    ben = [w.take_foreign(listed) for _ in range(int(rng.integers(2, 4)))]
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    k = int(rng.integers(4, 7))
    d0 = w.window(25)
    w.tx.add(s, rng.choice(ben, k), d0 + np.sort(rng.integers(0, 25, k)), w.hours(k, 9, 17),
             w.of_T(0.1, 0.4, k, round_to=w.unit), "wire", pattern=p, desc=w.desc.code("INTERNATIONAL TRANSFER"))  # fmt: skip


def _ml15(w, p):
    rng = w.rng
    members = w.take(int(rng.integers(3, 5)))
    w.member(p, members, "subject", True)
    fam = rng.permutation(len(_FAMILY))[: len(members)]
    w.family[members] = fam
    w.household[members] = -1
    w.address_key[members] = members
    w.phone_of[members] = members[0]
    # the others pay the herder a fee, once
    k = len(members) - 1
    w.tx.add(members[1:], members[0], w.window(20) + rng.integers(0, 20, k), w.hours(k, 9, 20),
             w.of_T(0.02, 0.05, k, round_to=w.unit), "transfer", pattern=p, desc=w.desc.code("TRANSFER"))  # fmt: skip


def _ml17(w, p):
    rng = w.rng
    t2 = int(w.j.secondary_threshold * 100)
    s = w.take(1)[0]
    ben = w.take(int(rng.integers(2, 4)))
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    d = w.window(30)
    unit = 100 * w.unit
    for _ in range(2):
        k = int(rng.integers(4, 7))
        cents = (rng.uniform(0.86, 0.995, k) * t2 // unit * unit).astype(np.int64)
        w.tx.add(s, rng.choice(ben, k), d + np.sort(rng.integers(0, 6, k)), w.hours(k, 9, 17), cents, "wire",
                 pattern=p, desc=w.desc.code("TRANSFER"))  # fmt: skip
        d += int(rng.integers(10, 14))


def _ml14(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    w.opened_day[s] = -int(rng.integers(2 * 365, 6 * 365))
    src, dst = w.take(2), w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, np.r_[src, dst], "member", False)
    k = int(rng.integers(3, 6))
    pre_days = rng.integers(0, 10, k)
    kinds = rng.integers(0, 2, k)
    for d, kind in zip(pre_days, kinds):
        if kind == 0:
            _card_events(w, np.array([s]), np.array([w.mcc_codes.index("5411")]), np.array([d]), pattern=p)
        else:
            w.tx.add(s, -1, int(d), float(rng.uniform(9, 20)), w.usd(rng.choice([40, 60, 100])), "atm", pattern=p,
                     loc=w.locations(np.array(w.region[s]), "ATM"), tparty=-1)  # fmt: skip
    gap = 185
    wake = int(pre_days.max()) + gap + int(rng.integers(0, max(1, w.n_days - int(pre_days.max()) - gap - 7)))
    wake = min(wake, w.n_days - 7)
    c_in = w.of_T(0.75, 1.5, 2, round_to=w.unit)
    w.tx.add(src, s, wake + rng.integers(0, 2, 2), w.hours(2, 9, 16), c_in, "wire", pattern=p)
    total = int(c_in.sum() * rng.uniform(0.85, 0.95))
    k = int(rng.integers(2, 5))
    parts = np.floor(rng.dirichlet(np.full(k, 4.0)) * total).astype(np.int64)
    w.tx.add(s, rng.choice(dst, k), wake + 2 + rng.integers(0, 3, k), w.hours(k, 9, 18), parts, "transfer", pattern=p)


def _ml18(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.calm[s] = True
    w.member(p, s, "subject", True)
    cps = w.counterparties(int(rng.integers(10, 21)))
    w.member(p, cps, "counterparty", False)
    k = int(rng.integers(45, 61))
    dur = int(rng.integers(5, 8))
    d0 = w.window(dur, lo=min(112, w.n_days - dur - 1))
    out = rng.random(k) < 0.6
    other = rng.choice(cps, k)
    cents = w.of_T(0.02, 0.1, k)
    days = d0 + rng.integers(0, dur, k)
    hours = w.hours(k, 8, 23)
    w.tx.add(np.where(out, s, other), np.where(out, other, s), days, hours, cents, "transfer", pattern=p)


def _ml19(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    src, dst = w.take(2), w.take(2)
    w.member(p, s, "subject", True)
    w.member(p, np.r_[src, dst], "member", False)
    opened = w.window(22, lo=3)
    w.opened_day[s] = opened
    k = int(rng.integers(3, 5))
    days = opened + 1 + np.sort(rng.choice(np.arange(19), k, replace=False))
    for e, d in enumerate(days):
        cents = int(w.of_T(0.8, 1.5, 1, round_to=w.unit)[0])
        h = float(rng.uniform(9, 15))
        w.tx.add(src[e % 2], s, int(d), h, cents, "transfer", pattern=p)
        _forward(w, p, s, dst[: int(rng.integers(1, 3))], int(d), h, cents, gap_h=(4, 30), share=(0.92, 0.98))


def _ml20(w, p):
    rng = w.rng
    s = w.take(1, quiet=True)[0]
    cps = w.take(int(rng.integers(3, 6)))
    w.member(p, s, "subject", True)
    w.member(p, cps, "member", False)
    k = int(rng.integers(14, 21))
    d0 = w.window(25)
    hundred = 100 * w.unit
    mult = np.where(rng.random(k) < 0.6, rng.integers(1, 20, k) * 10, rng.integers(5, 200, k))
    cents = (mult * hundred * 100).astype(np.int64)
    odd = rng.choice(k, int(rng.integers(1, 3)), replace=False)
    cents[odd] += w.usd(rng.uniform(1, 99, len(odd)))
    out = rng.random(k) < 0.5
    other = rng.choice(cps, k)
    w.tx.add(np.where(out, s, other), np.where(out, other, s), d0 + rng.integers(0, 25, k), w.hours(k, 9, 18), cents,
             "transfer", pattern=p)  # fmt: skip


#: Injector per catalogue id.
INJECTORS = {
    "ML-01": _ml01, "ML-02": _ml02, "ML-03": _ml03, "ML-04": _ml04, "ML-05": _ml05, "ML-06": _ml06, "ML-07": _ml07,
    "ML-08": _ml08, "ML-09": _ml09, "ML-10": _ml10, "ML-11": _ml11, "ML-12": _ml12, "ML-13": _ml13,
    "ML-14": _ml14, "ML-15": _ml15, "ML-17": _ml17, "ML-18": _ml18, "ML-19": _ml19, "ML-20": _ml20,
}  # fmt: skip
#: Foreign accounts a pattern takes (upper bound).
FOREIGN_NEED = {"ML-12": 1, "ML-13": 3}
