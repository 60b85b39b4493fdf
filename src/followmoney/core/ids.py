"""Deterministic ids shared by every stage (transactions, parties, alerts, cases)."""

from __future__ import annotations

import hashlib

__all__ = ["stable_id"]


def stable_id(prefix: str, *parts: object) -> str:
    """Deterministic short id from ``parts``: ``prefix`` + 16 hex digits of BLAKE2b.

    Examples
    --------
    >>> stable_id("T", "report.xml", "#/report/transaction[1]")
    'T...'
    >>> stable_id("T", "a", 1) == stable_id("T", "a", 1)
    True
    """
    h = hashlib.blake2b("\x1f".join("" if p is None else str(p) for p in parts).encode(), digest_size=8)
    return prefix + h.hexdigest()
