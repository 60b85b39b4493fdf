"""Two-hop patterns through a middle account: ML-07 scatter-gather and ML-08 gather-scatter.

They group by the middle account with a time window instead of self-joining the table:
the edges are sorted once by (account, currency, time) and each transaction finds the
matching transactions of its middle account by binary search on that order
(:class:`numpy.searchsorted`); sliding-window distinct counts use +1/−1 coverage events
and a cumulative sum, window sums use prefix sums. Work is O(n log n) plus the (in, out)
pairs that really fall inside the window.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from followmoney.core._timeline import TimeIndex, batches, distinct_forward, episodes, expand, first_contact, packed_key, stable_order, unique_sorted
from followmoney.core.units import DAY_US, money_text
from followmoney.detect.rules._fan import _routine
from followmoney.detect.rules._graph._table import _REQUIRES, _count_score, _edges_among, _evidence, _findings, _flow_rows
from followmoney.detect.rules._graph._table import _names, _pick_per_episode, _run_sizes, _shared_edges, _window_us
from followmoney.detect.rules._registry import RuleContext, WholeStat, register, whole
from followmoney.detect.rules._rolling import threshold_cents
from followmoney.detect.rules.catalogue import catalogued

log = logging.getLogger("followmoney")


#: Queries :func:`_window_ranges` answers at once (:meth:`TimeIndex.range` holds about ten int64 temporaries
#: per query while it works)
_RANGE_PART = 1 << 19


def _window_ranges(
    index: TimeIndex, group: np.ndarray, start: np.ndarray, width: int, *, inclusive_after: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``index.range(group, start, start + width, inclusive_after=...)``, answered :data:`_RANGE_PART` queries at
    a time: the same answers, with the search's temporaries held for one part only (for the 3.4 M edges of 5 M
    IBM rows, all at once held 0.35 GB)."""
    lo, hi = np.empty(len(group), np.int64), np.empty(len(group), np.int64)
    for a in range(0, len(group), _RANGE_PART):
        at = slice(a, a + _RANGE_PART)
        lo[at], hi[at] = index.range(group[at], start[at], start[at] + width, inclusive_after=inclusive_after)
    return lo, hi


# --------------------------------------------------------------------------- ML-07 scatter-gather
def _distinct_per_key(key: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Per row, the number of distinct ``member`` values among the rows of its ``key``."""
    if len(key) == 0:
        return np.zeros(0, np.int64)
    packed = packed_key(key, member)  # one sort of a packed key; rows of equal (key, member) are alike here
    order = np.lexsort((member, key)) if packed is None else np.argsort(packed)
    k, m = key[order], member[order]
    new_key = np.r_[True, k[1:] != k[:-1]]
    new_member = new_key | np.r_[True, m[1:] != m[:-1]]
    group = np.cumsum(new_key) - 1
    out = np.empty(len(key), np.int64)
    out[order] = np.bincount(group, weights=new_member).astype(np.int64)[group]
    return out


#: (scatter, gather) pairs :func:`_pairs_of_many_intermediaries` holds at once (about 100 bytes each while it
#: works, so about 50 MB a batch): at 5 M IBM rows ML-07 found 13 M, which took 1.3 GB in one piece
_PAIR_BATCH = 500_000


def _pairs_of_many_intermediaries(E, order, scatter, lo, hi, gather, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (scatter, gather) pairs of the (A, B, currency) groups with at least ``k`` distinct intermediaries.

    A pair is an edge ``e_in`` (A → I) of ``scatter`` (ascending) and an edge ``e_out`` of I's outgoing
    edges ``order[lo[i]:hi[i]]`` (``lo``, ``hi`` per edge of ``scatter``; I → B, B ≠ A) with ``gather[e_out]``
    (a bool per edge: the edges whose receiver can collect from ``k`` intermediaries; the others make
    no group and are not paired). The pairs are made in batches of the intermediaries holding at most
    :data:`_PAIR_BATCH` pairs: a first pass counts each group's distinct intermediaries (an
    intermediary's pairs are all in one batch, so the counts add up), a second keeps the pairs of the
    groups with ``k``. Returns ``e_in``, ``e_out`` (ordered by ``e_in``, then by position in ``order``)
    and the group's key, an int64 ordered as the (A, B, currency) tuples are.
    """
    n_acc, n_cur = np.int64(max(len(E.accounts), 1)), np.int64(E.n_cur)
    if int(n_acc) ** 2 * int(n_cur) >= 2**62:  # beyond the packing range: all pairs at once, the triples ranked
        owner, j = expand(lo, hi)
        e_in, e_out = scatter[owner], order[j]
        sel = (E.src[e_in] != E.dst[e_out]) & gather[e_out]
        e_in, e_out = e_in[sel], e_out[sel]
        key = pd.MultiIndex.from_arrays([E.src[e_in], E.dst[e_out], E.cur[e_in]]).factorize(sort=True)[0].astype(np.int64)
        keep = _distinct_per_key(key, E.dst[e_in]) >= k
        return e_in[keep], e_out[keep], key[keep]
    if not len(scatter):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    by_mid = stable_order(E.dst[scatter] * n_cur + E.cur[scatter])  # by intermediary, then in edge order
    scatter, lo, hi = scatter[by_mid], lo[by_mid], hi[by_mid]
    del by_mid
    m = E.dst[scatter] * n_cur + E.cur[scatter]
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    del m
    per_mid = np.add.reduceat(hi - lo, starts)
    bounds = np.r_[starts, len(scatter)]
    runs = [(int(bounds[a]), int(bounds[b])) for a, b in batches(np.zeros_like(per_mid), per_mid, _PAIR_BATCH)]
    del starts, bounds

    def pairs(a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        owner, j = expand(lo[a:b], hi[a:b])
        e_in, e_out = scatter[a:b][owner], order[j]
        sel = (E.src[e_in] != E.dst[e_out]) & gather[e_out]
        e_in, e_out, j = e_in[sel], e_out[sel], j[sel]
        return e_in, e_out, j, (E.src[e_in] * n_acc + E.dst[e_out]) * n_cur + E.cur[e_in]

    # one key per distinct (group, intermediary), batch after batch, in one array as long as all pairs: an upper
    # bound whose pages past the keys written are never touched (a list of parts, joined, held them twice)
    groups, n_groups = np.empty(int(per_mid.sum()), np.int64), 0
    last = None  # one batch: its pairs are kept for the second pass, not made again
    for a, b in runs:
        e_in, e_out, j, key = pairs(a, b)
        last = (e_in, e_out, j, key) if len(runs) == 1 else None
        o = stable_order(key)  # within a group the intermediaries stay in order
        ks, inter = key[o], E.dst[e_in][o]
        ks = ks[np.r_[True, (ks[1:] != ks[:-1]) | (inter[1:] != inter[:-1])]] if len(ks) else ks
        groups[n_groups : n_groups + len(ks)] = ks
        n_groups += len(ks)
    del e_in, e_out, j, key, o, ks, inter
    groups = groups[:n_groups]
    groups.sort()  # in place: one copy of tens of millions of keys, not two
    # the groups with k intermediaries: sorted, such a group's first key equals the one k - 1 places on
    # (masks of a byte per key, not positions of eight)
    n = max(len(groups) - k + 1, 0)  # the keys with k - 1 keys after them
    first = np.ones(n, bool)  # a group's first key
    first[1:] = groups[1:n] != groups[: max(n - 1, 0)]
    wanted = groups[:n][first & (groups[k - 1 :] == groups[:n])]
    del first
    del groups
    kept = []
    for a, b in runs if len(wanted) else []:
        e_in, e_out, j, key = last if len(runs) == 1 else pairs(a, b)
        at = np.minimum(np.searchsorted(wanted, key), len(wanted) - 1)
        sel = wanted[at] == key
        kept.append((e_in[sel], e_out[sel], j[sel], key[sel]))
    if not kept:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    e_in, e_out, j, key = (np.concatenate(c) for c in zip(*kept))
    o = np.lexsort((j, e_in))  # the order of one expansion of all edges
    return e_in[o], e_out[o], key[o]


def _scatter_gather(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """A → {I₁..I_k} → B: find the (A, B) pairs joined by enough forwarding intermediaries.

    1. For each transaction A→I, the later transactions I→B within ``D`` days (binary
       search on I's outgoing transactions): the (scatter, gather) pairs, grouped by
       the middle account I. Intermediaries with more than ``max_pairs_per_account``
       pairs (hubs, not mules) are skipped and counted in the log.
    2. Keep (A, B, currency) with at least ``k`` distinct intermediaries overall.
    3. Anchor a window ``[s, s + D]`` at each scatter time ``s``; an intermediary
       qualifies in it when it forwarded to B at least ``(1 - m)`` and at most all of
       what it received from A, counting only its transfers inside the window, each
       received transfer before a forwarded one. A window with ``k`` qualifying
       intermediaries is a hit; overlapping hits of one source are one finding.

    Complexity: O(n log n + p log p + a·w) for n transactions, p pairs, a anchors of
    candidate (A, B) groups and w pairs per anchor window; memory O(n + g + b) for g
    distinct (A, B, currency, intermediary) and b pairs per batch
    (:func:`_pairs_of_many_intermediaries`).
    """
    p = ctx.params
    k, keep_share, W = p["min_intermediaries"], 1.0 - p["margin"], _window_us(p["window_days"])
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    out = TimeIndex(E.out_key(), E.t)
    mid = E.in_key()
    lo, hi = _window_ranges(out, mid, E.t, W)
    order = out.order  # the index's keys are no longer needed
    del out
    inv = pd.factorize(mid)[0]
    del mid
    heavy = np.bincount(inv, weights=hi - lo) > p["max_pairs_per_account"]
    if heavy.any():
        log.info("ML-07: %d intermediary account(s) with more than %d pairs skipped", heavy.sum(), p["max_pairs_per_account"])
    # the scatter edges with pairs, of payers that pay k accounts or more in that currency, and the edges into
    # receivers paid by k accounts or more: only they can make a group (pairing the others took most of the memory)
    scatter = (hi > lo) & ~heavy[inv]
    del inv, heavy
    scatter &= np.isin(E.out_key(), _keys_with_distinct(E.out_key(), E.dst, k))
    scatter = np.flatnonzero(scatter)
    lo, hi = lo[scatter], hi[scatter]
    gather = np.isin(E.in_key(), _keys_with_distinct(E.in_key(), E.src, k))
    e_in, e_out, key = _pairs_of_many_intermediaries(E, order, scatter, lo, hi, gather, k)
    del order, scatter, lo, hi, gather
    if not len(e_in):
        return pd.DataFrame()
    # the (scatter, gather) pairs, as columns (no table of millions of rows is built)
    pairs = {"A": E.src[e_in], "I": E.dst[e_in], "B": E.dst[e_out], "cur": E.cur[e_in], "e_in": e_in, "e_out": e_out}
    g = np.unique(key, return_inverse=True)[1].astype(np.int64)  # (A, B, currency) groups, numbered in sorted order
    t_in, t_out = E.t[pairs["e_in"]], E.t[pairs["e_out"]]
    by_group = TimeIndex(g, t_in)
    anchors = pd.DataFrame({"g": g, "s": t_in}).drop_duplicates().sort_values(["g", "s"]).reset_index(drop=True)
    a_g, a_s = anchors["g"].to_numpy(), anchors["s"].to_numpy()
    lo, hi = by_group.range(a_g, a_s, a_s + W, inclusive_after=True)
    a, j = expand(lo, hi)
    pr = by_group.order[j]
    inside = t_out[pr] <= a_s[a] + W
    a, pr = a[inside], pr[inside]
    rows = pd.DataFrame({"a": a} | {c: pairs[c][pr] for c in ("I", "e_in", "e_out")})
    # per (anchor, intermediary): received (each transfer in once) and forwarded (each transfer out once).
    # One int64 key per (anchor, edge) and per (anchor, intermediary) instead of multi-column
    # drop_duplicates/groupby; an edge has one intermediary (I = dst of e_in = src of e_out).
    n_e, n_acc = np.int64(len(E)), np.int64(max(len(E.accounts), 1))
    a_, i_ = rows["a"].to_numpy(np.int64), rows["I"].to_numpy(np.int64)

    def _sum_once(edge: np.ndarray) -> pd.Series:
        first = np.flatnonzero(~pd.Series(a_ * n_e + edge).duplicated().to_numpy())
        return pd.Series(E.amt[edge[first]]).groupby(a_[first] * n_acc + i_[first]).sum()

    got = _sum_once(rows["e_in"].to_numpy(np.int64))
    fwd = _sum_once(rows["e_out"].to_numpy(np.int64)).reindex(got.index)
    key = got.index.to_numpy(np.int64)
    per = pd.DataFrame({"a": key // n_acc, "I": key % n_acc, "got": got.to_numpy(), "fwd": fwd.to_numpy()})
    per["share"] = per["fwd"] / per["got"]
    per = per[(per["fwd"] >= keep_share * per["got"] - 1e-9) & (per["fwd"] <= per["got"])].reset_index(drop=True)
    per = per[per.groupby("a")["I"].transform("size") >= k]
    if per.empty:
        return pd.DataFrame()
    ev = rows.merge(per[["a", "I"]], on=["a", "I"])
    span = ev.assign(ti=E.t[ev["e_in"].to_numpy()], to=E.t[ev["e_out"].to_numpy()]).groupby("a").agg(
        window_start=("ti", "min"), window_end=("to", "max")
    )
    hits = per.groupby("a").agg(n=("I", "size"), got=("got", "sum"), fwd=("fwd", "sum"), share=("share", "min"))
    hits = hits.join(span).reset_index()
    first_pair = pd.Series(np.arange(len(g))).groupby(g).first()
    hits["pair"] = first_pair.reindex(a_g[hits["a"].to_numpy()]).to_numpy()
    hits["subject_id"] = E.accounts[pairs["A"][hits["pair"]]]
    hits["B"] = E.accounts[pairs["B"][hits["pair"]]]
    hits["cur"] = pairs["cur"][hits["pair"]]
    best = _pick_per_episode(hits, ["n", "share", "window_start", "a"], [False, False, True, True])
    members = per[per["a"].isin(best["a"])]
    inter = members.groupby("a")["I"].agg(lambda s: sorted(E.accounts[s.to_numpy()]))
    evr = ev[ev["a"].isin(best["a"])]
    fid = pd.Series(np.arange(len(best)), index=best["a"].to_numpy())
    f_ids = fid.reindex(evr["a"].to_numpy()).to_numpy()
    evidence = _evidence(E, np.r_[f_ids, f_ids], np.r_[evr["e_in"].to_numpy(), evr["e_out"].to_numpy()], len(best))
    facts = [
        {
            "collector": r.B,
            "n_intermediaries": int(r.n),
            "intermediaries": inter[r.a],
            "min_share": float(r.share),
            "received": int(r.got),
            "forwarded": int(r.fwd),
            "currency": E.currencies[r.cur] if len(E.currencies) else None,
            "span_days": (r.window_end - r.window_start) / DAY_US,
            "episode_start": int(r.episode_start),
            "episode_end": int(r.episode_end),
        }
        for r in best.itertuples()
    ]
    return _findings(best["subject_id"], best["window_start"], best["window_end"], evidence, _count_score(best["n"], k), facts)


def _explain_scatter_gather(facts: dict, params: dict, jurisdiction) -> str:
    keep = 1.0 - params["margin"]
    return (
        f"Account {facts['subject_id']} split {money_text(facts['received'], facts['currency'])} over "
        f"{facts['n_intermediaries']} intermediaries (threshold: at least {params['min_intermediaries']}), each of which "
        f"passed at least {facts['min_share']:.0%} of what it received from {facts['subject_id']} on to collector "
        f"{facts['collector']}, and no more than all of it (threshold: at least {keep:.0%}, i.e. a margin of at most "
        f"{params['margin']:g}, and at most 100%); "
        f"{money_text(facts['forwarded'], facts['currency'])} reached the collector. Each intermediary was paid before it "
        f"paid on, and the pattern took {facts['span_days']:.1f} days, {facts['window_start']:%Y-%m-%d} to "
        f"{facts['window_end']:%Y-%m-%d} (threshold: within {params['window_days']:g} days). Intermediaries: "
        f"{_names(facts['intermediaries'])}. Evidence: {facts['evidence_count']} transactions, {facts['totals']}."
    )


SCATTER_GATHER = register(
    catalogued(
        "ML-07",
        requires=_REQUIRES,
        func=_scatter_gather,
        partition="graph",  # paths and structures over the whole graph: the edge table, built chunk by chunk
        explain=_explain_scatter_gather,
    )
)


# --------------------------------------------------------------------------- ML-08 gather-scatter
def _gather_scatter(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Hub accounts that gather from many and pay on to many within ``D`` days.

    Windows ``[s, s + D]`` are anchored at each time ``s`` the hub receives money; in
    each, distinct senders (received in ``[s, s + D]``), distinct receivers (paid in
    ``(s, s + D]``), inflow and outflow are computed for every hub at once with coverage
    events and prefix sums (see :func:`followmoney.core._timeline.distinct_forward`), per currency. A window is a
    hit when both counts reach ``k`` and the outflow is between ``min_pass_through``
    and ``max_pass_through`` of the inflow, and, in the windows that pass, at least ``k``
    senders and ``k`` receivers each carry ``min_counterparty_share`` of the inflow or
    outflow (:func:`_material`); the evidence is their transactions. With ``gather_first``
    such a window counts only when its last payment from a material sender is no later
    than its first payment to a material receiver (:func:`_material_times`). Last, the
    gathering is a burst: its material senders number at least ``min_ratio_to_typical``
    times the hub's usual count of senders (:func:`_usual_senders`), counted like with like
    in payments of at least ``min_counterparty_share`` of the window's inflow.

    With ``new_counterparties`` (default on, issue 15) only counterparties new to the hub make
    the gathering and the scattering: a sender (receiver) it already received from (paid)
    before the window starts, such as its landlord or a regular payer
    (:func:`~followmoney.core._timeline.first_contact`), is its ordinary life: it does not count towards ``k``, is not
    evidence and does not break ``gather_first``; its amounts stay in the window's inflow
    and outflow, and the burst test counts it as the usual count does (like with like).

    Complexity: O(n log n) time and O(n) memory for n transactions; evidence is built
    only for the one window kept per hub and episode.
    """
    p = ctx.params
    k, W, share = p["min_counterparties"], _window_us(p["window_days"]), p["min_pass_through"]
    # card, merchant and payroll payments are the hub's ordinary life, not the gathering or the scattering
    E = _edges_among(_shared_edges(frame, ctx), ~_routine(frame).to_numpy(bool))
    if len(E) == 0:
        return pd.DataFrame()
    hin, hout = E.in_key(), E.out_key()
    cand = np.intersect1d(_keys_with_distinct(hin, E.src, k), _keys_with_distinct(hout, E.dst, k))
    use = np.isin(hin, cand)
    if not use.any():
        return pd.DataFrame()
    anc = pd.DataFrame({"h": hin[use], "s": E.t[use]}).drop_duplicates().sort_values(["h", "s"]).reset_index(drop=True)
    h, s = anc["h"].to_numpy(np.int64), anc["s"].to_numpy(np.int64)
    del anc
    # only the windows with k senders and k receivers can be hits: the others are dropped before anything else is
    # computed for them (the windows stay in order, which breaks ties in _pick_per_episode); the counts are made
    # on the candidate hubs' edges only (a hub's counts depend on its own edges)
    n_send = distinct_forward(hin[use], E.src[use], E.t[use], h, s, W, strict_after=False)
    keep = n_send >= k
    h, s, n_send = h[keep], s[keep], n_send[keep]
    use = np.isin(hout, cand)
    n_recv = distinct_forward(hout[use], E.dst[use], E.t[use], h, s, W, strict_after=True)
    del use
    keep = n_recv >= k
    h, s, n_send, n_recv = h[keep], s[keep], n_send[keep], n_recv[keep]
    del keep
    # each window's edges in, and out, as ranges of the hub's edges in (hub, time) order; only the orders are kept
    # (and no per-edge array the rest can do without: millions of edges, eight bytes each)
    ins = TimeIndex(hin, E.t)
    ilo, ihi = _window_ranges(ins, h, s, W, inclusive_after=True)
    in_order = ins.order
    del ins, hin
    outs = TimeIndex(hout, E.t)
    olo, ohi = _window_ranges(outs, h, s, W)
    out_order = outs.order
    del outs, hout
    cs = np.r_[np.int64(0), np.cumsum(E.amt[in_order])]
    inflow = cs[ihi] - cs[ilo]
    cs = np.r_[np.int64(0), np.cumsum(E.amt[out_order])]
    outflow = cs[ohi] - cs[olo]
    del cs
    hit = (outflow >= share * inflow - 1e-9) & (outflow <= p["max_pass_through"] * inflow + 1e-9)
    # value floor, in the jurisdiction's currency only (amounts are never converted)
    j = ctx.jurisdiction
    in_ccy = E.currencies[h % E.n_cur] == j.currency
    floor = threshold_cents(j, p["min_inflow_fraction"])
    hit &= ~in_ccy | (inflow >= floor)
    if not hit.any():
        return pd.DataFrame()
    # each counted sender (receiver) carries a material share of the window's inflow (outflow): one large
    # transfer in and on (a pass-through, ML-04) among small transfers of the account's own life is no gathering
    idx = np.flatnonzero(hit)
    each = p["min_counterparty_share"]
    # the hub's established counterparties (its landlord, a regular payer: dealt with that way before the window)
    # are its ordinary life, not the gathering or the scattering: they neither count, nor order, nor are evidence
    seen_in = seen_out = None
    if p["new_counterparties"]:
        # only the hubs of the windows that passed so far are looked at: their edges only
        hubs = np.unique(h[idx])
        seen_in, seen_out = np.full(len(E.t), np.iinfo(np.int64).max), np.full(len(E.t), np.iinfo(np.int64).max)
        for seen, key, who in ((seen_in, E.in_key(), E.src), (seen_out, E.out_key(), E.dst)):
            mine = np.flatnonzero(np.isin(key, hubs))
            seen[mine] = first_contact(key[mine], who[mine], E.t[mine])
    m_send, m_recv = np.zeros(len(h), np.int64), np.zeros(len(h), np.int64)
    m_send[idx], _, last_in = _material_times(ilo[idx], ihi[idx], in_order, E.src, E.amt, inflow[idx], each, E.t, seen_in, s[idx])
    m_recv[idx], first_out, _ = _material_times(olo[idx], ohi[idx], out_order, E.dst, E.amt, outflow[idx], each, E.t, seen_out, s[idx])
    hit &= (m_send >= k) & (m_recv >= k)
    if p["gather_first"]:
        # gather, then scatter (indicators.md §6): a material sender still paying in after a material receiver
        # was paid is an account that receives and pays as it goes (a busy or pass-through account)
        hit[idx] &= last_in <= first_out
    if not hit.any():
        return pd.DataFrame()
    # the gathering is a burst: the hub's material senders well above its usual count of senders of that size
    # (as ML-05, like with like); a utility or a landlord collects from as many payers every month, while a
    # friend's small transfers do not make a private account a collector
    typical, usual_floor = np.zeros(len(h)), np.zeros(len(h), np.int64)
    material_floor = np.ceil(each * inflow[hit]).astype(np.int64)  # minor units
    # when the data start: on the whole data, the earliest of these edges (what _GATHER_START computes from the
    # frame); on a part (an engine's partition), the engine's value for the whole data
    start = int(E.t.min()) if ctx.whole is None else whole(ctx, frame, _GATHER_START)
    typical[hit], usual_floor[hit] = _usual_senders(
        E, E.in_key(), h[hit], s[hit], W, k, int(p["baseline_days"] * DAY_US), material_floor, start
    )
    # like with like: the window's material senders, established ones included, as the usual count includes them
    burst = m_send
    if p["new_counterparties"]:
        burst = np.zeros(len(h), np.int64)
        burst[hit] = _material(ilo[hit], ihi[hit], in_order, E.src, E.amt, inflow[hit], each)[0]
    hit &= (typical == 0) | (burst >= p["min_ratio_to_typical"] * typical)
    if not hit.any():
        return pd.DataFrame()
    idx = np.flatnonzero(hit)
    last_in = E.t[in_order[ihi[idx] - 1]]
    last_out = E.t[out_order[ohi[idx] - 1]]
    hits = pd.DataFrame(
        {
            "anchor": idx,
            "subject_id": E.accounts[h[idx] // E.n_cur],
            "cur": h[idx] % E.n_cur,
            "window_start": s[idx],
            "window_end": np.maximum(last_in, last_out),
            "n_send": n_send[idx],
            "n_recv": n_recv[idx],
            "m_send": m_send[idx],
            "m_recv": m_recv[idx],
            "typical": typical[idx],
            "usual_floor": usual_floor[idx],
            "inflow": inflow[idx],
            "outflow": outflow[idx],
        }
    )
    hits["n"] = np.minimum(hits["m_send"], hits["m_recv"])
    hits["m"] = hits["m_send"] + hits["m_recv"]  # of the windows as strong, the one showing most of the pattern
    hits["share"] = hits["outflow"] / hits["inflow"]
    best = _pick_per_episode(hits, ["n", "m", "share", "window_start", "anchor"], [False, False, False, True, True])
    b = best["anchor"].to_numpy()
    # evidence: the transactions with the material senders and receivers (the gathering and the scattering)
    _, qi, ei, keep_i = _material(ilo[b], ihi[b], in_order, E.src, E.amt, inflow[b], each, seen_in, s[b])
    _, qo, eo, keep_o = _material(olo[b], ohi[b], out_order, E.dst, E.amt, outflow[b], each, seen_out, s[b])
    evidence = _evidence(E, np.r_[qi[keep_i], qo[keep_o]], np.r_[ei[keep_i], eo[keep_o]], len(best))
    facts = [
        {
            "n_senders": int(r.n_send),
            "n_receivers": int(r.n_recv),
            "material_senders": int(r.m_send),
            "material_receivers": int(r.m_recv),
            "typical": float(r.typical),
            "usual_floor": int(r.usual_floor),
            "inflow": int(r.inflow),
            "outflow": int(r.outflow),
            "share": float(r.share),
            "currency": E.currencies[r.cur],
            "span_days": (r.window_end - r.window_start) / DAY_US,
            "episode_start": int(r.episode_start),
            "episode_end": int(r.episode_end),
        }
        for r in best.itertuples()
    ]
    return _findings(best["subject_id"], best["window_start"], best["window_end"], evidence, _count_score(best["n"], k), facts)


def _keys_with_distinct(key: np.ndarray, member: np.ndarray, k: int) -> np.ndarray:
    """The distinct ``key`` values (non-negative int64) with at least ``k`` distinct ``member`` values, ascending;
    one sort of packed (key, member) pairs where they fit in int64 (a pandas ``nunique`` per key costs several
    times more on millions of edges)."""
    top = int(member.max()) + 1 if len(member) else 1
    if len(key) and (int(key.max()) + 1) * top < 2**62:
        # sort and compare, not np.unique: NumPy 2's hashing unique is ~40x slower on millions of distinct values;
        # the distinct pairs' keys are in order, so their counts are run lengths (no second sort)
        keys = unique_sorted(key * top + member) // top
        if not len(keys):
            return keys
        sizes = _run_sizes(keys)
        return keys[(np.cumsum(sizes) - sizes)[sizes >= k]]
    n = pd.Series(member).groupby(key).nunique()
    return n.index[n >= k].to_numpy()


def _material(lo, hi, order, who, amt, total, share, seen=None, since=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counterparties carrying at least ``share`` of each window's total.

    Window ``i`` holds the edges ``order[lo[i]:hi[i]]``; ``who`` is their counterparty
    (sender or receiver) and ``amt`` their amount; ``total`` the window's inflow or
    outflow (same minor units). Returns, per window, the count of distinct counterparties
    whose summed amount in it is at least ``share * total``, and for every (window, edge)
    row: the window, the edge and whether its counterparty is such a one. With ``seen``
    (per edge, the time the hub first dealt with its counterparty that way, :func:`~followmoney.core._timeline.first_contact`)
    and ``since`` (per window, its start), the edges of counterparties the hub already
    dealt with before the window are left out: no (window, edge) row, never material.
    """
    q, j = expand(lo, hi)
    e = order[j]
    if seen is not None:
        new = seen[e] >= np.asarray(since, np.int64)[q]
        q, e = q[new], e[new]
    if len(q) == 0:
        return np.zeros(len(lo), np.int64), q, e, np.zeros(0, bool)
    # (window, counterparty) groups by one sort of an int64 key (windows x accounts < 2**63)
    key = np.asarray(q, np.int64) * np.int64(who.max() + 1) + who[e]
    o = stable_order(key)
    k_sorted = key[o]
    new = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
    starts = np.flatnonzero(new)
    sums = np.add.reduceat(amt[e][o], starts)  # integer minor units, exact
    win = np.asarray(q, np.int64)[o[starts]]  # each group's window
    big = sums >= share * np.asarray(total)[win]
    big_row = np.empty(len(q), bool)
    big_row[o] = big[np.cumsum(new) - 1]
    return np.bincount(win[big], minlength=len(lo)), q, e, big_row


#: (window, edge) rows :func:`_material_times` holds at once (about 80 bytes each while it works, so about
#: 40 MB a batch): at 5 M IBM rows ML-08's passing windows hold 16 M, which took 1.3 GB in one piece
_MATERIAL_BATCH = 500_000


def _material_times(lo, hi, order, who, amt, total, share, t, seen=None, since=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_material`'s count per window, with the first and the last time ``t`` of the
    material counterparties' edges in it (the int64 maximum and minimum where it has none);
    ``seen`` and ``since`` as for :func:`_material`. Windows are taken
    in batches of :data:`_MATERIAL_BATCH` (window, edge) rows."""
    count = np.zeros(len(lo), np.int64)
    first = np.full(len(lo), np.iinfo(np.int64).max)
    last = np.full(len(lo), np.iinfo(np.int64).min)
    for a, b in batches(lo, hi, _MATERIAL_BATCH):
        start = None if since is None else np.asarray(since)[a:b]
        count[a:b], q, e, big = _material(lo[a:b], hi[a:b], order, who, amt, total[a:b], share, seen, start)
        np.minimum.at(first[a:b], q[big], t[e[big]])  # first[a:b] is a view: written in place
        np.maximum.at(last[a:b], q[big], t[e[big]])
    return count, first, last


def _gather_start_of(frame: pd.DataFrame, params: dict) -> int | None:
    """The earliest time among ML-08's edges (:func:`_edges` of the rows that are not routine, :func:`_routine`):
    when the data start for the hubs' usual count of senders; None without such a row."""
    ok = np.flatnonzero(_flow_rows(frame, ~_routine(frame).to_numpy(bool)))
    if len(ok):  # the same account on both sides is no edge
        if "from_code" in frame.columns:
            same = frame["from_code"].to_numpy()[ok] == frame["to_code"].to_numpy()[ok]
        else:
            same = frame["from_account"].to_numpy(object)[ok] == frame["to_account"].to_numpy(object)[ok]
        ok = ok[~same]
    return int(frame["t"].to_numpy(np.int64)[ok].min()) if len(ok) else None


#: When ML-08's data start, a statistic of the whole data (so that the rule runs on account partitions).
_GATHER_START = WholeStat("data_start_edges", "min", _gather_start_of)


def _usual_senders(E, hin, h, s, W, k, baseline_us, floor, data_start) -> tuple[np.ndarray, np.ndarray]:
    """Usual distinct-sender count of hub key ``h`` around each window start ``s``, counting
    payments of at least ``floor`` (int64 minor units, per window) only.

    The fan-in episodes of each hub (at least ``k`` distinct senders within ``W``) in its
    payments of at least the smallest ``floor`` of its windows, with their point-in-time
    usual level (:func:`followmoney.core._timeline.episodes`); a window starting at ``s``
    belongs to the episode with ``episode_start - W <= s <= episode_end``. Returns the
    count, 0 where none is found, and the floor used, per window. ``data_start``: when the data start
    (:data:`_GATHER_START`, µs since the epoch, UTC).
    """
    out = np.zeros(len(h))
    if len(h) == 0:
        return out, floor
    # only the hubs asked about: a hub's episodes depend on its own rows and on when the data start
    hub_floor = pd.Series(floor).groupby(h).min()
    used = hub_floor.reindex(h).to_numpy()
    mine = np.flatnonzero(np.isin(hin, hub_floor.index.to_numpy()))
    mine = mine[E.amt[mine] >= hub_floor.reindex(hin[mine]).to_numpy()]
    # only the usual level is read, not the episodes' evidence: edge positions stand in for the txn ids (the
    # edges are in (t, txn_id) order), so no id is made text (on the Dask engine every id page is read otherwise)
    inn = pd.DataFrame({"t": E.t[mine], "txn_id": mine, "hub": hin[mine], "sender": E.src[mine]})
    ep = episodes(inn, subject="hub", member="sender", window_us=W, min_count=k, baseline_us=baseline_us, data_start=data_start)
    if ep.empty:
        return out, used
    ep = ep.assign(key=ep["episode_start"] - W).sort_values("key")
    q = pd.DataFrame({"hub": h, "s": s, "i": np.arange(len(h))}).sort_values("s")
    m = pd.merge_asof(q, ep[["subject", "key", "episode_end", "typical"]].rename(columns={"subject": "hub"}),
                      left_on="s", right_on="key", by="hub", direction="backward")  # fmt: skip
    inside = (m["s"] <= m["episode_end"]).to_numpy()
    out[m["i"].to_numpy()[inside]] = m["typical"].to_numpy()[inside]
    return out, used


def _explain_gather_scatter(facts: dict, params: dict, jurisdiction) -> str:
    k = params["min_counterparties"]
    return (
        f"Account {facts['subject_id']} received {money_text(facts['inflow'], facts['currency'])} from "
        f"{facts['n_senders']} distinct senders and then paid "
        f"{money_text(facts['outflow'], facts['currency'])} to {facts['n_receivers']} distinct receivers "
        f"within {params['window_days']:g} days; {facts['material_senders']} of the senders and "
        f"{facts['material_receivers']} of the receivers each carried at least {params['min_counterparty_share']:.0%} "
        f"of the inflow or outflow (threshold: at least {k} each), passing on {facts['share']:.0%} of what it gathered "
        f"(threshold: at least {params['min_pass_through']:.0%} and at most {params['max_pass_through']:.0%}). Its usual count of senders is "
        f"{facts['typical']:g}, counting payments of at least {money_text(facts['usual_floor'], facts['currency'])} "
        f"(threshold: the material senders at least {params['min_ratio_to_typical']:g} times that). Window {facts['window_start']:%Y-%m-%d} to "
        f"{facts['window_end']:%Y-%m-%d} ({facts['span_days']:.1f} days). Evidence: {facts['evidence_count']} "
        f"transactions, {facts['totals']}."
    )


GATHER_SCATTER = register(
    catalogued(
        "ML-08",
        requires=_REQUIRES,
        func=_gather_scatter,
        partition="account",  # each hub's own payments in and out; the data start is a whole-data statistic
        whole_data=(_GATHER_START,),
        explain=_explain_gather_scatter,
    )
)
