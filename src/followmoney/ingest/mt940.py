"""SWIFT MT940 (customer statement) and MT942 (interim transaction report) adapter.

One MT940/MT942 file (one or more statements, with or without SWIFT blocks or bank
preamble lines) becomes one :class:`~followmoney.Bundle`:

* ``statements``: one row per ``:20:`` ... ``:62:`` block with its opening and closing
  booked balances and a reconciliation check;
* ``transactions``: one row per ``:61:`` statement line, or one reject naming the line
  and the field that could not be read;
* ``accounts``, ``parties``, ``party_accounts``, ``identifiers``: the statement account
  (``:25:``) and every counterparty the ``:86:`` information names;
* ``reports``: one row for the file.

Why an own tokenizer
--------------------
The ``mt-940`` package (wolph, checked at 5.1.1) was tried first; its output for the
cases in ``shared/cases/ingest.md`` is what decided against it:

* a statement-level ``:86:`` after ``:62F:``/``:64:`` (BR-01 ``/SUM/...``) overwrites
  the last transaction's details instead of belonging to the statement;
* ``?20``-``?29`` remittance chunks are joined without any separator
  (``"RECHNUNG 4711TEIL 2 VON 2"``), and the ``RC`` reversal mark is positive unless
  an option is set;
* it knows no line numbers, so a row cannot point back to ``file:line``, and one
  malformed ``:61:`` raises for the whole file instead of being one reject;
* a file is one collection: several statements need a second pass that splits on
  ``:20:`` and loses preamble lines and separators.

So this module tokenizes the tags itself (about as many lines as the work-arounds
would take) and keeps every physical line number.

Reading rules
-------------
* Tags start a line (``:61:``, ``:86:``, ``:NS:`` ...); other lines continue the
  current field. A tag-shaped line with an unknown tag inside a ``:86:``/``:NS:`` is a
  wrapped continuation (``...T13`` / ``:12:11``). Lines before the first ``:20:`` of a
  message (bank preambles such as ``ABNANL2A``/``940``, ``{1:...}{2:...}{4:`` blocks)
  are skipped; ``-`` (and ``-}``, ``-XXX``) ends a message.
* ``:86:`` after a ``:61:`` belongs to that line (several ``:86:`` are joined); a
  ``:86:`` before the first ``:61:`` or after ``:62:``/``:64:``/``:65:`` belongs to the
  statement (``statements.info``).
* Amounts: the decimal comma is replaced by a point and read with :class:`~decimal.Decimal`
  (``"0,"``, ``"2400,"``, ``"000000001000,00"`` are valid), so the result does not
  depend on the locale. Marks: ``C`` credit, ``D`` debit, ``RC`` reversal of a credit
  (money leaves: negative), ``RD`` reversal of a debit (positive); a letter after the
  mark is the funds code (``CR15,00`` is a credit of 15.00 with funds code ``R``). A
  ``-`` after the mark is ignored with the flag ``nonstandard_mark``.
* Dates ``YYMMDD``: years 70-99 are 19xx, others 20xx; the entry date ``MMDD`` takes the
  value date's year, corrected across a year end. An impossible value date (30 Feb) is
  neither rejected nor moved: the row keeps a null ``value_date``, the flag
  ``invalid_value_date`` and the entry date as its time; a line with no valid date at
  all is rejected.
* Encodings: UTF-8 first, then the ``encoding`` option (default ``latin-1``, which
  never fails; rows then carry ``encoding_guessed``). Control characters (SOH/ETX
  framing) are dropped.
* Structured ``:86:``: German ``GVC?00...?63`` (or ``>`` as separator): ``?20``-``?29``
  and ``?60``-``?63`` remittance (SEPA ``SVWZ+`` text preferred, ``EREF+`` as
  end-to-end id), ``?30`` BIC or bank code, ``?31`` account, ``?38`` IBAN,
  ``?32``/``?33`` name; Dutch ``/EREF//NAME//REMI//IBAN//BIC/``; Polish mBank
  ``Z RACH.:``/``NA RACH.:``/``OD:``/``DLA:``/``TYT.:``; Knab ``REK: .../NAAM: ...``.
  Anything else is free text (``description``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from followmoney.core.bundle import Bundle
from followmoney.core.units import quantize_money
from followmoney.ingest._collect import Collector, ContentIds, InputError, file_digest, fits_money
from followmoney.core.ids import stable_id
from followmoney.ingest.camt import account_id, is_bic, is_iban, typed_extras

__all__ = ["FORMAT", "sniff", "is_companion", "read", "parse_details"]

FORMAT = "mt940"

_TAG_RE = re.compile(r":(\d{2}[A-Z]?|NS):(.*)")
_KNOWN_TAGS = frozenset(
    {"13", "13D", "20", "21", "25", "25P", "28", "28C", "34F", "60", "60F", "60M", "61", "62", "62F", "62M"}
    | {"64", "65", "86", "90C", "90D", "NS"}
)
_END_RE = re.compile(r"-(?:[A-Z]{3})?\}?\s*|-\}.*")
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_MONEY = Decimal(10) ** 15
_RAW_MAX = 20000

_61_RE = re.compile(
    r"(?P<vdate>\d{6})(?P<edate>\d{4})?"
    r"(?P<mark>R[CD]|[CD])(?P<funds>[A-Z])?"
    r"(?P<minus>-)?(?P<amount>[\d,.]*\d[\d,.]*|,\d+)"
    r"(?P<type>[A-Z][A-Z0-9 ]{3})?"
    r"(?P<rest>.*)",
    re.IGNORECASE,
)
_61_HEAD_RE = re.compile(r"\d{6}(?:\d{4})?R?[CD][A-Z]?", re.IGNORECASE)
_BAL_RE = re.compile(r"(?P<mark>[CD])(?P<date>\d{6})(?P<ccy>[A-Z]{3})?(?P<amount>[\d,.]+)")
_AMT_TAIL_RE = re.compile(r"(?P<number>\d*)(?P<ccy>[A-Z]{3})(?P<amount>[\d,.]+)")

#: :61: transaction type identification codes (after N/F) with a clear channel.
_TYPE_CHANNEL = {"TRF": "transfer", "STO": "transfer", "DDT": "transfer", "CHK": "cheque", "CLR": "cheque", "TCK": "cheque"}
#: German GV codes with a clear channel (082 Einzahlung, 083 Auszahlung).
_GVC_CHANNEL = {"082": "cash_deposit", "083": "cash_withdrawal"}


# --------------------------------------------------------------------------- sniffing
_SNIFF_20 = re.compile(rb"^:20:", re.M)
_SNIFF_BODY = re.compile(rb"^:(?:28C?|60[FM]?|61|62[FM]?|34F|13D):", re.M)
#: A statement fragment without ':20:': the first line is a balance or statement line.
_SNIFF_FRAGMENT = re.compile(rb"\s*:(?:60[FM]|62[FM]):[CD]\d{6}[A-Z]{3}[\d,]|\s*:61:\d{6}(?:\d{4})?R?[CD]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like an MT940 or MT942 statement.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when a line starts with ``:20:`` and another with a statement tag
        (``:28:``/``:28C:``, ``:60F:``/``:60M:``, ``:61:``, ``:62F:``/``:62M:``,
        ``:34F:``, ``:13D:``); or when the file is a statement fragment without
        ``:20:`` whose first line is a balance (``:60F:C100318EUR...``) or a statement
        line (``:61:YYMMDD...``). MT103/MT101 payment messages have none of those.

    Examples
    --------
    >>> sniff("s.sta", b":20:STMT-1\\r\\n:25:TESTBANK/0001\\r\\n:28C:1/1\\r\\n:60F:C240101EUR0,\\r\\n")
    True
    >>> sniff("p.fin", b"{4:\\n:20:REF\\n:23B:CRED\\n:32A:240101EUR10,\\n-}")
    False
    """
    head = head.replace(b"\r", b"\n").lstrip(b"\xef\xbb\xbf")
    if _SNIFF_20.search(head) and _SNIFF_BODY.search(head):
        return True
    return bool(_SNIFF_FRAGMENT.match(head))


def is_companion(path) -> bool:
    """MT940 files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- tokens
@dataclass
class _Field:
    tag: str
    line: int
    lines: list[str]

    def text(self, sep: str = "\n") -> str:
        lines = list(self.lines)
        while lines and not lines[-1].strip():
            lines.pop()
        return sep.join(lines)


@dataclass
class _Token:
    """A field, or a message end (``field`` None)."""

    field: _Field | None
    line: int


def _tokenize(text: str) -> tuple[list[_Token], set[str]]:
    """Split the text into fields with their first line number; collect type hints."""
    tokens: list[_Token] = []
    hints: set[str] = set()
    current: _Field | None = None
    lines = text.split("\n")
    for i in range(len(lines) - 1):  # a tag broken after its first colon (":" then "86:...")
        if lines[i].strip() == ":" and re.match(r"(?:\d{2}[A-Z]?|NS):", lines[i + 1]):
            lines[i], lines[i + 1] = "", ":" + lines[i + 1]
    for no, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if line.startswith("{"):
            m = re.search(r"\{2:[IO](\d{3})", line)
            if m:
                hints.add(m.group(1))
            idx = line.find("{4:")
            if idx < 0:
                continue
            line = line[idx + 3 :]
            current = None
            if not line.strip():
                continue
        if _END_RE.fullmatch(line.strip()) and line.startswith("-"):
            tokens.append(_Token(None, no))
            current = None
            continue
        m = _TAG_RE.match(line)
        if m and (m.group(1) in _KNOWN_TAGS or current is None or current.tag not in ("86", "NS")):
            current = _Field(m.group(1), no, [m.group(2)])
            tokens.append(_Token(current, no))
            continue
        if current is not None:
            current.lines.append(line)
            continue
        if line.strip():  # preamble before a message
            for h in re.findall(r"(?<!\d)(94[02])(?!\d)", line):
                hints.add(h)
    return tokens, hints


# --------------------------------------------------------------------------- values
def _amount(text: str, currency: str | None = None) -> tuple[Decimal, list[str]]:
    """MT amount (decimal comma) -> (Decimal quantized to ``currency``'s ISO 4217 minor units, flags).

    >>> _amount("19053,79"), _amount("119,")[0], _amount("000000001000,00")[0]
    ((Decimal('19053.79'), []), Decimal('119.00'), Decimal('1000.00'))
    >>> _amount("500")
    (Decimal('500.00'), ['nonstandard_amount'])
    """
    flags = []
    t = text.strip()
    if t.count(",") + t.count(".") > 1 or not re.fullmatch(r"\d*[,.]?\d*", t) or not re.search(r"\d", t):
        raise ValueError(f"not an amount ({t[:40]!r})")
    if "." in t or "," not in t:
        flags.append("nonstandard_amount")
    d = Decimal(t.replace(",", ".") if t[-1:] not in ",." else t[:-1] or "0")
    q, rounded = quantize_money(d, currency)
    if rounded:
        flags.append("amount_rounded")
    if q >= _MAX_MONEY:
        raise ValueError("does not fit decimal(18,3)")
    return q, flags


def _year(yy: str) -> int:
    y = int(yy)
    return 1900 + y if y >= 70 else 2000 + y


def _yymmdd(s: str) -> date | None:
    try:
        return date(_year(s[:2]), int(s[2:4]), int(s[4:6]))
    except ValueError:
        return None


def _entry_date(mmdd: str, vdate_raw: str, vdate: date | None) -> date | None:
    """``MMDD`` entry date in the value date's year, corrected across a year end."""
    year, vmonth = _year(vdate_raw[:2]), int(vdate_raw[2:4])
    month = int(mmdd[:2])
    if month - vmonth > 6:
        year -= 1
    elif vmonth - month > 6:
        year += 1
    try:
        return date(year, month, int(mmdd[2:]))
    except ValueError:
        return None


@dataclass
class _Balance:
    amount: Decimal
    currency: str | None
    date: date | None


def _balance(value: str, flags: list) -> _Balance | None:
    m = _BAL_RE.match(value.strip())
    if not m:
        flags.append("balance_unreadable")
        return None
    try:
        amount, aflags = _amount(m["amount"], m["ccy"])
    except ValueError:
        flags.append("balance_unreadable")
        return None
    if m["ccy"] is None:
        flags.append("balance_currency_missing")
    if m["mark"] == "D":
        amount = -amount
    return _Balance(amount, m["ccy"], _yymmdd(m["date"]))


def _squash(s: str | None) -> str | None:
    if s is None:
        return None
    s = re.sub(r"\s+", " ", s).strip()
    return s or None


def _join_fixed(chunks: list[str], width: int = 27) -> str | None:
    """Join fixed-width sub-fields: a full chunk was cut mid-text, a shorter one ends a phrase.

    >>> _join_fixed(["RECHNUNG 4711", "TEIL 2 VON 2"])
    'RECHNUNG 4711 TEIL 2 VON 2'
    >>> _join_fixed(["SVWZ+Strukturierter Verwend", "ungszweck 30030004 DE"])
    'SVWZ+Strukturierter Verwendungszweck 30030004 DE'
    """
    out = ""
    prev = None
    for c in chunks:
        if prev is None:
            out = c
        elif len(prev) == width:
            out += c
        else:
            out = out.rstrip() + " " + c.lstrip()
        prev = c
    return _squash(out)


# --------------------------------------------------------------------------- :86:
@dataclass
class _Info:
    description: str | None = None
    name: str | None = None
    account: str | None = None
    bic: str | None = None
    bank_code: str | None = None
    end_to_end_id: str | None = None
    address: str | None = None
    gvc: str | None = None
    bank_ref: str | None = None


_DE_RE = re.compile(r"\s*(\d{3})([?>])(\d{2})")
_SEPA_RE = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|COAM|OAMT)\+|(MTLG):")
_NL_KEYS = (
    "TRTP|IBAN|BIC|NAME|REMI|EREF|ORDP|BENM|ADDR|ISDT|CSID|MARF|PREF|RTRN|CNTP|ULTD|ULTB|ULTC|PURP|SVCL|"
    "ID|USTD|STRD|CDTRREFTP|CDTRREF|ISSR|CD|ACCW|EXCH|OCMT|CHGS|RTYP"
)
_NL_RE = re.compile(rf"/({_NL_KEYS})/")
_PL_LABEL = re.compile(r"\s*(Z RACH\.|NA RACH\.|OD|DLA|TYT\.|TNR|ID IPH)\s*:\s*(.*)", re.S)
_PLACEHOLDERS = frozenset({"NONREF", "NOTPROVIDED", "NOT PROVIDED", "-", "/"})


def _clean(s: str | None) -> str | None:
    s = _squash(s)
    return None if s is None or s.upper() in _PLACEHOLDERS else s


def parse_details(lines: list[str]) -> _Info:
    """Read the counterparty and remittance out of a ``:86:`` field.

    Parameters
    ----------
    lines : list of str
        The field's physical lines (the first without its ``:86:`` tag).

    Returns
    -------
    _Info
        ``description``, ``name``, ``account``, ``bic``, ``bank_code``,
        ``end_to_end_id``, ``address``, ``gvc``, ``bank_ref`` (None where absent).

    Examples
    --------
    >>> i = parse_details(["166?00GUTSCHRIFT?20RECHNUNG 4711?21TEIL 2 VON 2",
    ...                    "?30TESTDEFFXXX?31XX12TEST0000000002?32ALPHA HANDEL GMBH"])
    >>> i.description, i.bic, i.account, i.name
    ('RECHNUNG 4711 TEIL 2 VON 2', 'TESTDEFFXXX', 'XX12TEST0000000002', 'ALPHA HANDEL GMBH')
    >>> parse_details(["/EREF/E-1/BENM//NAME/CONTRA ACCOUN", "T HOLDER/REMI/INV 7/ISDT/2013-07-11"]).name
    'CONTRA ACCOUNT HOLDER'
    """
    glued = "".join(lines)
    m = _DE_RE.match(glued)
    if m:
        return _parse_de(glued, m)
    stripped = glued.strip()
    if stripped.startswith("/") and _NL_RE.match(stripped):
        return _parse_nl(stripped)
    if re.match(r"\s*\d{3} ", glued) and re.search(r"(?:Z RACH\.|NA RACH\.|OD|DLA|TYT\.)\s*:", glued):
        return _parse_pl(glued)
    text = _squash("\n".join(lines))
    info = _Info(description=_clean(text))
    if text:
        k = re.search(r"REK:\s*([A-Z]{2}\d{2}[A-Z0-9]{10,30}|\d[\d.]*)\s*/\s*NAAM:\s*(.+?)\s*$", text)
        if k:
            info.account, info.name = k.group(1), _clean(k.group(2))
    return info


def _parse_de(glued: str, m: re.Match) -> _Info:
    gvc, sep = m.group(1), m.group(2)
    parts = re.split(re.escape(sep) + r"(\d{2})", glued[m.start(2) :])
    fields: dict[str, list[str]] = {}
    for key, value in zip(parts[1::2], parts[2::2]):
        fields.setdefault(key, []).append(value)

    def chunks(keys) -> list[str]:
        return [v for k in keys for v in fields.get(k, [])]

    info = _Info(gvc=gvc)
    remittance = _join_fixed(chunks([f"{i}" for i in range(20, 30)] + ["60", "61", "62", "63"]))
    if remittance and _SEPA_RE.search(remittance):
        sepa: dict[str, str] = {}
        marks = list(_SEPA_RE.finditer(remittance))
        prefix = remittance[: marks[0].start()].strip()
        for i, mk in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(remittance)
            sepa.setdefault(mk.group(1) or mk.group(2), remittance[mk.end() : end].strip())
        info.end_to_end_id = _clean(sepa.get("EREF"))
        info.description = _clean(sepa.get("SVWZ")) or _clean(sepa.get("MTLG")) or _clean(prefix) or _clean(remittance)
        info.account = _clean(sepa.get("IBAN"))
        info.bic = _clean(sepa.get("BIC"))
    else:
        info.description = _clean(remittance)
    b30 = _clean("".join(fields.get("30", [])))
    if b30 and is_bic(b30):
        info.bic = b30.upper()
    elif b30:
        info.bank_code = b30
    iban38 = _clean("".join(fields.get("38", [])))
    acct = iban38 if is_iban(iban38) else _clean("".join(fields.get("31", [])))
    info.account = acct or info.account
    info.name = _clean(_join_fixed(chunks(["32", "33"])))
    if info.description is None:
        info.description = _clean(" ".join(fields.get("00", [])))
    return info


def _parse_nl(text: str) -> _Info:
    marks = list(_NL_RE.finditer(text))
    vals: dict[str, str] = {}
    for i, mk in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        vals.setdefault(mk.group(1), text[mk.end() : end].strip("/ "))
    info = _Info(name=_clean(vals.get("NAME")), account=_clean(vals.get("IBAN")), bic=_clean(vals.get("BIC")))
    if vals.get("CNTP"):  # ING: /CNTP/account/BIC/name/city/
        cntp = vals["CNTP"].split("/")
        info.account = info.account or _clean(cntp[0])
        info.bic = info.bic or (_clean(cntp[1]) if len(cntp) > 1 else None)
        info.name = info.name or (_clean(cntp[2]) if len(cntp) > 2 else None)
    remi = vals.get("REMI", "")
    remi = re.sub(r"^(?:USTD|STRD)/+", "", remi)
    info.description = _clean(remi) or _clean(vals.get("USTD"))
    info.end_to_end_id = _clean(vals.get("EREF"))
    return info


def _parse_pl(glued: str) -> _Info:
    info = _Info(gvc=glued.strip()[:3])
    segs = glued.split(";")
    for seg in segs:
        m = _PL_LABEL.match(seg)
        if not m:
            continue
        label, value = m.group(1), m.group(2)
        if label in ("Z RACH.", "NA RACH."):
            info.account = info.account or _clean(re.sub(r"\s+", "", value))
        elif label in ("OD", "DLA") and info.name is None:
            parts = [p for p in re.split(r"\s{2,}|\n", value.strip()) if p.strip()]
            info.name = _clean(parts[0]) if parts else None
            info.address = _clean(" ".join(parts[1:]))
        elif label == "TYT.":
            info.description = _clean(value)
        elif label == "TNR":
            info.bank_ref = _clean(re.sub(r"\s+", "", value))
    if info.description is None:
        info.description = _clean(glued)
    return info


# --------------------------------------------------------------------------- statements
@dataclass
class _Entry:
    f61: _Field
    details: list[_Field] = field(default_factory=list)
    ns: list[_Field] = field(default_factory=list)


@dataclass
class _Statement:
    line: int
    fields: dict[str, list[_Field]] = field(default_factory=dict)
    entries: list[_Entry] = field(default_factory=list)
    info: list[_Field] = field(default_factory=list)
    ns: list[_Field] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    headerless: bool = False

    def first(self, *tags: str) -> _Field | None:
        for t in tags:
            if self.fields.get(t):
                return self.fields[t][0]
        return None


#: Tags that open a statement in a fragment without ':20:' (headerless mode).
_OPENING_TAGS = frozenset({"25", "25P", "28", "28C", "60", "60F", "60M", "61", "62", "62F", "62M"})


def _group(tokens: list[_Token], headerless: bool = False) -> tuple[list[_Statement], list[_Entry]]:
    """Statements (``:20:`` to the next ``:20:`` or ``-``) and :61: lines outside any.

    With ``headerless`` (a file without any ``:20:``: a statement fragment), a statement
    tag outside a statement opens one, and an opening balance in a headerless statement
    that already has one opens the next.
    """
    statements: list[_Statement] = []
    orphans: list[_Entry] = []
    st: _Statement | None = None
    target = None  # the _Entry the next :86:/:NS: belongs to, or None for the statement
    for tok in tokens:
        f = tok.field
        if f is None:
            st, target = None, None
            continue
        if f.tag == "20":
            st = _Statement(f.line)
            statements.append(st)
            st.fields["20"] = [f]
            target = None
            continue
        if headerless and f.tag in _OPENING_TAGS and (
            st is None or (f.tag.startswith("60") and any(t.startswith("60") for t in st.fields))
        ):
            st = _Statement(f.line)
            statements.append(st)
            target = None
        if st is None:
            if f.tag == "61":
                target = _Entry(f)
                orphans.append(target)
            elif target is not None and f.tag in ("86", "NS"):
                (target.details if f.tag == "86" else target.ns).append(f)
            continue
        if f.tag == "61":
            target = _Entry(f)
            st.entries.append(target)
        elif f.tag in ("86", "NS"):
            if target is not None:
                (target.details if f.tag == "86" else target.ns).append(f)
            else:
                (st.info if f.tag == "86" else st.ns).append(f)
        else:
            if f.tag not in _KNOWN_TAGS:
                st.unknown.append(f.tag)
            st.fields.setdefault(f.tag, []).append(f)
            target = None
    return statements, orphans


def _header_bic(text: str) -> str | None:
    """BIC of the bank that sent the statement, from the SWIFT header blocks (None without them).

    An output message (``{2:O940...}``) names its sender in block 2 (the logical terminal of
    the message input reference, after input time and date); an input message
    (``{2:I940...}``) names it in block 1 (``{1:F01<LT>...}``). The logical terminal is
    the BIC8, a terminal letter and the branch code.

    Examples
    --------
    >>> _header_bic("{1:F01TESTMYKLAXXX0000000000}{2:O9400800240308BKRBMYKLAXXX00000000002403080800N}{4:")
    'BKRBMYKL'
    >>> _header_bic("{1:F01BKRBMYKLAXXX0000000000}{2:I940TESTMYKLXXXXN}{4:"), _header_bic(":20:X")
    ('BKRBMYKL', None)
    """
    head = text[:2048]
    m = re.search(r"\{2:O\d{3}\d{4}\d{6}([A-Z0-9]{12})", head)
    if m is None:
        m = re.search(r"\{1:F\d{2}([A-Z0-9]{12})", head) if re.search(r"\{2:I\d{3}", head) else None
    if m is None:
        return None
    lt = m.group(1)
    bic = lt[:8]
    return bic if is_bic(bic) else None


def _parse_account(f25: _Field | None) -> tuple[str | None, str | None, str | None, str | None]:
    """``:25:`` -> (account number, IBAN, bank code/BIC, currency hint)."""
    if f25 is None:
        return None, None, None, None
    raw = (f25.lines[0] if f25.lines else "").strip()
    bank = ccy = None
    if f25.tag == "25P" and len(f25.lines) > 1:
        bank = f25.lines[1].strip() or None
    number = raw
    if is_iban(raw):
        return raw.replace(" ", "").upper(), raw.replace(" ", "").upper(), bank, None
    if "/" in raw:
        parts = raw.split("/")
        bank, number = parts[0].strip() or bank, parts[1].strip()
        if len(parts) > 2 and re.fullmatch(r"[A-Z]{3}", parts[2].strip()):
            ccy = parts[2].strip()
    else:
        m = re.fullmatch(r"(.*\d)([A-Z]{3})", raw)
        if m:
            number, ccy = m.group(1), m.group(2)
    iban = number.replace(" ", "").upper() if is_iban(number) else None
    return number or None, iban, bank, ccy


def _channel(type_code: str | None, gvc: str | None) -> str:
    if gvc in _GVC_CHANNEL:
        return _GVC_CHANNEL[gvc]
    if not type_code:
        return "other"
    t = type_code.upper()
    if t[0] in "NF" and t[1:] in _TYPE_CHANNEL:
        return _TYPE_CHANNEL[t[1:]]
    if t[0] == "S" and re.fullmatch(r"[12]\d\d", t[1:]):
        return "wire"  # S103, S202 ...: the entry came with a SWIFT payment message
    return "other"


class _Reader:
    def __init__(self, path: Path, text: str, file_flags: list[str]):
        self.file = path.name
        self.text = text
        self.lines = text.split("\n")
        self.c = Collector(FORMAT, path)
        # from content: the file's digest (an MT940 file names no report of its own), never its name
        self.report_id = stable_id("R", FORMAT, file_digest(path))
        self.txn_ids = ContentIds("T")
        self.file_flags = file_flags
        self.header_bic = _header_bic(text)

    def run(self) -> Bundle:
        tokens, hints = _tokenize(self.text)
        statements, orphans = _group(tokens)
        if not statements:
            statements, orphans = _group(tokens, headerless=True)
            for st in statements:
                st.headerless = True
        if not statements:
            n61 = len(orphans)
            raise InputError(
                f"{self.file}: no MT940/MT942 statement: no ':20:' line "
                f"({n61} ':61:' line(s) found without a statement header); expected ':20:' ... ':62F:' blocks"
            )
        kinds = []
        for st in statements:
            kinds.append(self.statement(st, hints))
        for e in orphans:
            self.c.reject(
                "transactions",
                e.f61.line,
                "statement: ':61:' outside a statement (no ':20:' before it since the last '-' separator)",
                self.raw(e),
            )
        first_bank = _parse_account(statements[0].first("25", "25P"))[2]
        created = None
        f13 = statements[0].first("13D", "13")
        if f13:
            m = re.match(r"(\d{6})(\d{2})(\d{2})([+-]\d{4})?", f13.lines[0].strip())
            d = _yymmdd(m.group(1)) if m else None
            if d:
                off = 0
                if m.group(4):
                    off = (1 if m.group(4)[0] == "+" else -1) * (int(m.group(4)[1:3]) * 60 + int(m.group(4)[3:]))
                local = datetime(d.year, d.month, d.day, min(int(m.group(2)), 23), min(int(m.group(3)), 59))
                created = local.replace(tzinfo=timezone.utc) - timedelta(minutes=off)
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": FORMAT,
                "report_code": "/".join(dict.fromkeys(kinds)),
                "reporting_entity": first_bank if is_bic(first_bank) else None,
                "submitted_at": created,
                "source_file": self.file,
            },
        )
        return typed_extras(self.c.bundle())

    def raw(self, e: _Entry) -> str:
        """The ``:61:`` line with its continuation, ``:86:`` and ``:NS:`` lines, as read."""
        last = max(f.line + len(f.lines) - 1 for f in (e.f61, *e.details, *e.ns))
        return "\n".join(self.lines[e.f61.line - 1 : last])[:_RAW_MAX]

    # ----------------------------------------------------------------- statement
    def statement(self, st: _Statement, hints: set[str]) -> str:
        sid = stable_id("S", self.report_id, st.line)
        flags = list(self.file_flags)
        interim = any(st.fields.get(t) for t in ("34F", "13D", "13", "90D", "90C")) or (hints == {"942"})
        kind = "MT942" if interim else "MT940"
        if interim:
            flags.append("interim")
        if st.unknown:
            flags.append("unknown_tag")
        if st.headerless:
            flags.append("statement_header_missing")

        number, iban, bank, ccy_hint = _parse_account(st.first("25", "25P"))
        acc_id = account_id(number, iban=iban, bank=bank)
        opening = closing = None
        f60, f62 = st.first("60F", "60M", "60"), st.first("62F", "62M", "62")
        if f60:
            opening = _balance(f60.lines[0], flags)
        if f62:
            closing = _balance(f62.lines[0], flags)
        ccy = next((b.currency for b in (opening, closing) if b and b.currency), None) or ccy_hint
        if ccy is None:
            for tag in ("34F", "90D", "90C"):
                f = st.first(tag)
                m = _AMT_TAIL_RE.match(f.lines[0].strip()) if f else None
                if m:
                    ccy = m["ccy"]
                    break
        if opening and closing and opening.currency and closing.currency and opening.currency != closing.currency:
            flags.append("currency_mismatch")
        if acc_id:
            self.c.add(
                "accounts",
                {
                    "account_id": acc_id,
                    # the sender in the SWIFT header is the account's bank when :25: names none
                    "institution": bank or (self.header_bic if not iban else None),
                    "account_number": number,
                    "iban": iban,
                    "currency": ccy,
                    "source_ref": self.c.ref(st.first("25", "25P").line),
                },
            )
        else:
            flags.append("account_missing")
        ctx = {"sid": sid, "acc_id": acc_id, "ccy": ccy, "iban": iban, "flags": flags}
        rows: list[dict] = []
        total = Decimal(0)
        rejected = 0
        for e in st.entries:
            row, reason = self.entry(e, ctx)
            if row is None:
                self.c.reject("transactions", e.f61.line, reason, self.raw(e))
                rejected += 1
            else:
                rows.append(row)
                total += row["signed_amount"]
        if rejected:
            flags.append("entries_rejected")
        reconciled = None
        if not fits_money(total):  # the sum of representable entries can still overflow: flagged, not fatal
            flags.append("entries_total_out_of_range")
            total = None
        if total is not None and not interim and not rejected and opening is not None and closing is not None:
            reconciled = opening.amount + total == closing.amount
            if not reconciled:
                flags.append("balance_mismatch")
        for row in rows:
            if reconciled is False:
                row["quality_flags"].append("balance_mismatch")
            self.c.add("transactions", row)
        f28 = st.first("28C", "28")
        info = "\n".join(f.text() for f in st.info).strip() or None
        self.c.add(
            "statements",
            {
                "statement_id": sid,
                "account_id": acc_id,
                "currency": ccy,
                "opening_balance": opening.amount if opening else None,
                "closing_balance": closing.amount if closing else None,
                "opening_date": opening.date if opening else None,
                "closing_date": closing.date if closing else None,
                "entries_total": total,
                "reconciled": reconciled,
                "source_ref": self.c.ref(st.line),
                "statement_ref": st.fields["20"][0].text().strip() or None if st.fields.get("20") else None,
                "statement_number": f28.text().strip() if f28 else None,
                "message_type": kind,
                "info": info,
                "quality_flags": list(dict.fromkeys(flags)),
            },
        )
        return kind

    # ----------------------------------------------------------------- :61:
    def entry(self, e: _Entry, ctx: dict) -> tuple[dict | None, str | None]:
        lines = [ln.rstrip() for ln in e.f61.lines]
        first = lines[0].strip()
        rest_lines = lines[1:]
        if _61_HEAD_RE.fullmatch(first) and rest_lines:  # amount wrapped onto the next line
            first, rest_lines = first + rest_lines[0].strip(), rest_lines[1:]
        m = _61_RE.fullmatch(first)
        if not m:
            return None, self.why_61(first)
        flags = list(ctx["flags"])
        try:
            amount, aflags = _amount(m["amount"], ctx["ccy"])
        except ValueError as exc:
            return None, f"amount: {exc}"
        flags += aflags
        mark = m["mark"]
        if mark != mark.upper() or m["minus"]:
            flags.append("nonstandard_mark")
        mark = mark.upper()
        credit = mark in ("C", "RD")
        reversal = mark in ("RC", "RD")
        vdate = _yymmdd(m["vdate"])
        edate = _entry_date(m["edate"], m["vdate"], vdate) if m["edate"] else None
        if vdate is None:
            flags.append("invalid_value_date")
        if m["edate"] and edate is None:
            flags.append("invalid_entry_date")
        when = edate or vdate
        if when is None:
            return None, f"value date: invalid date {m['vdate']!r} and no valid entry date"
        if ctx["ccy"] is None:
            flags.append("currency_unknown")

        rest = m["rest"] or ""
        if "//" in rest:
            cust, bank_ref = rest.split("//", 1)
            extra = ""
        else:
            cust, bank_ref, extra = rest[:16], "", rest[16:]
        bank_ref, extra = bank_ref.strip(), extra.strip()
        supplementary = _squash(" ".join([extra] + [ln.strip() for ln in rest_lines])) or None
        cust = _clean(cust)

        info = parse_details([ln for f in e.details for ln in f.lines]) if e.details else _Info()
        if info.account is None and supplementary and is_iban(supplementary):
            info.account = supplementary.replace(" ", "").upper()
        instructed = instructed_ccy = None
        oc = re.search(r"/OCMT/([A-Z]{3})(\d[\d,]*)/", supplementary or "")
        if oc:
            try:
                instructed, _ = _amount(oc.group(2), oc.group(1))
                instructed_ccy = oc.group(1)
            except ValueError:
                pass

        cp_account = info.account
        cp_iban = None
        if cp_account and re.fullmatch(r"\d{26}", cp_account) and (ctx["iban"] or "").startswith("PL"):
            cp_iban = "PL" + cp_account  # Polish NRB = IBAN without the country code
        cp_id = account_id(cp_account, iban=cp_iban, bank=info.bic or info.bank_code)
        place = e.details[0].line if e.details else e.f61.line
        if cp_id:
            self.c.add(
                "accounts",
                {
                    "account_id": cp_id,
                    "institution": info.bic or info.bank_code,
                    "account_number": cp_account,
                    "iban": cp_iban or (cp_account.replace(" ", "").upper() if is_iban(cp_account) else None),
                    "source_ref": self.c.ref(place),
                },
            )
        pid = None
        if info.name:
            pid = stable_id("P", self.report_id, place)
            self.c.add(
                "parties",
                {"party_id": pid, "kind": "entity", "name": info.name, "report_id": self.report_id, "source_ref": self.c.ref(place)},
            )
            if cp_id:
                self.c.add("party_accounts", {"party_id": pid, "account_id": cp_id, "role": "holder", "source_ref": self.c.ref(place)})
            if info.address:
                ident = {"owner_kind": "party", "owner_id": pid, "kind": "address", "value": info.address.casefold()}
                self.c.add("identifiers", {**ident, "raw": info.address, "source_ref": self.c.ref(place)})
        if cp_id and cp_id == ctx["acc_id"]:
            flags.append("self_transfer")

        type_code = (m["type"] or "").strip() or None
        details_raw = "\n".join(f.text() for f in e.details) or None
        ts = datetime(when.year, when.month, when.day, tzinfo=timezone.utc)
        return {
            # from content: the statement account and the entry's normalised :61: / :86: text
            "txn_id": self.txn_ids(FORMAT, ctx["acc_id"], *(" ".join(f.text().split()) for f in (e.f61, *e.details, *e.ns))),
            "report_id": self.report_id,
            "source": FORMAT,
            "source_ref": self.c.ref(e.f61.line),
            "source_txn_ref": _clean(bank_ref) or info.bank_ref or cust,
            "timestamp": ts,
            "amount": amount,
            "currency": ctx["ccy"],
            "instructed_amount": instructed,
            "instructed_currency": instructed_ccy,
            "from_account": cp_id if credit else ctx["acc_id"],
            "to_account": ctx["acc_id"] if credit else cp_id,
            "from_party": pid if credit else None,
            "to_party": None if credit else pid,
            "channel": _channel(m["type"], info.gvc),
            "description": info.description or (None if e.details else supplementary),
            "counterparty_name": info.name,
            "counterparty_account": cp_account,
            "counterparty_bic": info.bic,
            "statement_id": ctx["sid"],
            "entry_ref": self.c.ref(e.f61.line),
            "booking_date": edate,
            "value_date": vdate,
            "is_reversal": reversal,
            "quality_flags": list(dict.fromkeys(flags)),
            "signed_amount": amount if credit else -amount,
            "end_to_end_id": info.end_to_end_id,
            "bank_tx_code": type_code,
            "customer_ref": cust,
            "supplementary_details": supplementary,
            "details_raw": details_raw,
            "non_standard": "\n".join(f.text() for f in e.ns) or None,
        }, None

    @staticmethod
    def why_61(first: str) -> str:
        if not re.match(r"\d{6}", first):
            return f"value date: expected YYMMDD at the start of ':61:' ({first[:12]!r})"
        if not re.match(r"\d{6}(?:\d{4})?R?[CD]", first, re.I):
            return f"debit/credit mark: expected C, D, RC or RD after the dates ({first[:16]!r})"
        return f"amount: missing or not a number after the mark ({first[:24]!r})"


# --------------------------------------------------------------------------- read
def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, list[str]]:
    flags: list[str] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        except UnicodeDecodeError:
            fallback = encoding or "latin-1"
            try:
                text = data.decode(fallback)
            except LookupError:
                raise InputError(f"{path}: unknown encoding {fallback!r} (option encoding=)") from None
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not UTF-8 and not {fallback} either (byte {exc.start}); pass encoding=...") from None
            if encoding is None and re.search(rb"[\x80-\xff]", data):
                flags.append("encoding_guessed")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CTRL_RE.sub("", text), flags


def read(path, *, encoding: str | None = None, **_other) -> Bundle:
    """Read one MT940 / MT942 file into the canonical tables.

    Parameters
    ----------
    path : str or path-like
        The statement file (``.sta``, ``.940``, ``.txt``, ...), one or more statements,
        plain, with SWIFT ``{1:}{2:}{4:`` blocks or with bank preamble lines.
    encoding : str, optional
        Encoding to use when the file is not valid UTF-8 (e.g. ``"cp1250"`` for Polish,
        ``"iso-8859-2"`` for Hungarian banks). Default ``"latin-1"``, which never fails;
        rows read that way carry the flag ``encoding_guessed``.
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        * ``reports``: one row for the file (``report_code`` ``MT940``/``MT942``).
        * ``statements``: one row per ``:20:`` block: ``account_id`` from ``:25:``,
          ``opening_balance`` (``:60F:``/``:60M:``) and ``closing_balance``
          (``:62F:``/``:62M:``) signed by their mark, ``entries_total`` = signed sum
          of the ``:61:`` lines, ``reconciled`` = opening + total == closing (null
          when a balance is missing, a line was rejected, or the block is an MT942
          interim report). A statement that does not reconcile is reported, not
          refused: ``reconciled`` false and the flag ``balance_mismatch`` on it and on
          its rows. Extra columns: ``statement_ref`` (``:20:``), ``statement_number``
          (``:28C:``), ``message_type`` (MT940 or MT942), ``info`` (the statement-level
          ``:86:``, e.g. ``/SUM/...``) and ``quality_flags``.
        * ``transactions``: one row per ``:61:`` line; ``txn_id`` hashes the statement
          account and the entry's normalised ``:61:``/``:86:`` text (never the file name); ``source_ref`` and ``entry_ref`` are ``file:line``.
          ``amount`` positive in the statement currency; a credit (``C``, ``RD``) has
          ``to_account`` = the statement account and ``from_account`` = the
          counterparty account from ``:86:`` (if known), a debit (``D``, ``RC``) the
          reverse; ``is_reversal`` for ``RC``/``RD``. ``timestamp``: the entry
          (booking) date, else the value date, at 00:00 UTC (MT940 has no time of
          day); ``booking_date``, ``value_date``. ``channel`` from the transaction
          type code (``NTRF``/``NSTO``/``NDDT`` transfer, ``NCHK``/``NCLR``/``NTCK``
          cheque, ``S1xx``/``S2xx`` wire) or the German GV code (082 cash_deposit,
          083 cash_withdrawal), else other. ``description``, ``counterparty_name``,
          ``counterparty_account``, ``counterparty_bic`` from ``:86:`` (module
          notes); ``instructed_amount`` from an ``/OCMT/`` supplementary detail.
          Extra columns: ``signed_amount`` (credit +, debit -), ``end_to_end_id``
          (SEPA ``EREF``), ``bank_tx_code`` (the ``:61:`` type code),
          ``customer_ref``, ``supplementary_details``, ``details_raw`` (the ``:86:``
          text as read), ``non_standard`` (``:NS:`` text). ``quality_flags`` among:
          interim (MT942), nonstandard_mark, nonstandard_amount, amount_rounded,
          invalid_value_date, invalid_entry_date, currency_unknown, encoding_guessed,
          self_transfer, balance_mismatch.
        * ``accounts``: the statement account (``"IBAN/<IBAN>"``, else
          ``"<BIC or bank code or 'stmt'>/<number>"``, leading zeros kept) and each
          counterparty account; ``parties``: one ``entity`` row per named
          counterparty mention (``party_id`` hashes the file's content and the ``:86:`` line);
          ``party_accounts``: holder links; ``identifiers``: addresses (mBank).
        * ``rejects``: ``:61:`` lines that cannot be read (the reason names the field:
          value date, mark, amount) and ``:61:`` lines outside any statement.

    Raises
    ------
    InputError
        The file cannot be opened, cannot be decoded with ``encoding``, or holds no
        ``:20:`` statement at all (the message says what was found instead).

    Examples
    --------
    >>> b = read("tests/data/mt940/br02_marks.sta")
    >>> [str(x) for x in b.transactions.column("signed_amount").to_pylist()]
    ['100.000', '-40.000', '-100.000', '40.000', '15.000']
    >>> b.transactions.column("is_reversal").to_pylist()
    [False, False, True, True, False]
    >>> b.statements.column("reconciled").to_pylist()
    [True]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or 'I/O error'}") from None
    text, flags = _decode(path, data, encoding)
    return _Reader(path, text, flags).run()
