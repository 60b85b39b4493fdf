"""i2 Analyst's Notebook import files: one entity sheet and one entity–link–entity sheet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from followmoney.core.bundle import Bundle
from followmoney.core.units import money_str
from followmoney.export._safe import defuse_frame
from followmoney.graph import case_nodes

__all__ = ["to_i2", "I2_ENTITY_COLUMNS", "I2_LINK_COLUMNS"]

#: Columns of ``entities.csv``.
I2_ENTITY_COLUMNS = ["Entity ID", "Entity Type", "Label", "Name", "Also written as", "Description",
                     "Case ID", "Risk score", "Band", "Role"]  # fmt: skip
#: Columns of ``links.csv``: each row is entity – link – entity, so i2's import
#: specification maps both ends (identity, type, label) and the link from one sheet.
I2_LINK_COLUMNS = ["From ID", "From Type", "From Label", "Link Type", "To ID", "To Type", "To Label",
                   "Date", "Time", "Amount", "Currency", "Reference"]  # fmt: skip
_KIND_TYPE = {"person": "Person", "entity": "Organisation", "unknown": "Person or Organisation"}
_ID_TYPE = {"phone": "Phone", "email": "Email", "address": "Address", "device": "Device", "ip": "IP Address"}


def to_i2(bundle: Bundle, directory: str | Path, *, resolution=None, names=None, cases: pa.Table | None = None) -> dict[str, Path]:
    """Write entities and links as two CSV files that i2 Analyst's Notebook imports in one pass.

    ``entities.csv`` (:data:`I2_ENTITY_COLUMNS`): one row per resolved person or
    organisation, account and identifier, with ``Entity Type`` (Person,
    Organisation, Account, Phone, Email, Address, Identity Document, ...), ``Label``
    (the name; accounts: holder name and account number; never an internal id
    where a source names it), the spellings seen, and for case subjects the case id,
    risk score, band and likely role.

    ``links.csv`` (:data:`I2_LINK_COLUMNS`): one row per link with both ends' id,
    type and label (i2's entity–link–entity layout), ``Link Type`` (Transfer; Holder,
    Signatory, Director, ... of an account; Director, Partner, ... of an entity, with the
    source's role code; Uses), ``Date`` always ``YYYY-MM-DD`` and ``Time``
    always ``HH:MM:SS`` (UTC; empty for links without a time), ``Amount`` as exact
    decimal text with the currency's ISO 4217 decimals in ``Currency``, and ``Reference`` (source file and
    line, or file#XPath). Files are UTF-8 with a byte-order mark (what Excel and i2
    expect for non-ASCII names); every text cell is defused against formulas.

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties``, ``accounts``, ``party_accounts``, ``relations``, ``identifiers`` and
        ``transactions`` (``from_account, to_account, from_party, to_party,
        timestamp, amount, currency, source_ref``).
    directory : str or Path
        Created if missing.
    resolution : followmoney.resolve.Resolution, optional
        Mentions of one person become one entity; default: resolved here.
    names : followmoney.names.Names, optional
        Built from ``bundle`` and ``resolution`` when None.
    cases : pyarrow.Table, optional
        Cases of the run: their subjects get case id, risk score, band and role.

    Returns
    -------
    dict
        ``{"entities": Path, "links": Path}``.

    Examples
    --------
    >>> import followmoney as fm, tempfile, pandas as pd
    >>> out = to_i2(fm.read(fm.sample_data_path() / "goaml"), tempfile.mkdtemp())
    >>> links = pd.read_csv(out["links"], dtype=str, encoding="utf-8-sig")
    >>> bool(links["Date"].dropna().str.fullmatch(r"\\d{4}-\\d\\d-\\d\\d").all())
    True
    """
    import pandas as pd

    from followmoney.names import display_names
    from followmoney.resolve import resolve

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    res = resolution if resolution is not None else resolve(bundle)
    names = names if names is not None else display_names(bundle, res)
    clusters = res.cluster_map()
    ent: dict[str, dict] = {}

    def entity(eid: str, etype: str, label: str, description: str = "", name=None) -> str:
        if eid not in ent:
            ent[eid] = {"Entity ID": eid, "Entity Type": etype, "Label": label or eid, "Name": name,
                        "Also written as": "; ".join(names.variants.get(eid, [])[1:]) or None, "Description": description}  # fmt: skip
        return eid

    mentions: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for pid, kind in zip(bundle.parties["party_id"].to_pylist(), bundle.parties["kind"].to_pylist()):
        cid = clusters.get(pid, pid)
        mentions[cid] = mentions.get(cid, 0) + 1
        if kinds.get(cid) in (None, "unknown"):
            kinds[cid] = kind or "unknown"
    for cid in sorted(mentions):
        n = mentions[cid]
        entity(cid, _KIND_TYPE.get(kinds[cid], "Person or Organisation"), names.label(cid),
               f"{n} mention(s) in reports", names.name(cid))  # fmt: skip
    for aid, inst in zip(bundle.accounts["account_id"].to_pylist(), bundle.accounts["institution"].to_pylist()):
        entity(aid, "Account", names.label(aid), f"held at {inst}" if inst else "", names.name(aid))

    def end(x_account, x_party) -> str | None:
        if x_account:
            return x_account if x_account in ent else entity(x_account, "Account", names.label(x_account), "", names.name(x_account))
        if x_party:
            cid = clusters.get(x_party, x_party)
            return cid if cid in ent else entity(cid, "Person or Organisation", names.label(cid), "", names.name(cid))
        return None

    links = []
    tx = bundle.transactions.select(["from_account", "from_party", "to_account", "to_party", "timestamp", "amount",
                                     "currency", "source_ref"]).to_pylist()  # fmt: skip
    unidentified = 0
    for r in tx:
        s, t = end(r["from_account"], r["from_party"]), end(r["to_account"], r["to_party"])
        if s is None:
            unidentified += 1
            s = entity("cash:unidentified", "Cash", "Unidentified cash", "walk-in cash: no report identifies this party")
        if t is None:
            unidentified += 1
            t = entity("cash:unidentified", "Cash", "Unidentified cash", "walk-in cash: no report identifies this party")
        ts = r["timestamp"]
        if ts is not None and ts.tzinfo is not None:
            from datetime import timezone

            ts = ts.astimezone(timezone.utc)
        links.append({"From ID": s, "To ID": t, "Link Type": "Transfer",
                      "Date": ts.strftime("%Y-%m-%d") if ts else None, "Time": ts.strftime("%H:%M:%S") if ts else None,
                      "Amount": money_str(r["amount"], r["currency"]), "Currency": r["currency"],
                      "Reference": r["source_ref"]})  # fmt: skip
    pa_ = bundle.party_accounts.to_pylist()
    for r in pa_:
        s = end(None, r["party_id"])
        t = end(r["account_id"], None)
        links.append({"From ID": s, "To ID": t, "Link Type": (r["role"] or "other").replace("_", " ").title(), "Reference": r["source_ref"]})
    for r in bundle.relations.to_pylist():
        links.append({"From ID": end(None, r["related_party_id"]), "To ID": end(None, r["party_id"]),
                      "Link Type": (r["role"] or "other").replace("_", " ").title() + (f" ({r['role_code']})" if r.get("role_code") else ""),
                      "Reference": r["source_ref"]})  # fmt: skip
    kinds_of_id = {}
    for r in bundle.identifiers.to_pylist():
        node = f"id:{r['kind']}:{r['value']}"
        kinds_of_id[node] = r["kind"]
        entity(node, _ID_TYPE.get(r["kind"], "Identity Document"), r["value"], r["kind"].replace("_", " "))
        owner = end(None, r["owner_id"]) if r["owner_kind"] == "party" else end(r["owner_id"], None)
        links.append({"From ID": owner, "To ID": node, "Link Type": "Uses", "Reference": r["source_ref"]})
    if cases is not None:
        for eid, r in case_nodes(cases, clusters).items():
            if eid in ent:
                ent[eid].update({"Case ID": r["case_id"], "Risk score": f"{r['risk_score']:.2f}", "Band": r["band"],
                                 "Role": r["role"].replace("_", " ")})  # fmt: skip
    entities = pd.DataFrame(list(ent.values()), columns=I2_ENTITY_COLUMNS)
    links = pd.DataFrame(links)
    etype = dict(zip(entities["Entity ID"], entities["Entity Type"]))
    elabel = dict(zip(entities["Entity ID"], entities["Label"]))
    links["From Type"], links["From Label"] = links["From ID"].map(etype), links["From ID"].map(elabel)
    links["To Type"], links["To Label"] = links["To ID"].map(etype), links["To ID"].map(elabel)
    links = links.reindex(columns=I2_LINK_COLUMNS).drop_duplicates()
    roles = links["Link Type"] != "Transfer"  # one role link per pair and type, all its source references
    merged = links[roles].groupby(["From ID", "Link Type", "To ID"], as_index=False, sort=False).agg(
        {**{c: "first" for c in I2_LINK_COLUMNS if c not in ("From ID", "Link Type", "To ID", "Reference")},
         "Reference": lambda r: "; ".join(dict.fromkeys(x for x in r if isinstance(x, str)))}
    )  # fmt: skip
    links = pd.concat([links[~roles], merged], ignore_index=True).reindex(columns=I2_LINK_COLUMNS)
    out = {"entities": directory / "entities.csv", "links": directory / "links.csv"}
    defuse_frame(entities.astype(object)).to_csv(out["entities"], index=False, encoding="utf-8-sig")
    defuse_frame(links.astype(object)).to_csv(out["links"], index=False, encoding="utf-8-sig")
    return out
