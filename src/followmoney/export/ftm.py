"""FollowTheMoney entities (``pip install followmoney[ftm]``; imported only when called).

Mapping (``shared/reference/ftm.md``): parties → ``Person`` (person), ``Company``
(entity) or ``LegalEntity`` (the source does not say); accounts → ``BankAccount``;
holders → ``Ownership``; signatories and controllers → ``UnknownLink`` (FtM has no
account-signatory schema); directors → ``Directorship`` of the entity holding the
account; ``relations`` (an entity's directors, partners, owners) → ``Directorship``,
``Ownership`` or ``UnknownLink`` with the source's role code; transactions → ``Payment``; alerts → ``Note`` on their subject with FtM
``topics`` (``crime.traffick.human`` for HT/FL/HS rules, ``crime.fin`` otherwise).
Resolved clusters become one entity each.

Every entity is valid for FtM's own validator: a party without a name is named
``"Unnamed person P…"`` (its id), and a payment whose payer or beneficiary no report
identifies (a walk-in cash leg, a counterparty only named in a statement) gets a
placeholder ``LegalEntity`` (``"Holder of account …"``, the statement's counterparty
name, or ``"Unidentified cash payer"``), so no payment is skipped. Source references
(file and line, or file#XPath) travel as ``recordId`` on payments and links and as
``notes`` on parties and accounts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from followmoney import normalize as nz
from followmoney.core.bundle import Bundle
from followmoney.core.units import money_str
from followmoney.names import party_name

__all__ = ["to_ftm", "write_ftm", "ftm_available", "FTM_SCHEMA_OF_KIND"]

#: FtM schema of a party ``kind``.
FTM_SCHEMA_OF_KIND = {"person": "Person", "entity": "Company", "unknown": "LegalEntity"}

_ID_PROPS = {
    ("Person", "passport"): "passportNumber",
    ("Person", "national_id"): "idNumber",
    ("Person", "id_document"): "idNumber",
    ("Person", "tax_id"): "taxNumber",
}
_ORG_ID_PROPS = {"passport": "idNumber", "national_id": "idNumber", "id_document": "registrationNumber", "tax_id": "taxNumber"}


def ftm_available() -> bool:
    """Whether the optional ``followthemoney`` package is installed."""
    try:
        import followthemoney  # noqa: F401
    except ImportError:
        return False
    return True


def _ftm_model():
    try:
        from followthemoney import model
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("FollowTheMoney export needs the optional extra: pip install 'followmoney[ftm]'") from exc
    return model


def _unnamed(kind: str, oid: str) -> str:
    return f"Unnamed {'person' if kind == 'Person' else 'party'} {oid}"


def to_ftm(
    bundle: Bundle,
    resolution=None,
    *,
    dataset: str = "followmoney",
    counts: Counter | None = None,
    alerts: pa.Table | None = None,
) -> Iterator:
    """FollowTheMoney entities for a bundle (optional extra ``followmoney[ftm]``).

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties``, ``identifiers``, ``accounts``, ``party_accounts`` and
        ``transactions`` (``txn_id, from_account, to_account, from_party, to_party,
        amount, currency, timestamp, source_ref, counterparty_name``).
    resolution : followmoney.resolve.Resolution, optional
        When given, each cluster becomes one entity carrying the names and properties
        of all its mentions; otherwise one entity per mention.
    dataset : str, default "followmoney"
        First part of every id: ``make_id(dataset, table, local id)`` (SHA-1), so ids
        are stable across exports.
    counts : collections.Counter, optional
        Filled with entities yielded per schema, ``placeholders`` (parties made up for
        payments no report identifies) and ``skipped_payments`` (always 0; kept for
        callers that read it).
    alerts : pyarrow.Table, optional
        Alerts of the run (``alert_id, rule_id, rule_name, typology, subject_kind,
        subject_id, score, explanation``): one ``Note`` each on its subject, and the
        subject entity gets the alert's FtM topic.

    Yields
    ------
    followthemoney.proxy.EntityProxy

    Raises
    ------
    ImportError
        When ``followthemoney`` is not installed (names the extra to install).

    Notes
    -----
    Phones are exported in E.164 only (FtM silently drops national formats), via
    :func:`followmoney.normalize.normalize_phone` with the party's country as region.
    Amounts are exported as decimal strings: no float.
    """
    model = _ftm_model()
    counts = counts if counts is not None else Counter()
    counts.setdefault("skipped_payments", 0)
    cmap = resolution.cluster_map() if resolution is not None else {}
    rows = bundle.parties.to_pylist()
    owner_of = {r["party_id"]: cmap.get(r["party_id"], r["party_id"]) for r in rows}
    entities: dict[str, object] = {}
    kind_of: dict[str, str] = {}
    # one schema per resolved entity: a person anywhere makes it a Person, else an entity a Company
    schema_of: dict[str, str] = {}
    for r in rows:
        oid, want = owner_of[r["party_id"]], FTM_SCHEMA_OF_KIND.get(r["kind"], "LegalEntity")
        have = schema_of.get(oid)
        if have is None or (have == "LegalEntity" and want != "LegalEntity"):
            schema_of[oid] = want
    sources: dict[str, set] = defaultdict(set)
    for r in sorted(rows, key=lambda r: r["party_id"]):
        oid = owner_of[r["party_id"]]
        if oid not in entities:
            e = model.make_entity(schema_of[oid])
            e.make_id(dataset, "party", oid)
            entities[oid] = e
            kind_of[oid] = schema_of[oid]
        e, kind = entities[oid], kind_of[oid]
        e.add("name", party_name(r))
        if r.get("source_ref"):
            sources[oid].add(r["source_ref"])
        if kind == "Person":
            e.add("firstName", r.get("given_name"))
            e.add("lastName", r.get("family_name"))
            e.add("birthDate", r["birth_date"].isoformat() if r["birth_date"] else None)
            e.add("nationality", nz.normalize_country(r.get("nationality")))
            e.add("profession", r.get("occupation"))
        else:
            e.add("incorporationDate", r["birth_date"].isoformat() if r["birth_date"] else None)
            e.add("jurisdiction", nz.normalize_country(r.get("country")))
            e.add("sector", r.get("occupation"))
        e.add("country", nz.normalize_country(r.get("country")))
    for oid, e in entities.items():
        if not e.get("name"):
            e.add("name", _unnamed(kind_of[oid], oid))
        e.add("notes", [f"source: {s}" for s in sorted(sources[oid])])
    ids = nz.bundle_identifier_keys(bundle)
    for r in ids.to_pylist():
        if r["owner_kind"] == "account":
            continue
        oid = owner_of.get(r["owner_id"])
        if oid is None:
            continue
        e, kind = entities[oid], kind_of[oid]
        if r["kind"] in ("phone", "email"):
            e.add(r["kind"], r["key"])
        elif r["kind"] == "address":
            e.add("address", r["raw"] or r["value"])
        elif kind == "Person" and (kind, r["kind"]) in _ID_PROPS:
            e.add(_ID_PROPS[(kind, r["kind"])], r["raw"] or r["value"])
        elif kind != "Person" and r["kind"] in _ORG_ID_PROPS:
            e.add(_ORG_ID_PROPS[r["kind"]], r["raw"] or r["value"])

    accounts: dict[str, object] = {}
    for r in bundle.accounts.to_pylist():
        a = model.make_entity("BankAccount")
        a.make_id(dataset, "account", r["account_id"])
        a.add("accountNumber", r["account_number"] or r["account_id"].rpartition("/")[2])
        a.add("iban", nz.normalize_iban(r["iban"]))
        bic = nz.normalize_bic(r["institution"])
        a.add("bic" if bic else "bankName", bic or r["institution"])
        a.add("currency", r["currency"])
        a.add("country", nz.normalize_country(r["country"]))
        if r.get("source_ref"):
            a.add("notes", f"source: {r['source_ref']}")
        accounts[r["account_id"]] = a
    pa_ = bundle.party_accounts.to_pylist()
    tx_rows = bundle.transactions.to_pylist()
    for aid in [r["account_id"] for r in pa_] + [r[k] for r in tx_rows for k in ("from_account", "to_account")]:
        if aid and aid not in accounts:  # accounts only named in roles or transactions
            a = model.make_entity("BankAccount")
            a.make_id(dataset, "account", aid)
            a.add("accountNumber", aid.rpartition("/")[2])
            accounts[aid] = a

    holders: dict[str, list[str]] = defaultdict(list)
    for r in pa_:
        if r["role"] in ("holder", "beneficial_owner") and r["party_id"] in owner_of:
            holders[r["account_id"]].append(owner_of[r["party_id"]])

    def placeholder(key: str, name: str) -> str:
        if key not in entities:
            e = model.make_entity("LegalEntity")
            e.make_id(dataset, "placeholder", key)
            e.add("name", name)
            e.add("notes", "placeholder: no report identifies this party")
            entities[key] = e
            kind_of[key] = "LegalEntity"
            counts["placeholders"] += 1
        return key

    account_names = {r["account_id"]: r["name"].strip() for r in bundle.accounts.select(["account_id", "name"]).to_pylist() if r["name"] and r["name"].strip()}
    payments = []
    for r in tx_rows:
        ends = []
        for side in ("from", "to"):
            party, account = r[f"{side}_party"], r[f"{side}_account"]
            who = owner_of.get(party) if party else None
            if who is None and account:
                who = next(iter(sorted(set(holders.get(account, [])))), None)
            if who is None:
                cp = (r.get("counterparty_name") or "").strip()
                if account:
                    who = placeholder(f"account:{account}", account_names.get(account) or f"Holder of account {account.rpartition('/')[2]}")
                    if cp and cp not in entities[who].get("name"):
                        entities[who].add("alias", cp)
                elif cp:
                    who = placeholder(f"counterparty:{cp}", cp)
                else:
                    who = placeholder(f"cash:{r['txn_id']}:{side}", f"Unidentified cash {'payer' if side == 'from' else 'beneficiary'}")
            ends.append(who)
        payments.append((r, *ends))

    for oid in sorted(entities):
        counts[entities[oid].schema.name] += 1
    subject_entity = {}
    for aid, a in accounts.items():
        subject_entity[aid] = a
    for pid, oid in owner_of.items():
        subject_entity[pid] = entities[oid]
    notes = []
    if alerts is not None and alerts.num_rows:
        for r in alerts.select(["alert_id", "rule_id", "rule_name", "typology", "subject_id", "score", "explanation"]).to_pylist():
            topic = "crime.traffick.human" if r["rule_id"].startswith(("HT-", "FL-", "HS-")) else "crime.fin"
            target = subject_entity.get(r["subject_id"])
            if target is not None and target.schema.is_a("Thing") and "topics" in target.schema.properties:
                target.add("topics", topic)
            n = model.make_entity("Note")
            n.make_id(dataset, "alert", r["alert_id"])
            n.add("name", f"{r['rule_id']} {r['rule_name'] or ''}".strip())
            n.add("description", r["explanation"])
            n.add("topics", topic)
            n.add("keywords", [r["rule_id"], r["typology"]])
            n.add("summary", f"score {r['score']:.2f}; alert {r['alert_id']}")
            if target is not None:
                n.add("entity", target.id)
            notes.append(n)
    for oid in sorted(entities):
        yield entities[oid]
    for aid in sorted(accounts):
        counts["BankAccount"] += 1
        yield accounts[aid]

    seen_links = set()
    for r in sorted(pa_, key=lambda r: (r["account_id"], r["party_id"], r["role"])):
        oid = owner_of.get(r["party_id"])
        if oid is None:
            continue
        role = r["role"]
        key = (oid, r["account_id"], role)
        if key in seen_links:
            continue
        seen_links.add(key)
        org = next((h for h in sorted(set(holders[r["account_id"]])) if kind_of.get(h) != "Person"), None)
        if role in ("holder", "beneficial_owner"):
            link = model.make_entity("Ownership")
            link.add("owner", entities[oid].id)
            link.add("asset", accounts[r["account_id"]].id)
            link.add("role", "account holder" if role == "holder" else "beneficial owner")
        elif role == "director" and org is not None and org != oid:
            link = model.make_entity("Directorship")
            link.add("director", entities[oid].id)
            link.add("organization", entities[org].id)
            link.add("role", "director")
        else:
            link = model.make_entity("UnknownLink")
            link.add("subject", entities[oid].id)
            link.add("object", accounts[r["account_id"]].id)
            link.add("role", role)
        link.add("recordId", r.get("source_ref"))
        link.make_id(dataset, "party_account", *key)
        counts[link.schema.name] += 1
        yield link

    seen_rel = set()
    for r in sorted(bundle.relations.to_pylist(), key=lambda r: (r["party_id"], r["related_party_id"], r["role"])):
        org, who = owner_of.get(r["party_id"]), owner_of.get(r["related_party_id"])
        if org is None or who is None or org == who or (org, who, r["role"]) in seen_rel:
            continue
        seen_rel.add((org, who, r["role"]))
        if r["role"] in ("director", "beneficial_owner", "holder") and kind_of.get(org) != "Person":
            link = model.make_entity("Directorship" if r["role"] == "director" else "Ownership")
            if r["role"] == "director":
                link.add("director", entities[who].id)
                link.add("organization", entities[org].id)
            else:
                link.add("owner", entities[who].id)
                link.add("asset", entities[org].id)
        else:
            link = model.make_entity("UnknownLink")
            link.add("subject", entities[who].id)
            link.add("object", entities[org].id)
        link.add("role", " ".join(x for x in (r["role"].replace("_", " "), f"({r['role_code']})" if r.get("role_code") else None) if x))
        link.add("recordId", r.get("source_ref"))
        link.make_id(dataset, "relation", org, who, r["role"])
        counts[link.schema.name] += 1
        yield link

    for r, payer, payee in payments:
        pay = model.make_entity("Payment")
        pay.make_id(dataset, "transaction", r["txn_id"])
        pay.add("payer", entities[payer].id)
        pay.add("beneficiary", entities[payee].id)
        if r["from_account"] in accounts:
            pay.add("payerAccount", accounts[r["from_account"]].id)
        if r["to_account"] in accounts:
            pay.add("beneficiaryAccount", accounts[r["to_account"]].id)
        pay.add("amount", money_str(r["amount"], r["currency"]))  # in the currency's decimals
        pay.add("currency", r["currency"])
        pay.add("date", r["timestamp"].isoformat() if r["timestamp"] else None)
        pay.add("transactionNumber", r.get("source_txn_ref") or r["txn_id"])
        pay.add("purpose", r.get("description"))
        pay.add("recordId", r.get("source_ref"))
        counts["Payment"] += 1
        yield pay
    for n in notes:
        counts["Note"] += 1
        yield n


def write_ftm(bundle: Bundle, path: str | Path, resolution=None, *, dataset: str = "followmoney", alerts: pa.Table | None = None) -> dict:
    """Write :func:`to_ftm` entities as JSON lines (``ftm`` CLI, Aleph, nomenklatura).

    The file is written to a temporary sibling and renamed at the end, so a missing
    extra or a failure never leaves an empty or partial file behind.

    Parameters
    ----------
    bundle : Bundle
    path : str or Path
    resolution : followmoney.resolve.Resolution, optional
    dataset : str, default "followmoney"
    alerts : pyarrow.Table, optional
        Alerts to carry as ``Note`` entities (see :func:`to_ftm`).

    Returns
    -------
    dict of str to int
        Entities written per schema, ``placeholders`` and ``skipped_payments``.

    Raises
    ------
    ImportError
        When ``followthemoney`` is not installed (checked before anything is written).
    """
    _ftm_model()
    path = Path(path)
    counts: Counter = Counter()
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for e in to_ftm(bundle, resolution, dataset=dataset, counts=counts, alerts=alerts):
                fh.write(json.dumps(e.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return dict(counts)
