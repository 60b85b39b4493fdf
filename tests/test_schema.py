from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from followmoney.core import schema


def test_every_field_is_documented():
    for name, sch in schema.SCHEMAS.items():
        for f in sch:
            assert f.metadata and f.metadata[b"doc"], f"{name}.{f.name} has no doc"


def test_money_is_decimal_and_time_is_utc():
    tx = schema.SCHEMAS["transactions"]
    for col in ("amount", "amount_local", "amount_received"):
        assert tx.field(col).type == pa.decimal128(18, 3)
    assert tx.field("timestamp").type == pa.timestamp("us", tz="UTC")


def test_conform_fills_and_orders_columns():
    t = schema.conform([{"reason": "r", "table": "transactions", "source_ref": "f:2", "source": "x"}], "rejects")
    assert t.column_names == schema.SCHEMAS["rejects"].names
    assert t.column("raw").to_pylist() == [None]


def test_conform_rejects_nulls_in_required_columns():
    with pytest.raises(schema.SchemaError, match="source_ref"):
        schema.conform([{"source": "x", "source_ref": None, "table": "t", "reason": "r"}], "rejects")


def test_validate_names_the_column():
    t = schema.empty("accounts").drop_columns(["iban"])
    with pytest.raises(schema.SchemaError, match="iban"):
        schema.validate(t, "accounts")


@given(st.decimals(min_value=Decimal("-999999999999999.999"), max_value=Decimal("999999999999999.999"), places=3))
def test_to_cents_is_exact(d):
    """Integer thousandths of the unit, exactly: three-decimal currencies (KWD) included."""
    arr = pa.array([d], schema.MONEY)
    assert schema.to_cents(arr).to_pylist() == [int(d * 1000)]
    assert schema.from_cents(schema.to_cents(arr)).to_pylist() == [d]


def test_has_flag():
    flags = pa.array([["negative_amount"], ["self_transfer", "x"], [], None], pa.list_(pa.string()))
    assert schema.has_flag(flags, "self_transfer").to_pylist() == [False, True, False, False]
