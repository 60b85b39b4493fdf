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
    # one Person per resolved person, one Company for the company's 7 mentions, and
    # placeholders for the walk-in and statement-only counterparties no report identifies
    assert schemas["Person"] == 7 and schemas["Company"] == 1 and schemas["LegalEntity"] == counts["placeholders"]
    assert schemas["BankAccount"] == 8 and schemas["Ownership"] >= 2 and schemas["Payment"] >= 1
    assert counts["skipped_payments"] == 0 and schemas["Payment"] == b.transactions.num_rows
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
    assert counts["Person"] + counts["Company"] + counts["LegalEntity"] - counts["placeholders"] == b.parties.num_rows


# ----------------------------------------------------------------------------- analyst exports
def test_score_writes_an_analyst_workbook_and_exports(tmp_path, sample_data):
    import openpyxl
    import pandas as pd
    from click.testing import CliRunner

    from followmoney.cli import main

    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["score", str(sample_data / "goaml"), "--jurisdiction", "AE", "--out", str(run), "-q"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(run / "cases.xlsx")
    assert wb.sheetnames == ["Cases", "Alerts"]
    heads = [c.value for c in wb["Cases"][1]]
    assert heads[:6] == ["Case ID", "Subject type", "Subject", "Name", "Also written as", "Likely role"]
    assert "Appears to control" in heads
    alerts_heads = [c.value for c in wb["Alerts"][1]]
    assert "Where in the source files" in alerts_heads and "Thresholds used" in alerts_heads

    r = CliRunner().invoke(main, ["export", "--run", str(run), "--to", "i2", "--out", str(tmp_path / "i2")])
    assert r.exit_code == 0, r.output
    ent = pd.read_csv(tmp_path / "i2" / "entities.csv", encoding="utf-8-sig")
    links = pd.read_csv(tmp_path / "i2" / "links.csv", encoding="utf-8-sig")
    assert {"Account", "Person", "Phone", "Address"} <= set(ent["Entity Type"])
    assert set(links["From ID"]) | set(links["To ID"]) <= set(ent["Entity ID"])  # every link end is an entity
    # the controller is one entity however many reports name him
    assert (ent["Label"] == "Tariq Fictus").sum() == 1
    transfers = links[links["Link Type"] == "Transfer"]
    assert transfers["Reference"].str.contains("#/report").all()

    for fmt, name in (("graphml", "g.graphml"), ("gexf", "g.gexf")):
        r = CliRunner().invoke(main, ["export", "--run", str(run), "--to", fmt, "--out", str(tmp_path / name)])
        assert r.exit_code == 0 and (tmp_path / name).stat().st_size > 1000


def test_workbook_capped_to_the_cases_of_highest_risk_with_a_note(tmp_path, sample_data):
    """At national scale the workbook holds the top cases; the CSV/Parquet hold all (and the Notes sheet says so)."""
    import openpyxl
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from followmoney.cli import main

    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["score", str(sample_data / "amlsim" / "transactions.csv"), "--out", str(run), "-q", "--excel-max-cases", "3"])  # fmt: skip
    assert r.exit_code == 0, r.output
    cases = pq.read_table(run / "cases.parquet")
    alerts = pq.read_table(run / "alerts.parquet")
    assert cases.num_rows > 3 and pacsv.read_csv(run / "cases.csv").num_rows == cases.num_rows
    wb = openpyxl.load_workbook(run / "cases.xlsx", read_only=True)
    assert wb.sheetnames == ["Cases", "Alerts", "Notes"]
    rows = list(wb["Cases"].values)
    top = cases.sort_by([("risk_score", "descending"), ("case_id", "ascending")]).slice(0, 3)
    assert [x[0] for x in rows[1:]] == top["case_id"].to_pylist()  # the three of highest risk, in order
    kept_alerts = {a for ids in top["alert_ids"].to_pylist() for a in ids}
    sheet_alerts = [x[0] for x in list(wb["Alerts"].values)[1:]]
    assert set(sheet_alerts) == kept_alerts and len(sheet_alerts) == len(kept_alerts) < alerts.num_rows
    notes = " ".join(x[0] for x in wb["Notes"].values)
    assert f"3 cases of highest risk of {cases.num_rows:,}" in notes and "cases.parquet and cases.csv" in notes
    assert "alerts.parquet and alerts.csv" in notes


def test_workbook_holds_every_case_under_the_cap_and_with_zero(tmp_path, sample_data):
    import openpyxl
    import pyarrow.parquet as pq

    from followmoney.pipeline import EXCEL_MAX_CASES, run_score

    assert EXCEL_MAX_CASES == 10_000
    run_score([sample_data / "amlsim" / "transactions.csv"], tmp_path / "a", progress=False)  # default cap, not reached
    run_score([sample_data / "amlsim" / "transactions.csv"], tmp_path / "b", progress=False, excel_max_cases=None)
    n = pq.read_table(tmp_path / "a" / "cases.parquet").num_rows
    for run in ("a", "b"):
        wb = openpyxl.load_workbook(tmp_path / run / "cases.xlsx", read_only=True)
        assert wb.sheetnames == ["Cases", "Alerts"]
        assert len(list(wb["Cases"].values)) == n + 1
