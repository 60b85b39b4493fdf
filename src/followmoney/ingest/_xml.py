"""Safe XML for the adapters: refuse DOCTYPE / entity declarations before parsing.

lxml is always called with entity resolution, DTD loading and network access off;
on top of that, a file whose prolog declares a DOCTYPE is refused outright, because
no FIU report format needs one and entity declarations are the vehicle of
billion-laughs (exponential expansion) and external-entity (local file read) attacks.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from followmoney.ingest._collect import InputError

__all__ = ["utf8_head", "content_key", "tag_label", "ns_label", "refuse_doctype", "refuse_declared", "syntax_error", "without_values", "PARSER_OPTIONS"]

#: Keyword options for ``lxml.etree.XMLParser`` / ``iterparse``: no entities, no DTD, no network.
PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}

_MARKS = tuple(
    m.encode(enc)
    for m in ("<!DOCTYPE", "<!ENTITY", "<!doctype")
    for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)


def utf8_head(head: bytes) -> bytes:
    """``head`` (a file's first bytes) recoded to UTF-8 when it starts with a UTF-16 byte-order mark.

    The adapters' ``sniff`` functions search the head with byte patterns written in ASCII;
    a UTF-16 file would hide them. Other heads are returned unchanged (a character cut at
    the end of the head is dropped).

    Examples
    --------
    >>> utf8_head("<report>".encode("utf-16"))
    b'<report>'
    >>> utf8_head(b"<report>")
    b'<report>'
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore").encode("utf-8")
    return head


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
        raise _refusal(path, what)


def _refusal(path: Path, what: str) -> InputError:
    return InputError(
        f"{path}: refused: the file declares a DOCTYPE / XML entities "
        f"(entity expansion and external entities); {what} never need one"
    )


def refuse_declared(path: Path, node, what: str) -> None:
    """Raise :class:`InputError` when the document of ``node`` (an element or tree) has a DOCTYPE.

    The parser's own view of the prolog, so it holds wherever the declaration is (after
    a long comment, past the first 64 KiB) and in any encoding libxml2 decodes
    (UTF-16 with or without BOM, any declared 8-bit encoding). Call it at the first
    element of a streaming parse, before any content is used; the parser options
    (:data:`PARSER_OPTIONS`) keep entities unexpanded until then.

    Examples
    --------
    >>> from lxml import etree
    >>> data = ('<?xml version="1.0" encoding="UTF-16"?><!--' + "x" * 70000 + '--><!DOCTYPE r [<!ENTITY a "b">]><r/>').encode("utf-16")
    >>> refuse_declared(Path("x.xml"), etree.fromstring(data, etree.XMLParser(**PARSER_OPTIONS)), "goAML reports")
    Traceback (most recent call last):
    ...
    followmoney.exceptions.InputError: x.xml: refused: the file declares a DOCTYPE / XML entities (entity expansion and external entities); goAML reports never need one
    """
    tree = node.getroottree() if hasattr(node, "getroottree") else node
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise _refusal(path, what)


def syntax_error(path: Path, exc: etree.XMLSyntaxError) -> InputError:
    """The :class:`InputError` for a not well-formed file: file (with its folder), line, column
    and libxml2's error class, never libxml2's message (it quotes tag names and text,
    e.g. a name fragment after a stray ``<``).

    Examples
    --------
    >>> try:
    ...     etree.fromstring(b"<r><n>Jane <Doe</n></r>")
    ... except etree.XMLSyntaxError as exc:
    ...     print(syntax_error(Path("in/x.xml"), exc))
    in/x.xml: not well-formed XML at line 1, column 16 (name required)
    """
    line, col = exc.position if exc.position else (exc.lineno, 0)
    try:
        kind = etree.ErrorTypes._getName(exc.code) or ""
    except Exception:  # pragma: no cover - lxml without the name table
        kind = ""
    kind = re.sub(r"^(ERR|WAR|XML_ERR)_", "", kind).replace("_", " ").lower() or "syntax error"
    return InputError(f"{path}: not well-formed XML at line {line}, column {col} ({kind})")


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def without_values(text: str) -> str:
    """``text`` with every quoted value replaced by ``'…'`` (validator messages quote data).

    Examples
    --------
    >>> without_values("invalid value 'Jane Doe' for xs:decimal")
    "invalid value '…' for xs:decimal"
    """
    return _QUOTED.sub("'…'", text)


_BETWEEN_TAGS = re.compile(rb">\s+<")


def content_key(el) -> bytes:
    """The normalised values of an element: its serialised XML without the whitespace
    between tags (and without its tail), so two mentions of one record that differ only
    in indentation or line ends get the same key. Plain serialisation, not C14N:
    libxml2's C14N of a subtree walks the whole document.

    Examples
    --------
    >>> a = etree.fromstring("<t><amount>10.00</amount><to><name>A B</name></to></t>")
    >>> b = etree.fromstring("<t>  <amount>10.00</amount>\t<to><name>A B</name></to> </t>")
    >>> content_key(a) == content_key(b)
    True
    """
    return _BETWEEN_TAGS.sub(b"><", etree.tostring(el, with_tail=False)).strip()


#: Element names that messages may quote: the roots and wrappers of the formats read here.
KNOWN_TAGS = frozenset(
    {"report", "Document", "EFilingBatchXML", "EFilingSubmissionXML", "Envelope", "AppHdr", "BizMsg", "RequestPayload",
     "BkToCstmrStmt", "BkToCstmrAcctRpt", "BkToCstmrDbtCdtNtfctn", "html", "svg", "rss", "feed"}
)  # fmt: skip


def tag_label(name: str) -> str:
    """``<name>`` for a known element name, else ``an unknown element``: an unexpected
    name is content of the file and may be anything, a person's name included.

    Examples
    --------
    >>> tag_label("EFilingBatchXML"), tag_label("JaneDoe")
    ('<EFilingBatchXML>', 'an unknown element')
    """
    return f"<{name}>" if name in KNOWN_TAGS else "an unknown element"


_ISO_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:[a-z]{4}\.\d{3}\.\d{3}\.\d{2}")


def ns_label(ns: str | None) -> str:
    """The namespace when it is an ISO 20022 one, else a description (never its text).

    Examples
    --------
    >>> ns_label("urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"), ns_label("urn:jane-doe"), ns_label(None)
    ('urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08', 'a non-ISO 20022 namespace', 'no namespace')
    """
    if not ns:
        return "no namespace"
    return ns if _ISO_NS.fullmatch(ns) else "a non-ISO 20022 namespace"


def load_document(path: Path, what: str):
    """Parse a whole (small) XML message safely and return its root element.

    For messages read whole (pacs.008, pain.001, auth.*): entity expansion and network
    access off (:data:`PARSER_OPTIONS`), a DOCTYPE refused wherever it appears
    (:func:`refuse_declared`), syntax errors as :func:`syntax_error` (file, line, column,
    never content). Statements and reports, which can be large, are streamed by their
    adapters instead.

    Raises
    ------
    InputError
        If the file cannot be opened, declares a DOCTYPE, is not well-formed or empty.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or 'I/O error'}") from None
    refuse_doctype(path, data[:131072], what)
    try:
        root = etree.fromstring(data, etree.XMLParser(**PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise syntax_error(path, exc) from None
    if root is None:
        raise InputError(f"{path}: empty XML document")
    refuse_declared(path, root, what)
    return root


def find_document(root):
    """The ISO 20022 ``Document`` element: the root, or inside a wrapper (SWIFT ``Envelope`` with ``AppHdr``)."""
    if etree.QName(root).localname == "Document":
        return root
    for el in root.iter(tag=etree.Element):
        if etree.QName(el).localname == "Document":
            return el
    return root
