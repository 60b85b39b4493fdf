"""Vectorised CSV helpers shared by the CSV adapters: typed parsing with per-row rejects."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from followmoney.core import schema
from followmoney.ingest._collect import InputError

#: Exact decimal with at most two places (no exponent, no thousands separators).
DECIMAL_RE = r"^[+-]?\d{1,16}(\.\d{1,2})?$"
#: Any plain decimal that fits decimal(18, 2) once rounded to hundredths.
DECIMAL_RE_ANY = r"^[+-]?\d{1,16}(\.\d{1,12})?$"


def read_strings(path: Path, column_names: list[str] | None = None) -> pa.Table:
    """Read a CSV with every column as string; header row skipped when names are given.

    Line ``i`` (0-based data row) is line ``i + 2`` of the file (header is line 1);
    quoted newlines are not expected in these machine-written exports.

    Raises
    ------
    InputError
        Naming the file when the CSV is malformed (e.g. a row with a wrong number of
        fields; pyarrow names the row).
    """
    read_opts = pacsv.ReadOptions(
        column_names=column_names, skip_rows=1 if column_names else 0, block_size=1 << 24
    )
    try:
        with open(path, "rb") as fh:
            head = pacsv.open_csv(fh, read_options=read_opts).schema.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path.name}: cannot read CSV: {exc}") from exc
    conv = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in head}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    try:
        return pacsv.read_csv(path, read_options=read_opts, convert_options=conv)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path.name}: malformed CSV: {exc}") from exc


def line_refs(file: str, n: int) -> pa.Array:
    """``file:line`` for data rows 0..n-1 (header on line 1)."""
    lines = pc.cast(pa.array(range(2, n + 2), pa.int64()), pa.string())
    return pc.binary_join_element_wise(pa.scalar(file), lines, ":")


def parse_money(col: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]:
    """Parse decimal strings exactly into ``MONEY``; returns (values, ok mask, rounded mask).

    Empty or non-numeric strings become null and count as not ok. Values with more
    than two decimal places (e.g. crypto amounts) are rounded half-to-even to
    hundredths and marked in the ``rounded`` mask, so the caller can flag them.
    """
    stripped = pc.utf8_trim_whitespace(col)
    ok = pc.match_substring_regex(stripped, DECIMAL_RE_ANY)
    safe = pc.if_else(ok, stripped, pa.scalar(None, pa.string()))
    rounded = pc.and_(ok, pc.invert(pc.match_substring_regex(stripped, DECIMAL_RE)))
    wide = safe.cast(pa.decimal128(38, 12))
    values = pc.round(wide, ndigits=2, round_mode="half_to_even").cast(schema.MONEY)
    return values, ok, rounded


def parse_time(col: pa.ChunkedArray, fmt: str) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Parse timestamps with a strptime ``fmt`` as UTC; returns (values, ok mask)."""
    ts = pc.strptime(pc.utf8_trim_whitespace(col), format=fmt, unit="us", error_is_null=True)
    ts = ts.cast(pa.timestamp("us")).cast(schema.TIMESTAMP) if ts.type.tz is None else ts.cast(schema.TIMESTAMP)
    return ts, pc.is_valid(ts)


def reject_rows(table: pa.Table, refs: pa.Array, reasons: pa.Array, mask: pa.Array) -> pa.Table:
    """Rows under ``mask`` as a rejects block: source_ref, reason, raw (comma-joined fields)."""
    sub = table.filter(mask)
    raw = pc.binary_join_element_wise(*[sub.column(i) for i in range(sub.num_columns)], ",") if sub.num_columns else pa.nulls(sub.num_rows, pa.string())
    return pa.table({"source_ref": refs.filter(mask), "reason": reasons.filter(mask), "raw": raw})


def first_failure(checks: list[tuple[pa.ChunkedArray, str]], n: int) -> pa.Array:
    """Per row, the reason of the first failing check (null when all pass)."""
    reason = pa.nulls(n, pa.string())
    for ok, why in reversed(checks):
        reason = pc.if_else(pc.fill_null(ok, False), reason, pa.scalar(why))
    return reason
