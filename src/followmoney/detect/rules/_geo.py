"""Geography rules: exposure to high-risk jurisdictions (ML-13) and smuggling-style
collections from many regions (HS-01).

Country lists come from the configuration (``Config.country_lists``; bundled defaults
with their source and date in ``followmoney/data/country_lists.toml``). Sources:
``shared/reference/indicators.md`` rows ML-13 and HS-01 (FATF lists; FinCEN 2014, 2023).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, WholeStat, register, whole
from followmoney.core.units import DAY_US, money_text, to_scaled
from followmoney.core._timeline import KeyedSeries, codes_for, runs
from followmoney.core.frame import take_rows
from followmoney.detect.rules._rolling import make_findings, margin_score, threshold_cents
from followmoney.core._timeline import episodes


def _lists(ctx: RuleContext) -> tuple[set, set]:
    cfg = ctx.config
    if cfg is None:
        return set(), set()
    listed = cfg.countries("fatf_increased_monitoring") | cfg.countries("ht_source")
    return cfg.countries("fatf_call_for_action"), listed


def _home_flows(out: pd.DataFrame, ctx: RuleContext) -> np.ndarray:
    """True where a transfer goes to a country of nationality or residence of a holder of the sending account.

    Money sent home fits the customer's profile (indicators.md ML-13: "inconsistent
    with profile"); it is not counted towards the listed-country test.
    """
    b = ctx.bundle
    if b is None or b.party_accounts.num_rows == 0 or b.parties.num_rows == 0:
        return np.zeros(len(out), bool)
    links = b.party_accounts.select(["party_id", "account_id", "role"]).to_pandas()
    links = links[links["role"].eq("holder")]
    parties = b.parties.select(["party_id", "nationality", "country"]).to_pandas()
    home = links.merge(parties, on="party_id").melt(["account_id"], ["nationality", "country"], value_name="home")
    home = home.dropna(subset=["home"]).drop_duplicates(["account_id", "home"])
    keys = pd.MultiIndex.from_frame(home[["account_id", "home"]])
    return pd.MultiIndex.from_arrays([out["from_account"], out["country_to"]]).isin(keys)


def _via(frame: pd.DataFrame, countries: set) -> pd.Series:
    """First country of ``countries`` a wire passes through (``route_countries``: every party's and bank's), else null.

    A wire's route is on its row when the source names the chain of banks (pacs.008,
    MT103): money routed through a listed country's bank counts as money to that country.
    """
    if "route_countries" not in frame or not countries:
        return pd.Series(None, index=frame.index, dtype=object)

    def first(route):
        if route is None or (isinstance(route, float) and np.isnan(route)):
            return None
        return next((c for c in route if c in countries), None)

    route = frame["route_countries"]
    known = route.notna().to_numpy(bool)
    if known.all():
        return route.map(first)
    out = pd.Series(None, index=frame.index, dtype=object)
    if known.any():  # only the rows with a route (a wire's chain of banks) are looked at
        out[known] = route[known].map(first)
    return out


def _high_risk(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    cfa, listed = _lists(ctx)
    w = int(p["window_days"] * DAY_US)
    subjects, evidence, scores, facts = [], [], [], []
    geo = [c for c in ("country_to", "country_from", "route_countries") if c in frame]
    if not any(frame[c].notna().any() for c in geo):  # no country anywhere (e.g. IBM AML data): nothing to find
        return make_findings(frame, subjects, evidence, scores, facts)
    # (a) any transaction with a call-for-action country, either direction, or routed through one
    parts = []
    frame = frame.assign(via_cfa=_via(frame, cfa))
    for side, ccol in (("from_account", "country_to"), ("to_account", "country_from"), ("from_account", "via_cfa")):
        g = frame[frame[side].notna() & frame[ccol].isin(cfa)]
        if ccol == "via_cfa":
            g = g[~g["country_to"].isin(cfa)]  # counted once, as a transaction to that country
        parts.append(pd.DataFrame({"account": g[side].to_numpy(), "t": g["t"].to_numpy(), "row": g.index.to_numpy(),
                                   "country": g[ccol].to_numpy()}))  # fmt: skip
    hits = pd.concat(parts).sort_values(["account", "t"], kind="stable")
    if len(hits):
        codes, accs = codes_for(hits["account"])
        ep = runs(codes, hits["t"].to_numpy(), w)
        for e in np.unique(ep):
            sel = hits[ep == e]
            subjects.append(sel["account"].iloc[0])
            evidence.append(sel["row"].to_numpy())
            scores.append(0.9)
            facts.append({"kind": "call_for_action", "countries": ", ".join(sorted(set(sel["country"]))), "n": len(sel)})
    # (b) repeated or large-share outflows to listed countries
    out = frame[frame["from_account"].notna() & frame["amount_cents"].notna() & ~frame["country_to"].isin(cfa) & frame["via_cfa"].isna()]
    if len(out) and listed:
        via = _via(out, listed)
        out = out.assign(country_to=out["country_to"].where(out["country_to"].isin(listed) | via.isna(), via))
        codes, keys = codes_for(out["from_account"], out["currency"])
        t = out["t"].to_numpy()
        amt = out["amount_cents"].to_numpy(np.int64)
        is_listed = out["country_to"].isin(listed).to_numpy() & ~_home_flows(out, ctx)
        series = KeyedSeries(codes, t, amt)  # one sort: the three sums share its ranges
        v_all, a, b = series.range_sum(codes, t, -w, 0)
        n_listed, v_listed = ((cum[b] - cum[a]) for cum in (series.cumulative(is_listed.astype(np.int64)), series.cumulative(np.where(is_listed, amt, 0))))
        share = v_listed / np.maximum(v_all, 1)
        ok = np.flatnonzero(is_listed & ((n_listed >= p["min_transactions"]) | (share >= p["min_share"])))
        order = series.order
        ep = runs(codes[ok], t[ok], w)
        pos = frame.index.get_indexer(out.index)
        for e in np.unique(ep):
            sel = ok[ep == e]
            i = sel[np.argmax(n_listed[sel] + share[sel])]
            rows = order[a[i]:b[i]]
            rows = rows[is_listed[rows]]
            subjects.append(keys[codes[i]][0])
            evidence.append(pos[rows])
            scores.append(float(max(margin_score(n_listed[i], p["min_transactions"]), margin_score(share[i], p["min_share"]))) * 0.8)
            facts.append({"kind": "listed", "countries": ", ".join(sorted(set(out["country_to"].iloc[rows]))),
                          "n": int(n_listed[i]), "share": float(share[i])})  # fmt: skip
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_high_risk(facts, params, j) -> str:
    if facts["kind"] == "call_for_action":
        return (
            f"Account {facts['subject_id']}: {facts['n']} transactions with or through {facts['countries']}, on FATF's list of "
            f"high-risk jurisdictions subject to a call for action (any such transaction alerts; transactions less "
            f"than {params['window_days']:g} days apart form one alert). {facts['totals']}."
        )
    return (
        f"Account {facts['subject_id']} sent {facts['n']} transfers ({facts['share']:.0%} of its outflow value) within "
        f"{params['window_days']:g} days to {facts['countries']}, on the configured increased-monitoring / "
        f"trafficking-source country lists (rule: at least {params['min_transactions']} transfers or "
        f"{params['min_share']:.0%} of outflows; transfers to an account holder's own country of nationality or "
        f"residence fit the profile and are not counted). {facts['totals']}."
    )


register(
    catalogued(
        "ML-13",
        requires=("amount_cents",),
        func=_high_risk,
        partition="account",  # runs per sending / receiving account (and currency)
        explain=_explain_high_risk,
    )
)


#: Whether the data name the places of payments at all (else the sending country is the region).
_HAS_PLACES = WholeStat("has_places", "any", lambda frame, params: "location_id" in frame and bool(frame["location_id"].notna().any()))


def _smuggling_collection(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p, j = ctx.params, ctx.jurisdiction
    cap = to_scaled(j.secondary_threshold) if j.secondary_threshold is not None else threshold_cents(j, 0.3)
    region = frame["location_id"] if "location_id" in frame and whole(ctx, frame, _HAS_PLACES) else frame["country_from"]
    f = frame.assign(region=region)
    f = f[f["to_account"].notna() & f["sender"].notna() & f["region"].notna() & (f["currency"] == j.currency)
          & (f["amount_cents"] < cap) & f["channel"].isin(["wire", "remittance", "transfer", "mobile_money"])]  # fmt: skip
    ep = episodes(f, subject="to_account", member="sender", window_us=int(p["window_days"] * DAY_US), min_count=p["min_senders"])
    if ep.empty:
        return make_findings(frame, [], [], [], [])
    subjects, evidence, scores, facts = [], [], [], []
    for _, e in ep.iterrows():
        rows = np.asarray(e["evidence_rows"])
        regions = take_rows(region, rows).nunique()
        if regions < p["min_regions"]:
            continue
        subjects.append(e["subject"])
        evidence.append(rows)
        scores.append(float(margin_score(e["peak"], p["min_senders"])))
        facts.append({"senders": int(e["peak"]), "regions": int(regions), "cap": money_text(cap, j.currency)})
    return make_findings(frame, subjects, evidence, scores, facts)


def _explain_smuggling(facts, params, j) -> str:
    return (
        f"Account {facts['subject_id']} received transfers from {facts['senders']} senders in {facts['regions']} "
        f"different regions within {params['window_days']:g} days, each below {facts['cap']} (rule: at least "
        f"{params['min_senders']} senders from {params['min_regions']} regions). Smugglers' fees were collected this "
        f"way, kept under the record-keeping level. Whether the beneficiary is in a border area is not in the data: "
        f"check it. {facts['totals']}."
    )


register(
    catalogued(
        "HS-01",
        requires=("to_account", "sender", "amount_cents"),
        func=_smuggling_collection,
        partition="account",  # episodes per receiving account; which place column: a whole-data statistic
        whole_data=(_HAS_PLACES,),
        explain=_explain_smuggling,
    )
)
