"""The error of :mod:`followmoney.share` (defined with the others in :mod:`followmoney.exceptions`)."""

from followmoney.exceptions import ShareError

__all__ = ["ShareError"]
