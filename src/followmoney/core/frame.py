"""The frame every detector reads: canonical transactions as one pandas row each.

Rules, features and models all start from :func:`prepare_transactions`, so its
columns are the detectors' shared contract.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema, timing

__all__ = ["prepare_transactions", "time_order", "in_time_order", "payroll", "isin", "take_rows", "account_codes", "with_codes", "CODE_COLUMNS", "OPTIONAL_COLUMNS", "FRAME_INPUTS", "PAYROLL_WORDS", "NAIVE_LOCAL_SOURCES"]

#: Sources whose times without a UTC offset are local to the reporting FIU (goAML dateTime).
NAIVE_LOCAL_SOURCES = ("goaml",)


#: The frame's integer code column of each account column (see :func:`account_codes`).
CODE_COLUMNS = {"from_account": "from_code", "to_account": "to_code"}

#: Optional transaction columns passed through to rules when the source has them.
OPTIONAL_COLUMNS = (
    "from_party",
    "to_party",
    "description",
    "counterparty_name",
    "merchant_category",
    "country_from",
    "country_to",
    "location_id",
    "location_region",
    "conductor_party",
    "is_payroll",
    "route_countries",
)

#: Every ``transactions`` column :func:`prepare_transactions` reads: the frame is the same
#: from a table of only these (a task that only prepares a frame reads no other column).
FRAME_INPUTS = (
    "txn_id", "source", "source_ref", "source_seq", "timestamp", "tz_offset_minutes", "time_precision", "amount",
    "currency", "from_account", "to_account", "channel", "quality_flags", *OPTIONAL_COLUMNS,
)  # fmt: skip


def prepare_transactions(transactions: pa.Table, timezone: str = "UTC", accounts: pa.Table | None = None) -> pd.DataFrame:
    """The frame rules run on: one row per transaction with a timestamp, in time order.

    Rows of one timestamp keep the source's own order (``source_seq``: statement
    position, line, document order), never an order from a hashed id; rows of
    different files at the same time are simultaneous (their relative order carries
    no meaning, and no detector may depend on it).

    Parameters
    ----------
    transactions : pyarrow.Table
        Canonical ``transactions`` table (extra columns such as ``location_id``,
        ``conductor_party`` or ``is_payroll`` are passed through when present).
    timezone : str, default "UTC"
        IANA zone for local clock time where the source states no UTC offset
        (the jurisdiction's zone, for night-time rules).
    accounts : pyarrow.Table, optional
        Canonical ``accounts``: adds ``from_institution`` / ``to_institution``.

    Returns
    -------
    pandas.DataFrame
        Columns ``txn_id``, ``t`` (int64 µs since the epoch, UTC), ``local_hour``
        (int8, 0–23) and ``local_day`` (int32, days since 1970-01-01) on the local clock: the
        source's stated UTC offset, else ``timezone``,
        ``amount_cents`` (nullable Int64 thousandths of ``currency``'s unit,
        :data:`followmoney.core.units.MONEY_SCALE`; exact for every ISO 4217 minor unit;
        null for negative or invalid amounts, which are excluded from sums), ``currency``,
        ``time_precision`` (instant / minute / day), ``has_time`` (bool: the source gives a
        time of day; False for date-only rows, whose ``local_hour`` is 0 and means nothing),
        ``source_seq``,
        ``from_account``, ``to_account``, ``from_code`` / ``to_code`` (int32: the
        account's position among the distinct account ids of both sides in text order,
        -1 for none; :func:`account_codes`), ``sender`` / ``receiver`` (account, else
        party), ``channel``, ``self_transfer`` (bool), ``payroll`` (bool, wage payments:
        :func:`payroll`), ``source_ref``, and those of
        :data:`OPTIONAL_COLUMNS` the table has, and ``from_institution`` /
        ``to_institution`` when ``accounts`` is given. Rows without a timestamp cannot be
        placed in a window and are left out (they stay in the transactions table).
    """
    ts = transactions["timestamp"]
    tx = transactions.filter(pc.is_valid(ts)) if ts.null_count else transactions  # no copy when every row has a time
    cents = schema.to_cents(tx["amount"])
    cents = pc.if_else(pc.less(cents, 0), pa.scalar(None, pa.int64()), cents)
    flagged_self = schema.has_flag(tx["quality_flags"], "self_transfer")
    same = pc.fill_null(pc.equal(tx["from_account"], tx["to_account"]), False)
    cols = {
        "txn_id": tx["txn_id"],
        "t": tx["timestamp"].cast(pa.int64()),
        "amount_cents": cents,
        "currency": tx["currency"],
        "from_account": tx["from_account"],
        "to_account": tx["to_account"],
        "sender": pc.coalesce(tx["from_account"], tx["from_party"]),
        "receiver": pc.coalesce(tx["to_account"], tx["to_party"]),
        "channel": tx["channel"],
        "self_transfer": pc.or_(flagged_self, same),
        "source_ref": tx["source_ref"],
        "time_precision": timing.precision_of(tx),
        "source_seq": tx["source_seq"] if "source_seq" in tx.column_names else timing.source_sequence(tx["source_ref"]),
    }
    for c in OPTIONAL_COLUMNS:
        if c in tx.column_names and c not in cols:
            cols[c] = tx[c]
    names, cols["from_code"], cols["to_code"] = _account_codes(tx["from_account"], tx["to_account"])
    clock = _clock(cols["t"], tx["tz_offset_minutes"], cols["time_precision"], _naive_local(tx), timezone)
    cols["t"] = clock.pop("t")
    if accounts is not None and accounts.num_rows:
        for side in ("from", "to"):
            cols[f"{side}_institution"] = _institution(cols[f"{side}_code"], names, accounts)
    same_as = _same_columns(cols, tx)
    table = pa.table({c: v for c, v in cols.items() if c not in same_as})
    order = time_order(cols["t"].to_numpy(), pc.fill_null(cols["source_seq"], 0).to_numpy(), cols["txn_id"])
    df = _in_order(table, order).to_pandas()
    df["amount_cents"] = df["amount_cents"].astype("Int64")
    late = sum(c.endswith("_institution") for c in df.columns)  # they stay the last columns
    for c in ("has_time", "payroll", "local_hour", "local_day"):
        df.insert(len(df.columns) - late, c, clock[c][order] if c in clock else payroll(df).to_numpy(bool))
    for i, c in enumerate(c for c in cols if c in df.columns or c in same_as):  # in their place; shared, copied only when a detector writes to it
        if c in same_as:
            df.insert(i, c, df[same_as[c]])
    return df


def _account_codes(from_account: pa.ChunkedArray, to_account: pa.ChunkedArray) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The distinct account ids of both sides in text (UTF-8 byte) order, and each side's account as its
    position among them (int32, -1 for none): the account text is hashed once per run, not once per rule
    (seconds at millions of rows)."""
    both = pa.chunked_array([*from_account.chunks, *to_account.cast(from_account.type).chunks], type=from_account.type)
    encoded = pc.dictionary_encode(both)  # one dictionary for every chunk
    if not encoded.num_chunks:
        return pa.array([], from_account.type), pa.array([], pa.int32()), pa.array([], pa.int32())
    names = encoded.chunk(0).dictionary
    in_order = pc.array_sort_indices(names).to_numpy()
    rank = np.empty(len(names) + 1, np.int32)
    rank[in_order] = np.arange(len(names), dtype=np.int32)
    rank[-1] = -1  # a null id
    at = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False) for c in encoded.chunks]).astype(np.int64)
    codes = rank[at]
    return names.take(pa.array(in_order)), pa.array(codes[: len(from_account)]), pa.array(codes[len(from_account) :])


def _naive_local(tx: pa.Table) -> np.ndarray:
    """Rows whose times are local to the reporting FIU: no UTC offset, from a :data:`NAIVE_LOCAL_SOURCES` source."""
    naive = pc.and_(pc.is_null(tx["tz_offset_minutes"]), pc.is_in(tx["source"], value_set=pa.array(NAIVE_LOCAL_SOURCES)))
    return pc.fill_null(naive, False).to_numpy(zero_copy_only=False).astype(bool)


def _clock(t: pa.ChunkedArray, offset: pa.ChunkedArray, precision: pa.ChunkedArray, naive_local: np.ndarray, timezone: str) -> dict:
    """The rows' times on the local clock, in source order: ``t`` (date-only rows and naive local times made
    instants in ``timezone``), ``has_time``, ``local_hour`` and ``local_day`` (see :func:`prepare_transactions`)."""
    t = t.to_numpy().copy()
    utc = pd.to_datetime(pd.Series(t), unit="us", utc=True)
    offset = offset.to_pandas()
    zone_wall = utc.dt.tz_convert(timezone).dt.tz_localize(None)
    stated_wall = utc.dt.tz_localize(None) + pd.to_timedelta(offset.fillna(0).astype("int64"), unit="min")
    # goAML dateTime values without an offset are the reporting FIU's local time, as written
    wall = stated_wall.where(offset.notna() | naive_local, zone_wall)
    day = pc.fill_null(pc.equal(precision, "day"), False).to_numpy(zero_copy_only=False).astype(bool)
    # a date-only row is stored at the start of the day the source wrote (local midnight with its
    # offset, else 00:00 UTC): that date is its local day in every time zone
    wall = wall.where(~day, stated_wall)
    anchor = day | naive_local
    if anchor.any():
        # date-only rows of one day, from any source, all start at the same instant: local midnight of
        # that date in ``timezone`` (so they are simultaneous); naive local times become instants there
        local = wall[anchor].dt.floor("D").where(day[anchor], wall[anchor])
        inst = pd.DatetimeIndex(local).tz_localize(timezone, ambiguous=np.zeros(int(anchor.sum()), bool), nonexistent="shift_forward")
        t[anchor] = inst.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]").astype("int64")
    return {
        "t": pa.array(t, pa.int64()),
        "has_time": ~day,
        "local_hour": wall.dt.hour.to_numpy().astype("int8"),  # as narrow as the values: 45 MB less at 5 M rows
        "local_day": wall.to_numpy().astype("datetime64[D]").astype("int32"),  # days since 1970, +/- 5.8 million years
    }


def _institution(codes: pa.Array, names: pa.Array, accounts: pa.Table) -> pa.Array:
    """Each row's account's ``institution`` (the first ``accounts`` row of that id; null when none), from the
    rows' account ``codes`` into ``names`` (:func:`_account_codes`): each distinct id is looked up once.

    Dictionary-encoded (a pandas categorical in the frame): a few institutions over millions of rows take
    4 bytes a row, not the text and its 8-byte offset (0.1 GB less at 5 M transactions)."""
    ids = accounts["account_id"].combine_chunks()
    by_code = pc.take(accounts["institution"], pc.index_in(names, value_set=ids.cast(names.type), skip_nulls=True))
    at = codes.to_numpy(zero_copy_only=False)
    return pc.take(pc.dictionary_encode(by_code), pa.array(at, mask=at < 0))


#: More breaks than this in a nearly sorted order and the rows are taken one by one, not sliced.
_MAX_SLICES = 4096


def _in_order(table: pa.Table, order: np.ndarray) -> pa.Table:
    """``table.take(order)``; rows already in order are not copied, and an order with few breaks (a file
    listed by time, a few rows out of place) is made of zero-copy slices."""
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    if not len(breaks) and (not len(order) or order[0] == 0):
        return table
    if len(breaks) >= _MAX_SLICES:
        return _take(table, pa.array(order))
    bounds = np.r_[0, breaks, len(order)].tolist()
    return pa.concat_tables([table.slice(int(order[a]), b - a) for a, b in zip(bounds[:-1], bounds[1:])])


def _take(table: pa.Table, indices: pa.Array) -> pa.Table:
    """``table.take(indices)`` for a permutation, keeping what is shared: a column that no reordering changes
    (all null, or one value throughout) is kept as it is, and columns with the same buffers (the adapters'
    shared all-null columns) are taken once. A plain ``take`` gives each column buffers of its own: at 5 M
    IBM rows 1.9 GB for a table of 1.1 GB."""
    keys: list[tuple | None] = []
    to_take: dict[tuple, pa.ChunkedArray] = {}
    for col in table.columns:
        key = None if _same_in_any_order(col) else tuple((c.offset, len(c), *(b.address if b is not None else 0 for b in c.buffers())) for c in col.chunks)
        keys.append(key)
        if key is not None:
            to_take.setdefault(key, col)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Arrow's take lets go of the GIL: columns at once
        taken = dict(zip(to_take, pool.map(lambda col: col.take(indices), to_take.values())))
    return pa.Table.from_arrays([col if key is None else taken[key] for col, key in zip(table.columns, keys)], schema=table.schema)


def _same_in_any_order(col: pa.ChunkedArray) -> bool:
    """The column is all null, or holds one value and no null (text, numbers, booleans, times)."""
    if col.null_count == len(col):
        return True
    t = col.type
    if col.null_count or not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)
                              or pa.types.is_decimal(t) or pa.types.is_temporal(t)):  # fmt: skip
        return False
    if len(col) > 1 and col[0] != col[len(col) // 2]:  # two values differ: no pass over millions of rows
        return False
    lo_hi = pc.min_max(col)
    return lo_hi["min"] == lo_hi["max"]


#: Optional columns that may be one shared all-null column: none is read while the frame is prepared.
_SHAREABLE = frozenset(OPTIONAL_COLUMNS) - {"description", "is_payroll"}


def _same_columns(cols: dict, tx: pa.Table) -> dict[str, str]:
    """Columns of the frame equal to an earlier one: column -> that column.

    ``sender`` / ``receiver`` are the accounts where the source names no parties, and all-null
    optional text columns (:data:`_SHAREABLE`) are alike; the frame holds each such column once (measured on
    1 M IBM-AML rows: 90 MB of the 300 MB frame were such copies).
    """
    same = {}
    for col, side in (("sender", "from"), ("receiver", "to")):
        if tx[f"{side}_party"].null_count == tx.num_rows:
            same[col] = f"{side}_account"
    first_null: dict[pa.DataType, str] = {}
    for c, v in cols.items():
        if c not in _SHAREABLE or not pa.types.is_string(v.type) or not len(v) or v.null_count != len(v):
            continue
        if v.type in first_null:
            same[c] = first_null[v.type]
        else:
            first_null[v.type] = c
    return same


def time_order(t: np.ndarray, seq: np.ndarray, txn_id: pd.Series) -> np.ndarray:
    """Stable order by time, source position, then txn id as text (Arrow's sort: UTF-8 byte order is code-point order).

    Parameters
    ----------
    t, seq : ndarray of int64
        Times (µs, UTC) and source positions.
    txn_id : pandas.Series or pyarrow.Array or pyarrow.ChunkedArray
        Ids, compared as text (ids of mixed types: NumPy's text order).

    Returns
    -------
    ndarray of int64
        Row positions in that order.

    Examples
    --------
    >>> time_order(np.array([5, 1, 5]), np.zeros(3, np.int64), pd.Series(["b", "z", "a"])).tolist()
    [1, 2, 0]
    """
    try:
        ids = (txn_id if isinstance(txn_id, pa.ChunkedArray | pa.Array) else pa.array(txn_id, from_pandas=True)).cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # ids of mixed types
        ids = pa.array(txn_id.to_numpy(str), pa.string())
    if _in_time_order(t, seq, ids):  # a file listed by time: no sort
        return np.arange(len(t), dtype=np.int64)
    keys = pa.table({"t": t, "seq": seq, "id": ids})
    return pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("seq", "ascending"), ("id", "ascending")]).to_numpy()


def _in_time_order(t: np.ndarray, seq: np.ndarray, ids: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the rows are in (``t``, ``seq``, ``ids`` as text) order already: one pass over the times and
    positions, the ids compared only where both tie (a sort of millions of rows with a text key costs seconds).

    Examples
    --------
    >>> _in_time_order(np.array([1, 5, 5]), np.array([0, 2, 2]), pa.array(["z", "a", "b"]))
    True
    >>> _in_time_order(np.array([1, 5, 5]), np.array([0, 2, 2]), pa.array(["z", "b", "a"]))
    False
    """
    t, seq = np.asarray(t), np.asarray(seq)
    if len(t) < 2:
        return True
    if (t[1:] < t[:-1]).any():
        return False
    tie = t[1:] == t[:-1]
    if (tie & (seq[1:] < seq[:-1])).any():
        return False
    tie &= seq[1:] == seq[:-1]
    at = np.flatnonzero(tie)
    del tie
    if not len(at):
        return True
    before, after = pc.take(ids, pa.array(at)), pc.take(ids, pa.array(at + 1))
    return pc.any(pc.less(after, before)).as_py() is not True


def in_time_order(transactions: pa.Table) -> pa.Table:
    """The canonical ``transactions`` table with its rows in time order, as :func:`time_order` orders them.

    Order: ``timestamp`` (UTC), then ``source_seq`` (null as 0), then ``txn_id`` as text; rows
    without a timestamp last, in their order. :func:`prepare_transactions` orders its frame
    by the local clock, which differs only for date-only rows and naive local times: on a
    table in this order the frame's text columns are zero-copy slices of the table's (at
    5 M IBM rows about 0.9 GB not copied), where a table in file order is copied whole.

    Parameters
    ----------
    transactions : pyarrow.Table
        With columns ``timestamp``, ``source_seq`` and ``txn_id`` (any others are carried).

    Returns
    -------
    pyarrow.Table
        The same rows and columns; the table itself when already in order.

    Examples
    --------
    >>> t = pa.table({"txn_id": ["b", "z", "a", "n"], "source_seq": pa.array([0, 0, None, 0], pa.int64()),
    ...               "timestamp": pa.array([5, 1, 5, None], pa.timestamp("us", tz="UTC"))})
    >>> in_time_order(t)["txn_id"].to_pylist()
    ['z', 'a', 'b', 'n']
    """
    keys = pa.table({
        "t": transactions["timestamp"].cast(pa.int64()),
        "seq": pc.fill_null(transactions["source_seq"], 0),
        "id": transactions["txn_id"].cast(pa.string()),
    })  # fmt: skip
    if not keys["t"].null_count and _in_time_order(keys["t"].to_numpy(), keys["seq"].to_numpy(), keys["id"]):
        return transactions
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("seq", "ascending"), ("id", "ascending")])  # nulls last
    return _in_order(transactions, order.to_numpy())


#: Words that mark a payment as wages when the source has no ``is_payroll`` column.
PAYROLL_WORDS = re.compile(r"\b(?:salary|salaries|wage|wages|payroll|gaji|upah|sahod|sueldo|lohn|gehalt)\b", re.I)


def payroll(frame: pd.DataFrame) -> pd.Series:
    """Wage payments: ``is_payroll`` where the source states it, else payroll words in ``description``.

    Examples
    --------
    >>> f = pd.DataFrame({"description": ["SALARY MAY", "rent", None], "to_account": ["A", "B", "C"]})
    >>> payroll(f).tolist()
    [True, False, False]
    """
    if "is_payroll" in frame and frame["is_payroll"].notna().any():
        return frame["is_payroll"].fillna(False).astype(bool)
    desc = frame["description"] if "description" in frame else pd.Series("", index=frame.index)
    return desc.fillna("").str.contains(PAYROLL_WORDS) & frame["to_account"].notna()


def take_rows(data: pd.Series | pd.DataFrame, rows) -> pd.Series | pd.DataFrame:
    """``data.loc[rows]`` for some rows of a prepared frame (or one of its columns), at the cost of those rows.

    pandas takes rows of an Arrow-backed column (pandas 3's text) with Arrow's ``take``, which
    first joins a column's chunks into one array: a copy of the whole column per call. A frame
    prepared from a table in many chunks (a file in time order, read in blocks; a store's
    Parquet parts) has its text in as many chunks: at 5 M rows in 27 chunks a call took 8 ms,
    and HT-08's loop over its episodes 7 s instead of 0.9 s. Here such a column's rows are
    taken from each chunk they fall in. Values, dtypes, order and index are those of ``.loc``.

    Parameters
    ----------
    data : pandas.Series or pandas.DataFrame
        A prepared frame or one of its columns. Its index labels are row positions (a
        ``RangeIndex`` from 0, as :func:`prepare_transactions` makes it); for any other
        index this is ``data.loc[rows]``.
    rows : array-like of int
        Index labels, any order, repeats allowed.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``data.loc[rows]``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> col = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([["a", "b"], ["c", None], ["e"]])))
    >>> take_rows(col, [4, 0, 2, 0]).tolist()
    ['e', 'a', 'c', 'a']
    """
    index = data.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        return data.loc[rows]
    positions = np.asarray(rows, np.int64)
    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique or not any(_chunked(data[c]) for c in data.columns):
            return data.iloc[positions]
        return pd.DataFrame({c: take_rows(data[c], positions).array for c in data.columns}, index=index[positions])
    chunked = _chunked(data)
    return data.iloc[positions] if chunked is None else _take_chunked(data, chunked, positions)


def _chunked(column: pd.Series) -> list[int] | None:
    """The lengths of an Arrow-backed column's chunks, where it has more than one; else None."""
    values = column.array
    if not isinstance(values, pd.arrays.ArrowExtensionArray):
        return None
    chunks = values.__arrow_array__()
    if not isinstance(chunks, pa.ChunkedArray) or chunks.num_chunks < 2:
        return None
    return [len(c) for c in chunks.chunks]


def _take_chunked(column: pd.Series, lengths: list[int], positions: np.ndarray) -> pd.Series:
    """``column.iloc[positions]``: each chunk's rows taken from a zero-copy slice holding that chunk alone."""
    if not len(positions):
        return column.iloc[positions]
    bounds = np.r_[0, np.cumsum(lengths)]
    chunk = np.searchsorted(bounds, positions, side="right") - 1
    order = np.argsort(chunk, kind="stable")
    parts, start = [], 0
    for c, n in zip(*np.unique(chunk[order], return_counts=True)):
        mine = positions[order[start : start + n]] - bounds[c]
        parts.append(column.iloc[bounds[c] : bounds[c + 1]].iloc[mine])
        start += n
    taken = pd.concat(parts) if len(parts) > 1 else parts[0]
    return taken.iloc[np.argsort(order, kind="stable")]  # back to the order asked for


def isin(column: pd.Series, values) -> np.ndarray:
    """Which rows of ``column`` hold one of ``values``: ``column.isin(values)`` as a NumPy bool array.

    Text held by Arrow (pandas 3's string columns) is looked up in Arrow: pandas first makes a
    Python object of each of the ``values``, which takes seconds for the 10^5 payroll payers
    or merchants of a national data set. Null matches a null among ``values``, as in pandas.

    Parameters
    ----------
    column : pandas.Series
        A column of the frame.
    values : list-like
        The values looked for.

    Returns
    -------
    numpy.ndarray
        bool, one per row of ``column``.

    Examples
    --------
    >>> isin(pd.Series(["a", "b", None], dtype="string[pyarrow]"), pd.Index(["b", "c"])).tolist()
    [False, True, False]
    """
    data = column.array
    if isinstance(data, pd.arrays.ArrowExtensionArray):
        chunks = data.__arrow_array__()
        if pa.types.is_string(chunks.type) or pa.types.is_large_string(chunks.type):
            wanted = pa.array(np.asarray(values, dtype=object), type=chunks.type, from_pandas=True)
            return pc.fill_null(pc.is_in(chunks, value_set=wanted), False).to_numpy().astype(bool)
    return column.isin(values).to_numpy(bool)


def with_codes(frame: pd.DataFrame, *columns: str) -> list[str]:
    """The ``columns`` the frame has, followed by the code column of each account column among them
    (:data:`CODE_COLUMNS`): what a rule selects so that :func:`account_codes` and ``episodes``
    read the codes rather than hash the account text again.

    Examples
    --------
    >>> f = pd.DataFrame(columns=["t", "from_account", "from_code", "receiver"])
    >>> with_codes(f, "t", "from_account", "receiver", "currency")
    ['t', 'from_account', 'receiver', 'from_code']
    """
    have = [c for c in columns if c in frame.columns]
    return have + [CODE_COLUMNS[c] for c in have if CODE_COLUMNS.get(c) in frame.columns]


def account_codes(*parts: tuple, names: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer codes for the accounts of several frame columns taken together, in the text order of their ids.

    The same as ``pandas.factorize(pandas.concat([f[column] for f, column in parts]), sort=True)``,
    but read from the prepared frame's code columns (:data:`CODE_COLUMNS`) where the parts have
    them: the account text was hashed once when the frame was prepared, and hashing it again
    in each rule costs seconds at millions of rows. Parts without their code column (a frame
    built by hand) are factorized from the text.

    Parameters
    ----------
    *parts : tuple of (pandas.DataFrame, str) or (pandas.DataFrame, str, numpy.ndarray)
        Rows of a prepared frame (any subset, any order), one of its account columns
        (``from_account`` or ``to_account`` for the codes to be used) and, optionally, the
        positions (``iloc``) of the rows to take, in that order.
    names : bool, default True
        Whether to return the ids as well (False: None in their place, for a caller that
        only groups by the codes).

    Returns
    -------
    codes : numpy.ndarray
        int64, one per row of the parts in turn: the account's position in ``names``, -1 where
        the account is null.
    names : numpy.ndarray or None
        The distinct account ids of the parts, in ascending text order (object array).

    Examples
    --------
    >>> f = pd.DataFrame({"from_account": ["b", "a", None], "to_account": ["c", "b", "a"],
    ...                   "from_code": [1, 0, -1], "to_code": [2, 1, 0]})
    >>> codes, names = account_codes((f, "from_account"), (f, "to_account", np.array([0])))
    >>> codes.tolist(), names.tolist()
    ([1, 0, -1, 2], ['a', 'b', 'c'])
    """
    parts = [(f, column, np.arange(len(f)) if not rest else np.asarray(rest[0], np.int64)) for f, column, *rest in parts]
    if not all(CODE_COLUMNS.get(column) in f.columns for f, column, _ in parts):
        text = pd.concat([f[column].iloc[at] for f, column, at in parts], ignore_index=True) if parts else pd.Series([], dtype=object)
        codes, ids = pd.factorize(text, sort=True)
        return codes.astype(np.int64), np.asarray(ids, dtype=object) if names else None
    raw = np.concatenate([f[CODE_COLUMNS[column]].to_numpy(np.int64)[at] for f, column, at in parts]) if parts else np.zeros(0, np.int64)
    known = raw >= 0
    present = np.zeros(int(raw.max()) + 1 if known.any() else 0, bool)
    present[raw[known]] = True
    dense = np.cumsum(present) - 1  # the codes of the accounts present, renumbered from 0 in the same order
    codes = np.full(len(raw), -1, np.int64)
    codes[known] = dense[raw[known]]
    if not names:
        return codes, None
    first = np.full(int(present.sum()), -1, np.int64)  # a row holding each account
    rows = np.flatnonzero(known)[::-1]
    first[codes[rows]] = rows
    ids = np.empty(len(first), dtype=object)
    start = 0
    for f, column, at in parts:
        mine = (first >= start) & (first < start + len(at))
        ids[mine] = f[column].iloc[at[first[mine] - start]].to_numpy(object)
        start += len(at)
    return codes, ids
