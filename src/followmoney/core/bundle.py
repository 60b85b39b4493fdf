"""The in-memory set of canonical tables for one load: :class:`Bundle`."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.exceptions import ReconciliationError

__all__ = ["Bundle", "ReconciliationError"]

# Key columns: rows of these tables that share the key are one record seen twice.
_KEYS = {
    "accounts": ("account_id",),
    "parties": ("party_id",),
    "reports": ("report_id",),
    "statements": ("statement_id",),
    "transactions": ("txn_id",),
    "party_accounts": ("party_id", "account_id", "role"),
    "identifiers": ("owner_kind", "owner_id", "kind", "value"),
    "relations": ("party_id", "related_party_id", "role"),
    "goods": ("goods_id",),
}


def _table_field(name: str):
    return field(default_factory=lambda: schema.empty(name))


@dataclass
class Bundle:
    """The canonical tables of one load, each a :class:`pyarrow.Table`.

    Every table has the schema of the same name in :data:`followmoney.core.schema.SCHEMAS`
    (extra columns allowed after the canonical ones). ``load_log`` counts, per source
    file and table, the records read, rows written, records merged into an existing
    row (same key) and records rejected, so that a load can be reconciled with
    :meth:`reconcile`.

    Attributes
    ----------
    transactions, accounts, parties, party_accounts, identifiers, relations, reports, goods, statements, rejects, load_log : pyarrow.Table
        ``relations``: entity–person relations (director, partner, ...);
        ``goods``: goods and services named in reports (e.g. a goAML DPMSR's gold).
    observations, account_aliases : pyarrow.Table
        Filled by consolidation (``fm.read``, ``fm.consolidate``: every source row of a
        payment, every raw account reference and its canonical id); empty in a bundle
        read with ``consolidate=False``.

    Examples
    --------
    >>> b = Bundle()
    >>> b.summary()["transactions"]
    0
    >>> b.reconcile()
    """

    transactions: pa.Table = _table_field("transactions")
    accounts: pa.Table = _table_field("accounts")
    parties: pa.Table = _table_field("parties")
    party_accounts: pa.Table = _table_field("party_accounts")
    identifiers: pa.Table = _table_field("identifiers")
    relations: pa.Table = _table_field("relations")
    reports: pa.Table = _table_field("reports")
    goods: pa.Table = _table_field("goods")
    statements: pa.Table = _table_field("statements")
    rejects: pa.Table = _table_field("rejects")
    load_log: pa.Table = _table_field("load_log")
    observations: pa.Table = _table_field("observations")
    account_aliases: pa.Table = _table_field("account_aliases")

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, schema.conform(getattr(self, f.name), f.name))

    # ------------------------------------------------------------------ building
    @classmethod
    def concat(cls, bundles: Iterable[Bundle]) -> Bundle:
        """Concatenate bundles into one, merging rows that share a key.

        Accounts, parties and reports seen in several files are merged into one row
        (first non-null value per column, in input order), and the ``load_log`` of the
        later file counts them as ``merged``, so totals still reconcile.

        Parameters
        ----------
        bundles : iterable of Bundle

        Returns
        -------
        Bundle
        """
        bundles = list(bundles)
        if not bundles:
            return cls()
        if len(bundles) == 1:
            return bundles[0]
        out = {}
        extra_merged: dict[str, int] = {}
        for name in schema.TABLES:
            tables = [getattr(b, name) for b in bundles]
            table = pa.concat_tables(tables, promote_options="default")
            if name in _KEYS:
                before = table.num_rows
                table = _merge_on_key(table, _KEYS[name])
                extra_merged[name] = before - table.num_rows
            out[name] = table
        # attribute cross-file merges to the load_log (as merged, taken from written)
        log = out["load_log"]
        if log.num_rows:
            log = _shift_merges(log, extra_merged, bundles)
        out["load_log"] = log
        return cls(**out)

    def reconcile(self) -> None:
        """Check records read = rows written + merged + rejected, per file and table.

        Also checks that every table's row count equals the sum of its ``rows_written``
        in the load log (when the log names that table).

        Raises
        ------
        ReconciliationError
            Naming the file and table that do not add up.
        """
        log = self.load_log.to_pylist()
        for r in log:
            if r["records_read"] != r["rows_written"] + r["merged"] + r["rejected"]:
                raise ReconciliationError(
                    f"{r['source_file']}: table {r['table']}: read {r['records_read']} != "
                    f"written {r['rows_written']} + merged {r['merged']} + rejected {r['rejected']}"
                )
        written: dict[str, int] = {}
        for r in log:
            written[r["table"]] = written.get(r["table"], 0) + r["rows_written"]
        for name, n in written.items():
            have = getattr(self, name).num_rows
            if have != n:
                raise ReconciliationError(f"table {name}: {have} rows but the load log says {n} written")
        n_rej = sum(r["rejected"] for r in log)
        if log and n_rej != self.rejects.num_rows:
            raise ReconciliationError(f"rejects: {self.rejects.num_rows} rows but the load log says {n_rej}")

    # ------------------------------------------------------------------ looking
    def summary(self) -> dict[str, int]:
        """Row count per table.

        Returns
        -------
        dict of str to int
        """
        return {name: getattr(self, name).num_rows for name in schema.TABLES}

    def time_span(self) -> tuple | None:
        """First and last transaction timestamp (UTC), or None when there are none."""
        ts = self.transactions.column("timestamp")
        if ts.null_count == len(ts):
            return None
        mm = pc.min_max(ts)
        return mm["min"].as_py(), mm["max"].as_py()

    def currencies(self) -> list[str]:
        """Distinct transaction currencies, sorted."""
        return sorted(c for c in pc.unique(self.transactions.column("currency")).to_pylist() if c)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v:,}</td></tr>"
            for k, v in self.summary().items()
        )
        span = self.time_span()
        span_s = f"{span[0]:%Y-%m-%d} → {span[1]:%Y-%m-%d}" if span else "—"
        cur = ", ".join(self.currencies()) or "—"
        return (
            "<div><b>followmoney.Bundle</b>"
            f"<table><tr><th>table</th><th>rows</th></tr>{rows}</table>"
            f"<div>time span (UTC): {html.escape(span_s)}; currencies: {html.escape(cur)}</div></div>"
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.summary().items())
        span = self.time_span()
        extra = f"; {span[0]:%Y-%m-%d}..{span[1]:%Y-%m-%d} UTC; {', '.join(self.currencies())}" if span else ""
        return f"Bundle({counts}{extra})"


def _merge_on_key(table: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Collapse rows sharing ``keys``: first non-null value per column, first-seen order."""
    if table.num_rows == 0:
        return table
    if len(keys) == 1 and _all_distinct(table[keys[0]]):
        return table  # every key once (the common case), found without grouping
    t = table.append_column("__i", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    # the smallest row number per key does not depend on the order Arrow's threads group the rows in
    first = t.group_by(list(keys), use_threads=True).aggregate([("__i", "min")])["__i_min"]
    if len(first) == table.num_rows:
        return table
    others = [c for c in table.column_names if c not in keys]
    if all(table[c].null_count in (0, table.num_rows) for c in others):
        # each column all set or all null: the first row of each key holds every first non-null value
        return table.take(np.sort(first.to_numpy()))
    # Arrow has no "first" kernel for decimals and lists: take those by row index
    special = [c for c in others if pa.types.is_decimal(t.schema.field(c).type) or pa.types.is_nested(t.schema.field(c).type)]
    empty = [c for c in others if pa.types.is_null(t.schema.field(c).type)]  # all null: no kernel, nothing to pick
    plain = [c for c in others if c not in special and c not in empty]
    agg = t.group_by(list(keys), use_threads=False).aggregate(
        [("__i", "min")] + [(c, "first") for c in plain]
    )
    agg = agg.sort_by("__i_min")
    cols = {k: agg.column(k) for k in keys}
    cols.update({c: agg.column(f"{c}_first") for c in plain})
    cols.update({c: pa.nulls(agg.num_rows) for c in empty})
    for c in special:
        firsts = t.filter(pc.is_valid(t[c])).select([*keys, "__i"]).group_by(list(keys), use_threads=False)
        firsts = firsts.aggregate([("__i", "min")]).rename_columns([*keys, "__src"])
        j = agg.select([*keys, "__i_min"]).join(firsts, list(keys), join_type="left outer").sort_by("__i_min")
        cols[c] = t[c].take(j["__src"])
    return pa.table({c: cols[c] for c in table.column_names}).cast(table.schema)


#: Rows hashed per step by :func:`_all_distinct` (bounds its temporary arrays: 24 bytes a row for ids of 17 characters).
_HASH_BATCH = 1 << 20
_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio (Fibonacci hashing)


def _all_distinct(values: pa.ChunkedArray) -> bool:
    """True when every value of a string column is there once, told from a 64-bit hash of each
    value (NumPy): no two hashes equal means no two values equal. Where two hashes are equal
    (two equal values, or rarely two values of one hash), or the values are long or null, it
    says False and the caller groups the rows. Arrow's ``count_distinct`` tells the same with a
    hash table of every value: 7 s and hundreds of MB for 5 M transaction ids, against 0.4 s and
    40 MB here.
    """
    if not len(values):
        return True
    if not pa.types.is_string(values.type) or values.null_count:
        return False
    width = -(-pc.max(pc.binary_length(values)).as_py() // 8) * 8  # one width for all: a value hashes alike in every chunk
    if width > 64:
        return False
    hashes = []
    for chunk in values.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], np.int32, len(chunk) + 1, 4 * chunk.offset)
        data = np.frombuffer(chunk.buffers()[2], np.uint8) if chunk.buffers()[2] is not None else np.zeros(0, np.uint8)
        for start in range(0, len(chunk), _HASH_BATCH):
            off = offsets[start : start + _HASH_BATCH + 1]
            lengths = np.diff(off)
            padded = np.zeros((len(lengths), width), np.uint8)  # each value, zero-padded to whole words
            if lengths.min() == lengths.max():  # values of one length (ids): the text as rows, no scatter
                padded[:, : lengths[0]] = data[off[0] : off[-1]].reshape(len(lengths), -1)
            else:
                padded[np.arange(width) < lengths[:, None]] = data[off[0] : off[-1]]
            h = lengths.astype(np.uint64) * _MIX
            for word in padded.view(np.uint64).T:
                h ^= word
                h *= _MIX
                h ^= h >> np.uint64(29)
            h.sort()
            if np.any(h[1:] == h[:-1]):
                return False  # a repeat within a batch: no need to hash the others
            hashes.append(h)
    h = np.sort(np.concatenate(hashes))
    return not np.any(h[1:] == h[:-1])


def _shift_merges(log: pa.Table, merged_per_table: dict[str, int], bundles: list[Bundle]) -> pa.Table:
    """Move cross-file duplicates from ``rows_written`` to ``merged`` in the load log.

    Rows are attributed to the earliest file that had the key; later files' copies
    count as merged.
    """
    rows = log.to_pylist()
    for name, n_merged in merged_per_table.items():
        if not n_merged:
            continue
        seen: set = set()
        keys = _KEYS[name]
        for b in bundles:
            t = getattr(b, name)
            if t.num_rows == 0:
                continue
            files = pc.unique(b.load_log.filter(pc.equal(b.load_log["table"], name))["source_file"]).to_pylist()
            key_rows = list(zip(*(t.column(k).to_pylist() for k in keys)))
            dup = sum(1 for k in key_rows if k in seen)
            seen.update(key_rows)
            if dup and files:
                for r in rows:
                    if r["table"] == name and r["source_file"] == files[0]:
                        r["rows_written"] -= dup
                        r["merged"] += dup
                        break
    return pa.Table.from_pylist(rows, schema=log.schema)
