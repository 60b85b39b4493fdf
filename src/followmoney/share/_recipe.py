"""Recipe ``fm-match-v1``: which normalised values of a subject become match keys.

Normalisation is :mod:`followmoney.normalize` (IBAN via rigour, phones to E.164 via
phonenumbers, e-mail, ID numbers, names, countries); this module only chooses and
combines the values, as the reference design says (``shared/reference/fiu-cooperation.md``
§2.6.1-2): high-entropy identifiers alone, names only inside composites.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict


from followmoney.normalize import (
    bundle_identifier_keys,
    fold_text,
    is_placeholder,
    normalize_bic,
    normalize_country,
    normalize_iban,
    normalize_id_number,
    normalize_name,
    sorted_name_key,
)
from followmoney.share._errors import ShareError

__all__ = ["KINDS", "EXACT_KINDS", "COMPOSITE_KINDS", "FUZZY_KIND", "allowed_kind", "subject_values", "own_subjects",
           "person_features"]

#: High-entropy identifiers exported alone (reference §2.6.2 "allowed key types").
EXACT_KINDS = ("iban", "account", "id_document", "registration", "phone", "email")
#: Name composites (reference §2.6.2: "full-name + DOB, surname + initial + DOB,
#: full-name + birth year + nationality"); for entities, name + country + incorporation date.
COMPOSITE_KINDS = ("name_dob", "surname_initial_dob", "name_year_nationality", "entity_name_country_date")
#: The record-level Bloom filter (CLK) of a person's name and birth date (opt-in).
FUZZY_KIND = "clk"
#: Every kind a ``fm-match-v1`` export may hold. Anything else, in particular a single
#: name, surname, given name, birth date or postcode, is refused: keyed tokens of one
#: such field let a partner re-identify 43-49 % of records by frequency (reference §2.5).
KINDS = EXACT_KINDS + COMPOSITE_KINDS + (FUZZY_KIND,)

_ID_KINDS = {"passport", "national_id", "id_document", "tax_id"}
_CONTACT = {"phone": "phone", "email": "email"}


def allowed_kind(kind: str) -> bool:
    """Whether ``kind`` may be exported under ``fm-match-v1``.

    Examples
    --------
    >>> allowed_kind("name_dob"), allowed_kind("surname"), allowed_kind("birth_date")
    (True, False, False)
    """
    return kind in KINDS


def _account_values(iban, number, institution) -> list[tuple[str, str]]:
    iban_n = normalize_iban(iban) or normalize_iban(number)
    if iban_n:
        return [("iban", iban_n)]
    if not number or not institution:
        return []  # an account number without its bank is ambiguous across banks
    num = re.sub(r"[\s./\-]", "", unicodedata.normalize("NFKC", str(number))).upper()
    bank = normalize_bic(institution) or re.sub(r"[^A-Z0-9]", "", fold_text(institution).upper() if fold_text(institution) else "")
    if not num or not bank or is_placeholder(num):
        return []
    return [("account", f"{bank}/{num}")]


def _surname_initial(given, family, name) -> str | None:
    fam = fold_text(family) if family else None
    giv = fold_text(given) if given else None
    if not fam or not giv:
        toks = (normalize_name(name) or "").split()
        if len(toks) < 2:
            return None
        giv, fam = toks[0], toks[-1]
    return f"{fam.replace(' ', '')} {giv[0]}"


def _party_values(p: dict) -> list[tuple[str, str]]:
    out = []
    bd = p.get("birth_date")
    if p.get("kind") == "entity":
        name = normalize_name(p.get("name"), "entity")
        country = normalize_country(p.get("country"))
        if name and country and bd:
            out.append(("entity_name_country_date", f"{name}|{country}|{bd.isoformat()}"))
        return out
    name = sorted_name_key(p.get("name") or " ".join(x for x in (p.get("given_name"), p.get("family_name")) if x))
    if not name or len(name.split()) < 2:
        return out  # one token is not a full name: no composite
    if bd:
        out.append(("name_dob", f"{name}|{bd.isoformat()}"))
        si = _surname_initial(p.get("given_name"), p.get("family_name"), p.get("name"))
        if si:
            out.append(("surname_initial_dob", f"{si}|{bd.isoformat()}"))
        nat = normalize_country(p.get("nationality"))
        if nat:
            out.append(("name_year_nationality", f"{name}|{bd.year:04d}|{nat}"))
    return out


def person_features(bundle) -> dict[str, tuple[str, str]]:
    """``party_id -> (sorted name key, ISO birth date)`` of persons with a full name and a birth date."""
    p = bundle.parties
    out = {}
    for pid, kind, name, given, family, bd in zip(
        *(p[c].to_pylist() for c in ("party_id", "kind", "name", "given_name", "family_name", "birth_date"))
    ):
        if kind == "entity" or bd is None:
            continue
        key = sorted_name_key(name or " ".join(x for x in (given, family) if x))
        if key and len(key.split()) >= 2:
            out[pid] = (key, bd.isoformat())
    return out


class _Index:
    """Per-party and per-account normalised values of one bundle, and who holds what."""

    def __init__(self, bundle) -> None:
        self.party: dict[str, set] = defaultdict(set)
        self.account: dict[str, set] = defaultdict(set)
        self.party_kind = dict(zip(bundle.parties["party_id"].to_pylist(), bundle.parties["kind"].to_pylist()))
        for p in bundle.parties.select(
            ["party_id", "kind", "name", "given_name", "family_name", "birth_date", "nationality", "country"]
        ).to_pylist():
            self.party[p["party_id"]].update(_party_values(p))
        a = bundle.accounts
        for aid, iban, num, inst in zip(*(a[c].to_pylist() for c in ("account_id", "iban", "account_number", "institution"))):
            self.account[aid].update(_account_values(iban, num, inst))
        ids = bundle_identifier_keys(bundle)
        for ok, oid, kind, key, ph in zip(*(ids[c].to_pylist() for c in ("owner_kind", "owner_id", "kind", "key", "placeholder"))):
            if key is None or ph:
                continue
            if kind in _CONTACT:
                k = _CONTACT[kind]
            elif kind in _ID_KINDS:
                k = "registration" if self.party_kind.get(oid) == "entity" else "id_document"
                key = normalize_id_number(key)
                if not key or len(re.sub(r"[^A-Z0-9]", "", key)) < 5:
                    continue  # too short to be an identifier on its own
            else:
                continue  # addresses, devices, IPs: not exported (low entropy or shared)
            (self.party if ok == "party" else self.account)[oid].add((k, key))
        self.accounts_of: dict[str, set] = defaultdict(set)
        self.holders_of: dict[str, set] = defaultdict(set)
        pa_ = bundle.party_accounts
        for pid, aid in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()):
            self.accounts_of[pid].add(aid)
            self.holders_of[aid].add(pid)
        self.accounts = set(a["account_id"].to_pylist())

    def values(self, kind: str, sid: str) -> set:
        if kind == "party":
            out = set(self.party.get(sid, ()))
            for aid in self.accounts_of.get(sid, ()):
                out |= self.account.get(aid, set())
            return out
        out = set(self.account.get(sid, ()))
        for pid in self.holders_of.get(sid, ()):
            out |= self.party.get(pid, set())
        return out


def _subject_kind(ix: _Index, sid: str) -> str:
    if sid in ix.party_kind:
        return "party"
    if sid in ix.accounts:
        return "account"
    raise ShareError(f"subject {sid!r} is neither a party_id nor an account_id of the data")


def subject_values(bundle, subjects) -> list[tuple[str, str, set]]:
    """Normalised values per subject: ``[(subject_kind, subject_id, {(kind, value), ...}), ...]``.

    A party subject carries its own identifiers, its name composites and the identifiers
    of the accounts it holds (``party_accounts``, any role); an account subject carries its
    IBAN or bank + number, its identifiers and its holders' values.

    Raises
    ------
    ShareError
        If a subject id is neither a party nor an account of ``bundle``.
    """
    ix = _Index(bundle)
    out = []
    for sid in dict.fromkeys(subjects):
        kind = _subject_kind(ix, sid)
        out.append((kind, sid, ix.values(kind, sid)))
    return out


def own_subjects(bundle) -> list[str]:
    """The subjects one's own data is matched as: every party, and accounts no party holds."""
    held = set(bundle.party_accounts["account_id"].to_pylist())
    return bundle.parties["party_id"].to_pylist() + [a for a in bundle.accounts["account_id"].to_pylist() if a not in held]
