"""Adapter for followmoney disclosure packages from a partner FIU (:mod:`followmoney.share`).

``fm.read(["own.xml", "partner.fmpkg"])`` reads a partner's package as one more source,
so resolution, consolidation and tracing continue across the border.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.exceptions import ShareError
from followmoney.ingest._collect import Collector

__all__ = ["FORMAT", "sniff", "is_companion", "read", "is_package", "open_package", "package_bundle", "PackageContents", "PACKAGE_FORMAT"]

FORMAT = "fm_package"
PACKAGE_FORMAT = "followmoney-disclosure"
_MANIFEST = "manifest.json"
_TABLES = ("parties", "accounts", "party_accounts", "identifiers", "transactions", "reports")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()



@dataclass
class PackageContents:
    """A verified disclosure package.

    Attributes
    ----------
    manifest : dict
    tables : dict of str to pyarrow.Table
        The canonical tables it carries (``parties``, ``accounts``, ...), as the sender wrote them.
    alerts, trace_hops : pyarrow.Table or None
    evidence : dict of str to str
        Evidence packs (HTML) by file name.
    """

    manifest: dict
    tables: dict
    alerts: pa.Table | None
    trace_hops: pa.Table | None
    evidence: dict


def is_package(head: bytes) -> bool:
    """Whether the first bytes of a file are a disclosure package (zip, manifest stored first)."""
    return head.startswith(b"PK\x03\x04") and PACKAGE_FORMAT.encode() in head[:4096]


def open_package(path) -> PackageContents:
    """Open a disclosure package and check the SHA-256 of every file against its manifest.

    Parameters
    ----------
    path : str or Path
        A package written by :func:`disclosure_package`.

    Returns
    -------
    PackageContents

    Raises
    ------
    ShareError
        One line naming the package: not a package, a file missing, added or altered.
    """
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ShareError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError):
        raise ShareError(f"{path}: not a followmoney disclosure package (not a zip archive; truncated or altered?)") from None
    with z:
        try:
            manifest = json.loads(z.read(_MANIFEST))
        except (KeyError, ValueError, zipfile.BadZipFile):
            raise ShareError(f"{path}: not a followmoney disclosure package (no readable manifest.json)") from None
        if not isinstance(manifest, dict) or manifest.get("format") != PACKAGE_FORMAT:
            raise ShareError(f"{path}: not a followmoney disclosure package")
        listed = manifest.get("files") or {}
        present = set(z.namelist()) - {_MANIFEST}
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        if extra:
            raise ShareError(f"{path}: {extra[0]} is not listed in the manifest (added after packaging)")
        if missing:
            raise ShareError(f"{path}: {missing[0]} is listed in the manifest but missing")
        data = {}
        for name, digest in listed.items():
            try:
                data[name] = z.read(name)
            except (zipfile.BadZipFile, OSError, ValueError):
                raise ShareError(f"{path}: {name} cannot be read (corrupt archive)") from None
            if _sha(data[name]) != digest:
                raise ShareError(f"{path}: {name} does not match its SHA-256 in the manifest (altered after packaging)")

    def table(name):
        return pq.read_table(io.BytesIO(data[name])) if name in data else None

    try:
        tables = {n: table(f"tables/{n}.parquet") for n in _TABLES if f"tables/{n}.parquet" in data}
        alerts, hops = table("alerts.parquet"), table("trace_hops.parquet")
    except (OSError, pa.ArrowException):
        raise ShareError(f"{path}: a table in the package is not readable Parquet") from None
    evidence = {n: data[n].decode("utf-8") for n in data if n.startswith("evidence/")}
    return PackageContents(manifest, tables, alerts, hops, evidence)


def package_bundle(path) -> Bundle:
    """The canonical tables of a disclosure package as a source (used by ``fm.read``).

    Rows keep the partner's ids, so the partner's accounts join one's own where the
    account ids agree (``IBAN/<IBAN>`` or ``<bank>/<number>``, the ids every adapter
    writes); each row's ``source_ref`` becomes ``<package>#<sender>:<the sender's
    source_ref>``, and the package adds one ``reports`` row (``format``
    ``fm_package``, ``reporting_entity`` the sender, ``reason`` the purpose). Transactions
    take that report id, so every part of a trail names where it came from.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    followmoney.Bundle
        With a ``load_log`` (records read = rows written, per table), so
        :meth:`~followmoney.Bundle.reconcile` holds.

    Raises
    ------
    ShareError
        As :func:`open_package`.
    """
    path = Path(path)
    pkg = open_package(path)
    m = pkg.manifest
    sender = str(m.get("sender") or "partner")
    prefix = f"{path.name}#{sender}:"
    report_id = "R" + hashlib.sha256(f"{path.name}|{m.get('files')}".encode()).hexdigest()[:16]
    c = Collector("fm_package", path)
    for name, t in pkg.tables.items():
        t = schema.conform(t, name)
        if "source_ref" in t.column_names:
            refs = pc.binary_join_element_wise(pa.scalar(prefix), pc.fill_null(t["source_ref"], ""), "")
            t = t.set_column(t.column_names.index("source_ref"), "source_ref", refs)
        if name == "transactions":
            t = t.set_column(t.column_names.index("report_id"), "report_id", pa.array([report_id] * t.num_rows, pa.string()))
            t = t.set_column(t.column_names.index("source"), "source", pa.array(["fm_package"] * t.num_rows, pa.string()))
        c.add_table(name, t)
    c.add("reports", {"report_id": report_id, "format": "fm_package", "report_code": m.get("kind"),
                      "reporting_entity": sender, "entity_reference": m.get("reference"), "reason": m.get("purpose"),
                      "narrative": " ".join(m.get("caveats") or []), "source_file": path.name})
    return c.bundle()




def sniff(path: Path, head: bytes) -> bool:
    """A zip archive whose first member is the package manifest."""
    return is_package(head)


def is_companion(path: Path) -> bool:
    return False


def read(path: str | Path) -> Bundle:
    """Read a disclosure package (every file's SHA-256 is checked against the manifest).

    Raises
    ------
    followmoney.exceptions.ShareError
        (an InputError) One line naming the package when it is not one, or a file in it is missing,
        added or altered.
    """
    return package_bundle(path)
