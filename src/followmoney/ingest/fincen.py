"""FinCEN BSA E-Filing XML adapter: SAR (SARX), CTR (CTRX) and Form 8300 (8300X) batches.

One batch file (``<EFilingBatchXML>``) becomes one :class:`~followmoney.Bundle`:

* ``reports``: one row per ``<Activity>`` (one filed form). SARs carry their
  suspicious-activity classifications as ``indicators`` (``"SuspiciousActivityClassification:927"``)
  with readable labels, the narrative, and the total suspicious amount in the extra
  column ``amount_total``; a SAR carries no transactions, so none are invented.
* ``transactions``: CTR cash-in / cash-out details (``cash_deposit`` / ``cash_withdrawal``)
  and Form 8300 payments received by a business; one row per
  ``<CurrencyTransactionActivityDetail>`` or one reject naming the field and XPath.
* ``parties``, ``identifiers``, ``accounts``, ``party_accounts``: every ``<Party>``
  (subjects, conductors, filer, transmitter, contacts, locations), with its
  ``ActivityPartyTypeCode`` role in the extra columns ``role`` / ``role_code``.

Acknowledgement files (FinCEN's answer to a batch: ``<EFilingSubmissionXML>`` with a
``BSAID`` and the errors per activity) are not reports of activity. They are read as
``reports`` rows only, one per acknowledged activity, with ``report_code = "ACK"``, the
``BSAID`` in ``bsa_id``, the status in ``status`` and the errors in ``indicators``
(``"ErrorTypeCode:C21"``) and ``narrative``. They never produce transactions or parties.

Parsing is safe (no DTD, no entities, no network: a file with a DOCTYPE is refused) and
namespace-agnostic: elements are matched on their local names, so an ``fc2:``-prefixed
batch, a default-namespace batch and an unqualified batch (as the moov-io samples are)
give the same rows, and ``source_ref`` is an XPath of local names with positions
(``file#/EFilingBatchXML/Activity[1]/Party[3]``) that reads the same in all three.

Errors and rejects name the file, the XPath and the field, never personal data.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
from lxml import etree

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._xml import PARSER_OPTIONS, content_key, refuse_doctype, syntax_error, tag_label, utf8_head
from followmoney.ingest._collect import Collector, ContentIds, InputError
from followmoney.core.ids import stable_id

__all__ = [
    "FORMAT",
    "sniff",
    "is_companion",
    "read",
    "HUMAN_TRAFFICKING",
    "HUMAN_SMUGGLING",
    "ACTIVITY_TYPES",
    "ACTIVITY_SUBTYPES",
    "PARTY_ROLES",
]

FORMAT = "fincen"

#: FinCEN's namespace URI (the XSDs' targetNamespace; no scheme, as FinCEN writes it).
NAMESPACE = "www.fincen.gov/base"

#: The indicator code of a SAR classified as human trafficking (subtype 927).
HUMAN_TRAFFICKING = "SuspiciousActivityClassification:927"
#: The indicator code of a SAR classified as human smuggling (subtype 926).
HUMAN_SMUGGLING = "SuspiciousActivityClassification:926"

#: ``SuspiciousActivityTypeID`` labels (EFL_SARXBatchSchema.xsd v1.2).
ACTIVITY_TYPES = {
    "1": "Structuring",
    "3": "Fraud",
    "4": "Identification documentation",
    "5": "Insurance",
    "6": "Securities/Futures/Options",
    "7": "Terrorist financing",
    "8": "Money laundering",
    "9": "Other suspicious activities",
    "10": "Mortgage Fraud",
    "11": "Cyber event",
    "12": "Gaming activities",
}

#: ``SuspiciousActivitySubtypeID`` labels (EFL_SARXBatchSchema.xsd v1.2). The
#: ``<type>999`` codes ("Other") take their text from ``OtherSuspiciousActivityTypeText``.
ACTIVITY_SUBTYPES = {
    "106": "Suspicious inquiry by customer regarding BSA reporting or recordkeeping requirements",
    "111": "Alters or cancels transaction to avoid BSA recordkeeping requirement",
    "112": "Alters or cancels transaction to avoid CTR requirement",
    "113": "Transaction(s) below BSA recordkeeping threshold",
    "114": "Transaction(s) below CTR threshold",
    "301": "Check",
    "304": "Consumer Loan",
    "305": "Credit/Debit Card",
    "308": "Mail",
    "309": "Mass-marketing",
    "310": "Pyramid scheme",
    "312": "Wire transfer",
    "320": "ACH",
    "321": "Business loan",
    "322": "Advance fee",
    "323": "Healthcare/Public or private health insurance",
    "324": "Ponzi scheme",
    "325": "Securities fraud",
    "401": "Changes spelling or arrangement of name",
    "402": "Multiple individuals with same or similar identities",
    "403": "Provided questionable or false documentation",
    "404": "Refused or avoided request for documentation",
    "405": "Single individual with multiple identities",
    "409": "Provided questionable or false identification",
    "501": "Excessive insurance",
    "502": "Excessive or unusual cash borrowing against policy/annuity",
    "504": "Proceeds sent to unrelated third party",
    "505": "Suspicious life settlement sales insurance (e.g., STOLI's, Viaticals)",
    "506": "Suspicious termination of policy or contract",
    "507": "Unclear or no insurable interest",
    "601": "Insider trading",
    "603": "Misappropriation",
    "604": "Unauthorized pooling",
    "608": "Market manipulation",
    "609": "Wash trading",
    "701": "Known or suspected terrorist/terrorist organization",
    "801": "Exchanges small bills for large bills or vice versa",
    "804": "Suspicious designation of beneficiaries, assignees or joint owners",
    "805": "Suspicious EFT/wire transfers",
    "806": "Suspicious receipt of government payments/benefits",
    "807": "Suspicious use of multiple accounts",
    "808": "Suspicious use of noncash monetary instruments",
    "809": "Suspicious use of third-party transactors (straw-man)",
    "812": "Transaction out of pattern for customer(s)",
    "820": "Suspicious concerning the physical condition of funds",
    "821": "Suspicious concerning the source of funds",
    "822": "Suspicious exchange of currencies",
    "823": "Trade Based Money Laundering/Black Market Peso Exchange",
    "824": "Funnel account",
    "901": "Bribery or gratuity",
    "903": "Embezzlement/theft/disappearance of funds",
    "904": "Forgeries",
    "905": "Identity theft",
    "907": "Suspected public/private corruption (domestic)",
    "908": "Suspected public/private corruption (foreign)",
    "909": "Suspicious use of informal value transfer system",
    "910": "Suspicious use of multiple locations",
    "911": "Two or more individuals working together",
    "913": "Unlicensed or unregistered MSB",
    "917": "Counterfeit Instrument (other)",
    "920": "Account takeover",
    "921": "Elder financial exploitation",
    "922": "Little or no concern for product performance, penalties, fees, or tax consequences",
    "924": "Misuse of position or self-dealing",
    "925": "Transaction with no apparent economic, business, or lawful purpose",
    "926": "Human smuggling",
    "927": "Human trafficking",
    "928": "Transaction(s) involving foreign high risk jurisdiction",
    "1001": "Appraisal fraud",
    "1003": "Loan Modification fraud",
    "1005": "Application fraud",
    "1006": "Foreclosure/Short sale fraud",
    "1007": "Origination fraud",
    "1101": "Against financial institution(s)",
    "1102": "Against financial institution customer(s)",
    "1201": "Chip walking",
    "1202": "Minimal gaming with large transactions",
    "1203": "Suspicious use of counter checks or markers",
    "1204": "Unknown source of chips",
}

#: ``ActivityPartyTypeCode`` -> role label (SAR, CTR and 8300 XSDs).
PARTY_ROLES = {
    "3": "authorized_official",
    "4": "cash_recipient_business",
    "8": "contact_office",
    "16": "cash_payer",
    "17": "conductor_for_another",
    "18": "law_enforcement_contact",
    "19": "law_enforcement_contact_person",
    "23": "on_whose_behalf",
    "30": "filer",
    "33": "subject",
    "34": "transaction_location",
    "35": "transmitter",
    "37": "transmitter_contact",
    "41": "account_institution",
    "46": "transaction_location_branch",
    "50": "conductor",
    "58": "common_carrier",
}
_PERSON_ROLES = frozenset({"3", "16", "17", "19", "23", "33", "37", "50"})
_FORMS = {"SARX": "SAR", "CTRX": "CTR", "8300X": "8300"}

# CTR CurrencyTransactionActivityDetailTypeCode -> (direction, label)
_CTR_DETAILS = {
    "55": ("in", "Deposit(s)"),
    "46": ("in", "Payment(s)"),
    "23": ("in", "Currency received for wire transfer(s) out"),
    "12": ("in", "Negotiable instrument(s) purchased"),
    "14": ("in", "Currency exchange in"),
    "49": ("in", "Currency to prepaid access"),
    "18": ("in", "Purchase(s) of casino chips, tokens, and other gaming instruments"),
    "21": ("in", "Currency wager(s) (including money plays)"),
    "25": ("in", "Bills inserted into gaming devices"),
    "53": ("in", "Foreign currency in"),
    "997": ("in", "Other cash in"),
    "56": ("out", "Withdrawal(s)"),
    "30": ("out", "Advance(s) on credit (including markers)"),
    "32": ("out", "Currency paid from wire transfer(s) in"),
    "13": ("out", "Negotiable instrument(s) cashed"),
    "15": ("out", "Currency exchange out"),
    "48": ("out", "Currency from prepaid access"),
    "28": ("out", "Redemption(s) of casino chips, tokens, TITO tickets, and other gaming instruments"),
    "31": ("out", "Payment(s) on wager(s)/bet(s)"),
    "33": ("out", "Travel and complimentary expenses and gaming incentives"),
    "34": ("out", "Payment for tournament, contest or other promotions"),
    "54": ("out", "Foreign currency out"),
    "998": ("out", "Other cash out"),
}
# Form 8300 InstrumentProductServiceTypeCode -> (channel, label)
_8300_INSTRUMENTS = {
    "35": ("cash_deposit", "U.S. currency"),
    "16": ("cash_deposit", "Foreign currency"),
    "39": ("cheque", "Cashier's check(s)"),
    "26": ("cheque", "Money order(s)"),
    "40": ("cheque", "Bank draft(s)"),
    "34": ("cheque", "Traveler's check(s)"),
}
# Form 8300 CurrencyTransactionActivityDetailTypeCode (nature of the transaction)
_8300_TYPES = {
    "1": "Personal property purchased",
    "2": "Real property purchased",
    "3": "Personal services provided",
    "4": "Business services provided",
    "5": "Intangible property purchased",
    "6": "Debt obligations paid",
    "7": "Exchange of cash",
    "8": "Escrow or trust funds",
    "9": "Bail received by court clerks",
    "999": "Other",
}
# PartyIdentificationTypeCode -> (identifier kind, scheme); 29 (internal control number) is
# the filer's file reference, read as reports.entity_reference, not as an identifier.
_ID_TYPES = {
    "1": ("tax_id", "SSN"),
    "2": ("tax_id", "EIN"),
    "4": ("tax_id", "TIN"),
    "9": ("tax_id", "FOREIGN-TIN"),
    "5": ("id_document", "DL"),
    "6": ("passport", "PASSPORT"),
    "7": ("national_id", "ALIEN-REG"),
    "10": ("id_document", "CRD"),
    "11": ("id_document", "IARD"),
    "12": ("id_document", "NFA"),
    "13": ("id_document", "SEC"),
    "14": ("id_document", "RSSD"),
    "28": ("id_document", "TCC"),
    "32": ("id_document", "NAIC"),
    "33": ("id_document", "NMLS"),
    "999": ("id_document", "OTHER"),
}
_INSTITUTION_ID_TYPES = ("2", "4", "9", "14")
_FILING_TYPES = (
    ("InitialReportIndicator", "initial"),
    ("CorrectsAmendsPriorReportIndicator", "corrects_amends"),
    ("ContinuingActivityReportIndicator", "continuing"),
    ("JointReportIndicator", "joint"),
    ("FinCENDirectBackFileIndicator", "direct_back_file"),
)
_CTR_FLAGS = (
    "AggregateTransactionIndicator",
    "ArmoredCarServiceIndicator",
    "ATMIndicator",
    "MailDepositShipmentIndicator",
    "NightDepositIndicator",
    "SharedBranchingIndicator",
)
_USD = "USD"
_MAX_MONEY = Decimal(10) ** 15
_CENT = Decimal("0.01")
_RAW_MAX = 20000
_STRLIST = pa.list_(pa.string())

_EXTRA = {
    "reports": {
        "amount_total": schema.MONEY,
        "amount_currency": pa.string(),
        "cash_in_total": schema.MONEY,
        "cash_out_total": schema.MONEY,
        "activity_start": pa.date32(),
        "activity_end": pa.date32(),
        "indicator_labels": _STRLIST,
        "filing_type": pa.string(),
        "prior_bsa_id": pa.string(),
        "bsa_id": pa.string(),
        "status": pa.string(),
        "ip_addresses": _STRLIST,
        "quality_flags": _STRLIST,
    },
    "parties": {"role": pa.string(), "role_code": pa.string(), "aliases": _STRLIST, "urls": _STRLIST},
    "transactions": {
        "txn_type_code": pa.string(),
        "conductor_party": pa.string(),
        "location_city": pa.string(),
        "location_country": pa.string(),
    },
}


# --------------------------------------------------------------------------- sniffing
_ROOT_RE = re.compile(rb"<(?:[\w.-]+:)?EFilingBatchXML[\s>/]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like a FinCEN BSA XML batch or acknowledgement.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when there is an ``<EFilingBatchXML>`` element (any namespace prefix).

    Examples
    --------
    >>> sniff("b.xml", b'<fc2:EFilingBatchXML xmlns:fc2="www.fincen.gov/base">')
    True
    >>> sniff("r.xml", b"<report><rentity_id>1</rentity_id>")
    False
    """
    head = utf8_head(head)
    return bool(_ROOT_RE.search(head))


def is_companion(path) -> bool:
    """FinCEN batches have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- helpers
def _strip_namespaces(root) -> None:
    """Rename every element to its local name (FinCEN's namespace, another or none).

    Done once after parsing, so that the rest of the reader can use lxml's fast
    ``find`` / ``findall`` on plain names and reads prefixed, default-namespace and
    unqualified files the same way.
    """
    for el in root.iter(tag=etree.Element):
        tag = el.tag
        if tag[0] == "{":
            el.tag = tag[tag.index("}") + 1 :]
    etree.cleanup_namespaces(root)


def _local(el) -> str:
    tag = el.tag
    return tag[tag.rfind("}") + 1 :]


def _children(el, *names: str) -> list:
    if el is None:
        return []
    if len(names) == 1:
        return el.findall(names[0])
    return [c for c in el.iterchildren(tag=etree.Element) if c.tag in names]


def _child(el, *names: str):
    if el is None:
        return None
    for name in names:
        c = el.find(name)
        if c is not None:
            return c
    return None


def _text(el) -> str | None:
    """Stripped text of a leaf element; None for absent or empty."""
    if el is None:
        return None
    t = (el.text or "") if len(el) == 0 else "".join(el.itertext())
    return t.strip() or None


def _ctext(el, *names: str) -> str | None:
    return _text(_child(el, *names))


def _flag(el, name: str) -> bool:
    return (_ctext(el, name) or "").upper() == "Y"


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _norm_id(s: str) -> str:
    return re.sub(r"\s+", "", s).upper()


def _snippet(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_date(text: str) -> date:
    """FinCEN ``YYYYMMDD`` -> date; ValueError for anything else (incl. ``00`` parts).

    >>> _parse_date("20170115")
    datetime.date(2017, 1, 15)
    """
    t = text.strip()
    if not re.fullmatch(r"\d{8}", t):
        raise ValueError("not YYYYMMDD")
    return date(int(t[:4]), int(t[4:6]), int(t[6:]))


def _date_or_none(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return _parse_date(text)
    except ValueError:
        return None


def _midnight_utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


_AMOUNT_RE = re.compile(r"\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")


def _parse_amount(text: str) -> Decimal:
    """FinCEN amount text (whole dollars, sometimes ``$`` or ``,``) -> Decimal(0.01).

    >>> _parse_amount("15000"), _parse_amount("$12,000.50")
    (Decimal('15000.00'), Decimal('12000.50'))
    """
    m = _AMOUNT_RE.fullmatch(text.strip())
    if not m:
        raise ValueError("not an amount")
    try:
        d = Decimal(m.group(1).replace(",", "") + (m.group(2) or "")).quantize(_CENT)
    except InvalidOperation as exc:
        raise ValueError("not an amount") from exc
    if d >= _MAX_MONEY:
        raise OverflowError("does not fit decimal(18,3)")
    return d


def _country(text: str | None) -> str | None:
    return text.upper() if text and re.fullmatch(r"[A-Za-z]{2}", text) else None


def _typed(rows: list[dict], name: str) -> pa.Table:
    """Rows -> canonical table with this module's extra columns, explicitly typed."""
    fields = [pa.field(f.name, f.type) for f in schema.SCHEMAS[name]]
    fields += [pa.field(k, t) for k, t in _EXTRA.get(name, {}).items()]
    return schema.conform(pa.Table.from_pylist(rows, schema=pa.schema(fields)), name)


class _Paths:
    """XPath of local names with positions, e.g. ``/EFilingBatchXML/Activity[1]/Party[3]``.

    The same element gets the same path whatever namespace prefix the file uses.
    """

    def __init__(self):
        self._cache: dict = {}

    def __call__(self, el) -> str:
        p = self._cache.get(el)
        if p is not None:
            return p
        parent = el.getparent()
        if parent is None:
            p = "/" + _local(el)
            self._cache[el] = p
            return p
        base = self(parent)
        counts: dict[str, int] = {}
        for c in parent.iterchildren(tag=etree.Element):
            n = _local(c)
            counts[n] = counts.get(n, 0) + 1
            self._cache[c] = f"{base}/{n}[{counts[n]}]"
        return self._cache[el]


# --------------------------------------------------------------------------- reader
class _Reader:
    def __init__(self, path: Path, tree):
        self.file = path.name
        self.root = tree.getroot()
        self.c = Collector(FORMAT, path)
        self.xp = _Paths()
        self.rows: dict[str, list[dict]] = {"reports": [], "parties": [], "transactions": []}
        self.activity_parties: list[dict] = []
        self._institutions: dict = {}
        # ids from content (the activity's normalised values), never the file name or position alone
        self.report_ids = ContentIds("R")
        self.txn_ids = ContentIds("T")

    def ref(self, el) -> str:
        return self.c.ref(self.xp(el))

    def run(self) -> Bundle:
        root = self.root
        if _children(root, "EFilingSubmissionXML"):
            self.acknowledgement()
        else:
            form = _ctext(root, "FormTypeCode")
            for act in _children(root, "Activity"):
                self.activity(act, form)
        for name, rows in self.rows.items():
            if rows:
                self.c.add_table(name, _typed(rows, name))
        return self.c.bundle()

    # ----------------------------------------------------------------- acknowledgements
    def acknowledgement(self) -> None:
        root = self.root
        for sub in _children(root, "EFilingSubmissionXML"):
            status = sub.get("StatusCode") or root.get("StatusCode")
            acts = _children(sub, "EFilingActivityXML")
            for el in acts or [sub]:
                self.ack_row(el, status)

    def ack_row(self, el, status: str | None) -> None:
        errors = []
        codes = []
        levels: dict[str, int] = {}
        for err in el.iter(tag=etree.Element):
            if _local(err) not in ("EFilingActivityErrorXML", "EFilingBatchErrorXML", "EFilingSubmissionErrorXML"):
                continue
            code, level = _ctext(err, "ErrorTypeCode"), _ctext(err, "ErrorLevelText")
            text, where = _ctext(err, "ErrorText"), _ctext(err, "ErrorContextText")
            if not (code or text):
                continue  # an empty error element means "no errors"
            if code:
                codes.append(f"ErrorTypeCode:{code}")
            if level:
                levels[level] = levels.get(level, 0) + 1
            errors.append(" ".join(x for x in (level, code, f"at {where}" if where else None) if x) + (f": {text}" if text else ""))
        summary = ", ".join(f"{n} {lv}" for lv, n in sorted(levels.items())) or "no errors"
        self.rows["reports"].append(
            {
                "report_id": self.report_ids(FORMAT, "ack", content_key(el)),
                "format": FORMAT,
                "report_code": "ACK",
                "reason": f"acknowledgement, status {status or 'unknown'}: {summary}",
                "indicators": sorted(set(codes)),
                "narrative": "\n".join(errors) or None,
                "source_file": self.file,
                "bsa_id": _ctext(el, "BSAID"),
                "status": status,
            }
        )

    # ----------------------------------------------------------------- activities
    def activity(self, act, form: str | None) -> None:
        xpath = self.xp(act)
        cta = _child(act, "CurrencyTransactionActivity")
        if form is None:  # infer from content
            if _child(act, "SuspiciousActivity") is not None:
                form = "SARX"
            elif cta is not None:
                roles = {_ctext(p, "ActivityPartyTypeCode") for p in _children(act, "Party")}
                form = "8300X" if roles & {"4", "16"} else "CTRX"
        code = _FORMS.get((form or "").upper())
        if code is None:
            self.c.reject(
                "reports",
                xpath,
                f"FormTypeCode {_snippet(form or '')!r}: not supported (SARX, CTRX, 8300X)",
                etree.tostring(act, encoding="unicode", with_tail=False)[:_RAW_MAX],
            )
            return
        report_id = self.report_ids(FORMAT, content_key(act))
        flags: list[str] = []
        first = len(self.rows["parties"])
        parties = [self.party(p, report_id, code) for p in _children(act, "Party")]
        self.activity_parties = self.rows["parties"][first:]  # nested ones included
        by_role: dict[str, list[dict]] = {}
        for p in parties:
            by_role.setdefault(p["role_code"] or "", []).append(p)

        filer = (by_role.get("30") or by_role.get("4") or by_role.get("35") or [None])[0]
        filing_date = _ctext(act, "FilingDateText")
        submitted = _date_or_none(filing_date)
        if filing_date and submitted is None:
            flags.append("invalid_filing_date")
        assoc = _child(act, "ActivityAssociation")
        filing_type = "+".join(lbl for tag, lbl in _FILING_TYPES if _flag(assoc, tag)) or None
        narrative = self.narrative(act)
        row = {
            "report_id": report_id,
            "format": FORMAT,
            "report_code": code,
            "reporting_entity": filer["name"] if filer else None,
            "entity_reference": self.internal_reference(act),
            "submitted_at": _midnight_utc(submitted) if submitted else None,
            "currency_local": _USD,
            "narrative": narrative,
            "source_file": self.file,
            "filing_type": filing_type,
            "prior_bsa_id": _ctext(act, "EFilingPriorDocumentNumber"),
            "indicators": [],
            "indicator_labels": [],
            "ip_addresses": [t for t in (_ctext(ip, "IPAddressText") for ip in _children(act, "ActivityIPAddress")) if t] or None,
            "quality_flags": flags,
        }
        if code == "SAR":
            self.suspicious_activity(act, row)
        else:
            self.currency_activity(act, cta, code, row, by_role)
        self.rows["reports"].append(row)

    def narrative(self, act) -> str | None:
        parts = []
        for i, n in enumerate(_children(act, "ActivityNarrativeInformation")):
            seq = _ctext(n, "ActivityNarrativeSequenceNumber")
            key = int(seq) if seq and seq.isdigit() else 1000 + i
            el = _child(n, "ActivityNarrativeText")
            parts.append((key, i, "" if el is None else "".join(el.itertext())))
        text = "".join(t for _, _, t in sorted(parts)).strip()
        return text or None

    def internal_reference(self, act) -> str | None:
        for p in act.iter(tag=etree.Element):
            if _local(p) == "PartyIdentification" and _ctext(p, "PartyIdentificationTypeCode") == "29":
                ref = _ctext(p, "PartyIdentificationNumberText")
                if ref:
                    return ref
        return None

    def suspicious_activity(self, act, row: dict) -> None:
        sa = _child(act, "SuspiciousActivity")
        if sa is None:
            row["quality_flags"].append("suspicious_activity_missing")
            return
        indicators, labels = [], []
        for cl in _children(sa, "SuspiciousActivityClassification"):
            sub, typ = _ctext(cl, "SuspiciousActivitySubtypeID"), _ctext(cl, "SuspiciousActivityTypeID")
            other = _ctext(cl, "OtherSuspiciousActivityTypeText")
            tlabel = ACTIVITY_TYPES.get(typ or "", f"type {typ}" if typ else "unknown type")
            if sub:
                indicators.append(f"SuspiciousActivityClassification:{sub}")
                slabel = ACTIVITY_SUBTYPES.get(sub) or ("Other" if sub.endswith("999") else f"subtype {sub}")
            elif typ:
                indicators.append(f"SuspiciousActivityType:{typ}")
                slabel = None
            else:
                continue
            if other:
                slabel = f"{slabel or 'Other'}: {_squash(other)}"
            labels.append(f"{tlabel}: {slabel}" if slabel else tlabel)
        row["indicators"] = indicators
        row["indicator_labels"] = labels
        row["reason"] = "; ".join(labels) or None
        row["activity_start"] = _date_or_none(_ctext(sa, "SuspiciousActivityFromDateText"))
        row["activity_end"] = _date_or_none(_ctext(sa, "SuspiciousActivityToDateText"))
        total = _ctext(sa, "TotalSuspiciousAmountText")
        if total:
            try:
                row["amount_total"] = _parse_amount(total)
                row["amount_currency"] = _USD
            except (ValueError, OverflowError):
                row["quality_flags"].append("invalid_amount_total")
        elif _flag(sa, "AmountUnknownIndicator"):
            row["quality_flags"].append("amount_unknown")
        elif _flag(sa, "NoAmountInvolvedIndicator"):
            row["quality_flags"].append("no_amount_involved")

    # ----------------------------------------------------------------- CTR / 8300
    def currency_activity(self, act, cta, code: str, row: dict, by_role: dict) -> None:
        if cta is None:
            row["quality_flags"].append("currency_transaction_activity_missing")
            return
        row["indicators"] = [t for t in _CTR_FLAGS if _flag(cta, t)]
        totals = {}
        for key, tag in (("cash_in_total", "TotalCashInReceiveAmountText"), ("cash_out_total", "TotalCashOutAmountText")):
            t = _ctext(cta, tag)
            if t:
                try:
                    totals[key] = row[key] = _parse_amount(t)
                except (ValueError, OverflowError):
                    row["quality_flags"].append(f"invalid_{key}")
        date_text = _ctext(cta, "TransactionDateText")
        try:
            day = _parse_date(date_text) if date_text else None
            date_problem = None if day else "TransactionDateText: missing"
        except ValueError:
            day, date_problem = None, f"TransactionDateText: unparseable {_snippet(date_text)!r}"
        loc = (by_role.get("34") or [None])[0]
        ctx = {
            "day": day,
            "date_problem": date_problem,
            "location_city": loc["city"] if loc else None,
            "location_country": loc["country"] if loc else None,
        }
        if code == "CTR":
            sums = self.ctr_details(cta, row, by_role, ctx)
        else:
            sums = self.form8300_details(act, cta, row, by_role, ctx)
        for key, direction in (("cash_in_total", "in"), ("cash_out_total", "out")):
            if key in totals and sums.get(direction) is not None and totals[key] != sums[direction]:
                row["quality_flags"].append(f"{key}_mismatch")

    def _unique(self, parties: list[dict] | None) -> dict | None:
        return parties[0] if parties and len(parties) == 1 else None

    def _txn(self, el, row: dict, ctx: dict, amount: Decimal, channel: str, description: str, **sides) -> dict:
        flags = ["date_only"]
        if amount == 0:
            flags.append("zero_amount")
        if channel == "other":
            flags.append("unknown_detail_type")
        xpath = self.xp(el)
        return {
            "txn_id": self.txn_ids(FORMAT, row["report_id"], content_key(el)),
            "report_id": row["report_id"],
            "source": FORMAT,
            "source_ref": self.c.ref(xpath),
            "source_txn_ref": el.get("SeqNum"),
            "timestamp": _midnight_utc(ctx["day"]),
            "amount": amount,
            "currency": _USD,
            "amount_local": amount,
            "currency_local": _USD,
            "channel": channel,
            "description": description,
            "quality_flags": flags,
            "location_city": ctx["location_city"],
            "location_country": ctx["location_country"],
            **sides,
        }

    def _amount_or_reject(self, det, ctx: dict) -> Decimal | None:
        problems = [ctx["date_problem"]] if ctx["date_problem"] else []
        amount = None
        text = _ctext(det, "DetailTransactionAmountText")
        if not text:
            problems.append("DetailTransactionAmountText: missing")
        else:
            try:
                amount = _parse_amount(text)
            except ValueError:
                problems.append(f"DetailTransactionAmountText: unparseable {_snippet(text)!r}")
            except OverflowError:
                problems.append(f"DetailTransactionAmountText: {_snippet(text)!r} does not fit decimal(18,3)")
        if problems:
            self.c.reject("transactions", self.xp(det), "; ".join(problems), etree.tostring(det, encoding="unicode", with_tail=False)[:_RAW_MAX])
            return None
        return amount

    def ctr_details(self, cta, row: dict, by_role: dict, ctx: dict) -> dict:
        conductors = (by_role.get("50") or []) + (by_role.get("17") or [])
        conductor = self._unique(conductors)
        behalf = self._unique(by_role.get("23")) or (conductor if conductor and conductor["role_code"] == "50" else None)
        accounts = {"in": {}, "out": {}}
        for p in self.activity_parties:
            for acc_id, assoc in p["_accounts"]:
                direction = {"8": "in", "9": "out"}.get(assoc or "")
                if direction:
                    accounts[direction].setdefault(acc_id, p["party_id"])
        sums: dict[str, Decimal] = {}
        for det in _children(cta, "CurrencyTransactionActivityDetail"):
            amount = self._amount_or_reject(det, ctx)
            if amount is None:
                continue
            tcode = _ctext(det, "CurrencyTransactionActivityDetailTypeCode")
            direction, label = _CTR_DETAILS.get(tcode or "", (None, f"detail type {tcode}" if tcode else "detail type missing"))
            other = _ctext(det, "OtherCurrencyTransactionActivityDetailText")
            fc = _country(_ctext(det, "OtherForeignCurrencyCountryText"))
            description = "; ".join(x for x in (label, _squash(other) if other else None, f"foreign currency of {fc}" if fc else None) if x)
            acc = accounts.get(direction or "", {})
            acc_id, holder = (next(iter(acc.items())) if len(acc) == 1 else (None, None))
            owner = holder or (behalf["party_id"] if behalf else None)
            cond = conductor["party_id"] if conductor else None
            if direction == "in":
                sides = {"to_account": acc_id, "from_party": cond, "to_party": owner}
                channel = "cash_deposit"
            elif direction == "out":
                sides = {"from_account": acc_id, "from_party": owner, "to_party": cond}
                channel = "cash_withdrawal"
            else:
                sides, channel = {}, "other"
            if direction:
                sums[direction] = sums.get(direction, Decimal(0)) + amount
            self.rows["transactions"].append(
                self._txn(det, row, ctx, amount, channel, description, txn_type_code=tcode, conductor_party=cond, **sides)
            )
        return sums

    def form8300_details(self, act, cta, row: dict, by_role: dict, ctx: dict) -> dict:
        payer = self._unique(by_role.get("16")) or self._unique(by_role.get("23"))
        business = self._unique(by_role.get("4"))
        natures = []
        payments = []
        for det in _children(cta, "CurrencyTransactionActivityDetail"):
            tcode = _ctext(det, "CurrencyTransactionActivityDetailTypeCode")
            icode = _ctext(det, "InstrumentProductServiceTypeCode")
            if tcode:
                natures.append(tcode)
            if _ctext(det, "DetailTransactionAmountText") or icode:
                payments.append((det, tcode, icode))
            elif not tcode:
                self.c.reject(
                    "transactions",
                    self.xp(det),
                    "empty detail: no DetailTransactionAmountText, InstrumentProductServiceTypeCode or "
                    "CurrencyTransactionActivityDetailTypeCode",
                    etree.tostring(det, encoding="unicode", with_tail=False)[:_RAW_MAX],
                )
            # a detail with only a type code states the nature of the transaction: it goes
            # to the report's indicators and the payments' description, not to a row
        row["indicators"] = row["indicators"] + [f"8300TransactionType:{t}" for t in dict.fromkeys(natures)]
        row["indicator_labels"] = [_8300_TYPES.get(t, f"type {t}") for t in dict.fromkeys(natures)]
        nature = "; ".join(row["indicator_labels"]) or None
        sides = {
            "from_party": payer["party_id"] if payer else None,
            "to_party": business["party_id"] if business else None,
            "conductor_party": payer["party_id"] if payer else None,
        }
        total = Decimal(0)
        for det, tcode, icode in payments:
            amount = self._amount_or_reject(det, ctx)
            if amount is None:
                continue
            channel, label = _8300_INSTRUMENTS.get(icode or "", ("cash_deposit", "cash" if not icode else f"instrument {icode}"))
            text = _ctext(det, "DetailTransactionDescription")
            issuer = _ctext(det, "IssuerNameText")
            description = "; ".join(
                x for x in (label, _8300_TYPES.get(tcode or "") or nature, _squash(text) if text else None, f"issuer {_squash(issuer)}" if issuer else None) if x
            )
            total += amount
            self.rows["transactions"].append(
                self._txn(det, row, ctx, amount, channel, description, txn_type_code=icode, **sides)
            )
        if not payments and row.get("cash_in_total"):
            # no per-instrument detail: one payment from the activity's total cash received
            if ctx["date_problem"]:
                self.c.reject("transactions", self.xp(cta), ctx["date_problem"], None)
            else:
                total = row["cash_in_total"]
                self.rows["transactions"].append(
                    self._txn(cta, row, ctx, total, "cash_deposit", "; ".join(x for x in ("total cash received", nature) if x), **sides)
                )
        return {"in": total} if payments else {}

    # ----------------------------------------------------------------- parties
    def party(self, el, report_id: str, code: str, holds_accounts: bool = True) -> dict:
        """Add one ``<Party>`` (and nested parties / accounts); return its parties row.

        ``holds_accounts`` is False for the FI party nested in a subject's
        ``PartyAccountAssociation``: its ``<Account>`` children are the subject's.
        """
        xpath = self.xp(el)
        pid = stable_id("P", report_id, xpath)
        role_code = _ctext(el, "ActivityPartyTypeCode")
        legal, aliases = None, []
        for pn in _children(el, "PartyName"):
            parts = self.name_parts(pn)
            if parts is None:
                continue
            ntype = (_ctext(pn, "PartyNameTypeCode") or "L").upper()
            if ntype == "L" and legal is None:
                legal = parts
            else:
                aliases.append(parts[0])
        kind = self.kind(el, role_code, legal)
        name, given, family = legal if legal else (None, None, None)
        if kind == "entity":
            given = family = None
        addresses = _children(el, "Address")
        country = next((c for c in (_country(_ctext(a, "RawCountryCodeText")) for a in addresses) if c), None)
        city = next((c for c in (_ctext(a, "RawCityText") for a in addresses) if c), None)
        occ = _child(el, "PartyOccupationBusiness")
        occupation = _ctext(occ, "OccupationBusinessText") or (f"NAICS {_ctext(occ, 'NAICSCode')}" if _ctext(occ, "NAICSCode") else None)
        urls = []
        prow = {
            "party_id": pid,
            "kind": kind,
            "name": name,
            "given_name": given,
            "family_name": family,
            "birth_date": _date_or_none(_ctext(el, "IndividualBirthDateText")) if kind == "person" else None,
            "country": country,
            "occupation": occupation,
            "report_id": report_id,
            "source_ref": self.c.ref(xpath),
            "role": PARTY_ROLES.get(role_code or "", "other"),
            "role_code": role_code,
            "aliases": aliases,
            "urls": urls,
            # private, dropped by _typed: the party's accounts and its city
            "_accounts": [],
            "city": city,
        }
        self.rows["parties"].append(prow)
        for ad in addresses:
            self.address(pid, ad)
        for ph in _children(el, "PhoneNumber"):
            self.phone(pid, ph)
        for ea in _children(el, "ElectronicAddress"):
            text = _ctext(ea, "ElectronicAddressText")
            if not text:
                continue
            etype = (_ctext(ea, "ElectronicAddressTypeCode") or ("E" if "@" in text else "U")).upper()
            if etype == "E" and "@" in text:
                self.ident(pid, "email", text.strip().casefold(), text, ea)
            else:
                urls.append(text.strip())
        for pi in _children(el, "PartyIdentification"):
            self.identification(pid, pi)
        # accounts directly under the party (CTR)
        for acc in _children(el, "Account") if holds_accounts else []:
            self.account(acc, prow, self.institution_of(el))
        # SAR: subject -> PartyAccountAssociation -> Party 41 (the FI) -> Account
        for paa in _children(el, "PartyAccountAssociation"):
            for fi in _children(paa, "Party"):
                self.party(fi, report_id, code, holds_accounts=False)
                inst = self.institution_id(fi)
                for acc in _children(fi, "Account"):
                    self.account(acc, prow, inst, _ctext(paa, "PartyAccountAssociationTypeCode"))
        for pa_ in _children(el, "PartyAssociation"):
            for sub in _children(pa_, "Party"):
                self.party(sub, report_id, code)
        return prow

    def name_parts(self, pn) -> tuple[str, str | None, str | None] | None:
        full = _ctext(pn, "RawPartyFullName")
        first, middle = _ctext(pn, "RawIndividualFirstName"), _ctext(pn, "RawIndividualMiddleName")
        last, suffix = _ctext(pn, "RawEntityIndividualLastName"), _ctext(pn, "RawIndividualNameSuffixText")
        given = " ".join(x for x in (first, middle) if x) or None
        name = full or " ".join(x for x in (first, middle, last, suffix) if x) or None
        if name is None:
            return None
        return _squash(name), given, last

    def kind(self, el, role_code: str | None, legal) -> str:
        if _flag(el, "PartyAsEntityOrganizationIndicator"):
            return "entity"
        ptype = (_ctext(el, "PartyTypeCode") or "").upper()
        if ptype in ("I", "O"):
            return "person" if ptype == "I" else "entity"
        if (
            any(_flag(el, t) for t in ("FemaleGenderIndicator", "MaleGenderIndicator"))
            or _ctext(el, "IndividualBirthDateText")
            or (legal is not None and legal[1] is not None)
        ):
            return "person"
        return "person" if role_code in _PERSON_ROLES else "entity"

    def institution_id(self, party) -> str | None:
        for pi in _children(party, "PartyIdentification"):
            if _ctext(pi, "PartyIdentificationTypeCode") in _INSTITUTION_ID_TYPES:
                n = _ctext(pi, "PartyIdentificationNumberText")
                if n:
                    return _norm_id(n)
        return None

    def institution_of(self, party) -> str | None:
        """CTR accounts are held at the transaction location (34), else at the filer (30)."""
        act = party.getparent()
        if act not in self._institutions:
            found = None
            for role in ("34", "30"):
                for p in _children(act, "Party"):
                    if _ctext(p, "ActivityPartyTypeCode") == role:
                        found = found or self.institution_id(p)
                if found:
                    break
            self._institutions[act] = found
        return self._institutions[act]

    def account(self, el, owner: dict, institution: str | None, assoc_code: str | None = None) -> None:
        number = _ctext(el, "AccountNumberText")
        xpath = self.xp(el)
        if not number:
            self.c.reject("accounts", xpath, "AccountNumberText: missing", etree.tostring(el, encoding="unicode", with_tail=False)[:_RAW_MAX])
            return
        inner = _child(el, "PartyAccountAssociation")
        code = _ctext(inner, "PartyAccountAssociationTypeCode") or assoc_code
        account_id = f"{institution or FORMAT}/{number}"
        self.c.add(
            "accounts",
            {
                "account_id": account_id,
                "institution": institution,
                "account_number": number,
                "currency": None,
                "status": "closed" if _flag(inner, "AccountClosedIndicator") else None,
                "source_ref": self.c.ref(xpath),
            },
        )
        role = "holder" if owner["role_code"] in ("33", "50", "23", "16") else "other"
        self.c.add(
            "party_accounts",
            {"party_id": owner["party_id"], "account_id": account_id, "role": role, "role_code": code, "source_ref": self.c.ref(xpath)},
        )
        owner["_accounts"].append((account_id, code))

    # ----------------------------------------------------------------- identifiers
    def ident(self, owner: str, kind: str, value: str, raw: str | None, el) -> None:
        if value:
            self.c.add(
                "identifiers",
                {"owner_kind": "party", "owner_id": owner, "kind": kind, "value": value, "raw": raw, "source_ref": self.ref(el)},
            )

    def address(self, pid: str, ad) -> None:
        street = _ctext(ad, "RawStreetAddress1Text")
        if not street or _flag(ad, "StreetAddressUnknownIndicator"):
            return
        city, state = _ctext(ad, "RawCityText"), _ctext(ad, "RawStateCodeText")
        zip_, country = _ctext(ad, "RawZIPCode"), _country(_ctext(ad, "RawCountryCodeText"))
        value = ", ".join(_squash(x) for x in (street, city, state, country) if x)
        raw = ", ".join(_squash(x) for x in (street, city, " ".join(y for y in (state, zip_) if y), country) if x)
        self.ident(pid, "address", value.casefold(), raw, ad)

    def phone(self, pid: str, ph) -> None:
        number = _ctext(ph, "PhoneNumberText")
        if not number:
            return
        digits = re.sub(r"\D", "", number)
        if len(digits) < 3:
            return
        value = "+" + digits if number.lstrip().startswith("+") else digits
        ext = _ctext(ph, "PhoneNumberExtensionText")
        self.ident(pid, "phone", value, f"{number} x{ext}" if ext else number, ph)

    def identification(self, pid: str, pi) -> None:
        number = _ctext(pi, "PartyIdentificationNumberText")
        tcode = _ctext(pi, "PartyIdentificationTypeCode")
        if not number or tcode == "29":
            return
        kind, scheme = _ID_TYPES.get(tcode or "", ("id_document", f"TYPE{tcode}" if tcode else "ID"))
        if tcode == "999":
            other = _ctext(pi, "OtherPartyIdentificationTypeText")
            scheme = _norm_id(other) if other else scheme
        self.ident(pid, kind, _norm_id(f"{scheme}:{number}"), number, pi)


# --------------------------------------------------------------------------- read
def _parser() -> etree.XMLParser:
    return etree.XMLParser(remove_comments=True, **PARSER_OPTIONS)




def read(path) -> Bundle:
    """Read one FinCEN BSA XML batch (SAR, CTR, 8300) or acknowledgement.

    Parameters
    ----------
    path : str or path-like
        The batch file: ``fc2:``-prefixed, default-namespace or unqualified elements.

    Returns
    -------
    Bundle
        * ``reports``: one row per ``<Activity>``; ``report_id`` hashes the activity's
          normalised values (never the file name); ``report_code`` SAR, CTR or 8300; ``reporting_entity`` the
          filer's legal name (party 30; 8300: the business, party 4); ``entity_reference``
          the filer's internal control number (identification type 29);
          ``submitted_at`` = ``FilingDateText`` at 00:00 UTC; ``currency_local`` USD;
          ``narrative`` = the ``ActivityNarrativeText`` chunks in sequence order.
          SAR ``indicators`` are ``"SuspiciousActivityClassification:<subtype>"`` (or
          ``"SuspiciousActivityType:<type>"`` without a subtype) and ``reason`` /
          ``indicator_labels`` their readable labels (see :data:`ACTIVITY_SUBTYPES`:
          927 "Human trafficking", 926 "Human smuggling"). CTR ``indicators`` are the
          ``Y`` flags of ``CurrencyTransactionActivity`` (``ATMIndicator``, ...); 8300
          ``indicators`` the nature of the transaction (``"8300TransactionType:<code>"``).
          Extra columns: ``amount_total`` / ``amount_currency`` (SAR total suspicious
          amount), ``cash_in_total`` / ``cash_out_total`` (CTR/8300 totals),
          ``activity_start`` / ``activity_end`` (SAR date range), ``indicator_labels``,
          ``filing_type`` (initial, corrects_amends, continuing, joint),
          ``prior_bsa_id``, ``ip_addresses``, ``quality_flags`` (e.g.
          ``cash_in_total_mismatch``); for acknowledgements ``bsa_id`` and ``status``.
        * ``transactions`` (CTR): one row per ``<CurrencyTransactionActivityDetail>``;
          cash-in type codes (55 deposits, 46 payments, 23, 14, 53, ...) give
          ``cash_deposit``, cash-out codes (56 withdrawals, 32, 15, 54, ...) give
          ``cash_withdrawal``; ``amount`` in USD; ``timestamp`` = ``TransactionDateText``
          at 00:00 UTC (flag ``date_only``); ``to_account`` (cash in) /
          ``from_account`` (cash out) is the activity's account of that direction
          (association code 8 / 9) when there is exactly one; ``from_party`` /
          ``to_party`` the conductor (50 or 17) and the account holder (or party 23).
          (8300): one row per payment detail (an amount or an instrument code: U.S. or
          foreign currency -> ``cash_deposit``, cashier's checks, money orders, bank
          drafts, traveler's checks -> ``cheque``) from the payer (16, else 23) to the
          business (4). Extra columns ``txn_type_code``, ``conductor_party``,
          ``location_city``, ``location_country`` (the transaction location, party 34).
          SARs give no transactions.
        * ``parties``: one row per ``<Party>`` element, nested ones included; extra
          columns ``role`` (subject, conductor, filer, transmitter, ... see
          :data:`PARTY_ROLES`), ``role_code``, ``aliases`` (AKA / DBA names) and
          ``urls`` (electronic addresses of type U).
        * ``identifiers``: addresses, phones (digits), e-mails, and identification
          numbers as ``SCHEME:NUMBER`` (SSN, EIN, TIN and foreign TIN -> ``tax_id``;
          passport -> ``passport``; alien registration -> ``national_id``; driver's
          licence, CRD, TCC, other -> ``id_document``).
        * ``accounts`` / ``party_accounts``: ``account_id`` =
          ``"<institution EIN/TIN>/<AccountNumberText>"`` (``"fincen/<number>"`` when
          the institution has no TIN), the owning party as ``holder``.
        * ``rejects``: details without a readable amount or date, empty 8300 details,
          accounts without a number, activities of an unsupported form (FBARX, DOEPX),
          each with the field and the XPath.

    Raises
    ------
    InputError
        The file cannot be opened, is not well-formed XML (names file, line, column),
        declares a DOCTYPE or entities, or its root is not ``<EFilingBatchXML>``.

    Examples
    --------
    >>> b = read("tests/data/fincen/moov_ctr_batch.xml")
    >>> b.reports.column("report_code").to_pylist()
    ['CTR']
    >>> b.transactions.column("channel").to_pylist()
    ['cash_deposit', 'cash_deposit', 'cash_deposit']
    >>> [str(a) for a in b.transactions.column("amount").to_pylist()]
    ['15000.000', '15000.000', '17000.000']
    >>> read("tests/data/fincen/moov_sar_batch.xml").reports.column("indicators").to_pylist()
    [['SuspiciousActivityClassification:106']]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    refuse_doctype(path, head, "FinCEN BSA XML files")
    try:
        tree = etree.parse(str(path), _parser())
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {getattr(exc, 'strerror', None) or 'I/O error'}") from None
    except etree.XMLSyntaxError as exc:
        raise syntax_error(path, exc) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InputError(f"{path}: has a DOCTYPE / entity declaration; FinCEN XML has none, refusing the file")
    root = tree.getroot()
    _strip_namespaces(root)
    if _local(root) != "EFilingBatchXML":
        raise InputError(f"{path}: line {root.sourceline}: root element is {tag_label(_local(root))}, expected <EFilingBatchXML>")
    return _Reader(path, tree).run()
