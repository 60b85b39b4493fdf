"""The edge table the graph rules read, and the helpers that turn their matches into findings.

Every rule reads one *edge table* (:class:`_Edges`): the prepared transactions that move
money between two different accounts (``from_account`` and ``to_account`` both set, not
flagged as a self-transfer, ``amount_cents`` > 0), kept in (t, txn_id) order. Card
purchases, ATM and cash rows are not account-to-account flows and are left out; so are
salary credits when the frame has an ``is_payroll`` column. Accounts and currencies
become integer codes. One scoring run builds it once (:func:`_shared_edges`).

The dense structures (ML-10, ML-11, and ML-09 without time order) see it through
epoch-aligned windows (:func:`_window_pairs`). Every rule reports through the same
helpers: one finding per subject account and episode (:func:`_pick_per_episode`),
evidence in edge order (:func:`_evidence`), the finding table (:func:`_findings`) and
scores that are 0.5 at the threshold (:func:`_count_score`, :func:`_ratio_score`).
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core._timeline import member, packable, packed_key
from followmoney.core.frame import account_codes, isin, time_order
from followmoney.core.units import DAY_US
from followmoney.detect.rules._registry import RuleContext, shared_lock, shared_value

_FINDING_COLUMNS = ["subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids", "score", "facts"]
#: Channels that are purchases or cash, not account-to-account flows: left out of every graph rule.
_NOT_FLOWS = frozenset({"card", "atm", "cash_deposit", "cash_withdrawal"})
#: The columns every graph rule needs.
_REQUIRES = ("from_account", "to_account", "amount_cents")
#: Optional per-transaction attributes of each side that ML-12 uses to check institutions / countries.
NODE_ATTRIBUTES = {"institution": ("from_institution", "to_institution"), "country": ("country_from", "country_to")}


@dataclass(frozen=True)
class _Edges:
    """Money-moving transactions as integer arrays, in (t, txn_id) order.

    ``src``/``dst`` index ``accounts``, ``cur`` indexes ``currencies``; ``amt`` is in
    thousandths of the currency unit; ``row`` is the position (``iloc``) in the input frame;
    ``txn_id[edges]`` gives the ids of those edges.
    """

    txn_id: _Ids
    row: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    cur: np.ndarray
    t: np.ndarray
    amt: np.ndarray
    accounts: np.ndarray
    currencies: np.ndarray
    #: The row carries a date but no time of day (``time_precision`` day): its order among
    #: other date-only rows of that date is unknown, so time-respecting paths may take them
    #: in any order (equal times allowed between date-only hops).
    day: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    @property
    def n_cur(self) -> int:
        return max(len(self.currencies), 1)

    def out_key(self) -> np.ndarray:
        """(paying account, currency) as one int64 key."""
        return self.src * self.n_cur + self.cur

    def in_key(self) -> np.ndarray:
        """(receiving account, currency) as one int64 key."""
        return self.dst * self.n_cur + self.cur


def _out_of_order(t: np.ndarray, txn_id: pd.Series) -> bool:
    """Whether rows with these times and ids are not in (t, txn_id) order; text ids are compared in Arrow."""
    if (t[1:] < t[:-1]).any():
        return True
    tie = np.flatnonzero(t[1:] == t[:-1])
    if not len(tie):
        return False
    if txn_id.dtype != object:
        ids = pa.array(txn_id, from_pandas=True)
        if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
            return bool(pc.any(pc.less(ids.take(tie + 1), ids.take(tie))).as_py())
    ids = txn_id.to_numpy(object)
    return bool((ids[tie + 1] < ids[tie]).any())


def _own_order(frame: pd.DataFrame) -> np.ndarray | None:
    """Positions of ``frame``'s rows in (t, txn_id) order; None when they already are in it."""
    t = frame["t"].to_numpy(np.int64)
    return time_order(t, np.zeros(len(t), np.int64), frame["txn_id"]) if _out_of_order(t, frame["txn_id"]) else None


def _sorted_positions(frame: pd.DataFrame, order: np.ndarray | None = None) -> np.ndarray:
    """Positions (``iloc``) of ``frame``'s rows in (t, txn_id) order.

    ``order`` (from :func:`_time_id_order`) is that order of the prepared frame ``frame``'s rows
    were cut from (its index labels are positions there, ascending): the rows are put in order
    without comparing their ids again. Without it, rows are checked and sorted.
    """
    labels = frame.index.to_numpy()
    if order is not None and len(labels) and (labels[1:] > labels[:-1]).all() and 0 <= labels[0] and labels[-1] < len(order):
        if len(labels) == len(order):  # every row
            return order
        keep = np.zeros(len(order), bool)  # the prepared frame's order, restricted to these rows
        keep[labels] = True
        return (np.cumsum(keep) - 1)[order[keep[order]]]
    own = _own_order(frame)
    return np.arange(len(frame)) if own is None else own


class _Ids:
    """The edges' txn ids, made Python text only for the edges asked for: ``ids[edges]`` (positions,
    a bool mask or a slice) is an object array. Millions of ids as Python objects cost seconds and gigabytes.
    ``column`` is the frame's column, or an Arrow array (the edge table of :func:`edges_from_pieces`)."""

    def __init__(self, column: pd.Series | pa.Array, pos: np.ndarray, mapped: mmap.mmap | None = None):
        self._column, self._pos, self._mapped = column, pos, mapped

    def __len__(self) -> int:
        return len(self._pos)

    def take(self, at: np.ndarray) -> _Ids:
        """The ids of the edges ``at`` (positions), as a table of those edges holds them."""
        return _Ids(self._column, self._pos[at], self._mapped)

    def release_pages(self) -> None:
        """Where the ids are memory-mapped (:func:`_mapped_column`), drop the pages read so far from this
        process's resident memory; they stay in the system's file cache and are read again when asked for.
        The kernel maps a file's cached pages in large blocks: the ids cited by one rule's findings, read from
        all over the file, made every page of it resident (0.07 GB at 5 M IBM rows, 0.8 GB at 50 M)."""
        if self._mapped is not None and hasattr(mmap, "MADV_DONTNEED"):  # POSIX systems
            self._mapped.madvise(mmap.MADV_DONTNEED)

    def __getitem__(self, at) -> np.ndarray:
        if not isinstance(at, slice):
            at = np.asarray(at)
            at = np.flatnonzero(at) if at.dtype == bool else at
        if isinstance(self._column, pa.Array):
            return self._column.take(pa.array(self._pos[at], pa.int64())).to_numpy(zero_copy_only=False)
        return self._column.iloc[self._pos[at]].to_numpy(object)


def _flow_rows(frame: pd.DataFrame, among: np.ndarray | None = None) -> np.ndarray:
    """A bool per row of a prepared frame: the rows :func:`_edges` may keep (both accounts, a positive
    amount; no self-transfer, card, ATM or cash row, no salary credit), among ``among`` where given.
    :func:`_edges` also leaves out the rows with the same account on both sides."""
    ok = np.ones(len(frame), bool) if among is None else np.asarray(among, bool).copy()
    ok &= frame["from_account"].notna().to_numpy(bool) & frame["to_account"].notna().to_numpy(bool)
    ok &= frame["amount_cents"].notna().to_numpy(bool) & (frame["amount_cents"].to_numpy(np.int64, na_value=0) > 0)
    if "self_transfer" in frame.columns:
        ok &= ~frame["self_transfer"].fillna(False).astype(bool).to_numpy()
    if "channel" in frame.columns:
        ok &= ~isin(frame["channel"], sorted(_NOT_FLOWS))
    if "is_payroll" in frame.columns:  # optional: salary credits are not laundering hops
        ok &= ~frame["is_payroll"].fillna(False).astype(bool).to_numpy()
    return ok


def _edges(frame: pd.DataFrame, order: np.ndarray | None = None, among: np.ndarray | None = None) -> _Edges:
    """Build the edge table from a prepared frame (see the module notes for what is kept); ``order``
    as for :func:`_sorted_positions`; ``among``, a bool per row, leaves out the rows where it is False.
    Only the kept rows' text is read: the frame is not copied."""
    ok = _flow_rows(frame, among)
    pos = _sorted_positions(frame, order)
    pos = pos[ok[pos]]  # the kept rows, in (t, txn_id) order
    n = len(pos)
    codes, accounts = account_codes((frame, "from_account", pos), (frame, "to_account", pos))
    src, dst = codes[:n], codes[n:]
    keep = src != dst  # the same account on both sides moves no money
    if not keep.all():
        pos, src, dst = pos[keep], src[keep], dst[keep]
        used = np.unique(np.concatenate([src, dst]))  # accounts seen only on such rows are not in the table
        src, dst, accounts = np.searchsorted(used, src), np.searchsorted(used, dst), accounts[used]
    # the currencies of the kept rows, numbered in text order among themselves: the column's codes renumbered
    # (not the text of millions of rows taken and hashed again)
    cur, currencies = pd.factorize(frame["currency"], sort=True, use_na_sentinel=False)
    used = np.unique(cur[pos])
    cur, currencies = np.searchsorted(used, cur[pos]), np.asarray(currencies, dtype=object)[used]
    return _Edges(
        txn_id=_Ids(frame["txn_id"], pos),
        row=pos,
        src=src,
        dst=dst,
        cur=cur.astype(np.int64),
        t=frame["t"].to_numpy(np.int64)[pos],
        amt=frame["amount_cents"].to_numpy(np.int64, na_value=0)[pos],
        accounts=accounts,
        currencies=currencies,
        day=~frame["has_time"].to_numpy(bool)[pos] if "has_time" in frame.columns else np.zeros(len(pos), bool),
    )


def _local_names(values) -> tuple[np.ndarray, pa.Array]:
    """Codes (int32, -1 for null) and the distinct values in text order (an Arrow string array) of ``values``."""
    codes, names = pd.factorize(pd.Series(values, dtype=object), sort=True)
    return codes.astype(np.int32), pa.array(np.asarray(names, dtype=object), pa.string())


def edge_piece(frame: pd.DataFrame) -> dict:
    """The rows of a prepared frame, or of a part of one, that :func:`_edges` keeps, in frame order, as integer
    codes: what the edge table of the whole data is built from (:func:`edges_from_pieces`) without a frame of it.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared transactions (:func:`followmoney.core.frame.prepare_transactions`), with ``txn_id``, ``t``,
        ``from_account``, ``to_account``, ``amount_cents``, ``currency`` and the optional columns
        :func:`_flow_rows` reads, and :data:`NODE_ATTRIBUTES` where present.

    Returns
    -------
    dict
        ``rows``: a ``pyarrow.Table`` of one row per kept transaction: ``t`` (µs, UTC), ``txn_id``,
        ``src`` / ``dst`` (int32 positions in ``names["account"]``), ``cur`` (in ``names["currency"]``),
        ``amt`` (int64, minor units), ``day`` (date without a time of day) and, per attribute of
        :data:`NODE_ATTRIBUTES` in the frame, ``<name>_from`` / ``<name>_to`` (int32 in
        ``names[<name>]``, -1 for none); ``names``: each code's values in text order (Arrow strings).

    Examples
    --------
    >>> f = pd.DataFrame({"txn_id": ["a", "b"], "t": [2, 1], "amount_cents": [5, 7], "currency": "EUR",
    ...                   "from_account": ["X", "Y"], "to_account": ["Y", "Y"]})
    >>> p = edge_piece(f)
    >>> p["rows"]["txn_id"].to_pylist(), p["names"]["account"].to_pylist()
    (['a'], ['X', 'Y'])
    """
    ok = _flow_rows(frame)
    pos = np.flatnonzero(ok)
    codes, accounts = account_codes((frame, "from_account", pos), (frame, "to_account", pos))
    src, dst = codes[: len(pos)], codes[len(pos):]
    keep = src != dst  # the same account on both sides moves no money
    pos, src, dst = pos[keep], src[keep], dst[keep]
    cur, currencies = _local_names(frame["currency"].to_numpy(object)[pos])
    rows = {
        "t": pa.array(frame["t"].to_numpy(np.int64)[pos]),
        "txn_id": pa.array(frame["txn_id"].iloc[pos].to_numpy(object), pa.string()),
        "src": pa.array(src.astype(np.int32)),
        "dst": pa.array(dst.astype(np.int32)),
        "cur": pa.array(cur),
        "amt": pa.array(frame["amount_cents"].to_numpy(np.int64, na_value=0)[pos]),
        "day": pa.array(~frame["has_time"].to_numpy(bool)[pos] if "has_time" in frame.columns else np.zeros(len(pos), bool)),
    }
    names = {"account": pa.array(np.asarray(accounts, dtype=object), pa.string()), "currency": currencies}
    for name, cols in NODE_ATTRIBUTES.items():
        if all(c in frame.columns for c in cols):
            both, names[name] = _local_names(np.concatenate([frame[c].to_numpy(object)[pos] for c in cols]))
            rows[f"{name}_from"], rows[f"{name}_to"] = pa.array(both[: len(pos)]), pa.array(both[len(pos):])
    return {"rows": pa.table(rows), "names": names}


def _union(names: list[pa.Array]) -> pa.Array:
    """The distinct values of several text arrays, in text order (Arrow's sort: UTF-8 byte order)."""
    if not names:
        return pa.array([], pa.string())
    every = pc.unique(pa.concat_arrays([n.cast(pa.string()) for n in names]))
    return every.take(pc.sort_indices(every))


def _mapped_column(path: str, name: str) -> tuple[pa.Array, mmap.mmap]:
    """Column ``name`` of the one-batch Arrow IPC file ``path``, memory-mapped (no copy), and the mapping
    (whose pages :meth:`_Ids.release_pages` lets go)."""
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapped))).read_all()[name].chunk(0), mapped


def edges_from_pieces(pieces: list[dict], present=None, ids_file: str | None = None) -> tuple[_Edges, pd.DataFrame]:
    """The edge table of the whole data from the :func:`edge_piece` of each of its parts (any split of its rows).

    The same table as :func:`_edges` of the whole prepared frame (edges in (t, txn_id) order,
    accounts and currencies numbered in text order among those used), with ``row`` the
    edge's own position: the frame returned in its place holds one row per edge, the
    :data:`NODE_ATTRIBUTES` columns only, and (``attrs["present"]``) which of them hold a
    value in the whole data. No frame of the rows is built: at 50 M IBM-format rows (34 M
    edges) the table takes 2.9 GB, where the frame would take 13.6 GB. The pieces are
    read one column at a time (a piece's ``rows`` may be any object with ``column(name)``,
    ``column_names`` and ``num_rows``, such as a table read from a file on demand), so
    building holds the table and one column of every piece.

    Parameters
    ----------
    pieces : list of dict
        :func:`edge_piece` of each part.
    present : collection of str, optional
        The prepared columns holding a value anywhere in the whole data (an attribute
        whose columns hold none is not checked, as on the whole frame); default: those
        the pieces' edges hold.
    ids_file : str, optional
        A file to keep the edges' txn ids in, memory-mapped (read only where a finding
        cites them); default: in memory.

    Returns
    -------
    edges : _Edges
    frame : pandas.DataFrame
        What the graph rules read beside the edge table (see :func:`_shared_edges`).
    """

    def names(p: dict, name: str) -> pa.Array:
        return p["names"].get(name, pa.array([], pa.string()))  # a piece without rows may name none

    def column(name: str, dtype) -> np.ndarray:
        parts = [np.asarray(p["rows"].column(name).to_numpy(), dtype) for p in pieces if p["rows"].num_rows]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    attributes = [a for a in NODE_ATTRIBUTES if any(f"{a}_from" in p["rows"].column_names for p in pieces)]
    keys = {name: _union([names(p, name) for p in pieces]) for name in ("account", "currency", *attributes)}

    mappings: dict = {}

    def mapping(i: int, name: str) -> np.ndarray:
        """Piece ``i``'s own codes of ``name`` as positions in ``keys[name]`` (looked up once for both sides)."""
        if (i, name) not in mappings:
            mappings[i, name] = pc.index_in(names(pieces[i], name), value_set=keys[name]).to_numpy(zero_copy_only=False)
        return mappings[i, name]

    def codes(column_name: str, name: str) -> np.ndarray:
        """The pieces' ``column_name`` as positions in ``keys[name]`` (-1 for none), in edge order."""
        out = []
        for i, p in enumerate(pieces):
            if not p["rows"].num_rows:
                continue
            rows = p["rows"]
            local = rows.column(column_name).to_numpy() if column_name in rows.column_names else np.full(rows.num_rows, -1, np.int32)
            to_global = mapping(i, name)
            out.append(np.where(local >= 0, to_global[np.maximum(local, 0)] if len(to_global) else -1, -1).astype(np.int64))
        if name == "currency":  # a missing currency is a value of its own, after the others (pandas' factorize)
            out = [np.where(c < 0, len(keys[name]), c) for c in out]
        return (np.concatenate(out) if out else np.zeros(0, np.int64))[order]

    def renumbered(*arrays: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
        """Positions among the values used (in the same order): ``searchsorted(unique(values), values)``."""
        used = np.zeros(size + 1, bool)
        for a in arrays:
            used[a] = True
        return (np.flatnonzero(used), *((np.cumsum(used) - 1)[a] for a in arrays))

    t = column("t", np.int64)
    ids = pa.chunked_array([c for p in pieces if p["rows"].num_rows for c in p["rows"].column("txn_id").chunks], pa.string()).combine_chunks()
    # (t, txn_id) order, as time_order() sorts the whole frame (its source positions are all 0 here)
    order = pc.sort_indices(pa.table({"t": t, "id": ids}), sort_keys=[("t", "ascending"), ("id", "ascending")]).to_numpy()
    ids, t = ids.take(pa.array(order)), t[order]
    mapped = None
    if ids_file is not None and len(ids):  # kept on disk: only the ids findings cite are read back
        with pa.OSFile(ids_file, "wb") as sink, pa.ipc.new_file(sink, pa.schema([("txn_id", pa.string())])) as writer:
            writer.write_table(pa.table({"txn_id": ids}))
        del ids
        ids, mapped = _mapped_column(ids_file, "txn_id")
    used, src, dst = renumbered(codes("src", "account"), codes("dst", "account"), size=len(keys["account"]))
    used_cur, cur = renumbered(codes("cur", "currency"), size=len(keys["currency"]))
    E = _Edges(
        txn_id=_Ids(ids, np.arange(len(t)), mapped),
        row=np.arange(len(t)),
        src=src,
        dst=dst,
        cur=cur,
        t=t,
        amt=column("amt", np.int64)[order],
        accounts=np.asarray(keys["account"].take(pa.array(used)).to_pylist(), dtype=object),
        currencies=np.asarray(keys["currency"].to_pylist() + [None], dtype=object)[used_cur],
        day=column("day", bool)[order],
    )
    frame = pd.DataFrame(index=pd.RangeIndex(len(t)))
    for a in attributes:
        categories = pd.Index(keys[a].to_pylist(), dtype=object)
        for side, col in zip(("from", "to"), NODE_ATTRIBUTES[a]):
            frame[col] = pd.Categorical.from_codes(codes(f"{a}_{side}", a), categories=categories)
    frame.attrs["present"] = frozenset(present) if present is not None else frozenset(c for c in frame.columns if frame[c].notna().any())
    return E, frame


#: The rules that read the shared edge table (:func:`_shared_edges`): scoring drops it once the last has run.
SHARED_EDGE_USERS = ("ML-07", "ML-08", "ML-09", "ML-10", "ML-11", "ML-12")
#: The rules that read the shared (t, txn_id) order of the frame (:func:`_time_id_order`).
SHARED_ORDER_USERS = ("ML-07", "ML-08", "ML-09", "ML-10", "ML-11", "ML-12")


def _time_id_order(frame: pd.DataFrame, ctx: RuleContext) -> np.ndarray | None:
    """Positions of the prepared ``frame``'s rows in (t, txn_id) order, computed once per scoring run
    (``ctx.shared``) for the graph rules' edge tables: sorting millions of ids as text costs seconds each
    time. None for a frame whose index is not its positions."""

    def build():
        if not frame.index.equals(pd.RangeIndex(len(frame))):
            return None
        order = _own_order(frame)
        order = np.arange(len(frame)) if order is None else order
        order.flags.writeable = False
        return order

    return shared_value(ctx, "time_id_order", build, of=frame)


#: The rules that read the shared window pairs (:func:`_shared_window_pairs`).
SHARED_WINDOW_USERS = ("ML-10", "ML-11")


def _edges_among(E: _Edges, among: np.ndarray) -> _Edges:
    """The edge table :func:`_edges` builds with ``among`` (a bool per frame row), cut from the whole table ``E``
    of the same frame and order: its rows where ``among`` holds, accounts and currencies renumbered among
    those the rows use, in the same (text) order, as :func:`_edges` numbers them. Cutting is cheaper than
    building again, which reads the frame's text (ML-08 leaves out routine payments)."""
    sel = np.flatnonzero(np.asarray(among, bool)[E.row])
    if len(sel) == len(E):
        return E
    src, dst, cur = E.src[sel], E.dst[sel], E.cur[sel]
    used = np.unique(np.concatenate([src, dst]))
    used_cur = np.unique(cur)
    return _Edges(
        txn_id=E.txn_id.take(sel),
        row=E.row[sel],
        src=np.searchsorted(used, src),
        dst=np.searchsorted(used, dst),
        cur=np.searchsorted(used_cur, cur).astype(np.int64),
        t=E.t[sel],
        amt=E.amt[sel],
        accounts=E.accounts[used],
        currencies=E.currencies[used_cur],
        day=None if E.day is None else E.day[sel],
    )


def _shared_edges(frame: pd.DataFrame, ctx: RuleContext) -> _Edges:
    """The edge table of ``frame``, built once per scoring run and shared by the graph rules.

    Kept in ``ctx.shared`` beside the frame it came from (a rule given another frame
    builds its own); its arrays are read-only so that no rule can change another's input.
    """

    def build():
        E = _edges(frame, _time_id_order(frame, ctx))
        for a in (E.row, E.src, E.dst, E.cur, E.t, E.amt, E.accounts, E.currencies):
            a.flags.writeable = False
        return E

    return shared_value(ctx, "graph_edges", build, of=frame)


def _pick_per_episode(found: pd.DataFrame, order: list[str], ascending: list[bool]) -> pd.DataFrame:
    """One finding per subject and episode: findings of one subject whose windows overlap
    or touch form an episode; the first by ``order`` is kept. ``order`` must end with a
    unique column so the choice is deterministic. Adds ``episode_start``,
    ``episode_end`` and ``in_episode`` (how many findings were merged)."""
    f = found.sort_values(["subject_id", "window_start", "window_end"] + order[-1:], kind="stable").reset_index(drop=True)
    running = f.groupby("subject_id", sort=False)["window_end"].cummax()
    prev = running.groupby(f["subject_id"], sort=False).shift(1)
    f["episode"] = (prev.isna() | (f["window_start"] > prev)).cumsum()
    g = f.groupby("episode")
    f["episode_start"] = g["window_start"].transform("min")
    f["episode_end"] = g["window_end"].transform("max")
    f["in_episode"] = g["window_start"].transform("size")
    f = f.sort_values(["episode"] + order, ascending=[True] + ascending, kind="stable")
    return f.drop_duplicates("episode").drop(columns="episode").reset_index(drop=True)


def _evidence(E: _Edges, finding: np.ndarray, edge: np.ndarray, n_findings: int) -> list[list[str]]:
    """Evidence txn ids per finding, unique and in (t, txn_id) order (edge order)."""
    if n_findings == 0:
        return []
    pairs = np.unique(np.stack([np.asarray(finding, np.int64), np.asarray(edge, np.int64)]), axis=1)  # sorted by (f, e)
    cuts = np.searchsorted(pairs[0], np.arange(1, n_findings))
    return [part.tolist() for part in np.split(E.txn_id[pairs[1]], cuts)]


def _findings(subject, start, end, evidence, score, facts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_kind": "account",
            "subject_id": list(subject),
            "window_start": np.asarray(start, np.int64),
            "window_end": np.asarray(end, np.int64),
            "evidence_txn_ids": list(evidence),
            "score": np.clip(np.asarray(score, float), 0.0, 1.0),
            "facts": list(facts),
        },
        columns=_FINDING_COLUMNS,
    )


def _count_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold, +0.25 per doubling, 1.0 at four times the threshold."""
    return np.clip(0.5 + 0.25 * np.log2(np.asarray(observed, float) / threshold), 0.0, 1.0)


def _ratio_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold rising linearly to 1.0 at a ratio of 1 (all of it)."""
    x = (np.asarray(observed, float) - threshold) / max(1.0 - threshold, 1e-9)
    return np.clip(0.5 + 0.5 * x, 0.0, 1.0)


def _names(items, limit: int = 12) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(str(x) for x in items[:limit]) + more


def _window_us(days: float) -> int:
    return int(round(days * DAY_US))


def _shared_window_pairs(E: _Edges, ctx: RuleContext, window_us: int, max_degree: int) -> tuple[int, pd.DataFrame]:
    """:func:`_window_pairs` of the shared edge table, computed once per scoring run for each
    (window, degree cap): ML-10 and ML-11 share it with their default parameters. Callers do not modify it."""
    with shared_lock(ctx, "window_pairs"):
        hit = ctx.shared.get("window_pairs")
        if hit is not None and hit[0] is E and hit[1] == (window_us, max_degree):
            return hit[2]
        result = _window_pairs(E, window_us, max_degree)
        ctx.shared["window_pairs"] = (E, (window_us, max_degree), result)
        return result


# --------------------------------------------------------------------------- windows (ML-09 unordered, ML-10, ML-11)
def _window_pairs(E: _Edges, window_us: int, max_degree: int) -> tuple[int, pd.DataFrame]:
    """Transactions placed in epoch-aligned windows of ``2·(W//2)`` µs starting every
    ``W//2`` (each transaction falls in two windows: :func:`_window_rows`), and the distinct
    (window, currency, originator, beneficiary) pairs with their value. Accounts with more
    than ``max_degree`` distinct counterparties on that side in a window are left out.
    Returns the stride ``W//2`` and the pairs; the rows themselves are made again for the
    accounts a rule needs (at 5 M IBM rows, all of them take 0.45 GB)."""
    stride = max(window_us // 2, 1)
    return stride, pd.DataFrame(_pair_values(E, stride, max_degree), copy=False)


def _in_larger_groups(limit: int, *columns: np.ndarray) -> np.ndarray:
    """Per row, whether more than ``limit`` rows share its values of ``columns`` (``_group_sizes(...) > limit``
    from one sorted copy of the packed keys, not a full grouping with its inverse and counts)."""
    n = len(columns[0])
    if limit >= n:
        return np.zeros(n, bool)
    key = columns[0] if len(columns) == 1 else packed_key(*columns)  # one non-negative int64 column is its own key
    if key is None or limit < 1:
        return _group_sizes(*columns) > limit
    if not (key[1:] < key[:-1]).any():  # already in groups (sorted): run lengths, no sorted copy nor look-up
        sizes = _run_sizes(key)
        return np.repeat(sizes > limit, sizes)
    s = np.sort(key)
    big = s[limit:][s[limit:] == s[:-limit]]  # the keys of more than limit rows, sorted (a key once per row past the limit)
    del s
    big = big[np.r_[True, big[1:] != big[:-1]]] if len(big) else big
    if not len(big):
        return np.zeros(n, bool)
    return member(key, big)


def _window_rows(E: _Edges, stride: int, payers: np.ndarray | None = None) -> pd.DataFrame:
    """Each edge in its two windows of :func:`_window_pairs`: columns ``w`` (window number), ``cur``,
    ``o`` (payer), ``b`` (beneficiary), ``e`` (edge) and ``amt``; every edge in the earlier window,
    then every edge in the later one, in edge order; only the edges paid by ``payers`` (account
    indices) when given."""
    idx = np.arange(len(E)) if payers is None else np.flatnonzero(np.isin(E.src, payers))
    b = E.t[idx] // stride
    idx = np.r_[idx, idx]
    return pd.DataFrame({"w": np.r_[b - 1, b], "cur": E.cur[idx], "o": E.src[idx], "b": E.dst[idx], "e": idx, "amt": E.amt[idx]})


#: Edges per block of windows in :func:`_pair_values`: a block's keys, order and sums take about 80
#: bytes an edge beside the pairs already kept (4 M edges: about 0.3 GB).
PAIR_BLOCK_EDGES = 1 << 22


def _pair_values(E: _Edges, stride: int, max_degree: int, block_edges: int = PAIR_BLOCK_EDGES) -> dict[str, np.ndarray]:
    """Distinct (w, cur, o, b) of :func:`_window_rows` in sorted order with the sum of ``amt``, as columns
    ``w``, ``cur``, ``o``, ``b`` (int32 where they fit: :func:`_narrow`) and ``value`` (int64), but for those
    of an ``o`` (``b``) with more than ``max_degree`` distinct ``b`` (``o``) in the window and currency: one
    sort of packed keys, made from the edge arrays (each edge in its two windows) without the rows themselves;
    the degrees are read from the packed keys, and only the pairs kept are unpacked.

    The edges are in time order, so the windows are taken in blocks of about ``block_edges`` edges
    (:func:`_window_blocks`): everything a window's pairs and degrees depend on lies in its block,
    and the blocks' pairs, in window order, are the pairs of the whole (at 34 M edges the work
    beside the pairs kept is a block's, not the whole table's 2.7 GB)."""
    columns = ("w", "cur", "o", "b", "value")
    if len(E) == 0:
        return {c: np.zeros(0, np.int32 if c != "value" else np.int64) for c in columns}
    b = E.t // stride
    ranges = [(int(b.min()) - 1, int(b.max())), (int(E.cur.min()), int(E.cur.max())), (int(E.src.min()), int(E.src.max())),
              (int(E.dst.min()), int(E.dst.max()))]  # fmt: skip
    if not packable(ranges):  # beyond the packing range: pandas' grouping
        grouped = _window_rows(E, stride).groupby(["w", "cur", "o", "b"], sort=True).agg(value=("amt", "sum")).reset_index()
        w, cur = grouped["w"].to_numpy(), grouped["cur"].to_numpy()
        keep = ~_in_larger_groups(max_degree, w, cur, grouped["b"].to_numpy()) & ~_in_larger_groups(max_degree, w, cur, grouped["o"].to_numpy())
        return {c: _narrow(grouped[c].to_numpy(np.int64)[keep]) for c in columns[:-1]} | {"value": grouped["value"].to_numpy(np.int64)[keep]}
    parts = [_block_pair_values(E, b, block, ranges, max_degree) for block in _window_blocks(b, ranges[0], block_edges)]
    del b
    # a column at a time, each block's part let go once joined: the pairs once and one column twice, not all twice
    return {c: np.concatenate([p.pop(c) for p in parts]) if len(parts) > 1 else parts[0][c] for c in columns}


def _window_blocks(b: np.ndarray, windows: tuple[int, int], block_edges: int) -> list[tuple[int, int, int, int]]:
    """Blocks of consecutive windows ``windows`` (lowest, highest) over edges whose later window is ``b``
    (each edge is in windows ``b - 1`` and ``b``), as ``(lo, hi, earlier, later)``: the block's edges are
    ``lo:hi``, of which ``lo + earlier:hi`` are in one of its windows as their earlier one and
    ``lo:lo + later`` as their later one. A block holds about ``block_edges`` edges (at least one window
    and one edge); edges not in time order (``b`` not sorted) make one block.

    Examples
    --------
    >>> _window_blocks(np.array([0, 0, 1, 2, 2, 3]), (-1, 3), 3)
    [(0, 3, 0, 2), (2, 5, 1, 1), (3, 6, 2, 3)]
    >>> _window_blocks(np.array([0, 0, 10, 10]), (-1, 10), 1)  # the windows between are empty
    [(0, 2, 0, 0), (0, 2, 2, 2), (2, 4, 0, 0), (2, 4, 2, 2)]
    """
    n = len(b)
    if n == 0 or (b[1:] < b[:-1]).any():
        return [(0, n, 0, n)]
    blocks, first, last = [], *windows
    while first <= last:
        lo = int(np.searchsorted(b, first, "left"))
        # the block's windows end where their edges (b up to the block's last window + 1) stay within block_edges,
        # but not before the window of the block's first edge (windows without edges join the next block)
        end = last if lo + block_edges >= n else min(max(int(b[lo + block_edges]) - 2, int(b[lo]) - 1, first), last)
        hi = int(np.searchsorted(b, end + 1, "right"))
        blocks.append((lo, hi, int(np.searchsorted(b[lo:hi], first + 1, "left")), int(np.searchsorted(b[lo:hi], end, "right"))))
        first = end + 1
    return blocks


def _block_pair_values(E: _Edges, b: np.ndarray, block: tuple[int, int, int, int], ranges: list, max_degree: int) -> dict:
    """:func:`_pair_values` of one block of windows (:func:`_window_blocks`)."""
    lo, hi, earlier, later = block
    ahead = slice(lo + earlier, hi)  # the edges in a window of the block as their earlier one (window b - 1)
    behind = slice(lo, lo + later)  # ... as their later one (window b)
    n_ahead = hi - lo - earlier
    key = np.concatenate([packed_key(b[ahead] - 1, E.cur[ahead], E.src[ahead], E.dst[ahead], ranges=ranges),
                          packed_key(b[behind], E.cur[behind], E.src[behind], E.dst[behind], ranges=ranges)])  # fmt: skip
    order = np.argsort(key)  # equal keys are summed: their order does not matter
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    key = key[starts]  # distinct, sorted; the rows' keys let go before the amounts are gathered
    later_rows = order >= n_ahead  # each row's edge, in place: no second array of positions
    order += lo + earlier
    order[later_rows] -= n_ahead + earlier
    del later_rows
    value = np.add.reduceat(E.amt[order], starts)  # exact integer sums
    del order, starts
    n_o, n_b = (hi - lo + 1 for lo, hi in ranges[2:])
    keep = ~_in_larger_groups(max_degree, key // n_b)  # (w, cur, o): sorted, so counted as run lengths
    by_b = key // (n_o * n_b)
    by_b *= n_b
    by_b += key % n_b
    keep &= ~_in_larger_groups(max_degree, by_b)  # (w, cur, b)
    del by_b
    key, value = key[keep], value[keep]
    del keep
    out = {}
    for c, (lo, hi) in zip(("b", "o", "cur", "w"), reversed(ranges)):  # each tuple read back from its key
        key, rest = np.divmod(key, hi - lo + 1)
        rest += lo
        out[c] = _narrow(rest, lo, hi)
        del rest
    return {c: out[c] for c in ("w", "cur", "o", "b")} | {"value": value}


def _narrow(values: np.ndarray, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """``values`` as int32 where every value (or the range ``lo``..``hi``) fits, else unchanged: the window
    pairs' numbers and codes take 4 bytes a value instead of 8 (at 34 M edges, 1 GB less for ML-10/11).

    Examples
    --------
    >>> _narrow(np.array([1, 2])).dtype.name, _narrow(np.array([2**40])).dtype.name
    ('int32', 'int64')
    """
    if lo is None:
        lo, hi = (int(values.min()), int(values.max())) if len(values) else (0, 0)
    info = np.iinfo(np.int32)
    return values.astype(np.int32) if info.min <= lo and hi <= info.max else values


def _group_sizes(*columns: np.ndarray) -> np.ndarray:
    """Per row, how many rows share its values of ``columns`` (a groupby ``transform("size")``)."""
    key = packed_key(*columns)
    if key is None:
        return pd.DataFrame(dict(enumerate(columns))).groupby(list(range(len(columns))))[0].transform("size").to_numpy()
    if len(key) and (key[1:] >= key[:-1]).all():  # rows already in groups (sorted): run lengths, no sort
        sizes = _run_sizes(key)
        return np.repeat(sizes, sizes)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse]


def _run_sizes(key: np.ndarray) -> np.ndarray:
    """The lengths of the runs of equal values of a sorted, non-empty ``key``, in order."""
    return np.diff(np.r_[np.flatnonzero(np.r_[True, key[1:] != key[:-1]]), len(key)])
