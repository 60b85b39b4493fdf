from datetime import datetime, timezone
from decimal import Decimal

import pyarrow as pa

import followmoney as fm


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
    assert sum(e["amount_cents"] for e in edges.values()) == 1200
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
