"""Fan-in (ML-05) and fan-out (ML-06): many distinct counterparties in a short window.

Source: ``shared/reference/indicators.md`` ML-05 / ML-06: distinct counterparties
≥ K within D days and well above the account's own usual level (≥ 3× its 90-day
median), card/merchant acquiring and payroll runs excluded. Defaults K = 5 (AMLSim's
demo K, grade A) within D = 10 days (E) and the catalogue's 3× the median over the 90
days before the busiest window (point in time; see
:func:`followmoney.core._timeline.episodes`). Since issue 15 the burst must also be new:
at least ``min_new_counterparties`` (5) of the window's counterparties dealt with the
account for the first time in it, worth at least ``min_new_value_fraction`` (0.25) of
the reporting threshold with them (a person's usual contacts and small person-to-person
payments are not a burst); and accounts that run payroll or take card or merchant
payments (employers, merchants, billers) are not subjects. Measured (``make bench``,
catalogue ML-05/06) on the AMLworld-style generator, ten seeds since the like-with-like
floor below: recall 1.0 on each for fan-in and fan-out (since the window with the most new
counterparties is judged where the first to reach the peak fails: :func:`_most_new_windows`), at
subject precision 1.0; make_transactions recall 1.0, subject precision 0.9-1.0. AMLSim's
patterns unfold over months with repeated counterparties and small amounts: score AMLSim
data with ``configs/amlsim.toml`` (its demo parameters, no newness, value or payment floor).

Like with like (``min_payment_fraction``, issue 15): the burst and the usual count are counted in
payments of at least 0.05 x T (the value test's 0.25 x T over K = 5), as ML-08 counts its usual
senders; a person's rent and friends' small transfers no longer raise the usual level that a burst
of 5 new counterparties of thousands is measured against (AMLworld-style fan-outs of 5-8 stood at
2.3-2.5x a usual 2-3.5). Who is new to the account is still read from every payment.

``min_above_typical`` (default 0: no test, the findings above unchanged) asks the busiest
window to hold at least that many counterparties more than the account's usual windowed
count: a burst of that many on top of its ordinary business, where the ratio alone lets a
busy account's ordinary ups and downs through (on AMLSim, the busiest of two years of
30-day windows of an account that deals with 17 senders a month holds 31). configs/amlsim.toml
sets it to K = 5 with the ratio test off (issue 15; measured there, catalogue ML-05/06 and the
file's comments): ML-06 alerts 850 -> 28 at recall 1.0 -> 0.2 (3 of the 4 fan-outs that put 5
beneficiaries within 30 days at all; the others' hubs were alerted for their ordinary payments,
``amlsim_fan_observable`` in benchmarks/bench_detection.py), subject precision 0.19 -> 0.96,
transaction precision 0.05 -> 0.88; ML-05 alerts 861 -> 199, subject precision 0.27 -> 0.35
(none of AMLSim's fan-ins there puts more than 3 senders within 30 days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, WholeStat, register, whole
from followmoney.detect.rules._rolling import threshold_cents
from followmoney.core.units import DAY_US
from followmoney.core._timeline import episodes, first_contact
from followmoney.core.frame import CODE_COLUMNS, account_codes, isin, with_codes


def _routine(frame: pd.DataFrame) -> pd.Series:
    """Card / merchant receipts and payroll runs: legitimate fan-in and fan-out (indicators.md ML-05/06 exclusions)."""
    routine = frame["channel"].eq("card") | frame["payroll"]
    if "merchant_category" in frame:
        routine |= frame["merchant_category"].notna()
    return routine


def _data_start(subject: str, member: str) -> WholeStat:
    """When the data start for the baseline (:func:`~followmoney.core._timeline.episodes`): the earliest
    counted transaction of the whole frame, so that the rule runs on account partitions (the Dask engine)."""

    def func(frame: pd.DataFrame, params: dict):
        counted = ~frame["self_transfer"] & ~_routine(frame) & frame[subject].notna() & frame[member].notna()
        t = frame["t"].to_numpy()[counted.to_numpy(bool)]  # a mask, not a copy of the frame
        return int(t.min()) if len(t) else None

    return WholeStat(f"data_start_{subject}_{member}", "min", func)


_START = {"to_account": _data_start("to_account", "sender"), "from_account": _data_start("from_account", "receiver")}


def _businesses(frame: pd.DataFrame, subject: str) -> np.ndarray:
    """Per row of ``frame``, whether its ``subject`` account runs payroll or takes card / merchant payments:
    employers, merchants and billers, whose many customers and suppliers are their trade (indicators.md ML-05:
    exclude known billers, payroll and merchant acquiring; ML-06: payroll runs of verified employers). Read from
    the subject's own rows over all of the data. The accounts are compared as their codes where the frame has
    them (:data:`~followmoney.core.frame.CODE_COLUMNS`: one dictionary for both sides), else as text."""
    acquiring = frame["channel"].eq("card")
    if "merchant_category" in frame:
        acquiring |= frame["merchant_category"].notna()
    payroll = frame["payroll"].to_numpy(bool)
    acquiring = acquiring.to_numpy(bool)
    if all(c in frame for c in CODE_COLUMNS.values()):
        code = {side: frame[c].to_numpy() for side, c in CODE_COLUMNS.items()}
        known = np.union1d(code["from_account"][payroll], code["to_account"][acquiring])
        return np.isin(code[subject], known[known >= 0])  # -1: no account
    known = pd.Index(frame.loc[payroll, "from_account"].dropna().unique()).union(pd.Index(frame.loc[acquiring, "to_account"].dropna().unique()))
    return isin(frame[subject], known)


def _fan(frame: pd.DataFrame, ctx: RuleContext, subject: str, member: str) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    keep = ~frame["self_transfer"].to_numpy(bool) & ~_routine(frame).to_numpy(bool) & ~_businesses(frame, subject)
    f = frame.loc[keep, with_codes(frame, "t", "txn_id", subject, member, "amount_cents", "currency")]
    history = f  # who the account dealt with before, whatever the amount: newness is read from every payment
    floor = threshold_cents(j, p["min_payment_fraction"])
    if floor > 0:  # like with like: the burst and the usual count in payments of at least the floor (T's currency)
        f = f[f["currency"].ne(j.currency) | (f["amount_cents"] >= floor)]
    k = ctx.params["min_counterparties"]
    ep = episodes(
        f, subject=subject, member=member, window_us=int(ctx.params["window_days"] * DAY_US), min_count=k,
        baseline_us=int(ctx.params["baseline_days"] * DAY_US), data_start=whole(ctx, frame, _START[subject]),
    )
    if not ep.empty:
        ep = ep[ep["peak"] >= ctx.params["min_ratio_to_typical"] * ep["typical"]]
        ep = ep[ep["peak"] - ep["typical"] >= p["min_above_typical"]]  # a burst of that many beyond the usual
    if ep.empty:
        return pd.DataFrame()
    contact = _first_contacts(history, subject, member)
    ep["evidence_txn_ids"], new_members, new_value = _new_counterparties_only(history, contact, ep, member, j.currency)
    value_floor = threshold_cents(j, p["min_new_value_fraction"])
    passed = (new_members >= p["min_new_counterparties"]) & (new_value >= value_floor)
    ep["window"] = "busiest"
    if not passed.all():  # the first window to reach the peak may open with established counterparties (the rent)
        moved = _most_new_windows(f, contact, ep[~passed], subject, member, j.currency, int(p["window_days"] * DAY_US))
        moved = moved[(moved["n_new"] >= p["min_new_counterparties"]) & (moved["v_new"] >= value_floor)]
        ep.loc[moved.index, ["start", "end"]] = moved[["start", "end"]].to_numpy(np.int64)
        ep.loc[moved.index, "evidence_txn_ids"] = pd.Series(moved["evidence_txn_ids"].tolist(), index=moved.index, dtype=object)
        ep.loc[moved.index, "window"] = "most_new"
        passed[ep.index.get_indexer(moved.index)] = True
    ep = ep[passed]
    if ep.empty:
        return pd.DataFrame()
    ep["subject_kind"] = "account"
    # 0.5 at the threshold, 1.0 at four times the threshold (log scale)
    ep["score"] = np.clip(0.5 + 0.25 * np.log2(ep["peak"] / k), 0.0, 1.0)
    ep["facts"] = [
        {"peak": int(p), "typical": float(t), "baseline_count": int(n), "episode_start": s, "episode_end": e, **({} if w == "busiest" else {"window": w})}
        for p, t, n, s, e, w in zip(ep["peak"], ep["typical"], ep["baseline_count"], ep["episode_start"], ep["episode_end"], ep["window"])
    ]
    return ep.drop(columns=["window"]).rename(columns={"subject": "subject_id", "start": "window_start", "end": "window_end"})


def _first_contacts(history: pd.DataFrame, subject: str, member: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the rows of ``history`` with a subject and a member: their index labels (ascending), the time the
    subject first dealt with that member (any payment of ``history``, µs) and the member's code."""
    g = history[history[subject].notna() & history[member].notna()]
    members = pd.factorize(g[member])[0]
    first = first_contact(account_codes((g, subject), names=False)[0], members, g["t"].to_numpy(np.int64))
    return g.index.to_numpy(), first, members


def _new_counterparties_only(f: pd.DataFrame, contact: tuple, ep: pd.DataFrame, member: str, currency: str):
    """Evidence of each episode: its window's transactions with counterparties the account first dealt with in
    that window (the burst), leaving out those it already dealt with before (a friend, the landlord, a regular
    customer). All of the window when every counterparty was already known (issue 15: evidence is the pattern).

    ``contact`` is :func:`_first_contacts` of ``f``. Returns the evidence lists, and per episode the number of
    distinct new counterparties and the value of the transactions with them in ``currency`` (int64
    thousandths; other currencies are not added)."""
    labels, first, members = contact
    rows = [list(r) for r in ep["evidence_rows"]]
    ids = [list(i) for i in ep["evidence_txn_ids"]]
    lens = np.fromiter(map(len, rows), np.int64, len(rows))
    flat = np.fromiter((r for rs in rows for r in rs), np.int64, int(lens.sum()))
    # all episodes at once: each evidence row's (subject, member) first contact time; an episode's evidence
    # rows are its subject's, with a member (rows of g)
    at = np.searchsorted(labels, flat)
    seen = first[at]
    mem = members[at]  # the member's code: distinct codes are distinct counterparties
    new = ~(seen < np.repeat(ep["start"].to_numpy(np.int64), lens))  # first contact in the window
    value = np.where(f.loc[flat, "currency"].to_numpy() == currency, f.loc[flat, "amount_cents"].fillna(0).to_numpy(np.int64), 0)
    bounds = np.r_[0, np.cumsum(lens)].tolist()
    out, n_new, v_new = [], np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64)
    for e, i in enumerate(ids):
        lo, hi = bounds[e], bounds[e + 1]
        keep = new[lo:hi]
        out.append([x for x, k in zip(i, keep) if k] if keep.any() else i)
        n_new[e] = len(set(mem[lo:hi][keep]))
        v_new[e] = int(value[lo:hi][keep].sum())
    return out, n_new, v_new


def _most_new_windows(f: pd.DataFrame, contact: tuple, ep: pd.DataFrame, subject: str, member: str, currency: str,
                      window_us: int) -> pd.DataFrame:  # fmt: skip
    """For episodes whose first window to reach the peak fails the newness tests: per episode (the index of
    ``ep``), of the windows ending at one of its subject's counted payments while the episode lasts, the one
    with the most counterparties new to the account, then the most value with them, the earliest of equals.

    The first window to reach the peak may hold an established counterparty (the monthly rent paid the week
    before the burst) in place of a new one (issue 15: AMLworld-style seed 7, a fan-out of 5 new
    beneficiaries judged in the window that also holds the rent, 4 of its 5 new). ``contact`` is
    :func:`_first_contacts`. Returns ``start`` and ``end`` (the window's first and last payment, µs),
    ``evidence_txn_ids`` (its payments with new counterparties), ``n_new`` and ``v_new`` (as
    :func:`_new_counterparties_only` counts them)."""
    labels, first, members = contact
    sub = f.iloc[np.flatnonzero(isin(f[subject], ep["subject"].unique()))]  # the failing subjects' rows, in time order
    at = np.searchsorted(labels, sub.index.to_numpy())
    seen, mem, t = first[at], members[at], sub["t"].to_numpy(np.int64)
    value = np.where(sub["currency"].to_numpy(object) == currency, sub["amount_cents"].fillna(0).to_numpy(np.int64), 0)
    ids = sub["txn_id"].to_numpy(object)
    rows_of = sub.groupby(subject, sort=False).indices
    out = {}
    for i, subj, lo, hi in zip(ep.index, ep["subject"], ep["episode_start"].to_numpy(np.int64), ep["episode_end"].to_numpy(np.int64)):
        pos = rows_of[subj]
        pt = t[pos]
        best = None
        for b in np.flatnonzero((pt >= lo) & (pt <= hi)):  # the window (t_b - W, t_b] of each payment while it lasts
            a = int(np.searchsorted(pt, pt[b] - window_us, side="right"))
            w = pos[a : b + 1]
            new = seen[w] >= pt[a]
            score = (len(np.unique(mem[w][new])), int(value[w][new].sum()))
            if best is None or score > best[0]:
                best = (score, pt[a], pt[b], ids[w][new].tolist())
        if best is not None:
            out[i] = {"start": best[1], "end": best[2], "evidence_txn_ids": best[3], "n_new": best[0][0], "v_new": best[0][1]}
    return pd.DataFrame.from_dict(out, orient="index", columns=["start", "end", "evidence_txn_ids", "n_new", "v_new"])


def _day(us: int) -> str:
    return f"{pd.Timestamp(int(us), unit='us', tz='UTC'):%Y-%m-%d}"


def _explain(direction: str):
    def explain(facts: dict, params: dict, jurisdiction) -> str:
        verb, who = ("received money from", "senders") if direction == "in" else ("sent money to", "beneficiaries")
        above = f" and at least {params['min_above_typical']} above it" if params.get("min_above_typical") else ""
        usual = (
            f"its usual {facts['typical']:g} (median windowed count at its {facts['baseline_count']} transactions in the "
            f"{params['baseline_days']:g} days before its busiest window, or after it near the start of the data)"
            if facts["baseline_count"] else
            f"its usual count (none: no transactions in the {params['baseline_days']:g} days before its busiest window)"
        )
        return (
            f"Account {facts['subject_id']} {verb} {facts['peak']} distinct {who} within {params['window_days']:g} days "
            f"(threshold: at least {params['min_counterparties']} within {params['window_days']:g} days, and at least "
            f"{params['min_ratio_to_typical']:g} times {usual}{above}, with at least {params['min_new_counterparties']} {who} new "
            f"to the account worth at least {params['min_new_value_fraction']:.0%} of the {jurisdiction.currency} "
            f"{jurisdiction.cash_threshold:,.2f} reporting threshold; card, merchant and payroll payments not counted, "
            f"employers and merchants not assessed). "
            + ("Busiest window" if facts.get("window", "busiest") == "busiest" else
               f"Window with the most {who} new to the account (the busiest held established ones)")
            + f" {facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d}: "
            f"{facts['evidence_count']} transactions with {who} new to the account in it, {facts['totals']}. "
            f"The count stayed at or above the threshold from {_day(facts['episode_start'])} "
            f"to {_day(facts['episode_end'])}."
        )

    return explain


FAN_IN = register(
    catalogued(
        "ML-05",
        requires=("to_account", "sender"),
        func=lambda frame, ctx: _fan(frame, ctx, "to_account", "sender"),
        partition="account",  # episodes per receiving account; the data start is a whole-data statistic
        whole_data=(_START["to_account"],),
        explain=_explain("in"),
    )
)

FAN_OUT = register(
    catalogued(
        "ML-06",
        requires=("from_account", "receiver"),
        func=lambda frame, ctx: _fan(frame, ctx, "from_account", "receiver"),
        partition="account",  # episodes per paying account; the data start is a whole-data statistic
        whole_data=(_START["from_account"],),
        explain=_explain("out"),
    )
)
