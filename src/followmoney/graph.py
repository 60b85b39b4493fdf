"""networkx views of a :class:`~followmoney.Bundle`: who paid whom, who holds what.

The graph is a *view* for link analysis and charts; bulk computations (rules,
features) run on the tables.
"""

from __future__ import annotations

import networkx as nx
import pyarrow as pa
import pyarrow.compute as pc

from followmoney import schema
from followmoney.bundle import Bundle

__all__ = ["build_graph", "identifier_node"]


def identifier_node(kind: str, value: str) -> str:
    """Node id of an identifier: ``"id:<kind>:<value>"``.

    Examples
    --------
    >>> identifier_node("phone", "+971500000001")
    'id:phone:+971500000001'
    """
    return f"id:{kind}:{value}"


def build_graph(bundle: Bundle, *, parties: bool = True) -> nx.MultiDiGraph:
    """Build the investigation graph: accounts and parties linked by transactions and roles.

    Nodes carry ``kind`` (``account``, ``party`` or ``identifier``). Edges carry
    ``relation``:

    * ``"transaction"``: one edge per transaction, keyed by ``txn_id``, from the paying
      side to the receiving side (an account; else the party, e.g. a walk-in cash
      depositor), with ``amount_cents`` (int, hundredths of ``currency``),
      ``currency``, ``timestamp`` (UTC) and ``channel``. Parallel transfers are kept.
      Transactions with only one known side (e.g. cash withdrawn by nobody named)
      are not edges; their number is in ``G.graph["one_sided_transactions"]``.
    * the role (``holder``, ``signatory``, ...): party → account, from ``party_accounts``.
    * ``"has_identifier"``: party or account → identifier node (phone, e-mail, ID, ...).

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

    Examples
    --------
    >>> import followmoney as fm
    >>> G = build_graph(fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv"))
    >>> G.number_of_edges("amlsim/475", "amlsim/7") >= 1
    True
    """
    G = nx.MultiDiGraph()
    tx = bundle.transactions
    src = pc.coalesce(tx["from_account"], tx["from_party"])
    dst = pc.coalesce(tx["to_account"], tx["to_party"])
    both = pc.and_(pc.is_valid(src), pc.is_valid(dst))
    G.graph["one_sided_transactions"] = int(tx.num_rows - pc.sum(both).as_py()) if tx.num_rows else 0

    acc = bundle.accounts
    G.add_nodes_from(acc["account_id"].to_pylist(), kind="account")
    from_kind = pc.if_else(pc.is_valid(tx["from_account"]), pa.scalar("account"), pa.scalar("party"))
    to_kind = pc.if_else(pc.is_valid(tx["to_account"]), pa.scalar("account"), pa.scalar("party"))
    e = tx.filter(both)
    for node_col, kind_col in ((src.filter(both), from_kind.filter(both)), (dst.filter(both), to_kind.filter(both))):
        G.add_nodes_from(
            (n, {"kind": k}) for n, k in zip(node_col.to_pylist(), kind_col.to_pylist()) if n not in G
        )
    cents = schema.to_cents(e["amount"]).to_pylist()
    G.add_edges_from(
        (s, d, k, {"relation": "transaction", "amount_cents": a, "currency": c, "timestamp": t, "channel": ch})
        for s, d, k, a, c, t, ch in zip(
            src.filter(both).to_pylist(),
            dst.filter(both).to_pylist(),
            e["txn_id"].to_pylist(),
            cents,
            e["currency"].to_pylist(),
            e["timestamp"].to_pylist(),
            e["channel"].to_pylist(),
        )
    )
    if not parties:
        return G
    p = bundle.parties
    G.add_nodes_from(
        (pid, {"kind": "party", "party_kind": k, "name": n})
        for pid, k, n in zip(p["party_id"].to_pylist(), p["kind"].to_pylist(), p["name"].to_pylist())
    )
    pa_ = bundle.party_accounts
    G.add_edges_from(
        (pid, aid, role, {"relation": role})
        for pid, aid, role in zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist(), pa_["role"].to_pylist())
    )
    for n in pa_["account_id"].to_pylist():
        G.nodes[n].setdefault("kind", "account")
    ids = bundle.identifiers
    id_nodes = [identifier_node(k, v) for k, v in zip(ids["kind"].to_pylist(), ids["value"].to_pylist())]
    G.add_nodes_from(
        (n, {"kind": "identifier", "identifier_kind": k, "value": v})
        for n, k, v in zip(id_nodes, ids["kind"].to_pylist(), ids["value"].to_pylist())
    )
    G.add_edges_from(
        (owner, n, "has_identifier", {"relation": "has_identifier"})
        for owner, n in zip(ids["owner_id"].to_pylist(), id_nodes)
    )
    return G
