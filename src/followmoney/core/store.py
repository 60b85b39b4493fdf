"""Read and write a :class:`~followmoney.Bundle` as a directory of Parquet files.

Layout: one ``<table>.parquet`` per canonical table plus ``manifest.json`` (format
version, followmoney version, row count per table). The Arrow schema, including each
column's ``doc`` metadata, is stored in the Parquet files.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney._version import __version__

__all__ = [
    "write_bundle", "read_bundle", "STORE_VERSION", "append_store", "read_store", "read_store_transactions", "store_chunks",
    "store_manifest", "changed_accounts", "as_utc", "TRANSACTION_STORE_VERSION", "STORE_MANIFEST", "STORE_CONTEXT",
]

#: Version of the on-disk layout.
STORE_VERSION = 1


def write_bundle(bundle: Bundle, directory: str | Path) -> Path:
    """Write every table of ``bundle`` to ``directory`` (created if missing).

    Parameters
    ----------
    bundle : Bundle
    directory : str or Path

    Returns
    -------
    Path
        The directory.

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> d = write_bundle(fm.Bundle(), tempfile.mkdtemp())
    >>> sorted(p.name for p in d.iterdir())[:3]
    ['account_aliases.parquet', 'accounts.parquet', 'goods.parquet']
    >>> read_bundle(d).summary() == fm.Bundle().summary()
    True
    """

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables = {name: getattr(bundle, name) for name in schema.TABLES}
    # Arrow encodes Parquet without holding the GIL, one file on one thread: the largest table (the
    # transactions) on one thread while the others are written on a second
    largest = sorted(tables.items(), key=lambda item: item[1].nbytes, reverse=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for job in [pool.submit(pq.write_table, table, directory / f"{name}.parquet") for name, table in largest]:
            job.result()
    counts = {name: table.num_rows for name, table in tables.items()}
    manifest = {"store_version": STORE_VERSION, "followmoney_version": __version__, "rows": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return directory


def read_bundle(directory: str | Path) -> Bundle:
    """Read a bundle written by :func:`write_bundle`.

    Raises
    ------
    FileNotFoundError
        If ``directory`` has no ``manifest.json``.
    ValueError
        If the manifest's row counts do not match the Parquet files.
    """
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    tables = {}
    for name in schema.TABLES:
        f = directory / f"{name}.parquet"
        tables[name] = pq.read_table(f) if f.exists() else schema.empty(name)
        want = manifest["rows"].get(name, 0)
        if tables[name].num_rows != want:
            raise ValueError(f"{f}: {tables[name].num_rows} rows, manifest says {want}")
    return Bundle(**tables)


# --------------------------------------------------------------------------- the nightly store
#: Version of the on-disk layout of a transaction store (:func:`append_store`).
TRANSACTION_STORE_VERSION = 1
#: The store's manifest file.
STORE_MANIFEST = "store.json"
#: Context tables the store keeps beside the transactions (one Parquet file each, merged on every append).
STORE_CONTEXT = tuple(t for t in schema.TABLES if t not in ("transactions", "observations"))
#: Partition folder of transactions without a timestamp.
NO_DATE = "none"


def _day(ts) -> str:
    return ts.strftime("%Y-%m-%d") if ts is not None else NO_DATE


def store_manifest(store: str | Path) -> dict:
    """The manifest (``store.json``) of a transaction store.

    Parameters
    ----------
    store : str or Path
        A folder written by :func:`append_store`.

    Returns
    -------
    dict
        ``store_version``, ``rows`` (transactions stored), ``high_water_mark`` (latest
        transaction time stored, ISO 8601 UTC, or None), ``appends`` (one entry per
        append: ``seq``, ``at``, ``inputs``, ``records_read``, ``stored``,
        ``duplicates``, ``merged``, ``rejected``, ``late``, ``first``, ``last``).

    Raises
    ------
    followmoney.exceptions.InputError
        If ``store`` is not a transaction store (no ``store.json``) or its manifest
        cannot be read.
    """
    from followmoney.exceptions import InputError

    path = Path(store) / STORE_MANIFEST
    if not path.is_file():
        raise InputError(f"{store}: not a followmoney store (no {STORE_MANIFEST}); create it with `followmoney store append {store} FILES...`")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise InputError(f"{path}: unreadable store manifest") from None
    if not isinstance(manifest, dict) or manifest.get("store_version") != TRANSACTION_STORE_VERSION:
        raise InputError(f"{path}: unknown store version {manifest.get('store_version') if isinstance(manifest, dict) else None!r}")
    return manifest


def _partitions(store: Path) -> list[tuple[str, Path]]:
    """(date, folder) of every partition, dates in order, the rows without a date first."""
    folder = store / "transactions"
    parts = [(p.name.split("=", 1)[1], p) for p in folder.glob("date=*") if p.is_dir()] if folder.is_dir() else []
    return sorted(parts, key=lambda x: (x[0] != NO_DATE, x[0]))


def read_store_transactions(store: str | Path, *, since=None, columns: list[str] | None = None) -> "pa.Table":
    """Transactions of a store, in date order (rows of one day in the order they were appended).

    Parameters
    ----------
    store : str or Path
    since : datetime, optional
        Only rows at or after this instant (timezone-aware, or read as UTC); only the
        date partitions from its day on are opened. Rows without a timestamp are
        returned only when ``since`` is None.
    columns : list of str, optional
        Columns to read; default all.

    Returns
    -------
    pyarrow.Table
        The canonical ``transactions`` schema (or ``columns`` of it).

    Raises
    ------
    followmoney.exceptions.InputError
        If ``store`` is not a transaction store.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    store = Path(store)
    manifest = store_manifest(store)
    since = as_utc(since)
    first_day = _day(since) if since is not None else None
    tables = []
    for day, folder in _partitions(store):
        if first_day is not None and (day == NO_DATE or day < first_day):
            continue
        for f in _part_files(folder, manifest):
            tables.append(read_part(f, columns))
    want = schema.SCHEMAS["transactions"]
    if columns is not None:
        want = pa.schema([want.field(c) for c in columns])
    if not tables:
        return want.empty_table()
    tx = pa.concat_tables(tables, promote_options="default")
    if since is not None:
        tx = tx.filter(pc.greater_equal(tx["timestamp"], pa.scalar(since, want.field("timestamp").type)))
    return tx


def read_part(path: str | Path, columns: list[str] | None = None, *, skip_missing: bool = False) -> "pa.Table":
    """One Parquet file of a store, its columns that are null in every row not read.

    Such a column (most of a benchmark data set's or one bank format's canonical
    columns: at 5 M IBM-format rows, 26 of the 46 columns and 150 bytes of every row's 364)
    is made with :func:`followmoney.core.schema.nulls`, which takes no memory; a column
    is known to be all null from the file's statistics (its null count in every row
    group), and read as usual when they are missing. Nested columns are always read.

    Parameters
    ----------
    path : str or Path
    columns : list of str, optional
        Columns to read, in this order; default all, in the file's order.
    skip_missing : bool, default False
        Leave out the ``columns`` the file does not have (else an error, as pyarrow's).

    Returns
    -------
    pyarrow.Table
        The same values and schema as ``pyarrow.parquet.read_table(path, columns=columns)``.

    Examples
    --------
    >>> import tempfile, pyarrow as pa
    >>> path = Path(tempfile.mkdtemp()) / "part.parquet"
    >>> pq.write_table(pa.table({"a": [1, 2], "b": pa.array([None, None], pa.string())}), path)
    >>> t = read_part(path)
    >>> t.to_pydict(), t.equals(pq.read_table(path))
    ({'a': [1, 2], 'b': [None, None]}, True)
    """
    import pyarrow as pa

    file = pq.ParquetFile(path)
    meta, arrow_schema = file.metadata, file.schema_arrow
    names = arrow_schema.names if columns is None else [c for c in columns if not skip_missing or c in arrow_schema.names]
    empty = set()
    if meta.num_rows and meta.num_row_groups:
        for i in range(meta.num_columns):
            name = meta.row_group(0).column(i).path_in_schema
            if name in arrow_schema.names and not pa.types.is_nested(arrow_schema.field(name).type):
                groups = (meta.row_group(g) for g in range(meta.num_row_groups))
                if all((st := g.column(i).statistics) is not None and st.has_null_count and st.null_count == g.num_rows for g in groups):
                    empty.add(name)
    read = [c for c in names if c not in empty]
    table = file.read(columns=read) if read else None
    fields = [arrow_schema.field(c) for c in names]
    values = [schema.nulls(meta.num_rows, f.type) if f.name in empty else table[f.name] for f in fields]
    return pa.Table.from_arrays(values, schema=pa.schema(fields, metadata=(table.schema if table is not None else arrow_schema).metadata))


def store_chunks(store: str | Path, rows_per_chunk: int = 1_000_000) -> list[tuple[tuple[str, ...], int]]:
    """The store's transaction files in groups of about ``rows_per_chunk`` rows, for tasks that read them.

    The files are in the order :func:`read_store_transactions` reads them (dates in order,
    the rows without a date first), so the groups concatenated are the same table. A
    group is a run of consecutive files; a file is never split.

    Parameters
    ----------
    store : str or Path
    rows_per_chunk : int, default 1,000,000
        A group is closed once it holds at least this many rows.

    Returns
    -------
    list of (tuple of str, int)
        Each group's file paths and its row count (from the Parquet footers).

    Raises
    ------
    followmoney.exceptions.InputError
        If ``store`` is not a transaction store.
    """
    store = Path(store)
    manifest = store_manifest(store)
    groups: list[tuple[tuple[str, ...], int]] = []
    paths: list[str] = []
    rows = 0
    for _, folder in _partitions(store):
        for f in _part_files(folder, manifest):
            paths.append(str(f))
            rows += pq.ParquetFile(f).metadata.num_rows
            if rows >= rows_per_chunk:
                groups.append((tuple(paths), rows))
                paths, rows = [], 0
    if paths:
        groups.append((tuple(paths), rows))
    return groups


def read_store(store: str | Path, *, since=None, transactions: bool = True) -> Bundle:
    """A store as a :class:`~followmoney.Bundle`: its context tables and its transactions
    (all, or those at or after ``since``, see :func:`read_store_transactions`; none
    when ``transactions`` is False).

    The bundle has no ``observations`` (the store keeps each transaction's
    ``observed_in`` places instead).

    Raises
    ------
    followmoney.exceptions.InputError
        If ``store`` is not a transaction store.
    """
    store = Path(store)
    store_manifest(store)
    context = {name: (pq.read_table(store / f"{name}.parquet") if (store / f"{name}.parquet").is_file() else schema.empty(name))
               for name in STORE_CONTEXT}  # fmt: skip
    tx = read_store_transactions(store, since=since) if transactions else schema.empty("transactions")
    return Bundle(transactions=tx, **context)


def as_utc(ts):
    """``ts`` (a datetime or ISO 8601 text; naive means UTC) as an aware UTC datetime; None stays None."""
    from datetime import datetime, timezone

    if ts is None:
        return None
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def _changed_accounts(old: Bundle, merged: Bundle, new: Bundle) -> list[str]:
    """Accounts of the batch whose context (account row, holders, identifiers) the append added or changed."""
    import pyarrow as pa
    import pyarrow.compute as pc

    changed = []
    for name, account_col in (("accounts", "account_id"), ("party_accounts", "account_id"), ("identifiers", "owner_id")):
        t_new, t_old, t_merged = getattr(new, name), getattr(old, name), getattr(merged, name)
        if t_new.num_rows == 0:
            continue
        ids = pc.unique(pc.drop_null(t_new[account_col]))
        if name == "identifiers":
            t_merged = t_merged.filter(pc.fill_null(pc.equal(t_merged["owner_kind"], "account"), False))
        t_merged = t_merged.filter(pc.fill_null(pc.is_in(t_merged[account_col], value_set=ids), False))
        if t_old.num_rows:  # only the stored rows of the batch's accounts are compared
            t_old = t_old.filter(pc.fill_null(pc.is_in(t_old[account_col], value_set=ids), False))
        fresh = pc.invert(pc.is_in(_row_text(t_merged), value_set=_row_text(t_old))) if t_old.num_rows else pa.array(np.ones(t_merged.num_rows, bool))
        accounts = t_merged[account_col].filter(fresh)
        changed.append(pc.filter(accounts, pc.fill_null(pc.not_equal(accounts, ""), False)))  # no id: nothing to re-score
    return sorted(set().union(*(pc.unique(c).to_pylist() for c in changed))) if changed else []


def _row_text(table) -> "pa.Array":
    """Each row of ``table`` as one text, equal exactly when the rows' values are (column-wise, no Python object per row).

    Each value is written as its length, ``:`` and its text (a null as ``-``), so the
    fields cannot run into each other; a column Arrow cannot cast to text (lists) is
    written with ``repr`` of its values.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"a": ["x", "x:1", None, ""], "b": ["1:y", "y", "", None]})
    >>> _row_text(t).to_pylist()
    ['1:x3:1:y', '3:x:11:y', '-0:', '0:-']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text_type = pa.large_string()  # tens of millions of rows are more than 2 GB of text

    def lit(value: str):
        return pa.scalar(value, text_type)

    if table.num_columns == 0:
        return pa.array([""] * table.num_rows, text_type)
    fields = []
    for col in table.columns:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        try:
            text = pc.cast(col, text_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.array([None if v is None else repr(v) for v in col.to_pylist()], text_type)
        sized = pc.binary_join_element_wise(pc.cast(pc.utf8_length(text), text_type), text, lit(":"))
        fields.append(pc.fill_null(sized, lit("-")))
    return pc.binary_join_element_wise(*fields, lit(""))


def append_store(bundle: Bundle, store: str | Path, *, inputs=()) -> dict:
    """Append a bundle's transactions (and context tables) to a date-partitioned Parquet store.

    The store (created if missing) holds ``transactions/date=YYYY-MM-DD/part-<seq>.parquet``
    (one file per append and UTC day; ``date=none`` for rows without a timestamp), one
    Parquet file per context table (accounts, parties, party_accounts, identifiers,
    relations, reports, goods, statements, rejects, load_log, account_aliases; merged on
    their keys on every append, as :meth:`Bundle.concat` does for files read together:
    the first non-null value of a column wins), and ``store.json``. ``observations`` are
    not kept: each transaction keeps the places it was seen in (``observed_in``), and
    payments are consolidated within one append (a payment whose rows arrive in two
    appends is stored twice unless they share a ``txn_id``).
    Appending is idempotent: a transaction whose ``txn_id`` is already stored (the
    same file and place, or the same consolidated payment) counts as a duplicate and is
    not stored again, and context rows already stored are not added again (an account
    reference in ``account_aliases`` stays listed once per canonical id and rule, where
    it was first seen, however many appends repeat it).

    Parameters
    ----------
    bundle : Bundle
        Consolidated tables of the files to add (:func:`followmoney.read`).
    store : str or Path
        The store folder.
    inputs : sequence of str, optional
        Names of the files the bundle was read from (recorded in the manifest).

    Returns
    -------
    dict
        This append's manifest entry: ``seq``, ``records_read`` (transaction records
        read from the files), ``stored``, ``duplicates`` (already in the store or twice
        in the batch), ``merged`` (joined by consolidation in the batch), ``rejected``;
        ``records_read = stored + duplicates + merged + rejected``. ``late``: rows stored
        with a time before the store's previous high-water mark (an incremental run
        with ``--previous`` still scores them); ``first`` / ``last``: the time span of
        the rows stored; ``changed_accounts``: accounts whose context rows were new or
        changed (an incremental run re-scores them).

    Raises
    ------
    followmoney.exceptions.InputError
        If ``store`` exists but is not a transaction store.
    followmoney.exceptions.RunError
        If another append is writing the store (a lock file ``.<store>.lock`` beside it):
        two at once would each write the manifest without the other's entry.
    followmoney.exceptions.ReconciliationError
        If the counts of the append do not add up.

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> d = tempfile.mkdtemp()
    >>> first = append_store(b, d)
    >>> again = append_store(b, d)
    >>> first["stored"] == b.transactions.num_rows, again["stored"], again["duplicates"] == first["stored"]
    (True, 0, True)
    >>> read_store(d).transactions.num_rows == b.transactions.num_rows
    True
    """
    from filelock import FileLock, Timeout

    from followmoney.exceptions import InputError, RunError

    store = Path(store)
    if store.exists() and not (store / STORE_MANIFEST).is_file() and any(store.iterdir()):
        raise InputError(f"{store}: folder holds other files and is not a followmoney store; choose an empty or new folder")
    store.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(store.with_name(f".{store.name}.lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunError(f"{store}: another followmoney append is writing this store") from None
    try:
        return _append(bundle, store, inputs)
    finally:
        lock.release()
        Path(lock.lock_file).unlink(missing_ok=True)


def _append(bundle: Bundle, store: Path, inputs) -> dict:
    """:func:`append_store` under the store's lock."""
    import datetime as _dt
    from dataclasses import replace

    import pyarrow as pa
    import pyarrow.compute as pc

    from followmoney.exceptions import ReconciliationError

    store.mkdir(parents=True, exist_ok=True)
    manifest = store_manifest(store) if (store / STORE_MANIFEST).is_file() else {
        "store_version": TRANSACTION_STORE_VERSION, "followmoney_version": __version__, "rows": 0,
        "high_water_mark": None, "appends": []}  # fmt: skip
    seq = max((a["seq"] for a in manifest["appends"]), default=0) + 1
    tx = schema.conform(bundle.transactions, "transactions") if bundle.transactions.num_rows else schema.empty("transactions")
    log = bundle.load_log.filter(pc.equal(bundle.load_log["table"], "transactions")) if bundle.load_log.num_rows else bundle.load_log
    read_n = sum(log["records_read"].to_pylist()) if log.num_rows else tx.num_rows
    merged_n = sum(log["merged"].to_pylist()) if log.num_rows else 0
    rejected_n = sum(log["rejected"].to_pylist()) if log.num_rows else 0
    # duplicates: twice in the batch, or already in the store (a txn_id is a hash of file and place,
    # so a stored copy is in the same day's partition; every partition is checked for the rows without a date)
    tx = tx.filter(pa.array([not d for d in _first_seen_mask(tx["txn_id"])], pa.bool_()))
    days = pc.strftime(tx["timestamp"], format="%Y-%m-%d", locale="C") if tx.num_rows else pa.array([], pa.string())
    days = pc.fill_null(days, NO_DATE)
    stored_ids = [pq.read_table(f, columns=["txn_id"])["txn_id"] for day in pc.unique(days).to_pylist()
                  for f in _part_files(store / "transactions" / f"date={day}", manifest)]  # fmt: skip
    if stored_ids:  # looked up in Arrow: tens of millions of stored ids, no Python string each
        fresh = pc.invert(pc.is_in(tx["txn_id"], value_set=pa.chunked_array([c for a in stored_ids for c in a.chunks], pa.string())))
        tx, days = tx.filter(fresh), days.filter(fresh)
    duplicates = bundle.transactions.num_rows - tx.num_rows
    if read_n != tx.num_rows + duplicates + merged_n + rejected_n:
        raise ReconciliationError(
            f"{store}: append {seq}: records read {read_n} != stored {tx.num_rows} + duplicates {duplicates}"
            f" + merged {merged_n} + rejected {rejected_n}")  # fmt: skip
    for day in pc.unique(days).to_pylist():
        folder = store / "transactions" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        part = tx.filter(pc.equal(days, day))
        tmp = folder / f".part-{seq}.parquet.tmp"
        pq.write_table(part, tmp)
        tmp.rename(folder / f"part-{seq}.parquet")
    # context tables: merged on their keys, rows already stored not added again
    old = Bundle(**{n: (pq.read_table(store / f"{n}.parquet") if (store / f"{n}.parquet").is_file() else schema.empty(n)) for n in STORE_CONTEXT})
    new = Bundle(**{n: getattr(bundle, n) for n in STORE_CONTEXT})
    merged_context = {}
    for name in STORE_CONTEXT:
        a, b = getattr(old, name), getattr(new, name)
        if b.num_rows == 0:
            continue
        if name in _ROW_KEYS:  # rows already stored (on their key columns) are not added again
            if a.num_rows:
                a, b = schema.conform(a, name), schema.conform(b, name)  # the same columns in the same order
                key = _ROW_KEYS[name] or a.column_names
                b = b.filter(pc.invert(pc.is_in(_row_text(b.select(key)), value_set=_row_text(a.select(key)))))
            merged = pa.concat_tables([a, b], promote_options="default") if b.num_rows else a
        else:
            merged = getattr(Bundle.concat([Bundle(**{name: a}), Bundle(**{name: b})]), name)
        merged_context[name] = merged
    changed = _changed_accounts(old, replace(old, **merged_context), new)
    for name, merged in merged_context.items():
        tmp = store / f".{name}.parquet.tmp"
        pq.write_table(merged, tmp)
        tmp.rename(store / f"{name}.parquet")
    span = pc.min_max(tx["timestamp"]) if tx.num_rows else None
    first = span["min"].as_py() if span is not None else None
    last = span["max"].as_py() if span is not None else None
    hwm = as_utc(manifest["high_water_mark"])
    late = 0
    if hwm is not None and tx.num_rows:
        late = int(pc.sum(pc.less(tx["timestamp"], pa.scalar(hwm, tx.schema.field("timestamp").type))).as_py() or 0)
    entry = {
        "seq": seq,
        "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": [str(i) for i in inputs],
        "records_read": read_n,
        "stored": tx.num_rows,
        "duplicates": duplicates,
        "merged": merged_n,
        "rejected": rejected_n,
        "late": late,
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "changed_accounts": len(changed),
    }
    if changed:
        pq.write_table(pa.table({"account_id": pa.array(changed, pa.string())}), store / f"changed-{seq}.parquet")
    manifest["appends"].append(entry)
    manifest["rows"] += tx.num_rows
    if last is not None and (hwm is None or last > hwm):
        manifest["high_water_mark"] = last.isoformat()
    tmp = store / f".{STORE_MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    tmp.rename(store / STORE_MANIFEST)  # last: an append that is killed before leaves the manifest as it was
    return entry


# Context tables without a key column: a row is not stored twice when these columns (None: all)
# are equal. An account reference stays listed where it was first seen (each append's
# consolidation lists it in that append's first file and place): one row per raw reference,
# canonical id and rule however many appends repeat it.
_ROW_KEYS = {"rejects": None, "load_log": None, "account_aliases": ["raw", "account_id", "rule"]}


def _part_files(folder: Path, manifest: dict) -> list[Path]:
    """The part files of a partition that the manifest lists (an append killed before its
    manifest was written leaves files no reader sees; the next append replaces them)."""
    done = {a["seq"] for a in manifest["appends"]}
    parts = [(int(f.stem.split("-")[1]), f) for f in folder.glob("part-*.parquet")] if folder.is_dir() else []
    return [f for seq, f in sorted(parts) if seq in done]


def _first_seen_mask(ids) -> list[bool]:
    """True for the second and later occurrence of an id."""
    seen: set = set()
    out = []
    for i in ids.to_pylist():
        out.append(i in seen)
        seen.add(i)
    return out


def changed_accounts(store: str | Path, after_seq: int) -> list[str]:
    """Accounts whose context rows appends after ``after_seq`` added or changed (see :func:`append_store`)."""
    done = {a["seq"] for a in store_manifest(store)["appends"]}
    out: set = set()
    for f in Path(store).glob("changed-*.parquet"):
        seq = int(f.stem.split("-")[1])
        if seq > after_seq and seq in done:
            out.update(pq.read_table(f)["account_id"].to_pylist())
    return sorted(out)
