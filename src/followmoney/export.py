"""Export for other tools: GraphML / GEXF (Gephi, yEd, Cytoscape) and FollowTheMoney.

* :func:`to_graphml` and :func:`to_gexf` write any graph of :mod:`followmoney.graph`
  through networkx's writers, after turning attribute values the formats cannot hold
  into text (datetimes to ISO 8601, per-currency totals to JSON) and dropping nulls.
* :func:`to_ftm` / :func:`write_ftm` map the canonical tables to FollowTheMoney
  entities (``pip install followmoney[ftm]``; imported only when called), following
  ``shared/reference/ftm.md``: parties → Person / Company, accounts → BankAccount,
  holders → Ownership, signatories and controllers → UnknownLink (FtM has no
  account-signatory schema), directors → Directorship of the entity holding the
  account, transactions → Payment. Resolved clusters become one entity each.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import networkx as nx
import pyarrow as pa

from followmoney import normalize as nz
from followmoney.core.bundle import Bundle
from followmoney.core.units import MONEY_DECIMALS as MONEY_SCALE_DIGITS
from followmoney.core.units import money_str

__all__ = [
    "to_graphml",
    "to_gexf",
    "to_ftm",
    "write_ftm",
    "graph_for_export",
    "analyst_table",
    "to_excel",
    "to_i2",
    "money_as_text",
    "ALERT_COLUMNS",
    "CASE_COLUMNS",
]


def _scalar(value):
    if value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple | set):
        return json.dumps(sorted(value) if isinstance(value, set) else value, sort_keys=True, default=str, ensure_ascii=False)
    return str(value)


def graph_for_export(G: nx.Graph) -> nx.Graph:
    """A copy of ``G`` whose attributes GraphML and GEXF can store.

    Datetimes become ISO 8601 strings, dicts and lists JSON strings, ``None`` values
    are dropped; node ids and edge keys become strings. Graph-level objects (e.g. the
    Arrow edge table of a compact graph) are left out.

    Parameters
    ----------
    G : networkx graph

    Returns
    -------
    networkx graph
        Same class as ``G``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("A", "B", "t1", timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc), totals={"EUR": 5}, x=None)
    >>> graph_for_export(G).edges["A", "B", "t1"]
    {'timestamp': '2024-01-01T00:00:00+00:00', 'totals': '{"EUR": 5}'}
    """
    H = G.__class__()
    H.graph.update({k: v for k, v in ((k, _scalar(v)) for k, v in G.graph.items() if not isinstance(v, pa.Table)) if v is not None})
    H.add_nodes_from((str(n), {k: s for k, v in d.items() if (s := _scalar(v)) is not None}) for n, d in G.nodes(data=True))
    if G.is_multigraph():
        H.add_edges_from(
            (str(u), str(v), str(k), {a: s for a, x in d.items() if (s := _scalar(x)) is not None})
            for u, v, k, d in G.edges(keys=True, data=True)
        )
    else:
        H.add_edges_from(
            (str(u), str(v), {a: s for a, x in d.items() if (s := _scalar(x)) is not None}) for u, v, d in G.edges(data=True)
        )
    return H


def to_graphml(G: nx.Graph, path: str | Path) -> Path:
    """Write ``G`` as GraphML (yEd, Cytoscape, Gephi, Neo4j import).

    Parameters
    ----------
    G : networkx graph
        E.g. :func:`followmoney.graph.entity_graph`, ``flow_graph``,
        ``neighbourhood``.
    path : str or Path

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import followmoney as fm, tempfile, os
    >>> from followmoney.graph import flow_graph
    >>> p = to_graphml(flow_graph(fm.read(fm.sample_data_path() / "goaml")), os.path.join(tempfile.mkdtemp(), "f.graphml"))
    >>> nx.read_graphml(p).number_of_edges() > 0
    True
    """
    path = Path(path)
    nx.write_graphml(graph_for_export(G), path)
    return path


def to_gexf(G: nx.Graph, path: str | Path) -> Path:
    """Write ``G`` as GEXF 1.2 (Gephi).

    Parameters
    ----------
    G : networkx graph
    path : str or Path

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    H = graph_for_export(G)
    for _, d in H.nodes(data=True):
        if "label" not in d:
            d["label"] = str(d.get("name") or d.get("value") or "")
    nx.write_gexf(H, path)
    return path


# --------------------------------------------------------------------------- FtM
def _ftm_model():
    try:
        from followthemoney import model
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("FollowTheMoney export needs the optional extra: pip install 'followmoney[ftm]'") from exc
    return model


_ID_PROPS = {
    ("person", "passport"): "passportNumber",
    ("person", "national_id"): "idNumber",
    ("person", "id_document"): "idNumber",
    ("person", "tax_id"): "taxNumber",
    ("entity", "passport"): "idNumber",
    ("entity", "national_id"): "idNumber",
    ("entity", "id_document"): "registrationNumber",
    ("entity", "tax_id"): "taxNumber",
}


def to_ftm(bundle: Bundle, resolution=None, *, dataset: str = "followmoney", counts: Counter | None = None) -> Iterator:
    """FollowTheMoney entities for a bundle (optional extra ``followmoney[ftm]``).

    Parameters
    ----------
    bundle : Bundle
        Uses ``parties``, ``identifiers``, ``accounts``, ``party_accounts`` and
        ``transactions``.
    resolution : followmoney.resolve.Resolution, optional
        When given, each cluster becomes one Person/Company carrying the names and
        properties of all its mentions; otherwise one entity per mention.
    dataset : str, default "followmoney"
        First part of every id: ``make_id(dataset, table, local id)`` (SHA-1), so ids
        are stable across exports.
    counts : collections.Counter, optional
        Filled with entities yielded per schema and ``skipped_payments`` (transactions
        without a known payer or beneficiary party, e.g. anonymous cash legs: FtM's
        Payment requires both).

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
    cmap = resolution.cluster_map() if resolution is not None else {}
    p = bundle.parties
    rows = p.to_pylist()
    owner_of = {r["party_id"]: cmap.get(r["party_id"], r["party_id"]) for r in rows}
    entities: dict[str, object] = {}
    kind_of: dict[str, str] = {}
    for r in sorted(rows, key=lambda r: r["party_id"]):
        oid = owner_of[r["party_id"]]
        kind = "person" if r["kind"] == "person" else "entity"
        if oid not in entities:
            e = model.make_entity("Person" if kind == "person" else "Company")
            e.make_id(dataset, "party", oid)
            entities[oid] = e
            kind_of[oid] = kind
        e = entities[oid]
        e.add("name", r["name"] or " ".join(x for x in (r.get("given_name"), r.get("family_name")) if x) or None)
        if kind == "person":
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
    ids = nz.bundle_identifier_keys(bundle)
    account_props: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in ids.to_pylist():
        if r["owner_kind"] == "account":
            if r["kind"] in ("phone", "email") and r["key"]:
                account_props[r["owner_id"]].append((r["kind"], r["key"]))
            continue
        oid = owner_of.get(r["owner_id"])
        if oid is None:
            continue
        e, kind = entities[oid], kind_of[oid]
        if r["kind"] in ("phone", "email"):
            e.add(r["kind"], r["key"])
        elif r["kind"] == "address":
            e.add("address", r["raw"] or r["value"])
        elif (kind, r["kind"]) in _ID_PROPS:
            e.add(_ID_PROPS[(kind, r["kind"])], r["raw"] or r["value"])
    for oid in sorted(entities):
        counts[entities[oid].schema.name] += 1
        yield entities[oid]

    accounts: dict[str, object] = {}
    for r in bundle.accounts.to_pylist():
        a = model.make_entity("BankAccount")
        a.make_id(dataset, "account", r["account_id"])
        a.add("accountNumber", r["account_number"])
        a.add("iban", nz.normalize_iban(r["iban"]))
        bic = nz.normalize_bic(r["institution"])
        a.add("bic" if bic else "bankName", bic or r["institution"])
        a.add("currency", r["currency"])
        a.add("country", nz.normalize_country(r["country"]))
        accounts[r["account_id"]] = a
    pa_ = bundle.party_accounts.to_pylist()
    for r in pa_:  # accounts only named in roles
        if r["account_id"] not in accounts:
            a = model.make_entity("BankAccount")
            a.make_id(dataset, "account", r["account_id"])
            a.add("accountNumber", r["account_id"].rpartition("/")[2])
            accounts[r["account_id"]] = a
    for aid in sorted(accounts):
        counts["BankAccount"] += 1
        yield accounts[aid]

    holders: dict[str, list[str]] = defaultdict(list)
    for r in pa_:
        if r["role"] in ("holder", "beneficial_owner") and r["party_id"] in owner_of:
            holders[r["account_id"]].append(owner_of[r["party_id"]])
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
        org = next((h for h in sorted(set(holders[r["account_id"]])) if kind_of.get(h) == "entity"), None)
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
        link.make_id(dataset, "party_account", *key)
        counts[link.schema.name] += 1
        yield link

    tx = bundle.transactions
    for r in tx.to_pylist():
        payer = owner_of.get(r["from_party"]) or next(iter(sorted(set(holders.get(r["from_account"], [])))), None)
        payee = owner_of.get(r["to_party"]) or next(iter(sorted(set(holders.get(r["to_account"], [])))), None)
        if payer is None or payee is None:
            counts["skipped_payments"] += 1
            continue
        pay = model.make_entity("Payment")
        pay.make_id(dataset, "transaction", r["txn_id"])
        pay.add("payer", entities[payer].id)
        pay.add("beneficiary", entities[payee].id)
        if r["from_account"] in accounts:
            pay.add("payerAccount", accounts[r["from_account"]].id)
        if r["to_account"] in accounts:
            pay.add("beneficiaryAccount", accounts[r["to_account"]].id)
        pay.add("amount", str(r["amount"]) if r["amount"] is not None else None)
        pay.add("currency", r["currency"])
        pay.add("date", r["timestamp"].isoformat() if r["timestamp"] else None)
        pay.add("transactionNumber", r.get("source_txn_ref") or r["txn_id"])
        pay.add("purpose", r.get("description"))
        counts["Payment"] += 1
        yield pay


def write_ftm(bundle: Bundle, path: str | Path, resolution=None, *, dataset: str = "followmoney") -> dict:
    """Write :func:`to_ftm` entities as JSON lines (``ftm`` CLI, Aleph, nomenklatura).

    Parameters
    ----------
    bundle : Bundle
    path : str or Path
    resolution : followmoney.resolve.Resolution, optional
    dataset : str, default "followmoney"

    Returns
    -------
    dict of str to int
        Entities written per schema, and ``skipped_payments``.

    Raises
    ------
    ImportError
        When ``followthemoney`` is not installed.
    """
    counts: Counter = Counter()
    with Path(path).open("w", encoding="utf-8") as fh:
        for e in to_ftm(bundle, resolution, dataset=dataset, counts=counts):
            fh.write(json.dumps(e.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
    return dict(counts)


# --------------------------------------------------------------------------- analyst tables
#: Analyst-facing column names for alerts and cases (CSV / Excel).
ALERT_COLUMNS = {
    "alert_id": "Alert ID",
    "rule_id": "Rule",
    "rule_name": "Rule name",
    "typology": "Typology",
    "subject_kind": "Subject type",
    "subject_id": "Subject",
    "subject_role": "Likely role",
    "score": "Score (0-1)",
    "severity": "Severity",
    "window_start": "From (UTC)",
    "window_end": "To (UTC)",
    "amount_total": "Amount",
    "currency": "Currency",
    "evidence_count": "Evidence transactions",
    "explanation": "Why",
    "evidence_source_refs": "Where in the source files",
    "related_subject_ids": "Linked subjects",
    "params": "Thresholds used",
    "run_id": "Run",
}
CASE_COLUMNS = {
    "case_id": "Case ID",
    "subject_kind": "Subject type",
    "subject_id": "Subject",
    "role": "Likely role",
    "band": "Priority",
    "risk_score": "Risk score (0-1)",
    "human_trafficking": "Trafficking indicators",
    "rules": "Rules hit",
    "n_alerts": "Alerts",
    "evidence_count": "Evidence transactions",
    "window_start": "From (UTC)",
    "window_end": "To (UTC)",
    "controls": "Appears to control",
    "controlled_by": "Likely controlled by",
    "summary": "Summary",
}


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value):
    """``value`` made inert for spreadsheets: text beginning like a formula gets a leading ``'``.

    Applied to every text cell of every CSV followmoney writes (alerts, cases, i2, trace),
    so that opening the file in Excel or LibreOffice never evaluates data as a formula.
    Non-text values are returned unchanged.

    Examples
    --------
    >>> defuse("=HYPERLINK(1)"), defuse("-50"), defuse("Ali"), defuse(3)
    ("'=HYPERLINK(1)", "'-50", 'Ali', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def defuse_frame(df):
    """Copy of a pandas DataFrame with :func:`defuse` applied to every text cell."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object or str(df[c].dtype).startswith("str"):
            df[c] = df[c].map(defuse)
    return df


def defuse_table(table: pa.Table) -> pa.Table:
    """A pyarrow table with :func:`defuse` applied to every string column (for CSV writers).

    Examples
    --------
    >>> defuse_table(pa.table({"a": ["=1+1", "ok", None]}))["a"].to_pylist()
    ["'=1+1", 'ok', None]
    """
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            col = table.column(i)
            risky = pc.match_substring_regex(col, r"^[=+\-@\t\r]")
            fixed = pc.if_else(pc.fill_null(risky, False), pc.binary_join_element_wise("'", col, ""), col)
            table = table.set_column(i, field.name, fixed.cast(field.type))
    return table


#: Money column -> the currency column beside it (every other money column: ``currency``).
MONEY_CURRENCY = {
    "amount_local": "currency_local",
    "amount_received": "currency_received",
    "instructed_amount": "instructed_currency",
}


def money_as_text(table: pa.Table) -> pa.Table:
    """Money columns as plain decimal text with exactly their currency's ISO 4217 decimals.

    The canonical money type keeps three decimals (for KWD, BHD, ...); written files show
    each amount as its currency writes it: ``12.50`` EUR, ``1250.125`` KWD, ``1500`` JPY.
    A column without a currency beside it keeps all three decimals.

    Examples
    --------
    >>> from decimal import Decimal
    >>> from followmoney.core import schema
    >>> t = pa.table({"amount_total": pa.array([Decimal("12.5"), Decimal("1250.125"), Decimal("1500"), None], schema.MONEY),
    ...               "currency": ["EUR", "KWD", "JPY", "EUR"]})
    >>> money_as_text(t)["amount_total"].to_pylist()
    ['12.50', '1250.125', '1500', None]
    """
    for i, field in enumerate(table.schema):
        if not pa.types.is_decimal(field.type) or field.type.scale != MONEY_SCALE_DIGITS:
            continue
        ccy_col = MONEY_CURRENCY.get(field.name, "currency")
        if ccy_col not in table.column_names:
            continue
        text = [money_str(v, c) for v, c in zip(table.column(i).to_pylist(), table[ccy_col].to_pylist())]
        table = table.set_column(i, field.name, pa.array(text, pa.string()))
    return table


def analyst_table(table: pa.Table, columns: dict[str, str]):
    """``table`` with analyst-friendly column names, lists joined with ``; ``, times as naive UTC.

    Parameters
    ----------
    table : pyarrow.Table
        Alerts or cases.
    columns : dict
        Column → heading (:data:`ALERT_COLUMNS`, :data:`CASE_COLUMNS`); columns not
        listed are left out, listed columns absent from ``table`` are skipped.

    Returns
    -------
    pandas.DataFrame
        Money stays exact (``Decimal``); timestamps are naive UTC (Excel has no zones).
    """
    keep = [c for c in columns if c in table.column_names]
    return _sheet(table.select(keep)).rename(columns=columns)


def _sheet(table: pa.Table):
    """A table as a DataFrame Excel can hold: lists joined with ``; ``, naive UTC times."""
    import pandas as pd

    df = table.to_pandas()
    for field in table.schema:
        c = field.name
        if pa.types.is_list(field.type):
            df[c] = df[c].map(lambda v: "; ".join(map(str, v)) if v is not None else "")
        elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
            df[c] = pd.to_datetime(df[c], utc=True).dt.tz_localize(None)
    return df


def to_excel(path: str | Path, *, cases: pa.Table | None = None, alerts: pa.Table | None = None, transactions: pa.Table | None = None) -> Path:
    """Write cases, alerts and (optionally) transactions to one Excel workbook, a sheet each.

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` file to write.
    cases, alerts, transactions : pyarrow.Table, optional
        Sheets ``Cases``, ``Alerts`` and ``Transactions`` (canonical columns).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> alerts = fm.score(b, fm.Config(jurisdiction="AE"))
    >>> p = to_excel(Path(tempfile.mkdtemp()) / "cases.xlsx", cases=fm.build_cases(alerts), alerts=alerts)
    >>> import openpyxl; openpyxl.load_workbook(p).sheetnames
    ['Cases', 'Alerts']
    """
    import pandas as pd

    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        if cases is not None:
            analyst_table(cases, CASE_COLUMNS).to_excel(xw, sheet_name="Cases", index=False)
        if alerts is not None:
            analyst_table(alerts, ALERT_COLUMNS).to_excel(xw, sheet_name="Alerts", index=False)
        if transactions is not None:
            _sheet(transactions).to_excel(xw, sheet_name="Transactions", index=False)
        for ws in xw.book.worksheets:  # data is never a formula: text beginning "=" stays text
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
    return path


def to_i2(bundle: Bundle, directory: str | Path, *, resolution=None) -> dict[str, Path]:
    """Write entities and links as two CSV files that i2 Analyst's Notebook imports.

    ``entities.csv``: one row per account, resolved person/entity (cluster) and
    identifier, with ``Entity ID``, ``Entity Type`` (Account, Person, Organisation,
    Phone, Email, Address, Identity Document), ``Label`` and ``Description``.
    ``links.csv``: ``From ID``, ``To ID``, ``Link Type`` (Transfer with date, amount and
    currency; Holder, Signatory, Director, ...; Uses), ``Date (UTC)``, ``Amount``,
    ``Currency``, ``Reference`` (the source file and place). Map the columns once in
    i2's import specification (one entity sheet, one link sheet).

    Parameters
    ----------
    bundle : Bundle
    directory : str or Path
        Created if missing.
    resolution : followmoney.resolve.Resolution, optional
        Mentions of one person become one entity; default: resolved here.

    Returns
    -------
    dict
        ``{"entities": Path, "links": Path}``.
    """
    import pandas as pd

    from followmoney.resolve import resolve

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    res = resolution if resolution is not None else resolve(bundle)
    clusters = dict(zip(res.party_clusters["party_id"].to_pylist(), res.party_clusters["cluster_id"].to_pylist()))
    parties = bundle.parties.to_pandas()
    parties["entity"] = parties["party_id"].map(clusters).fillna(parties["party_id"])
    people = parties.sort_values("party_id").groupby("entity", as_index=False).agg(
        kind=("kind", "first"), name=("name", "first"), mentions=("party_id", "count")
    )
    ents = [pd.DataFrame({"Entity ID": people["entity"], "Entity Type": people["kind"].map({"person": "Person", "entity": "Organisation"}).fillna("Person"),
                          "Label": people["name"].fillna(people["entity"]), "Description": people["mentions"].map(lambda n: f"{n} mention(s) in reports")})]  # fmt: skip
    acc = bundle.accounts.to_pandas()
    ents.append(pd.DataFrame({"Entity ID": acc["account_id"], "Entity Type": "Account", "Label": acc["account_id"],
                              "Description": acc["institution"].fillna("").map(lambda i: f"held at {i}" if i else "")}))  # fmt: skip
    ids = bundle.identifiers.to_pandas()
    kinds = {"phone": "Phone", "email": "Email", "address": "Address"}
    ids["node"] = "id:" + ids["kind"] + ":" + ids["value"]
    uniq = ids.drop_duplicates("node")
    ents.append(pd.DataFrame({"Entity ID": uniq["node"], "Entity Type": uniq["kind"].map(kinds).fillna("Identity Document"),
                              "Label": uniq["value"], "Description": uniq["kind"]}))  # fmt: skip
    entities = pd.concat(ents, ignore_index=True).drop_duplicates("Entity ID")
    tx = bundle.transactions.to_pandas()
    src = tx["from_account"].fillna(tx["from_party"].map(clusters).fillna(tx["from_party"]))
    dst = tx["to_account"].fillna(tx["to_party"].map(clusters).fillna(tx["to_party"]))
    ok = src.notna() & dst.notna()
    links = [pd.DataFrame({"From ID": src[ok], "To ID": dst[ok], "Link Type": "Transfer",
                           "Date (UTC)": tx.loc[ok, "timestamp"].dt.tz_convert("UTC").dt.tz_localize(None),
                           "Amount": [money_str(v, c) for v, c in zip(tx.loc[ok, "amount"], tx.loc[ok, "currency"])],
                           "Currency": tx.loc[ok, "currency"], "Reference": tx.loc[ok, "source_ref"]})]  # fmt: skip
    pa_ = bundle.party_accounts.to_pandas()
    links.append(pd.DataFrame({"From ID": pa_["party_id"].map(clusters).fillna(pa_["party_id"]), "To ID": pa_["account_id"],
                               "Link Type": pa_["role"].str.replace("_", " ").str.title(), "Reference": pa_["source_ref"]}))  # fmt: skip
    owner = ids["owner_id"].where(ids["owner_kind"] != "party", ids["owner_id"].map(clusters).fillna(ids["owner_id"]))
    links.append(pd.DataFrame({"From ID": owner, "To ID": ids["node"], "Link Type": "Uses", "Reference": ids["source_ref"]}))
    links = pd.concat(links, ignore_index=True).drop_duplicates()
    out = {"entities": directory / "entities.csv", "links": directory / "links.csv"}
    defuse_frame(entities).to_csv(out["entities"], index=False)
    defuse_frame(links).to_csv(out["links"], index=False)
    return out
