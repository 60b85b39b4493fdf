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
    ("code", "import followmoney as fm\n\ndata = fm.sample_data_path()\nbundle = fm.read([data / 'amlsim' / 'transactions.csv', data / 'goaml'])\nbundle"),
    ("md", "Every record read is a row, a merge into an existing row, or a reject with its reason. The load log proves it:"),
    ("code", "bundle.reconcile()\nbundle.load_log.to_pandas()"),
    ("md", "The goAML reports are UAE-style (AED). Score them against the UAE cash reporting threshold; the fan-in/fan-out rules count counterparties and do not depend on it."),
    ("code", "with fm.config(jurisdiction='AE'):\n    alerts = fm.score(bundle)\ncases = fm.build_cases(alerts)\ncases.to_pandas()[['subject_id', 'role', 'band', 'risk_score', 'rules']].head(10)"),
    ("md", "The top case, in plain words, with the evidence transactions and where each one is in the original file:"),
    ("code", "top = cases.slice(0, 1).to_pylist()[0]\nprint(top['summary'])\na = alerts.to_pandas()\nmine = a[a.subject_id == top['subject_id']]\nmine[['rule_id', 'score', 'evidence_count', 'evidence_source_refs']]"),
    ("code", "tx = bundle.transactions.to_pandas()\nev = set(mine.evidence_txn_ids.explode())\ntx[tx.txn_id.isin(ev)][['timestamp', 'amount', 'currency', 'channel', 'from_party', 'to_account', 'source_ref']]"),
]

NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART}


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
        print("wrote", name)
