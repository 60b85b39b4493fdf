"""Injectors of the migrant-smuggling typologies HS-01 and HS-03: collection at the border, cash out to a corridor."""

from __future__ import annotations

import numpy as np

from followmoney.core.config import country_lists
from followmoney.datasets.synth._reference import _N_BORDER, _N_REGIONS


def _hs01(w, p):
    rng = w.rng
    s = w.take(1)[0]
    w.region[s] = _N_REGIONS - 1 - int(rng.integers(0, _N_BORDER))
    w.member(p, s, "subject", True)
    k = int(rng.integers(7, 10))
    senders = w.counterparties(k, region_spread=4)
    w.member(p, senders, "counterparty", False)
    d0 = w.window(10)
    cents = w.usd(np.round(rng.uniform(0.4, 0.95, k) * 3000 / 10) * 10)
    w.tx.add(senders, s, d0 + rng.integers(0, 10, k), w.hours(k, 9, 18), cents, "wire", pattern=p,
             loc=w.locations(w.region[senders], "BR"), desc=w.desc.code("WIRE TRANSFER"))  # fmt: skip


def _hs03(w, p):
    rng = w.rng
    s = w.take(1)[0]
    corridor = country_lists()["migrant_flow"]["countries"]
    ben = w.take_foreign(corridor)
    w.member(p, s, "subject", True)
    w.member(p, ben, "member", False)
    d = w.window(24)
    for _ in range(2):
        k = int(rng.integers(2, 4))
        total = w.of_T(0.6, 1.4, 1)[0]
        parts = np.floor(rng.dirichlet(np.full(k, 5.0)) * total / (100 * w.unit)).astype(np.int64) * 100 * w.unit
        days = d + np.sort(rng.integers(0, 4, k))
        w.tx.add(-1, s, days, w.hours(k, 9, 17), parts, "cash_deposit", pattern=p,
                 loc=w.locations(np.full(k, w.region[s]), "BR"), fparty=s, conductor=s,
                 desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip
        h = 17 + rng.uniform(12, 60)
        w.tx.add(s, ben, int(days.max()), h, int(parts.sum() * rng.uniform(0.85, 0.98)), "remittance", pattern=p,
                 desc=w.desc.code("REMITTANCE"))  # fmt: skip
        d += int(rng.integers(10, 14))


#: Injector per catalogue id.
INJECTORS = {"HS-01": _hs01, "HS-03": _hs03}
#: Foreign accounts a pattern takes (upper bound).
FOREIGN_NEED = {"HS-03": 1}
