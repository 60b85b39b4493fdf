"""Analyst outputs as an analyst opens them: names, report by case id or name, i2, Gephi, FtM, Excel.

Each test opens the file the way the tool does (networkx for GraphML/GEXF, pandas with
the BOM for i2, openpyxl for the workbook, followthemoney's own validator) and checks
what an analyst would: the names are there, the money adds up, every payment is there.
"""

import json
import re
from collections import Counter
from decimal import Decimal
from html import unescape

import networkx as nx
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import followmoney as fm
from followmoney.cli import main
from followmoney.names import display_names
from followmoney.resolve import resolve

CONTROLLER = "DEXB/1001002001"
NAME = "Tariq Fictus"


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    r = run("score", fm.sample_data_path() / "goaml", "--jurisdiction", "AE", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def cases(run_dir):
    return pq.read_table(run_dir / "cases.parquet").to_pandas()


@pytest.fixture(scope="module")
def controller_case(cases):
    # one case per resolved person: the controller's case holds his account
    return cases.loc[cases["accounts"].map(lambda a: CONTROLLER in list(a)), "case_id"].item()


# ----------------------------------------------------------------------------- names
def test_names_resolve_mentions_and_label_accounts(sample_data):
    b = fm.read(sample_data / "goaml")
    names = display_names(b, resolve(b))
    assert names.name(CONTROLLER) == NAME and names.label(CONTROLLER) == f"{NAME} · 1001002001"
    # every mention of the controller shows the same name
    pids = b.parties.filter(fm_eq(b.parties["name"], NAME))["party_id"].to_pylist()
    assert len(pids) > 1 and {names.name(p) for p in pids} == {NAME}
    assert names.label("phone:+971500000101") == "+971500000101"
    assert names.label("NOPE/1") == "NOPE/1"  # never empty


def fm_eq(col, value):
    import pyarrow.compute as pc

    return pc.fill_null(pc.equal(col, value), False)


def test_cases_csv_and_xlsx_show_names_beside_ids(run_dir):
    csv = pd.read_csv(run_dir / "cases.csv")
    row = csv[csv["subject_name"] == NAME].iloc[0]
    assert CONTROLLER in row["accounts"] and row["role"] == "controller"
    wb = openpyxl.load_workbook(run_dir / "cases.xlsx")
    ws = wb["Cases"]
    heads = [c.value for c in ws[1]]
    assert heads[:5] == ["Case ID", "Subject type", "Subject", "Name", "Also written as"]
    rows = [dict(zip(heads, (c.value for c in r))) for r in ws.iter_rows(min_row=2)]
    ctl = next(r for r in rows if r["Name"] == NAME)
    assert ctl["Likely role"] == "controller"
    assert "Mara Testini (C" in ctl["Appears to control"]  # names, with the (resolved) ids beside them
    victim = next(r for r in rows if r["Likely controlled by"])
    assert f"{NAME} ({ctl['Subject']})" in victim["Likely controlled by"]


def test_workbook_is_usable_in_excel(run_dir):
    wb = openpyxl.load_workbook(run_dir / "cases.xlsx")
    for ws in (wb["Cases"], wb["Alerts"]):
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert all(ws.column_dimensions[c].width and ws.column_dimensions[c].width >= 8 for c in ("A", "B", "C"))
        assert all(c.font.b for c in ws[1])
    alerts = wb["Alerts"]
    heads = [c.value for c in alerts[1]]
    amount = [r[heads.index("Amount")] for r in alerts.iter_rows(min_row=2)]
    assert all(c.data_type == "n" and c.number_format == "#,##0.00" for c in amount if c.value is not None)
    when = [r[heads.index("From (UTC)")] for r in alerts.iter_rows(min_row=2)]
    assert all(c.is_date for c in when)
    # the workbook's amounts are the alerts' exact amounts
    parquet = pq.read_table(run_dir / "alerts.parquet")["amount_total"].to_pylist()
    assert sorted(Decimal(str(c.value)).quantize(Decimal("0.01")) for c in amount if c.value is not None) == sorted(
        x for x in parquet if x is not None
    )
    score = [r[heads.index("Score (0-1)")] for r in alerts.iter_rows(min_row=2)]
    assert all(c.number_format == "0.00" for c in score)
    assert "Notes" not in wb.sheetnames  # nothing was cut


def test_workbook_notes_cells_cut_at_excels_limit(tmp_path):
    import pyarrow as pa

    from followmoney.export import EXCEL_MAX_CELL, to_excel
    from followmoney.export.excel import EXCEL_MAX_CELL as limit

    assert limit == EXCEL_MAX_CELL == 32_767
    t = pa.table({"note": ["x" * 40_000, "short"]})
    to_excel(tmp_path / "t.xlsx", transactions=t)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert len(wb["Transactions"]["A2"].value) == EXCEL_MAX_CELL
    assert "1 cell(s) longer" in wb["Notes"]["A1"].value


# ----------------------------------------------------------------------------- report
@pytest.mark.parametrize("query", ["case", NAME, "tariq  FICTUS", CONTROLLER.lower(), "1001002001"])
def test_report_accepts_case_id_name_and_account_in_any_case(run_dir, controller_case, tmp_path, query):
    query = controller_case if query == "case" else query
    out = tmp_path / "pack.html"
    r = run("report", query, "--run", run_dir, "--out", out)
    assert r.exit_code == 0, r.output
    html = unescape(out.read_text("utf-8"))
    assert f"Evidence pack: {NAME} (C" in html and CONTROLLER in html  # the resolved person, his account listed


def test_pack_names_the_subject_and_lists_the_reports_naming_him(run_dir, controller_case, tmp_path):
    out = tmp_path / "pack.html"
    assert run("report", controller_case, "--run", run_dir, "--out", out).exit_code == 0
    html = unescape(out.read_text("utf-8"))
    text = re.sub(r"<[^>]+>", " ", re.sub(r"data:image/png;base64,[^'\"]+", "", html))
    assert text.count(NAME) >= 5  # heading, subject table, accounts, evidence rows
    assert f"Case id {controller_case}" in " ".join(text.split())
    section = text[text.index("Reports that mention the subject"):text.index("Appears to control")]
    for ref in ("DEXB-STR-2026-001", "DEXB-STR-2026-002", "DEXB-SAR-2026-004"):
        assert ref in section
    assert "9001" in section  # the reporting entity
    assert "Mara Testini (C" in text  # who he appears to control, by name


def test_report_miss_suggests_case_ids_without_personal_data(run_dir, controller_case, tmp_path):
    r = run("report", "Tarik Fictous", "--run", run_dir, "--out", tmp_path / "x.html")
    assert r.exit_code == 2
    assert controller_case in r.output and "Tari" not in r.output and "1001002001" not in r.output
    assert not (tmp_path / "x.html").exists()


def test_report_refuses_to_overwrite_without_force(run_dir, tmp_path):
    out = tmp_path / "pack.html"
    out.write_text("the analyst's annotated pack")
    r = run("report", NAME, "--run", run_dir, "--out", out)
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_text() == "the analyst's annotated pack"
    assert run("report", NAME, "--run", run_dir, "--out", out, "--force").exit_code == 0
    assert "Evidence pack" in out.read_text("utf-8")


def test_trace_starts_from_a_run_folder(run_dir, sample_data, tmp_path):
    from_run = run("trace", run_dir, "--from", CONTROLLER, "--method", "fifo")
    from_files = run("trace", sample_data / "goaml", "--from", CONTROLLER, "--method", "fifo")
    assert from_run.exit_code == 0, from_run.output
    assert from_run.output == from_files.output and "GSMB/2002003001" in from_run.output


# ----------------------------------------------------------------------------- i2
def test_i2_files_import_in_one_pass(run_dir, tmp_path, sample_data):
    r = run("export", "--run", run_dir, "--to", "i2", "--out", tmp_path / "i2")
    assert r.exit_code == 0, r.output
    for name in ("entities.csv", "links.csv"):
        assert (tmp_path / "i2" / name).read_bytes()[:3] == b"\xef\xbb\xbf"  # UTF-8 with BOM
    ent = pd.read_csv(tmp_path / "i2" / "entities.csv", dtype=str, encoding="utf-8-sig")
    links = pd.read_csv(tmp_path / "i2" / "links.csv", dtype=str, encoding="utf-8-sig")
    # one format per column: i2 maps a column to one date or time format
    assert links["Date"].dropna().str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert links["Time"].dropna().str.fullmatch(r"\d\d:\d\d:\d\d").all()
    transfers = links[links["Link Type"] == "Transfer"]
    assert transfers["Date"].notna().all() and len(transfers) == fm.read(sample_data / "goaml").transactions.num_rows
    # both ends of every link carry identity, type and label
    for side in ("From", "To"):
        assert links[f"{side} Type"].notna().all() and links[f"{side} Label"].notna().all()
        assert set(links[f"{side} ID"]) <= set(ent["Entity ID"])
    acc = ent[ent["Entity Type"] == "Account"].set_index("Entity ID")
    assert acc.loc[CONTROLLER, "Label"] == f"{NAME} · 1001002001"
    assert (acc["Label"] != acc.index).all()  # no account labelled with its internal id
    assert acc.loc[CONTROLLER, "Band"] == "urgent" and acc.loc[CONTROLLER, "Role"] == "controller"
    assert sum(Decimal(a) for a in transfers["Amount"]) == sum(fm.read(sample_data / "goaml").transactions["amount"].to_pylist())
    assert (ent["Label"] == NAME).sum() == 1  # one person however many reports name him


# ----------------------------------------------------------------------------- GraphML / GEXF
@pytest.mark.parametrize("fmt,reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_graph_exports_carry_every_payment_and_a_label_on_every_node(run_dir, tmp_path, sample_data, fmt, reader):
    path = tmp_path / f"g.{fmt}"
    r = run("export", "--run", run_dir, "--to", fmt, "--out", path)
    assert r.exit_code == 0, r.output
    G = reader(path)
    tx = fm.read(sample_data / "goaml").transactions
    payments = [d for *_, d in G.edges(data=True) if d.get("relation") == "payment"]
    assert sum(int(d["count"]) for d in payments) == tx.num_rows
    per_currency = Counter()
    for d in payments:
        per_currency[d["currency"]] += Decimal(d["amount"])
        assert int(d["amount_cents"]) == Decimal(d["amount"]) * 1000 and float(d["weight"]) > 0  # thousandths (issue 13)
    assert per_currency == {"AED": sum(tx["amount"].to_pylist())}
    assert all(str(d.get("label") or "").strip() for _, d in G.nodes(data=True))
    assert G.nodes[CONTROLLER]["label"] == f"{NAME} · 1001002001" and G.nodes[CONTROLLER]["band"] == "urgent"
    edge = next(d for u, v, d in G.edges(data=True) if u == CONTROLLER and v == "GSMB/2002003001" and d.get("relation") == "payment")
    assert edge["amount"] == "150000.00" and edge["first"].startswith("2026-03-08")


def test_export_limited_to_one_case(run_dir, controller_case, tmp_path, cases):
    r = run("export", "--run", run_dir, "--to", "graphml", "--out", tmp_path / "all.graphml")
    assert r.exit_code == 0
    r = run("export", "--run", run_dir, "--to", "graphml", "--out", tmp_path / "case.graphml", "--case", controller_case)
    assert r.exit_code == 0, r.output
    full, case = nx.read_graphml(tmp_path / "all.graphml"), nx.read_graphml(tmp_path / "case.graphml")
    assert CONTROLLER in case and case.number_of_nodes() < full.number_of_nodes()
    # every payment into or out of the controller's account is in the case export
    def touching(G):
        return sorted((u, v, d["amount"]) for u, v, d in G.edges(data=True) if d.get("relation") == "payment" and CONTROLLER in (u, v))

    assert touching(case) == touching(full) and len(touching(case)) == 6
    assert "OTBK/3003001101" not in case  # a payer of the company, not of the controller
    r = run("export", "--run", run_dir, "--to", "i2", "--out", tmp_path / "i2", "--case", "Cnope")
    assert r.exit_code == 2 and "no case" in r.output


# ----------------------------------------------------------------------------- FtM
FORMATS = {
    "goaml": lambda s, d: s / "goaml",
    "amlsim": lambda s, d: s / "amlsim",
    "camt": lambda s, d: d / "camt",
    "mt940": lambda s, d: d / "mt940",
    "fincen": lambda s, d: d / "fincen",
    "bank_csv": lambda s, d: d / "bank_csv",
    "ibm_aml": lambda s, d: d / "ibm_aml",
}


def _validate(rows):
    from followthemoney import model
    from followthemoney.exc import InvalidData

    ids = {r["id"] for r in rows}
    invalid, dangling = 0, 0
    for r in rows:
        schema = model.get(r["schema"])
        try:
            schema.validate(r)
        except InvalidData:
            invalid += 1
        for prop, values in r["properties"].items():
            if schema.get(prop).type.name == "entity":
                dangling += sum(v not in ids for v in values)
    return invalid, dangling


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_ftm_export_of_every_sample_format_validates(fmt, sample_data, data_dir):
    pytest.importorskip("followthemoney")
    from followmoney.export import to_ftm

    b = fm.read(FORMATS[fmt](sample_data, data_dir), progress=False, errors=[])
    counts = Counter()
    rows = [e.to_dict() for e in to_ftm(b, resolve(b), counts=counts)]
    invalid, dangling = _validate(rows)
    assert invalid == 0 and dangling == 0
    assert counts["skipped_payments"] == 0 and counts["Payment"] == b.transactions.num_rows > 0
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["properties"].get("recordId") for r in rows if r["schema"] == "Payment")


def test_ftm_from_the_cli_carries_alerts_names_and_right_schemas(run_dir, tmp_path):
    pytest.importorskip("followthemoney")
    out = tmp_path / "e.ftm.json"
    r = run("export", "--run", run_dir, "--to", "ftm", "--out", out)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert _validate(rows) == (0, 0)
    by_id = {r["id"]: r for r in rows}
    notes = [r for r in rows if r["schema"] == "Note"]
    assert len(notes) == pq.read_table(run_dir / "alerts.parquet").num_rows
    ht = next(n for n in notes if n["properties"]["name"][0].startswith("HT-11"))
    assert ht["properties"]["topics"] == ["crime.traffick.human"]
    account = by_id[ht["properties"]["entity"][0]]
    assert account["schema"] == "BankAccount" and "crime.traffick.human" in account["properties"]["topics"]
    company = next(r for r in rows if r["schema"] == "Company")
    assert "Sample Horizon Manpower LLC" in company["properties"]["name"]
    assert any(n.startswith("source: ") for n in company["properties"]["notes"])


def test_ftm_unknown_kinds_unnamed_parties_and_cash_legs(tmp_path):
    pytest.importorskip("followthemoney")
    import pyarrow as pa

    from followmoney.core import schema
    from followmoney.export import to_ftm

    parties = schema.conform(pa.table({"party_id": ["P1", "P2", "P3"], "kind": ["unknown", "person", "entity"],
                                       "name": ["Kilo Trading", None, "Lima LLC"], "report_id": ["R1"] * 3,
                                       "source_ref": ["f.csv:2", "f.csv:3", "f.csv:4"]}), "parties")  # fmt: skip
    tx = schema.conform(pa.table({
        "txn_id": ["t1", "t2", "t3"], "source": ["x"] * 3, "source_ref": ["f.csv:2", "f.csv:3", "f.csv:4"],
        "timestamp": pa.array([0, 1, 2], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([Decimal("10.00"), Decimal("20.50"), Decimal("5.00")], schema.MONEY), "currency": ["EUR"] * 3,
        "from_party": [None, "P1", "P2"], "to_party": ["P1", None, None], "from_account": [None, None, None],
        "to_account": [None, "B/9", None], "counterparty_name": [None, None, None],
    }), "transactions")  # fmt: skip
    b = fm.Bundle(parties=parties, transactions=tx)
    counts = Counter()
    rows = [e.to_dict() for e in to_ftm(b, counts=counts)]
    assert _validate(rows) == (0, 0)
    schemas = {r["properties"]["name"][0]: r["schema"] for r in rows if "name" in r["properties"] and r["schema"] != "BankAccount"}
    assert schemas["Kilo Trading"] == "LegalEntity" and schemas["Lima LLC"] == "Company"
    assert schemas["Unnamed person P2"] == "Person"
    assert counts["Payment"] == 3 and counts["skipped_payments"] == 0 and counts["placeholders"] >= 2
    assert {"Unidentified cash payer", "Unidentified cash beneficiary", "Holder of account 9"} <= set(schemas)


def test_ftm_without_the_extra_exits_clearly_and_writes_nothing(run_dir, tmp_path, monkeypatch):
    from followmoney.export import ftm

    monkeypatch.setattr(ftm, "ftm_available", lambda: False)
    import followmoney.export as ex

    monkeypatch.setattr(ex, "ftm_available", lambda: False)
    out = tmp_path / "e.ftm.json"
    r = run("export", "--run", run_dir, "--to", "ftm", "--out", out)
    assert r.exit_code == 5 and "pip install 'followmoney[ftm]'" in r.output
    assert not out.exists()


# ----------------------------------------------------------------------------- link chart
def test_link_chart_shows_names_and_no_overlapping_labels(sample_data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from followmoney.view.plot import LinkChartDisplay

    d = LinkChartDisplay.from_bundle(fm.read(sample_data / "goaml"), CONTROLLER, hops=2, max_nodes=30)
    renderer = d.figure_.canvas.get_renderer()
    labels = [t for t in d.ax_.texts if t.get_text()]  # (arrows are empty annotations)
    shown = [t for t in labels if t.get_visible()]
    boxes = [t.get_window_extent(renderer) for t in shown]
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    texts = " ".join(t.get_text() for t in shown)
    assert "Tariq Fictus" in texts and "Sample Horizon Manpower" in texts  # names, not ids
    assert NAME in d.ax_.get_title()
    hidden = sum(not t.get_visible() for t in labels)
    assert hidden == d.labels_hidden_ and (hidden == 0 or f"+{hidden} labels hidden" in d.ax_.get_title())
    plt.close(d.figure_)


# ----------------------------------------------------------------------------- goAML content kept
def test_dpmsr_goods_and_director_relation_are_kept(shared, tmp_path):
    dpmsr = shared / "samples" / "goaml" / "uae_v5.0.2_DPMSR_TR.2079.200000309_synthetic.xml"
    b = fm.read(dpmsr)
    b.reconcile()
    goods = b.goods.to_pylist()
    assert len(goods) == 1
    gold = goods[0]
    assert (gold["item_type"], gold["size"], gold["size_uom"], gold["currency"]) == ("GOLD", "15", "KG", "AED")
    assert gold["estimated_value"] == Decimal("1300000.00") and gold["disposed_value"] == Decimal("1234567.89")
    assert gold["source_ref"].endswith("/activity[1]/goods_services[1]/item[1]")
    rel = b.relations.to_pylist()
    assert len(rel) == 1 and rel[0]["role"] == "director" and rel[0]["role_code"] == "ATR"
    parties = {p["party_id"]: p for p in b.parties.to_pylist()}
    company, director = parties[rel[0]["party_id"]], parties[rel[0]["related_party_id"]]
    assert company["name"] == "Example Jewellery LLC" and company["kind"] == "entity"
    # the director's own fields survive (an entity row before him used to drop them)
    assert (director["given_name"], director["family_name"], director["nationality"]) == ("Ali", "Hassan", "IN")
    # the relation travels to i2 and FtM
    out = fm_export_i2(b, tmp_path)
    links = pd.read_csv(out["links"], dtype=str, encoding="utf-8-sig")
    d = links[links["Link Type"].str.startswith("Director")]
    assert list(zip(d["From Label"], d["To Label"])) == [("Ali Hassan", "Example Jewellery LLC")]
    pytest.importorskip("followthemoney")
    from followmoney.export import to_ftm

    rows = [e.to_dict() for e in to_ftm(b)]
    assert _validate(rows) == (0, 0)
    ship = [r for r in rows if r["schema"] == "Directorship"]
    by_id = {r["id"]: r for r in rows}
    assert len(ship) == 1 and by_id[ship[0]["properties"]["director"][0]]["properties"]["name"] == ["Ali Hassan"]


def fm_export_i2(bundle, tmp_path):
    from followmoney.export import to_i2

    return to_i2(bundle, tmp_path / "i2")


def test_run_tables_are_the_whole_read_though_scoring_lets_columns_go(tmp_path):
    # a run writes its tables before scoring and then holds only what scoring reads: the files keep every column
    from followmoney.datasets import make_multisource

    make_multisource(tmp_path / "sources", seed=1, n_workers=6, n_months=2)
    paths = sorted(str(p) for p in (tmp_path / "sources").rglob("*") if p.is_file())
    read = fm.read(paths)
    assert max(len(x or []) for x in read.transactions["observed_in"].to_pylist()) > 1  # payments seen in several sources
    out = tmp_path / "run"
    r = run("score", *paths, "--out", out, "-q")
    assert r.exit_code in (0, 4), r.output
    for name in ("transactions", "observations", "accounts", "parties", "reports"):
        written = pq.read_table(out / "tables" / f"{name}.parquet")
        assert written.equals(getattr(read, name)), name
    assert pq.read_table(out / "tables" / "transactions.parquet")["report_id"].null_count < read.transactions.num_rows
    alerts = pq.read_table(out / "alerts.parquet").to_pylist()
    # an alert on a payment seen in several sources still names every place it was seen
    several = {t: o for t, o in zip(read.transactions["txn_id"].to_pylist(), read.transactions["observed_in"].to_pylist()) if len(o or []) > 1}
    hit = [a for a in alerts if any(t in several for t in a["evidence_txn_ids"])]
    assert hit and all(set(several[t]) <= set(a["evidence_source_refs"]) for a in hit for t in a["evidence_txn_ids"] if t in several)
