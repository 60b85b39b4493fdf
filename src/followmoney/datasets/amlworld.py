"""An independent synthetic check: AMLworld-style laundering patterns among payroll, merchant and remittance decoys.

This generator is written apart from :mod:`followmoney.datasets.synth` and from the
rules, to a different recipe, so that detection is not only measured on the data it
was tuned on (issue 15). It imports nothing from ``synth`` but the truth table's
schema. The recipe follows the published pattern definitions of IBM's AMLworld data
(Altman et al., "Realistic Synthetic Financial Transactions for Anti-Money Laundering
Models", NeurIPS 2023 Datasets and Benchmarks, figure 2: fan-out, fan-in,
gather-scatter, scatter-gather, simple cycle, bipartite, stack) and AMLSim's habit
of drawing each hop's amount afresh (amounts are *not* conserved hop to hop), plus a
FinCEN / FATF "funds in and out" pass-through and cash structuring:

========================  ====================================================================  =========
pattern (truth typology)  shape                                                                   subject
========================  ====================================================================  =========
``fan_in`` (ML-05)        5-12 distinct senders pay one account within 2-10 days                  receiver
``fan_out`` (ML-06)       one account pays 5-12 distinct accounts within 2-10 days                payer
``scatter_gather`` (07)   source → 4-8 intermediaries → one collector; each keeps a fee           both ends
``gather_scatter`` (08)   4-8 senders → hub, then hub → 4-8 receivers, 85-98 % of the inflow      hub
``cycle`` (ML-09)         3-6 accounts, each hop 80-99 % of the previous one (fees), 2-96 h apart  all
``bipartite`` (ML-10)     3-5 originators each pay every one of 3-5 beneficiaries                  all
``stack`` (ML-11)         3 tiers of 2-4 accounts, each tier pays every account of the next        all
``pass_through`` (04)     one wire of 20,000-90,000 in, 97-99.5 % out within 0.5-6 h              account
``structuring`` (ML-01)   3-6 cash deposits of 8,000-9,900 within 7 days                          depositor
========================  ====================================================================  =========

Every pattern's accounts are ordinary customers with their own background activity
(salary, card spending, rent, transfers to friends), as in AMLworld, where launderers
also transact legitimately. The decoys: employers paying monthly payroll (a fan-out
every payday), merchants receiving card payments from many customers (fan-in),
landlords collecting rent, and migrant workers who send 40-60 % of their monthly pay
home through a licensed remitter (merchant category 4829) once a month, within 48 hours
of one of their fortnightly paydays (so one remittance is about a whole pay credit);
the remitter settles its day's receipts abroad the next day. None of these is in
the truth: an alert on them is a false positive.

Amounts are exact cents (``USD``); timestamps UTC, to the minute.

Examples
--------
>>> bundle, truth = make_amlworld(n_accounts=300, n_days=60, n_per_pattern=2, random_state=1)
>>> sorted(set(truth.column("typology").to_pylist()))
['ML-01', 'ML-04', 'ML-05', 'ML-06', 'ML-07', 'ML-08', 'ML-09', 'ML-10', 'ML-11']
>>> bundle.transactions.num_rows > 10_000
True
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.datasets.synth import TRUTH_SCHEMA
from followmoney.exceptions import ParameterError

__all__ = ["make_amlworld", "PATTERNS", "REMITTER_MCC"]

#: Pattern name → catalogue id (``shared/reference/indicators.md``).
PATTERNS = {
    "fan_in": "ML-05",
    "fan_out": "ML-06",
    "scatter_gather": "ML-07",
    "gather_scatter": "ML-08",
    "cycle": "ML-09",
    "bipartite": "ML-10",
    "stack": "ML-11",
    "pass_through": "ML-04",
    "structuring": "ML-01",
}
#: Merchant category code of money transfer services (ISO 18245 4829: wire transfer / money orders).
REMITTER_MCC = "4829"

_START = int(datetime(2022, 9, 1, tzinfo=timezone.utc).timestamp() * 1_000_000)
_MIN = 60_000_000
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR


class _Out:
    def __init__(self):
        self.rows: list[tuple] = []  # (t, from, to, cents, channel, mcc, desc, payroll, pattern, country_to)

    def add(self, t, src, dst, cents, channel, *, mcc=None, desc=None, payroll=False, pattern=None, country_to=None):
        self.rows.append((int(t), src, dst, int(max(cents, 1)), channel, mcc, desc, payroll, pattern, country_to))


def make_amlworld(
    n_accounts: int = 1000,
    n_days: int = 90,
    *,
    n_per_pattern: int = 10,
    n_migrants: int = 40,
    random_state: int = 0,
) -> tuple[Bundle, pa.Table]:
    """Generate an AMLworld-style labelled data set (see the module docstring for the recipe).

    Parameters
    ----------
    n_accounts : int, default 1000
        Ordinary personal customers (besides employers, merchants, landlords, the
        remitters and the migrant workers).
    n_days : int, default 90
        Days of activity from 2022-09-01 (UTC); at least 45.
    n_per_pattern : int, default 10
        Patterns injected per typology (:data:`PATTERNS`).
    n_migrants : int, default 40
        Migrant workers remitting home monthly through a licensed remitter (decoy).
    random_state : int, default 0
        Seed; the same seed gives the same data.

    Returns
    -------
    bundle : Bundle
        ``transactions`` (amounts in USD, exact cents; ``is_payroll`` extra column on
        wage credits; ``merchant_category`` 4829 and the remitter's name as
        ``counterparty_name`` on remittances; ``typology`` and ``label_alert_id``
        labels on pattern transactions) and ``accounts``.
    truth : pyarrow.Table
        :data:`followmoney.datasets.synth.TRUTH_SCHEMA`: per pattern, its accounts
        (``is_subject`` as in the module table) and its transactions; metadata
        ``n_accounts`` (all accounts) and ``generator``.

    Raises
    ------
    ParameterError
        If a size is too small to place the patterns.
    """
    if n_days < 45 or n_accounts < 100 or n_per_pattern < 0 or n_migrants < 0:
        raise ParameterError("make_amlworld needs n_days >= 45, n_accounts >= 100, n_per_pattern >= 0, n_migrants >= 0")
    rng = np.random.default_rng(random_state)
    out = _Out()
    people = [f"AW/P{i:05d}" for i in range(n_accounts)]
    n_emp = max(3, n_accounts // 60)
    employers = [f"AW/E{i:03d}" for i in range(n_emp)]
    merchants = [f"AW/M{i:03d}" for i in range(max(10, n_accounts // 25))]
    mcc = rng.choice(["5411", "5812", "5541", "5311", "5912", "4121", "5732"], len(merchants))
    landlords = [f"AW/L{i:03d}" for i in range(max(5, n_accounts // 40))]
    remitters = ["AW/R001", "AW/R002"]
    remit_names = {"AW/R001": "Remitly", "AW/R002": "Western Union"}
    payout = {"AW/R001": "AW/X-PH-PAYOUT", "AW/R002": "AW/X-MX-PAYOUT"}
    migrants = [f"AW/W{i:04d}" for i in range(n_migrants)]
    days = n_days

    # ---- background: salary, rent, card spending, transfers between friends
    employer_of = rng.integers(0, n_emp, n_accounts)
    salary = rng.lognormal(np.log(3800), 0.35, n_accounts)
    payday = rng.integers(1, 28, n_emp)
    landlord_of = rng.integers(0, len(landlords), n_accounts)
    rent = salary * rng.uniform(0.25, 0.4, n_accounts)
    for month_start in range(0, days, 30):
        for i, p in enumerate(people):
            d = month_start + payday[employer_of[i]]
            if d >= days:
                continue
            t = _START + d * _DAY + 9 * _HOUR + int(rng.integers(0, 60)) * _MIN
            out.add(t, employers[employer_of[i]], p, salary[i] * 100 * rng.uniform(0.97, 1.03), "transfer",
                    desc="SALARY", payroll=True)  # fmt: skip
            dr = month_start + int(rng.integers(0, 5))
            if dr < days:
                out.add(_START + dr * _DAY + int(rng.integers(8, 20)) * _HOUR, p, landlords[landlord_of[i]],
                        rent[i] * 100, "transfer", desc="rent")  # fmt: skip
    n_card = rng.poisson(0.6 * days, n_accounts)
    for i, p in enumerate(people):
        k = int(n_card[i])
        ds = rng.integers(0, days, k)
        hs = rng.integers(7 * 60, 22 * 60, k)
        ms = rng.integers(0, len(merchants), k)
        am = rng.lognormal(np.log(35), 0.9, k)
        for d, h, m, a in zip(ds, hs, ms, am):
            out.add(_START + d * _DAY + h * _MIN, p, merchants[m], a * 100, "card", mcc=mcc[m])
        for _ in range(rng.poisson(days / 20)):
            d = int(rng.integers(0, days))
            q = people[int(rng.integers(0, n_accounts))]
            if q != p:
                out.add(_START + d * _DAY + int(rng.integers(8 * 60, 23 * 60)) * _MIN, p, q,
                        rng.lognormal(np.log(80), 0.8) * 100, "transfer")  # fmt: skip
    # businesses pay suppliers now and then (other businesses' accounts are ordinary too)
    for e in employers + merchants:
        for _ in range(rng.poisson(days / 10)):
            d = int(rng.integers(0, days))
            out.add(_START + d * _DAY + 11 * _HOUR, e, merchants[int(rng.integers(0, len(merchants)))],
                    rng.lognormal(np.log(2500), 0.7) * 100, "wire")  # fmt: skip

    # ---- decoy: migrant workers remitting 40-60 % of pay home within 48 h through a licensed remitter
    # paid every 14 days (seasonal farm work); once a month, within 48 h of a payday, 40-60 % of the month's pay goes
    # home: about a whole biweekly credit
    m_emp = "AW/E-FARM"
    remitted: dict[tuple, int] = {}
    for j, w in enumerate(migrants):
        r = remitters[j % 2]
        pay = rng.uniform(900, 1300)
        share = rng.uniform(0.4, 0.6)
        first = int(rng.integers(0, 14))
        for n, d in enumerate(range(first, days, 14)):
            t = _START + d * _DAY + 8 * _HOUR
            wage = pay * rng.uniform(0.95, 1.05) * 100
            out.add(t, m_emp, w, wage, "transfer", desc="SALARY", payroll=True)
            if n % 2 == 0:
                dt = int(rng.integers(2 * 60, 47 * 60)) * _MIN
                amt = 2 * pay * 100 * share * rng.uniform(0.95, 1.05)
                out.add(t + dt, w, r, amt, "transfer", mcc=REMITTER_MCC, desc="remittance")
                day = (t + dt - _START) // _DAY
                remitted[(r, day)] = remitted.get((r, day), 0) + int(amt)
            for _ in range(int(rng.integers(3, 7))):  # the rest is spent locally over the fortnight
                dd = int(rng.integers(d, min(d + 13, days - 1) + 1))
                mm = int(rng.integers(0, len(merchants)))
                out.add(_START + dd * _DAY + int(rng.integers(8 * 60, 21 * 60)) * _MIN, w, merchants[mm],
                        wage * (1 - share) / 5 * rng.uniform(0.5, 1.5), "card", mcc=mcc[mm])  # fmt: skip
    for (r, day), cents in sorted(remitted.items()):  # next-day settlement abroad, less the remitter's fee
        if day + 1 < days:
            out.add(_START + (day + 1) * _DAY + 6 * _HOUR, r, payout[r], cents * 0.985, "wire", country_to=payout[r][5:7])

    # ---- laundering patterns among ordinary customers
    truth: list[dict] = []
    used: set = set()

    def pick(k):
        # k accounts not yet in a pattern, in the order of a fresh permutation (the whole of it: a shorter
        # prefix could hold fewer than k free accounts once many are used)
        free = [p for p in rng.permutation(people) if p not in used][:k]
        if len(free) < k:
            raise ParameterError(f"make_amlworld: n_accounts={n_accounts} is too few for n_per_pattern={n_per_pattern}")
        used.update(free)
        return free

    def t0():
        return _START + int(rng.integers(5, days - 20)) * _DAY + int(rng.integers(0, 24 * 60)) * _MIN

    def amount():
        return rng.uniform(2_000, 9_500) * 100

    counter = {"n": 0}

    def pattern(name, subjects, members, body):
        counter["n"] += 1
        pid = f"{name}#{counter['n']:03d}"
        before = len(out.rows)
        body(pid)
        tid = PATTERNS[name]
        for a in sorted(set(members)):
            truth.append({"typology": tid, "typology_name": name, "pattern_id": pid, "account_id": a,
                          "role": "subject" if a in subjects else "member", "is_subject": a in subjects})  # fmt: skip
        for i in range(before, len(out.rows)):
            truth.append({"typology": tid, "typology_name": name, "pattern_id": pid, "role": "transaction",
                          "txn_id": i, "timestamp": out.rows[i][0]})  # fmt: skip

    for _ in range(n_per_pattern):
        # fan-in / fan-out: distinct counterparties over 2-10 days
        k = int(rng.integers(5, 13))
        hub, *cps = pick(k + 1)
        span = int(rng.integers(2, 11)) * _DAY
        start = t0()

        def fan_in(pid, hub=hub, cps=cps, span=span, start=start):
            for c in cps:
                out.add(start + int(rng.integers(0, span)), c, hub, amount(), rng.choice(["wire", "transfer", "cheque"]), pattern=pid)

        pattern("fan_in", {hub}, [hub, *cps], fan_in)
        k = int(rng.integers(5, 13))
        hub, *cps = pick(k + 1)
        start = t0()

        def fan_out(pid, hub=hub, cps=cps, span=span, start=start):
            for c in cps:
                out.add(start + int(rng.integers(0, span)), hub, c, amount(), rng.choice(["wire", "transfer"]), pattern=pid)

        pattern("fan_out", {hub}, [hub, *cps], fan_out)
        # scatter-gather: each intermediary keeps a fee
        k = int(rng.integers(4, 9))
        src, dst, *mid = pick(k + 2)
        start = t0()

        def scatter_gather(pid, src=src, dst=dst, mid=mid, start=start):
            for m in mid:
                a = amount()
                t = start + int(rng.integers(0, 3 * _DAY))
                out.add(t, src, m, a, "wire", pattern=pid)
                out.add(t + int(rng.integers(1 * _HOUR, 72 * _HOUR)), m, dst, a * rng.uniform(0.85, 0.99), "wire", pattern=pid)

        pattern("scatter_gather", {src, dst}, [src, dst, *mid], scatter_gather)
        # gather-scatter: many in, then out to others, 85-98 % of the inflow in random splits
        ki, ko = int(rng.integers(4, 9)), int(rng.integers(4, 9))
        hub, *rest = pick(ki + ko + 1)
        start = t0()

        def gather_scatter(pid, hub=hub, ins=rest[:ki], outs=rest[ki:], start=start):
            total = 0.0
            for c in ins:
                a = amount()
                total += a
                out.add(start + int(rng.integers(0, 4 * _DAY)), c, hub, a, "wire", pattern=pid)
            split = rng.dirichlet(np.ones(len(outs))) * total * rng.uniform(0.85, 0.98)
            for c, a in zip(outs, split):
                out.add(start + 4 * _DAY + int(rng.integers(1 * _HOUR, 3 * _DAY)), hub, c, a, "wire", pattern=pid)

        pattern("gather_scatter", {hub}, [hub, *rest], gather_scatter)
        # simple cycle with fees
        k = int(rng.integers(3, 7))
        ring = pick(k)
        start = t0()

        def cycle(pid, ring=ring, start=start):
            a, t = rng.uniform(5_000, 50_000) * 100, start
            for i in range(len(ring)):
                out.add(t, ring[i], ring[(i + 1) % len(ring)], a, "wire", pattern=pid)
                a *= rng.uniform(0.8, 0.99)
                t += int(rng.integers(2 * _HOUR, 96 * _HOUR))

        pattern("cycle", set(ring), ring, cycle)
        # bipartite: every originator pays every beneficiary, random amounts
        ko, kb = int(rng.integers(3, 6)), int(rng.integers(3, 6))
        accs = pick(ko + kb)
        start = t0()

        def bipartite(pid, o=accs[:ko], b=accs[ko:], start=start):
            for x in o:
                for y in b:
                    out.add(start + int(rng.integers(0, 10 * _DAY)), x, y, amount(), "wire", pattern=pid)

        pattern("bipartite", set(accs), accs, bipartite)
        # stack: three tiers, each paying every account of the next, amounts random
        sizes = rng.integers(2, 5, 3)
        accs = pick(int(sizes.sum()))
        tiers = [accs[: sizes[0]], accs[sizes[0]: sizes[0] + sizes[1]], accs[sizes[0] + sizes[1]:]]
        start = t0()

        def stack(pid, tiers=tiers, start=start):
            for level in range(2):
                for x in tiers[level]:
                    for y in tiers[level + 1]:
                        out.add(start + level * 3 * _DAY + int(rng.integers(0, 3 * _DAY)), x, y, amount(), "wire", pattern=pid)

        pattern("stack", set(accs), accs, stack)
        # pass-through on an ordinary account: one large wire in, 97-99.5 % out within 0.5-6 h
        (acc,) = pick(1)
        src, dst = f"AW/X-{counter['n']:04d}-IN", f"AW/X-{counter['n']:04d}-OUT"
        start = t0()

        def pass_through(pid, acc=acc, src=src, dst=dst, start=start):
            a = rng.uniform(20_000, 90_000) * 100
            out.add(start, src, acc, a, "wire", pattern=pid)
            left = a * rng.uniform(0.97, 0.995)
            n = int(rng.integers(1, 4))
            for piece in rng.dirichlet(np.ones(n)) * left:
                out.add(start + int(rng.integers(30 * _MIN, 6 * _HOUR)), acc, dst, piece, "wire", pattern=pid)

        pattern("pass_through", {acc}, [acc], pass_through)
        # structuring: cash just under the 10,000 reporting threshold
        (acc,) = pick(1)
        start = t0()

        def structuring(pid, acc=acc, start=start):
            for _ in range(int(rng.integers(3, 7))):
                out.add(start + int(rng.integers(0, 7 * _DAY)), None, acc, rng.uniform(8_000, 9_900) * 100, "cash_deposit", pattern=pid)

        pattern("structuring", {acc}, [acc], structuring)

    return _bundle(out, truth, pattern_names={r["pattern_id"]: r["typology_name"] for r in truth}, remit_names=remit_names)


def _bundle(out: _Out, truth: list[dict], pattern_names: dict, remit_names: dict) -> tuple[Bundle, pa.Table]:
    df = pd.DataFrame(out.rows, columns=["t", "from_account", "to_account", "cents", "channel", "merchant_category",
                                         "description", "is_payroll", "pattern", "country_to"])  # fmt: skip
    # ids: position in the generated stream (deterministic for a seed; no personal data)
    df["txn_id"] = [f"aw-{i:07d}" for i in range(len(df))]
    for r in truth:
        if r.get("txn_id") is not None:
            r["txn_id"] = df["txn_id"].iat[r["txn_id"]]
            r["timestamp"] = pd.Timestamp(r["timestamp"], unit="us", tz="UTC")
    df["counterparty_name"] = df["to_account"].map(remit_names)
    df["typology"] = df["pattern"].map(pattern_names)
    n = len(df)
    tx = {
        "txn_id": df["txn_id"],
        "source": ["amlworld"] * n,
        "source_ref": [f"amlworld:{i + 1}" for i in range(n)],
        "timestamp": pa.array(df["t"].to_numpy(np.int64), pa.int64()).cast(schema.TIMESTAMP),
        "amount": schema.from_cents(df["cents"].to_numpy(np.int64) * 10),  # hundredths -> thousandths
        "currency": ["USD"] * n,
        "from_account": df["from_account"],
        "to_account": df["to_account"],
        "channel": df["channel"],
        "description": df["description"],
        "counterparty_name": df["counterparty_name"],
        "merchant_category": df["merchant_category"],
        "country_to": df["country_to"],
        "is_laundering": df["pattern"].notna(),
        "typology": df["typology"],
        "label_alert_id": df["pattern"],
        "is_payroll": df["is_payroll"].astype(bool),
    }
    transactions = schema.conform(pa.table({k: pa.array(v) if not isinstance(v, pa.Array) else v for k, v in tx.items()}), "transactions")
    accs = sorted(set(df["from_account"].dropna()) | set(df["to_account"].dropna()))
    accounts = schema.conform({"account_id": accs, "institution": ["AW"] * len(accs), "currency": ["USD"] * len(accs),
                               "source_ref": ["amlworld"] * len(accs)}, "accounts")  # fmt: skip
    bundle = Bundle(transactions=transactions, accounts=accounts)
    t = pd.DataFrame(truth, columns=TRUTH_SCHEMA.names)
    table = pa.Table.from_pandas(t, schema=TRUTH_SCHEMA, preserve_index=False)
    return bundle, table.replace_schema_metadata({"n_accounts": str(len(accs)), "generator": "amlworld"})
