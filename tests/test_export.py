"""Export: GraphML / GEXF round trips and FollowTheMoney entities."""

import json
from collections import Counter

import networkx as nx
import pytest

import followmoney as fm
from followmoney.export import to_ftm, to_gexf, to_graphml, write_ftm
from followmoney.graph import entity_graph, flow_graph, identifier_node, neighbourhood, transaction_graph
from followmoney.resolve import resolve


@pytest.fixture
def goaml(sample_data):
    b = fm.read(sample_data / "goaml")
    return b, resolve(b)


@pytest.mark.parametrize("writer,reader", [(to_graphml, nx.read_graphml), (to_gexf, nx.read_gexf)])
def test_entity_graph_round_trips(tmp_path, goaml, writer, reader):
    b, res = goaml
    E = entity_graph(b, res)
    path = writer(E, tmp_path / "entities.out")
    back = reader(path)
    assert back.number_of_nodes() == E.number_of_nodes()
    assert back.number_of_edges() == E.number_of_edges()
    phone = identifier_node("phone", "+971500000101")
    assert back.nodes[phone]["kind"] == "identifier"


@pytest.mark.parametrize("writer", [to_graphml, to_gexf])
def test_flow_and_compact_and_truncated_views_export(tmp_path, goaml, writer):
    b, _ = goaml
    F = flow_graph(b)
    writer(F, tmp_path / "flow.out")
    G = transaction_graph(b, compact=True)
    H = neighbourhood(G, "GSMB/2002003001", hops=1, max_nodes=3)
    writer(H, tmp_path / "ego.out")
    assert "more:GSMB/2002003001" in (tmp_path / "ego.out").read_text()


def test_ftm_entities(tmp_path, goaml):
    pytest.importorskip("followthemoney")
    b, res = goaml
    counts = write_ftm(b, tmp_path / "e.ftm.json", res)
    rows = [json.loads(line) for line in (tmp_path / "e.ftm.json").read_text().splitlines()]
    schemas = Counter(r["schema"] for r in rows)
    # one Person per resolved person, one Company for the company's 7 mentions
    assert schemas["Person"] == 7 and schemas["Company"] == 1
    assert schemas["BankAccount"] == 8 and schemas["Ownership"] >= 2 and schemas["Payment"] >= 1
    assert counts["skipped_payments"] + schemas["Payment"] == b.transactions.num_rows
    tariq = next(r for r in rows if r["schema"] == "Person" and "Tariq Fictus" in r["properties"]["name"])
    assert tariq["properties"]["phone"] == ["+971500000101"] and tariq["properties"]["nationality"] == ["ae"]
    pay = next(r for r in rows if r["schema"] == "Payment")
    assert "." in pay["properties"]["amount"][0]  # decimal string, not a float
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    again = [e.id for e in to_ftm(b, res)]
    assert again == ids  # stable ids


def test_ftm_without_resolution_is_one_entity_per_mention(goaml):
    pytest.importorskip("followthemoney")
    b, _ = goaml
    counts = Counter()
    list(to_ftm(b, counts=counts))
    assert counts["Person"] + counts["Company"] == b.parties.num_rows
