"""Adapter for followmoney disclosure packages from a partner FIU (:mod:`followmoney.share`).

``fm.read(["own.xml", "partner.fmpkg"])`` reads a partner's package as one more source,
so resolution, consolidation and tracing continue across the border.
"""

from __future__ import annotations

from pathlib import Path

from followmoney.bundle import Bundle
from followmoney.ingest._collect import InputError

__all__ = ["FORMAT", "sniff", "is_companion", "read"]

FORMAT = "fm_package"


def sniff(path: Path, head: bytes) -> bool:
    """A zip archive whose first member is the package manifest."""
    from followmoney.share._package import is_package

    return is_package(head)


def is_companion(path: Path) -> bool:
    return False


def read(path: str | Path) -> Bundle:
    """Read a disclosure package (every file's SHA-256 is checked against the manifest).

    Raises
    ------
    InputError
        One line naming the package when it is not one, or a file in it is missing,
        added or altered.
    """
    from followmoney.share._errors import ShareError
    from followmoney.share._package import package_bundle

    try:
        return package_bundle(path)
    except ShareError as exc:
        raise InputError(str(exc)) from None
