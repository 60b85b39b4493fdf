"""networkx views of a :class:`~followmoney.Bundle`: who paid whom, who holds what, who is who.

The graph is a *view* for link analysis and charts; bulk computations (rules,
features) run on the tables. Three graphs and two views:

* :func:`transaction_graph`: the multigraph of accounts, one edge per transaction
  (parallel transfers kept), built in bulk. ``compact=True`` keys edges by row number
  into an Arrow edge table instead of carrying per-edge attribute dicts, which cuts
  Python memory per edge by more than half (see ``make bench``);
* :func:`flow_graph` / :func:`flow_table`: one edge per ordered account pair with the
  count, the total *per currency* (never added across currencies) and the first/last
  time;
* :func:`entity_graph`: resolved clusters, party mentions, accounts and identifiers,
  with holder / signatory / director / same-as / has-identifier edges;
* :func:`neighbourhood`: the ego network of a subject within a time window, capped at
  ``max_nodes`` with a visible "and N more" node where it was cut;
* :func:`paths`: time-respecting paths between two nodes (each hop no earlier than the
  one before), bounded in hops and work.

:func:`build_graph` keeps the one-graph view (transactions, roles and identifiers).

Duplicate transaction ids are handled the same way everywhere: exact repeats of a
``txn_id`` are dropped and counted (``G.graph["duplicates_dropped"]``); a ``txn_id``
repeated with a different sender, receiver, amount, currency or time raises
:class:`ConflictingDuplicateError` rather than letting the last row win.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import NamedTuple

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema, units
from followmoney.core.bundle import Bundle
from followmoney.exceptions import ConflictingDuplicateError

__all__ = [
    "ConflictingDuplicateError",
    "build_graph",
    "identifier_node",
    "transaction_graph",
    "flow_table",
    "flow_graph",
    "entity_graph",
    "neighbourhood",
    "paths",
    "PathSearch",
    "TimedPath",
    "FLOW_TABLE_SCHEMA",
    "analyst_graph",
    "case_nodes",
]

_KEY_COLUMNS = ("source", "target", "amount_cents", "currency", "timestamp")

#: Columns of :func:`flow_table`.
FLOW_TABLE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False, metadata={"doc": "Paying account (or party for walk-in cash)."}),
        pa.field("target", pa.string(), nullable=False, metadata={"doc": "Receiving account (or party)."}),
        pa.field("currency", pa.string(), metadata={"doc": "ISO 4217 of total_cents."}),
        pa.field("count", pa.int64(), nullable=False, metadata={"doc": "Transactions in this direction and currency."}),
        pa.field("total_cents", pa.int64(), metadata={"doc": "Sum in thousandths of the currency unit (exact for every ISO 4217 minor unit)."}),
        pa.field("first", schema.TIMESTAMP, metadata={"doc": "Earliest transaction, UTC."}),
        pa.field("last", schema.TIMESTAMP, metadata={"doc": "Latest transaction, UTC."}),
    ]
)


def identifier_node(kind: str, value: str) -> str:
    """Node id of an identifier: ``"id:<kind>:<value>"``.

    Examples
    --------
    >>> identifier_node("phone", "+971500000001")
    'id:phone:+971500000001'
    """
    return f"id:{kind}:{value}"


# --------------------------------------------------------------------------- edges
def _transactions(data: Bundle | pa.Table) -> pa.Table:
    tx = data.transactions if isinstance(data, Bundle) else data
    return schema.conform(tx, "transactions")


def _edges(data: Bundle | pa.Table) -> tuple[pa.Table, dict]:
    """Two-sided transactions as an edge table, exact duplicates dropped.

    Returns the table ``txn_id, source, target, source_kind, target_kind,
    amount_cents, currency, timestamp, channel`` (input order) and counts
    ``duplicates_dropped`` and ``one_sided_transactions``.
    """
    tx = _transactions(data)
    src = pc.coalesce(tx["from_account"], tx["from_party"])
    dst = pc.coalesce(tx["to_account"], tx["to_party"])
    table = pa.table(
        {
            "txn_id": tx["txn_id"],
            "source": src,
            "target": dst,
            "source_kind": pc.if_else(pc.is_valid(tx["from_account"]), "account", "party"),
            "target_kind": pc.if_else(pc.is_valid(tx["to_account"]), "account", "party"),
            "amount_cents": schema.to_cents(tx["amount"]),
            "currency": tx["currency"],
            "timestamp": tx["timestamp"],
            "channel": tx["channel"],
        }
    )
    dropped = 0
    if table.num_rows and pc.count_distinct(table["txn_id"]).as_py() != table.num_rows:
        t = table.append_column("__i", pa.array(np.arange(table.num_rows)))
        firsts = t.group_by(["txn_id", *_KEY_COLUMNS], use_threads=False).aggregate([("__i", "min")])
        if pc.count_distinct(firsts["txn_id"]).as_py() != firsts.num_rows:
            n_ids = firsts.group_by("txn_id").aggregate([("txn_id", "count")])
            raise ConflictingDuplicateError(int(pc.sum(pc.greater(n_ids["txn_id_count"], 1)).as_py()))
        keep = pc.sort_indices(firsts["__i_min"])
        table = table.take(pc.take(firsts["__i_min"], keep))
        dropped = tx.num_rows - table.num_rows
    both = pc.and_(pc.is_valid(table["source"]), pc.is_valid(table["target"]))
    two_sided = table.filter(both)
    return two_sided, {"duplicates_dropped": dropped, "one_sided_transactions": table.num_rows - two_sided.num_rows}


def _shared_objects(*cols: pa.ChunkedArray) -> list[list]:
    """Each column as a list of references into one set of Python objects (the distinct
    values of ``cols``): node ids are then one object each, however many edges use them."""
    allv = pa.chunked_array([c for col in cols for c in col.chunks], type=pa.string())
    nodes = pc.unique(allv)
    objs = np.array(nodes.to_pylist() + [None], dtype=object)
    out = []
    for col in cols:
        idx = pc.fill_null(pc.index_in(col, nodes), len(nodes)).to_numpy()
        out.append(objs[idx].tolist())
    return out


def transaction_graph(data: Bundle | pa.Table, *, compact: bool = False) -> nx.MultiDiGraph:
    """The transaction multigraph: one edge per transaction, parallel transfers kept.

    Parameters
    ----------
    data : Bundle or pyarrow.Table
        A bundle or its ``transactions`` table (``txn_id, from_account, to_account,
        from_party, to_party, amount, currency, timestamp, channel``). A side without
        an account falls back to the party (a walk-in cash depositor); transactions
        with an unknown side are not edges and are counted.
    compact : bool, default False
        False: edges are keyed by ``txn_id`` and carry ``amount_cents`` (int,
        thousandths of ``currency``), ``currency``, ``timestamp`` (UTC datetime) and
        ``channel``. True: edges are keyed by their row number in
        ``G.graph["edges"]`` (a :class:`pyarrow.Table` with ``txn_id, source, target,
        amount_cents, currency, timestamp, channel``) and carry no attributes: less
        than half the memory per edge. :func:`neighbourhood` and :func:`paths` read
        either form.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes carry ``kind`` (``account`` or ``party``). ``G.graph`` has
        ``duplicates_dropped`` and ``one_sided_transactions`` (counts).

    Raises
    ------
    ConflictingDuplicateError
        A ``txn_id`` repeated with different values.

    Notes
    -----
    Built in bulk from Arrow columns (no per-row DataFrame access); node ids are
    shared Python objects, so per-edge memory does not depend on id length. Integer
    node ids were measured and save nothing further once ids are shared; the saving
    comes from integer edge keys and columnar attributes (``compact=True``).
    O(n) time for n transactions.

    Examples
    --------
    >>> import followmoney as fm
    >>> G = transaction_graph(fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv"), compact=True)
    >>> G.number_of_edges() == G.graph["edges"].num_rows
    True
    """
    edges, counts = _edges(data)
    G = nx.MultiDiGraph(**counts)
    src, dst = _shared_objects(edges["source"], edges["target"])
    kinds = {}
    for col, kcol in ((src, edges["source_kind"]), (dst, edges["target_kind"])):
        for n, k in zip(col, kcol.to_pylist()):
            if kinds.get(n) != "account":
                kinds[n] = k
    if isinstance(data, Bundle):
        for a in data.accounts["account_id"].to_pylist():
            kinds.setdefault(a, "account")
    G.add_nodes_from((n, {"kind": k}) for n, k in kinds.items())
    if compact:
        G.graph["edges"] = edges.select(["txn_id", "source", "target", "amount_cents", "currency", "timestamp", "channel"])
        G.add_edges_from(zip(src, dst, range(edges.num_rows)))
    else:
        cur, ch = _shared_objects(edges["currency"], edges["channel"])
        G.add_edges_from(
            (s, d, k, {"relation": "transaction", "amount_cents": a, "currency": c, "timestamp": t, "channel": h})
            for s, d, k, a, c, t, h in zip(
                src, dst, edges["txn_id"].to_pylist(), edges["amount_cents"].to_pylist(), cur,
                edges["timestamp"].to_pylist(), ch,
            )
        )  # fmt: skip
    return G


# --------------------------------------------------------------------------- flows
def flow_table(data: Bundle | pa.Table) -> pa.Table:
    """Aggregated flows: one row per ordered pair of accounts and currency.

    Parameters
    ----------
    data : Bundle or pyarrow.Table
        As for :func:`transaction_graph`.

    Returns
    -------
    pyarrow.Table
        :data:`FLOW_TABLE_SCHEMA`: ``source, target, currency, count, total_cents,
        first, last``, sorted by source, target, currency. Totals are per currency,
        in thousandths of the unit, exact.

    Raises
    ------
    ConflictingDuplicateError

    Examples
    --------
    >>> import followmoney as fm
    >>> t = flow_table(fm.read(fm.sample_data_path() / "goaml"))
    >>> t.column_names
    ['source', 'target', 'currency', 'count', 'total_cents', 'first', 'last']
    """
    return _flow_table(_edges(data)[0])


def _flow_table(edges: pa.Table) -> pa.Table:
    agg = edges.group_by(["source", "target", "currency"], use_threads=False).aggregate(
        [("txn_id", "count"), ("amount_cents", "sum"), ("timestamp", "min"), ("timestamp", "max")]
    )
    out = pa.table(
        {
            "source": agg["source"],
            "target": agg["target"],
            "currency": agg["currency"],
            "count": agg["txn_id_count"],
            "total_cents": agg["amount_cents_sum"],
            "first": agg["timestamp_min"],
            "last": agg["timestamp_max"],
        }
    ).cast(FLOW_TABLE_SCHEMA)
    return out.sort_by([("source", "ascending"), ("target", "ascending"), ("currency", "ascending")])


def flow_graph(data: Bundle | pa.Table) -> nx.DiGraph:
    """The aggregated flow graph: one edge per ordered account pair.

    Parameters
    ----------
    data : Bundle or pyarrow.Table
        As for :func:`transaction_graph`.

    Returns
    -------
    networkx.DiGraph
        Edge attributes: ``count`` (transactions, all currencies), ``totals`` (dict
        currency → thousandths; never summed across currencies), ``first``, ``last``
        (UTC datetimes). ``G.graph`` as for :func:`transaction_graph`.

    Raises
    ------
    ConflictingDuplicateError

    Examples
    --------
    >>> import followmoney as fm
    >>> F = flow_graph(fm.read(fm.sample_data_path() / "goaml"))
    >>> F["DEXB/1001002001"]["GSMB/2002003001"]["totals"]
    {'AED': 150000000}
    """
    edges, counts = _edges(data)
    t = _flow_table(edges)
    G = nx.DiGraph(**counts)
    for s, d, cur, n, total, first, last in zip(*(t[c].to_pylist() for c in t.column_names)):
        if G.has_edge(s, d):
            e = G[s][d]
            e["count"] += n
            e["totals"][cur] = total
            e["first"] = min((x for x in (e["first"], first) if x is not None), default=None)
            e["last"] = max((x for x in (e["last"], last) if x is not None), default=None)
        else:
            G.add_edge(s, d, count=n, totals={cur: total}, first=first, last=last)
    kinds = dict(zip(edges["source"].to_pylist(), edges["source_kind"].to_pylist()))
    kinds.update(zip(edges["target"].to_pylist(), edges["target_kind"].to_pylist()))
    nx.set_node_attributes(G, kinds, "kind")
    return G


# --------------------------------------------------------------------------- entities
def entity_graph(bundle: Bundle, resolution=None, *, collapse: bool = False) -> nx.MultiDiGraph:
    """The entity graph: clusters, party mentions, accounts and identifiers.

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties``, ``accounts``, ``party_accounts`` (``party_id, account_id,
        role``) and ``identifiers`` (normalised with
        :func:`followmoney.normalize.normalize_identifiers`, so spellings of one phone
        meet in one node).
    resolution : followmoney.resolve.Resolution, optional
        From :func:`followmoney.resolve.resolve`; run with default settings when None.
    collapse : bool, default False
        False: party mentions are nodes, linked to their cluster by ``same_as``.
        True: clusters stand in for their mentions (one node per person or entity),
        role and identifier edges de-duplicated.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes have ``kind``: ``cluster`` (``party_kind``, ``name``, ``size``),
        ``party`` (``party_kind``, ``name``, ``cluster_id``), ``account``
        (``institution``) or ``identifier`` (``identifier_kind``, ``value``,
        ``n_clusters``: clusters using it). Edges have ``relation``: ``same_as``
        (party → cluster), the role (``holder``, ``signatory``, ``director``,
        ``beneficial_owner``, ``controller``, ``other``: party → account) or
        ``has_identifier`` (party/account → identifier); the key is the relation.

    Examples
    --------
    >>> import followmoney as fm
    >>> E = entity_graph(fm.read(fm.sample_data_path() / "goaml"), collapse=True)
    >>> E.nodes[identifier_node("phone", "+971500000101")]["n_clusters"]
    4
    """
    from followmoney import normalize as nz
    from followmoney.resolve import resolve

    res = resolution if resolution is not None else resolve(bundle)
    cmap = res.cluster_map()
    p = bundle.parties
    names = dict(zip(p["party_id"].to_pylist(), p["name"].to_pylist()))
    pkind = dict(zip(p["party_id"].to_pylist(), p["kind"].to_pylist()))
    G = nx.MultiDiGraph()
    sizes = dict(zip(res.party_clusters["cluster_id"].to_pylist(), res.party_clusters["cluster_size"].to_pylist()))
    for pid in sorted(cmap):
        cid = cmap[pid]
        if cid not in G:
            G.add_node(cid, kind="cluster", party_kind=pkind.get(pid), name=names.get(pid), size=sizes[cid])
        elif not G.nodes[cid]["name"] and names.get(pid):
            G.nodes[cid]["name"] = names[pid]
        if not collapse:
            G.add_node(pid, kind="party", party_kind=pkind.get(pid), name=names.get(pid), cluster_id=cid)
            G.add_edge(pid, cid, "same_as", relation="same_as")

    def owner(pid: str) -> str:
        return cmap.get(pid, pid) if collapse else pid

    acc = bundle.accounts
    G.add_nodes_from(
        (a, {"kind": "account", "institution": inst})
        for a, inst in zip(acc["account_id"].to_pylist(), acc["institution"].to_pylist())
    )
    pa_ = bundle.party_accounts
    for pid, aid, role in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist(), pa_["role"].to_pylist()):
        if aid not in G:
            G.add_node(aid, kind="account", institution=None)
        o = owner(pid)
        if o not in G:
            G.add_node(o, kind="party", party_kind=None, name=None, cluster_id=None)
        G.add_edge(o, aid, role, relation=role)
    ids = nz.bundle_identifier_keys(bundle)
    users: dict[str, set] = defaultdict(set)
    for ok, oid, kind, value, key in zip(
        ids["owner_kind"].to_pylist(), ids["owner_id"].to_pylist(), ids["kind"].to_pylist(),
        ids["value"].to_pylist(), ids["key"].to_pylist(),
    ):  # fmt: skip
        v = key or value
        node = identifier_node(kind, v)
        if node not in G:
            G.add_node(node, kind="identifier", identifier_kind=kind, value=v)
        o = owner(oid) if ok == "party" else oid
        if o not in G:
            G.add_node(o, kind="account" if ok == "account" else "party")
        G.add_edge(o, node, "has_identifier", relation="has_identifier")
        users[node].add(cmap.get(oid, oid) if ok == "party" else oid)
    # clusters using each identifier, through the accounts they have a role on
    acc_clusters: dict[str, set] = defaultdict(set)
    for pid, aid in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()):
        acc_clusters[aid].add(cmap.get(pid, pid))
    for node, us in users.items():
        cs = set()
        for u in us:
            cs |= acc_clusters.get(u) or {u}
        G.nodes[node]["n_clusters"] = len(cs)
    return G


def build_graph(bundle: Bundle, *, parties: bool = True) -> nx.MultiDiGraph:
    """Build the investigation graph: accounts and parties linked by transactions and roles.

    Nodes carry ``kind`` (``account``, ``party`` or ``identifier``). Edges carry
    ``relation``:

    * ``"transaction"``: one edge per transaction, keyed by ``txn_id``, from the paying
      side to the receiving side (an account; else the party, e.g. a walk-in cash
      depositor), with ``amount_cents`` (int, thousandths of ``currency``),
      ``currency``, ``timestamp`` (UTC) and ``channel``. Parallel transfers are kept;
      exact duplicate rows are dropped and counted in ``G.graph["duplicates_dropped"]``.
      Transactions with only one known side (e.g. cash withdrawn by nobody named)
      are not edges; their number is in ``G.graph["one_sided_transactions"]``.
    * the role (``holder``, ``signatory``, ...): party → account, from ``party_accounts``.
    * ``"has_identifier"``: party or account → identifier node (phone, e-mail, ID, ...),
      one node per ``(kind, value)`` (see :func:`identifier_node`).

    Parameters
    ----------
    bundle : Bundle
        Uses ``transactions`` (``txn_id, from_account, to_account, from_party,
        to_party, amount, currency, timestamp, channel``), ``accounts``, ``parties``,
        ``party_accounts`` and ``identifiers``.
    parties : bool, default True
        Also add party and identifier nodes and their edges.

    Returns
    -------
    networkx.MultiDiGraph

    Raises
    ------
    ConflictingDuplicateError
        A ``txn_id`` repeated with different values.

    See Also
    --------
    transaction_graph, flow_graph, entity_graph

    Examples
    --------
    >>> import followmoney as fm
    >>> G = build_graph(fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv"))
    >>> G.number_of_edges("amlsim/475", "amlsim/7") >= 1
    True
    """
    G = transaction_graph(bundle)
    if not parties:
        return G
    p = bundle.parties
    for pid, k, n in zip(p["party_id"].to_pylist(), p["kind"].to_pylist(), p["name"].to_pylist()):
        if pid in G:
            G.nodes[pid].update(kind="party", party_kind=k, name=n)
        else:
            G.add_node(pid, kind="party", party_kind=k, name=n)
    pa_ = bundle.party_accounts
    G.add_edges_from(
        (pid, aid, role, {"relation": role})
        for pid, aid, role in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist(), pa_["role"].to_pylist())
    )
    for n in pa_["account_id"].to_pylist():
        G.nodes[n].setdefault("kind", "account")
    for n in pa_["party_id"].to_pylist():
        G.nodes[n].setdefault("kind", "party")
    ids = bundle.identifiers
    kinds, values = ids["kind"].to_pylist(), ids["value"].to_pylist()
    id_nodes = [identifier_node(k, v) for k, v in zip(kinds, values)]
    G.add_nodes_from(
        (n, {"kind": "identifier", "identifier_kind": k, "value": v}) for n, k, v in zip(id_nodes, kinds, values)
    )
    G.add_edges_from(
        (owner, n, "has_identifier", {"relation": "has_identifier"})
        for owner, n in zip(ids["owner_id"].to_pylist(), id_nodes)
    )
    for n in ids["owner_id"].to_pylist():
        G.nodes[n].setdefault("kind", "party")
    return G


# --------------------------------------------------------------------------- views
def _edge_time(G: nx.Graph):
    """A function (key, data) -> timestamp or None that reads either graph form."""
    table = G.graph.get("edges")
    if isinstance(table, pa.Table):
        ts = table["timestamp"].to_pylist()

        def get(key, data):
            return data.get("timestamp") if "timestamp" in data else (ts[key] if isinstance(key, int) and 0 <= key < len(ts) else None)

        return get
    return lambda key, data: data.get("timestamp", data.get("first"))


def _edge_data(G: nx.Graph, key, data: dict) -> dict:
    table = G.graph.get("edges")
    if isinstance(table, pa.Table) and not data and isinstance(key, int):
        row = table.slice(key, 1).to_pylist()[0]
        return {"relation": "transaction", **{k: row[k] for k in ("txn_id", "amount_cents", "currency", "timestamp", "channel")}}
    return dict(data)


def _in_window(t, since, until) -> bool:
    if t is None:
        return True  # structural edges (roles, identifiers) are not bound to time
    return (since is None or t >= since) and (until is None or t <= until)


def _incident(G: nx.Graph, node, direction: str):
    """(neighbour, key, data, is_out) for every edge at ``node``."""
    multi = G.is_multigraph()
    if direction in ("both", "out"):
        if multi:
            for _, v, k, d in G.out_edges(node, keys=True, data=True) if G.is_directed() else G.edges(node, keys=True, data=True):
                yield v, k, d, True
        else:
            for _, v, d in G.out_edges(node, data=True) if G.is_directed() else G.edges(node, data=True):
                yield v, None, d, True
    if direction in ("both", "in") and G.is_directed():
        if multi:
            for u, _, k, d in G.in_edges(node, keys=True, data=True):
                yield u, k, d, False
        else:
            for u, _, d in G.in_edges(node, data=True):
                yield u, None, d, False


def neighbourhood(
    G: nx.Graph,
    subject,
    hops: int = 1,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    max_nodes: int = 50,
    direction: str = "both",
) -> nx.Graph:
    """The ego network of ``subject``: nodes within ``hops`` edges, in a time window.

    Parameters
    ----------
    G : networkx graph
        Any graph of this module (compact transaction graphs included).
    subject : node
        An account, party, cluster or identifier node.
    hops : int, default 1
    since, until : datetime, optional
        Keep timed edges (``timestamp``, or ``first`` of flow edges) within
        ``[since, until]`` (UTC, inclusive). Structural edges (roles, identifiers,
        same-as) have no time and are always kept.
    max_nodes : int, default 50
        Cap on real nodes. Where neighbours are cut, a marker node
        ``"more:<node>"`` with ``kind="truncated"`` and ``hidden`` (how many) is linked
        from the node that had them, and ``H.graph["truncated"]`` is True.
    direction : {"both", "out", "in"}, default "both"

    Returns
    -------
    networkx graph
        Same class as ``G``, with node data copied and, for compact graphs, edge
        attributes read back from the edge table. ``H.graph``: ``subject``,
        ``truncated`` (bool), ``hidden_nodes`` (int).

    Raises
    ------
    KeyError
        If ``subject`` is not a node (the message names no data).
    ValueError
        On ``hops < 0``, ``max_nodes < 1`` or an unknown ``direction``.

    Notes
    -----
    Breadth-first; at each node the neighbours with the most edges in the window come
    first (ties by id), so the cut keeps the strongest links and is deterministic.
    O(sum of degrees of the visited nodes).

    Examples
    --------
    >>> import followmoney as fm
    >>> G = build_graph(fm.read(fm.sample_data_path() / "goaml"))
    >>> H = neighbourhood(G, "GSMB/2002003001", hops=1, max_nodes=5)
    >>> H.graph["truncated"], H.number_of_nodes() - sum(1 for _, k in H.nodes(data="kind") if k == "truncated")
    (True, 5)
    """
    if subject not in G:
        raise KeyError("subject is not a node of the graph")
    if hops < 0 or max_nodes < 1 or direction not in ("both", "out", "in"):
        raise ValueError("neighbourhood: hops must be >= 0, max_nodes >= 1, direction one of both/out/in")
    when = _edge_time(G)
    kept = {subject: 0}
    order = [subject]
    hidden: dict = {}
    frontier = [subject]
    for depth in range(1, hops + 1):
        nxt = []
        for node in frontier:
            weight: dict = defaultdict(int)
            for nb, key, data, _ in _incident(G, node, direction):
                if nb != node and _in_window(when(key, data), since, until):
                    weight[nb] += 1
            new = sorted((nb for nb in weight if nb not in kept), key=lambda n: (-weight[n], str(n)))
            room = max_nodes - len(kept)
            for nb in new[:room]:
                kept[nb] = depth
                order.append(nb)
                nxt.append(nb)
            if len(new) > room:
                hidden[node] = len(new) - max(room, 0)
        frontier = nxt
    H = G.__class__()
    H.graph.update(subject=subject, truncated=bool(hidden), hidden_nodes=sum(hidden.values()))
    H.add_nodes_from((n, {**G.nodes[n], "hops": kept[n]}) for n in order)
    multi = G.is_multigraph()
    for node in order:
        for nb, key, data, is_out in _incident(G, node, "out" if G.is_directed() else "both"):
            if nb in kept and _in_window(when(key, data), since, until):
                attrs = _edge_data(G, key, data)
                if multi:
                    H.add_edge(node, nb, key, **attrs)
                else:
                    H.add_edge(node, nb, **attrs)
    for node, n_hidden in hidden.items():
        marker = f"more:{node}"
        H.add_node(marker, kind="truncated", hidden=n_hidden, label=f"and {n_hidden} more")
        if multi:
            H.add_edge(node, marker, "truncated", relation="truncated")
        else:
            H.add_edge(node, marker, relation="truncated")
    return H


class TimedPath(NamedTuple):
    """One time-respecting path found by :func:`paths`.

    Attributes
    ----------
    nodes : tuple
        From ``a`` to ``b``.
    keys : tuple
        Edge key of each hop (``txn_id``, or the row number in compact graphs).
    timestamps : tuple of datetime
        Time of each hop, non-decreasing.
    """

    nodes: tuple
    keys: tuple
    timestamps: tuple


class PathSearch:
    """Iterable of :class:`TimedPath`; after iteration, ``truncated`` says whether a bound stopped it.

    Attributes
    ----------
    truncated : bool
        True when ``max_paths`` or ``max_steps`` ended the search early.
    steps : int
        Edge expansions done.
    """

    def __init__(self, G, a, b, max_hops, since, until, max_gap, max_paths, max_steps):
        self._args = (G, a, b, max_hops, since, until, max_gap, max_paths, max_steps)
        self.truncated = False
        self.steps = 0

    def __iter__(self) -> Iterator[TimedPath]:
        G, a, b, max_hops, since, until, max_gap, max_paths, max_steps = self._args
        when = _edge_time(G)
        out_cache: dict = {}

        def out(u):
            """Out-edges of ``u`` in the window, sorted by time: (times, [(t, v, k)])."""
            if u not in out_cache:
                lst = []
                for v, k, d, _ in _incident(G, u, "out"):
                    t = when(k, d)
                    if t is not None and _in_window(t, since, until):
                        lst.append((t, str(v), str(k), v, k))
                lst.sort(key=lambda x: x[:3])
                out_cache[u] = ([x[0] for x in lst], [(x[0], x[3], x[4]) for x in lst])
            return out_cache[u]

        path = [a]
        on_path = {a}
        found = 0

        def dfs(u, t_in, keys, times):
            nonlocal found
            ts, edges = out(u)
            start = 0 if t_in is None else bisect_left(ts, t_in)
            for t, v, k in edges[start:]:
                if max_gap is not None and t_in is not None and t - t_in > max_gap:
                    break
                self.steps += 1
                if self.steps > max_steps:
                    raise _Stop
                if v in on_path:
                    continue
                if v == b:
                    yield TimedPath(tuple(path) + (v,), keys + (k,), times + (t,))
                    found += 1
                    if found >= max_paths:
                        raise _Stop
                elif len(path) < max_hops:
                    path.append(v)
                    on_path.add(v)
                    yield from dfs(v, t, keys + (k,), times + (t,))
                    path.pop()
                    on_path.discard(v)

        try:
            yield from dfs(a, None, (), ())
        except _Stop:
            self.truncated = True


class _Stop(Exception):
    """A bound of :class:`PathSearch` was reached."""


def paths(
    G: nx.MultiDiGraph,
    a,
    b,
    *,
    max_hops: int = 4,
    since: datetime | None = None,
    until: datetime | None = None,
    max_gap: timedelta | None = None,
    max_paths: int = 100,
    max_steps: int = 100_000,
) -> PathSearch:
    """Time-respecting simple paths from ``a`` to ``b``: money that could have flowed on.

    Each hop happens no earlier than the hop before it (and, with ``max_gap``, no
    later than ``max_gap`` after it); no node repeats. Only timed edges (transactions)
    are followed.

    Parameters
    ----------
    G : networkx.MultiDiGraph or DiGraph
        A transaction graph (either form) or :func:`build_graph`'s graph.
    a, b : node
    max_hops : int, default 4
    since, until : datetime, optional
        Only edges in ``[since, until]`` (UTC).
    max_gap : datetime.timedelta, optional
        Longest wait between two hops.
    max_paths : int, default 100
    max_steps : int, default 100000
        Edge expansions before the search stops (``truncated`` then True).

    Returns
    -------
    PathSearch
        Iterable of :class:`TimedPath`, earliest first hops first; ``truncated`` and
        ``steps`` are set once it has been iterated.

    Raises
    ------
    KeyError
        If ``a`` or ``b`` is not a node.

    Notes
    -----
    Depth-first with each node's out-edges sorted by time, so edges earlier than the
    arrival time are skipped and the search stops at ``max_gap``. Work is bounded by
    ``max_steps`` whatever the graph (enumerating simple paths is exponential in
    general: networkx #3021).

    Examples
    --------
    >>> import followmoney as fm
    >>> G = transaction_graph(fm.read(fm.sample_data_path() / "goaml"))
    >>> [len(p.keys) for p in paths(G, "DEXB/1001002001", "GSMB/2002003001")]
    [1]
    """
    for n in (a, b):
        if n not in G:
            raise KeyError("path end is not a node of the graph")
    return PathSearch(G, a, b, max_hops, since, until, max_gap, max_paths, max_steps)


# --------------------------------------------------------------------------- analyst view
def analyst_graph(bundle: Bundle, resolution=None, *, names=None, cases: pa.Table | None = None) -> nx.MultiDiGraph:
    """One graph for link-analysis tools: who is who, who holds what, and every payment.

    The collapsed entity graph (:func:`followmoney.graph.entity_graph` with
    ``collapse=True``: one node per resolved person or entity, accounts,
    identifiers) plus one ``payment`` edge per ordered pair of accounts (or walk-in
    parties) and currency, aggregated from :func:`followmoney.graph.flow_table`, and
    the ``relations`` of entities (director, partner, ...: person → entity, key
    ``relation:<role>``).

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
        currency, with its ISO 4217 decimals), ``amount_cents`` (int, thousandths of the
        unit: exact), ``count``, ``first`` and
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
        amount = units.from_scaled(int(cents or 0))
        G.add_edge(s, t, f"payment:{cur}", relation="payment", currency=cur, amount=units.money_str(amount, cur),
                   amount_cents=int(cents or 0), count=int(n), first=first, last=last,
                   label=f"{units.money_text(int(cents or 0), cur)} ({n})", weight=float(amount))  # fmt: skip
    for org, who, role, code in zip(*(bundle.relations[c].to_pylist() for c in ("party_id", "related_party_id", "role", "role_code"))):
        org, who = cmap.get(org, org), cmap.get(who, who)
        for node in (org, who):
            if node not in G:
                G.add_node(node, kind="party")
        G.add_edge(who, org, f"relation:{role}", relation=role, role_code=code, label=role.replace("_", " "))
    subjects = case_nodes(cases, cmap) if cases is not None else {}
    for node, d in G.nodes(data=True):
        name = names.name(node)
        if name:
            d["name"] = name
        d["label"] = names.label(node) if d.get("kind") != "identifier" else str(d.get("value") or names.label(node))
        case = subjects.get(node)
        if case:
            d.update(case_id=case["case_id"], risk_score=float(case["risk_score"]), band=case["band"], role=case["role"])
    return G


def case_nodes(cases: pa.Table, cluster_map: dict) -> dict:
    """The case each graph node belongs to: its subject, accounts and party mentions.

    A case is one resolved subject (:func:`followmoney.build_cases`), so a person's
    case stands for the cluster node, every account in its ``accounts`` and every
    mention in its ``parties``. A node in several cases gets the one of highest risk.

    Parameters
    ----------
    cases : pyarrow.Table
        ``case_id, subject_kind, subject_id, risk_score, band, role``; ``accounts`` and
        ``parties`` (lists of ids) where present.
    cluster_map : dict of str to str
        Party id -> cluster id (:meth:`followmoney.resolve.Resolution.cluster_map`).

    Returns
    -------
    dict of str to dict
        Node id (account id, cluster or party id, ``id:<kind>:<value>``) -> the case row.

    Examples
    --------
    >>> t = pa.table({"case_id": ["C1"], "subject_kind": ["person"], "subject_id": ["K1"], "risk_score": [0.9],
    ...               "band": ["urgent"], "role": ["controller"], "accounts": [["B/1"]], "parties": [["P1"]]})
    >>> sorted(case_nodes(t, {"P1": "K1"}))
    ['B/1', 'K1']
    """
    cols = [c for c in ("case_id", "subject_kind", "subject_id", "risk_score", "band", "role", "accounts", "parties") if c in cases.column_names]
    out: dict[str, dict] = {}
    for r in sorted(cases.select(cols).to_pylist(), key=lambda r: -float(r["risk_score"])):
        sid = r["subject_id"]
        nodes = ["id:" + sid if r["subject_kind"] == "identifier" else cluster_map.get(sid, sid)]
        nodes += list(r.get("accounts") or []) + [cluster_map.get(p, p) for p in r.get("parties") or []]
        for node in nodes:
            out.setdefault(node, r)
    return out
