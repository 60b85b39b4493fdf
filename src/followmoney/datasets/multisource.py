"""One synthetic world, rendered into the overlapping files a real FIU case is made of.

:func:`make_multisource` builds a small labour-trafficking world (the truth: people,
companies, accounts at three banks, payments) and writes it as the banks and reporting
entities would: camt.053 statements from bank A and MT940 statements from bank B
(Malaysia: no IBANs; bank B's ``:25:`` holds the number only, its BIC is in the SWIFT
header), a bank CSV export from bank C (Germany: IBANs), and goAML STRs from banks A and
B. A payment between two covered accounts appears in the payer's statement, in the
payee's statement and, when its bank reports it, in an STR; names are written
differently in each source. Seeded and deterministic.

Reading the files and consolidating them (:func:`followmoney.consolidate`) should give
back exactly the world's payments; the returned ``truth`` says what they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from schwifty import IBAN

__all__ = ["make_multisource", "World", "BANKS"]

#: The three banks: BIC, country, currency, what they deliver.
BANKS = {
    "A": {"bic": "TESTMYKLXXX", "country": "MY", "currency": "MYR", "statements": "camt053"},
    "B": {"bic": "BKRBMYKLXXX", "country": "MY", "currency": "MYR", "statements": "mt940"},
    "C": {"bic": "COBADEFFXXX", "country": "DE", "currency": "EUR", "statements": "bank_csv"},
}
_BLZ_C = "37040044"  # bank C's national bank code (the IBAN standard's example bank)

_GIVEN = ["AHMAD", "SITI", "RAJ", "MEI LING", "BUDI", "NUR", "ARUN", "DEWI", "HASSAN", "LINA", "KUMAR", "PUTRI"]
_FAMILY = ["RAHMAN", "TAN", "KUMAR", "LIM", "SANTOSO", "ISMAIL", "WONG", "PRASETYO", "ABDULLAH", "NG"]


@dataclass
class Payment:
    """One real payment of the world (the truth)."""

    pid: str
    payer: str
    payee: str
    amount: Decimal
    currency: str
    day: date
    e2e: str | None
    in_payer_statement: bool
    in_payee_statement: bool
    in_str: bool
    lag: int = 0


@dataclass
class World:
    """The truth behind the files: ``accounts`` (canonical id -> holder name, bank,
    number), ``payments``, ``roles`` (employer, controller, company -> account id) and
    the ``files`` written."""

    accounts: dict[str, dict] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def bundle(self):
        """The world's payments as one canonical bundle, without any source's view of them.

        One ``transactions`` row per payment (``timestamp``: the payer's day, 00:00 UTC;
        canonical account ids; ``from_party``/``to_party`` the holders), ``accounts``,
        ``parties`` (companies are entities) and holder links: what scoring the world
        directly reads.

        Returns
        -------
        followmoney.Bundle
        """
        from datetime import datetime, time, timezone

        from followmoney.core import schema
        from followmoney.core.bundle import Bundle

        holder = {cid: "W-" + a["holder"].replace(" ", "-") for cid, a in self.accounts.items()}
        txs = [
            {
                "txn_id": p.pid, "source": "world", "source_ref": p.pid,
                "timestamp": datetime.combine(p.day, time(), timezone.utc), "amount": p.amount, "currency": p.currency,
                "from_account": p.payer, "to_account": p.payee, "from_party": holder[p.payer], "to_party": holder[p.payee],
                "channel": "transfer", "value_date": p.day,
            }
            for p in self.payments
        ]  # fmt: skip
        parties = {
            holder[cid]: {"party_id": holder[cid], "kind": "entity" if _is_company(a["holder"]) else "person", "name": a["holder"], "source_ref": "world"}
            for cid, a in self.accounts.items()
        }  # fmt: skip
        return Bundle(
            transactions=schema.conform(txs, "transactions"),
            accounts=schema.conform([{"account_id": c, "source_ref": "world"} for c in self.accounts], "accounts"),
            parties=schema.conform(list(parties.values()), "parties"),
            party_accounts=schema.conform(
                [{"party_id": holder[c], "account_id": c, "role": "holder", "source_ref": "world"} for c in self.accounts], "party_accounts"
            ),
        )

    def totals(self) -> dict[str, Decimal]:
        """Sum of the payments per currency."""
        out: dict[str, Decimal] = {}
        for p in self.payments:
            out[p.currency] = out.get(p.currency, Decimal(0)) + p.amount
        return out


def _is_company(name: str) -> bool:
    return name.endswith(("SDN BHD", "GMBH"))


def _canonical(bank: str, number: str) -> str:
    if bank == "C":
        return f"IBAN/{number}"
    return f"{BANKS[bank]['bic'][:8]}/{number}"


def _variant(name: str, rng: random.Random, source: str) -> str:
    """The holder's name as one source writes it (case, order, initials)."""
    given, _, family = name.rpartition(" ")
    if source == "camt":
        return name.title()
    if source == "mt940":
        return f"{family} {given}"[:27]
    if source == "csv":
        return f"{given[0]}. {family}".title() if rng.random() < 0.5 else name
    return name


def make_multisource(
    directory: str | Path,
    *,
    seed: int = 0,
    n_workers: int = 6,
    n_months: int = 2,
    statement_share: float = 1.0,
    str_share: float = 0.5,
    booking_lag: bool = True,
) -> World:
    """Write one synthetic multi-source world to ``directory`` and return its truth.

    Parameters
    ----------
    directory : str or Path
        Created if missing; gets ``bankA_<n>.xml`` (camt.053), ``bankB_<n>.sta``
        (MT940), ``bankC_<iban>.csv`` (bank CSV, profile ``de_generic``) and
        ``str_bank<A|B>.xml`` (goAML STRs).
    seed : int, default 0
        Same seed, same files, byte for byte.
    n_workers : int, default 6
        Workers paid by the employer; each hands 75 % of the wage to the controller the
        next day (the pattern of rule HT-09) and pays rent to the controller's company.
    n_months : int, default 2
    statement_share : float, default 1.0
        Share of the accounts whose bank delivers a statement (0..1); the employer's,
        the controller's and his company's always are.
    str_share : float, default 0.5
        Share of the MYR payments that the payer's or payee's bank (A or B) reports
        in an STR.
    booking_lag : bool, default True
        The payee's bank books some payments a day after the payer's (within the
        consolidation's tolerance); False: always the same day.

    Returns
    -------
    World
        Canonical account ids as :func:`followmoney.consolidate` gives them
        (``<BIC8>/<number>`` in Malaysia, ``IBAN/<IBAN>`` in Germany), every payment with
        where it was written, and the files.

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> w = make_multisource(tempfile.mkdtemp(), seed=1, n_workers=3, n_months=1)
    >>> one = fm.read(w.files)  # read and consolidated
    >>> one.transactions.num_rows == len(w.payments)
    True
    """
    if not 0 <= statement_share <= 1 or not 0 <= str_share <= 1:
        from followmoney.exceptions import ParameterError

        raise ParameterError("statement_share and str_share must be within 0..1")
    rng = random.Random(seed)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    w = World()
    names: set[str] = set()

    def person() -> str:
        while True:
            n = f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"
            if n not in names:
                names.add(n)
                return n

    def account(bank: str, holder: str, covered: bool) -> str:
        if bank == "C":
            konto = f"{rng.randrange(10**9, 10**10)}"
            number = IBAN.generate("DE", bank_code=_BLZ_C, account_code=konto).compact
        else:
            number = f"{rng.randrange(10**9, 10**10)}" if bank == "B" else f"{rng.randrange(10**11, 10**12)}"
        cid = _canonical(bank, number)
        w.accounts[cid] = {"holder": holder, "bank": bank, "number": number, "covered": covered}
        return cid

    employer = account("A", "PALM ESTATE SDN BHD", True)
    controller = account("B", person(), True)
    company = account("A", "SRI MAJU AGENCY SDN BHD", True)
    landlord_eu = account("C", "EURO HOLDINGS GMBH", True)
    agent_eu = account("C", "TEST TRAVEL GMBH", rng.random() < statement_share)
    workers = [account(rng.choice("AB"), person(), rng.random() < statement_share) for _ in range(n_workers)]
    w.roles = {"employer": employer, "controller": controller, "company": company}

    start = date(2024, 1, 1)
    k = 0

    def pay(payer: str, payee: str, amount: Decimal, day: date) -> None:
        nonlocal k
        k += 1
        a, b = w.accounts[payer], w.accounts[payee]
        ccy = BANKS[a["bank"]]["currency"]
        in_str = ccy == "MYR" and rng.random() < str_share
        p = Payment(
            pid=f"P{k:05d}", payer=payer, payee=payee, amount=amount, currency=ccy, day=day,
            e2e=f"E2E-{seed}-{k}" if rng.random() < 0.6 else None,
            in_payer_statement=a["covered"], in_payee_statement=b["covered"], in_str=in_str,
            lag=rng.randrange(2) if booking_lag else 0,
        )  # fmt: skip
        if not (p.in_payer_statement or p.in_payee_statement or p.in_str):
            p.in_str = ccy == "MYR"
            if not p.in_str:
                p.in_payer_statement = True
                a["covered"] = True
        w.payments.append(p)

    for m in range(n_months):
        month = date(start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1, 1)
        for wk in workers:
            wage = Decimal(rng.randrange(150000, 220000)) / 100
            pay(employer, wk, wage, month + timedelta(days=24))
            fee = (wage * Decimal("0.75")).quantize(Decimal("0.01"))  # handed to the controller the next day
            pay(wk, controller, fee, month + timedelta(days=25))
            pay(wk, company, Decimal("350.00"), month + timedelta(days=26))
        if rng.random() < 0.5 or m == 0:  # two identical payments on one day: two real payments
            pay(controller, company, Decimal("500.00"), month + timedelta(days=27))
            pay(controller, company, Decimal("500.00"), month + timedelta(days=27))
        pay(agent_eu, landlord_eu, Decimal(rng.randrange(50000, 90000)) / 100, month + timedelta(days=10))
    _render(w, out, rng)
    return w


# --------------------------------------------------------------------------- rendering
def _lines_for(w: World, cid: str) -> list[tuple[Payment, int]]:
    """The statement lines of one account: (payment, sign) by booking day, then payment."""
    rows = []
    for p in w.payments:
        if p.payer == cid and p.in_payer_statement:
            rows.append((p.day, p.pid, p, -1))
        if p.payee == cid and p.in_payee_statement:
            rows.append((_booked(p), p.pid, p, +1))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [(p, s) for _, _, p, s in rows]


def _booked(p: Payment) -> date:
    """The payee's bank books a payment on the payer's day or the next (the payment's lag)."""
    return p.day + timedelta(days=p.lag)


def _render(w: World, out: Path, rng: random.Random) -> None:
    n = 0
    for cid, acc in sorted(w.accounts.items()):
        if not acc["covered"]:
            continue
        lines = _lines_for(w, cid)
        if not lines:
            continue
        n += 1
        kind = BANKS[acc["bank"]]["statements"]
        if kind == "camt053":
            path = out / f"bankA_{n:03d}.xml"
            path.write_text(_camt(w, cid, lines, n), "utf-8")
        elif kind == "mt940":
            path = out / f"bankB_{n:03d}.sta"
            path.write_text(_mt940(w, cid, lines, n), "utf-8")
        else:
            path = out / f"bankC_{n:03d}.csv"
            path.write_text(_csv(w, cid, lines, rng), "utf-8")
        w.files.append(path)
    for bank in ("A", "B"):
        mine = [p for p in w.payments if p.in_str and _reporter(w, p) == bank]
        if mine:
            path = out / f"str_bank{bank}.xml"
            path.write_text(_goaml(w, bank, mine), "utf-8")
            w.files.append(path)


def _reporter(w: World, p: Payment) -> str:
    """The bank that reports a payment: the payer's when it is A or B, else the payee's."""
    a = w.accounts[p.payer]["bank"]
    return a if a in ("A", "B") else w.accounts[p.payee]["bank"]


def _other(w: World, p: Payment, sign: int) -> dict:
    return w.accounts[p.payee if sign < 0 else p.payer]


def _camt(w: World, cid: str, lines, n: int) -> str:
    acc = w.accounts[cid]
    ccy = BANKS[acc["bank"]]["currency"]
    entries = []
    for i, (p, s) in enumerate(lines, start=1):
        o = _other(w, p, s)
        side, agent, party = ("Cdtr", "CdtrAgt", "Cdtr") if s < 0 else ("Dbtr", "DbtrAgt", "Dbtr")
        day = p.day if s < 0 else _booked(p)
        e2e = f"<Refs><EndToEndId>{p.e2e}</EndToEndId></Refs>" if p.e2e else ""
        entries.append(
            f"""   <Ntry>
    <Amt Ccy="{ccy}">{p.amount}</Amt><CdtDbtInd>{"DBIT" if s < 0 else "CRDT"}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>
    <AcctSvcrRef>A-{n}-{i}</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{"ICDT" if s < 0 else "RCDT"}</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls><TxDtls>{e2e}
     <RltdPties><{party}><Pty><Nm>{escape(_variant(o["holder"], random.Random(p.pid), "camt"))}</Nm></Pty></{party}><{side}Acct><Id><Othr><Id>{o["number"]}</Id></Othr></Id></{side}Acct></RltdPties>
     <RltdAgts><{agent}><FinInstnId><BICFI>{BANKS[o["bank"]]["bic"]}</BICFI></FinInstnId></{agent}></RltdAgts>
    </TxDtls></NtryDtls>
   </Ntry>"""
        )
    body = "\n".join(entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>A-MSG-{n}</MsgId><CreDtTm>2024-12-31T06:00:00Z</CreDtTm></GrpHdr>
  <Stmt>
   <Id>A-STMT-{n}</Id>
   <Acct><Id><Othr><Id>{acc["number"]}</Id></Othr></Id><Ccy>{ccy}</Ccy><Svcr><FinInstnId><BICFI>{BANKS["A"]["bic"]}</BICFI></FinInstnId></Svcr></Acct>
{body}
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def _mt940(w: World, cid: str, lines, n: int) -> str:
    acc = w.accounts[cid]
    ccy = BANKS[acc["bank"]]["currency"]
    bic = BANKS["B"]["bic"]
    lt = bic[:8] + "A" + bic[8:]
    out = [f"{{1:F01TESTCUSTAXXX0000000000}}{{2:O9400800241231{lt}00000000002412310800N}}{{4:", f":20:B-STMT-{n}",
           f":25:{acc['number']}", ":28C:1/1", f":60F:C240101{ccy}0,00"]  # fmt: skip
    bal = Decimal(0)
    for i, (p, s) in enumerate(lines, start=1):
        o = _other(w, p, s)
        day = p.day if s < 0 else _booked(p)
        d = day.strftime("%y%m%d")
        amt = f"{p.amount:.2f}".replace(".", ",")
        out.append(f":61:{d}{d[2:]}{'D' if s < 0 else 'C'}{amt}NTRFNONREF//B-{n}-{i}")
        eref = f"?20EREF+{p.e2e}" if p.e2e else "?20SVWZ+PAYMENT"
        name = _variant(o["holder"], random.Random(p.pid), "mt940")
        out.append(f":86:166?00{'UEBERWEISUNG' if s < 0 else 'GUTSCHRIFT'}{eref}?30{BANKS[o['bank']]['bic']}?31{o['number']}?32{name}")
        bal += s * p.amount
    sign = "C" if bal >= 0 else "D"
    out.append(f":62F:{sign}{lines[-1][0].day.strftime('%y%m%d')}{ccy}{abs(bal):.2f}".replace(".", ","))
    out.append("-}")
    return "\n".join(out) + "\n"


def _csv(w: World, cid: str, lines, rng: random.Random) -> str:
    acc = w.accounts[cid]
    out = ["Buchungstag;Buchungstext;Empfaenger;Verwendungszweck;Betrag;Waehrung;IBAN;Kontonummer/IBAN;BIC"]
    for p, s in lines:
        o = _other(w, p, s)
        day = p.day if s < 0 else _booked(p)
        amt = f"{s * p.amount:.2f}".replace(".", ",")
        name = _variant(o["holder"], random.Random(p.pid), "csv")
        out.append(f"{day:%d.%m.%Y};{'UEBERWEISUNG' if s < 0 else 'GUTSCHRIFT'};{name};{p.e2e or 'ZAHLUNG'};{amt};EUR;{acc['number']};{o['number']};{BANKS[o['bank']]['bic']}")
    return "\n".join(out) + "\n"


def _goaml(w: World, bank: str, payments: list[Payment]) -> str:
    def side(tag: str, cid: str, mine: bool) -> str:
        a = w.accounts[cid]
        wrap = f"t_{tag}_my_client" if mine else f"t_{tag}"
        return (
            f"<{wrap}><{tag}_funds_code>K</{tag}_funds_code><{tag}_account><swift>{BANKS[a['bank']]['bic']}</swift>"
            f"<institution_country>{BANKS[a['bank']]['country']}</institution_country><account>{a['number']}</account>"
            f"<account_name>{escape(a['holder'])}</account_name></{tag}_account></{wrap}>"
        )

    txs = []
    for p in payments:
        mine_from = w.accounts[p.payer]["bank"] == bank
        txs.append(
            f""" <transaction>
  <transactionnumber>{bank}-STR-{p.pid}</transactionnumber>
  <date_transaction>{p.day}T00:00:00</date_transaction>
  <amount_local>{p.amount}</amount_local>
  {side("from", p.payer, mine_from)}
  {side("to", p.payee, not mine_from)}
 </transaction>"""
        )
    body = "\n".join(txs)
    return f"""<report>
 <rentity_id>{bank}-1</rentity_id>
 <submission_code>E</submission_code>
 <report_code>STR</report_code>
 <currency_code_local>MYR</currency_code_local>
{body}
</report>
"""
