"""followmoney.view.plot: the trace flow diagram (structure, not pixels)."""

from decimal import Decimal as D

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402

import followmoney as fm  # noqa: E402
from followmoney import trace
from followmoney.core import schema  # noqa: E402
from followmoney.view.plot import TraceFlowDisplay  # noqa: E402

DAY = 86_400_000_000


def txns(rows):
    return schema.conform(
        {
            "txn_id": [r[0] for r in rows],
            "source": ["test"] * len(rows),
            "source_ref": [f"test.csv:{i + 2}" for i in range(len(rows))],
            "timestamp": pa.array([r[1] * DAY for r in rows], schema.TIMESTAMP),
            "amount": [D(r[4]) for r in rows],
            "currency": [r[5] if len(r) > 5 else "EUR" for r in rows],
            "from_account": [r[2] for r in rows],
            "to_account": [r[3] for r in rows],
        },
        "transactions",
    )


TX = txns(
    [
        ("s", 1, None, "A", "1000"),
        ("a", 2, "A", "B", "600"),
        ("b", 3, "A", "C", "400"),
        ("c", 4, "B", "D", "500"),
        ("d", 5, "C", None, "100"),
    ]
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def texts(disp):
    return [t.get_text() for t in disp.ax_.texts]


def test_forward_layers_nodes_edges_and_labels():
    r = trace.forward(TX, ["s"], method="fifo")
    disp = r.plot()
    assert isinstance(disp, TraceFlowDisplay)
    nodes = disp.nodes_.set_index("node")
    assert nodes.loc["A", "column"] == 0 and nodes.loc["B", "column"] == 1 and nodes.loc["D", "column"] == 2
    assert nodes.loc["cash / unknown recipient", "kind"] == "exit"
    assert nodes.loc["cash / unknown recipient", "column"] == nodes["column"].max()
    assert len(disp.artists_["nodes"]) == len(disp.nodes_) == 5  # A, B, C, D and the exit
    assert len(disp.artists_["edges"]) == len(disp.edges_) == 4
    # edge width grows with the amount
    widths = {(e.source, e.target): a.get_linewidth() for e, a in zip(disp.edges_.itertuples(), disp.artists_["edges"])}
    assert widths[("A", "B")] > widths[("C", "cash / unknown recipient")]
    labels = " ".join(texts(disp))
    assert "600.00" in labels and "D\n500.00" in labels and "recipient\n100.00" in labels
    assert "EUR" in disp.ax_.get_title() and disp.figure_ is disp.ax_.figure
    assert [t.get_text() for t in disp.ax_.get_xticklabels()][0] == "source"


def test_layout_is_deterministic_and_uses_given_axes():
    r = trace.forward(TX, ["s"], method="pro_rata")
    fig, ax = plt.subplots()
    one = TraceFlowDisplay.from_trace(r, ax=ax)
    assert one.ax_ is ax and one.figure_ is fig
    two = TraceFlowDisplay.from_trace(r)
    assert one.nodes_.equals(two.nodes_) and one.edges_.equals(two.edges_)


def test_small_accounts_are_merged_per_column():
    rows = [("s", 1, None, "A", "1000")] + [(f"p{i}", 2, "A", f"R{i:02d}", str(10 + i)) for i in range(12)]
    r = trace.forward(txns(rows), ["s"], method="fifo")
    disp = TraceFlowDisplay.from_trace(r, max_nodes_per_column=5)
    col1 = disp.nodes_[disp.nodes_["column"] == 1]
    assert len(col1) == 6
    other = col1[col1["kind"] == "other"]
    assert other["node"].tolist() == ["other, hop 1 (7 accounts)"]
    assert other["amount"].iloc[0] == sum(D(10 + i) for i in range(7))
    assert "R11" in col1["node"].tolist() and "R00" not in col1["node"].tolist()
    edges = disp.edges_.set_index("target")
    assert edges.loc["other, hop 1 (7 accounts)", "amount"] == D("91.00")
    with pytest.raises(ValueError):
        TraceFlowDisplay.from_trace(r, max_nodes_per_column=0)


def test_one_currency_is_drawn():
    tx = txns([("u", 1, None, "A", "10", "USD"), ("e", 1, None, "A", "99", "EUR"), ("x", 2, "A", "B", "5", "USD")])
    r = trace.forward(tx, "A", method="fifo")
    assert TraceFlowDisplay.from_trace(r).currency == "EUR"  # the most taint
    usd = TraceFlowDisplay.from_trace(r, currency="USD")
    assert set(usd.nodes_["node"]) == {"A", "B"}
    with pytest.raises(ValueError):
        TraceFlowDisplay.from_trace(r, currency="GBP")


def test_backward_draws_origins_into_the_destination():
    tx = txns([("v1", 1, "V1", "M", "60"), ("v2", 2, "V2", "H", "40"), ("m", 3, "M", "H", "50"), ("buy", 4, "H", "SHOP", "80")])
    r = trace.backward(tx, "H", txn_id="buy", method="pro_rata")
    disp = r.plot()
    nodes = disp.nodes_.set_index("node")
    assert nodes.loc["H", "column"] == nodes["column"].max() == 0
    assert nodes.loc["H", "amount"] == D("80.00")
    funding = {f["origin"]: f["amount"] for f in r.funding.to_pylist()}
    assert dict(zip(disp.edges_["source"], disp.edges_["amount"])) == funding
    assert set(disp.edges_["target"]) == {"H"}
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["origins", "destination"]


def test_empty_trace_draws_the_source_alone():
    tx = txns([("s", 1, None, "A", "10")])
    disp = trace.forward(tx, ["s"], method="libr").plot()
    assert disp.nodes_["node"].tolist() == ["A"] and disp.edges_.empty


def test_sample_data_flow(sample_data):
    b = fm.read(sample_data / "amlsim" / "transactions.csv", progress=False)
    r = trace.forward(b, "amlsim/475", amount="500", since="2017-01-01", method="pro_rata", hops=3)
    disp = r.plot(max_nodes_per_column=6)
    assert disp.nodes_.groupby("column").size().max() <= 7
    assert len(disp.artists_["edges"]) == len(disp.edges_) > 0


# ----------------------------------------------------------------------------- link chart, timeline, scores
from followmoney.view.plot import AlertScoresDisplay, LinkChartDisplay, TimelineDisplay  # noqa: E402

CONTROLLER = "DEXB/1001002001"


@pytest.fixture(scope="module")
def goaml_case():
    b = fm.read(fm.sample_data_path() / "goaml")
    return b, fm.score(b, fm.Config(jurisdiction="AE"))


def test_link_chart_draws_kinds_legend_and_is_deterministic(goaml_case, tmp_path):
    b, _ = goaml_case
    d = LinkChartDisplay.from_bundle(b, CONTROLLER, hops=2, max_nodes=40)
    assert d.nodes_drawn_["account"] >= 2 and d.nodes_drawn_["party"] >= 4 and d.nodes_drawn_["identifier"] >= 2
    assert d.nodes_drawn_["truncated"] == 0 and d.hidden_ == 0
    legend = [t.get_text() for t in d.ax_.get_legend().get_texts()]
    assert legend == ["account", "person / entity", "phone, e-mail, address, ID", "more, not drawn"]
    labels = {t.get_text() for t in d.ax_.texts}
    assert "Tariq Fictus" in labels and "AED 150,000" in labels  # persons merged; edge amounts written
    again = LinkChartDisplay.from_bundle(b, CONTROLLER, hops=2, max_nodes=40)
    pos = [c.get_offsets().tolist() for c in d.ax_.collections]
    assert pos == [c.get_offsets().tolist() for c in again.ax_.collections]  # seeded layout
    d.figure_.savefig(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 10_000


def test_link_chart_marks_truncation(goaml_case):
    b, _ = goaml_case
    d = LinkChartDisplay.from_bundle(b, CONTROLLER, hops=2, max_nodes=6)
    assert d.nodes_drawn_["truncated"] >= 1 and d.hidden_ > 0
    assert any(t.get_text().startswith("+") and t.get_text().endswith("more") for t in d.ax_.texts)
    assert "more not drawn" in d.ax_.get_title()


def test_link_chart_accepts_identifier_subjects(goaml_case):
    b, alerts = goaml_case
    ident = [s for s in alerts["subject_id"].to_pylist() if s.startswith("phone:")][0]
    d = LinkChartDisplay.from_bundle(b, ident, hops=1, max_nodes=20)
    assert d.nodes_drawn_["party"] >= 3


def test_timeline_marks_alert_windows(goaml_case):
    b, alerts = goaml_case
    d = TimelineDisplay.from_bundle(b, CONTROLLER, alerts=alerts)
    assert d.n_transactions_ == 6 and d.n_alerts_ == 3  # its victims paying in are a fan-in too (issue 15 defaults)
    assert {t.get_text() for t in d.ax_.texts} >= {"ML-01", "HT-11", "ML-05"}
    assert d.ax_.get_legend() is not None


def test_alert_scores_counts_per_rule(goaml_case):
    _, alerts = goaml_case
    d = AlertScoresDisplay.from_alerts(alerts)
    assert sum(d.counts_.values()) == alerts.num_rows
    assert [t.get_text() for t in d.axes_[1].get_yticklabels()] == list(d.counts_)
