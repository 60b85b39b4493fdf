"""Views for people: link charts, timelines, trace flows, notebook tables, evidence packs."""

from followmoney.view.plot import AlertScoresDisplay, LinkChartDisplay, TimelineDisplay, TraceFlowDisplay
from followmoney.view.report import evidence_pack, write_evidence_pack
from followmoney.view.tables import enable_notebook

__all__ = [
    "AlertScoresDisplay",
    "LinkChartDisplay",
    "TimelineDisplay",
    "TraceFlowDisplay",
    "evidence_pack",
    "write_evidence_pack",
    "enable_notebook",
]
