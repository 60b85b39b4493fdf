"""followmoney: follow the proceeds of human trafficking through FIU data.

Ingest STRs/SARs (goAML XML), bank and benchmark transaction files into canonical
Arrow tables, link them into a graph, and score them with explained typology rules.

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

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from followmoney.bundle import Bundle, ReconciliationError
from followmoney.config import Config, config, get_config
from followmoney.export import to_gexf, to_graphml
from followmoney.graph import build_graph, entity_graph, flow_graph, neighbourhood, paths, transaction_graph
from followmoney.ingest import InputError, read, sniff
from followmoney.alerts import score
from followmoney.cases import build_cases, suppress_repeats
from followmoney import trace
from followmoney.plot import AlertScoresDisplay, LinkChartDisplay, TimelineDisplay, TraceFlowDisplay
from followmoney.report import evidence_pack, write_evidence_pack
from followmoney.resolve import ResolverSettings, resolve, shared_identifiers
from followmoney.store import read_bundle, write_bundle
from followmoney.synth import make_transactions
from followmoney.evaluate import backtest, evaluate, truth_from_labels
from followmoney.features import FeatureSettings, account_features, transaction_features
from followmoney.anomaly import AnomalyScorer, SupervisedScorer, TrainedModel, load_model, model_alerts, train_model

from followmoney.display import register_ipython as _register_ipython

_register_ipython()  # alerts and cases tables display as readable HTML in Jupyter

try:
    __version__ = version("followmoney")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def sample_data_path() -> Path:
    """Folder of the bundled sample data (AMLSim slice and synthetic goAML reports).

    Returns
    -------
    pathlib.Path
    """
    here = Path(__file__).resolve().parent
    installed = here / "sample_data"  # wheel installs carry a copy
    return installed if installed.is_dir() else here.parents[1] / "sample_data"


__all__ = [
    "AlertScoresDisplay",
    "AnomalyScorer",
    "FeatureSettings",
    "SupervisedScorer",
    "TrainedModel",
    "Bundle",
    "LinkChartDisplay",
    "TimelineDisplay",
    "TraceFlowDisplay",
    "ResolverSettings",
    "Config",
    "InputError",
    "ReconciliationError",
    "build_cases",
    "build_graph",
    "config",
    "account_features",
    "backtest",
    "load_model",
    "model_alerts",
    "train_model",
    "transaction_features",
    "entity_graph",
    "evaluate",
    "make_transactions",
    "truth_from_labels",
    "evidence_pack",
    "trace",
    "write_evidence_pack",
    "flow_graph",
    "neighbourhood",
    "paths",
    "resolve",
    "shared_identifiers",
    "to_gexf",
    "to_graphml",
    "transaction_graph",
    "get_config",
    "read",
    "read_bundle",
    "sample_data_path",
    "score",
    "sniff",
    "suppress_repeats",
    "write_bundle",
]
