"""Behaviour-profile rules: dormant then active (ML-14), just below a secondary threshold
(ML-17), velocity spike (ML-18), round amounts (ML-20), many one-off payers in
service-price ranges (HT-08).

Sources: ``shared/reference/indicators.md`` rows ML-14, ML-17, ML-18, ML-20, HT-08.
An account's *activity* is every transaction it sends or receives.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, register, shared_value
from followmoney.core.frame import account_codes, take_rows, with_codes
from followmoney.core.units import DAY_US, MONEY_SCALE, money_text, to_scaled
from followmoney.core._timeline import KeyedSeries, runs
from followmoney.detect.rules._rolling import make_findings, margin_score, threshold_cents
from followmoney.core._timeline import episodes

log = logging.getLogger("followmoney")



#: The rules that read the shared account-activity table (:func:`_activity`): scoring drops it after the last.
SHARED_ACTIVITY_USERS = ("ML-14", "ML-18", "ML-20")


def _activity(frame: pd.DataFrame, ctx: RuleContext) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per (account, transaction) side, sorted by (account, t); ``row`` = frame position, ``code`` = the
    account's position in ``names`` (its ids in text order), ``cur`` = the currency's position in
    ``act.attrs["currencies"]`` (their codes in text order; -1 for none), and ``names``.

    Built once per scoring run (``ctx.shared``) for ML-14, ML-18 and ML-20; callers do not modify it.
    """
    return shared_value(ctx, "activity", lambda: _build_activity(frame))


def _build_activity(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    # 2 x n rows: each temporary is let go as soon as the next is made, and the integer columns are as narrow as
    # their values allow (int32, not int64): at 5 M transactions the build peaked at 1.1 GB above the frame, now 0.5
    moving = ~frame["self_transfer"].to_numpy(bool)
    sides = [np.flatnonzero(moving & frame[side].notna().to_numpy(bool)) for side in ("from_account", "to_account")]
    rows = np.concatenate(sides)
    try:  # accounts as codes in sorted order, then one sort of integers (not of text)
        codes, names = account_codes((frame, "from_account", sides[0]), (frame, "to_account", sides[1]))
    except TypeError:  # account ids of mixed types: their text order
        text = pd.concat([frame["from_account"].iloc[sides[0]], frame["to_account"].iloc[sides[1]]], ignore_index=True)
        codes = pd.factorize(text.astype(str), sort=True)[0]
        names = text.to_numpy(object)[np.unique(codes, return_index=True)[1]]
    del sides
    positions = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
    label = rows if positions else frame.index.to_numpy()[rows]  # a prepared frame's labels are its positions
    t = frame["t"].to_numpy(np.int64)[rows]
    order = np.lexsort((label, t, codes))  # only what is read; the rows keep codes, the text of each code is in ``names``
    t = t[order]
    codes = _narrow(codes[order])
    label = _narrow(label[order])
    rows = rows[order]
    del order
    cur, currencies = pd.factorize(frame["currency"], sort=True)  # codes, not 2 x n copies of the text
    cur = _narrow(cur[rows])
    amount = frame["amount_cents"].iloc[rows].array
    del rows
    act = pd.DataFrame({"t": t, "amount": amount, "cur": cur, "row": label, "code": codes}, copy=False)  # no second copy
    act.attrs["currencies"] = np.asarray(currencies, dtype=object)
    return act, np.asarray(names, dtype=object)


#: Rows whose own windows ML-18 and ML-20 evaluate at once: the searches' temporaries stay tens of MB at any size.
_QUERY_BATCH = 1 << 20


def _narrow(a: np.ndarray) -> np.ndarray:
    """``a`` as int32 when its values fit (codes, row positions), else as int64."""
    fits = not len(a) or (int(a.min()) >= np.iinfo(np.int32).min and int(a.max()) <= np.iinfo(np.int32).max)
    return a.astype(np.int32 if fits else np.int64, copy=False)


# --------------------------------------------------------------------------- ML-14
def _dormant(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    act, accs = _activity(frame, ctx)
    if act.empty:
        return make_findings(frame, [], [], [], [])
    codes = act["code"].to_numpy()
    t = act["t"].to_numpy()
    same = np.r_[False, codes[1:] == codes[:-1]]
    gap = np.where(same, t - np.r_[0, t[:-1]], 0)
    wake = np.flatnonzero(same & (gap >= p["dormant_days"] * DAY_US))
    if len(wake) == 0:
        return make_findings(frame, [], [], [], [])
    amount = act["amount"].fillna(0).to_numpy(np.int64)
    cur, currencies = act["cur"].to_numpy(), act.attrs["currencies"]
    cur_codes = np.full(len(act), -1, np.int64)  # (account, currency) as dense codes in that order; -1 without a currency
    has = cur >= 0
    cur_codes[has] = pd.factorize(codes[has].astype(np.int64) * (int(cur.max()) + 1) + cur[has], sort=True)[0]
    series = KeyedSeries(cur_codes, t, amount)
    del amount
    after, a, b = series.range_sum(cur_codes[wake], t[wake], -1, int(p["active_days"] * DAY_US))
    before, _, _ = series.range_sum(cur_codes[wake], t[wake], -(1 << 62), -1)
    # each (account, currency)'s first time: the series holds its rows in (key, time) order and the keys are 0, 1, 2, ...
    keyed = cur_codes[series.order]
    first_t = t[series.order[np.flatnonzero(np.r_[True, keyed[1:] != keyed[:-1]])]] if len(keyed) else np.zeros(0, np.int64)
    del keyed
    first = np.where(cur_codes[wake] >= 0, first_t[np.maximum(cur_codes[wake], 0)] if len(first_t) else 0, t[wake])  # no currency: never alerted
    months = np.maximum((t[wake] - gap[wake] - first) / (30 * DAY_US), 1.0)
    monthly = before / months
    in_ccy = cur[wake] == next((i for i, c in enumerate(currencies) if c == j.currency), -2)  # -2: no row in it
    big = in_ccy & (after >= threshold_cents(j, p["threshold_fraction"]))
    jump = (before > 0) & (after >= p["multiple"] * monthly)
    ok = np.flatnonzero(big | jump)
    subjects, evidence, scores, facts = [], [], [], []
    rows = act["row"].to_numpy()
    for i in ok:
        w = wake[i]
        subjects.append(accs[codes[w]])
        evidence.append(rows[series.order[a[i]:b[i]]])
        ratio = after[i] / monthly[i] if monthly[i] else np.inf
        scores.append(float(margin_score(min(ratio, 1e6), p["multiple"])) if jump[i] else 0.6)
        ccy = currencies[cur[w]] if cur[w] >= 0 else None
        facts.append({"idle_days": int(gap[w] // DAY_US), "after": money_text(int(after[i]), ccy),
                      "monthly": money_text(int(monthly[i]), ccy), "ratio": ratio})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_dormant(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} had no transactions for {facts['idle_days']} days (dormant: at least "
        f"{params['dormant_days']:g}), then moved {facts['after']} within {params['active_days']:g} days, against "
        f"{facts['monthly']} a month before it went quiet (rule: at least {params['multiple']:g} times that, or at least "
        f"{params['threshold_fraction']:.0%} of the {j.currency} {j.cash_threshold:,.2f} threshold). "
        f"{facts['evidence_count']} transactions."
    )


register(
    catalogued(
        "ML-14",
        requires=("amount_cents",),
        func=_dormant,
        partition="account",  # each account's own activity history
        explain=_explain_dormant,
    )
)


# --------------------------------------------------------------------------- ML-17
def _secondary(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    if j.secondary_threshold is None:
        log.info("rule ML-17 skipped: jurisdiction %s has no secondary threshold configured", j.code)
        return make_findings(frame, [], [], [], [])
    t2 = to_scaled(j.secondary_threshold)
    low = int(t2 * p["band_fraction"])
    f = frame.loc[(frame["currency"] == j.currency) & frame["from_account"].notna() & ~frame["channel"].isin(["cash_deposit", "cash_withdrawal"])
                  & ~frame["payroll"], with_codes(frame, "t", "txn_id", "from_account", "amount_cents")]  # a payroll run of similar salaries is not avoidance
    band = f[(f["amount_cents"] >= low) & (f["amount_cents"] < t2)]
    ep = episodes(band, subject="from_account", window_us=int(p["window_days"] * DAY_US), min_count=p["min_transactions"])
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    # avoidance: an account that also pays just above T2 now and then is not steering clear of it
    above = f[(f["amount_cents"] >= t2) & (f["amount_cents"] < 2 * t2 - low)]["from_account"].value_counts()
    below = band["from_account"].value_counts()
    n_above = ep["subject"].map(above).fillna(0).astype(int)
    n_below = ep["subject"].map(below).astype(int)
    ep = ep[n_above <= p["max_above_ratio"] * n_below]
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    facts = [{"n": int(n), "below": int(b), "above": int(a)}
             for n, b, a in zip(ep["peak"], n_below[ep.index], n_above[ep.index])]  # fmt: skip
    return make_findings(frame, ep["subject"].tolist(), ep["evidence_rows"].tolist(),
                         margin_score(ep["peak"], p["min_transactions"]).tolist(), facts)  # fmt: skip


def _explain_secondary(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} sent {facts['n']} transfers within {params['window_days']:g} days, each between "
        f"{params['band_fraction']:.0%} of and just below the {j.currency} {j.secondary_threshold:,.2f} level of the "
        f"{j.secondary_report} (threshold: {params['min_transactions']} such transfers). Over the whole data it made "
        f"{facts['below']} transfers in that band and {facts['above']} just above the level (rule: at most "
        f"{params['max_above_ratio']:g} above per transfer below: it steers clear of the level). "
        f"{facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "ML-17",
        requires=("from_account", "amount_cents"),
        func=_secondary,
        partition="account",  # episodes and above/below counts per sending account
        explain=_explain_secondary,
    )
)


# --------------------------------------------------------------------------- ML-18
def _velocity(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    act, accs = _activity(frame, ctx)
    if act.empty:
        return make_findings(frame, [], [], [], [])
    codes = act["code"].to_numpy()
    t = act["t"].to_numpy()
    ones = KeyedSeries(codes, t)  # counts
    w, base = int(p["window_days"] * DAY_US), int(p["baseline_days"] * DAY_US)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])  # the table is in (account, time) order
    kept = []
    for lo in range(0, len(act), _QUERY_BATCH):  # the rows' own windows a batch at a time: bounded temporaries
        c, tt = codes[lo : lo + _QUERY_BATCH], t[lo : lo + _QUERY_BATCH]
        recent, a, b = ones.range_sum(c, tt, -w, 0)
        before, _, _ = ones.range_sum(c, tt, -(w + base), -w)
        first = t[starts[np.searchsorted(starts, np.arange(lo, lo + len(c)), side="right") - 1]]  # the account's first time
        history = tt - first >= w + base  # only accounts with a full baseline period
        rate = np.maximum(before, 1) * (p["window_days"] / p["baseline_days"])  # expected count per window
        i = np.flatnonzero(history & (recent >= p["min_transactions"]) & (recent >= p["ratio"] * rate))
        kept.append((i + lo, recent[i], rate[i], a[i], b[i]))
    ok, recent, rate, a, b = (np.concatenate(x) for x in zip(*kept))
    if len(ok) == 0:
        return make_findings(frame, [], [], [], [])
    ep = runs(codes[ok], t[ok], w)
    rows = act["row"].to_numpy()
    subjects, evidence, scores, facts = [], [], [], []
    for e in np.unique(ep):
        sel = np.flatnonzero(ep == e)  # positions in ok
        k = sel[np.argmax(recent[sel] / rate[sel])]
        subjects.append(accs[codes[ok[k]]])
        evidence.append(rows[ones.order[a[k]:b[k]]])
        scores.append(float(margin_score(recent[k] / rate[k], p["ratio"])))
        facts.append({"recent": int(recent[k]), "expected": float(rate[k])})
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_velocity(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']}: {facts['recent']} transactions within {params['window_days']:g} days, against "
        f"{facts['expected']:.1f} expected from its previous {params['baseline_days']:g} days (rule: at least "
        f"{params['ratio']:g} times the usual rate and at least {params['min_transactions']} transactions). "
        f"{facts['totals']}."
    )


register(
    catalogued(
        "ML-18",
        requires=("amount_cents",),
        func=_velocity,
        partition="account",  # each account's own activity history
        explain=_explain_velocity,
    )
)


# --------------------------------------------------------------------------- ML-20
def _round_amounts(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    act, accs = _activity(frame, ctx)
    amount = act["amount"].array
    missing = amount.isna()
    known = ~missing if missing.any() else slice(None)  # rows without an amount are left out (no copy when none)
    if missing.all():  # also when there is no row
        return make_findings(frame, [], [], [], [])
    codes, t, rows = (act[c].to_numpy()[known] for c in ("code", "t", "row"))
    amount = amount[known].to_numpy(np.int64)
    is_round = (amount % to_scaled(p["unit"]) == 0) & (amount > 0)
    del amount
    w = int(p["window_days"] * DAY_US)
    every = KeyedSeries(codes, t)  # counts
    round_cum = every.cumulative(is_round)  # summed over the same ranges: one sort, one search
    kept = []
    for lo in range(0, len(codes), _QUERY_BATCH):  # the rows' own windows a batch at a time: bounded temporaries
        n_all, a, b = every.range_sum(codes[lo : lo + _QUERY_BATCH], t[lo : lo + _QUERY_BATCH], -w, 0)
        n_round = round_cum[b] - round_cum[a]
        share = n_round / np.maximum(n_all, 1)
        i = np.flatnonzero((n_all >= p["min_transactions"]) & (share >= p["min_share"]))
        kept.append((i + lo, n_all[i], n_round[i], share[i], a[i], b[i]))
    ok, n_all, n_round, share, a, b = (np.concatenate(x) for x in zip(*kept))
    if len(ok) == 0:
        return make_findings(frame, [], [], [], [])
    order = every.order
    ep = runs(codes[ok], t[ok], w)
    subjects, evidence, scores, facts = [], [], [], []
    for e in np.unique(ep):
        sel = np.flatnonzero(ep == e)  # positions in ok
        k = sel[np.argmax(share[sel] * 1e6 + n_all[sel])]
        subjects.append(accs[codes[ok[k]]])
        evidence.append(rows[order[a[k]:b[k]]])
        scores.append(float(margin_score(share[k], p["min_share"])))
        facts.append({"n": int(n_all[k]), "n_round": int(n_round[k]), "share": float(share[k])})
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_round(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']}: {facts['n_round']} of {facts['n']} transactions within {params['window_days']:g} "
        f"days ({facts['share']:.0%}) are whole multiples of {params['unit']:g} (rule: at least {params['min_share']:.0%} "
        f"of at least {params['min_transactions']} transactions). {facts['totals']}."
    )


register(
    catalogued(
        "ML-20",
        requires=("amount_cents",),
        func=_round_amounts,
        partition="account",  # each account's own activity history
        explain=_explain_round,
    )
)


# --------------------------------------------------------------------------- HT-08
def _one_off_payers(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    f = frame.loc[frame["to_account"].notna() & frame["sender"].notna() & (frame["currency"] == j.currency)
                  & frame["channel"].isin(["transfer", "mobile_money", "wire", "remittance"]) & ~frame["self_transfer"],
                  with_codes(frame, "t", "txn_id", "to_account", "amount_cents")]  # fmt: skip
    f = f[(f["amount_cents"] >= to_scaled(p["band_low"])) & (f["amount_cents"] <= to_scaled(p["band_high"]))]
    ep = episodes(f, subject="to_account", window_us=int(p["window_days"] * DAY_US), min_count=p["min_payments"])
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    subjects, evidence, scores, facts = [], [], [], []
    for _, e in ep.iterrows():
        rows = np.asarray(e["evidence_rows"])
        payers = take_rows(frame["sender"], rows)  # a few rows of a column in many chunks: not a copy of it each time
        counts = payers.value_counts()
        one_off = float((counts == 1).sum() / len(counts))
        median = float(np.median(frame.loc[rows, "amount_cents"].astype("int64"))) / MONEY_SCALE
        if len(counts) < p["min_payers"] or one_off < p["min_one_off_share"]:
            continue
        if not p["median_low"] <= median <= p["median_high"]:
            continue
        subjects.append(e["subject"])
        evidence.append(rows)
        scores.append(float(margin_score(len(counts), p["min_payers"])))
        facts.append({"n": len(rows), "payers": len(counts), "one_off": one_off, "median": median})
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_one_off(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} received {facts['n']} payments of {j.currency} {params['band_low']:,.0f}–"
        f"{params['band_high']:,.0f} within {params['window_days']:g} days from {facts['payers']} different payers, "
        f"{facts['one_off']:.0%} of whom paid only once; median {j.currency} {facts['median']:,.2f} (rule: at least "
        f"{params['min_payments']} payments from {params['min_payers']} payers, at least {params['min_one_off_share']:.0%} "
        f"one-off, median {params['median_low']:g}–{params['median_high']:g}). AUSTRAC saw this pattern in accounts "
        f"receiving payment for sexual services. {facts['totals']}."
    )


register(
    catalogued(
        "HT-08",
        requires=("to_account", "sender", "amount_cents"),
        func=_one_off_payers,
        partition="account",  # episodes per receiving account; payers from its own rows
        explain=_explain_one_off,
    )
)
