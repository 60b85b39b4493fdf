"""followmoney: follow the proceeds of human trafficking through FIU data.

Ingest STRs/SARs (goAML XML), bank statements and wire messages into canonical Arrow
tables, consolidate and link them into one picture, trace the funds, and score them with
explained typology rules and learned models.

The package is a set of stages, each a subpackage whose ``__init__`` is its public face:
``core`` (data model) → ``normalize`` → ``ingest`` / ``resolve`` / ``datasets`` →
``consolidate`` (one picture across sources) → ``detect`` / ``trace`` / ``graph`` → ``evaluate`` →
``view`` / ``export`` → ``share`` → ``pipeline`` → ``cli``. Each stage imports only stages listed
before it (checked by the tests).

The names below load lazily: ``import followmoney`` costs little more than pyarrow, and
a stage's dependencies (scikit-learn, networkx, matplotlib) load on first use. Importing
changes nothing outside the package; in Jupyter, call :func:`enable_notebook` once.

Examples
--------
>>> import followmoney as fm
>>> bundle = fm.read(fm.sample_data_path() / "goaml")
>>> with fm.config(jurisdiction="AE"):
...     alerts = fm.score(bundle)
>>> cases = fm.build_cases(alerts)
>>> top = cases.slice(0, 1).to_pylist()[0]
>>> top["subject_id"], top["role"], "ML-01" in top["rules"]
('DEXB/1001002001', 'controller', True)
"""

from __future__ import annotations

import importlib
import sys
import types

from followmoney._version import __version__
from followmoney.exceptions import (
    ConfigError,
    FollowMoneyError,
    InputError,
    ParameterError,
    ReconciliationError,
    RunError,
    SchemaError,
    ShareError,
    TraceError,
    UnknownSubjectError,
)

#: Public name → module that defines it (loaded on first access).
_LAZY = {
    "Bundle": "followmoney.core.bundle",
    "Config": "followmoney.core.config",
    "config": "followmoney.core.config",
    "get_config": "followmoney.core.config",
    "read_bundle": "followmoney.core.store",
    "write_bundle": "followmoney.core.store",
    "read": "followmoney.consolidate",
    "sniff": "followmoney.ingest",
    "resolve": "followmoney.resolve",
    "ResolverSettings": "followmoney.resolve",
    "shared_identifiers": "followmoney.resolve",
    "consolidate": "followmoney.consolidate",
    "make_transactions": "followmoney.datasets",
    "make_multisource": "followmoney.datasets",
    "sample_data_path": "followmoney.datasets",
    "build_graph": "followmoney.graph",
    "entity_graph": "followmoney.graph",
    "flow_graph": "followmoney.graph",
    "neighbourhood": "followmoney.graph",
    "paths": "followmoney.graph",
    "transaction_graph": "followmoney.graph",
    "score": "followmoney.detect.score",
    "build_cases": "followmoney.detect.cases",
    "suppress_repeats": "followmoney.detect.cases",
    "FeatureSettings": "followmoney.detect.features",
    "account_features": "followmoney.detect.features",
    "transaction_features": "followmoney.detect.features",
    "AnomalyScorer": "followmoney.detect.models",
    "SupervisedScorer": "followmoney.detect.models",
    "TrainedModel": "followmoney.detect.models",
    "load_model": "followmoney.detect.models",
    "model_alerts": "followmoney.detect.models",
    "train_model": "followmoney.detect.models",
    "backtest": "followmoney.evaluate",
    "evaluate": "followmoney.evaluate",
    "truth_from_labels": "followmoney.evaluate",
    "AlertScoresDisplay": "followmoney.view.plot",
    "LinkChartDisplay": "followmoney.view.plot",
    "InteractiveLinkChart": "followmoney.view.interactive",
    "TimelineDisplay": "followmoney.view.plot",
    "TraceFlowDisplay": "followmoney.view.plot",
    "evidence_pack": "followmoney.view.report",
    "write_evidence_pack": "followmoney.view.report",
    "enable_notebook": "followmoney.view.tables",
    "to_gexf": "followmoney.export",
    "to_graphml": "followmoney.export",
}

#: Public submodules reachable as attributes (``fm.trace.forward``, ``fm.schema.MONEY``).
_MODULES = {
    "schema": "followmoney.core.schema",
    "trace": "followmoney.trace",
    "ingest": "followmoney.ingest",
    "normalize": "followmoney.normalize",
    "export": "followmoney.export",
    "datasets": "followmoney.datasets",
    "detect": "followmoney.detect",
    "view": "followmoney.view",
    "testing": "followmoney.testing",
    "share": "followmoney.share",
}

_ERRORS = [
    "FollowMoneyError",
    "InputError",
    "SchemaError",
    "ReconciliationError",
    "ConfigError",
    "ParameterError",
    "TraceError",
    "RunError",
    "UnknownSubjectError",
    "ShareError",
]

__all__ = sorted([*_LAZY, *_MODULES, *_ERRORS, "__version__"])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'followmoney' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


class _Facade(types.ModuleType):
    """Keeps ``fm.resolve`` and ``fm.evaluate`` the functions of the same name.

    Importing the submodules ``followmoney.resolve`` or ``followmoney.evaluate`` sets
    the package attribute to the module; for a public name the function wins, as it
    did when the facade imported everything eagerly.
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType) and value.__name__ == _LAZY[name]:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Facade
