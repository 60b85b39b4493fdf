"""One canonical id per real account, whichever source names it.

Adapters name an account the way their format does: camt ``IBAN/<IBAN>``, goAML
``<institution code or BIC>/<number>``, MT940 ``<BLZ>/<Konto>`` or ``stmt/<number>``
when ``:25:`` holds the number alone, a bank CSV ``<profile>/<number>``. The same
account then appears under two or three ids. :func:`canonical_accounts` gives each one
canonical id, by these rules, first that applies (the rule is kept in
``account_aliases.rule``):

``user_alias``
    The user's alias file maps the reference (as written, or its account number) to an id.
``iban``
    A valid IBAN (ISO 13616 check digits and the country's BBAN format, checked with
    `schwifty <https://pypi.org/project/schwifty/>`_) is given in the ``iban`` column,
    as the number, or as the id: ``IBAN/<IBAN>``.
``iban_derived``
    The institution is a national bank code and the account's country defines how an
    IBAN is built from it (e.g. German BLZ + Konto): the IBAN schwifty derives.
``iban_same_account``
    Another source row gives both this institution + number and a valid IBAN.
``institution_number``
    Institution (BIC without its branch code, else the national or goAML institution
    code) + the account number without spaces, dots or dashes: ``<institution>/<number>``.
``header_institution``
    The id has no institution (``stmt/<n>``) but the source names the account's bank
    elsewhere (the MT940 SWIFT header block's BIC, in ``accounts.institution``):
    ``<institution>/<number>``.
``number_unique``
    The id has no institution, and exactly one account known under an institution has
    this number (leading zeros ignored).
``as_given``
    Nothing above applies (or the source is a benchmark data set whose ids are its own):
    the id is kept.

Joins are explainable (``account_aliases`` lists every raw reference, where it was first
seen and the rule) and reversible (``raw`` is the id the adapter wrote).
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from followmoney.consolidate._log import dedupe, file_of, files_of, shift_merged
from followmoney.core import schema
from followmoney.core.bundle import Bundle, _all_distinct
from followmoney.exceptions import InputError

#: Adapters whose account ids follow real-world conventions (benchmark sets keep theirs).
REAL_WORLD_SOURCES = frozenset({"goaml", "fincen", "camt", "mt940", "bank_csv", "pacs008", "pain001", "mt103", "auth"})

_BIC_RE = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_CODE_RE = re.compile(r"[A-Z0-9]{2,15}")
_SEP_RE = re.compile(r"[\s.\-]+")


def normalize_number(number: str | None) -> str | None:
    """An account number without spaces, dots and dashes, upper case; leading zeros kept.

    Examples
    --------
    >>> normalize_number(" 0532-0130.00 "), normalize_number("ab 12"), normalize_number("  ")
    ('0532013000', 'AB12', None)
    """
    if number is None:
        return None
    out = _SEP_RE.sub("", number).upper()
    return out or None


def valid_iban(value: str | None) -> str | None:
    """The compact IBAN when ``value`` is a valid one (check digits and BBAN format), else None.

    Examples
    --------
    >>> valid_iban("de89 3704 0044 0532 0130 00"), valid_iban("XX12TEST0000000091"), valid_iban(None)
    ('DE89370400440532013000', None, None)
    """
    if not value or len(value) < 15:
        return None
    try:
        return IBAN(value).compact
    except (SchwiftyException, ValueError):
        return None


def institution_key(value: str | None) -> str | None:
    """How an institution is named in a canonical id: a BIC's first 8 characters, else the code.

    Returns None for what is not an institution code (empty, a name with spaces, an
    adapter's placeholder namespace such as ``stmt`` or a bank CSV profile name).

    Examples
    --------
    >>> institution_key("cobadeffxxx"), institution_key("37040044"), institution_key("stmt"), institution_key("Bank A")
    ('COBADEFF', '37040044', None, None)
    """
    if not value:
        return None
    v = value.strip()
    if v != v.upper() and not _BIC_RE.fullmatch(v.upper()):
        return None  # lower case: an adapter's namespace (stmt, goaml, a profile name)
    v = v.upper()
    if _BIC_RE.fullmatch(v):
        return v[:8]
    return v if _CODE_RE.fullmatch(v) else None


def _derive_iban(country: str | None, institution: str | None, number: str | None) -> str | None:
    if not (country and institution and number) or _BIC_RE.fullmatch(institution):
        return None
    try:
        return IBAN.generate(country, bank_code=institution, account_code=number).compact
    except (SchwiftyException, ValueError):
        return None


def _bic_country(bic: str | None) -> str | None:
    if not bic or not _BIC_RE.fullmatch(bic):
        return None
    try:
        return BIC(bic).country_code
    except (SchwiftyException, ValueError):
        return None


def read_aliases(path: str | Path) -> dict[str, str]:
    """Read a user alias file: account reference -> canonical account id.

    Parameters
    ----------
    path : str or Path
        TOML with a table ``[accounts]`` of ``"raw" = "canonical id"`` pairs, or CSV with
        the columns ``raw`` and ``account_id``. ``raw`` is an account id as an adapter
        writes it (``stmt/517852257``) or an account number as written.

    Returns
    -------
    dict of str to str

    Raises
    ------
    followmoney.exceptions.InputError
        The file cannot be read, is neither TOML nor CSV, or lacks the table or columns
        (the message names the file and the line, never a value).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "aliases.toml"
    >>> _ = p.write_text('[accounts]\\n"stmt/1001" = "BANKMYKL/1001"\\n')
    >>> read_aliases(p)
    {'stmt/1001': 'BANKMYKL/1001'}
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the account alias file ({type(exc).__name__})") from None
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML (line {getattr(exc, 'lineno', '?')})") from None
        table = data.get("accounts")
        if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
            raise InputError(f"{path}: expected a table [accounts] of \"raw\" = \"account id\" strings")
        return {k.strip(): v.strip() for k, v in table.items()}
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and not {"raw", "account_id"} <= set(rows[0]):
            raise InputError(f"{path}: line 1: expected the columns raw and account_id")
        out = {}
        for n, r in enumerate(rows, start=2):
            raw, acc = (r.get("raw") or "").strip(), (r.get("account_id") or "").strip()
            if not raw or not acc:
                raise InputError(f"{path}: line {n}: raw and account_id must both be given")
            out[raw] = acc
        return out
    raise InputError(f"{path}: account alias file must be .toml or .csv")


def _split(raw: str) -> tuple[str | None, str]:
    ns, sep, num = raw.partition("/")
    return (ns, num) if sep else (None, raw)


def canonical_accounts(bundle: Bundle, aliases: dict[str, str] | None = None) -> Bundle:
    """Give every account reference of ``bundle`` its canonical id (rules: module notes).

    Parameters
    ----------
    bundle : Bundle
        Reads ``accounts`` (``account_id``, ``institution``, ``account_number``,
        ``iban``, ``country``, ``source_ref``), ``transactions`` (``from_account``,
        ``to_account``, ``source``, ``source_ref``), ``party_accounts``, ``statements``,
        ``identifiers`` (account owners) and ``load_log`` (file -> adapter).
    aliases : dict of str to str, optional
        User aliases (:func:`read_aliases`): raw id or account number -> canonical id.

    Returns
    -------
    Bundle
        A new bundle: ids rewritten in every table; ``accounts`` rows of one account
        merged (first non-null value per column; ``load_log`` counts them as
        ``merged``); ``account_aliases`` lists every raw reference with its canonical id
        and rule.

    Examples
    --------
    >>> import pyarrow as pa, followmoney as fm
    >>> acc = fm.schema.conform([
    ...     {"account_id": "37040044/532013000", "institution": "37040044", "account_number": "532013000",
    ...      "country": "DE", "source_ref": "a.sta:3"},
    ...     {"account_id": "IBAN/DE89370400440532013000", "iban": "DE89370400440532013000", "source_ref": "b.xml#/Acct"}],
    ...     "accounts")
    >>> b = canonical_accounts(fm.Bundle(accounts=acc))
    >>> b.accounts["account_id"].to_pylist()
    ['IBAN/DE89370400440532013000']
    >>> b.account_aliases.select(["raw", "rule"]).to_pylist()[0]
    {'raw': '37040044/532013000', 'rule': 'iban_derived'}
    """
    aliases = aliases or {}
    log = bundle.load_log
    source_of_file = dict(zip(log["source_file"].to_pylist(), log["source"].to_pylist())) if log.num_rows else {}

    # the accounts table's references in first-seen order, with the source of their first row
    acc = bundle.accounts
    first = acc.select(["account_id", "source_ref"]).take(_first_rows(acc["account_id"]))
    listed, listed_refs = first["account_id"], first["source_ref"]
    listed_sources = pa.array([source_of_file.get(f) for f in files_of(listed_refs)], pa.string())
    # a benchmark data set's references keep their ids (rule as_given): decided column-wise; the
    # others go through the rules below one by one
    if aliases:
        given = pa.array(np.zeros(len(listed), bool))
    else:
        real = pc.is_in(listed_sources, value_set=pa.array(sorted(REAL_WORLD_SOURCES), pa.string()))
        given = pc.and_(pc.is_valid(listed_sources), pc.invert(real))  # an unknown source goes through the rules
    position = {raw: i for raw, i in zip(listed.filter(pc.invert(given)).to_pylist(), np.flatnonzero(~given.to_numpy(zero_copy_only=False)).tolist())}

    # every other reference: raw id -> (source, source_ref, institution, number, iban, country)
    info: dict[str, dict] = {}
    rows = acc.filter(pc.is_in(acc["account_id"], value_set=pa.array(list(position), pa.string()))) if position else acc.slice(0, 0)
    for r in rows.select(["account_id", "institution", "account_number", "iban", "country", "source_ref"]).to_pylist():
        raw = r["account_id"]
        if raw in info:
            d = info[raw]
            for k in ("institution", "number", "iban", "country"):
                d[k] = d[k] or r["account_number" if k == "number" else k]
            continue
        info[raw] = {
            "source": source_of_file.get(file_of(r["source_ref"])),
            "source_ref": r["source_ref"],
            "institution": r["institution"],
            "number": r["account_number"],
            "iban": r["iban"],
            "country": r["country"],
        }
    extra = len(listed)  # positions of the references the accounts table does not list
    t = bundle.transactions
    referring = [(name, col) for name, cols in (("transactions", ("from_account", "to_account")), ("party_accounts", ("account_id",)),
                                                ("statements", ("account_id",))) for col in cols]  # fmt: skip

    def unlisted(name_col):  # the rows whose reference the accounts table does not list (none in most sources)
        tab = getattr(bundle, name_col[0])
        col = tab[name_col[1]]
        return pc.fill_null(pc.and_(pc.not_equal(col, ""), pc.invert(pc.is_in(col, value_set=listed))), False) if tab.num_rows else None

    with ThreadPoolExecutor(max_workers=2) as pool:  # column-wise, side by side (Arrow lets go of the GIL)
        masks = list(pool.map(unlisted, referring))
    for (name, col), new in zip(referring, masks):
        tab = getattr(bundle, name)
        if new is None or not pc.any(new).as_py():
            continue
        sub = tab.filter(new)
        sources = sub["source"].to_pylist() if name == "transactions" else [source_of_file.get(file_of(ref)) for ref in sub["source_ref"].to_pylist()]
        for raw, s, ref in zip(sub[col].to_pylist(), sources, sub["source_ref"].to_pylist()):
            if raw not in info:
                info[raw] = {"source": s, "source_ref": ref, "institution": None, "number": None, "iban": None, "country": None}
                position[raw] = extra
                extra += 1

    canon: dict[str, tuple[str, str]] = {}
    pending: list[tuple[str, str | None, str | None]] = []  # (raw, institution key, number)
    unknown: list[tuple[str, str | None, dict]] = []  # (raw, number, info)
    same_account: dict[tuple[str, str], str] = {}  # (institution, number) -> IBAN id
    for raw, d in info.items():
        ns, num = _split(raw)
        number = normalize_number(d["number"] or num)
        if raw in aliases or (number and number in aliases):
            canon[raw] = (aliases.get(raw) or aliases[number], "user_alias")
            continue
        if d["source"] is not None and d["source"] not in REAL_WORLD_SOURCES:
            canon[raw] = (raw, "as_given")
            continue
        iban = valid_iban(d["iban"]) or (valid_iban(num) if ns == "IBAN" else None) or valid_iban(number)
        inst = institution_key(d["institution"]) or (institution_key(ns) if ns != "IBAN" else None)
        if iban:
            canon[raw] = (f"IBAN/{iban}", "iban")
            if inst and number and ns != "IBAN":
                same_account[(inst, number)] = f"IBAN/{iban}"
            continue
        if ns == "IBAN":  # IBAN-shaped but invalid (test data, a typo): kept as written
            canon[raw] = (raw, "as_given")
            continue
        country = d["country"] or _bic_country(d["institution"])
        derived = _derive_iban(country, inst, number)
        if derived:
            canon[raw] = (f"IBAN/{derived}", "iban_derived")
        elif inst and number:
            pending.append((raw, inst, number))
        else:
            unknown.append((raw, number, d))
    decided_first = len(canon)  # the rules that decided in one look, in first-seen order
    for raw, inst, number in pending:
        given_by_id = institution_key(_split(raw)[0]) is not None
        if (inst, number) in same_account:
            canon[raw] = (same_account[(inst, number)], "iban_same_account")
        else:
            canon[raw] = (f"{inst}/{number}", "institution_number" if given_by_id else "header_institution")
    # numbers known under exactly one institution (leading zeros ignored)
    by_number: dict[str, set[str]] = {}
    for raw, (cid, rule) in canon.items():
        if rule in ("as_given", "user_alias"):
            continue
        ns, num = _split(cid)
        keys = {num.lstrip("0")}
        if ns == "IBAN":
            try:
                keys.add(IBAN(num).account_code.lstrip("0"))
            except (SchwiftyException, ValueError):
                pass
        n = normalize_number(info[raw]["number"] or _split(raw)[1])
        if n:
            keys.add(n.lstrip("0"))
        for k in keys:
            if k:
                by_number.setdefault(k, set()).add(cid)
    for raw, number, d in unknown:
        header = institution_key(d["institution"])
        hits = by_number.get((number or "").lstrip("0"), set()) if number else set()
        if header and number:
            canon[raw] = (same_account.get((header, number), f"{header}/{number}"), "header_institution")
        elif len(hits) == 1:
            canon[raw] = (next(iter(hits)), "number_unique")
        else:
            canon[raw] = (raw, "as_given")

    mapping = {raw: cid for raw, (cid, _) in canon.items()}
    out = Bundle(**{name: getattr(bundle, name) for name in schema.TABLES})

    changed = {raw: cid for raw, cid in mapping.items() if raw != cid}
    old_ids, new_ids = pa.array(list(changed), pa.string()), pa.array(list(changed.values()), pa.string())

    def remap(arr) -> pa.ChunkedArray:
        """Each raw account reference as its canonical id (column-wise; nulls stay null)."""
        arr = arr.cast(pa.string())
        if not changed:
            return arr
        return pc.coalesce(pc.take(new_ids, pc.index_in(arr, value_set=old_ids)), arr)

    if acc.num_rows:
        ids = remap(acc["account_id"])
        a = acc.set_column(acc.column_names.index("account_id"), acc.schema.field("account_id"), ids)
        # the IBAN of an IBAN/<IBAN> id where the row gives none (or an empty one)
        has_iban = pc.fill_null(pc.not_equal(a["iban"], ""), False)
        of_id = pc.if_else(pc.starts_with(ids, "IBAN/"), pc.utf8_slice_codeunits(ids, 5), pa.scalar(None, pa.string()))
        a = a.set_column(a.column_names.index("iban"), a.schema.field("iban"), pc.if_else(has_iban, a["iban"].cast(pa.string()), of_id))
        a, merged = dedupe(a, ("account_id",))
        out.accounts = a
        out.load_log = shift_merged(out.load_log, "accounts", merged)
    if t.num_rows:
        for col in ("from_account", "to_account"):
            t = t.set_column(t.column_names.index(col), t.schema.field(col), remap(t[col]))
        out.transactions = t
    st = bundle.statements
    if st.num_rows:
        out.statements = st.set_column(st.column_names.index("account_id"), st.schema.field("account_id"), remap(st["account_id"]))
    pa_ = bundle.party_accounts
    if pa_.num_rows:
        pa_ = pa_.set_column(pa_.column_names.index("account_id"), pa_.schema.field("account_id"), remap(pa_["account_id"]))
        pa_, merged = dedupe(pa_, ("party_id", "account_id", "role"))
        out.party_accounts = pa_
        out.load_log = shift_merged(out.load_log, "party_accounts", merged)
    ids_ = bundle.identifiers
    if ids_.num_rows and (mapping or len(listed)):  # any account reference at all
        is_acc = pc.fill_null(pc.equal(ids_["owner_kind"], "account"), False).to_pylist()
        owners = [mapping.get(o, o) if k else o for o, k in zip(ids_["owner_id"].to_pylist(), is_acc)]
        ids_ = ids_.set_column(ids_.column_names.index("owner_id"), ids_.schema.field("owner_id"), pa.array(owners, pa.string()))
        ids_, merged = dedupe(ids_, ("owner_kind", "owner_id", "kind", "value"))
        out.identifiers = ids_
        out.load_log = shift_merged(out.load_log, "identifiers", merged)
    # every reference in the order of its rule's decision: the rules of one look (as_given of a
    # benchmark data set's references among them) in first-seen order, then the others
    raws = list(canon)
    later = len(listed) + len(info)
    as_given = first.append_column("source", listed_sources).append_column("rule", pa.repeat("as_given", len(listed))).filter(given)

    def column(name: str, values: list) -> pa.ChunkedArray:
        """The ``as_given`` rows' ``name``, then ``values`` (the other references')."""
        return pa.chunked_array([*as_given[name].chunks, pa.array(values, pa.string())], pa.string())

    listing = pa.table(
        {
            "source": column("source", [info[raw]["source"] for raw in raws]),
            "source_ref": column("source_ref", [info[raw]["source_ref"] for raw in raws]),
            "raw": column("account_id", raws),
            "account_id": column("account_id", [cid for cid, _ in canon.values()]),
            "rule": column("rule", [rule for _, rule in canon.values()]),
            "_order": np.r_[np.flatnonzero(given.to_numpy(zero_copy_only=False)), [position[raw] if k < decided_first else later + k for k, raw in enumerate(raws)]],
        }
    ).sort_by("_order").drop_columns(["_order"])
    known_source = pc.fill_null(pc.not_equal(listing["source"], ""), False)
    listing = listing.set_column(0, "source", pc.if_else(known_source, listing["source"], "unknown"))
    listing = listing.set_column(1, "source_ref", pc.fill_null(listing["source_ref"], ""))
    if bundle.account_aliases.num_rows:  # consolidated before: the raw references stay listed
        earlier = bundle.account_aliases.to_pylist()
        for r in earlier:
            if mapping.get(r["account_id"], r["account_id"]) != r["account_id"]:
                r["account_id"], r["rule"] = canon[r["account_id"]]
        known = {r["raw"] for r in earlier} | {r["account_id"] for r in earlier}  # canonical ids are known too
        new = listing.filter(pc.invert(pc.is_in(listing["raw"], value_set=pa.array(list(known), pa.string()))))
        listing = pa.concat_tables([schema.conform(earlier, "account_aliases"), schema.conform(new, "account_aliases")])
    out.account_aliases = schema.conform(listing, "account_aliases") if listing.num_rows else schema.empty("account_aliases")
    return out


def _first_rows(ids: pa.ChunkedArray) -> np.ndarray:
    """The row of each value's first occurrence, in first-seen order."""
    if _all_distinct(ids):
        return np.arange(len(ids))
    t = pa.table({"k": ids, "i": np.arange(len(ids))})
    return np.sort(t.group_by("k", use_threads=False).aggregate([("i", "min")])["i_min"].to_numpy())


def alias_counts(bundle: Bundle) -> Counter:
    """How many raw references each rule joined (for the run summary)."""
    return Counter(bundle.account_aliases["rule"].to_pylist())
