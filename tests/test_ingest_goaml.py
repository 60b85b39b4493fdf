"""goAML XML adapter: shared/cases/ingest.md BR-10, the shared goAML samples, rejects,
safety, code-list profiles and the synthetic demo reports in sample_data/goaml."""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

import followmoney as fm
from followmoney.ingest import InputError, goaml

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "goaml"
# the repo's sibling shared/ folder (tests/ -> repo root -> its parent)
from conftest import SHARED  # noqa: E402  (../shared, also from a git worktree)
SHARED_GOAML = SHARED / "samples" / "goaml"
SAMPLE_GOAML = fm.sample_data_path() / "goaml"

ID_COLUMNS = {"txn_id", "report_id", "source_ref", "from_party", "to_party", "observed_in"}  # observed_in: source_refs


def _shared_samples() -> list[Path]:
    return sorted(SHARED_GOAML.glob("*.xml")) if SHARED_GOAML.is_dir() else []


def _need_shared() -> None:
    if not SHARED_GOAML.is_dir():
        pytest.skip("shared/samples/goaml is not present")


def _write(tmp_path: Path, name: str, xml: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(xml).lstrip(), encoding="utf-8")
    return p


def _count_transaction_elements(path: Path) -> int:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    return sum(1 for el in root.iter(tag=etree.Element) if etree.QName(el).localname == "transaction")


def _txn_rejects(bundle) -> list[dict]:
    return [r for r in bundle.rejects.to_pylist() if r["table"] == "transactions"]


def _log(bundle, table: str) -> dict:
    rows = [r for r in bundle.load_log.to_pylist() if r["table"] == table]
    return {k: sum(r[k] for r in rows) for k in ("records_read", "rows_written", "merged", "rejected")}


# --------------------------------------------------------------------------- BR-10
@pytest.mark.parametrize("name", ["br10_namespaced.xml", "br10_plain.xml"])
def test_br10_two_rows_with_expected_values(name):
    b = fm.read(DATA / name)
    rows = b.transactions.sort_by("source_txn_ref").to_pylist()
    assert [r["source_txn_ref"] for r in rows] == ["TX-1", "TX-2"]
    tx1, tx2 = rows

    assert tx1["timestamp"] == datetime(2024, 2, 1, 10, 0, tzinfo=timezone.utc)
    assert tx1["tz_offset_minutes"] is None
    assert tx1["amount"] == Decimal("9500.00") and isinstance(tx1["amount"], Decimal)
    assert tx1["amount_local"] == Decimal("9500.00")
    assert tx1["from_account"] == "TEST BANK/0000000001"
    assert tx1["to_account"] == "OTHER BANK/0000000002"
    assert tx1["from_my_client"] is True and tx1["to_my_client"] is False
    assert tx1["from_funds"] == "K" and tx1["to_funds"] == "K"

    # TX-2 has no to-side: kept, with null to_* columns
    assert tx2["timestamp"] == datetime(2024, 2, 2, 9, 30, tzinfo=timezone.utc)
    assert tx2["amount"] == Decimal("9400.00")
    assert tx2["from_account"] == "TEST BANK/0000000001"
    assert tx2["to_account"] is None and tx2["to_party"] is None and tx2["to_my_client"] is None
    assert tx2["to_funds"] is None and tx2["country_to"] is None

    # account numbers are strings with their leading zeros
    accounts = {r["account_id"]: r for r in b.accounts.to_pylist()}
    assert accounts["TEST BANK/0000000001"]["account_number"] == "0000000001"
    assert accounts["OTHER BANK/0000000002"]["account_number"] == "0000000002"
    assert accounts["TEST BANK/0000000001"]["institution"] == "TEST BANK"

    # no currency in the report and none given: flagged, not guessed
    assert tx1["currency"] is None and "currency_unknown" in tx1["quality_flags"]
    # the generic 5.0.1 profile does not know what "K" means: no cash channel invented
    assert {r["channel"] for r in rows} == {"other"}
    assert b.reports.column("report_code").to_pylist() == ["STR"]
    assert b.reports.column("reporting_entity").to_pylist() == ["1234"]
    b.reconcile()


def test_br10_namespace_does_not_change_rows():
    a = fm.read(DATA / "br10_namespaced.xml")
    b = fm.read(DATA / "br10_plain.xml")
    for table in ("transactions", "accounts", "parties", "party_accounts", "identifiers"):
        ta, tb = getattr(a, table), getattr(b, table)
        keep = [c for c in ta.column_names if c not in ID_COLUMNS]
        assert ta.select(keep).to_pylist() == tb.select(keep).to_pylist(), table
    assert a.transactions.column("source_ref").to_pylist() != b.transactions.column("source_ref").to_pylist()


def test_br10_source_ref_is_an_xpath_into_the_file():
    for name in ("br10_namespaced.xml", "br10_plain.xml"):
        b = fm.read(DATA / name)
        tree = etree.parse(str(DATA / name))
        for ref, number in zip(b.transactions.column("source_ref").to_pylist(), b.transactions.column("source_txn_ref").to_pylist()):
            file, xpath = ref.split("#", 1)
            assert file == name
            (el,) = tree.xpath(xpath)
            assert etree.QName(el).localname == "transaction"
            assert [c.text for c in el if etree.QName(c).localname == "transactionnumber"] == [number]


def test_ids_are_deterministic():
    a, b = goaml.read(DATA / "br10_plain.xml"), goaml.read(DATA / "br10_plain.xml")
    assert a.transactions.column("txn_id").to_pylist() == b.transactions.column("txn_id").to_pylist()
    assert len(set(a.transactions.column("txn_id").to_pylist())) == 2


# --------------------------------------------------------------------------- shared samples
@pytest.mark.parametrize("path", _shared_samples(), ids=lambda p: p.name)
def test_shared_sample_loads_and_reconciles(path):
    b = fm.read(path)
    b.reconcile()
    n = _count_transaction_elements(path)
    assert b.transactions.num_rows + len(_txn_rejects(b)) == n
    if n:
        assert _log(b, "transactions")["records_read"] == n
    assert b.reports.num_rows == 1
    # the reporting officer is not a subject
    names = set(b.parties.column("name").to_pylist())
    assert "Sara Khan" not in names


def test_shared_samples_present_or_skipped():
    _need_shared()
    assert len(_shared_samples()) >= 10


def test_irf_generated_report_27_transactions():
    _need_shared()
    path = SHARED_GOAML / "v5.0.1_xsd_generated_report_IRF.xml"
    b = fm.read(path)
    log = _log(b, "transactions")
    assert log["records_read"] == 27
    assert log["rows_written"] + log["merged"] + log["rejected"] == 27
    # issue 2: the 27-transaction report gives 27 records, none lost. 7 of them are empty
    # shells (no date, no amount): kept, with null values and flags saying so
    all_rows = b.transactions.to_pylist()
    shells = [r for r in all_rows if "amount_missing" in r["quality_flags"]]
    assert len(shells) == 7
    assert all(r["amount"] is None and r["timestamp"] is None and "date_missing" in r["quality_flags"] for r in shells)
    # issue 13: money is decimal128(18, 3) (every ISO 4217 minor unit; thousandths fit int64), so the
    # storage range is below 10**15: the schema's extreme amounts (-7.9e15) are rejected, each named
    rejects = _txn_rejects(b)
    assert b.transactions.num_rows == 7 and len(rejects) == 20
    assert all(r["reason"] == "amount_local: '-7900000000000000.0000000000000' does not fit decimal(18,3)" for r in rejects)
    assert all(r["source_ref"].startswith("v5.0.1_xsd_generated_report_IRF.xml#") for r in rejects)
    # placeholder account numbers ("string") are not accounts: rejected, named
    acc_rejects = [r for r in b.rejects.to_pylist() if r["table"] == "accounts"]
    assert acc_rejects and all(r["reason"] == "account: placeholder 'string'" for r in acc_rejects)
    # multi-role persons and entities still become parties (those of the 7 kept transactions and the
    # report's own; the 20 rejected transactions keep theirs in the rejects' raw XML)
    assert b.parties.num_rows == 12
    assert all("<transaction>" in r["raw"] or "<transaction " in r["raw"] for r in rejects)
    b.reconcile()


def test_uae_str_sample_person_to_person_with_emirates_id():
    _need_shared()
    b = fm.read(SHARED_GOAML / "uae_v5.0.2_STR_synthetic.xml")
    (t,) = b.transactions.to_pylist()
    assert t["amount"] == Decimal("120000.00") and t["currency"] == "AED"
    assert t["timestamp"] == datetime(2026, 5, 24, 14, 30, tzinfo=timezone.utc)
    assert t["from_account"] is None and t["to_account"] is None
    parties = {p["party_id"]: p for p in b.parties.to_pylist()}
    frm, to = parties[t["from_party"]], parties[t["to_party"]]
    assert frm["kind"] == to["kind"] == "person"
    assert (frm["name"], frm["nationality"], str(frm["birth_date"])) == ("Layla Hassan", "AE", "1989-07-02")
    assert (to["name"], to["country"]) == ("John Smith", "GB")
    assert t["from_my_client"] is True and t["to_my_client"] is False
    assert t["counterparty_name"] == "John Smith"
    assert (t["country_from"], t["country_to"]) == ("AE", "GB")
    assert (t["from_funds"], t["to_funds"]) == ("CASH", "BANKD")
    assert t["channel"] == "transfer"  # cash in, but no account on the receiving side: transmode ELCFT
    ids = [(i["kind"], i["value"]) for i in b.identifiers.to_pylist() if i["owner_id"] == t["from_party"]]
    assert ("national_id", "EID:784198512345671") in ids
    assert ("phone", "+971509998877") in ids
    assert not any(k == "tax_id" for k, _ in ids)  # <tax_reg_number>Y</tax_reg_number> is a flag
    (r,) = b.reports.to_pylist()
    assert r["report_code"] == "STR" and r["indicators"] == ["STRUC"] and r["currency_local"] == "AED"
    assert r["submitted_at"] == datetime(2026, 5, 26, 10, 0, tzinfo=timezone.utc)
    assert r["entity_reference"] == "STR-2026-0042" and r["narrative"] is None


def test_dpmsr_entity_with_director():
    _need_shared()
    b = fm.read(SHARED_GOAML / "uae_v5.0.2_DPMSR_TR.2079.200000309_synthetic.xml")
    kinds = Counter(b.parties.column("kind").to_pylist())
    assert kinds == {"entity": 1, "person": 1}
    assert b.transactions.num_rows == 0
    assert b.party_accounts.num_rows == 0  # the entity holds no account in the report


# --------------------------------------------------------------------------- rejects
REJECTS_XML = """
    <report>
      <rentity_id>7</rentity_id>
      <report_code>STR</report_code>
      <currency_code_local>AED</currency_code_local>
      <transaction>
        <transactionnumber>OK-1</transactionnumber>
        <date_transaction>2026-01-05T08:00:00</date_transaction>
        <amount_local>100.5</amount_local>
      </transaction>
      <transaction>
        <transactionnumber>BAD-DATE</transactionnumber>
        <date_transaction>32/13/2026</date_transaction>
        <amount_local>200.00</amount_local>
      </transaction>
      <transaction>
        <transactionnumber>NO-AMOUNT</transactionnumber>
        <date_transaction>2026-01-06T08:00:00</date_transaction>
      </transaction>
      <transactions>
        <transaction>
          <transactionnumber>NESTED</transactionnumber>
          <date_transaction>2026-01-07</date_transaction>
          <amount_local>-50.00</amount_local>
        </transaction>
      </transactions>
      <transaction>
        <transactionnumber>TOO-BIG</transactionnumber>
        <date_transaction>2026-01-08T08:00:00</date_transaction>
        <amount_local>12345678901234567.00</amount_local>
      </transaction>
    </report>
"""


def test_rejects_name_the_field_and_keep_other_rows(tmp_path):
    p = _write(tmp_path, "rejects.xml", REJECTS_XML)
    b = fm.read(p)
    kept = {r["source_txn_ref"]: r for r in b.transactions.to_pylist()}
    assert set(kept) == {"OK-1", "NESTED", "NO-AMOUNT"}
    assert kept["NO-AMOUNT"]["amount"] is None and kept["NO-AMOUNT"]["quality_flags"] == ["amount_missing"]
    assert kept["OK-1"]["amount"] == Decimal("100.50")
    assert kept["NESTED"]["amount"] == Decimal("-50.00")
    assert "negative_amount" in kept["NESTED"]["quality_flags"]
    assert kept["NESTED"]["timestamp"] == datetime(2026, 1, 7, tzinfo=timezone.utc)
    reasons = sorted(r["reason"] for r in _txn_rejects(b))
    assert reasons == [
        "amount_local: '12345678901234567.00' does not fit decimal(18,3)",
        "date_transaction: unparseable '32/13/2026'",
    ]
    for r in _txn_rejects(b):
        assert r["source_ref"].startswith("rejects.xml#/report[1]/transaction[")
        assert r["source"] == "goaml" and "<transaction" in r["raw"]
    assert _count_transaction_elements(p) == b.transactions.num_rows + len(_txn_rejects(b)) == 5
    b.reconcile()


# --------------------------------------------------------------------------- safety
def test_malformed_xml_names_file_and_line(tmp_path):
    p = tmp_path / "broken_report.xml"
    p.write_text("<report>\n<rentity_id>1</rentity_id>\n<transaction>\n<amount_local>5</amount_local>\n</report>\n")
    with pytest.raises(InputError, match=r"broken_report\.xml.*line 5"):
        goaml.read(p)
    with pytest.raises(InputError, match=r"broken_report\.xml"):
        fm.read(p, format="goaml")


def test_not_a_report_root(tmp_path):
    p = _write(tmp_path, "other.xml", "<statement><rentity_id>1</rentity_id></statement>")
    # an unexpected element name is content (r06: a name fragment can become a tag): not quoted
    with pytest.raises(InputError, match=r"other\.xml: line 1: root element is an unknown element, expected <report>"):
        goaml.read(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        goaml.read(tmp_path / "absent.xml")


def test_external_entity_is_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xml = f"""<?xml version="1.0"?>
<!DOCTYPE report [<!ENTITY x SYSTEM "file://{secret}"><!ENTITY p SYSTEM "file:///etc/passwd">]>
<report>
  <rentity_id>1</rentity_id>
  <report_code>STR</report_code>
  <reason>&x;&p;</reason>
  <transaction>
    <transactionnumber>&x;</transactionnumber>
    <transaction_description>&p;</transaction_description>
    <date_transaction>2024-01-01T00:00:00</date_transaction>
    <amount_local>1.00</amount_local>
  </transaction>
</report>
"""
    p = tmp_path / "xxe.xml"
    p.write_text(xml)
    with pytest.raises(InputError, match=r"xxe\.xml: refused: the file declares a DOCTYPE") as err:
        goaml.read(p)
    assert "TOP-SECRET-CONTENT" not in str(err.value)


def test_billion_laughs_is_refused(tmp_path):
    lol = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    p = tmp_path / "lol.xml"
    p.write_text(f'<?xml version="1.0"?><!DOCTYPE report [<!ENTITY l0 "lol">{lol}]><report><reason>&l9;</reason></report>')
    with pytest.raises(InputError, match="refused"):
        fm.read(p)


def test_errors_do_not_contain_personal_data(tmp_path):
    p = tmp_path / "pd.xml"
    p.write_text("<report><rentity_id>1</rentity_id><transaction><first_name>Zelda Secretname</first_name></report>")
    with pytest.raises(InputError) as exc:
        goaml.read(p)
    assert "Zelda" not in str(exc.value) and "Secretname" not in str(exc.value)


# --------------------------------------------------------------------------- times, currencies
def test_timestamps_offsets_and_fractions(tmp_path):
    def txn(n, when):
        return f"<transaction><transactionnumber>{n}</transactionnumber><date_transaction>{when}</date_transaction><amount_local>1</amount_local></transaction>"

    p = _write(tmp_path, "tz.xml", "<report><rentity_id>1</rentity_id><currency_code_local>AED</currency_code_local>"
               + txn("plus4", "2026-05-24T18:30:00+04:00")
               + txn("zulu", "2026-05-24T14:30:00Z")
               + txn("local", "2026-05-24T14:30:00.1234567")
               + txn("minus", "2026-05-24T09:00:00-05:30")
               + "</report>")
    rows = {r["source_txn_ref"]: r for r in goaml.read(p).transactions.to_pylist()}
    utc = datetime(2026, 5, 24, 14, 30, tzinfo=timezone.utc)
    assert rows["plus4"]["timestamp"] == utc and rows["plus4"]["tz_offset_minutes"] == 240
    assert rows["zulu"]["timestamp"] == utc and rows["zulu"]["tz_offset_minutes"] == 0
    assert rows["local"]["timestamp"] == utc + timedelta(microseconds=123456)
    assert rows["local"]["tz_offset_minutes"] is None
    assert rows["minus"]["timestamp"] == utc and rows["minus"]["tz_offset_minutes"] == -330


def test_local_currency_option_only_fills_a_gap(tmp_path):
    p = DATA / "br10_plain.xml"
    t = goaml.read(p, local_currency="eur").transactions.to_pylist()[0]
    assert t["currency"] == "EUR" and t["currency_local"] == "EUR" and "currency_unknown" not in t["quality_flags"]
    q = _write(tmp_path, "aed.xml", "<report><rentity_id>1</rentity_id><currency_code_local>AED</currency_code_local>"
               "<transaction><date_transaction>2026-01-01</date_transaction><amount_local>5</amount_local></transaction></report>")
    assert goaml.read(q, local_currency="EUR").transactions.column("currency").to_pylist() == ["AED"]


# --------------------------------------------------------------------------- parties, accounts, identifiers
MULTIPARTY_XML = """
    <report>
      <schema_version>5.0.2</schema_version>
      <rentity_id>9</rentity_id>
      <report_code>STR</report_code>
      <currency_code_local>AED</currency_code_local>
      <transaction>
        <transactionnumber>MP-1</transactionnumber>
        <date_transaction>2026-02-01T12:00:00</date_transaction>
        <transmode_code>SWIFT</transmode_code>
        <amount_local>7000.00</amount_local>
        <involved_parties>
          <party>
            <role>WITN</role>
            <person><first_name>Wit</first_name><last_name>Ness</last_name></person>
            <country>AE</country>
          </party>
          <party>
            <role>RMITR</role>
            <account_my_client>
              <institution_name>Test Bank</institution_name>
              <swift>TESTAEAAXXX</swift>
              <account>0012345</account>
              <currency_code>AED</currency_code>
              <account_name>Sender Account</account_name>
              <iban>AE00 0000 0000 0000 0012 345</iban>
              <t_entity>
                <name>Sender Trading LLC</name>
                <incorporation_number>INC 42</incorporation_number>
                <incorporation_country_code>AE</incorporation_country_code>
                <director_id><first_name>Dee</first_name><last_name>Rector</last_name><role>DIR</role></director_id>
              </t_entity>
              <related_persons>
                <account_related_person>
                  <t_person>
                    <first_name>Sig</first_name><middle_name>Nat</middle_name><last_name>Ory</last_name>
                    <birthdate>1970-01-02T00:00:00.000000000</birthdate>
                    <passport_number>p 123</passport_number>
                    <email>Sig.Ory@Example.INVALID</email>
                  </t_person>
                  <role>SSIGN</role>
                </account_related_person>
              </related_persons>
              <opened>2020-01-01T00:00:00</opened>
              <status_code>A</status_code>
            </account_my_client>
            <funds_code>ELCFT</funds_code>
            <country>AE</country>
          </party>
          <party>
            <role>BNFCR</role>
            <person>
              <first_name>Bene</first_name><last_name>Ficiary</last_name>
              <phones><phone><tph_contact_type>PRIVT</tph_contact_type><tph_communication_type>M</tph_communication_type>
                <tph_country_prefix>44</tph_country_prefix><tph_number>07700 900123</tph_number></phone></phones>
              <identifications><identification><type>PASSP</type><number>gb 99</number></identification></identifications>
            </person>
            <country>GB</country>
          </party>
        </involved_parties>
      </transaction>
    </report>
"""


def test_multiparty_transaction(tmp_path):
    b = goaml.read(_write(tmp_path, "mp.xml", MULTIPARTY_XML))
    (t,) = b.transactions.to_pylist()
    assert t["from_account"] == "TESTAEAAXXX/0012345"
    assert t["to_account"] is None
    parties = {p["party_id"]: p for p in b.parties.to_pylist()}
    assert parties[t["from_party"]]["name"] == "Sender Trading LLC"  # the account's holder
    assert parties[t["to_party"]]["name"] == "Bene Ficiary"
    assert (t["from_my_client"], t["to_my_client"]) == (True, False)
    assert (t["country_from"], t["country_to"]) == ("AE", "GB")
    assert t["channel"] == "wire" and t["from_funds"] == "ELCFT"
    assert t["counterparty_name"] == "Bene Ficiary"
    assert {p["name"] for p in parties.values()} == {"Wit Ness", "Sender Trading LLC", "Dee Rector", "Sig Nat Ory", "Bene Ficiary"}

    (acc,) = b.accounts.to_pylist()
    assert acc["iban"] == "AE000000000000000012345" and acc["name"] == "Sender Account"
    assert acc["currency"] == "AED" and acc["status"] == "A" and acc["country"] == "AE"
    assert acc["opened"] == datetime(2020, 1, 1, tzinfo=timezone.utc)

    by_name = {p["name"]: p["party_id"] for p in parties.values()}
    links = {(parties[r["party_id"]]["name"], r["role"], r["role_code"]) for r in b.party_accounts.to_pylist()}
    assert links == {
        ("Sender Trading LLC", "holder", None),
        ("Dee Rector", "director", "DIR"),
        ("Sig Nat Ory", "signatory", "SSIGN"),
    }
    sig = parties[by_name["Sig Nat Ory"]]
    assert (sig["given_name"], sig["family_name"], str(sig["birth_date"])) == ("Sig Nat", "Ory", "1970-01-02")

    ids = {(i["owner_id"], i["kind"], i["value"]) for i in b.identifiers.to_pylist()}
    assert (by_name["Sig Nat Ory"], "passport", "PASSP:P123") in ids
    assert (by_name["Sig Nat Ory"], "email", "sig.ory@example.invalid") in ids
    assert (by_name["Bene Ficiary"], "phone", "+447700900123") in ids
    assert (by_name["Bene Ficiary"], "passport", "PASSP:GB99") in ids
    assert (by_name["Sender Trading LLC"], "id_document", "INC:INC42") in ids
    assert {i["owner_kind"] for i in b.identifiers.to_pylist()} == {"party"}
    b.reconcile()


def test_multiparty_without_known_roles_keeps_parties_only(tmp_path):
    xml = MULTIPARTY_XML.replace("<role>RMITR</role>", "<role>ASSOC</role>").replace("<role>BNFCR</role>", "<role>-</role>")
    b = goaml.read(_write(tmp_path, "mp2.xml", xml))
    (t,) = b.transactions.to_pylist()
    assert t["from_account"] is None and t["to_account"] is None
    assert t["from_party"] is None and t["to_party"] is None
    assert b.accounts.num_rows == 1 and b.party_accounts.num_rows == 3 and b.parties.num_rows == 5


def test_phone_normalisation(tmp_path):
    def person(n, prefix, number):
        pre = f"<tph_country_prefix>{prefix}</tph_country_prefix>" if prefix is not None else ""
        return (f"<report_party><person><first_name>P{n}</first_name><last_name>X</last_name><phones><phone>"
                f"<tph_contact_type>-</tph_contact_type><tph_communication_type>M</tph_communication_type>"
                f"{pre}<tph_number>{number}</tph_number></phone></phones></person><reason>r</reason></report_party>")

    cases = [("971", "50 000 0101", "+971500000101"), ("971", "+971 50 000 0101", "+971500000101"),
             (None, "00971500000101", "+971500000101"), (None, "050-000-0101", "0500000101"),
             ("+971", "0500000101", "+971500000101")]
    body = "".join(person(i, pre, num) for i, (pre, num, _) in enumerate(cases))
    p = _write(tmp_path, "ph.xml", f"<report><rentity_id>1</rentity_id><activity><report_parties>{body}</report_parties></activity></report>")
    b = goaml.read(p)
    names = {r["party_id"]: r["name"] for r in b.parties.to_pylist()}
    got = {names[i["owner_id"]]: (i["value"], i["raw"]) for i in b.identifiers.to_pylist() if i["kind"] == "phone"}
    for i, (pre, num, want) in enumerate(cases):
        value, raw = got[f"P{i} X"]
        assert value == want
        assert raw == (f"{pre} {num}" if pre else num)


def test_reporting_person_is_skipped(tmp_path):
    xml = """
        <report><rentity_id>1</rentity_id>
          <reporting_person><first_name>Mlro</first_name><last_name>Officer</last_name>
            <phones><phone><tph_contact_type>BU</tph_contact_type><tph_communication_type>L</tph_communication_type>
            <tph_number>123456</tph_number></phone></phones></reporting_person>
          <activity><report_parties><report_party><entity><name>Subject Co</name></entity><reason>r</reason></report_party></report_parties></activity>
        </report>"""
    b = goaml.read(_write(tmp_path, "rp.xml", xml))
    assert b.parties.column("name").to_pylist() == ["Subject Co"]
    assert b.identifiers.num_rows == 0
    assert b.transactions.num_rows == 0


# --------------------------------------------------------------------------- profiles
def test_auto_profile_selection(tmp_path):
    assert goaml.load_profile("uae").name == "uae" and goaml.load_profile("generic").name == "generic"
    cash = ("<transaction><date_transaction>2026-01-01</date_transaction><amount_local>5</amount_local>"
            "<t_from><from_funds_code>CASH</from_funds_code>"
            "<from_foreign_currency><foreign_currency_code>USD</foreign_currency_code><foreign_amount>1.36</foreign_amount>"
            "</from_foreign_currency><from_person><first_name>A</first_name></from_person></t_from>"
            "<t_to_my_client><to_funds_code>DPOST</to_funds_code><to_account><institution_code>B</institution_code>"
            "<account>1</account></to_account></t_to_my_client></transaction>")
    p = _write(tmp_path, "cash.xml", f"<report><rentity_id>1</rentity_id>{cash}</report>")
    # no schema_version, but UAE codes: the uae profile reads CASH -> account as a cash deposit
    assert goaml.read(p).transactions.column("channel").to_pylist() == ["cash_deposit"]
    # forced generic: CASH means nothing there
    assert goaml.read(p, profile="generic").transactions.column("channel").to_pylist() == ["other"]


def test_cash_withdrawal_and_user_profile(tmp_path):
    toml = tmp_path / "myfiu.toml"
    toml.write_text(textwrap.dedent("""
        [profile]
        name = "myfiu"
        [funds]
        cash = ["K"]
        [transmode.channel]
        Z9 = "mobile_money"
        [roles]
        OM = "holder"
    """))
    xml = """
        <report><rentity_id>1</rentity_id><currency_code_local>XOF</currency_code_local>
          <transaction><transactionnumber>W</transactionnumber><date_transaction>2026-01-01</date_transaction><amount_local>5</amount_local>
            <t_from_my_client><from_funds_code>A</from_funds_code><from_account><institution_code>B</institution_code><account>001</account>
              <related_persons><account_related_person><t_person><first_name>O</first_name></t_person><role>OM</role></account_related_person></related_persons>
            </from_account></t_from_my_client>
            <t_to><to_funds_code>K</to_funds_code><to_person><first_name>Q</first_name></to_person></t_to></transaction>
          <transaction><transactionnumber>M</transactionnumber><date_transaction>2026-01-01</date_transaction><transmode_code>Z9</transmode_code><amount_local>5</amount_local></transaction>
        </report>"""
    p = _write(tmp_path, "w.xml", xml)
    rows = {r["source_txn_ref"]: r for r in goaml.read(p, profile=toml).transactions.to_pylist()}
    assert rows["W"]["channel"] == "cash_withdrawal"
    assert rows["M"]["channel"] == "mobile_money"
    b = goaml.read(p, profile=str(toml))
    assert b.party_accounts.select(["account_id", "role", "role_code"]).to_pylist() == [
        {"account_id": "B/001", "role": "holder", "role_code": "OM"}]
    assert rows["W"]["from_party"] is not None  # the account's holder


def test_bad_profiles(tmp_path):
    with pytest.raises(ValueError, match="unknown goAML profile"):
        goaml.load_profile("atlantis")
    bad = tmp_path / "bad.toml"
    bad.write_text('[transmode.channel]\nX = "teleport"\n')
    with pytest.raises(ValueError, match=r"bad\.toml.*transmode\.channel\.X"):
        goaml.load_profile(bad)


def test_bundled_profiles_are_package_files():
    files = sorted(p.name for p in goaml.PROFILES_DIR.glob("*.toml"))
    assert files == ["generic.toml", "uae.toml"]
    uae = goaml.load_profile("uae")
    assert "K" not in goaml.load_profile("generic").cash_funds
    assert uae.id_kinds["EID"] == "national_id" and uae.id_kinds["PASSP"] == "passport"
    assert uae.roles["UBO"] == "beneficial_owner" and uae.roles["DIR"] == "director"


# --------------------------------------------------------------------------- sniff
def test_sniff():
    assert goaml.sniff("a.xml", (DATA / "br10_namespaced.xml").read_bytes())
    assert goaml.sniff("a.xml", b'<?xml version="1.0"?><g:report xmlns:g="urn:x"><g:rentity_id>1</g:rentity_id>')
    assert goaml.sniff("a.xml", "<report><report_code>STR</report_code>".encode("utf-16"))
    assert not goaml.sniff("a.xml", b"<Document><BkToCstmrStmt>")
    assert not goaml.sniff("a.csv", b"Timestamp,From Bank,Account\n")
    assert not goaml.is_companion("a.xml")
    assert fm.sniff(DATA / "br10_plain.xml") == "goaml"


# --------------------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal("-999999999999999.99"), max_value=Decimal("999999999999999.99"), places=2))
def test_amounts_are_exact(d):
    text = format(d, "f")
    q, rounded = goaml._parse_amount(text)
    assert q == d and not rounded and q.as_tuple().exponent == -2


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1753, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_offsets_convert_to_utc(local, offset):
    sign = "-" if offset < 0 else "+"
    text = f"{local.isoformat()}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    utc, got = goaml._parse_dt(text)
    assert got == offset
    assert utc == (local - timedelta(minutes=offset)).replace(tzinfo=timezone.utc)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("-999999.99"), max_value=Decimal("999999.99"), places=2), min_size=1, max_size=5),
       st.booleans())
def test_generated_reports_round_trip(tmp_path_factory, amounts, namespaced):
    ns = ' xmlns="http://www.unodc.org/goaml"' if namespaced else ""
    txns = "".join(
        f"<transaction><transactionnumber>N{i}</transactionnumber><date_transaction>2026-01-0{i + 1}T00:00:00</date_transaction>"
        f"<amount_local>{format(a, 'f')}</amount_local></transaction>"
        for i, a in enumerate(amounts)
    )
    p = tmp_path_factory.mktemp("gen") / "gen.xml"
    p.write_text(f"<report{ns}><rentity_id>1</rentity_id><currency_code_local>AED</currency_code_local>{txns}</report>")
    b = goaml.read(p)
    assert b.transactions.column("amount").to_pylist() == amounts
    assert b.transactions.column("source_txn_ref").to_pylist() == [f"N{i}" for i in range(len(amounts))]
    b.reconcile()


# --------------------------------------------------------------------------- the demo reports
def test_sample_data_validates_against_patched_xsd():
    _need_shared()
    xmlschema = pytest.importorskip("xmlschema")
    xsd = xmlschema.XMLSchema11(str(SHARED_GOAML / "goAMLSchema_v5.0.2_UAE_patched_for_strict_xsd.xsd"))
    files = sorted(SAMPLE_GOAML.glob("*.xml"))
    assert len(files) >= 3
    for f in files:
        errors = [f"{e.path}: {e.reason}" for e in xsd.iter_errors(str(f))]
        assert errors == [], f.name


def test_sample_data_tells_the_story():
    b = fm.read(SAMPLE_GOAML)
    b.reconcile()
    assert b.rejects.num_rows == 0
    assert set(b.reports.column("currency_local").to_pylist()) == {"AED"}
    t = b.transactions.to_pylist()

    # 1. structuring: >= 4 cash deposits into one account, each in [44,000, 55,000) AED,
    #    within 5 days, by different depositors, across at least two reports
    band = [r for r in t if r["channel"] == "cash_deposit" and r["currency"] == "AED"
            and Decimal("44000") <= r["amount"] < Decimal("55000")]
    by_account = Counter(r["to_account"] for r in band)
    controller_account, n = by_account.most_common(1)[0]
    assert n >= 4
    deposits = sorted((r for r in band if r["to_account"] == controller_account), key=lambda r: r["timestamp"])
    assert deposits[-1]["timestamp"] - deposits[0]["timestamp"] <= timedelta(days=5)
    assert all(r["from_account"] is None and r["from_funds"] == "CASH" for r in deposits)
    assert len({r["report_id"] for r in deposits}) >= 2
    parties = {p["party_id"]: p for p in b.parties.to_pylist()}
    assert len({parties[r["from_party"]]["name"] for r in deposits}) == len(deposits)

    # 2. fan-in: one account receives transfers from >= 6 distinct accounts within 7 days
    transfers = [r for r in t if r["channel"] in ("transfer", "wire") and r["from_account"] and r["to_account"]]
    coordinator, _ = Counter(r["to_account"] for r in transfers).most_common(1)[0]
    into = sorted((r for r in transfers if r["to_account"] == coordinator), key=lambda r: r["timestamp"])
    assert len({r["from_account"] for r in into}) >= 6
    assert into[-1]["timestamp"] - into[0]["timestamp"] <= timedelta(days=7)
    assert controller_account in {r["from_account"] for r in into}

    # 3. shared identifiers: 3 other persons share the controller's phone and address
    holders = {r["party_id"] for r in b.party_accounts.to_pylist() if r["account_id"] == controller_account and r["role"] == "holder"}
    controller_name = {parties[p]["name"] for p in holders}
    assert len(controller_name) == 1
    ids = b.identifiers.to_pylist()
    holder_values = {(i["kind"], i["value"]) for i in ids if i["owner_id"] in holders}
    for kind in ("phone", "address"):
        (value,) = {v for k, v in holder_values if k == kind}
        sharing = {parties[i["owner_id"]]["name"] for i in ids if (i["kind"], i["value"]) == (kind, value)}
        assert len(sharing - controller_name) == 3, kind

    # 4. an activity-based SAR naming the controller
    sars = [r for r in b.reports.to_pylist() if r["report_code"] == "SAR"]
    assert len(sars) == 1
    sar_id = sars[0]["report_id"]
    assert not any(r["report_id"] == sar_id for r in t)
    assert controller_name <= {p["name"] for p in parties.values() if p["report_id"] == sar_id}


def test_sample_data_roles_and_ids():
    b = fm.read(SAMPLE_GOAML)
    links = {(r["account_id"], r["role"], r["role_code"]) for r in b.party_accounts.to_pylist()}
    assert ("DEXB/1001002001", "holder", "PAH") in links
    assert ("GSMB/2002003001", "holder", None) in links  # the company (t_entity)
    assert ("GSMB/2002003001", "director", "DIR") in links
    assert ("GSMB/2002003001", "signatory", "AGENT") in links
    values = set(b.identifiers.column("value").to_pylist())
    assert "EID:784000000000101" in values and "+971500000101" in values
    # <id_number> and <identification type=EID> of one mention are one identifier
    per_owner = Counter((i["owner_id"], i["kind"]) for i in b.identifiers.to_pylist() if i["kind"] == "national_id")
    assert set(per_owner.values()) == {1}


FOREIGN_XML = """<report><rentity_id>1</rentity_id><report_code>STR</report_code><currency_code_local>AED</currency_code_local>
<transaction><transactionnumber>FX-1</transactionnumber><date_transaction>2026-03-01T10:00:00</date_transaction>
<amount_local>36725.00</amount_local>
<t_from_my_client><from_funds_code>CASH</from_funds_code>
 <from_foreign_currency><foreign_currency_code>USD</foreign_currency_code><foreign_amount>10000.00</foreign_amount><foreign_exchange_rate>3.6725</foreign_exchange_rate></from_foreign_currency>
 <from_person><first_name>A</first_name><last_name>B</last_name></from_person></t_from_my_client>
<t_to><to_funds_code>BANKD</to_funds_code>
 <to_foreign_currency><foreign_currency_code>EUR</foreign_currency_code><foreign_amount>9100.50</foreign_amount><foreign_exchange_rate>4.0355</foreign_exchange_rate></to_foreign_currency>
 <to_person><first_name>C</first_name><last_name>D</last_name></to_person></t_to></transaction></report>"""


def test_foreign_currency_amounts_are_kept_apart(tmp_path):
    p = _write(tmp_path, "fx.xml", FOREIGN_XML)
    (row,) = fm.read(p).transactions.to_pylist()
    assert (row["amount"], row["currency"]) == (Decimal("36725.00"), "AED")
    assert (row["instructed_amount"], row["instructed_currency"]) == (Decimal("10000.00"), "USD")
    assert row["fx_rate"] == Decimal("3.6725")
    assert (row["amount_received"], row["currency_received"]) == (Decimal("9100.50"), "EUR")


def test_strict_xsd_validation_is_optional(shared, sample_data, tmp_path):
    xsd = shared / "samples" / "goaml" / "goAMLSchema_v5.0.2_UAE_patched_for_strict_xsd.xsd"
    good = sample_data / "goaml" / "str_2026_001.xml"
    assert goaml.read(good, xsd=xsd).transactions.num_rows == 3
    bad = tmp_path / "bad_report.xml"
    bad.write_text(good.read_text("utf-8").replace("<report_code>STR</report_code>", "<report_code>NOPE</report_code>"))
    assert goaml.read(bad).reports.column("report_code").to_pylist() == ["NOPE"]  # lenient by default
    with pytest.raises(InputError, match=r"bad_report\.xml#/report/report_code: not valid against goAMLSchema"):
        goaml.read(bad, xsd=xsd)
