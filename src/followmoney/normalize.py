"""Normalisers: one matching key per value, the raw value always kept beside it.

Every function takes a raw value as written in a report and returns its normalised
form, or ``None`` when the value cannot be read (never raises on bad data). Matching
keys are for *comparing* values; display and export keep the raw string, which the
canonical tables hold in ``identifiers.raw`` and ``parties.name``.

The heavy lifting is done by well-kept libraries, wrapped here so that an upgrade of
one of them touches this module only:

* names, legal-form words, transliteration, addresses, IBAN/BIC, territories:
  `rigour <https://github.com/opensanctions/rigour>`_ (the OpenSanctions toolkit);
* phone numbers to E.164: `phonenumbers` (Google's libphonenumber);
* fuzzy name similarity: `rapidfuzz`;
* ISO 4217 currencies and ISO 3166 checks: `pycountry`.

:func:`normalize_identifiers` applies the right normaliser to every row of a canonical
``identifiers`` table, vectorised over distinct values.

Examples
--------
>>> normalize_name("IVANOVA, Marta")
'marta ivanova'
>>> normalize_name("Sample Horizon Manpower L.L.C.", kind="entity")
'sample horizon manpower'
>>> normalize_phone("050 000 0101", region="AE")
'+971500000101'
>>> normalize_country("Deutschland"), normalize_currency("aed")
('DE', 'AED')
>>> compare_names("Müller", "MULLER")
NameMatch(score=0.95, level='variant')
"""

from __future__ import annotations

from collections import Counter

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
import pyarrow as pa
import pycountry
from rapidfuzz import fuzz
from rigour import addresses as _addresses
from rigour import names as _names
from rigour import text as _text
from rigour import territories as _territories
from rigour.ids import BIC as _BIC
from rigour.ids import IBAN as _IBAN

__all__ = [
    "NameMatch",
    "VARIANT_SCORE",
    "fold_text",
    "normalize_name",
    "name_tokens",
    "sorted_name_key",
    "transliterate",
    "phonetic_key",
    "phone_with_prefix",
    "compare_names",
    "normalize_phone",
    "normalize_email",
    "normalize_iban",
    "normalize_bic",
    "normalize_country",
    "normalize_currency",
    "normalize_address",
    "normalize_id_number",
    "is_placeholder",
    "normalize_identifier",
    "normalize_identifiers",
    "bundle_identifier_keys",
]

#: Score of two names that differ only by transliteration or diacritics
#: ("Müller" / "Mueller" / "MULLER"): high, but below an exact match.
VARIANT_SCORE = 0.95

# Apostrophes and look-alikes: removed, so "D'Angelo", "D’Angelo" and "Dangelo" agree.
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2019\u2018\u02bc\u02bb`\u00b4\u02b9\u2032\uff07"), None)
# German-style expansions tried besides plain ASCII folding ("Müller" -> "mueller").
_EXPANSIONS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})


# --------------------------------------------------------------------------- text
@lru_cache(maxsize=200_000)
def fold_text(text: str | None) -> str | None:
    """Unicode NFKC, case folding, apostrophes removed, punctuation to spaces.

    The common core of every text key: NFC and NFD spellings ("François" composed or
    with a combining cedilla), full-width forms, typographic and straight apostrophes
    all give the same string. Letters are *not* transliterated (see
    :func:`transliterate`).

    Parameters
    ----------
    text : str or None

    Returns
    -------
    str or None
        Tokens separated by single spaces; None when nothing is left.

    Examples
    --------
    >>> fold_text("D\\u2019Angelo  ROSSI") == fold_text("d'Angelo Rossi")
    True
    >>> fold_text("Franc\\u0327ois") == fold_text("Fran\\u00e7ois")
    True
    >>> fold_text(" - ") is None
    True
    """
    if text is None:
        return None
    t = unicodedata.normalize("NFKC", str(text)).casefold().translate(_APOSTROPHES)
    t = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in t)
    t = " ".join(t.split())
    return t or None


@lru_cache(maxsize=200_000)
def transliterate(text: str | None) -> str | None:
    """ASCII transliteration of folded text (any script), via ``rigour.text.ascii_text``.

    Examples
    --------
    >>> transliterate("Müller Ærø Владимир")
    'muller aero vladimir'
    """
    folded = fold_text(text)
    if folded is None:
        return None
    return fold_text(_text.ascii_text(folded))


# --------------------------------------------------------------------------- names
@lru_cache(maxsize=200_000)
def normalize_name(name: str | None, kind: str = "person") -> str | None:
    """Matching form of a person's or an entity's name (word order kept).

    Steps: NFKC; for persons, ``"FAMILY, Given"`` (one comma) becomes ``"Given FAMILY"``
    and honorifics (Mr, Dr, ...) are dropped; for entities, legal-form words (Ltd, LLC,
    GmbH, "limited liability company", ...) are dropped; then :func:`fold_text`.

    Parameters
    ----------
    name : str or None
        The name as written.
    kind : {"person", "entity"}, default "person"

    Returns
    -------
    str or None

    Examples
    --------
    >>> normalize_name("Dr. Marta IVANOVA")
    'marta ivanova'
    >>> normalize_name("Acme Trading GmbH", kind="entity")
    'acme trading'
    """
    if name is None:
        return None
    t = unicodedata.normalize("NFKC", str(name)).strip()
    if not t:
        return None
    if kind == "person":
        if t.count(",") == 1:
            family, given = (p.strip() for p in t.split(","))
            t = f"{given} {family}".strip()
        t = _names.remove_person_prefixes(t)
    else:
        stripped = _names.remove_org_types(t).strip()
        t = stripped or t  # a name that is only a legal form keeps it
    return fold_text(t)


def name_tokens(name: str | None, kind: str = "person") -> tuple[str, ...]:
    """Tokens of :func:`normalize_name` (empty tuple for no name).

    Examples
    --------
    >>> name_tokens("IVANOVA, Marta")
    ('marta', 'ivanova')
    """
    n = normalize_name(name, kind)
    return tuple(n.split()) if n else ()


@lru_cache(maxsize=200_000)
def sorted_name_key(name: str | None, kind: str = "person") -> str | None:
    """Token-order-free blocking key: transliterated tokens, sorted.

    Examples
    --------
    >>> sorted_name_key("MARTA IVANOVA") == sorted_name_key("IVANOVA, Marta") == "ivanova marta"
    True
    """
    t = transliterate(normalize_name(name, kind))
    return " ".join(sorted(t.split())) if t else None


@lru_cache(maxsize=200_000)
def phonetic_key(name: str | None, kind: str = "person") -> str | None:
    """Sorted Metaphone codes of the transliterated tokens: a typo-tolerant blocking key.

    Examples
    --------
    >>> phonetic_key("Tariq Fictus") == phonetic_key("Tarik Fiktus")
    True
    """
    t = transliterate(normalize_name(name, kind))
    if not t:
        return None
    codes = sorted(c for c in (_text.metaphone(tok) for tok in t.split()) if c)
    return " ".join(codes) or None


class NameMatch(NamedTuple):
    """Result of :func:`compare_names`.

    Attributes
    ----------
    score : float
        0..1; 1.0 only for the same tokens after normalisation.
    level : str
        ``exact`` (same tokens in any order, after Unicode, case and apostrophe
        folding), ``variant`` (same after transliteration, e.g. "Müller"/"Mueller"),
        ``subset`` (every token of the shorter name, at least two, is in the longer),
        ``fuzzy`` (token-sorted similarity) or ``missing`` (a name is empty).
    """

    score: float
    level: str


@lru_cache(maxsize=200_000)
def _name_forms(name: str, kind: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    norm = normalize_name(name, kind)
    if not norm:
        return (), (), ()
    toks = tuple(sorted(norm.split()))
    ascii_ = tuple(sorted((transliterate(norm) or "").split()))
    expanded = tuple(sorted((transliterate(norm.translate(_EXPANSIONS)) or "").split()))
    return toks, ascii_, expanded


def compare_names(a: str | None, b: str | None, kind: str = "person") -> NameMatch:
    """Similarity of two names, insensitive to token order, case, Unicode form and apostrophes.

    Parameters
    ----------
    a, b : str or None
        Names as written.
    kind : {"person", "entity"}, default "person"
        Entities are compared without their legal-form words.

    Returns
    -------
    NameMatch
        ``(score, level)``; see :class:`NameMatch`.

    Notes
    -----
    Exact: sorted tokens of :func:`normalize_name` equal (score 1.0). Variant: sorted
    tokens equal after ASCII transliteration or after German-style expansion
    (ä→ae, ö→oe, ü→ue, ß→ss), score :data:`VARIANT_SCORE`. Subset: 0.9. Otherwise
    ``rapidfuzz.fuzz.token_sort_ratio`` of the transliterated names / 100, capped
    below the variant score. Cost: O(len(a) * len(b)).

    Examples
    --------
    >>> compare_names("MARTA IVANOVA", "IVANOVA, Marta")
    NameMatch(score=1.0, level='exact')
    >>> compare_names("Müller", "Mueller").level
    'variant'
    >>> compare_names("Mohamad Al Jaber", "Mohamad Ali Al-Jaber")
    NameMatch(score=0.9, level='subset')
    >>> compare_names("Marta Ivanova", "Olga Ivanova").score < 0.9
    True
    """
    if not a or not b:
        return NameMatch(0.0, "missing")
    ta, aa, ea = _name_forms(a, kind)
    tb, ab, eb = _name_forms(b, kind)
    if not ta or not tb:
        return NameMatch(0.0, "missing")
    if ta == tb:
        return NameMatch(1.0, "exact")
    if aa == ab or ea == eb:
        return NameMatch(VARIANT_SCORE, "variant")
    short, long_ = (aa, ab) if len(aa) <= len(ab) else (ab, aa)
    if len(short) >= 2 and not Counter(short) - Counter(long_):  # every token of the shorter name, repeats counted
        return NameMatch(0.9, "subset")
    score = fuzz.token_sort_ratio(" ".join(aa), " ".join(ab)) / 100.0
    return NameMatch(round(min(score, VARIANT_SCORE - 0.01), 4), "fuzzy")


# --------------------------------------------------------------------------- contacts
@lru_cache(maxsize=200_000)
def normalize_phone(raw: str | None, region: str | None = None) -> str | None:
    """Phone number to E.164 (``+<country code><number>``), with ``phonenumbers``.

    Parameters
    ----------
    raw : str or None
        As written: international (``+971 50 ...``, ``00971...``), with the country code
        but no plus (``971 50...``) or national (``050 ...``).
    region : str, optional
        ISO 3166-1 alpha-2 used for national numbers: the report's, party's or
        account's country.

    Returns
    -------
    str or None
        E.164, or None when the number cannot be a phone number (too short, letters,
        national without a region).

    Examples
    --------
    >>> normalize_phone("020 7946 0958", region="GB")
    '+442079460958'
    >>> normalize_phone("00971 50 000 0101"), normalize_phone("12")
    ('+971500000101', None)
    """
    if raw is None:
        return None
    s = unicodedata.normalize("NFKC", str(raw)).strip()
    if not s or sum(ch.isdigit() for ch in s) < 5:
        return None
    if s.startswith("00"):
        s = "+" + s[2:]
    reg = region.upper() if region and len(region) == 2 else None
    # national numbers with the region; failing that, a country code written without "+"
    candidates = [(s, reg)] if s.startswith("+") else [(s, reg), ("+" + s, None)]
    for candidate, r in candidates:
        try:
            num = phonenumbers.parse(candidate, r)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


def phone_with_prefix(prefix: str | None, number: str, region: str | None = None) -> str | None:
    """E.164 of a phone given as a country prefix field and a number field (goAML ``tph_*``).

    Sources write the number in every form: national (``081234567890``), national
    significant (``81234567890``), international with ``+`` or ``00``, or with the
    country code again although the prefix field holds it (``62`` + ``6281234567890``).
    The country code is not repeated: where prefix + number is not a valid number but
    the number alone, read as international, is, the number alone is taken.

    Parameters
    ----------
    prefix : str or None
        Country calling code as written (``62``, ``+62``, ``0062``).
    number : str
        The number as written.
    region : str, optional
        ISO 3166-1 alpha-2 for a national number without a prefix.

    Returns
    -------
    str or None
        E.164, or None when no reading is a possible phone number.

    Examples
    --------
    >>> [phone_with_prefix("62", n) for n in ("6281234567890", "081234567890", "812 3456 7890")]
    ['+6281234567890', '+6281234567890', '+6281234567890']
    >>> phone_with_prefix(None, "+62 812-3456-7890")
    '+6281234567890'
    """
    digits = re.sub(r"\D", "", number or "")
    pdigits = re.sub(r"\D", "", prefix or "").lstrip("0")
    s = (number or "").strip()
    if s.startswith("+") or s.startswith("00") or not pdigits:
        return normalize_phone(s, region)
    joined = "+" + pdigits + digits.lstrip("0")
    if digits.startswith(pdigits):
        try:
            ok_joined = phonenumbers.is_valid_number(phonenumbers.parse(joined, None))
            ok_alone = phonenumbers.is_valid_number(phonenumbers.parse("+" + digits, None))
        except phonenumbers.NumberParseException:
            ok_joined, ok_alone = True, False
        if ok_alone and not ok_joined:
            return normalize_phone("+" + digits, None)
    return normalize_phone(joined, None)


_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@lru_cache(maxsize=200_000)
def normalize_email(raw: str | None) -> str | None:
    """E-mail address: NFKC, ``mailto:`` dropped, case folded, IDNA domain.

    Provider-specific aliases (dots, ``+tags``) are kept: they are not the same
    address everywhere.

    Examples
    --------
    >>> normalize_email(" mailto:T.Fictus@Example.INVALID ")
    't.fictus@example.invalid'
    >>> normalize_email("not an address") is None
    True
    """
    if raw is None:
        return None
    s = unicodedata.normalize("NFKC", str(raw)).strip().strip("<>").strip()
    if s.lower().startswith("mailto:"):
        s = s[7:]
    s = s.casefold()
    if not _EMAIL_RE.fullmatch(s):
        return None
    local, domain = s.rsplit("@", 1)
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{domain}"


# --------------------------------------------------------------------------- banking
def normalize_iban(raw: str | None) -> str | None:
    """IBAN without spaces, upper case, if its check digits are valid (``rigour.ids.IBAN``).

    Examples
    --------
    >>> normalize_iban("gb82 west 1234 5698 7654 32")
    'GB82WEST12345698765432'
    >>> normalize_iban("GB82 WEST 1234 5698 7654 33") is None
    True
    """
    if not raw:
        return None
    s = re.sub(r"[\s.-]", "", unicodedata.normalize("NFKC", str(raw))).upper()
    return _IBAN.normalize(s) if _IBAN.is_valid(s) else None


def normalize_bic(raw: str | None) -> str | None:
    """BIC (SWIFT code) as 8 characters, if well formed (``rigour.ids.BIC``).

    The branch code is dropped: ``DEUTDEFF500`` and ``DEUTDEFF`` are the same bank.

    Examples
    --------
    >>> normalize_bic("deut de ff 500")
    'DEUTDEFF'
    >>> normalize_bic("12345") is None
    True
    """
    if not raw:
        return None
    s = re.sub(r"\s", "", str(raw)).upper()
    return _BIC.normalize(s) if _BIC.is_valid(s) else None


# --------------------------------------------------------------------------- places
@lru_cache(maxsize=4096)
def normalize_country(raw: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code (upper case) from a code or a name in several languages.

    Alpha-3 codes, English and local names ("Deutschland", "Côte d'Ivoire") are
    accepted (``rigour.territories``); a sub-national territory gives its country
    ("Scotland" → GB); ``XK`` (Kosovo) is kept as commonly used. Historical and
    unknown territories give None.

    Examples
    --------
    >>> normalize_country("DEU"), normalize_country("Scotland"), normalize_country("United Arab Emirates")
    ('DE', 'GB', 'AE')
    >>> normalize_country("Atlantis") is None
    True
    """
    if not raw or not str(raw).strip():
        return None
    terr = _territories.lookup_territory(str(raw).strip())
    while terr is not None and "-" in terr.code and terr.parent is not None:
        terr = terr.parent
    if terr is None or terr.is_historical or len(terr.code) != 2:
        return None
    code = terr.code.upper()
    if code == "XK" or pycountry.countries.get(alpha_2=code) is not None:
        return code
    return None


@lru_cache(maxsize=1024)
def normalize_currency(raw: str | None) -> str | None:
    """ISO 4217 alphabetic code (upper case) if it is one (``pycountry``).

    Examples
    --------
    >>> normalize_currency(" usd "), normalize_currency("XYZ")
    ('USD', None)
    """
    if not raw:
        return None
    code = str(raw).strip().upper()
    return code if len(code) == 3 and pycountry.currencies.get(alpha_3=code) is not None else None


#: House-number words before a number, per country (English No./Nr., Indonesian Nomor,
#: Malay Nombor, German Nr., ...): dropped, so "No. 3" and "Nomor 3" agree.
_NUMBER_WORDS = re.compile(r"\b(?:no|nr|nomor|nombor|number|num|nro|n°)\.?\s*(?=\d)", re.IGNORECASE)


@lru_cache(maxsize=200_000)
def normalize_address(raw: str | None) -> str | None:
    """Comparison key of an address (``rigour.addresses.address_fingerprint``).

    Folded and transliterated; keywords shortened ("Street"/"St", "Flat"/"Apt") and
    known places replaced by codes, so spellings of one address agree.

    Examples
    --------
    >>> normalize_address("Flat 12, Example Residence, 0 Test Street, Dubai") == \\
    ...     normalize_address("flat 12 example residence 0 test st dubai")
    True
    >>> normalize_address("Jln. Test 7 No. 3, Kuala Lumpur") == normalize_address("Jalan Test 7 Nomor 3, Kuala Lumpur")
    True
    """
    if not raw:
        return None
    text = _NUMBER_WORDS.sub(" ", unicodedata.normalize("NFKC", str(raw)).translate(_APOSTROPHES))
    key = _addresses.address_fingerprint(text)
    return " ".join(key.split()) or None if key else None


# --------------------------------------------------------------------------- documents
@lru_cache(maxsize=200_000)
def normalize_id_number(raw: str | None) -> str | None:
    """ID document, tax or registration number: upper case, separators removed.

    A scheme prefix written as ``SCHEME:NUMBER`` (as adapters write ``EID:784...``) is
    kept, separators are dropped from both parts.

    Examples
    --------
    >>> normalize_id_number("inc:TL-000 0404")
    'INC:TL0000404'
    """
    if not raw:
        return None
    s = unicodedata.normalize("NFKC", str(raw)).upper()
    scheme, sep, number = s.rpartition(":")
    number = re.sub(r"[\s./\-_]", "", number)
    scheme = re.sub(r"[\s./\-_]", "", scheme)
    if not number:
        return None
    return f"{scheme}:{number}" if sep and scheme else number


def is_placeholder(value: str | None) -> bool:
    """Whether an identifier is a filler rather than a real number.

    True for values whose digits are all one repeated digit (``Z0000000``,
    ``+971500000000`` has 9 zeros in a row at its end and counts too: seven or more
    trailing zeros), or ``123456789``-like runs.

    Examples
    --------
    >>> is_placeholder("Z0000000"), is_placeholder("+971500000000"), is_placeholder("EID:784000000000101")
    (True, True, False)
    """
    if not value:
        return True
    digits = re.sub(r"\D", "", value)
    if not digits:
        return False
    if len(set(digits)) == 1 and len(digits) >= 4:
        return True
    if len(digits) >= 6 and digits in "01234567890123456789":
        return True
    return bool(re.search(r"0{7,}$", digits))


# --------------------------------------------------------------------------- tables
_ID_KINDS = frozenset({"passport", "national_id", "tax_id", "id_document"})

#: One identifier vocabulary: each source's scheme code -> the scheme matched across
#: sources. ISO 20022 (camt, pacs: ``PrvtId/Othr/SchmeNm/Cd``, ExternalPersonIdentification1Code:
#: CCPT passport, TXID tax id, DRLC driving licence, SOSE social security), goAML profiles
#: (``PASSP``, ``DL``), FinCEN BSA (``PASSPORT``). National id schemes stay apart (an Emirates
#: ID is not a MyKad): only schemes that name the same kind of document in every country
#: are joined.
ID_SCHEMES = {
    "CCPT": "", "PASSP": "", "PASSPORT": "", "PP": "",
    "TXID": "", "TIN": "", "TAX": "",
    "DRLC": "DRIVING_LICENCE", "DL": "DRIVING_LICENCE", "DRIVERSLICENSE": "DRIVING_LICENCE",
}  # fmt: skip
"""Scheme code -> the scheme matched across sources; "" means the number alone (the kind
column already says passport or tax id, as for a source that names no scheme)."""


def normalize_identifier(kind: str, value: str | None, region: str | None = None) -> str | None:
    """Normalise one identifier by its ``identifiers.kind``.

    Parameters
    ----------
    kind : str
        phone, email, address, passport, national_id, tax_id, id_document, iban, bic,
        device or ip (others are folded with :func:`fold_text`).
    value : str or None
    region : str, optional
        Default region for national phone numbers.

    Returns
    -------
    str or None

    Examples
    --------
    >>> normalize_identifier("phone", "971 500000101"), normalize_identifier("passport", "ab 12-34")
    ('+971500000101', 'AB1234')

    Passports read from camt (``CCPT``) and goAML (``PASSP``) match (:data:`ID_SCHEMES`):

    >>> normalize_identifier("passport", "CCPT:A1234567") == normalize_identifier("passport", "PASSP:A 1234567")
    True
    """
    if value is None:
        return None
    if kind == "phone":
        return normalize_phone(value, region)
    if kind == "email":
        return normalize_email(value)
    if kind == "address":
        return normalize_address(value)
    if kind in _ID_KINDS:
        v = normalize_id_number(value)
        if v is None:
            return None
        scheme, sep, number = v.rpartition(":")
        if not sep or scheme not in ID_SCHEMES:
            return v
        return f"{ID_SCHEMES[scheme]}:{number}" if ID_SCHEMES[scheme] else number
    if kind == "iban":
        return normalize_iban(value)
    if kind == "bic":
        return normalize_bic(value)
    if kind in ("device", "ip"):
        s = unicodedata.normalize("NFKC", str(value)).strip().casefold()
        return s or None
    return fold_text(value)


def normalize_identifiers(identifiers: pa.Table, regions: pa.Array | pa.ChunkedArray | None = None) -> pa.Table:
    """Add matching keys to a canonical ``identifiers`` table.

    Each distinct ``(kind, value, region)`` is normalised once.

    Parameters
    ----------
    identifiers : pyarrow.Table
        Canonical ``identifiers`` (``owner_kind, owner_id, kind, value, raw,
        source_ref``). ``value`` is the adapter's normalised value; where it cannot be
        read, ``raw`` is tried.
    regions : pyarrow.Array of str, optional
        One ISO 3166-1 alpha-2 per row: the default region for national phone numbers
        (e.g. the owner's country). None: no default region.

    Returns
    -------
    pyarrow.Table
        The input columns plus ``key`` (string: the matching key, null when the value
        cannot be read) and ``placeholder`` (bool: the key looks like a filler, see
        :func:`is_placeholder`). ``value`` and ``raw`` are unchanged.

    Examples
    --------
    >>> t = pa.table({"owner_kind": ["party"] * 2, "owner_id": ["P1", "P2"], "kind": ["phone", "email"],
    ...               "value": ["050 000 0101", "A@B.example"], "raw": [None, None], "source_ref": ["f#1", "f#2"]})
    >>> normalize_identifiers(t, regions=pa.array(["AE", None]))["key"].to_pylist()
    ['+971500000101', 'a@b.example']
    """
    n = identifiers.num_rows
    kinds = identifiers["kind"].to_pylist()
    values = identifiers["value"].to_pylist()
    raws = identifiers["raw"].to_pylist() if "raw" in identifiers.column_names else [None] * n
    regs = regions.to_pylist() if regions is not None else [None] * n
    cache: dict[tuple, str | None] = {}
    keys: list[str | None] = []
    for kind, value, raw, reg in zip(kinds, values, raws, regs):
        reg = reg if kind == "phone" else None
        ck = (kind, value, raw, reg)
        if ck not in cache:
            key = normalize_identifier(kind, value, reg)
            if key is None and raw is not None:
                key = normalize_identifier(kind, raw, reg)
            cache[ck] = key
        keys.append(cache[ck])
    key_arr = pa.array(keys, pa.string())
    placeholder_cache: dict[str | None, bool] = {}
    ph = []
    for kind, key in zip(kinds, keys):
        if key is None or kind in ("address", "email"):
            ph.append(key is None)
            continue
        if key not in placeholder_cache:
            placeholder_cache[key] = is_placeholder(key)
        ph.append(placeholder_cache[key])
    out = identifiers
    for name in ("key", "placeholder"):
        if name in out.column_names:
            out = out.drop_columns([name])
    return out.append_column("key", key_arr).append_column("placeholder", pa.array(ph, pa.bool_()))


def bundle_identifier_keys(bundle) -> pa.Table:
    """:func:`normalize_identifiers` over a bundle's ``identifiers``, with owner regions.

    The default region for national phone numbers is the owning party's ``country``
    (else its ``nationality``) or the owning account's ``country``.

    Parameters
    ----------
    bundle : followmoney.Bundle
        Uses ``identifiers``, ``parties`` (``party_id, country, nationality``) and
        ``accounts`` (``account_id, country``).

    Returns
    -------
    pyarrow.Table
        ``identifiers`` plus ``key`` and ``placeholder``.

    Examples
    --------
    >>> import followmoney as fm
    >>> t = bundle_identifier_keys(fm.read(fm.sample_data_path() / "goaml"))
    >>> t.filter(pa.compute.equal(t["kind"], "phone"))["key"][0].as_py()
    '+971500000101'
    """
    p, a = bundle.parties, bundle.accounts
    party_region = {
        pid: c or n
        for pid, c, n in zip(p["party_id"].to_pylist(), p["country"].to_pylist(), p["nationality"].to_pylist())
    }
    account_region = dict(zip(a["account_id"].to_pylist(), a["country"].to_pylist()))
    ids = bundle.identifiers
    regions = [
        party_region.get(o) if k == "party" else account_region.get(o)
        for k, o in zip(ids["owner_kind"].to_pylist(), ids["owner_id"].to_pylist())
    ]
    return normalize_identifiers(ids, pa.array(regions, pa.string()))
