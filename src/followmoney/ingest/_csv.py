"""Vectorised CSV helpers shared by the CSV adapters: typed parsing with per-row rejects."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from followmoney.core import schema
from followmoney.core.units import minor_units
from followmoney.ingest._collect import InputError

#: Exact decimal with at most two places (no exponent, no thousands separators).
DECIMAL_RE = r"^[+-]?\d{1,16}(\.\d{1,2})?$"
#: Any plain decimal that fits decimal(18, 3) once rounded (range checked separately).
DECIMAL_RE_ANY = r"^[+-]?\d{1,16}(\.\d{1,12})?$"


def _arrow_problem(exc: Exception) -> str:
    """What went wrong, from a pyarrow CSV error, without quoting the data.

    pyarrow's messages quote the offending row; only its row number and the kind of
    problem are kept.
    """
    text = str(exc)
    where = re.search(r"[Rr]ow #(\d+)", text)
    what = "not UTF-8 text" if "UTF8" in text or "UTF-8" in text else "malformed CSV"
    if "Empty CSV" in text:
        what = "empty file"
    return f"{what} (row {where.group(1)})" if where else what


def read_strings(path: Path, column_names: list[str] | None = None) -> pa.Table:
    """Read a CSV with every column as string; header row skipped when names are given.

    Rows with a wrong number of fields are dropped here; use :func:`read_rows` to get
    them back as rejects with their line numbers.

    Raises
    ------
    InputError
        Naming the file (with its folder) when it cannot be read as CSV; the message
        never quotes the file's content.
    """
    return read_rows(path, column_names)[0]


def read_rows(path: Path, column_names: list[str] | None = None) -> tuple[pa.Table, pa.Array, list[tuple[int, str, str, str]]]:
    """Read a CSV with every column as string, rows with a wrong field count set aside.

    Parameters
    ----------
    path : Path
        The CSV file (UTF-8, comma-separated, header on line 1).
    column_names : list of str, optional
        Names for the columns; the header line is then skipped.

    Returns
    -------
    table : pyarrow.Table
        The well-formed rows, every column a string.
    lines : pyarrow.Array of int64
        The file line of each row of ``table`` (the header is line 1; blank lines are
        skipped and not records). Quoted newlines are not expected in these
        machine-written exports; where present, lines are counted as rows.
    bad : list of (line, reason, code, raw)
        Rows with too few or too many fields: the reason (``has 12 fields, the header
        has 11``), its code (``short_row`` / ``long_row``, see
        :mod:`followmoney.ingest.reasons`) and the raw line, for ``rejects``.

    Raises
    ------
    InputError
        The file cannot be opened or parsed at all (not UTF-8, empty, repeated
        column names); the message names the file and the row, never its content.
        Fields are not quoted in these exports: a ``"`` is an ordinary character, so a
        stray one cannot swallow the lines after it.
    """
    read_opts = pacsv.ReadOptions(
        column_names=column_names, skip_rows=1 if column_names else 0, block_size=1 << 24
    )
    try:
        with open(path, "rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or 'I/O error'}") from None
    if column_names:
        head = list(column_names)
    else:
        try:
            text = first.decode("utf-8-sig").rstrip("\r\n").split("\r")[0]  # a lone CR ends the row, as in pyarrow
        except UnicodeDecodeError:
            raise InputError(f"{path}: line 1: cannot read CSV: not UTF-8 text") from None
        head = text.split(",")  # nothing is quoted in these exports: every comma separates
        if not text or len(set(head)) != len(head):
            raise InputError(f"{path}: line 1: cannot read CSV: {'empty file' if not text else 'repeated column names'}")
    conv = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in head}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    invalid = [0]

    def skip(row) -> str:
        invalid[0] += 1
        return "skip"

    # quote_char off: these exports never quote, and one stray quote would swallow every line after it
    parse = pacsv.ParseOptions(invalid_row_handler=skip, quote_char=False)
    # pyarrow decodes a malformed row's text before calling the handler; a row that is not
    # UTF-8 fails there, and is reported through sys.unraisablehook (a traceback on stderr)
    unraisable: list = []
    hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        table = pacsv.read_csv(path, read_options=read_opts, convert_options=conv, parse_options=parse)
    except pa.ArrowInvalid as exc:
        problem = "not UTF-8 text" if unraisable else _arrow_problem(exc)
        raise InputError(f"{path}: cannot read CSV: {problem}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: cannot read CSV: not UTF-8 text") from None
    finally:
        sys.unraisablehook = hook
    if unraisable:
        raise InputError(f"{path}: cannot read CSV: not UTF-8 text")
    n = table.num_rows
    if not invalid[0] and _line_count(path) == n + 1:
        return table, pa.array(range(2, n + 2), pa.int64()), []
    lines, bad = _scan_lines(path, len(head))
    if len(lines) != n:  # quoted newlines: fall back to counting rows
        lines = list(range(2, n + 2))
    return table, pa.array(lines, pa.int64()), bad


def _line_count(path: Path) -> int:
    count = 0
    last = b"\n"
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _scan_lines(path: Path, expected: int) -> tuple[list[int], list[tuple[int, str, str, str]]]:
    """Line numbers of well-formed rows, and the rows with a wrong field count (slow path)."""
    good: list[int] = []
    bad: list[tuple[int, str, str, str]] = []
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number == 1:
                continue
            for part in line.rstrip(b"\r\n").split(b"\r"):  # a lone CR ends a row for pyarrow too
                text = part.decode("utf-8", errors="replace")
                if not text:
                    continue
                fields = text.count(",") + 1  # unquoted: every comma separates
                if fields == expected:
                    good.append(number)
                else:
                    code = "short_row" if fields < expected else "long_row"
                    bad.append((number, f"has {fields} fields, the header has {expected}", code, text))
    return good, bad


def reject_bad_rows(col, table: str, bad: list[tuple[int, str, str, str]]) -> None:
    """Send the rows :func:`read_rows` set aside to ``rejects`` of ``table`` (``col`` a Collector)."""
    for line, reason, code, raw in bad:
        col.reject(table, line, reason, raw, code=code)


def line_refs(file: str, n: int | pa.Array) -> pa.ChunkedArray:
    """``file:line`` for data rows 0..n-1 (header on line 1), or for the given line numbers.

    A ChunkedArray, like the table columns it goes with, so that it filters with the
    same (chunked) masks on every pyarrow the project allows.
    """
    numbers = pa.array(range(2, n + 2), pa.int64()) if isinstance(n, int) else n
    lines = pc.cast(numbers, pa.string())
    refs = pc.binary_join_element_wise(pa.scalar(file), lines, ":")
    return refs if isinstance(refs, pa.ChunkedArray) else pa.chunked_array([refs], pa.string())


def parse_money(col: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]:
    """Parse decimal strings exactly into ``MONEY``; returns (values, ok mask, rounded mask).

    Empty or non-numeric strings become null and count as not ok. Values with more
    than two decimal places (e.g. crypto amounts) are rounded half-to-even to
    hundredths and marked in the ``rounded`` mask, so the caller can flag them.
    Values beyond ``MONEY``'s range are null and not ok (see :func:`parse_money_checked`
    to tell them apart).
    """
    values, ok, rounded, fits = parse_money_checked(col)
    return values, pc.and_(ok, fits), rounded


#: An amount rounded to hundredths (DECIMAL_RE_ANY: at most 16 digits before the point, 17 once rounded up).
_HUNDREDTHS = pa.decimal128(19, 2)
#: Values of MONEY = decimal(18, 3) are below 10^15 in absolute value.
_MONEY_LIMIT = pa.scalar(Decimal(10) ** 15, _HUNDREDTHS)


def _one(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def parse_money_checked(col: pa.ChunkedArray):
    """Like :func:`parse_money`, with a fourth mask ``fits``: false where the decimal
    (after rounding to hundredths) is 10^15 or more in absolute value, the range of
    ``MONEY`` = decimal(18, 3); such values are null (reject code ``amount_out_of_range``).

    Examples
    --------
    >>> v, ok, rounded, fits = parse_money_checked(pa.chunked_array([["12.5", "999999999999999.999", "x"]]))
    >>> [str(x) if x is not None else None for x in v.to_pylist()], ok.to_pylist(), fits.to_pylist()
    (['12.500', None, None], [True, True, False], [True, False, True])
    """
    stripped = pc.utf8_trim_whitespace(col)
    ok = pc.match_substring_regex(stripped, DECIMAL_RE_ANY)
    safe = pc.if_else(ok, stripped, pa.scalar(None, pa.string()))
    # not DECIMAL_RE: more than two digits after the point (told without a second regular expression)
    point = pc.find_substring(stripped, ".")
    rounded = pc.and_(ok, pc.and_(pc.greater_equal(point, 0), pc.greater(pc.subtract(pc.binary_length(stripped), point), 3)))
    # at most two decimals (nearly every amount): exact at decimal(19, 2), 16 digits before the
    # point as DECIMAL_RE_ANY allows; more (crypto amounts) rounded at decimal(38, 12) first, those rows only
    wide = pc.if_else(rounded, pa.scalar(None, pa.string()), safe).cast(_HUNDREDTHS)
    if pc.any(rounded).as_py():
        few = pc.round(safe.filter(rounded).cast(pa.decimal128(38, 12)), ndigits=2, round_mode="half_to_even").cast(_HUNDREDTHS)
        wide = pc.replace_with_mask(_one(wide), _one(pc.fill_null(rounded, False)), _one(few))
        if isinstance(col, pa.ChunkedArray):  # the input's shape, as the masks have (pyarrow 15 filters an array by an array only)
            wide = pa.chunked_array([wide])
    fits = pc.fill_null(pc.less(pc.abs(wide), _MONEY_LIMIT), True)
    values = pc.if_else(fits, wide, pa.scalar(None, wide.type)).cast(schema.MONEY)
    return values, ok, rounded, fits


def requantize(values, currency) -> tuple[pa.Array, pa.Array]:
    """Round money values to each row's ISO 4217 minor units; returns (values, rounded mask).

    ``values`` are ``MONEY`` (three decimals), ``currency`` the ISO 4217 code per row
    (array) or one code for all rows. Codes with three decimals keep them; JPY keeps
    none; unknown codes get two (:func:`followmoney.core.units.minor_units`).

    Examples
    --------
    >>> from decimal import Decimal
    >>> v = pa.array([Decimal("1250.125"), Decimal("1250.125"), Decimal("12.5")], schema.MONEY)
    >>> out, r = requantize(v, pa.array(["KWD", "EUR", "JPY"]))
    >>> [str(x) for x in out.to_pylist()], r.to_pylist()
    (['1250.125', '1250.120', '12.000'], [False, True, True])
    """
    n = len(values)
    if currency is None or isinstance(currency, str):
        currency = pa.array([currency] * n, pa.string())
    codes = currency.to_pylist()
    exps = pa.array([minor_units(c) for c in codes], pa.int8())
    out = values.cast(schema.MONEY)
    for e in (2, 1, 0):
        pick = pc.fill_null(pc.equal(exps, e), False)
        if pc.any(pick).as_py():
            out = pc.if_else(pick, pc.round(out, ndigits=e, round_mode="half_to_even").cast(schema.MONEY), out)
    rounded = pc.fill_null(pc.not_equal(out, values.cast(schema.MONEY)), False)
    return out, rounded


def parse_time(col: pa.ChunkedArray, fmt: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Parse timestamps with a strptime ``fmt`` as UTC; returns (values, ok mask)."""
    ts = pc.strptime(pc.utf8_trim_whitespace(col), format=fmt, unit="us", error_is_null=True)
    ts = ts.cast(pa.timestamp("us")).cast(schema.TIMESTAMP) if ts.type.tz is None else ts.cast(schema.TIMESTAMP)
    return ts, pc.is_valid(ts)


def reject_rows(table: pa.Table, refs: pa.Array, reasons: pa.Array, mask: pa.Array) -> pa.Table:
    """Rows under ``mask`` as a rejects block: source_ref, reason, raw (comma-joined fields)."""
    if isinstance(mask, pa.ChunkedArray):  # Array.filter takes an Array mask on pyarrow < 16
        mask = mask.combine_chunks()
    sub = table.filter(mask)
    raw = pc.binary_join_element_wise(*[sub.column(i) for i in range(sub.num_columns)], ",") if sub.num_columns else pa.nulls(sub.num_rows, pa.string())
    return pa.table({"source_ref": refs.filter(mask), "reason": reasons.filter(mask), "raw": raw})


def first_failure(checks: list[tuple[pa.ChunkedArray, str]], n: int) -> pa.Array:
    """Per row, the reason of the first failing check (null when all pass)."""
    reason = schema.nulls(n, pa.string())
    for ok, why in reversed(checks):
        reason = pc.if_else(pc.fill_null(ok, False), reason, pa.scalar(why))
    return reason
