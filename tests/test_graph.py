import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

import followmoney as fm
from followmoney.graph import (
    ConflictingDuplicateError,
    entity_graph,
    flow_graph,
    flow_table,
    identifier_node,
    neighbourhood,
    paths,
    transaction_graph,
)
from followmoney.resolve import resolve


def test_parallel_transfers_are_separate_edges():
    """shared/cases/linking.md BR-17: A->B twice stays two edges, total 12.00."""
    ts = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows = [
        {"txn_id": t, "source": "x", "source_ref": f"f:{i}", "timestamp": ts, "amount": Decimal(a), "currency": "EUR",
         "from_account": s, "to_account": d, "channel": "transfer"}
        for i, (t, s, d, a) in enumerate([("tx1", "ACC-A", "ACC-B", "5.00"), ("tx2", "ACC-A", "ACC-B", "7.00"),
                                          ("tx3", "ACC-B", "ACC-C", "3.00")])
    ]  # fmt: skip
    G = fm.build_graph(fm.Bundle(transactions=pa.Table.from_pylist(rows)))
    edges = G.get_edge_data("ACC-A", "ACC-B")
    assert set(edges) == {"tx1", "tx2"}
    assert sum(e["amount_cents"] for e in edges.values()) == 12000  # thousandths of EUR
    assert G.nodes["ACC-A"]["kind"] == "account"


def test_graph_of_sample_has_every_transaction_and_holders(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    G = fm.build_graph(b)
    tx_edges = [k for _, _, k, r in G.edges(keys=True, data="relation") if r == "transaction"]
    assert len(tx_edges) == b.transactions.num_rows
    holders = [1 for _, _, r in G.edges(data="relation") if r == "holder"]
    assert len(holders) == b.party_accounts.num_rows
    assert G.graph["one_sided_transactions"] == 0


def test_cash_deposit_by_walk_in_party_links_party_to_account():
    ts = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rows = [{"txn_id": "t1", "source": "x", "source_ref": "f#1", "timestamp": ts, "amount": Decimal("50"),
             "currency": "AED", "from_party": "P1", "to_account": "BANK/1", "channel": "cash_deposit"},
            {"txn_id": "t2", "source": "x", "source_ref": "f#2", "timestamp": ts, "amount": Decimal("50"),
             "currency": "AED", "to_account": "BANK/1", "channel": "cash_deposit"}]  # fmt: skip
    ids = [{"owner_kind": "party", "owner_id": "P1", "kind": "phone", "value": "+971500000001", "source_ref": "f#3"}]
    G = fm.build_graph(fm.Bundle(transactions=pa.Table.from_pylist(rows), identifiers=pa.Table.from_pylist(ids)))
    assert G.has_edge("P1", "BANK/1", "t1") and G.nodes["P1"]["kind"] == "party"
    assert G.graph["one_sided_transactions"] == 1
    assert G.has_edge("P1", "id:phone:+971500000001")


# --------------------------------------------------------------------------- BR-17 and the three graphs
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _tx(rows):
    """rows: (txn_id, src, dst, amount[, currency[, day]])."""
    out = []
    for i, r in enumerate(rows):
        t, s, d, a = r[:4]
        cur = r[4] if len(r) > 4 else "EUR"
        day = r[5] if len(r) > 5 else 0
        out.append({"txn_id": t, "source": "x", "source_ref": f"f:{i}", "timestamp": T0 + timedelta(days=day),
                    "amount": Decimal(a), "currency": cur, "from_account": s, "to_account": d, "channel": "transfer"})  # fmt: skip
    return pa.Table.from_pylist(out)


BR17 = """txid,src,dst,amount
tx1,ACC-A,ACC-B,5.00
tx2,ACC-A,ACC-B,7.00
tx1,ACC-A,ACC-B,5.00
tx3,ACC-B,ACC-C,3.00
tx3,ACC-B,ACC-C,4.00
"""


def _br17(drop_conflict: bool):
    rows = [(r["txid"], r["src"], r["dst"], r["amount"]) for r in csv.DictReader(io.StringIO(BR17))]
    if drop_conflict:
        rows = [r for r in rows if not (r[0] == "tx3" and r[3] == "4.00")]
    return _tx(rows)


@pytest.mark.parametrize("compact", [False, True])
def test_br17_parallel_edges_kept_exact_duplicate_dropped(compact):
    G = transaction_graph(_br17(drop_conflict=True), compact=compact)
    assert G.number_of_edges("ACC-A", "ACC-B") == 2
    assert G.graph["duplicates_dropped"] == 1
    F = flow_graph(_br17(drop_conflict=True))
    assert F["ACC-A"]["ACC-B"]["count"] == 2 and F["ACC-A"]["ACC-B"]["totals"] == {"EUR": 12000}
    if not compact:
        assert set(G.get_edge_data("ACC-A", "ACC-B")) == {"tx1", "tx2"}
    else:
        keys = G.get_edge_data("ACC-A", "ACC-B")
        assert sorted(G.graph["edges"]["txn_id"].to_pylist()[k] for k in keys) == ["tx1", "tx2"]


@pytest.mark.parametrize("build", [transaction_graph, flow_graph, flow_table])
def test_br17_conflicting_duplicate_txid_is_an_error(build):
    with pytest.raises(ConflictingDuplicateError) as exc:
        build(_br17(drop_conflict=False))
    assert exc.value.code == "conflicting_duplicate_txid" and exc.value.count == 1
    assert "ACC" not in str(exc.value)  # names fields and counts, not data


def test_build_graph_drops_exact_duplicates_and_refuses_conflicts():
    G = fm.build_graph(fm.Bundle(transactions=_br17(drop_conflict=True)))
    assert G.graph["duplicates_dropped"] == 1 and G.number_of_edges("ACC-A", "ACC-B") == 2
    with pytest.raises(ConflictingDuplicateError):
        fm.build_graph(fm.Bundle(transactions=_br17(drop_conflict=False)))


def test_flow_totals_are_per_currency_never_added():
    t = _tx([("t1", "A", "B", "10.00", "EUR", 1), ("t2", "A", "B", "5.50", "USD", 3), ("t3", "A", "B", "1.00", "EUR", 2)])
    F = flow_graph(t)
    e = F["A"]["B"]
    assert e["totals"] == {"EUR": 11000, "USD": 5500} and e["count"] == 3
    assert (e["first"], e["last"]) == (T0 + timedelta(days=1), T0 + timedelta(days=3))
    rows = flow_table(t).to_pylist()
    assert [(r["currency"], r["count"], r["total_cents"]) for r in rows] == [("EUR", 2, 11000), ("USD", 1, 5500)]


def test_compact_and_full_graphs_have_the_same_edges(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv")
    full, compact = transaction_graph(b), transaction_graph(b, compact=True)
    ids = compact.graph["edges"]["txn_id"].to_pylist()
    assert sorted((u, v, k) for u, v, k in full.edges(keys=True)) == sorted((u, v, ids[k]) for u, v, k in compact.edges(keys=True))


# --------------------------------------------------------------------------- entity graph
def test_entity_graph_links_clusters_parties_accounts_identifiers(sample_data):
    b = fm.read(sample_data / "goaml")
    res = resolve(b)
    E = entity_graph(b, res)
    kinds = {k for _, k in E.nodes(data="kind")}
    assert kinds == {"cluster", "party", "account", "identifier"}
    relations = {r for _, _, r in E.edges(data="relation")}
    assert {"same_as", "holder", "signatory", "director", "has_identifier"} <= relations
    phone = identifier_node("phone", "+971500000101")
    assert E.nodes[phone]["n_clusters"] == 4
    C = entity_graph(b, res, collapse=True)
    assert not [n for n, k in C.nodes(data="kind") if k == "party"]
    assert C.in_degree(phone) == 4  # the controller and three victims, one node each


# --------------------------------------------------------------------------- views
def test_neighbourhood_caps_with_a_visible_marker():
    t = _tx([(f"t{i}", f"S{i:02d}", "HUB", "1.00", "EUR", i) for i in range(30)])
    G = transaction_graph(t)
    H = neighbourhood(G, "HUB", hops=1, max_nodes=10)
    real = [n for n, k in H.nodes(data="kind") if k != "truncated"]
    assert len(real) == 10 and H.graph["truncated"] and H.graph["hidden_nodes"] == 21
    assert H.nodes["more:HUB"]["hidden"] == 21 and H.has_edge("HUB", "more:HUB")
    full = neighbourhood(G, "HUB", hops=1, max_nodes=100)
    assert not full.graph["truncated"] and full.number_of_nodes() == 31


@pytest.mark.parametrize("compact", [False, True])
def test_neighbourhood_time_window(compact):
    t = _tx([("t1", "A", "B", "1.00", "EUR", 1), ("t2", "B", "C", "1.00", "EUR", 5), ("t3", "C", "D", "1.00", "EUR", 9)])
    G = transaction_graph(t, compact=compact)
    H = neighbourhood(G, "B", hops=3, since=T0 + timedelta(days=2), until=T0 + timedelta(days=9))
    assert set(H) == {"B", "C", "D"}
    assert {d["timestamp"] for _, _, d in H.edges(data=True)} == {T0 + timedelta(days=5), T0 + timedelta(days=9)}
    assert all("amount_cents" in d for _, _, d in H.edges(data=True))


def test_neighbourhood_of_a_cluster_in_the_entity_graph(sample_data):
    b = fm.read(sample_data / "goaml")
    E = entity_graph(b, collapse=True)
    phone = identifier_node("phone", "+971500000101")
    H = neighbourhood(E, phone, hops=1)
    assert sum(1 for _, k in H.nodes(data="kind") if k == "cluster") == 4


def test_paths_respect_time_order():
    """BR-18's planted ring, as paths: P1->P2->P3->P4 on days 1-4; the reverse order is no path."""
    t = _tx([("r1", "P1", "P2", "1.00", "EUR", 1), ("r2", "P2", "P3", "1.00", "EUR", 2), ("r3", "P3", "P4", "1.00", "EUR", 3),
             ("back", "P2", "P4", "1.00", "EUR", 0)])  # fmt: skip
    for compact in (False, True):
        G = transaction_graph(t, compact=compact)
        found = list(paths(G, "P1", "P4"))
        assert [p.nodes for p in found] == [("P1", "P2", "P3", "P4")]
        assert list(found[0].timestamps) == sorted(found[0].timestamps)
    G = transaction_graph(t)
    assert list(paths(G, "P1", "P4", max_hops=2)) == []
    assert list(paths(G, "P1", "P4", max_gap=timedelta(hours=12))) == []


def test_paths_are_bounded_on_a_hub():
    hub = [(f"h{i}-{j}", f"H{i:02d}", f"H{j:02d}", "1.00", "EUR", 1) for i in range(12) for j in range(12) if i != j]
    G = transaction_graph(_tx(hub))
    search = paths(G, "H00", "H11", max_hops=6, max_steps=5_000)
    found = list(search)
    assert search.truncated and search.steps <= 5_001 and found
    assert all(len(set(p.nodes)) == len(p.nodes) for p in found)
