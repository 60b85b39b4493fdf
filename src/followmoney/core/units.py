"""Units shared by every stage: time in microseconds since the epoch (UTC) and money.

Money
-----
Money columns are ``decimal128(18, 3)`` (:data:`followmoney.core.schema.MONEY`): three
decimals hold every ISO 4217 currency's minor unit exactly (KWD, BHD, OMR, JOD, TND,
LYD, IQD have three; JPY, KRW, VND... none; most have two). Each value is quantized to
its own currency's exponent (:func:`minor_units`) when it is read, so ``12.500`` in a
``EUR`` column is exactly EUR 12.50 and ``1250.125`` in ``KWD`` keeps its fils.

For vectorised arithmetic the detectors use integers of :data:`MONEY_SCALE` (= 1000)
per currency unit, whatever the currency (:func:`followmoney.core.schema.to_cents`;
the frame column keeps its historical name ``amount_cents``): a threshold of
KWD 3,000.000 is 3,000,000 and compares exactly with every KWD amount. Sums are only
ever taken per currency. Text shown to people uses the currency's own exponent
(:func:`money_text`, :func:`money_str`).
"""

from __future__ import annotations

import functools
import tomllib
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from importlib.resources import files

__all__ = ["DAY_US", "HOUR_US", "MONEY_SCALE", "minor_units", "quantize_money", "money_str", "money_text", "to_scaled", "from_scaled"]

#: One day in microseconds (timestamps are int64 µs since 1970-01-01 UTC).
DAY_US = 86_400_000_000
#: One hour in microseconds.
HOUR_US = 3_600_000_000
#: Integer money per currency unit in the detectors' arithmetic (thousandths: three decimals).
MONEY_SCALE = 1000
#: Decimals of the canonical money type (``decimal128(18, 3)``).
MONEY_DECIMALS = 3


@functools.lru_cache(maxsize=1)
def _exceptions() -> dict[str, int]:
    raw = tomllib.loads(files("followmoney").joinpath("data/iso4217_minor_units.toml").read_text("utf-8"))
    return {k.upper(): int(v) for k, v in raw["minor_units"].items()}


@functools.lru_cache(maxsize=1024)  # called per amount in explanations and exports; a few currencies
def minor_units(currency) -> int:
    """ISO 4217 minor units (decimals) of ``currency``: 2 unless the standard says otherwise.

    The exceptions are data (``followmoney/data/iso4217_minor_units.toml``, from the ISO
    4217 maintenance agency's list one). Unknown or missing codes get 2; codes with four
    (CLF, UYW) are capped at the canonical three decimals.

    Examples
    --------
    >>> minor_units("KWD"), minor_units("JPY"), minor_units("EUR"), minor_units(None)
    (3, 0, 2, 2)
    """
    if not currency:
        return 2
    return min(_exceptions().get(str(currency).strip().upper(), 2), MONEY_DECIMALS)


def quantize_money(value: Decimal, currency) -> tuple[Decimal, bool]:
    """``value`` rounded (half to even) to ``currency``'s minor units; and whether that changed it.

    Raises
    ------
    ValueError
        When ``value`` has more digits than the decimal context holds (28): no money
        column could store it anyway (adapters make such a row a reject).

    Examples
    --------
    >>> quantize_money(Decimal("1250.125"), "KWD")
    (Decimal('1250.125'), False)
    >>> quantize_money(Decimal("1250.125"), "USD")
    (Decimal('1250.12'), True)
    >>> quantize_money(Decimal("1500"), "JPY")
    (Decimal('1500'), False)
    >>> quantize_money(Decimal("1" * 30), "EUR")
    Traceback (most recent call last):
    ...
    ValueError: too many digits for a money amount
    """
    try:
        q = value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_EVEN)
    except InvalidOperation:
        raise ValueError("too many digits for a money amount") from None
    return q, q != value


def money_str(value, currency) -> str | None:
    """Plain text of a money value with exactly ``currency``'s decimals (exports, CSV).

    Examples
    --------
    >>> money_str(Decimal("12.500"), "EUR"), money_str(Decimal("1.250"), "KWD"), money_str(Decimal("500.000"), "JPY")
    ('12.50', '1.250', '500')
    >>> money_str(None, "EUR") is None
    True
    """
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-minor_units(currency))))


def to_scaled(value) -> int:
    """Decimal (or number text) in currency units -> integer thousandths, exactly.

    Examples
    --------
    >>> to_scaled(Decimal("55000")), to_scaled("0.125")
    (55000000, 125)
    """
    return int((Decimal(str(value)) * MONEY_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_scaled(scaled: int) -> Decimal:
    """Integer thousandths -> Decimal currency units, exactly.

    Examples
    --------
    >>> from_scaled(1250125)
    Decimal('1250.125')
    """
    return Decimal(int(scaled)).scaleb(-MONEY_DECIMALS)


def money_text(cents: int, currency) -> str:
    """``"USD 1,234.50"`` from integer thousandths (:data:`MONEY_SCALE`), exactly, in the currency's decimals.

    Examples
    --------
    >>> money_text(1234500, "USD"), money_text(1250125, "KWD"), money_text(1500000, "JPY")
    ('USD 1,234.50', 'KWD 1,250.125', 'JPY 1,500')
    """
    d = minor_units(currency)
    return f"{currency or 'unknown currency'} {from_scaled(cents):,.{d}f}"
