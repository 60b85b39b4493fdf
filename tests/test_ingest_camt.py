"""ISO 20022 camt adapter: shared/cases/ingest.md BR-04, BR-06, BR-07, the shared
iso20022 samples, rejects, safety, balances and the canonical mapping."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import followmoney as fm
from followmoney.core import schema
from followmoney.ingest import InputError, camt

DATA = Path(__file__).resolve().parent / "data" / "camt"
SHARED_ISO = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "iso20022"

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def _stmt(entries: str, *, ns: str = NS, opening: str = "100.00", closing: str | None = "100.00", owner: str = "") -> str:
    bal = f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{opening}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-31</Dt></Dt></Bal>'
    if closing is not None:
        bal += f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{closing}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-02-01</Dt></Dt></Bal>'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M-1</MsgId><CreDtTm>2024-02-01T08:00:00+01:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S-1</Id>
   <Acct><Id><IBAN>XX12TEST0000000001</IBAN></Id><Ccy>EUR</Ccy>{owner}<Svcr><FinInstnId><BIC>TESTDEFFXXX</BIC></FinInstnId></Svcr></Acct>
   {bal}
   {entries}
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def _ntry(amount: str = "10.00", ind: str = "CRDT", extra: str = "", details: str = "", sts: str = "<Sts>BOOK</Sts>", dates: str = "<BookgDt><Dt>2024-02-01</Dt></BookgDt>") -> str:
    return f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{extra}{sts}{dates}{details}</Ntry>'


def _write(tmp_path: Path, xml: str, name: str = "t.xml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(xml), encoding="utf-8")
    return p


def _txn_rejects(b) -> list[dict]:
    return [r for r in b.rejects.to_pylist() if r["table"] == "transactions"]


# --------------------------------------------------------------------------- BR-04
def test_br04_batch_entry_gives_one_row_per_txdtls():
    b = fm.read(DATA / "br04_batch.xml")
    rows = b.transactions.to_pylist()
    got = [(r["end_to_end_id"], r["signed_amount"], r["counterparty_name"], r["counterparty_account"]) for r in rows]
    assert got == [
        ("E2E-A", Decimal("329.56"), "ALPHA HANDEL GMBH", "XX12TEST0000000002"),
        ("E2E-B", Decimal("100.00"), "BETA KG", "XX12TEST0000000003"),
    ]
    assert [r["amount"] for r in rows] == [Decimal("329.56"), Decimal("100.00")]
    assert rows[0]["entry_ref"] == rows[1]["entry_ref"] is not None
    assert rows[0]["txn_id"] != rows[1]["txn_id"]
    # credits: counterparty -> statement account
    assert [r["from_account"] for r in rows] == ["IBAN/XX12TEST0000000002", "IBAN/XX12TEST0000000003"]
    assert {r["to_account"] for r in rows} == {"IBAN/XX12TEST0000000001"}
    assert sum(r["amount"] for r in rows) == Decimal("429.56")
    assert all(r["quality_flags"] == [] for r in rows)
    (st,) = b.statements.to_pylist()
    assert (st["opening_balance"], st["entries_total"], st["closing_balance"]) == (Decimal("100.00"), Decimal("429.56"), Decimal("529.56"))
    assert st["reconciled"] is True
    # both debtors are parties holding their accounts
    holders = {(r["account_id"], r["role"]) for r in b.party_accounts.to_pylist()}
    assert {("IBAN/XX12TEST0000000002", "holder"), ("IBAN/XX12TEST0000000003", "holder")} <= holders


def test_br04_variant_batch_sum_mismatch_keeps_both_numbers():
    b = fm.read(DATA / "br04_batch_charges.xml")
    rows = b.transactions.to_pylist()
    assert [r["amount"] for r in rows] == [Decimal("329.56"), Decimal("90.00")]
    assert [r["entry_amount"] for r in rows] == [Decimal("429.56"), Decimal("429.56")]
    assert all("batch_sum_mismatch" in r["quality_flags"] for r in rows)
    # balances count the booked entry amount, so the statement still reconciles
    (st,) = b.statements.to_pylist()
    assert st["entries_total"] == Decimal("429.56") and st["reconciled"] is True


# --------------------------------------------------------------------------- BR-06
def test_br06_booked_amount_is_the_account_currency_amount():
    b = fm.read(DATA / "br06_fx.xml")
    (r,) = b.transactions.to_pylist()
    assert (r["amount"], r["currency"]) == (Decimal("95.40"), "CHF")
    assert (r["instructed_amount"], r["instructed_currency"]) == (Decimal("100.00"), "EUR")
    assert r["fx_rate"] == Decimal("0.954")
    assert r["counterparty_name"] == "GAMMA SARL"
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is True and st["closing_balance"] == Decimal("1095.40")
    # fan-in total into the account in CHF: 95.40 (not 100.00, not 195.40)
    t = b.transactions
    mask = pc.and_(pc.equal(t["to_account"], "IBAN/XX12TEST0000000006"), pc.equal(t["currency"], "CHF"))
    assert pc.sum(t.filter(mask)["amount"]).as_py() == Decimal("95.40")


# --------------------------------------------------------------------------- BR-07
_SAME = ["amount", "currency", "counterparty_name", "counterparty_bic", "from_account", "to_account", "timestamp", "end_to_end_id", "is_reversal", "channel"]


def test_br07_version_variants_give_identical_rows():
    rows = {v: fm.read(DATA / f"br07_{v}.xml").transactions.to_pylist() for v in ("v02", "v08", "typo")}
    assert all(len(r) == 1 for r in rows.values())
    proj = {v: {k: r[0][k] for k in _SAME} for v, r in rows.items()}
    assert proj["v02"] == proj["v08"] == proj["typo"]
    assert proj["v02"]["counterparty_name"] == "ALPHA HANDEL GMBH"
    assert proj["v02"]["counterparty_bic"] == "TESTDEFFXXX"
    assert rows["typo"][0]["quality_flags"] == ["namespace_nonstandard"]
    assert rows["v02"][0]["quality_flags"] == rows["v08"][0]["quality_flags"] == []


def test_br07_typo_namespace_is_sniffed_and_flagged_on_the_statement():
    assert fm.sniff(DATA / "br07_typo.xml") == "camt"
    st = fm.read(DATA / "br07_typo.xml").statements.to_pylist()[0]
    assert "namespace_nonstandard" in st["quality_flags"]
    assert st["message_type"] == "camt.053.001.02"


def test_br07_camt052_is_read_as_an_interim_report():
    b = fm.read(DATA / "br07_camt052.xml")
    (st,) = b.statements.to_pylist()
    assert st["message_type"] == "camt.052.001.02"
    assert b.reports.column("report_code").to_pylist() == ["camt.052.001.02"]
    assert b.transactions.column("quality_flags").to_pylist() == [["interim"]]


@pytest.mark.parametrize(
    ("ns", "root", "expected"),
    [
        ("urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08", "FIToFICstmrCdtTrf", "unsupported message type pacs.008.001.08"),
        ("urn:iso:std:iso:20022:tech:xsd:camt.056.001.08", "FIToFIPmtCxlReq", "unsupported message type camt.056.001.08"),
        ("urn:example:not-iso", "Whatever", "a non-ISO 20022 namespace"),  # not quoted: content of the file
    ],
)
def test_other_messages_are_refused_naming_the_namespace(tmp_path, ns, root, expected):
    p = _write(tmp_path, f'<Document xmlns="{ns}"><{root}><GrpHdr/></{root}></Document>')
    assert camt.sniff(p, p.read_bytes()) is False
    with pytest.raises(InputError, match=expected) as exc:
        camt.read(p)
    assert "t.xml" in str(exc.value)


def test_document_inside_a_swift_envelope(tmp_path):
    inner = (DATA / "br07_v02.xml").read_text(encoding="utf-8").split("?>", 1)[1]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="urn:swift:xsd:envelope">'
        '<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02"><BizMsgIdr>X</BizMsgIdr></AppHdr>'
        f"{inner}</Envelope>"
    )
    p = _write(tmp_path, xml)
    assert fm.sniff(p) == "camt"
    (r,) = camt.read(p).transactions.to_pylist()
    assert r["counterparty_name"] == "ALPHA HANDEL GMBH"
    assert r["source_ref"].startswith("t.xml#/Envelope/Document/BkToCstmrStmt/Stmt/Ntry")


# --------------------------------------------------------------------------- safety and errors
def test_entity_declarations_are_refused(tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f'<Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr><MsgId>&c;</MsgId></GrpHdr></BkToCstmrStmt></Document>'
    )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr><MsgId>&x;</MsgId></GrpHdr></BkToCstmrStmt></Document>'
    )
    for name, xml in (("laughs.xml", laughs), ("xxe.xml", xxe)):
        p = _write(tmp_path, xml, name)
        with pytest.raises(InputError, match=rf"{name}: refused: .*entities"):
            camt.read(p)


def test_not_well_formed_names_file_and_line(tmp_path):
    p = _write(tmp_path, f'<Document xmlns="{NS}">\n<BkToCstmrStmt>\n<Stmt></BkToCstmrStmt></Document>')
    with pytest.raises(InputError, match=r"t.xml: not well-formed XML at line 3"):
        camt.read(p)


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        camt.read(DATA / "nope.xml")


def test_unreadable_entries_are_rejects_and_the_load_reconciles(tmp_path):
    entries = _ntry("12,50") + _ntry("5.00", ind="") + _ntry("7.00")
    b = camt.read(_write(tmp_path, _stmt(entries, closing="107.00")))
    b.reconcile()
    rej = _txn_rejects(b)
    assert [r["reason"] for r in rej] == ["Amt: not a decimal ('12,50')", "CdtDbtInd: missing"]
    assert rej[0]["source_ref"] == "t.xml#/Document/BkToCstmrStmt/Stmt/Ntry[1]"
    assert b.transactions.num_rows == 1
    log = {r["table"]: r for r in b.load_log.to_pylist()}["transactions"]
    assert (log["records_read"], log["rows_written"], log["rejected"]) == (3, 1, 2)
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is None and "entry_amount_unreadable" in st["quality_flags"]


# --------------------------------------------------------------------------- mapping
def test_balance_mismatch_is_reported_not_raised(tmp_path):
    b = camt.read(_write(tmp_path, _stmt(_ntry("10.00"), closing="999.00")))
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is False and st["entries_total"] == Decimal("10.00")
    assert "balance_mismatch" in st["quality_flags"]
    assert b.transactions.column("quality_flags").to_pylist() == [["balance_mismatch"]]


def test_missing_closing_balance_gives_null_reconciled(tmp_path):
    (st,) = camt.read(_write(tmp_path, _stmt(_ntry(), closing=None))).statements.to_pylist()
    assert st["reconciled"] is None and st["closing_balance"] is None


def test_pending_entries_are_rows_but_not_counted(tmp_path):
    entries = _ntry("10.00") + _ntry("50.00", sts="<Sts><Cd>PDNG</Cd></Sts>")
    b = camt.read(_write(tmp_path, _stmt(entries, closing="110.00")))
    assert b.transactions.column("quality_flags").to_pylist() == [[], ["not_booked"]]
    (st,) = b.statements.to_pylist()
    assert st["entries_total"] == Decimal("10.00") and st["reconciled"] is True


def test_reversal_and_debit_direction(tmp_path):
    details = (
        "<NtryDtls><TxDtls><RltdPties><Cdtr><Nm>SHOP LTD</Nm></Cdtr>"
        "<CdtrAcct><Id><Othr><Id>000123</Id></Othr></Id></CdtrAcct></RltdPties>"
        "<RltdAgts><CdtrAgt><FinInstnId><BICFI>SHOPGB2LXXX</BICFI></FinInstnId></CdtrAgt></RltdAgts></TxDtls></NtryDtls>"
    )
    b = camt.read(_write(tmp_path, _stmt(_ntry("10.00", ind="DBIT", extra="<RvslInd>true</RvslInd>", details=details), closing="90.00")))
    (r,) = b.transactions.to_pylist()
    assert r["is_reversal"] is True
    assert r["amount"] == Decimal("10.00") and r["signed_amount"] == Decimal("-10.00")
    assert r["from_account"] == "IBAN/XX12TEST0000000001"
    assert r["to_account"] == "SHOPGB2LXXX/000123"  # leading zeros kept
    assert (r["counterparty_name"], r["counterparty_bic"]) == ("SHOP LTD", "SHOPGB2LXXX")
    assert b.statements.column("reconciled").to_pylist() == [True]


def test_datetime_with_offset_is_utc_and_keeps_the_offset(tmp_path):
    e = _ntry(dates="<BookgDt><DtTm>2024-02-01T10:30:00+02:00</DtTm></BookgDt><ValDt><Dt>2024-02-02</Dt></ValDt>")
    (r,) = camt.read(_write(tmp_path, _stmt(e, closing="110.00"))).transactions.to_pylist()
    assert r["timestamp"] == datetime(2024, 2, 1, 8, 30, tzinfo=timezone.utc)
    assert r["tz_offset_minutes"] == 120
    assert (r["booking_date"], r["value_date"]) == (date(2024, 2, 1), date(2024, 2, 2))


def test_date_only_is_midnight_utc_without_offset(tmp_path):
    (r,) = camt.read(_write(tmp_path, _stmt(_ntry(), closing="110.00"))).transactions.to_pylist()
    assert r["timestamp"] == datetime(2024, 2, 1, tzinfo=timezone.utc) and r["tz_offset_minutes"] is None


@pytest.mark.parametrize(
    ("code", "channel"),
    [
        ("<Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn>", "transfer"),
        ("<Domn><Cd>PMNT</Cd><Fmly><Cd>CCRD</Cd><SubFmlyCd>POSD</SubFmlyCd></Fmly></Domn>", "card"),
        ("<Domn><Cd>PMNT</Cd><Fmly><Cd>CNTR</Cd><SubFmlyCd>CWDL</SubFmlyCd></Fmly></Domn>", "cash_withdrawal"),
        ("<Domn><Cd>PMNT</Cd><Fmly><Cd>CNTR</Cd><SubFmlyCd>CDPT</SubFmlyCd></Fmly></Domn>", "cash_deposit"),
        ("<Prtry><Cd>X1</Cd></Prtry>", "other"),
    ],
)
def test_channel_from_bank_transaction_code(tmp_path, code, channel):
    (r,) = camt.read(_write(tmp_path, _stmt(_ntry(extra=f"<BkTxCd>{code}</BkTxCd>"), closing="110.00"))).transactions.to_pylist()
    assert r["channel"] == channel


def test_owner_is_holder_of_the_statement_account(tmp_path):
    owner = "<Ownr><Nm>OMEGA TRADING LTD</Nm></Ownr>"
    b = camt.read(_write(tmp_path, _stmt(_ntry(), closing="110.00", owner=owner)))
    (p,) = b.parties.to_pylist()
    assert (p["name"], p["kind"]) == ("OMEGA TRADING LTD", "entity")
    assert b.party_accounts.to_pylist()[0]["account_id"] == "IBAN/XX12TEST0000000001"
    (acct,) = b.accounts.to_pylist()
    assert (acct["institution"], acct["currency"], acct["iban"]) == ("TESTDEFFXXX", "EUR", "XX12TEST0000000001")
    assert b.transactions.column("to_party").to_pylist() == [p["party_id"]]


def test_person_counterparty_with_private_id(tmp_path):
    details = (
        "<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>JANE ROE</Nm><Id><PrvtId><Othr><Id>AB123</Id>"
        "<SchmeNm><Cd>CCPT</Cd></SchmeNm></Othr></PrvtId></Id></Dbtr></RltdPties></TxDtls></NtryDtls>"
    )
    b = camt.read(_write(tmp_path, _stmt(_ntry(details=details), closing="110.00")))
    (p,) = b.parties.to_pylist()
    assert (p["name"], p["kind"]) == ("JANE ROE", "person")
    assert b.identifiers.select(["kind", "value", "raw"]).to_pylist() == [{"kind": "passport", "value": "CCPT:AB123", "raw": "AB123"}]


def test_ids_are_deterministic_and_schema_conforms():
    a, b = fm.read(DATA / "br04_batch.xml"), fm.read(DATA / "br04_batch.xml")
    assert a.transactions.column("txn_id").to_pylist() == b.transactions.column("txn_id").to_pylist()
    for name in schema.TABLES:
        schema.validate(getattr(a, name), name)
    t = a.transactions
    assert t.schema.field("signed_amount").type == schema.MONEY
    assert t.schema.field("entry_amount").type == schema.MONEY
    assert a.statements.schema.field("quality_flags").type == pa.list_(pa.string())


def test_copied_samples_read_without_shared():
    lt = camt.read(DATA / "subite_camt053_v08_LT_daily_batch_anonymised.xml")
    assert lt.transactions.num_rows == 3
    assert lt.statements.column("reconciled").to_pylist() == [True, True]
    # the account id sits in Othr/Id although it is an IBAN
    assert lt.statements.column("account_id").to_pylist()[0] == "IBAN/LT625883379695428516"
    flags = lt.transactions.column("quality_flags").to_pylist()
    assert all("date_from_statement" in f and "status_missing" in f for f in flags)
    assert "batch_without_details" in flags[0]  # NbOfTxs 86, one summary TxDtls
    multi = camt.read(DATA / "genkgo_camt053.v2.multi.statement.xml")
    assert multi.statements.column("reconciled").to_pylist() == [True, True]
    assert camt.read(DATA / "genkgo_camt052.v8.xml").transactions.num_rows == 1


# --------------------------------------------------------------------------- shared samples
def _shared_xml() -> list[Path]:
    if not SHARED_ISO.is_dir():
        return []
    return sorted(SHARED_ISO.glob("*.xml"))


@pytest.fixture
def shared_iso(shared):
    return shared / "samples" / "iso20022"


@pytest.mark.parametrize("path", _shared_xml(), ids=lambda p: p.name)
def test_every_shared_sample_loads_or_is_refused_clearly(path):
    head = path.read_bytes()[:65536]
    if camt.sniff(path, head):
        b = fm.read(path)
        b.reconcile()
        assert b.statements.num_rows >= 1
        for name in schema.TABLES:
            schema.validate(getattr(b, name), name)
    else:
        with pytest.raises(InputError, match=r"unsupported message type (pacs|pain)\.\d{3}\.\d{3}\.\d{2} \(namespace urn:iso"):
            camt.read(path)


def test_belgian_month_statement(shared_iso):
    b = fm.read(shared_iso / "subite_camt053_BE_monthly_202411_anonymised.xml")
    b.reconcile()
    assert b.transactions.num_rows == 268
    assert b.rejects.num_rows == 0
    (st,) = b.statements.to_pylist()
    assert st["reconciled"] is True
    assert st["opening_balance"] + st["entries_total"] == st["closing_balance"]
    t = b.transactions
    assert t["counterparty_account"].null_count == 0 and t["end_to_end_id"].null_count == 0


def test_finnish_guideline_sample_fx_and_batches(shared_iso):
    b = fm.read(shared_iso / "moov_FFFS_Finland_camt053_sample.xml")
    assert b.statements.column("reconciled").to_pylist() == [True]
    fx = [r for r in b.transactions.to_pylist() if r["instructed_currency"] == "USD"]
    assert len(fx) == 1
    assert (fx[0]["amount"], fx[0]["currency"], fx[0]["instructed_amount"], fx[0]["fx_rate"]) == (
        Decimal("2120.00"),
        "EUR",
        Decimal("3200.00"),
        Decimal("0.666667"),
    )
