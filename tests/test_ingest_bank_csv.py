"""Bank / card CSV adapter with mapping profiles: shared/cases/ingest.md BR-11 and BR-12,
the two MIT samples (German online-banking export, Viseca card statement), user
profiles, sniffing, rejects and strict mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.ingest import InputError, bank_csv

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "bank_csv"
SHARED_BANK = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "bank_csv"
GERMAN = DATA / "joscha_csv2mt940_German_bank_export_Beispiel_latin1.csv"
VISECA = DATA / "fjacquet_viseca_card_statement_export.csv"

BR11 = b'\xef\xbb\xbf"IBAN";"Buchungstag";"Betrag"\r\n"XX12TEST0000000001";"01.02.2024";"-12,50"\r\n'
BR12 = "Buchungstag;Empfaenger;Betrag\n01.02.2024;ALPHA HANDEL;1,20\n12.02.2024;BETA GMBH;22,30\n13.02.2024;GAMMA KG;1.234,56\n14.02.2024;DELTA AG;-5.000,00\n"
BR12_VARIANT = BR12.replace("1.234,56", "1.234.56")


def _write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_bytes(content.encode(encoding))
    return p


def _profile(tmp_path: Path, toml: str, name: str = "my_bank.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(toml).lstrip(), encoding="utf-8")
    return p


def _log(bundle, table: str) -> dict:
    rows = [r for r in bundle.load_log.to_pylist() if r["table"] == table]
    return {k: sum(r[k] for r in rows) for k in ("records_read", "rows_written", "merged", "rejected")}


# --------------------------------------------------------------------------- BR-11
def test_br11_bom_and_quoted_header(tmp_path):
    p = _write(tmp_path, "br11.csv", BR11)
    assert p.read_bytes() == (DATA / "br11_bom_quoted_header.csv").read_bytes()
    t = bank_csv.parse(p)
    assert t.column_names == ["IBAN", "Buchungstag", "Betrag"]
    row = t.to_pylist()[0]
    assert row["Betrag"] == Decimal("-12.50")
    assert row["Buchungstag"] == date(2024, 2, 1)
    assert row["IBAN"] == "XX12TEST0000000001"
    # the same through the bulk reader, sniffed
    assert fm.sniff(p) == "bank_csv"
    b = fm.read(p)
    b.reconcile()
    tx = b.transactions.to_pylist()[0]
    assert (tx["signed_amount"], tx["amount"], tx["currency"]) == (Decimal("-12.50"), Decimal("12.50"), "EUR")
    assert tx["booking_date"] == date(2024, 2, 1)
    assert (tx["from_account"], tx["to_account"]) == ("IBAN/XX12TEST0000000001", None)
    # local midnight in Europe/Berlin, kept as UTC + offset
    assert tx["timestamp"] == datetime(2024, 1, 31, 23, 0, tzinfo=timezone.utc) and tx["tz_offset_minutes"] == 60
    assert "date_only" in tx["quality_flags"]


# --------------------------------------------------------------------------- BR-12
def test_br12_european_conventions(tmp_path):
    p = _write(tmp_path, "br12.csv", BR12)
    t = bank_csv.parse(p)
    assert t.column("Betrag").to_pylist() == [Decimal("1.20"), Decimal("22.30"), Decimal("1234.56"), Decimal("-5000.00")]
    assert t.column("Buchungstag").to_pylist() == [date(2024, 2, 1), date(2024, 2, 12), date(2024, 2, 13), date(2024, 2, 14)]
    b = fm.read(p)
    b.reconcile()
    assert b.transactions.column("signed_amount").to_pylist() == [Decimal("1.20"), Decimal("22.30"), Decimal("1234.56"), Decimal("-5000.00")]
    assert b.transactions.column("booking_date").to_pylist()[1] == date(2024, 2, 12)  # not 2 December
    assert b.transactions.column("counterparty_name").to_pylist()[0] == "ALPHA HANDEL"
    assert b.transactions.column("amount").type == fm.schema.MONEY


def test_br12_variant_rejects_row_3_and_keeps_the_others(tmp_path):
    p = _write(tmp_path, "br12v.csv", BR12_VARIANT)
    b = fm.read(p)
    b.reconcile()
    rej = b.rejects.to_pylist()
    assert len(rej) == 1
    assert rej[0]["reason"] == "row 3, column Betrag: unparseable amount '1.234.56'"
    assert rej[0]["source_ref"] == "br12v.csv:4" and rej[0]["table"] == "transactions"
    assert b.transactions.column("signed_amount").to_pylist() == [Decimal("1.20"), Decimal("22.30"), Decimal("-5000.00")]
    assert _log(b, "transactions") == {"records_read": 4, "rows_written": 3, "merged": 0, "rejected": 1}


def test_br12_variant_strict_raises_naming_row_3(tmp_path):
    p = _write(tmp_path, "br12v.csv", BR12_VARIANT)
    with pytest.raises(InputError) as exc:
        bank_csv.read(p, strict=True)
    msg = str(exc.value)
    assert "row 3, column Betrag: unparseable amount '1.234.56'" in msg
    assert msg.startswith("br12v.csv:") and "row 1" not in msg
    with pytest.raises(InputError, match="row 3, column Betrag: unparseable amount"):
        bank_csv.parse(p)
    with pytest.raises(InputError, match="row 3, column Betrag"):
        fm.read(p, strict=True)


@pytest.mark.parametrize("loc", ["de_DE.UTF-8", "en_US.UTF-8", "C"])
def test_results_do_not_depend_on_the_locale(tmp_path, loc):
    p = _write(tmp_path, "br12.csv", BR12)
    code = (
        "import locale, sys\n"
        "try: locale.setlocale(locale.LC_ALL, '')\n"
        "except locale.Error: pass\n"
        "from followmoney.ingest import bank_csv\n"
        f"t = bank_csv.parse({str(p)!r})\n"
        "print([str(x) for x in t.column('Betrag').to_pylist()], [str(d) for d in t.column('Buchungstag').to_pylist()])\n"
    )
    env = {**os.environ, "LC_ALL": loc, "LANG": loc}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "['1.200', '22.300', '1234.560', '-5000.000'] ['2024-02-01', '2024-02-12', '2024-02-13', '2024-02-14']"


# --------------------------------------------------------------------------- samples
def test_local_copies_are_the_shared_files():
    if not SHARED_BANK.is_dir():
        pytest.skip("shared/samples/bank_csv is not present")
    for p in (GERMAN, VISECA):
        assert p.read_bytes() == (SHARED_BANK / p.name).read_bytes()


def test_german_online_banking_sample():
    assert fm.sniff(GERMAN) == "bank_csv"
    assert bank_csv.match_profile(GERMAN, GERMAN.read_bytes()).name == "de_online_banking"
    b = fm.read(GERMAN)
    b.reconcile()
    t = b.transactions.to_pylist()
    assert len(t) == 5 and b.rejects.num_rows == 0
    assert [r["signed_amount"] for r in t] == [Decimal(x) for x in ("-600.30", "-54.52", "-15.96", "150.00", "500.00")]
    acc = "22222222/111111111"  # BLZ/KontoNr
    assert [r["from_account"] for r in t] == [acc, acc, acc, None, None]
    assert [r["to_account"] for r in t] == [None, None, None, acc, acc]
    assert [r["channel"] for r in t] == ["transfer", "transfer", "transfer", "cash_deposit", "transfer"]
    assert t[0]["description"] == "ÜBERWEISG / RE-NR. 123456"  # latin-1 decoded, padding squashed
    assert t[0]["counterparty_name"] == "DIENSTLEISTER XYZ" and t[3]["counterparty_name"] is None
    assert t[0]["booking_date"] == date(2004, 8, 16) and t[0]["value_date"] == date(2004, 8, 16)
    assert t[0]["tz_offset_minutes"] == 120  # CEST
    assert {r["currency"] for r in t} == {"EUR"}
    accounts = b.accounts.to_pylist()
    assert [(a["account_id"], a["institution"], a["account_number"]) for a in accounts] == [(acc, "22222222", "111111111")]
    assert _log(b, "accounts") == {"records_read": 5, "rows_written": 1, "merged": 4, "rejected": 0}
    rep = b.reports.to_pylist()[0]
    assert (rep["report_code"], rep["profile"], rep["reporting_entity"]) == ("STATEMENT", "de_online_banking", "22222222")


def test_german_sample_parse_keeps_duplicate_header_by_position():
    t = bank_csv.parse(GERMAN)
    assert t.column_names.count("Währung") == 2
    assert t.column_names[4] == t.column_names[11] == "Währung"
    assert t.schema.field("Betrag").type == fm.schema.MONEY
    assert t.column("KontoNr").to_pylist()[0] == "111111111"


def test_duplicate_column_is_taken_by_occurrence(tmp_path):
    # balance in USD, amount in EUR: the amount's currency is the second "Währung"
    text = GERMAN.read_bytes().decode("latin-1").replace(";+780,56;EUR;", ";+780,56;USD;")
    p = _write(tmp_path, "dup.csv", text, encoding="latin-1")
    b = bank_csv.read(p)
    assert set(b.transactions.column("currency").to_pylist()) == {"EUR"}
    assert bank_csv.parse(p).column(4).to_pylist()[0] == "USD"


def test_viseca_card_sample():
    assert bank_csv.match_profile(VISECA, VISECA.read_bytes()).name == "ch_viseca_card"
    b = fm.read(VISECA)
    b.reconcile()
    t = sorted(b.transactions.to_pylist(), key=lambda r: r["source_seq"])  # in the statement's order
    assert len(t) == 9 and b.rejects.num_rows == 0
    card = "VISECA/000000XXXXXXXXXX"
    first = t[0]
    assert first["source_txn_ref"] == "TRX2025030100001"
    assert (first["amount"], first["currency"], first["signed_amount"]) == (Decimal("29.00"), "CHF", Decimal("-29.00"))
    assert (first["from_account"], first["to_account"], first["channel"]) == (card, None, "card")
    assert first["timestamp"] == datetime(2025, 3, 1, 14, 12, 22, tzinfo=timezone.utc) and first["tz_offset_minutes"] == 60
    assert first["value_date"] == date(2025, 3, 3)
    assert (first["counterparty_name"], first["location_city"], first["country_to"]) == ("Jschalp Gastro AG", "Davos Platz", "CH")
    assert "amount_rounded" not in first["quality_flags"]  # 29.000 is exactly 29.00
    fx = t[2]  # 15.000 USD booked as 12.900 CHF at 0.848252
    assert (fx["amount"], fx["currency"]) == (Decimal("12.90"), "CHF")
    assert (fx["instructed_amount"], fx["instructed_currency"], fx["fx_rate"]) == (Decimal("15.00"), "USD", Decimal("0.8482520000"))
    assert fx["tz_offset_minutes"] == 120  # CEST
    refund = t[4]  # negative amount: a credit to the card account
    assert (refund["signed_amount"], refund["to_account"], refund["from_account"]) == (Decimal("80.00"), card, None)
    assert refund["value_date"] == date(2025, 5, 24)  # valuta before booking, kept as written
    assert t[1]["country_to"] == "IE" and t[1]["location_country"] == "IE"  # IRL -> IE
    assert [r["entry_type"] for r in t].count("fee") == 3
    assert b.accounts.column("account_id").to_pylist() == [card]


def test_read_whole_folder(tmp_path):
    b = fm.read(DATA)
    b.reconcile()
    assert set(b.reports.column("profile").to_pylist()) == {"de_online_banking", "ch_viseca_card", "de_generic"}


# --------------------------------------------------------------------------- user profiles
USER_PROFILE = """\
name = "testbank"
encoding = "utf-8"
delimiter = "|"
decimal = "."
thousands = ","
date_format = "%Y%m%d"
time_format = "%H%M"
timezone = "America/New_York"
sign = "indicator"
debit_values = ["DR"]
credit_values = ["CR"]
institution = "TESTBANK"
channel = "transfer"

[match]
headers = ["Acct", "PostDate", "Amt", "DC"]

[columns]
account = "Acct"
booking_date = "PostDate"
time = { any = ["PostTime"] }
amount = "Amt"
direction = "DC"
currency = { any = ["Ccy"] }
counterparty_name = "Other party"
counterparty_account = "Other IBAN"
counterparty_bic = { any = ["Other BIC"] }
description = ["Memo"]
channel = { any = ["Kind"] }

[channels]
"ATM" = "atm"
"CASH" = "cash_deposit"
"""

USER_CSV = """\
Statement export
Generated for review
Acct|PostDate|PostTime|Amt|DC|Ccy|Other party|Other IBAN|Other BIC|Memo|Kind
00012345|20240115|0930|1,250.00|DR|USD|ALPHA LLC|XX12TEST0000000002||rent|WIRE
00012345|20240116|1415|300.5|CR|usd|||| deposit |CASH DEP
00012345|20240117||75.00|ZZ|USD|||||ATM
00012345|20240231|1000|5.00|DR|USD|||||
"""


def test_user_profile_indicator_sign_preamble_and_time(tmp_path):
    prof = _profile(tmp_path, USER_PROFILE)
    p = _write(tmp_path, "export.txt", USER_CSV)
    b = bank_csv.read(p, mapping=prof)
    b.reconcile()
    t = b.transactions.to_pylist()
    assert len(t) == 2
    dr, cr = t
    assert (dr["signed_amount"], dr["from_account"], dr["to_account"]) == (Decimal("-1250.00"), "TESTBANK/00012345", "IBAN/XX12TEST0000000002")
    assert dr["timestamp"] == datetime(2024, 1, 15, 14, 30, tzinfo=timezone.utc) and dr["tz_offset_minutes"] == -300
    assert "date_only" not in dr["quality_flags"]
    assert dr["source_ref"] == "export.txt:4" and dr["counterparty_account"] == "XX12TEST0000000002"
    assert (cr["signed_amount"], cr["to_account"], cr["currency"], cr["channel"]) == (Decimal("300.50"), "TESTBANK/00012345", "USD", "cash_deposit")
    assert cr["description"] == "deposit"
    reasons = {r["source_ref"]: r["reason"] for r in b.rejects.to_pylist()}
    assert reasons == {
        "export.txt:6": "row 3, column DC: unknown debit/credit mark 'ZZ'",
        "export.txt:7": "row 4, column PostDate: unparseable date (expected %Y%m%d) '20240231'",
    }
    ids = set(b.accounts.column("account_id").to_pylist())
    assert ids == {"TESTBANK/00012345", "IBAN/XX12TEST0000000002"}
    assert "00012345" in b.accounts.column("account_number").to_pylist()  # leading zeros kept


def test_debit_credit_columns_and_account_option(tmp_path):
    prof = _profile(
        tmp_path,
        """\
        name = "soll_haben"
        delimiter = ";"
        decimal = ","
        thousands = "."
        date_format = "%d.%m.%y"
        sign = "debit_credit_columns"
        currency = "EUR"
        [match]
        headers = ["Datum", "Soll", "Haben"]
        [columns]
        booking_date = "Datum"
        debit = "Soll"
        credit = "Haben"
        """,
    )
    p = _write(tmp_path, "sh.csv", "Datum;Soll;Haben\n01.03.24;12,00;\n02.03.24;;7,50\n03.03.24;;\n")
    b = bank_csv.read(p, mapping=prof, account="XX12 TEST 0000 0000 09")
    assert b.transactions.column("signed_amount").to_pylist() == [Decimal("-12.00"), Decimal("7.50")]
    assert b.transactions.column("timestamp").to_pylist()[0] == datetime(2024, 3, 1, tzinfo=timezone.utc)  # no zone: UTC
    assert b.transactions.column("tz_offset_minutes").to_pylist() == [None, None]
    assert set(b.transactions.column("from_account").to_pylist()) == {"IBAN/XX12TEST0000000009", None}
    assert b.rejects.column("reason").to_pylist() == ["row 3, columns Soll/Haben: both empty"]


def test_register_profile_makes_sniff_claim_the_file(tmp_path, monkeypatch):
    p = _write(tmp_path, "export.csv", USER_CSV)
    assert fm.ingest.bank_csv.match_profile(p, p.read_bytes()) is None
    monkeypatch.setattr(bank_csv, "_REGISTERED", [])
    bank_csv.register_profile(_profile(tmp_path, USER_PROFILE))
    assert fm.sniff(p) == "bank_csv"
    assert fm.read(p).transactions.num_rows == 2


# --------------------------------------------------------------------------- rows and values
def test_strict_dates_and_unpadded_days(tmp_path):
    p = _write(tmp_path, "d.csv", "Buchungstag;Betrag\n1.2.2024;1,00\n31.02.2024;2,00\n;3,00\n")
    b = bank_csv.read(p)
    assert b.transactions.column("booking_date").to_pylist() == [date(2024, 2, 1)]
    assert b.rejects.column("reason").to_pylist() == [
        "row 2, column Buchungstag: unparseable date (expected %d.%m.%Y) '31.02.2024'",
        "row 3, column Buchungstag: missing date",
    ]


def test_field_count_and_blank_lines(tmp_path):
    p = _write(tmp_path, "f.csv", "Buchungstag;Betrag;Verwendungszweck\n01.02.2024;1,00;a\n\n02.02.2024;2,00;b;EXTRA\n03.02.2024;3,00\n04.02.2024\n05.02.2024;5,00;e;;\n")
    b = bank_csv.read(p)
    b.reconcile()
    assert b.transactions.column("signed_amount").to_pylist() == [Decimal("1.00"), Decimal("3.00"), Decimal("5.00")]
    assert "short_row" in b.transactions.column("quality_flags").to_pylist()[1]
    assert b.rejects.column("reason").to_pylist() == [
        "row 2, has 4 fields, the header has 3",
        "row 4, has 1 fields, the header has 3; column Betrag: missing amount",
    ]
    assert b.rejects.column("source_ref").to_pylist() == ["f.csv:4", "f.csv:6"]


def test_amount_rounding_zero_and_trailing_minus(tmp_path):
    p = _write(tmp_path, "r.csv", "Buchungstag;Betrag\n01.02.2024;1,005\n02.02.2024;0,00\n03.02.2024;12,50-\n04.02.2024; 1.234.567,891 \n")
    t = bank_csv.read(p).transactions.to_pylist()
    assert [r["signed_amount"] for r in t] == [Decimal("1.00"), Decimal("0.00"), Decimal("-12.50"), Decimal("1234567.89")]
    assert "amount_rounded" in t[0]["quality_flags"] and "zero_amount" in t[1]["quality_flags"]


def test_cp1252_fallback_and_nfc_header(tmp_path):
    text = "Buchungstag;Empfänger;Betrag;Währung\n01.02.2024;MÜLLER € GMBH;1,00;CHF\n"
    p = _write(tmp_path, "w.csv", text, encoding="cp1252")
    b = bank_csv.read(p)
    row = b.transactions.to_pylist()[0]
    assert row["counterparty_name"] == "MÜLLER € GMBH" and row["currency"] == "CHF"
    nfd = "Buchungstag;Empfa\u0308nger;Betrag\n01.02.2024;X;1,00\n"
    assert bank_csv.read(_write(tmp_path, "nfd.csv", nfd)).transactions.column("counterparty_name").to_pylist() == ["X"]


def test_unknown_currency_and_country_are_flagged(tmp_path):
    prof = _profile(
        tmp_path,
        """\
        name = "cards"
        date_format = "%Y-%m-%d"
        sign = "positive_is_debit"
        [match]
        headers = ["Date", "Amount", "Ccy", "Country"]
        [columns]
        booking_date = "Date"
        amount = "Amount"
        currency = "Ccy"
        merchant_country = "Country"
        """,
    )
    p = _write(tmp_path, "c.csv", "Date,Amount,Ccy,Country\n2024-01-02,5.00,ZZZ,XXY\n2024-01-03,6.00,,Switzerland\n")
    t = bank_csv.read(p, mapping=prof).transactions.to_pylist()
    assert "unknown_currency" in t[0]["quality_flags"] and "unknown_country" in t[0]["quality_flags"]
    assert "currency_unknown" in t[1]["quality_flags"] and t[1]["country_to"] == "CH"
    assert "statement_account_unknown" in t[0]["quality_flags"]


# --------------------------------------------------------------------------- sniffing and errors
def test_sniff_claims_only_profile_matches(tmp_path):
    assert bank_csv.sniff(GERMAN, GERMAN.read_bytes())
    assert bank_csv.sniff(VISECA, VISECA.read_bytes())
    assert not bank_csv.sniff("x.csv", b"Timestamp,From Bank,Account,To Bank,Account,Amount Received\n")
    assert not bank_csv.sniff("x.csv", b"\x00\x01\x02binary")
    mystery = _write(tmp_path, "mystery.csv", "a;b;c\n1;2;3\n")
    with pytest.raises(InputError, match="mystery.csv: unrecognised format"):
        fm.read(mystery)
    with pytest.raises(InputError, match="no bank CSV profile matches"):
        bank_csv.read(mystery)


def test_other_csv_adapters_still_win(data_dir):
    assert fm.sniff(data_dir / "ibm_aml" / "br22_traps.csv") == "ibm_aml"


def test_mapped_column_missing_names_the_column(tmp_path):
    header = "KontoNr;BLZ;Buchungsdatum;Wertstellungsdatum;Geschäftsvorfall;Verwendungszweck;Empfänger;Betrag;Währung"
    p = _write(tmp_path, "m.csv", header + "\n1;2;01.02.2024;01.02.2024;X;Y;Z;1,00;EUR\n", encoding="cp1252")
    with pytest.raises(InputError, match=r"m.csv: profile de_online_banking: columns.currency: no occurrence 2 of column 'Währung' in the header"):
        bank_csv.read(p)
    with pytest.raises(InputError, match=r"m.csv: profile de_online_banking: no header line with KontoNr"):
        bank_csv.read(_write(tmp_path, "m.csv", "Buchungstag;Betrag\n01.02.2024;1,00\n"), mapping="de_online_banking")


def test_bad_profiles(tmp_path):
    with pytest.raises(ValueError, match="unknown bank CSV profile 'nope'"):
        bank_csv.load_profile("nope")
    cases = {
        "unknown key": ('name="x"\nfoo=1\n[columns]\namount="A"\nbooking_date="B"\n', "unknown key"),
        "channel": ('channel="teleport"\n[columns]\namount="A"\nbooking_date="B"\n', "teleport"),
        "no amount": ('[columns]\nbooking_date="B"\n', "columns.amount is required"),
        "no date": ('[columns]\namount="A"\n', "one of columns.timestamp"),
        "sign": ('sign="upside_down"\n[columns]\namount="A"\nbooking_date="B"\n', "sign"),
        "target": ('[columns]\namount="A"\nbooking_date="B"\nshoe_size="C"\n', "shoe_size"),
        "zone": ('timezone="Mars/Olympus"\n[columns]\namount="A"\nbooking_date="B"\n', "time zone"),
        "separators": ('decimal=","\nthousands=","\n[columns]\namount="A"\nbooking_date="B"\n', "decimal"),
    }
    for i, (toml, msg) in enumerate(cases.values()):
        with pytest.raises(ValueError, match=msg):
            bank_csv.load_profile(_profile(tmp_path, toml, f"bad{i}.toml"))


def test_bundled_profiles_are_package_files():
    names = sorted(p.stem for p in bank_csv.PROFILES_DIR.glob("*.toml"))
    assert names == ["ch_viseca_card", "de_generic", "de_online_banking"]
    for name in names:
        prof = bank_csv.load_profile(name)
        assert prof.name == name and prof.match_headers


def test_errors_do_not_contain_personal_data(tmp_path):
    p = _write(tmp_path, "pd.csv", "Buchungstag;Empfaenger;Betrag\n01.02.2024;JANE SECRET;oops\n")
    with pytest.raises(InputError) as exc:
        bank_csv.read(p, strict=True)
    assert "SECRET" not in str(exc.value)


def test_ids_are_deterministic(tmp_path):
    p = _write(tmp_path, "br12.csv", BR12)
    a, b = bank_csv.read(p), bank_csv.read(p)
    assert a.transactions.column("txn_id").equals(b.transactions.column("txn_id"))
    # from content, not the file name: the same export under another name keeps its ids
    renamed = bank_csv.read(_write(tmp_path, "renamed.csv", BR12))
    assert renamed.transactions.column("txn_id").equals(a.transactions.column("txn_id"))


# --------------------------------------------------------------------------- property
@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=Decimal("-99999999999.99"), max_value=Decimal("99999999999.99"), places=2))
def test_german_formatted_amounts_round_trip_exactly(tmp_path_factory, d):
    sign = "-" if d < 0 else ""
    whole, frac = f"{abs(d):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    p = tmp_path_factory.mktemp("amt") / "a.csv"
    p.write_text(f"Buchungstag;Betrag\n01.02.2024;{sign}{grouped},{frac}\n", encoding="utf-8")
    assert bank_csv.parse(p).column("Betrag").to_pylist() == [d]


def test_header_row_and_columns_by_position(tmp_path):
    prof = _profile(
        tmp_path,
        """\
        name = "by_position"
        delimiter = ","
        header_row = 3
        date_format = "%d/%m/%Y"
        account = "0000777"
        institution = "TESTBANK"
        currency = "GBP"
        [columns]
        booking_date = 1
        amount = 3
        description = [2]
        """,
    )
    p = _write(tmp_path, "pos.csv", "Account 0000777\n,,\nWhen,What,How much\n05/04/2024,TEA,-3.20\n")
    b = bank_csv.read(p, mapping=prof)
    t = b.transactions.to_pylist()[0]
    assert (t["booking_date"], t["description"], t["signed_amount"]) == (date(2024, 4, 5), "TEA", Decimal("-3.20"))
    assert (t["from_account"], t["currency"], t["source_ref"]) == ("TESTBANK/0000777", "GBP", "pos.csv:4")
    assert bank_csv.parse(p, mapping=prof).column_names == ["When", "What", "How much"]


def test_zoned_date_before_year_one_in_utc_is_a_bad_date_not_a_crash():
    """Found by `make fuzz`: 0001-01-01 00:30 at +01:00 is before year 1 in UTC."""
    import pyarrow as pa

    from followmoney.ingest.bank_csv import _parse_times

    col = pa.chunked_array([["0001-01-01 00:30:00+0100", "2024-01-01 10:00:00+0100"]])
    values, ok, offsets = _parse_times(col, "%Y-%m-%d %H:%M:%S%z")
    assert ok.to_pylist() == [False, True] and offsets.to_pylist() == [None, 60]
    assert str(values[1].as_py()) == "2024-01-01 09:00:00"
