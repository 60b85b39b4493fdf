"""Small hand-made inputs per rule with a known answer, shared by the rule tests.

``POSITIVE[rule_id]()`` returns ``(bundle, config, expected)``: a bundle on which the rule
must fire, the configuration to use, and the expected subject ids of its alerts.
Every registered rule needs an entry (the conformance suite checks).
"""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa

import followmoney as fm

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)


def tx(i, frm, to, amount, day, channel="transfer", currency="USD", **kw):
    """One transaction row; ``day`` may be fractional (hours = day * 24)."""
    return {
        "txn_id": f"t{i:04d}",
        "source": "test",
        "source_ref": f"hand.csv:{i + 2}",
        "timestamp": T0 + timedelta(days=day),
        "amount": Decimal(amount),
        "currency": currency,
        "from_account": frm,
        "to_account": to,
        "channel": channel,
        **kw,
    }


def bundle(rows, **tables):
    return fm.Bundle(transactions=pa.Table.from_pylist(rows), **{k: pa.Table.from_pylist(v) for k, v in tables.items()})


def structuring():
    rows = [tx(i, None, "BANK/1", a, i, "cash_deposit") for i, a in enumerate(["9500.00", "9800.00", "9000.00"])]
    return bundle(rows), fm.Config(), {"BANK/1"}


def fan_in():
    return bundle([tx(i, f"S/{i}", "HUB/1", "100.00", i) for i in range(6)]), fm.Config(), {"HUB/1"}


def fan_out():
    return bundle([tx(i, "SRC/1", f"B/{i}", "100.00", i) for i in range(6)]), fm.Config(), {"SRC/1"}


def pass_through():
    rows = []
    for k, day in enumerate((0, 10)):
        rows.append(tx(10 * k, "EMP/1", "MULE/1", "6000.00", day))
        rows.append(tx(10 * k + 1, "MULE/1", "OUT/9", "5500.00", day + 1))
    return bundle(rows), fm.Config(), {"MULE/1"}


def new_account():
    opened = [{"account_id": f"NEW/{i}", "opened": T0, "source_ref": f"acc.csv:{i}"} for i in range(6)]
    rows = [tx(i, "X/0", f"NEW/{i}", "100.00", 1) for i in range(1, 6)]
    rows += [tx(10, "X/1", "NEW/0", "9000.00", 2), tx(11, "NEW/0", "X/2", "8900.00", 3)]
    return bundle(rows, accounts=opened), fm.Config(), {"NEW/0"}


def controller():
    rows, i = [], 0
    for v in range(3):
        for month in (0, 31):
            rows.append(tx(i, f"CLIENT/{v}{month}", f"VICTIM/{v}", "300.00", month + v * 0.1))
            rows.append(tx(i + 1, f"VICTIM/{v}", "BOSS/1", "280.00", month + v * 0.1 + 0.5))
            i += 2
    expected = {"BOSS/1", "VICTIM/0", "VICTIM/1", "VICTIM/2"}
    return bundle(rows), fm.Config(), expected


def wages_drained():
    rows = []
    for k, day in enumerate((0, 30, 60)):
        rows.append(tx(10 * k, "EMPLOYER/1", "WORKER/1", "2000.00", day, description="SALARY MARCH"))
        rows.append(tx(10 * k + 1, "WORKER/1", None, "1900.00", day + 0.5, "cash_withdrawal"))
    return bundle(rows), fm.Config(), {"WORKER/1"}


def wages_pooled():
    rows = []
    for w in range(3):
        rows.append(tx(10 * w, "EMPLOYER/1", f"WORKER/{w}", "2000.00", 0, description="payroll"))
        rows.append(tx(10 * w + 1, f"WORKER/{w}", "AGENT/1", "1500.00", 1))
    return bundle(rows), fm.Config(), {"AGENT/1", "WORKER/0", "WORKER/1", "WORKER/2"}


POSITIVE = {
    "ML-01": structuring,
    "ML-05": fan_in,
    "ML-06": fan_out,
    "ML-04": pass_through,
    "ML-19": new_account,
    "HT-09": controller,
    "FL-01": wages_drained,
    "FL-02": wages_pooled,
}
