"""Pair keys: one secret per partner pair and period, kept outside every export."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from followmoney.share._errors import ShareError

__all__ = ["RECIPE", "KEY_BYTES", "PairKey", "new_key", "read_key", "write_key"]

#: Version of the normalisation and token recipe (``shared/reference/fiu-cooperation.md`` §2.6.1).
RECIPE = "fm-match-v1"
#: Key length in bytes: 256 bits, as recommended for HMAC-SHA256 keys (a key as long as the
#: hash output; RFC 2104 §3, NIST SP 800-107r1 §5.3.4) and in the reference design §2.6.3.
KEY_BYTES = 32
_KEY_FORMAT = "followmoney-share-key"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def _label(value: str, what: str) -> str:
    value = str(value).strip()
    if not _LABEL.fullmatch(value):
        raise ShareError(f"{what} {value!r}: use 1-40 letters, digits, '.', '_' or '-' (e.g. FIU-A, 2026-Q4)")
    return value


@dataclass(frozen=True, repr=False)
class PairKey:
    """The secret shared by two FIUs for one period.

    Tokens, CLKs and file MACs each use their own sub-key, derived with HMAC-SHA256 from
    the secret, the recipe, the partner pair and the period (domain separation), so a
    key file used for another pair or period gives unrelated tokens.

    Attributes
    ----------
    partners : tuple of str
        The two FIUs, sorted (the pair is unordered).
    period : str
        The period the key is valid for (e.g. ``2026-Q4``): rotating it makes exports of
        different periods unlinkable.
    secret : bytes
        :data:`KEY_BYTES` random bytes. Never written into an export, a log or a message.
    """

    partners: tuple[str, str]
    period: str
    secret: bytes

    def __repr__(self) -> str:  # never show the secret
        return f"PairKey(partners={self.partners!r}, period={self.period!r}, key_id={self.key_id!r})"

    def _context(self) -> bytes:
        return f"{RECIPE}|{self.partners[0]}|{self.partners[1]}|{self.period}".encode()

    def subkey(self, purpose: str) -> bytes:
        """HMAC-SHA256(secret, recipe | pair | period | purpose): 32 bytes."""
        return hmac.new(self.secret, self._context() + b"|" + purpose.encode(), hashlib.sha256).digest()

    @property
    def key_id(self) -> str:
        """Public name of the key: 16 hex digits of a MAC, never the key (reference §2.6.2)."""
        return self.subkey("key-id")[:8].hex()


def new_key(partners, period: str) -> PairKey:
    """Draw a fresh pair key from the operating system's CSPRNG (:func:`secrets.token_bytes`).

    Parameters
    ----------
    partners : sequence of two str
        Names of the two FIUs (e.g. ``["FIU-A", "FIU-B"]``); order does not matter.
    period : str
        Validity period, e.g. ``2026-Q4``.

    Returns
    -------
    PairKey

    Raises
    ------
    ShareError
        If there are not two distinct partner names or a name is not a plain label.

    Examples
    --------
    >>> k = new_key(["FIU-B", "FIU-A"], "2026-Q4")
    >>> k.partners, len(k.secret), len(k.key_id)
    (('FIU-A', 'FIU-B'), 32, 16)
    """
    names = sorted({_label(p, "partner") for p in partners})
    if len(names) != 2:
        raise ShareError("a pair key needs two distinct partner names")
    return PairKey((names[0], names[1]), _label(period, "period"), secrets.token_bytes(KEY_BYTES))


def write_key(key: PairKey, path) -> Path:
    """Write ``key`` as a JSON key file readable only by its owner (mode 0600).

    Keep it apart from exports (an OS keyring or an HSM is better); exchange it with the
    partner out of band (FIU.net, ESW), never with the export it opens.

    Parameters
    ----------
    key : PairKey
    path : str or Path

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ShareError
        If the file exists (a key is never overwritten).
    """
    path = Path(path)
    doc = {"format": _KEY_FORMAT, "recipe": RECIPE, "partners": list(key.partners), "period": key.period,
           "key": key.secret.hex()}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ShareError(f"{path}: exists; a key file is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
    return path


def read_key(path) -> PairKey:
    """Read a key file written by :func:`write_key`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    PairKey

    Raises
    ------
    ShareError
        If the file is missing, not a key file, or its key is not :data:`KEY_BYTES` bytes.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ShareError(f"{path}: cannot read key file: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ShareError(f"{path}: not a followmoney key file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != _KEY_FORMAT:
        raise ShareError(f"{path}: not a followmoney key file")
    if doc.get("recipe") != RECIPE:
        raise ShareError(f"{path}: key for recipe {doc.get('recipe')!r}, this version reads {RECIPE}")
    try:
        secret = bytes.fromhex(doc["key"])
        partners = sorted(_label(p, "partner") for p in doc["partners"])
        period = _label(doc["period"], "period")
    except (KeyError, TypeError, ValueError):
        raise ShareError(f"{path}: key file is incomplete or malformed") from None
    if len(secret) != KEY_BYTES or len(partners) != 2:
        raise ShareError(f"{path}: key file is malformed (needs a {KEY_BYTES}-byte key and two partners)")
    return PairKey((partners[0], partners[1]), period, secret)
