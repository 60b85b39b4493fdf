"""Shared identifiers: many people on one phone, e-mail, address, device or document
(ML-15), and the trafficking form where the people sharing a controller's contact
details pay the same account (HT-11).

Sources: ``shared/reference/indicators.md`` rows ML-15 and HT-11 (FinCEN 2014/2020:
apparently unrelated customers with the same address or phone paying the same
beneficiary; K = 3, E). Parties are *mentions* (one row per person per report): they
are resolved into persons with :func:`followmoney.resolve.resolve` before counting, so
one person named in three reports is not three people. An address shared by people who
mostly carry one family name is a household and is not counted (the catalogue's "no
declared family tie"); HT-11 never takes a merchant (an account paid by card or with a
merchant category) for a controller.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.resolve import resolve
from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, Touching, register, shared_value
from followmoney.detect.rules._rolling import make_findings, margin_score

#: Weight of a shared identifier by kind (indicators.md ML-15: device/ID document > phone/e-mail > address).
KIND_WEIGHT = {"device": 1.0, "ip": 0.9, "passport": 1.0, "national_id": 1.0, "id_document": 1.0, "tax_id": 1.0,
               "phone": 0.8, "email": 0.8, "address": 0.5}  # fmt: skip


def _groups(ctx: RuleContext, min_people: int):
    """Identifier groups with at least ``min_people`` distinct persons, computed once per run.

    Returns ``(members, person, holders)`` or None: ``members`` has one row per
    (kind, value, party mention) with its ``person`` (resolved cluster) and
    ``household`` (True for an address shared by people who, for the most part, carry
    one family name: a family, not a controller's victims).
    """
    return shared_value(ctx, ("identifier_groups", min_people), lambda: _build_groups(ctx, min_people))


def _build_groups(ctx: RuleContext, min_people: int):
    b = ctx.bundle
    if b is None or b.identifiers.num_rows == 0:
        return None
    ids = b.identifiers.select(["owner_kind", "owner_id", "kind", "value"]).to_pandas()
    clusters = shared_value(ctx, "resolution", lambda: resolve(b).party_clusters)
    person = pd.Series(clusters["cluster_id"].to_numpy(), index=clusters["party_id"].to_numpy())
    holders = b.party_accounts.select(["party_id", "account_id", "role"]).to_pandas()
    # account-owned identifiers count for the account's holders
    acc_ids = ids[ids["owner_kind"] == "account"].merge(holders, left_on="owner_id", right_on="account_id")
    party_ids = pd.concat([ids[ids["owner_kind"] == "party"][["owner_id", "kind", "value"]].rename(columns={"owner_id": "party_id"}),
                           acc_ids[["party_id", "kind", "value"]]])  # fmt: skip
    party_ids["person"] = party_ids["party_id"].map(person)
    party_ids = party_ids.dropna(subset=["person"]).drop_duplicates()
    n = party_ids.groupby(["kind", "value"])["person"].nunique()
    shared = n[n >= min_people]
    if shared.empty:
        return None
    members = party_ids.set_index(["kind", "value"]).loc[shared.index].reset_index()
    parties = b.parties.select(["party_id", "family_name", "name"]).to_pandas().set_index("party_id")
    family = parties["family_name"].fillna(parties["name"].str.split().str[-1]).str.casefold()
    members["family"] = members["party_id"].map(family)
    top = members.groupby(["kind", "value"])["family"].agg(lambda f: f.value_counts(normalize=True).iloc[0] if f.notna().any() else 0.0)
    household = top[top >= 2 / 3].index
    members["household"] = (members["kind"] == "address") & pd.MultiIndex.from_frame(members[["kind", "value"]]).isin(household)
    return members, person, holders


def _members_rows(bundle, params: dict, merchants: bool) -> Touching:
    """The rows ML-15 and HT-11 read: those of the people in an identifier group (``min_people``, not a household), of the
    holders of their accounts (a joint holder's spending counts for HT-11's share paid) and of all these
    parties' accounts; for HT-11 (``merchants``) also a row that shows which of the accounts they pay is a
    merchant (a merchant is no controller: only whether it is one is read, from any such row)."""
    g = _groups(RuleContext(params=params, jurisdiction=None, bundle=bundle), params["min_people"])
    if g is None:
        return Touching(frozenset(), frozenset(), merchants)
    members, _, holders = g
    pids = set(members["party_id"][~members["household"]])  # a household's shared address is no group (both rules)
    theirs = holders["account_id"][holders["party_id"].isin(pids)]
    parties = pids | set(holders["party_id"][holders["account_id"].isin(theirs)])
    return Touching(frozenset(parties), frozenset(holders["account_id"][holders["party_id"].isin(parties)]), merchants)


def _row_index(frame: pd.DataFrame, ctx: RuleContext) -> dict:
    """Frame row positions per party and per account, on each side (built once per run)."""

    def build():
        index = {}
        for col in ("from_party", "to_party", "from_account", "to_account"):
            if col in frame:
                s = frame[col].dropna()
                index[col] = {k: v.to_numpy() for k, v in pd.Series(s.index, index=s.to_numpy()).groupby(level=0)}
        return index

    return shared_value(ctx, "identifier_rows", build)


def _rows_of(index: dict, cols: tuple, keys) -> np.ndarray:
    parts = [index[c][k] for c in cols if c in index for k in keys if k in index[c]]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _shared(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    g = _groups(ctx, p["min_people"])
    if g is None:
        return make_findings(frame, [], [], [], [])
    members, _, holders = g
    members = members[~members["household"]]
    index = _row_index(frame, ctx)
    held = holders.groupby("party_id")["account_id"].agg(set)
    subjects, evidence, scores, facts, related = [], [], [], [], []
    for (kind, value), m in members.groupby(["kind", "value"], sort=True):
        pids = set(m["party_id"])
        accounts = set().union(*[held.get(x, set()) for x in pids])
        rows = np.union1d(_rows_of(index, ("from_party", "to_party"), pids), _rows_of(index, ("from_account", "to_account"), accounts))
        n_people = m["person"].nunique()
        if len(rows) == 0 or n_people < p["min_people"]:
            continue
        people = {who: (set(pm["party_id"]), set().union(*[held.get(x, set()) for x in pm["party_id"]]))
                  for who, pm in m.groupby("person", sort=True)}  # fmt: skip
        inner = _between(frame, rows, people)
        subjects.append(f"{kind}:{value}")
        evidence.append(inner if len(inner) else _latest(index, people))
        scores.append(float(margin_score(n_people, p["min_people"])) * KIND_WEIGHT.get(kind, 0.5))
        facts.append({"kind": kind, "people": n_people, "accounts": len(accounts), "between": bool(len(inner))})
        related.append(sorted(pids | accounts))
    return make_findings(frame, subjects, evidence, scores, facts, related=related, subject_kind="identifier")


def _between(frame: pd.DataFrame, rows: np.ndarray, people: dict) -> np.ndarray:
    """The frame rows among ``rows`` that one person of the group pays to another (the fee paid to the herder,
    money passed among them): the pattern, not the members' ordinary lives. A person paying themselves, from one
    of their accounts to another, is not between people. ``people`` maps each person to (party ids, accounts)."""
    of_party = {x: who for who, (parties, _) in people.items() for x in parties}
    of_account: dict = {}
    for who, (_, accounts) in people.items():
        for x in accounts:
            of_account.setdefault(x, set()).add(who)

    def side(party: str, account: str, at: np.ndarray) -> list:
        parties = frame[party].iloc[at].tolist() if party in frame else [None] * len(at)
        accounts = frame[account].iloc[at].tolist() if account in frame else [None] * len(at)
        return [of_account.get(a, set()) | ({of_party[x]} if x in of_party else set()) for x, a in zip(parties, accounts)]

    def ours(party: str, account: str) -> np.ndarray:
        hit = np.zeros(len(rows), bool)
        if party in frame:
            hit |= frame[party].iloc[rows].isin(list(of_party)).to_numpy()
        if account in frame:
            hit |= frame[account].iloc[rows].isin(list(of_account)).to_numpy()
        return hit

    # both sides the group's (vectorised), then: no person on both sides
    both = rows[ours("from_party", "from_account") & ours("to_party", "to_account")]
    payers, payees = side("from_party", "from_account", both), side("to_party", "to_account", both)
    return both[np.array([not a & b for a, b in zip(payers, payees)], bool)]


def _latest(index: dict, people: dict) -> np.ndarray:
    """Each person's latest transaction (frame rows are in time order), one per person who has any."""
    latest = []
    for parties, accounts in people.values():
        own = np.union1d(_rows_of(index, ("from_party", "to_party"), parties), _rows_of(index, ("from_account", "to_account"), accounts))
        if len(own):
            latest.append(own.max())
    return np.asarray(latest, np.int64)


def _explain_shared(facts, params, j) -> str:
    shown = (
        f"{facts['evidence_count']} transactions run from one of them to another"
        if facts["between"]
        else f"No money passes from one of them to another; shown: each one's latest transaction ({facts['evidence_count']})"
    )
    return (
        f"Identifier {facts['subject_id']}: this {facts['kind']} is used by {facts['people']} different people "
        f"(threshold {params['min_people']}) holding {facts['accounts']} accounts, with no declared relationship in the "
        f"data. {shown}, {facts['totals']}."
    )


register(
    catalogued(
        "ML-15",
        requires=("txn_id",),
        func=_shared,
        partition="touching",  # the rows of the people sharing identifiers, from the bundle's identifier groups
        touching=lambda bundle, params: _members_rows(bundle, params, merchants=False),
        explain=_explain_shared,
    )
)


def _controller_contacts(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    g = _groups(ctx, p["min_people"])
    if g is None:
        return make_findings(frame, [], [], [], [])
    members, person, holders = g
    members = members[~members["household"]]
    holder_of = holders.groupby("account_id")["party_id"].first()
    held = holders.groupby("party_id")["account_id"].agg(set)
    index = _row_index(frame, ctx)
    # merchants (card or MCC-coded receipts) are not a controller's account
    merchant = frame["channel"].eq("card")
    if "merchant_category" in frame:
        merchant |= frame["merchant_category"].notna()
    merchants = set(frame.loc[merchant, "to_account"].dropna())
    # one finding per (subject, role); several shared identifiers add up in it
    found: dict[tuple, dict] = {}

    def add(subject, role, kind_, rows, score, fact, rel):
        f = found.setdefault((subject, role), {"rows": set(), "score": 0.0, "facts": {**fact, "identifiers": []}, "related": set()})
        f["rows"].update(rows.tolist())
        f["score"] = max(f["score"], score)
        f["facts"]["identifiers"].append(kind_)
        f["related"].update(rel)

    for (kind, value), m in members.groupby(["kind", "value"], sort=True):
        pids = set(m["party_id"])
        accounts = set().union(*[held.get(x, set()) for x in pids])
        # members' payments: from a member's account, or made by a member in person (e.g. cash)
        paid = frame.iloc[np.union1d(_rows_of(index, ("from_account",), accounts), _rows_of(index, ("from_party",), pids))]
        paid = paid[paid["to_account"].notna() & ~paid["to_account"].isin(merchants) & ~paid["channel"].eq("card")]
        payer_party = paid["from_account"].map(holder_of).fillna(paid["from_party"])
        paid = paid.assign(payer=payer_party.map(person), payer_party=payer_party)
        # a payer counts when most of what it pays out goes to that beneficiary (victims hand
        # over most of their money; a flatmate's rent share does not)
        spent = {}
        for pp in paid["payer_party"].dropna().unique():
            rows = np.union1d(_rows_of(index, ("from_party",), [pp]), _rows_of(index, ("from_account",), held.get(pp, set())))
            spent[pp] = frame["amount_cents"].iloc[rows].fillna(0).sum()
        to_ben = paid.groupby(["to_account", "payer_party"])["amount_cents"].transform("sum").fillna(0)
        spent_by_payer = paid["payer_party"].map(spent).astype("float64")  # numeric even when nothing maps (pandas 3)
        paid = paid[(to_ben / spent_by_payer.clip(lower=1)) >= p["min_payer_share"]]
        n_payers = paid.groupby("to_account")["payer"].nunique()
        for ben, n in n_payers[n_payers >= p["min_payers"]].sort_index().items():
            sel = paid[paid["to_account"] == ben]
            ben_holders = set(holders[holders["account_id"] == ben]["party_id"])
            controller_shares = bool(ben_holders & pids)
            ben_people = {person.get(h) for h in ben_holders}
            victims = sel[~sel["payer"].isin(ben_people) & sel["payer_party"].isin(pids)]
            score = min(1.0, float(margin_score(n, p["min_payers"])) * KIND_WEIGHT.get(kind, 0.5) + 0.2 * controller_shares)
            fact = {"people": m["person"].nunique(), "payers": int(n), "controller_shares": controller_shares, "beneficiary": ben}
            label = f"{kind} {value}"
            victim_parties = sorted(set(victims["payer_party"]))
            add((ben, "account"), "controller" if controller_shares else None, label,
                frame.index.get_indexer(sel.index), score, fact, victim_parties)  # fmt: skip
            for vp, vsel in victims.groupby("payer_party", sort=True):
                add((vp, "party"), "potential_victim", label, frame.index.get_indexer(vsel.index), score * 0.8, fact, [ben])
    if not found:
        return make_findings(frame, [], [], [], [])
    keys = sorted(found, key=lambda k: (k[0][1], k[0][0], str(k[1])))
    for k in keys:
        n_ids = len(found[k]["facts"]["identifiers"])
        found[k]["score"] = min(1.0, found[k]["score"] + 0.05 * (n_ids - 1))
        found[k]["facts"]["role"] = k[1]
    out = make_findings(
        frame,
        [k[0][0] for k in keys],
        [sorted(found[k]["rows"]) for k in keys],
        [found[k]["score"] for k in keys],
        [found[k]["facts"] for k in keys],
        roles=[k[1] for k in keys],
        related=[sorted(found[k]["related"]) for k in keys],
    )
    out["subject_kind"] = [k[0][1] for k in keys]
    return out


def _explain_controller_contacts(facts, params, j) -> str:
    shared = " and ".join(facts["identifiers"])
    if facts["role"] == "potential_victim":
        return (
            f"Party {facts['subject_id']} shares the {shared} with other people (at least {params['min_people']} on "
            f"one identifier) and pays account {facts['beneficiary']}"
            + (", whose holder uses the same contact details" if facts["controller_shares"] else "")
            + ". Controllers register their victims with their own contact details: potential victim. "
            f"{facts['evidence_count']} transactions."
        )
    who = "its holder uses the same contact details: likely controller" if facts["controller_shares"] else "a common beneficiary"
    return (
        f"Account {facts['subject_id']} is paid by {facts['payers']} of the {facts['people']} people who share the "
        f"{shared} (rule: at least {params['min_people']} people on one identifier, at least {params['min_payers']} of "
        f"them paying one account); {who}. {facts['evidence_count']} transactions, {facts['totals']}."
    )


register(
    catalogued(
        "HT-11",
        requires=("to_account",),
        func=_controller_contacts,
        partition="touching",  # the rows of the people sharing identifiers and the rows into the accounts they pay
        touching=lambda bundle, params: _members_rows(bundle, params, merchants=True),
        explain=_explain_controller_contacts,
    )
)
