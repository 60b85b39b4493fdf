"""GraphML and GEXF: any graph of :mod:`followmoney.graph`, and the analyst graph of a run."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import networkx as nx
import pyarrow as pa

from followmoney.graph import analyst_graph

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
