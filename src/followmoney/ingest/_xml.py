"""Safe XML for the adapters: refuse DOCTYPE / entity declarations before parsing.

lxml is always called with entity resolution, DTD loading and network access off;
on top of that, a file whose prolog declares a DOCTYPE is refused outright, because
no FIU report format needs one and entity declarations are the vehicle of
billion-laughs (exponential expansion) and external-entity (local file read) attacks.
"""

from __future__ import annotations

from pathlib import Path

from followmoney.ingest._collect import InputError

__all__ = ["refuse_doctype", "PARSER_OPTIONS"]

#: Keyword options for ``lxml.etree.XMLParser`` / ``iterparse``: no entities, no DTD, no network.
PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}

_MARKS = tuple(
    m.encode(enc) for m in ("<!DOCTYPE", "<!ENTITY", "<!doctype") for enc in ("utf-8", "utf-16-le", "utf-16-be")
)


def refuse_doctype(path: Path, head: bytes, what: str) -> None:
    """Raise :class:`InputError` when ``head`` (the file's first bytes) declares a DOCTYPE or entities.

    Parameters
    ----------
    path : Path
        The file, named in the message.
    head : bytes
        Its first bytes (64 KiB); UTF-8 and UTF-16 encodings are recognised.
    what : str
        The format, e.g. ``"goAML reports"``.

    Examples
    --------
    >>> refuse_doctype(Path("x.xml"), b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r/>', "goAML reports")
    Traceback (most recent call last):
    ...
    followmoney.exceptions.InputError: x.xml: refused: the file declares a DOCTYPE / XML entities (entity expansion and external entities); goAML reports never need one
    """
    if any(m in head for m in _MARKS):
        raise InputError(
            f"{path.name}: refused: the file declares a DOCTYPE / XML entities "
            f"(entity expansion and external entities); {what} never need one"
        )
