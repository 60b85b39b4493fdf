"""Dense structures in windows: ML-10 bipartite and ML-11 stack.

They are sought in windows of ``D`` days that start every ``D/2`` days, aligned to the
Unix epoch (:func:`_table._window_pairs`), so each window can be computed on its own
(one partition each on Dask): any pattern that lasts at most ``D/2`` lies wholly in one
window, and nothing reported spans more than ``D``. Originators that share
beneficiaries are linked, linked groups give candidate (originators, beneficiaries)
sets (:func:`_bipartite_candidates`), and candidates are checked for size and density;
a stack is a chain of such sets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.core._timeline import stable_order
from followmoney.core.units import DAY_US, money_text
from followmoney.detect.rules._graph._table import _REQUIRES, _evidence, _findings, _names, _pick_per_episode, _shared_edges
from followmoney.detect.rules._graph._table import _in_larger_groups, _shared_window_pairs, _window_rows, _window_us
from followmoney.detect.rules._registry import RuleContext, register
from followmoney.detect.rules.catalogue import catalogued
from followmoney.exceptions import CatalogueError

_MAX_STACK_TIERS = 6


# --------------------------------------------------------------------------- candidate (originators, beneficiaries) sets
def _anti(df: pd.DataFrame, other: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """Rows of ``df`` whose ``on`` values are not in ``other``."""
    hit = df.merge(other.drop_duplicates(), on=on, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    return df[~hit]


def _of(pairs: pd.DataFrame, column: str, accounts: pd.Series) -> pd.DataFrame:
    """The rows of ``pairs`` whose ``column`` is one of ``accounts``, in their order: what an inner merge
    of the window pairs with a few candidates' rows on that column can match, taken before the merge,
    which otherwise factorizes the keys of every pair (ML-10's tier statistics on 5 M IBM rows: +247 MB
    without the cut, +70 MB with it)."""
    return pairs[np.isin(pairs[column].to_numpy(), pd.unique(accounts.to_numpy()))]


def _bipartite_candidates(pairs: pd.DataFrame, density: float) -> pd.DataFrame:
    """Candidate (originators, beneficiaries) sets, as a long table ``sid, comp, w, cur,
    tier, acct`` (tier 0 originators, tier 1 beneficiaries).

    Originators of one window and currency are linked when they pay at least two common
    beneficiaries and at least half of the smaller one's beneficiaries; each connected
    group C gives two candidates, for a member share ``s`` of 0.5 and of ``density``:
    B = accounts outside C paid by at least ``s`` of C (and by at least two), then
    O = accounts outside B that paid at least ``s`` of B. The loose one catches a dense
    set with a few missing pairs, the strict one a dense core inside a looser group;
    the caller checks both and keeps the better (``comp`` names the group).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    columns = ["sid", "comp", "w", "cur", "tier", "acct"]
    # the rows of x, picked before x is made (a table of every pair is not copied): only originators paying >= 2
    # and beneficiaries paid by >= 2 can link, among all pairs and then once more among those left; one packed
    # key of all the pairs alive at a time
    w, cur, o, b = (pairs[c].to_numpy() for c in ("w", "cur", "o", "b"))
    more = _in_larger_groups(1, w, cur, o)  # the pairs are in (w, cur, o) order: counted as run lengths
    more &= _in_larger_groups(1, w, cur, b)
    at = np.flatnonzero(more)
    del more
    at = at[_in_larger_groups(1, w[at], cur[at], o[at]) & _in_larger_groups(1, w[at], cur[at], b[at])]
    x = pd.DataFrame({"w": w[at], "cur": cur[at], "o": o[at], "b": b[at]}, copy=False)
    del at, w, cur, o, b
    common = _common_beneficiaries(x, pairs)
    if common.empty:
        return pd.DataFrame(columns=columns)
    links = common[common["c"] >= 0.5 * np.minimum(common["d1"], common["d2"])][["w", "cur", "o1", "o2", "c"]]
    if links.empty:
        return pd.DataFrame(columns=columns)
    ends = pd.concat(
        [links[["w", "cur", "o1"]].set_axis(["w", "cur", "o"], axis=1), links[["w", "cur", "o2"]].set_axis(["w", "cur", "o"], axis=1)],
        ignore_index=True,
    )
    node, uniq = pd.factorize(pd.MultiIndex.from_frame(ends), sort=True)
    half = len(links)
    graph = coo_matrix((np.ones(half), (node[:half], node[half:])), shape=(len(uniq), len(uniq)))
    _, comp = connected_components(graph, directed=False)
    members = ends.assign(comp=comp[node]).drop_duplicates()  # w, cur, o, comp
    wc = members.drop_duplicates("comp")[["comp", "w", "cur"]]
    size = members.groupby("comp").size()
    per_b = _of(pairs, "o", members["o"]).merge(members, on=["w", "cur", "o"]).groupby(["comp", "b"]).size().rename("k").reset_index()
    per_b = _anti(per_b, members[["comp", "o"]].rename(columns={"o": "b"}), ["comp", "b"])
    parts = []
    for variant, share in enumerate(sorted({0.5, density})):  # two candidate shapes, each vectorised over all groups
        B = per_b[per_b["k"] >= np.maximum(2, share * size.reindex(per_b["comp"]).to_numpy()) - 1e-9][["comp", "b"]]
        B = B[B.groupby("comp")["b"].transform("size") >= 2].merge(wc, on="comp")
        if B.empty:
            continue
        per_o = _of(pairs, "b", B["b"]).merge(B, on=["w", "cur", "b"]).groupby(["comp", "o"]).size().rename("k").reset_index()
        need = share * B.groupby("comp").size().reindex(per_o["comp"]).to_numpy()
        O = per_o[per_o["k"] >= need - 1e-9][["comp", "o"]]
        O = _anti(O, B[["comp", "b"]].rename(columns={"b": "o"}), ["comp", "o"])
        O = O[O.groupby("comp")["o"].transform("size") >= 2]
        B = B[B["comp"].isin(O["comp"])]
        t = pd.concat(
            [O.merge(wc, on="comp").rename(columns={"o": "acct"}).assign(tier=0), B.rename(columns={"b": "acct"}).assign(tier=1)],
            ignore_index=True,
        )
        parts.append(t.assign(sid=t["comp"] * 2 + variant))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _common_beneficiaries(x: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per (w, cur, o1, o2) with o1 < o2 and at least two beneficiaries both pay in ``x``: ``c`` the number of
    such beneficiaries, ``d1`` / ``d2`` the originators' numbers of beneficiaries in ``pairs``; sorted by
    (w, cur, o1, o2). Grouped on packed integer keys (pandas' multi-column grouping and reindexing of
    millions of pairs cost several times more)."""
    cols = {c: pairs[c].to_numpy() for c in ("w", "cur", "o", "b")}  # int32 or int64, not copied
    lo = {c: (int(v.min()) if len(v) else 0) for c, v in cols.items()}
    size = {c: (int(v.max()) - lo[c] + 1 if len(v) else 1) for c, v in cols.items()}
    if size["w"] * size["cur"] * max(size["o"], size["b"]) ** 2 >= 2**62:  # beyond the packing range: pandas' grouping
        m = x.merge(x, on=["w", "cur", "b"], suffixes=("1", "2"))
        m = m[m["o1"] < m["o2"]]
        common = m.groupby(["w", "cur", "o1", "o2"], sort=True).size().rename("c").reset_index()
        common = common[common["c"] >= 2].reset_index(drop=True)
        outdeg = pairs.groupby(["w", "cur", "o"]).size()
        common["d1"] = outdeg.reindex(pd.MultiIndex.from_frame(common[["w", "cur", "o1"]])).to_numpy()
        common["d2"] = outdeg.reindex(pd.MultiIndex.from_frame(common[["w", "cur", "o2"]])).to_numpy()
        return common

    def wc(df):  # (w, cur) as one int64, made in place in one array (the columns may be int32)
        key = df["w"].to_numpy().astype(np.int64)
        key -= lo["w"]
        key *= size["cur"]
        key += df["cur"].to_numpy()
        key -= lo["cur"]
        return key

    n_o = size["o"]
    # every (w, cur, o1, o2) with o1 < o2 once per beneficiary both pay, made from the rows of x in (w, cur, b) order
    # (originators ascending in each group, as x is sorted) by pairing each row with the one j rows on in its group,
    # j = 1, 2, ...: no self-join table of the rows (at 5 M IBM rows it held 10 M rows)
    group = wc(x) * size["b"] + x["b"].to_numpy(np.int64) - lo["b"]
    by_b = stable_order(group)
    group = group[by_b]
    w_cur, o = group // size["b"], x["o"].to_numpy(np.int64)[by_b] - lo["o"]
    del by_b
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    del group
    sizes = np.diff(np.r_[starts, len(o)])
    end = np.repeat(starts + sizes, sizes)  # per row, where its group ends
    del starts, sizes
    keys, at = [], np.arange(len(o))
    for j in range(1, int((end - np.arange(len(o))).max(initial=0))):
        at = at[at + j < end[at]]
        keys.append((w_cur[at] * n_o + o[at]) * n_o + o[at + j])
    if not keys:
        return pd.DataFrame(columns=["w", "cur", "o1", "o2", "c", "d1", "d2"])
    del w_cur, o, end, at
    key = np.concatenate(keys)
    del keys
    key.sort()  # in place (np.unique sorts a copy)
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    c = np.diff(np.r_[first, len(key)])
    key = key[first]
    del first
    key, c = key[c >= 2], c[c >= 2]
    pair_wc, o2 = np.divmod(key, n_o)
    w_cur, o1 = np.divmod(pair_wc, n_o)
    deg_key = wc(pairs)
    deg_key *= n_o
    deg_key += cols["o"]
    deg_key -= lo["o"]
    if (deg_key[1:] < deg_key[:-1]).any():  # the pairs come in (w, cur, o) order: no sorted copy then
        deg_key.sort()
    first = np.flatnonzero(np.r_[True, deg_key[1:] != deg_key[:-1]])
    deg = np.diff(np.r_[first, len(deg_key)])
    deg_key = deg_key[first]
    del first
    w, cur = np.divmod(w_cur, size["cur"])

    def like(values, c):  # in the pairs' dtype, so that later merges with them join equal dtypes
        return (values + lo[c]).astype(cols[c].dtype, copy=False)

    return pd.DataFrame({
        "w": like(w, "w"), "cur": like(cur, "cur"), "o1": like(o1, "o"), "o2": like(o2, "o"), "c": c,
        "d1": deg[np.searchsorted(deg_key, w_cur * n_o + o1)], "d2": deg[np.searchsorted(deg_key, w_cur * n_o + o2)],
    })  # fmt: skip


def _tier_stats(tiers: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """For each structure ``sid`` and tier ``i``: size of tier i and i+1, distinct paying
    pairs from i to i+1, their value, and density = pairs / (size_i × size_{i+1})."""
    tiers = tiers[["sid", "w", "cur", "tier", "acct"]]
    size = tiers.groupby(["sid", "tier"]).size().rename("n")
    frm = _of(pairs, "o", tiers["acct"]).merge(tiers.rename(columns={"acct": "o", "tier": "t_o"}), on=["w", "cur", "o"])
    both = frm.merge(tiers.rename(columns={"acct": "b", "tier": "t_b"}), on=["sid", "w", "cur", "b"])
    both = both[both["t_b"] == both["t_o"] + 1]
    links = both.groupby(["sid", "t_o"]).agg(links=("value", "size"), value=("value", "sum"))
    st = size.reset_index().rename(columns={"tier": "t_o"})
    st["n_next"] = size.reindex(pd.MultiIndex.from_arrays([st["sid"], st["t_o"] + 1])).to_numpy()
    st = st.dropna(subset=["n_next"]).join(links, on=["sid", "t_o"])
    st[["links", "value"]] = st[["links", "value"]].fillna(0)
    st["density"] = st["links"] / (st["n"] * st["n_next"])
    return st


def _structure_findings(E, stride, tiers, stats, ok_sids, score, kind) -> pd.DataFrame:
    """Findings for the structures ``ok_sids``: subject = the first-tier account that
    sent the most to the second tier; evidence = all transactions between consecutive
    tiers in the window (``stride``: :func:`_window_pairs`)."""
    tiers = tiers.loc[tiers["sid"].isin(ok_sids), ["sid", "w", "cur", "tier", "acct"]]
    rows = _window_rows(E, stride, payers=tiers["acct"].unique())
    ev = rows.merge(tiers.rename(columns={"acct": "o", "tier": "t_o"}), on=["w", "cur", "o"])
    ev = ev.merge(tiers.rename(columns={"acct": "b", "tier": "t_b"}), on=["sid", "w", "cur", "b"])
    ev = ev[ev["t_b"] == ev["t_o"] + 1]
    sent = ev[ev["t_o"] == 0].groupby(["sid", "o"])["amt"].sum().rename("sent").reset_index()
    sent["name"] = E.accounts[sent["o"].to_numpy()]
    subj = sent.sort_values(["sid", "sent", "name"], ascending=[True, False, True]).drop_duplicates("sid").set_index("sid")["name"]
    span = ev.assign(t=E.t[ev["e"].to_numpy()]).groupby("sid")["t"].agg(["min", "max"])
    f = pd.DataFrame({"sid": np.sort(np.asarray(list(ok_sids)))})
    f["subject_id"] = subj.reindex(f["sid"]).to_numpy()
    f["window_start"] = span["min"].reindex(f["sid"]).to_numpy(np.int64)
    f["window_end"] = span["max"].reindex(f["sid"]).to_numpy(np.int64)
    f["score"] = score.reindex(f["sid"]).to_numpy()
    f["cur"] = tiers.drop_duplicates("sid").set_index("sid")["cur"].reindex(f["sid"]).to_numpy()
    named = tiers.assign(name=E.accounts[tiers["acct"].to_numpy()]).sort_values(["sid", "tier", "name"])
    f["members"] = named.groupby("sid")["name"].agg("\x1f".join).reindex(f["sid"]).to_numpy()
    best = _pick_per_episode(f, ["score", "window_start", "members", "sid"], [False, True, True, True])
    fid = pd.Series(np.arange(len(best)), index=best["sid"].to_numpy())
    evb = ev[ev["sid"].isin(best["sid"])]
    evidence = _evidence(E, fid.reindex(evb["sid"].to_numpy()).to_numpy(), evb["e"].to_numpy(), len(best))
    named = tiers[tiers["sid"].isin(best["sid"])].assign(name=lambda d: E.accounts[d["acct"].to_numpy()])
    tier_lists = named.sort_values(["sid", "tier", "name"]).groupby(["sid", "tier"])["name"].agg(list)
    st = stats.set_index(["sid", "t_o"])
    facts = []
    for r in best.itertuples():
        n_tiers = int(tier_lists.loc[r.sid].index.max()) + 1
        facts.append(
            {
                "kind": kind,
                "tiers": [tier_lists.loc[(r.sid, i)] for i in range(n_tiers)],
                "densities": [float(st.loc[(r.sid, i), "density"]) for i in range(n_tiers - 1)],
                "values": [int(st.loc[(r.sid, i), "value"]) for i in range(n_tiers - 1)],
                "currency": E.currencies[r.cur],
                "span_days": (r.window_end - r.window_start) / DAY_US,
                "episode_start": int(r.episode_start),
                "episode_end": int(r.episode_end),
            }
        )
    return _findings(best["subject_id"], best["window_start"], best["window_end"], evidence, best["score"], facts)


# --------------------------------------------------------------------------- ML-10 bipartite
def _bipartite(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Dense (originators × beneficiaries) sets within ``D`` days.

    Complexity: O(n log n) for the windowing and grouping plus Σ indeg(b)² over
    beneficiaries for the originator links, where indeg is capped by ``max_degree``
    (so at most ``max_degree`` × distinct pairs); memory of the same order.
    """
    p = ctx.params
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    stride, pairs = _shared_window_pairs(E, ctx, _window_us(p["window_days"]), p["max_degree"])
    tiers = _bipartite_candidates(pairs, p["min_density"])
    if tiers.empty:
        return pd.DataFrame()
    stats = _tier_stats(tiers, pairs)
    ok = stats[
        (stats["n"] >= p["min_originators"]) & (stats["n_next"] >= p["min_beneficiaries"]) & (stats["density"] >= p["min_density"] - 1e-9)
    ]
    if ok.empty:
        return pd.DataFrame()
    # per group of originators keep the better of the two candidate shapes: most paying pairs, then densest
    ok = ok.assign(comp=ok["sid"] // 2).sort_values(["comp", "links", "density", "sid"], ascending=[True, False, False, True])
    ok = ok.drop_duplicates("comp").set_index("sid")
    smaller = np.minimum(ok["n"] / p["min_originators"], ok["n_next"] / p["min_beneficiaries"])
    dense = (ok["density"] - p["min_density"]) / max(1 - p["min_density"], 1e-9)
    score = pd.Series(np.clip(0.5 + 0.25 * np.log2(smaller) + 0.25 * dense, 0, 1), index=ok.index)
    return _structure_findings(E, stride, tiers, stats, set(ok.index), score, "bipartite")


def _explain_bipartite(facts: dict, params: dict, jurisdiction) -> str:
    orig, bene = facts["tiers"]
    return (
        f"{len(orig)} originators (threshold: at least {params['min_originators']}) each paid most of the same "
        f"{len(bene)} beneficiaries (threshold: at least {params['min_beneficiaries']}): {facts['densities'][0]:.0%} of "
        f"the {len(orig) * len(bene)} possible originator–beneficiary pairs carried money (threshold: density at least "
        f"{params['min_density']:.0%}), {money_text(facts['values'][0], facts['currency'])} in {facts['span_days']:.1f} days, "
        f"{facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d} (threshold: within "
        f"{params['window_days']:g} days). Subject {facts['subject_id']} sent the most. Originators: {_names(orig)}; "
        f"beneficiaries: {_names(bene)}. Evidence: {facts['evidence_count']} transactions, {facts['totals']}."
    )


BIPARTITE = register(
    catalogued(
        "ML-10",
        requires=_REQUIRES,
        func=_bipartite,
        partition="graph",  # paths and structures over the whole graph: the edge table, built chunk by chunk
        explain=_explain_bipartite,
    )
)


# --------------------------------------------------------------------------- ML-11 stack
def _stack(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Chains of dense bipartite layers: tier 1 pays tier 2 pays tier 3 (and so on).

    Candidate bipartite sets (as for ML-10) of one window and currency are linked when
    the beneficiaries of one and the originators of the next share at least
    ``min_tier_size`` accounts; chains of up to 5 links (6 tiers) are formed, their tiers
    are tier 1 = originators of the first set, tier r = beneficiaries of set r−1 that are
    originators of set r, last = beneficiaries of the last set, and each chain is checked
    for tier size, density between consecutive tiers, value conserved within
    ``± value_tolerance`` from link to link (with ``per_pair``, default on since issue 15:
    in all, or per paying pair, as AMLworld and AMLSim draw each payment afresh and a
    layer into a wider tier then carries more in all), and disjoint tiers. The longest valid chains
    are reported (a valid chain inside a longer valid one is not), and a stack whose
    transactions are all in another reported stack is not reported (:func:`_drop_parts`).

    Complexity: as :func:`_bipartite` plus the merges over the (few) candidate sets.
    """
    p = ctx.params
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    stride, pairs = _shared_window_pairs(E, ctx, _window_us(p["window_days"]), p["max_degree"])
    cand = _bipartite_candidates(pairs, p["min_density"])
    if cand.empty:
        return pd.DataFrame()
    bene = cand[cand["tier"] == 1]
    orig = cand[cand["tier"] == 0]
    share = bene.merge(orig, on=["w", "cur", "acct"], suffixes=("_i", "_j"))
    share = share[share["sid_i"] != share["sid_j"]]
    links = share.groupby(["sid_i", "sid_j"]).size()
    links = links[links >= p["min_tier_size"]].reset_index()[["sid_i", "sid_j"]]
    if links.empty:
        return pd.DataFrame()
    chains = [links.rename(columns={"sid_i": 0, "sid_j": 1})]
    while len(chains) < _MAX_STACK_TIERS - 2:  # grow by one link per step (≤ 4 steps)
        prev = chains[-1]
        last = prev.columns[-1]
        nxt = prev.merge(links.rename(columns={"sid_i": last, "sid_j": last + 1}), on=last)
        repeats = np.zeros(len(nxt), bool)
        for c in prev.columns:
            repeats |= (nxt[c] == nxt[last + 1]).to_numpy()
        nxt = nxt[~repeats]
        if nxt.empty:
            break
        chains.append(nxt.reset_index(drop=True))
    # tiers of every chain, as a long table sid, w, cur, tier, acct
    parts, seqs, base = [], [], 0
    for ch in chains:  # one step per chain length (≤ 4), vectorised over chains
        ch = ch.reset_index(drop=True)
        sid = np.arange(base, base + len(ch))
        n_sets = ch.shape[1]
        for r in range(n_sets + 1):
            if r == 0:
                t = orig.merge(pd.DataFrame({"sid": ch[0], "new": sid}), on="sid")
            elif r == n_sets:
                t = bene.merge(pd.DataFrame({"sid": ch[n_sets - 1], "new": sid}), on="sid")
            else:
                b_prev = bene.merge(pd.DataFrame({"sid": ch[r - 1], "new": sid}), on="sid")[["new", "w", "cur", "acct"]]
                o_next = orig.merge(pd.DataFrame({"sid": ch[r], "new": sid}), on="sid")[["new", "acct"]]
                t = b_prev.merge(o_next, on=["new", "acct"])
            parts.append(t.assign(tier=r)[["new", "w", "cur", "tier", "acct"]].rename(columns={"new": "sid"}))
        seqs += [tuple(x) for x in ch.to_numpy()]
        base += len(ch)
    tiers = pd.concat(parts, ignore_index=True)
    stats = _tier_stats(tiers, pairs)
    n_tiers = tiers.groupby("sid")["tier"].max() + 1
    sizes = tiers.groupby(["sid", "tier"]).size()
    small = (sizes < p["min_tier_size"]).groupby(level="sid").any() | (sizes.groupby(level="sid").size() < n_tiers)
    overlap = tiers.duplicated(["sid", "acct"]).groupby(tiers["sid"]).any()
    stats = stats.sort_values(["sid", "t_o"])
    ratio = stats["value"] / stats.groupby("sid")["value"].shift(1)
    stats["conserved"] = ratio.isna() | ((ratio - 1).abs() <= p["value_tolerance"] + 1e-9)
    if p["per_pair"]:
        # or the layer's payments are of the size of the layer before's: amounts drawn afresh per payment
        # (AMLworld, AMLSim), so that a layer into a wider tier carries more in all
        each = stats["value"] / stats["links"].where(stats["links"] > 0)
        per_pair = each / each.groupby(stats["sid"]).shift(1)
        stats["conserved"] |= (per_pair - 1).abs() <= p["value_tolerance"] + 1e-9
    per = stats.groupby("sid").agg(
        min_density=("density", "min"), conserved=("conserved", "all"), links=("t_o", "size"), min_links=("links", "min")
    )
    valid = (
        (per["min_density"] >= p["min_density"] - 1e-9)
        & per["conserved"]
        & (per["min_links"] > 0)
        & (per["links"] == n_tiers.reindex(per.index) - 1)
        & ~small.reindex(per.index).fillna(True)
        & ~overlap.reindex(per.index).fillna(True)
        & (n_tiers.reindex(per.index) >= p["min_tiers"])
    )
    good = per.index[valid.to_numpy()]
    if len(good) == 0:
        return pd.DataFrame()
    # keep the longest: drop a valid chain that is a contiguous part of a longer valid one
    good_seqs = {seqs[s]: s for s in good}
    inner = set()
    for seq in good_seqs:  # loop over valid chains (few), not accounts
        for a in range(len(seq)):
            for b in range(a + 2, len(seq) + 1):
                if (a, b) != (0, len(seq)) and seq[a:b] in good_seqs:
                    inner.add(good_seqs[seq[a:b]])
    good = [s for s in good if s not in inner]
    per = per.loc[good]
    dense = (per["min_density"] - p["min_density"]) / max(1 - p["min_density"], 1e-9)
    score = pd.Series(np.clip(0.5 + 0.25 * (n_tiers.reindex(per.index) - p["min_tiers"]) + 0.25 * dense, 0, 1), index=per.index)
    return _drop_parts(_structure_findings(E, stride, tiers, stats, set(good), score, "stack"))


def _drop_parts(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings whose evidence is not a strict part of another finding's: a dense core of a stack
    (fewer accounts in a tier, found in another window or candidate set) is the stack already shown."""
    if len(findings) < 2:
        return findings
    ev = [frozenset(x) for x in findings["evidence_txn_ids"]]
    holding: dict = {}
    for i, e in enumerate(ev):
        for txn in e:
            holding.setdefault(txn, []).append(i)
    part = [any(j != i and e < ev[j] for j in holding[next(iter(e))]) if e else False for i, e in enumerate(ev)]
    return findings[~np.asarray(part, bool)].reset_index(drop=True)


def _explain_stack(facts: dict, params: dict, jurisdiction) -> str:
    tiers = facts["tiers"]
    sizes = " → ".join(str(len(t)) for t in tiers)
    values = ", ".join(money_text(v, facts["currency"]) for v in facts["values"])
    return (
        f"Stack of {len(tiers)} tiers (threshold: at least {params['min_tiers']}) of {sizes} accounts (threshold: at "
        f"least {params['min_tier_size']} per tier), each tier paying the next: densities "
        f"{', '.join(f'{d:.0%}' for d in facts['densities'])} (threshold: at least {params['min_density']:.0%}); value "
        f"per layer {values}, conserved within ±{params['value_tolerance']:.0%} from layer to layer"
        f"{', in all or per paying pair' if params.get('per_pair') else ''} (threshold). "
        f"{facts['span_days']:.1f} days, {facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d} (threshold: "
        f"within {params['window_days']:g} days). Subject {facts['subject_id']} sent the most into tier 2. Tiers: "
        + "; ".join(f"{i + 1}: {_names(t)}" for i, t in enumerate(tiers))
        + f". Evidence: {facts['evidence_count']} transactions, {facts['totals']}."
    )


STACK = register(
    catalogued(
        "ML-11",
        requires=_REQUIRES,
        func=_stack,
        partition="graph",  # paths and structures over the whole graph: the edge table, built chunk by chunk
        explain=_explain_stack,
    )
)
if max(p.high for p in STACK.params if p.name == "min_tiers") > _MAX_STACK_TIERS:  # the search grows at most this many
    raise CatalogueError(f"catalogue.toml: rule ML-11, parameter min_tiers: high must be at most {_MAX_STACK_TIERS}")
