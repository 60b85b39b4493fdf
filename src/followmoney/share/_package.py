"""Disclosure packages: a case carried to a partner FIU, and read back as a source."""

from __future__ import annotations

import hashlib
import html
import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.units import money_str
from followmoney.ingest.fm_package import (  # reading a package is ingestion
    _MANIFEST,
    PACKAGE_FORMAT,
    PackageContents,
    _sha,
    open_package,
    package_bundle,
)
from followmoney.share._errors import ShareError

__all__ = ["REDACTION_LEVELS", "PACKAGE_KINDS", "DEFAULT_CAVEATS", "PACKAGE_SUFFIX", "PackageContents",
           "disclosure_package", "open_package", "package_bundle", "trail_origins", "trail_html",
           "combined_evidence_pack"]

#: File name suffix of a disclosure package (a zip archive).
PACKAGE_SUFFIX = ".fmpkg"
#: Redaction levels, chosen by the sender, each including the one before:
#: ``identifiers`` (subjects, their accounts and identifiers), ``transactions`` (+ the
#: case's transactions, the money trail, alerts with explanations, counterparty accounts
#: without names), ``full`` (+ counterparties' names and identifiers, report narratives,
#: evidence packs).
REDACTION_LEVELS = ("identifiers", "transactions", "full")
#: Egmont Principles for Information Exchange (2013) distinguish spontaneous disclosures
#: from requests; both travel over ESW or FIU.net.
PACKAGE_KINDS = ("spontaneous_disclosure", "request_for_information", "reply")
#: Handling caveats written into every package unless the sender gives others (after the
#: Egmont Group's Principles for Information Exchange between FIUs, 2013: use for analysis,
#: no onward dissemination without the sender's prior consent, confidentiality).
DEFAULT_CAVEATS = (
    "Financial intelligence for the recipient FIU's analysis only; not evidence for court.",
    "No onward dissemination to any other authority without the sender's prior consent.",
    "Personal data under the GDPR / the Law Enforcement Directive (EU) 2016/680: protect and delete accordingly.",
    "Do not contact the subjects or the reporting entities on the basis of this package.",
)


def _in(col, values) -> pa.Array:
    return pc.fill_null(pc.is_in(col, value_set=pa.array(sorted(values), pa.string())), False)


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def disclosure_package(
    bundle: Bundle,
    subjects,
    path,
    *,
    sender: str,
    recipient: str,
    purpose: str,
    kind: str = "spontaneous_disclosure",
    redaction: str = "transactions",
    alerts: pa.Table | None = None,
    caveats=DEFAULT_CAVEATS,
    trace_method: str = "libr",
    reference: str | None = None,
) -> Path:
    """Write a self-contained disclosure package of a case for a partner FIU.

    Parameters
    ----------
    bundle : followmoney.Bundle
        The sender's data (all canonical tables; ``load_log.sha256`` names the inputs).
    subjects : iterable of str
        The case: ``party_id`` and/or ``account_id`` values.
    path : str or Path
        The package to write (a zip archive; suffix :data:`PACKAGE_SUFFIX` by convention).
    sender, recipient : str
        The two FIUs.
    purpose : str
        Why the package is sent (stated in the manifest and shown on import).
    kind : str, default "spontaneous_disclosure"
        One of :data:`PACKAGE_KINDS`.
    redaction : str, default "transactions"
        One of :data:`REDACTION_LEVELS`.
    alerts : pyarrow.Table, optional
        The sender's alerts (schema ``alerts``); those on the case's subjects and accounts
        travel with their explanations (levels ``transactions`` and ``full``), and at level
        ``full`` each alerted subject's evidence pack (HTML).
    caveats : sequence of str, default :data:`DEFAULT_CAVEATS`
    trace_method : str, default "libr"
        Allocation rule of the money trail (:mod:`followmoney.trace`): a forward trace of
        every case account that pays out; its hops travel as ``trace_hops.parquet`` and
        their transactions with the package.
    reference : str, optional
        The sender's case or request reference.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ShareError
        Unknown subject, redaction level or kind.

    Notes
    -----
    ``manifest.json`` holds the format, sender, recipient, kind, purpose, caveats,
    redaction, creation time (UTC), row counts, the SHA-256 of every file in the package
    and the SHA-256 of the sender's input files. The reader checks every hash.
    """
    from followmoney._version import __version__
    from followmoney import trace

    if redaction not in REDACTION_LEVELS:
        raise ShareError(f"redaction {redaction!r}: use one of {', '.join(REDACTION_LEVELS)}")
    if kind not in PACKAGE_KINDS:
        raise ShareError(f"package kind {kind!r}: use one of {', '.join(PACKAGE_KINDS)}")
    subjects = list(dict.fromkeys(subjects))
    party_ids = set(bundle.parties["party_id"].to_pylist())
    account_ids = set(bundle.accounts["account_id"].to_pylist())
    for s in subjects:
        if s not in party_ids and s not in account_ids:
            raise ShareError(f"subject {s!r} is neither a party_id nor an account_id of the data")
    pa_ = bundle.party_accounts
    links = list(zip(pa_["party_id"].to_pylist(), pa_["account_id"].to_pylist()))
    parties = {s for s in subjects if s in party_ids}
    accounts = {s for s in subjects if s in account_ids}
    accounts |= {a for p, a in links if p in parties}
    parties |= {p for p, a in links if a in accounts}
    files: dict[str, bytes] = {}
    tx = schema.empty("transactions")
    hops = None
    alerts_out = None
    if redaction != "identifiers":
        t = bundle.transactions
        touching = pc.or_(_in(t["from_account"], accounts), _in(t["to_account"], accounts))
        hop_ids: set[str] = set()
        hop_tables = []
        payers = set(t.filter(_in(t["from_account"], accounts))["from_account"].to_pylist())
        for acct in sorted(payers):
            r = trace.forward(bundle, acct, method=trace_method)
            h = r.hops.append_column("trace_start", pa.array([acct] * r.hops.num_rows, pa.string()))
            hop_tables.append(h)
            hop_ids |= set(h["txn_id"].to_pylist())
        if hop_tables:
            hops = pa.concat_tables(hop_tables)
        tx = t.filter(pc.or_(touching, _in(t["txn_id"], hop_ids)))
        accounts |= {a for a in tx["from_account"].to_pylist() + tx["to_account"].to_pylist() if a}
        if alerts is not None:
            alerts_out = alerts.filter(_in(alerts["subject_id"], set(subjects) | parties | accounts))
    if redaction == "full":
        parties |= {p for p in tx["from_party"].to_pylist() + tx["to_party"].to_pylist() if p}
        parties |= {p for p, a in links if a in accounts}
    tables = {
        "parties": bundle.parties.filter(_in(bundle.parties["party_id"], parties)),
        "accounts": bundle.accounts.filter(_in(bundle.accounts["account_id"], accounts)),
        "party_accounts": pa_.filter(pc.and_(_in(pa_["party_id"], parties), _in(pa_["account_id"], accounts))),
        "transactions": tx,
    }
    if redaction != "full":  # counterparty accounts travel without their names
        acc = tables["accounts"]
        known = _in(acc["account_id"], {a for p, a in links if p in parties})
        tables["accounts"] = acc.set_column(acc.column_names.index("name"), "name", pc.if_else(known, acc["name"], pa.scalar(None, pa.string())))
        tables["transactions"] = tx.set_column(tx.column_names.index("counterparty_name"), "counterparty_name",
                                               pa.nulls(tx.num_rows, pa.string()))
    ids = bundle.identifiers
    owned = pc.or_(pc.and_(pc.equal(ids["owner_kind"], "party"), _in(ids["owner_id"], parties)),
                   pc.and_(pc.equal(ids["owner_kind"], "account"), _in(ids["owner_id"], accounts)))
    tables["identifiers"] = ids.filter(owned)
    if redaction == "full":
        tables["reports"] = bundle.reports.filter(_in(bundle.reports["report_id"], set(tx["report_id"].to_pylist())))
    for name, table in tables.items():
        files[f"tables/{name}.parquet"] = _parquet_bytes(table)
    if hops is not None:
        files["trace_hops.parquet"] = _parquet_bytes(hops)
    if alerts_out is not None:
        files["alerts.parquet"] = _parquet_bytes(alerts_out)
        if redaction == "full":
            from followmoney.view.report import evidence_pack

            for sid in sorted(set(alerts_out["subject_id"].to_pylist())):
                html_text = evidence_pack(bundle, alerts, sid, trace_method=trace_method)
                files[f"evidence/{hashlib.sha256(sid.encode()).hexdigest()[:12]}.html"] = html_text.encode()
    log = bundle.load_log
    inputs = sorted({(f, s, h) for f, s, h in zip(log["source_file"].to_pylist(), log["source"].to_pylist(),
                                                   log["sha256"].to_pylist())}, key=lambda x: x[0])
    manifest = {
        "format": PACKAGE_FORMAT, "version": 1, "followmoney": __version__,
        "sender": sender, "recipient": recipient, "kind": kind, "reference": reference, "purpose": purpose,
        "caveats": list(caveats), "redaction": redaction, "trace_method": trace_method if hops is not None else None,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subjects": len(subjects),
        "rows": {n: t.num_rows for n, t in tables.items()} | ({"trace_hops": hops.num_rows} if hops is not None else {})
        | ({"alerts": alerts_out.num_rows} if alerts_out is not None else {}),
        "files": {name: _sha(data) for name, data in sorted(files.items())},
        "inputs": [{"source_file": f, "source": s, "sha256": h} for f, s, h in inputs],
    }
    path = Path(path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo(_MANIFEST, (1980, 1, 1, 0, 0, 0)), json.dumps(manifest, indent=2), zipfile.ZIP_STORED)
        for name, data in sorted(files.items()):
            z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return path


# --------------------------------------------------------------------------- where the trail came from
def trail_origins(result, bundle: Bundle) -> pa.Table:
    """The hops of a trace with the origin of each: own data or a partner's package.

    Parameters
    ----------
    result : followmoney.trace.TraceResult
    bundle : followmoney.Bundle
        The data traced (own sources plus partner packages read with ``fm.read``).

    Returns
    -------
    pyarrow.Table
        ``result.hops`` plus ``origin`` (``"own data: <file>"`` or ``"partner <FIU>:
        package <file>"``).
    """
    t = bundle.transactions
    rep = dict(zip(bundle.reports["report_id"].to_pylist(), zip(bundle.reports["format"].to_pylist(),
                                                                bundle.reports["reporting_entity"].to_pylist())))
    info = {}
    for tid, src, ref, rid in zip(*(t[c].to_pylist() for c in ("txn_id", "source", "source_ref", "report_id"))):
        f = ref.split("#", 1)[0].rsplit(":", 1)[0] if ref else "?"
        if src == "fm_package":
            info[tid] = f"partner {rep.get(rid, (None, '?'))[1]}: package {f}"
        else:
            info[tid] = f"own data: {f}"
    origins = [info.get(tid, "unknown") for tid in result.hops["txn_id"].to_pylist()]
    return result.hops.append_column("origin", pa.array(origins, pa.string()))


def trail_html(result, bundle: Bundle) -> str:
    """An HTML section: the money trail hop by hop, with where each part came from.

    Parameters
    ----------
    result : followmoney.trace.TraceResult
    bundle : followmoney.Bundle
        As for :func:`trail_origins`.

    Returns
    -------
    str
        ``<h2>`` heading, the trace summary, the list of origins and a table of hops
        (amounts exact, in the trace currency; times UTC).
    """
    t = trail_origins(result, bundle)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["hop"], r["timestamp"], r["from_account"], r["to_account"], f"{money_str(r['tainted_amount'], r['currency'])} {r['currency']}",
            r["origin"], r["source_ref"])) + "</tr>"
        for r in t.to_pylist()
    )
    origins = sorted(set(t["origin"].to_pylist()))
    return (
        "<h2>Money trail across the border</h2>"
        f"<p>{html.escape(result.summary())}</p><p>Parts of the trail come from: {html.escape('; '.join(origins))}.</p>"
        "<table><tr><th>hop</th><th>time (UTC)</th><th>from</th><th>to</th><th>tainted</th><th>origin</th>"
        f"<th>source</th></tr>{rows}</table>"
    )


def combined_evidence_pack(bundle: Bundle, result, *, alerts: pa.Table | None = None, subject: str | None = None) -> str:
    """Evidence pack over own and partner data, with the trail's origin per hop.

    Parameters
    ----------
    bundle : followmoney.Bundle
        Own data and partner packages, read together.
    result : followmoney.trace.TraceResult
        A trace over ``bundle``.
    alerts : pyarrow.Table, optional
    subject : str, optional

    Returns
    -------
    str
        With ``alerts`` and an alerted ``subject``: the subject's evidence pack
        (:func:`followmoney.view.report.evidence_pack`) with the trail section
        (:func:`trail_html`) added; otherwise a standalone page with the trail section.

    Raises
    ------
    KeyError
        If ``subject`` has no alert in ``alerts``.
    """
    section = trail_html(result, bundle)
    if alerts is not None and subject is not None:
        from followmoney.view.report import evidence_pack

        page = evidence_pack(bundle, alerts, subject)
        return page.replace("</body>", section + "</body>", 1)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>followmoney: money trail</title>"
            f"</head><body>{section}</body></html>")
