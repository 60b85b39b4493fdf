"""Bank and card CSV exports, read through a declarative mapping *profile*.

Bank exports have no standard: the separator, encoding, decimal comma, date order, sign
convention and the meaning of each column differ by bank. A profile (a TOML file)
states all of that once; the reader then parses every file of that bank the same way,
exactly and independently of the machine's locale:

* amounts become ``decimal.Decimal`` (``decimal128(18, 3)``) using the profile's decimal
  and thousands separators, never floats;
* dates are parsed with the profile's explicit format (``%d.%m.%Y``: ``12.02.2024`` is
  12 February), local times are converted from the profile's IANA time zone to UTC and
  the offset is kept in ``tz_offset_minutes``;
* every value stays a string until mapped, so account numbers keep their leading zeros;
* columns are taken by name, by n-th occurrence of a repeated name (``Währung`` twice)
  or by position; a BOM and quoted header cells are handled.

Bundled profiles (folder ``bank_profiles/``): ``de_online_banking`` (German online-banking
export, Windows-1252, ``;``, decimal comma, two ``Währung`` columns), ``ch_viseca_card``
(Viseca card statement: booked CHF amount plus original amount/currency and rate,
merchant country ISO alpha-3) and ``de_generic`` (any ``;``-separated German export with
``Buchungstag`` and ``Betrag`` columns). :func:`sniff` claims a file only when a
profile's ``[match]`` headers are all in one of its first lines, so unknown CSVs are
left to other adapters (or refused).

Profile format
--------------
.. code-block:: toml

    name = "my_bank"                       # the profile's name (default: file stem)
    description = "..."
    encoding = ["utf-8-sig", "cp1252"]     # tried in order; a string is fine too
    delimiter = ";"
    quotechar = '"'                        # "" = no quoting
    header_row = 0                         # 1-based line of the header; 0 = find it
    decimal = ","                          # decimal separator
    thousands = "."                        # thousands separator ("" = none)
    date_format = "%d.%m.%Y"               # booking / value dates (strptime)
    datetime_format = "%Y-%m-%d %H:%M:%S"  # the `timestamp` column, if mapped
    time_format = "%H:%M"                  # the `time` column, if mapped
    timezone = "Europe/Berlin"             # IANA; omitted = the times are UTC
    sign = "negative_is_debit"             # | "positive_is_debit" | "indicator" | "debit_credit_columns"
    debit_values = ["S", "D", "DBIT"]      # for sign = "indicator"
    credit_values = ["H", "C", "CRDT"]
    account = "DE00..."                    # the statement's account, if no column holds it
    institution = "MYBANK"                 # namespace of account ids without IBAN
    currency = "EUR"                       # when there is no currency column (or it is empty)
    channel = "transfer"                   # default channel

    [match]                                # sniffing: all these header names present
    headers = ["Buchungstag", "Betrag"]

    [columns]                              # canonical target = column spec
    booking_date = "Buchungstag"           # by name (first occurrence)
    amount = 11                            # by 1-based position
    currency = { name = "Währung", occurrence = 2 }
    counterparty_name = { any = ["Empfänger", "Empfaenger"] }   # first present; optional
    description = ["Buchungstext", "Verwendungszweck"]          # joined with " / "

    [channels]                             # value prefix of the `channel` column -> channel
    "EINZAHLUNG" = "cash_deposit"

Column targets: ``txn_ref``, ``timestamp``, ``booking_date``, ``value_date``, ``time``,
``amount`` or ``debit`` + ``credit``, ``direction`` (debit/credit mark), ``currency``,
``account``, ``iban``, ``institution`` (the statement's account), ``counterparty_name``,
``counterparty_account``, ``counterparty_bic``, ``description``, ``original_amount``,
``original_currency``, ``fx_rate``, ``merchant_name`` (same as counterparty_name),
``merchant_category``, ``merchant_city``, ``merchant_country``, ``entry_type``,
``channel``. A plain name or position that is not in the file's header is an error;
``{ any = [...] }`` specs are optional.

Errors and rejects name the file, row, line and column; the value is quoted only in the
reason of a rejected row (which is data), never logged.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._profiles import load_toml_profile
from followmoney.ingest._collect import Collector, ContentIds, InputError, file_digest
from followmoney.ingest._csv import requantize
from followmoney.core.ids import stable_id
from followmoney.ingest.camt import _BIC_RE, _IBAN_RE

__all__ = [
    "FORMAT",
    "PROFILES_DIR",
    "Profile",
    "load_profile",
    "profiles",
    "register_profile",
    "match_profile",
    "sniff",
    "is_companion",
    "parse",
    "read",
]

FORMAT = "bank_csv"

#: Folder of the bundled mapping profiles (``<name>.toml``).
PROFILES_DIR = Path(__file__).resolve().parent / "bank_profiles"

_SIGNS = ("negative_is_debit", "positive_is_debit", "indicator", "debit_credit_columns")
_TARGETS = frozenset(
    {
        "txn_ref", "timestamp", "booking_date", "value_date", "time", "amount", "debit", "credit",
        "direction", "currency", "account", "iban", "institution", "counterparty_name",
        "counterparty_account", "counterparty_bic", "description", "original_amount",
        "original_currency", "fx_rate", "merchant_name", "merchant_category", "merchant_city",
        "merchant_country", "entry_type", "channel",
    }
)  # fmt: skip
_MONEY_TARGETS = ("amount", "debit", "credit", "original_amount")
_DATE_TARGETS = ("booking_date", "value_date")
_HEADER_SCAN = 50
_RAW_MAX = 20000
_SPACES = " \t\u00a0\u202f"


# --------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class _Col:
    """A column reference: by name (n-th occurrence), by 1-based position, or any of names."""

    kind: str  # "name" | "position" | "any"
    names: tuple[str, ...] = ()
    occurrence: int = 1
    position: int = 0

    @property
    def optional(self) -> bool:
        return self.kind == "any"


@dataclass(frozen=True)
class Profile:
    """A bank CSV mapping profile (see the module docstring for the TOML keys).

    Attributes
    ----------
    name : str
    description : str
    source : str
        Where the profile was loaded from (file path).
    match_headers : tuple of str
        Header names that must all be present for :func:`sniff` to claim a file.
    encodings : tuple of str
        Encodings tried in order on the whole file.
    delimiter, quotechar : str
    header_row : int
        1-based line of the header; 0 = the first line holding all ``match_headers``.
    decimal, thousands : str
        Separators of amounts (``thousands`` may be empty).
    date_format, datetime_format, time_format : str or None
        ``strptime`` formats of date, datetime and time columns.
    timezone : str or None
        IANA zone of the times in the file; None = UTC.
    sign : str
        One of ``negative_is_debit``, ``positive_is_debit``, ``indicator``,
        ``debit_credit_columns``.
    debit_values, credit_values : tuple of str
        Marks of the ``direction`` column (case-insensitive).
    account, institution, currency : str or None
        Fixed statement account, account-id namespace and currency.
    channel : str
        Default ``transactions.channel``.
    channels : dict of str to str
        Prefix of the ``channel`` column's value -> channel.
    columns : dict
        Canonical target -> column spec (``description``: a tuple of specs).
    """

    name: str
    description: str = ""
    source: str = ""
    match_headers: tuple[str, ...] = ()
    encodings: tuple[str, ...] = ("utf-8-sig",)
    delimiter: str = ","
    quotechar: str = '"'
    header_row: int = 0
    decimal: str = "."
    thousands: str = ""
    date_format: str = "%Y-%m-%d"
    datetime_format: str | None = None
    time_format: str | None = None
    timezone: str | None = None
    sign: str = "negative_is_debit"
    debit_values: tuple[str, ...] = ("D", "DR", "DBIT", "S", "DEBIT")
    credit_values: tuple[str, ...] = ("C", "CR", "CRDT", "H", "CREDIT")
    account: str | None = None
    institution: str | None = None
    currency: str | None = None
    channel: str = "other"
    channels: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)


_REGISTERED: list[Path] = []


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _spec(value, where: str) -> _Col:
    if isinstance(value, bool):
        raise ValueError(f"{where}: a column name, a 1-based position or a table")
    if isinstance(value, str) and value:
        return _Col("name", (_nfc(value),))
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{where}: positions are 1-based")
        return _Col("position", position=value)
    if isinstance(value, dict):
        if set(value) == {"any"} and isinstance(value["any"], list) and value["any"] and all(isinstance(v, str) for v in value["any"]):
            return _Col("any", tuple(_nfc(v) for v in value["any"]))
        if "name" in value and set(value) <= {"name", "occurrence"} and isinstance(value["name"], str):
            occ = value.get("occurrence", 1)
            if not isinstance(occ, int) or isinstance(occ, bool) or occ < 1:
                raise ValueError(f"{where}: occurrence must be an integer >= 1")
            return _Col("name", (_nfc(value["name"]),), occurrence=occ)
        if set(value) == {"position"}:
            return _spec(value["position"], where)
    raise ValueError(f"{where}: expected a name, a 1-based position, {{name, occurrence}} or {{any = [...]}}")


def _build_profile(data: dict, source: str, default_name: str) -> Profile:
    where = f"bank CSV profile {source}"

    def get(key, types, default=None):
        v = data.get(key, default)
        if v is not None and not isinstance(v, types):
            raise ValueError(f"{where}: {key} has the wrong type")
        return v

    known = {
        "name", "description", "encoding", "delimiter", "quotechar", "header_row", "decimal",
        "thousands", "date_format", "datetime_format", "time_format", "timezone", "sign",
        "debit_values", "credit_values", "account", "institution", "currency", "channel",
        "match", "columns", "channels",
    }  # fmt: skip
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
    enc = get("encoding", (str, list), "utf-8-sig")
    encodings = tuple([enc] if isinstance(enc, str) else enc)
    for e in encodings:
        try:
            "".encode(e)
        except (LookupError, TypeError):
            raise ValueError(f"{where}: unknown encoding {e!r}") from None
    delimiter = get("delimiter", str, ",")
    quotechar = get("quotechar", str, '"')
    if len(delimiter) != 1 or len(quotechar) > 1:
        raise ValueError(f"{where}: delimiter must be one character, quotechar one or none")
    decimal, thousands = get("decimal", str, "."), get("thousands", str, "")
    if len(decimal) != 1 or len(thousands) > 1 or decimal == thousands:
        raise ValueError(f"{where}: decimal must be one character and differ from thousands")
    sign = get("sign", str, "negative_is_debit")
    if sign not in _SIGNS:
        raise ValueError(f"{where}: sign = {sign!r} is not one of {list(_SIGNS)}")
    tz = get("timezone", str)
    if tz:
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(tz)
        except Exception:
            raise ValueError(f"{where}: unknown time zone {tz!r}") from None
    channel = get("channel", str, "other")
    channels = get("channels", dict, {})
    for k, v in [("channel", channel)] + [(f"channels.{k}", v) for k, v in channels.items()]:
        if v not in schema.CHANNELS:
            raise ValueError(f"{where}: {k} = {v!r} is not one of {list(schema.CHANNELS)}")
    match = get("match", dict, {})
    headers = match.get("headers", [])
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        raise ValueError(f"{where}: match.headers must be a list of strings")
    cols_raw = get("columns", dict, {})
    columns: dict = {}
    for target, value in cols_raw.items():
        if target not in _TARGETS:
            raise ValueError(f"{where}: columns.{target} is not a known target; known: {sorted(_TARGETS)}")
        if target == "description" and isinstance(value, list):
            columns[target] = tuple(_spec(v, f"{where}: columns.description") for v in value)
        elif target == "description":
            columns[target] = (_spec(value, f"{where}: columns.description"),)
        else:
            columns[target] = _spec(value, f"{where}: columns.{target}")
    if "merchant_name" in columns:
        if "counterparty_name" in columns:
            raise ValueError(f"{where}: map either counterparty_name or merchant_name, not both")
        columns["counterparty_name"] = columns.pop("merchant_name")
    if sign == "debit_credit_columns":
        if not ("debit" in columns and "credit" in columns):
            raise ValueError(f"{where}: sign = 'debit_credit_columns' needs columns.debit and columns.credit")
    elif "amount" not in columns:
        raise ValueError(f"{where}: columns.amount is required (or sign = 'debit_credit_columns')")
    if sign == "indicator" and "direction" not in columns:
        raise ValueError(f"{where}: sign = 'indicator' needs columns.direction")
    if not any(t in columns for t in ("timestamp", "booking_date", "value_date")):
        raise ValueError(f"{where}: one of columns.timestamp, booking_date, value_date is required")
    header_row = get("header_row", int, 0)
    if header_row < 0:
        raise ValueError(f"{where}: header_row must be >= 0")
    strs = lambda key, default: tuple(str(v).strip().upper() for v in get(key, list, list(default)))  # noqa: E731
    return Profile(
        name=str(get("name", str, default_name)),
        description=str(get("description", str, "")),
        source=source,
        match_headers=tuple(_nfc(h) for h in headers),
        encodings=encodings,
        delimiter=delimiter,
        quotechar=quotechar,
        header_row=header_row,
        decimal=decimal,
        thousands=thousands,
        date_format=get("date_format", str, "%Y-%m-%d"),
        datetime_format=get("datetime_format", str),
        time_format=get("time_format", str),
        timezone=tz,
        sign=sign,
        debit_values=strs("debit_values", Profile.debit_values),
        credit_values=strs("credit_values", Profile.credit_values),
        account=get("account", str),
        institution=get("institution", str),
        currency=(get("currency", str) or "").upper() or None,
        channel=channel,
        channels={_nfc(k).strip().upper(): v for k, v in channels.items()},
        columns=columns,
    )


def load_profile(profile: str | Path) -> Profile:
    """Load a mapping profile by bundled name or from a TOML file.

    Parameters
    ----------
    profile : str or Path
        A bundled profile name (``"de_online_banking"``, ``"ch_viseca_card"``,
        ``"de_generic"``) or the path of a TOML file.

    Returns
    -------
    Profile

    Raises
    ------
    ValueError
        Unknown name, unreadable or invalid file; the message names the file and key.

    Examples
    --------
    >>> p = load_profile("de_online_banking")
    >>> p.delimiter, p.decimal, p.date_format, p.columns["currency"].occurrence
    (';', ',', '%d.%m.%Y', 2)
    """
    if isinstance(profile, Profile):
        return profile
    return load_toml_profile(profile, PROFILES_DIR, "bank CSV profile", lambda data, path: _build_profile(data, str(path), path.stem))


def register_profile(path: str | Path) -> Profile:
    """Add a user's profile to the ones :func:`sniff` and ``read(profile=None)`` try.

    Registered profiles are tried before the bundled ones.

    Parameters
    ----------
    path : str or Path
        A TOML profile file.

    Returns
    -------
    Profile

    Raises
    ------
    ValueError
        The file is not a valid profile.
    """
    prof = load_profile(Path(path))
    p = Path(path).resolve()
    if p not in _REGISTERED:
        _REGISTERED.append(p)
    return prof


def profiles() -> list[Profile]:
    """Profiles tried when none is given: registered ones, then the bundled ones.

    Among the bundled profiles, those with more ``match`` headers (more specific) come
    first.

    Examples
    --------
    >>> [p.name for p in profiles()][-1]
    'de_generic'
    """
    bundled = [load_profile(p) for p in sorted(PROFILES_DIR.glob("*.toml"))]
    bundled.sort(key=lambda p: (-len(p.match_headers), p.name))
    return [load_profile(p) for p in _REGISTERED] + bundled


# --------------------------------------------------------------------------- decoding
def _decode(data: bytes, encodings: tuple[str, ...], name: str, partial: bool = False) -> tuple[str, str]:
    """Decode with the first encoding that works; return (text, encoding)."""
    if partial:  # a head read may cut a multi-byte character: decode whole lines only
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else data
    last = None
    for enc in encodings:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
            continue
        return text.lstrip("\ufeff"), enc
    where = f" at byte {last.start}" if last is not None else ""
    raise InputError(f"{name}: cannot decode as {', '.join(encodings)}{where}")


def _reader(text: str, prof: Profile):
    if prof.quotechar:
        return csv.reader(io.StringIO(text, newline=""), delimiter=prof.delimiter, quotechar=prof.quotechar, strict=False)
    return csv.reader(io.StringIO(text, newline=""), delimiter=prof.delimiter, quoting=csv.QUOTE_NONE)


def _clean_header(cells: list[str]) -> list[str]:
    return [_nfc(c.replace("\ufeff", "").strip(_SPACES + "\r\n")) for c in cells]


def _find_header(records, prof: Profile) -> tuple[int, list[str]] | None:
    """Scan records for the header; return (line number, cleaned header) or None."""
    want = set(prof.match_headers)
    prev = 0
    for i, rec in enumerate(records):
        line = prev + 1
        prev = records.line_num
        if prof.header_row:
            if line >= prof.header_row:
                return line, _clean_header(rec)
            continue
        cells = _clean_header(rec)
        if want and want <= set(cells):
            return line, cells
        if not want and any(cells):
            return line, cells
        if i >= _HEADER_SCAN:
            break
    return None


def match_profile(path, head: bytes) -> Profile | None:
    """The first profile (of :func:`profiles`) whose ``match`` headers are in ``head``.

    Parameters
    ----------
    path : path-like
        The file (its name is not used).
    head : bytes
        The first bytes of the file.

    Returns
    -------
    Profile or None

    Examples
    --------
    >>> match_profile("x.csv", b'Buchungstag;Empfaenger;Betrag\\n01.02.2024;A;1,20\\n').name
    'de_generic'
    >>> match_profile("x.csv", b"a,b,c\\n1,2,3\\n") is None
    True
    """
    for prof in profiles():
        if fits(prof, head):
            return prof
    return None


def fits(profile: Profile, head: bytes) -> bool:
    """True when ``profile``'s ``match`` headers are all in one of the first lines of ``head``.

    A profile without ``match`` headers fits nothing (it is used only when named).
    """
    if not profile.match_headers:
        return False
    try:
        text, _ = _decode(head, profile.encodings, "head", partial=True)
        return _find_header(_reader(text, profile), profile) is not None
    except (InputError, csv.Error):
        return False


def sniff(path, head: bytes) -> bool:
    """True when a known profile's ``match`` headers are all in one of the first lines.

    Parameters
    ----------
    path : path-like
    head : bytes
        The first bytes of the file (64 KiB).

    Returns
    -------
    bool

    Examples
    --------
    >>> sniff("v.csv", b"TransactionId,CardId,Date,ValutaDate,Amount,Currency,OriginalAmount,"
    ...       b"OriginalCurrency,MerchantName,MerchantPlace,MerchantCountry,StateType,Details,Type,Exchange Rate\\n")
    True
    >>> sniff("t.csv", b"Timestamp,From Bank,Account\\n")
    False
    """
    if b"\x00" in head[:4096]:
        return False
    return match_profile(path, head) is not None


def is_companion(path) -> bool:
    """Bank CSV files have no companion files: always False."""
    return False


# --------------------------------------------------------------------------- parsing
_NULL_STR = pa.scalar(None, pa.string())


def _strip(col: pa.Array) -> pa.Array:
    return pc.utf8_trim(col, characters=_SPACES)


def _parse_money(col: pa.Array, prof: Profile, places: int = 3, type_=schema.MONEY):
    """Strings -> (values, ok, rounded, empty). Locale-independent.

    Every common way of writing a negative is read: a leading ``-``, the Unicode minus
    sign U+2212 (spreadsheets), a trailing ``-`` (German banks: ``1.234,56-``) and
    accounting parentheses ``(50,00)``. Money is kept to three decimals here and rounded
    to each row's currency's minor units once the currency is known (:func:`_requantize`).
    """
    s = _strip(col)
    empty = pc.equal(s, "")
    s = pc.replace_substring(s, "\u2212", "-")
    s = pc.replace_substring_regex(s, pattern=r"^\(\s*([^()]*\d)\s*\)$", replacement=r"-\1")
    s = pc.replace_substring_regex(s, pattern=r"^(.*\d)\s*-$", replacement=r"-\1")
    d, t = re.escape(prof.decimal), re.escape(prof.thousands)
    integer = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)" if prof.thousands else r"\d+"
    ok = pc.match_substring_regex(s, rf"^[+-]?{integer}(?:{d}\d+)?$")
    norm = pc.replace_substring(s, prof.thousands, "") if prof.thousands else s
    norm = pc.replace_substring(norm, prof.decimal, ".") if prof.decimal != "." else norm
    ok = pc.and_(ok, pc.match_substring_regex(norm, r"^[+-]?\d{1,16}(\.\d{1,12})?$"))
    safe = pc.if_else(ok, norm, _NULL_STR)
    wide = safe.cast(pa.decimal128(38, 12))
    rounded_v = pc.round(wide, ndigits=places, round_mode="half_to_even")
    # what does not fit the column (e.g. 16 integer digits in decimal(18, 3)) is not a readable amount
    limit = pa.scalar(Decimal(10) ** (type_.precision - type_.scale), rounded_v.type)
    ok = pc.and_(ok, pc.fill_null(pc.less(pc.abs(rounded_v), limit), False))
    rounded_v = pc.if_else(ok, rounded_v, pa.scalar(None, rounded_v.type))
    rounded = pc.fill_null(pc.not_equal(rounded_v, wide), False)
    return rounded_v.cast(type_), ok, rounded, empty


@lru_cache(maxsize=65536)
def _py_strptime(text: str, fmt: str):
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def _parse_times(col: pa.Array, fmt: str) -> tuple[pa.Array, pa.Array, pa.Array | None]:
    """Strings -> (naive or UTC timestamp[us], ok mask, offsets in minutes or None).

    Fast path: Arrow's strptime, verified by formatting back (Arrow accepts 31.02.);
    values that do not round-trip (e.g. unpadded ``1.2.2024``) go through Python's
    strict ``datetime.strptime``. Formats with ``%z`` give UTC plus the stated offset.
    """
    s = _strip(col)
    n = len(s)
    if "%z" in fmt or "%f" in fmt or "%Z" in fmt:
        vals, offs = [], []
        for t in s.to_pylist():
            dt = _py_strptime(t, fmt) if t else None
            if dt is not None and dt.tzinfo is not None:
                off = int(dt.utcoffset().total_seconds() // 60)
                try:
                    dt = (dt - dt.utcoffset()).replace(tzinfo=None)
                except OverflowError:  # e.g. 0001-01-01 at +01:00 falls before year 1 in UTC: a bad date
                    dt, off = None, None
                offs.append(off)
            else:
                offs.append(None)
            vals.append(dt)
        arr = pa.array(vals, pa.timestamp("us"))
        return arr, pc.is_valid(arr), (pa.array(offs, pa.int16()) if "%z" in fmt else None)
    fast = pc.strptime(s, format=fmt, unit="s", error_is_null=True)
    back = pc.strftime(fast, format=fmt)
    good = pc.fill_null(pc.equal(back, s), False)
    if pc.all(good).as_py() is not False and n:
        return fast.cast(pa.timestamp("us")), good, None
    redo = pc.and_(pc.invert(good), pc.not_equal(s, "")).to_pylist()
    texts = s.to_pylist()
    fast_l = fast.cast(pa.timestamp("us")).to_pylist()
    vals = [(_py_strptime(t, fmt) if r else (f if g else None)) for t, r, f, g in zip(texts, redo, fast_l, good.to_pylist())]
    arr = pa.array(vals, pa.timestamp("us"))
    return arr, pc.is_valid(arr), None


def _to_utc(naive: pa.Array, tz: str | None) -> tuple[pa.Array, pa.Array]:
    """Local naive timestamps in ``tz`` -> (UTC timestamps, offsets in minutes)."""
    if not tz:
        return naive.cast(schema.TIMESTAMP), pa.nulls(len(naive), pa.int16())
    aware = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="earliest")
    local_us = naive.cast(pa.int64())
    utc_us = aware.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    offset = pc.divide(pc.subtract(local_us, utc_us), 60_000_000).cast(pa.int16())
    return aware.cast(schema.TIMESTAMP), offset


@lru_cache(maxsize=4096)
def _alpha2(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    try:
        if len(v) == 2:
            c = pycountry.countries.get(alpha_2=v.upper())
        elif len(v) == 3:
            c = pycountry.countries.get(alpha_3=v.upper())
        else:
            c = pycountry.countries.lookup(v)
    except LookupError:
        c = None
    return c.alpha_2 if c is not None else None


@lru_cache(maxsize=1)
def _iso_currencies() -> pa.Array:
    return pa.array(sorted(c.alpha_3 for c in pycountry.currencies), pa.string())


@dataclass
class _Parsed:
    """A parsed file: header, rows, string columns, per-row problems and typed columns."""

    file: str
    profile: Profile
    header: list[str]
    lines: list[int] = field(default_factory=list)
    raw: list[list[str]] = field(default_factory=list)  # per row, the fields (padded to the header)
    cols: list = field(default_factory=list)  # per header column, a string array
    index: dict = field(default_factory=dict)  # target -> column index (description: a tuple)
    problems: dict = field(default_factory=dict)  # row -> [problem, ...]
    flag_masks: list = field(default_factory=list)  # [(boolean mask, flag), ...]
    typed: dict = field(default_factory=dict)  # column index -> typed array
    values: dict = field(default_factory=dict)  # target -> array

    @property
    def n(self) -> int:
        return len(self.raw)

    def label(self, i: int) -> str:
        name = self.header[i] or f"#{i + 1}"
        if self.header.count(self.header[i]) > 1:
            return f"{name}#{self.header[: i + 1].count(self.header[i])}"
        return name

    def problem(self, r: int, text: str) -> None:
        self.problems.setdefault(r, []).append(text)

    def flag(self, mask, name: str) -> None:
        self.flag_masks.append((pc.fill_null(mask, False), name))


def _resolve(spec: _Col, header: list[str], target: str, file: str, prof: Profile) -> int | None:
    if spec.kind == "position":
        if spec.position > len(header):
            raise InputError(f"{file}: profile {prof.name}: columns.{target} = position {spec.position}, but the header has {len(header)} columns")
        return spec.position - 1
    if spec.kind == "any":
        for name in spec.names:
            if name in header:
                return header.index(name)
        return None
    name = spec.names[0]
    hits = [i for i, h in enumerate(header) if h == name]
    if len(hits) < spec.occurrence:
        which = f"occurrence {spec.occurrence} of " if spec.occurrence > 1 else ""
        raise InputError(f"{file}: profile {prof.name}: columns.{target}: no {which}column {name!r} in the header")
    return hits[spec.occurrence - 1]


def _load(path: Path, prof: Profile) -> _Parsed:
    """Read and split the file; resolve the column mapping. No value parsing yet."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    text, _ = _decode(data, prof.encodings, path.name)
    records = _reader(text, prof)
    try:
        found = _find_header(records, prof)
        if found is None:
            want = ", ".join(prof.match_headers) or "a header"
            raise InputError(f"{path}: profile {prof.name}: no header line with {want} in the first {_HEADER_SCAN} lines")
        _, header = found
        p = _Parsed(path.name, prof, header)
        for target, spec in prof.columns.items():
            if target == "description":
                idx = tuple(i for i in (_resolve(s, header, target, path.name, prof) for s in spec) if i is not None)
                if idx:
                    p.index[target] = idx
            else:
                i = _resolve(spec, header, target, path.name, prof)
                if i is not None:
                    p.index[target] = i
        # a short row is kept (flag short_row) unless it lacks a column the row needs
        date_target = "timestamp" if "timestamp" in p.index else "booking_date" if "booking_date" in p.index else "value_date"
        needed = max((p.index[t] for t in ("amount", "debit", "credit", "direction", date_target) if t in p.index), default=-1)
        n = len(header)
        short = []
        lines, raw = p.lines, p.raw
        prev = records.line_num
        for rec in records:
            line = prev + 1
            prev = records.line_num
            if len(rec) == n:
                lines.append(line)
                raw.append(rec)
                continue
            if not rec or not "".join(rec).strip(_SPACES):
                continue  # blank line
            r = len(raw)
            if len(rec) < n:
                if len(rec) <= needed:
                    p.problem(r, f"has {len(rec)} fields, the header has {n}")
                else:
                    short.append(r)
                rec = rec + [""] * (n - len(rec))
            else:
                if "".join(rec[n:]).strip(_SPACES):
                    p.problem(r, f"has {len(rec)} fields, the header has {n}")
                rec = rec[:n]
            lines.append(line)
            raw.append(rec)
    except csv.Error as exc:
        raise InputError(f"{path}: line {records.line_num}: malformed CSV: {exc}") from None
    if raw:
        p.cols = [pa.array(col, pa.string()) for col in zip(*raw)]
    else:
        p.cols = [pa.array([], pa.string()) for _ in header]
    if short:
        mask = [False] * len(raw)
        for r in short:
            mask[r] = True
        p.flag(pa.array(mask, pa.bool_()), "short_row")
    return p


def _snippet(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _rows(mask) -> list[int]:
    return pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()


def _fail(p: _Parsed, mask, col: int, what: str, with_value: bool = True) -> None:
    """Add a problem "column X: <what> 'value'" to every row under ``mask``."""
    label = p.label(col)
    for r in _rows(mask):
        value = p.raw[r][col].strip(_SPACES)
        p.problem(r, f"column {label}: {what}" + (f" {_snippet(value)!r}" if with_value else ""))


def _null_if_empty(arr):
    return pc.if_else(pc.equal(arr, ""), _NULL_STR, arr)


def _squashed(arr):
    """Trimmed, inner whitespace squashed, empty -> null."""
    return _null_if_empty(pc.replace_substring_regex(_strip(arr), pattern=r"\s+", replacement=" "))


def _strings(p: _Parsed, target: str):
    i = p.index.get(target)
    return pa.nulls(p.n, pa.string()) if i is None else _squashed(p.cols[i])


def _map_unique(arr, fn, type_=pa.string()):
    """Apply a Python function once per distinct value (nulls stay null)."""
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], type_)
    return mapped.take(enc.indices)


def _iban_arr(arr):
    norm = pc.utf8_upper(pc.replace_substring_regex(arr, pattern=r"[\s-]", replacement=""))
    return pc.if_else(pc.match_substring_regex(norm, rf"^{_IBAN_RE.pattern}$"), norm, _NULL_STR)


def _join(sep: str, *arrs):
    """Element-wise join; any null part makes the result null."""
    return pc.binary_join_element_wise(*arrs, sep)


def _parse_values(p: _Parsed) -> None:
    """Parse and check every mapped column; fill ``p.values`` / ``p.typed`` / problems."""
    prof, idx, n = p.profile, p.index, p.n
    ix = idx.get
    nonempty = lambda col: pc.not_equal(_strip(col), "")  # noqa: E731

    # money
    money = {}
    for target in _MONEY_TARGETS:
        if ix(target) is None:
            continue
        col = p.cols[ix(target)]
        vals, ok, rounded, empty = _parse_money(col, prof)
        money[target] = (vals, ok, empty)
        p.typed[ix(target)] = vals
        if target == "amount":
            _fail(p, empty, ix(target), "missing amount", with_value=False)
        if target in ("amount", "debit", "credit"):
            _fail(p, pc.and_(pc.invert(ok), pc.invert(empty)), ix(target), "unparseable amount")
            p.flag(pc.and_(rounded, ok), "amount_rounded")
        else:
            p.flag(pc.and_(pc.invert(ok), pc.invert(empty)), f"invalid_{target}")
    if ix("fx_rate") is not None:
        vals, ok, _, empty = _parse_money(p.cols[ix("fx_rate")], prof, places=10, type_=pa.decimal128(24, 10))
        p.values["fx_rate"] = vals
        p.typed[ix("fx_rate")] = vals
        p.flag(pc.and_(pc.invert(ok), pc.invert(empty)), "invalid_fx_rate")

    # signed amount
    if prof.sign == "debit_credit_columns":
        dv, dok, dempty = money["debit"]
        cv, cok, cempty = money["credit"]
        both_empty = pc.and_(dempty, cempty)
        for r in _rows(both_empty):
            p.problem(r, f"columns {p.label(ix('debit'))}/{p.label(ix('credit'))}: both empty")
        signed = pc.subtract(pc.fill_null(pc.abs(cv), 0), pc.fill_null(pc.abs(dv), 0)).cast(schema.MONEY)
        readable = pc.and_(pc.or_(dok, dempty), pc.or_(cok, cempty))
        signed = pc.if_else(pc.or_(both_empty, pc.invert(readable)), pa.scalar(None, schema.MONEY), signed)
    else:
        av = money["amount"][0]
        if prof.sign == "negative_is_debit":
            signed = av
        elif prof.sign == "positive_is_debit":
            signed = pc.negate(av)
        else:
            marks = pc.utf8_upper(_strip(p.cols[ix("direction")]))
            is_debit = pc.is_in(marks, value_set=pa.array(list(prof.debit_values), pa.string()))
            is_credit = pc.is_in(marks, value_set=pa.array(list(prof.credit_values), pa.string()))
            _fail(p, pc.invert(pc.or_(is_debit, is_credit)), ix("direction"), "unknown debit/credit mark")
            mag = pc.abs(av)
            signed = pc.if_else(is_debit, pc.negate(mag), mag)
    signed = signed.cast(schema.MONEY)
    p.values["signed_amount"] = signed
    p.values["amount"] = pc.abs(signed).cast(schema.MONEY)
    p.flag(pc.equal(signed, pa.scalar(Decimal(0), schema.MONEY)), "zero_amount")
    if ix("original_amount") is not None:
        p.values["instructed_amount"] = pc.abs(money["original_amount"][0]).cast(schema.MONEY)

    # dates and times
    dates = {}
    for target in _DATE_TARGETS:
        if ix(target) is None:
            continue
        col = p.cols[ix(target)]
        ts, ok, _ = _parse_times(col, prof.date_format)
        d = ts.cast(pa.date32())
        dates[target] = (ts, ok, pc.invert(nonempty(col)))
        p.values[target] = d
        p.typed[ix(target)] = d
    ts_offsets = None
    date_only = None  # mask of rows whose timestamp is a date without a time
    if ix("timestamp") is not None:
        col = p.cols[ix("timestamp")]
        fmt = prof.datetime_format or prof.date_format
        naive, ok, ts_offsets = _parse_times(col, fmt)
        empty = pc.invert(nonempty(col))
        _fail(p, empty, ix("timestamp"), "missing date", with_value=False)
        _fail(p, pc.and_(pc.invert(ok), pc.invert(empty)), ix("timestamp"), f"unparseable date (expected {fmt})")
        driver = None
    else:
        driver = "booking_date" if "booking_date" in dates else "value_date"
        naive, ok, empty = dates[driver]
        _fail(p, empty, ix(driver), "missing date", with_value=False)
        _fail(p, pc.and_(pc.invert(ok), pc.invert(empty)), ix(driver), f"unparseable date (expected {prof.date_format})")
        date_only = pa.array([True] * n, pa.bool_())
        if ix("time") is not None and prof.time_format:
            tcol = p.cols[ix("time")]
            tts, tok, _ = _parse_times(tcol, prof.time_format)
            p.flag(pc.and_(pc.invert(tok), nonempty(tcol)), "invalid_time")
            micros = pc.subtract(tts.cast(pa.int64()), tts.cast(pa.date32()).cast(pa.timestamp("us")).cast(pa.int64()))
            naive = pc.add(naive.cast(pa.int64()), pc.fill_null(micros, 0)).cast(pa.timestamp("us"))
            date_only = pc.invert(tok)
    for target, (_, ok_d, empty_d) in dates.items():
        if target != driver:
            p.flag(pc.and_(pc.invert(ok_d), pc.invert(empty_d)), f"invalid_{target}")
    if date_only is not None:
        p.flag(date_only, "date_only")
    if ts_offsets is not None:
        p.values["timestamp"] = naive.cast(schema.TIMESTAMP)
        p.values["tz_offset_minutes"] = ts_offsets
    else:
        utc, off = _to_utc(naive, prof.timezone)
        p.values["timestamp"] = utc
        p.values["tz_offset_minutes"] = off
    if ix("timestamp") is not None:
        p.typed[ix("timestamp")] = p.values["timestamp"]

    # currencies
    def currency(target: str, default: str | None):
        if ix(target) is None:
            return pa.array([default] * n, pa.string())
        cur = _null_if_empty(pc.utf8_upper(_strip(p.cols[ix(target)])))
        return pc.fill_null(cur, default) if default else cur

    cur = currency("currency", prof.currency)
    p.flag(pc.is_null(cur), "currency_unknown")
    p.flag(pc.and_(pc.is_valid(cur), pc.invert(pc.is_in(cur, value_set=_iso_currencies()))), "unknown_currency")
    p.values["currency"] = cur
    if ix("original_currency") is not None:
        p.values["instructed_currency"] = currency("original_currency", None)
    _requantize(p)


def _requantize(p: _Parsed) -> None:
    """Round money to each row's currency's ISO 4217 minor units (KWD keeps 3 decimals, JPY none)."""
    for col, ccy in (("signed_amount", "currency"), ("amount", "currency"), ("instructed_amount", "instructed_currency")):
        if col in p.values and ccy in p.values:
            vals, rounded = requantize(p.values[col], p.values[ccy])
            p.values[col] = vals
            if col == "amount":
                p.flag(rounded, "amount_rounded")
    for target in _MONEY_TARGETS:  # the typed view of the file (parse()) shows the same values
        i = p.index.get(target)
        ccy = p.values.get("instructed_currency" if target == "original_amount" else "currency")
        if i is not None and ccy is not None and i in p.typed and pa.types.is_decimal(p.typed[i].type):
            p.typed[i] = requantize(p.typed[i], ccy)[0]


def _flags_column(n: int, masks: list) -> pa.Array:
    """list<string> per row from [(mask, flag), ...], flags in registration order."""
    rows, ks = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for k, (mask, _) in enumerate(masks):
        r = pc.indices_nonzero(mask).to_numpy().astype(np.int64)
        rows.append(r)
        ks.append(np.full(len(r), k, np.int64))
    row, k = np.concatenate(rows), np.concatenate(ks)
    order = np.lexsort((k, row))
    row, k = row[order], k[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))]).astype(np.int32)
    names = np.array([name for _, name in masks] or [""], dtype=object)
    values = pa.array(names[k].tolist(), pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


# --------------------------------------------------------------------------- public API
def _choose_profile(path: Path, profile) -> Profile:
    if profile is not None:
        return load_profile(profile)
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    prof = match_profile(path, head)
    if prof is None:
        raise InputError(f"{path}: no bank CSV profile matches its header; pass mapping=<profile name or TOML path>")
    return prof


def _row_reason(p: _Parsed, r: int) -> str:
    return f"row {r + 1}, " + "; ".join(p.problems[r])


def _raise_first(p: _Parsed) -> None:
    if p.problems:
        r = min(p.problems)
        raise InputError(f"{p.file}: {_row_reason(p, r)} (line {p.lines[r]})")


def parse(path, *, mapping: str | Path | None = None) -> pa.Table:
    """Read a bank CSV into a typed table with the file's own column names.

    Mapped money columns become ``decimal128(18, 3)`` (``fx_rate``:
    ``decimal128(24, 10)``), mapped date columns ``date32``, the ``timestamp`` column
    ``timestamp[us, UTC]``; every other column stays a string (leading zeros kept).
    Column names are the header's, without BOM or quotes; a repeated name stays
    repeated. This is the exact, strict view of one file; use :func:`read` for bulk
    loads, which sends bad rows to ``rejects`` instead of raising.

    Parameters
    ----------
    path : str or path-like
    mapping : str or path-like, optional
        Bundled mapping profile name or TOML path; default: the first matching profile.

    Returns
    -------
    pyarrow.Table

    Raises
    ------
    InputError
        No profile matches, the file cannot be decoded, or a row has a bad value (the
        message names the file, row, line and column).

    Examples
    --------
    >>> t = parse("tests/data/bank_csv/br11_bom_quoted_header.csv")
    >>> t.column_names
    ['IBAN', 'Buchungstag', 'Betrag']
    >>> t.to_pylist()
    [{'IBAN': 'XX12TEST0000000001', 'Buchungstag': datetime.date(2024, 2, 1), 'Betrag': Decimal('-12.500')}]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    p = _load(path, _choose_profile(path, mapping))
    _parse_values(p)
    _raise_first(p)
    arrays = [p.typed.get(i, p.cols[i]) for i in range(len(p.header))]
    return pa.Table.from_arrays(arrays, names=p.header)


def read(path, *, mapping: str | Path | None = None, strict: bool = False, account: str | None = None) -> Bundle:
    """Read one bank / card CSV export into the canonical tables.

    Parameters
    ----------
    path : str or path-like
    mapping : str or path-like, optional
        Bundled mapping profile name (``"de_online_banking"``, ``"ch_viseca_card"``,
        ``"de_generic"``) or the path of a TOML profile. Default: the first profile
        (registered, then bundled) whose ``match`` headers the file has.
    strict : bool, default False
        Raise :class:`InputError` on the first bad row instead of rejecting it.
    account : str, optional
        The statement's account (number or IBAN) when the file does not hold it;
        overrides the profile's ``account`` and ``account`` column.

    Returns
    -------
    Bundle
        * ``transactions``: one row per data row. ``txn_id`` hashes the file name and
          line; ``source_ref`` is ``file:line``. ``amount`` is the magnitude in
          ``currency`` (``decimal128(18, 3)``); the extra column ``signed_amount``
          keeps the sign as seen from the statement account (negative = debit). The
          statement account is ``from_account`` of debits and ``to_account`` of
          credits; the counterparty's account (an IBAN, or BIC + number) is on the
          other side, ``counterparty_name`` / ``counterparty_account`` /
          ``counterparty_bic`` as written. ``timestamp`` is UTC (from the profile's time
          zone; ``tz_offset_minutes`` the local offset); a date without a time is local
          midnight and flagged ``date_only``. ``booking_date`` / ``value_date`` are the
          local dates. Card exports: ``instructed_amount`` / ``instructed_currency`` /
          ``fx_rate`` from the original amount, ``country_to`` (debits) or
          ``country_from`` (credits) the merchant's country as ISO 3166-1 alpha-2;
          extra columns ``location_city``, ``location_country``, ``entry_type``.
          ``quality_flags`` among short_row, amount_rounded, zero_amount, date_only,
          currency_unknown, unknown_currency, unknown_country, invalid_value_date,
          invalid_original_amount, invalid_fx_rate, invalid_time,
          statement_account_unknown.
        * ``accounts``: the statement account (``"IBAN/<IBAN>"`` or
          ``"<institution>/<number>"``, institution = the ``institution`` column, the
          profile's ``institution`` or the profile name) and counterparty accounts
          with an IBAN or a BIC.
        * ``reports``: one row for the file (``report_code`` STATEMENT; extra column
          ``profile``).
        * ``rejects``: rows with an unparseable or missing amount or date, an
          unknown debit/credit mark, or a wrong number of fields; the reason names
          the row and column, e.g. ``"row 3, column Betrag: unparseable amount '1.234.56'"``
          (row n = the n-th data row after the header; ``source_ref`` has the line).

    Raises
    ------
    InputError
        No profile matches, the file cannot be decoded, a mapped column is not in
        the header, or (``strict=True``) a row is bad.
    ValueError
        ``mapping`` names no bundled profile or its file is invalid.

    Examples
    --------
    >>> b = read("tests/data/bank_csv/joscha_csv2mt940_German_bank_export_Beispiel_latin1.csv")
    >>> [str(x) for x in b.transactions.column("signed_amount").to_pylist()]
    ['-600.300', '-54.520', '-15.960', '150.000', '500.000']
    >>> b.transactions.column("from_account").to_pylist()[0], b.transactions.column("channel").to_pylist()[3]
    ('22222222/111111111', 'cash_deposit')
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    prof = _choose_profile(path, mapping)
    p = _load(path, prof)
    _parse_values(p)
    if strict:
        _raise_first(p)
    c = Collector(FORMAT, path)
    n = p.n
    report_id = stable_id("R", FORMAT, file_digest(path))  # from content, never the file name
    for r in sorted(p.problems):
        c.reject("transactions", p.lines[r], _row_reason(p, r), prof.delimiter.join(p.raw[r])[:_RAW_MAX])
    bad = [False] * n
    for r in p.problems:
        bad[r] = True
    good = pc.invert(pa.array(bad, pa.bool_()))
    refs = _join(":", pa.array([c.file] * n, pa.string()), pc.cast(pa.array(p.lines, pa.int64()), pa.string()))

    # statement account
    fixed = account or prof.account
    if fixed:
        number = pa.array([fixed.strip()] * n, pa.string())
        iban = _iban_arr(number)
    else:
        number = _strings(p, "account")
        iban = pc.coalesce(_iban_arr(_strings(p, "iban")), _iban_arr(number))
    inst_col = _strings(p, "institution")
    inst_given = pc.coalesce(inst_col, pa.scalar(prof.institution, pa.string())) if prof.institution else inst_col
    ns = pc.fill_null(inst_given, prof.name)
    number_ns = pc.replace_substring_regex(number, pattern=r"\s+", replacement="")
    stmt = pc.if_else(pc.is_valid(iban), _join("", pa.array(["IBAN/"] * n, pa.string()), iban), _join("/", ns, number_ns))
    p.flag(pc.is_null(stmt), "statement_account_unknown")
    country_of = lambda v: _alpha2(v[:2]) if v else None  # noqa: E731
    keep = pc.and_(good, pc.is_valid(stmt))
    stmt_accounts = pa.table(
        {
            "account_id": stmt,
            "institution": pc.if_else(pc.is_valid(iban), inst_given, ns),
            "account_number": pc.if_else(pc.is_valid(_iban_arr(number)), _NULL_STR, number),
            "iban": iban,
            "currency": p.values["currency"],
            "country": _map_unique(iban, country_of),
            "source_ref": refs,
        }
    ).filter(keep)

    # counterparty
    cp_name = _strings(p, "counterparty_name")
    cp_acc = _strings(p, "counterparty_account")
    cp_bic = pc.utf8_upper(pc.replace_substring_regex(_strings(p, "counterparty_bic"), pattern=r"\s+", replacement=""))
    cp_iban = _iban_arr(cp_acc)
    bic_ok = pc.fill_null(pc.match_substring_regex(cp_bic, rf"^{_BIC_RE.pattern}$"), False)
    by_bic = pc.if_else(bic_ok, _join("/", cp_bic, pc.replace_substring_regex(cp_acc, pattern=r"\s+", replacement="")), _NULL_STR)
    cp = pc.if_else(pc.is_valid(cp_iban), _join("", pa.array(["IBAN/"] * n, pa.string()), cp_iban), by_bic)
    cp_accounts = pa.table(
        {
            "account_id": cp,
            "institution": pc.if_else(bic_ok, cp_bic, _NULL_STR),
            "account_number": pc.if_else(pc.is_valid(cp_iban), _NULL_STR, cp_acc),
            "iban": cp_iban,
            "name": cp_name,
            "country": _map_unique(cp_iban, country_of),
            "source_ref": refs,
        }
    ).filter(pc.and_(good, pc.is_valid(cp)))

    # direction: the statement account pays debits and receives credits
    debit = pc.fill_null(pc.less(p.values["signed_amount"], pa.scalar(Decimal(0), schema.MONEY)), False)
    from_acc = pc.if_else(debit, stmt, cp)
    to_acc = pc.if_else(debit, cp, stmt)

    # merchant geography
    m_raw = _strings(p, "merchant_country")
    m_country = _map_unique(m_raw, _alpha2)
    p.flag(pc.and_(pc.is_valid(m_raw), pc.is_null(m_country)), "unknown_country")

    # channel
    prefixes = sorted(prof.channels, key=len, reverse=True)

    def channel_of(v: str | None) -> str:
        up = _nfc(v).upper() if v else ""
        return next((prof.channels[pre] for pre in prefixes if up.startswith(pre)), prof.channel)

    chan_raw = _strings(p, "channel")
    channel = pc.fill_null(_map_unique(chan_raw, channel_of), prof.channel)

    # description
    parts = [_squashed(p.cols[i]) for i in p.index.get("description", ())]
    if not parts:
        description = pa.nulls(n, pa.string())
    elif len(parts) == 1:
        description = parts[0]
    else:
        description = parts[0]
        for part in parts[1:]:
            # not null_handling="skip": pyarrow 26 drops rows where every part is null
            both = pc.binary_join_element_wise(description, part, " / ")
            description = pc.if_else(pc.is_null(description), part, pc.if_else(pc.is_null(part), description, both))
        description = _null_if_empty(description)

    null_money = pa.nulls(n, schema.MONEY)
    txn = pa.table(
        {
            # from content: the statement account and the row's trimmed fields (+ occurrence), never file or line
            "txn_id": pa.array(
                ContentIds("T").many((FORMAT, acc, *(v.strip(_SPACES) for v in rec)) for acc, rec in zip(stmt.to_pylist(), p.raw)),
                pa.string(),
            ),
            "report_id": pa.array([report_id] * n, pa.string()),
            "source": pa.array([FORMAT] * n, pa.string()),
            "source_ref": refs,
            "source_txn_ref": _strings(p, "txn_ref"),
            "timestamp": p.values["timestamp"],
            "tz_offset_minutes": p.values["tz_offset_minutes"],
            "amount": p.values["amount"],
            "currency": p.values["currency"],
            "instructed_amount": p.values.get("instructed_amount", null_money),
            "instructed_currency": p.values.get("instructed_currency", pa.nulls(n, pa.string())),
            "fx_rate": p.values.get("fx_rate", pa.nulls(n, pa.decimal128(24, 10))),
            "from_account": from_acc,
            "to_account": to_acc,
            "channel": channel,
            "description": description,
            "counterparty_name": cp_name,
            "counterparty_account": cp_acc,
            "counterparty_bic": _null_if_empty(cp_bic),
            "booking_date": p.values.get("booking_date", pa.nulls(n, pa.date32())),
            "value_date": p.values.get("value_date", pa.nulls(n, pa.date32())),
            "merchant_category": _strings(p, "merchant_category"),
            "country_from": pc.if_else(debit, _NULL_STR, m_country),
            "country_to": pc.if_else(debit, m_country, _NULL_STR),
            "quality_flags": _flags_column(n, p.flag_masks),
            "signed_amount": p.values["signed_amount"],
            "location_city": _strings(p, "merchant_city"),
            "location_country": m_country,
            "entry_type": _strings(p, "entry_type"),
        }
    ).filter(good)
    c.add_table("transactions", schema.conform(txn, "transactions"))
    for block in (stmt_accounts, cp_accounts):
        if block.num_rows:
            c.add_table("accounts", schema.conform(block, "accounts"))
    inst_values = [v for v in inst_col.to_pylist() if v]
    reporting = prof.institution or (inst_values[0] if inst_values else None)
    c.add_table(
        "reports",
        schema.conform(
            pa.table(
                {
                    "report_id": [report_id],
                    "format": [FORMAT],
                    "report_code": ["STATEMENT"],
                    "reporting_entity": pa.array([reporting], pa.string()),
                    "source_file": [c.file],
                    "profile": [prof.name],
                }
            ),
            "reports",
        ),
    )
    return c.bundle()
