"""Multi-hop laundering typologies: scatter-gather, gather-scatter, cycles, bipartite,
stack and layering chains (catalogue ML-07 to ML-12).

Source: ``shared/reference/indicators.md`` section 6. The shapes are IBM AMLSim's alert
patterns (``ScatterGatherTypology``, ``GatherScatterTypology``, ``CycleTypology``,
``BipartiteTypology``, ``StackTypology``; grade A) and the FATF description of layering
(grade C). The thresholds are the catalogue's defaults; most are engineering defaults
(grade E) to be calibrated on data, the scatter-gather margin is AMLSim's ``margin_ratio``.

How they are computed
---------------------
Every rule reads one *edge table*: the prepared transactions that move money between two
different accounts (``from_account`` and ``to_account`` both set, not flagged as a
self-transfer, ``amount_cents`` > 0), kept in (t, txn_id) order. Card purchases, ATM and
cash rows are not account-to-account flows and are left out; so are salary credits
when the frame has an ``is_payroll`` column. Accounts and currencies become integer
codes. Amounts are compared and added only within one currency: a pattern never mixes
currencies.

Money passed on cannot exceed the money received: where the catalogue asks that at
least a share of an amount moves on (ML-07 forwarding, ML-08 pass-through, ML-09
return, ML-12 hop to hop), no more than all of it may move on either; a larger
payment is other money, and without this bound ordinary rent, bill and payroll flows
fill the queue (measured on ``followmoney.datasets.synth`` data). ML-11's ±10 % is the
catalogue's own two-sided bound.

Optional columns, used when present: ``is_payroll`` (bool), and for ML-12
``from_institution`` / ``to_institution`` and ``country_from`` / ``country_to``
(institution or country of each side; without them the explanation says the check
could not be made).

* **Two-hop patterns** (ML-07, ML-08) group by the middle account with a time window
  instead of self-joining the table: the edges are sorted once by (account, currency,
  time) and each transaction finds the matching transactions of its middle account by
  binary search on that order (:class:`numpy.searchsorted`); sliding-window distinct
  counts use +1/−1 coverage events and a cumulative sum, window sums use prefix sums.
  Work is O(n log n) plus the (in, out) pairs that really fall inside the window.
* **Paths** (ML-09 cycles, ML-12 chains) grow one hop per step for all start
  transactions at once (a breadth-first frontier held in arrays); every hop is found by
  the same binary search and must be later than the previous hop, so only
  time-respecting paths are ever built. Simple cycles are never enumerated first and
  filtered by time afterwards (the blow-up of networkx #3021). A work budget
  (``max_paths``) bounds the search; when it stops a search the findings carry
  ``truncated`` and a warning is logged (counts only, no account ids).
* **Dense structures** (ML-10 bipartite, ML-11 stack) are sought in windows of ``D``
  days that start every ``D/2`` days, aligned to the Unix epoch, so each window can be
  computed on its own (one partition each on Dask): any pattern that lasts at most
  ``D/2`` lies wholly in one window, and nothing reported spans more than ``D``.
  Originators that share beneficiaries are linked, linked groups give candidate
  (originators, beneficiaries) sets, and candidates are checked for size and density.

No rule loops over accounts in Python; each returns at most one finding per subject
account and episode (findings of one account whose windows overlap are merged, the
strongest is kept as evidence).

Examples
--------
>>> import pandas as pd
>>> from followmoney.detect.rules import REGISTRY
>>> [REGISTRY[r].name for r in ("ML-07", "ML-09", "ML-12")]
['Scatter-gather', 'Cycle (round-tripping)', 'Layering chain']
>>> day = 86_400_000_000
>>> ring = pd.DataFrame({"txn_id": ["a", "b", "c"], "t": [day, 2 * day, 3 * day],
...     "amount_cents": [100_000, 95_000, 90_000], "currency": "USD",
...     "from_account": ["P1", "P2", "P3"], "to_account": ["P2", "P3", "P1"]})
>>> found = find_cycles(ring)
>>> found.cycles[["account", "accounts", "txn_ids"]].values.tolist(), found.truncated
([['P1', ['P1', 'P2', 'P3'], ['a', 'b', 'c']]], False)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from followmoney.detect.rules._fan import _routine
from followmoney.detect.rules.catalogue import catalogued
from followmoney.exceptions import CatalogueError
from followmoney.detect.rules._registry import RuleContext, register
from followmoney.core._timeline import TimeIndex, expand
from followmoney.core._timeline import distinct_forward as _distinct_forward
from followmoney.core.units import DAY_US, HOUR_US, money_text
from followmoney.detect.rules._rolling import threshold_cents
from followmoney.core._timeline import episodes

__all__ = ["CycleSearch", "ChainSearch", "find_cycles", "find_chains"]

log = logging.getLogger("followmoney")

_FINDING_COLUMNS = ["subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids", "score", "facts"]
#: Optional per-transaction attributes ML-12 uses to check institutions / countries.
_ATTRIBUTES = {"institution": ("from_institution", "to_institution"), "country": ("country_from", "country_to")}
_MAX_STACK_TIERS = 6
#: Path extensions materialised at once by the path searches (memory, not work, bound).
_BATCH_ROWS = 500_000
#: Channels that are purchases or cash, not account-to-account flows: left out of every graph rule.
_NOT_FLOWS = frozenset({"card", "atm", "cash_deposit", "cash_withdrawal"})


# --------------------------------------------------------------------------- edge table and search helpers
@dataclass(frozen=True)
class _Edges:
    """Money-moving transactions as integer arrays, in (t, txn_id) order.

    ``src``/``dst`` index ``accounts``, ``cur`` indexes ``currencies``; ``amt`` is in
    thousandths of the currency unit; ``row`` is the position in the (sorted) input frame.
    """

    txn_id: np.ndarray
    row: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    cur: np.ndarray
    t: np.ndarray
    amt: np.ndarray
    accounts: np.ndarray
    currencies: np.ndarray
    #: The row carries a date but no time of day (``time_precision`` day): its order among
    #: other date-only rows of that date is unknown, so time-respecting paths may take them
    #: in any order (equal times allowed between date-only hops).
    day: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t)

    @property
    def n_cur(self) -> int:
        return max(len(self.currencies), 1)

    def out_key(self) -> np.ndarray:
        """(paying account, currency) as one int64 key."""
        return self.src * self.n_cur + self.cur

    def in_key(self) -> np.ndarray:
        """(receiving account, currency) as one int64 key."""
        return self.dst * self.n_cur + self.cur


def _sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in (t, txn_id) order (prepared frames already are; checked, not assumed)."""
    t = frame["t"].to_numpy(np.int64)
    if len(t) > 1:
        ids = frame["txn_id"].to_numpy(object)
        tie = t[1:] == t[:-1]
        if (t[1:] < t[:-1]).any() or (ids[1:][tie] < ids[:-1][tie]).any():
            frame = frame.sort_values(["t", "txn_id"], kind="stable")
    return frame.reset_index(drop=True)


#: The frame columns :func:`_edges` reads.
_EDGE_COLUMNS = ("t", "txn_id", "from_account", "to_account", "amount_cents", "currency", "self_transfer", "channel", "is_payroll")


def _edges(frame: pd.DataFrame) -> _Edges:
    """Build the edge table from a prepared frame (see the module notes for what is kept)."""
    frame = _sorted_frame(frame[[c for c in (*_EDGE_COLUMNS, "has_time") if c in frame.columns]])  # not the whole frame, filtered twice
    ok = frame["from_account"].notna() & frame["to_account"].notna() & frame["amount_cents"].notna()
    if "self_transfer" in frame.columns:
        ok &= ~frame["self_transfer"].fillna(False).astype(bool)
    if "channel" in frame.columns:
        ok &= ~frame["channel"].isin(_NOT_FLOWS)
    if "is_payroll" in frame.columns:  # optional: salary credits are not laundering hops
        ok &= ~frame["is_payroll"].fillna(False).astype(bool)
    sub = frame[ok.to_numpy(bool)]
    amt = sub["amount_cents"].to_numpy(np.int64)
    keep = (amt > 0) & (sub["from_account"].to_numpy(object) != sub["to_account"].to_numpy(object))
    sub = sub[keep]
    n = len(sub)
    codes, accounts = pd.factorize(pd.concat([sub["from_account"], sub["to_account"]], ignore_index=True), sort=True)
    cur, currencies = pd.factorize(sub["currency"], sort=True, use_na_sentinel=False)
    return _Edges(
        txn_id=sub["txn_id"].to_numpy(object),
        row=sub.index.to_numpy(np.int64),
        src=codes[:n].astype(np.int64),
        dst=codes[n:].astype(np.int64),
        cur=cur.astype(np.int64),
        t=sub["t"].to_numpy(np.int64),
        amt=sub["amount_cents"].to_numpy(np.int64),
        accounts=np.asarray(accounts, dtype=object),
        currencies=np.asarray(currencies, dtype=object),
        day=~sub["has_time"].to_numpy(bool) if "has_time" in sub.columns else np.zeros(n, bool),
    )


#: The rules that read the shared edge table (:func:`_shared_edges`): scoring drops it once the last has run.
SHARED_EDGE_USERS = ("ML-07", "ML-09", "ML-10", "ML-11", "ML-12")


def _shared_edges(frame: pd.DataFrame, ctx: RuleContext) -> _Edges:
    """The edge table of ``frame``, built once per scoring run and shared by the graph rules.

    Kept in ``ctx.shared`` beside the frame it came from (a rule given another frame
    builds its own); its arrays are read-only so that no rule can change another's input.
    """
    hit = ctx.shared.get("graph_edges")
    if hit is not None and hit[0] is frame:
        return hit[1]
    E = _edges(frame)
    for a in (E.txn_id, E.row, E.src, E.dst, E.cur, E.t, E.amt, E.accounts, E.currencies):
        a.flags.writeable = False
    ctx.shared["graph_edges"] = (frame, E)
    return E


def _pick_per_episode(found: pd.DataFrame, order: list[str], ascending: list[bool]) -> pd.DataFrame:
    """One finding per subject and episode: findings of one subject whose windows overlap
    or touch form an episode; the first by ``order`` is kept. ``order`` must end with a
    unique column so the choice is deterministic. Adds ``episode_start``,
    ``episode_end`` and ``in_episode`` (how many findings were merged)."""
    f = found.sort_values(["subject_id", "window_start", "window_end"] + order[-1:], kind="stable").reset_index(drop=True)
    running = f.groupby("subject_id", sort=False)["window_end"].cummax()
    prev = running.groupby(f["subject_id"], sort=False).shift(1)
    f["episode"] = (prev.isna() | (f["window_start"] > prev)).cumsum()
    g = f.groupby("episode")
    f["episode_start"] = g["window_start"].transform("min")
    f["episode_end"] = g["window_end"].transform("max")
    f["in_episode"] = g["window_start"].transform("size")
    f = f.sort_values(["episode"] + order, ascending=[True] + ascending, kind="stable")
    return f.drop_duplicates("episode").drop(columns="episode").reset_index(drop=True)


def _evidence(E: _Edges, finding: np.ndarray, edge: np.ndarray, n_findings: int) -> list[list[str]]:
    """Evidence txn ids per finding, unique and in (t, txn_id) order (edge order)."""
    ev = pd.DataFrame({"f": finding, "e": edge}).drop_duplicates().sort_values(["f", "e"], kind="stable")
    lists = pd.Series(E.txn_id[ev["e"].to_numpy()]).groupby(ev["f"].to_numpy()).agg(list)
    return [lists.get(i, []) for i in range(n_findings)]


def _findings(subject, start, end, evidence, score, facts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_kind": "account",
            "subject_id": list(subject),
            "window_start": np.asarray(start, np.int64),
            "window_end": np.asarray(end, np.int64),
            "evidence_txn_ids": list(evidence),
            "score": np.clip(np.asarray(score, float), 0.0, 1.0),
            "facts": list(facts),
        },
        columns=_FINDING_COLUMNS,
    )


def _count_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold, +0.25 per doubling, 1.0 at four times the threshold."""
    return np.clip(0.5 + 0.25 * np.log2(np.asarray(observed, float) / threshold), 0.0, 1.0)


def _ratio_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold rising linearly to 1.0 at a ratio of 1 (all of it)."""
    x = (np.asarray(observed, float) - threshold) / max(1.0 - threshold, 1e-9)
    return np.clip(0.5 + 0.5 * x, 0.0, 1.0)



def _names(items, limit: int = 12) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(str(x) for x in items[:limit]) + more


def _window_us(days: float) -> int:
    return int(round(days * DAY_US))


# --------------------------------------------------------------------------- ML-07 scatter-gather
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

    Complexity: O(n log n + p + a·w) for n transactions, p pairs, a anchors of
    candidate (A, B) groups and w pairs per anchor window; memory O(n + p).
    """
    p = ctx.params
    k, keep_share, W = p["min_intermediaries"], 1.0 - p["margin"], _window_us(p["window_days"])
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    out = TimeIndex(E.out_key(), E.t)
    mid = E.in_key()
    lo, hi = out.range(mid, E.t, E.t + W)
    inv, _ = pd.factorize(mid)
    heavy = np.bincount(inv, weights=hi - lo) > p["max_pairs_per_account"]
    if heavy.any():
        log.info("ML-07: %d intermediary account(s) with more than %d pairs skipped", heavy.sum(), p["max_pairs_per_account"])
        hi = np.where(heavy[inv], lo, hi)
    e_in, j = expand(lo, hi)
    e_out = out.order[j]
    sel = E.src[e_in] != E.dst[e_out]
    e_in, e_out = e_in[sel], e_out[sel]
    pairs = pd.DataFrame({"A": E.src[e_in], "I": E.dst[e_in], "B": E.dst[e_out], "cur": E.cur[e_in], "e_in": e_in, "e_out": e_out})
    pairs = pairs[pairs.groupby(["A", "B", "cur"])["I"].transform("nunique") >= k].reset_index(drop=True)
    if pairs.empty:
        return pd.DataFrame()
    g = pairs.groupby(["A", "B", "cur"], sort=True).ngroup().to_numpy(np.int64)
    t_in, t_out = E.t[pairs["e_in"].to_numpy()], E.t[pairs["e_out"].to_numpy()]
    by_group = TimeIndex(g, t_in)
    anchors = pd.DataFrame({"g": g, "s": t_in}).drop_duplicates().sort_values(["g", "s"]).reset_index(drop=True)
    a_g, a_s = anchors["g"].to_numpy(), anchors["s"].to_numpy()
    lo, hi = by_group.range(a_g, a_s, a_s + W, inclusive_after=True)
    a, j = expand(lo, hi)
    pr = by_group.order[j]
    inside = t_out[pr] <= a_s[a] + W
    a, pr = a[inside], pr[inside]
    rows = pd.DataFrame({"a": a} | {c: pairs[c].to_numpy()[pr] for c in ("I", "e_in", "e_out")})
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
    first_pair = pd.Series(np.arange(len(pairs))).groupby(g).first()
    hits["pair"] = first_pair.reindex(a_g[hits["a"].to_numpy()]).to_numpy()
    hits["subject_id"] = E.accounts[pairs["A"].to_numpy()[hits["pair"]]]
    hits["B"] = E.accounts[pairs["B"].to_numpy()[hits["pair"]]]
    hits["cur"] = pairs["cur"].to_numpy()[hits["pair"]]
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


# --------------------------------------------------------------------------- ML-08 gather-scatter
def _gather_scatter(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Hub accounts that gather from many and pay on to many within ``D`` days.

    Windows ``[s, s + D]`` are anchored at each time ``s`` the hub receives money; in
    each, distinct senders (received in ``[s, s + D]``), distinct receivers (paid in
    ``(s, s + D]``), inflow and outflow are computed for every hub at once with coverage
    events and prefix sums (see :func:`followmoney.core._timeline.distinct_forward`), per currency. A window is a
    hit when both counts reach ``k`` and the outflow is between ``min_pass_through``
    and all of the inflow.

    Complexity: O(n log n) time and O(n) memory for n transactions; evidence is built
    only for the one window kept per hub and episode.
    """
    p = ctx.params
    k, W, share = p["min_counterparties"], _window_us(p["window_days"]), p["min_pass_through"]
    # card, merchant and payroll payments are the hub's ordinary life, not the gathering or the scattering
    E = _edges(frame.loc[~_routine(frame), [c for c in _EDGE_COLUMNS if c in frame]])  # only what the edge table reads
    if len(E) == 0:
        return pd.DataFrame()
    hin, hout = E.in_key(), E.out_key()
    senders = pd.Series(E.src).groupby(hin).nunique()
    receivers = pd.Series(E.dst).groupby(hout).nunique()
    cand = np.intersect1d(senders.index[senders >= k], receivers.index[receivers >= k])
    use = np.isin(hin, cand)
    if not use.any():
        return pd.DataFrame()
    anc = pd.DataFrame({"h": hin[use], "s": E.t[use]}).drop_duplicates().sort_values(["h", "s"]).reset_index(drop=True)
    h, s = anc["h"].to_numpy(np.int64), anc["s"].to_numpy(np.int64)
    n_send = _distinct_forward(hin, E.src, E.t, h, s, W, strict_after=False)
    n_recv = _distinct_forward(hout, E.dst, E.t, h, s, W, strict_after=True)
    ins, outs = TimeIndex(hin, E.t), TimeIndex(hout, E.t)
    ilo, ihi = ins.range(h, s, s + W, inclusive_after=True)
    olo, ohi = outs.range(h, s, s + W)
    cs_in = np.r_[np.int64(0), np.cumsum(E.amt[ins.order])]
    cs_out = np.r_[np.int64(0), np.cumsum(E.amt[outs.order])]
    inflow, outflow = cs_in[ihi] - cs_in[ilo], cs_out[ohi] - cs_out[olo]
    hit = (n_send >= k) & (n_recv >= k) & (outflow >= share * inflow - 1e-9) & (outflow <= p["max_pass_through"] * inflow + 1e-9)
    # value floor, in the jurisdiction's currency only (amounts are never converted)
    j = ctx.jurisdiction
    in_ccy = E.currencies[h % E.n_cur] == j.currency
    floor = threshold_cents(j, p["min_inflow_fraction"])
    hit &= ~in_ccy | (inflow >= floor)
    if not hit.any():
        return pd.DataFrame()
    # the gathering is a burst: the hub's distinct senders well above its usual count (as ML-05); a utility or a
    # landlord collects from as many payers every month
    typical = _usual_senders(E, hin, h, s, W, k, int(p["baseline_days"] * DAY_US))
    hit &= (typical == 0) | (n_send >= p["min_ratio_to_typical"] * typical)
    if not hit.any():
        return pd.DataFrame()
    idx = np.flatnonzero(hit)
    last_in = E.t[ins.order[ihi[idx] - 1]]
    last_out = E.t[outs.order[ohi[idx] - 1]]
    hits = pd.DataFrame(
        {
            "anchor": idx,
            "subject_id": E.accounts[h[idx] // E.n_cur],
            "cur": h[idx] % E.n_cur,
            "window_start": s[idx],
            "window_end": np.maximum(last_in, last_out),
            "n_send": n_send[idx],
            "n_recv": n_recv[idx],
            "typical": typical[idx],
            "inflow": inflow[idx],
            "outflow": outflow[idx],
        }
    )
    hits["n"] = np.minimum(hits["n_send"], hits["n_recv"])
    hits["share"] = hits["outflow"] / hits["inflow"]
    best = _pick_per_episode(hits, ["n", "share", "window_start", "anchor"], [False, False, True, True])
    b = best["anchor"].to_numpy()
    qi, ji = expand(ilo[b], ihi[b])
    qo, jo = expand(olo[b], ohi[b])
    evidence = _evidence(E, np.r_[qi, qo], np.r_[ins.order[ji], outs.order[jo]], len(best))
    facts = [
        {
            "n_senders": int(r.n_send),
            "n_receivers": int(r.n_recv),
            "typical": float(r.typical),
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


def _usual_senders(E, hin, h, s, W, k, baseline_us) -> np.ndarray:
    """Usual distinct-sender count of hub key ``h`` around each window start ``s``.

    The fan-in episodes of each hub (at least ``k`` distinct senders within ``W``) with
    their point-in-time usual level (:func:`followmoney.core._timeline.episodes`); a
    window starting at ``s`` belongs to the episode with ``episode_start - W <= s <=
    episode_end``. 0 where none is found.
    """
    inn = pd.DataFrame({"t": E.t, "txn_id": E.txn_id, "hub": hin, "sender": E.src})
    ep = episodes(inn, subject="hub", member="sender", window_us=W, min_count=k, baseline_us=baseline_us)
    out = np.zeros(len(h))
    if ep.empty:
        return out
    ep = ep.assign(key=ep["episode_start"] - W).sort_values("key")
    q = pd.DataFrame({"hub": h, "s": s, "i": np.arange(len(h))}).sort_values("s")
    m = pd.merge_asof(q, ep[["subject", "key", "episode_end", "typical"]].rename(columns={"subject": "hub"}),
                      left_on="s", right_on="key", by="hub", direction="backward")  # fmt: skip
    inside = (m["s"] <= m["episode_end"]).to_numpy()
    out[m["i"].to_numpy()[inside]] = m["typical"].to_numpy()[inside]
    return out


def _explain_gather_scatter(facts: dict, params: dict, jurisdiction) -> str:
    k = params["min_counterparties"]
    return (
        f"Account {facts['subject_id']} received {money_text(facts['inflow'], facts['currency'])} from "
        f"{facts['n_senders']} distinct senders (threshold: at least {k}) and then paid "
        f"{money_text(facts['outflow'], facts['currency'])} to {facts['n_receivers']} distinct receivers (threshold: at "
        f"least {k}) within {params['window_days']:g} days, passing on {facts['share']:.0%} of what it gathered "
        f"(threshold: at least {params['min_pass_through']:.0%} and at most 100%). Its usual count of senders is "
        f"{facts['typical']:g} (threshold: at least {params['min_ratio_to_typical']:g} times that). Window {facts['window_start']:%Y-%m-%d} to "
        f"{facts['window_end']:%Y-%m-%d} ({facts['span_days']:.1f} days). Evidence: {facts['evidence_count']} "
        f"transactions, {facts['totals']}."
    )


# --------------------------------------------------------------------------- path searches (ML-09, ML-12)
class CycleSearch(NamedTuple):
    """Result of :func:`find_cycles`.

    Attributes
    ----------
    cycles : pandas.DataFrame
        One row per cycle found.
    truncated : bool
        True when the work budget stopped the search: more cycles may exist.
    paths : int
        Path extensions examined (the work the budget counts).
    """

    cycles: pd.DataFrame
    truncated: bool
    paths: int


class ChainSearch(NamedTuple):
    """Result of :func:`find_chains`; fields as in :class:`CycleSearch` (``chains``)."""

    chains: pd.DataFrame
    truncated: bool
    paths: int


def _cap(lo, hi, used: int, budget: int) -> tuple[np.ndarray, bool]:
    """Shrink the ranges so at most ``budget - used`` rows are produced, first rows first."""
    n = hi - lo
    if used + int(n.sum()) <= budget:
        return hi, False
    before = np.cumsum(n) - n
    return lo + np.clip(budget - used - before, 0, n), True


def _batches(n: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Split consecutive paths into batches of about ``rows`` extensions (at least one path each)."""
    ids = (np.cumsum(n) - n) // rows
    cut = np.flatnonzero(np.diff(ids)) + 1
    return list(zip(np.r_[0, cut].tolist(), np.r_[cut, len(n)].tolist()))


def _frontier_search(n_edges: int, *, ranges, step, budget: int, batch_rows: int | None = None):
    """Grow paths from every transaction, one hop per step, under a work budget.

    Paths are held as lists of int arrays (one per hop, edge indices, one row per path).
    ``ranges(hops) -> (hops, lo, hi, records)`` gives each path's candidate next hops as
    a range of positions (it may drop paths first, or record them); ``step(hops, q, j)
    -> (edges, keep, records)`` judges the candidates ``j`` of path rows ``q`` and says
    which extended paths continue. Within a batch all paths advance together
    (breadth-first, vectorised); batches are taken depth-first in path order, so memory
    stays near ``batch_rows`` extensions per level while the total work is capped by
    ``budget``. The order of work, hence what a truncated search has covered, is
    deterministic: start transactions in (t, txn_id) order.

    Returns ``(records, truncated, work)``.
    """
    batch_rows = batch_rows or _BATCH_ROWS
    found, work = [], 0
    stack = [("paths", [np.arange(n_edges)])]
    while stack:
        item = stack.pop()
        if item[0] == "paths":
            hops, lo, hi, records = ranges(item[1])
            found += records
            for a, b in reversed(_batches(hi - lo, batch_rows) if len(lo) else []):
                stack.append(("batch", [h[a:b] for h in hops], lo[a:b], hi[a:b]))
            continue
        _, hops, lo, hi = item
        hi, cut = _cap(lo, hi, work, budget)
        work += int((hi - lo).sum())
        q, j = expand(lo, hi)
        e, keep, records = step(hops, q, j)
        found += records
        if keep.any():
            stack.append(("paths", [h[q[keep]] for h in hops] + [e[keep]]))
        if cut:
            return [f for f in found if len(f)], True, work
    return [f for f in found if len(f)], False, work


def _cycle_search(E: _Edges, *, max_length: int, window_us: int, min_return: float, budget: int,
                  max_hop_decrease: float = 1.0):
    """Time-respecting simple cycles (see :func:`_frontier_search` for the traversal).

    A path grows by a transaction of its last account, in the same currency, strictly
    later than the previous hop (or at the same time when both carry a date only: their
    order within the day is unknown, so a same-day round trip in date-only data is a
    cycle whatever the order of its rows or their ids) and no later than ``window_us``
    after the first, for no
    more than the previous hop and at least ``min_return`` of the first amount (the
    same money going round, less fees); it closes when the money reaches the first
    account again. Paths whose first account receives
    nothing more before the deadline are dropped (they cannot close).

    Returns ``(cycles, truncated, work)``: ``cycles`` is a list of int arrays of shape
    (n_cycles, length) holding edge indices in hop order.
    """
    n_cur = E.n_cur
    out, inn = TimeIndex(E.out_key(), E.t), TimeIndex(E.in_key(), E.t)

    def ranges(hops):
        first, last = hops[0], hops[-1]
        lo, hi = inn.range(E.src[first] * n_cur + E.cur[first], E.t[last], E.t[first] + window_us, inclusive_after=True)
        alive = hi > lo
        if not alive.all():
            hops = [h[alive] for h in hops]
            first, last = hops[0], hops[-1]
        key = E.dst[last] * n_cur + E.cur[last]
        lo, hi = out.range(key, E.t[last], E.t[first] + window_us)
        tie = E.day[last]
        if tie.any():  # date-only hops may be followed by date-only hops of the same date
            lo_tie, _ = out.range(key, E.t[last], E.t[first] + window_us, inclusive_after=True)
            lo = np.where(tie, lo_tie, lo)
            hi = np.maximum(hi, lo)
        return hops, lo, hi, []

    def step(hops, q, j):
        e = out.order[j]
        first = hops[0][q]
        v = E.dst[e]
        closes = v == E.src[first]
        # the same money going round: no hop more than the one before, none below min_return of the first, none
        # losing more than max_hop_decrease of the one before (a fee or a cut, not an unrelated smaller payment)
        prev = E.amt[hops[-1][q]]
        carried = (E.amt[e] >= min_return * E.amt[first] - 1e-9) & (E.amt[e] <= prev)
        carried &= E.amt[e] >= (1.0 - max_hop_decrease) * prev - 1e-9
        carried &= (E.t[e] > E.t[hops[-1][q]]) | E.day[e]  # a tie only between date-only hops
        good = closes & carried
        records = [np.column_stack([h[q[good]] for h in hops] + [e[good]])] if good.any() else []
        keep = ~closes & carried if len(hops) + 1 < max_length else np.zeros(len(e), bool)
        for h in hops[:-1]:
            keep &= v != E.dst[h[q]]
        return e, keep, records

    return _frontier_search(len(E), ranges=ranges, step=step, budget=budget)


def _chain_search(E: _Edges, *, min_hops: int, max_hops: int, hop_us: int, keep: float, budget: int):
    """Maximal time-respecting simple paths of at least ``min_hops`` transactions.

    Each hop leaves the previous hop's receiving account, in the same currency, strictly
    later and at most ``hop_us`` after the previous hop, for at least ``keep`` times and
    at most all of the previous amount, and visits a new account. A path is recorded
    when it cannot be extended (or reaches ``max_hops``); paths that are the tail of
    another recorded path are dropped.

    Returns ``(paths, truncated, work)`` like :func:`_cycle_search`.
    """
    n_cur = E.n_cur
    out = TimeIndex(E.out_key(), E.t)

    def ranges(hops):
        last = hops[-1]
        if len(hops) >= max_hops:
            empty = np.zeros(0, np.int64)
            return hops, empty, empty, [np.column_stack(hops)]
        lo, hi = out.range(E.dst[last] * n_cur + E.cur[last], E.t[last], E.t[last] + hop_us)
        return hops, lo, hi, []

    def step(hops, q, j):
        e = out.order[j]
        prev = E.amt[hops[-1][q]]
        v = E.dst[e]
        ok = (E.amt[e] >= keep * prev - 1e-9) & (E.amt[e] <= prev) & (v != E.src[hops[0][q]])
        for h in hops[:-1]:
            ok &= v != E.dst[h[q]]
        records = []
        if len(hops) >= min_hops:
            stop = np.bincount(q[ok], minlength=len(hops[0])) == 0
            if stop.any():
                records.append(np.column_stack([h[stop] for h in hops]))
        return e, ok, records

    found, truncated, work = _frontier_search(len(E), ranges=ranges, step=step, budget=budget)
    # drop tails: a path whose first transaction is a later hop of another recorded path
    if found:
        later = np.unique(np.concatenate([f[:, 1:].ravel() for f in found]))
        found = [f[~np.isin(f[:, 0], later)] for f in found]
        found = [f for f in found if len(f)]
    return found, truncated, work


def _paths_long(found: list[np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary per path: first/last edge and length; long table path, hop, edge).

    Paths are numbered in a canonical order, by length and then by their edges (which
    are in (t, txn_id) order), whatever order the search found them in.
    """
    if not found:
        return pd.DataFrame(columns=["path", "first", "last", "length"]), pd.DataFrame(columns=["path", "hop", "edge"])
    by_len: dict[int, list[np.ndarray]] = {}
    for f in found:
        by_len.setdefault(f.shape[1], []).append(f)
    firsts, lasts, lens, longs, base = [], [], [], [], 0
    for L in sorted(by_len):
        f = np.concatenate(by_len[L])
        f = f[np.lexsort(f.T[::-1])]
        n = len(f)
        ids = np.arange(base, base + n)
        firsts.append(f[:, 0]), lasts.append(f[:, -1]), lens.append(np.full(n, L))
        longs.append(pd.DataFrame({"path": np.repeat(ids, L), "hop": np.tile(np.arange(L), n), "edge": f.ravel()}))
        base += n
    summary = pd.DataFrame(
        {"path": np.arange(base), "first": np.concatenate(firsts), "last": np.concatenate(lasts), "length": np.concatenate(lens)}
    )
    return summary, pd.concat(longs, ignore_index=True)


def _path_frame(E: _Edges, found: list[np.ndarray], subject_col: str, *, closed: bool = False) -> pd.DataFrame:
    columns = [subject_col, "accounts", "txn_ids", "currency", "length", "t_first", "t_last", "first_cents", "last_cents"]
    summary, long = _paths_long(found)
    if summary.empty:
        return pd.DataFrame(columns=columns)
    long = long.sort_values(["path", "hop"], kind="stable")
    edge, path = long["edge"].to_numpy(), long["path"].to_numpy()
    accounts = pd.Series(E.accounts[E.dst[edge]]).groupby(path).agg(list).reindex(summary["path"]).tolist()
    txns = pd.Series(E.txn_id[edge]).groupby(path).agg(list).reindex(summary["path"]).tolist()
    first, last = summary["first"].to_numpy(), summary["last"].to_numpy()
    start = E.accounts[E.src[first]]
    return pd.DataFrame(
        {
            subject_col: start,
            "accounts": [[s] + (a[:-1] if closed else a) for s, a in zip(start, accounts)],
            "txn_ids": txns,
            "currency": E.currencies[E.cur[first]],
            "length": summary["length"].to_numpy(),
            "t_first": E.t[first],
            "t_last": E.t[last],
            "first_cents": E.amt[first],
            "last_cents": E.amt[last],
        },
        columns=columns,
    )


def find_cycles(
    frame: pd.DataFrame,
    *,
    max_length: int = 6,
    window_days: float = 30.0,
    min_return: float = 0.7,
    max_paths: int = 10_000_000,
) -> CycleSearch:
    """Find time-respecting simple cycles (round trips) in a transaction frame.

    A cycle is a sequence of 2 to ``max_length`` transactions A→B→…→A, each leaving
    the account the previous one paid, in one currency, with strictly increasing times,
    the last no more than ``window_days`` after the first, and every amount no larger
    than the one before and at least ``min_return`` of the first (money that grows on
    the way was topped up: it is not the same money). Accounts other than A are not
    revisited.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared transactions (:func:`followmoney.detect.score.prepare_transactions`):
        ``txn_id``, ``t`` (int64 µs since the epoch, UTC), ``amount_cents`` (thousandths
        of ``currency``), ``currency``, ``from_account``, ``to_account`` and optionally
        ``self_transfer``. Rows without both accounts or a positive amount are ignored.
    max_length : int, default=6
        Longest cycle, in transactions (at least 2).
    window_days : float, default=30.0
        Time from the first to the last transaction of a cycle.
    min_return : float, default=0.7
        Smallest amount of any hop, the closing one included, as a fraction of the
        first amount.
    max_paths : int, default=10_000_000
        Work budget: path extensions examined before the search stops. Time grows
        with it (roughly a second per million extensions); memory does not, as
        extensions are made in batches of about 500,000.

    Returns
    -------
    CycleSearch
        ``cycles`` has one row per cycle: ``account`` (where the money left and came
        back), ``accounts`` (list, in hop order, starting with ``account``), ``txn_ids``
        (list, in hop order, which is also (t, txn_id) order), ``currency``,
        ``length``, ``t_first`` and ``t_last`` (int64 µs), ``first_cents`` and
        ``last_cents``; rows are ordered by length, then by first transaction.
        ``truncated`` says whether the budget stopped the search.

    Notes
    -----
    Breadth-first over all start transactions at once, in batches: every open path
    of ``L`` hops finds its next hops by binary search among the transactions of its
    last account sorted by time, so a step costs O(F log n) for F open paths plus the
    extensions it makes. Only time-respecting paths are built; a path is dropped as
    soon as its first account receives nothing more before the deadline. The total
    work is at most ``max_paths`` extensions, whatever the graph (a complete graph of
    12 accounts has over 10⁵ simple cycles up to length 6 if time is ignored; see
    networkx issues #2159 and #3021), and the result says when the budget was hit.
    Memory is O(n) for n transactions plus about 500,000 extensions per level
    (``_BATCH_ROWS``), independent of the budget.

    Examples
    --------
    >>> import pandas as pd
    >>> day = 86_400_000_000
    >>> f = pd.DataFrame({"txn_id": list("abcd"), "t": [day, 2 * day, 3 * day, 4 * day],
    ...     "amount_cents": [1000, 1000, 1000, 900], "currency": "EUR",
    ...     "from_account": ["A", "B", "C", "D"], "to_account": ["B", "C", "D", "A"]})
    >>> r = find_cycles(f)
    >>> r.cycles[["account", "length", "txn_ids"]].values.tolist(), r.truncated
    ([['A', 4, ['a', 'b', 'c', 'd']]], False)
    >>> find_cycles(f, min_return=0.95).cycles.empty  # 900 is 90 % of 1000
    True
    """
    E = _edges(frame)
    if len(E) == 0:
        return CycleSearch(_path_frame(E, [], "account", closed=True), False, 0)
    found, truncated, work = _cycle_search(
        E, max_length=max_length, window_us=_window_us(window_days), min_return=min_return, budget=max_paths
    )
    return CycleSearch(_path_frame(E, found, "account", closed=True), truncated, work)


def find_chains(
    frame: pd.DataFrame,
    *,
    min_hops: int = 4,
    max_hops: int = 12,
    hop_hours: float = 72.0,
    min_hop_fraction: float = 0.9,
    max_paths: int = 10_000_000,
) -> ChainSearch:
    """Find layering chains: long time-respecting paths of quick, nearly equal hops.

    Parameters
    ----------
    frame : pandas.DataFrame
        Prepared transactions, as for :func:`find_cycles`.
    min_hops : int, default=4
        Shortest chain reported, in transactions.
    max_hops : int, default=12
        Longest chain followed; longer chains are cut here.
    hop_hours : float, default=72.0
        Each hop follows the previous one strictly later and within this many hours.
    min_hop_fraction : float, default=0.9
        Each hop moves at least this fraction of the previous hop's amount, and at most
        all of it (a larger payment is other money, not the same sum moving on).
    max_paths : int, default=10_000_000
        Work budget, as for :func:`find_cycles`.

    Returns
    -------
    ChainSearch
        ``chains`` with the columns of :attr:`CycleSearch.cycles` (``account`` is the
        first payer; ``accounts`` lists every account in the chain). Only maximal
        chains: neither extendable at the end nor the tail of another chain found.

    Notes
    -----
    Same breadth-first engine as :func:`find_cycles`; O((F + X) log n) per hop for F
    open paths and X extensions, total extensions bounded by ``max_paths``.

    Examples
    --------
    >>> import pandas as pd
    >>> h = 3_600_000_000
    >>> f = pd.DataFrame({"txn_id": list("abcd"), "t": [0, 10 * h, 20 * h, 30 * h],
    ...     "amount_cents": [10000, 9800, 9500, 9400], "currency": "EUR",
    ...     "from_account": ["A", "B", "C", "D"], "to_account": ["B", "C", "D", "E"]})
    >>> find_chains(f).chains[["account", "accounts", "length"]].values.tolist()
    [['A', ['A', 'B', 'C', 'D', 'E'], 4]]
    >>> find_chains(f, hop_hours=8).chains.empty
    True
    """
    E = _edges(frame)
    if len(E) == 0:
        return ChainSearch(_path_frame(E, [], "account"), False, 0)
    found, truncated, work = _chain_search(
        E, min_hops=min_hops, max_hops=max_hops, hop_us=int(round(hop_hours * HOUR_US)), keep=min_hop_fraction, budget=max_paths
    )
    return ChainSearch(_path_frame(E, found, "account"), truncated, work)


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

    rows, every = _window_pairs(E, _window_us(p["window_days"]), np.iinfo(np.int64).max)
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


def _path_findings(E, best: pd.DataFrame, long: pd.DataFrame, truncated: bool, work: int, extra) -> pd.DataFrame:
    fid = pd.Series(np.arange(len(best)), index=best["path"].to_numpy())
    sel = long[long["path"].isin(best["path"])].sort_values(["path", "hop"], kind="stable")
    f_ids = fid.reindex(sel["path"].to_numpy()).to_numpy()
    evidence = _evidence(E, f_ids, sel["edge"].to_numpy(), len(best))
    path_accounts = pd.Series(E.accounts[E.dst[sel["edge"].to_numpy()]]).groupby(f_ids).agg(list)
    facts = []
    for i, r in enumerate(best.itertuples()):
        facts.append(
            {
                "accounts": [r.subject_id] + path_accounts[i],
                "length": int(r.length),
                "first_cents": int(E.amt[r.first]),
                "last_cents": int(E.amt[r.last]),
                "currency": E.currencies[E.cur[r.first]],
                "span_days": (r.window_end - r.window_start) / DAY_US,
                "in_episode": int(r.in_episode),
                "episode_start": int(r.episode_start),
                "episode_end": int(r.episode_end),
                "truncated": bool(truncated),
                "paths_examined": int(work),
                **extra(r),
            }
        )
    return _findings(best["subject_id"], best["window_start"], best["window_end"], evidence, best["score"], facts)


def _truncation_note(facts: dict, params: dict) -> str:
    if not facts["truncated"]:
        return ""
    return (
        f" The search stopped at its work budget ({params['max_paths']:,} path extensions): "
        "further patterns may exist (truncated)."
    )


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


# --------------------------------------------------------------------------- ML-12 layering chains
def _node_attribute(frame: pd.DataFrame, E: _Edges, cols: tuple[str, str]) -> np.ndarray | None:
    """Per account code: the first non-null value of an optional per-side column, or None."""
    if not all(c in frame.columns for c in cols) or frame[list(cols)].isna().all().all():
        return None
    f = _sorted_frame(frame)
    vals = pd.concat(
        [
            pd.DataFrame({"acct": E.src, "v": f[cols[0]].to_numpy(object)[E.row]}),
            pd.DataFrame({"acct": E.dst, "v": f[cols[1]].to_numpy(object)[E.row]}),
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
    attrs = {name: a for name, cols in _ATTRIBUTES.items() if (a := _node_attribute(frame, E, cols)) is not None}
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


# --------------------------------------------------------------------------- ML-10 / ML-11 dense structures
def _window_pairs(E: _Edges, window_us: int, max_degree: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transactions placed in epoch-aligned windows of ``2·(W//2)`` µs starting every
    ``W//2`` (each transaction falls in two windows), and the distinct (window,
    currency, originator, beneficiary) pairs with their value. Accounts with more than
    ``max_degree`` distinct counterparties on that side in a window are left out."""
    stride = max(window_us // 2, 1)
    b = E.t // stride
    idx = np.r_[np.arange(len(E)), np.arange(len(E))]
    rows = pd.DataFrame({"w": np.r_[b - 1, b], "cur": E.cur[idx], "o": E.src[idx], "b": E.dst[idx], "e": idx, "amt": E.amt[idx]})
    pairs = rows.groupby(["w", "cur", "o", "b"], sort=True).agg(value=("amt", "sum")).reset_index()
    indeg = pairs.groupby(["w", "cur", "b"])["o"].transform("size")
    outdeg = pairs.groupby(["w", "cur", "o"])["b"].transform("size")
    pairs = pairs[(indeg <= max_degree) & (outdeg <= max_degree)].reset_index(drop=True)
    return rows, pairs


def _anti(df: pd.DataFrame, other: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """Rows of ``df`` whose ``on`` values are not in ``other``."""
    hit = df.merge(other.drop_duplicates(), on=on, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    return df[~hit]


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
    x = pairs[["w", "cur", "o", "b"]]
    for _ in range(2):  # only originators paying >= 2 and beneficiaries paid by >= 2 can link
        two_out = x.groupby(["w", "cur", "o"])["b"].transform("size") >= 2
        x = x[two_out & (x.groupby(["w", "cur", "b"])["o"].transform("size") >= 2)]
    m = x.merge(x, on=["w", "cur", "b"], suffixes=("1", "2"))
    m = m[m["o1"] < m["o2"]]
    if m.empty:
        return pd.DataFrame(columns=columns)
    common = m.groupby(["w", "cur", "o1", "o2"], sort=True).size().rename("c").reset_index()
    outdeg = pairs.groupby(["w", "cur", "o"]).size()
    d1 = outdeg.reindex(pd.MultiIndex.from_frame(common[["w", "cur", "o1"]])).to_numpy()
    d2 = outdeg.reindex(pd.MultiIndex.from_frame(common[["w", "cur", "o2"]])).to_numpy()
    links = common[(common["c"] >= 2) & (common["c"] >= 0.5 * np.minimum(d1, d2))]
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
    per_b = pairs.merge(members, on=["w", "cur", "o"]).groupby(["comp", "b"]).size().rename("k").reset_index()
    per_b = _anti(per_b, members[["comp", "o"]].rename(columns={"o": "b"}), ["comp", "b"])
    parts = []
    for variant, share in enumerate(sorted({0.5, density})):  # two candidate shapes, each vectorised over all groups
        B = per_b[per_b["k"] >= np.maximum(2, share * size.reindex(per_b["comp"]).to_numpy()) - 1e-9][["comp", "b"]]
        B = B[B.groupby("comp")["b"].transform("size") >= 2].merge(wc, on="comp")
        if B.empty:
            continue
        per_o = pairs.merge(B, on=["w", "cur", "b"]).groupby(["comp", "o"]).size().rename("k").reset_index()
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


def _tier_stats(tiers: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """For each structure ``sid`` and tier ``i``: size of tier i and i+1, distinct paying
    pairs from i to i+1, their value, and density = pairs / (size_i × size_{i+1})."""
    tiers = tiers[["sid", "w", "cur", "tier", "acct"]]
    size = tiers.groupby(["sid", "tier"]).size().rename("n")
    frm = pairs.merge(tiers.rename(columns={"acct": "o", "tier": "t_o"}), on=["w", "cur", "o"])
    both = frm.merge(tiers.rename(columns={"acct": "b", "tier": "t_b"}), on=["sid", "w", "cur", "b"])
    both = both[both["t_b"] == both["t_o"] + 1]
    links = both.groupby(["sid", "t_o"]).agg(links=("value", "size"), value=("value", "sum"))
    st = size.reset_index().rename(columns={"tier": "t_o"})
    st["n_next"] = size.reindex(pd.MultiIndex.from_arrays([st["sid"], st["t_o"] + 1])).to_numpy()
    st = st.dropna(subset=["n_next"]).join(links, on=["sid", "t_o"])
    st[["links", "value"]] = st[["links", "value"]].fillna(0)
    st["density"] = st["links"] / (st["n"] * st["n_next"])
    return st


def _structure_findings(E, rows, tiers, stats, ok_sids, score, kind) -> pd.DataFrame:
    """Findings for the structures ``ok_sids``: subject = the first-tier account that
    sent the most to the second tier; evidence = all transactions between consecutive
    tiers in the window."""
    tiers = tiers.loc[tiers["sid"].isin(ok_sids), ["sid", "w", "cur", "tier", "acct"]]
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
    rows, pairs = _window_pairs(E, _window_us(p["window_days"]), p["max_degree"])
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
    return _structure_findings(E, rows, tiers, stats, set(ok.index), score, "bipartite")


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


def _stack(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """Chains of dense bipartite layers: tier 1 pays tier 2 pays tier 3 (and so on).

    Candidate bipartite sets (as for ML-10) of one window and currency are linked when
    the beneficiaries of one and the originators of the next share at least
    ``min_tier_size`` accounts; chains of up to 5 links (6 tiers) are formed, their tiers
    are tier 1 = originators of the first set, tier r = beneficiaries of set r−1 that are
    originators of set r, last = beneficiaries of the last set, and each chain is checked
    for tier size, density between consecutive tiers, value conserved within
    ``± value_tolerance`` from link to link, and disjoint tiers. The longest valid chains
    are reported (a valid chain inside a longer valid one is not).

    Complexity: as :func:`_bipartite` plus the merges over the (few) candidate sets.
    """
    p = ctx.params
    E = _shared_edges(frame, ctx)
    if len(E) == 0:
        return pd.DataFrame()
    rows, pairs = _window_pairs(E, _window_us(p["window_days"]), p["max_degree"])
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
    return _structure_findings(E, rows, tiers, stats, set(good), score, "stack")


def _explain_stack(facts: dict, params: dict, jurisdiction) -> str:
    tiers = facts["tiers"]
    sizes = " → ".join(str(len(t)) for t in tiers)
    values = ", ".join(money_text(v, facts["currency"]) for v in facts["values"])
    return (
        f"Stack of {len(tiers)} tiers (threshold: at least {params['min_tiers']}) of {sizes} accounts (threshold: at "
        f"least {params['min_tier_size']} per tier), each tier paying the next: densities "
        f"{', '.join(f'{d:.0%}' for d in facts['densities'])} (threshold: at least {params['min_density']:.0%}); value "
        f"per layer {values}, conserved within ±{params['value_tolerance']:.0%} from layer to layer (threshold). "
        f"{facts['span_days']:.1f} days, {facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d} (threshold: "
        f"within {params['window_days']:g} days). Subject {facts['subject_id']} sent the most into tier 2. Tiers: "
        + "; ".join(f"{i + 1}: {_names(t)}" for i, t in enumerate(tiers))
        + f". Evidence: {facts['evidence_count']} transactions, {facts['totals']}."
    )


# --------------------------------------------------------------------------- registration
_REQUIRES = ("from_account", "to_account", "amount_cents")


SCATTER_GATHER = register(
    catalogued(
        "ML-07",
        requires=_REQUIRES,
        func=_scatter_gather,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_scatter_gather,
    )
)

GATHER_SCATTER = register(
    catalogued(
        "ML-08",
        requires=_REQUIRES,
        func=_gather_scatter,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_gather_scatter,
    )
)

CYCLE = register(
    catalogued(
        "ML-09",
        requires=_REQUIRES,
        func=_cycles_rule,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_cycle,
    )
)

BIPARTITE = register(
    catalogued(
        "ML-10",
        requires=_REQUIRES,
        func=_bipartite,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_bipartite,
    )
)

STACK = register(
    catalogued(
        "ML-11",
        requires=_REQUIRES,
        func=_stack,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_stack,
    )
)
if max(p.high for p in STACK.params if p.name == "min_tiers") > _MAX_STACK_TIERS:  # the search grows at most this many
    raise CatalogueError(f"catalogue.toml: rule ML-11, parameter min_tiers: high must be at most {_MAX_STACK_TIERS}")

CHAIN = register(
    catalogued(
        "ML-12",
        requires=_REQUIRES,
        func=_chains_rule,
        partition="global",  # paths of several hops with a search budget over the whole graph
        explain=_explain_chain,
    )
)
