"""Issue 14, ingest side: the robustness cases of ../shared/cases/robustness.md that belong
to the adapters (bad records are rejects, no personal data in messages, ids from content,
XML hardening). Each test asserts the case's "must" column."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import pyarrow.compute as pc
import pytest
from decimal import Decimal
from click.testing import CliRunner

import followmoney as fm
from followmoney.ingest import ADAPTERS, InputError, InputWarning, reasons
from followmoney.ingest import goaml


@pytest.fixture
def rob(shared):
    d = shared / "cases" / "files" / "robustness"
    if not d.is_dir():
        pytest.skip("shared/cases/files/robustness is not present")
    return d


def _reconciles(b) -> None:
    """records in = records out + merged + rejects, per file and table, and the rejects are there."""
    b.reconcile()
    for row in b.load_log.to_pylist():
        assert row["records_read"] == row["rows_written"] + row["merged"] + row["rejected"], row
    assert sum(b.load_log.column("rejected").to_pylist()) == b.rejects.num_rows
    assert set(b.rejects.column("code").to_pylist()) <= set(reasons.REASONS)


# --------------------------------------------------------------------------- item 3: rejects, not fatal
def test_r02_short_bank_csv_row_is_a_reject_with_its_line(rob):
    b = fm.read(rob / "r02_bank_csv_short_row.csv")
    _reconciles(b)
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "r02_bank_csv_short_row.csv:3" and rej["code"] == "short_row"
    # the other two rows load with their amounts
    assert sorted(b.transactions.column("amount").to_pylist()) == [Decimal("54.52"), Decimal("600.30")]


@pytest.mark.parametrize(
    ("case", "table"),
    [("r14_amlsim_amount_overflow/transactions.csv", "transactions"), ("r14b_ibm_amount_overflow.csv", "transactions")],
)
def test_r14_amount_beyond_storage_range_is_a_reject(rob, case, table):
    b = fm.read(rob / case)
    _reconciles(b)
    (rej,) = b.rejects.to_pylist()
    assert rej["code"] == "amount_out_of_range" and rej["table"] == table and rej["source_ref"].endswith(":2")


def test_r14_overflowing_row_among_good_rows_only_that_row_is_rejected(tmp_path):
    p = tmp_path / "transactions.csv"
    p.write_text(
        "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n"
        "1,10,11,TRANSFER,100.00,2017-01-01T00:00:00Z,False,-1\n"
        "2,10,11,TRANSFER,-99999999999999999,2017-01-01T00:00:00Z,False,-1\n"
        "3,11,10,TRANSFER,999999999999999.99,2017-01-02T00:00:00Z,False,-1\n"
    )
    b = fm.read(p)
    _reconciles(b)
    assert b.rejects.column("source_ref").to_pylist() == ["transactions.csv:3"]
    assert b.transactions.column("amount").to_pylist() == [Decimal("100.00"), Decimal("999999999999999.99")]


def test_r21_statement_total_beyond_range_is_flagged_not_fatal(rob, tmp_path):
    # the storage range is 10^15 (decimal(18, 3), exact thousandths in int64): the shared
    # file's 16-digit entry is now out of range itself, so the case is written at the new range
    text = (rob / "r21_mt940_entries_total_overflow.sta").read_text("latin-1")
    text = text.replace("CN9999999999999999,99", "CN999999999999999,99").replace("CN44,00", "CN999999999999999,00")
    p = tmp_path / "r21_at_new_range.sta"
    p.write_text(text, "latin-1")
    b = fm.read(p)
    _reconciles(b)
    (st,) = b.statements.to_pylist()
    assert "entries_total_out_of_range" in st["quality_flags"]
    assert st["entries_total"] is None and st["reconciled"] is None
    assert b.transactions.num_rows == 2


def test_r15_accounts_without_type_load_with_kind_unknown(rob):
    b = fm.read(rob / "r15_amlsim_accounts_without_type" / "transactions.csv")
    _reconciles(b)
    assert b.parties.column("kind").to_pylist() == ["unknown", "unknown"]
    assert b.transactions.num_rows == 1


def test_r13_damaged_companion_header_names_the_companion_and_column(rob):
    with pytest.raises(InputError) as exc:
        fm.read(rob / "r13_amlsim_companion_keyerror" / "transactions.csv")
    msg = str(exc.value)
    assert str(rob / "r13_amlsim_companion_keyerror" / "accounts.csv") in msg and "acct_id" in msg
    assert "\n" not in msg


def test_r16_companion_alone_says_what_it_is_and_what_it_needs(rob, tmp_path):
    with pytest.raises(InputError) as exc:
        fm.read(rob / "r16_ibm_accounts_file_silently_skipped.csv")
    msg = str(exc.value)
    assert "IBM AML accounts file" in msg and "_Trans.csv" in msg and "r16_ibm" in msg
    # among other inputs it is a warning, and the others are read
    shutil.copy(rob / "r16_ibm_accounts_file_silently_skipped.csv", tmp_path / "r16_accounts.csv")
    shutil.copy(rob / "r14b_ibm_amount_overflow.csv", tmp_path / "other.csv")
    with pytest.warns(InputWarning, match="r16_accounts.csv: an IBM AML accounts file"):
        b = fm.read(tmp_path)
    assert b.rejects.num_rows == 1


@pytest.mark.parametrize(
    ("case", "ref"),
    [
        ("r09_amlsim_accounts_extra_field/transactions.csv", "accounts.csv:2"),
        ("r10_ibm_extra_field.csv", "r10_ibm_extra_field.csv:2"),
    ],
)
def test_r09_r10_extra_field_is_a_reject_naming_file_and_line(rob, case, ref):
    b = fm.read(rob / case)
    _reconciles(b)
    rej = b.rejects.to_pylist()[0]
    assert rej["source_ref"] == ref and rej["code"] == "long_row"
    assert "SECRET" not in rej["reason"] and "Vorontsova" not in rej["reason"]


def test_csv_rows_after_blank_and_bad_lines_keep_their_line_numbers(tmp_path):
    p = tmp_path / "transactions.csv"
    p.write_text(
        "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n"
        "1,10,11,TRANSFER,1.00,2017-01-01T00:00:00Z,False,-1\n"
        "\n"
        "2,10,11,TRANSFER\n"
        "3,10,11,TRANSFER,x,2017-01-01T00:00:00Z,False,-1\n"
        "4,10,11,TRANSFER,4.00,2017-01-01T00:00:00Z,False,-1,extra\n"
        "5,10,11,TRANSFER,5.00,2017-01-01T00:00:00Z,False,-1\n"
    )
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.column("source_ref").to_pylist() == ["transactions.csv:2", "transactions.csv:7"]
    codes = {r["source_ref"]: r["code"] for r in b.rejects.to_pylist()}
    assert codes == {"transactions.csv:4": "short_row", "transactions.csv:5": "bad_amount", "transactions.csv:6": "long_row"}


# --------------------------------------------------------------------------- item 4: no personal data in messages
def test_r06_xml_error_names_file_line_column_not_the_name(rob):
    with pytest.raises(InputError) as exc:
        fm.read(rob / "r06_goaml_lt_in_name.xml")
    msg = str(exc.value)
    assert "r06_goaml_lt_in_name.xml: not well-formed XML at line 43, column 51" in msg
    assert "Ghostname" not in msg and "Exemplo" not in msg


SECRETS = ("Zorabelle", "Quistmoor", "DE89370400440532013000", "+971501234567", "784-1990-1234567-1", "8000SECRETACCT")


def _pii_inputs(tmp_path: Path) -> dict[str, tuple[str, bytes]]:
    """Damaged inputs, each full of (invented) personal data, for every adapter."""
    name = "Zorabelle Quistmoor"
    return {
        "goaml_bad_tag.xml": ("goaml", f"<report><rentity_id>1</rentity_id><transaction><t_from><from_person><first_name>{name} <Quistmoor</first_name></from_person></t_from></transaction></report>".encode()),
        "goaml_bad_amp.xml": ("goaml", f"<report><reason>{name} & DE89370400440532013000 &Quistmoor</reason></report>".encode()),
        "goaml_bad_attr.xml": ("goaml", f"<report><transaction x='{name}' x='+971501234567'/></report>".encode()),
        "goaml_root.xml": ("goaml", f"<Zorabelle><report>{name}</report></Zorabelle>".encode()),
        "camt_bad.xml": ("camt", f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ownr><Nm>{name}</Zorabelle></Nm></Ownr></Acct></Stmt></BkToCstmrStmt></Document>'.encode()),
        "camt_ns.xml": ("camt", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:Quistmoor.001.02"><Zorabelle/></Document>'),
        "fincen_bad.xml": ("fincen", f"<EFilingBatchXML><Activity><Party><RawPartyFullName>{name}</RawPartyFullName></Activity></EFilingBatchXML>".encode()),
        "fincen_root.xml": ("fincen", b"<Zorabelle/>"),
        "mt940_bad.sta": ("mt940", b":25:DE89370400440532013000\n:61:Zorabelle Quistmoor\n:86:+971501234567\n"),
        "mt940_enc.sta": ("mt940", ":20:X\n:25:DE89370400440532013000\n:86:Zorabelle Quistmoor \u00e9\n".encode("utf-16")),
        "ibm.csv": ("ibm_aml", b"Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n2022/09/01 00:20,010,8000SECRETACCT1,\"010,8000EBD30,3697.34\n"),
        "ibm_utf.csv": ("ibm_aml", b"Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n2022/09/01 00:20,010,8000SECRETACCT1,010,Zorabelle\xff\xfeQuistmoor,1,US Dollar,1,US Dollar,Wire,0\n"),
        "amlsim/transactions.csv": ("amlsim", b"tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n1,DE89370400440532013000,\"Zorabelle,1,2,3\n"),
        "bank.csv": ("bank_csv", "KontoNr;BLZ;Buchungsdatum;Verwendungszweck;Empfänger;Betrag;Währung\nDE89370400440532013000;1;01.01.2024;\"Zorabelle;Quistmoor;1,00;EUR\n".encode("latin-1")),
    }


def test_no_personal_data_in_any_error_warning_or_log_line(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    messages = []
    for rel, (fmt, data) in _pii_inputs(tmp_path).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                b = fm.read(p, format=fmt)
            except InputError as exc:
                messages.append(str(exc))
            else:
                b.reconcile()
        messages += [str(w.message) for w in caught]
    messages += [r.getMessage() for r in caplog.records]
    assert messages  # the damaged inputs do produce messages
    for msg in messages:
        assert not any(s.lower() in msg.lower() for s in SECRETS), msg
        assert "\n" not in msg


# --------------------------------------------------------------------------- item 7: ids from content
def test_r04_same_file_name_different_report_gets_its_own_ids(rob, tmp_path):
    day1 = fm.read(rob / "r04_same_filename_suppression" / "day1" / "report.xml")
    day2 = fm.read(rob / "r04_same_filename_suppression" / "day2" / "report.xml")
    ids1, ids2 = set(day1.transactions["txn_id"].to_pylist()), set(day2.transactions["txn_id"].to_pylist())
    assert len(ids1) == len(ids2) == 3 and not ids1 & ids2
    assert day1.reports["report_id"][0] != day2.reports["report_id"][0]
    # renaming a file keeps its ids
    renamed = tmp_path / "renamed_by_the_fiu.xml"
    shutil.copy(rob / "r04_same_filename_suppression" / "day2" / "report.xml", renamed)
    again = fm.read(renamed)
    assert again.transactions["txn_id"].to_pylist() == day2.transactions["txn_id"].to_pylist()
    assert again.parties["party_id"].to_pylist() == day2.parties["party_id"].to_pylist()


def test_r04_day2_under_last_nights_name_raises_its_alerts(rob, tmp_path):
    from followmoney.cli import main

    base = rob / "r04_same_filename_suppression"
    run = lambda *a: CliRunner().invoke(main, [str(x) for x in a])  # noqa: E731
    r1 = run("score", base / "day1", "--out", tmp_path / "d1", "--quiet")
    assert r1.exit_code == 0, r1.output
    r2 = run("score", base / "day2", "--out", tmp_path / "d2", "--previous", tmp_path / "d1", "--quiet")
    assert r2.exit_code == 0, r2.output
    summary = json.loads((tmp_path / "d2" / "summary.json").read_text())
    assert summary["alerts"] == 6 and summary["alerts_suppressed_as_repeats"] == 0


@pytest.mark.parametrize("rel", ["goaml/br10_plain.xml", "camt/br04_batch.xml", "mt940/br03_decimal_comma.sta",
                                 "fincen/moov_ctr_batch.xml", "bank_csv/br12_european.csv", "ibm_aml/br22_traps.csv"])  # fmt: skip
def test_every_adapter_keeps_ids_when_the_file_is_renamed(data_dir, tmp_path, rel):
    src = data_dir / rel
    copy = tmp_path / ("renamed" + src.suffix)
    shutil.copy(src, copy)
    a, b = fm.read(src), fm.read(copy)
    assert a.transactions.num_rows > 0
    assert a.transactions["txn_id"].to_pylist() == b.transactions["txn_id"].to_pylist()
    assert a.reports["report_id"].to_pylist() == b.reports["report_id"].to_pylist()
    assert pc.count_distinct(a.transactions["txn_id"]).as_py() == a.transactions.num_rows


def test_identical_records_in_one_file_keep_distinct_ids(tmp_path):
    p = tmp_path / "t_Trans.csv"
    row = "2022/09/01 00:20,010,8000EBD30,010,8000EBD31,10.00,US Dollar,10.00,US Dollar,Cash,0\n"
    p.write_text("Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n" + row * 3)
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.num_rows == 3 and pc.count_distinct(b.transactions["txn_id"]).as_py() == 3


# --------------------------------------------------------------------------- item 8: XML hardening
def _doctype_doc(root: str, enc: str, pad: int) -> bytes:
    decl = f'<?xml version="1.0" encoding="{enc.upper()}"?>'
    body = f'<!--{"x" * pad}--><!DOCTYPE {root} [<!ENTITY s SYSTEM "file:///etc/passwd"><!ENTITY a "Zorabelle">]><{root}><reason>&a;&s;</reason></{root}>'
    return (decl + body).encode(enc)


@pytest.mark.parametrize("enc", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "iso-8859-1"])
@pytest.mark.parametrize("pad", [0, 200_000])
@pytest.mark.parametrize(("fmt", "root"), [("goaml", "report"), ("camt", "Document"), ("fincen", "EFilingBatchXML")])
def test_doctype_is_refused_anywhere_in_the_prolog_and_in_every_encoding(tmp_path, enc, pad, fmt, root):
    p = tmp_path / "evil.xml"
    p.write_bytes(_doctype_doc(root, enc, pad))
    with pytest.raises(InputError) as exc:
        ADAPTERS[fmt].read(p)
    msg = str(exc.value)
    assert "DOCTYPE" in msg or "not well-formed" in msg
    assert "Zorabelle" not in msg and "passwd" not in msg


def test_utf32_xml_is_refused_not_parsed(tmp_path):
    p = tmp_path / "u32.xml"
    p.write_bytes(_doctype_doc("report", "utf-32", 10))
    with pytest.raises(InputError):
        goaml.read(p)


# --------------------------------------------------------------------------- found by `make fuzz` (2,000 per adapter)
def test_mt940_amount_with_more_digits_than_decimal_holds_is_a_reject_not_a_traceback(data_dir, tmp_path):
    text = (data_dir / "mt940" / "br03_decimal_comma.sta").read_text("latin-1")
    p = tmp_path / "digits.sta"
    p.write_text(text.replace(":61:2111091109D119,", ":61:2111091109D" + "9" * 30 + ","), "latin-1")
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.column("amount").to_pylist() == [Decimal("19053.79")]
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"].startswith("digits.sta:") and "9" * 30 not in rej["reason"]
    # the same in the opening balance: the statement is read, its balance flagged, not a traceback
    p.write_text(text.replace(":60F:C211108EUR0,", ":60F:C211108EUR" + "1" * 30 + ","), "latin-1")
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.num_rows + b.rejects.num_rows == 2


@pytest.mark.parametrize("amount", ["9999999999999999", "999999999999999,9999", "-1.000.000.000.000.000"])
def test_bank_csv_amount_that_does_not_fit_decimal_18_3_is_a_reject(tmp_path, amount):
    p = tmp_path / "big.csv"
    p.write_text(f"Buchungstag;Empfaenger;Betrag\n01.02.2024;ALPHA HANDEL;1,20\n12.02.2024;BETA GMBH;{amount}\n", "utf-8")
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.column("signed_amount").to_pylist() == [Decimal("1.20")]
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "big.csv:3" and "unparseable amount" in rej["reason"]


def test_lone_carriage_return_in_a_machine_csv_is_a_row_end_not_a_traceback(tmp_path):
    # pyarrow ends a row at a lone CR; the line scan that finds bad rows must agree, not raise
    p = tmp_path / "transactions.csv"
    p.write_bytes(
        b"tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n"
        b"1,10,11,TRANSFER,100.00,2017-01-01T00:00:00Z,False,-1\n"
        b"2,10,11,TRANS\rFER,5.00,2017-01-01T00:00:00Z,False,-1\n"
        b"3,11,10,TRANSFER,7.00,2017-01-02T00:00:00Z,False,-1\n"
    )
    b = fm.read(p, format="amlsim")
    _reconciles(b)
    assert b.transactions.column("amount").to_pylist() == [Decimal("100.00"), Decimal("7.00")]
    assert sorted(b.rejects.column("code").to_pylist()) == ["short_row", "short_row"]


def test_merging_duplicate_rows_keeps_an_all_null_column(tmp_path):
    # found by `make fuzz` (auth): a column Arrow types as null has no "first" kernel
    import pyarrow as pa

    from followmoney.core.bundle import _merge_on_key

    t = pa.table({"k": ["a", "a", "b"], "x": pa.nulls(3), "v": [1, None, 2]})
    out = _merge_on_key(t, ("k",))
    assert out.schema == t.schema and out.to_pydict() == {"k": ["a", "b"], "x": [None, None], "v": [1, 2]}


def test_camt_entry_before_the_message_element_is_a_reject_not_lost(data_dir, tmp_path):
    # found by `make fuzz`: an entry copied in front of the message was skipped without a reject
    import re

    src = data_dir / "wires" / "same_payment" / "camt053_sender.xml"
    text = src.read_bytes()
    entry = re.search(rb"<Ntry>.*?</Ntry>", text, re.S).group()
    doc = re.search(rb"<Document[^>]*>", text)
    p = tmp_path / "early.xml"
    p.write_bytes(text[: doc.end()] + b"<Rpt>" + entry + b"</Rpt>" + text[doc.end() :])
    before = fm.read(src)
    b = fm.read(p)
    _reconciles(b)
    assert b.transactions.num_rows == before.transactions.num_rows
    assert b.rejects.column("reason").to_pylist() == ["Ntry: outside its place (before the message)"]
    assert set(b.rejects.column("code").to_pylist()) == {"misplaced_element"}


@pytest.mark.parametrize("text", [b"{1:F01TESTAR0:20:0", b"junk :20:REF :32A:240101EUR1,00", b"{1:F01X}{2:I103Y}x:20:A"])
def test_mt103_tag_inside_a_line_is_refused_in_one_line_not_a_traceback(tmp_path, text):
    # found by `make fuzz` (seed 16): a field tag that no line starts with ended in StopIteration
    p = tmp_path / "m.fin"
    p.write_bytes(text)
    with pytest.raises(fm.InputError, match=r"^m\.fin: ") as err:
        fm.read(p, format="mt103")
    assert "\n" not in str(err.value)
