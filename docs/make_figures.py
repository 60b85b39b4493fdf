"""Draw the README's figures from the bundled sample data: ``python docs/make_figures.py``."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import followmoney as fm  # noqa: E402

OUT = Path(__file__).resolve().parent / "img"
CONTROLLER = "DEXB/1001002001"

bundle = fm.read(fm.sample_data_path() / "goaml")
chart = fm.LinkChartDisplay.from_bundle(bundle, CONTROLLER, hops=2, max_nodes=30)
chart.figure_.savefig(OUT / "link_chart.png", dpi=90, bbox_inches="tight")
result = fm.trace.forward(bundle, CONTROLLER, method="libr")
flow = fm.TraceFlowDisplay.from_trace(result)
flow.figure_.savefig(OUT / "flow.png", dpi=90, bbox_inches="tight")
print(result.summary())
