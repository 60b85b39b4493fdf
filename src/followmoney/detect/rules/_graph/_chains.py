"""ML-12 layering chains: the same sum moving on quickly through a string of accounts.

Chains come from the path search (:func:`_search._chain_search`). Optional columns,
used when present: ``from_institution`` / ``to_institution`` and ``country_from`` /
``country_to`` (institution or country of each side). A chain whose accounts all have
them and show only one institution and one country is not reported; where they are
missing, the explanation says what could not be checked.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from followmoney.core.units import HOUR_US, money_text
from followmoney.detect.rules._graph._search import _chain_search, _path_findings, _paths_long, _truncation_note
from followmoney.detect.rules._graph._table import _REQUIRES, NODE_ATTRIBUTES, _Edges, _names, _pick_per_episode, _shared_edges
from followmoney.detect.rules._registry import RuleContext, register
from followmoney.detect.rules.catalogue import catalogued

log = logging.getLogger("followmoney")



# --------------------------------------------------------------------------- ML-12 layering chains
def _node_attribute(frame: pd.DataFrame, E: _Edges, cols: tuple[str, str], needed: np.ndarray) -> np.ndarray | None:
    """Per account code: the first non-null value of an optional per-side column (its paying rows in edge
    order, then its receiving rows), or None; computed for the ``needed`` account codes only (the others
    are None): the values are read as Python objects, which for every edge took seconds at millions. None
    also where the columns hold no value in the whole data (``frame.attrs["present"]`` where the frame
    is that of :func:`~followmoney.detect.rules._graph._table.edges_from_pieces`, which holds the edges only)."""
    if not all(c in frame.columns for c in cols):
        return None
    present = frame.attrs.get("present")
    if not any(c in present for c in cols) if present is not None else frame[list(cols)].isna().all().all():
        return None
    pays, gets = np.flatnonzero(np.isin(E.src, needed)), np.flatnonzero(np.isin(E.dst, needed))
    vals = pd.concat(
        [
            pd.DataFrame({"acct": E.src[pays], "v": frame[cols[0]].iloc[E.row[pays]].to_numpy(object)}),
            pd.DataFrame({"acct": E.dst[gets], "v": frame[cols[1]].iloc[E.row[gets]].to_numpy(object)}),
        ],
        ignore_index=True,
    ).dropna()
    out = np.full(len(E.accounts), None, dtype=object)
    first = vals.drop_duplicates("acct")
    out[first["acct"].to_numpy()] = first["v"].to_numpy()
    return out


def _chains_rule(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """ML-12: maximal chains from :func:`_chain_search`, one finding per first payer and episode.

    Where the frame has institutions or countries per side (see the module notes), a
    chain whose accounts all have them and show only one institution and one country is
    dropped; otherwise the explanation says what could not be checked. The kept chain
    is the longest, then the earliest. Score: 0.5 at ``min_hops`` transactions, rising
    linearly to 1.0 at twice that. Complexity as :func:`find_chains`.
    """
    p = ctx.params
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    found, truncated, work = _chain_search(
        E,
        min_hops=p["min_hops"],
        max_hops=p["max_hops"],
        hop_us=int(round(p["hop_hours"] * HOUR_US)),
        keep=1.0 - p["max_hop_decrease"],
        budget=p["max_paths"],
    )
    if truncated:
        log.warning("ML-12: chain search stopped at the work budget of %d path extensions; more chains may exist", p["max_paths"])
    summary, long = _paths_long(found)
    if summary.empty:
        return pd.DataFrame()
    # institutions / countries of the accounts on each path, where the data has them
    nodes = pd.concat(
        [
            pd.DataFrame({"path": summary["path"], "acct": E.src[summary["first"].to_numpy()]}),
            pd.DataFrame({"path": long["path"], "acct": E.dst[long["edge"].to_numpy()]}),
        ],
        ignore_index=True,
    )
    members = np.unique(nodes["acct"].to_numpy())
    attrs = {name: a for name, cols in NODE_ATTRIBUTES.items() if (a := _node_attribute(frame, E, cols, members)) is not None}
    diverse = np.zeros(len(summary), bool)
    complete = np.zeros(len(summary), bool)
    path_ids = nodes["path"].to_numpy()
    for attr in attrs.values():  # at most two attributes, not a loop over accounts
        v = pd.Series(attr[nodes["acct"].to_numpy()])
        diverse |= (v.groupby(path_ids).nunique().reindex(summary["path"]).fillna(0) >= 2).to_numpy()
        complete |= ~v.isna().groupby(path_ids).any().reindex(summary["path"]).fillna(True).to_numpy(bool)
    keep = diverse | ~complete
    summary = summary[keep].reset_index(drop=True)
    if summary.empty:
        return pd.DataFrame()
    first, last = summary["first"].to_numpy(), summary["last"].to_numpy()
    c = summary.assign(
        subject_id=E.accounts[E.src[first]],
        window_start=E.t[first],
        window_end=E.t[last],
        diverse=diverse[keep],
    )
    c["score"] = np.clip(0.5 + 0.5 * (c["length"] - p["min_hops"]) / p["min_hops"], 0.0, 1.0)
    best = _pick_per_episode(c, ["length", "window_start", "path"], [False, True, True])
    hop = long[long["path"].isin(best["path"])].sort_values(["path", "hop"], kind="stable")
    t, a = E.t[hop["edge"].to_numpy()], E.amt[hop["edge"].to_numpy()]
    same = np.r_[False, hop["path"].to_numpy()[1:] == hop["path"].to_numpy()[:-1]]
    gaps = pd.Series(np.where(same, np.diff(t, prepend=t[:1]), 0)).groupby(hop["path"].to_numpy()).max()
    fracs = pd.Series(np.where(same, a / np.r_[a[:1], a[:-1]], 1.0)).groupby(hop["path"].to_numpy()).min()

    bn = nodes[nodes["path"].isin(best["path"])]
    seen = {
        name: pd.Series(attr[bn["acct"].to_numpy()]).groupby(bn["path"].to_numpy()).agg(lambda s: sorted(set(s.dropna())))
        for name, attr in attrs.items()
    }

    def extra(r):
        out = {
            "max_gap_hours": gaps[r.path] / HOUR_US,
            "min_hop_fraction": float(fracs[r.path]),
            "diverse": bool(r.diverse),
            "checked": sorted(seen),
        }
        for name, lists in seen.items():
            out[name + "s"] = lists.get(r.path, [])
        return out

    return _path_findings(E, best, long, truncated, work, extra)


def _explain_chain(facts: dict, params: dict, jurisdiction) -> str:
    chain = " → ".join(facts["accounts"])
    if facts["diverse"]:
        parts = [f"{len(facts[n + 's'])} {n}s ({_names(facts[n + 's'])})" for n in facts["checked"] if len(facts[n + "s"]) >= 2]
        where = f" It crossed {' and '.join(parts)} (threshold: at least 2 institutions or countries)."
    elif facts["checked"]:
        where = (
            " Institutions/countries could only partly be checked: not every account on the chain has them "
            "(threshold: at least 2 institutions or countries)."
        )
    else:
        where = " Institutions and countries could not be checked: the data has neither for these accounts."
    return (
        f"Layering chain of {facts['length']} transactions (threshold: at least {params['min_hops']}) starting at account "
        f"{facts['subject_id']}: {chain}. Each hop followed the previous one within {facts['max_gap_hours']:.0f} hours "
        f"(threshold: {params['hop_hours']:g} hours) and moved at least {facts['min_hop_fraction']:.0%} of the previous "
        f"amount (threshold: at least {1 - params['max_hop_decrease']:.0%} and at most 100%); "
        f"{money_text(facts['first_cents'], facts['currency'])} "
        f"at the start, {money_text(facts['last_cents'], facts['currency'])} at the end, {facts['span_days']:.1f} days, "
        f"{facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d}.{where} Evidence: "
        f"{facts['evidence_count']} transactions, {facts['totals']}." + _truncation_note(facts, params)
    )


CHAIN = register(
    catalogued(
        "ML-12",
        requires=_REQUIRES,
        func=_chains_rule,
        partition="graph",  # paths and structures over the whole graph: the edge table, built chunk by chunk
        explain=_explain_chain,
    )
)
