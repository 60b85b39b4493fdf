"""Small hand-made inputs per rule with a known answer, shared by the rule tests.

``POSITIVE[rule_id]()`` returns ``(bundle, config, expected)``: a bundle on which the rule
must fire, the configuration to use, and the expected subject ids of its alerts.
Every registered rule needs an entry (the conformance suite checks).
"""

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np

import pyarrow as pa

import followmoney as fm

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)


def tx(i, frm, to, amount, day, channel="transfer", currency="USD", **kw):
    """One transaction row; ``day`` may be fractional (hours = day * 24)."""
    return {
        "txn_id": f"t{i:04d}",
        "source": "test",
        "source_ref": f"hand.csv:{i + 2}",
        "timestamp": T0 + timedelta(days=day),
        "amount": Decimal(amount),
        "currency": currency,
        "from_account": frm,
        "to_account": to,
        "channel": channel,
        **kw,
    }


def _table(rows):
    keys = list(dict.fromkeys(k for r in rows for k in r))  # pyarrow would take the first row's keys only
    return pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])


def bundle(rows, **tables):
    return fm.Bundle(transactions=_table(rows), **{k: _table(v) for k, v in tables.items()})


def structuring():
    rows = [tx(i, None, "BANK/1", a, i, "cash_deposit") for i, a in enumerate(["9500.00", "9800.00", "9000.00"])]
    return bundle(rows), fm.Config(), {"BANK/1"}


def fan_in():
    return bundle([tx(i, f"S/{i}", "HUB/1", "600.00", 0.5 * i) for i in range(8)]), fm.Config(), {"HUB/1"}


def fan_out():
    return bundle([tx(i, "SRC/1", f"B/{i}", "600.00", 0.5 * i) for i in range(8)]), fm.Config(), {"SRC/1"}


def pass_through():
    rows = []
    for k, day in enumerate((0, 10)):
        rows.append(tx(10 * k, "EMP/1", "MULE/1", "6000.00", day))
        rows.append(tx(10 * k + 1, "MULE/1", "OUT/9", "5500.00", day + 1))
    return bundle(rows), fm.Config(), {"MULE/1"}


def new_account():
    opened = [{"account_id": f"NEW/{i}", "opened": T0, "source_ref": f"acc.csv:{i}"} for i in range(6)]
    rows = [tx(i, "X/0", f"NEW/{i}", "100.00", 1) for i in range(1, 6)]
    rows += [tx(10, "X/1", "NEW/0", "9000.00", 2), tx(11, "NEW/0", "X/2", "8900.00", 3)]
    return bundle(rows, accounts=opened), fm.Config(), {"NEW/0"}


def controller():
    rows, i = [], 0
    for v in range(3):
        for month in (0, 31):
            rows.append(tx(i, f"CLIENT/{v}{month}", f"VICTIM/{v}", "300.00", month + v * 0.1))
            rows.append(tx(i + 1, f"VICTIM/{v}", "BOSS/1", "280.00", month + v * 0.1 + 0.5))
            i += 2
    expected = {"BOSS/1", "VICTIM/0", "VICTIM/1", "VICTIM/2"}
    return bundle(rows), fm.Config(), expected


def wages_drained():
    rows = []
    for k, day in enumerate((0, 30, 60)):
        rows.append(tx(10 * k, "EMPLOYER/1", "WORKER/1", "2000.00", day, description="SALARY MARCH"))
        rows.append(tx(10 * k + 1, "WORKER/1", None, "1900.00", day + 0.5, "cash_withdrawal"))
    return bundle(rows), fm.Config(), {"WORKER/1"}


def wages_pooled():
    # three workers, each forwarding most of three monthly wages to the same agent (one forward is not steady)
    rows = []
    for w in range(3):
        for k, day in enumerate((0, 30, 60)):
            rows.append(tx(100 * w + 10 * k, "EMPLOYER/1", f"WORKER/{w}", "2000.00", day, description="payroll"))
            rows.append(tx(100 * w + 10 * k + 1, f"WORKER/{w}", "AGENT/1", "1700.00", day + 1))
    return bundle(rows), fm.Config(), {"AGENT/1", "WORKER/0", "WORKER/1", "WORKER/2"}


POSITIVE = {
    "ML-01": structuring,
    "ML-05": fan_in,
    "ML-06": fan_out,
    "ML-04": pass_through,
    "ML-19": new_account,
    "HT-09": controller,
    "FL-01": wages_drained,
    "FL-02": wages_pooled,
}


# ----------------------------------------------------------------------------- cash
def smurfing():
    rows = [tx(i, None, "ACC/7", "3000.00", 0.1 * i, "cash_deposit", conductor_party=f"P{i}") for i in range(3)]
    return bundle(rows), fm.Config(), {"ACC/7"}


def funnel():
    rows = [tx(i, None, "FUN/1", "2000.00", i, "cash_deposit", location_id=f"BR-{i}") for i in range(3)]
    rows.append(tx(9, "FUN/1", "X/1", "5000.00", 3, "wire", location_id="BR-99"))
    return bundle(rows), fm.Config(), {"FUN/1"}


def night_cash():
    # 23:00 local in Sydney (UTC+11 in March) = 12:00 UTC
    rows = [tx(i, None, "N/1", "500.00", i + 0.125, "cash_deposit", currency="AUD") for i in range(4)]
    return bundle(rows), fm.Config(jurisdiction="AU"), {"N/1"}


def coordinator_cash():
    rows = [tx(i, None, "COORD/1", "400.00", i, "cash_deposit", currency="AUD", location_id=f"ATM-{i % 3}",
               conductor_party=f"W{i}") for i in range(8)]  # fmt: skip
    return bundle(rows), fm.Config(jurisdiction="AU"), {"COORD/1"}


def cash_to_corridor():
    rows = [tx(i, None, "SM/1", "2500.00", i, "cash_deposit") for i in range(3)]
    rows.append(tx(5, "SM/1", "MX/99", "7000.00", 3.5, "wire", country_to="MX"))
    return bundle(rows), fm.Config(), {"SM/1"}


# ----------------------------------------------------------------------------- profile
def dormant():
    rows = [tx(0, "A/1", "D/1", "100.00", 0), tx(1, "D/1", "A/1", "50.00", 20)]
    rows += [tx(2, "B/1", "D/1", "20000.00", 220), tx(3, "D/1", "C/1", "19000.00", 222)]
    return bundle(rows), fm.Config(), {"D/1"}


def secondary():
    rows = [tx(i, "S/1", f"R/{i}", "2900.00", i, "wire") for i in range(3)]
    return bundle(rows), fm.Config(), {"S/1"}


def velocity():
    rows = [tx(i, "V/1", f"R/{i % 3}", "50.00", 10 * i) for i in range(10)]  # one every 10 days
    rows += [tx(100 + i, "V/1", f"R/{i}", "50.00", 100 + 0.3 * i) for i in range(12)]  # then 12 in 4 days
    return bundle(rows), fm.Config(), {"V/1"}


def round_amounts():
    rows = [tx(i, "R/1", f"X/{i}", "500.00" if i < 8 else "123.45", i) for i in range(10)]
    return bundle(rows), fm.Config(), {"R/1"}


def one_off_payers():
    amounts = ["150.00", "200.00", "250.00", "300.00", "250.00", "200.00", "350.00", "180.00", "220.00", "260.00"]
    rows = [tx(i, f"CLIENT/{i}", "SERV/1", a, 0.5 * i) for i, a in enumerate(amounts)]
    return bundle(rows), fm.Config(), {"SERV/1"}


# ----------------------------------------------------------------------------- geography
def high_risk():
    rows = [tx(0, "H/1", "KP/1", "500.00", 0, "wire", country_to="KP")]
    rows += [tx(i, "H/2", f"Y/{i}", "500.00", i, "wire", country_to="YE") for i in range(1, 4)]
    return bundle(rows), fm.Config(), {"H/1", "H/2"}


def smuggling():
    rows = [tx(i, f"S/{i}", "BEN/1", "900.00", i, "wire", country_from=c) for i, c in enumerate(["US", "US", "GT", "HN", "SV"])]
    return bundle(rows), fm.Config(), {"BEN/1"}


# ----------------------------------------------------------------------------- merchants
def _spend(mcc, n, step):
    return [tx(i, "CARD/1", f"M/{i}", "40.00", step * i, "card", merchant_category=mcc, counterparty_name=f"Merchant {i}")
            for i in range(n)]  # fmt: skip


def ad_sites():
    return bundle(_spend("7273", 5, 3)), fm.Config(), {"CARD/1"}


def lodging():
    return bundle(_spend("7011", 5, 1.2)), fm.Config(), {"CARD/1"}


def travel():
    return bundle(_spend("4511", 5, 2)), fm.Config(), {"CARD/1"}


# ----------------------------------------------------------------------------- identifiers
def _shared_contacts():
    parties = [{"party_id": f"P{i}", "kind": "person", "name": n, "source_ref": f"r.xml#{i}"}
               for i, n in enumerate(["Boss Fictus", "Ana Test", "Bea Test", "Cy Test"])]  # fmt: skip
    ids = [{"owner_kind": "party", "owner_id": f"P{i}", "kind": "phone", "value": "+10000000001", "source_ref": f"r.xml#{i}"}
           for i in range(4)]  # fmt: skip
    links = [{"party_id": "P0", "account_id": "BOSS/1", "role": "holder", "source_ref": "r.xml#0"}]
    rows = [tx(i, None, "BOSS/1", "900.00", i, "cash_deposit", from_party=f"P{i}") for i in (1, 2, 3)]
    return bundle(rows, parties=parties, identifiers=ids, party_accounts=links)


def shared_identifier():
    return _shared_contacts(), fm.Config(), {"phone:+10000000001"}


def controller_contacts():
    return _shared_contacts(), fm.Config(), {"BOSS/1", "P1", "P2", "P3"}


POSITIVE.update(
    {
        "ML-02": smurfing,
        "ML-03": funnel,
        "HT-06": night_cash,
        "HT-07": coordinator_cash,
        "HS-03": cash_to_corridor,
        "ML-14": dormant,
        "ML-17": secondary,
        "ML-18": velocity,
        "ML-20": round_amounts,
        "HT-08": one_off_payers,
        "ML-13": high_risk,
        "HS-01": smuggling,
        "HT-01": ad_sites,
        "HT-02": lodging,
        "HT-03": travel,
        "ML-15": shared_identifier,
        "HT-11": controller_contacts,
    }
)


# ----------------------------------------------------------------------------- multi-hop graph typologies
def scatter_gather_rows(shares=(1.0, 0.95, 0.9, 0.99), gather_day=3):
    """A scatters 1,000.00 to I1..I4 on days 0-1; each forwards a share to B from ``gather_day``."""
    rows = [tx(i, "A", f"I{i + 1}", "1000.00", i * 0.25) for i in range(len(shares))]
    rows += [tx(10 + i, f"I{i + 1}", "B", f"{1000 * s:.2f}", gather_day + i * 0.5) for i, s in enumerate(shares)]
    return rows


def gather_scatter_rows(out_amount="900.00", receivers=3, out_day=4):
    rows = [tx(i, f"S{i + 1}", "H", "1000.00", i) for i in range(3)]
    rows += [tx(10 + i, "H", f"R{i + 1}", out_amount, out_day + i) for i in range(receivers)]
    return rows


def ring_rows(days=(1, 2, 3, 4), amounts=("1000.00", "990.00", "980.00", "970.00")):
    ring = [("P1", "P2"), ("P2", "P3"), ("P3", "P4"), ("P4", "P1")]
    return [tx(i, a, b, amt, d) for i, ((a, b), d, amt) in enumerate(zip(ring, days, amounts))]


def bipartite_rows(skip=(), day0=0):
    rows, i = [], 0
    for o in ("O1", "O2", "O3"):
        for b in ("B1", "B2", "B3"):
            if (o, b) not in skip:
                rows.append(tx(i, o, b, "500.00" if o != "O2" else "700.00", day0 + i * 0.5))
            i += 1
    return rows


def stack_rows(second_layer="490.00"):
    rows, i = [], 0
    for a, b in itertools.product(("T1a", "T1b"), ("T2a", "T2b")):
        rows.append(tx(i, a, b, "500.00" if a == "T1a" else "450.00", 1 + i * 0.25))
        i += 1
    for a, b in itertools.product(("T2a", "T2b"), ("T3a", "T3b")):
        rows.append(tx(i, a, b, second_layer, 3 + i * 0.25))
        i += 1
    return rows


def chain_rows(gaps_h=(24, 24, 24), amounts=("10000.00", "9800.00", "9500.00", "9300.00"), **kw):
    accts = ["L1", "L2", "L3", "L4", "L5", "L6"]
    hours = np.r_[0, np.cumsum(gaps_h)]
    return [tx(i, accts[i], accts[i + 1], amounts[i], hours[i] / 24, **kw) for i in range(len(amounts))]


GRAPH_POSITIVE = {
    "ML-07": lambda: (bundle(scatter_gather_rows()), fm.Config(), {"A"}),
    "ML-08": lambda: (bundle(gather_scatter_rows()), fm.Config(), {"H"}),
    "ML-09": lambda: (bundle(ring_rows()), fm.Config(), {"P1"}),
    "ML-10": lambda: (bundle(bipartite_rows()), fm.Config(), {"O2"}),
    "ML-11": lambda: (bundle(stack_rows()), fm.Config(), {"T1a"}),
    "ML-12": lambda: (bundle(chain_rows()), fm.Config(), {"L1"}),
}

POSITIVE.update(GRAPH_POSITIVE)
