"""Shared machinery of the adapters: stable ids and the record collector.

An adapter reads one source file and hands every record to a :class:`Collector`,
either as a written row or as a reject with its reason, so that the load log can
prove records read = rows written + merged + rejected.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from followmoney.core import schema
from followmoney.core.bundle import Bundle, _KEYS, _merge_on_key
from followmoney.core.ids import stable_id
from followmoney.exceptions import InputError
from followmoney.ingest import reasons

__all__ = ["ContentIds", "file_digest", "Collector", "InputError", "fits_money", "MONEY_LIMIT"]


class ContentIds:
    """Ids derived from a record's content, unique within one file.

    An id hashes what identifies the record in the world (source system, reporting
    entity or account, the record's own reference, else its normalised values), never
    the file name or the record's position: the same report saved under another name
    keeps its ids, and a different report saved under last night's name gets new ones
    (so ``--previous`` does not suppress its alerts). Records of one file with identical
    content are told apart by their occurrence: the second gets ``#1`` in its hash.

    Parameters
    ----------
    prefix : str
        ``T`` (transaction), ``P`` (party), ``S`` (statement), ...

    Examples
    --------
    >>> ids = ContentIds("T")
    >>> a, b, c = ids("goaml", "9001", "TXN-1"), ids("goaml", "9001", "TXN-2"), ids("goaml", "9001", "TXN-1")
    >>> a == ContentIds("T")("goaml", "9001", "TXN-1"), len({a, b, c})
    (True, 3)
    """

    def __init__(self, prefix: str):
        self.prefix = prefix
        self._seen: dict[str, int] = {}

    def __call__(self, *parts: object) -> str:
        base = stable_id(self.prefix, *parts)
        n = self._seen.get(base, 0)
        self._seen[base] = n + 1
        return base if n == 0 else stable_id(self.prefix, *parts, f"#{n}")

    def many(self, rows) -> list[str]:
        """Ids for an iterable of part tuples, in order."""
        return [self(*parts) for parts in rows]


def file_digest(path: str | Path) -> str:
    """BLAKE2b hex digest of a file's bytes (the identity of a report that names none).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as fh:
    ...     _ = fh.write(b"x")
    >>> file_digest(fh.name) == hashlib.blake2b(b"x", digest_size=16).hexdigest(); os.unlink(fh.name)
    True
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: Exclusive bound of ``schema.MONEY`` = decimal(18, 3) in absolute value.
MONEY_LIMIT = Decimal(10) ** 15


def fits_money(value: Decimal | None) -> bool:
    """True when ``value`` (already at its minor units) can be stored as ``schema.MONEY``.

    Examples
    --------
    >>> fits_money(Decimal("999999999999999.99")), fits_money(Decimal("1999999999999999.98"))
    (True, False)
    """
    return value is None or abs(value) < MONEY_LIMIT


class Collector:
    """Collect the rows and rejects of one source file into a :class:`Bundle`.

    Parameters
    ----------
    source : str
        Adapter format name (``goaml``, ``amlsim``, ...).
    path : str or Path
        The file being read; its name is used in ``source_ref`` and the load log.
    """

    def __init__(self, source: str, path: str | Path):
        self.source = source
        self.file = Path(path).name
        self._rows: dict[str, list[dict]] = defaultdict(list)
        self._tables: dict[str, list[pa.Table]] = defaultdict(list)
        self._read: dict[str, int] = defaultdict(int)
        self._rejects: list[dict] = []
        self._rejected: dict[str, int] = defaultdict(int)

    def ref(self, place: object) -> str:
        """``file:line`` for an int, ``file#XPath`` for a str."""
        return f"{self.file}:{place}" if isinstance(place, int) else f"{self.file}#{place}"

    #: Rows kept as Python dicts before they are packed into an Arrow block (bounds memory).
    FLUSH_ROWS = 20_000

    def add(self, table: str, row: dict) -> None:
        """One record read and written as ``row`` of ``table``."""
        self._read[table] += 1
        rows = self._rows[table]
        rows.append(row)
        if len(rows) >= self.FLUSH_ROWS:
            self._tables[table].append(schema.conform(rows, table))
            self._rows[table] = []

    def add_table(self, table: str, rows: pa.Table) -> None:
        """A block of records read and written at once (vectorised adapters)."""
        self._read[table] += rows.num_rows
        self._tables[table].append(rows)

    def reject(self, table: str, place: object, reason: str, raw: str | None = None, code: str | None = None) -> None:
        """One record read for ``table`` and rejected for ``reason``.

        ``code`` is a key of :data:`followmoney.ingest.reasons.REASONS`; when omitted it
        is derived from ``reason`` by :func:`~followmoney.ingest.reasons.classify`.
        """
        self._read[table] += 1
        self._rejected[table] += 1
        self._rejects.append(
            {
                "source": self.source,
                "source_ref": self.ref(place),
                "table": table,
                "reason": reason,
                "code": reasons.check(code) if code else reasons.classify(reason),
                "raw": raw,
            }
        )

    def reject_table(self, table: str, rejects: pa.Table) -> None:
        """A block of rejects (columns ``source_ref``, ``reason``, ``raw``, optional ``code``) for ``table``."""
        n = rejects.num_rows
        self._read[table] += n
        self._rejected[table] += n
        if n:
            cols = ["source_ref", "reason", "raw"] + (["code"] if "code" in rejects.column_names else [])
            for r in rejects.select(cols).to_pylist():
                r["code"] = reasons.check(r["code"]) if r.get("code") else reasons.classify(r["reason"])
                self._rejects.append({"source": self.source, "table": table, **r})

    def bundle(self) -> Bundle:
        """Build the bundle, merging rows that repeat a key, with its load log."""
        tables = {}
        log = []
        for name in schema.TABLES:
            if name in ("rejects", "load_log"):
                continue
            parts = list(self._tables.get(name, []))
            if self._rows.get(name):
                parts.append(schema.conform(self._rows[name], name))
            parts = [schema.conform(p, name) for p in parts]
            table = pa.concat_tables(parts) if parts else schema.empty(name)
            n_before = table.num_rows
            if name in _KEYS:
                table = _merge_on_key(table, _KEYS[name])
            tables[name] = table
            if self._read.get(name):
                log.append(
                    {
                        "source_file": self.file,
                        "source": self.source,
                        "table": name,
                        "records_read": self._read[name],
                        "rows_written": table.num_rows,
                        "merged": n_before - table.num_rows,
                        "rejected": self._rejected.get(name, 0),
                    }
                )
        tables["rejects"] = schema.conform(self._rejects, "rejects") if self._rejects else schema.empty("rejects")
        tables["load_log"] = schema.conform(log, "load_log") if log else schema.empty("load_log")
        return Bundle(**tables)
