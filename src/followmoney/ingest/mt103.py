"""SWIFT MT103 (single customer credit transfer) and MT101 (request for transfer) adapter.

MT103 was the cross-border customer wire until ISO 20022 ``pacs.008`` replaced it in
November 2025; FIUs keep meeting it in archives, production orders and older reports.
One file (plain FIN text, an RJE batch of ``$``-separated messages, or a DOS-PCC
container; ACK/NAK service messages, block 3 user header, block 5 and S trailers
anywhere) becomes one :class:`~followmoney.Bundle`:

* ``transactions``: one row per MT103, and one per transaction (sequence B, from
  ``:21:``) of an MT101, or one reject naming the message and the field;
* ``parties``: the ordering customer (``:50a:``) and the beneficiary (``:59a:``), and an
  MT101's instructing party (``:50C:``/``:50L:``); ``accounts`` and ``party_accounts``:
  their accounts (the ``/account`` line); ``identifiers``: addresses and the
  identifiers of a structured ``:50F:``/``:59F:``;
* ``reports``: one row for the file.

Mapping
-------
* ``amount`` / ``currency`` / ``value_date``: ``:32A:`` (value date, currency, interbank
  settled amount; MT101 ``:32B:`` with the requested execution date ``:30:``);
  ``instructed_amount`` / ``instructed_currency``: ``:33B:``; ``fx_rate``: ``:36:``.
  Amounts use the decimal comma (``3700,``, ``1417,8``) and are read exactly.
  ``timestamp``: the value date at 00:00 UTC.
* Charges: ``:71A:`` (OUR/SHA/BEN) in ``charge_bearer``; every ``:71F:`` (sender's) and
  ``:71G:`` (receiver's) charge in ``charges``, their sum in ``charges_amount`` when all
  share a currency.
* Agents: ordering institution ``:52a:`` (else the sender of the message, from block 1
  or 2) as the debtor agent; the sender; sender's and receiver's correspondents
  ``:53a:``/``:54a:``; the receiver; intermediary ``:56a:``; account-with institution
  ``:57a:`` (else the receiver) as the creditor agent. ``agent_chain`` lists them in
  that order, each bank once, with the country of each BIC.
* References: ``uetr`` from block 3 ``{121:}``; ``instruction_id`` and
  ``source_txn_ref`` from ``:20:`` (MT101: ``:21:``); ``category_purpose`` the bank
  operation code ``:23B:``; ``instruction_codes`` ``:23E:``; ``purpose`` ``:26T:``;
  ``description`` the remittance ``:70:``; ``sender_to_receiver_info`` ``:72:``;
  ``regulatory_reporting`` ``:77B:``. Fields not mapped (``:13C:``, block 3 tags such as
  ``{108:}`` MUR, ``{119:}``, ``{433:}`` screening result) are kept in ``other_fields``
  as ``TAG:value``.
* Countries: a party's country from its structured address (``3/CC/town``), else its
  IBAN, else its bank's BIC; ``route_countries`` adds every agent's.
* ``quality_flags``: ``nak`` (SWIFT refused the message: ``{451:1}``),
  ``malformed_envelope`` (stray brace, unterminated text block), ``nonstandard_amount``,
  ``amount_rounded``, ``self_transfer``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from followmoney.core.bundle import Bundle
from followmoney.ingest import _payment as pay
from followmoney.ingest import _swift
from followmoney.ingest._collect import Collector, InputError, file_digest, stable_id
from followmoney.ingest.camt import account_id, is_bic, is_iban
from followmoney.ingest.mt940 import _amount, _decode, _yymmdd

__all__ = ["FORMAT", "sniff", "is_companion", "read", "parse_party"]

FORMAT = "mt103"

_SNIFF_B2 = re.compile(rb"\{2:[IO]10[13]")
_SNIFF_32 = re.compile(rb"^:32[AB]:", re.M)
_SNIFF_PARTY = re.compile(rb"^:(?:50[A-Z]?|59[A-Z]?):", re.M)
_SNIFF_STMT = re.compile(rb"^:(?:60[FM]|61|62[FM]):", re.M)
_RAW_MAX = 20000
_MAPPED = {"20", "21", "23B", "23E", "26T", "30", "32A", "32B", "33B", "36", "70", "71A", "71F", "71G", "72", "77B", "28D", "21R"}
_PERSON_IDS = {"CCPT", "NIDN", "DRLC", "SOSE", "ARNU"}


def sniff(path, head: bytes) -> bool:
    """Tell whether a file holds SWIFT MT103 / MT101 messages.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when a block 2 names MT101 or MT103 (``{2:I103``, ``{2:O101``), or, for a
        bare text block, when ``:32A:``/``:32B:`` and a ``:50a:``/``:59a:`` party field
        start lines and no statement field (``:60F:``, ``:61:``, ``:62F:``) does.

    Examples
    --------
    >>> sniff("m.fin", b"{1:F01AAAABEBBAXXX0000000000}{2:I103BBBBDEFFXXXXN}{4:\\n:20:X\\n-}")
    True
    >>> sniff("s.sta", b":20:S\\n:25:X/1\\n:60F:C240101EUR0,\\n:61:2401010101C1,NTRFX\\n:62F:C240101EUR1,\\n")
    False
    """
    if _SNIFF_B2.search(head):
        return True
    return bool(_SNIFF_32.search(head) and _SNIFF_PARTY.search(head) and not _SNIFF_STMT.search(head))


def is_companion(path) -> bool:
    """MT103 files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- fields
@dataclass
class PartyField:
    """What a party or agent field (``:50K:``, ``:59F:``, ``:57A:`` ...) says."""

    account: str | None = None
    bic: str | None = None
    member: str | None = None
    name: str | None = None
    address: list[str] = field(default_factory=list)
    country: str | None = None
    ids: list[tuple[str, str]] = field(default_factory=list)
    birth_date: date | None = None
    person: bool = False


def _squash(s: str | None) -> str | None:
    s = re.sub(r"\s+", " ", s).strip() if s else None
    return s or None


def parse_party(f: _swift.Field) -> PartyField:
    """Read a party or agent field by its option letter.

    ``A``: optional ``/account`` (or ``//clearing code``) line, then a BIC; ``F``:
    account or ``CODE/CC/ID`` line, then numbered lines (``1/`` name, ``2/`` address,
    ``3/CC/town``, ``4/`` birth date, ``6/``-``8/`` identifiers); ``K``, ``D``, ``H``,
    no letter: optional ``/account`` line, then name and address lines; ``B``/``C``:
    account or location only.

    Examples
    --------
    >>> from followmoney.ingest._swift import Field
    >>> p = parse_party(Field("50K", 1, ["/0391017000259", "DDDDDDDDDDDD", "85 AV DE L'UMA", "TUNISIE"]))
    >>> p.account, p.name, p.address
    ('0391017000259', 'DDDDDDDDDDDD', ["85 AV DE L'UMA", 'TUNISIE'])
    >>> p = parse_party(Field("52A", 1, ["/2337", "FOOAESMMXXX"]))
    >>> p.account, p.bic
    ('2337', 'FOOAESMMXXX')
    >>> p = parse_party(Field("50F", 1, ["/12345", "1/JOHN DOE", "2/1 MAIN ST", "3/GB/LONDON", "4/19700101"]))
    >>> p.name, p.country, p.birth_date, p.person
    ('JOHN DOE', 'GB', datetime.date(1970, 1, 1), True)
    """
    opt = f.tag[2:]
    lines = [ln.rstrip() for ln in f.lines if ln.strip()]
    out = PartyField()
    if lines and lines[0].startswith("/") and not (opt == "F" and re.match(r"\d/", lines[0])):
        first = lines.pop(0)
        if first.startswith("//"):
            out.member = first[2:].strip() or None
        else:
            acct = re.sub(r"^/[CD]/", "", first)[1:] if re.match(r"/[CD]/", first) else first[1:]
            acct = acct.strip()
            out.account = None if acct in ("", "-") else acct
    if opt == "A":
        bic = lines[0].strip().upper() if lines else None
        out.bic = bic if bic and is_bic(bic) else None
        if out.bic is None and bic:
            out.name = bic
        return out
    if opt == "F":
        if lines and re.fullmatch(r"[A-Z]{4}/[A-Z]{2}/.+", lines[0]):
            code, _cc, value = lines.pop(0).split("/", 2)
            out.ids.append((code, value.strip()))
            out.person = out.person or code in _PERSON_IDS
        names = []
        for ln in lines:
            m = re.match(r"([1-8])/(.*)", ln)
            if not m:
                continue
            n, v = m.group(1), m.group(2).strip()
            if n == "1":
                names.append(v)
            elif n == "2":
                out.address.append(v)
            elif n == "3":
                cc, _, town = v.partition("/")
                out.country = cc.upper() if re.fullmatch(r"[A-Za-z]{2}", cc) else out.country
                if town.strip():
                    out.address.append(town.strip())
            elif n == "4":
                try:
                    out.birth_date = datetime.strptime(v, "%Y%m%d").date()
                    out.person = True
                except ValueError:
                    pass
            elif n in ("6", "7", "8"):
                out.ids.append(({"6": "CUST", "7": "NIDN", "8": "ADDL"}[n], v))
                out.person = out.person or n == "7"
        out.name = _squash(" ".join(names))
        return out
    if opt in ("B", "C"):
        if lines and out.account is None and not out.member:
            out.name = _squash(lines[0])
        return out
    if lines:
        out.name = _squash(lines[0])
        out.address = [ln.strip() for ln in lines[1:]]
        if opt == "" or opt in ("K", "H", "D"):
            if out.name and is_bic(out.name.upper()) and len(lines) == 1:
                out.bic, out.name = out.name.upper(), None
    return out


def _agent(f: _swift.Field | None, role: str) -> pay.Agent | None:
    if f is None:
        return None
    p = parse_party(f)
    if not (p.bic or p.member or p.name):
        return None
    return pay.Agent(role, p.bic, p.member, p.name, pay.bic_country(p.bic))


def _ccy_amount(text: str) -> tuple[str, Decimal, list[str]]:
    m = re.fullmatch(r"\s*([A-Z]{3})([\d,.]+)\s*", text)
    if not m:
        raise ValueError(f"expected currency and amount ({text.strip()[:24]!r})")
    amount, flags = _amount(m.group(2), m.group(1))  # to the currency's ISO 4217 minor units
    return m.group(1), amount, flags


def _rate(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        d = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    return d.quantize(Decimal("1e-10")) if d.is_finite() and abs(d) < Decimal(10) ** 14 else None


# --------------------------------------------------------------------------- reader
class _Reader:
    def __init__(self, path: Path, text: str, flags: list[str]):
        self.file = path.name
        self.text = text
        self.lines = text.split("\n")
        self.c = Collector(FORMAT, path)
        self.report_id = stable_id("R", "mt103", file_digest(path))  # from content, never the file name
        self.file_flags = flags

    def raw(self, first: int, last: int) -> str:
        return "\n".join(self.lines[first - 1 : last])[:_RAW_MAX]

    def run(self) -> Bundle:
        msgs = _swift.messages(self.text)
        if not msgs or not any(m.fields for m in msgs):
            raise InputError(f"{self.file}: no SWIFT MT message: no text block with tagged fields (':20:', ':32A:' ...) found")
        kinds = []
        senders = []
        for m in msgs:
            mt = m.mt or ("101" if m.first("28D", "50H", "21R") and m.first("32B") else "103" if m.first("32A") else None)
            last = max((f.line + len(f.lines) - 1 for f in m.fields), default=m.line)
            if mt not in ("103", "101"):
                what = f"MT{mt}" if mt else "message without block 2"
                self.c.reject(
                    "transactions", m.line, f"{what}: not a customer credit transfer (the mt103 adapter reads MT103 and MT101)",
                    self.raw(m.line, last),
                )
                continue
            kinds.append(f"MT{mt}")
            senders.append(m.sender)
            if mt == "103":
                self.mt103(m, m.fields, None, last)
            else:
                self.mt101(m, last)
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": FORMAT,
                "report_code": "/".join(dict.fromkeys(kinds)) or None,
                "reporting_entity": senders[0] if senders and len(set(senders)) == 1 else None,
                "source_file": self.file,
            },
        )
        return pay.typed(self.c.bundle())

    def mt101(self, m: _swift.Message, last: int) -> None:
        seq_a: list[_swift.Field] = []
        seq_b: list[list[_swift.Field]] = []
        for f in m.fields:
            if f.tag == "21":
                seq_b.append([f])
            elif seq_b:
                seq_b[-1].append(f)
            else:
                seq_a.append(f)
        if not seq_b:
            self.c.reject("transactions", m.line, "MT101: no transaction (sequence B ':21:') in the message", self.raw(m.line, last))
            return
        for i, fs in enumerate(seq_b):
            end = seq_b[i + 1][0].line - 1 if i + 1 < len(seq_b) else last
            self.mt103(m, fs, seq_a, end)

    def mt103(self, m: _swift.Message, fs: list[_swift.Field], seq_a: list | None, last: int) -> None:
        """One payment: an MT103's fields, or an MT101 sequence B with its sequence A."""

        def first(*tags):
            for f in fs:
                if f.tag in tags:
                    return f
            for f in seq_a or ():
                if f.tag in tags:
                    return f
            return None

        mt = "MT101" if seq_a is not None else "MT103"
        start = fs[0].line if seq_a is not None else m.line
        flags = list(self.file_flags)
        if m.ack == "1":
            flags.append("nak")
        if m.malformed:
            flags.append("malformed_envelope")
        raw = self.raw(start, last)
        place = fs[0].line if fs else m.line
        # amount and date
        f32 = first("32A") if seq_a is None else first("32B")
        if f32 is None:
            self.c.reject("transactions", place, f"{mt}: ':{'32A' if seq_a is None else '32B'}:' (amount) missing", raw)
            return
        try:
            text = f32.text.strip()
            if seq_a is None:
                d = re.match(r"(\d{6})(.*)", text, re.S)
                if not d:
                    raise ValueError(f"expected YYMMDD at the start ({text[:12]!r})")
                vdate = _yymmdd(d.group(1))
                if vdate is None:
                    raise ValueError(f"invalid value date {d.group(1)!r}")
                ccy, amount, aflags = _ccy_amount(d.group(2))
            else:
                ccy, amount, aflags = _ccy_amount(text)
                f30 = first("30")
                vdate = _yymmdd(f30.text.strip()[:6]) if f30 else None
                if vdate is None:
                    flags.append("date_missing")
        except ValueError as exc:
            self.c.reject("transactions", f32.line, f"{mt} :{f32.tag}: {exc}", raw)
            return
        flags += aflags
        instructed = instructed_ccy = None
        f33 = first("33B")
        if f33 is not None:
            try:
                instructed_ccy, instructed, _ = _ccy_amount(f33.text)
            except ValueError:
                flags.append("instructed_amount_unreadable")
        charges, texts = [], []
        for f in [x for x in fs if x.tag in ("71F", "71G")]:
            try:
                c, a, _ = _ccy_amount(f.text)
            except ValueError:
                flags.append("charges_unreadable")
                continue
            charges.append((a, c))
            texts.append(f"{c} {a}" + (" by sender" if f.tag == "71F" else " by receiver"))
        ch_total, ch_ccy = pay.charges_total(charges)

        # agents: ordering institution (else sender) ... account-with institution (else receiver)
        sender = pay.Agent("sender", m.sender, country=pay.bic_country(m.sender)) if m.sender else None
        receiver = pay.Agent("receiver", m.receiver, country=pay.bic_country(m.receiver)) if m.receiver else None
        dagent = _agent(first("52A", "52D", "52C"), "debtor_agent")
        if dagent is None and sender is not None:
            dagent = pay.Agent("debtor_agent", sender.bic, country=sender.country)
        cagent = _agent(first("57A", "57B", "57C", "57D"), "creditor_agent")
        if cagent is None and receiver is not None:
            cagent = pay.Agent("creditor_agent", receiver.bic, country=receiver.country)
        inter = [a for a in (
            _agent(first("53A", "53B", "53D"), "senders_correspondent"),
            _agent(first("54A", "54B", "54D"), "receivers_correspondent"),
            _agent(first("56A", "56C", "56D"), "intermediary"),
        ) if a is not None]  # fmt: skip
        agents = [a for a in (dagent, sender, inter[0] if inter and inter[0].role == "senders_correspondent" else None) if a]
        agents += [a for a in inter if a.role == "receivers_correspondent"]
        agents += [a for a in (receiver,) if a]
        agents += [a for a in inter if a.role == "intermediary"]
        agents += [a for a in (cagent,) if a]
        keys, countries = pay.chain(agents)

        # parties
        ordering = first("50A", "50F", "50K", "50H", "50G")
        benef = first("59", "59A", "59F")
        instructing = first("50C", "50L") if seq_a is not None else None
        dbank = dagent.bic or dagent.member if dagent else None
        cbank = cagent.bic or cagent.member if cagent else None
        d_pid, d_acc, d_p = self.party(ordering, dbank)
        c_pid, c_acc, c_p = self.party(benef, cbank)
        i_pid = self.party(instructing, None)[0] if instructing is not None else None
        c_from = (d_p.country if d_p else None) or (dagent.country if dagent else None)
        c_to = (c_p.country if c_p else None) or (cagent.country if cagent else None)
        if d_acc and d_acc == c_acc:
            flags.append("self_transfer")

        f20 = first("20")
        ref = (fs[0].text.strip() if seq_a is not None else (f20.text.strip() if f20 else None)) or None
        uetr = m.sub("3").get("121")
        other = ["{" + f"{t}:{v}" + "}" for t, v in m.sub("3").items() if t != "121"]
        parties = ("50", "52", "53", "54", "56", "57", "59")
        other += [f":{f.tag}:{f.text}" for f in fs if f.tag not in _MAPPED and not f.tag.startswith(parties)]
        f70, f72, f77 = first("70"), first("72"), first("77B")
        f23e = [f.text.strip() for f in fs if f.tag == "23E"]
        self.c.add(
            "transactions",
            {
                "txn_id": stable_id("T", self.report_id, place),
                "report_id": self.report_id,
                "source": FORMAT,
                "source_ref": self.c.ref(place),
                "source_txn_ref": ref,
                "timestamp": datetime(vdate.year, vdate.month, vdate.day, tzinfo=timezone.utc) if vdate else None,
                "amount": amount,
                "currency": ccy,
                "instructed_amount": instructed,
                "instructed_currency": instructed_ccy,
                "fx_rate": _rate(first("36").text if first("36") else None),
                "from_account": d_acc,
                "to_account": c_acc,
                "from_party": d_pid,
                "to_party": c_pid,
                "channel": "wire",
                "description": _squash(" ".join(f70.lines)) if f70 else None,
                "counterparty_name": c_p.name if c_p else None,
                "counterparty_account": c_p.account if c_p else None,
                "counterparty_bic": cagent.bic if cagent else None,
                "value_date": vdate,
                "is_reversal": False,
                "country_from": c_from,
                "country_to": c_to,
                "quality_flags": list(dict.fromkeys(flags)),
                "uetr": uetr.lower() if uetr else None,
                "instruction_id": ref,
                "message_type": mt,
                "charge_bearer": (first("71A").text.strip() if first("71A") else None),
                "charges_amount": ch_total,
                "charges_currency": ch_ccy,
                "charges": texts,
                "purpose": first("26T").text.strip() if first("26T") else None,
                "category_purpose": first("23B").text.strip() if first("23B") else None,
                "regulatory_reporting": [_squash(" ".join(f77.lines))] if f77 else [],
                "instruction_codes": f23e,
                "sender_to_receiver_info": _squash(" ".join(f72.lines)) if f72 else None,
                "debtor_agent": dagent.key if dagent else None,
                "creditor_agent": cagent.key if cagent else None,
                "intermediary_agents": [a.key for a in inter if a.key],
                "agent_chain": keys,
                "agent_countries": countries,
                "route_countries": pay.route(c_from, *countries, c_to),
                "initiating_party": i_pid,
                "other_fields": other,
            },
        )

    def party(self, f: _swift.Field | None, bank: str | None) -> tuple[str | None, str | None, PartyField | None]:
        """Add the party of a ``:50a:``/``:59a:`` field and its account; (party_id, account_id, parsed)."""
        if f is None:
            return None, None, None
        p = parse_party(f)
        acc = account_id(p.account, bank=bank) if p.account else None
        if p.country is None and p.account and is_iban(p.account):
            p.country = p.account.replace(" ", "")[:2].upper()
        if acc:
            iban = p.account.replace(" ", "").upper() if is_iban(p.account) else None
            self.c.add(
                "accounts",
                {"account_id": acc, "institution": bank, "account_number": p.account, "iban": iban,
                 "country": pay.bic_country(bank), "source_ref": self.c.ref(f.line)},
            )  # fmt: skip
        name = p.name or p.bic
        if not name:
            return None, acc, p
        pid = stable_id("P", self.report_id, f.line)
        ref = self.c.ref(f.line)
        self.c.add(
            "parties",
            {"party_id": pid, "kind": "person" if p.person else "entity", "name": name, "birth_date": p.birth_date,
             "country": p.country, "report_id": self.report_id, "source_ref": ref},
        )  # fmt: skip
        if acc:
            self.c.add("party_accounts", {"party_id": pid, "account_id": acc, "role": "holder", "source_ref": ref})
        if p.address:
            addr = ", ".join(a for a in p.address if a)
            if addr:
                self.c.add(
                    "identifiers",
                    {"owner_kind": "party", "owner_id": pid, "kind": "address", "value": addr.casefold(), "raw": addr, "source_ref": ref},
                )
        kinds = {"CCPT": "passport", "NIDN": "national_id", "TXID": "tax_id", "SOSE": "national_id"}
        for code, value in p.ids:
            norm = re.sub(r"\s+", "", f"{code}:{value}").upper()
            kind = kinds.get(code, "id_document")
            self.c.add(
                "identifiers",
                {"owner_kind": "party", "owner_id": pid, "kind": kind, "value": norm, "raw": value, "source_ref": ref},
            )
        return pid, acc, p


def read(path, *, encoding: str | None = None, **_other) -> Bundle:
    """Read one file of SWIFT MT103 / MT101 messages into the canonical tables.

    Parameters
    ----------
    path : str or path-like
        The file: plain FIN text, RJE batch, DOS-PCC container.
    encoding : str, optional
        Encoding when the file is not UTF-8 (default ``latin-1``; rows then carry the
        flag ``encoding_guessed``).
    **_other
        Options meant for other adapters; ignored.

    Returns
    -------
    Bundle
        * ``transactions``: one row per MT103 and per MT101 transaction, ``channel``
          ``wire``, mapped as in the module notes; ``txn_id`` hashes the file name and
          the line; ``source_ref`` is ``file:line`` of the message (MT101: of its
          ``:21:``). Money is exact decimals in the currency beside it.
        * ``parties``, ``accounts``, ``party_accounts``, ``identifiers``: ordering
          customer, beneficiary, instructing party.
        * ``reports``: one row (``report_code`` ``MT103``, ``MT101`` or both;
          ``reporting_entity`` the sender's BIC when one sender sent them all).
        * ``rejects``: messages of other types (named, e.g. ``MT202``), messages
          without ``:32A:``/``:32B:`` or with an unreadable date or amount (the reason
          names the field), ``file:line`` of the message.

    Raises
    ------
    InputError
        The file cannot be opened or decoded, or holds no tagged text block at all.

    Examples
    --------
    >>> b = read("tests/data/wires/mt103_gpi.fin")
    >>> r = b.transactions.to_pylist()[0]
    >>> str(r["amount"]), r["currency"], r["uetr"], r["agent_chain"]
    ('12500.000', 'EUR', '7b0b6e0e-1a0c-4f2e-9d3c-5f1b2a3c4d5e', ['DEUTDEFF', 'CHASUS33', 'BCITITMM'])
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
