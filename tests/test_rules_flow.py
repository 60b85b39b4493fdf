"""Pass-through, new-account, controller and wage rules: near misses and details."""

import pytest

import followmoney as fm
from rule_cases import POSITIVE, bundle, tx


def alerts(b, rule, cfg=None):
    return fm.score(b, cfg or fm.Config(), rules=[rule]).to_pylist()


def test_pass_through_evidence_and_explanation():
    b, cfg, _ = POSITIVE["ML-04"]()
    (a,) = alerts(b, "ML-04", cfg)
    assert a["evidence_txn_ids"] == ["t0000", "t0001", "t0010", "t0011"]
    assert "2 inflows" in a["explanation"] and "48 hours" in a["explanation"] and "92%" in a["explanation"]


def test_pass_through_near_misses():
    # forwards only 80 %, or inflow below half the USD 10,000 threshold, or only one inflow
    low_share = [tx(0, "E", "M", "6000.00", 0), tx(1, "M", "O", "4800.00", 1), tx(2, "E", "M", "6000.00", 9), tx(3, "M", "O", "4800.00", 10)]
    small = [tx(0, "E", "M", "4000.00", 0), tx(1, "M", "O", "4000.00", 1), tx(2, "E", "M", "4000.00", 9), tx(3, "M", "O", "4000.00", 10)]
    late = [tx(0, "E", "M", "6000.00", 0), tx(1, "M", "O", "6000.00", 3), tx(2, "E", "M", "6000.00", 9), tx(3, "M", "O", "6000.00", 12)]
    for rows in (low_share, small, late, low_share[:2]):
        assert alerts(bundle(rows), "ML-04") == []


def test_new_account_needs_opened_dates():
    b, _, _ = POSITIVE["ML-19"]()
    assert alerts(fm.Bundle(transactions=b.transactions), "ML-19") == []  # no accounts.opened: silent


def test_controller_roles_and_links():
    b, cfg, _ = POSITIVE["HT-09"]()
    got = {a["subject_id"]: a for a in alerts(b, "HT-09", cfg)}
    assert got["BOSS/1"]["subject_role"] == "controller"
    assert got["BOSS/1"]["related_subject_ids"] == ["VICTIM/0", "VICTIM/1", "VICTIM/2"]
    assert got["VICTIM/1"]["subject_role"] == "potential_victim" and got["VICTIM/1"]["related_subject_ids"] == ["BOSS/1"]
    assert "potential victim" in got["VICTIM/1"]["explanation"]


def test_controller_near_misses():
    b, cfg, _ = POSITIVE["HT-09"]()
    rows = b.transactions.to_pylist()
    two_victims = [r for r in rows if "VICTIM/2" not in (r["from_account"], r["to_account"])]
    assert alerts(bundle(two_victims), "HT-09") == []
    one_month = [r for r in rows if r["timestamp"].day == 4]
    assert alerts(bundle(one_month), "HT-09") == []
    assert alerts(b, "HT-09", fm.Config(rules={"HT-09": {"min_months": 1, "min_senders": 4}})) == []


def test_wages_drained_needs_two_of_three_cycles():
    b, _, _ = POSITIVE["FL-01"]()
    rows = b.transactions.to_pylist()
    assert alerts(bundle(rows[:2] + rows[2:3] + rows[4:5]), "FL-01") == []  # only the first wage drained
    (a,) = alerts(b, "FL-01")
    assert a["subject_role"] == "potential_victim" and "withdrawn in cash" in a["explanation"]


def test_wages_drained_evidence_is_each_wage_and_its_draining_destination():
    # each wage: 1,700 of 2,000 to the agent in two parts, the rest spent; the last one is withdrawn in cash instead
    rows = []
    for k, day in enumerate((0, 30)):
        rows += [tx(10 * k, "EMPLOYER/1", "WORKER/1", "2000.00", day, description="SALARY"),
                 tx(10 * k + 1, "WORKER/1", "AGENT/1", "1000.00", day + 0.5), tx(10 * k + 2, "WORKER/1", "AGENT/1", "700.00", day + 1),
                 tx(10 * k + 3, "WORKER/1", "SHOP/1", "50.00", day + 0.6, "card"), tx(10 * k + 4, "WORKER/1", "LANDLORD/1", "150.00", day + 1.5)]  # fmt: skip
    rows += [tx(20, "EMPLOYER/1", "WORKER/1", "2000.00", 60, description="SALARY"), tx(21, "WORKER/1", None, "1800.00", 60.5, "cash_withdrawal"),
             tx(22, "WORKER/1", "AGENT/1", "100.00", 61)]  # fmt: skip
    (a,) = alerts(bundle(rows), "FL-01")
    assert a["evidence_txn_ids"] == ["t0000", "t0001", "t0002", "t0010", "t0011", "t0012", "t0020", "t0021"]
    assert "3 of 3 wage credits" in a["explanation"] and "sent to account AGENT/1" in a["explanation"]


def test_wages_need_a_payroll_marker():
    b, _, _ = POSITIVE["FL-02"]()
    plain = [{**r, "description": None} for r in b.transactions.to_pylist()]
    assert alerts(bundle(plain), "FL-02") == []
    marked = [{**r, "is_payroll": r["from_account"] == "EMPLOYER/1"} for r in plain]
    assert {a["subject_id"] for a in alerts(bundle(marked), "FL-02")} == {"AGENT/1", "WORKER/0", "WORKER/1", "WORKER/2"}


@pytest.mark.parametrize(("every", "alerted"), [(1, True), (2, False)])
def test_pooled_wages_need_a_forward_pay_cycle_after_pay_cycle(every, alerted):
    # three workers paid every 14 days; each pays 85% of a wage to one account after every (other) payday
    rows, i = [], 0
    for w in range(3):
        for k in range(8):
            rows.append(tx(i, "EMPLOYER/1", f"WORKER/{w}", "1000.00", 14 * k, description="payroll"))
            if k % every == 0:
                rows.append(tx(i + 1, f"WORKER/{w}", "HUB/1", "850.00", 14 * k + 1))
            i += 2
    alerts = fm.score(bundle(rows), rules=["FL-02"]).to_pylist()
    assert ("HUB/1" in {a["subject_id"] for a in alerts}) is alerted
