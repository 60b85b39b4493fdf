"""Cash typologies: smurfing (ML-02), funnel accounts (ML-03), night-time cash deposits
(HT-06), third-party cash deposits at many places into a coordinator account (HT-07),
cash in then wired to high-migrant-flow countries (HS-03).

Sources: ``shared/reference/indicators.md`` rows ML-02, ML-03, HT-06, HT-07, HS-03
(FinCEN 2014/2020/2023 advisories; AUSTRAC 2022; Globe and Mail 2017 on Project
Protect). Who made a cash deposit is ``conductor_party`` where the source has it,
else ``from_party`` (goAML names the depositor); where it happened is ``location_id``.
Rules that need a column the data lacks are skipped with the reason logged.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, WholeStat, register, whole
from followmoney.core.units import DAY_US, HOUR_US, money_text, to_scaled
from followmoney.core._timeline import KeyedSeries, codes_for, runs
from followmoney.core.frame import take_rows
from followmoney.detect.rules._rolling import make_findings, margin_score, threshold_cents
from followmoney.core._timeline import episodes

log = logging.getLogger("followmoney")

_DEPOSIT = ("cash_deposit",)



def _deposits(frame: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    f = frame[frame["channel"].isin(_DEPOSIT) & frame["to_account"].notna() & frame["amount_cents"].notna()]
    return f if currency is None else f[f["currency"] == currency]


def _conductor(f: pd.DataFrame) -> pd.Series:
    cond = f["conductor_party"] if "conductor_party" in f else pd.Series(None, index=f.index, dtype=object)
    frm = f["from_party"] if "from_party" in f else pd.Series(None, index=f.index, dtype=object)
    return cond.where(cond.notna(), frm)


# --------------------------------------------------------------------------- ML-02
def _smurfing(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    f = _deposits(frame, j.currency)
    f = f[f["amount_cents"] < threshold_cents(j)].assign(conductor=_conductor(f))
    has_loc = "location_id" in f and f["location_id"].notna().any()
    if not has_loc and f["conductor"].isna().all():
        log.info("rule ML-02 skipped: no conductor_party, from_party or location_id on cash deposits")
        return make_findings(frame, [], [], [], [])
    g = f.groupby(["to_account", "local_day"])
    stats = pd.DataFrame(
        {
            "conductors": g["conductor"].nunique(),
            "locations": g["location_id"].nunique() if has_loc else 0,
            "total": g["amount_cents"].sum(),
        }
    )
    total_min = threshold_cents(j, p["total_fraction"])
    hit = stats[((stats["conductors"] >= p["min_conductors"]) | (stats["locations"] >= p["min_locations"]))
                & (stats["total"] >= total_min)]  # fmt: skip
    subjects, evidence, scores, facts = [], [], [], []
    for (account, day), r in hit.iterrows():
        rows = frame.index.get_indexer(f[(f["to_account"] == account) & (f["local_day"] == day)].index)
        subjects.append(account)
        evidence.append(rows)
        scores.append(float(max(margin_score(r["conductors"], p["min_conductors"]), margin_score(r["locations"], p["min_locations"]))))
        facts.append({"conductors": int(r["conductors"]), "locations": int(r["locations"]), "total": money_text(int(r["total"]), j.currency),
                      "day": str(np.datetime64(int(day), "D"))})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_smurfing(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} received on {facts['day']} (local time) cash deposits by {facts['conductors']} "
        f"different depositors at {facts['locations']} different places, each below the {j.currency} "
        f"{j.cash_threshold:,.2f} reporting threshold, together {facts['total']} (rule: at least "
        f"{params['min_conductors']} depositors or {params['min_locations']} places in one day, total at least "
        f"{params['total_fraction']:.0%} of the threshold). {facts['evidence_count']} deposits."
    )


register(
    catalogued(
        "ML-02",
        requires=("to_account", "channel", "amount_cents"),
        func=_smurfing,
        partition="account",  # per receiving account and local day
        explain=_explain_smurfing,
    )
)


# --------------------------------------------------------------------------- ML-03
#: Outflows that take money out of the account's place: cash out at a place, or sent away.
_CASH_OUT = ("cash_withdrawal", "atm", "cheque")
_SENT_AWAY = ("wire", "remittance", "crypto")


def _home_regions(ctx: RuleContext) -> pd.Series:
    """``accounts.home_region`` by account id (empty where the accounts table lacks it)."""
    acc = None if ctx.bundle is None else ctx.bundle.accounts
    if acc is None or "home_region" not in acc.column_names or acc.num_rows == 0:
        return pd.Series(dtype=object)
    home = acc.select(["account_id", "home_region"]).to_pandas().dropna().drop_duplicates("account_id")
    return home.set_index("account_id")["home_region"]


#: Whether the data name regions of places at all (else places are compared by id).
_HAS_REGIONS = WholeStat("has_regions", "any", lambda frame, params: "location_region" in frame and bool(frame["location_region"].notna().any()))


def _funnel(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    dep = _deposits(frame)
    dep = dep[dep["location_id"].notna()]
    by_region = "location_region" in frame and whole(ctx, frame, _HAS_REGIONS)
    home = _home_regions(ctx) if by_region else pd.Series(dtype=object)
    if len(home):  # only deposits away from the branch of domicile count (unknown home: all count)
        h = dep["to_account"].map(home)
        dep = dep[h.isna() | dep["location_region"].isna() | (dep["location_region"] != h)]
    ep = episodes(dep.assign(loc=dep["location_id"]), subject="to_account", member="loc",
                  window_us=int(p["window_days"] * DAY_US), min_count=p["min_locations"])  # fmt: skip
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    place = "location_region" if by_region else "location_id"
    out = frame[frame["from_account"].isin(set(ep["subject"])) & frame["amount_cents"].notna()
                & frame["channel"].isin(_CASH_OUT + _SENT_AWAY)]  # fmt: skip
    subjects, evidence, scores, facts = [], [], [], []
    w = int(p["window_days"] * DAY_US)
    h = p["forward_hours"] * HOUR_US
    for _, e in ep.iterrows():
        # every deposit of the episode (not only the busiest window), and what left within H hours of the last
        mine = dep[(dep["to_account"] == e["subject"]) & (dep["t"] > e["episode_start"] - w) & (dep["t"] <= e["episode_end"])]
        ev = frame.index.get_indexer(mine.index)
        deposited = int(mine["amount_cents"].sum())
        places = set(mine[place].dropna())
        later = out[(out["from_account"] == e["subject"]) & (out["t"] >= mine["t"].min()) & (out["t"] <= mine["t"].max() + h)]
        # elsewhere: sent away, or cashed out at a place where none of the deposits of the H hours before it was made
        dep_t, dep_place = mine["t"].to_numpy(), mine[place].to_numpy(object)
        out_t, out_place = later["t"].to_numpy(), later[place].to_numpy(object)
        recent = (dep_t[None, :] <= out_t[:, None]) & (dep_t[None, :] >= out_t[:, None] - h)
        same = recent & (dep_place[None, :] == out_place[:, None])
        later = later[later["channel"].isin(_SENT_AWAY).to_numpy() | (later[place].notna().to_numpy() & ~same.any(axis=1))]
        moved = int(later["amount_cents"].sum())
        if deposited and moved >= p["forward_share"] * deposited:
            subjects.append(e["subject"])
            evidence.append(np.r_[ev, frame.index.get_indexer(later.index)])
            scores.append(float(margin_score(e["peak"], p["min_locations"])))
            facts.append({"locations": int(mine["location_id"].nunique()), "deposits": len(mine),
                          "regions": len(places) if by_region else None,
                          "home": home.get(e["subject"]), "share": min(1.0, moved / deposited)})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_funnel(facts, params, j) -> str:
    where = f" in {facts['regions']} region(s)" if facts["regions"] is not None else ""
    away = f", all away from the account's home region {facts['home']}" if facts["home"] is not None else ""
    return (
        f"Account {facts['subject_id']}: cash paid in {facts['deposits']} times at {facts['locations']} different "
        f"places{where}{away} (threshold: {params['min_locations']} places within {params['window_days']:g} days), and "
        f"{facts['share']:.0%} of it withdrawn in cash within {params['forward_hours']:g} hours at places where it had "
        f"not been paid in, or wired away (threshold {params['forward_share']:.0%}): funnel account. "
        f"{facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "ML-03",
        requires=("to_account", "channel", "location_id", "amount_cents"),
        func=_funnel,
        partition="account",  # deposits into and outflows from the same account; regions: a whole-data statistic
        whole_data=(_HAS_REGIONS,),
        explain=_explain_funnel,
    )
)


# --------------------------------------------------------------------------- HT-06
def undated_deposits_note(count: int) -> dict:
    """HT-06's run note: ``count`` cash deposits have a date but no time of day, so they are not assessed.

    Examples
    --------
    >>> undated_deposits_note(4)["note"]
    'HT-06: 4 cash deposit(s) with a date but no time of day not assessed (night-time needs a time)'
    """
    return {"topic": "no_time_of_day", "rule": "HT-06", "count": count,
            "note": f"HT-06: {count} cash deposit(s) with a date but no time of day not assessed (night-time needs a time)"}  # fmt: skip


def _night_cash(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    dep = _deposits(frame)
    if "has_time" in dep:
        undated = int((~dep["has_time"]).sum())
        if undated:
            ctx.shared.setdefault("notes", []).append(undated_deposits_note(undated))
        dep = dep[dep["has_time"]]
    h = dep["local_hour"]
    start, end = p["night_start_hour"], p["night_end_hour"]
    night = dep[(h >= start) | (h < end)] if start > end else dep[(h >= start) & (h < end)]
    ep = episodes(night, subject="to_account", window_us=int(p["window_days"] * DAY_US), min_count=p["min_deposits"])
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    return make_findings(
        frame,
        ep["subject"].tolist(),
        ep["evidence_rows"].tolist(),
        margin_score(ep["peak"], p["min_deposits"]).tolist(),
        [{"n": int(n)} for n in ep["peak"]],
    )


def _explain_night_cash(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']}: {facts['n']} cash deposits between {params['night_start_hour']:02d}:00 and "
        f"{params['night_end_hour']:02d}:00 local time ({j.timezone} unless the source states an offset) within "
        f"{params['window_days']:g} days (threshold {params['min_deposits']}). Night-time ATM cash deposits were a "
        f"Project Protect human-trafficking signal. {facts['evidence_count']} deposits, {facts['totals']}."
    )


register(
    catalogued(
        "HT-06",
        requires=("to_account", "channel", "local_hour"),
        func=_night_cash,
        partition="account",  # episodes per receiving account
        explain=_explain_night_cash,
    )
)


# --------------------------------------------------------------------------- HT-07
def _coordinator_cash(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    dep = _deposits(frame, j.currency)
    dep = dep[(dep["amount_cents"] >= to_scaled(p["band_low"])) & (dep["amount_cents"] <= to_scaled(p["band_high"]))]
    dep = dep[dep["location_id"].notna()]
    ep = episodes(dep, subject="to_account", window_us=int(p["window_days"] * DAY_US), min_count=p["min_deposits"])
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    holders = _holders(ctx)
    subjects, evidence, scores, facts = [], [], [], []
    for _, e in ep.iterrows():
        rows = np.asarray(e["evidence_rows"])
        locs = take_rows(frame["location_id"], rows).nunique()
        if locs < p["min_locations"]:
            continue
        cond = _conductor(take_rows(frame[[c for c in ("conductor_party", "from_party") if c in frame]], rows))
        third = float((cond.notna() & ~cond.isin(holders.get(e["subject"], set()))).mean()) if cond.notna().any() else None
        score = float(margin_score(e["peak"], p["min_deposits"]))
        if third is not None and third >= 0.5:
            score = min(1.0, score + 0.1)
        subjects.append(e["subject"])
        evidence.append(rows)
        scores.append(score)
        facts.append({"n": int(e["peak"]), "locations": int(locs), "third": third})
    return make_findings(frame, subjects, evidence, scores, facts, roles=["controller"] * len(subjects))


def _holders(ctx: RuleContext) -> dict:
    if ctx.bundle is None or ctx.bundle.party_accounts.num_rows == 0:
        return {}
    pa_ = ctx.bundle.party_accounts.to_pandas()
    return pa_[pa_["role"] == "holder"].groupby("account_id")["party_id"].agg(set).to_dict()


def _explain_coordinator_cash(facts, params, j) -> str:
    third = "" if facts["third"] is None else f" {facts['third']:.0%} of them made by someone other than the account holder."
    return (
        f"Account {facts['subject_id']}: {facts['n']} cash deposits of {j.currency} {params['band_low']:,.2f}–"
        f"{params['band_high']:,.2f} each, at {facts['locations']} different places, within {params['window_days']:g} days "
        f"(threshold: {params['min_deposits']} deposits at {params['min_locations']} places).{third} A coordinator "
        f"account fed by third-party cash is an AUSTRAC human-trafficking indicator. {facts['evidence_count']} deposits, "
        f"{facts['totals']}."
    )


register(
    catalogued(
        "HT-07",
        requires=("to_account", "channel", "location_id", "amount_cents"),
        func=_coordinator_cash,
        partition="account",  # episodes per receiving account; holders from the accounts tables
        explain=_explain_coordinator_cash,
    )
)


# --------------------------------------------------------------------------- HS-03
def _cash_to_migrant_corridor(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    corridor = ctx.config.countries("migrant_flow") if ctx.config is not None else set()
    dep = _deposits(frame, j.currency)
    out = frame[frame["from_account"].notna() & frame["country_to"].isin(corridor) & frame["amount_cents"].notna()
                & (frame["currency"] == j.currency)]  # fmt: skip
    if dep.empty or out.empty:
        return make_findings(frame, [], [], [], [])
    codes, accs = codes_for(pd.concat([dep["to_account"], out["from_account"]], ignore_index=True))
    dep_codes, out_codes = codes[: len(dep)], codes[len(dep):]
    cash = KeyedSeries(dep_codes, dep["t"].to_numpy(), dep["amount_cents"].to_numpy(np.int64))
    wires = KeyedSeries(out_codes, out["t"].to_numpy(), out["amount_cents"].to_numpy(np.int64))
    h, w = int(p["forward_hours"] * HOUR_US), int(p["cash_days"] * DAY_US)
    t = out["t"].to_numpy()
    c_sum, ca, cb = cash.range_sum(out_codes, t, -(w + h), 0)
    o_sum, oa, ob = wires.range_sum(out_codes, t, -h, 0)
    ok = (c_sum >= threshold_cents(j, p["min_cash_fraction"])) & (o_sum >= p["forward_share"] * c_sum)
    if not ok.any():
        return make_findings(frame, [], [], [], [])
    idx = np.flatnonzero(ok)
    ep = runs(out_codes[idx], t[idx], int((p["cash_days"] + 1) * DAY_US))
    dep_pos, out_pos = frame.index.get_indexer(dep.index), frame.index.get_indexer(out.index)
    subjects, evidence, scores, facts = [], [], [], []
    for e in np.unique(ep):
        sel = idx[ep == e]
        rows = np.concatenate([dep_pos[cash.order[ca[i]:cb[i]]] for i in sel] + [out_pos[wires.order[oa[i]:ob[i]]] for i in sel])
        i = sel[np.argmax(o_sum[sel])]
        subjects.append(accs[out_codes[i]])
        evidence.append(rows)
        scores.append(float(margin_score(o_sum[i] / max(c_sum[i], 1), p["forward_share"])))
        countries = sorted(set(out.iloc[sel]["country_to"]))
        facts.append({"cash": money_text(int(c_sum[i]), j.currency), "sent": money_text(int(o_sum[i]), j.currency), "countries": ", ".join(countries)})
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_cash_corridor(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']}: cash deposits of {facts['cash']} within {params['cash_days']:g} days were followed "
        f"within {params['forward_hours']:g} hours by {facts['sent']} sent to {facts['countries']} (on the configured "
        f"migrant-flow list); rule: cash at least {params['min_cash_fraction']:.0%} of the {j.currency} "
        f"{j.cash_threshold:,.2f} threshold and at least {params['forward_share']:.0%} of it sent on. "
        f"{facts['evidence_count']} transactions."
    )


register(
    catalogued(
        "HS-03",
        requires=("to_account", "from_account", "channel", "country_to", "amount_cents"),
        func=_cash_to_migrant_corridor,
        partition="account",  # cash in and wires out of the same account
        explain=_explain_cash_corridor,
    )
)
