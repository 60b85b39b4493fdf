"""Export for the tools FIUs already use: i2, Gephi/yEd/Cytoscape, FollowTheMoney, Excel.

One module per format, the public names here:

* :func:`to_graphml` / :func:`to_gexf` write any graph of :mod:`followmoney.graph`
  (attribute values the formats cannot hold become text; every node gets a label);
  :func:`analyst_graph` is the graph of a run for link-analysis tools: resolved
  persons, accounts and identifiers with their names, and every payment as a
  weighted edge with exact money per currency;
* :func:`to_ftm` / :func:`write_ftm`: FollowTheMoney entities (``followmoney[ftm]``);
* :func:`to_excel`: the analyst workbook (``cases.xlsx``);
* :func:`to_i2`: i2 Analyst's Notebook entity and link sheets;
* :func:`case_bundle`: any export limited to one case's neighbourhood;
* :func:`defuse`, :func:`defuse_table`, :func:`defuse_frame`: every CSV cell and
  sheet cell followmoney writes is inert for spreadsheets;
* :func:`money_as_text`: money in written files with its currency's ISO 4217 decimals.
"""

from __future__ import annotations

from followmoney.export._money import money_as_text
from followmoney.export._safe import FORMULA_STARTS, defuse, defuse_frame, defuse_table
from followmoney.export.excel import ALERT_COLUMNS, CASE_COLUMNS, EXCEL_MAX_CELL, EXCEL_MAX_ROWS, analyst_table, to_excel, with_names
from followmoney.export.ftm import ftm_available, to_ftm, write_ftm
from followmoney.export.graphs import analyst_graph, graph_for_export, to_gexf, to_graphml
from followmoney.export.i2 import to_i2
from followmoney.export.scope import case_bundle

__all__ = [
    "to_graphml",
    "to_gexf",
    "analyst_graph",
    "to_ftm",
    "write_ftm",
    "ftm_available",
    "graph_for_export",
    "analyst_table",
    "with_names",
    "to_excel",
    "to_i2",
    "case_bundle",
    "defuse",
    "defuse_frame",
    "defuse_table",
    "money_as_text",
    "FORMULA_STARTS",
    "ALERT_COLUMNS",
    "CASE_COLUMNS",
    "EXCEL_MAX_CELL",
    "EXCEL_MAX_ROWS",
]
