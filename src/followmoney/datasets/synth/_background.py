"""Ordinary activity: the background of legitimate behaviour the patterns hide in (the decoys)."""

from __future__ import annotations

import math

import numpy as np

from followmoney.datasets.synth._reference import _CASH_HEAVY, _CH, _MCCS, _N_REGIONS
from followmoney.datasets.synth._spend import _card_events, _trips
from followmoney.datasets.synth._world import _World


def _background(w: _World) -> None:
    rng, tx = w.rng, w.tx
    months = w.n_days / 30.0
    live = w.persons[~w.quiet[w.persons]]
    n_live = len(live)
    d_sal = {}

    # --- employment and payroll (legit fan-out)
    employed = live[rng.random(n_live) < 0.72]
    emp_w = rng.lognormal(0, 1.3, len(w.employers))
    employer_of = np.full(w.n, -1)
    employer_of[employed] = rng.choice(w.employers, len(employed), p=emp_w / emp_w.sum())
    w.employer_of = employer_of
    income_usd = np.zeros(w.n)  # monthly income of each person, USD
    income_usd[employed] = rng.lognormal(np.log(4000), 0.45, len(employed))
    salary = w.usd(income_usd)
    for e in w.employers:
        staff = employed[employer_of[employed] == e]
        if not len(staff):
            continue
        days = w.paydays(e)
        if not len(days):
            continue
        key = d_sal.setdefault(e, w.desc.code(f"SALARY {w.names[e].upper()}"))
        amt = salary[staff] * (12 / 26 if w.emp_biweekly[e] else 1)
        s = np.repeat(staff, len(days))
        tx.add(e, s, np.tile(days, len(staff)), w.hours(len(s), 6, 9), np.repeat(amt.astype(np.int64), len(days)),
               "transfer", desc=key, payroll=True)  # fmt: skip
    # --- pensions and benefits for everyone else (largest legit fan-out)
    others = np.setdiff1d(live, employed)
    pension = rng.random(len(others)) < 0.6
    income_usd[others] = np.where(pension, rng.lognormal(np.log(1800), 0.3, len(others)),
                                  rng.lognormal(np.log(1000), 0.2, len(others)))  # fmt: skip
    owner, days = w.month_days(np.full(len(others), 3))
    desc = np.where(pension, w.desc.code("PENSION PAYMENT"), w.desc.code("BENEFIT PAYMENT"))
    tx.add(w.gov, others[owner], days, w.hours(len(owner), 5, 8), w.usd(income_usd[others][owner]), "transfer",
           desc=desc[owner])  # fmt: skip

    # --- rent to property managers and private landlords (legit fan-in)
    landlords = live[rng.random(n_live) < 0.03]
    heads = live[w.head[live]]  # one member of each household pays rent and bills
    renters = np.setdiff1d(heads[rng.random(len(heads)) < 0.6], landlords)
    to_pm = rng.random(len(renters)) < 0.7
    pm_w = rng.lognormal(0, 0.8, len(w.props))
    landlord = np.where(
        to_pm,
        rng.choice(w.props, len(renters), p=pm_w / pm_w.sum()),
        rng.choice(landlords, len(renters)) if len(landlords) else rng.choice(w.props, len(renters)),
    )
    rent = np.round(income_usd[renters] * rng.uniform(0.25, 0.4, len(renters)) / 5) * 5  # a share of income
    owner, days = w.month_days(rng.integers(1, 6, len(renters)))
    tx.add(renters[owner], landlord[owner], days, w.hours(len(owner), 8, 21), w.usd(rent[owner]), "transfer",
           desc=w.desc.code("RENT"))  # fmt: skip

    # --- utility bills (legit fan-in)
    for u_i, u in enumerate(w.utilities):
        payers = heads[rng.random(len(heads)) < min(0.9, 2.0 / max(1, len(w.utilities)) + 0.1)]
        owner, days = w.month_days(rng.integers(5, 28, len(payers)))
        base = rng.lognormal(np.log(70), 0.4, len(payers))
        amt = base[owner] * rng.uniform(0.8, 1.2, len(owner))
        tx.add(payers[owner], u, days, w.hours(len(owner), 7, 23), w.usd(amt), "transfer",
               desc=w.desc.code(f"BILL PAYMENT {w.names[u].upper()}"))  # fmt: skip

    # --- everyday card spend
    everyday = [i for i, m in enumerate(_MCCS) if m[3] > 0]
    pop = np.array([_MCCS[i][3] for i in everyday])
    rate = rng.lognormal(np.log(20), 0.5, n_live)
    rate = np.where(w.calm[live], np.minimum(rate, 15), rate)
    cnt = rng.poisson(rate * months)
    owner = np.repeat(live, cnt)
    mcc_i = np.array(everyday)[rng.choice(len(everyday), len(owner), p=pop / pop.sum())]
    _card_events(w, owner, mcc_i, rng.integers(0, w.n_days, len(owner)))

    # --- heavy ride-share users (decoys for HT-03) and trips (decoys for HT-02 / HT-03)
    riders = live[(rng.random(n_live) < 0.08) & ~w.calm[live]]
    cnt = rng.poisson(9 * months, len(riders))
    owner = np.repeat(riders, cnt)
    _card_events(w, owner, np.full(len(owner), w.mcc_codes.index("4121")), rng.integers(0, w.n_days, len(owner)))
    trip_rate = np.where(w.calm[live], 0.1, rng.choice([0.1, 0.4, 1.5], n_live, p=[0.75, 0.2, 0.05]))
    cnt = rng.poisson(trip_rate * months)
    traveller = np.repeat(live, cnt)
    _trips(w, traveller)

    # --- dating subscriptions (legit MCC 7273) and the odd classified-ad fee
    subs = live[rng.random(n_live) < 0.04]
    if len(w.dating) and len(subs):
        site = rng.choice(w.dating, len(subs))
        price = rng.choice([19.99, 29.99, 9.99], len(subs))
        owner, days = w.month_days(rng.integers(1, 29, len(subs)))
        tx.add(subs[owner], site[owner], days, w.hours(len(owner), 0, 24), w.usd(price[owner]), "card")
    odd = live[rng.random(n_live) < 0.003]
    if len(odd):
        site = rng.choice(w.ad_sites, len(odd))
        tx.add(odd, site, rng.integers(0, w.n_days, len(odd)), w.hours(len(odd), 18, 24),
               w.usd(rng.choice([12, 24], len(odd))), "card")  # fmt: skip

    # --- person-to-person transfers within a circle of contacts
    deg = rng.integers(3, 9, n_live)
    same = rng.random(deg.sum()) < 0.7
    src = np.repeat(live, deg)
    contacts = rng.choice(live, deg.sum())
    by_region = {r: live[w.region[live] == r] for r in range(_N_REGIONS)}
    for r, members in by_region.items():
        sel = same & (w.region[src] == r)
        if len(members) and sel.any():
            contacts[sel] = rng.choice(members, sel.sum())
    starts = np.cumsum(deg) - deg
    cnt = rng.poisson(2.0 * months, n_live)
    owner_pos = np.repeat(np.arange(n_live), cnt)
    pick = starts[owner_pos] + (rng.random(len(owner_pos)) * deg[owner_pos]).astype(np.int64)
    payer, payee = live[owner_pos], contacts[pick]
    ok = payer != payee
    payer, payee = payer[ok], payee[ok]
    amt = rng.lognormal(np.log(40), 0.8, len(payer))
    amt = np.where(rng.random(len(payer)) < 0.6, np.maximum(5, np.round(amt / 5) * 5), amt)
    chan = np.where(rng.random(len(payer)) < 0.4, _CH["mobile_money"], _CH["transfer"])
    tx.add(payer, payee, rng.integers(0, w.n_days, len(payer)), w.hours(len(payer), 8, 23.5), w.usd(amt), chan,
           desc=w.desc.code("P2P"))  # fmt: skip

    # --- ATM cash withdrawals (round amounts, a few at night)
    cnt = rng.poisson(2.2 * months, n_live)
    owner = np.repeat(live, cnt)
    notes = np.array([20, 40, 60, 80, 100, 120, 140, 160, 200, 240, 300, 400, 500])
    pn = np.array([4, 8, 8, 6, 12, 5, 3, 3, 10, 3, 4, 2, 1], float)
    usd = rng.choice(notes, len(owner), p=pn / pn.sum())
    unit = 10 ** math.floor(math.log10(w.fx * 20))
    cents = (np.round(usd * w.fx / unit) * unit * 100).astype(np.int64)
    night = rng.random(len(owner)) < 0.06
    hour = np.where(night, rng.uniform(22, 29, len(owner)), rng.uniform(7, 22, len(owner)))
    region = np.where(rng.random(len(owner)) < 0.9, w.region[owner], rng.integers(0, _N_REGIONS, len(owner)))
    tx.add(owner, -1, rng.integers(0, w.n_days, len(owner)), hour, cents, "atm", loc=w.locations(region, "ATM"),
           tparty=-1)  # fmt: skip

    # --- occasional cash deposits by persons (well below the threshold)
    migrants = live[rng.random(n_live) < 0.06]
    rate = np.full(w.n, 0.2)
    rate[migrants] = 0.6
    cnt = rng.poisson(rate[live] * months)
    owner = np.repeat(live, cnt)
    amt = np.minimum(rng.lognormal(np.log(200), 0.8, len(owner)), 0.5 * w.T / 100 / w.fx)
    cents = w.usd(np.round(amt / 10) * 10)
    atm = rng.random(len(owner)) < 0.4
    region = w.region[owner]
    loc = np.where(atm, w.locations(region, "ATM"), w.locations(region, "BR"))
    hour = np.where(atm, rng.uniform(7, 22, len(owner)), rng.uniform(9, 17, len(owner)))
    conductor = owner.copy()
    # now and then a household member pays it in
    hh_dep = rng.random(len(owner)) < 0.1
    if hh_dep.any():
        mates = _household_mate(w, owner[hh_dep])
        conductor[hh_dep] = np.where(mates >= 0, mates, owner[hh_dep])
    tx.add(-1, owner, rng.integers(0, w.n_days, len(owner)), hour, cents, "cash_deposit", loc=loc,
           fparty=conductor, conductor=conductor, desc=w.desc.code("CASH DEPOSIT"))  # fmt: skip

    # --- remittances abroad and transfers from abroad
    bg_foreign = w.foreign[~w.used[w.foreign]]
    if len(bg_foreign) and len(migrants):
        ben = rng.choice(bg_foreign, len(migrants))
        # most migrants send money home, to the country of their nationality; some are naturalised
        born_abroad = migrants % 5 != 0  # 4 in 5 (not drawn from rng: the rest of the stream stays put)
        w.nationality.update(zip(migrants[born_abroad].tolist(), w.country[ben[born_abroad]].tolist()))
        cnt = rng.poisson(1.0 * months, len(migrants))
        pos = np.repeat(np.arange(len(migrants)), cnt)
        amt = rng.lognormal(np.log(300), 0.5, len(pos))
        at_branch = rng.random(len(pos)) < 0.6  # paid in at a branch / counter, or sent online
        loc = np.where(at_branch, w.locations(w.region[migrants[pos]], "BR"), -1)
        tx.add(migrants[pos], ben[pos], rng.integers(0, w.n_days, len(pos)), w.hours(len(pos), 9, 20), w.usd(amt),
               "remittance", loc=loc, desc=w.desc.code("REMITTANCE"))  # fmt: skip
        recv = live[rng.random(n_live) < 0.02]
        cnt = rng.poisson(0.5 * months, len(recv))
        pos = np.repeat(np.arange(len(recv)), cnt)
        tx.add(rng.choice(bg_foreign, len(pos)), recv[pos], rng.integers(0, w.n_days, len(pos)),
               w.hours(len(pos), 3, 12), w.usd(rng.lognormal(np.log(400), 0.5, len(pos))), "wire",
               desc=w.desc.code("INWARD TRANSFER"))  # fmt: skip

    # --- businesses: invoices, advertising, cash takings
    biz = np.r_[w.employers, w.merchants[w.country[w.merchants] == w.home], w.props, w.utilities]
    cnt = rng.poisson(2.5 * months, len(biz))
    payer = np.repeat(biz, cnt)
    sup_pool = np.r_[w.employers, w.merchants[w.country[w.merchants] == w.home]]
    sw = np.r_[np.full(len(w.employers), 3.0), np.ones(len(sup_pool) - len(w.employers))] * w.popularity[sup_pool]
    supplier = rng.choice(sup_pool, len(payer), p=sw / sw.sum())
    ok = payer != supplier
    payer, supplier = payer[ok], supplier[ok]
    amt = rng.lognormal(np.log(2500), 1.0, len(payer))
    amt = np.where(rng.random(len(payer)) < 0.4, np.maximum(100, np.round(amt / 100) * 100), amt)
    chan = np.where(rng.random(len(payer)) < 0.3, _CH["wire"], _CH["transfer"])
    tx.add(payer, supplier, rng.integers(0, w.n_days, len(payer)), w.hours(len(payer), 9, 17), w.usd(amt), chan,
           desc=w.desc.code("INVOICE"))  # fmt: skip
    classifieds = w.merchants[w.merchant_mcc[w.merchants] == w.mcc_codes.index("7311")]
    adv = biz[rng.random(len(biz)) < 0.15]
    if len(classifieds) and len(adv):
        site = rng.choice(classifieds, len(adv))
        owner, days = w.month_days(rng.integers(1, 29, len(adv)))
        tx.add(adv[owner], site[owner], days, w.hours(len(owner), 9, 18),
               w.usd(rng.uniform(50, 400, len(owner)).round()), "card")  # fmt: skip
    cashy = np.array([_MCCS[m][0] in _CASH_HEAVY for m in w.merchant_mcc[w.merchants]])
    shops = w.merchants[cashy & (w.country[w.merchants] == w.home)]
    cnt = rng.poisson(months * 30 / 7, len(shops))
    owner = np.repeat(shops, cnt)
    amt = rng.lognormal(np.log(1200), 0.6, len(owner))
    night = np.isin(owner, w.night_bars)
    hour = np.where(night, rng.uniform(22.5, 25.5, len(owner)), rng.uniform(10, 17, len(owner)))
    tx.add(-1, owner, rng.integers(0, w.n_days, len(owner)), hour, w.usd(np.round(amt, -1)), "cash_deposit",
           loc=w.locations(w.region[owner], "BR"), fparty=owner, conductor=owner,
           desc=w.desc.code("CASH DEPOSIT TAKINGS"))  # fmt: skip


def _household_mate(w: _World, owners: np.ndarray) -> np.ndarray:
    """Another member of each owner's household, or -1."""
    hh = w.household
    persons = w.persons[hh[w.persons] >= 0]
    order = persons[np.argsort(hh[persons], kind="stable")]
    keys = hh[order]
    out = np.full(len(owners), -1)
    lo = np.searchsorted(keys, hh[owners], "left")
    hi = np.searchsorted(keys, hh[owners], "right")
    size = hi - lo
    multi = size > 1
    pick = lo + (w.rng.random(len(owners)) * size).astype(np.int64)
    cand = order[np.minimum(pick, len(order) - 1)]
    cand = np.where(cand == owners, order[np.minimum(lo + (pick - lo + 1) % np.maximum(size, 1), len(order) - 1)], cand)
    out[multi] = cand[multi]
    return out
