"""Time precision and the source's own order of transactions.

Real files give time in three precisions: an instant (seconds or finer), a minute
(``2022/09/01 00:20``), or only a day (bank statements: MT940 ``:61:``, camt ``BookgDt/Dt``,
most bank CSV exports, FinCEN BSA dates, goAML reports whose ``date_transaction`` is
``T00:00:00``). A day-precision row is stored at the start of its day (the source's
local midnight where its time zone is known, else 00:00 UTC) and says so in
``time_precision``: rules that need a time of day skip it, and its local date is the
date the source wrote, whatever the FIU's time zone.

Within one timestamp, rows are ordered by the source's own sequence
(``source_seq``: the position in the file, i.e. statement position, line number or
document order of XML elements), never by a hash. Rows of different files with equal
timestamps have no order between them: they are simultaneous.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.schema import has_flag

__all__ = ["PRECISIONS", "annotate", "precision_of", "source_sequence", "comparable_time"]

#: Values of ``transactions.time_precision``.
PRECISIONS = ("instant", "minute", "day")

#: Sources that give dates only (MT940 :61: value/entry dates; FinCEN BSA dates; MT103 :32A: value date).
_DATE_ONLY_SOURCES = ("mt940", "fincen", "mt103")
#: Sources whose 00:00:00 is a placeholder for "no time" (goAML dateTime; camt ``Dt``, pacs.008
#: ``IntrBkSttlmDt`` and pain.001 ``ReqdExctnDt`` dates, stored at 00:00 UTC).
_MIDNIGHT_MEANS_DATE = ("goaml", "camt", "pacs008", "pain001")

_DAY_US = 86_400_000_000
_XPATH_STEP = re.compile(r"\[(\d+)\]")


def precision_of(transactions: pa.Table) -> pa.Array:
    """Per row, ``"instant"``, ``"minute"`` or ``"day"`` (null without a timestamp).

    An adapter's own value in ``time_precision`` wins. Otherwise: rows flagged
    ``date_only`` and rows of date-only sources (MT940, FinCEN, MT103) are ``day``; goAML,
    camt, pacs.008 and pain.001 rows at exactly 00:00:00 are ``day`` (goAML requires a
    dateTime, and reporting entities write ``T00:00:00`` when they have only a date;
    midnight on the clock the source wrote, i.e. with its stated offset);
    other rows are ``instant`` when seconds are given, else ``minute``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = pa.table({"source": ["goaml", "goaml", "mt940", "ibm_aml"],
    ...               "timestamp": pa.array([datetime(2024, 3, 5, tzinfo=timezone.utc), datetime(2024, 3, 5, 9, 0, 7, tzinfo=timezone.utc),
    ...                                       datetime(2024, 3, 5, tzinfo=timezone.utc), datetime(2024, 3, 5, 0, 20, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")),
    ...               "tz_offset_minutes": pa.array([None] * 4, pa.int16())})
    >>> precision_of(t).to_pylist()
    ['day', 'instant', 'day', 'minute']
    """
    n = transactions.num_rows
    cols = transactions.column_names
    given = None
    if "time_precision" in cols:  # an adapter's own value wins
        given = transactions["time_precision"]
        given = (given.combine_chunks() if isinstance(given, pa.ChunkedArray) else given).cast(pa.string())  # null-typed when all null
        stated = pc.fill_null(pc.is_in(given, value_set=pa.array(PRECISIONS, pa.string())), False)
        if n and pc.all(stated).as_py():  # every row states it (IBM, AMLSim): the column itself, not a copy
            return given
    ts = transactions["timestamp"]
    t = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy() if n else np.zeros(0, np.int64)
    valid = pc.is_valid(ts).to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    offset_min = (
        pc.fill_null(transactions["tz_offset_minutes"].cast(pa.int64()), 0).to_numpy() if "tz_offset_minutes" in cols and n else np.zeros(n, np.int64)
    )
    flagged = np.zeros(n, bool)
    if "quality_flags" in cols and n:
        flagged = np.asarray(has_flag(transactions["quality_flags"], "date_only"))
    wall = t + offset_min * 60_000_000  # the clock the source wrote
    midnight = (wall % _DAY_US) == 0
    whole_minute = (wall % 60_000_000) == 0
    def source_in(names) -> np.ndarray:
        if "source" not in cols or not n:
            return np.zeros(n, bool)
        return pc.fill_null(pc.is_in(transactions["source"], value_set=pa.array(names, pa.string())), False).to_numpy(zero_copy_only=False)

    day = flagged | source_in(_DATE_ONLY_SOURCES) | (source_in(_MIDNIGHT_MEANS_DATE) & midnight)
    code = np.where(day, 2, np.where(whole_minute, 1, 0))  # index into PRECISIONS
    out = pc.take(pa.array(PRECISIONS, pa.string()), pa.array(code, pa.int8(), mask=~valid))
    return out if given is None else pc.if_else(stated, given, out)


def comparable_time(transactions: pa.Table) -> np.ndarray:
    """Per row, int64 µs (UTC) to order and window by: a date-only row counts from 00:00 UTC
    of the date the source wrote, whichever source it came from; other rows at their instant.

    A date-only bank CSV row is stored at the bank's local midnight (the day before in UTC
    for Europe), a camt or MT940 row at 00:00 UTC: both count from the same instant here,
    so a trace over statements of both kinds puts one day's rows together. Rows without
    a timestamp get 0 (callers leave them out).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = pa.table({"source": ["bank_csv", "camt"], "quality_flags": [["date_only"], []],
    ...               "timestamp": pa.array([datetime(2024, 3, 3, 23, tzinfo=timezone.utc), datetime(2024, 3, 4, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")),
    ...               "tz_offset_minutes": pa.array([60, None], pa.int16())})
    >>> a, b = comparable_time(t)
    >>> int(a) == int(b)
    True
    """
    n = transactions.num_rows
    if n == 0:
        return np.zeros(0, np.int64)
    t = pc.fill_null(transactions["timestamp"].cast(pa.int64()), 0).to_numpy().astype(np.int64)
    cols = transactions.column_names
    off = pc.fill_null(transactions["tz_offset_minutes"].cast(pa.int64()), 0).to_numpy() if "tz_offset_minutes" in cols else np.zeros(n, np.int64)
    day = np.asarray(precision_of(transactions).to_pylist(), dtype=object) == "day"
    wall = t + off * 60_000_000
    return np.where(day, (wall // _DAY_US) * _DAY_US, t)


def _ref_key(ref: str) -> tuple[str, tuple[int, ...]]:
    if "#" in ref:
        file, path = ref.split("#", 1)
        return file, tuple(int(i) for i in _XPATH_STEP.findall(path))
    file, _, line = ref.rpartition(":")
    return (file, (int(line),)) if line.isdigit() else (ref, ())


def source_sequence(source_refs) -> pa.Array:
    """Per row, its position in its source file (line, or document order of XML elements).

    ``source_ref`` is ``file:line`` (CSV, MT940) or ``file#XPath`` (XML); the number is
    the row's rank in its own file and means nothing across files. It orders rows of
    one timestamp the way the source listed them (statement position), never by a hash.

    Examples
    --------
    >>> source_sequence(["a.xml#/D/Stmt/Ntry[10]/TxDtls", "a.xml#/D/Stmt/Ntry[2]/TxDtls[2]", "a.xml#/D/Stmt/Ntry[2]/TxDtls[1]", "b.csv:7"]).to_pylist()
    [3, 2, 1, 1]
    """
    fast = _line_sequence(source_refs)
    if fast is not None:
        return fast
    refs = list(source_refs.to_pylist() if hasattr(source_refs, "to_pylist") else source_refs)
    keys = [_ref_key(r) if r else ("", ()) for r in refs]
    order = sorted(range(len(refs)), key=lambda i: keys[i])
    seq = [0] * len(refs)
    last_file, rank = None, 0
    for i in order:
        if keys[i][0] != last_file:
            last_file, rank = keys[i][0], 0
        rank += 1
        seq[i] = rank
    return pa.array(seq, pa.int64())


def _line_sequence(source_refs) -> pa.Array | None:
    """:func:`source_sequence` at Arrow speed when every ref is ``file:line`` (CSV, MT940); else None.

    ``file:line`` is what ``^([^#]*):(\\d{1,18})$`` matches: no ``#``, and 1 to 18 ASCII digits
    after the last colon, found here without a regular expression."""
    if not isinstance(source_refs, pa.Array | pa.ChunkedArray) or not pa.types.is_string(source_refs.type) or source_refs.null_count:
        return None
    refs = source_refs.combine_chunks() if isinstance(source_refs, pa.ChunkedArray) else source_refs
    if not len(refs) or pc.any(pc.match_substring(refs, "#")).as_py():  # XML paths
        return None
    head = pc.utf8_rtrim(refs, "0123456789")  # ``file:`` where the ref ends in its line
    digits = pc.subtract(pc.binary_length(refs), pc.binary_length(head))
    if not pc.all(pc.and_(pc.ends_with(head, ":"), pc.and_(pc.greater(digits, 0), pc.less_equal(digits, 18)))).as_py():
        return None  # refs without a line
    file = pc.utf8_slice_codeunits(head, 0, -1).dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    line = pc.list_element(pc.split_pattern(refs, ":", max_splits=1, reverse=True), 1).cast(pa.int64()).to_numpy()
    ordered = np.all((file[1:] > file[:-1]) | ((file[1:] == file[:-1]) & (line[1:] >= line[:-1])))
    order = np.arange(len(line)) if ordered else np.lexsort((line, file))  # stable: equal keys keep row order, as sorted() does
    f = file[order]
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)])) + 1
    seq = np.empty(len(order), np.int64)
    seq[order] = rank
    return pa.array(seq, pa.int64())


def annotate(transactions: pa.Table) -> pa.Table:
    """``transactions`` with ``time_precision`` and ``source_seq`` filled where null.

    Examples
    --------
    >>> from followmoney.core import schema
    >>> t = annotate(schema.empty("transactions"))
    >>> t.num_rows, "time_precision" in t.column_names
    (0, True)
    """
    prec = precision_of(transactions)
    n = transactions.num_rows
    seq = transactions["source_seq"].combine_chunks().cast(pa.int64()) if "source_seq" in transactions.column_names else pa.nulls(n, pa.int64())
    if seq.null_count and "source_ref" in transactions.column_names:  # rows whose adapter gave no position
        # (bulk CSV adapters give theirs: parsing millions of refs back takes seconds); a file's rows are all
        # given or all not, so the rows not given are ranked among their own file's rows
        missing = pc.is_null(seq)
        refs = transactions["source_ref"].filter(missing) if seq.null_count < n else transactions["source_ref"]
        seq = source_sequence(refs) if seq.null_count == n else pc.replace_with_mask(seq, missing, source_sequence(refs))
    out = transactions
    for name, col in (("time_precision", prec), ("source_seq", seq)):
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), out.schema.field(name), col)
        else:
            out = out.append_column(name, col)
    return out
