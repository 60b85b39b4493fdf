"""ISO 20022 camt adapter: bank statements (camt.053), account reports (camt.052) and
debit/credit notifications (camt.054), message versions 02 to 10.

One camt file becomes one :class:`~followmoney.Bundle`:

* ``statements``: one row per ``Stmt`` / ``Rpt`` / ``Ntfctn`` with its booked opening and
  closing balances and a reconciliation check;
* ``transactions``: one row per ``TxDtls`` of an entry (``Ntry``), or one row for an entry
  without details, or one reject naming the field that could not be read;
* ``accounts``, ``parties``, ``party_accounts``, ``identifiers``: the statement account and
  its owner, and every counterparty the entries name;
* ``reports``: one row for the message (group header).

The message is recognised by the namespace of its ``Document`` element
(``urn:iso:std:iso:20022:tech:xsd:camt.05[234].001.NN``), not by a prefix; a ``Document``
inside a wrapper (a SWIFT ``Envelope`` with a business application header) is found. A
document whose namespace is not the standard one but whose body has the camt structure
(``BkToCstmrStmt`` ...) is read, and its rows carry the quality flag
``namespace_nonstandard``. Elements are matched on their local names, so the element
paths that moved between versions (v02 ``Dbtr/Nm`` and v08 ``Dbtr/Pty/Nm``, ``BIC`` and
``BICFI``, ``Sts`` and ``Sts/Cd``) are all read.

Parsing is safe: no entity resolution, no network, no DTD loading, and a document that
declares entities in a DOCTYPE is refused.

Mapping
-------
* Direction: the canonical ``amount`` is positive. A credit (``CdtDbtInd`` CRDT) to the
  statement account has ``to_account`` = the statement account and ``from_account`` =
  the counterparty's account (the ``Dbtr`` side); a debit the reverse (``Cdtr`` side).
  The signed amount (credit +, debit -) is kept in the extra column ``signed_amount``.
* Account ids: ``"IBAN/<IBAN>"`` when an IBAN is known (an ``Othr/Id`` shaped like an
  IBAN counts), else ``"<BIC or clearing member id or 'stmt'>/<account number>"``.
* Places (``source_ref``, ids) are XPaths over local names, e.g.
  ``file.xml#/Document/BkToCstmrStmt/Stmt/Ntry[3]/NtryDtls/TxDtls[2]``: readable, and
  exact when evaluated with local names (namespace prefixes dropped).

Errors and rejects name the file, the XPath and the field, never the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa
from lxml import etree

from followmoney.core import schema
from followmoney.core.units import quantize_money
from followmoney.core.bundle import Bundle
from followmoney.ingest._xml import PARSER_OPTIONS, content_key, ns_label, refuse_declared, tag_label, refuse_doctype, syntax_error, utf8_head
from followmoney.ingest._collect import Collector, ContentIds, InputError, file_digest, fits_money
from followmoney.core.ids import stable_id
from followmoney.normalize import normalize_address, normalize_email, normalize_phone

__all__ = ["FORMAT", "EXTRA_COLUMNS", "sniff", "is_companion", "read", "account_id", "is_iban", "is_bic", "typed_extras"]

FORMAT = "camt"

#: camt message element -> (message kind, statement element).
_MESSAGES = {
    "BkToCstmrStmt": ("camt.053", "Stmt"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
}
_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(?P<kind>camt\.05[234])\.001\.(?P<ver>\d{2})")
_ISO_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(?P<type>[a-z]{4}\.\d{3}\.\d{3}\.\d{2})")
_LOOSE_TYPE_RE = re.compile(r"(camt\.05[234]\.\d{3}\.\d{2})")

_MAX_MONEY = Decimal(10) ** 15
_RATE_EXP = Decimal("1e-10")
_RAW_MAX = 20000
_CCY_RE = re.compile(r"[A-Z]{3}")
_IBAN_RE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
_BIC_RE = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")

#: Extra columns (after the canonical ones) of the statement adapters (camt, MT940):
#: table -> column -> (Arrow type, description kept in the field metadata).
EXTRA_COLUMNS = {
    "transactions": {
        "signed_amount": (schema.MONEY, "Amount signed for the statement account: credit +, debit -."),
        "entry_amount": (schema.MONEY, "camt: the booked Ntry/Amt of the entry the row belongs to (batch total)."),
        "end_to_end_id": (pa.string(), "End-to-end reference (camt EndToEndId, MT940 SEPA EREF)."),
        "uetr": (pa.string(), "camt v08+: Refs/UETR, the SWIFT gpi reference of the payment, lower case."),
        "bank_tx_code": (pa.string(), "Bank transaction code as written (camt Domn/Fmly/SubFmly or PRTRY:code; MT940 :61: type)."),
        "customer_ref": (pa.string(), "MT940 :61: reference for the account owner."),
        "supplementary_details": (pa.string(), "MT940 :61: supplementary details (second line)."),
        "details_raw": (pa.string(), "MT940 :86: information as read, line breaks kept."),
        "non_standard": (pa.string(), "MT940 :NS: non-standard field text of the entry."),
    },
    "statements": {
        "statement_ref": (pa.string(), "Statement id given by the bank (camt Stmt/Id, MT940 :20:)."),
        "statement_number": (pa.string(), "Sequence number (camt ElctrncSeqNb, MT940 :28C:)."),
        "message_type": (pa.string(), "camt.053.001.02, camt.052.001.08, MT940, MT942, ..."),
        "info": (pa.string(), "Statement-level information (MT940 :86: after the balances, camt AddtlStmtInf)."),
        "quality_flags": (pa.list_(pa.string()), "Data-quality flags of the statement, e.g. balance_mismatch, interim."),
    },
}


# --------------------------------------------------------------------------- helpers
def _local(el) -> str:
    return el.tag.rpartition("}")[2]


#: Children of recently visited elements by local name; cleared after each entry
#: (keys are the element proxies themselves, so distinct documents never collide).
_KIDS: dict = {}


def _kids(el) -> dict[str, list]:
    d = _KIDS.get(el)
    if d is None:
        d = {}
        for c in el:
            t = c.tag
            if isinstance(t, str):
                d.setdefault(t.rpartition("}")[2], []).append(c)
        _KIDS[el] = d
    return d


def _child(el, *names: str):
    if el is None:
        return None
    kids = _kids(el)
    if len(names) == 1:
        found = kids.get(names[0])
        return found[0] if found else None
    for c in el.iterchildren(tag=etree.Element):
        if c.tag.rpartition("}")[2] in names:
            return c
    return None


def _children(el, *names: str) -> list:
    if el is None:
        return []
    if len(names) == 1:
        return list(_kids(el).get(names[0], ()))
    return [c for c in el.iterchildren(tag=etree.Element) if _local(c) in names]


def _path(el, *names: str):
    """Follow a chain of child local names; None when a link is missing."""
    for n in names:
        el = _child(el, n)
        if el is None:
            return None
    return el


def _text(el) -> str | None:
    if el is None:
        return None
    t = "".join(el.itertext()) if len(el) else el.text
    t = t.strip() if t else None
    return t or None


def _ptext(el, *names: str) -> str | None:
    return _text(_path(el, *names))


def _squash(s: str | None) -> str | None:
    if s is None:
        return None
    s = re.sub(r"\s+", " ", s).strip()
    return s or None


_PLACEHOLDERS = frozenset({"NOTPROVIDED", "NOT PROVIDED", "NONREF", "-", "/", "."})


def _info(texts) -> str | None:
    """Join free-text pieces, dropping placeholders such as ``NOTPROVIDED``."""
    out = [t for t in (_squash(x) for x in texts) if t and t.upper() not in _PLACEHOLDERS]
    return " ".join(out) or None


def _xpath(el) -> str:
    """XPath of ``el`` over local names, with positions where a name repeats.

    >>> from lxml import etree
    >>> root = etree.fromstring('<D xmlns="urn:x"><S><N/><N><T/></N></S></D>')
    >>> _xpath(root[0][1][0])
    '/D/S/N[2]/T'
    """
    return _Paths()(el)


class _Paths:
    """Memoised :func:`_xpath`: each parent's children are numbered once (linear time)."""

    def __init__(self):
        self._path: dict = {}
        self._steps: dict = {}

    def __call__(self, el) -> str:
        got = self._path.get(el)
        if got is not None:
            return got
        parent = el.getparent()
        if parent is None:
            path = "/" + _local(el)
        else:
            steps = self._steps.get(parent)
            if steps is None:
                kids = list(parent.iterchildren(tag=etree.Element))
                names = [_local(c) for c in kids]
                total: dict[str, int] = {}
                for n in names:
                    total[n] = total.get(n, 0) + 1
                seen: dict[str, int] = {}
                steps = {}
                for c, n in zip(kids, names):
                    seen[n] = seen.get(n, 0) + 1
                    steps[c] = n if total[n] == 1 else f"{n}[{seen[n]}]"
                self._steps[parent] = steps
            path = self(parent) + "/" + steps[el]
        self._path[el] = path
        return path


def _money(text: str | None, currency: str | None = None) -> tuple[Decimal, bool]:
    """Decimal text -> (value quantized to ``currency``'s ISO 4217 minor units, whether rounding changed it).

    >>> _money("5442.09000")
    (Decimal('5442.09'), False)
    >>> _money("1.005")
    (Decimal('1.00'), True)
    >>> _money("1250.125", "KWD")
    (Decimal('1250.125'), False)
    """
    if text is None:
        raise ValueError("missing")
    t = text.strip()
    if not re.fullmatch(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", t):
        raise ValueError(f"not a decimal ({_snippet(t)!r})")
    try:
        d = Decimal(t)
        q, rounded = quantize_money(d, currency)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal ({_snippet(t)!r})") from exc
    if abs(q) >= _MAX_MONEY:
        raise ValueError("does not fit decimal(18,3)")
    return q, rounded


def _fx_rate(xchg, amount, ccy, instructed, instructed_ccy) -> tuple[Decimal | None, str | None]:
    """``CcyXchg`` -> (``fx_rate`` in units of ``ccy`` per unit of ``instructed_ccy``, flag).

    camt states ``XchgRate`` as units of the other currency per one ``UnitCcy``
    (ISO 20022: "in the example 1 GBP = xxx CUR, the unit currency is GBP"); banks
    often leave ``UnitCcy`` out and name only ``SrcCcy``, quoting either way round, and
    some label ``UnitCcy`` the other way (the Finnish FFFS guideline sample). So: where
    both amounts are given and exactly one direction makes ``instructed × rate`` the
    booked amount (within 2 %: charges), that direction; else ``UnitCcy`` (or, with
    ``QtdCcy``, the other of the two); otherwise the rate is kept as stated and flagged
    ``fx_rate_direction_unknown``. The rate itself is never recomputed from the amounts.

    >>> from lxml import etree
    >>> x = etree.fromstring("<CcyXchg><SrcCcy>DKK</SrcCcy><XchgRate>7.2546</XchgRate></CcyXchg>")
    >>> _fx_rate(x, Decimal("137.47"), "EUR", Decimal("997.29"), "DKK")
    (Decimal('0.1378435751'), None)
    >>> x = etree.fromstring("<CcyXchg><SrcCcy>USD</SrcCcy><UnitCcy>USD</UnitCcy><XchgRate>0.954</XchgRate></CcyXchg>")
    >>> _fx_rate(x, Decimal("95.40"), "EUR", Decimal("100.00"), "USD")
    (Decimal('0.9540000000'), None)
    """
    rate = _rate(_ptext(xchg, "XchgRate")) if xchg is not None else None
    if rate is None or rate == 0:
        return None, None
    inverse = (Decimal(1) / rate).quantize(_RATE_EXP, rounding=ROUND_HALF_EVEN)
    if amount and instructed:
        direct = abs(instructed * rate - amount) / abs(amount)
        flipped = abs(instructed * inverse - amount) / abs(amount)
        tol = Decimal("0.02")
        if direct <= tol < flipped:
            return rate, None
        if flipped <= tol < direct:
            return inverse, None
    unit = (_ptext(xchg, "UnitCcy") or "").upper() or None
    quoted = (_ptext(xchg, "QtdCcy") or "").upper() or None
    if unit is None and quoted and ccy and instructed_ccy and quoted in (ccy, instructed_ccy):
        unit = instructed_ccy if quoted == ccy else ccy
    if unit and instructed_ccy and unit == instructed_ccy:
        return rate, None
    if unit and ccy and unit == ccy:
        return inverse, None
    return rate, "fx_rate_direction_unknown"


def _turn_round(row: dict) -> None:
    """A transaction row read with the other reversal dialect: money flows the other way."""
    if row.get("signed_amount") is not None:
        row["signed_amount"] = -row["signed_amount"]
    for a, b in (("from_account", "to_account"), ("from_party", "to_party"), ("country_from", "country_to")):
        if a in row or b in row:
            row[a], row[b] = row.get(b), row.get(a)


def _ccy_of(el) -> str | None:
    """The ``Ccy`` attribute of an amount element, upper case (None when absent)."""
    return ((el.get("Ccy") if el is not None else None) or "").upper() or None


def _rate(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        d = Decimal(text.strip()).quantize(_RATE_EXP, rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        return None
    return d if d.is_finite() and abs(d) < Decimal(10) ** 14 else None


def _snippet(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


_DT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _parse_dt(text: str | None) -> tuple[datetime, int | None, date] | None:
    """ISO date or date-time -> (UTC instant, stated offset in minutes, local date).

    A date alone is 00:00 UTC with no offset; a date-time without offset is taken as UTC.

    >>> _parse_dt("2024-02-01T08:00:00+01:00")[:2]
    (datetime.datetime(2024, 2, 1, 7, 0, tzinfo=datetime.timezone.utc), 60)
    >>> _parse_dt("2025-07-24T06:10:29.000000000")[0].isoformat()
    '2025-07-24T06:10:29+00:00'
    >>> _parse_dt("31.01.2024") is None
    True
    >>> _parse_dt("0001-01-01T00:00:00+01:00") is None
    True
    """
    if not text:
        return None
    m = _DT_RE.fullmatch(text.strip())
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    offset = None
    if tz:
        if tz == "Z":
            offset = 0
        else:
            digits = tz[1:].replace(":", "")
            offset = (-1 if tz[0] == "-" else 1) * (int(digits[:2]) * 60 + int(digits[2:]))
            if abs(offset) > 18 * 60:
                return None
    try:
        local = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), int((frac or "0")[:6].ljust(6, "0")))
        utc = (local - timedelta(minutes=offset or 0)).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
        return None
    return utc, offset, local.date()


def _date_choice(el) -> tuple[datetime, int | None, date] | None:
    """A ``Dt``/``DtTm`` choice element (``BookgDt``, ``ValDt``, ``Bal/Dt``)."""
    if el is None:
        return None
    for name in ("DtTm", "Dt"):
        sub = _child(el, name)
        if sub is not None:
            inner = _date_choice(sub) if _child(sub, "Dt", "DtTm") is not None else None
            return inner or _parse_dt(_text(sub))
    return _parse_dt(_text(el))


def _norm_id(s: str | None) -> str | None:
    if not s:
        return None
    return re.sub(r"\s+", "", s).upper() or None


def is_iban(s: str | None) -> bool:
    """Whether ``s`` (spaces removed, upper case) is shaped like an IBAN.

    The shape only (2 letters, 2 digits, 10-30 letters or digits); the check digits are
    not verified, because test and anonymised data use invalid ones.

    Parameters
    ----------
    s : str or None

    Returns
    -------
    bool

    Examples
    --------
    >>> is_iban("XX12 TEST 0000 0000 02"), is_iban("0000000001")
    (True, False)
    """
    return bool(s) and bool(_IBAN_RE.fullmatch(re.sub(r"\s+", "", s).upper()))


def is_bic(s: str | None) -> bool:
    """Whether ``s`` is shaped like a BIC (8 or 11 characters).

    Examples
    --------
    >>> is_bic("TESTDEFFXXX"), is_bic("50880050")
    (True, False)
    """
    return bool(s) and bool(_BIC_RE.fullmatch(s.strip().upper()))


def account_id(number: str | None, *, iban: str | None = None, bank: str | None = None) -> str | None:
    """The canonical account id of a statement or counterparty account.

    Parameters
    ----------
    number : str or None
        Account number as written (leading zeros kept); an IBAN-shaped number counts as
        an IBAN.
    iban : str, optional
        IBAN, if known (spaces removed, upper-cased).
    bank : str, optional
        BIC or bank code of the account's institution.

    Returns
    -------
    str or None
        ``"IBAN/<IBAN>"`` when an IBAN is known, else ``"<bank or 'stmt'>/<number>"``;
        None when neither is known.

    Examples
    --------
    >>> account_id(None, iban="xx12 test 0000 0000 02")
    'IBAN/XX12TEST0000000002'
    >>> account_id("0000000001", bank="TESTBANK"), account_id("517852257")
    ('TESTBANK/0000000001', 'stmt/517852257')
    """
    iban = _norm_id(iban)
    if not iban and is_iban(number):
        iban = _norm_id(number)
    if iban:
        return f"IBAN/{iban}"
    number = number.strip() if number else None
    if not number:
        return None
    return f"{bank.strip() if bank and bank.strip() else 'stmt'}/{number}"


def typed_extras(bundle: Bundle) -> Bundle:
    """Cast the extra columns of statement adapters to their types (:data:`EXTRA_COLUMNS`).

    Rows are collected as dicts, so an extra column's type is inferred from its values
    (or is ``null`` when all are missing); this gives it its declared type.

    Parameters
    ----------
    bundle : Bundle
        Changed in place.

    Returns
    -------
    Bundle
        The same bundle.
    """
    for name, cols in EXTRA_COLUMNS.items():
        t = getattr(bundle, name)
        for col, (typ, doc) in cols.items():
            if col in t.column_names:
                i = t.column_names.index(col)
                t = t.set_column(i, pa.field(col, typ, metadata={"doc": doc}), t.column(col).cast(typ))
        setattr(bundle, name, t)
    return bundle


# --------------------------------------------------------------------------- sniffing
_SNIFF_NS = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.\d\d")
_SNIFF_MSG = re.compile(rb"<(?:[\w.-]+:)?(?:BkToCstmrStmt|BkToCstmrAcctRpt|BkToCstmrDbtCdtNtfctn)[\s>]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like a camt.052/053/054 message.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when the head holds a camt.052/053/054 namespace URI or one of the camt
        message elements (``BkToCstmrStmt``, ``BkToCstmrAcctRpt``,
        ``BkToCstmrDbtCdtNtfctn``) under any prefix.

    Examples
    --------
    >>> sniff("s.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">')
    True
    >>> sniff("p.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">')
    False
    """
    head = utf8_head(head)
    return bool(_SNIFF_NS.search(head) or _SNIFF_MSG.search(head))


def is_companion(path) -> bool:
    """camt files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- reader
_CHANNEL_SUBFAMILY = {"CWDL": "cash_withdrawal", "CDPT": "cash_deposit"}
_CHANNEL_FAMILY = {
    "CCRD": "card",
    "MCRD": "card",
    "RCDT": "transfer",
    "ICDT": "transfer",
    "RDDT": "transfer",
    "IDDT": "transfer",
    "RRCT": "transfer",
    "IRCT": "transfer",
    "ICHQ": "cheque",
    "RCHQ": "cheque",
}


def _bank_tx_code(el) -> tuple[str | None, str]:
    """``BkTxCd`` -> (code as written, canonical channel)."""
    if el is None:
        return None, "other"
    domn = _child(el, "Domn")
    dom, fam, sub = _ptext(domn, "Cd"), _ptext(domn, "Fmly", "Cd"), _ptext(domn, "Fmly", "SubFmlyCd")
    prtry = _ptext(el, "Prtry", "Cd")
    code = "/".join(x for x in (dom, fam, sub) if x) or (f"PRTRY:{prtry}" if prtry else None)
    channel = "other"
    if sub in _CHANNEL_SUBFAMILY:
        channel = _CHANNEL_SUBFAMILY[sub]
    elif dom in (None, "PMNT") and fam in _CHANNEL_FAMILY:
        channel = _CHANNEL_FAMILY[fam]
    return code, channel


def _status(ntry) -> str | None:
    sts = _child(ntry, "Sts")
    if sts is None:
        return None
    return (_ptext(sts, "Cd") or _ptext(sts, "Prtry") or _text(sts) or "").upper() or None


def _acct_ident(acct) -> tuple[str | None, str | None]:
    """``Acct``/``DbtrAcct``/... -> (account number as written, IBAN)."""
    ident = _child(acct, "Id")
    iban = _norm_id(_ptext(ident, "IBAN"))
    number = _ptext(ident, "Othr", "Id")
    if not iban and is_iban(number):
        iban = _norm_id(number)
    return (number or iban), iban


def _side_account(tx, direction: str) -> str | None:
    """Account id of the counterparty side a ``TxDtls`` names for ``direction``."""
    acct, agent = ("DbtrAcct", "DbtrAgt") if direction == "CRDT" else ("CdtrAcct", "CdtrAgt")
    number, iban = _acct_ident(_path(tx, "RltdPties", acct))
    bic, member = _agent_bic(_path(tx, "RltdAgts", agent))
    return account_id(number, iban=iban, bank=bic or member)


def _agent_bic(agent) -> tuple[str | None, str | None]:
    """``DbtrAgt``/``Svcr``/... -> (BIC, clearing member id)."""
    fin = _child(agent, "FinInstnId")
    bic = _ptext(fin, "BICFI") or _ptext(fin, "BIC")
    return (bic.upper() if bic else None), _ptext(fin, "ClrSysMmbId", "MmbId")


@dataclass
class _Stmt:
    statement_id: str
    account_id: str | None
    owner: str | None
    currency: str | None
    flags: list = field(default_factory=list)
    fallback_date: tuple | None = None


@dataclass
class _Party:
    party_id: str | None = None
    name: str | None = None
    account_id: str | None = None
    account: str | None = None
    bic: str | None = None


class _Reader:
    def __init__(self, path: Path, doc, msg, msg_type: str, kind: str, stmt_tag: str, nonstandard: bool, paths):
        self.file = path.name
        self.doc, self.msg = doc, msg
        self.msg_type, self.kind, self.stmt_tag = msg_type, kind, stmt_tag
        self.c = Collector(FORMAT, path)
        self.xpath = paths
        self.path = path
        self.txn_ids = ContentIds("T")
        self._entry_key: tuple = (None, "")
        self._report_id: str | None = None
        self.servicer: str | None = None
        self.mismatched: set[str] = set()
        self.turned: set[str] = set()  # reversal rows of statements re-read in the other reversal dialect
        self.base_flags = ["namespace_nonstandard"] if nonstandard else []
        if kind == "camt.052":
            self.base_flags.append("interim")

    def ref(self, el) -> str:
        return self.c.ref(self.xpath(el))

    # ----------------------------------------------------------------- message
    @property
    def report_id(self) -> str:
        """From content: ``GrpHdr/MsgId`` with its ``CreDtTm`` (the header precedes the
        statements), else the file's digest; never the file name. Fixed at first use."""
        if self._report_id is None:
            grp = _child(self.msg, "GrpHdr")
            msg_id = _ptext(grp, "MsgId")
            self._report_id = (
                stable_id("R", FORMAT, msg_id, _ptext(grp, "CreDtTm")) if msg_id else stable_id("R", FORMAT, file_digest(self.path))
            )
        return self._report_id

    def run(self) -> Bundle:
        """Read a message already parsed whole (a camt statement inside an auth.002 response)."""
        for st in _children(self.msg, self.stmt_tag):
            state = self.begin_statement(st)
            for ntry in _children(st, "Ntry"):
                self.add_entry(state, ntry)
            self.end_statement(st, state)
        return self.finish()

    def finish(self) -> Bundle:
        """The report row, then the bundle; rows of statements that do not reconcile get
        ``balance_mismatch`` (known only at the statement's end, after its rows were written)."""
        grp = _child(self.msg, "GrpHdr")
        created = _parse_dt(_ptext(grp, "CreDtTm"))
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": FORMAT,
                "report_code": self.msg_type,
                "reporting_entity": self.servicer,
                "entity_reference": _ptext(grp, "MsgId"),
                "submitted_at": created[0] if created else None,
                "narrative": _squash(_ptext(grp, "AddtlInf")),
                "source_file": self.file,
            },
        )
        _KIDS.clear()
        b = typed_extras(self.c.bundle())
        if self.mismatched and b.transactions.num_rows:
            t = b.transactions
            sids = t["statement_id"].to_pylist()
            flags = [
                (f or []) + ["balance_mismatch"] if sid in self.mismatched and "balance_mismatch" not in (f or []) else f
                for f, sid in zip(t["quality_flags"].to_pylist(), sids)
            ]
            i = t.column_names.index("quality_flags")
            b.transactions = t.set_column(i, t.schema.field(i), pa.array(flags, t.schema.field(i).type))
        if self.turned and b.transactions.num_rows:
            t = b.transactions
            rows = t.to_pylist()
            for row in rows:
                if row["txn_id"] in self.turned:
                    _turn_round(row)
                    row["quality_flags"] = (row["quality_flags"] or []) + ["reversal_convention_other"]
            b.transactions = pa.Table.from_pylist(rows, schema=t.schema)
        return b

    # ----------------------------------------------------------------- statement
    def begin_statement(self, st) -> dict:
        """Open a statement when its first entry has been read (account, balances and dates
        precede the entries in every camt version); returns its running state."""
        _KIDS.clear()
        xp = self.xpath(st)
        sid = stable_id("S", self.report_id, xp)
        acct = _child(st, "Acct")
        number, iban = _acct_ident(acct)
        bic, member = _agent_bic(_child(acct, "Svcr"))
        self.servicer = self.servicer or bic
        acc_id = account_id(number, iban=iban, bank=bic or member)
        ccy = (_ptext(acct, "Ccy") or "").upper() or None
        flags = list(self.base_flags)
        if acc_id:
            self.c.add(
                "accounts",
                {
                    "account_id": acc_id,
                    "institution": bic or member,
                    "account_number": number,
                    "iban": iban,
                    "name": _squash(_ptext(acct, "Nm")),
                    "currency": ccy,
                    "source_ref": self.ref(acct),
                },
            )
        else:
            flags.append("account_missing")
        owner = self.party(_child(acct, "Ownr"), acc_id, None, None)

        opening, closing, open_date, close_date = self.balances(st, flags)
        if ccy is None:
            for amt in (_path(st, "Bal", "Amt"), _path(st, "Ntry", "Amt")):
                if amt is not None and amt.get("Ccy"):
                    ccy = amt.get("Ccy").strip().upper()
                    break
        # entries without any date of their own are dated by the statement (flagged)
        day = (_parse_dt(_ptext(st, "FrToDt", "ToDtTm")) or (None, None, close_date or open_date))[2]
        if day is None:
            day = (_parse_dt(_ptext(st, "CreDtTm")) or _parse_dt(_ptext(self.msg, "GrpHdr", "CreDtTm")) or (None, None, None))[2]
        fallback = (datetime(day.year, day.month, day.day, tzinfo=timezone.utc), None, day) if day else None
        ctx = _Stmt(sid, acc_id, owner.party_id, ccy, flags, fallback)
        _KIDS.clear()
        return {
            "ctx": ctx, "xp": xp, "total": Decimal(0), "known": True, "balances": (opening, closing, open_date, close_date),
            "reversed": Decimal(0), "reversal_ids": [],
        }  # fmt: skip

    def add_entry(self, state: dict, ntry) -> None:
        """Read one ``Ntry`` of an open statement; its rows and rejects are written at once."""
        rows: list[tuple[dict | None, tuple | None]] = []
        signed, booked = self.entry(ntry, state["ctx"], rows)
        _KIDS.clear()
        if (_ptext(ntry, "RvslInd") or "").lower() in ("true", "1"):
            state["reversal_ids"].extend(row["txn_id"] for row, _ in rows if row is not None)
            if booked and signed is not None:
                state["reversed"] += signed
        if booked:
            if signed is None:
                state["known"] = False
            else:
                state["total"] += signed
        for row, rej in rows:
            if row is not None:
                self.c.add("transactions", row)
            else:
                self.c.reject("transactions", *rej)

    def end_statement(self, st, state: dict) -> None:
        _KIDS.clear()
        ctx, total, total_known = state["ctx"], state["total"], state["known"]
        reversed_total = state["reversed"]  # booked reversal entries, signed as read
        opening, closing, open_date, close_date = state["balances"]
        flags = ctx.flags
        if not total_known:
            flags.append("entry_amount_unreadable")
        elif not fits_money(total):  # the sum of representable entries can overflow: flagged, not fatal
            flags.append("entries_total_out_of_range")
            total_known = False
        reconciled = None
        if opening is not None and closing is not None and total_known:
            reconciled = opening + total == closing
            if not reconciled and reversed_total and opening + total - 2 * reversed_total == closing:
                # the other reversal dialect: CdtDbtInd names the original entry's side and RvslInd
                # turns it round (ISO 20022 says CdtDbtInd is already the reversal's own side).
                # The statement reconciles only read that way, so it is re-read so, and flagged.
                total -= 2 * reversed_total
                reconciled = True
                flags.append("reversal_convention_other")
                self.turned.update(state["reversal_ids"])  # rows already written: turned round in finish()
            elif not reconciled:
                flags.append("balance_mismatch")
                self.mismatched.add(ctx.statement_id)
        self.c.add(
            "statements",
            {
                "statement_id": ctx.statement_id,
                "account_id": ctx.account_id,
                "currency": ctx.currency,
                "opening_balance": opening,
                "closing_balance": closing,
                "opening_date": open_date,
                "closing_date": close_date,
                "entries_total": total if total_known else None,
                "reconciled": reconciled,
                "source_ref": self.c.ref(state["xp"]),
                "statement_ref": _ptext(st, "Id"),
                "statement_number": _ptext(st, "ElctrncSeqNb") or _ptext(st, "LglSeqNb"),
                "message_type": self.msg_type,
                "info": _squash(_ptext(st, "AddtlStmtInf") or _ptext(st, "AddtlRptInf") or _ptext(st, "AddtlNtfctnInf")),
                "quality_flags": list(dict.fromkeys(flags)),
            },
        )
        _KIDS.clear()

    def balances(self, st, flags: list) -> tuple:
        """Booked opening and closing balance (signed) and their dates.

        Opening: OPBD, else PRCD, else the first of two or more ITBD. Closing: CLBD,
        else the last ITBD when an opening was found before it.
        """
        found: list[tuple[str, Decimal, date | None, object]] = []
        for bal in _children(st, "Bal"):
            tp = _child(bal, "Tp")
            code = (_ptext(tp, "CdOrPrtry", "Cd") or _ptext(tp, "CdOrPrtry", "Prtry") or "").upper()
            if code not in ("OPBD", "PRCD", "CLBD", "ITBD"):
                continue
            try:
                amount, rounded = _money(_ptext(bal, "Amt"), _ccy_of(_child(bal, "Amt")))
            except ValueError:
                flags.append("balance_unreadable")
                continue
            if rounded:
                flags.append("amount_rounded")
            ind = (_ptext(bal, "CdtDbtInd") or "").upper()
            if ind == "DBIT":
                amount = -amount
            elif ind != "CRDT":
                flags.append("balance_sign_missing")
            when = _date_choice(_child(bal, "Dt"))
            found.append((code, amount, when[2] if when else None, bal))
        by = {}
        for item in found:
            by.setdefault(item[0], []).append(item)
        opening = (by.get("OPBD") or by.get("PRCD") or [None])[0]
        if opening is None and len(by.get("ITBD", [])) >= 2:
            opening = by["ITBD"][0]
        closing = (by.get("CLBD") or [None])[0]
        if closing is None and by.get("ITBD") and opening is not None and by["ITBD"][-1] is not opening:
            closing = by["ITBD"][-1]
        return (
            opening[1] if opening else None,
            closing[1] if closing else None,
            opening[2] if opening else None,
            closing[2] if closing else None,
        )

    # ----------------------------------------------------------------- entries
    def entry(self, ntry, ctx: _Stmt, rows: list) -> tuple[Decimal | None, bool]:
        """Read one ``Ntry`` into ``rows``; return (signed entry amount, booked)."""
        status = _status(ntry)
        booked = status in (None, "BOOK")
        entry_flags = list(ctx.flags)
        if status is None:
            entry_flags.append("status_missing")
        elif not booked:
            entry_flags.append("not_booked")

        amt_el = _child(ntry, "Amt")
        entry_err = None
        entry_amount = entry_ccy = None
        try:
            entry_amount, rounded = _money(_text(amt_el), _ccy_of(amt_el))
            entry_ccy = (amt_el.get("Ccy") or "").upper() or None
            if rounded:
                entry_flags.append("amount_rounded")
        except ValueError as exc:
            entry_err = f"Amt: {'missing' if amt_el is None else exc}"
        direction = (_ptext(ntry, "CdtDbtInd") or "").upper()
        if direction not in ("CRDT", "DBIT"):
            entry_err = entry_err or f"CdtDbtInd: {'missing' if not direction else 'not CRDT or DBIT (' + _snippet(direction) + ')'}"
        signed = None
        if entry_amount is not None and direction in ("CRDT", "DBIT"):
            signed = entry_amount if direction == "CRDT" else -entry_amount
            if entry_amount < 0:
                entry_flags.append("negative_amount")

        reversal = (_ptext(ntry, "RvslInd") or "").lower() in ("true", "1")
        booking = _date_choice(_child(ntry, "BookgDt"))
        value = _date_choice(_child(ntry, "ValDt"))
        code, channel = _bank_tx_code(_child(ntry, "BkTxCd"))
        entry_ref = self.ref(ntry)
        details = _children(ntry, "NtryDtls")
        txds = [tx for nd in details for tx in _children(nd, "TxDtls")]
        n_batch = None
        for nd in details:
            t = _ptext(nd, "Btch", "NbOfTxs")
            if t and t.isdigit():
                n_batch = int(t)
                break
        if n_batch is not None and n_batch > max(1, len(txds)):
            entry_flags.append("batch_without_details")

        common = {
            "entry": ntry,
            "ctx": ctx,
            "booking": booking,
            "value": value,
            "reversal": reversal,
            "code": code,
            "channel": channel,
            "entry_ref": entry_ref,
            "entry_amount": entry_amount,
        }
        if len(txds) <= 1:
            tx = txds[0] if txds else None
            place = tx if tx is not None else ntry
            if entry_err:
                rows.append((None, (self.xpath(place), entry_err, _raw(ntry))))
            else:
                rows.append((self.row(place, tx, entry_amount, entry_ccy, direction, entry_flags, single=True, **common), None))
            return signed, booked

        # several TxDtls: one row each, with its own amount and direction
        parts = []
        for tx in txds:
            flags = list(entry_flags)
            tx_dir = (_ptext(tx, "CdtDbtInd") or direction).upper()
            if tx_dir not in ("CRDT", "DBIT"):
                rows.append((None, (self.xpath(tx), "CdtDbtInd: missing on the entry and the transaction details", _raw(tx))))
                parts.append(None)
                continue
            if tx_dir != direction and ctx.account_id and _side_account(tx, tx_dir) == ctx.account_id:
                # the details' indicator would make the statement account its own counterparty
                tx_dir = direction
                flags.append("direction_inconsistent")
            amt_el = _path(tx, "AmtDtls", "TxAmt", "Amt")
            if amt_el is None:
                amt_el = _child(tx, "Amt")
            amount = ccy = None
            if amt_el is None:
                flags.append("amount_missing")
            else:
                try:
                    amount, rounded = _money(_text(amt_el), _ccy_of(amt_el))
                    ccy = (amt_el.get("Ccy") or "").upper() or None
                    if rounded:
                        flags.append("amount_rounded")
                except ValueError as exc:
                    rows.append((None, (self.xpath(tx), f"TxAmt/Amt: {exc}", _raw(tx))))
                    parts.append(None)
                    continue
            parts.append((amount if tx_dir == "CRDT" else -amount, ccy) if amount is not None else None)
            rows.append((self.row(tx, tx, amount, ccy, tx_dir, flags, single=False, **common), None))
        if signed is not None and parts and all(p is not None and p[1] == entry_ccy for p in parts):
            if sum(p[0] for p in parts) != signed:
                for row, _ in rows[-len(txds):]:
                    if row is not None:
                        row["quality_flags"].append("batch_sum_mismatch")
        return signed, booked

    def txn_id(self, entry, tx, ctx: _Stmt) -> str:
        """From content: the statement account and the entry's normalised values (with the
        ``TxDtls``'s own for a batch row), never the file name or the XPath."""
        if self._entry_key[0] is not entry:
            self._entry_key = (entry, content_key(entry))
        return self.txn_ids(FORMAT, ctx.account_id, self._entry_key[1], "" if tx is None else content_key(tx))

    def row(
        self, place, tx, amount, ccy, direction, flags, *,
        single, entry, ctx, booking, value, reversal, code, channel, entry_ref, entry_amount,
    ) -> dict:  # fmt: skip
        """One transactions row for an entry (``tx`` None) or one of its ``TxDtls``."""
        xp = self.xpath(place)
        flags = list(flags)
        if amount is not None and (ccy is None or not _CCY_RE.fullmatch(ccy)):
            flags.append("currency_unknown" if ccy is None else "currency_invalid")
        if tx is not None:
            tx_code, tx_channel = _bank_tx_code(_child(tx, "BkTxCd"))
            if tx_code:
                code, channel = tx_code, tx_channel

        # amounts: the booked amount is `amount`; the instructed one and the rate beside it
        instructed = instructed_ccy = rate = None
        amt_dtls = _child(tx, "AmtDtls")
        inst = _path(amt_dtls, "InstdAmt", "Amt")
        if inst is None and single:
            for cand in (_path(amt_dtls, "TxAmt", "Amt"), _child(tx, "Amt")):
                if cand is not None and (cand.get("Ccy") or "").upper() not in ("", ccy):
                    inst = cand
                    break
        if inst is not None:
            try:
                instructed, _ = _money(_text(inst), _ccy_of(inst))
                instructed_ccy = (inst.get("Ccy") or "").upper() or None
            except ValueError:
                flags.append("instructed_amount_unreadable")
        xchg = None
        for wrap in ("InstdAmt", "TxAmt", "CntrValAmt", "AnncdPstngAmt", "PrtryAmt"):
            xchg = _path(amt_dtls, wrap, "CcyXchg")
            if xchg is not None and _rate(_ptext(xchg, "XchgRate")) is not None:
                break
        if xchg is None or _rate(_ptext(xchg, "XchgRate")) is None:
            xchg = _child(tx, "CcyXchg")
        rate, rate_flag = _fx_rate(xchg, amount, ccy, instructed, instructed_ccy)
        if rate_flag:
            flags.append(rate_flag)

        # counterparty: the Dbtr side of a credit, the Cdtr side of a debit; but always the side
        # whose account is not the statement's (a returned direct debit keeps the roles of the
        # original collection: Dbtr = the owner, Cdtr = the creditor who gets nothing back)
        side_dir = direction
        other = "DBIT" if direction == "CRDT" else "CRDT"
        if _side_account(tx, direction) == ctx.account_id and _side_account(tx, other) not in (None, ctx.account_id):
            side_dir = other
            flags.append("counterparty_from_other_side")
        side = ("Dbtr", "DbtrAcct", "DbtrAgt") if side_dir == "CRDT" else ("Cdtr", "CdtrAcct", "CdtrAgt")
        rp, ra = _child(tx, "RltdPties"), _child(tx, "RltdAgts")
        bic, member = _agent_bic(_child(ra, side[2]))
        cp = self.party(_child(rp, side[0]), None, _child(rp, side[1]), bic or member)
        if cp.bic is None:
            cp.bic = bic

        # when: booking date, else value date, else the transaction's own dates
        when = booking or value
        if when is None and tx is not None:
            dts = _child(tx, "RltdDts")
            for name in ("AccptncDtTm", "TxDtTm", "IntrBkSttlmDt"):
                when = _parse_dt(_ptext(dts, name))
                if when:
                    break
        if when is None and ctx.fallback_date is not None:
            when = ctx.fallback_date
            flags.append("date_from_statement")
        if when is None:
            flags.append("date_missing")

        refs = _child(tx, "Refs")
        e2e = _ptext(refs, "EndToEndId")
        if e2e and e2e.upper() == "NOTPROVIDED":
            e2e = None
        candidates = (
            _ptext(refs, "AcctSvcrRef"),
            _ptext(refs, "TxId"),
            _ptext(entry, "AcctSvcrRef"),
            _ptext(entry, "NtryRef"),
            e2e,
            _ptext(refs, "InstrId"),
        )
        source_ref = next((r for r in candidates if r and r.upper() != "NOTPROVIDED"), None)
        rmt = _child(tx, "RmtInf")
        description = (
            _info(_text(u) for u in _children(rmt, "Ustrd"))
            or _info(_ptext(s, "CdtrRefInf", "Ref") for s in _children(rmt, "Strd"))
            or _info([_ptext(tx, "AddtlTxInf")])
            or _info([_ptext(entry, "AddtlNtryInf")])
        )
        credit = direction == "CRDT"
        if cp.account_id and cp.account_id == ctx.account_id:
            flags.append("self_transfer")
        return {
            "txn_id": self.txn_id(entry, tx, ctx),
            "report_id": self.report_id,
            "source": FORMAT,
            "source_ref": self.c.ref(xp),
            "source_txn_ref": source_ref,
            "timestamp": when[0] if when else None,
            "tz_offset_minutes": when[1] if when else None,
            "amount": amount,
            "currency": ccy,
            "instructed_amount": instructed,
            "instructed_currency": instructed_ccy,
            "fx_rate": rate,
            "from_account": cp.account_id if credit else ctx.account_id,
            "to_account": ctx.account_id if credit else cp.account_id,
            "from_party": cp.party_id if credit else ctx.owner,
            "to_party": ctx.owner if credit else cp.party_id,
            "channel": channel,
            "description": description,
            "counterparty_name": cp.name,
            "counterparty_account": cp.account,
            "counterparty_bic": cp.bic,
            "statement_id": ctx.statement_id,
            "entry_ref": entry_ref,
            "booking_date": booking[2] if booking else None,
            "value_date": value[2] if value else None,
            "is_reversal": reversal,
            "quality_flags": list(dict.fromkeys(flags)),
            "signed_amount": None if amount is None else (amount if credit else -amount),
            "entry_amount": entry_amount,
            "end_to_end_id": e2e,
            "uetr": (_ptext(refs, "UETR") or "").strip().lower() or None,
            "bank_tx_code": code,
        }

    # ----------------------------------------------------------------- parties
    def party(self, el, acc_id: str | None, acct_el, bank: str | None) -> _Party:
        """Add a named party (``Ownr``, ``Dbtr``, ``Cdtr``) and its account; link them.

        ``acc_id`` is the party's account when already known (statement owner);
        otherwise ``acct_el`` (``DbtrAcct``/``CdtrAcct``) is read with ``bank``.
        """
        out = _Party()
        if acct_el is not None:
            number, iban = _acct_ident(acct_el)
            acc_id = account_id(number, iban=iban, bank=bank)
            out.account = iban or number
            if acc_id:
                self.c.add(
                    "accounts",
                    {
                        "account_id": acc_id,
                        "institution": bank,
                        "account_number": number,
                        "iban": iban,
                        "name": _squash(_ptext(acct_el, "Nm")),
                        "currency": (_ptext(acct_el, "Ccy") or "").upper() or None,
                        "source_ref": self.ref(acct_el),
                    },
                )
        out.account_id = acc_id
        if el is None:
            return out
        pty = _child(el, "Pty")
        body = pty if pty is not None else el
        agent = _child(el, "Agt")
        name = _squash(_ptext(body, "Nm"))
        if agent is not None:  # v08+: the party is a financial institution
            name = name or _squash(_ptext(agent, "FinInstnId", "Nm"))
            out.bic = _agent_bic(agent)[0]
        out.name = name
        if not name:
            return out
        xp = self.xpath(el)
        pid = stable_id("P", self.report_id, xp)
        out.party_id = pid
        ident = _child(body, "Id")
        person = _child(ident, "PrvtId") is not None
        adr = _child(body, "PstlAdr")
        country = (_ptext(adr, "Ctry") or _ptext(body, "CtryOfRes") or "").upper()
        self.c.add(
            "parties",
            {
                "party_id": pid,
                "kind": "person" if person else "entity",
                "name": name,
                "birth_date": (_parse_dt(_ptext(ident, "PrvtId", "DtAndPlcOfBirth", "BirthDt")) or (None, None, None))[2],
                "country": country if re.fullmatch(r"[A-Z]{2}", country) else None,
                "report_id": self.report_id,
                "source_ref": self.c.ref(xp),
            },
        )
        if acc_id:
            self.c.add("party_accounts", {"party_id": pid, "account_id": acc_id, "role": "holder", "source_ref": self.c.ref(xp)})
        self.identifiers(pid, body, adr)
        return out

    def identifiers(self, pid: str, body, adr) -> None:
        def add(kind: str, value: str | None, raw: str | None, el) -> None:
            if value:
                self.c.add(
                    "identifiers",
                    {"owner_kind": "party", "owner_id": pid, "kind": kind, "value": value, "raw": raw, "source_ref": self.ref(el)},
                )

        ident = _child(body, "Id")
        for org in _children(ident, "OrgId"):
            lei = _ptext(org, "LEI")
            if lei:
                add("id_document", f"LEI:{_norm_id(lei)}", lei, org)
            for othr in _children(org, "Othr"):
                self.other_id(add, othr, {"TXID": "tax_id"})
        for prv in _children(ident, "PrvtId"):
            for othr in _children(prv, "Othr"):
                self.other_id(add, othr, {"TXID": "tax_id", "NIDN": "national_id", "SOSE": "national_id", "CCPT": "passport"})
        if adr is not None:
            lines = [_text(a) for a in _children(adr, "AdrLine")]
            parts = [_ptext(adr, n) for n in ("StrtNm", "BldgNb", "PstCd", "TwnNm")] + lines + [_ptext(adr, "Ctry")]
            raw = ", ".join(_squash(p) for p in parts if p)
            if raw and (lines or _ptext(adr, "StrtNm") or _ptext(adr, "TwnNm")):
                # normalised as every adapter does, from the parts in goAML's order (street, town,
                # country), so one address matches across formats
                street = [_ptext(adr, "StrtNm"), _ptext(adr, "BldgNb"), *lines, _ptext(adr, "TwnNm"), _ptext(adr, "Ctry")]
                key = normalize_address(", ".join(_squash(p) for p in street if p))
                add("address", key or raw.casefold(), raw, adr)
        # contact details (CtctDtls): phones and e-mail, as the other adapters read them
        contact = _child(body, "CtctDtls")
        if contact is not None:
            region = (_ptext(adr, "Ctry") or _ptext(body, "CtryOfRes") or "").upper() or None
            for tag in ("MobNb", "PhneNb"):
                for el in _children(contact, tag):
                    raw = _text(el)
                    if raw and sum(ch.isdigit() for ch in raw) >= 5:
                        # ISO 20022 writes +CC-NUMBER: the dash after the country code is a separator
                        add("phone", normalize_phone(raw.replace("-", " "), region) or raw.strip(), raw, el)
            for el in _children(contact, "EmailAdr"):
                raw = _text(el)
                if raw and "@" in raw:
                    add("email", normalize_email(raw) or raw.strip().casefold(), raw, el)

    @staticmethod
    def other_id(add, othr, kinds: dict) -> None:
        number = _ptext(othr, "Id")
        if not number:
            return
        scheme = (_ptext(othr, "SchmeNm", "Cd") or _ptext(othr, "SchmeNm", "Prtry") or "").upper()
        add(kinds.get(scheme, "id_document"), _norm_id(f"{scheme}:{number}" if scheme else number), number, othr)


def _raw(el) -> str:
    return etree.tostring(el, encoding="unicode", with_tail=False)[:_RAW_MAX]


# --------------------------------------------------------------------------- read
class _Repeats:
    """Parser target of the first pass: no tree is built, only sibling counts are kept."""

    def __init__(self, path: Path):
        self.path = path
        self.repeats: set = set()
        self.stack: list[tuple[tuple, dict]] = []
        self.seen = False

    def doctype(self, name, pubid, system):
        raise _Refused

    def start(self, tag, attrib, nsmap=None):
        name = tag.rpartition("}")[2]
        self.seen = True
        if self.stack:
            key, counts = self.stack[-1]
            n = counts.get(name, 0) + 1
            counts[name] = n
            if n == 2:
                self.repeats.add((key, name))
            self.stack.append((key + ((name, n),), {}))
        else:
            self.stack.append((((name, 1),), {}))

    def end(self, tag):
        self.stack.pop()

    def data(self, data):
        pass

    def close(self):
        return self.repeats


class _Refused(Exception):
    pass


def _repeats(path: Path) -> set:
    """First pass: which (parent, child name) pairs repeat, so that an XPath indexes a step
    only where its name repeats among its siblings (``Stmt/Ntry[2]``, ``Stmt/Acct``).

    A parser target (no tree); the set holds one entry per parent with repeated
    children (e.g. one per statement, one per batch entry). Raises :class:`InputError`
    for a file that is not well-formed, empty, or declares a DOCTYPE (wherever it is,
    in any encoding: the parser reports it).
    """
    target = _Repeats(path)
    parser = etree.XMLParser(target=target, remove_comments=True, remove_pis=True, **PARSER_OPTIONS)
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                parser.feed(block)
        return parser.close()
    except _Refused:
        raise InputError(
            f"{path.name}: refused: the file declares a DOCTYPE / XML entities "
            "(entity expansion and external entities); camt messages never need one"
        ) from None
    except etree.XMLSyntaxError as exc:
        if not target.seen and exc.code in (4, 5):  # ERR_DOCUMENT_EMPTY, ERR_DOCUMENT_END
            raise InputError(f"{path}: empty XML document") from None
        raise syntax_error(path, exc) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {getattr(exc, 'strerror', None) or 'I/O error'}") from None


class _StreamPaths:
    """XPaths of the live elements of a streaming parse, computed on demand.

    A step is indexed only where its name repeats among its siblings (known from the
    first pass for parents still being read); elements already handled and freed are
    counted per parent, so the positions of the later ones stay right.
    """

    def __init__(self, repeats: set):
        self.repeats = repeats
        self.memo: dict = {}  # element -> (key, path); key = ((name, index), ...) from the root
        self.released: dict = {}  # parent element -> {name: children freed}

    def key_path(self, el) -> tuple[tuple, str]:
        got = self.memo.get(el)
        if got is not None:
            return got
        parent = el.getparent()
        name = _local(el)
        if parent is None:
            res = (((name, 1),), "/" + name)
        else:
            pkey, ppath = self.key_path(parent)
            base = self.released.get(parent, {}).get(name, 0)
            count = 0
            for sib in el.itersiblings(preceding=True):
                if isinstance(sib.tag, str) and _local(sib) == name:
                    known = self.memo.get(sib)
                    if known is not None:
                        base = known[0][-1][1]
                        break
                    count += 1
            idx = base + count + 1
            step = f"{name}[{idx}]" if (pkey, name) in self.repeats else name
            res = (pkey + ((name, idx),), f"{ppath}/{step}")
        self.memo[el] = res
        return res

    def __call__(self, el) -> str:
        return self.key_path(el)[1]

    def release(self, el) -> None:
        """Free a handled element: its paths, its content and the element itself."""
        parent = el.getparent()
        if parent is not None:
            self.key_path(el)  # the next sibling counts from this one
            freed = self.released.setdefault(parent, {})
            name = _local(el)
            freed[name] = self.memo[el][0][-1][1]
        for sub in el.iter():
            self.memo.pop(sub, None)
            self.released.pop(sub, None)
        el.clear(keep_tail=False)
        if parent is not None:
            parent.remove(el)


def _message(path: Path, doc, msg) -> tuple[str, str, str, bool]:
    """(message type, kind, statement tag, nonstandard namespace) of ``msg`` in ``doc``, or raise."""
    ns = etree.QName(doc).namespace
    m = _NS_RE.fullmatch(ns or "")
    nonstandard = False
    if m:
        msg_type = f"{m['kind']}.001.{m['ver']}"
        if msg is None:
            raise InputError(f"{path}: namespace {ns_label(ns)} announces {msg_type} but there is no {'/'.join(_MESSAGES)} element")
    else:
        iso = _ISO_NS_RE.fullmatch(ns or "")
        if iso:
            raise InputError(
                f"{path}: unsupported message type {iso['type']} (namespace {ns_label(ns)}); "
                "the camt adapter reads camt.052, camt.053 and camt.054"
            )
        if msg is None:
            raise InputError(
                f"{path}: not a camt message: {ns_label(ns)}, {tag_label(_local(doc))}; "
                "expected urn:iso:std:iso:20022:tech:xsd:camt.05[234].001.NN"
            )
        nonstandard = True
        loose = _LOOSE_TYPE_RE.search(ns or "")
        msg_type = loose.group(1) if loose else _MESSAGES[_local(msg)][0]
    kind, stmt_tag = _MESSAGES[_local(msg)]
    return msg_type, kind, stmt_tag, nonstandard


#: The only elements the streaming pass is told about (the rest is read from the tree).
_EVENT_TAGS = ["{*}Document", "{*}Ntry", "{*}Stmt", "{*}Rpt", "{*}Ntfctn", *(f"{{*}}{m}" for m in _MESSAGES)]


def _stream(path: Path) -> Bundle:
    """Second pass: read the message streaming, one entry at a time.

    Each ``Ntry`` is read when its end tag arrives and then freed, with everything
    before it, so memory is bounded by the largest entry plus the output rows, not by
    the file. Elements outside the structure camt defines - an entry, statement or
    message nested in or repeated beside the one being read - are rejects
    (``misplaced_element``), never silently skipped.
    """
    paths = _StreamPaths(_repeats(path))
    doc = msg = None
    reader: _Reader | None = None
    open_stmts: dict = {}  # statement element -> state (begun at its first entry)
    early: list = []  # entries before the message element: misplaced
    first_document = root = None
    events = etree.iterparse(
        str(path), events=("start", "end"), tag=_EVENT_TAGS, remove_comments=True, remove_pis=True, **PARSER_OPTIONS
    )  # fmt: skip
    try:
        for event, el in events:
            if root is None:
                root = el.getroottree().getroot()
            name = _local(el)
            if event == "start":
                if name == "Document" and first_document is None:
                    first_document = el
                elif msg is None and name in _MESSAGES:
                    parent = el.getparent()
                    host = first_document if first_document is not None else root
                    if el is host or parent is host:
                        doc, msg = (host, el) if parent is host else (el, el)
                        reader = _Reader(path, doc, msg, *_message(path, doc, msg), paths)
                        for ntry in early:  # entries met before the message began
                            _reject_misplaced(reader, ntry, "Ntry: outside its place (before the message)")
                continue
            parent = el.getparent()
            if reader is None and name == "Ntry":
                early.append(el)  # rejected once the message (and so the reader) is known
                continue
            if reader is None or el is msg or el is doc or name == "Document":
                continue  # before the message, or the message itself: kept until the end
            if name == "Ntry":
                st = parent
                if st is not None and _local(st) == reader.stmt_tag and st.getparent() is msg:
                    state = open_stmts.get(st)
                    if state is None:
                        state = open_stmts[st] = reader.begin_statement(st)
                    reader.add_entry(state, el)
                else:
                    _reject_misplaced(reader, el, "Ntry: outside its place (an entry directly in a statement of the message)")
                paths.release(el)
            elif name == reader.stmt_tag and parent is msg:
                state = open_stmts.pop(el, None) or reader.begin_statement(el)
                reader.end_statement(el, state)
                paths.release(el)
            else:
                # a second message, or a statement outside the message: its entries were rejected above
                reader.c.reject(
                    "statements", paths(el), f"{name}: outside its place (nested or repeated)", _raw(el), code="misplaced_element"
                )
                paths.release(el)
    except etree.XMLSyntaxError as exc:
        raise syntax_error(path, exc) from None
    if reader is None:
        if root is None:  # no event at all: read the root element itself
            root = etree.parse(str(path), etree.XMLParser(**PARSER_OPTIONS)).getroot()
        host = first_document if first_document is not None else root
        _message(path, host, None)  # raises with the namespace and element found
    return reader.finish()


def _reject_misplaced(reader: _Reader, ntry, reason: str) -> None:
    """One reject per record the entry would have given (its ``TxDtls``, at least one)."""
    txds = [tx for nd in _children(ntry, "NtryDtls") for tx in _children(nd, "TxDtls")]
    for place in txds or [ntry]:
        reader.c.reject("transactions", reader.xpath(place), reason, _raw(place), code="misplaced_element")
    _KIDS.clear()


def read(path, **_other) -> Bundle:
    """Read one camt.052 / camt.053 / camt.054 message into the canonical tables.

    Parameters
    ----------
    path : str or path-like
        The XML file (any encoding XML declares; a ``Document`` at the root or inside a
        wrapper such as a SWIFT ``Envelope``).
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        * ``reports``: one row; ``report_code`` the message type
          (``camt.053.001.02``), ``entity_reference`` the ``GrpHdr/MsgId``,
          ``submitted_at`` its ``CreDtTm`` in UTC, ``reporting_entity`` the servicing
          bank's BIC.
        * ``statements``: one row per ``Stmt``/``Rpt``/``Ntfctn``: account, currency,
          booked ``opening_balance`` (OPBD, else PRCD, else the first of two ITBD) and
          ``closing_balance`` (CLBD, else the last ITBD) signed by ``CdtDbtInd``,
          ``entries_total`` = signed sum of the *booked* entries' ``Ntry/Amt``, and
          ``reconciled`` = opening + total == closing (null when a balance is missing).
          A statement that does not reconcile is reported, not refused: ``reconciled``
          false and the flag ``balance_mismatch`` on it and on its rows. Extra columns:
          ``statement_ref`` (``Id``), ``statement_number`` (``ElctrncSeqNb``),
          ``message_type``, ``info`` and ``quality_flags``.
        * ``transactions``: one row per ``TxDtls``, or per entry without (or with one)
          ``TxDtls``; every row of an entry shares ``entry_ref`` (the entry's
          ``file#XPath``); ``txn_id`` hashes the statement account and the entry's (and
          ``TxDtls``'s) normalised values, never the file name. ``amount`` /
          ``currency``: the booked ``Ntry/Amt`` for an entry with at most one
          ``TxDtls`` (so an FX credit counts in the account currency), else each
          ``TxDtls``'s own ``AmtDtls/TxAmt/Amt`` or ``Amt``; ``instructed_amount`` /
          ``instructed_currency`` from ``InstdAmt`` (or a foreign-currency transaction
          amount); ``fx_rate`` the stated ``XchgRate``, never recomputed. ``timestamp``:
          the booking date (``BookgDt``; a date alone is 00:00 UTC, a ``DtTm`` with an
          offset is converted to UTC and the offset kept in ``tz_offset_minutes``),
          else the value date, else the transaction's acceptance/settlement date.
          Direction, accounts and parties as in the module notes; ``counterparty_name``
          / ``_account`` / ``_bic`` from ``RltdPties`` and ``RltdAgts`` (the ``Dbtr``
          side of a credit, the ``Cdtr`` side of a debit); ``is_reversal`` from
          ``RvslInd``; ``channel`` from ``BkTxCd/Domn`` (CWDL cash_withdrawal, CDPT
          cash_deposit, CCRD/MCRD card, RCDT/ICDT/RDDT/IDDT transfer, ICHQ/RCHQ cheque,
          else other); ``description`` from ``RmtInf/Ustrd`` (else the structured
          reference, ``AddtlTxInf``, ``AddtlNtryInf``). Extra columns:
          ``signed_amount`` (credit +, debit -), ``entry_amount`` (the ``Ntry/Amt``),
          ``end_to_end_id``, ``uetr`` (v08+ ``Refs/UETR``), ``bank_tx_code`` (``Domn/Fmly/SubFmly`` or
          ``PRTRY:<code>``). ``quality_flags`` among: not_booked (pending/info entries,
          not counted in balances), status_missing (counted as booked),
          batch_sum_mismatch (the details do not add up to the entry; both amounts
          kept), batch_without_details (``Btch/NbOfTxs`` more than the details given),
          amount_missing, amount_rounded, currency_unknown, date_missing,
          negative_amount, self_transfer, balance_mismatch, interim (camt.052),
          namespace_nonstandard.
        * ``accounts``: the statement account (institution = servicer BIC) and every
          counterparty account; ``parties``: the account owner (``Acct/Ownr``) and each
          named counterparty mention (``kind`` person when it has a ``PrvtId``, else
          entity); ``party_accounts``: holder links; ``identifiers``: LEI, ``Othr``
          ids (``SCHEME:ID``) and postal addresses of those parties.
        * ``rejects``: entries or details whose amount or ``CdtDbtInd`` cannot be read
          (the reason names the element).

    Raises
    ------
    InputError
        The file cannot be opened or is not well-formed XML (the message names line
        and column); it declares entities in a DOCTYPE (refused: entity expansion and
        external entities); or it is not a camt.052/053/054 message (the message names
        the namespace and message type found, e.g. ``unsupported message type
        pacs.008.001.08``).

    Examples
    --------
    >>> b = read("tests/data/camt/br04_batch.xml")
    >>> [(r["end_to_end_id"], str(r["amount"]), r["counterparty_name"]) for r in b.transactions.to_pylist()]
    [('E2E-A', '329.560', 'ALPHA HANDEL GMBH'), ('E2E-B', '100.000', 'BETA KG')]
    >>> b.statements.column("reconciled").to_pylist()
    [True]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(131072)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or 'I/O error'}") from None
    refuse_doctype(path, head, "camt messages")
    return _stream(path)
