"""Injectors of the forced-labour typologies FL-01 and FL-02: wages that do not stay with the worker."""

from __future__ import annotations

import numpy as np

from followmoney.datasets.synth._spend import _card_events


def _worker_wages(w, worker, employer):
    """Payroll credits of ``worker`` by ``employer`` within the window: (days, cents)."""
    days = w.paydays(employer)
    monthly = int(w.usd(w.rng.uniform(1800, 3200)))
    amt = int(monthly * (12 / 26 if w.emp_biweekly[employer] else 1))
    return days, amt


def _fl01(w, p):
    rng = w.rng
    worker = w.take(1, quiet=True)[0]
    employer = int(rng.choice(w.employers))
    cash = rng.random() < 0.4
    w.member(p, worker, "subject", True)
    w.member(p, employer, "counterparty", False)
    ctrl = None
    if not cash:
        ctrl = w.take(1)[0]
        w.member(p, ctrl, "controller", False)
    days, amt = _worker_wages(w, worker, employer)
    key = w.desc.code(f"SALARY {w.names[employer].upper()}")
    for d in days:
        h = float(rng.uniform(6, 9))
        w.tx.add(employer, worker, int(d), h, amt, "transfer", pattern=p, desc=key, payroll=True)
        share = rng.uniform(0.85, 0.95)
        if cash:
            w.tx.add(worker, -1, int(d), h + rng.uniform(2, 30), int(amt * share), "cash_withdrawal", pattern=p,
                     loc=w.locations(np.array(w.region[worker]), "BR"), tparty=-1)  # fmt: skip
        else:
            w.tx.add(worker, ctrl, int(d), h + rng.uniform(2, 30), int(amt * share), "transfer", pattern=p)
    k = int(rng.integers(3, 7))
    _card_events(w, np.full(k, worker), np.full(k, w.mcc_codes.index("5411")), rng.integers(0, w.n_days, k))


def _fl02(w, p):
    rng = w.rng
    coll = w.take(1)[0]
    workers = w.take(int(rng.integers(4, 7)), quiet=True)
    employer = int(rng.choice(w.employers))
    w.member(p, coll, "subject", True)
    w.member(p, workers, "member", False)
    w.member(p, employer, "counterparty", False)
    direct = [w.new_party(w.region[coll]) for _ in range(int(rng.integers(1, 3)))]
    w.member_party(p, direct, "member")
    key = w.desc.code(f"SALARY {w.names[employer].upper()}")
    for v in workers:
        days, amt = _worker_wages(w, v, employer)
        for d in days:
            h = float(rng.uniform(6, 9))
            w.tx.add(employer, v, int(d), h, amt, "transfer", pattern=p, desc=key, payroll=True)
            w.tx.add(v, coll, int(d), h + rng.uniform(6, 60), int(amt * rng.uniform(0.7, 0.9)), "transfer", pattern=p)
    for q in direct:
        days, amt = _worker_wages(w, coll, employer)
        w.tx.add(employer, coll, days, w.hours(len(days), 6, 9), amt, "transfer", pattern=p, desc=key, payroll=True,
                 tparty=q)  # fmt: skip


#: Injector per catalogue id.
INJECTORS = {"FL-01": _fl01, "FL-02": _fl02}
