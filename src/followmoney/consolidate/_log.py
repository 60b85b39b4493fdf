"""Keeping the load log true when consolidation merges rows.

A row merged into another is no longer written: its file's ``load_log`` row for that
table moves one from ``rows_written`` to ``merged``, so records read = rows written +
merged + rejected still holds per file (:meth:`followmoney.Bundle.reconcile`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import _all_distinct


def file_of(source_ref: str | None) -> str | None:
    """The file name of a ``source_ref`` (``file#XPath`` or ``file:line``).

    Examples
    --------
    >>> file_of("str.xml#/report/transaction[2]"), file_of("bank.csv:14"), file_of("a.sta:3")
    ('str.xml', 'bank.csv', 'a.sta')
    """
    if not source_ref:
        return None
    if "#" in source_ref:
        return source_ref.split("#", 1)[0]
    head, sep, tail = source_ref.rpartition(":")
    return head if sep and tail.isdigit() else source_ref


def files_of(source_refs: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """:func:`file_of` of each ``source_ref`` of an Arrow column: column-wise for ASCII refs (what
    every adapter writes but for non-ASCII file names), value by value for the others.

    Examples
    --------
    >>> files_of(pa.array(["str.xml#/report/transaction[2]", "bank.csv:14", "a:b", "", None, "bé.csv:3"]))
    ['str.xml', 'bank.csv', 'a:b', None, None, 'bé.csv']
    """
    refs = source_refs.combine_chunks() if isinstance(source_refs, pa.ChunkedArray) else source_refs
    if not len(refs):
        return []
    xml = pc.fill_null(pc.match_substring(refs, "#"), False)
    before_hash = pc.list_element(pc.split_pattern(pc.fill_null(refs, ""), "#", max_splits=1), 0)
    head = pc.utf8_rtrim(refs, "0123456789")  # ``file:`` where the ref ends in a line number
    line = pc.and_(pc.less(pc.binary_length(head), pc.binary_length(refs)), pc.ends_with(head, ":"))
    out = pc.if_else(xml, before_hash, pc.if_else(line, pc.utf8_slice_codeunits(head, 0, -1), refs))
    files = pc.if_else(pc.fill_null(pc.equal(refs, ""), True), pa.scalar(None, pa.string()), out).to_pylist()
    ascii_ = pc.string_is_ascii(refs).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(~ascii_.astype(bool)).tolist():  # str.isdigit() takes other digits too
        files[i] = file_of(refs[i].as_py())
    return files


def shift_merged(log: pa.Table, table: str, merged_files: Counter) -> pa.Table:
    """Move ``merged_files[file]`` rows of ``table`` from written to merged in ``log``.

    A file without a log row for ``table`` (its rows were attributed elsewhere at read)
    gives its count to the first file of the table that still has rows written.
    """
    if not merged_files or not log.num_rows:
        return log
    rows = log.to_pylist()
    left = Counter()
    for f, n in merged_files.items():
        target = next((r for r in rows if r["table"] == table and r["source_file"] == f and r["rows_written"] >= n), None)
        if target is None:
            left[f] += n
            continue
        target["rows_written"] -= n
        target["merged"] += n
    for _, n in left.items():
        while n:
            target = next((r for r in rows if r["table"] == table and r["rows_written"] > 0), None)
            if target is None:
                break
            k = min(n, target["rows_written"])
            target["rows_written"] -= k
            target["merged"] += k
            n -= k
    return pa.Table.from_pylist(rows, schema=log.schema)


def dedupe(table: pa.Table, keys: tuple[str, ...]) -> tuple[pa.Table, Counter]:
    """Rows of ``table`` that share ``keys`` become one (first row, nulls filled from the others).

    Returns the table and, per file (from ``source_ref``), how many rows were merged away.
    """
    merged: Counter = Counter()
    if table.num_rows < 2 or (len(keys) == 1 and _all_distinct(table.column(keys[0]))):
        return table, merged
    key_rows = list(zip(*(table.column(k).to_pylist() for k in keys)))
    first: dict = {}
    groups: dict[int, list[int]] = {}
    for i, k in enumerate(key_rows):
        j = first.setdefault(k, i)
        groups.setdefault(j, []).append(i)
    if len(first) == table.num_rows:
        return table, merged
    refs = table.column("source_ref").to_pylist() if "source_ref" in table.column_names else [None] * table.num_rows
    keep = sorted(groups)
    base = table.take(pa.array(keep, pa.int64()))
    dups = [(pos, groups[j]) for pos, j in enumerate(keep) if len(groups[j]) > 1]
    for _, g in dups:
        for i in g[1:]:
            merged[file_of(refs[i])] += 1
    for c in table.column_names:
        if c in keys or base.column(c).null_count == 0:
            continue
        values = base.column(c).to_pylist()
        src = table.column(c)
        changed = False
        for pos, g in dups:
            if values[pos] is None:
                for i in g[1:]:
                    v = src[i].as_py()
                    if v is not None:
                        values[pos], changed = v, True
                        break
        if changed:
            base = base.set_column(base.column_names.index(c), base.schema.field(c), pa.array(values, base.schema.field(c).type))
    return base, merged
