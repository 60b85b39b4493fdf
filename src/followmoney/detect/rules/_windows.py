"""Where :func:`episodes` used to live; it is now :func:`followmoney.core._timeline.episodes`."""

from __future__ import annotations

from followmoney.core._timeline import episodes

__all__ = ["episodes"]
