"""followmoney.trace: hand-computed examples per rule, a brute-force reference, properties, CLI."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal as D

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney import trace
from followmoney.core import schema
from followmoney.cli import main

DAY = 86_400_000_000


def txns(rows, currency="EUR"):
    """Canonical transactions from (txn_id, day, from, to, amount[, currency]) tuples."""
    rows = list(rows)
    return schema.conform(
        {
            "txn_id": [r[0] for r in rows],
            "source": ["test"] * len(rows),
            "source_ref": [f"test.csv:{i + 2}" for i in range(len(rows))],
            "timestamp": pa.array([int(r[1] * DAY) for r in rows], schema.TIMESTAMP),
            "amount": [D(str(r[4])) for r in rows],
            "currency": [r[5] if len(r) > 5 else currency for r in rows],
            "from_account": [r[2] for r in rows],
            "to_account": [r[3] for r in rows],
            "channel": ["transfer"] * len(rows),
        },
        "transactions",
    )


def held(result):
    return {r["account"]: r["tainted_balance"] for r in result.positions.to_pylist()}


def moved(result):
    return [(r["txn_id"], r["tainted_amount"]) for r in result.hops.to_pylist()]


# ------------------------------------------------------------------ hand-computed examples
# Account A receives 1,000 of proceeds (t1), then 500 clean (t2); pays 300 to B (t3),
# 900 to C (t4); then receives 400 clean (t5) and pays 600 to E (t6).
MIXED = txns(
    [
        ("t1", 1, None, "A", "1000"),
        ("t2", 2, "X", "A", "500"),
        ("t3", 3, "A", "B", "300"),
        ("t4", 4, "A", "C", "900"),
        ("t5", 5, "Y", "A", "400"),
        ("t6", 6, "A", "E", "600"),
    ]
)


def test_fifo_clayton_oldest_money_leaves_first():
    r = trace.forward(MIXED, ["t1"], method="fifo")
    # queue [T1000, C500]: t3 takes T300; t4 takes T700 + C200; t6 takes C300 + C300
    assert moved(r) == [("t3", D("300.00")), ("t4", D("700.00"))]
    assert held(r) == {"C": D("700.00"), "B": D("300.00")}


def test_lifo_newest_money_leaves_first():
    r = trace.forward(MIXED, ["t1"], method="lifo")
    # stack [T1000, C500]: t3 takes C300 -> [T1000, C200]; t4 takes C200 + T700 -> [T300];
    # t5 pushes C400 -> [T300, C400]; t6 takes C400 + T200 -> [T100]
    assert moved(r) == [("t4", D("700.00")), ("t6", D("200.00"))]
    assert held(r) == {"C": D("700.00"), "E": D("200.00"), "A": D("100.00")}


def test_pro_rata_haircut_and_rounding_rule():
    r = trace.forward(MIXED, ["t1"], method="pro_rata")
    # t3: 1000/1500 of 300 = 200; t4: 800/1200 of 900 = 600; A then 200 tainted of 300.
    # t5: balance 700; t6: floor(200 * 600 / 700) = floor(171.428..) = 171.42; 0.28.. stays
    assert moved(r) == [("t3", D("200.00")), ("t4", D("600.00")), ("t6", D("171.42"))]
    assert held(r) == {"C": D("600.00"), "B": D("200.00"), "E": D("171.42"), "A": D("28.58")}


def test_libr_clean_first_then_lowest_intermediate_balance():
    r = trace.forward(MIXED, ["t1"], method="libr")
    # t3: 500 clean first -> none tainted; t4: 200 clean left, so 700 tainted, A: T300 of 300
    # t5: +400 clean does not restore taint; t6: 400 clean first, 200 tainted -> A keeps T100
    assert moved(r) == [("t4", D("700.00")), ("t6", D("200.00"))]
    assert held(r) == {"C": D("700.00"), "E": D("200.00"), "A": D("100.00")}


def test_libr_textbook_dip_is_not_restored_by_later_deposits():
    # James Roscoe (Bolton) Ltd v Winder (figures decimalised): 455 of the claimant's money paid in; the balance
    # falls to 25.90; the account holder then pays in his own money. The claim is 25.90.
    tx = txns(
        [
            ("d1", 1, None, "W", "455.00"),
            ("w1", 2, "W", "SHOP", "429.10"),
            ("d2", 3, None, "W", "1000.00"),
            ("w2", 4, "W", "SHOP", "300.00"),
        ]
    )
    r = trace.forward(tx, ["d1"], method="libr")
    assert held(r) == {"W": D("25.90"), "SHOP": D("429.10")}
    # the later clean deposit is spent first: w2 carries no taint
    assert moved(r) == [("w1", D("429.10"))]
    led = trace.forward(tx, ["d1"], method="libr", ledger=True).ledger
    w = [(x["txn_id"], x["tainted_balance"], x["balance"]) for x in led.to_pylist() if x["account"] == "W"]
    assert w == [("d1", D("455.00"), D("455.00")), ("w1", D("25.90"), D("25.90")), ("w2", D("25.90"), D("725.90"))]
    # FIFO, by contrast, sends the remaining 25.90 (the oldest money) out with w2
    assert held(trace.forward(tx, ["d1"], method="fifo")) == {"SHOP": D("455.00")}


def test_account_source_with_amount_is_the_newest_part_of_the_balance():
    tx = txns([("a", 1, None, "S", "800"), ("b", 3, "S", "P", "500"), ("c", 4, "S", "Q", "300")])
    # on day 2 S holds 800; 200 of it is tainted, taken as the most recently received part
    def run(method):
        return held(trace.forward(tx, "S", amount="200", since="1970-01-03", method=method))

    assert run("fifo") == {"Q": D("200.00")}
    assert run("lifo") == {"P": D("200.00")}
    assert run("pro_rata") == {"P": D("125.00"), "Q": D("75.00")}
    assert run("libr") == {"Q": D("200.00")}


def test_proceeds_account_taints_everything_it_receives():
    tx = txns([("a", 1, None, "S", "100"), ("b", 2, "S", "P", "60"), ("c", 3, "X", "S", "40"), ("d", 4, "S", "Q", "80")])
    r = trace.forward(tx, "S", method="libr")
    # S's balance at the start (nothing yet: the opening of 0 adds no source row), then
    # every receipt is proceeds: a (100) and c (40, paid by the clean account X)
    assert held(r) == {"Q": D("80.00"), "P": D("60.00")}
    assert [(x["txn_id"], x["amount"]) for x in r.sources.to_pylist()] == [("a", D("100.00")), ("c", D("40.00"))]


def test_unknown_opening_balance_is_minimal_and_stated():
    # S pays 150 having received 100 in the data: a 50 opening balance is assumed (clean)
    tx = txns([("a", 1, None, "S", "100"), ("b", 2, "S", "P", "150")])
    r = trace.forward(tx, ["a"], method="fifo")
    # FIFO: the opening balance is older, so it leaves first: 50 clean + 100 tainted
    assert held(r) == {"P": D("100.00")}
    assert any("smallest" in a and "opening balance" in a for a in r.assumptions)
    r = trace.forward(tx, ["a"], method="lifo")
    assert held(r) == {"P": D("100.00")}


def test_known_opening_balance_and_shortfall():
    tx = txns([("a", 1, None, "S", "100"), ("b", 2, "S", "P", "150"), ("c", 3, "S", "Q", "10")])
    r = trace.forward(tx, ["a"], method="fifo", opening_balances={"S": "20"})
    # opening 20 known: queue [C20, T100]; b takes C20 + T100 + 30 shortfall (clean, reported)
    assert held(r) == {"P": D("100.00")}
    assert any("shortfall" in a for a in r.assumptions)
    r = trace.forward(tx, ["a"], method="fifo", opening_balances={"S": "60"})
    # queue [C60, T100]; b takes C60 + T90 -> S keeps T10, then c takes it
    assert held(r) == {"P": D("90.00"), "Q": D("10.00")}
    assert not any("shortfall" in a for a in r.assumptions)


def test_amount_above_balance_raises_opening_and_says_so():
    tx = txns([("a", 1, None, "S", "100"), ("b", 3, "S", "P", "100")])
    r = trace.forward(tx, "S", amount="150", since="1970-01-03", method="fifo")
    assert r.totals["tainted"].to_pylist() == [D("150.00")]
    assert any("exceeds the source account's balance" in a for a in r.assumptions)
    assert r.check_conservation()
    with pytest.raises(trace.TraceError):
        trace.forward(tx, "S", amount="150", since="1970-01-03", opening_balances={"S": "0"})


def test_hop_limit_min_amount_and_external_exits():
    tx = txns(
        [
            ("a", 1, None, "A", "100"),
            ("b", 2, "A", "B", "100"),
            ("c", 3, "B", "C", "60"),
            ("d", 4, "B", None, "40"),
            ("e", 5, "C", "D", "0.50"),
        ]
    )
    r = trace.forward(tx, ["a"], method="fifo", hops=1)
    assert held(r) == {}
    stops = {x["txn_id"]: x["stop"] for x in r.hops.to_pylist()}
    assert stops == {"b": None, "c": "hop_limit", "d": "external"}  # cash says more than the limit
    r = trace.forward(tx, ["a"], method="fifo", min_amount="1")
    stops = {x["txn_id"]: x["stop"] for x in r.hops.to_pylist()}
    assert stops == {"b": None, "c": None, "d": "external", "e": "below_min_amount"}
    ex = {x["reason"]: x["tainted_amount"] for x in r.exits.to_pylist()}
    assert ex == {"external": D("40.00"), "below_min_amount": D("0.50")}
    assert held(r) == {"C": D("59.50")}
    assert r.totals.to_pylist()[0] == {"currency": "EUR", "tainted": D("100.00"), "held": D("59.50"), "exited": D("40.50")}
    assert [x["depth"] for x in r.positions.to_pylist()] == [2]


def test_until_stops_the_walk():
    r = trace.forward(MIXED, ["t1"], method="fifo", until="1970-01-04")  # day 3 included, day 4 not
    assert moved(r) == [("t3", D("300.00"))]
    assert held(r) == {"A": D("700.00"), "B": D("300.00")}


def test_several_sources_split_by_source():
    tx = txns(
        [
            ("s1", 1, None, "A", "30"),
            ("s2", 2, None, "A", "70"),
            ("x", 3, "A", "B", "50"),
        ]
    )
    for method in trace.METHODS:
        one = trace.forward(tx, ["s1", "s2"], method=method)
        split = trace.forward(tx, ["s1", "s2"], method=method, by_source=True)
        assert moved(one) == moved(split) and held(one) == held(split)
        per = defaultdict(D)
        for r in split.hop_sources.to_pylist():
            per[r["txn_id"]] += r["tainted_amount"]
        assert dict(per) == {k: v for k, v in moved(one)}
    fifo = trace.forward(tx, ["s1", "s2"], method="fifo", by_source=True)
    assert {(r["source"], r["tainted_amount"]) for r in fifo.hop_sources.to_pylist()} == {
        ("s1", D("30.00")),
        ("s2", D("20.00")),
    }
    pr = trace.forward(tx, ["s1", "s2"], method="pro_rata", by_source=True)
    assert {(r["account"], r["source"], r["tainted_balance"]) for r in pr.position_sources.to_pylist()} == {
        ("A", "s1", D("15.00")),
        ("A", "s2", D("35.00")),
        ("B", "s1", D("15.00")),
        ("B", "s2", D("35.00")),
    }


def test_source_transaction_already_partly_tainted_is_not_counted_twice():
    tx = txns([("a", 1, None, "A", "100"), ("b", 2, "X", "A", "100"), ("c", 3, "A", "B", "150")])
    r = trace.forward(tx, ["a", "c"], method="pro_rata")
    # c carries 75 tainted already; the listed c adds only its other 75
    assert r.totals["tainted"].to_pylist() == [D("175.00")]
    assert held(r) == {"B": D("150.00"), "A": D("25.00")}
    assert r.check_conservation()


# --------------------------------------------------------------------------- currencies
CUR = txns(
    [
        ("u1", 1, None, "A", "100", "USD"),
        ("e1", 2, None, "A", "100", "EUR"),
        ("e2", 3, "A", "B", "80", "EUR"),
        ("u2", 4, "A", "C", "50", "USD"),
    ]
)


def test_currencies_are_traced_separately_and_never_added():
    r = trace.forward(CUR, "A", method="fifo")
    assert sorted(r.totals["currency"].to_pylist()) == ["EUR", "USD"]
    pos = {(p["account"], p["currency"]): p["tainted_balance"] for p in r.positions.to_pylist()}
    assert pos == {("B", "EUR"): D("80.00"), ("A", "EUR"): D("20.00"), ("C", "USD"): D("50.00"), ("A", "USD"): D("50.00")}
    assert all(h["currency"] == ("EUR" if h["txn_id"].startswith("e") else "USD") for h in r.hops.to_pylist())
    r = trace.forward(CUR, ["u1"], method="fifo")
    assert set(r.hops["currency"].to_pylist()) == {"USD"}
    assert any("other currencies were not followed" in a and "EUR: 2" in a for a in r.assumptions)
    r = trace.forward(CUR, ["u1", "e1"], method="fifo", currency="USD")
    assert set(r.totals["currency"].to_pylist()) == {"USD"}
    assert any("1 source transaction(s) not in USD" in a for a in r.assumptions)
    with pytest.raises(trace.TraceError, match="several currencies"):
        trace.forward(CUR, "A", amount="10")


def test_rates_convert_explicitly_and_are_recorded():
    rates = {"from_currency": ["EUR"], "to_currency": ["USD"], "rate": ["1.10"], "date": ["1970-01-01"]}
    r = trace.forward(CUR, ["u1", "e1"], method="fifo", currency="USD", rates=rates)
    rows = {h["txn_id"]: h for h in r.hops.to_pylist()}
    assert rows["e2"]["amount"] == D("88.00") and rows["e2"]["original_amount"] == D("80.00")
    assert rows["e2"]["rate"] == "1.10" and rows["e2"]["original_currency"] == "EUR"
    assert rows["u2"]["rate"] is None
    assert r.totals["tainted"].to_pylist() == [D("210.00")]
    assert set(r.positions["currency"].to_pylist()) == {"USD"}
    # inverse pair and missing rate
    inv = {"from_currency": ["USD"], "to_currency": ["EUR"], "rate": ["0.5"], "date": ["1970-01-01"]}
    r = trace.forward(CUR, ["u1", "e1"], method="fifo", currency="USD", rates=inv)
    assert {h["txn_id"]: h["rate"] for h in r.hops.to_pylist()}["e2"] == "2"
    late = {"from_currency": ["EUR"], "to_currency": ["USD"], "rate": ["1.1"], "date": ["1970-01-04"]}
    r = trace.forward(CUR, ["u1"], method="fifo", currency="USD", rates=late)
    assert any("no rate" in a for a in r.assumptions)


# ------------------------------------------------------------------------------ backward
def test_backward_funding_by_rule():
    tx = txns(
        [
            ("v1", 1, "V1", "H", "60"),
            ("v2", 2, "V2", "M", "40"),
            ("m", 3, "M", "H", "40"),
            ("buy", 4, "H", "SHOP", "50"),
        ]
    )
    def fund(method, **kw):
        r = trace.backward(tx, "H", txn_id="buy", method=method, **kw)
        assert sum(f["amount"] for f in r.funding.to_pylist()) == D("50.00")
        return {f["origin"]: f["amount"] for f in r.funding.to_pylist()}

    assert fund("fifo") == {"V1": D("50.00")}
    assert fund("lifo") == {"V2": D("40.00"), "V1": D("10.00")}
    assert fund("pro_rata") == {"V1": D("30.00"), "V2": D("20.00")}
    assert fund("libr") == {"V1": D("30.00"), "V2": D("20.00")}
    # unlimited, V1 and V2 are where the trail ends (their own funds); with one hop, V2 is
    # outside the upstream set and is named as the account that paid money into it
    kinds = {f["origin"]: f["kind"] for f in trace.backward(tx, "H", txn_id="buy", method="lifo").funding.to_pylist()}
    assert kinds == {"V1": "own_funds", "V2": "own_funds"}
    one = trace.backward(tx, "H", txn_id="buy", method="lifo", hops=1)
    assert {f["origin"]: f["kind"] for f in one.funding.to_pylist()} == {"V1": "own_funds", "V2": "inflow"}
    assert {h["txn_id"]: h["hop"] for h in one.hops.to_pylist()} == {"m": 1, "buy": 0}
    bal = trace.backward(tx, "H", method="fifo")
    assert {f["origin"]: f["amount"] for f in bal.funding.to_pylist()} == {"V2": D("40.00"), "V1": D("10.00")}
    assert bal.check_conservation()
    with pytest.raises(trace.TraceError):
        trace.backward(tx, "H", txn_id="v1")


def test_backward_libr_spends_own_funds_first():
    tx = txns([("o", 1, None, "H", "100"), ("v", 2, "V", "H", "50"), ("p", 3, "H", "P", "120")])
    r = trace.backward(tx, "H", txn_id="p", method="libr", since="1970-01-02T12:00")
    # H held 100 of its own before the window; those go first, then 20 of V's
    assert {f["origin"]: (f["kind"], f["amount"]) for f in r.funding.to_pylist()} == {
        "H": ("own_funds", D("100.00")),
        "V": ("own_funds", D("20.00")),
    }


# -------------------------------------------------------------------- reference engine
def _reference(
    rows, method, *, start, amount=None, since_day=None, until_day=None, max_hops=None, min_cents=1,
    openings=None, by_source=False,
):  # fmt: skip
    """Brute force: every account keeps an explicit ledger of parcels, every transaction is processed.

    rows: (txn_id, day, from, to, cents) sorted by (day, txn_id). Returns (hops, held, created)
    with hops = [(txn_id, hop, tainted, stop, {tag: cents})] and held = {account: {tag: cents}};
    tags are source indices in time order (all 0 unless by_source).
    """
    openings = openings or {}
    opening = defaultdict(int)
    run = defaultdict(int)
    for _, _, f, t, c in rows:
        if f is not None:
            run[f] -= c
            opening[f] = max(opening[f], -run[f])
        if t is not None:
            run[t] += c
    opening.update(openings)
    interval = method in ("fifo", "lifo")
    # ledgers: interval rules: ordered parcels [tag, cents], tag None = clean;
    # pro-rata / LIBR: [clean cents, {tag: cents}]
    led = {}
    for acct in set(opening) | {r[2] for r in rows} | {r[3] for r in rows}:
        if acct is not None:
            led[acct] = [[None, opening[acct]]] if interval else [opening[acct], {}]
    depth = {}
    hops, created = [], 0
    src_ids = [r[0] for r in rows if r[0] in set(start)] if not isinstance(start, str) else []
    src_tag = {tid: (i if by_source else 0) for i, tid in enumerate(src_ids)}

    def bal(acct):
        return sum(p[1] for p in led[acct]) if interval else led[acct][0] + sum(led[acct][1].values())

    def hamilton(total, parts):
        whole = sum(parts.values())
        out, rems = {}, []
        for g in sorted(parts):
            q, r = divmod(total * parts[g], whole)
            out[g] = q
            rems.append((-r, g))
        for _, g in sorted(rems)[: total - sum(out.values())]:
            out[g] += 1
        return out

    def tagged(carried):
        out = defaultdict(int)
        for g, v in carried if interval else carried.items():
            if g is not None and v:
                out[g] += v
        return dict(out)

    marked = False

    def mark():
        nonlocal created
        b = bal(start)
        x = b if amount is None else amount
        if x > b:  # the shortfall is an older opening balance
            if interval:
                led[start].insert(0, [None, x - b])
            else:
                led[start][0] += x - b
            b = x
        if interval:  # the newest x of the balance is tainted
            keep, need = [], b - x
            for tag, v in led[start]:
                take = min(v, need)
                if take:
                    keep.append([tag, take])
                need -= take
            led[start] = keep + ([[0, x]] if x else [])
        else:
            led[start][0] = b - x
            led[start][1] = {0: x} if x else {}
        created += x
        if x:
            depth[start] = 0

    for txn_id, day, f, t, c in rows:
        if until_day is not None and day > until_day:
            break
        if isinstance(start, str) and not marked and (since_day is None or day >= since_day):
            marked = True
            mark()
        carried = [] if interval else {}  # interval: ordered [tag, cents] incl. clean; else {tag: cents}
        if f is not None:
            short = c - bal(f)
            if short > 0:  # only accounts with a stated opening balance can be short
                assert f in openings
                if interval:
                    led[f].append([None, short])
                else:
                    led[f][0] += short
            if interval:
                q = led[f]
                need = c
                taken = []
                while need:
                    part = q[0] if method == "fifo" else q[-1]
                    take = min(part[1], need)
                    taken.append([part[0], take])
                    part[1] -= take
                    need -= take
                    if not part[1]:
                        q.pop(0 if method == "fifo" else -1)
                carried = taken if method == "fifo" else taken[::-1]
            else:
                clean, tags = led[f]
                tot = sum(tags.values())
                b = clean + tot
                out = tot * c // b if method == "pro_rata" else max(0, c - clean)
                carried = hamilton(out, tags) if out else {}
                for g, v in carried.items():
                    tags[g] -= v
                    if not tags[g]:
                        del tags[g]
                led[f][0] = clean - (c - out)
        split = tagged(carried)
        taint = taint0 = sum(split.values())
        is_src = txn_id in src_tag or (isinstance(start, str) and amount is None and t == start and marked)
        hop = None
        if taint:
            hop = depth[f] + 1
            stop = None
            if t is None:
                stop = "external"
            elif not is_src and max_hops is not None and hop > max_hops:
                stop = "hop_limit"
            elif not is_src and taint < min_cents:
                stop = "below_min_amount"
            hops.append((txn_id, hop, taint, stop, split))
            if stop:
                carried = [[None, v] for _, v in carried] if interval else {}
                taint = 0
        if is_src:
            tag = src_tag.get(txn_id, 0)
            created += c - taint0
            if interval:
                carried = [[tag if g is None else g, v] for g, v in (carried or [[None, c]])]
            else:
                carried = dict(carried)
                carried[tag] = carried.get(tag, 0) + c - taint0
        if t is None:
            continue
        if interval:
            for g, v in carried or [[None, c]]:
                led[t].append([g, v])
        else:
            led[t][0] += c - sum(carried.values())
            for g, v in carried.items():
                led[t][1][g] = led[t][1].get(g, 0) + v
        if is_src:
            depth[t] = 0
        elif taint and (t not in depth or hop < depth[t]):
            depth[t] = hop
    if isinstance(start, str) and not marked and (until_day is None or since_day is None or since_day <= until_day):
        mark()
    out = {}
    for acct, lg in led.items():
        v = tagged(lg) if interval else {g: x for g, x in lg[1].items() if x}
        if v:
            out[acct] = v
    return hops, out, created


ACCTS = ["A", "B", "C", "D", None]


@st.composite
def histories(draw):
    n = draw(st.integers(1, 30))
    rows = []
    for i in range(n):
        f = draw(st.sampled_from(ACCTS))
        t = draw(st.sampled_from(ACCTS))
        if f == t:
            continue
        rows.append((f"t{i:03d}", draw(st.integers(0, 12)), f, t, draw(st.integers(1, 50_000))))
    rows.sort(key=lambda r: (r[1], r[0]))
    return rows


def _table(rows):
    return txns([(i, d, f, t, D(c) / 100) for i, d, f, t, c in rows])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=histories(),
    method=st.sampled_from(trace.METHODS),
    kind=st.sampled_from(["txns", "txns_by_source", "amount", "proceeds"]),
    hops=st.sampled_from([None, 1, 2, 3]),
    min_cents=st.sampled_from([1, 1, 500]),
    data=st.data(),
)
def test_matches_brute_force_and_conserves(rows, method, kind, hops, min_cents, data):
    """The fast engine equals a brute-force replay of every ledger, and conserves taint."""
    if not rows:
        return
    table = _table(rows)
    since_day = data.draw(st.integers(0, 12))
    until_day = data.draw(st.sampled_from([None, 6, 12]))
    openings = data.draw(st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, 3000), max_size=2))
    kw = dict(method=method, hops=hops, min_amount=D(min_cents) / 100, ledger=True,
              opening_balances={k: D(v) / 100 for k, v in openings.items()})  # fmt: skip
    if until_day is not None:
        kw["until"] = f"1970-01-{until_day + 1:02d}"
    by_source = kind == "txns_by_source"
    if kind.startswith("txns"):
        ids = data.draw(st.lists(st.sampled_from([r[0] for r in rows]), min_size=1, max_size=4, unique=True))
        start, amount, sd = ids, None, None
        r = trace.forward(table, ids, by_source=by_source, **kw)
    else:
        present = [a for a in ACCTS if a and any(a in (x[2], x[3]) for x in rows)]
        if not present:
            return
        acct = data.draw(st.sampled_from(present))
        if until_day is not None and since_day > until_day:
            return
        amount = data.draw(st.integers(1, 40_000)) if kind == "amount" else None
        if amount is not None:
            openings.pop(acct, None)
            kw["opening_balances"].pop(acct, None)
        start, sd = acct, since_day
        since = f"1970-01-{since_day + 1:02d}"
        r = trace.forward(table, acct, amount=None if amount is None else D(amount) / 100, since=since, **kw)
    ref_hops, ref_held, ref_created = _reference(
        rows, method, start=start, amount=amount, since_day=sd, until_day=until_day, max_hops=hops,
        min_cents=min_cents, openings=openings, by_source=by_source,
    )  # fmt: skip
    got = [(h["txn_id"], h["hop"], int(h["tainted_amount"] * 100), h["stop"]) for h in r.hops.to_pylist()]
    assert got == [h[:4] for h in ref_hops]
    assert {a: int(v * 100) for a, v in held(r).items()} == {a: sum(v.values()) for a, v in ref_held.items()}
    if by_source:
        names = [x[0] for x in rows if x[0] in set(start)]
        got_split = defaultdict(dict)
        for x in r.hop_sources.to_pylist():
            got_split[x["txn_id"]][names.index(x["source"])] = int(x["tainted_amount"] * 100)
        assert [got_split[h[0]] for h in ref_hops] == [h[4] for h in ref_hops]
        pos = defaultdict(dict)
        for x in r.position_sources.to_pylist():
            pos[x["account"]][names.index(x["source"])] = int(x["tainted_balance"] * 100)
        assert dict(pos) == ref_held
    tot = r.totals.to_pylist()[0] if r.totals.num_rows else None
    if tot is not None:
        assert int(tot["tainted"] * 100) == ref_created
        assert tot["tainted"] == tot["held"] + tot["exited"]
    assert r.check_conservation()
    _check_ledger_steps(r)
    _check_time_order(r)


def _check_ledger_steps(r):
    """At every account and step: tainted after = before + tainted in - tainted out, 0 <= taint <= balance."""
    hop_by_txn = defaultdict(list)
    for h in r.hops.to_pylist():
        hop_by_txn[h["txn_id"]].append(h)
    src_by_txn = {s["txn_id"]: s for s in r.sources.to_pylist() if s["txn_id"] is not None}
    last = {}
    for row in r.ledger.to_pylist():
        acct = row["account"]
        assert D(0) <= row["tainted_balance"] <= row["balance"]
        if row["side"] == "start":
            assert acct not in last
            last[acct] = row["tainted_balance"]
            continue
        before = last.get(acct, D(0))
        delta = D(0)
        for h in hop_by_txn.get(row["txn_id"], []):
            if row["side"] == "out" and h["from_account"] == acct:
                delta -= h["tainted_amount"]
            if row["side"] == "in" and h["to_account"] == acct and h["stop"] is None:
                delta += h["tainted_amount"]
        s = src_by_txn.get(row["txn_id"])
        if row["side"] == "in" and s is not None and s["account"] == acct:
            delta += s["amount"]
        assert row["tainted_balance"] == before + delta, row
        last[acct] = row["tainted_balance"]
    for acct, v in held(r).items():
        assert last.get(acct) == v


def _check_time_order(r):
    """No hop leaves an account before taint reached it (global order: timestamp, then txn_id)."""
    first = {}
    for s in r.sources.to_pylist():
        key = (s["timestamp"], s["txn_id"] or "")
        first[s["account"]] = min(first.get(s["account"], key), key)
    for h in r.hops.to_pylist():  # hops are in global order
        key = (h["timestamp"], h["txn_id"])
        assert h["from_account"] in first and first[h["from_account"]] < key or (
            first.get(h["from_account"], (None, None))[1] == ""
            and first[h["from_account"]][0] <= h["timestamp"]
        )
        if h["stop"] is None and h["to_account"] is not None:
            first[h["to_account"]] = min(first.get(h["to_account"], key), key)
    times = r.hops["timestamp"].to_pylist()
    assert times == sorted(times)


@settings(max_examples=60, deadline=None)
@given(rows=histories(), method=st.sampled_from(trace.METHODS), seed=st.integers(0, 1000))
def test_deterministic_and_independent_of_row_order(rows, method, seed):
    if not rows:
        return
    table = _table(rows)
    shuffled = table.take(pa.array(np.random.default_rng(seed).permutation(table.num_rows)))
    a = trace.forward(table, [rows[0][0]], method=method)
    b = trace.forward(shuffled, [rows[0][0]], method=method)
    for name in ("hops", "positions", "sources", "exits", "totals"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert a.summary() == b.summary()


@settings(max_examples=60, deadline=None)
@given(rows=histories(), method=st.sampled_from(trace.METHODS))
def test_backward_funding_sums_to_the_destination(rows, method):
    if not rows:
        return
    table = _table(rows)
    dest = next((r[3] for r in rows if r[3] is not None), None)
    if dest is None:
        return
    r = trace.backward(table, dest, method=method)
    assert r.check_conservation()
    funded = sum((f["amount"] for f in r.funding.to_pylist()), D(0))
    ix = trace.TraceIndex(table)
    sc = ix.scope("EUR")
    cin, cout = sc.state_before(ix.account_code(dest), sc.n)
    assert funded == D(cin - cout) / 1000  # the index counts thousandths of the unit


# ----------------------------------------------------------------------- API behaviour
def test_bad_requests_raise_without_naming_accounts():
    with pytest.raises(trace.TraceError, match="method"):
        trace.forward(MIXED, ["t1"], method="average")
    with pytest.raises(trace.TraceError) as exc:
        trace.forward(MIXED, "SECRET-ACCOUNT-123")
    assert "SECRET" not in str(exc.value)
    with pytest.raises(trace.TraceError):
        trace.forward(MIXED, ["nope"])
    with pytest.raises(trace.TraceError):
        trace.forward(MIXED, "A", hops=0)
    with pytest.raises(trace.TraceError):
        trace.forward(MIXED, "A", amount="1.001")
    with pytest.raises(trace.TraceError):
        trace.forward(MIXED, ["t1"], amount="5")


def test_index_is_reusable_and_input_not_mutated():
    before = MIXED.to_pylist()
    ix = trace.TraceIndex(MIXED)
    for method in trace.METHODS:
        assert trace.forward(ix, ["t1"], method=method).hops.equals(trace.forward(MIXED, ["t1"], method=method).hops)
    assert MIXED.to_pylist() == before


def test_alert_table_as_source_and_result_tables_are_typed():
    alerts = pa.table({"evidence_txn_ids": [["t1"], ["t2"]]})
    r = trace.forward(MIXED, alerts, method="fifo")
    assert r.totals["tainted"].to_pylist() == [D("1500.00")]
    assert r.hops.schema.field("tainted_amount").type == schema.MONEY
    assert r.positions.schema.field("balance").type == schema.MONEY
    assert r.hops.column_names[:11] == [
        "hop", "txn_id", "timestamp", "from_account", "to_account", "amount", "currency",
        "tainted_amount", "method", "stop", "source_ref",
    ]  # fmt: skip
    assert "Forward trace" in r._repr_html_() and "TraceResult" in repr(r)


def test_summary_reads_as_plain_words():
    r = trace.forward(MIXED, ["t1"], method="libr")
    s = r.summary()
    assert "lowest intermediate balance" in s and "EUR 1,000.00" in s and "Conservation" in s
    assert "C: EUR 700.00 tainted" in s


def test_sample_data_forward_all_methods(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv", progress=False)
    ix = trace.TraceIndex(b)
    for method in trace.METHODS:
        r = trace.forward(ix, "amlsim/475", since="2017-01-01", method=method, hops=4)
        assert r.check_conservation()
        assert r.positions.num_rows > 0
        assert set(r.hops["currency"].to_pylist()) == {"USD"}


# ------------------------------------------------------------------------------------ CLI
def test_cli_trace_on_sample_data(tmp_path, sample_data):
    path = sample_data / "amlsim" / "transactions.csv"
    r = CliRunner().invoke(main, ["trace", str(path), "--from", "amlsim/475", "--since", "2017-01-01", "--method", "libr"])
    assert r.exit_code == 0, r.output
    assert "lowest intermediate balance" in r.output and "Top destinations" in r.output
    assert "amlsim/" in r.output.split("Top destinations")[1]
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        ["trace", str(path), "--from", "amlsim/475", "--amount", "500", "--method", "fifo", "--hops", "2", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    for name in ("hops", "positions", "sources", "exits"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()
    assert (out / "summary.txt").read_text().startswith("Forward trace")


def test_cli_trace_errors_are_one_line(sample_data):
    path = sample_data / "amlsim" / "transactions.csv"
    r = CliRunner().invoke(main, ["trace", str(path), "--from", "nobody/1"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["trace", str(path), "--from", "amlsim/475", "--since", "not a date"])
    assert r.exit_code == 2


# --------------------------------------------------------------------------- minor units (issue 13)
@pytest.mark.parametrize("currency, share", [("EUR", D("33.33")), ("KWD", D("33.333")), ("JPY", D("33"))])
def test_pro_rata_shares_are_whole_minor_units_of_the_currency(currency, share):
    """A third of 100 tainted in a balance of 300 paid on: rounded down to a cent, a fils, a yen."""
    tx = txns([("t1", 0, None, "A", 100), ("t2", 1, None, "A", 200), ("t3", 2, "A", "B", 100)], currency)
    r = trace.forward(tx, ["t1"], method="pro_rata")
    (hop,) = [h for h in r.hops.to_pylist() if h["txn_id"] == "t3"]
    assert hop["tainted_amount"] == share
    assert r.check_conservation()


def test_pro_rata_split_over_several_sources_is_in_whole_cents():
    """Two sources sharing one account: the payment's taint is split in cents, never in thousandths."""
    tx = txns([("s1", 0, None, "A", 10), ("s2", 0.5, None, "A", 20), ("c", 0.7, None, "A", 70), ("p", 1, "A", "B", D("0.07"))])
    r = trace.forward(tx, ["s1", "s2"], method="pro_rata")
    carried = [h["tainted_amount"] for h in r.hops.to_pylist() if h["txn_id"] == "p"]
    assert sum(carried) <= D("0.03") and all(a == a.quantize(D("0.01")) for a in carried)
    assert r.check_conservation()


def test_an_amount_with_more_decimals_than_the_currency_is_refused():
    tx = txns([("t1", 0, None, "A", 100), ("t2", 1, "A", "B", 50)])
    with pytest.raises(fm.TraceError, match="more decimals than EUR"):
        trace.forward(tx, "A", amount="10.005", since="1970-01-01")
    r = trace.forward(txns([("t1", 0, None, "A", 100), ("t2", 1, "A", "B", 50)], "KWD"), "A", amount="10.005", since="1970-01-01")
    assert r.totals.to_pylist()[0]["tainted"] == D("10.005")
