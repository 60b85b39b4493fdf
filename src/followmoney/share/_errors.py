"""The error of :mod:`followmoney.share`: one line, naming the file and what is wrong."""

from __future__ import annotations

__all__ = ["ShareError"]


class ShareError(ValueError):
    """A key file, match-key export, membership filter or disclosure package is unusable.

    The message is one line: the file, then what is wrong (wrong key, wrong period,
    altered content, a key kind the recipe forbids). It never holds personal data or
    key material.
    """
