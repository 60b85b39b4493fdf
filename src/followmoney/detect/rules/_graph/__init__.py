"""Multi-hop laundering typologies: scatter-gather, gather-scatter, cycles, bipartite,
stack and layering chains (catalogue ML-07 to ML-12).

Source: ``shared/reference/indicators.md`` section 6. The shapes are IBM AMLSim's alert
patterns (``ScatterGatherTypology``, ``GatherScatterTypology``, ``CycleTypology``,
``BipartiteTypology``, ``StackTypology``; grade A) and the FATF description of layering
(grade C). The thresholds are the catalogue's defaults; most are engineering defaults
(grade E) to be calibrated on data, the scatter-gather margin is AMLSim's ``margin_ratio``.

One idea per module:

* :mod:`~followmoney.detect.rules._graph._table`: the edge table every rule reads (the
  transactions that move money between two accounts, as integer arrays), its windows,
  and the helpers that turn matches into findings.
* :mod:`~followmoney.detect.rules._graph._search`: the temporal path search
  (time-respecting cycles and chains under a work budget), public as :func:`find_cycles`
  and :func:`find_chains`.
* :mod:`~followmoney.detect.rules._graph._two_hop`: ML-07 scatter-gather and ML-08
  gather-scatter, two hops through a middle account.
* :mod:`~followmoney.detect.rules._graph._cycles`: ML-09 cycles (round-tripping).
* :mod:`~followmoney.detect.rules._graph._dense`: ML-10 bipartite and ML-11 stack, dense
  structures in windows.
* :mod:`~followmoney.detect.rules._graph._chains`: ML-12 layering chains.

Amounts are compared and added only within one currency: a pattern never mixes
currencies. Money passed on cannot exceed the money received: where the catalogue asks
that at least a share of an amount moves on (ML-07 forwarding, ML-08 pass-through, ML-09
return, ML-12 hop to hop), no more than all of it may move on either; a larger
payment is other money, and without this bound ordinary rent, bill and payroll flows
fill the queue (measured on ``followmoney.datasets.synth`` data). ML-11's ±10 % is the
catalogue's own two-sided bound.

No rule loops over accounts in Python; each returns at most one finding per subject
account and episode (findings of one account whose windows overlap are merged, the
strongest is kept as evidence).

Examples
--------
>>> import pandas as pd
>>> from followmoney.detect.rules import REGISTRY
>>> [REGISTRY[r].name for r in ("ML-07", "ML-09", "ML-12")]
['Scatter-gather', 'Cycle (round-tripping)', 'Layering chain']
>>> day = 86_400_000_000
>>> ring = pd.DataFrame({"txn_id": ["a", "b", "c"], "t": [day, 2 * day, 3 * day],
...     "amount_cents": [100_000, 95_000, 90_000], "currency": "USD",
...     "from_account": ["P1", "P2", "P3"], "to_account": ["P2", "P3", "P1"]})
>>> found = find_cycles(ring)
>>> found.cycles[["account", "accounts", "txn_ids"]].values.tolist(), found.truncated
([['P1', ['P1', 'P2', 'P3'], ['a', 'b', 'c']]], False)
"""

from __future__ import annotations

# The rule modules register their rules on import, in this order: ML-07, ML-08 | ML-09 | ML-10, ML-11 | ML-12
# (the registry, hence the order of rules in outputs, follows it).
from followmoney.detect.rules._graph import _two_hop, _cycles, _dense, _chains  # noqa: F401
from followmoney.detect.rules._graph._search import ChainSearch, CycleSearch, find_chains, find_cycles
from followmoney.detect.rules._graph._table import SHARED_EDGE_USERS, SHARED_ORDER_USERS, SHARED_WINDOW_USERS

__all__ = ["CycleSearch", "ChainSearch", "find_cycles", "find_chains", "SHARED_EDGE_USERS", "SHARED_ORDER_USERS", "SHARED_WINDOW_USERS"]
