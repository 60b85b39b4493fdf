"""goAML XML adapter: STR / SAR / CTR / AIF ... reports of the UNODC goAML schema.

One goAML file (one ``<report>``) becomes one :class:`~followmoney.Bundle`:

* ``reports``: one row for the report header;
* ``transactions``: one row per ``<transaction>`` element (wherever it is nested), or one
  reject naming the field that could not be read;
* ``accounts``, ``parties``, ``party_accounts``, ``identifiers``: everything the
  transactions and the activity-based part (``<activity><report_parties>``) name.

goAML code lists are FIU-specific, so the meaning of funds, transmode, role and
identification codes comes from a *profile*: a TOML file in ``goaml_profiles/``
(``uae`` for the UAE FIU's 5.0.2 schema, ``generic`` for UNODC 5.0.1 letter codes) or a
file of your own.

Parsing is safe (no external entities, no network, no DTD loading) and
namespace-agnostic: elements are matched on their local names, so the same report with
or without a default namespace gives the same rows. Placeholder values that generators
and portals write for "unknown" (``-``, ``--``, ``---``, ``string``, empty elements) are
read as missing.

Errors and rejects name the file, the line or XPath and the field, never the data.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.units import quantize_money
from followmoney.ingest._profiles import load_toml_profile
from followmoney.normalize import normalize_address, normalize_email, normalize_phone, phone_with_prefix
from followmoney.ingest._xml import PARSER_OPTIONS, content_key, refuse_declared, tag_label, refuse_doctype, syntax_error, without_values, utf8_head
from followmoney.ingest._collect import Collector, ContentIds, InputError, file_digest
from followmoney.core.ids import stable_id

__all__ = ["FORMAT", "PROFILES_DIR", "Profile", "load_profile", "sniff", "is_companion", "read"]

FORMAT = "goaml"

#: Folder of the bundled code-list profiles (``<name>.toml``).
PROFILES_DIR = Path(__file__).resolve().parent / "goaml_profiles"

_ROLES = ("holder", "signatory", "beneficial_owner", "director", "controller", "other")
_ID_KINDS = ("passport", "national_id", "tax_id", "id_document")
_PLACEHOLDERS = frozenset({"", "-", "--", "---", "string", "null", "NULL", "n/a", "N/A"})
_FLAGS = frozenset({"Y", "N", "YES", "NO", "TRUE", "FALSE"})
_MAX_MONEY = Decimal(10) ** 15  # decimal128(18, 3): 15 digits before the point
_RAW_MAX = 20000


# --------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class Profile:
    """A goAML code-list profile: what an FIU's codes mean in canonical terms.

    Attributes
    ----------
    name : str
    schema_versions : tuple of str
        ``<schema_version>`` prefixes that select this profile automatically.
    cash_funds : frozenset of str
        Funds codes meaning physical cash.
    funds_channel, transmode_channel : dict of str to str
        Code -> one of :data:`followmoney.core.schema.CHANNELS`.
    known_codes : frozenset of str
        Every funds and transmode code of the schema (for recognising the profile).
    roles : dict of str to str
        Person/entity role code -> holder, signatory, beneficial_owner, director,
        controller or other.
    from_roles, to_roles : frozenset of str
        Multi-party role codes that put a party on the sending / receiving side.
    id_kinds : dict of str to str
        Identification type code -> passport, national_id, tax_id or id_document.
    id_schemes : dict of str to str
        Type prefix for ``id_number``, ``ssn`` and ``passport_number`` values.
    """

    name: str
    schema_versions: tuple[str, ...]
    cash_funds: frozenset[str]
    funds_channel: dict[str, str]
    transmode_channel: dict[str, str]
    known_codes: frozenset[str]
    roles: dict[str, str]
    from_roles: frozenset[str]
    to_roles: frozenset[str]
    id_kinds: dict[str, str]
    id_schemes: dict[str, str]




def load_profile(profile: str | Path) -> Profile:
    """Load a code-list profile by name (``"uae"``, ``"generic"``) or from a TOML file.

    Parameters
    ----------
    profile : str or Path
        A bundled profile name, or the path of a TOML file shaped like the bundled ones.

    Returns
    -------
    Profile

    Raises
    ------
    ValueError
        Unknown profile name, unreadable file, or a value outside the canonical lists
        (the message names the file and the key).

    Examples
    --------
    >>> p = load_profile("uae")
    >>> "CASH" in p.cash_funds, p.transmode_channel["SWIFT"], p.roles["PAH"]
    (True, 'wire', 'holder')
    """
    return load_toml_profile(profile, PROFILES_DIR, "goAML profile", _build_profile)


def _build_profile(data: dict, path: Path) -> Profile:
    def table(*keys: str) -> dict:
        d = data
        for k in keys:
            d = d.get(k, {}) if isinstance(d, dict) else {}
        if not isinstance(d, dict):
            raise ValueError(f"goAML profile {path}: [{'.'.join(keys)}] must be a table")
        return d

    def strings(value, where: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"goAML profile {path}: {where} must be a list of strings")
        return frozenset(value)

    def mapping(d: dict, allowed: tuple[str, ...], where: str) -> dict[str, str]:
        for k, v in d.items():
            if v not in allowed:
                raise ValueError(f"goAML profile {path}: {where}.{k} = {v!r} is not one of {list(allowed)}")
        return dict(d)

    funds = table("funds")
    transmode = table("transmode")
    party_roles = table("party_roles")
    prof = Profile(
        name=str(table("profile").get("name", path.stem)),
        schema_versions=tuple(strings(table("profile").get("schema_versions", []), "profile.schema_versions")),
        cash_funds=strings(funds.get("cash", []), "funds.cash"),
        funds_channel=mapping(table("funds", "channel"), schema.CHANNELS, "funds.channel"),
        transmode_channel=mapping(table("transmode", "channel"), schema.CHANNELS, "transmode.channel"),
        known_codes=strings(funds.get("known", []), "funds.known") | strings(transmode.get("known", []), "transmode.known"),
        roles=mapping(table("roles"), _ROLES, "roles"),
        from_roles=strings(party_roles.get("from", []), "party_roles.from"),
        to_roles=strings(party_roles.get("to", []), "party_roles.to"),
        id_kinds=mapping(table("identification", "kinds"), _ID_KINDS, "identification.kinds"),
        id_schemes={str(k): str(v) for k, v in table("identification", "schemes").items()},
    )
    return prof


_CODE_ELEMENTS = frozenset({"from_funds_code", "to_funds_code", "funds_code", "transmode_code"})


def _auto_profile(path: Path, max_elements: int = 20_000) -> Profile:
    """``uae`` for schema 5.0.2 or UAE-only codes, else ``generic``.

    Looks at ``<schema_version>`` and at the code elements among the first
    ``max_elements`` elements (a streaming pre-pass that stops early, so a large file is
    not read twice).
    """
    uae, generic = load_profile("uae"), load_profile("generic")
    uae_only = uae.known_codes - generic.known_codes
    try:
        for n, (_, el) in enumerate(etree.iterparse(str(path), events=("end",), **PARSER_OPTIONS)):
            if n >= max_elements:
                break
            if n == 0 and (el.getroottree().docinfo.doctype or el.getroottree().docinfo.internalDTD is not None):
                break  # the main pass refuses the file
            if not isinstance(el.tag, str):
                continue
            name = _local(el)
            if name == "schema_version":
                version = _text(el)
                if version and any(version.startswith(v) for v in uae.schema_versions):
                    return uae
            elif name in _CODE_ELEMENTS and _text(el) in uae_only:
                return uae
    except etree.XMLSyntaxError:
        pass  # the main pass reports the error with its place
    return generic


# --------------------------------------------------------------------------- sniffing
_ROOT_RE = re.compile(rb"<(?:[\w.-]+:)?report[\s>/]")
_MARK_RE = re.compile(rb"<(?:[\w.-]+:)?(?:rentity_id|report_code|transactionnumber)[\s>/]")


def sniff(path, head: bytes) -> bool:
    """Tell whether a file looks like a goAML report.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file (64 KiB are enough).

    Returns
    -------
    bool
        True when there is a ``<report>`` element (any namespace prefix) and a goAML
        element such as ``<rentity_id>``, ``<report_code>`` or ``<transactionnumber>``.

    Examples
    --------
    >>> sniff("r.xml", b"<?xml version='1.0'?><report><rentity_id>1</rentity_id>")
    True
    >>> sniff("x.csv", b"Timestamp,From Bank,Account")
    False
    """
    head = utf8_head(head)
    return bool(_ROOT_RE.search(head) and _MARK_RE.search(head))


def is_companion(path) -> bool:
    """goAML files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- helpers
def _local(el) -> str:
    tag = el.tag
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""


@lru_cache(maxsize=1024)
def _any_ns(names: tuple[str, ...]) -> tuple[str, ...]:
    """lxml tag filters matching ``names`` in any namespace or none (``{*}name``)."""
    return tuple("{*}" + n for n in names)


def _children(el, *names: str) -> list:
    """Child elements with one of the local ``names``, in document order."""
    return [] if el is None else list(el.iterchildren(*_any_ns(names)))


def _child(el, *names: str):
    """First child element with one of the local ``names``, or None."""
    return None if el is None else next(el.iterchildren(*_any_ns(names)), None)


def _text(el) -> str | None:
    """Stripped text of a leaf element; None for absent, empty or placeholder values."""
    if el is None:
        return None
    t = "".join(el.itertext()).strip()
    return None if t in _PLACEHOLDERS else t


def _raw(el) -> str:
    """Stripped text of an element, placeholders included; "" when absent."""
    return "" if el is None else "".join(el.itertext()).strip()


def _ctext(el, *names: str) -> str | None:
    return _text(_child(el, *names))


def _grand(el, wrapper: str, name: str) -> list:
    """Elements ``name`` directly under ``el``, or under its ``wrapper`` children."""
    out = _children(el, name)
    for w in _children(el, wrapper):
        out.extend(_children(w, name))
    return out


def _code(el, *names: str) -> str | None:
    t = _ctext(el, *names)
    return t.upper() if t and t != "-" else t


def _country(el, *names: str) -> str | None:
    t = _ctext(el, *names)
    return t.upper() if t and re.fullmatch(r"[A-Za-z]{2}", t) else None


_DT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _parse_dt(text: str) -> tuple[datetime, int | None]:
    """ISO date/datetime -> (UTC datetime, stated offset in minutes or None).

    Fractions beyond microseconds are truncated; no offset means UTC.

    >>> _parse_dt("2026-05-24T14:30:00.0000000")
    (datetime.datetime(2026, 5, 24, 14, 30, tzinfo=datetime.timezone.utc), None)
    >>> _parse_dt("2026-05-24T18:30:00+04:00")[0].hour, _parse_dt("2026-05-24T18:30:00+04:00")[1]
    (14, 240)
    """
    m = _DT_RE.fullmatch(text.strip())
    if not m:
        raise ValueError("not an ISO date")
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    offset = None
    if tz:
        if tz == "Z":
            offset = 0
        else:
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
            if abs(offset) > 18 * 60:
                raise ValueError("offset out of range")
    local = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro)
    utc = (local - timedelta(minutes=offset or 0)).replace(tzinfo=timezone.utc)
    return utc, offset


def _dt_or_none(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return _parse_dt(text)[0]
    except (ValueError, OverflowError):
        return None


def _date_or_none(text: str | None) -> date | None:
    if not text:
        return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", text.strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


_DEC_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def _parse_amount(text: str, currency: str | None = None) -> tuple[Decimal, bool]:
    """xs:decimal text -> (Decimal quantized to ``currency``'s ISO 4217 minor units, whether rounding changed it).

    >>> _parse_amount("9500.00")
    (Decimal('9500.00'), False)
    >>> _parse_amount("1250.125", "KWD")
    (Decimal('1250.125'), False)
    >>> _parse_amount("-790000000000000.0000000000000")
    (Decimal('-790000000000000.00'), False)
    """
    t = text.strip()
    if not _DEC_RE.fullmatch(t):
        raise ValueError("not a decimal")
    try:
        d = Decimal(t)
        q, rounded = quantize_money(d, currency)
    except InvalidOperation as exc:
        raise ValueError("not a decimal") from exc
    if abs(q) >= _MAX_MONEY:
        raise OverflowError("does not fit decimal(18,3)")
    return q, rounded


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def _norm_id(s: str) -> str:
    return re.sub(r"\s+", "", s).upper()


def _snippet(text: str) -> str:
    """A value for a reject reason: short, as the field is named with it."""
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- reader
@dataclass
class _Side:
    present: bool = False
    my_client: bool | None = None
    account_id: str | None = None
    party_id: str | None = None
    funds: str | None = None
    country: str | None = None
    name: str | None = None
    is_account: bool = False
    foreign_amount: Decimal | None = None
    foreign_currency: str | None = None
    fx_rate: Decimal | None = None
    foreign_problem: str | None = None


def _foreign(el, side: str, out: _Side) -> None:
    """``<{side}_foreign_currency>``: code, amount and rate (kept exact; never added to local amounts)."""
    fc = _child(el, f"{side}_foreign_currency")
    if fc is None:
        return
    out.foreign_currency = _code(fc, "foreign_currency_code")
    amount, rate = _ctext(fc, "foreign_amount"), _ctext(fc, "foreign_exchange_rate")
    try:
        out.foreign_amount = _parse_amount(amount, out.foreign_currency)[0] if amount else None
        out.fx_rate = Decimal(rate) if rate and _DEC_RE.fullmatch(rate) else None
    except (ValueError, OverflowError, InvalidOperation):
        out.foreign_amount, out.foreign_problem = None, "foreign_amount_invalid"


class _Reader:
    """Streams one report: each ``<transaction>`` / ``<report_party>`` is handled when its
    end tag is read and then dropped, so memory stays bounded by the largest single
    transaction, not by the file (lxml ``iterparse``)."""

    _HEADER = ("report_code", "rentity_id", "entity_reference", "submission_date", "report_date", "reason", "action")

    def __init__(self, path: Path, profile: Profile, local_currency: str | None):
        self.path = path
        self.file = path.name
        self.p = profile
        self.c = Collector(FORMAT, path)
        self.header: dict[str, str | None] = {}
        self._report_id: str | None = None
        self.txn_ids = ContentIds("T")
        self.local_currency = local_currency
        self.currency = local_currency.upper() if local_currency else None
        self.paths: dict = {}

    @property
    def report_id(self) -> str:
        """From content: the reporting entity and its reference for the report (header
        fields, which precede the transactions), else the file's digest; fixed at first use."""
        if self._report_id is None:
            rentity, ref = self.header.get("rentity_id"), self.header.get("entity_reference")
            self._report_id = stable_id("R", FORMAT, rentity, ref) if rentity and ref else stable_id("R", FORMAT, file_digest(self.path))
        return self._report_id

    def xp(self, el) -> str:
        """Positional XPath, always indexed: ``/report[1]/transaction[3]/t_from[1]``; elements in a
        namespace are written ``*[local-name()='transaction'][3]`` so the path still selects them."""
        return self.paths[el]

    # ----------------------------------------------------------------- report
    def run(self) -> Bundle:
        header = self.header
        indicators: list[str] = []
        stack: list[list] = []  # [local name, path, child counters]
        inside = 0  # depth inside a <transaction> or <report_party> being collected
        events = etree.iterparse(
            str(self.path), events=("start", "end"), remove_comments=True, remove_pis=True, **PARSER_OPTIONS,
        )  # fmt: skip
        try:
            for event, el in events:
                if not isinstance(el.tag, str):
                    continue
                name = _local(el)
                if event == "start":
                    if not stack:
                        refuse_declared(self.path, el, "goAML reports")
                    if not stack and name != "report":
                        raise InputError(f"{self.path}: line {el.sourceline}: root element is {tag_label(name)}, expected <report>")
                    step = name if "}" not in el.tag else f"*[local-name()='{name}']"
                    if stack:
                        counters = stack[-1][2]
                        counters[name] = counters.get(name, 0) + 1
                        path = f"{stack[-1][1]}/{step}[{counters[name]}]"
                    else:
                        path = f"/{step}[1]"
                    self.paths[el] = path
                    stack.append([name, path, {}])
                    if name in ("transaction", "report_party"):
                        inside += 1
                    continue
                stack.pop()
                depth = len(stack)
                if name in ("transaction", "report_party"):
                    inside -= 1
                    if name == "transaction" and inside:
                        # a transaction nested in another one is a reject, never silently merged into it
                        # (a wrapper such as <transactions> around them is a known variant and is read)
                        self.c.reject(
                            "transactions", self.xp(el), "transaction: nested inside another transaction",
                            etree.tostring(el, encoding="unicode")[:_RAW_MAX], code="misplaced_element",
                        )  # fmt: skip
                        self._release(el)
                    elif inside == 0:
                        (self.transaction if name == "transaction" else self.report_party)(el)
                        self._release(el)
                elif name == "goods_services" and not inside:  # activity reports (e.g. DPMSR)
                    self.goods(el)
                    self._release(el)
                elif depth == 1 and not inside:
                    if name == "currency_code_local":
                        header[name] = (_text(el) or "").upper() or None
                        if header[name]:
                            self.currency = header[name]
                    elif name == "report_indicators":
                        indicators += [t for t in (_text(i) for i in _children(el, "indicator")) if t]
                    elif name in self._HEADER:
                        header[name] = _text(el)
                    self._release(el)
        except etree.XMLSyntaxError as exc:
            raise syntax_error(self.path, exc) from None
        self.c.add(
            "reports",
            {
                "report_id": self.report_id,
                "format": FORMAT,
                "report_code": header.get("report_code"),
                "reporting_entity": header.get("rentity_id"),
                "entity_reference": header.get("entity_reference"),
                "submitted_at": _dt_or_none(header.get("submission_date") or header.get("report_date")),
                "currency_local": header.get("currency_code_local"),
                "reason": header.get("reason"),
                "action": header.get("action"),
                "indicators": indicators,
                "narrative": None,
                "source_file": self.file,
            },
        )
        return self.c.bundle()

    def _release(self, el) -> None:
        """Forget a handled element and its subtree (paths and the element itself)."""
        for sub in el.iter():
            self.paths.pop(sub, None)
        parent = el.getparent()
        el.clear(keep_tail=False)
        if parent is not None:
            parent.remove(el)

    # ----------------------------------------------------------------- transactions
    def txn_id(self, el) -> str:
        """From content: reporting entity + the transaction's own ``transactionnumber``, else
        its normalised values (:func:`~followmoney.ingest._xml.content_key`)."""
        own = _ctext(el, "transactionnumber")
        rentity = self.header.get("rentity_id")
        return self.txn_ids(FORMAT, rentity, "ref", own) if own else self.txn_ids(FORMAT, rentity, "content", content_key(el))

    def transaction(self, el) -> None:
        xpath = self.xp(el)
        problems = []
        ts = offset = amount = None
        flags: list[str] = []
        dt_text = _raw(_child(el, "date_transaction"))
        if not dt_text:
            flags.append("date_missing")  # a known gap: the row is kept with a null timestamp
        else:
            try:
                ts, offset = _parse_dt(dt_text)
            except (ValueError, OverflowError):
                problems.append(f"date_transaction: unparseable {_snippet(dt_text)!r}")
        am_text = _raw(_child(el, "amount_local"))
        if not am_text:
            flags.append("amount_missing")  # a known gap: the row is kept with a null amount
        else:
            try:
                amount, rounded = _parse_amount(am_text, self.currency)
                if rounded:
                    flags.append("amount_rounded")
            except ValueError:
                problems.append(f"amount_local: unparseable {_snippet(am_text)!r}")
            except OverflowError:
                problems.append(f"amount_local: {_snippet(am_text)!r} does not fit decimal(18,3)")
        if problems:
            raw = etree.tostring(el, encoding="unicode")
            self.c.reject("transactions", xpath, "; ".join(problems), raw[:_RAW_MAX])
            return

        involved = _child(el, "involved_parties")
        if involved is not None:
            frm, to = self.multi_party(involved)
        else:
            frm = self.side(_child(el, "t_from_my_client", "t_from"), "from")
            to = self.side(_child(el, "t_to_my_client", "t_to"), "to")

        if amount is not None and amount < 0:
            flags.append("negative_amount")
        if self.currency is None:
            flags.append("currency_unknown")
        if ts is not None and ts.year < 1900:
            flags.append("implausible_date")
        if frm.account_id and frm.account_id == to.account_id:
            flags.append("self_transfer")
        flags += [p for p in (frm.foreign_problem, to.foreign_problem) if p]

        if frm.my_client and not to.my_client:
            counterparty = to.name
        elif to.my_client and not frm.my_client:
            counterparty = frm.name
        else:
            counterparty = None

        self.c.add(
            "transactions",
            {
                "txn_id": self.txn_id(el),
                "report_id": self.report_id,
                "source": FORMAT,
                "source_ref": self.c.ref(xpath),
                "source_txn_ref": _ctext(el, "transactionnumber"),
                "timestamp": ts,
                "tz_offset_minutes": offset,
                "amount": amount,
                "currency": self.currency,
                "amount_local": amount,
                "currency_local": self.currency,
                "from_account": frm.account_id,
                "to_account": to.account_id,
                "from_party": frm.party_id,
                "to_party": to.party_id,
                "from_my_client": frm.my_client,
                "to_my_client": to.my_client,
                "from_funds": frm.funds,
                "to_funds": to.funds,
                "channel": self.channel(frm, to, _code(el, "transmode_code")),
                "description": _ctext(el, "transaction_description"),
                "counterparty_name": counterparty,
                "country_from": frm.country,
                "country_to": to.country,
                "instructed_amount": frm.foreign_amount,
                "instructed_currency": frm.foreign_currency,
                "fx_rate": frm.fx_rate,
                "amount_received": to.foreign_amount,
                "currency_received": to.foreign_currency,
                "quality_flags": flags,
            },
        )

    def channel(self, frm: _Side, to: _Side, transmode: str | None) -> str:
        p = self.p
        from_cash = frm.funds in p.cash_funds
        to_cash = to.funds in p.cash_funds
        if from_cash and to.is_account and not (to_cash and frm.is_account):
            return "cash_deposit"
        if to_cash and frm.is_account and not (from_cash and to.is_account):
            return "cash_withdrawal"
        if transmode in p.transmode_channel:
            return p.transmode_channel[transmode]
        for code in (frm.funds, to.funds):
            if code in p.funds_channel:
                return p.funds_channel[code]
        return "other"

    def side(self, el, side: str) -> _Side:
        out = _Side()
        if el is None:
            return out
        out.present = True
        out.my_client = _local(el).endswith("_my_client")
        out.funds = _code(el, f"{side}_funds_code")
        out.country = _country(el, f"{side}_country")
        _foreign(el, side, out)
        for cond in _children(el, "t_conductor"):
            self.person(cond)
        acc = _child(el, f"{side}_account")
        per = _child(el, f"{side}_person")
        ent = _child(el, f"{side}_entity")
        if acc is not None:
            out.is_account = True
            out.account_id, out.party_id, out.name = self.account(acc, out.country)
        elif per is not None:
            out.party_id, out.name = self.person(per)
        elif ent is not None:
            out.party_id, out.name, _ = self.entity(ent)
        return out

    def multi_party(self, involved) -> tuple[_Side, _Side]:
        """Parties of an ``<involved_parties>`` transaction; sides from the role codes."""
        frm, to = _Side(), _Side()
        for party in _children(involved, "party"):
            role = _code(party, "role")
            s = _Side(present=True, funds=_code(party, "funds_code"), country=_country(party, "country"))
            for sub in party.iterchildren(tag=etree.Element):
                name = _local(sub)
                base = name.removesuffix("_my_client")
                if base not in ("person", "account", "entity"):
                    continue
                s.my_client = name.endswith("_my_client")
                if base == "account":
                    s.is_account = True
                    s.account_id, s.party_id, s.name = self.account(sub, s.country)
                elif base == "person":
                    s.party_id, s.name = self.person(sub)
                else:
                    s.party_id, s.name, _ = self.entity(sub)
                break
            if role in self.p.from_roles and not frm.present:
                frm = s
            elif role in self.p.to_roles and not to.present:
                to = s
        return frm, to

    # ----------------------------------------------------------------- activity
    def report_party(self, el) -> None:
        country = _country(el, "country")
        for sub in el.iterchildren(tag=etree.Element):
            base = _local(sub).removesuffix("_my_client")
            if base == "person":
                self.person(sub)
            elif base == "entity":
                self.entity(sub)
            elif base == "account":
                self.account(sub, country)

    # ----------------------------------------------------------------- accounts
    def account(self, el, side_country: str | None) -> tuple[str | None, str | None, str | None]:
        """Add an account (+ holders); return (account_id, holder party_id, name)."""
        xpath = self.xp(el)
        number = _ctext(el, "account")
        ns = _ctext(el, "institution_code") or _ctext(el, "swift") or _ctext(el, "institution_name") or "goaml"
        account_id = f"{ns}/{number}" if number else None
        if account_id:
            self.c.add(
                "accounts",
                {
                    "account_id": account_id,
                    "institution": None if ns == "goaml" else ns,
                    "account_number": number,
                    "iban": _norm_id(_ctext(el, "iban") or "") or None,
                    "name": _ctext(el, "account_name"),
                    "currency": _code(el, "currency_code"),
                    "country": _country(el, "institution_country") or side_country,
                    "opened": _dt_or_none(_ctext(el, "opened")),
                    "closed": _dt_or_none(_ctext(el, "closed")),
                    "status": _ctext(el, "status_code"),
                    "source_ref": self.c.ref(xpath),
                },
            )
        else:
            given = _raw(_child(el, "account"))
            reason = f"account: placeholder {_snippet(given)!r}" if given else "account: missing"
            self.c.reject("accounts", xpath, reason, etree.tostring(el, encoding="unicode")[:_RAW_MAX])

        def link(pid: str, role: str, code: str | None, where) -> None:
            if account_id:
                self.c.add(
                    "party_accounts",
                    {"party_id": pid, "account_id": account_id, "role": role, "role_code": code, "source_ref": self.c.ref(self.xp(where))},
                )

        holder = holder_name = None
        ent = _child(el, "t_entity")
        if ent is not None:
            holder, holder_name, related = self.entity(ent)
            link(holder, "holder", None, ent)
            for pid, role, code, where in related:
                link(pid, role, code, where)
        for rel in _children(el, "signatory") + _grand(el, "related_persons", "account_related_person"):
            per = _child(rel, "t_person")
            if per is None:
                continue
            pid, pname = self.person(per)
            code = _code(rel, "role")
            primary = (_ctext(rel, "is_primary") or "").lower() in ("1", "true")
            role = self.role(code, "holder" if primary else "signatory")
            link(pid, role, code, rel)
            if holder is None and role == "holder":
                holder, holder_name = pid, pname
        for rel in _grand(el, "related_entities", "account_related_entity"):
            sub = _child(rel, "entity")
            if sub is not None:
                pid, _, _ = self.entity(sub)
                code = _code(rel, "account_entity_relation")
                link(pid, self.role(code, "other"), code, rel)
        for rel in _grand(el, "related_accounts", "account_related_account"):
            sub = _child(rel, "account")
            if sub is not None:
                self.account(sub, None)
        return account_id, holder, _ctext(el, "account_name") or holder_name

    def role(self, code: str | None, default: str) -> str:
        if code is None:
            return default
        return self.p.roles.get(code, "other")

    # ----------------------------------------------------------------- parties
    def person(self, el) -> tuple[str, str | None]:
        """Add a person mention (+ identifiers); return (party_id, name)."""
        xpath = self.xp(el)
        pid = stable_id("P", self.report_id, xpath)
        first, middle, last = _ctext(el, "first_name"), _ctext(el, "middle_name"), _ctext(el, "last_name")
        given = " ".join(x for x in (first, middle) if x) or None
        name = " ".join(x for x in (first, middle, last) if x) or None
        self.c.add(
            "parties",
            {
                "party_id": pid,
                "kind": "person",
                "name": name,
                "given_name": given,
                "family_name": last,
                "birth_date": _date_or_none(_ctext(el, "birthdate")),
                "nationality": _country(el, "nationality1"),
                "country": _country(el, "residence"),
                "occupation": _ctext(el, "occupation"),
                "report_id": self.report_id,
                "source_ref": self.c.ref(xpath),
            },
        )
        self.contacts(el, pid)
        for ident in _grand(el, "identifications", "identification"):
            self.identification(pid, ident)
        for tag, kind in (("id_number", "national_id"), ("ssn", "national_id"), ("passport_number", "passport")):
            for sub in _children(el, tag):
                raw = _text(sub)
                if raw:
                    scheme = self.p.id_schemes.get(tag)
                    value = f"{scheme}:{raw}" if scheme else raw
                    self.ident(pid, kind, _norm_id(value), raw, sub)
        self.tax(el, pid)
        for rel in _grand(el, "related_persons", "person_related_person"):
            sub = _child(rel, "person")
            if sub is not None:
                self.person(sub)
        return pid, name

    def entity(self, el) -> tuple[str, str | None, list]:
        """Add an entity mention (+ identifiers, directors).

        Returns (party_id, name, [(person party_id, role, role_code, element), ...]).
        """
        xpath = self.xp(el)
        pid = stable_id("P", self.report_id, xpath)
        name = _ctext(el, "name") or _ctext(el, "commercial_name")
        self.c.add(
            "parties",
            {
                "party_id": pid,
                "kind": "entity",
                "name": name,
                "birth_date": _date_or_none(_ctext(el, "incorporation_date")),
                "country": _country(el, "incorporation_country_code"),
                "occupation": _ctext(el, "business"),
                "report_id": self.report_id,
                "source_ref": self.c.ref(xpath),
            },
        )
        self.contacts(el, pid)
        inc = _ctext(el, "incorporation_number")
        if inc:
            self.ident(pid, "id_document", _norm_id(f"INC:{inc}"), inc, _child(el, "incorporation_number"))
        for ident in _grand(el, "entity_identifications", "entity_identifier"):
            self.identification(pid, ident)
        self.tax(el, pid)
        related = []
        directors = []
        for d in _children(el, "director_id"):
            dpid, _ = self.person(d)
            code = _code(d, "role")
            related.append((dpid, self.role(code, "director"), code, d))
            directors.append((dpid, self.p.roles.get(code) if code else None, code, d))
        for rel in _grand(el, "related_persons", "entity_related_person"):
            sub = _child(rel, "person")
            if sub is not None:
                dpid, _ = self.person(sub)
                code = _code(rel, "role")
                related.append((dpid, self.role(code, "other"), code, rel))
        for rel in _grand(el, "related_entities", "entity_related_entity"):
            sub = _child(rel, "entity")
            if sub is not None:
                epid, _, _ = self.entity(sub)
                code = _code(rel, "role")
                related_entities = [(epid, self.role(code, "other"), code, rel)]
                self.relations(pid, related_entities)
        # a director_id is a director unless the profile maps its role code to something else
        self.relations(pid, [(d, role or "director", code, w) for d, role, code, w in directors] + related[len(directors):])
        return pid, name, related

    def relations(self, pid: str, related: list) -> None:
        """Keep who is related to an entity (directors, partners, ...) as ``relations`` rows."""
        for rpid, role, code, where in related:
            self.c.add(
                "relations",
                {"party_id": pid, "related_party_id": rpid, "role": role, "role_code": code,
                 "report_id": self.report_id, "source_ref": self.c.ref(self.xp(where))},
            )  # fmt: skip

    # ----------------------------------------------------------------- goods
    def goods(self, el, txn_id: str | None = None) -> None:
        """Goods and services of a report (``goods_services/item``) as ``goods`` rows."""
        for item in _children(el, "item"):
            xpath = self.xp(item)
            values, problems = {}, []
            for tag in ("estimated_value", "disposed_value"):
                text = _raw(_child(item, tag))
                values[tag] = None
                if text:
                    try:
                        values[tag], _ = _parse_amount(text)
                    except (ValueError, OverflowError):
                        problems.append(f"{tag}: unparseable or out of range")
            if problems:
                self.c.reject("goods", xpath, "; ".join(problems), etree.tostring(item, encoding="unicode")[:_RAW_MAX])
                continue
            self.c.add(
                "goods",
                {
                    "goods_id": stable_id("G", self.report_id, xpath),
                    "report_id": self.report_id,
                    "txn_id": txn_id,
                    "item_type": _code(item, "item_type"),
                    "item_make": _ctext(item, "item_make"),
                    "description": _ctext(item, "description"),
                    "registered_to": _ctext(item, "presently_registered_to"),
                    "estimated_value": values["estimated_value"],
                    "disposed_value": values["disposed_value"],
                    "currency": _code(item, "currency_code") or self.currency,
                    "status_code": _code(item, "status_code"),
                    "size": _ctext(item, "size"),
                    "size_uom": _code(item, "size_uom"),
                    "source_ref": self.c.ref(xpath),
                },
            )

    # ----------------------------------------------------------------- identifiers
    def ident(self, owner: str, kind: str, value: str, raw: str | None, el, owner_kind: str = "party") -> None:
        if not value:
            return
        self.c.add(
            "identifiers",
            {"owner_kind": owner_kind, "owner_id": owner, "kind": kind, "value": value, "raw": raw, "source_ref": self.c.ref(self.xp(el))},
        )

    def contacts(self, el, pid: str) -> None:
        country = _country(el, "residence", "nationality1", "incorporation_country_code")
        for ph in _grand(el, "phones", "phone"):
            number = _ctext(ph, "tph_number")
            if not number:
                continue
            prefix = _ctext(ph, "tph_country_prefix")
            digits = re.sub(r"\D", "", number)
            pdigits = re.sub(r"\D", "", prefix or "")
            if number.lstrip().startswith("+"):
                value = "+" + digits
            elif number.lstrip().startswith("00"):
                value = "+" + digits[2:]
            elif pdigits:
                value = "+" + pdigits + digits.lstrip("0")
            else:
                value = digits
            if len(digits) >= 3:
                raw = f"{prefix} {number}" if prefix else number
                # E.164 where phonenumbers can tell; the digits as written otherwise
                e164 = phone_with_prefix(prefix, number, country) if pdigits else normalize_phone(value if value.startswith("+") else number, country)
                self.ident(pid, "phone", e164 or value, raw, ph)
        for em in _children(el, "email") + _grand(el, "emails", "email"):
            raw = _text(em)
            if raw and "@" in raw:
                self.ident(pid, "email", normalize_email(raw) or raw.strip().casefold(), raw, em)
        for ad in _grand(el, "addresses", "address"):
            if not _ctext(ad, "address"):
                continue
            parts = [_ctext(ad, "address"), _ctext(ad, "city"), _ctext(ad, "state"), _country(ad, "country_code")]
            raw = ", ".join(_squash(x) for x in parts if x)
            self.ident(pid, "address", normalize_address(raw) or raw.casefold(), raw, ad)

    def identification(self, pid: str, el) -> None:
        number = _ctext(el, "number")
        if not number:
            return
        type_ = _code(el, "type")
        kind = self.p.id_kinds.get(type_, "id_document") if type_ else "id_document"
        value = f"{type_}:{number}" if type_ and type_ != "-" else number
        self.ident(pid, kind, _norm_id(value), number, el)

    def tax(self, el, pid: str) -> None:
        for tag in ("tax_number", "tax_reg_number"):
            sub = _child(el, tag)
            raw = _text(sub)
            if raw and raw.upper() not in _FLAGS and re.search(r"\d", raw):
                self.ident(pid, "tax_id", _norm_id(raw), raw, sub)


# --------------------------------------------------------------------------- read
@lru_cache(maxsize=8)
def _xsd(path: str, mtime: int):
    try:
        import xmlschema
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("XSD validation needs xmlschema: pip install 'followmoney[xsd]'") from exc
    text = Path(path).read_text("utf-8", errors="replace")
    cls = xmlschema.XMLSchema11 if "minVersion=\"1.1\"" in text or "vc:minVersion" in text else xmlschema.XMLSchema10
    return cls(path)


def validate(path, xsd) -> None:
    """Validate a goAML report against an XSD (strict mode of :func:`read`).

    Parameters
    ----------
    path : str or path-like
        The report.
    xsd : str or path-like
        The FIU's goAML schema (XSD 1.0 or 1.1; 1.1 is detected from ``vc:minVersion``).

    Raises
    ------
    InputError
        On the first violation, naming the file, the XPath and the reason.
    ImportError
        If ``xmlschema`` is not installed (extra ``followmoney[xsd]``).
    """
    xsd = Path(xsd)
    schema_ = _xsd(str(xsd.resolve()), xsd.stat().st_mtime_ns)
    for err in schema_.iter_errors(str(path)):
        where = err.path or "/"
        raise InputError(f"{path}#{where}: not valid against {xsd.name}: {without_values(str(err.reason))}")


def read(path, *, local_currency: str | None = None, profile: str | Path | None = None, xsd: str | Path | None = None) -> Bundle:
    """Read one goAML XML report into the canonical tables.

    Parameters
    ----------
    path : str or path-like
        The report file (UTF-8/UTF-16, with or without a BOM or a default namespace).
    local_currency : str, optional
        ISO 4217 code to use when the report states no ``<currency_code_local>``.
    profile : str or path-like, optional
        Code-list profile: ``"uae"``, ``"generic"`` or the path of a TOML file (see
        ``goaml_profiles/``). Default: ``"uae"`` when ``<schema_version>`` starts with
        5.0.2 or the funds/transmode codes are UAE ones, else ``"generic"``.
    xsd : str or path-like, optional
        Strict mode: validate the report against this XSD first (see :func:`validate`);
        off by default, since real reports often break their FIU's schema in harmless
        ways that the reader handles.

    Returns
    -------
    Bundle
        * ``reports``: one row; ``report_id`` hashes ``rentity_id`` and
          ``entity_reference`` (else the file's content), never the file name;
          ``submitted_at`` UTC; ``indicators`` the ``report_indicators`` codes.
        * ``transactions``: one row per ``<transaction>``; ``txn_id`` hashes the
          reporting entity and the ``transactionnumber`` (else the transaction's
          normalised values), so ids survive renaming and differ between reports; ``source_ref`` is ``file#XPath``; ``amount`` = ``amount_local``
          (decimal128(18, 3), exact to the currency's minor units, in ``currency`` = the report's local currency);
          a ``<from_foreign_currency>`` gives ``instructed_amount`` /
          ``instructed_currency`` / ``fx_rate``, a ``<to_foreign_currency>`` gives
          ``amount_received`` / ``currency_received`` (never added to local amounts);
          ``timestamp`` UTC (no offset in the source: taken as UTC and
          ``tz_offset_minutes`` null); ``from_/to_account`` = account ids
          ``"<institution_code|swift|institution_name>/<account>"``; ``from_/to_party``
          = the person or entity of a side, or an account side's holder; ``channel``
          from the profile (cash funds on one side and an account on the other give
          cash_deposit / cash_withdrawal); ``quality_flags`` among negative_amount,
          currency_unknown, implausible_date (year < 1900), self_transfer,
          amount_rounded, foreign_amount_invalid, and amount_missing / date_missing for an empty
          ``amount_local`` / ``date_transaction`` (the row is kept with a null value:
          a known gap, not an error).
        * ``accounts``: one row per account id (repeats merged).
        * ``parties``: one row per person or entity element (a *mention*);
          ``party_id`` hashes file name and XPath. The report's ``reporting_person``
          (the reporting officer) is not a subject and is skipped.
        * ``party_accounts``: holders, signatories and related persons/entities of
          accounts with canonical ``role`` and the source's ``role_code``.
        * ``identifiers`` (``value`` normalised by :mod:`followmoney.normalize`,
          ``raw`` as written): phones in E.164 (the party's country as default
          region), e-mails, addresses (rigour fingerprint of "address, city, state,
          country"), identity documents (``TYPE:NUMBER``), tax numbers,
          incorporation numbers (``INC:NUMBER``).
        * ``rejects``: transactions whose ``date_transaction`` or ``amount_local`` is
          present but unreadable or too large (the reason names the field and value),
          accounts without a number.

    Raises
    ------
    InputError
        The file cannot be opened, is not well-formed XML (the message names the file,
        line and column), or its root element is not ``<report>``.
    ValueError
        ``profile`` names no bundled profile or its file is invalid.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = read(fm.sample_data_path() / "goaml" / "str_2026_001.xml")
    >>> b.reports.column("report_code").to_pylist()
    ['STR']
    >>> sorted(set(b.transactions.column("channel").to_pylist()))
    ['cash_deposit']
    >>> b.transactions.column("amount").type
    Decimal128Type(decimal128(18, 3))
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or 'I/O error'}") from None
    refuse_doctype(path, head, "goAML reports")
    if xsd is not None:
        validate(path, xsd)
    prof = _auto_profile(path) if profile is None else load_profile(profile)
    return _Reader(path, prof, local_currency).run()
