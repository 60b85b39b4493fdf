"""Typology rules: a registry of explained, parameterised detectors.

Each rule is data (id, name, typology, parameters with units and ranges, the columns
it needs, its source) plus a vectorised function over the prepared transaction frame.
Run them all with :func:`followmoney.score`.

Examples
--------
>>> from followmoney.detect.rules import REGISTRY
>>> {"ML-01", "ML-05", "ML-06"} <= set(REGISTRY)
True
>>> REGISTRY["ML-05"].resolve_params({"min_counterparties": 6})
{'min_counterparties': 6, 'window_days': 7.0, 'min_ratio_to_typical': 3.0, 'baseline_days': 90.0}
"""

from followmoney.detect.rules import _cash, _fan, _flow, _geo, _graph, _identifiers, _merchant, _profile, _structuring  # noqa: F401
from followmoney.detect.rules._registry import REGISTRY, Param, ParameterError, Rule, RuleContext, WholeStat, register, whole

__all__ = ["REGISTRY", "Param", "ParameterError", "Rule", "RuleContext", "WholeStat", "register", "whole", "SHARED_USERS"]

#: Entries of :attr:`RuleContext.shared` that several rules read, with those rules: a scoring
#: run drops each once the last of its rules has run (memory is not held for the rest of the run).
SHARED_USERS = {"graph_edges": _graph.SHARED_EDGE_USERS}
