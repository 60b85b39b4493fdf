"""ISO 20022 ``pacs.008`` adapter: FI-to-FI customer credit transfers (cross-border wires, CBPR+).

Since the end of the SWIFT MT/ISO 20022 coexistence period (November 2025) cross-border
customer payments travel as ``pacs.008`` (CBPR+ uses ``pacs.008.001.08``); banks report
them to FIUs as funds-transfer records built from the message itself. One file (one
message, bare or inside a SWIFT ``Envelope`` with a ``head.001`` business application
header ``AppHdr``) becomes one :class:`~followmoney.Bundle`:

* ``transactions``: one row per ``CdtTrfTxInf`` (a payment), or one reject naming the
  element that could not be read;
* ``parties``: debtor, creditor, ultimate debtor, ultimate creditor and initiating party
  of each payment (``kind`` person when the party has a ``PrvtId``);
* ``accounts`` and ``party_accounts``: the debtor's and creditor's accounts and holders;
* ``identifiers``: LEI, other ids (``SCHEME:ID``) and postal addresses of those parties;
* ``reports``: one row for the message.

The message is recognised by its namespace (``urn:iso:std:iso:20022:tech:xsd:pacs.008.001.NN``,
any version) or its ``FIToFICstmrCdtTrf`` element, under any prefix; elements are
matched on their local names, so the paths that moved between versions (``BIC``/``BICFI``,
group-level or transaction-level settlement date and agents) are all read. Parsing is
the camt adapter's: no entity resolution, no network, no DTD, and a document declaring
entities is refused.

Mapping
-------
* ``amount`` / ``currency``: the interbank settlement amount ``IntrBkSttlmAmt`` (what
  moved between the banks); ``instructed_amount`` / ``instructed_currency``: ``InstdAmt``
  (what the debtor ordered, before charges and conversion); ``fx_rate``: ``XchgRate`` as
  stated, never recomputed. Charges (``ChrgsInf``) are kept in ``charges`` /
  ``charges_amount``; ``ChrgBr`` in ``charge_bearer``.
* ``timestamp``: ``IntrBkSttlmDt`` (transaction level, else group header) at 00:00 UTC,
  else ``AccptncDtTm``, else the message's ``CreDtTm`` (flag ``date_from_message``);
  ``value_date`` the settlement date.
* ``from_account`` / ``to_account``: ``DbtrAcct`` / ``CdtrAcct`` (``IBAN/<IBAN>``, else
  ``<agent BIC>/<number>`` as in the camt adapter); ``from_party`` / ``to_party``: the
  debtor's and creditor's party rows. ``counterparty_*``: the creditor side (the wire
  seen from the ordering side). ``country_from`` / ``country_to``: the debtor's and
  creditor's country (postal address, else country of residence), else their agent's.
* The agent chain (:mod:`followmoney.ingest._payment`): ``DbtrAgt``, ``PrvsInstgAgt1-3``,
  ``InstgAgt``, ``InstdAgt``, ``IntrmyAgt1-3``, ``CdtrAgt``, each bank once, with
  countries; ``route_countries`` adds the parties' countries.
* ``uetr``, ``end_to_end_id`` (``NOTPROVIDED`` dropped), ``instruction_id``,
  ``interbank_tx_id``, ``purpose``, ``category_purpose``, ``service_level``,
  ``regulatory_reporting``, ``instruction_codes``, ``sender_to_receiver_info``;
  ``description`` from ``RmtInf`` (unstructured, else the creditor reference);
  ``other_fields``: the settlement method, reimbursement agents (cover payments),
  priorities, clearing channel, related remittance id and the agents' own accounts, as
  ``NAME:value``.
* ``quality_flags``: ``possible_duplicate`` (AppHdr ``PssblDplct``), ``date_from_message``,
  ``amount_rounded``, ``currency_invalid``, ``instructed_amount_unreadable``,
  ``self_transfer``, ``namespace_nonstandard``.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from followmoney.core.bundle import Bundle
from followmoney.ingest import _payment as pay
from followmoney.ingest._collect import Collector, InputError, file_digest, stable_id
from followmoney.ingest.camt import (
    _CCY_RE,
    _ISO_NS_RE,
    _KIDS,
    _child,
    _children,
    _info,
    _local,
    _money,
    _parse_dt,
    _Party,
    _path,
    _Paths,
    _ptext,
    _raw,
    _rate,
    _squash,
    _text,
)
from followmoney.ingest.camt import _acct_ident as camt_acct
from followmoney.ingest._xml import find_document, load_document, utf8_head
from followmoney.ingest.camt import _Reader as _CamtReader

__all__ = ["FORMAT", "sniff", "is_companion", "read"]

FORMAT = "pacs008"

_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(pacs\.008\.001\.\d{2})")
_SNIFF = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:pacs\.008\.001\.\d\d|<(?:[\w.-]+:)?FIToFICstmrCdtTrf[\s>]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like a pacs.008 message.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when the head holds a pacs.008 namespace URI or a ``FIToFICstmrCdtTrf``
        element under any prefix.

    Examples
    --------
    >>> sniff("p.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">')
    True
    >>> sniff("s.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">')
    False
    """
    head = utf8_head(head)
    return bool(_SNIFF.search(head))


def is_companion(path) -> bool:
    """pacs.008 files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- helpers
def agent(el, role: str) -> pay.Agent | None:
    """An agent element (``DbtrAgt``, ``IntrmyAgt1`` ...) -> :class:`~followmoney.ingest._payment.Agent`."""
    if el is None:
        return None
    fin = _child(el, "FinInstnId")
    bic = _ptext(fin, "BICFI") or _ptext(fin, "BIC")
    bic = bic.strip().upper() if bic else None
    member = _ptext(fin, "ClrSysMmbId", "MmbId")
    name = _squash(_ptext(fin, "Nm"))
    if not (bic or member or name):
        return None
    country = (_ptext(fin, "PstlAdr", "Ctry") or "").upper()
    country = country if re.fullmatch(r"[A-Z]{2}", country) else pay.bic_country(bic)
    return pay.Agent(role, bic, member, name, country)


def party_country(el) -> str | None:
    """Country of a party element: postal address, else country of residence."""
    if el is None:
        return None
    body = _child(el, "Pty")
    body = body if body is not None else el
    c = (_ptext(body, "PstlAdr", "Ctry") or _ptext(body, "CtryOfRes") or "").upper()
    return c if re.fullmatch(r"[A-Z]{2}", c) else None


def _code(el) -> str | None:
    """A ``Cd``/``Prtry`` choice (``Purp``, ``CtgyPurp``, ``SvcLvl``)."""
    if el is None:
        return None
    return _ptext(el, "Cd") or _ptext(el, "Prtry") or _text(el)


def _regulatory(tx) -> list[str]:
    out = []
    for rr in _children(tx, "RgltryRptg"):
        head = [_ptext(rr, "DbtCdtRptgInd"), _ptext(rr, "Authrty", "Ctry"), _squash(_ptext(rr, "Authrty", "Nm"))]
        dtls = _children(rr, "Dtls") or [None]
        for d in dtls:
            parts = list(head)
            if d is not None:
                amt = _child(d, "Amt")
                parts += [_ptext(d, "Tp"), _ptext(d, "Ctry"), _ptext(d, "Cd")]
                if amt is not None and _text(amt):
                    parts.append(f"{(amt.get('Ccy') or '').upper()} {_text(amt)}".strip())
                parts += [_squash(_text(i)) for i in _children(d, "Inf")]
            item = " ".join(p for p in parts if p)
            if item:
                out.append(item)
    return out


class PaymentReader(_CamtReader):
    """Read the credit transfers of one ISO 20022 payment message (pacs.008, pain.001).

    Reuses the camt reader's party, account and identifier mapping (:meth:`party`),
    so a debtor reads the same way in a statement and in a payment message.
    """

    #: The message's payment elements and where the group-level defaults sit.
    def __init__(self, path: Path, fmt: str, doc, msg, msg_type: str, head, nonstandard: bool):
        self.file = path.name
        self.fmt = fmt
        self.doc, self.msg, self.head = doc, msg, head
        self.msg_type = msg_type
        self.c = Collector(fmt, path)
        self.xpath = _Paths()
        self.path = path
        grp = _child(msg, "GrpHdr")
        msg_id = _ptext(grp, "MsgId")
        # from content (issue 14): the message id with its creation time, else the file's digest; never the name
        self._report_id = stable_id("R", fmt, msg_id, _ptext(grp, "CreDtTm")) if msg_id else stable_id("R", fmt, file_digest(path))
        self.base_flags = ["namespace_nonstandard"] if nonstandard else []
        if head is not None and (_ptext(head, "PssblDplct") or "").lower() in ("true", "1"):
            self.base_flags.append("possible_duplicate")
        self._parties: dict = {}

    # ----------------------------------------------------------------- message
    def report(self) -> None:
        grp = _child(self.msg, "GrpHdr")
        created = _parse_dt(_ptext(grp, "CreDtTm")) or _parse_dt(_ptext(self.head, "CreDt"))
        self.created = created
        sender = _ptext(self.head, "Fr", "FIId", "FinInstnId", "BICFI") or _ptext(grp, "InstgAgt", "FinInstnId", "BICFI")
        svc = _ptext(self.head, "BizSvc")
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": self.fmt,
                "report_code": self.msg_type,
                "reporting_entity": sender.upper() if sender else None,
                "entity_reference": _ptext(grp, "MsgId") or _ptext(self.head, "BizMsgIdr"),
                "submitted_at": created[0] if created else None,
                "narrative": f"business service {svc}" if svc else None,
                "source_file": self.file,
            },
        )

    def run(self) -> Bundle:
        self.report()
        grp = _child(self.msg, "GrpHdr")
        try:
            for tx in _children(self.msg, "CdtTrfTxInf"):
                self.payment(tx, grp, None)
                _KIDS.clear()
        finally:
            _KIDS.clear()
        return pay.typed(self.c.bundle())

    # ----------------------------------------------------------------- parties
    def cached_party(self, el, acct_el, bank) -> _Party:
        """:meth:`party` once per element (a pain.001 debtor is shared by its payments)."""
        key = (el, acct_el)
        got = self._parties.get(key)
        if got is None:
            got = self.party(el, None, acct_el, bank) if (el is not None or acct_el is not None) else _Party()
            self._parties[key] = got
        return got

    # ----------------------------------------------------------------- payment
    def amounts(self, tx, level) -> tuple:
        """(amount element, instructed element, rate text, amount element name, flags) of one payment."""
        amt = _child(tx, "IntrBkSttlmAmt")
        return amt, _child(tx, "InstdAmt"), _ptext(tx, "XchgRate"), "IntrBkSttlmAmt", []

    def when(self, tx, grp, level):
        for d in (_ptext(tx, "IntrBkSttlmDt"), _ptext(grp, "IntrBkSttlmDt")):
            got = _parse_dt(d)
            if got:
                return got, got[2], []
        got = _parse_dt(_ptext(tx, "AccptncDtTm"))
        if got:
            return got, None, []
        return self.created, None, ["date_from_message"] if self.created else ["date_missing"]

    def agents(self, tx, grp, level) -> list[pay.Agent]:
        roles = [("DbtrAgt", "debtor_agent")]
        roles += [(f"PrvsInstgAgt{i}", "previous_instructing_agent") for i in (1, 2, 3)]
        roles += [("InstgAgt", "instructing_agent"), ("InstdAgt", "instructed_agent")]
        roles += [(f"IntrmyAgt{i}", "intermediary") for i in (1, 2, 3)]
        roles += [("CdtrAgt", "creditor_agent")]
        out = []
        for name, role in roles:
            el = _child(tx, name)
            if el is None and name in ("InstgAgt", "InstdAgt"):
                el = _child(grp, name)
            a = agent(el, role)
            if a is not None:
                out.append(a)
        return out

    def side(self, tx, level, name: str):
        """A debtor-side element of the payment (pain.001 keeps them on ``PmtInf``)."""
        el = _child(tx, name)
        if el is None and level is not None:
            el = _child(level, name)
        return el

    def payment(self, tx, grp, level) -> None:
        xp = self.xpath(tx)
        flags = list(self.base_flags)
        amt_el, inst_el, rate_text, amt_name, aflags = self.amounts(tx, level)
        flags += aflags
        ccy = ((amt_el.get("Ccy") or "").strip().upper() or None) if amt_el is not None else None
        try:
            amount, rounded = _money(_text(amt_el), ccy)  # to the currency's ISO 4217 minor units
        except ValueError as exc:
            self.c.reject("transactions", xp, f"{amt_name}: {'missing' if amt_el is None else exc}", _raw(tx))
            return
        if rounded:
            flags.append("amount_rounded")
        if ccy is None or not _CCY_RE.fullmatch(ccy):
            flags.append("currency_unknown" if ccy is None else "currency_invalid")
        instructed = instructed_ccy = None
        if inst_el is not None:
            try:
                instructed_ccy = (inst_el.get("Ccy") or "").strip().upper() or None
                instructed, _ = _money(_text(inst_el), instructed_ccy)
            except ValueError:
                flags.append("instructed_amount_unreadable")
        when, value_date, wflags = self.when(tx, grp, level)
        flags += wflags

        pmt = _child(tx, "PmtId")
        e2e = _ptext(pmt, "EndToEndId")
        if e2e and e2e.upper() in ("NOTPROVIDED", "NOT PROVIDED"):
            e2e = None
        uetr = _ptext(pmt, "UETR")
        uetr = uetr.lower() if uetr else None

        agents = self.agents(tx, grp, level)
        by_role = {}
        for a in agents:
            by_role.setdefault(a.role, a)
        dagent, cagent = by_role.get("debtor_agent"), by_role.get("creditor_agent")
        dbtr_el, cdtr_el = self.side(tx, level, "Dbtr"), _child(tx, "Cdtr")
        dacct_el, cacct_el = self.side(tx, level, "DbtrAcct"), _child(tx, "CdtrAcct")
        debtor = self.cached_party(dbtr_el, dacct_el, (dagent.bic or dagent.member) if dagent else None)
        creditor = self.cached_party(cdtr_el, cacct_el, (cagent.bic or cagent.member) if cagent else None)
        udbtr_el, ucdtr_el = self.side(tx, level, "UltmtDbtr"), _child(tx, "UltmtCdtr")
        initg_el = _child(tx, "InitgPty")
        if initg_el is None:
            initg_el = _path(self.msg, "GrpHdr", "InitgPty")
        ult_debtor = self.cached_party(udbtr_el, None, None) if udbtr_el is not None else _Party()
        ult_creditor = self.cached_party(ucdtr_el, None, None) if ucdtr_el is not None else _Party()
        initiating = _Party()
        if initg_el is not None and _squash(_ptext(initg_el, "Nm")) != debtor.name:
            initiating = self.cached_party(initg_el, None, None)

        c_from = party_country(dbtr_el) or (dagent.country if dagent else None)
        c_to = party_country(cdtr_el) or (cagent.country if cagent else None)
        keys, countries = pay.chain(agents)
        route = pay.route(party_country(udbtr_el), c_from, *countries, c_to, party_country(ucdtr_el))

        charges = []
        texts = []
        for ch in _children(tx, "ChrgsInf"):
            a_el = _child(ch, "Amt")
            try:
                c = (a_el.get("Ccy") or "").strip().upper() or None
                a, _ = _money(_text(a_el), c)
            except (ValueError, AttributeError):
                flags.append("charges_unreadable")
                continue
            by = agent(_child(ch, "Agt"), "charges")
            charges.append((a, c))
            texts.append(f"{c or '?'} {a}" + (f" by {by.key}" if by is not None and by.key else ""))
        ch_total, ch_ccy = pay.charges_total(charges)

        instr_codes = [_ptext(i, "Cd") for i in _children(tx, "InstrForCdtrAgt") + _children(tx, "InstrForNxtAgt")]
        instr_text = _info(_ptext(i, "InstrInf") for i in _children(tx, "InstrForNxtAgt") + _children(tx, "InstrForCdtrAgt"))
        pti = self.side(tx, level, "PmtTpInf")
        svc = "/".join(x for x in (_code(_child(pti, "SvcLvl")), _code(_child(pti, "LclInstrm"))) if x) or None
        rmt = _child(tx, "RmtInf")
        description = _info(_text(u) for u in _children(rmt, "Ustrd")) or _info(
            _ptext(s, "CdtrRefInf", "Ref") for s in _children(rmt, "Strd")
        )
        if debtor.account_id and debtor.account_id == creditor.account_id:
            flags.append("self_transfer")
        other = self.other_fields(tx, grp, pti)
        source_ref = _ptext(pmt, "TxId") or _ptext(pmt, "InstrId") or e2e
        self.c.add(
            "transactions",
            {
                "txn_id": stable_id("T", self.report_id, xp, uetr, e2e, source_ref, amount, ccy),  # from content
                "report_id": self.report_id,
                "source": self.fmt,
                "source_ref": self.c.ref(xp),
                "source_txn_ref": source_ref,
                "timestamp": when[0] if when else None,
                "tz_offset_minutes": when[1] if when else None,
                "amount": amount,
                "currency": ccy,
                "instructed_amount": instructed,
                "instructed_currency": instructed_ccy,
                "fx_rate": _rate(rate_text),
                "from_account": debtor.account_id,
                "to_account": creditor.account_id,
                "from_party": debtor.party_id,
                "to_party": creditor.party_id,
                "channel": "wire",
                "description": description,
                "counterparty_name": creditor.name,
                "counterparty_account": creditor.account,
                "counterparty_bic": cagent.bic if cagent else None,
                "end_to_end_id": e2e,
                "value_date": value_date,
                "is_reversal": False,
                "country_from": c_from,
                "country_to": c_to,
                "quality_flags": list(dict.fromkeys(flags)),
                "uetr": uetr,
                "instruction_id": _ptext(pmt, "InstrId"),
                "interbank_tx_id": _ptext(pmt, "TxId"),
                "message_type": self.msg_type,
                "charge_bearer": (_ptext(tx, "ChrgBr") or (_ptext(level, "ChrgBr") if level is not None else None)),
                "charges_amount": ch_total,
                "charges_currency": ch_ccy,
                "charges": texts,
                "purpose": _code(_child(tx, "Purp")),
                "category_purpose": _code(_child(pti, "CtgyPurp")),
                "service_level": svc,
                "regulatory_reporting": _regulatory(tx) + (_regulatory(level) if level is not None else []),
                "instruction_codes": [c for c in instr_codes if c],
                "sender_to_receiver_info": instr_text,
                "debtor_agent": dagent.key if dagent else None,
                "creditor_agent": cagent.key if cagent else None,
                "intermediary_agents": [a.key for a in agents if a.role == "intermediary" and a.key],
                "agent_chain": keys,
                "agent_countries": countries,
                "route_countries": route,
                "ultimate_debtor": ult_debtor.party_id,
                "ultimate_creditor": ult_creditor.party_id,
                "initiating_party": initiating.party_id,
                "other_fields": other,
            },
        )

    def other_fields(self, tx, grp, pti) -> list[str]:
        """Relevant fields without a column, as ``NAME:value`` (nothing lost)."""
        out = []
        sttl = _child(grp, "SttlmInf")
        if _ptext(sttl, "SttlmMtd"):
            out.append(f"SttlmMtd:{_ptext(sttl, 'SttlmMtd')}")
        for name in ("InstgRmbrsmntAgt", "InstdRmbrsmntAgt", "ThrdRmbrsmntAgt"):
            a = agent(_child(sttl, name), "reimbursement")
            if a is not None and a.key:
                out.append(f"{name}:{a.key}")
        for name, value in (
            ("SttlmPrty", _ptext(tx, "SttlmPrty")),
            ("InstrPrty", _ptext(pti, "InstrPrty")),
            ("ClrChanl", _ptext(pti, "ClrChanl")),
            ("AccptncDtTm", _ptext(tx, "AccptncDtTm")),
            ("RltdRmtInf", _ptext(tx, "RltdRmtInf", "RmtId")),
        ):
            if value:
                out.append(f"{name}:{value}")
        for el in tx.iterchildren(tag=etree.Element):
            name = _local(el)
            if name.endswith("AgtAcct") or re.fullmatch(r"(?:IntrmyAgt|PrvsInstgAgt)\dAcct", name):
                number, iban = camt_acct(el)
                if number or iban:
                    out.append(f"{name}:{iban or number}")
        return out


def _app_header(root, doc):
    """The ``AppHdr`` (head.001) beside the ``Document`` in an envelope, or None."""
    if root is doc:
        return None
    for el in root.iter(tag=etree.Element):
        if el is doc:
            break
        if _local(el) == "AppHdr":
            return el
    return None


def open_message(path: Path, kinds: dict, ns_re: re.Pattern, what: str):
    """Load an ISO 20022 file and find its message element.

    Parameters
    ----------
    path : Path
    kinds : dict
        Message element local name -> message family (``{"FIToFICstmrCdtTrf": "pacs.008"}``).
    ns_re : re.Pattern
        Namespace pattern whose group 1 is the message type (``pacs.008.001.08``).
    what : str
        The adapter, for messages (``"pacs.008"``).

    Returns
    -------
    tuple
        (root, Document, message element, message type, AppHdr or None, namespace nonstandard).

    Raises
    ------
    InputError
        Not well-formed, DOCTYPE declared, or another message type (named).
    """
    root = load_document(path, "ISO 20022 payment messages")
    doc = find_document(root)
    ns = etree.QName(doc).namespace or ""
    msg = next((c for c in doc.iterchildren(tag=etree.Element) if _local(c) in kinds), None)
    m = ns_re.fullmatch(ns)
    if m and msg is not None:
        return root, doc, msg, m.group(1), _app_header(root, doc), False
    iso = _ISO_NS_RE.fullmatch(ns)
    if iso and not m:
        raise InputError(f"{path.name}: unsupported message type {iso['type']} (namespace {ns}); the {what} adapter reads {what} only")
    if msg is None:
        raise InputError(
            f"{path.name}: not a {what} message: namespace {ns or '(none)'}, element <{_local(doc)}>"
            + (f" without <{'/'.join(kinds)}>" if m else "")
        )
    head = _app_header(root, doc)
    declared = _ptext(head, "MsgDefIdr")
    return root, doc, msg, declared if declared and declared.startswith(kinds[_local(msg)]) else kinds[_local(msg)], head, True


def read(path, **_other) -> Bundle:
    """Read one pacs.008 message (bare or in a SWIFT ``Envelope`` with ``AppHdr``).

    Parameters
    ----------
    path : str or path-like
        The XML file.
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        * ``transactions``: one row per ``CdtTrfTxInf``, ``channel`` ``wire``, mapped as
          in the module notes; ``txn_id`` hashes the report id (message id and creation time, else the file's digest) and the XPath;
          ``source_ref`` is ``file#XPath`` (local names). Money columns are exact
          decimals in the currency beside them (ISO 4217 code, 2 decimals).
        * ``parties``, ``accounts``, ``party_accounts``, ``identifiers`` for the
          debtor, creditor, ultimate parties and initiating party.
        * ``reports``: one row: ``report_code`` the message type, ``entity_reference``
          ``GrpHdr/MsgId``, ``submitted_at`` ``CreDtTm`` in UTC, ``reporting_entity``
          the sender's BIC (AppHdr ``Fr``, else the instructing agent).
        * ``rejects``: payments whose ``IntrBkSttlmAmt`` is missing or not a decimal.

    Raises
    ------
    InputError
        The file cannot be opened, is not well-formed XML (line and column named),
        declares entities in a DOCTYPE, or holds another message type (named, e.g.
        ``unsupported message type pacs.009.001.08``).

    Examples
    --------
    >>> b = read("tests/data/wires/same_payment/pacs008_uetr.xml")
    >>> r = b.transactions.to_pylist()[0]
    >>> str(r["amount"]), r["currency"], r["uetr"], r["agent_chain"]
    ('12500.000', 'EUR', '7b0b6e0e-1a0c-4f2e-9d3c-5f1b2a3c4d5e', ['DEUTDEFF', 'CHASUS33', 'BCITITMM'])
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    _root, doc, msg, msg_type, head, nonstd = open_message(path, {"FIToFICstmrCdtTrf": "pacs.008"}, _NS_RE, "pacs.008")
    return PaymentReader(path, FORMAT, doc, msg, msg_type, head, nonstd).run()
