"""Shared identifiers: many people on one phone, e-mail, address, device or document
(ML-15), and the trafficking form where the people sharing a controller's contact
details pay the same account (HT-11).

Sources: ``shared/reference/indicators.md`` rows ML-15 and HT-11 (FinCEN 2014/2020:
apparently unrelated customers with the same address or phone paying the same
beneficiary; K = 3, E). Parties are *mentions* (one row per person per report): they
are resolved into persons with :func:`followmoney.resolve.resolve` before counting, so
one person named in three reports is not three people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.resolve import resolve
from followmoney.rules._registry import Param, Rule, RuleContext, register
from followmoney.rules._rolling import make_findings, margin_score

#: Weight of a shared identifier by kind (indicators.md ML-15: device/ID document > phone/e-mail > address).
KIND_WEIGHT = {"device": 1.0, "ip": 0.9, "passport": 1.0, "national_id": 1.0, "id_document": 1.0, "tax_id": 1.0,
               "phone": 0.8, "email": 0.8, "address": 0.5}  # fmt: skip


def _groups(ctx: RuleContext, min_people: int):
    """Identifier groups with at least ``min_people`` distinct persons."""
    b = ctx.bundle
    if b is None or b.identifiers.num_rows == 0:
        return None
    ids = b.identifiers.select(["owner_kind", "owner_id", "kind", "value"]).to_pandas()
    if "resolution" not in ctx.shared:
        ctx.shared["resolution"] = resolve(b).party_clusters
    clusters = ctx.shared["resolution"]
    person = pd.Series(clusters["cluster_id"].to_numpy(), index=clusters["party_id"].to_numpy())
    holders = b.party_accounts.select(["party_id", "account_id", "role"]).to_pandas()
    # account-owned identifiers count for the account's holders
    acc_ids = ids[ids["owner_kind"] == "account"].merge(holders, left_on="owner_id", right_on="account_id")
    party_ids = pd.concat([ids[ids["owner_kind"] == "party"][["owner_id", "kind", "value"]].rename(columns={"owner_id": "party_id"}),
                           acc_ids[["party_id", "kind", "value"]]])  # fmt: skip
    party_ids["person"] = party_ids["party_id"].map(person)
    party_ids = party_ids.dropna(subset=["person"])
    n = party_ids.groupby(["kind", "value"])["person"].nunique()
    shared = n[n >= min_people]
    if shared.empty:
        return None
    members = party_ids.set_index(["kind", "value"]).loc[shared.index].reset_index()
    return members, person, holders


def _party_rows(frame: pd.DataFrame, party_ids: set, accounts: set) -> np.ndarray:
    mask = np.zeros(len(frame), bool)
    for c, values in (("from_party", party_ids), ("to_party", party_ids), ("from_account", accounts), ("to_account", accounts)):
        if c in frame:
            mask |= frame[c].isin(values).to_numpy()
    return np.flatnonzero(mask)


def _shared(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    g = _groups(ctx, p["min_people"])
    if g is None:
        return make_findings(frame, [], [], [], [])
    members, _, holders = g
    subjects, evidence, scores, facts, related = [], [], [], [], []
    for (kind, value), m in members.groupby(["kind", "value"], sort=True):
        pids = set(m["party_id"])
        accounts = set(holders[holders["party_id"].isin(pids)]["account_id"])
        rows = _party_rows(frame, pids, accounts)
        if len(rows) == 0:
            continue
        n_people = m["person"].nunique()
        subjects.append(f"{kind}:{value}")
        evidence.append(rows)
        scores.append(float(margin_score(n_people, p["min_people"])) * KIND_WEIGHT.get(kind, 0.5))
        facts.append({"kind": kind, "people": n_people, "accounts": len(accounts)})
        related.append(sorted(pids | accounts))
    return make_findings(frame, subjects, evidence, scores, facts, related=related, subject_kind="identifier")


def _explain_shared(facts, params, j) -> str:
    return (
        f"Identifier {facts['subject_id']}: this {facts['kind']} is used by {facts['people']} different people "
        f"(threshold {params['min_people']}) holding {facts['accounts']} accounts, with no declared relationship in the "
        f"data. {facts['evidence_count']} transactions involve them, {facts['totals']}."
    )


register(
    Rule(
        id="ML-15",
        name="Identifier shared by several people",
        typology="shared_identifier",
        description="One phone, e-mail, address, device or document used by several otherwise distinct people.",
        source="indicators.md ML-15; FinCEN FIN-2014-A008 / FIN-2020-A008 (B); K = 3 (E); kind weights device/ID > phone/e-mail > address",
        params=(Param("min_people", int, 3, "people", 2, 10_000, "K: distinct persons on one identifier."),),
        requires=("txn_id",),
        func=_shared,
        explain=_explain_shared,
    )
)


def _controller_contacts(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    p = ctx.params
    g = _groups(ctx, p["min_people"])
    if g is None:
        return make_findings(frame, [], [], [], [])
    members, person, holders = g
    holder_of = holders.groupby("account_id")["party_id"].first()
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
        accounts = set(holders[holders["party_id"].isin(pids)]["account_id"])
        # members' payments: from a member's account, or made by a member in person (e.g. cash)
        paid = frame[(frame["from_account"].isin(accounts) | frame["from_party"].isin(pids)) & frame["to_account"].notna()]
        payer_party = paid["from_account"].map(holder_of).fillna(paid["from_party"])
        paid = paid.assign(payer=payer_party.map(person), payer_party=payer_party)
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
    Rule(
        id="HT-11",
        name="Shared contact details paying one account",
        typology="human_trafficking",
        description="Apparently unrelated people share a phone, e-mail or address and pay the same account, often the controller's.",
        source="indicators.md HT-11 (a); FinCEN FIN-2020-A008 (B): unrelated customers with the same address/phone paying the same beneficiary; K = 3 (E)",
        params=(
            Param("min_people", int, 3, "people", 2, 10_000, "K: distinct persons on one identifier."),
            Param("min_payers", int, 2, "people", 2, 10_000, "Of them, how many pay the same account."),
        ),
        requires=("to_account",),
        func=_controller_contacts,
        explain=_explain_controller_contacts,
    )
)
