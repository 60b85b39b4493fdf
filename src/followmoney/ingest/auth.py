"""ISO 20022 Authorities Financial Investigations adapter: ``auth.001``, ``auth.002``, ``auth.003``.

FIUs and law enforcement ask banks for information with these messages (message
definitions in ``shared/samples/iso20022/xsd/``):

* ``auth.001`` InformationRequestOpening (authority -> bank): the investigation id
  (``InvstgtnId``), legal basis (``LglMndtBsis/Prgrph``), confidentiality, due date,
  period, and the search criteria: an account (``SchCrit/Acct``), a customer
  (``SchCrit/CstmrId``) or a payment instrument (``SchCrit/PmtInstrm``);
* ``auth.002`` InformationRequestResponse (bank -> authority): the response id and
  status, the investigation it answers, and per return indicator either a result
  (``InvstgtnRslt/Rslt``: an envelope carrying other messages, typically the
  statements of the account: camt.053/052/054) or an investigation status
  (``InvstgtnSts``: found / not found / not applicable ...);
* ``auth.003`` InformationRequestStatusChangeNotification: the confidentiality status of
  an earlier request changed (``OrgnlBizQry``, ``CnfdtltySts``); its supplementary data
  envelope may also carry messages.

One file becomes one :class:`~followmoney.Bundle`:

* ``reports``: one row for the auth message (``report_code`` its type,
  ``entity_reference`` the investigation id, response id or original query,
  ``reason`` and ``narrative`` what the message says about the request);
* the search criteria's account, its owner and a searched customer as ``accounts``,
  ``parties`` and ``party_accounts`` rows: the subjects of the request;
* every message found inside a result or supplementary-data envelope, read by its own
  adapter (camt.052/053/054 by :mod:`followmoney.ingest.camt`, pacs.008 and pain.001 by
  the payment adapters) into the same bundle: its rows keep their ``source_ref`` as
  ``file#XPath`` through the envelope, and carry the investigation id in
  ``request_reference``; a message of another type is one reject naming the type.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
from lxml import etree

from followmoney.core.bundle import Bundle
from followmoney.ingest import _payment as pay
from followmoney.ingest import camt
from followmoney.ingest._collect import Collector, InputError, file_digest, stable_id
from followmoney.ingest._xml import find_document, load_document, utf8_head
from followmoney.ingest.camt import _KIDS, _child, _children, _local, _path, _Paths, _ptext, _raw, _squash

__all__ = ["FORMAT", "sniff", "is_companion", "read"]

FORMAT = "auth"

_MESSAGES = {"InfReqOpng": "auth.001", "InfReqRspn": "auth.002", "InfReqStsChngNtfctn": "auth.003"}
_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(auth\.00[123]\.001\.\d{2})")
_SNIFF = re.compile(
    rb"urn:iso:std:iso:20022:tech:xsd:auth\.00[123]\.001\.\d\d|<(?:[\w.-]+:)?(?:InfReqOpng|InfReqRspn|InfReqStsChngNtfctn)[\s>]"
)
_STATUS = {
    "FOUN": "found",
    "NFOU": "not found",
    "NOAP": "not applicable",
    "NRES": "no response yet",
    "PART": "partial response",
    "COMP": "complete response",
}


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like an auth.001/002/003 message.

    Examples
    --------
    >>> sniff("r.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:auth.002.001.01"><InfReqRspn>')
    True
    >>> sniff("s.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">')
    False
    """
    head = utf8_head(head)
    return bool(_SNIFF.search(head))


def is_companion(path) -> bool:
    """auth files have no companion files: always False."""
    return False


def _period(el) -> str | None:
    """``InvstgtnPrd``/``RspnPrd`` (``Dt/FrDt..ToDt`` or ``DtTm/FrDtTm..ToDtTm``) as ``from..to``."""
    if el is None:
        return None
    for wrap, a, b in (("Dt", "FrDt", "ToDt"), ("DtTm", "FrDtTm", "ToDtTm")):
        w = _child(el, wrap)
        if w is not None:
            return f"{_ptext(w, a) or '?'}..{_ptext(w, b) or '?'}"
    return None


class _Reader(camt._Reader):
    """Reads the auth message; reuses the camt reader's party and account mapping."""

    def __init__(self, path: Path, root, doc, msg, msg_type: str):
        self.path = path
        self.file = path.name
        self.root, self.doc, self.msg, self.msg_type = root, doc, msg, msg_type
        self.c = Collector(FORMAT, path)
        self.xpath = _Paths()
        self._report_id = stable_id("R", "auth", file_digest(path))  # from content, never the file name
        self.request_refs: list[str] = []

    def run(self) -> Bundle:
        kind = _MESSAGES[_local(self.msg)]
        m = self.msg
        reason = narrative = None
        if kind == "auth.001":
            ref = _ptext(m, "InvstgtnId")
            parts = [
                f"legal basis: {_squash(_ptext(m, 'LglMndtBsis', 'Prgrph'))}" if _ptext(m, "LglMndtBsis", "Prgrph") else None,
                f"confidential: {_ptext(m, 'CnfdtltySts')}" if _ptext(m, "CnfdtltySts") else None,
                f"period: {_period(_child(m, 'InvstgtnPrd'))}" if _child(m, "InvstgtnPrd") is not None else None,
                f"due: {_ptext(m, 'DueDt', 'DueDt')}" if _ptext(m, "DueDt", "DueDt") else None,
            ]
            reason = "information request"
            narrative = "; ".join(p for p in parts if p) or None
            investigation = ref
        elif kind == "auth.002":
            ref = _ptext(m, "RspnId")
            investigation = _ptext(m, "InvstgtnId")
            statuses = [_ptext(r, "InvstgtnRslt", "InvstgtnSts") for r in _children(m, "RtrInd")]
            parts = [f"response status: {_ptext(m, 'RspnSts')}" if _ptext(m, "RspnSts") else None]
            parts += [f"investigation status: {s} ({_STATUS.get(s, 'code')})" for s in statuses if s]
            asked = [_ptext(r, "AuthrtyReqTp", "MsgNmId") for r in _children(m, "RtrInd")]
            parts += [f"requested: {a}" for a in asked if a]
            reason = f"response to information request {investigation}" if investigation else "response to an information request"
            narrative = "; ".join(p for p in parts if p) or None
        else:
            ref = investigation = _ptext(m, "OrgnlBizQry")
            reason = f"status change of information request {ref}" if ref else "status change of an information request"
            narrative = f"confidential: {_ptext(m, 'CnfdtltySts')}" if _ptext(m, "CnfdtltySts") else None
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": FORMAT,
                "report_code": self.msg_type,
                "entity_reference": ref,
                "reason": reason,
                "narrative": narrative,
                "source_file": self.file,
            },
        )
        try:
            self.criteria(_child(m, "SchCrit"))
            envelopes = [_path(r, "InvstgtnRslt", "Rslt") for r in _children(m, "RtrInd")]
            envelopes += [_child(s, "Envlp") for s in _children(m, "SplmtryData")]
            envelopes = [e for e in envelopes if e is not None]
            for env in envelopes:
                for inner in env.iterchildren(tag=etree.Element):
                    self.inner(inner)
        finally:
            _KIDS.clear()
        b = self.c.bundle()
        if investigation and b.transactions.num_rows:
            t = b.transactions
            col = pa.array([investigation] * t.num_rows, pa.string())
            doc_ = pay.WIRE_COLUMNS["request_reference"][1]
            if "request_reference" in t.column_names:
                t = t.drop_columns(["request_reference"])
            b.transactions = t.append_column(pa.field("request_reference", pa.string(), metadata={"doc": doc_}), col)
        camt.typed_extras(b)
        return pay.typed(b)

    def criteria(self, sch) -> None:
        """The searched account (with owner and servicer) or customer: the request's subjects."""
        if sch is None:
            return
        acct = _path(sch, "Acct", "Id")
        if acct is not None:
            number, iban = camt._acct_ident(acct)
            bic, member = camt._agent_bic(_child(acct, "Svcr"))
            acc_id = camt.account_id(number, iban=iban, bank=bic or member)
            if acc_id:
                self.c.add(
                    "accounts",
                    {"account_id": acc_id, "institution": bic or member, "account_number": number, "iban": iban,
                     "name": _squash(_ptext(acct, "Nm")), "currency": (_ptext(acct, "Ccy") or "").upper() or None,
                     "source_ref": self.ref(acct)},
                )  # fmt: skip
            self.party(_child(acct, "Ownr"), acc_id, None, None)
        pty = _path(sch, "CstmrId", "Pty")
        if pty is not None:
            self.party(pty, None, None, None)

    def inner(self, el) -> None:
        """Route one message found in an envelope to its adapter, on this file's collector."""
        doc = el if _local(el) == "Document" else next((d for d in el.iter(tag=etree.Element) if _local(d) == "Document"), el)
        ns = etree.QName(doc).namespace or ""
        xp = self.xpath(doc)
        cm = camt._NS_RE.fullmatch(ns)
        msg = next((c for c in doc.iterchildren(tag=etree.Element) if _local(c) in camt._MESSAGES), None)
        if cm and msg is not None:
            kind, stmt_tag = camt._MESSAGES[_local(msg)]
            r = camt._Reader(self.path, doc, msg, f"{cm['kind']}.001.{cm['ver']}", kind, stmt_tag, False, self.xpath)
            r.c, r.xpath, r._report_id = self.c, self.xpath, stable_id("R", self.report_id, xp)
            r.run()
            return
        from followmoney.ingest import pacs008, pain001

        for mod, elname, ns_re in ((pacs008, "FIToFICstmrCdtTrf", pacs008._NS_RE), (pain001, "CstmrCdtTrfInitn", pain001._NS_RE)):
            pm = ns_re.fullmatch(ns)
            pmsg = _child(doc, elname)
            if pm and pmsg is not None:
                reader_cls = pacs008.PaymentReader if mod is pacs008 else pain001._Reader
                r = reader_cls(self.path, mod.FORMAT, doc, pmsg, pm.group(1), None, False)
                r.c, r.xpath, r._report_id = self.c, self.xpath, stable_id("R", self.report_id, xp)
                r.run()
                return
        iso = camt._ISO_NS_RE.fullmatch(ns)
        what = iso["type"] if iso else f"<{_local(doc)}> (namespace {ns or 'none'})"
        self.c.reject(
            "transactions", xp,
            f"message {what} in the response envelope is not read (camt.052/053/054, pacs.008 and pain.001 are)",
            _raw(doc),
        )  # fmt: skip



def read(path, **_other) -> Bundle:
    """Read one auth.001, auth.002 or auth.003 message (bare or in an envelope).

    Parameters
    ----------
    path : str or path-like
        The XML file.
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        ``reports`` (the auth message and each message carried inside), the request's
        subject account and parties, and the carried messages' transactions,
        statements, accounts, parties and identifiers, as in the module notes; each
        carried row has ``request_reference`` = the investigation id. Money is exact
        decimals in the currency beside it.

    Raises
    ------
    InputError
        The file cannot be opened, is not well-formed XML, declares entities in a
        DOCTYPE, or is another message type (named).

    Examples
    --------
    >>> b = read("tests/data/wires/auth002_response.xml")
    >>> b.reports.column("report_code").to_pylist()
    ['auth.002.001.01', 'camt.053.001.02']
    >>> sorted(set(b.transactions.column("request_reference").to_pylist()))
    ['FIU-2026-0042']
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    root = load_document(path, "ISO 20022 authorities messages")
    doc = find_document(root)
    ns = etree.QName(doc).namespace or ""
    msg = next((c for c in doc.iterchildren(tag=etree.Element) if _local(c) in _MESSAGES), None)
    m = _NS_RE.fullmatch(ns)
    if msg is None:
        iso = camt._ISO_NS_RE.fullmatch(ns)
        if iso:
            raise InputError(
                f"{path.name}: unsupported message type {iso['type']} (namespace {ns}); "
                "the auth adapter reads auth.001, auth.002 and auth.003"
            )
        raise InputError(f"{path.name}: not an auth.001/002/003 message: namespace {ns or '(none)'}, element <{_local(doc)}>")
    msg_type = m.group(1) if m else _MESSAGES[_local(msg)]
    return _Reader(path, root, doc, msg, msg_type).run()
