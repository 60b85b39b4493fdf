"""Typology rules: a registry of explained, parameterised detectors.

Each rule is data plus code. The data (id, name, typology, description, source,
parameters with kinds, units, defaults and ranges) is the rule catalogue,
``catalogue.toml`` (:mod:`followmoney.detect.rules.catalogue`); the code (a vectorised
function over the prepared transaction frame, its explanation, the columns it needs,
how it may be partitioned) lives in the rule modules, bound to its catalogue entry by
id. Run them all with :func:`followmoney.score`; ``python -m followmoney.detect.rules``
prints the rule reference (``docs/rules.md``) generated from the catalogue. Your own
rules are registered with :func:`register` (see :mod:`followmoney.detect.rules._registry`).

Examples
--------
>>> from followmoney.detect.rules import REGISTRY
>>> {"ML-01", "ML-05", "ML-06"} <= set(REGISTRY)
True
>>> p = REGISTRY["ML-05"].resolve_params({"min_counterparties": 6})
>>> p["min_counterparties"], p["window_days"], p["min_new_counterparties"]
(6, 10.0, 5)
"""

from followmoney.detect.rules import _cash, _fan, _flow, _geo, _graph, _identifiers, _merchant, _profile, _structuring  # noqa: F401
from followmoney.detect.rules._registry import REGISTRY, Param, ParameterError, Rule, RuleContext, RuleText, Touching, WholeStat, register, whole
from followmoney.detect.rules.catalogue import check_bound

check_bound(REGISTRY)  # every catalogue entry has code (code without an entry fails in catalogued())

__all__ = ["REGISTRY", "Param", "ParameterError", "Rule", "RuleContext", "RuleText", "Touching", "WholeStat", "register", "whole", "SHARED_USERS"]

#: Entries of :attr:`RuleContext.shared` that several rules read, with those rules: a scoring
#: run drops each once the last of its rules has run (memory is not held for the rest of the run).
SHARED_USERS = {
    "graph_edges": _graph.SHARED_EDGE_USERS,
    "window_pairs": _graph.SHARED_WINDOW_USERS,
    "time_id_order": _graph.SHARED_ORDER_USERS,
    "activity": _profile.SHARED_ACTIVITY_USERS,
}
