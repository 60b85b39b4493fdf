"""Money in and straight out: pass-through (ML-04), new-account throughput (ML-19),
earnings handed to a controller (HT-09), wages drained (FL-01) and several workers'
wages ending in one account (FL-02).

Sources: ``shared/reference/indicators.md`` rows ML-04, ML-19, HT-09, FL-01, FL-02
(AUSTRAC 2022 human-trafficking financial indicators; FATF-APG 2018 wage examples;
money-mule red flags). Amount thresholds derived from the jurisdiction's reporting
threshold T apply to transactions in T's currency only; amounts are never converted.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from followmoney.detect.rules._msb import is_remittance, msb_payees
from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, WholeStat, register
from followmoney.detect.rules._registry import whole as whole_data_value
from followmoney.core.frame import account_codes, isin, with_codes
from followmoney.core.units import DAY_US, HOUR_US, money_text
from followmoney.core._timeline import KeyedSeries, codes_for, group_rolling_sum, runs, stable_order, unique_sorted
from followmoney.detect.rules._rolling import make_findings, margin_score, threshold_cents


# --------------------------------------------------------------------------- ML-04
#: When the data start and end: the span over which an account's usual outflow is spread.
_FIRST = WholeStat("t_first", "min", lambda frame, params: int(frame["t"].min()) if len(frame) else None)
_LAST = WholeStat("t_last", "max", lambda frame, params: int(frame["t"].max()) if len(frame) else None)


def _pass_through(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    moving = (frame["currency"] == j.currency) & frame["amount_cents"].notna() & ~frame["self_transfer"]
    f = frame.loc[moving, with_codes(frame, "t", "from_account", "to_account", "amount_cents", "payroll")]  # only what is read
    min_in = threshold_cents(j, p["min_inflow_fraction"])
    # a licensed remitter or bank passes its customers' money on by trade
    inflow = f[f["to_account"].notna() & (f["amount_cents"] >= min_in) & ~f["to_account"].isin(msb_payees(frame))]
    out = f[f["from_account"].notna() & ~f["payroll"]]  # paying staff is not passing money on
    if inflow.empty or out.empty:
        return make_findings(frame, [], [], [], [])
    acc_codes, accs = account_codes((inflow, "to_account"), (out, "from_account"))
    in_codes, out_codes = acc_codes[: len(inflow)], acc_codes[len(inflow):]
    outs = KeyedSeries(out_codes, out["t"].to_numpy(), out["amount_cents"].to_numpy(np.int64))
    h = int(p["forward_hours"] * HOUR_US)
    # outflows at the same instant as the inflow count (day-granular sources)
    fwd, a, b = outs.range_sum(in_codes, inflow["t"].to_numpy(), -1, h)
    amt = inflow["amount_cents"].to_numpy(np.int64)
    ok = fwd >= p["forward_share"] * amt
    if not ok.any():
        return make_findings(frame, [], [], [], [])
    # only outflows beyond the account's usual outflow per window count: a busy business pays out that much anyway.
    # usual = its other outflows (outside the candidate windows) spread over the rest of the data, per H hours
    n_acc = len(accs)
    total_out = np.bincount(out_codes, weights=out["amount_cents"].to_numpy(np.float64), minlength=n_acc)
    cand_out = np.bincount(in_codes[ok], weights=fwd[ok].astype(np.float64), minlength=n_acc)
    cand_n = np.bincount(in_codes[ok], minlength=n_acc)
    span = max(float(whole_data_value(ctx, frame, _LAST) - whole_data_value(ctx, frame, _FIRST)), float(h))
    usual = np.maximum(total_out - cand_out, 0) * h / np.maximum(span - cand_n * h, h)
    excess = fwd - usual[in_codes]
    ok &= excess >= p["forward_share"] * amt
    if not ok.any():
        return make_findings(frame, [], [], [], [])
    q = pd.DataFrame({"code": in_codes[ok], "t": inflow["t"].to_numpy()[ok], "row": np.flatnonzero(ok)})
    q = q.sort_values(["code", "t"], kind="stable")
    q["episode"] = runs(q["code"].to_numpy(), q["t"].to_numpy(), int(p["window_days"] * DAY_US))
    sizes = q.groupby("episode")["row"].transform("size")
    # one large inflow forwarded almost whole within hours is enough on its own (funds in and out)
    big = amt[q["row"].to_numpy()] >= threshold_cents(j, p["single_inflow_fraction"])
    whole = fwd[q["row"].to_numpy()] >= p["single_forward_share"] * amt[q["row"].to_numpy()]
    gap = _share_gap(outs, a, b, inflow["t"].to_numpy(), q["row"].to_numpy(), p["single_forward_share"], amt)
    single = big & whole & (gap <= p["single_forward_hours"] * HOUR_US)
    keep_ep = set(q.loc[single, "episode"])
    q = q[(sizes >= p["min_events"]).to_numpy() | q["episode"].isin(keep_ep).to_numpy()]
    in_pos = frame.index.get_indexer(inflow.index)
    out_pos = frame.index.get_indexer(out.index)
    subjects, evidence, scores, facts = [], [], [], []
    for _, g in q.groupby("episode", sort=True):
        rows = g["row"].to_numpy()
        # evidence: per inflow, its largest outflows in the window until the forwarded share is covered (not the
        # account's card spending in the same hours)
        fwd_rows = np.concatenate([out_pos[_covering(outs, a[r], b[r], p["forward_share"] * amt[r])] for r in rows])
        share = fwd[rows].sum() / amt[rows].sum()
        subjects.append(accs[g["code"].iloc[0]])
        evidence.append(np.r_[in_pos[rows], fwd_rows])
        scores.append(float(margin_score(len(rows), p["min_events"])))
        facts.append({"n_in": len(rows), "inflow": money_text(amt[rows].sum(), j.currency),
                      "forwarded": money_text(fwd[rows].sum(), j.currency), "share": share,
                      "usual": money_text(int(usual[g["code"].iloc[0]]), j.currency)})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _covering(outs: KeyedSeries, lo: int, hi: int, target: float) -> np.ndarray:
    """Positions (into the outflow frame) of the largest outflows in ``[lo, hi)`` of ``outs`` whose sum reaches ``target``."""
    idx = outs.order[lo:hi]
    vals = outs.values[idx]
    order = np.argsort(-vals, kind="stable")
    need = int(np.searchsorted(np.cumsum(vals[order]), target - 1e-9)) + 1
    return np.sort(idx[order[:need]])


def _share_gap(outs: KeyedSeries, a, b, t, rows, share, amt) -> np.ndarray:
    """Per inflow in ``rows``: time until ``share`` of it has left, from its forward window ``[a, b)`` of ``outs``
    (time order); inf when the window never reaches it."""
    gaps = np.full(len(rows), np.inf)
    for i, r in enumerate(rows):
        idx = outs.order[a[r]:b[r]]
        cs = np.cumsum(outs.values[idx])
        k = int(np.searchsorted(cs, share * amt[r] - 1e-9))
        if k < len(cs):
            gaps[i] = max(int(outs.t[idx[k]] - t[r]), 0)
    return gaps


def _explain_pass_through(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']}: {facts['n_in']} inflows of at least {params['min_inflow_fraction']:.0%} of the "
        f"{j.currency} {j.cash_threshold:,.2f} reporting threshold were each followed within {params['forward_hours']:g} "
        f"hours by outflows of at least {params['forward_share']:.0%} of the amount beyond the account's usual outflow "
        f"in {params['forward_hours']:g} hours ({facts['usual']}; salary payments not counted) (rule: at least "
        f"{params['min_events']} such inflows within {params['window_days']:g} days, or one inflow of at least "
        f"{params['single_inflow_fraction']:g} times the threshold of which {params['single_forward_share']:.0%} left within "
        f"{params['single_forward_hours']:g} hours). Inflows {facts['inflow']}; "
        f"outflows in the {params['forward_hours']:g}-hour windows {facts['forwarded']} ({facts['share']:.0%}). "
        f"Between {facts['window_start']:%Y-%m-%d} and {facts['window_end']:%Y-%m-%d}: {facts['evidence_count']} transactions."
    )


register(
    catalogued(
        "ML-04",
        requires=("to_account", "from_account", "amount_cents"),
        func=_pass_through,
        partition="account",  # inflows and outflows of the same account; the data span is a whole-data statistic
        whole_data=(_FIRST, _LAST),
        explain=_explain_pass_through,
    )
)


# --------------------------------------------------------------------------- ML-19
def _opened(bundle) -> dict:
    """Opening time (UTC µs) per account id, for the accounts whose opening date is known."""
    if bundle is None or "opened" not in bundle.accounts.column_names:
        return {}
    acc = bundle.accounts.select(["account_id", "opened"]).to_pandas().dropna(subset=["opened"])
    return dict(zip(acc["account_id"], acc["opened"].astype("int64")))


def _early_flows(frame: pd.DataFrame, opened: dict, age: int) -> pd.DataFrame:
    """Each account's money in (``dir`` "in") and out ("out") within ``age`` µs of its opening: columns
    ``account``, ``t``, ``amount_cents``, ``currency``, ``dir`` (rows without an amount and self-transfers left out)."""
    f = frame.loc[frame["amount_cents"].notna() & ~frame["self_transfer"], ["to_account", "from_account", "t", "amount_cents", "currency"]]
    parts = []
    for side, other in (("to_account", "in"), ("from_account", "out")):
        g = f.loc[isin(f[side], list(opened)), [side, "t", "amount_cents", "currency"]].rename(columns={side: "account"})
        g["opened"] = g["account"].map(opened).astype("int64")  # every account is in `opened` (isin above)
        g = g[(g["t"] >= g["opened"]) & (g["t"] < g["opened"] + age)]
        g["dir"] = other
        parts.append(g)
    return pd.concat(parts)


def _new_inflows(frame: pd.DataFrame, params: dict, bundle) -> list | None:
    """[account, currency, inflow in minor units] of the new accounts paid in ``frame`` within their first days."""
    opened = _opened(bundle)
    if not opened:
        return None
    g = _early_flows(frame, opened, params["max_age_days"] * DAY_US)
    g = g[g["dir"] == "in"]
    if g.empty:
        return None
    sums = g.groupby(["account", "currency"])["amount_cents"].sum()
    return [[a, c, int(v)] for (a, c), v in sums.items()]


#: Every new account's inflow in its first days, per currency (ML-19's median of new accounts): a keyed sum
#: over the whole data, so that the rule runs on account buckets.
_NEW_INFLOWS = WholeStat("new_account_inflows", "sum", _new_inflows, bundle=True)


def _new_account(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    opened = _opened(ctx.bundle)
    if not opened:
        return make_findings(frame, [], [], [], [])
    age = p["max_age_days"] * DAY_US
    g = _early_flows(frame, opened, age)
    if g.empty:
        return make_findings(frame, [], [], [], [])
    sums = g.groupby(["account", "currency", "dir"])["amount_cents"].sum().unstack("dir", fill_value=0)
    for col in ("in", "out"):
        if col not in sums:
            sums[col] = 0
    sums = sums[sums["in"] > 0]
    # the median of every new account's inflow, per currency: of the whole data (an account bucket holds some of them)
    every = pd.DataFrame(whole_data_value(ctx, frame, _NEW_INFLOWS) or [], columns=["account", "currency", "in"])
    every = every[every["in"] > 0]
    median = every.groupby("currency")["in"].median()
    hit = sums[(sums["in"] >= p["inflow_multiple"] * sums.index.get_level_values("currency").map(median).to_numpy(float))
               & (sums["out"] >= p["forward_share"] * sums["in"])]  # fmt: skip
    subjects, evidence, scores, facts = [], [], [], []
    for (account, cur), r in hit.iterrows():
        rows = np.flatnonzero(
            (((frame["to_account"] == account) | (frame["from_account"] == account)) & (frame["currency"] == cur)
             & (frame["t"] >= opened[account]) & (frame["t"] < opened[account] + age)).to_numpy()
        )  # fmt: skip
        ratio = r["in"] / median.loc[cur]
        subjects.append(account)
        evidence.append(rows)
        scores.append(float(margin_score(ratio, p["inflow_multiple"])))
        facts.append({"inflow": money_text(r["in"], cur), "outflow": money_text(r["out"], cur), "ratio": ratio,
                      "opened": pd.Timestamp(opened[account], unit="us", tz="UTC")})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_new_account(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} was opened on {facts['opened']:%Y-%m-%d}; in its first {params['max_age_days']:g} "
        f"days it received {facts['inflow']} ({facts['ratio']:.1f} times the median of new accounts; threshold "
        f"{params['inflow_multiple']:g} times) and sent out {facts['outflow']} (threshold: at least "
        f"{params['forward_share']:.0%} of the inflow). {facts['evidence_count']} transactions."
    )


register(
    catalogued(
        "ML-19",
        requires=("to_account", "from_account", "amount_cents"),
        func=_new_account,
        partition="account",  # each new account's own flows; the median of all new accounts: a whole-data keyed sum
        whole_data=(_NEW_INFLOWS,),
        explain=_explain_new_account,
    )
)


# --------------------------------------------------------------------------- forwarding to one beneficiary
def _prompt_forwards(f: pd.DataFrame, in_at: np.ndarray, hours: float, among: np.ndarray | None = None) -> pd.DataFrame:
    """Outflows made within ``hours`` after the payer's latest qualifying inflow in the same currency.

    Parameters
    ----------
    f : pandas.DataFrame
        Prepared frame rows (``from_account``, ``to_account``, ``receiver``, ``t``, ``amount_cents``,
        ``currency``; the account code columns where it has them).
    in_at : numpy.ndarray of int
        Positions (``iloc``) in ``f`` of the qualifying inflows, ascending.
    hours : float
        How soon after the inflow an outflow counts.
    among : numpy.ndarray of bool, optional
        The rows that may be outflows (default: every row); of them, those with a paying account
        and a receiver are.

    Returns
    -------
    pandas.DataFrame
        The outflows that follow such an inflow, in time order: ``from_account``, ``receiver``,
        ``t``, ``amount_cents``, ``currency`` (and ``from_code``), ``row`` (their index in ``f``),
        and ``in_t``, ``in_amount``, ``in_row`` of that inflow. The as-of match runs on integer
        columns only; text is taken for the matched outflows alone (at 5 M IBM rows the text
        copies of every moving row took about 1 GB).
    """
    return _forward_rows(f, _forward_matches(f, in_at, hours, among))


def _forward_matches(f: pd.DataFrame, in_at: np.ndarray, hours: float, among: np.ndarray | None = None) -> pd.DataFrame:
    """The as-of match of :func:`_prompt_forwards` (same arguments), on integer columns only: per outflow that
    follows a qualifying inflow, in time order, ``at`` and ``in_at`` (the positions in ``f`` of the outflow and
    of that inflow) and ``in_t``; :func:`_forward_rows` takes their text (HT-09 takes it for the few rows of its
    findings only)."""
    payer = (f["from_account"].notna() & f["receiver"].notna()).to_numpy(bool)
    out_at = np.flatnonzero(payer if among is None else payer & among)
    n = len(out_at)
    # (account, currency) as one integer for the as-of match (a null currency matches a null one, as text keys do)
    key = account_codes((f, "from_account", out_at), (f, "to_account", in_at), names=False)[0]
    currencies, names = pd.factorize(f["currency"], use_na_sentinel=False)
    key *= max(len(names), 1)  # in place, a side at a time: millions of rows
    key[:n] += currencies[out_at]
    key[n:] += currencies[in_at]
    del currencies
    t = f["t"].to_numpy(np.int64)
    # each side in time order, its columns taken once in that order (not a table and then its sorted copy)
    o = np.argsort(t[out_at], kind="stable")
    out = pd.DataFrame({"t": t[out_at][o], "key_": key[:n][o], "at": out_at[o]}, copy=False)
    o = np.argsort(t[in_at], kind="stable")
    ins = pd.DataFrame({"in_t": t[in_at][o], "key_": key[n:][o], "in_at": in_at[o]}, copy=False)
    del key, o
    m = pd.merge_asof(out, ins, left_on="t", right_on="in_t", by="key_", direction="backward")
    return m.loc[m["in_t"].notna() & (m["t"] - m["in_t"] <= hours * HOUR_US), ["at", "in_at", "in_t"]]


def _forward_rows(f: pd.DataFrame, m: pd.DataFrame) -> pd.DataFrame:
    """:func:`_prompt_forwards`' table of the matches ``m`` of :func:`_forward_matches`, their text taken from ``f``."""
    at, in_at = m["at"].to_numpy(np.int64), m["in_at"].to_numpy(np.int64)
    cols = {c: f[c].iloc[at].to_numpy() if c == "t" else f[c].iloc[at].array for c in with_codes(f, "from_account", "receiver", "t", "amount_cents", "currency")}
    amounts = f["amount_cents"].array
    # the labels taken, not the index's values: those of a RangeIndex would be made and kept on the frame (40 MB at 5 M rows)
    row, in_row = f.index.take(at).to_numpy(), f.index.take(in_at).to_numpy()
    return pd.DataFrame(cols | {"row": row, "in_t": m["in_t"].to_numpy(np.int64), "in_amount": amounts[in_at], "in_row": in_row}, index=m.index)


def _feeders_findings(frame, m, shares_ok, p, min_feeders_key, role_facts):
    """Alert on beneficiaries with enough distinct feeders; feeders are potential victims."""
    ok = m[shares_ok]
    if ok.empty:
        return make_findings(frame, [], [], [], [])
    feeders = ok.groupby("receiver")["from_account"].unique()
    feeders = feeders[feeders.map(len) >= p[min_feeders_key]]
    subjects, evidence, scores, facts, roles, related = [], [], [], [], [], []
    pos = frame.index
    for ben, accs in feeders.sort_index().items():
        sel = ok[(ok["receiver"] == ben) & ok["from_account"].isin(accs)]
        rows = pos.get_indexer(np.r_[sel["row"].to_numpy(), sel["in_row"].to_numpy()])
        accs = sorted(accs)
        subjects.append(ben)
        evidence.append(rows)
        scores.append(float(margin_score(len(accs), p[min_feeders_key])))
        facts.append({"n_feeders": len(accs), "feeders": ", ".join(accs), **role_facts(sel)})
        roles.append("controller")
        related.append(accs)
        # each feeder gets its own finding, as a potential victim linked to the controller
        for a in accs:
            fs = sel[sel["from_account"] == a]
            subjects.append(a)
            evidence.append(pos.get_indexer(np.r_[fs["row"].to_numpy(), fs["in_row"].to_numpy()]))
            scores.append(float(margin_score(len(accs), p[min_feeders_key])) * 0.8)
            facts.append({"n_feeders": len(accs), "feeders": ", ".join(accs), "controller": ben, **role_facts(fs)})
            roles.append("potential_victim")
            related.append([ben])
    return make_findings(frame, subjects, evidence, scores, facts, roles=roles, related=related)


# --------------------------------------------------------------------------- HT-09
def _utc_month(t: pd.Series) -> np.ndarray:
    """Calendar month (UTC) of int64 µs times, as months since 1970-01."""
    return t.to_numpy(np.int64).astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)


#: Receivers of at least one remittance anywhere in the data: a remitter or bank is not a controller (HT-09, FL-02).
#: A statistic of the whole data, since a payer's partition does not see what others pay the same receiver.
_MSB_PAYEES = WholeStat("msb_payees", "union", lambda frame, params: sorted(msb_payees(frame)))


def _no_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty table of forwards (the columns of :func:`_forward_rows` and ``month``)."""
    m = _forward_rows(frame, pd.DataFrame({"at": np.array([], np.int64), "in_at": np.array([], np.int64), "in_t": np.array([], np.int64)}))
    m["month"] = np.array([], np.int64)
    return m


def _controller_pairs(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """HT-09's qualifying forwards: each row an outflow of an account to a receiver it hands its income to
    month after month, with the inflow it follows (columns of :func:`_forward_rows` and ``month``).

    Decided by the forwarding account's own inflows and outflows alone (the payer's partition)."""
    p = ctx.params
    moving = (frame["amount_cents"].notna() & ~frame["self_transfer"]).to_numpy(bool)
    in_at = np.flatnonzero(moving & frame["to_account"].notna().to_numpy(bool))
    # the forwards as positions in the frame: their text is taken for the rows of findings only (for the
    # 2.3 M forwards of 5 M IBM rows, text columns took most of the rule's memory)
    m = _forward_matches(frame, in_at, p["forward_hours"], among=moving)
    msb = whole_data_value(ctx, frame, _MSB_PAYEES)
    if msb:
        m = m[~isin(frame["receiver"], msb)[m["at"].to_numpy(np.int64)]]  # a remitter or bank is not a controller
    if m.empty:
        return _no_pairs(frame)
    at = m["at"].to_numpy(np.int64)
    month = _utc_month(frame["t"].iloc[at])
    # accounts and currencies as integer codes: grouping millions of rows by text costs several times more;
    # rows without a currency make no group, as with text keys
    n = len(m)
    acct = account_codes((frame, "from_account", at), (frame, "to_account", in_at), names=False)[0]
    receiver = pd.factorize(frame["receiver"].iloc[at])[0]  # an account or a party; only ever paired with its payer, never compared with it
    cur = pd.factorize(frame["currency"])[0][np.r_[at, in_at]]  # the column's codes: no copy of millions of strings
    amounts = frame["amount_cents"].array
    mc = pd.DataFrame({"a": acct[:n], "r": receiver, "cur": cur[:n], "month": month, "amount_cents": amounts[at]})
    # the forwarding accounts' monthly income per currency, grouped on (account, currency, month) packed into one
    # int64: grouping millions of rows on three columns held several times as much (codes < rows, few currencies,
    # months counted from the first: well inside int64)
    earning = np.isin(acct[n:], unique_sorted(acct[:n])) & (cur[n:] >= 0)  # the inflows of the forwarding accounts
    in_month = _utc_month(frame["t"].iloc[in_at[earning]])
    first = min(int(month.min()), int(in_month.min(initial=month.min())))
    n_cur, n_month = int(cur.max()) + 1, max(int(month.max()), int(in_month.max(initial=month.max()))) - first + 1

    def packed(a, c, mo):  # made in place: one array of millions of keys, not one per step
        key = np.asarray(a, np.int64) * n_cur
        key += np.asarray(c, np.int64)
        key *= n_month
        key += np.asarray(mo, np.int64)
        key -= first
        return key

    key = packed(acct[n:][earning], cur[n:][earning], in_month)
    del acct, receiver, cur, in_month  # mc holds its copies
    order = stable_order(key)
    key = key[order]
    new = np.ones(len(key), bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(new)
    # moving rows have an amount: exact int64 sums, as groupby(...).sum() of the Int64 column gives them
    sums = np.add.reduceat(amounts[in_at[earning]].to_numpy(np.int64)[order], starts)
    income = pd.Series(pd.array(sums, dtype="Int64"), index=key[starts])
    del earning, key, order, new, starts, sums
    fwd = mc[mc["cur"].to_numpy() >= 0].groupby(["a", "r", "cur", "month"])["amount_cents"].sum().reset_index()
    fwd["income"] = income.reindex(packed(fwd["a"], fwd["cur"], fwd["month"])).to_numpy()
    fwd["share"] = fwd["amount_cents"] / fwd["income"]
    good = fwd[fwd["share"] >= p["forward_share"]]
    months = good.groupby(["a", "r"])["month"].nunique()
    pairs = months[months >= p["min_months"]].index
    good_months = pd.MultiIndex.from_frame(good[["a", "r", "month"]])
    # the forwards of those pairs (on (account, receiver) packed into one int64: codes < rows), and of them those
    # in good months (MultiIndexes of every forward held several times as much)
    n_r = int(mc["r"].max()) + 1
    ok = np.isin(mc["a"].to_numpy(np.int64) * n_r + mc["r"].to_numpy(np.int64),
                 pairs.get_level_values("a").to_numpy(np.int64) * n_r + pairs.get_level_values("r").to_numpy(np.int64))  # fmt: skip
    sel = np.flatnonzero(ok)
    ok[sel] = pd.MultiIndex.from_arrays([mc["a"].to_numpy()[sel], mc["r"].to_numpy()[sel], month[sel]]).isin(good_months)
    m = _forward_rows(frame, m[ok])
    m["month"] = month[ok]
    return m


def _controller_findings(frame: pd.DataFrame, pairs: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """HT-09's findings from its forwards (:func:`_controller_pairs`): receivers with enough distinct senders."""

    def role_facts(sel):
        return {"months": sel["month"].nunique(), "forwarded": len(sel)}

    return _feeders_findings(frame, pairs, np.ones(len(pairs), bool), ctx.params, "min_senders", role_facts)


def _controller(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    return _controller_findings(frame, _controller_pairs(frame, ctx), ctx)


def _explain_controller(facts, params, j) -> str:
    if "controller" in facts:
        return (
            f"Account {facts['subject_id']} passed at least {params['forward_share']:.0%} of its monthly income to account "
            f"{facts['controller']} within {params['forward_hours']:g} hours of receiving it, in {facts['months']} months; "
            f"{facts['n_feeders']} accounts do the same to that account (threshold {params['min_senders']}). This is how "
            f"trafficking victims' earnings are handed to a controller: treat this account as a potential victim, not "
            f"only as a mule. {facts['evidence_count']} transactions."
        )
    return (
        f"Account {facts['subject_id']} receives most of the income of {facts['n_feeders']} other accounts "
        f"({facts['feeders']}): each passed at least {params['forward_share']:.0%} of its monthly income to it within "
        f"{params['forward_hours']:g} hours of receipt, in at least {params['min_months']} months (threshold: "
        f"{params['min_senders']} such accounts). Likely controller of those accounts. Between "
        f"{facts['window_start']:%Y-%m-%d} and {facts['window_end']:%Y-%m-%d}: {facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "HT-09",
        requires=("to_account", "from_account", "receiver", "amount_cents"),
        func=_controller,
        partition="payer",  # each forward is decided by its payer's own rows; controllers and victims from all payers' forwards
        pairs=_controller_pairs,
        from_pairs=_controller_findings,
        whole_data=(_MSB_PAYEES,),
        explain=_explain_controller,
    )
)


# --------------------------------------------------------------------------- payroll (FL-01, FL-02)
def _moving_and_wages(frame: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The rows that move money and, among them, the wage payments; (None, None) without wages,
    before anything is copied."""
    moving = frame["amount_cents"].notna() & ~frame["self_transfer"]
    if not (moving & frame["payroll"]).any():
        return None, None
    f = frame[moving]
    return f, f[f["payroll"]]


def _wages_drained(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    f, wages = _moving_and_wages(frame)
    if wages is None:
        return make_findings(frame, [], [], [], [])
    # money sent home through a licensed remitter is the worker's own choice, not wages taken (issue 15)
    out = f[f["from_account"].notna() & ~is_remittance(f)].copy()
    cash = out["channel"].isin(["cash_withdrawal", "atm"])
    out["dest"] = np.where(cash, "cash", out["receiver"].fillna("unknown"))
    out = out.assign(row=out.index).sort_values("t", kind="stable")
    w = wages[["to_account", "t", "amount_cents", "currency"]].rename(
        columns={"to_account": "from_account", "t": "in_t", "amount_cents": "wage"}
    )
    w["in_row"] = w.index
    m = pd.merge_asof(out[["from_account", "dest", "t", "amount_cents", "currency", "row"]], w.sort_values("in_t"),
                      left_on="t", right_on="in_t", by=["from_account", "currency"], direction="backward")  # fmt: skip
    m = m[m["in_t"].notna() & (m["t"] - m["in_t"] <= p["forward_hours"] * HOUR_US)]
    per_dest = m.groupby(["in_row", "dest"])["amount_cents"].sum()
    best = per_dest.groupby(level="in_row").max()
    # each wage's draining destination: the one that took most of it (on a tie, the first by name)
    draining = per_dest.groupby(level="in_row").idxmax()
    m = m.assign(draining=pd.MultiIndex.from_frame(m[["in_row", "dest"]]).isin(draining.tolist()))
    wage_amt = wages["amount_cents"]
    drained = (best / wage_amt.reindex(best.index)) >= p["drain_share"]
    wq = wages.assign(drained=drained.reindex(wages.index, fill_value=False).to_numpy())
    wq = wq.sort_values(["to_account", "t"], kind="stable")
    # at least min_cycles of the last `cycles` pay credits drained
    codes, _ = codes_for(wq["to_account"])
    roll = group_rolling_sum(codes, wq["drained"].to_numpy(np.int64), p["cycles"])
    hit_rows = wq[(roll >= p["min_cycles"]) & wq["drained"]]
    if hit_rows.empty:
        return make_findings(frame, [], [], [], [])
    pos = frame.index
    subjects, evidence, scores, facts = [], [], [], []
    for account, g in hit_rows.groupby("to_account", sort=True):
        drained_wages = wq[(wq["to_account"] == account) & wq["drained"]]
        outs = m[m["in_row"].isin(drained_wages.index)]
        subjects.append(account)
        # each drained wage and what went to the destination that drained it, not the worker's other spending
        evidence.append(pos.get_indexer(np.r_[drained_wages.index.to_numpy(), outs.loc[outs["draining"], "row"].to_numpy()]))
        n_wages = int((wq["to_account"] == account).sum())
        scores.append(float(margin_score(len(drained_wages), p["min_cycles"])))
        dests = outs.groupby("dest")["amount_cents"].sum().sort_values(ascending=False)
        facts.append({"n_drained": len(drained_wages), "n_wages": n_wages, "dest": dests.index[0]})
    return make_findings(frame, subjects, evidence, scores, facts, roles=["potential_victim"] * len(subjects),
                         related=[[f["dest"]] if f["dest"] not in ("cash", "unknown") else [] for f in facts])  # fmt: skip


def _explain_wages_drained(facts, params, j) -> str:
    where = "withdrawn in cash" if facts["dest"] == "cash" else f"sent to account {facts['dest']}"
    return (
        f"Account {facts['subject_id']}: {facts['n_drained']} of {facts['n_wages']} wage credits were followed within "
        f"{params['forward_hours']:g} hours by at least {params['drain_share']:.0%} of the wage {where} (rule: at least "
        f"{params['min_cycles']} of {params['cycles']} consecutive pay cycles). Wages drained at once are a sign of a "
        f"worker whose pay is controlled by someone else: potential victim of forced labour. "
        f"{facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "FL-01",
        requires=("to_account", "from_account", "amount_cents"),
        func=_wages_drained,
        partition="account",  # a worker's wages and its own outflows (remittance test per row)
        explain=_explain_wages_drained,
    )
)


def _wages_pooled_pairs(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """FL-02's qualifying forwards: a worker's steady forwards of its wages to one receiver (columns of
    :func:`_prompt_forwards`). Decided by the worker's own wages and outflows alone (the payer's partition)."""
    p = ctx.params
    f, wages = _moving_and_wages(frame)
    if wages is None:
        return _no_pairs(frame)
    m = _prompt_forwards(f, np.flatnonzero(f["payroll"].to_numpy(bool)), p["forward_hours"])
    msb = whole_data_value(ctx, frame, _MSB_PAYEES)
    if msb:
        m = m[~isin(m["receiver"], msb)]  # a remitter or bank is not a controller
    if m.empty:
        return _no_pairs(frame)
    share = m.groupby(["in_row", "receiver"])["amount_cents"].transform("sum") / m["in_amount"]
    ok = (share >= p["min_share"]).to_numpy()
    # a worker feeds the account pay cycle after pay cycle: of its paydays from the first to the last after which it
    # forwarded at least half of min_share to that account, it did so after at least min_payday_share of them
    # (rent paid after every other biweekly wage does not qualify)
    fed = m[(share >= 0.5 * p["min_share"]).to_numpy()].drop_duplicates(["from_account", "receiver", "in_row"])
    span = fed.groupby(["from_account", "receiver"])["in_t"].agg(["min", "max", "size"]).reset_index()
    paydays = span.merge(wages[["to_account", "t"]].rename(columns={"to_account": "from_account"}), on="from_account")
    paydays = paydays[(paydays["t"] >= paydays["min"]) & (paydays["t"] <= paydays["max"])]
    n_pay = paydays.groupby(["from_account", "receiver"]).size()
    span["paydays"] = pd.MultiIndex.from_frame(span[["from_account", "receiver"]]).map(n_pay).to_numpy()
    # ... over several pay cycles: a single forward is not a rhythm
    steady = span[(span["size"] >= p["min_payday_share"] * span["paydays"]) & (span["size"] >= p["min_forwards"])]
    pair = pd.MultiIndex.from_frame(m[["from_account", "receiver"]])
    ok &= pair.isin(pd.MultiIndex.from_frame(steady[["from_account", "receiver"]]))
    return m[ok]


def _wages_pooled_findings(frame: pd.DataFrame, pairs: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    """FL-02's findings from its forwards (:func:`_wages_pooled_pairs`): receivers of enough workers' wages."""

    def role_facts(sel):
        return {"forwarded": len(sel)}

    return _feeders_findings(frame, pairs, np.ones(len(pairs), bool), ctx.params, "min_workers", role_facts)


def _wages_pooled(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    return _wages_pooled_findings(frame, _wages_pooled_pairs(frame, ctx), ctx)


def _explain_wages_pooled(facts, params, j) -> str:
    if "controller" in facts:
        return (
            f"Account {facts['subject_id']} forwarded at least {params['min_share']:.0%} of a wage credit to account "
            f"{facts['controller']} within {params['forward_hours']:g} hours of payday, after at least "
            f"{params['min_payday_share']:.0%} of its paydays; {facts['n_feeders']} workers' "
            f"accounts do the same (threshold {params['min_workers']}): potential victim of forced labour. "
            f"{facts['evidence_count']} transactions."
        )
    return (
        f"Account {facts['subject_id']} collects the wages of {facts['n_feeders']} workers ({facts['feeders']}): each "
        f"forwarded at least {params['min_share']:.0%} of a wage to it within {params['forward_hours']:g} hours of payday, "
        f"after at least {params['min_payday_share']:.0%} of its paydays (threshold: {params['min_workers']} workers). Likely controller of those workers' accounts. "
        f"{facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "FL-02",
        requires=("to_account", "from_account", "receiver", "amount_cents"),
        func=_wages_pooled,
        partition="payer",  # each forward is decided by its worker's own wages and outflows; controllers from all of them
        pairs=_wages_pooled_pairs,
        from_pairs=_wages_pooled_findings,
        whole_data=(_MSB_PAYEES,),
        explain=_explain_wages_pooled,
    )
)
