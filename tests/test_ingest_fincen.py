"""FinCEN BSA XML adapter: SAR / CTR / 8300 batches and acknowledgements.

The moov-io samples (Apache-2.0) are copied in tests/data/fincen; the fc2-prefixed CTR
in shared/samples has no licence and is read from ../shared only (skipped if absent).
Small invented batches written to tmp_path cover namespaces, human-trafficking codes,
rejects and safety.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pytest
from lxml import etree

import followmoney as fm
from followmoney.ingest import InputError, fincen

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "fincen"
SHARED_FINCEN = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "fincen_sar"

ID_COLUMNS = {"txn_id", "report_id", "party_id", "owner_id", "account_id", "source_ref", "from_party", "to_party", "conductor_party"}


def _shared(name: str | None = None) -> Path:
    if not SHARED_FINCEN.is_dir():
        pytest.skip("shared/samples/fincen_sar is not present")
    return SHARED_FINCEN / name if name else SHARED_FINCEN


def _write(path: Path, xml: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(xml).lstrip(), encoding="utf-8")
    return path


def _log(bundle, table: str) -> dict:
    rows = [r for r in bundle.load_log.to_pylist() if r["table"] == table]
    return {k: sum(r[k] for r in rows) for k in ("records_read", "rows_written", "merged", "rejected")}


def _count(path: Path, local: str) -> int:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    return sum(1 for el in root.iter(tag=etree.Element) if etree.QName(el).localname == local)


# An invented CTR: one person conducting on own behalf, one cash-in and one cash-out
# account, a deposit and a withdrawal. Written fc2-prefixed; the tests derive the
# default-namespace and unqualified variants from it.
CTR_FC2 = """\
<?xml version="1.0" encoding="UTF-8"?>
<fc2:EFilingBatchXML xmlns:fc2="www.fincen.gov/base" TotalAmount="19500" PartyCount="4" ActivityCount="1">
  <fc2:FormTypeCode>CTRX</fc2:FormTypeCode>
  <fc2:Activity SeqNum="1">
    <fc2:FilingDateText>20240305</fc2:FilingDateText>
    <fc2:ActivityAssociation SeqNum="2"><fc2:InitialReportIndicator>Y</fc2:InitialReportIndicator></fc2:ActivityAssociation>
    <fc2:Party SeqNum="3">
      <fc2:ActivityPartyTypeCode>50</fc2:ActivityPartyTypeCode>
      <fc2:IndividualBirthDateText>19900101</fc2:IndividualBirthDateText>
      <fc2:PartyName SeqNum="4">
        <fc2:PartyNameTypeCode>L</fc2:PartyNameTypeCode>
        <fc2:RawEntityIndividualLastName>TESTPERSON</fc2:RawEntityIndividualLastName>
        <fc2:RawIndividualFirstName>ALEX</fc2:RawIndividualFirstName>
      </fc2:PartyName>
      <fc2:PhoneNumber SeqNum="5"><fc2:PhoneNumberText>5550000001</fc2:PhoneNumberText></fc2:PhoneNumber>
      <fc2:PartyIdentification SeqNum="6">
        <fc2:PartyIdentificationNumberText>000000001</fc2:PartyIdentificationNumberText>
        <fc2:PartyIdentificationTypeCode>1</fc2:PartyIdentificationTypeCode>
      </fc2:PartyIdentification>
      <fc2:Account SeqNum="7">
        <fc2:AccountNumberText>0000111</fc2:AccountNumberText>
        <fc2:PartyAccountAssociation SeqNum="8"><fc2:PartyAccountAssociationTypeCode>8</fc2:PartyAccountAssociationTypeCode></fc2:PartyAccountAssociation>
      </fc2:Account>
      <fc2:Account SeqNum="9">
        <fc2:AccountNumberText>0000222</fc2:AccountNumberText>
        <fc2:PartyAccountAssociation SeqNum="10"><fc2:PartyAccountAssociationTypeCode>9</fc2:PartyAccountAssociationTypeCode></fc2:PartyAccountAssociation>
      </fc2:Account>
    </fc2:Party>
    <fc2:Party SeqNum="11">
      <fc2:ActivityPartyTypeCode>30</fc2:ActivityPartyTypeCode>
      <fc2:PartyName SeqNum="12"><fc2:PartyNameTypeCode>L</fc2:PartyNameTypeCode><fc2:RawPartyFullName>TEST BANK</fc2:RawPartyFullName></fc2:PartyName>
      <fc2:PartyIdentification SeqNum="13">
        <fc2:PartyIdentificationNumberText>990000001</fc2:PartyIdentificationNumberText>
        <fc2:PartyIdentificationTypeCode>2</fc2:PartyIdentificationTypeCode>
      </fc2:PartyIdentification>
    </fc2:Party>
    <fc2:Party SeqNum="14">
      <fc2:ActivityPartyTypeCode>34</fc2:ActivityPartyTypeCode>
      <fc2:PartyName SeqNum="15"><fc2:PartyNameTypeCode>L</fc2:PartyNameTypeCode><fc2:RawPartyFullName>TEST BANK BRANCH</fc2:RawPartyFullName></fc2:PartyName>
      <fc2:Address SeqNum="16">
        <fc2:RawCityText>TESTVILLE</fc2:RawCityText>
        <fc2:RawCountryCodeText>US</fc2:RawCountryCodeText>
        <fc2:RawStateCodeText>VA</fc2:RawStateCodeText>
        <fc2:RawStreetAddress1Text>1 TEST ROAD</fc2:RawStreetAddress1Text>
        <fc2:RawZIPCode>00001</fc2:RawZIPCode>
      </fc2:Address>
      <fc2:PartyIdentification SeqNum="17">
        <fc2:PartyIdentificationNumberText>990000001</fc2:PartyIdentificationNumberText>
        <fc2:PartyIdentificationTypeCode>2</fc2:PartyIdentificationTypeCode>
      </fc2:PartyIdentification>
    </fc2:Party>
    <fc2:CurrencyTransactionActivity SeqNum="18">
      <fc2:TotalCashInReceiveAmountText>12500</fc2:TotalCashInReceiveAmountText>
      <fc2:TotalCashOutAmountText>7000</fc2:TotalCashOutAmountText>
      <fc2:TransactionDateText>20240304</fc2:TransactionDateText>
      <fc2:CurrencyTransactionActivityDetail SeqNum="19">
        <fc2:CurrencyTransactionActivityDetailTypeCode>55</fc2:CurrencyTransactionActivityDetailTypeCode>
        <fc2:DetailTransactionAmountText>12500</fc2:DetailTransactionAmountText>
      </fc2:CurrencyTransactionActivityDetail>
      <fc2:CurrencyTransactionActivityDetail SeqNum="20">
        <fc2:CurrencyTransactionActivityDetailTypeCode>56</fc2:CurrencyTransactionActivityDetailTypeCode>
        <fc2:DetailTransactionAmountText>7000</fc2:DetailTransactionAmountText>
      </fc2:CurrencyTransactionActivityDetail>
    </fc2:CurrencyTransactionActivity>
  </fc2:Activity>
</fc2:EFilingBatchXML>
"""


def _variants(tmp_path: Path) -> dict[str, Path]:
    """The same CTR prefixed, in a default namespace and unqualified, all named ctr.xml."""
    default = CTR_FC2.replace("fc2:", "").replace('xmlns:fc2="www.fincen.gov/base"', 'xmlns="www.fincen.gov/base"')
    unqualified = CTR_FC2.replace("fc2:", "").replace(' xmlns:fc2="www.fincen.gov/base"', "")
    assert "fc2" not in unqualified and "xmlns" not in unqualified
    return {
        "prefixed": _write(tmp_path / "prefixed" / "ctr.xml", CTR_FC2),
        "default": _write(tmp_path / "default" / "ctr.xml", default),
        "unqualified": _write(tmp_path / "unqualified" / "ctr.xml", unqualified),
    }


# An invented SAR: a subject with an account at another FI, classified as human
# trafficking and structuring, a narrative in two chunks and a total amount.
SAR_HT = """\
<?xml version="1.0" encoding="UTF-8"?>
<fc2:EFilingBatchXML xmlns:fc2="www.fincen.gov/base" ActivityCount="1">
  <fc2:FormTypeCode>SARX</fc2:FormTypeCode>
  <fc2:Activity SeqNum="1">
    <fc2:FilingDateText>20240410</fc2:FilingDateText>
    <fc2:ActivityAssociation SeqNum="2"><fc2:InitialReportIndicator>Y</fc2:InitialReportIndicator></fc2:ActivityAssociation>
    <fc2:Party SeqNum="3">
      <fc2:ActivityPartyTypeCode>30</fc2:ActivityPartyTypeCode>
      <fc2:PartyName SeqNum="4"><fc2:PartyNameTypeCode>L</fc2:PartyNameTypeCode><fc2:RawPartyFullName>TEST CREDIT UNION</fc2:RawPartyFullName></fc2:PartyName>
      <fc2:PartyIdentification SeqNum="5">
        <fc2:PartyIdentificationNumberText>CASE-0042</fc2:PartyIdentificationNumberText>
        <fc2:PartyIdentificationTypeCode>29</fc2:PartyIdentificationTypeCode>
      </fc2:PartyIdentification>
    </fc2:Party>
    <fc2:Party SeqNum="6">
      <fc2:ActivityPartyTypeCode>33</fc2:ActivityPartyTypeCode>
      <fc2:MaleGenderIndicator>Y</fc2:MaleGenderIndicator>
      <fc2:IndividualBirthDateText>19850700</fc2:IndividualBirthDateText>
      <fc2:PartyName SeqNum="7">
        <fc2:PartyNameTypeCode>L</fc2:PartyNameTypeCode>
        <fc2:RawEntityIndividualLastName>SAMPLE</fc2:RawEntityIndividualLastName>
        <fc2:RawIndividualFirstName>JO</fc2:RawIndividualFirstName>
      </fc2:PartyName>
      <fc2:PartyName SeqNum="8"><fc2:PartyNameTypeCode>AKA</fc2:PartyNameTypeCode><fc2:RawPartyFullName>BIG J</fc2:RawPartyFullName></fc2:PartyName>
      <fc2:PhoneNumber SeqNum="9"><fc2:PhoneNumberText>+1 555 000 0002</fc2:PhoneNumberText><fc2:PhoneNumberTypeCode>M</fc2:PhoneNumberTypeCode></fc2:PhoneNumber>
      <fc2:PartyIdentification SeqNum="10">
        <fc2:PartyIdentificationNumberText>X0000001</fc2:PartyIdentificationNumberText>
        <fc2:PartyIdentificationTypeCode>6</fc2:PartyIdentificationTypeCode>
      </fc2:PartyIdentification>
      <fc2:ElectronicAddress SeqNum="11"><fc2:ElectronicAddressText>Jo.Sample@Example.TEST</fc2:ElectronicAddressText><fc2:ElectronicAddressTypeCode>E</fc2:ElectronicAddressTypeCode></fc2:ElectronicAddress>
      <fc2:PartyAccountAssociation SeqNum="12">
        <fc2:PartyAccountAssociationTypeCode>7</fc2:PartyAccountAssociationTypeCode>
        <fc2:Party SeqNum="13">
          <fc2:ActivityPartyTypeCode>41</fc2:ActivityPartyTypeCode>
          <fc2:PartyIdentification SeqNum="14">
            <fc2:PartyIdentificationNumberText>990000002</fc2:PartyIdentificationNumberText>
            <fc2:PartyIdentificationTypeCode>2</fc2:PartyIdentificationTypeCode>
          </fc2:PartyIdentification>
          <fc2:Account SeqNum="15">
            <fc2:AccountNumberText>0012345</fc2:AccountNumberText>
            <fc2:PartyAccountAssociation SeqNum="16">
              <fc2:AccountClosedIndicator>Y</fc2:AccountClosedIndicator>
              <fc2:PartyAccountAssociationTypeCode>5</fc2:PartyAccountAssociationTypeCode>
            </fc2:PartyAccountAssociation>
          </fc2:Account>
        </fc2:Party>
      </fc2:PartyAccountAssociation>
    </fc2:Party>
    <fc2:SuspiciousActivity SeqNum="17">
      <fc2:SuspiciousActivityFromDateText>20240101</fc2:SuspiciousActivityFromDateText>
      <fc2:SuspiciousActivityToDateText>20240331</fc2:SuspiciousActivityToDateText>
      <fc2:TotalSuspiciousAmountText>48250</fc2:TotalSuspiciousAmountText>
      <fc2:SuspiciousActivityClassification SeqNum="18">
        <fc2:SuspiciousActivitySubtypeID>927</fc2:SuspiciousActivitySubtypeID>
        <fc2:SuspiciousActivityTypeID>9</fc2:SuspiciousActivityTypeID>
      </fc2:SuspiciousActivityClassification>
      <fc2:SuspiciousActivityClassification SeqNum="19">
        <fc2:SuspiciousActivitySubtypeID>114</fc2:SuspiciousActivitySubtypeID>
        <fc2:SuspiciousActivityTypeID>1</fc2:SuspiciousActivityTypeID>
      </fc2:SuspiciousActivityClassification>
    </fc2:SuspiciousActivity>
    <fc2:ActivityIPAddress SeqNum="20"><fc2:IPAddressText>192.0.2.10</fc2:IPAddressText></fc2:ActivityIPAddress>
    <fc2:ActivityNarrativeInformation SeqNum="22">
      <fc2:ActivityNarrativeSequenceNumber>2</fc2:ActivityNarrativeSequenceNumber>
      <fc2:ActivityNarrativeText>at several branches.</fc2:ActivityNarrativeText>
    </fc2:ActivityNarrativeInformation>
    <fc2:ActivityNarrativeInformation SeqNum="21">
      <fc2:ActivityNarrativeSequenceNumber>1</fc2:ActivityNarrativeSequenceNumber>
      <fc2:ActivityNarrativeText>Cash deposits below threshold </fc2:ActivityNarrativeText>
    </fc2:ActivityNarrativeInformation>
  </fc2:Activity>
</fc2:EFilingBatchXML>
"""


# --------------------------------------------------------------------------- samples
def _local_samples() -> list[Path]:
    return sorted(DATA.glob("*.xml"))


@pytest.mark.parametrize("path", _local_samples(), ids=lambda p: p.name)
def test_local_samples_load_through_read_and_reconcile(path):
    assert fm.sniff(path) == "fincen"
    b = fm.read(path)
    b.reconcile()
    assert b.reports.num_rows >= 1
    for name in ("reports", "transactions", "parties", "identifiers", "accounts"):
        log = _log(b, name)
        assert log["records_read"] == log["rows_written"] + log["merged"] + log["rejected"]
    # every Activity is a reports row (or a reject); every detail a transaction or a reject
    activities = _count(path, "Activity")
    if activities:
        assert _log(b, "reports")["records_read"] == activities
    details = _count(path, "CurrencyTransactionActivityDetail")
    if details and b.reports.column("report_code")[0].as_py() == "CTR":
        assert _log(b, "transactions")["records_read"] == details


def test_shared_samples_all_load_or_are_refused():
    folder = _shared()
    files = sorted(folder.glob("*.xml"))
    assert len(files) >= 6
    for path in files:
        b = fincen.read(path)
        b.reconcile()
        assert b.reports.num_rows >= 1, path.name


def test_local_copies_are_the_shared_files():
    folder = _shared()
    for path in _local_samples():
        assert path.read_bytes() == (folder / path.name).read_bytes()
    assert not (DATA / "ctr_remote_sample_fc2_prefixed.xml").exists()  # no licence: not copied


def test_moov_ctr_cash_in_details():
    b = fincen.read(DATA / "moov_ctr_batch.xml")
    t = b.transactions.to_pylist()
    assert [r["channel"] for r in t] == ["cash_deposit"] * 3
    assert [r["amount"] for r in t] == [Decimal("15000.00"), Decimal("15000.00"), Decimal("17000.00")]
    assert {r["currency"] for r in t} == {"USD"}
    assert {r["timestamp"] for r in t} == {datetime(2017, 1, 15, tzinfo=timezone.utc)}
    assert [r["txn_type_code"] for r in t] == ["55", "46", "23"]
    assert all("date_only" in r["quality_flags"] for r in t)
    # two cash-in accounts: which one took which deposit is not stated
    assert {r["to_account"] for r in t} == {None}
    conductor = [p for p in b.parties.to_pylist() if p["role"] == "conductor"][0]
    assert conductor["kind"] == "person" and conductor["aliases"] == ["JJ"]
    assert {r["from_party"] for r in t} == {conductor["party_id"]}
    assert {r["conductor_party"] for r in t} == {conductor["party_id"]}
    assert {r["location_city"] for r in t} == {"Vienna"}
    rep = b.reports.to_pylist()[0]
    assert rep["cash_in_total"] == Decimal("47000.00") and rep["quality_flags"] == []
    assert rep["reporting_entity"] == "Filing Institution Legal Name"
    assert "ATMIndicator" in rep["indicators"]
    pa_ = b.party_accounts.to_pylist()
    assert sorted(r["role_code"] for r in pa_) == ["8", "8", "9"]
    assert {r["role"] for r in pa_} == {"holder"}
    assert sorted(b.accounts.column("account_id").to_pylist()) == [
        "145878965/1115478569", "145878965/3365998541", "145878965/4857985691",
    ]  # fmt: skip


def test_moov_sar_parties_identifiers_and_no_transactions():
    b = fincen.read(DATA / "moov_sar_batch.xml")
    assert b.transactions.num_rows == 0
    rep = b.reports.to_pylist()[0]
    assert rep["report_code"] == "SAR"
    assert rep["indicators"] == ["SuspiciousActivityClassification:106"]
    assert rep["reason"].startswith("Structuring: Suspicious inquiry")
    assert rep["submitted_at"] == datetime(1980, 10, 25, tzinfo=timezone.utc)
    assert rep["narrative"] is None  # the sample has no narrative
    assert rep["filing_type"] == "corrects_amends" and rep["prior_bsa_id"] == "00000000000001"
    assert rep["entity_reference"] == "4578958658"  # internal control number (type 29)
    roles = {p["role"]: p for p in b.parties.to_pylist()}
    assert set(roles) >= {"transmitter", "transmitter_contact", "filer", "contact_office", "transaction_location", "subject"}
    subject = roles["subject"]
    assert (subject["kind"], subject["given_name"], subject["family_name"]) == ("person", "Janice", "Mann")
    assert subject["aliases"] == ["Janda", "Jan"] and subject["urls"] == ["janda.org"]
    assert subject["birth_date"] == date(1980, 10, 25)
    ids = [(r["kind"], r["value"]) for r in b.identifiers.to_pylist() if r["owner_id"] == subject["party_id"]]
    assert ("email", "jan@gmail.com") in ids and ("phone", "6194760276") in ids
    assert ("id_document", "STUDENTID:660623559") in ids
    assert roles["filer"]["kind"] == "entity" and roles["filer"]["aliases"] == ["Alternate name"]


def test_moov_8300_empty_details_are_rejected_with_xpath():
    b = fincen.read(DATA / "moov_8300_batch.xml")
    assert b.reports.column("report_code").to_pylist() == ["8300"]
    assert b.reports.column("reporting_entity").to_pylist() == ["Name of business that received cash"]
    rej = b.rejects.to_pylist()
    assert len(rej) == 2 and {r["table"] for r in rej} == {"transactions"}
    assert rej[0]["source_ref"].endswith("#/EFilingBatchXML/Activity[1]/CurrencyTransactionActivity[1]/CurrencyTransactionActivityDetail[1]")
    assert "empty detail" in rej[0]["reason"]
    kinds = {p["role"]: p["kind"] for p in b.parties.to_pylist()}
    assert kinds["cash_payer"] == "person" and kinds["on_whose_behalf"] == "entity"


@pytest.mark.parametrize("name", ["moov_sar_acknowledgement.xml", "moov_ctr_acknowledgement.xml"])
def test_acknowledgements_are_status_reports_only(name):
    b = fincen.read(DATA / name)
    assert b.summary()["transactions"] == b.summary()["parties"] == 0
    reps = b.reports.to_pylist()
    assert len(reps) == 3 and {r["report_code"] for r in reps} == {"ACK"}
    assert all(r["bsa_id"] and r["status"] == "A" for r in reps)
    assert len({r["report_id"] for r in reps}) == 3
    first = reps[0]
    assert first["indicators"] and all(i.startswith("ErrorTypeCode:") for i in first["indicators"])
    assert "WARN" in first["reason"] and "EFilingBatchXML/Activity[" in first["narrative"]
    assert any(r["reason"].endswith("no errors") for r in reps)


def test_shared_fc2_prefixed_ctr():
    b = fincen.read(_shared("ctr_remote_sample_fc2_prefixed.xml"))
    b.reconcile()
    t = b.transactions.to_pylist()
    assert [(r["channel"], r["amount"]) for r in t] == [("cash_deposit", Decimal("0.00")), ("cash_withdrawal", Decimal("12000.00"))]
    assert "zero_amount" in t[0]["quality_flags"]
    out = t[1]
    assert out["from_account"] == "350161790/qaorigid0073" and out["to_account"] is None
    assert out["timestamp"] == datetime(2018, 9, 8, tzinfo=timezone.utc)
    assert b.reports.column("cash_out_total").to_pylist() == [Decimal("12000.00")]


# --------------------------------------------------------------------------- namespaces
def test_prefixed_default_and_unqualified_give_identical_rows(tmp_path):
    v = _variants(tmp_path)
    bundles = {k: fincen.read(p) for k, p in v.items()}
    ref = bundles["prefixed"]
    assert ref.transactions.num_rows == 2
    for k, b in bundles.items():
        b.reconcile()
        for name in ("reports", "transactions", "parties", "identifiers", "accounts", "party_accounts"):
            assert getattr(b, name).equals(getattr(ref, name)), (k, name)


def test_variants_differ_only_in_source_ref_and_ids(tmp_path):
    v = _variants(tmp_path)
    other = tmp_path / "ctr_unqualified_copy.xml"
    other.write_bytes(v["unqualified"].read_bytes())
    a, b = fincen.read(v["prefixed"]), fincen.read(other)
    for name in ("transactions", "parties", "identifiers", "accounts"):
        ta, tb = getattr(a, name), getattr(b, name)
        keep = [c for c in ta.column_names if c not in ID_COLUMNS]
        assert ta.select(keep).equals(tb.select(keep)), name
    refs_a = [r.split("#", 1)[1] for r in a.transactions.column("source_ref").to_pylist()]
    refs_b = [r.split("#", 1)[1] for r in b.transactions.column("source_ref").to_pylist()]
    assert refs_a == refs_b
    assert refs_a[0] == "/EFilingBatchXML/Activity[1]/CurrencyTransactionActivity[1]/CurrencyTransactionActivityDetail[1]"


def test_ctr_directions_accounts_and_parties(tmp_path):
    b = fincen.read(_variants(tmp_path)["prefixed"])
    dep, wd = b.transactions.to_pylist()
    person = [p for p in b.parties.to_pylist() if p["role"] == "conductor"][0]
    assert (dep["channel"], dep["amount"], dep["from_account"], dep["to_account"]) == ("cash_deposit", Decimal("12500.00"), None, "990000001/0000111")
    assert (dep["from_party"], dep["to_party"]) == (person["party_id"], person["party_id"])
    assert (wd["channel"], wd["amount"], wd["from_account"], wd["to_account"]) == ("cash_withdrawal", Decimal("7000.00"), "990000001/0000222", None)
    assert wd["timestamp"] == datetime(2024, 3, 4, tzinfo=timezone.utc) and wd["tz_offset_minutes"] is None
    assert (dep["location_city"], dep["location_country"]) == ("TESTVILLE", "US")
    assert dep["source_txn_ref"] == "19"
    # account numbers keep their leading zeros
    assert sorted(b.accounts.column("account_number").to_pylist()) == ["0000111", "0000222"]
    rep = b.reports.to_pylist()[0]
    assert rep["filing_type"] == "initial" and rep["quality_flags"] == []
    ids = {(r["kind"], r["value"]) for r in b.identifiers.to_pylist() if r["owner_id"] == person["party_id"]}
    assert ("tax_id", "SSN:000000001") in ids and ("phone", "5550000001") in ids


def test_ctr_total_mismatch_is_flagged(tmp_path):
    p = _write(tmp_path / "mismatch.xml", CTR_FC2.replace(">12500</fc2:TotalCashIn", ">13000</fc2:TotalCashIn"))
    rep = fincen.read(p).reports.to_pylist()[0]
    assert rep["quality_flags"] == ["cash_in_total_mismatch"]


# --------------------------------------------------------------------------- SAR / HT
def test_human_trafficking_code_is_surfaced(tmp_path):
    b = fincen.read(_write(tmp_path / "sar.xml", SAR_HT))
    b.reconcile()
    rep = b.reports.to_pylist()[0]
    assert fincen.HUMAN_TRAFFICKING in rep["indicators"]
    assert rep["indicators"] == ["SuspiciousActivityClassification:927", "SuspiciousActivityClassification:114"]
    assert rep["indicator_labels"][0] == "Other suspicious activities: Human trafficking"
    assert "Human trafficking" in rep["reason"] and "Transaction(s) below CTR threshold" in rep["reason"]
    assert fincen.ACTIVITY_SUBTYPES["926"] == "Human smuggling"
    # the subject's SAR total is on the report, no transactions are invented
    assert b.transactions.num_rows == 0
    assert (rep["amount_total"], rep["amount_currency"]) == (Decimal("48250.00"), "USD")
    assert (rep["activity_start"], rep["activity_end"]) == (date(2024, 1, 1), date(2024, 3, 31))
    assert rep["narrative"] == "Cash deposits below threshold at several branches."
    assert rep["entity_reference"] == "CASE-0042" and rep["reporting_entity"] == "TEST CREDIT UNION"
    assert rep["ip_addresses"] == ["192.0.2.10"]
    assert rep["submitted_at"] == datetime(2024, 4, 10, tzinfo=timezone.utc)


def test_sar_subject_account_via_fi_party(tmp_path):
    b = fincen.read(_write(tmp_path / "sar.xml", SAR_HT))
    subject = [p for p in b.parties.to_pylist() if p["role"] == "subject"][0]
    assert subject["birth_date"] is None  # 19850700: day unknown
    assert subject["aliases"] == ["BIG J"]
    acc = b.accounts.to_pylist()
    assert [(a["account_id"], a["account_number"], a["status"]) for a in acc] == [("990000002/0012345", "0012345", "closed")]
    assert b.party_accounts.to_pylist()[0]["party_id"] == subject["party_id"]
    assert b.party_accounts.to_pylist()[0]["role"] == "holder"
    fi = [p for p in b.parties.to_pylist() if p["role"] == "account_institution"]
    assert len(fi) == 1 and fi[0]["kind"] == "entity"
    ids = {(r["kind"], r["value"]) for r in b.identifiers.to_pylist() if r["owner_id"] == subject["party_id"]}
    assert {("passport", "PASSPORT:X0000001"), ("phone", "+15550000002"), ("email", "jo.sample@example.test")} <= ids
    # the internal control number is a file reference, not an identifier
    assert not any("CASE-0042" in r["value"] for r in b.identifiers.to_pylist())


def test_sar_without_subtype_and_with_unknown_amount(tmp_path):
    xml = SAR_HT.replace("<fc2:TotalSuspiciousAmountText>48250</fc2:TotalSuspiciousAmountText>", "<fc2:AmountUnknownIndicator>Y</fc2:AmountUnknownIndicator>")
    xml = xml.replace("<fc2:SuspiciousActivitySubtypeID>114</fc2:SuspiciousActivitySubtypeID>", "")
    rep = fincen.read(_write(tmp_path / "sar2.xml", xml)).reports.to_pylist()[0]
    assert rep["indicators"] == ["SuspiciousActivityClassification:927", "SuspiciousActivityType:1"]
    assert rep["indicator_labels"][1] == "Structuring"
    assert rep["amount_total"] is None and rep["quality_flags"] == ["amount_unknown"]


# --------------------------------------------------------------------------- 8300
FORM_8300 = """\
<EFilingBatchXML TotalAmount="25000" PartyCount="3" ActivityCount="1">
  <FormTypeCode>8300X</FormTypeCode>
  <Activity SeqNum="1">
    <FilingDateText>20240601</FilingDateText>
    <ActivityAssociation SeqNum="2"><InitialReportIndicator>Y</InitialReportIndicator></ActivityAssociation>
    <Party SeqNum="3"><ActivityPartyTypeCode>16</ActivityPartyTypeCode>
      <PartyName SeqNum="4"><RawEntityIndividualLastName>PAYER</RawEntityIndividualLastName><RawIndividualFirstName>PAT</RawIndividualFirstName></PartyName></Party>
    <Party SeqNum="5"><ActivityPartyTypeCode>4</ActivityPartyTypeCode>
      <PartyName SeqNum="6"><RawPartyFullName>TEST CAR DEALER</RawPartyFullName></PartyName>
      <Address SeqNum="7"><RawCityText>TESTTOWN</RawCityText><RawCountryCodeText>US</RawCountryCodeText></Address></Party>
    <Party SeqNum="8"><ActivityPartyTypeCode>35</ActivityPartyTypeCode>
      <PartyName SeqNum="9"><RawPartyFullName>TEST TRANSMITTER</RawPartyFullName></PartyName></Party>
    <CurrencyTransactionActivity SeqNum="10">
      <TotalCashInReceiveAmountText>25000</TotalCashInReceiveAmountText>
      <TotalPriceAmountText>30000</TotalPriceAmountText>
      <TransactionDateText>20240530</TransactionDateText>
      <CurrencyTransactionActivityDetail SeqNum="11">
        <DetailTransactionAmountText>20000</DetailTransactionAmountText>
        <InstrumentProductServiceTypeCode>35</InstrumentProductServiceTypeCode>
      </CurrencyTransactionActivityDetail>
      <CurrencyTransactionActivityDetail SeqNum="12">
        <DetailTransactionAmountText>5000</DetailTransactionAmountText>
        <InstrumentProductServiceTypeCode>39</InstrumentProductServiceTypeCode>
        <IssuerNameText>TEST ISSUER BANK</IssuerNameText>
      </CurrencyTransactionActivityDetail>
      <CurrencyTransactionActivityDetail SeqNum="13">
        <CurrencyTransactionActivityDetailTypeCode>1</CurrencyTransactionActivityDetailTypeCode>
      </CurrencyTransactionActivityDetail>
    </CurrencyTransactionActivity>
  </Activity>
</EFilingBatchXML>
"""


def test_8300_payments_received_by_the_business(tmp_path):
    b = fincen.read(_write(tmp_path / "f8300.xml", FORM_8300))
    b.reconcile()
    parties = {p["role"]: p["party_id"] for p in b.parties.to_pylist()}
    t = b.transactions.to_pylist()
    assert [(r["channel"], r["amount"]) for r in t] == [("cash_deposit", Decimal("20000.00")), ("cheque", Decimal("5000.00"))]
    assert {(r["from_party"], r["to_party"]) for r in t} == {(parties["cash_payer"], parties["cash_recipient_business"])}
    assert t[0]["description"] == "U.S. currency; Personal property purchased"
    assert "issuer TEST ISSUER BANK" in t[1]["description"]
    rep = b.reports.to_pylist()[0]
    assert rep["indicators"] == ["8300TransactionType:1"] and rep["indicator_labels"] == ["Personal property purchased"]
    assert rep["quality_flags"] == [] and rep["reporting_entity"] == "TEST CAR DEALER"


# --------------------------------------------------------------------------- rejects
def test_bad_details_are_rejected_with_field_and_xpath(tmp_path):
    xml = CTR_FC2.replace(">12500</fc2:DetailTransactionAmountText>", ">12,5OO</fc2:DetailTransactionAmountText>")
    xml = xml.replace("<fc2:AccountNumberText>0000222</fc2:AccountNumberText>", "")
    b = fincen.read(_write(tmp_path / "bad.xml", xml))
    b.reconcile()
    rej = {r["table"]: r for r in b.rejects.to_pylist()}
    assert rej["transactions"]["reason"] == "DetailTransactionAmountText: unparseable '12,5OO'"
    assert rej["transactions"]["source_ref"] == "bad.xml#/EFilingBatchXML/Activity[1]/CurrencyTransactionActivity[1]/CurrencyTransactionActivityDetail[1]"
    assert rej["accounts"]["reason"] == "AccountNumberText: missing"
    assert b.transactions.column("channel").to_pylist() == ["cash_withdrawal"]  # the other detail is kept
    assert _log(b, "transactions") == {"records_read": 2, "rows_written": 1, "merged": 0, "rejected": 1}


def test_missing_transaction_date_rejects_every_detail(tmp_path):
    xml = CTR_FC2.replace("<fc2:TransactionDateText>20240304</fc2:TransactionDateText>", "<fc2:TransactionDateText>20241304</fc2:TransactionDateText>")
    b = fincen.read(_write(tmp_path / "nodate.xml", xml))
    assert b.transactions.num_rows == 0
    assert [r["reason"] for r in b.rejects.to_pylist()] == ["TransactionDateText: unparseable '20241304'"] * 2


def test_unknown_detail_type_is_kept_as_other(tmp_path):
    xml = CTR_FC2.replace(">55</fc2:CurrencyTransactionActivityDetailTypeCode>", ">77</fc2:CurrencyTransactionActivityDetailTypeCode>")
    t = fincen.read(_write(tmp_path / "odd.xml", xml)).transactions.to_pylist()
    assert t[0]["channel"] == "other" and "unknown_detail_type" in t[0]["quality_flags"]
    assert t[0]["from_account"] is None and t[0]["to_account"] is None


def test_unsupported_form_is_rejected_per_activity(tmp_path):
    b = fincen.read(_write(tmp_path / "fbar.xml", CTR_FC2.replace(">CTRX<", ">FBARX<")))
    b.reconcile()
    assert b.reports.num_rows == 0
    assert b.rejects.to_pylist()[0]["reason"] == "FormTypeCode 'FBARX': not supported (SARX, CTRX, 8300X)"


def test_form_type_inferred_when_missing(tmp_path):
    b = fincen.read(_write(tmp_path / "noform.xml", SAR_HT.replace("<fc2:FormTypeCode>SARX</fc2:FormTypeCode>", "")))
    assert b.reports.column("report_code").to_pylist() == ["SAR"]


# --------------------------------------------------------------------------- safety and errors
def test_doctype_and_entities_are_refused(tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE EFilingBatchXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<EFilingBatchXML><FormTypeCode>SARX</FormTypeCode><Activity><FilingDateText>&x;</FilingDateText></Activity></EFilingBatchXML>\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="evil.xml: refused: the file declares a DOCTYPE"):
        fincen.read(evil)
    plain = tmp_path / "dt.xml"
    plain.write_text("<!DOCTYPE EFilingBatchXML>\n<EFilingBatchXML/>\n", encoding="utf-8")
    with pytest.raises(InputError, match="DOCTYPE"):
        fincen.read(plain)


def test_malformed_xml_names_file_and_line_not_data(tmp_path):
    p = tmp_path / "broken.xml"
    p.write_text("<EFilingBatchXML>\n<Activity>\n<RawPartyFullName>SECRET NAME</RawPartyFullName>\n</EFilingBatchXML>\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        fincen.read(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: not well-formed XML at line 4") and "SECRET" not in msg


def test_wrong_root_and_missing_file(tmp_path):
    p = _write(tmp_path / "r.xml", "<report><rentity_id>1</rentity_id></report>")
    with pytest.raises(InputError, match=r"r.xml: line 1: root element is <report>, expected <EFilingBatchXML>"):
        fincen.read(p)
    with pytest.raises(InputError, match="no such file"):
        fincen.read(tmp_path / "nope.xml")


def test_sniff():
    assert fincen.sniff("x.xml", b'<?xml version="1.0"?>\n<fc2:EFilingBatchXML xmlns:fc2="www.fincen.gov/base">')
    assert fincen.sniff("x.xml", b"<EFilingBatchXML StatusCode='A'><EFilingSubmissionXML>")
    assert fincen.sniff("x.xml", '<EFilingBatchXML ActivityCount="1">'.encode("utf-16"))
    assert not fincen.sniff("x.xml", b"<report><rentity_id>1</rentity_id></report>")
    assert not fincen.sniff("x.csv", b"EFilingBatch,other\n")


def test_ids_are_deterministic_and_unique(tmp_path):
    p = _write(tmp_path / "ctr.xml", CTR_FC2)
    a, b = fincen.read(p), fincen.read(p)
    assert a.transactions.column("txn_id").equals(b.transactions.column("txn_id"))
    assert a.parties.column("party_id").equals(b.parties.column("party_id"))
    assert pc.count_distinct(a.transactions.column("txn_id")).as_py() == a.transactions.num_rows
    # ids come from content, not the file name: the same batch saved under another name keeps them
    renamed = fincen.read(_write(tmp_path / "renamed.xml", CTR_FC2))
    assert renamed.transactions.column("txn_id").equals(a.transactions.column("txn_id"))
    assert renamed.reports.column("report_id").equals(a.reports.column("report_id"))


def test_read_whole_folder_of_samples(tmp_path):
    b = fm.read(DATA)
    b.reconcile()
    assert set(b.reports.column("report_code").to_pylist()) == {"SAR", "CTR", "8300", "ACK"}
    assert b.transactions.column("amount").type == fm.schema.MONEY
