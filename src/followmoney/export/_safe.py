"""Text made inert for spreadsheets: every CSV cell and sheet cell goes through here."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["FORMULA_STARTS", "defuse", "defuse_frame", "defuse_table"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value):
    """``value`` made inert for spreadsheets: text beginning like a formula gets a leading ``'``.

    Applied to every text cell of every CSV followmoney writes (alerts, cases, i2, trace),
    so that opening the file in Excel or LibreOffice never evaluates data as a formula.
    Non-text values are returned unchanged.

    Examples
    --------
    >>> defuse("=HYPERLINK(1)"), defuse("-50"), defuse("Ali"), defuse(3)
    ("'=HYPERLINK(1)", "'-50", 'Ali', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def defuse_frame(df):
    """Copy of a pandas DataFrame with :func:`defuse` applied to every text cell."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype).startswith("str"):
            df[c] = df[c].map(defuse)
    return df


def defuse_table(table: pa.Table) -> pa.Table:
    """A pyarrow table with :func:`defuse` applied to every string column (for CSV writers).

    Examples
    --------
    >>> defuse_table(pa.table({"a": ["=1+1", "ok", None]}))["a"].to_pylist()
    ["'=1+1", 'ok', None]
    """
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            col = table.column(i)
            risky = pc.match_substring_regex(col, r"^[=+\-@\t\r]")
            fixed = pc.if_else(pc.fill_null(risky, False), pc.binary_join_element_wise("'", col, ""), col)
            table = table.set_column(i, field.name, fixed.cast(field.type))
    return table

