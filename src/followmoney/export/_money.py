"""Money as people write it: each amount with exactly its currency's ISO 4217 decimals."""

from __future__ import annotations

import pyarrow as pa

from followmoney.core.units import MONEY_DECIMALS, money_str

__all__ = ["MONEY_CURRENCY", "money_as_text"]

#: Money column -> the currency column beside it (every other money column: ``currency``).
MONEY_CURRENCY = {
    "amount_local": "currency_local",
    "amount_received": "currency_received",
    "instructed_amount": "instructed_currency",
}


def money_as_text(table: pa.Table) -> pa.Table:
    """Money columns as plain decimal text with exactly their currency's ISO 4217 decimals.

    The canonical money type keeps three decimals (for KWD, BHD, ...); written files show
    each amount as its currency writes it: ``12.50`` EUR, ``1250.125`` KWD, ``1500`` JPY.
    A column without a currency beside it keeps all three decimals.

    Examples
    --------
    >>> from decimal import Decimal
    >>> from followmoney.core import schema
    >>> t = pa.table({"amount_total": pa.array([Decimal("12.5"), Decimal("1250.125"), Decimal("1500"), None], schema.MONEY),
    ...               "currency": ["EUR", "KWD", "JPY", "EUR"]})
    >>> money_as_text(t)["amount_total"].to_pylist()
    ['12.50', '1250.125', '1500', None]
    """
    for i, field in enumerate(table.schema):
        if not pa.types.is_decimal(field.type) or field.type.scale != MONEY_DECIMALS:
            continue
        ccy_col = MONEY_CURRENCY.get(field.name, "currency")
        if ccy_col not in table.column_names:
            continue
        text = [money_str(v, c) for v, c in zip(table.column(i).to_pylist(), table[ccy_col].to_pylist())]
        table = table.set_column(i, field.name, pa.array(text, pa.string()))
    return table
