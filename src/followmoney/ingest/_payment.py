"""Shared mapping of payment messages onto the canonical tables.

The wire adapters (ISO 20022 ``pacs.008`` and ``pain.001``, SWIFT MT103/MT101) describe
one payment the same way: a debtor and a creditor with their accounts, ultimate parties,
a chain of agents (banks) the money passes through, a settled and an instructed amount,
charges, purpose and regulatory reporting codes, and the references that follow the
payment end to end (UETR, end-to-end id). This module holds what they share:

* :data:`WIRE_COLUMNS`: the extra ``transactions`` columns of a wire (types and docs),
  and :func:`typed` that gives them their types;
* :class:`Agent`: a financial institution of the chain, its BIC (or clearing member id)
  and country;
* :func:`chain` and :func:`route`: the ordered agent chain and the countries the money
  passes through (every party's and every agent's), which the country-list rules read;
* :func:`bic_country`: ISO 3166 country of a BIC (its 5th and 6th characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.normalize import normalize_country

__all__ = ["WIRE_COLUMNS", "WIRE_SOURCES", "Agent", "bic_country", "chain", "route", "typed", "charges_total"]

_STRLIST = pa.list_(pa.string())

#: Adapter names whose rows are payment messages (not statement lines).
WIRE_SOURCES = ("pacs008", "pain001", "mt103")

#: Extra ``transactions`` columns of the wire adapters: column -> (Arrow type, description).
WIRE_COLUMNS = {
    "uetr": (
        pa.string(),
        "Unique end-to-end transaction reference (SWIFT gpi UUID: pacs.008 PmtId/UETR, MT103 block 3 {121:}), lower case.",
    ),
    "instruction_id": (pa.string(), "Instruction id (pacs/pain PmtId/InstrId, MT103 :20: sender's reference, MT101 :21:)."),
    "interbank_tx_id": (pa.string(), "Interbank transaction id (pacs.008 PmtId/TxId)."),
    "message_type": (pa.string(), "Message the row was read from: pacs.008.001.08, pain.001.001.03, MT103, MT101."),
    "charge_bearer": (pa.string(), "Who bears the charges: DEBT, CRED, SHAR, SLEV (ISO 20022) or OUR, BEN, SHA (MT :71A:)."),
    "charges_amount": (schema.MONEY, "Sum of the stated charges (pacs ChrgsInf/Amt, MT :71F:/:71G:) when all are in one currency."),
    "charges_currency": (pa.string(), "ISO 4217 code of charges_amount."),
    "charges": (_STRLIST, "Every stated charge as 'CCY amount' (with ' by <agent>' where the source names who took it)."),
    "purpose": (pa.string(), "Purpose code (Purp/Cd, or Prtry) or MT :26T: transaction type code."),
    "category_purpose": (pa.string(), "Category purpose (PmtTpInf/CtgyPurp) or MT :23B: bank operation code."),
    "service_level": (pa.string(), "Service level / local instrument (PmtTpInf/SvcLvl, LclInstrm)."),
    "regulatory_reporting": (
        _STRLIST,
        "Regulatory reporting (RgltryRptg, MT :77B:), one item per detail: indicator, authority country, code, amount, text.",
    ),
    "instruction_codes": (_STRLIST, "Instructions for the agents (InstrForCdtrAgt/InstrForNxtAgt codes, MT :23E:)."),
    "sender_to_receiver_info": (pa.string(), "Free text between the banks (MT :72:, pacs InstrForNxtAgt/InstrInf)."),
    "debtor_agent": (pa.string(), "BIC (else clearing member id or name) of the debtor's bank."),
    "creditor_agent": (pa.string(), "BIC (else clearing member id or name) of the creditor's bank."),
    "intermediary_agents": (
        _STRLIST,
        "Intermediary agents and correspondents between them, in order (IntrmyAgt1-3, MT :53a:/:54a:/:56a:).",
    ),
    "agent_chain": (
        _STRLIST,
        "Every bank the payment passes, in order: debtor agent, previous instructing agents, instructing agent, "
        "instructed agent, intermediaries, creditor agent (a bank named again is dropped).",
    ),
    "agent_countries": (_STRLIST, "ISO 3166-1 alpha-2 country of each agent_chain entry (its address, else the BIC), null where unknown."),
    "route_countries": (
        _STRLIST,
        "Distinct countries on the payment's way, in order: ultimate debtor, debtor, every agent, creditor, ultimate creditor.",
    ),
    "ultimate_debtor": (pa.string(), "party_id of the ultimate debtor (on whose behalf the debtor pays)."),
    "ultimate_creditor": (pa.string(), "party_id of the ultimate creditor (who finally receives)."),
    "initiating_party": (pa.string(), "party_id of the initiating party when it is not the debtor."),
    "other_fields": (
        _STRLIST,
        "Fields not mapped to a column, as 'NAME:value' (pacs SttlmMtd, reimbursement agents, priorities, "
        "agents' accounts; MT block 3 tags in braces, :13C:).",
    ),
    "request_reference": (pa.string(), "auth.002: the authority's investigation id (InvstgtnId) whose response carried the row."),
    "observed_in": (_STRLIST, "Consolidated payments: source_ref of every source row that showed this payment (the row kept first)."),
    "consolidation_key": (
        pa.string(),
        "Consolidated payments: what joined the rows ('uetr:<UETR>', 'e2e:<id>/<currency>/<amount>', 'ref:...', "
        "'dcad:...', 'acad:...'; followmoney.consolidate); null when seen once.",
    ),
}


def typed(bundle: Bundle, columns: dict | None = None) -> Bundle:
    """Cast the extra ``transactions`` columns of ``bundle`` to their declared types.

    Rows are collected as dicts, so an extra column's type is inferred from its values
    (``null`` when all are missing); this gives it its declared type and description.

    Parameters
    ----------
    bundle : Bundle
        Changed in place.
    columns : dict, optional
        Column -> (Arrow type, description); default :data:`WIRE_COLUMNS`.

    Returns
    -------
    Bundle
        The same bundle.
    """
    cols = WIRE_COLUMNS if columns is None else columns
    t = bundle.transactions
    for col, (typ, doc) in cols.items():
        if col in t.column_names:
            i = t.column_names.index(col)
            t = t.set_column(i, pa.field(col, typ, metadata={"doc": doc}), t.column(col).cast(typ))
    bundle.transactions = t
    return bundle


def bic_country(bic: str | None) -> str | None:
    """ISO 3166-1 alpha-2 country of a BIC (characters 5-6), None when not a country.

    Examples
    --------
    >>> bic_country("FNTXDE2X"), bic_country("glpbes2xxxx"), bic_country("BICFOOYY"), bic_country(None)
    ('DE', 'ES', None, None)
    """
    if not bic or len(bic) < 6 or not re.fullmatch(r"[A-Za-z]{6}[A-Za-z0-9]{2}(?:[A-Za-z0-9]{3})?", bic.strip()):
        return None
    code = bic.strip()[4:6].upper()
    return code if normalize_country(code) == code else None


@dataclass
class Agent:
    """A financial institution named by a payment message.

    Attributes
    ----------
    role : str
        ``debtor_agent``, ``previous_instructing_agent``, ``instructing_agent``,
        ``intermediary``, ``instructed_agent``, ``creditor_agent``, ``senders_correspondent``, ...
    bic : str or None
        BIC as written, upper case.
    member : str or None
        Clearing system member id (national bank code).
    name : str or None
    country : str or None
        ISO 3166-1 alpha-2: the agent's postal address country, else its BIC's.
    """

    role: str
    bic: str | None = None
    member: str | None = None
    name: str | None = None
    country: str | None = None

    @property
    def key(self) -> str | None:
        """How the agent is named in the chain: BIC (a head office's ``XXX`` branch dropped), else clearing member id, else name."""
        if self.bic and len(self.bic) == 11 and self.bic.endswith("XXX"):
            return self.bic[:8]
        return self.bic or self.member or self.name


def chain(agents: list[Agent]) -> tuple[list[str], list[str | None]]:
    """The agent chain (keys in the given order, a bank named again dropped) and each one's country.

    A bank appears once, where it is first named: a pacs.008's instructed agent is
    usually also its first intermediary or its creditor agent.

    Examples
    --------
    >>> chain([Agent("debtor_agent", "FNTXDE2X", country="DE"), Agent("instructing_agent", "FNTXDE2X", country="DE"),
    ...        Agent("creditor_agent", "GLPBES2X", country="ES")])
    (['FNTXDE2X', 'GLPBES2X'], ['DE', 'ES'])
    """
    keys: list[str] = []
    countries: list[str | None] = []
    for a in agents:
        k = a.key
        if not k or k in keys:
            continue
        keys.append(k)
        countries.append(a.country)
    return keys, countries


def route(*countries: str | None) -> list[str]:
    """Distinct known countries in order of first appearance.

    Examples
    --------
    >>> route("DE", None, "DE", "GB", "ES", "ES")
    ['DE', 'GB', 'ES']
    """
    return list(dict.fromkeys(c for c in countries if c))


def charges_total(charges: list[tuple[Decimal, str | None]]) -> tuple[Decimal | None, str | None]:
    """Sum of the charges when they are all in one known currency, else (None, None).

    Examples
    --------
    >>> charges_total([(Decimal("0"), "USD"), (Decimal("29.00"), "USD")])
    (Decimal('29.00'), 'USD')
    >>> charges_total([(Decimal("1"), "USD"), (Decimal("1"), "EUR")])
    (None, None)
    """
    ccys = {c for _, c in charges}
    if not charges or len(ccys) != 1 or None in ccys:
        return None, None
    return sum((a for a, _ in charges), Decimal(0)), ccys.pop()
