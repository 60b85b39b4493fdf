"""ML-09 cycles (round-tripping): money that leaves an account and comes back to it.

Time-ordered cycles come from the path search (:func:`_search._cycle_search`); with
``time_order`` 0 (AMLSim's cycles, neither time ordered nor value conserving) they are
rings of accounts that pay each other round within a window (:func:`_unordered_cycles`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from followmoney.core.units import DAY_US, money_text
from followmoney.detect.rules._graph._search import _cycle_search, _path_findings, _paths_long, _truncation_note
from followmoney.detect.rules._graph._table import _REQUIRES, _Edges, _findings, _pick_per_episode, _ratio_score
from followmoney.detect.rules._graph._table import _shared_edges, _window_pairs, _window_rows, _window_us
from followmoney.detect.rules._registry import RuleContext, register
from followmoney.detect.rules._rolling import threshold_cents
from followmoney.detect.rules.catalogue import catalogued

log = logging.getLogger("followmoney")


# --------------------------------------------------------------------------- ML-09 cycles
def _cycles_rule(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """ML-09: cycles from :func:`_cycle_search`, one finding per start account and episode.

    The kept cycle has the highest score (return ratio), then the fewest hops, then the
    earliest start. Score: 0.5 when ``min_return`` of the first amount comes back,
    rising linearly to 1.0 when all of it does. Complexity as :func:`find_cycles`.
    """
    p, j = ctx.params, ctx.jurisdiction
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    if not p["time_order"]:
        return _unordered_cycles(E, p, j)
    found, truncated, work = _cycle_search(
        E, max_length=p["max_length"], window_us=_window_us(p["window_days"]), min_return=p["min_return"], budget=p["max_paths"],
        max_hop_decrease=p["max_hop_decrease"],
    )
    if truncated:
        log.warning("ML-09: cycle search stopped at the work budget of %d path extensions; more cycles may exist", p["max_paths"])
    summary, long = _paths_long(found)
    summary = summary[summary["length"] >= p["min_length"]]
    # value floor on the amount sent, in the jurisdiction's currency only (amounts are never converted)
    floor = threshold_cents(j, p["min_amount_fraction"])
    first = summary["first"].to_numpy(np.int64)
    summary = summary[(np.asarray(E.currencies, object)[E.cur[first]] != j.currency) | (E.amt[first] >= floor)]
    if summary.empty:
        return pd.DataFrame()
    first, last = summary["first"].to_numpy(), summary["last"].to_numpy()
    c = summary.assign(
        subject_id=E.accounts[E.src[first]],
        window_start=E.t[first],
        window_end=E.t[last],
        ratio=E.amt[last] / E.amt[first],
    )
    c["score"] = _ratio_score(np.minimum(c["ratio"], 1.0), p["min_return"])
    best = _pick_per_episode(c, ["score", "length", "window_start", "path"], [False, True, True, True])
    return _path_findings(E, best, long, truncated, work, extra=lambda r: {"ratio": float(r.ratio)})


def _unordered_cycles(E: _Edges, p: dict, j) -> pd.DataFrame:
    """ML-09 with ``time_order`` 0: rings of accounts that pay each other round within a window, in any order.

    AMLSim draws each hop's time and amount afresh, so its cycles are neither time
    ordered nor value conserving. In windows of ``D`` days starting every ``D/2``
    (:func:`_window_pairs`; accounts with more than 20 distinct counterparties on a side
    left out), the strongly connected components of the paying-pairs graph whose
    accounts form exactly a ring (as many pairs as accounts, each paying and paid once
    within it) of ``min_length`` to ``max_length`` accounts are cycles. So are the simple
    cycles of that graph whose members, all but at most one, deal with no more than
    ``max_member_counterparties`` distinct accounts on either side within the window
    (:func:`_quiet_rings`): a ring whose members' other business, or one busy member,
    joins it to a larger component (issue 15: on AMLSim 6 of its 12 closed rings lay in
    a component of ~450 accounts held together by busy accounts). One finding per ring
    (first window), on the account that paid first; evidence: the ring's transactions in
    that window. Amount floor as in the ordered search, on every hop.
    Complexity: O(n log n) for n transactions, plus the bounded cycle search among
    quiet accounts (out-degree at most ``max_member_counterparties`` outside one busy
    member per cycle).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    stride, every = _window_pairs(E, _window_us(p["window_days"]), np.iinfo(np.int64).max)
    rows = _window_rows(E, stride)
    every = every[every["o"] != every["b"]]
    # each account's distinct payees and payers in the window, all of its business counted
    outdeg = every.groupby(["w", "cur", "o"])["b"].transform("size").to_numpy()
    indeg = every.groupby(["w", "cur", "b"])["o"].transform("size").to_numpy()
    deg = pd.concat([pd.Series(outdeg, index=pd.MultiIndex.from_frame(every[["w", "cur", "o"]].set_axis(["w", "cur", "a"], axis=1))),
                     pd.Series(indeg, index=pd.MultiIndex.from_frame(every[["w", "cur", "b"]].set_axis(["w", "cur", "a"], axis=1)))])
    deg = deg.groupby(level=[0, 1, 2]).max()
    floor = threshold_cents(j, p["min_amount_fraction"])
    in_ccy = np.asarray(E.currencies, object)[every["cur"].to_numpy()] == j.currency
    big = ~in_ccy | (every["value"].to_numpy() >= floor)
    pairs = every[(indeg <= 20) & (outdeg <= 20) & big]
    every = every[big]
    if every.empty:
        return pd.DataFrame()
    found = []
    for (w, cur), g in every.groupby(["w", "cur"], sort=True):
        d = deg.loc[(w, cur)]
        found += [(int(w), int(cur), r) for r in _quiet_rings(g["o"].to_numpy(), g["b"].to_numpy(), d, p)]
    for (w, cur), g in pairs.groupby(["w", "cur"], sort=True):
        o, b = g["o"].to_numpy(), g["b"].to_numpy()
        nodes, inv = np.unique(np.r_[o, b], return_inverse=True)
        n = len(nodes)
        m = coo_matrix((np.ones(len(o)), (inv[: len(o)], inv[len(o):])), shape=(n, n))
        _, lab = connected_components(m, directed=True, connection="strong")
        size = np.bincount(lab, minlength=n)
        same = lab[inv[: len(o)]] == lab[inv[len(o):]]
        internal = np.bincount(lab[inv[: len(o)]][same], minlength=len(size))
        ring = (size >= p["min_length"]) & (size <= p["max_length"]) & (internal == size)
        for c in np.flatnonzero(ring):
            members = nodes[lab == c]
            found.append((int(w), int(cur), tuple(sorted(int(x) for x in members))))
    if not found:
        return pd.DataFrame()
    seen, subjects, starts, ends, evidence, facts, scores = set(), [], [], [], [], [], []
    for w, cur, members in sorted(set(found)):
        if (cur, members) in seen:
            continue
        seen.add((cur, members))
        mem = np.asarray(members)
        r = rows[(rows["w"] == w) & (rows["cur"] == cur) & np.isin(rows["o"], mem) & np.isin(rows["b"], mem)]
        e = np.sort(np.unique(r["e"].to_numpy()))
        first = e[0]
        subjects.append(E.accounts[E.src[first]])
        starts.append(int(E.t[e].min()))
        ends.append(int(E.t[e].max()))
        evidence.append(list(E.txn_id[e]))
        # the ring in paying order from the first payer
        nxt = dict(zip(r["o"].to_numpy(), r["b"].to_numpy()))
        ring, a = [E.src[first]], nxt.get(E.src[first])
        while a is not None and a != E.src[first] and len(ring) <= len(mem):
            ring.append(a)
            a = nxt.get(a)
        facts.append({"accounts": [E.accounts[x] for x in ring] + [E.accounts[E.src[first]]], "length": len(mem),
                      "currency": E.currencies[cur], "span_days": (ends[-1] - starts[-1]) / DAY_US,
                      "unordered": True, "n_transactions": len(e)})  # fmt: skip
        scores.append(0.5 + 0.5 * min(len(mem) / p["max_length"], 1.0))
    return _findings(subjects, starts, ends, evidence, scores, facts)


def _quiet_rings(o: np.ndarray, b: np.ndarray, degree: pd.Series, p: dict) -> list[tuple]:
    """Simple cycles of ``min_length`` to ``max_length`` accounts in the paying pairs ``o → b`` of one window
    whose members, the busiest left out, have on average at most ``max_member_counterparties`` distinct
    payers or payees (``degree``: the larger of the two, per account code, over the whole window) and none
    more than twice that.

    Edges between two busy accounts (more counterparties than that) are left out first;
    cycles through two or more busy accounts are dropped after the search. Each ring is
    returned as its sorted member codes (once per window).
    """
    import networkx as nx

    m = p["max_member_counterparties"]
    q = int(2 * m)  # a member above twice the mean allowed can only be the one busy member
    nodes, inv = np.unique(np.r_[o, b], return_inverse=True)
    io, ib = inv[: len(o)], inv[len(o):]
    deg = degree.reindex(nodes).to_numpy()  # counterparties in the window, all of the account's business
    busy = deg > q
    keep = ~(busy[io] & busy[ib])  # no edge between two busy accounts: a cycle may hold one
    g = nx.DiGraph()
    g.add_edges_from(zip(io[keep].tolist(), ib[keep].tolist()))
    out = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) < p["min_length"]:
            continue
        sub = g.subgraph(comp)
        for cyc in nx.simple_cycles(sub, length_bound=p["max_length"]):
            if len(cyc) < p["min_length"] or busy[cyc].sum() > 1:
                continue
            d = deg[cyc]
            if (d.sum() - d.max()) <= m * (len(cyc) - 1) + 1e-9:  # the others' mean, the busiest left out
                out.append(tuple(sorted(int(x) for x in nodes[cyc])))
    return out


def _explain_cycle(facts: dict, params: dict, jurisdiction) -> str:
    ring = " → ".join(facts["accounts"])
    if facts.get("unordered"):
        return (
            f"Accounts {ring} paid each other round in a ring of {facts['length']} accounts (threshold: "
            f"{params['min_length']} to {params['max_length']}) within {params['window_days']:g} days, in any order "
            f"(time_order 0: hops not required to follow each other in time), every hop of at least "
            f"{params['min_amount_fraction']:g} × the {jurisdiction.currency} {jurisdiction.cash_threshold:,.2f} reporting "
            f"threshold; span {facts['span_days']:.1f} days. Window {facts['window_start']:%Y-%m-%d} to "
            f"{facts['window_end']:%Y-%m-%d}. Evidence: {facts['evidence_count']} transactions, {facts['totals']}."
        )
    more = f" {facts['in_episode'] - 1} more overlapping cycle(s) of this account were found." if facts["in_episode"] > 1 else ""
    return (
        f"Money left account {facts['subject_id']} and came back through {facts['length'] - 1} other account(s): "
        f"{ring}. Cycle of {facts['length']} transactions (threshold: {params['min_length']} to {params['max_length']}), "
        f"the first of at least {params['min_amount_fraction']:g} × the {jurisdiction.currency} "
        f"{jurisdiction.cash_threshold:,.2f} reporting threshold, each later than the one before, no larger and at least "
        f"{1 - params['max_hop_decrease']:.0%} of it, closing after {facts['span_days']:.1f} days (threshold: within {params['window_days']:g} days); "
        f"{money_text(facts['last_cents'], facts['currency'])} came back of {money_text(facts['first_cents'], facts['currency'])} "
        f"sent, {facts['ratio']:.0%} (threshold: at least {params['min_return']:.0%} and at most 100%). Window "
        f"{facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d}.{more} Evidence: "
        f"{facts['evidence_count']} transactions, {facts['totals']}." + _truncation_note(facts, params)
    )


CYCLE = register(
    catalogued(
        "ML-09",
        requires=_REQUIRES,
        func=_cycles_rule,
        partition="graph",  # paths and structures over the whole graph: the edge table, built chunk by chunk
        explain=_explain_cycle,
    )
)
