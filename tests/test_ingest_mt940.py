"""SWIFT MT940/MT942 adapter: shared/cases/ingest.md BR-01, BR-02, BR-03, the shared
MT940 samples, rejects, encodings, structured :86: details and the canonical mapping."""

from __future__ import annotations

import locale
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

import followmoney as fm
from followmoney.core.units import money_str
from followmoney.core import schema
from followmoney.ingest import InputError, mt940

DATA = Path(__file__).resolve().parent / "data" / "mt940"
SHARED_MT940 = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "swift_mt" / "mt940"
#: Shared samples that hold no ':20:' statement at all and are refused (none since fragments are read).
REFUSED: set[str] = set()


def _write(tmp_path: Path, text: str, name: str = "t.sta", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def _stmt(*lines: str, opening: str = "C240101EUR100,00", closing: str | None = "C240101EUR100,00") -> str:
    body = [":20:T-1", ":25:TESTBANK/0000000001", ":28C:1/1", f":60F:{opening}", *lines]
    if closing:
        body.append(f":62F:{closing}")
    return "\n".join(body + ["-", ""])


def _log(b, table: str = "transactions") -> dict:
    return {r["table"]: r for r in b.load_log.to_pylist()}[table]


# --------------------------------------------------------------------------- BR-01
def test_br01_continuation_and_statement_level_86():
    b = fm.read(DATA / "br01_statement_info.sta")
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["signed_amount"], r["currency"]) == (Decimal("250.00"), Decimal("250.00"), "EUR")
    assert r["value_date"] == date(2024, 1, 15)
    assert r["description"] == "RECHNUNG 4711 TEIL 2 VON 2"
    # the second physical line of the :86: is not lost
    assert (r["counterparty_bic"], r["counterparty_account"], r["counterparty_name"]) == (
        "TESTDEFFXXX",
        "XX12TEST0000000002",
        "ALPHA HANDEL GMBH",
    )
    assert "/SUM/" not in r["description"] and "/SUM/" not in r["details_raw"]
    (st,) = b.statements.to_pylist()
    assert st["info"] == "/SUM/1/0/250,00/0,00/"
    assert (st["opening_balance"], st["closing_balance"], st["reconciled"]) == (Decimal("1000.00"), Decimal("1250.00"), True)
    # credit: counterparty account -> statement account; the counterparty holds its account
    assert (r["from_account"], r["to_account"]) == ("IBAN/XX12TEST0000000002", "TESTBANK/0000000001")
    assert b.party_accounts.to_pylist()[0]["account_id"] == "IBAN/XX12TEST0000000002"
    assert r["source_ref"] == "br01_statement_info.sta:5" and r["source_txn_ref"] == "B-REF-1"


# --------------------------------------------------------------------------- BR-02
def test_br02_marks_give_signed_amounts_and_reversals():
    b = fm.read(DATA / "br02_marks.sta")
    t = b.transactions
    assert t.column("signed_amount").to_pylist() == [Decimal(x) for x in ("100.00", "-40.00", "-100.00", "40.00", "15.00")]
    assert t.column("is_reversal").to_pylist() == [False, False, True, True, False]
    assert t.column("amount").to_pylist() == [Decimal(x) for x in ("100.00", "40.00", "100.00", "40.00", "15.00")]
    # RC (reversal of a credit) leaves the account, RD comes back in
    acct = "TESTBANK/0000000001"
    assert t.column("from_account").to_pylist() == [None, acct, acct, None, None]
    assert t.column("to_account").to_pylist() == [acct, None, None, acct, acct]
    assert all(f == [] for f in t.column("quality_flags").to_pylist())
    (st,) = b.statements.to_pylist()
    assert (st["entries_total"], st["reconciled"]) == (Decimal("15.00"), True)


def test_br02_a_wrong_sum_is_reported(tmp_path):
    text = (DATA / "br02_marks.sta").read_text().replace(":62F:C240106EUR15,00", ":62F:C240106EUR215,00")
    b = mt940.read(_write(tmp_path, text))
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is False and "balance_mismatch" in st["quality_flags"]
    assert all("balance_mismatch" in f for f in b.transactions.column("quality_flags").to_pylist())


def test_br02_minus_after_the_mark_is_a_nonstandard_debit():
    b = fm.read(DATA / "br02_nonstandard_mark.sta")
    last = max(b.transactions.to_pylist(), key=lambda r: r["source_seq"])  # the statement's last line
    assert last["signed_amount"] == Decimal("-104.12")
    assert last["quality_flags"] == ["nonstandard_mark"]
    assert b.statements.column("reconciled").to_pylist() == [True]


# --------------------------------------------------------------------------- BR-03
def _br03_values():
    b = mt940.read(DATA / "br03_decimal_comma.sta")
    (st,) = b.statements.to_pylist()
    return b.transactions.column("signed_amount").to_pylist(), st["opening_balance"], st["closing_balance"], st["reconciled"]


def test_br03_decimal_comma_is_locale_independent():
    saved = locale.setlocale(locale.LC_ALL)
    results = {}
    try:
        for name in ("de_DE.UTF-8", "de_DE.utf8", "en_US.UTF-8", "en_US.utf8", "C.UTF-8", "C"):
            try:
                locale.setlocale(locale.LC_ALL, name)
            except locale.Error:
                continue
            results[name] = _br03_values()
    finally:
        locale.setlocale(locale.LC_ALL, saved)
    assert len(results) >= 2, "fewer than two locales available"
    expected = ([Decimal("19053.79"), Decimal("-119.00")], Decimal("0.00"), Decimal("18934.79"), True)
    assert all(v == expected for v in results.values()), results


@pytest.mark.parametrize(("text", "value"), [("0,", "0.00"), ("2400,", "2400.00"), ("000000001000,00", "1000.00"), (",5", "0.50"), ("1,2", "1.20")])
def test_amount_forms(text, value):
    assert mt940._amount(text)[0] == Decimal(value)


# --------------------------------------------------------------------------- structure
def test_preamble_blocks_and_separators(tmp_path):
    text = (
        "{1:F01TESTBANKAXXX0000000000}{2:O9401200240101TESTBANKAXXX00000000002401011200N}{4:\n"
        + _stmt(":61:2401010101C5,00NTRFNONREF//R1", closing="C240101EUR105,00").replace("-\n", "-}\n")
        + "ABNANL2A\n940\nABNANL2A\n"
        + _stmt(":61:2401010101D5,00NTRFNONREF//R2", opening="C240101EUR105,00", closing="C240101EUR100,00")
    )
    b = mt940.read(_write(tmp_path, text))
    assert b.statements.column("reconciled").to_pylist() == [True, True]
    assert b.transactions.column("source_txn_ref").to_pylist() == ["R1", "R2"]
    assert b.reports.column("report_code").to_pylist() == ["MT940"]


def test_61_outside_a_statement_is_a_reject(tmp_path):
    text = _stmt(":61:2401010101C1,00NTRFNONREF", closing="C240101EUR101,00") + ":61:2401020102C9,00NTRFNONREF\nextra\n"
    b = mt940.read(_write(tmp_path, text))
    b.reconcile()
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "t.sta:8" and "outside a statement" in rej["reason"]
    assert rej["raw"].startswith(":61:2401020102C9,00")
    assert (_log(b)["records_read"], _log(b)["rows_written"], _log(b)["rejected"]) == (2, 1, 1)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (":61:24AB01C1,00NTRFNONREF", "value date: expected YYMMDD"),
        (":61:240101X1,00NTRFNONREF", "debit/credit mark"),
        (":61:240101CNTRFNONREF", "amount: missing or not a number"),
        (":61:240101C1,2,3NTRFNONREF", "amount: not an amount"),
        (":61:241340C1,00NTRFNONREF", "value date: invalid date '241340'"),
    ],
)
def test_unreadable_61_lines_are_rejected_with_the_field(tmp_path, line, reason):
    b = mt940.read(_write(tmp_path, _stmt(":61:2401010101C1,00NTRFNONREF", line, closing="C240101EUR101,00")))
    b.reconcile()
    (rej,) = b.rejects.to_pylist()
    assert rej["source_ref"] == "t.sta:6" and reason in rej["reason"]
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is None and "entries_rejected" in st["quality_flags"]


def test_invalid_value_date_keeps_the_row_with_its_entry_date():
    b = fm.read(DATA / "wolph_self-provided_february_30.sta")
    (r,) = b.transactions.to_pylist()
    assert r["value_date"] is None and r["booking_date"] == date(2016, 3, 1)
    assert r["timestamp"] == datetime(2016, 3, 1, tzinfo=timezone.utc)
    assert r["quality_flags"] == ["invalid_value_date"]
    assert b.statements.column("reconciled").to_pylist() == [True]


def test_entry_date_across_the_year_end(tmp_path):
    b = mt940.read(_write(tmp_path, _stmt(":61:2312311231D1,00NTRFNONREF", ":61:2401021231D1,00NTRFNONREF", closing="C240101EUR98,00")))
    assert b.transactions.column("booking_date").to_pylist() == [date(2023, 12, 31), date(2023, 12, 31)]


def test_no_statement_is_refused(tmp_path):
    p = _write(tmp_path, "just a note\n:86:text without any statement\n")
    assert mt940.sniff(p, p.read_bytes()) is False
    with pytest.raises(InputError, match=r"t.sta: no MT940/MT942 statement: no ':20:' line"):
        mt940.read(p)


def test_a_fragment_without_20_is_read_one_statement_per_opening_balance(tmp_path):
    p = _write(tmp_path, ":60F:C100318EUR380115,12\n:60F:C100318EUR0,12\n")
    assert mt940.sniff(p, p.read_bytes()) is True
    b = mt940.read(p)
    b.reconcile()
    assert b.statements.column("opening_balance").to_pylist() == [Decimal("380115.12"), Decimal("0.12")]
    assert all("statement_header_missing" in f for f in b.statements.column("quality_flags").to_pylist())


def test_shared_amount_formats_and_sparkasse_fragments():
    if not SHARED_MT940.is_dir():
        pytest.skip("shared samples absent")
    b = fm.read(SHARED_MT940 / "wolph_betterplace_amount_formats.sta")
    b.reconcile()
    got = [(money_str(s["opening_balance"], s["currency"]), s["currency"]) for s in b.statements.to_pylist()]
    assert got == [("380115.12", "EUR"), ("380115.10", "EUR"), ("380115.00", "EUR"), ("0.12", "EUR"), ("0.12", "EUR"), ("1.12", "EUR")]
    b = fm.read(SHARED_MT940 / "wolph_self-provided_sparkassen.sta")
    b.reconcile()
    (r,) = b.transactions.to_pylist()  # ':61:' amount wrapped onto the next line, ':86:' tag broken after ':'
    assert (money_str(r["signed_amount"], r["currency"]), r["description"], r["source_ref"]) == ("30.00", "Test", "wolph_self-provided_sparkassen.sta:1")
    assert r["value_date"] == date(2018, 11, 26)


def test_sniff_does_not_take_mt103(tmp_path):
    p = _write(tmp_path, "{1:F01X}{2:I103X}{4:\n:20:REF\n:23B:CRED\n:32A:240101EUR10,\n:59:/1\nX\n-}\n", "m.fin")
    assert mt940.sniff(p, p.read_bytes()) is False
    assert fm.sniff(DATA / "br01_statement_info.sta") == "mt940"


def test_mt942_rows_are_interim_and_not_reconciled():
    b = fm.read(DATA / "wolph_mBank_mt942.sta")
    (st,) = b.statements.to_pylist()
    assert st["message_type"] == "MT942" and st["reconciled"] is None
    assert all("interim" in f for f in b.transactions.column("quality_flags").to_pylist())
    assert b.reports.column("report_code").to_pylist() == ["MT942"]
    assert b.reports.column("submitted_at").to_pylist() == [datetime(2017, 1, 19, 17, 15, tzinfo=timezone.utc)]


# --------------------------------------------------------------------------- encodings
def test_non_utf8_file_with_default_fallback_is_flagged():
    b = fm.read(DATA / "wolph_self-provided_raiffeisen-cmi.sta")
    b.reconcile()
    assert b.transactions.num_rows == 7
    assert all("encoding_guessed" in f for f in b.transactions.column("quality_flags").to_pylist())


def test_declared_fallback_encoding():
    b = fm.read(DATA / "wolph_self-provided_raiffeisen-cmi.sta", encoding="cp852")
    first = b.transactions.to_pylist()[0]
    assert first["supplementary_details"] == "Csoportos átutalás jóváírása"
    assert "encoding_guessed" not in first["quality_flags"]


def test_cp1250_name(tmp_path):
    line86 = ":86:911 TRANSAKCJA; Z RACH.: 56114010810000267002001001; OD: ZAŻÓŁĆ GĘŚLĄ  UL. JAŹŃ 1 00-001 ŁÓDŹ; TYT.: ZWROT"
    text = _stmt(":61:2401010101C1,00NTRFNONREF", line86, closing="C240101EUR101,00").replace("TESTBANK/0000000001", "PL29114010810000267002001002")
    p = _write(tmp_path, text, encoding="cp1250")
    (r,) = mt940.read(p, encoding="cp1250").transactions.to_pylist()
    assert r["counterparty_name"] == "ZAŻÓŁĆ GĘŚLĄ"
    assert r["from_account"] == "IBAN/PL56114010810000267002001001"  # NRB of a Polish bank -> IBAN
    assert r["description"] == "ZWROT"
    with pytest.raises(InputError, match="unknown encoding"):
        mt940.read(p, encoding="no-such-codec")


# --------------------------------------------------------------------------- :86: dialects
def test_german_sepa_details():
    b = fm.read(DATA / "wolph_betterplace_sepa_snippet.sta")
    rows = b.transactions.to_pylist()
    assert rows[0]["counterparty_name"] == "KARL KAUFMANN"
    assert rows[0]["counterparty_bic"] == "DRESDEFF508"
    assert rows[0]["from_account"] == "IBAN/DE14508800500194785000"
    assert rows[0]["end_to_end_id"] == "EndToEndId TFNR 22 004 00001"
    assert rows[1]["description"] == "Strukturierter Verwendungszweck 30030004 DE"
    assert rows[3]["signed_amount"] == Decimal("-1500.00")  # DR: debit with funds code R
    assert b.statements.column("reconciled").to_pylist()[0] is True


def test_dutch_structured_details():
    b = fm.read(DATA / "wolph_jejik_rabobank-iban.sta")
    r = b.transactions.to_pylist()[0]
    assert r["counterparty_name"] == "CONTRA ACCOUNT HOLDER"  # wrapped mid-word at 65 characters
    assert r["end_to_end_id"] == "01-01-2013 12:00 0030000987654321"
    assert r["to_account"] == "IBAN/NL70ABNA0987654321"  # from the :61: supplementary line
    assert r["from_account"] == "IBAN/NL71RABO0123456789"
    assert b.statements.column("reconciled").to_pylist() == [True, True]


def test_polish_mbank_details():
    b = fm.read(DATA / "wolph_mBank_mt940.sta")
    r = b.transactions.to_pylist()[0]
    assert (r["counterparty_name"], r["description"]) == ("JAN NOWAK", "PRZELEW SRODKOW")
    assert r["from_account"] == "IBAN/PL56114010810000267002001001"
    assert r["to_account"] == "IBAN/PL29114010810000267002001002"
    addr = b.identifiers.to_pylist()[0]
    assert (addr["kind"], addr["raw"]) == ("address", "UL. NIJAKA 1 M 2 31-234 KRAKOW")
    assert b.statements.column("reconciled").to_pylist() == [True]


def test_parse_details_free_text():
    i = mt940.parse_details(["FACTUUR 201403110", "REK: NL65INGB0123456789/NAAM: PICQER"])
    assert (i.account, i.name) == ("NL65INGB0123456789", "PICQER")
    assert i.description == "FACTUUR 201403110 REK: NL65INGB0123456789/NAAM: PICQER"


def test_several_86_fields_and_channels(tmp_path):
    text = _stmt(
        ":61:2401010101D1,00NCHK123",
        ":86:CHEQUE 123",
        ":86:SECOND LINE",
        ":61:2401010101C1,00S103NONREF",
        ":61:2401010101D1,00NMSCNONREF",
        ":86:083?00AUSZAHLUNG",
        closing="C240101EUR99,00",
    )
    b = mt940.read(_write(tmp_path, text))
    assert b.transactions.column("channel").to_pylist() == ["cheque", "wire", "cash_withdrawal"]
    assert b.transactions.column("description").to_pylist()[0] == "CHEQUE 123 SECOND LINE"
    assert b.transactions.column("bank_tx_code").to_pylist() == ["NCHK", "S103", "NMSC"]


def test_ids_are_deterministic_and_schema_conforms():
    a, b = fm.read(DATA / "br02_marks.sta"), fm.read(DATA / "br02_marks.sta")
    assert a.transactions.column("txn_id").to_pylist() == b.transactions.column("txn_id").to_pylist()
    assert len(set(a.transactions.column("txn_id").to_pylist())) == 5
    for name in schema.TABLES:
        schema.validate(getattr(a, name), name)
    assert a.transactions.schema.field("signed_amount").type == schema.MONEY
    assert a.statements.schema.field("quality_flags").type == pa.list_(pa.string())


# --------------------------------------------------------------------------- shared samples
def _shared_files() -> list[Path]:
    return sorted(p for p in SHARED_MT940.iterdir() if p.is_file()) if SHARED_MT940.is_dir() else []


@pytest.mark.parametrize("path", _shared_files(), ids=lambda p: p.name)
def test_every_shared_sample_loads_or_is_refused_clearly(path):
    if path.name in REFUSED:
        with pytest.raises(InputError, match="no MT940/MT942 statement"):
            mt940.read(path)
        return
    assert mt940.sniff(path, path.read_bytes()[:65536])
    b = fm.read(path)
    b.reconcile()
    n61 = sum(1 for line in path.read_bytes().splitlines() if line.startswith(b":61:"))
    assert b.statements.num_rows >= 1 and (b.transactions.num_rows >= 1 or n61 == 0)  # amount_formats: balances only
    for name in schema.TABLES:
        schema.validate(getattr(b, name), name)
    if n61:
        assert _log(b)["records_read"] == n61


def test_shared_cmxl_three_statements_reconcile(shared):
    b = fm.read(shared / "samples" / "swift_mt" / "mt940" / "wolph_cmxl_mt940.sta")
    assert b.statements.column("reconciled").to_pylist() == [True, True, True]
    assert min(b.transactions.to_pylist(), key=lambda r: r["source_seq"])["currency"] == "DEM"  # the file's first entry
