"""Views for people: link charts (static and interactive), timelines, trace flows, notebook tables, evidence packs."""

from followmoney.view.plot import AlertScoresDisplay, LinkChartDisplay, TimelineDisplay, TraceFlowDisplay
from followmoney.view.interactive import InteractiveLinkChart, interactive_chart_html
from followmoney.view.report import evidence_pack, write_evidence_pack
from followmoney.view.tables import enable_notebook

__all__ = [
    "AlertScoresDisplay",
    "LinkChartDisplay",
    "InteractiveLinkChart",
    "interactive_chart_html",
    "TimelineDisplay",
    "TraceFlowDisplay",
    "evidence_pack",
    "write_evidence_pack",
    "enable_notebook",
]
