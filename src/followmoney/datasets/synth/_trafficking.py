"""Injectors of the human-trafficking typologies HT-01 ... HT-11.

Ad-site fees, lodging, travel bought for others, night and third-party cash deposits,
one-off payers, and a controller collecting victims' takings; shapes and parameters are
those of :data:`followmoney.datasets.synth.TYPOLOGIES`.
"""

from __future__ import annotations

import numpy as np

from followmoney.datasets.synth._reference import _CH, _FAMILY, _GIVEN, _N_REGIONS
from followmoney.datasets.synth._spend import _card_events


def _ht01(w, p):
    rng = w.rng
    s = w.take(1)[0]
    sites = rng.permutation(w.ad_sites)[: int(rng.integers(1, 3))]
    w.member(p, s, "subject", True)
    w.member(p, sites, "counterparty", False)
    k = int(rng.integers(7, 11))
    d0 = w.window(20)
    fee = rng.choice([12, 24], k) * rng.integers(1, 6, k) * w.unit  # multiples of 12 / 24 local units
    w.tx.add(s, rng.choice(sites, k), d0 + rng.integers(0, 20, k), w.hours(k, 0, 24), (fee * 100).astype(np.int64),
             "card", pattern=p)  # fmt: skip


def _ht02(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(16, 21))
    d0 = w.window(28)
    regions = rng.permutation(_N_REGIONS)[: int(rng.integers(4, 6))]
    region = rng.choice(regions, k)
    days = d0 + np.sort(rng.integers(0, 28, k))
    cents = w.usd(rng.uniform(60, 180, k))
    before = len(w.tx.parts)
    _card_events(w, np.full(k, s), np.full(k, w.mcc_codes.index("7011")), days, region=region, cents=cents,
                 pattern=p)  # fmt: skip
    _note_counterparties(w, p, before)


def _ht03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(5, 9))
    d0 = w.window(30)
    modes = rng.choice([w.mcc_codes.index(c) for c in ("4511", "4112", "4131")], k, p=[0.5, 0.25, 0.25])
    before = len(w.tx.parts)
    pax = [f"{_GIVEN[i]} {_FAMILY[j]}" for i, j in zip(rng.integers(0, len(_GIVEN), 4), rng.integers(0, len(_FAMILY), 4))]
    for i in range(k):
        _card_events(w, np.array([s]), modes[i : i + 1], np.array([d0 + rng.integers(0, 12)]), pattern=p,
                     desc=w.desc.code(f"TICKET PAX {pax[i % len(pax)].upper()}"))  # fmt: skip
    r = int(rng.integers(18, 26))
    _card_events(w, np.full(r, s), np.full(r, w.mcc_codes.index("4121")), d0 + rng.integers(0, 30, r), pattern=p)
    _note_counterparties(w, p, before)


def _note_counterparties(w, p, before):
    merch = np.unique(np.concatenate([part["dst"] for part in w.tx.parts[before:]]))
    w.member(p, merch[merch >= 0], "counterparty", False)


def _ht06(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    k = int(rng.integers(6, 10))
    d0 = w.window(26)
    days = d0 + np.sort(rng.choice(np.arange(25), k, replace=False))
    hour = rng.uniform(22, 28.5, k)  # 22:00 - 04:30 local
    cents = w.usd(np.round(rng.uniform(100, 800, k) / 10) * 10)
    w.tx.add(-1, s, days, hour, cents, "cash_deposit", pattern=p, loc=w.locations(np.full(k, w.region[s]), "ATM"),
             fparty=s, conductor=s, desc=w.desc.code("ATM DEPOSIT"))  # fmt: skip


def _ht07(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    conductors = [w.new_party(w.region[s]) for _ in range(int(rng.integers(3, 6)))]
    w.member_party(p, conductors, "conductor")
    k = int(rng.integers(10, 15))
    d0 = w.window(25)
    regions = np.r_[w.region[s], rng.integers(0, _N_REGIONS, 2)]
    region = rng.choice(regions, k)
    region[0] = w.region[s]
    region[1] = (w.region[s] + 1 + rng.integers(0, _N_REGIONS - 1)) % _N_REGIONS
    loc = np.where(rng.random(k) < 0.6, w.locations(region, "ATM"), w.locations(region, "BR"))
    while len(np.unique(loc)) < 4:
        loc[rng.integers(0, k)] = w.locations(rng.integers(0, _N_REGIONS, 1), "ATM")[0]
    own = rng.permutation(k) < k // 5  # about one in five paid in by the holder
    by = np.where(own, s, rng.choice(conductors, k))
    cents = w.from_currency(np.round(rng.uniform(300, 750, k) / 10) * 10, "AUD")
    w.tx.add(-1, s, d0 + rng.integers(0, 25, k), w.hours(k, 8, 21), cents, "cash_deposit", pattern=p, loc=loc,
             fparty=by, conductor=by, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip


def _ht08(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.member(p, s, "subject", True)
    payers = w.counterparties(int(rng.integers(12, 19)))
    w.member(p, payers, "counterparty", False)
    who = np.r_[payers, payers[:2]]
    k = len(who)
    d0 = w.window(25)
    aud = rng.lognormal(np.log(280), 0.3, k)
    aud *= 280 / np.median(aud)  # median AUD 280 (USD ~187): inside [150, 350] read as AUD or as local units
    cents = w.from_currency(np.clip(aud, 160, 780).round(), "AUD")
    chan = np.where(rng.random(k) < 0.5, _CH["mobile_money"], _CH["transfer"])
    w.tx.add(who, s, d0 + rng.integers(0, 25, k), w.hours(k, 10, 23.9), cents, chan, pattern=p)


def _victim_income(w, p, victim, d0, d1, per_week=(3, 6)):
    """Client payments to ``victim`` between days d0..d1: (days, hours, cents)."""
    rng = w.rng
    weeks = max(1, (d1 - d0) / 7)
    k = int(rng.integers(int(per_week[0] * weeks), int(per_week[1] * weeks) + 1))
    clients = w.counterparties(max(3, int(rng.integers(10, 26))))
    w.member(p, clients, "counterparty", False)
    who = rng.choice(clients, k)
    days = np.sort(rng.integers(d0, d1, k))
    hours = w.hours(k, 11, 23.5)
    cents = w.from_currency(np.clip(rng.lognormal(np.log(300), 0.3, k), 160, 780).round(), "AUD")
    chan = np.where(rng.random(k) < 0.5, _CH["mobile_money"], _CH["transfer"])
    w.tx.add(who, victim, days, hours, cents, chan, pattern=p)
    return days, hours, cents


def _ht09(w, p):
    rng = w.rng
    ctrl = w.take(1)[0]
    victims = w.take(int(rng.integers(4, 6)), quiet=True)
    w.member(p, ctrl, "controller", True)
    w.member(p, victims, "victim", False)
    d0 = int(rng.integers(0, max(1, min(10, w.n_days - 45))))
    for v in victims:
        days, hours, cents = _victim_income(w, p, v, d0, w.n_days - 2)
        # hand over each day's takings the next morning / afternoon
        for d in np.unique(days):
            sel = days == d
            t_last = float(hours[sel].max())
            share = rng.uniform(0.75, 0.9)
            h = max(t_last + 2, 24 + rng.uniform(8, 20))
            w.tx.add(v, ctrl, int(d), h, int(cents[sel].sum() * share), "transfer", pattern=p)
        # a little spending of their own: food, pharmacy, cosmetics
        k = int(rng.integers(3, 8))
        _card_events(w, np.full(k, v), rng.choice([w.mcc_codes.index(c) for c in ("5814", "5912", "5977")], k),
                     rng.integers(d0, w.n_days, k), pattern=-1)  # fmt: skip


def _ht11(w, p):
    rng = w.rng
    ctrl = w.take(1)[0]
    victims = w.take(int(rng.integers(3, 6)), quiet=True)
    w.member(p, ctrl, "controller", True)
    w.member(p, victims, "victim", True)
    fam = [f for f in rng.permutation(len(_FAMILY)) if f != w.family[ctrl]][: len(victims)]
    w.family[victims] = fam
    w.household[victims] = -1
    w.phone_of[victims] = ctrl
    share_addr = rng.random(len(victims)) < 0.7
    share_addr[:2] = True
    w.address_key[victims[share_addr]] = w.address_key[ctrl]
    d0 = int(rng.integers(0, max(1, w.n_days - 30)))
    for v in victims:
        days, hours, cents = _victim_income(w, p, v, d0, w.n_days - 2, per_week=(2, 4))
        for wk in range(d0, w.n_days - 1, 7):
            sel = (days >= wk) & (days < wk + 7)
            if sel.any():
                amt = int(cents[sel].sum() * rng.uniform(0.4, 0.6))
                w.tx.add(v, ctrl, min(wk + 7, w.n_days - 1), float(rng.uniform(9, 20)), amt, "transfer", pattern=p)


#: Injector per catalogue id.
INJECTORS = {
    "HT-01": _ht01, "HT-02": _ht02, "HT-03": _ht03, "HT-06": _ht06, "HT-07": _ht07, "HT-08": _ht08, "HT-09": _ht09,
    "HT-11": _ht11,
}  # fmt: skip
