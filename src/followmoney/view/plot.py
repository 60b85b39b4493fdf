"""Matplotlib displays for analysts and case files.

Displays follow scikit-learn's pattern: build with a ``from_*`` class method, draw with
:meth:`plot`, and keep ``ax_`` and ``figure_`` for later styling. Layouts are
deterministic: the same result draws the same picture.

* :class:`TraceFlowDisplay` -- the layered flow diagram of a
  :class:`~followmoney.trace.TraceResult`: where the tainted money went, hop by hop.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pyarrow as pa
>>> from decimal import Decimal as D
>>> from followmoney import schema, trace
>>> tx = schema.conform({"txn_id": ["t1", "t2", "t3"], "source": ["x"] * 3,
...     "source_ref": ["f:1", "f:2", "f:3"],
...     "timestamp": pa.array([1, 2, 3], pa.timestamp("us", tz="UTC")),
...     "amount": [D("100"), D("60"), D("30")], "currency": ["EUR"] * 3,
...     "from_account": [None, "A", "B"], "to_account": ["A", "B", None]}, "transactions")
>>> disp = TraceFlowDisplay.from_trace(trace.forward(tx, ["t1"], method="fifo"))
>>> disp.nodes_["node"].tolist()
['A', 'B', 'cash / unknown recipient']
>>> disp.edges_[["source", "target", "amount"]].values.tolist()
[['A', 'B', Decimal('60.000')], ['B', 'cash / unknown recipient', Decimal('30.000')]]
"""

from __future__ import annotations

import textwrap
from decimal import Decimal

import numpy as np
import pandas as pd

from followmoney.core.units import MONEY_SCALE, minor_units

__all__ = ["TraceFlowDisplay", "LinkChartDisplay", "TimelineDisplay", "AlertScoresDisplay", "plain"]

_HALF = 0.3  # half the width of a node box, in column units

_EXIT_LABELS = {
    "external": "cash / unknown recipient",
    "hop_limit": "beyond the hop limit",
    "below_min_amount": "below the minimum amount",
    "outside_upstream": "outside the upstream set",
}


class TraceFlowDisplay:
    """Layered left-to-right flow diagram of a trace.

    Forward traces put the accounts where taint was created in the left column and each
    later hop one column to the right (an account sits in the column of the fewest hops
    by which taint reached it); edges are the tainted money moved between accounts,
    summed per pair, with width proportional to the amount; taint that left the trace
    ends in exit nodes on the right (cash or unknown recipient, beyond the hop limit,
    below the minimum). Backward traces draw the destination on the right and its
    origins (the ``funding`` table) on the left, one edge each: the rule attributes
    money to origins, not to paths. Only one currency is drawn: amounts in different
    currencies are never added.

    Create with :meth:`from_trace`; do not call the constructor directly unless you
    already have the node and edge tables.

    Parameters
    ----------
    nodes : pandas.DataFrame
        Columns ``node`` (str), ``column`` (int, left to right), ``amount`` (Decimal:
        tainted money held at the end, or for exit nodes, the money that left),
        ``kind`` ("account", "other" for merged small accounts, "exit", "origin").
        Text of each node: its name (wrapped, two lines at most) and amount.
    edges : pandas.DataFrame
        Columns ``source``, ``target`` (node names) and ``amount`` (Decimal).
    currency : str
        ISO 4217 code of every amount.
    title : str, optional

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure
    nodes_ : pandas.DataFrame
        The nodes drawn with their layout: ``x``, ``y`` added.
    edges_ : pandas.DataFrame
        The edges drawn (after merging small accounts).
    artists_ : dict
        ``"nodes"``, ``"edges"``, ``"labels"``: lists of the matplotlib artists.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from decimal import Decimal as D
    >>> nodes = pd.DataFrame({"node": ["S", "T"], "column": [0, 1], "amount": [D(0), D(5)],
    ...                       "kind": ["account", "account"]})
    >>> edges = pd.DataFrame({"source": ["S"], "target": ["T"], "amount": [D(5)]})
    >>> d = TraceFlowDisplay(nodes, edges, "EUR").plot()
    >>> len(d.artists_["nodes"]), len(d.artists_["edges"])
    (2, 1)
    """

    def __init__(self, nodes: pd.DataFrame, edges: pd.DataFrame, currency: str, title: str | None = None) -> None:
        self.nodes = nodes
        self.edges = edges
        self.currency = currency
        self.title = title

    # ------------------------------------------------------------------ building
    @classmethod
    def from_trace(
        cls,
        result,
        *,
        ax=None,
        currency: str | None = None,
        max_nodes_per_column: int = 8,
        label_edges: int = 12,
        title: str | None = None,
    ) -> TraceFlowDisplay:
        """Build the diagram of a :class:`~followmoney.trace.TraceResult` and draw it.

        Parameters
        ----------
        result : TraceResult
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; default: a new figure.
        currency : str, optional
            Currency to draw (default: the one with the most taint; ties by code).
        max_nodes_per_column : int, default 8
            The largest accounts per column (by tainted money received) are drawn; the
            rest of the column is merged into one "other (n accounts)" node.
        label_edges : int, default 12
            Label the amounts of this many largest edges.
        title : str, optional
            Default: direction, rule and currency.

        Returns
        -------
        TraceFlowDisplay

        Raises
        ------
        ValueError
            If ``currency`` is not in the result, or ``max_nodes_per_column`` < 1.
        """
        if max_nodes_per_column < 1:
            raise ValueError("max_nodes_per_column must be at least 1")
        totals = result.totals.to_pylist()
        curs = [t["currency"] for t in totals]
        if currency is None:
            currency = min(totals, key=lambda t: (-t["tainted"], t["currency"]))["currency"] if totals else "?"
        elif currency not in curs:
            raise ValueError(f"currency {currency!r} is not in the trace ({', '.join(curs) or 'none'})")
        if result.direction == "backward":
            nodes, edges = _backward_graph(result, currency)
        else:
            nodes, edges = _forward_graph(result, currency)
        nodes, edges = _merge_small(nodes, edges, max_nodes_per_column)
        if title is None:
            from followmoney.trace import _METHOD_WORDS

            title = f"{result.direction.capitalize()} trace, {_METHOD_WORDS[result.method]}, {currency}"
        disp = cls(nodes, edges, currency, title)
        return disp.plot(ax=ax, label_edges=label_edges)

    # ------------------------------------------------------------------ drawing
    def plot(self, ax=None, *, label_edges: int = 12) -> TraceFlowDisplay:
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        label_edges : int, default 12
            Label the amounts of this many largest edges.

        Returns
        -------
        TraceFlowDisplay
            ``self``, with ``ax_``, ``figure_``, ``nodes_``, ``edges_``, ``artists_``.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        nodes = _layout(self.nodes)
        edges = self.edges.reset_index(drop=True)
        if ax is None:
            ncol = int(nodes["column"].nunique()) if len(nodes) else 1
            nrow = int(nodes.groupby("column").size().max()) if len(nodes) else 1
            fig, ax = plt.subplots(figsize=(max(6.0, 3.0 * ncol), max(3.0, 0.8 * nrow + 1.5)))
        else:
            fig = ax.figure
        where = {r.node: (r.x, r.y) for r in nodes.itertuples()}
        biggest = max([float(a) for a in edges["amount"]] + [0.0])
        node_artists, edge_artists, label_artists = [], [], []
        order = sorted(range(len(edges)), key=lambda i: (-edges.loc[i, "amount"], edges.loc[i, "source"], edges.loc[i, "target"]))
        labelled = set(order[: max(0, label_edges)])
        for i in range(len(edges)):
            e = edges.loc[i]
            (x0, y0), (x1, y1) = where[e["source"]], where[e["target"]]
            width = 0.8 + 11.0 * (float(e["amount"]) / biggest if biggest else 0.0)
            bend = 0.0 if x1 > x0 else 0.45  # loops and back-edges curve
            patch = FancyArrowPatch(
                (x0 + _HALF, y0),
                (x1 - _HALF, y1),
                connectionstyle=f"arc3,rad={bend}",
                arrowstyle="-|>",
                mutation_scale=8 + width,
                linewidth=width,
                color="#c0392b",
                alpha=0.45,
                zorder=1,
            )
            ax.add_patch(patch)
            edge_artists.append(patch)
            if i in labelled:
                t = ax.text(
                    (x0 + x1) / 2, (y0 + y1) / 2 + (0.18 if bend else 0.0), _money(e["amount"], self.currency),
                    fontsize=7, ha="center", va="center", color="#7b241c", zorder=3,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8),
                )  # fmt: skip
                label_artists.append(t)
        colours = {"account": "#fdebd0", "other": "#eaecee", "exit": "#d6eaf8", "origin": "#e8f8f5", "source": "#f5b7b1"}
        for r in nodes.itertuples():
            box = FancyBboxPatch(
                (r.x - _HALF, r.y - 0.32), 2 * _HALF, 0.64,
                boxstyle="round,pad=0.02", fc=colours.get(r.kind, "#fdebd0"), ec="#566573", lw=0.8, zorder=2,
            )  # fmt: skip
            ax.add_patch(box)
            node_artists.append(box)
            name = "\n".join(textwrap.wrap(str(r.node), 18, break_long_words=True)[:2])
            text = f"{name}\n{_money(r.amount, self.currency)}" if r.amount is not None else name
            label_artists.append(ax.text(r.x, r.y, plain(text), fontsize=7, ha="center", va="center", zorder=4))
        if len(nodes):
            ax.set_xlim(nodes["x"].min() - 0.5, nodes["x"].max() + 0.5)
            ax.set_ylim(nodes["y"].min() - 0.8, nodes["y"].max() + 0.8)
        cols = sorted(nodes["column"].unique()) if len(nodes) else []
        ax.set_xticks([float(c) for c in cols])
        ax.set_xticklabels([_column_name(c, nodes) for c in cols], fontsize=8)
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(plain(self.title or ""), fontsize=9)
        ax.text(1.0, -0.12, f"amounts in {self.currency}", transform=ax.transAxes, ha="right", fontsize=7)
        self.ax_, self.figure_ = ax, fig
        self.nodes_, self.edges_ = nodes, edges
        self.artists_ = {"nodes": node_artists, "edges": edge_artists, "labels": label_artists}
        return self


# ---------------------------------------------------------------------- graph building
def _money(v, currency=None) -> str:
    """``1,234.50`` in ``currency``'s decimals (KWD three, JPY none); empty for None."""
    return f"{Decimal(v):,.{minor_units(currency)}f}" if v is not None else ""


def _column_name(c: int, nodes: pd.DataFrame) -> str:
    kinds = set(nodes.loc[nodes["column"] == c, "kind"])
    if kinds == {"exit"}:
        return "left the trace"
    if kinds - {"other"} <= {"origin"} and "origin" in kinds:
        return "origins"
    if c == 0:
        return "source" if nodes.attrs.get("direction") != "backward" else "destination"
    return f"hop {abs(c)}"


def _frame(rows: list[tuple], cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=cols)


def _forward_graph(result, currency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    hops = [h for h in result.hops.to_pylist() if h["currency"] == currency]
    srcs = [s for s in result.sources.to_pylist() if s["currency"] == currency and s["account"] is not None]
    held = {p["account"]: p["tainted_balance"] for p in result.positions.to_pylist() if p["currency"] == currency}
    column: dict[str, int] = {}
    for s in srcs:
        column[s["account"]] = 0
    for h in hops:
        if h["stop"] is None and h["to_account"] is not None:
            column[h["to_account"]] = min(column.get(h["to_account"], h["hop"]), h["hop"])
        column.setdefault(h["from_account"], max(h["hop"] - 1, 0))
    for acct in held:
        column.setdefault(acct, 0)
    flows: dict[tuple[str, str], Decimal] = {}
    for h in hops:
        target = h["to_account"] if h["stop"] is None else _EXIT_LABELS[h["stop"]]
        key = (h["from_account"], target)
        flows[key] = flows.get(key, Decimal(0)) + h["tainted_amount"]
    exit_amount: dict[str, Decimal] = {}
    for s in result.sources.to_pylist():  # taint created on a payment to cash leaves at once
        if s["currency"] == currency and s["account"] is None:
            exit_amount[_EXIT_LABELS["external"]] = exit_amount.get(_EXIT_LABELS["external"], Decimal(0)) + s["amount"]
    last = max(column.values(), default=0) + 1
    rows = []
    for acct, col in column.items():
        rows.append((acct, col, held.get(acct, Decimal("0.00")), "account"))
    for (_, target), amount in flows.items():
        if target in _EXIT_LABELS.values():
            exit_amount[target] = exit_amount.get(target, Decimal(0)) + amount
    for label, amount in exit_amount.items():
        rows.append((label, last, amount, "exit"))
    nodes = _frame(rows, ["node", "column", "amount", "kind"])
    nodes.attrs["direction"] = "forward"
    edges = _frame([(a, b, v) for (a, b), v in flows.items()], ["source", "target", "amount"])
    return nodes, edges


def _backward_graph(result, currency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Origins (left) -> destination (right), one edge per origin: the ``funding`` table.

    Only the split of the destination is drawn: the engine attributes money to origins,
    not to paths, so intermediate flows of the upstream set (most of which may have gone
    elsewhere) would mislead.
    """
    dest = result.params.get("destination")
    fund = [f for f in result.funding.to_pylist() if f["currency"] == currency] if result.funding is not None else []
    rows = [(dest, 0, _funded(result, currency), "account")]
    edges = []
    for f in fund:
        name = f["origin"] if f["origin"] != dest else f"{dest} (own funds)"
        rows.append((name, -1, f["amount"], "origin"))
        edges.append((name, dest, f["amount"]))
    nodes = _frame(rows, ["node", "column", "amount", "kind"])
    nodes.attrs["direction"] = "backward"
    return nodes, _frame(edges, ["source", "target", "amount"])


def _funded(result, currency: str):
    f = result.funding
    if f is None:
        return None
    return sum((r["amount"] for r in f.to_pylist() if r["currency"] == currency), Decimal("0.00"))


def _merge_small(nodes: pd.DataFrame, edges: pd.DataFrame, keep: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the ``keep`` accounts per column with the most money through them; merge the rest."""
    if nodes.empty:
        return nodes, edges
    through: dict[str, Decimal] = {}
    for e in edges.itertuples():
        through[e.target] = through.get(e.target, Decimal(0)) + e.amount
        through[e.source] = through.get(e.source, Decimal(0)) + e.amount
    nodes = nodes.copy()
    nodes["_w"] = [through.get(n, Decimal(0)) + (a or Decimal(0)) for n, a in zip(nodes["node"], nodes["amount"])]
    rename: dict[str, str] = {}
    out = []
    for col, grp in nodes.groupby("column", sort=True):
        accounts = grp[grp["kind"].isin(["account", "origin"])]
        accounts = accounts.sort_values(["_w", "node"], ascending=[False, True], kind="stable")
        rest = accounts.iloc[keep:]
        out.append(grp[~grp["node"].isin(rest["node"])])
        if len(rest):
            if set(rest["kind"]) == {"origin"}:
                label = f"other ({len(rest)} origins)"
            elif col:
                label = f"other, hop {abs(int(col))} ({len(rest)} accounts)"
            else:
                label = f"other ({len(rest)} accounts)"
            amounts = [a for a in rest["amount"] if a is not None]
            out.append(
                pd.DataFrame(
                    {"node": [label], "column": [col], "amount": [sum(amounts, Decimal(0)) if amounts else None],
                     "kind": ["other"], "_w": [sum(rest["_w"], Decimal(0))]}
                )
            )  # fmt: skip
            rename.update({n: label for n in rest["node"]})
    merged = pd.concat(out, ignore_index=True)
    merged.attrs = nodes.attrs
    if rename and not edges.empty:
        edges = edges.assign(
            source=edges["source"].map(lambda n: rename.get(n, n)), target=edges["target"].map(lambda n: rename.get(n, n))
        )
        edges = edges[edges["source"] != edges["target"]]
        edges = edges.groupby(["source", "target"], as_index=False, sort=True)["amount"].agg(lambda v: sum(v, Decimal(0)))
    return merged.drop(columns="_w"), edges.reset_index(drop=True)


def _layout(nodes: pd.DataFrame) -> pd.DataFrame:
    """x = column; y spread evenly per column, largest amounts on top, ties by name."""
    if nodes.empty:
        return nodes.assign(x=pd.Series(dtype=float), y=pd.Series(dtype=float))
    parts = []
    kind_rank = {"account": 0, "origin": 0, "other": 1, "exit": 2}
    for col, grp in nodes.groupby("column", sort=True):
        grp = grp.assign(
            _k=grp["kind"].map(kind_rank),
            _a=[-(a if a is not None else Decimal(0)) for a in grp["amount"]],
        ).sort_values(["_k", "_a", "node"], kind="stable")
        n = len(grp)
        grp = grp.assign(x=float(col), y=(np.arange(n)[::-1] - (n - 1) / 2.0).astype(float))
        parts.append(grp.drop(columns=["_k", "_a"]))
    out = pd.concat(parts, ignore_index=True)
    out.attrs = nodes.attrs
    return out


# --------------------------------------------------------------------------- link chart
_SHAPES = {"account": ("s", "#1f77b4", "account"), "party": ("o", "#2ca02c", "person / entity"),
           "identifier": ("^", "#ff7f0e", "phone, e-mail, address, ID"), "truncated": ("X", "#7f7f7f", "more, not drawn")}  # fmt: skip


class LinkChartDisplay:
    """Link chart around a subject: accounts, parties and identifiers as distinct shapes.

    Edges between the same two nodes are drawn once, as wide as the money they carry
    (log scale; money in one currency only is summed; roles and identifier links are
    thin dashed lines). When the neighbourhood is capped a grey ``+N more`` node shows
    how much was left out. The layout is seeded, so the same case draws the same
    picture. Follows scikit-learn's Display pattern: build with :meth:`from_bundle`,
    then ``ax_`` and ``figure_`` hold the drawing.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A neighbourhood from :func:`followmoney.graph.neighbourhood`.
    subject : str
        The node at the centre.

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
    nodes_drawn_ : dict of str to int
        Nodes drawn per kind (``account``, ``party``, ``identifier``, ``truncated``).
    hidden_ : int
        Nodes left out by the cap.
    labels_hidden_ : int
        Labels (node names, edge amounts) hidden because they would overlap another.

    Examples
    --------
    >>> import followmoney as fm
    >>> d = LinkChartDisplay.from_bundle(fm.read(fm.sample_data_path() / "goaml"), "DEXB/1001002001", max_nodes=8)
    >>> d.nodes_drawn_["truncated"] >= 1, d.ax_.get_legend() is not None
    (True, True)
    """

    def __init__(self, graph, subject: str):
        self.graph = graph
        self.subject = subject

    @classmethod
    def from_bundle(cls, bundle, subject: str, *, hops: int = 2, max_nodes: int = 40, since=None, until=None,
                    merge_persons: bool = True, ax=None, seed: int = 0):  # fmt: skip
        """Build the neighbourhood of ``subject`` in ``bundle`` and draw it.

        ``subject`` may be an account id, a party id, or an identifier written
        ``kind:value`` (as in alerts). With ``merge_persons`` the mentions of one
        person (resolved by :func:`followmoney.resolve.resolve`) are drawn as one node.
        Raises KeyError if ``subject`` is not in the data.
        """
        import networkx as nx

        from followmoney.graph import build_graph, neighbourhood

        G = build_graph(bundle)
        if merge_persons and bundle.parties.num_rows:
            from followmoney.resolve import resolve

            clusters = resolve(bundle).party_clusters
            mapping = {p: c for p, c in zip(clusters["party_id"].to_pylist(), clusters["cluster_id"].to_pylist()) if p != c}
            names = {mapping[p]: d for p, d in G.nodes(data=True) if p in mapping}
            G = nx.relabel_nodes(G, mapping, copy=True)
            for c, d in names.items():
                G.nodes[c].update(d)
            subject = mapping.get(subject, subject)
            from followmoney.names import display_names

            names = display_names(bundle, resolve(bundle))
            for n, d in G.nodes(data=True):
                if d.get("kind") in ("account", "party", "cluster"):
                    d["label"] = names.label(n)
        node = subject if subject in G else f"id:{subject}"
        H = neighbourhood(G, node, hops=hops, since=since, until=until, max_nodes=max_nodes)
        return cls(H, node).plot(ax=ax, seed=seed)

    def plot(self, ax=None, *, seed: int = 0, hide_overlaps: bool = True):
        """Draw on ``ax`` (a new figure when None); returns self.

        With ``hide_overlaps``, a label whose drawn box would overlap one already
        placed is hidden: the subject's label first, then nodes by number of links,
        then the amounts on edges. The title says how many (``+N labels hidden``) and
        ``labels_hidden_`` holds the count.
        """
        import math

        import networkx as nx
        from matplotlib.lines import Line2D

        H = self.graph
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(9, 7))
        pos = nx.spring_layout(nx.Graph(H), seed=seed, k=1.2 / math.sqrt(max(H.number_of_nodes(), 1)))
        money: dict[tuple, dict] = {}
        links = set()
        edge_texts: list = []
        for u, v, d in H.edges(data=True):
            if d.get("relation") == "transaction":
                m = money.setdefault((u, v), {})
                m[d.get("currency")] = m.get(d.get("currency"), 0) + (d.get("amount_cents") or 0)
            else:
                links.add((u, v))
        for (u, v), per_ccy in sorted(money.items()):
            total = max(per_ccy.values()) / MONEY_SCALE
            width = 0.6 + 0.6 * math.log10(1 + total)
            ax.annotate("", xy=pos[v], xytext=pos[u],
                        arrowprops={"arrowstyle": "-|>", "lw": width, "color": "#555", "alpha": 0.7, "shrinkA": 8, "shrinkB": 8})  # fmt: skip
            label = ", ".join(f"{c or '?'} {a / MONEY_SCALE:,.0f}" for c, a in sorted(per_ccy.items(), key=lambda x: str(x[0])))
            mid = ((pos[u][0] + pos[v][0]) / 2, (pos[u][1] + pos[v][1]) / 2)
            edge_texts.append(ax.text(*mid, plain(label), fontsize=6, color="#333", ha="center"))
        for u, v in sorted(links):
            ax.plot([pos[u][0], pos[v][0]], [pos[u][1], pos[v][1]], ls="--", lw=0.8, color="#999", zorder=0)
        self.nodes_drawn_ = {k: 0 for k in _SHAPES}
        node_texts = {}
        for n, d in sorted(H.nodes(data=True), key=lambda x: str(x[0])):
            kind = d.get("kind", "account")
            marker, color, _ = _SHAPES.get(kind, _SHAPES["account"])
            size = 260 if n == self.subject else 120
            edge = "#d62728" if n == self.subject else "white"
            ax.scatter(*pos[n], marker=marker, s=size, c=color, edgecolors=edge, linewidths=2, zorder=3)
            self.nodes_drawn_[kind] = self.nodes_drawn_.get(kind, 0) + 1
            node_texts[n] = ax.text(pos[n][0], pos[n][1] - 0.06, plain(_node_label(n, d)), fontsize=7, ha="center", va="top")
        ax.margins(0.15)  # room for labels at the edge
        order = sorted(H.nodes, key=lambda n: (n != self.subject, -H.degree(n), str(n)))
        self.labels_hidden_ = _hide_overlaps([node_texts[n] for n in order] + edge_texts) if hide_overlaps else 0
        self.hidden_ = int(H.graph.get("hidden_nodes", 0))
        handles = [Line2D([], [], marker=m, color="w", markerfacecolor=c, markersize=9, label=lab) for m, c, lab in _SHAPES.values()]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
        title = self.graph.nodes[self.subject].get("label") if self.subject in self.graph else None
        notes = [f"{self.hidden_} more not drawn"] if self.hidden_ else []
        if self.labels_hidden_:
            notes.append(f"+{self.labels_hidden_} labels hidden to avoid overlap")
        ax.set_title(plain(f"Link chart around {title or self.subject}" + (f" ({'; '.join(notes)})" if notes else "")), fontsize=10)
        ax.set_axis_off()
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _hide_overlaps(texts) -> int:
    """Hide every text whose drawn box overlaps one kept before it (``texts`` in priority order)."""
    if not texts:
        return 0
    renderer = texts[0].figure.canvas.get_renderer()
    kept, hidden = [], 0
    for t in texts:
        box = t.get_window_extent(renderer).expanded(1.04, 1.1)
        if any(box.overlaps(k) for k in kept):
            t.set_visible(False)
            hidden += 1
        else:
            kept.append(box)
    return hidden


def plain(text) -> str:
    """``text`` drawn literally by matplotlib: every ``$`` escaped, so names never start mathtext.

    Matplotlib reads text between two ``$`` as a formula (and raises on a bad one);
    an escaped ``\\$`` outside a formula is drawn as ``$``.

    Examples
    --------
    >>> plain("$x^$ Ltd")
    '\\\\$x^\\\\$ Ltd'
    """
    return str(text).replace("$", "\\$")


def _node_label(n, d) -> str:
    kind = d.get("kind")
    if kind == "truncated":
        return f"+{d.get('hidden', '?')} more"
    if d.get("label"):
        return "\n".join(textwrap.wrap(str(d["label"]), 24, break_long_words=True)[:2])
    if kind == "party":
        return str(d.get("name") or n)[:28]
    if kind == "identifier":
        return f"{d.get('identifier_kind', '')}: {str(d.get('value', n))[:26]}"
    return str(n)[:28]


# --------------------------------------------------------------------------- timeline
class TimelineDisplay:
    """Transactions of one account over time, by channel, with its alerts' windows marked.

    Incoming transactions are drawn above the axis, outgoing below (amount in the
    account's currencies, log scale); each alert window is a shaded band labelled with
    its rule id.

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
    n_transactions_ : int
    n_alerts_ : int

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> d = TimelineDisplay.from_bundle(b, "DEXB/1001002001", alerts=fm.score(b, fm.Config(jurisdiction="AE")))
    >>> d.n_transactions_ >= 5 and d.n_alerts_ >= 1
    True
    """

    def __init__(self, transactions, subject: str, alerts=None):
        self.transactions = transactions
        self.subject = subject
        self.alerts = alerts

    @classmethod
    def from_bundle(cls, bundle, subject: str, *, alerts=None, ax=None):
        """Select the subject's transactions (and alerts) from ``bundle`` and draw them."""
        tx = bundle.transactions.select(["timestamp", "amount", "currency", "channel", "from_account", "to_account"]).to_pandas()
        tx = tx[(tx["from_account"] == subject) | (tx["to_account"] == subject)].dropna(subset=["timestamp"])
        mine = None
        if alerts is not None and alerts.num_rows:
            a = alerts.select(["subject_id", "rule_id", "window_start", "window_end"]).to_pandas()
            mine = a[a["subject_id"] == subject]
        return cls(tx, subject, mine).plot(ax=ax)

    def plot(self, ax=None):
        """Draw on ``ax`` (a new figure when None); returns self."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(10, 4))
        tx = self.transactions
        sign = (tx["to_account"] == self.subject).map({True: 1.0, False: -1.0})
        y = sign * tx["amount"].astype(float)  # drawing only: money stays decimal in the tables
        for channel, g in tx.assign(y=y).groupby("channel", sort=True):
            ax.scatter(g["timestamp"], g["y"], s=18, label=plain(channel))
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_yscale("symlog")
        self.n_alerts_ = 0
        if self.alerts is not None:
            for _, r in self.alerts.iterrows():
                ax.axvspan(r["window_start"], r["window_end"], color="#d62728", alpha=0.12)
                ax.text(r["window_start"], ax.get_ylim()[1], plain(r["rule_id"]), fontsize=7, color="#d62728", va="top")
                self.n_alerts_ += 1
        ax.set_ylabel("in (+) / out (−), amount")
        ax.set_title(plain(f"Transactions of {self.subject}"), fontsize=10)
        if len(tx):
            ax.legend(fontsize=7, loc="lower left", frameon=False)
        self.n_transactions_ = len(tx)
        self.ax_, self.figure_ = ax, ax.figure
        return self


# --------------------------------------------------------------------------- alert scores
class AlertScoresDisplay:
    """Distribution of alert scores and the number of alerts per rule.

    Attributes
    ----------
    axes_ : array of 2 Axes
    figure_ : Figure
    counts_ : dict of str to int
        Alerts per rule, as drawn.

    Examples
    --------
    >>> import followmoney as fm
    >>> d = AlertScoresDisplay.from_alerts(fm.score(fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE")))
    >>> sum(d.counts_.values()) > 0
    True
    """

    def __init__(self, alerts):
        self.alerts = alerts

    @classmethod
    def from_alerts(cls, alerts):
        """Draw the figures for an alerts table."""
        return cls(alerts).plot()

    def plot(self):
        """Draw a new figure; returns self."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        scores = self.alerts["score"].to_pylist()
        axes[0].hist(scores, bins=20, range=(0, 1), color="#1f77b4")
        axes[0].set_xlabel("alert score (0.5 = at the rule's threshold)")
        axes[0].set_ylabel("alerts")
        rules = self.alerts["rule_id"].to_pylist()
        self.counts_ = {r: rules.count(r) for r in sorted(set(rules))}
        axes[1].barh(list(self.counts_), list(self.counts_.values()), color="#ff7f0e")
        axes[1].invert_yaxis()
        axes[1].set_xlabel("alerts per rule")
        self.axes_, self.figure_ = axes, fig
        return self
