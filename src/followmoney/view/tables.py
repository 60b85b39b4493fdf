"""Notebook display of alert and case tables.

Alerts and cases are plain :class:`pyarrow.Table` objects, so that any tool can use
them. In Jupyter, followmoney registers an HTML formatter for tables that have the
alerts or cases schema: a compact, readable view (subject, score, rules, explanation,
evidence count) instead of Arrow's column dump. Other tables display as usual.
"""

from __future__ import annotations

import html

import pyarrow as pa

from followmoney.core import schema
from followmoney.detect.cases import CASES_SCHEMA

__all__ = ["alerts_html", "cases_html", "table_html", "enable_notebook"]

_STYLE = "font-size:12px;border-collapse:collapse"
_CELL = "border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top"
_BAND = {"urgent": "#b00020", "priority": "#d35400", "review": "#b7950b", "monitor": "#607d8b",
         "high": "#b00020", "medium": "#d35400", "low": "#607d8b"}  # fmt: skip


def _rows(cells: list[list[str]], heads: list[str]) -> str:
    head = "".join(f"<th style='{_CELL};background:#f3f3f3'>{html.escape(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table style='{_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(text: str) -> str:
    return f"<span style='background:{_BAND.get(text, '#607d8b')};color:#fff;padding:1px 6px;border-radius:3px'>{html.escape(text)}</span>"


def alerts_html(alerts: pa.Table, max_rows: int = 20) -> str:
    """HTML view of an alerts table: the ``max_rows`` strongest alerts, one line each.

    Examples
    --------
    >>> import followmoney as fm
    >>> "ML-01" in alerts_html(fm.score(fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE")))
    True
    """
    rows = alerts.slice(0, max_rows).to_pylist()
    cells = [
        [html.escape(r["subject_id"]), f"{r['score']:.2f} {_badge(r['severity'])}", html.escape(r["rule_id"]),
         html.escape(r["explanation"][:300] + ("…" if len(r["explanation"]) > 300 else "")), str(r["evidence_count"])]
        for r in rows
    ]  # fmt: skip
    more = f"<div>… {alerts.num_rows - max_rows} more</div>" if alerts.num_rows > max_rows else ""
    return f"<div><b>{alerts.num_rows} alerts</b>{_rows(cells, ['subject', 'score', 'rule', 'why', 'evidence'])}{more}</div>"


def cases_html(cases: pa.Table, max_rows: int = 20) -> str:
    """HTML view of a cases table: priority, role, rules hit, summary, evidence count."""
    rows = cases.slice(0, max_rows).to_pylist()
    cells = [
        [html.escape(r["subject_id"]), f"{r['risk_score']:.2f} {_badge(r['band'])}", html.escape(r["role"].replace("_", " ")),
         html.escape(", ".join(r["rules"])), html.escape(r["summary"][:300] + ("…" if len(r["summary"]) > 300 else "")),
         str(r["evidence_count"])]
        for r in rows
    ]  # fmt: skip
    more = f"<div>… {cases.num_rows - max_rows} more</div>" if cases.num_rows > max_rows else ""
    return f"<div><b>{cases.num_rows} cases</b>{_rows(cells, ['subject', 'risk', 'role', 'rules', 'summary', 'evidence'])}{more}</div>"


def table_html(table: pa.Table) -> str | None:
    """The followmoney view of ``table`` if it is an alerts or cases table, else None."""
    names = set(table.column_names)
    if set(schema.SCHEMAS["alerts"].names) <= names:
        return alerts_html(table)
    if set(CASES_SCHEMA.names) <= names:
        return cases_html(table)
    return None


def enable_notebook() -> bool:
    """Show alerts and cases tables as readable HTML in the running Jupyter/IPython session.

    Registers :func:`table_html` as the HTML formatter of :class:`pyarrow.Table` in the
    running IPython shell. Importing followmoney changes nothing by itself: call this once
    per notebook (``fm.enable_notebook()``). Tables without the alerts or cases schema
    still display as pyarrow draws them.

    Returns
    -------
    bool
        False when not running under IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None:
        return False
    ip.display_formatter.formatters["text/html"].for_type(pa.Table, table_html)
    return True
