"""Write the notebooks in this folder from the cell sources below (outputs are never stored).

Run ``python notebooks/make_notebooks.py`` after editing a notebook's cells here; the
tests execute every notebook top to bottom on the bundled sample data.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

QUICKSTART = [
    ("md", "# followmoney quick start\n\nLoad the bundled sample data (an AMLSim slice and four synthetic goAML reports), look at it, score it, and open the top case."),
    ("code", "import followmoney as fm\n\nfm.enable_notebook()  # alerts and cases tables as readable HTML\ndata = fm.sample_data_path()\nbundle = fm.read([data / 'amlsim' / 'transactions.csv', data / 'goaml'])\nbundle"),
    ("md", "Every record read is a row, a merge into an existing row, or a reject with its reason. The load log proves it:"),
    ("code", "bundle.reconcile()\nbundle.load_log.to_pandas()"),
    ("md", "The goAML reports are UAE-style (AED). Score them against the UAE cash reporting threshold; the fan-in/fan-out rules count counterparties and do not depend on it."),
    ("code", "with fm.config(jurisdiction='AE'):\n    alerts = fm.score(bundle)\ncases = fm.build_cases(alerts)\ncases.to_pandas()[['subject_id', 'role', 'band', 'risk_score', 'rules']].head(10)"),
    ("md", "The top case, in plain words, with the evidence transactions and where each one is in the original file:"),
    ("code", "top = cases.slice(0, 1).to_pylist()[0]\nprint(top['summary'])\na = alerts.to_pandas()\nmine = a[a.subject_id == top['subject_id']]\nmine[['rule_id', 'score', 'evidence_count', 'evidence_source_refs']]"),
    ("code", "tx = bundle.transactions.to_pandas()\nev = set(mine.evidence_txn_ids.explode())\ntx[tx.txn_id.isin(ev)][['timestamp', 'amount', 'currency', 'channel', 'from_party', 'to_account', 'source_ref']]"),
]

TRAFFICKING_CASE = [
    ("md", "# Investigating a trafficking case\n\nThe four synthetic goAML reports in `sample_data/goaml/` tell one story. Start from the people, not the money: who shares contact details, who is the same person across reports, whose account collects, and where the proceeds went."),
    ("code", "import followmoney as fm\n\nfm.enable_notebook()  # alerts and cases tables as readable HTML\nbundle = fm.read(fm.sample_data_path() / 'goaml')\nbundle"),
    ("md", "## 1. The same person across reports\nEvery merge has a rule and its evidence."),
    ("code", "res = fm.resolve(bundle)\nreasons = res.match_reasons.to_pandas()\nreasons[reasons.decision == 'merge'][['rule', 'score', 'explanation']].head(10)"),
    ("md", "## 2. Contact details shared by otherwise distinct people\nControllers register their victims with their own phone and address."),
    ("code", "shared = fm.shared_identifiers(bundle, res).to_pandas()\nshared"),
    ("md", "## 3. Score, and read the cases by role"),
    ("code", "with fm.config(jurisdiction='AE'):\n    alerts = fm.score(bundle)\ncases = fm.build_cases(alerts).to_pandas()\ncases[['subject_id', 'role', 'band', 'risk_score', 'rules', 'controls', 'controlled_by']]"),
    ("code", "controller = cases[cases.role == 'controller'].subject_id.iloc[0]\nfm.LinkChartDisplay.from_bundle(bundle, controller, hops=2, max_nodes=30);"),
    ("md", "## 4. Where did the controller's proceeds go?\nLowest intermediate balance rule: tainted money is deemed spent only when the clean balance is exhausted."),
    ("code", "result = fm.trace.forward(bundle, controller, method='libr')\nprint(result.summary())\nresult.hops"),
    ("code", "fm.TraceFlowDisplay.from_trace(result);"),
    ("md", "## 5. Hand it on\nOne self-contained HTML file with the case, the alerts and their thresholds, the evidence with its place in each report, the charts, and what is needed to reproduce it."),
    ("code", "from pathlib import Path\nimport tempfile\n\npack = fm.write_evidence_pack(Path(tempfile.mkdtemp()) / 'case.html', bundle, alerts, controller).read_text()\nlen(pack) > 10_000"),
]

TUNING = [
    ("md", "# Tuning a rule with a backtest\n\nBefore changing a threshold in production, see what it would have done on past data where the answer is known: synthetic transactions with injected typologies and their ground truth."),
    ("code", "import followmoney as fm\n\nfm.enable_notebook()  # alerts and cases tables as readable HTML\nbundle, truth = fm.make_transactions(n_accounts=2000, n_days=90, random_state=0)\nbundle"),
    ("md", "How do the rules do on the default configuration? Recall of the injected patterns, precision on subjects, and alert volume:"),
    ("code", "alerts = fm.score(bundle)\nmetrics = fm.evaluate(alerts, truth)\nmetrics[['typology', 'typology_name', 'recall', 'subject_precision', 'alerts_per_1k_accounts']]"),
    ("md", "Fan-in (ML-05) at AMLSim's demo setting (5 senders within 30 days, no burst, newness or value test; `configs/amlsim.toml`) against the default: what would have fired only before, or only after?"),
    ("code", "loose = {'ML-05': {'min_counterparties': 5, 'window_days': 30, 'min_ratio_to_typical': 1.0,\n                   'min_new_counterparties': 0, 'min_new_value_fraction': 0}}\nbt = fm.backtest(bundle, loose, rules=['ML-05'], truth=truth)\nbt.rules"),
    ("code", "bt.only_after.head()"),
    ("md", "The looser setting raises many more alerts without finding more of the injected fan-in patterns: keep the default. The same call runs from the command line as `followmoney backtest DATA --set ML-05.window_days=30`."),
    ("code", "fm.AlertScoresDisplay.from_alerts(alerts);"),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_trafficking_case.ipynb": TRAFFICKING_CASE,
    "03_tuning_a_rule.ipynb": TUNING,
}


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print("wrote", name)
