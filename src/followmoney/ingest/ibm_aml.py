"""IBM AML (AMLworld) transactions CSV adapter.

IBM's synthetic "Transactions for Anti Money Laundering" data (CDLA-Sharing-1.0) has
the header ``Timestamp, From Bank, Account, To Bank, Account, Amount Received,
Receiving Currency, Amount Paid, Payment Currency, Payment Format, Is Laundering``.
The two ``Account`` columns are taken by position (from, to).

Mapping
-------
* ``account_id`` = ``"<bank>/<account>"``; bank codes stay strings ("011", not 11).
* ``amount``/``currency`` = the paid leg; ``amount_received``/``currency_received`` =
  the received leg. The legs are never added together.
* Currency names (``US Dollar``, ``Euro``, ...) map to ISO 4217 codes; ``Bitcoin`` maps to
  ``XBT`` (no ISO code exists; XBT is the market convention).
* Timestamps (``2022/09/01 00:20``, no zone) are taken as UTC.
* ``Payment Format`` → channel: Cash → cash_deposit (cash paid into the receiving
  account), Wire → wire, ACH → transfer, Cheque → cheque, Credit Card → card,
  Bitcoin → crypto, Reinvestment → other. The raw value is kept in ``description``.
* Quality flags (row kept, never silently dropped): ``self_transfer`` (same account
  both sides), ``negative_amount``, ``invalid_amount`` (e.g. ``(null)``: amount null),
  ``amount_rounded`` (more than two decimals), ``unknown_currency``.
* A companion ``<prefix>_accounts.csv`` (``Bank Name, Bank ID, Account Number,
  Entity ID, Entity Name``) beside ``<prefix>_Trans.csv`` is read for account and
  holder names.

Rows whose timestamp or accounts cannot be read are rejected with the field named.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._collect import Collector, InputError, file_digest
from followmoney.core.ids import stable_id
from followmoney.ingest._csv import (
    first_failure, line_refs, parse_money_checked, parse_time, read_rows, reject_bad_rows, reject_rows,
)  # fmt: skip

__all__ = ["FORMAT", "sniff", "is_companion", "companion_needs", "read", "CURRENCIES"]

FORMAT = "ibm_aml"

_HEADER = b"Timestamp,From Bank,Account,To Bank,Account,Amount Received"
_ACCOUNTS_HEADER = b"Bank Name,Bank ID,Account Number,Entity ID,Entity Name"
_COLS = [
    "timestamp", "from_bank", "from_account", "to_bank", "to_account", "amount_received",
    "receiving_currency", "amount_paid", "payment_currency", "payment_format", "is_laundering",
]  # fmt: skip

#: Currency names used by the IBM AML data set → ISO 4217 (XBT for Bitcoin).
CURRENCIES = {
    "US Dollar": "USD",
    "Euro": "EUR",
    "UK Pound": "GBP",
    "Yuan": "CNY",
    "Yen": "JPY",
    "Rupee": "INR",
    "Ruble": "RUB",
    "Canadian Dollar": "CAD",
    "Australian Dollar": "AUD",
    "Swiss Franc": "CHF",
    "Mexican Peso": "MXN",
    "Brazil Real": "BRL",
    "Saudi Riyal": "SAR",
    "Shekel": "ILS",
    "Bitcoin": "XBT",
}
_CHANNELS = {
    "Cash": "cash_deposit",
    "Wire": "wire",
    "ACH": "transfer",
    "Cheque": "cheque",
    "Credit Card": "card",
    "Bitcoin": "crypto",
    "Reinvestment": "other",
}


def _header(head: bytes) -> bytes:
    return head.split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")


def sniff(path: Path, head: bytes) -> bool:
    """True for IBM AML transaction files and their accounts companion."""
    h = _header(head)
    return h.startswith(_HEADER) or h.startswith(_ACCOUNTS_HEADER)


def is_companion(path: Path) -> bool:
    """True for the ``*_accounts.csv`` companion, read with its transactions file."""
    with open(path, "rb") as fh:
        return _header(fh.read(4096)).startswith(_ACCOUNTS_HEADER)


def companion_needs(path: Path) -> str | None:
    """For a companion file whose transactions file is not beside it: what it is and what it needs.

    Returns None when the transactions file (``<prefix>_Trans.csv``) is there.
    """
    path = Path(path)
    stem = path.stem[: -len("_accounts")] if path.stem.endswith("_accounts") else path.stem
    if any(path.with_name(stem + s + ".csv").is_file() for s in ("_Trans", "_trans")):
        return None
    return (
        "an IBM AML accounts file (account master, no transactions); it is read together with its "
        f"transactions file {stem}_Trans.csv in the same folder, which is not there"
    )


def read(path: str | Path) -> Bundle:
    """Read an IBM AML transactions CSV (and its ``*_accounts.csv`` companion if beside it).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Bundle
        ``transactions`` (both currency legs, ``is_laundering`` label, quality flags),
        ``accounts`` for every account seen, and from the companion file the holder
        ``parties`` and ``party_accounts``.

    Raises
    ------
    InputError
        The header is not the IBM AML header (names the file and line 1).

    Examples
    --------
    >>> from pathlib import Path
    >>> b = read(Path("tests/data/ibm_aml/br22_traps.csv"))
    >>> b.transactions.column("quality_flags").to_pylist()
    [['self_transfer'], ['negative_amount'], ['invalid_amount'], []]
    """
    path = Path(path)
    parts = []
    companion = _companion(path)
    if companion is not None:
        parts.append(_read_accounts(companion))
    parts.append(_read_transactions(path))
    return Bundle.concat(parts)


def _companion(path: Path) -> Path | None:
    stem = path.stem
    for suffix in ("_Trans", "_trans"):
        if stem.endswith(suffix):
            cand = path.with_name(stem[: -len(suffix)] + "_accounts.csv")
            if cand.is_file():
                return cand
    return None


def _lookup(values: pa.ChunkedArray, mapping: dict[str, str]) -> pa.Array:
    """``mapping[value]`` for each value, null where the value is not a key (column-wise)."""
    idx = pc.index_in(values, value_set=pa.array(list(mapping), pa.string()))
    out = pc.take(pa.array(list(mapping.values()), pa.string()), idx)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _flag_lists(flags: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    """A ``list<string>`` column: for each row the names of the flags true for it, in ``flags`` order."""
    on = np.column_stack([np.asarray(pc.fill_null(v, False).to_numpy(zero_copy_only=False), bool) for _, v in flags])
    on = on.reshape(n, len(flags))
    offsets = np.r_[0, np.cumsum(on.sum(axis=1))].astype(np.int32)
    which = np.nonzero(on)[1].astype(np.int32)  # row by row, each row's flags in ``flags`` order
    values = pc.take(pa.array([name for name, _ in flags], pa.string()), pa.array(which))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


#: Rows hashed per step for the content ids (bounds the key text and Python bytes alive at once).
_ID_BATCH = 100_000


#: What Python's ``str.strip()`` removes from an ASCII string.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _stripped(col: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """``str.strip()`` of every value: column-wise for ASCII text, else value by value."""
    if pc.all(pc.string_is_ascii(col)).as_py() is not False:
        return pc.utf8_trim(col, _ASCII_SPACE)
    return pa.array([v.strip() for v in col.to_pylist()], pa.string())


def _key_text(r: pa.Table) -> list[bytes]:
    """The text each content id hashes, one ``bytes`` per row: the format and the row's trimmed
    values, joined by ``\\x1f`` (what :class:`ContentIds` joins)."""
    key = pc.binary_join_element_wise(FORMAT, *(_stripped(r[c]) for c in _COLS), "\x1f")
    return pc.cast(key, pa.binary()).to_pylist()


def _content_ids(r: pa.Table) -> tuple[pa.ChunkedArray, bool]:
    """Content ids of the rows: :class:`ContentIds` ``("T")`` of the format and the trimmed values,
    with the occurrence told apart (never the file name or line); and whether any digest repeats
    (when none does, each row's id depends on that row alone, so the ids of a subset of the rows
    are the subset of their ids).

    The key text is built and hashed a batch of rows at a time (only a batch's text is alive at
    once). Rows of one content have one digest: the rows whose digest repeats (repeated content,
    or, rarely, two contents of one digest) are compared by their text, and a content's second,
    third, ... row is hashed again with its occurrence (``#1``, ``#2``, ...)."""
    n = r.num_rows
    blake = hashlib.blake2b
    digests = np.empty((n, 8), np.uint8)
    for start in range(0, n, _ID_BATCH):
        raws = _key_text(r.slice(start, _ID_BATCH))
        digests[start : start + len(raws)] = np.frombuffer(b"".join([blake(raw, digest_size=8).digest() for raw in raws]), np.uint8).reshape(-1, 8)
    value = digests.view(np.uint64).ravel()
    ordered = np.sort(value)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size:  # repeated content: rare
        rows = np.flatnonzero(np.isin(value, repeated))  # in file order
        raws = _key_text(r.take(pa.array(rows, pa.int64())))
        seen: dict[bytes, int] = {}
        for row, raw in zip(rows.tolist(), raws):
            k = seen[raw] = seen.get(raw, -1) + 1  # 0 for a content's first row, 1 for its second, ...
            if k:
                digests[row] = np.frombuffer(blake(raw + f"\x1f#{k}".encode(), digest_size=8).digest(), np.uint8)
    ids = pa.chunked_array([_hex_ids("T", digests[s : s + _ID_BATCH]) for s in range(0, n, _ID_BATCH)], pa.string())
    return ids, bool(repeated.size)


def _kept_ids(hashed: tuple[pa.ChunkedArray, bool], keep, kept: pa.Table, rejected: bool) -> pa.ChunkedArray:
    """The content ids of the rows kept, from :func:`_content_ids` of every row read: its ids, less the
    rejected rows'. Where a digest repeated and rows were rejected, the occurrence numbers are counted
    again among the rows kept (a rejected row may have had content of a kept one: whitespace Arrow's
    checks keep and the key text trims)."""
    ids, repeats = hashed
    return _content_ids(kept)[0] if repeats and rejected else keep(ids)


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _hex_ids(prefix: str, d: np.ndarray) -> pa.Array:
    """``prefix`` + the lower-case hex of each 8-byte digest (rows of ``d``, what ``hexdigest()``
    gives), built as one Arrow string buffer rather than a Python string per row."""
    n = len(d)
    text = np.empty((n, 17), np.uint8)
    text[:, 0] = ord(prefix)
    text[:, 1::2], text[:, 2::2] = _HEX[d >> 4], _HEX[d & 15]
    offsets = np.arange(0, 17 * n + 1, 17, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


def _both_sides(a: pa.Array | pa.ChunkedArray, b: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """The values of ``a`` then those of ``b``, as one column over their own chunks (no copy)."""
    return pa.chunked_array([c for v in (a, b) for c in (v.chunks if isinstance(v, pa.ChunkedArray) else [v])], pa.string())


def _keeper(bad):
    """A function keeping the rows not ``bad`` of a table or array: itself when every row is kept
    (a filter would copy every column)."""
    if not pc.any(bad).as_py():
        return lambda data: data
    good = pc.invert(bad)
    if isinstance(good, pa.ChunkedArray):  # one mask for tables, chunked columns and arrays alike (pyarrow 15)
        good = good.combine_chunks()
    return lambda data: data.filter(good)


#: The amount columns, parsed side by side.
_AMOUNTS = ("amount_paid", "amount_received")


def _read_transactions(path: Path) -> Bundle:
    col = Collector(FORMAT, path)
    _collect_transactions(col, path)
    return col.bundle()  # the file's text columns that no table keeps are freed by now


def _collect_transactions(col: Collector, path: Path) -> None:
    """The rows of ``path`` into ``col``: ``transactions``, ``accounts``, ``reports``, rejects."""
    with open(path, "rb") as fh:
        if not _header(fh.read(4096)).startswith(_HEADER):
            raise InputError(f"{path}: line 1: not the IBM AML header")
    raw, lines, bad_rows = read_rows(path, column_names=_COLS)
    reject_bad_rows(col, "transactions", bad_rows)
    n = raw.num_rows
    # the content ids (Python's hashing, holding the GIL) on a thread of their own from the start, while this
    # one parses the other columns (Arrow kernels: a few large calls, each without the GIL); of every row
    # read, before the rejects are known (the ids of the rows kept are the same: below)
    hashing = ThreadPoolExecutor(1, thread_name_prefix="followmoney-ids")
    hashed = hashing.submit(_content_ids, raw)
    hashing.shutdown(wait=False)
    refs = line_refs(col.file, lines)
    # Arrow's kernels let go of the GIL: the time and the two amounts are parsed side by side
    with ThreadPoolExecutor(2, thread_name_prefix="followmoney-parse") as pool:
        timed = pool.submit(parse_time, raw["timestamp"], "%Y/%m/%d %H:%M")
        money = dict(zip(_AMOUNTS, pool.map(parse_money_checked, [raw[c] for c in _AMOUNTS])))  # (value, ok, rounded, fits)
        ts, ok_ts = timed.result()
    fits = pc.and_(money["amount_paid"][3], money["amount_received"][3])
    nonempty = {c: pc.not_equal(pc.utf8_trim_whitespace(raw[c]), "") for c in ("from_bank", "from_account", "to_bank", "to_account")}
    reason = first_failure(
        [(ok_ts, "Timestamp: not YYYY/MM/DD HH:MM")]
        + [(ok, f"{c}: missing") for c, ok in nonempty.items()]
        + [(fits, "Amount Paid / Amount Received: amount out of range (decimal(18,3))")],
        n,
    )
    bad = pc.is_valid(reason)
    col.reject_table("transactions", reject_rows(raw, refs, reason, bad))
    keep = _keeper(bad)
    r = keep(raw)
    del raw  # the rows kept are in ``r``
    refs_g = keep(refs)
    m = r.num_rows
    paid, ok_paid, rnd_paid = map(keep, money["amount_paid"][:3])
    recv, ok_recv, rnd_recv = map(keep, money["amount_received"][:3])
    del money
    cur_paid = _lookup(r["payment_currency"], CURRENCIES)
    cur_recv = _lookup(r["receiving_currency"], CURRENCIES)
    from_acc = pc.binary_join_element_wise(r["from_bank"], r["from_account"], "/")
    to_acc = pc.binary_join_element_wise(r["to_bank"], r["to_account"], "/")

    flags = _flag_lists(
        [
            ("self_transfer", pc.equal(from_acc, to_acc)),
            ("negative_amount", pc.or_(pc.less(paid, 0), pc.less(recv, 0))),
            ("invalid_amount", pc.invert(pc.and_(ok_paid, ok_recv))),
            ("amount_rounded", pc.or_(rnd_paid, rnd_recv)),
            ("unknown_currency", pc.invert(pc.and_(pc.is_valid(cur_paid), pc.is_valid(cur_recv)))),
        ],
        m,
    )
    report_id = stable_id("R", FORMAT, file_digest(path))  # from content, never the file name
    table = pa.table(
        {
            # from content: the row's trimmed values (+ occurrence), never the file name or line
            "txn_id": _kept_ids(hashed.result(), keep, r, m < n),
            "report_id": pa.repeat(report_id, m),
            "source": pa.repeat(FORMAT, m),
            "source_ref": refs_g,
            # the row's rank among the file's rows kept, in line order: what core.timing.source_sequence
            # makes of the refs, told here without parsing millions of them back
            "source_seq": pa.array(np.arange(1, m + 1, dtype=np.int64)),
            "timestamp": keep(ts),
            "amount": paid,
            "currency": cur_paid,
            "amount_received": recv,
            "currency_received": cur_recv,
            "from_account": from_acc,
            "to_account": to_acc,
            "channel": pc.fill_null(_lookup(r["payment_format"], _CHANNELS), "other"),
            "description": r["payment_format"],
            "quality_flags": pa.array(flags, pa.list_(pa.string())),
            "is_laundering": pc.equal(pc.utf8_trim_whitespace(r["is_laundering"]), "1"),
        }
    )
    col.add_table("transactions", schema.conform(table, "transactions"))
    # every account mentioned on either side (duplicates are counted as merged)
    accounts = pa.table(
        {
            "account_id": _both_sides(from_acc, to_acc),
            "institution": _both_sides(r["from_bank"], r["to_bank"]),
            "account_number": _both_sides(r["from_account"], r["to_account"]),
            "currency": _both_sides(cur_paid, cur_recv),
            "source_ref": _both_sides(refs_g, refs_g),
        }
    )
    col.add_table("accounts", schema.conform(accounts, "accounts"))
    col.add("reports", {"report_id": report_id, "format": FORMAT, "report_code": "DATASET", "source_file": col.file})


def _read_accounts(path: Path) -> Bundle:
    col = Collector(FORMAT, path)
    raw, lines, bad_rows = read_rows(path, column_names=["bank_name", "bank_id", "account_number", "entity_id", "entity_name"])
    reject_bad_rows(col, "accounts", bad_rows)
    n = raw.num_rows
    refs = line_refs(col.file, lines)
    ok = pc.and_(
        pc.not_equal(pc.utf8_trim_whitespace(raw["bank_id"]), ""),
        pc.not_equal(pc.utf8_trim_whitespace(raw["account_number"]), ""),
    )
    reason = first_failure([(ok, "Bank ID / Account Number: missing")], n)
    bad = pc.is_valid(reason)
    col.reject_table("accounts", reject_rows(raw, refs, reason, bad))
    keep = _keeper(bad)
    r = keep(raw)
    refs_g = keep(refs)
    account_id = pc.binary_join_element_wise(r["bank_id"], r["account_number"], "/")
    col.add_table(
        "accounts",
        schema.conform(
            pa.table(
                {
                    "account_id": account_id,
                    "institution": r["bank_id"],
                    "account_number": r["account_number"],
                    "name": r["bank_name"],
                    "source_ref": refs_g,
                }
            ),
            "accounts",
        ),
    )
    # one party per entity; an entity holding several accounts is one party
    party_id = pc.binary_join_element_wise(pa.scalar("ibm/"), r["entity_id"], "")
    kind = pc.if_else(pc.match_substring(r["entity_name"], "Individual"), pa.scalar("person"), pa.scalar("entity"))
    col.add_table(
        "parties",
        schema.conform(
            pa.table({"party_id": party_id, "kind": kind, "name": r["entity_name"], "source_ref": refs_g}), "parties"
        ),
    )
    col.add_table(
        "party_accounts",
        schema.conform(
            pa.table({"party_id": party_id, "account_id": account_id, "role": pa.array(["holder"] * r.num_rows), "source_ref": refs_g}),
            "party_accounts",
        ),
    )
    return col.bundle()
