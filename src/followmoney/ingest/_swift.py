"""SWIFT FIN message envelope: blocks 1-5 and S, service messages, file containers.

A FIN message is ``{1:basic header}{2:application header}{3:user header}{4:text -}``
``{5:trailer}{S:system trailer}``. Files hold one or many: plain ``.fin``/``.txt``,
RJE batches (messages separated by ``$`` lines), DOS-PCC containers (each message
between SOH 0x01 and ETX 0x03, space-padded to 512-byte sectors). A service message
``{1:F21...}{4:{177:...}{451:0}}`` before a message is its ACK (``451:0``) or NAK
(``451:1``) from SWIFT. :func:`messages` scans any of these and returns the messages
with their text-block fields and the line where each starts; what lies between
messages (``$``, padding, stray ``{``) is skipped.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

__all__ = ["Field", "Message", "messages", "lt_bic", "fields"]

_BLOCK_ID = re.compile(r"\{([A-Za-z0-9]{1,3}):")
_TAG_RE = re.compile(r":(\d{2}[A-Z]?):(.*)")
_END4 = re.compile(r"\n-\}|^-\}", re.M)


@dataclass
class Field:
    """One text-block field: tag (``32A``), first line number, physical lines (tag removed)."""

    tag: str
    line: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip("\n")


@dataclass
class Message:
    """One FIN message.

    Attributes
    ----------
    line : int
        Line where the message starts (its block 1).
    blocks : dict
        Block id -> raw content (block 3 and 5 keep their ``{tag:value}`` sub-blocks).
    fields : list of Field
        The text block (block 4) fields in order.
    ack : str or None
        ``"0"`` (ACK) or ``"1"`` (NAK) from a service message just before, else None.
    malformed : list of str
        What was irregular (``stray_brace``, ``block4_unterminated``).
    """

    line: int
    blocks: dict = field(default_factory=dict)
    fields: list = field(default_factory=list)
    ack: str | None = None
    malformed: list = field(default_factory=list)

    @property
    def mt(self) -> str | None:
        """Message type from block 2 (``"103"``), None without block 2."""
        m = re.match(r"[IO](\d{3})", self.blocks.get("2", ""))
        return m.group(1) if m else None

    @property
    def direction(self) -> str | None:
        b2 = self.blocks.get("2", "")
        return b2[:1] if b2[:1] in ("I", "O") else None

    def sub(self, block: str) -> dict[str, str]:
        """``{tag:value}`` sub-blocks of block 3, 5 or S as a dict (first value per tag)."""
        out: dict[str, str] = {}
        for tag, value in re.findall(r"\{([A-Za-z0-9]+):([^{}]*)\}", self.blocks.get(block, "")):
            out.setdefault(tag, value)
        return out

    @property
    def sender(self) -> str | None:
        """Sender BIC: block 1 LT of an input message, the MIR's LT in block 2 of an output one."""
        b1, b2 = self.blocks.get("1", ""), self.blocks.get("2", "")
        if self.direction == "O" and len(b2) >= 26:
            return lt_bic(b2[14:26])
        return lt_bic(_b1_lt(b1))

    @property
    def receiver(self) -> str | None:
        """Receiver BIC: block 2 of an input message, block 1 LT of an output one."""
        b1, b2 = self.blocks.get("1", ""), self.blocks.get("2", "")
        if self.direction == "I" and len(b2) >= 16:
            return lt_bic(b2[4:16])
        if self.direction == "O":
            return lt_bic(_b1_lt(b1))
        return None

    def first(self, *tags: str) -> Field | None:
        for f in self.fields:
            if f.tag in tags:
                return f
        return None


def _b1_lt(b1: str) -> str:
    """The logical terminal of block 1: between the application/service id (3) and session + sequence (10)."""
    return b1[3:-10] if len(b1) >= 24 else b1[3:15]


def lt_bic(lt: str) -> str | None:
    """BIC of a 12-character logical terminal address (BIC8 + terminal letter + branch).

    Examples
    --------
    >>> lt_bic("BBBBUS33BXXX"), lt_bic("AAAAUSLAAXXX"), lt_bic("FOODESMMA123"), lt_bic("AAAAAAAAXXX")
    ('BBBBUS33', 'AAAAUSLA', 'FOODESMM123', 'AAAAAAAA')
    """
    lt = lt.strip().upper()
    if re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}[A-Z0-9]{3}", lt):  # an 11-character BIC written without terminal letter
        return lt[:8] + ("" if lt[8:] == "XXX" else lt[8:])
    if not re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}[A-Z0-9][A-Z0-9]{3}", lt):
        return None
    return lt[:8] + ("" if lt[9:] == "XXX" else lt[9:])


def fields(text: str, first_line: int) -> list[Field]:
    """Split a text block into fields; lines that start no tag continue the field before.

    Examples
    --------
    >>> [(f.tag, f.line, f.lines) for f in fields("\\n:20:REF\\n:59:/123\\nNAME", 1)]
    [('20', 2, ['REF']), ('59', 3, ['/123', 'NAME'])]
    """
    out: list[Field] = []
    for i, raw in enumerate(text.split("\n")):
        line = raw.rstrip("\r")
        if line.strip() in ("-", "-}"):
            break
        m = _TAG_RE.match(line)
        if m:
            out.append(Field(m.group(1), first_line + i, [m.group(2)]))
        elif out:
            out[-1].lines.append(line)
    for f in out:
        while len(f.lines) > 1 and not f.lines[-1].strip():
            f.lines.pop()
    return out


def _match_brace(text: str, start: int) -> int:
    """Index just after the ``}`` closing the ``{`` at ``start`` (nested), or -1."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def messages(text: str) -> list[Message]:
    """Scan ``text`` (decoded, line breaks ``\\n``) for FIN messages.

    A text without any ``{1:`` block but with tagged fields is one message made of its
    text block alone (a bare MT text).

    Examples
    --------
    >>> ms = messages("{1:F21AAAAUSLAAXXX5195167828}{4:{177:1704260717}{451:0}}"
    ...               "{1:F01AAAAUSLAAXXX5195167828}{2:O1031612170425BBBBUS33BXXX01613135551704260717N}"
    ...               "{3:{121:8579f4a4-a547-463e-ae63-e7c6620d59b4}}{4:\\n:20:REF\\n:32A:190425USD1,\\n-}$")
    >>> [(m.mt, m.ack, m.sender, m.receiver, m.sub("3")["121"], [f.tag for f in m.fields]) for m in ms]
    [('103', '0', 'BBBBUS33', 'AAAAUSLA', '8579f4a4-a547-463e-ae63-e7c6620d59b4', ['20', '32A'])]
    """
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(starts, pos)

    out: list[Message] = []
    cur: Message | None = None
    pending_ack: str | None = None
    pos = 0
    n = len(text)
    while pos < n:
        brace = text.find("{", pos)
        if brace < 0:
            break
        m = _BLOCK_ID.match(text, brace)
        if not m:
            if cur is not None:
                cur.malformed.append("stray_brace")
            pos = brace + 1
            continue
        bid = m.group(1)
        body_start = m.end()
        if bid == "4" and not text.startswith("{", body_start):
            end = _END4.search(text, body_start)
            if end is None:
                body, pos = text[body_start:], n
                flag = "block4_unterminated"
            else:
                body, pos = text[body_start : end.start()], end.end()
                flag = None
            if cur is None:
                cur = Message(line_of(brace))
                out.append(cur)
            cur.blocks["4"] = body
            cur.fields = fields(body, line_of(body_start))
            if flag:
                cur.malformed.append(flag)
            continue
        close = _match_brace(text, brace)
        if close < 0:
            if cur is not None:
                cur.malformed.append("unbalanced_braces")
            pos = brace + 1
            continue
        body = text[body_start : close - 1]
        pos = close
        if bid == "1":
            if re.match(r"F21", body):  # service message (ACK/NAK) for the next message
                cur = None
                tail = text[close : _match_brace(text, close) if text.startswith("{4:", close) else close]
                ack = re.search(r"\{451:(\d)\}", tail)
                pending_ack = ack.group(1) if ack else None
                if tail:
                    pos = close + len(tail)
                continue
            cur = Message(line_of(brace), ack=pending_ack)
            pending_ack = None
            out.append(cur)
            cur.blocks["1"] = body
            continue
        if cur is None:
            cur = Message(line_of(brace))
            out.append(cur)
        cur.blocks.setdefault(bid, body)
    lines = [] if out else text.split("\n")
    first = next((i for i, ln in enumerate(lines) if _TAG_RE.match(ln.rstrip("\r"))), None)
    if first is not None:  # a bare block 4: fields from the first line that starts with a tag
        body = "\n".join(lines[first:])
        end = _END4.search(body)
        msg = Message(first + 1)
        msg.fields = fields(body[: end.start()] if end else body, first + 1)
        out.append(msg)
    return out
