"""GraphML and GEXF: any graph of :mod:`followmoney.graph`, and the analyst graph of a run."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import networkx as nx
import pyarrow as pa

from followmoney.core.bundle import Bundle
from followmoney.core.units import money_text

__all__ = ["graph_for_export", "to_graphml", "to_gexf", "analyst_graph"]


def _scalar(value):
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple | set):
        return json.dumps(sorted(value) if isinstance(value, set) else value, sort_keys=True, default=str, ensure_ascii=False)
    return str(value)


def graph_for_export(G: nx.Graph) -> nx.Graph:
    """A copy of ``G`` whose attributes GraphML and GEXF can store.

    Datetimes become ISO 8601 strings, dicts and lists JSON strings, ``None`` values
    are dropped; node ids and edge keys become strings. Graph-level objects (e.g. the
    Arrow edge table of a compact graph) are left out.

    Parameters
    ----------
    G : networkx graph

    Returns
    -------
    networkx graph
        Same class as ``G``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("A", "B", "t1", timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc), totals={"EUR": 5}, x=None)
    >>> graph_for_export(G).edges["A", "B", "t1"]
    {'timestamp': '2024-01-01T00:00:00+00:00', 'totals': '{"EUR": 5}'}
    """
    H = G.__class__()
    H.graph.update({k: v for k, v in ((k, _scalar(v)) for k, v in G.graph.items() if not isinstance(v, pa.Table)) if v is not None})
    H.add_nodes_from((str(n), {k: s for k, v in d.items() if (s := _scalar(v)) is not None}) for n, d in G.nodes(data=True))
    if G.is_multigraph():
        H.add_edges_from(
            (str(u), str(v), str(k), {a: s for a, x in d.items() if (s := _scalar(x)) is not None})
            for u, v, k, d in G.edges(keys=True, data=True)
        )
    else:
        H.add_edges_from(
            (str(u), str(v), {a: s for a, x in d.items() if (s := _scalar(x)) is not None}) for u, v, d in G.edges(data=True)
        )
    return H


def to_graphml(G: nx.Graph, path: str | Path) -> Path:
    """Write ``G`` as GraphML (yEd, Cytoscape, Gephi, Neo4j import).

    Parameters
    ----------
    G : networkx graph
        E.g. :func:`followmoney.graph.entity_graph`, ``flow_graph``,
        ``neighbourhood``.
    path : str or Path

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import followmoney as fm, tempfile, os
    >>> from followmoney.graph import flow_graph
    >>> p = to_graphml(flow_graph(fm.read(fm.sample_data_path() / "goaml")), os.path.join(tempfile.mkdtemp(), "f.graphml"))
    >>> nx.read_graphml(p).number_of_edges() > 0
    True
    """
    path = Path(path)
    nx.write_graphml(_labelled(graph_for_export(G)), path)
    return path


def to_gexf(G: nx.Graph, path: str | Path) -> Path:
    """Write ``G`` as GEXF 1.2 (Gephi).

    Parameters
    ----------
    G : networkx graph
    path : str or Path

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    nx.write_gexf(_labelled(graph_for_export(G)), path)
    return path


def _labelled(H: nx.Graph) -> nx.Graph:
    """Every node gets a non-empty ``label`` (Gephi, yEd and Cytoscape show it)."""
    for n, d in H.nodes(data=True):
        if not d.get("label"):
            d["label"] = str(d.get("name") or d.get("value") or n)
    return H


def analyst_graph(bundle: Bundle, resolution=None, *, names=None, cases: pa.Table | None = None) -> nx.MultiDiGraph:
    """One graph for link-analysis tools: who is who, who holds what, and every payment.

    The collapsed entity graph (:func:`followmoney.graph.entity_graph` with
    ``collapse=True``: one node per resolved person or entity, accounts,
    identifiers) plus one ``payment`` edge per ordered pair of accounts (or walk-in
    parties) and currency, aggregated from :func:`followmoney.graph.flow_table`.

    Parameters
    ----------
    bundle : Bundle
        Uses ``transactions``, ``parties``, ``accounts``, ``party_accounts``,
        ``identifiers``.
    resolution : followmoney.resolve.Resolution, optional
        Resolved here with default settings when None.
    names : followmoney.names.Names, optional
        Built here from ``bundle`` and ``resolution`` when None.
    cases : pyarrow.Table, optional
        Cases of the run (:func:`followmoney.build_cases`): their subjects get
        ``case_id``, ``risk_score``, ``band`` and ``role`` node attributes.

    Returns
    -------
    networkx.MultiDiGraph
        Every node has ``label`` (the display name with the account number for
        accounts; the id where no source names it), ``name`` where known and
        ``kind``. Payment edges (key ``payment:<currency>``) have ``relation`` =
        ``"payment"``, ``currency`` (ISO 4217), ``amount`` (exact decimal text in that
        currency), ``amount_cents`` (int, hundredths: exact), ``count``, ``first`` and
        ``last`` (UTC), ``label`` (e.g. ``"AED 150,000.00 (1)"``) and ``weight``
        (the amount as a number, for edge thickness only: use ``amount`` for sums).
        Amounts are never added across currencies.

    Examples
    --------
    >>> import followmoney as fm
    >>> G = analyst_graph(fm.read(fm.sample_data_path() / "goaml"))
    >>> G.edges["DEXB/1001002001", "GSMB/2002003001", "payment:AED"]["amount"]
    '150000.00'
    >>> G.nodes["DEXB/1001002001"]["label"]
    'Tariq Fictus · 1001002001'
    """
    from decimal import Decimal

    from followmoney.graph import entity_graph, flow_table
    from followmoney.names import display_names
    from followmoney.resolve import resolve

    res = resolution if resolution is not None else resolve(bundle)
    names = names if names is not None else display_names(bundle, res)
    cmap = res.cluster_map()
    G = entity_graph(bundle, res, collapse=True)
    flows = flow_table(bundle)
    for s, t, cur, n, cents, first, last in zip(*(flows[c].to_pylist() for c in flows.column_names)):
        s, t = cmap.get(s, s), cmap.get(t, t)
        for node in (s, t):
            if node not in G:
                G.add_node(node, kind="party" if node.startswith("P") else "account")
        amount = Decimal(int(cents or 0)) / 100
        G.add_edge(s, t, f"payment:{cur}", relation="payment", currency=cur, amount=f"{amount:.2f}",
                   amount_cents=int(cents or 0), count=int(n), first=first, last=last,
                   label=f"{money_text(int(cents or 0), cur)} ({n})", weight=float(amount))  # fmt: skip
    subjects = {}
    if cases is not None:
        for r in cases.select(["case_id", "subject_kind", "subject_id", "risk_score", "band", "role"]).to_pylist():
            sid = r["subject_id"]
            subjects["id:" + sid if r["subject_kind"] == "identifier" else cmap.get(sid, sid)] = r
    for node, d in G.nodes(data=True):
        name = names.name(node)
        if name:
            d["name"] = name
        d["label"] = names.label(node) if d.get("kind") != "identifier" else str(d.get("value") or names.label(node))
        case = subjects.get(node)
        if case:
            d.update(case_id=case["case_id"], risk_score=float(case["risk_score"]), band=case["band"], role=case["role"])
    return G
