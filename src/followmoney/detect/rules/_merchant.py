"""Spending rules from merchant category codes (MCC, ISO 18245) or descriptions:
advertising / escort sites (HT-01), short stays in lodging (HT-02), travel bought for
several people (HT-03).

Sources: ``shared/reference/indicators.md`` rows HT-01..HT-03 (FINTRAC 2016 Project
Protect indicators, AUSTRAC 2022, FinCEN 2014/2020). MCC ranges as listed in the
catalogue's section 0.2 (grade C for codes other than 4511, 6011, 7311: verify against
the acquirer's table). Where ``merchant_category`` is missing, words in
``counterparty_name`` / ``description`` classify the payment.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, WholeStat, register, whole
from followmoney.core.frame import take_rows
from followmoney.core.units import DAY_US
from followmoney.detect.rules._rolling import make_findings, margin_score
from followmoney.core._timeline import episodes


def _mcc_in(mcc: pd.Series, codes: set[int], ranges: tuple = ()) -> pd.Series:
    """Rows whose merchant category code (ISO 18245, as text or number) is one of ``codes`` or in one of the
    inclusive ``ranges``; each distinct code is read once (a few hundred codes over millions of rows)."""
    at, distinct = pd.factorize(mcc)  # -1: no code
    num = pd.to_numeric(pd.Series(distinct), errors="coerce")
    hit = num.isin(codes)
    for lo, hi in ranges:
        hit |= num.between(lo, hi)
    return pd.Series(np.r_[hit.fillna(False).to_numpy(bool), False][at], index=mcc.index)


def _words(frame: pd.DataFrame, pattern: re.Pattern) -> pd.Series:
    """Rows whose counterparty name and description (joined by a space) match ``pattern``: each distinct
    (name, description) is searched once (a payment format or a merchant's name repeats over millions of rows)."""
    cols = [c for c in ("counterparty_name", "description") if c in frame]
    if not cols or not len(frame):
        return pd.Series(False, index=frame.index)
    codes = [pd.factorize(frame[c], use_na_sentinel=False) for c in cols]  # a missing value is one more name: ""
    pair = codes[0][0].astype(np.int64)
    for c, names in codes[1:]:
        pair *= len(names)
        pair += c
    at, distinct = pd.factorize(pair)  # each row's pair as a number, and the pairs (a hash: no sort of millions)
    text = pd.Series("", index=range(len(distinct)))
    for i, (_, names) in enumerate(codes):
        inner = int(np.prod([len(n) for _, n in codes[i + 1 :]], dtype=np.int64))
        name = pd.Series(np.asarray(names, dtype=object)).where(pd.notna(names), "").astype(str)
        text = text + " " + name.to_numpy()[(distinct // inner) % len(names)]
    hit = text.str.contains(pattern).to_numpy(bool)
    return pd.Series(hit[at], index=frame.index)


_CATEGORIES = {
    # HT-01: dating/escort services 7273; advertising 7311 only with an adult keyword
    "ads": ({7273}, (), re.compile(r"(?i)\b(?:escort|backpage|skipthegames|listcrawler|locanto|adult ?ads?|erotic|massage ads?)\b")),
    # HT-02: hotels/motels 7011 and the chain range 3501-3999; lodging platforms by name
    "lodging": ({7011}, ((3501, 3999),), re.compile(r"(?i)\b(?:hotel|motel|hostel|inn|airbnb|booking\.com|lodging)\b")),
    # HT-03 (long-distance tickets): airlines 3000-3299 and 4511, passenger rail 4112, bus lines 4131.
    # Ride-share counts and car rentals (the catalogue's other HT-03 variants) need a per-customer
    # history and are not covered here.
    "travel": ({4511, 4112, 4131}, ((3000, 3299),),
               re.compile(r"(?i)\b(?:airline|airways|air ?lines|greyhound|flixbus|amtrak|railways?|coach tickets?)\b")),  # fmt: skip
}


def _classify(frame: pd.DataFrame, category: str) -> pd.Series:
    codes, ranges, words = _CATEGORIES[category]
    by_mcc = _mcc_in(frame["merchant_category"], codes, ranges) if "merchant_category" in frame else pd.Series(False, index=frame.index)
    return by_mcc | _words(frame, words)


def _spend_rule(category: str, refine=None):
    """The rule function for ``category``; ``refine(payments, episodes, params)`` may filter the episodes."""

    def func(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
        p = ctx.params
        out = frame[frame["from_account"].notna() & frame["amount_cents"].notna() & _classify(frame, category)]  # one copy, of the payments only
        ep = episodes(out, subject="from_account", window_us=int(p["window_days"] * DAY_US), min_count=p["min_payments"])
        ep["passengers"] = None
        if refine is not None and not ep.empty:
            ep = refine(out, ep, p, whole(ctx, frame, _NAMES_PASSENGERS))
        if ep.empty:
            return make_findings(frame, [], [], [], [])
        return make_findings(
            frame,
            ep["subject"].tolist(),
            ep["evidence_rows"].tolist(),
            margin_score(ep["peak"], p["min_payments"]).tolist(),
            [{"n": int(n), "merchants": _merchants(frame, rows), "passengers": x}
             for n, rows, x in zip(ep["peak"], ep["evidence_rows"], ep["passengers"])],  # fmt: skip
        )

    return func


#: A passenger name in a ticket's description (airline / rail addendum data), e.g. "TICKET PAX ANA TEST".
_PAX = re.compile(r"(?i)\b(?:pax|passenger|psgr)\b[:\s]+([a-z][a-z' .-]*[a-z])")


def _passengers(tickets: pd.DataFrame) -> pd.Series:
    return tickets["description"].str.extract(_PAX, expand=False).str.upper().str.strip()


def _tickets(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["from_account"].notna() & frame["amount_cents"].notna() & _classify(frame, "travel")]


#: Whether any ticket in the whole data names its passengers (HT-03 then asks for several).
_NAMES_PASSENGERS = WholeStat(
    "names_passengers", "any",
    lambda frame, params: "description" in frame and bool(_passengers(_tickets(frame)).notna().any()),
)


def _several_passengers(tickets: pd.DataFrame, ep: pd.DataFrame, p: dict, named: bool) -> pd.DataFrame:
    """HT-03, the catalogue's "(>= 2 passenger names if available)": where the data name passengers, require several."""
    if "description" not in tickets or not named:
        return ep
    pax = _passengers(tickets)
    ep["passengers"] = [int(pax.loc[rows].nunique()) for rows in ep["evidence_rows"]]
    return ep[ep["passengers"] >= p["min_passengers"]]


def _merchants(frame, rows) -> str:
    names = take_rows(frame["counterparty_name"], rows) if "counterparty_name" in frame else pd.Series(dtype=object)
    names = names.dropna()
    if names.empty:
        names = take_rows(frame["to_account"], rows).dropna()
    top = names.value_counts().index[:3].tolist()
    return ", ".join(map(str, top)) or "unnamed merchants"


_WHAT = {
    "ads": ("payments to online classified / escort-advertising sites", "Traffickers pay for the ads that sell their victims (FINTRAC 2016, FinCEN 2020, AUSTRAC 2022)."),
    "lodging": ("payments for hotel, motel or short-stay lodging", "Frequent short stays are how victims are moved and exploited (AUSTRAC 2022, FINTRAC 2016)."),
    "travel": ("payments for long-distance tickets (air, rail, bus)", "Travel bought for several people fits moving victims (FINTRAC 2016, AUSTRAC 2022)."),
}


def _explain(category: str):
    def explain(facts, params, j) -> str:
        what, why = _WHAT[category]
        pax = "" if facts.get("passengers") is None else (
            f" The tickets name {facts['passengers']} different passengers (threshold {params['min_passengers']})."
        )
        return (
            f"Account {facts['subject_id']} made {facts['n']} {what} within {params['window_days']:g} days (threshold "
            f"{params['min_payments']}), e.g. to {facts['merchants']}.{pax} {why} {facts['totals']}."
        )

    return explain


#: Episode filter of the rules that have one (their extra parameters are in the catalogue)
_REFINE = {"HT-03": _several_passengers}

for rule_id, category in (("HT-01", "ads"), ("HT-02", "lodging"), ("HT-03", "travel")):
    refine = _REFINE.get(rule_id)
    register(
        catalogued(
            rule_id,
            requires=("from_account", "amount_cents"),
            func=_spend_rule(category, refine),
            # episodes per paying account; HT-03: whether any ticket names passengers is a whole-data statistic
            partition="account",
            whole_data=(_NAMES_PASSENGERS,) if refine is not None else (),
            explain=_explain(category),
        )
    )
