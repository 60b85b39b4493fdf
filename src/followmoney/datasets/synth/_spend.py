"""Card spending, shared by background activity and the injectors: merchants, card events, trips."""

from __future__ import annotations

import numpy as np

from followmoney.datasets.synth._reference import _MCCS, _N_REGIONS, _POS_BASE
from followmoney.datasets.synth._world import _World


def _merchants_for(w: _World, mcc_i: np.ndarray, region: np.ndarray, local_share=0.8) -> np.ndarray:
    """A merchant of MCC ``mcc_i`` per event: popular ones more often, mostly in ``region``."""
    rng = w.rng
    out = np.full(len(mcc_i), -1)
    m_mcc = w.merchant_mcc[w.merchants]
    domestic = w.country[w.merchants] == w.home
    for m in np.unique(mcc_i):
        cand = w.merchants[(m_mcc == m) & domestic]
        if not len(cand):
            cand = w.merchants[m_mcc == m]
        if not len(cand):
            continue
        sel = np.flatnonzero(mcc_i == m)
        pw = w.popularity[cand]
        out[sel] = rng.choice(cand, len(sel), p=pw / pw.sum())
        if not _MCCS[m][7]:
            local = sel[rng.random(len(sel)) < local_share]
            for r in np.unique(region[local]):
                cr = cand[w.region[cand] == r]
                if len(cr):
                    s = local[region[local] == r]
                    pr = w.popularity[cr]
                    out[s] = rng.choice(cr, len(s), p=pr / pr.sum())
    return out


def _card_events(w: _World, owner, mcc_i, day, *, pattern=-1, region=None, cents=None, desc=-1):
    rng = w.rng
    if not len(owner):
        return
    region = w.region[owner] if region is None else region
    merch = _merchants_for(w, mcc_i, region)
    ok = merch >= 0
    owner, mcc_i, day, merch = owner[ok], mcc_i[ok], np.asarray(day)[ok], merch[ok]
    lo = np.array([_MCCS[m][6][0] for m in mcc_i], float)
    hi = np.array([_MCCS[m][6][1] for m in mcc_i], float)
    hour = lo + rng.random(len(owner)) * (hi - lo)
    if cents is None:
        med = np.array([_MCCS[m][4] for m in mcc_i], float)
        sig = np.array([_MCCS[m][5] for m in mcc_i], float)
        cents = w.usd(rng.lognormal(np.log(med), sig))
    else:
        cents = np.asarray(cents)[ok] if np.size(cents) > 1 else cents
    loc = np.where(w.online[merch], -1, _POS_BASE + merch)  # card terminal of the merchant
    w.tx.add(owner, merch, day, hour, cents, "card", pattern=pattern, loc=loc, desc=desc)


def _trips(w: _World, traveller: np.ndarray, *, pattern=-1) -> None:
    rng = w.rng
    n = len(traveller)
    if not n:
        return
    day = rng.integers(0, w.n_days, n)
    dest = (w.region[traveller] + rng.integers(1, _N_REGIONS, n)) % _N_REGIONS
    mode = rng.choice([w.mcc_codes.index(c) for c in ("4511", "4112", "4131")], n, p=[0.7, 0.2, 0.1])
    _card_events(w, traveller, mode, day, pattern=pattern)
    nights = rng.integers(1, 5, n)
    hotel_day = np.minimum(day + nights, w.n_days - 1)
    cents = w.usd(nights * rng.lognormal(np.log(130), 0.35, n))
    _card_events(w, traveller, np.full(n, w.mcc_codes.index("7011")), hotel_day, region=dest, cents=cents,
                 pattern=pattern)  # fmt: skip
    rides = rng.integers(0, 4, n)
    pos = np.repeat(np.arange(n), rides)
    _card_events(w, traveller[pos], np.full(len(pos), w.mcc_codes.index("4121")),
                 np.minimum(day[pos] + rng.integers(0, 3, len(pos)), w.n_days - 1), region=dest[pos],
                 pattern=pattern)  # fmt: skip
    rent = rng.random(n) < 0.1
    _card_events(w, traveller[rent], np.full(rent.sum(), w.mcc_codes.index("7512")), day[rent], region=dest[rent],
                 pattern=pattern)  # fmt: skip
