"""ISO 20022 ``pain.001`` adapter: customer credit-transfer initiations.

A ``pain.001`` is what a bank's customer (often a company, or a money-service business
paying out for others) sends to its bank: one or more payment batches (``PmtInf``: the
debtor, its account and agent, the requested execution date, the charge bearer), each
with its credit transfers (``CdtTrfTxInf``: the creditor, its account and agent, the
amount). FIUs see them in production orders and in information-request responses: they
show the ordering side of payments before they become interbank wires. One file becomes
one :class:`~followmoney.Bundle`, mapped as the ``pacs.008`` adapter
(:mod:`followmoney.ingest.pacs008`) maps a payment, with these differences:

* ``amount`` / ``currency`` and ``instructed_amount`` / ``instructed_currency``: the
  ordered ``Amt/InstdAmt``; with ``Amt/EqvtAmt`` (an amount in the debtor account's
  currency to be converted into ``CcyOfTrf``) ``amount`` is that amount and the row has
  the flag ``equivalent_amount``; ``fx_rate`` from ``XchgRateInf/XchgRate``.
* ``timestamp``: the requested execution date ``ReqdExctnDt`` (``Dt`` or ``DtTm``), else
  the message's ``CreDtTm`` (flag ``date_from_message``). An initiation is an order, not
  a settlement: rows carry the flag ``initiation``.
* The debtor, its account and agent, the ultimate debtor, the charge bearer and the
  payment type come from the ``PmtInf`` unless the transfer states its own; the
  initiating party from the group header.
"""

from __future__ import annotations

import re
from pathlib import Path

from followmoney.core.bundle import Bundle
from followmoney.ingest import _payment as pay
from followmoney.ingest._collect import InputError
from followmoney.ingest.camt import _KIDS, _child, _children, _date_choice, _ptext
from followmoney.ingest.pacs008 import PaymentReader, agent, open_message
from followmoney.ingest._xml import utf8_head

__all__ = ["FORMAT", "sniff", "is_companion", "read"]

FORMAT = "pain001"

_NS_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(pain\.001\.001\.\d{2})")
_SNIFF = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:pain\.001\.001\.\d\d|<(?:[\w.-]+:)?CstmrCdtTrfInitn[\s>]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like a pain.001 message.

    Examples
    --------
    >>> sniff("p.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">')
    True
    >>> sniff("p.xml", b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">')
    False
    """
    head = utf8_head(head)
    return bool(_SNIFF.search(head))


def is_companion(path) -> bool:
    """pain.001 files have no companion files: always False."""
    return False


class _Reader(PaymentReader):
    def run(self) -> Bundle:
        self.report()
        grp = _child(self.msg, "GrpHdr")
        try:
            for pi in _children(self.msg, "PmtInf"):
                for tx in _children(pi, "CdtTrfTxInf"):
                    self.payment(tx, grp, pi)
                _KIDS.clear()
                self._parties.clear()
        finally:
            _KIDS.clear()
        return pay.typed(self.c.bundle())

    def amounts(self, tx, level):
        amt = _child(tx, "Amt")
        inst = _child(amt, "InstdAmt")
        rate = _ptext(tx, "XchgRateInf", "XchgRate")
        if inst is None and _child(amt, "EqvtAmt") is not None:
            return _child(_child(amt, "EqvtAmt"), "Amt"), None, rate, "Amt/EqvtAmt/Amt", ["equivalent_amount"]
        return inst, inst, rate, "Amt/InstdAmt", []

    def when(self, tx, grp, level):
        got = _date_choice(_child(level, "ReqdExctnDt"))
        flags = ["initiation"]
        if got:
            return got, got[2], flags
        return self.created, None, flags + (["date_from_message"] if self.created else ["date_missing"])

    def agents(self, tx, grp, level):
        out = []
        for el, role in (
            (self.side(tx, level, "DbtrAgt"), "debtor_agent"),
            *((_child(tx, f"IntrmyAgt{i}"), "intermediary") for i in (1, 2, 3)),
            (_child(tx, "CdtrAgt"), "creditor_agent"),
        ):
            a = agent(el, role)
            if a is not None:
                out.append(a)
        return out


def read(path, **_other) -> Bundle:
    """Read one pain.001 customer credit-transfer initiation.

    Parameters
    ----------
    path : str or path-like
        The XML file (a ``Document`` at the root or inside a wrapper).
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        As :func:`followmoney.ingest.pacs008.read`, one ``transactions`` row per
        ``CdtTrfTxInf`` (module notes); ``reports`` one row (``entity_reference`` the
        ``GrpHdr/MsgId``, ``reporting_entity`` null: the sender is a customer).
        ``rejects``: transfers whose ``Amt`` is missing or not a decimal.

    Raises
    ------
    InputError
        The file cannot be opened, is not well-formed XML, declares entities in a
        DOCTYPE, or holds another message type (named).

    Examples
    --------
    >>> import followmoney as fm
    >>> b = read("tests/data/wires/pain001_two_batches.xml")
    >>> [(str(r["amount"]), r["currency"], r["counterparty_name"]) for r in b.transactions.to_pylist()]
    [('111.110', 'USD', 'COMPANY Z'), ('2500.000', 'EUR', 'ALPHA HANDEL GMBH')]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    _root, doc, msg, msg_type, head, nonstd = open_message(path, {"CstmrCdtTrfInitn": "pain.001"}, _NS_RE, "pain.001")
    return _Reader(path, FORMAT, doc, msg, msg_type, head, nonstd).run()
