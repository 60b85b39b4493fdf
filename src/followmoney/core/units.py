"""Units shared by every stage: time in microseconds since the epoch (UTC) and money text."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["DAY_US", "HOUR_US", "money_text"]

#: One day in microseconds (timestamps are int64 µs since 1970-01-01 UTC).
DAY_US = 86_400_000_000
#: One hour in microseconds.
HOUR_US = 3_600_000_000


def money_text(cents: int, currency) -> str:
    """``"USD 1,234.50"`` from int hundredths, exactly (Decimal, never float).

    Examples
    --------
    >>> money_text(123450, "USD")
    'USD 1,234.50'
    """
    return f"{currency or 'unknown currency'} {Decimal(int(cents)) / 100:,.2f}"
