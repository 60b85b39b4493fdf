"""Cross-border wires and authorities' information requests: pacs.008, pain.001, MT103/MT101,
auth.001/002/003, the wire seen in several sources, and every shared sample loading."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.cli import main
from followmoney.consolidate import payments
from followmoney.ingest import ADAPTERS, InputError, auth, mt103, pacs008, pain001, sniff

DATA = Path(__file__).resolve().parent / "data" / "wires"
SAME = DATA / "same_payment"
UETR = "7b0b6e0e-1a0c-4f2e-9d3c-5f1b2a3c4d5e"


def _log(b, file: str, table: str = "transactions") -> tuple:
    (r,) = [r for r in b.load_log.to_pylist() if r["source_file"] == file and r["table"] == table]
    return r["records_read"], r["rows_written"], r["merged"], r["rejected"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- pacs.008
def test_pacs008_maps_parties_accounts_agents_amounts_and_references():
    b = pacs008.read(SAME / "pacs008_uetr.xml")
    b.reconcile()
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["currency"], r["instructed_amount"], r["instructed_currency"]) == (Decimal("12500.00"), "EUR", Decimal("12525.00"), "EUR")
    assert r["uetr"] == UETR and r["end_to_end_id"] == "INV-2026-0415" and r["instruction_id"] == "DE-INSTR-77"
    assert r["interbank_tx_id"] == "DE-TX-77" and r["source_txn_ref"] == "DE-TX-77"
    assert r["timestamp"] == datetime(2026, 4, 15, tzinfo=timezone.utc) and r["value_date"] == date(2026, 4, 15)
    assert (r["from_account"], r["to_account"]) == ("IBAN/DE89370400440532013000", "IBAN/IT60X0542811101000000123456")
    assert (r["country_from"], r["country_to"], r["channel"]) == ("DE", "IT", "wire")
    assert r["agent_chain"] == ["DEUTDEFF", "CHASUS33", "BCITITMM"] and r["agent_countries"] == ["DE", "US", "IT"]
    assert r["route_countries"] == ["CH", "DE", "US", "IT", "RS"]  # ultimate debtor CH ... ultimate creditor RS
    assert (r["debtor_agent"], r["creditor_agent"], r["intermediary_agents"]) == ("DEUTDEFF", "BCITITMM", ["CHASUS33"])
    assert (r["charge_bearer"], r["charges_amount"], r["charges_currency"], r["charges"]) == ("DEBT", Decimal("25.00"), "EUR", ["EUR 25.00 by DEUTDEFF"])
    assert (r["purpose"], r["service_level"], r["regulatory_reporting"]) == ("GDDS", "G001", ["DEBT DE Z4 IMPORT OF GOODS"])
    assert r["description"] == "INVOICE 2026-0415 MACHINE PARTS"
    assert r["source_ref"] == "pacs008_uetr.xml#/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
    names = {p["party_id"]: (p["name"], p["country"]) for p in b.parties.to_pylist()}
    assert names[r["from_party"]] == ("MUSTER LOGISTIK GMBH", "DE") and names[r["to_party"]] == ("ROSSI IMPORT SRL", "IT")
    assert names[r["ultimate_debtor"]] == ("NORDLICHT HOLDING AG", "CH") and names[r["ultimate_creditor"]] == ("ADRIA TRADING DOO", "RS")
    assert ("id_document", "LEI:529900T8BM49AURSDO55") in {(i["kind"], i["value"]) for i in b.identifiers.to_pylist()}
    holders = {(x["party_id"], x["account_id"]) for x in b.party_accounts.to_pylist()}
    assert (r["from_party"], r["from_account"]) in holders and (r["to_party"], r["to_account"]) in holders
    (rep,) = b.reports.to_pylist()
    assert (rep["report_code"], rep["entity_reference"], rep["reporting_entity"]) == ("pacs.008.001.08", "MSG-20260415-0001", "DEUTDEFFXXX")
    assert rep["submitted_at"] == datetime(2026, 4, 15, 7, 12, tzinfo=timezone.utc)


def test_shared_cbpr_pacs008_samples(shared):
    d = shared / "samples" / "iso20022"
    b = fm.read(d / "cbprplus_pacs008_envelope_apphdr_sample.xml")  # pacs: prefixes inside a SWIFT Envelope
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["currency"], r["uetr"], r["end_to_end_id"]) == (Decimal("750000.00"), "EUR", "a1b2c3d4-e5f6-4890-abcd-ef1234567890", "E2E-04138234")
    assert (r["from_account"], r["to_account"], r["country_from"], r["country_to"]) == ("FNTXDE2X/74829163", "GLPBES2X/31597402", "DE", "ES")
    assert r["agent_chain"] == ["FNTXDE2X", "GLPBES2X"] and r["charge_bearer"] == "DEBT"
    assert b.reports.to_pylist()[0]["reporting_entity"] == "FNTXDE2X"
    assert b.reports.to_pylist()[0]["narrative"] == "business service swift.cbprplus.02"

    b = fm.read(d / "cbprplus_pacs008_min.xml")  # Envelope without namespace, empty DbtrAgt/CdtrAgt
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["uetr"], r["end_to_end_id"]) == (Decimal("1000.00"), "00000000-0000-4000-9a9f-b231a317421a", "EXEndToEndId")
    assert r["agent_chain"] == ["YZABGBKL", "NOPQUSTU"] and r["counterparty_name"] == "EXAMPLE PARTY NV"

    b = fm.read(d / "cbprplus_pacs008_max_all_fields.xml")
    b.reconcile()
    (r,) = b.transactions.to_pylist()
    assert r["fx_rate"] == Decimal("1000") and r["charges"] == ["EUR 1000.00 by ABCDGBEF"]
    assert "possible_duplicate" in r["quality_flags"]  # AppHdr PssblDplct
    assert r["ultimate_debtor"] and r["ultimate_creditor"] and r["instruction_codes"] == ["CHQB"]
    assert r["regulatory_reporting"] == ["CRED GB EXNm EXTp GB EXCd EUR 1000.00 EXInf"]
    kinds = {p["source_ref"].rsplit("/", 1)[1]: (p["kind"], p["birth_date"]) for p in b.parties.to_pylist()}
    assert kinds["Dbtr"] == ("person", date(2026, 1, 1)) and {"Dbtr", "Cdtr", "UltmtDbtr", "UltmtCdtr"} <= set(kinds)


def test_pacs008_unreadable_amount_is_a_reject_with_its_xpath(tmp_path):
    text = (SAME / "pacs008_uetr.xml").read_text().replace('<IntrBkSttlmAmt Ccy="EUR">12500.00</IntrBkSttlmAmt>', '<IntrBkSttlmAmt Ccy="EUR">12,500.00</IntrBkSttlmAmt>')
    b = pacs008.read(_write(tmp_path, "bad.xml", text))
    b.reconcile()
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "bad.xml#/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
    assert rej["reason"].startswith("IntrBkSttlmAmt: not a decimal") and b.transactions.num_rows == 0
    assert _log(b, "bad.xml") == (1, 0, 0, 1)


def test_not_well_formed_and_other_iso_types_give_one_line_errors(tmp_path):
    p = _write(tmp_path, "cut.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>')
    with pytest.raises(InputError, match=r"cut.xml: not well-formed XML at line 1") as e:
        fm.read(p)
    assert "\n" not in str(e.value)
    p = _write(tmp_path, "p9.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.009.001.08"><FICdtTrf/></Document>')
    with pytest.raises(InputError, match=r"unsupported ISO 20022 message type pacs\.009\.001\.08"):
        fm.read(p)
    with pytest.raises(InputError, match=r"unsupported message type pacs\.009\.001\.08"):
        pacs008.read(p)
    p = _write(tmp_path, "dtd.xml", '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "b">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>')
    with pytest.raises(InputError, match="refused: the file declares a DOCTYPE"):
        pacs008.read(p)


# --------------------------------------------------------------------------- pain.001
def test_pain001_batches_take_the_debtor_from_the_payment_information():
    b = pain001.read(DATA / "pain001_two_batches.xml")
    b.reconcile()
    rows = b.transactions.to_pylist()
    assert [(r["amount"], r["currency"], r["counterparty_name"], r["end_to_end_id"]) for r in rows] == [
        (Decimal("111.11"), "USD", "COMPANY Z", "EndToEndId0002"),
        (Decimal("2500.00"), "EUR", "ALPHA HANDEL GMBH", "EndToEndId0003"),
    ]
    assert [r["timestamp"].date() for r in rows] == [date(2015, 9, 28), date(2015, 9, 29)]
    assert {r["from_account"] for r in rows} == {"IBAN/LT007180000000000000"}
    assert [r["to_account"] for r in rows] == ["BKTRUS33/1234567890", "IBAN/XX12TEST0000000002"]
    assert [r["agent_chain"] for r in rows] == [["CBSBLT26", "BKTRUS33"], ["CBSBLT26", "TESTDEFF"]]
    assert all("initiation" in r["quality_flags"] for r in rows)
    # one debtor mention per payment batch, the second batch's counted as merged? no: each batch names it anew
    debtors = [p for p in b.parties.to_pylist() if p["name"] == "IMONE X"]
    assert len(debtors) == 2 and {p["source_ref"].split("#")[1] for p in debtors} == {
        "/Document/CstmrCdtTrfInitn/PmtInf[1]/Dbtr", "/Document/CstmrCdtTrfInitn/PmtInf[2]/Dbtr"}  # fmt: skip


def test_shared_pain001_sample(shared):
    b = fm.read(shared / "samples" / "iso20022" / "moov_LT_pain001_international_payment_USD.xml")
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["currency"], r["from_account"], r["counterparty_bic"]) == (Decimal("111.11"), "USD", "IBAN/LT007180000000000000", "BKTRUS33")
    assert (r["country_from"], r["country_to"], r["description"]) == ("LT", "US", "Payment details")


# --------------------------------------------------------------------------- MT103 / MT101
def test_mt103_rje_batch_with_acks():
    b = mt103.read(DATA / "prowide_MT103_bulk_with_ack.rje")
    b.reconcile()
    rows = b.transactions.to_pylist()
    assert [(r["amount"], r["instructed_amount"], r["currency"]) for r in rows] == [
        (Decimal("3700.00"), Decimal("3710.00"), "USD"),
        (Decimal("1321.00"), Decimal("1350.00"), "USD"),
        (Decimal("1417.80"), Decimal("1444.80"), "USD"),
    ]
    assert [r["counterparty_name"] for r in rows] == ["BBBBBBBBBBBBBBBB", "VICTORY FOOBAR", "GGGGGGGGGGGGGGGGG"]
    assert [r["charge_bearer"] for r in rows] == ["SHA", "BEN", "SHA"]
    assert rows[1]["charges"] == ["USD 0.00 by sender", "USD 29.00 by sender"] and rows[1]["charges_amount"] == Decimal("29.00")
    assert rows[0]["agent_chain"] == ["CCCCNGLA", "BBBBUS33", "AAAAUSLA"] and rows[0]["country_from"] == "NG"
    assert rows[0]["from_account"] == "CCCCNGLA/0000000000"
    assert "{433:/AOK/NO HIT DETECTED}" in rows[0]["other_fields"]
    assert [r["source_ref"] for r in rows] == ["prowide_MT103_bulk_with_ack.rje:2", "prowide_MT103_bulk_with_ack.rje:21", "prowide_MT103_bulk_with_ack.rje:38"]
    names = {p["name"] for p in b.parties.to_pylist()}
    assert {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ANANANANANANA", "OLD MUTUAL GENERAL INSURAN"} <= names
    assert _log(b, "prowide_MT103_bulk_with_ack.rje") == (3, 3, 0, 0)


def test_mt103_dos_pcc_container_and_iban_beneficiaries():
    b = fm.read(DATA / "prowide_examples_mt103_dos_pcc.dos")
    rows = b.transactions.to_pylist()
    assert [(r["amount"], r["currency"], r["to_account"], r["country_to"]) for r in rows] == [
        (Decimal("12591.01"), "EUR", "IBAN/IT55D0200862430000030105441", "IT"),
        (Decimal("1800.00"), "EUR", "IBAN/GB32MIDL40050851376993", "GB"),
    ]
    assert rows[0]["description"] == "/INV/ REG FACTURE NR 001016-02 DD 28.05.2013"


def test_mt101_sequence_b_is_a_payment_dated_by_field_30():
    b = fm.read(DATA / "prowide_MT101.fin", consolidate=False)  # account ids as the adapter writes them
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["currency"], r["message_type"], r["source_txn_ref"]) == (Decimal("14.00"), "CNY", "MT101", "010735904")
    assert r["timestamp"] == datetime(2017, 5, 2, tzinfo=timezone.utc)
    assert (r["from_account"], r["to_account"], r["counterparty_name"]) == ("TESTAR00/344110001637", "CIBKCNBJ473/344110000361", "CASH CUSTOMER I")
    assert b.reports.to_pylist()[0]["report_code"] == "MT101"


def test_shared_mt103_samples(shared):
    d = shared / "samples" / "swift_mt" / "mt103"
    b = fm.read(d / "prowide_MT103_out_multi.rje")
    b.reconcile()
    rows = sorted(b.transactions.to_pylist(), key=lambda r: r["source_seq"])  # in the file's order
    assert len(rows) == 13 and b.rejects.num_rows == 0  # the "-}{" separator does not lose a message
    assert rows[0]["uetr"] == "8579f4a4-a547-463e-ae63-e7c6620d59b4" and rows[0]["amount"] == Decimal("1814.28")
    assert [(r["amount"], r["counterparty_name"]) for r in rows[-3:]] == [
        (Decimal("47000.00"), "MS FOOOOOO CONSERVSDOR FIMF"), (Decimal("10000.00"), "MS FOOOOOO MODERADO FIMF"),
        (Decimal("10000.00"), "MS LATINOAMERICA FIM")]  # fmt: skip
    b = fm.read(d / "prowide_examples_mt103_single_with_block5.txt", consolidate=False)  # ids as written
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["to_account"], r["instruction_codes"]) == (Decimal("100000.00"), "IBAN/ES0123456789012345671234", ["SDVA"])
    assert r["from_account"] == "FOOAESMMXXX/12345678" and r["debtor_agent"] == "FOOAESMM"
    assert fm.read(d / "prowide_examples_mt103.rje").transactions.num_rows == 2


def test_mt103_near_misses_are_rejects_or_one_line_errors(tmp_path):
    good = (DATA / "mt103_gpi.fin").read_text()
    b = mt103.read(_write(tmp_path, "d.fin", good.replace(":32A:260415EUR12500,", ":32A:261345EUR12500,")))
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "d.fin:4" and rej["reason"] == "MT103 :32A: invalid value date '261345'"
    b = mt103.read(_write(tmp_path, "a.fin", good.replace(":32A:260415EUR12500,", ":32A:260415EUR12.500,00")))
    assert b.rejects.to_pylist()[0]["reason"].startswith("MT103 :32A: not an amount")
    b = mt103.read(_write(tmp_path, "m.fin", good.replace("{2:I103", "{2:I202") + good))
    b.reconcile()
    assert b.transactions.num_rows == 1 and "MT202: not a customer credit transfer" in b.rejects.to_pylist()[0]["reason"]
    assert _log(b, "m.fin") == (2, 1, 0, 1)
    b = mt103.read(_write(tmp_path, "n.fin", "{1:F21DEUTDEFFAXXX0000000001}{4:{177:2604150900}{451:1}}" + good))
    assert "nak" in b.transactions.to_pylist()[0]["quality_flags"]
    with pytest.raises(InputError, match=r"^e.fin: no SWIFT MT message"):
        mt103.read(_write(tmp_path, "e.fin", "{1:F01DEUTDEFFAXXX0000000001}{2:I103CHASUS33XXXXN}\n"))


@settings(max_examples=60, deadline=None)
@given(cents=st.integers(min_value=0, max_value=10**15), style=st.sampled_from(["full", "trailing", "short"]))
def test_mt103_amounts_are_read_exactly(tmp_path_factory, cents, style):
    units, frac = divmod(cents, 100)
    text = f"{units},{frac:02d}"
    if style == "trailing" and frac == 0:
        text = f"{units},"
    elif style == "short" and frac % 10 == 0:
        text = f"{units},{frac // 10}"
    good = (DATA / "mt103_gpi.fin").read_text().replace(":32A:260415EUR12500,", f":32A:260415EUR{text}")
    p = tmp_path_factory.mktemp("amt") / "x.fin"
    p.write_text(good)
    (r,) = mt103.read(p).transactions.to_pylist()
    assert r["amount"] == Decimal(cents).scaleb(-2)


# --------------------------------------------------------------------------- auth.00x
def test_auth002_response_unwraps_the_statement_and_keeps_the_request_reference():
    b = fm.read(DATA / "auth002_response.xml")
    b.reconcile()
    reps = b.reports.to_pylist()
    assert [(r["report_code"], r["entity_reference"]) for r in reps] == [("auth.002.001.01", "BANK-RSP-0007"), ("camt.053.001.02", "STMT-IT-APR")]
    assert reps[0]["reason"] == "response to information request FIU-2026-0042"
    rows = b.transactions.to_pylist()
    assert [(r["signed_amount"], r["counterparty_name"]) for r in rows] == [(Decimal("12500.00"), "MUSTER LOGISTIK GMBH"), (Decimal("-9000.00"), "ADRIA TRADING DOO")]
    assert {r["request_reference"] for r in rows} == {"FIU-2026-0042"}
    assert rows[0]["source_ref"].startswith("auth002_response.xml#/Document/InfReqRspn/RtrInd/InvstgtnRslt/Rslt/Document/BkToCstmrStmt/Stmt/Ntry[1]")
    (stmt,) = b.statements.to_pylist()
    assert stmt["reconciled"] is True
    owner = [p for p in b.parties.to_pylist() if p["source_ref"].endswith("/SchCrit/Acct/Id/Ownr")]
    assert [(p["name"], p["country"]) for p in owner] == [("ROSSI IMPORT SRL", "IT")]


def test_auth001_request_and_auth003_status_change():
    b = auth.read(DATA / "auth001_request.xml")
    (rep,) = b.reports.to_pylist()
    assert (rep["report_code"], rep["entity_reference"]) == ("auth.001.001.01", "FIU-2026-0042")
    assert rep["narrative"] == "legal basis: AMLA s. 31(2); confidential: true; period: 2026-04-01..2026-04-30; due: 2026-05-15"
    assert [p["name"] for p in b.parties.to_pylist()] == ["ROSSI IMPORT SRL"]
    assert ("tax_id", "TXID:IT01234567890") in {(i["kind"], i["value"]) for i in b.identifiers.to_pylist()}
    b = auth.read(DATA / "auth003_status.xml")
    (rep,) = b.reports.to_pylist()
    assert (rep["report_code"], rep["entity_reference"], rep["narrative"]) == ("auth.003.001.01", "FIU-2026-0042", "confidential: false")


def test_auth_envelope_with_an_unmodelled_message_is_a_reject_naming_it(tmp_path):
    text = (DATA / "auth003_status.xml").read_text().replace(
        "</InfReqStsChngNtfctn>",
        '<SplmtryData><Envlp><Document xmlns="urn:iso:std:iso:20022:tech:xsd:acmt.023.001.02"><IdVrfctnReq/></Document></Envlp></SplmtryData></InfReqStsChngNtfctn>',
    )
    b = auth.read(_write(tmp_path, "s.xml", text))
    b.reconcile()
    (rej,) = b.rejects.to_pylist()
    assert "acmt.023.001.02" in rej["reason"] and rej["source_ref"] == "s.xml#/Document/InfReqStsChngNtfctn/SplmtryData/Envlp/Document"


# --------------------------------------------------------------------------- one payment, three views
def test_pacs008_and_both_statements_consolidate_into_one_payment_with_its_agent_chain():
    apart = fm.read(SAME, consolidate=False)
    assert apart.transactions.num_rows == 3
    b = fm.read(SAME)
    b.reconcile()
    (r,) = b.transactions.to_pylist()
    assert r["source"] == "pacs008" and r["consolidation_key"] == f"uetr:{UETR}"
    assert r["agent_chain"] == ["DEUTDEFF", "CHASUS33", "BCITITMM"] and r["route_countries"] == ["CH", "DE", "US", "IT", "RS"]
    assert (r["amount"], r["currency"]) == (Decimal("12500.00"), "EUR")
    assert (r["from_account"], r["to_account"]) == ("IBAN/DE89370400440532013000", "IBAN/IT60X0542811101000000123456")
    assert sorted(x.split("#")[0] for x in r["observed_in"]) == ["camt053_receiver.xml", "camt053_sender.xml", "pacs008_uetr.xml"]
    # the statements still reconcile and the load log says where the rows went
    assert b.statements.column("reconciled").to_pylist() == [True, True]
    assert _log(b, "camt053_sender.xml") == (1, 0, 1, 0) and _log(b, "camt053_receiver.xml") == (1, 0, 1, 0)
    assert _log(b, "pacs008_uetr.xml") == (1, 1, 0, 0)


def test_the_mt103_archive_copy_of_the_same_payment_joins_by_uetr(tmp_path):
    for p in list(SAME.iterdir()) + [DATA / "mt103_gpi.fin"]:
        shutil.copy(p, tmp_path / p.name)
    b = fm.read(tmp_path)
    (r,) = b.transactions.to_pylist()
    assert len(r["observed_in"]) == 4 and r["uetr"] == UETR


def test_two_lines_of_one_statement_are_never_joined(tmp_path):
    text = (SAME / "camt053_sender.xml").read_text()
    entry = text[text.index("<Ntry>") : text.index("</Ntry>") + len("</Ntry>")]
    twice = text.replace(entry, entry + entry).replace("7475.00", "-5050.00").replace('<Amt Ccy="EUR">-5050.00</Amt><CdtDbtInd>CRDT', '<Amt Ccy="EUR">5050.00</Amt><CdtDbtInd>DBIT')
    _write(tmp_path, "twice.xml", twice)
    shutil.copy(SAME / "pacs008_uetr.xml", tmp_path)
    b = fm.read(tmp_path)
    b.reconcile()
    assert b.transactions.num_rows == 3
    assert sum("consolidation_ambiguous" in f for f in b.transactions.column("quality_flags").to_pylist()) == 3


@settings(max_examples=20, deadline=None)
@given(views=st.sets(st.sampled_from(sorted(p.name for p in SAME.iterdir())), min_size=1))
def test_any_set_of_views_of_one_payment_is_one_transaction(tmp_path_factory, views):
    d = tmp_path_factory.mktemp("views")
    for v in views:
        shutil.copy(SAME / v, d / v)
    b = fm.read(d)
    b.reconcile()
    (r,) = b.transactions.to_pylist()
    assert r["currency"] == "EUR" and r["end_to_end_id"] == "INV-2026-0415"
    log = [x for x in b.load_log.to_pylist() if x["table"] == "transactions"]
    assert sum(x["records_read"] for x in log) == len(views) and sum(x["merged"] for x in log) == len(views) - 1


def test_consolidation_leaves_unrelated_payments_alone(sample_data):
    b = fm.read(sample_data / "goaml")
    assert payments(b) is b


# --------------------------------------------------------------------------- mixed inputs, CLI, folder walk
def test_wires_read_together_with_goaml_and_camt(sample_data, data_dir, tmp_path):
    files = [SAME / "pacs008_uetr.xml", DATA / "prowide_MT103_bulk_with_ack.rje", DATA / "pain001_two_batches.xml",
             DATA / "auth002_response.xml", data_dir / "camt" / "br04_batch.xml", *sorted((sample_data / "goaml").glob("*.xml"))]  # fmt: skip
    b = fm.read(files)
    b.reconcile()
    by_source = {}
    for s in b.transactions.column("source").to_pylist():
        by_source[s] = by_source.get(s, 0) + 1
    assert by_source["pacs008"] == 1 and by_source["mt103"] == 3 and by_source["pain001"] == 2 and by_source["goaml"] > 0
    # br04: two batch details; the statement inside auth.002: two rows, its credit of the wire joins the pacs.008
    assert by_source["camt"] == 2 + 1
    assert {"auth", "camt", "goaml", "mt103", "pacs008", "pain001"} <= set(b.load_log.column("source").to_pylist())
    assert sniff(DATA / "auth002_response.xml") == "auth"  # the camt inside does not make it a camt file


def test_score_runs_on_the_wire_files(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["score", str(SAME), str(DATA / "prowide_MT103_bulk_with_ack.rje"), str(DATA / "auth002_response.xml"), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tables"]["transactions"]["records_read"] == 3 + 3 + 2


#: Shared sample files that no adapter reads yet, with the reason (issue: they are other formats).
NOT_READ = {
    "amlsim/amlsim_20K_cycle200_metadata.txt": "AMLSim 2019 graph export: counts only",
    "amlsim/amlsim_20K_cycle200_nodes.csv": "AMLSim 2019 graph export (nodeid,isFraud,...): no adapter",
    "amlsim/amlsim_20K_cycle200_transactions_first20000.csv": "AMLSim 2019 graph export (sourceNodeId,...): no adapter",
    "amlsim/amlsim_legacy_sample_outputs_accounts.csv": "AMLSim legacy output: no adapter",
    "amlsim/amlsim_legacy_sample_outputs_alerts.csv": "AMLSim legacy output: no adapter",
    "amlsim/amlsim_legacy_sample_outputs_cash_tx.csv": "AMLSim legacy output: no adapter",
    "amlsim/amlsim_legacy_sample_outputs_tx.csv": "AMLSim legacy output: no adapter",
    "amlsim/amlsim_paramFiles_1K_accounts.csv": "AMLSim input parameters, not data",
    "amlsim/amlsim_paramFiles_1K_alertPatterns.csv": "AMLSim input parameters, not data",
    "amlsim/amlsim_paramFiles_1K_transactionType.csv": "AMLSim input parameters, not data",
    "saml_d/SAML-D_first9rows_pandas_view_excerpt.csv": "SAML-D: no adapter",
}


def _sample_files():
    from conftest import SHARED

    root = SHARED / "samples"
    if not root.is_dir():
        return []
    skip = {".xsd", ".json", ".md"}
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix.lower() not in skip and not p.name.startswith("LICENSE")
    )


@pytest.mark.parametrize("rel", _sample_files())
def test_every_shared_sample_loads(shared, rel):
    path = shared / "samples" / rel
    if rel in NOT_READ:
        with pytest.raises(InputError, match="unrecognised format") as e:
            fm.read(path)
        assert "\n" not in str(e.value)
        return
    if ADAPTERS[sniff(path)].is_companion(path):  # read with its main file; alone it says what it needs
        with pytest.raises(InputError, match="read together with") as e:
            fm.read(path)
        assert "\n" not in str(e.value)
        return
    b = fm.read(path)
    b.reconcile()
    assert b.reports.num_rows >= 1


def test_iso20022_and_swift_samples_are_all_read(shared):
    files = [f for f in _sample_files() if f.startswith(("iso20022/", "swift_mt/"))]
    assert files and not [f for f in files if f in NOT_READ]


def test_a_wire_routed_through_a_call_for_action_country_alerts_ml13(tmp_path):
    text = (SAME / "pacs008_uetr.xml").read_text().replace(
        "<IntrmyAgt1><FinInstnId><BICFI>CHASUS33XXX</BICFI><PstlAdr><Ctry>US</Ctry></PstlAdr></FinInstnId></IntrmyAgt1>",
        "<IntrmyAgt1><FinInstnId><BICFI>BMJIIRTH</BICFI></FinInstnId></IntrmyAgt1>",
    )
    b = fm.read(_write(tmp_path, "via.xml", text))
    (r,) = b.transactions.to_pylist()
    assert r["agent_countries"] == ["DE", "US", "IR", "IT"] and r["country_to"] == "IT"
    (a,) = fm.score(b, rules=["ML-13"]).to_pylist()
    assert a["subject_id"] == "IBAN/DE89370400440532013000" and "through IR" in a["explanation"]
    assert fm.score(fm.read(SAME / "pacs008_uetr.xml"), rules=["ML-13"]).num_rows == 0


@pytest.mark.parametrize("version", ["02", "09", "10", "12"])
def test_pacs008_other_versions_and_bic_spellings(tmp_path, version):
    text = (SAME / "pacs008_uetr.xml").read_text().replace("pacs.008.001.08", f"pacs.008.001.{version}")
    if version == "02":  # v02: <BIC>, settlement date in the group header
        text = text.replace("BICFI>", "BIC>").replace("<IntrBkSttlmDt>2026-04-15</IntrBkSttlmDt>", "")
        text = text.replace("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>1</NbOfTxs><IntrBkSttlmDt>2026-04-15</IntrBkSttlmDt>")
    (r,) = fm.read(_write(tmp_path, f"v{version}.xml", text)).transactions.to_pylist()
    assert r["message_type"] == f"pacs.008.001.{version}" and r["agent_chain"] == ["DEUTDEFF", "CHASUS33", "BCITITMM"]
    assert r["value_date"] == date(2026, 4, 15) and r["amount"] == Decimal("12500.00")


def test_the_iso20022_and_mt103_sample_folders_read_whole(shared):
    b = fm.read([shared / "samples" / "iso20022", shared / "samples" / "swift_mt" / "mt103"])  # licence texts beside them are skipped
    b.reconcile()
    n = {}
    for s in b.transactions.column("source").to_pylist():
        n[s] = n.get(s, 0) + 1
    # the single MT103 with block 5 is the same example payment as one in the multi-message
    # file (same :20: reference, accounts and amount): one payment, joined by bank reference;
    # of two wires the one kept is the first in time order (then by position in its file, then
    # by id: consolidate reads the rows in time order), whatever the files are called
    assert (n["pacs008"], n["pain001"], n["mt103"]) == (3, 1, 3 + 13 + 2 + 2 + 1 + 1 - 1)
    mt103 = {o["source_file"]: (o["role"], o["matched_by"]) for o in b.observations.to_pylist() if o["matched_by"] == "bank_reference"
             and o["source"] == "mt103"}  # fmt: skip
    assert mt103 == {"prowide_examples_mt103_single_with_block5.txt": ("kept", "bank_reference"),
                     "prowide_MT103_out_multi.rje": ("merged", "bank_reference")}  # fmt: skip


def test_two_uetrs_are_two_payments_even_with_one_end_to_end_id(tmp_path):
    shutil.copy(SAME / "pacs008_uetr.xml", tmp_path)
    other = (SAME / "pacs008_uetr.xml").read_text().replace("7B0B6E0E-1A0C-4F2E-9D3C-5F1B2A3C4D5E", "11111111-2222-4333-8444-555555555555")
    _write(tmp_path, "again.xml", other)
    b = fm.read(tmp_path)
    b.reconcile()
    assert sorted(b.transactions.column("uetr").to_pylist()) == ["11111111-2222-4333-8444-555555555555", UETR]
