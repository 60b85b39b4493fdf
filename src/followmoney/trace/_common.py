"""Constants and small helpers shared by the tracing modules: rules, stop reasons, money and time."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pandas as pd

from followmoney.core.choices import TRACE_METHODS
from followmoney.core.units import MONEY_DECIMALS, MONEY_SCALE, minor_units, money_text
from followmoney.exceptions import TraceError

#: Allocation rules accepted by ``method=`` (declared in :mod:`followmoney.core.choices`).
METHODS = TRACE_METHODS

_METHOD_WORDS = {
    "fifo": "first in, first out (FIFO, Clayton's Case)",
    "lifo": "last in, first out (LIFO)",
    "pro_rata": "pro-rata (proportional, well-mixed funds)",
    "libr": "lowest intermediate balance rule (LIBR, Re Hallett / Roscoe v Winder)",
}

#: Why taint stopped being followed (the ``stop`` column of ``hops``; ``exits.reason``).
STOP_REASONS = {
    "external": "paid to cash or to an unknown recipient (no to_account)",
    "hop_limit": "paid on beyond the hop limit",
    "below_min_amount": "moved in payments carrying less taint than the minimum amount",
    "outside_upstream": "paid to accounts outside the upstream set of the destination",
}

_BIG = 1 << 62
_US_PER_DAY = 86_400_000_000


def _dec(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-MONEY_DECIMALS)


def _fmt(currency: str, cents: int) -> str:
    return money_text(cents, currency)


def _minor(currency) -> int:
    """Thousandths per minor unit of ``currency`` (10 for EUR cents, 1 for KWD fils, 1000 for JPY)."""
    return 10 ** (MONEY_DECIMALS - minor_units(currency))


def _parse_cents(value, what: str) -> int:
    """Money given by the user (str, int, Decimal; float via its repr) -> int thousandths."""
    if value is None:
        raise TraceError(f"{what} is missing")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TraceError(f"{what}: not a number") from None
    if not d.is_finite():
        raise TraceError(f"{what}: not a finite number")
    c = d * MONEY_SCALE
    if c != c.to_integral_value():
        raise TraceError(f"{what}: more than three decimal places")
    return int(c)


def _parse_us(value, what: str) -> int:
    """A time given by the user (ISO string, date, datetime, Timestamp) -> int µs UTC."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise TraceError(f"{what}: not a date or time") from None
    if ts is pd.NaT:
        raise TraceError(f"{what}: not a date or time")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1000)


def _iso(us: int) -> str:
    return pd.Timestamp(us * 1000, tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
