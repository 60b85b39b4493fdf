"""The analyst workbook (``cases.xlsx``) and analyst column names for CSV and Excel.

Written with xlsxwriter, row by row (``constant_memory``: memory does not grow with
the row count): text cells are always text (never formulas; and defused, see
:func:`followmoney.export.defuse`), money is a number cell formatted with its currency's ISO 4217 decimals
beside its currency, times are date-time cells (UTC, Excel has no zones), the header
row is frozen and has a filter, and columns get widths from their content. A cell
longer than Excel's 32,767 characters or a table longer than its 1,048,575 data rows
is cut, and a ``Notes`` sheet says where and by how much.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from followmoney.core.units import minor_units
from followmoney.export._money import MONEY_CURRENCY
from followmoney.export._safe import defuse

__all__ = ["ALERT_COLUMNS", "CASE_COLUMNS", "analyst_table", "to_excel", "with_names", "EXCEL_MAX_CELL", "EXCEL_MAX_ROWS"]

#: Excel's limits (Microsoft, "Excel specifications and limits"): characters per cell, rows per sheet.
EXCEL_MAX_CELL = 32_767
EXCEL_MAX_ROWS = 1_048_576

# --------------------------------------------------------------------------- analyst tables
#: Analyst-facing column names for alerts and cases (CSV / Excel).
ALERT_COLUMNS = {
    "alert_id": "Alert ID",
    "rule_id": "Rule",
    "rule_name": "Rule name",
    "typology": "Typology",
    "subject_kind": "Subject type",
    "subject_id": "Subject",
    "subject_name": "Name",
    "subject_variants": "Also written as",
    "subject_role": "Likely role",
    "score": "Score (0-1)",
    "severity": "Severity",
    "window_start": "From (UTC)",
    "window_end": "To (UTC)",
    "amount_total": "Amount",
    "currency": "Currency",
    "evidence_count": "Evidence transactions",
    "explanation": "Why",
    "evidence_source_refs": "Where in the source files",
    "related_subject_ids": "Linked subjects",
    "params": "Thresholds used",
    "run_id": "Run",
}
CASE_COLUMNS = {
    "case_id": "Case ID",
    "subject_kind": "Subject type",
    "subject_id": "Subject",
    "subject_name": "Name",
    "subject_variants": "Also written as",
    "role": "Likely role",
    "band": "Priority",
    "risk_score": "Risk score (0-1)",
    "human_trafficking": "Trafficking indicators",
    "rules": "Rules hit",
    "n_alerts": "Alerts",
    "evidence_count": "Evidence transactions",
    "window_start": "From (UTC)",
    "window_end": "To (UTC)",
    "controls": "Appears to control",
    "controlled_by": "Likely controlled by",
    "summary": "Summary",
}


def analyst_table(table: pa.Table, columns: dict[str, str]):
    """``table`` with analyst-friendly column names, lists joined with ``; ``, times as naive UTC.

    Parameters
    ----------
    table : pyarrow.Table
        Alerts or cases.
    columns : dict
        Column → heading (:data:`ALERT_COLUMNS`, :data:`CASE_COLUMNS`); columns not
        listed are left out, listed columns absent from ``table`` are skipped.

    Returns
    -------
    pandas.DataFrame
        Money stays exact (``Decimal``); timestamps are naive UTC (Excel has no zones).
    """
    keep = [c for c in columns if c in table.column_names]
    return _sheet(table.select(keep)).rename(columns=columns)


def _sheet(table: pa.Table):
    """A table as a DataFrame Excel can hold: lists joined with ``; ``, naive UTC times."""
    import pandas as pd

    df = table.to_pandas()
    for field in table.schema:
        c = field.name
        if pa.types.is_list(field.type):
            df[c] = df[c].map(lambda v: "; ".join(map(str, v)) if v is not None else "")
        elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
            df[c] = pd.to_datetime(df[c], utc=True).dt.tz_localize(None)
    return df



def with_names(table: pa.Table, names, *, named_lists: bool = True) -> pa.Table:
    """Cases or alerts with the names an analyst reads beside the ids.

    Adds ``subject_name`` (display name, see :func:`followmoney.names.display_names`;
    a ``subject_name`` already there is kept, its gaps filled, and moved beside the id)
    and ``subject_variants`` (the other spellings seen, ``; ``-joined) after
    ``subject_id``, and writes ``controls``, ``controlled_by`` and
    ``related_subject_ids`` as ``"Name (id)"``.

    Parameters
    ----------
    table : pyarrow.Table
        Cases (:data:`followmoney.detect.cases.CASES_SCHEMA`) or alerts; needs ``subject_id``.
    names : followmoney.names.Names
    named_lists : bool, default True
        False keeps the list columns as ids (CSV files read by programs).

    Returns
    -------
    pyarrow.Table
    """
    if "subject_id" not in table.column_names or "subject_variants" in table.column_names:
        return table
    ids = table["subject_id"].to_pylist()
    shown = [names.name(i) for i in ids]
    if "subject_name" in table.column_names:  # cases name resolved subjects already: fill the gaps, put it beside the id
        given = table["subject_name"].to_pylist()
        shown = [g if g else n for g, n in zip(given, shown)]
        table = table.drop_columns(["subject_name"])
    at = table.column_names.index("subject_id") + 1
    table = table.add_column(at, "subject_name", pa.array(shown, pa.string()))
    variants = [", ".join(v for v in names.variants.get(i, [])[1:]) or None for i in ids]
    table = table.add_column(at + 1, "subject_variants", pa.array(variants, pa.string()))
    for col in ("controls", "controlled_by", "related_subject_ids") if named_lists else ():
        if col in table.column_names and pa.types.is_list(table.schema.field(col).type):
            vals = [None if v is None else [names.with_id(x) for x in v] for v in table[col].to_pylist()]
            table = table.set_column(table.column_names.index(col), col, pa.array(vals, pa.list_(pa.string())))
    return table


_WIDTH_SAMPLE = 200


def _cell_text(v) -> str:
    if isinstance(v, list | tuple):
        return "; ".join("" if x is None else str(x) for x in v)
    return str(v)


def _write_sheet(wb, name: str, table: pa.Table, headings: dict[str, str] | None, notes: list[str]) -> None:
    """One table as one sheet: typed cells, frozen header, filter, widths."""
    if headings is not None:
        table = table.select([c for c in headings if c in table.column_names])
    ws = wb.add_worksheet(name)
    f_head = wb.add_format({"bold": True, "bg_color": "#F3F3F3", "border": 1, "text_wrap": True, "valign": "top"})
    f_text = wb.add_format({"num_format": "@", "valign": "top"})
    # money in its currency's ISO 4217 decimals (KWD three, JPY none); two without a currency beside it
    f_money = {d: wb.add_format({"num_format": "#,##0" + ("." + "0" * d if d else ""), "valign": "top"}) for d in range(4)}
    f_score = wb.add_format({"num_format": "0.00", "valign": "top"})
    f_int = wb.add_format({"num_format": "#,##0", "valign": "top"})
    f_time = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss", "valign": "top"})
    f_date = wb.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})
    cols = table.column_names
    types = [table.schema.field(c).type for c in cols]
    ccy_of = {j: cols.index(MONEY_CURRENCY.get(c, "currency")) for j, c in enumerate(cols)
              if pa.types.is_decimal(types[j]) and MONEY_CURRENCY.get(c, "currency") in cols}  # fmt: skip
    widths = []
    for j, c in enumerate(cols):
        head = (headings or {}).get(c, c)
        ws.write_string(0, j, head, f_head)
        widths.append(len(head))
    n = table.num_rows
    if n > EXCEL_MAX_ROWS - 1:
        notes.append(f"Sheet {name}: {n - (EXCEL_MAX_ROWS - 1)} of {n} rows left out (Excel holds {EXCEL_MAX_ROWS - 1} data rows); the full table is in the run folder's Parquet/CSV.")
        table = table.slice(0, EXCEL_MAX_ROWS - 1)
    cut = 0
    i = 0
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [batch.column(j).to_pylist() for j in range(batch.num_columns)]
        for k in range(batch.num_rows):
            i += 1
            for j, t in enumerate(types):
                v = columns[j][k]
                if v is None:
                    continue
                if pa.types.is_decimal(t):
                    d = Decimal(v)
                    dec = minor_units(columns[ccy_of[j]][k]) if j in ccy_of else 2
                    if abs(d) < Decimal(10) ** (15 - dec):  # exact in a double at its decimals
                        ws.write_number(i, j, float(d), f_money[dec])  # display cell; the exact value is in the Parquet/CSV
                    else:
                        ws.write_string(i, j, f"{d:.{dec}f}", f_text)
                    shown = f"{d:,.{dec}f}"
                elif pa.types.is_floating(t):
                    ws.write_number(i, j, v, f_score)
                    shown = f"{v:.2f}"
                elif pa.types.is_integer(t):
                    ws.write_number(i, j, v, f_int)
                    shown = f"{v:,}"
                elif pa.types.is_boolean(t):
                    ws.write_boolean(i, j, v)
                    shown = "FALSE"
                elif isinstance(v, datetime):
                    if v.tzinfo is not None:
                        v = v.astimezone(timezone.utc).replace(tzinfo=None)
                    ws.write_datetime(i, j, v, f_time)
                    shown = "yyyy-mm-dd hh:mm:ss"
                elif isinstance(v, date):
                    ws.write_datetime(i, j, datetime(v.year, v.month, v.day), f_date)
                    shown = "yyyy-mm-dd"
                else:
                    shown = defuse(_cell_text(v))
                    if len(shown) > EXCEL_MAX_CELL:
                        cut += 1
                        shown = shown[: EXCEL_MAX_CELL - 1] + "…"
                    ws.write_string(i, j, shown, f_text)
                if i <= _WIDTH_SAMPLE:
                    widths[j] = max(widths[j], len(shown))
    if cut:
        notes.append(f"Sheet {name}: {cut} cell(s) longer than Excel's {EXCEL_MAX_CELL} characters were cut (ending in …); the full text is in the run folder's CSV.")
    for j, w in enumerate(widths):
        ws.set_column(j, j, min(max(w + 2, 8), 60))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(i, 1), max(len(cols) - 1, 0))


def _top_cases(cases: pa.Table, alerts: pa.Table | None, max_cases: int, notes: list[str]):
    """The ``max_cases`` cases of highest risk and their alerts; a note when any are left out."""
    import pyarrow.compute as pc

    if max_cases < 0:
        raise ValueError(f"max_cases must be 0 or more, not {max_cases}")
    n = cases.num_rows
    if n <= max_cases:
        return cases, alerts
    cases = cases.sort_by([("risk_score", "descending"), ("case_id", "ascending")]).slice(0, max_cases)
    notes.append(
        f"Sheet Cases: the {max_cases:,} cases of highest risk of {n:,}; {n - max_cases:,} left out. "
        "All cases are in the run folder's cases.parquet and cases.csv."
    )
    if alerts is not None and "alert_ids" in cases.column_names:
        total = alerts.num_rows
        alerts = alerts.filter(pc.is_in(alerts["alert_id"], value_set=pc.list_flatten(cases["alert_ids"]).combine_chunks()))
        notes.append(
            f"Sheet Alerts: the {alerts.num_rows:,} alerts of those cases of {total:,}. "
            "All alerts are in the run folder's alerts.parquet and alerts.csv."
        )
    return cases, alerts


def to_excel(
    path: str | Path,
    *,
    cases: pa.Table | None = None,
    alerts: pa.Table | None = None,
    transactions: pa.Table | None = None,
    names=None,
    max_cases: int | None = None,
) -> Path:
    """Write cases, alerts and (optionally) transactions to one Excel workbook, a sheet each.

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` file to write.
    cases, alerts, transactions : pyarrow.Table, optional
        Sheets ``Cases``, ``Alerts`` (analyst headings :data:`CASE_COLUMNS`,
        :data:`ALERT_COLUMNS`) and ``Transactions`` (canonical columns).
    names : followmoney.names.Names, optional
        Adds the subject's name and spellings beside every id (:func:`with_names`).
    max_cases : int, optional
        Keep only the ``max_cases`` cases of highest risk (then case id) in the
        workbook, and on the ``Alerts`` sheet only those cases' alerts; a ``Notes``
        sheet says how many were left out and that the full sets are in the run
        folder's ``cases.parquet``/``cases.csv`` and ``alerts.parquet``/``alerts.csv``.
        Default: all cases.

    Returns
    -------
    Path

    Notes
    -----
    Money cells are numbers formatted ``#,##0.00`` with the currency in the next
    column (for sorting and sums in Excel); amounts of 10^13 or more are written as
    text so that no digit is lost. Times are UTC. A ``Notes`` sheet is added only
    when a cell or sheet had to be cut (Excel's limits, :data:`EXCEL_MAX_CELL`,
    :data:`EXCEL_MAX_ROWS`).

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> alerts = fm.score(b, fm.Config(jurisdiction="AE"))
    >>> p = to_excel(Path(tempfile.mkdtemp()) / "cases.xlsx", cases=fm.build_cases(alerts), alerts=alerts)
    >>> import openpyxl; openpyxl.load_workbook(p).sheetnames
    ['Cases', 'Alerts']
    >>> openpyxl.load_workbook(to_excel(p, cases=fm.build_cases(alerts), alerts=alerts, max_cases=1)).sheetnames
    ['Cases', 'Alerts', 'Notes']
    """
    import xlsxwriter

    path = Path(path)
    notes: list[str] = []
    if cases is not None and max_cases is not None:
        cases, alerts = _top_cases(cases, alerts, max_cases, notes)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False})
    try:
        if cases is not None:
            _write_sheet(wb, "Cases", with_names(cases, names) if names is not None else cases, CASE_COLUMNS, notes)
        if alerts is not None:
            _write_sheet(wb, "Alerts", with_names(alerts, names) if names is not None else alerts, ALERT_COLUMNS, notes)
        if transactions is not None:
            _write_sheet(wb, "Transactions", transactions, None, notes)
        if notes:
            ws = wb.add_worksheet("Notes")
            ws.set_column(0, 0, 120)
            for i, line in enumerate(notes):
                ws.write_string(i, 0, line)
    finally:
        wb.close()
    return path
