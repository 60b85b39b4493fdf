"""Typology rules on small hand-made inputs where the right answer is known, plus a conformance suite."""

import json
from datetime import timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

import followmoney as fm
from followmoney.core.config import ConfigError
from followmoney.detect.rules import REGISTRY, ParameterError
from rule_cases import bundle, tx


def alerts_of(b, rule, **cfg):
    return fm.score(b, fm.Config(**cfg), rules=[rule]).to_pylist()


# ------------------------------------------------------------------ structuring (ML-01)
def deposits(amounts, days=None, currency="USD", channel="cash_deposit"):
    days = days or list(range(len(amounts)))
    return [tx(i, None, "BANK/1", a, d, channel, currency) for i, (a, d) in enumerate(zip(amounts, days))]


def test_structuring_three_deposits_below_us_threshold():
    a = alerts_of(bundle(deposits(["9500.00", "9800.00", "9000.00"])), "ML-01", jurisdiction="US")
    assert len(a) == 1
    al = a[0]
    assert al["subject_id"] == "BANK/1" and al["typology"] == "structuring"
    assert al["evidence_txn_ids"] == ["t0000", "t0001", "t0002"]
    assert al["amount_total"] == Decimal("28300.00") and al["currency"] == "USD"
    assert "USD 10,000.00" in al["explanation"] and "8,000.00" in al["explanation"]
    assert al["evidence_source_refs"] == ["hand.csv:2", "hand.csv:3", "hand.csv:4"]
    assert json.loads(al["params"]) == {"jurisdiction": "US", "band_fraction": 0.8, "min_transactions": 3, "window_days": 7.0}


def test_structuring_needs_the_count_within_the_window():
    assert alerts_of(bundle(deposits(["9500.00", "9800.00", "9000.00"], days=[0, 5, 12])), "ML-01") == []


def test_structuring_ignores_amounts_outside_the_band():
    assert alerts_of(bundle(deposits(["7999.99", "9800.00", "9000.00", "12000.00"])), "ML-01") == []


@pytest.mark.parametrize(("jurisdiction", "alerted"), [("US", True), ("AU", False)])
def test_structuring_comparator_at_exactly_the_threshold(jurisdiction, alerted):
    """US reports amounts above 10,000, so 10,000.00 is unreported; AU reports 10,000 or more."""
    cur = "USD" if jurisdiction == "US" else "AUD"
    b = bundle(deposits(["10000.00", "10000.00", "9500.00"], currency=cur))
    assert bool(alerts_of(b, "ML-01", jurisdiction=jurisdiction)) is alerted


def test_structuring_uses_the_jurisdictions_threshold_and_currency():
    b = bundle(deposits(["450000000.00", "480000000.00", "499000000.00"], currency="IDR"))
    assert alerts_of(b, "ML-01", jurisdiction="US") == []  # other currency: never converted
    a = alerts_of(b, "ML-01", jurisdiction="ID")
    assert len(a) == 1 and "IDR 500,000,000.00" in a[0]["explanation"]


def test_structuring_withdrawals_keyed_on_the_paying_account():
    rows = [tx(i, "BANK/9", None, "9900.00", i, "cash_withdrawal") for i in range(3)]
    a = alerts_of(bundle(rows), "ML-01")
    assert [x["subject_id"] for x in a] == ["BANK/9"] and "cash withdrawals" in a[0]["explanation"]


def test_structuring_parameters_from_config():
    b = bundle(deposits(["9500.00", "9800.00"]))
    assert alerts_of(b, "ML-01") == []
    assert len(alerts_of(b, "ML-01", rules={"ML-01": {"min_transactions": 2}})) == 1


# ------------------------------------------------------------------ fan-in / fan-out (ML-05/06)
#: configs/amlsim.toml: AMLSim's demo K in 30 days, no burst, newness or value test
AMLSIM = {"min_counterparties": 5, "window_days": 30, "min_ratio_to_typical": 1.0, "min_new_counterparties": 0,
          "min_new_value_fraction": 0, "min_payment_fraction": 0}


def test_fan_in_distinct_senders():
    rows = [tx(i, f"S/{i}", "HUB/1", "100.00", i) for i in range(5)]
    rows.append(tx(5, "S/0", "HUB/1", "100.00", 6))  # repeat sender: not a new counterparty
    a = alerts_of(bundle(rows), "ML-05", rules={"ML-05": AMLSIM})
    assert len(a) == 1 and a[0]["subject_id"] == "HUB/1"
    assert "5 distinct senders" in a[0]["explanation"]
    # evidence: the first window in which the peak is reached (the repeat comes later)
    assert a[0]["evidence_txn_ids"] == [f"t{i:04d}" for i in range(5)]
    assert a[0]["amount_total"] == Decimal("500.00")
    assert alerts_of(bundle(rows), "ML-05") == []  # defaults: 500.00 with the new senders is under 0.25 T


def test_fan_in_evidence_leaves_out_counterparties_known_before_the_window_for_each_hub():
    rows = []
    for h, (hub, day0) in enumerate([("HUB/A", 100), ("HUB/C", 200)]):
        base = 100 * h
        rows.append(tx(base, f"K/{hub}", hub, "50.00", 0))  # a sender the hub has known since day 0
        rows += [tx(base + 1 + i, f"S/{hub}/{i}", hub, "100.00", day0 + i) for i in range(6)]
        rows.append(tx(base + 10, f"K/{hub}", hub, "70.00", day0 + 1))
    a = {x["subject_id"]: x for x in alerts_of(bundle(rows), "ML-05", rules={"ML-05": AMLSIM})}
    assert set(a) == {"HUB/A", "HUB/C"}
    assert a["HUB/A"]["evidence_txn_ids"] == [f"t{i:04d}" for i in range(1, 7)]  # t0010, the known sender, left out
    assert a["HUB/C"]["evidence_txn_ids"] == [f"t{i:04d}" for i in range(101, 107)]
    assert "7 distinct senders" in a["HUB/C"]["explanation"]


def test_fan_in_below_threshold_or_spread_out():
    rows = [tx(i, f"S/{i}", "HUB/1", "100.00", i * 10) for i in range(5)]
    assert alerts_of(bundle(rows), "ML-05", rules={"ML-05": AMLSIM}) == []
    assert alerts_of(bundle(rows[:4]), "ML-05", rules={"ML-05": {**AMLSIM, "window_days": 365}}) == []


def test_fan_in_needs_a_burst_above_the_accounts_usual_level():
    steady = [tx(i, f"S/{i % 9}", "SHOP/1", "600.00", 0.5 * i) for i in range(120)]  # 9 regular payers all along
    assert alerts_of(bundle(steady), "ML-05") == []
    small = steady + [tx(200 + i, f"NEW/{i}", "SHOP/1", "900.00", 30 + 0.1 * i) for i in range(12)]
    assert alerts_of(bundle(small), "ML-05") == []  # 21 < 3 x 9
    burst = steady + [tx(200 + i, f"NEW/{i}", "SHOP/1", "900.00", 30 + 0.1 * i) for i in range(20)]
    (a,) = alerts_of(bundle(burst), "ML-05")
    assert "29 distinct senders" in a["explanation"]
    assert "3 times its usual 9 (median" in a["explanation"]


def test_fan_in_recurring_monthly_payers_are_not_a_burst():
    # a landlord: the same 20 tenants pay in the first days of every month for a year
    rows = [tx(100 * m + i, f"TENANT/{i}", "LANDLORD/1", "800.00", 30 * m + 0.2 * i) for m in range(12) for i in range(20)]
    assert alerts_of(bundle(rows), "ML-05") == []


def test_fan_in_baseline_is_point_in_time():
    # quiet for 100 days (one payer a fortnight), then a burst of 10 new senders, then busy like that for good:
    # judged against the quiet months before it, not the busy months after
    quiet = [tx(i, "S/0", "ACC/1", "600.00", 14 * i) for i in range(8)]
    burst = [tx(100 + i, f"NEW/{i}", "ACC/1", "500.00", 100 + 0.3 * i) for i in range(10)]
    after = [tx(200 + i, f"LATER/{i % 10}", "ACC/1", "500.00", 110 + 0.6 * i) for i in range(200)]
    (a,) = alerts_of(bundle(quiet + burst + after), "ML-05")
    assert "times its usual 1 (median" in a["explanation"]


def test_fan_in_new_account_has_no_usual_level():
    rows = [tx(i, f"S/{i}", "NEW/1", "500.00", 200 + 0.5 * i) for i in range(8)]
    rows += [tx(100, "X/1", "OTHER/1", "10.00", 0)]  # the data start long before the account's first credit
    (a,) = alerts_of(bundle(rows), "ML-05")
    assert "none: no transactions in the 90 days before" in a["explanation"]


def test_fan_in_leaves_out_card_and_payroll_payments():
    cards = [tx(i, f"C/{i}", "SHOP/1", "20.00", 0.3 * i, "card") for i in range(10)]
    assert alerts_of(bundle(cards), "ML-05") == []
    payroll = [tx(i, "EMPLOYER/1", f"W/{i}", "2000.00", 0.01 * i, description="SALARY") for i in range(10)]
    assert alerts_of(bundle(payroll), "ML-06") == []


def _contacts(acc, n=6, day=0.0):
    """An ordinary person: n friends who each paid the account once in its first months (txn ids 900+)."""
    return [tx(900 + i, f"FRIEND/{i}", acc, "60.00", day + 9 * i) for i in range(n)]


def test_fan_out_judged_in_the_window_with_most_new_beneficiaries_when_the_busiest_holds_the_rent():
    # AMLworld-style seed 7 (issue 15): the monthly rent, then 5 new beneficiaries within 3 days; the first
    # window to reach 5 holds the rent and 4 of them, the window two days later the 5 new ones
    rent = [tx(100 + m, "ACC/1", "LANDLORD/1", "1175.00", 28 * m) for m in range(4)]
    burst = [tx(i, "ACC/1", f"NEW/{i}", amount, day) for i, (amount, day) in enumerate(
        [("8188.27", 63.0), ("3598.51", 63.5), ("9412.89", 64.0), ("9050.12", 64.5), ("5762.39", 66.0)])]
    (a,) = alerts_of(bundle(rent + burst), "ML-06")
    assert a["evidence_txn_ids"] == [f"t{i:04d}" for i in range(5)]  # the rent is not evidence
    assert "Window with the most beneficiaries new to the account" in a["explanation"]
    assert a["amount_total"] == Decimal("36012.18")
    # where the busiest window already holds the 5 new ones, it is the one shown, as before
    (b,) = alerts_of(bundle(rent + [{**r, "timestamp": r["timestamp"] + timedelta(days=5)} for r in burst]), "ML-06")
    assert "Busiest window" in b["explanation"] and b["evidence_txn_ids"] == a["evidence_txn_ids"]
    # 4 new beneficiaries are not a burst in any window
    assert alerts_of(bundle(rent + burst[:4]), "ML-06") == []


def test_fan_in_needs_new_senders_worth_a_quarter_of_the_threshold():
    # 6 new senders, 900.00 each, within 8 days, on an account with its own friends: a burst (AU T = 10,000)
    burst = [tx(i, f"NEW/{i}", "ACC/1", "900.00", 100 + 1.5 * i) for i in range(6)]
    (a,) = alerts_of(bundle(_contacts("ACC/1") + burst), "ML-05")
    assert a["evidence_txn_ids"] == [f"t{i:04d}" for i in range(6)]
    # the same friends paying again in one week are not new: no burst
    again = [tx(i, f"FRIEND/{i}", "ACC/1", "900.00", 100 + 1.5 * i) for i in range(6)]
    assert alerts_of(bundle(_contacts("ACC/1") + again), "ML-05") == []
    # 6 new senders with small person-to-person sums (6 x 300.00 < 0.25 x 10,000): no burst; the floor is a parameter
    small = [{**r, "amount": Decimal("300.00")} for r in burst]
    assert alerts_of(bundle(_contacts("ACC/1") + small), "ML-05") == []
    lower = {"min_new_value_fraction": 0.1, "min_payment_fraction": 0.02}  # and payments of 300.00 counted (>= 200.00)
    assert len(alerts_of(bundle(_contacts("ACC/1") + small), "ML-05", rules={"ML-05": lower})) == 1


def test_employers_and_merchants_are_not_fan_subjects():
    invoices = [tx(i, f"CLIENT/{i}", "FIRM/1", "900.00", 100 + 1.5 * i) for i in range(6)]
    supplies = [tx(10 + i, "FIRM/1", f"SUPPLIER/{i}", "900.00", 100 + 1.5 * i) for i in range(6)]
    assert len(alerts_of(bundle(invoices), "ML-05")) == 1 and len(alerts_of(bundle(supplies), "ML-06")) == 1
    payroll = [tx(50, "FIRM/1", "W/1", "2000.00", 30, description="SALARY")]  # it runs payroll: an employer
    card = [tx(60, "CUSTOMER/1", "FIRM/1", "20.00", 30, "card")]  # it takes card payments: a merchant
    for extra in (payroll, card):
        assert alerts_of(bundle(invoices + extra), "ML-05") == []
        assert alerts_of(bundle(supplies + extra), "ML-06") == []


def test_fan_in_ignores_self_transfers():
    rows = [tx(i, "HUB/1", "HUB/1", "100.00", i, quality_flags=["self_transfer"]) for i in range(6)]
    assert alerts_of(bundle(rows), "ML-05") == []


def test_fan_out_distinct_beneficiaries():
    rows = [tx(i, "SRC/1", f"B/{i}", "600.00", 0.5 * i) for i in range(9)]
    a = alerts_of(bundle(rows), "ML-06")
    assert len(a) == 1 and a[0]["subject_id"] == "SRC/1" and "9 distinct beneficiaries" in a[0]["explanation"]
    assert 0.5 < a[0]["score"] <= 1


def test_fan_out_burst_counted_beyond_the_accounts_ordinary_payees():
    """min_above_typical (configs/amlsim.toml: K): five new beneficiaries in a fortnight on top of an account's
    five regular payees are alerted, with exactly those five payments as evidence; three new ones (8 in the
    window against the usual 5) and the regular payees alone (5 every month) are its ordinary ups and downs."""
    # ordinary business: five regular payees, each paid every 31 days, staggered
    usual = [tx(10 * k + j, "ACC/1", f"REG/{j}", "300.00", 6 * j + 31 * k) for k in range(7) for j in range(5)]
    burst = [tx(500 + i, "ACC/1", f"NEW/{i}", "400.00", 130 + 2 * i) for i in range(5)]
    rules = {"ML-06": {**AMLSIM, "min_above_typical": 5}}
    (a,) = alerts_of(bundle(usual + burst), "ML-06", rules=rules)
    assert a["subject_id"] == "ACC/1" and a["evidence_txn_ids"] == [f"t{500 + i:04d}" for i in range(5)]
    assert "10 distinct beneficiaries" in a["explanation"] and "its usual 5 (median" in a["explanation"]
    assert "and at least 5 above it" in a["explanation"]
    for rows in (usual + burst[:3], usual):
        assert alerts_of(bundle(rows), "ML-06", rules=rules) == []
        assert [x["subject_id"] for x in alerts_of(bundle(rows), "ML-06", rules={"ML-06": AMLSIM})] == ["ACC/1"]


def test_fan_out_burst_compared_with_the_accounts_usual_payees_of_its_size():
    """Like with like (min_payment_fraction, 0.05 x T = 500.00 in the US): five new beneficiaries of 2,500.00-2,900.00
    within three days on a person who pays rent monthly and 40.00 to one of four friends every three days are a
    burst against its usual one payee of that size (the landlord), with exactly the five payments as evidence;
    counting the friends' small transfers too, the window holds 8 against a usual 4 (under 3x): no alert."""
    rent = [tx(300 + m, "ACC/9", "LANDLORD/1", "1200.00", 30 * m) for m in range(5)]
    friends = [tx(400 + i, "ACC/9", f"FRIEND/{i % 4}", "40.00", 3 * i + 1) for i in range(40)]
    burst = [tx(500 + i, "ACC/9", f"NEW/{i}", f"{2500 + 100 * i}.00", 100 + 0.6 * i) for i in range(5)]
    (a,) = alerts_of(bundle(rent + friends + burst), "ML-06")
    assert a["subject_id"] == "ACC/9" and a["evidence_txn_ids"] == [f"t{500 + i:04d}" for i in range(5)]
    assert "its usual 1 (median" in a["explanation"]
    assert alerts_of(bundle(rent + friends + burst), "ML-06", rules={"ML-06": {"min_payment_fraction": 0}}) == []
    # five new beneficiaries of 400.00 each (under the floor) are no burst of that size, whatever the value test
    small = [{**r, "amount": Decimal("400.00")} for r in burst]
    assert alerts_of(bundle(rent + friends + small), "ML-06", rules={"ML-06": {"min_new_value_fraction": 0.1}}) == []


@pytest.mark.parametrize("subject", ["to_account", "from_account"])
def test_fan_rules_leave_out_the_same_businesses_by_code_and_by_text(subject):
    """ML-05/06 leave out employers, merchants and billers: read from the frame's account codes, or from the text
    of a frame without them (built by hand), the same rows; on a synthetic world with payroll and card payments."""
    from followmoney.core.frame import CODE_COLUMNS, prepare_transactions
    from followmoney.datasets.synth import make_transactions
    from followmoney.detect.rules._fan import _businesses

    b = make_transactions(n_accounts=1000, n_days=60, n_per_typology=1, random_state=3)[0]
    frame = prepare_transactions(b.transactions, "UTC", b.accounts)
    by_code = _businesses(frame, subject)
    by_text = _businesses(frame.drop(columns=list(CODE_COLUMNS.values())), subject)
    assert by_code.tolist() == by_text.tolist() and 0 < by_code.sum() < len(frame)


def test_fan_in_burst_counted_beyond_the_accounts_ordinary_senders():
    usual = [tx(10 * k + j, f"REG/{j}", "ACC/1", "300.00", 6 * j + 31 * k) for k in range(7) for j in range(5)]
    burst = [tx(500 + i, f"NEW/{i}", "ACC/1", "400.00", 130 + 2 * i) for i in range(5)]
    rules = {"ML-05": {**AMLSIM, "min_above_typical": 5}}
    (a,) = alerts_of(bundle(usual + burst), "ML-05", rules=rules)
    assert a["evidence_txn_ids"] == [f"t{500 + i:04d}" for i in range(5)]
    assert alerts_of(bundle(usual + burst[:3]), "ML-05", rules=rules) == []


def test_amount_totals_never_add_currencies():
    rows = [tx(i, f"S/{i}", "HUB/1", "100.00", i, currency="USD" if i % 2 else "EUR") for i in range(6)]
    a = alerts_of(bundle(rows), "ML-05", rules={"ML-05": AMLSIM})[0]
    assert a["amount_total"] is None and a["currency"] is None
    assert "EUR 300.00, USD 300.00" in a["explanation"]


# ------------------------------------------------------------------ just below a secondary threshold (ML-17)
@pytest.mark.parametrize(("n_above", "alerted"), [(0, True), (1, True), (2, False)])
def test_secondary_threshold_needs_avoidance(n_above, alerted):
    rows = [tx(i, "S/1", f"R/{i}", "2900.00", i, "wire") for i in range(4)]  # four in [2,550, 3,000) in 7 days
    rows += [tx(10 + i, "S/1", f"R/{i}", "3300.00", 40 + i, "wire") for i in range(n_above)]  # just above, weeks later
    alerts = alerts_of(bundle(rows), "ML-17")
    assert bool(alerts) is alerted
    if alerted:
        assert f"4 transfers in that band and {n_above} just above" in alerts[0]["explanation"]


# ------------------------------------------------------------------ funnel accounts (ML-03)
def _funnel(regions, out_channel="atm", out_region="NORTH"):
    rows = [tx(i, None, "FUN/1", "2000.00", i, "cash_deposit", location_id=f"BR-{i}", location_region=r)
            for i, r in enumerate(regions)]  # fmt: skip
    rows.append(tx(9, "FUN/1", None, "5000.00", 3, out_channel, location_id="ATM-9", location_region=out_region))
    accounts = [{"account_id": "FUN/1", "home_region": "HOME", "source_ref": "acc.csv:2"}]
    return bundle(rows, accounts=accounts)


@pytest.mark.parametrize(
    ("regions", "out_channel", "out_region", "alerted"),
    [
        (["EAST", "WEST", "SOUTH"], "atm", "NORTH", True),
        (["EAST", "WEST", "SOUTH"], "atm", "HOME", True),  # taken out at home, away from where it was paid in
        (["HOME", "HOME", "HOME"], "atm", "NORTH", False),  # paid in at the account's own branches
        (["EAST", "WEST", "HOME"], "atm", "NORTH", False),  # only two places away from home
        (["EAST", "WEST", "SOUTH"], "atm", "EAST", False),  # withdrawn where it was paid in
        (["EAST", "WEST", "SOUTH"], "card", "NORTH", False),  # spending is not taking the cash elsewhere
        (["EAST", "WEST", "SOUTH"], "wire", None, True),  # wired away
    ],
)
def test_funnel_account_by_region(regions, out_channel, out_region, alerted):
    alerts = alerts_of(_funnel(regions, out_channel, out_region), "ML-03")
    assert bool(alerts) is alerted
    if alerted:
        assert "3 times at 3 different places in 3 region(s)" in alerts[0]["explanation"]
        assert "away from the account's home region HOME" in alerts[0]["explanation"]


# ------------------------------------------------------------------ high-risk jurisdictions (ML-13)
def _remitter(nationality=None, country=None):
    rows = [tx(i, "H/2", f"Y/{i}", "500.00", i, "wire", country_to="YE") for i in range(1, 4)]
    parties = [{"party_id": "P2", "kind": "person", "name": "Ana Test", "nationality": nationality, "country": country,
                "source_ref": "kyc.csv:2"}]  # fmt: skip
    links = [{"party_id": "P2", "account_id": "H/2", "role": "holder", "source_ref": "kyc.csv:2"}]
    return bundle(rows, parties=parties, party_accounts=links)


@pytest.mark.parametrize(
    ("nationality", "country", "alerted"),
    [("YE", "US", False), ("US", "YE", False), ("US", "US", True), (None, None, True)],
)
def test_listed_country_flows_home_fit_the_profile(nationality, country, alerted):
    alerts = alerts_of(_remitter(nationality, country), "ML-13")
    assert bool(alerts) is alerted
    if alerted:
        assert "own country of nationality or residence" in alerts[0]["explanation"]


def test_call_for_action_country_alerts_even_when_home():
    b = _remitter("KP", "US")
    b = fm.Bundle(transactions=b.transactions.set_column(
        b.transactions.schema.get_field_index("country_to"), "country_to", pa.array(["KP"] * 3)),
        parties=b.parties, party_accounts=b.party_accounts)  # fmt: skip
    (a,) = alerts_of(b, "ML-13")
    assert "call for action" in a["explanation"]


# ------------------------------------------------------------------ parameters and config
def test_parameter_validation_names_rule_and_parameter():
    with pytest.raises(ParameterError, match=r"^ML-05\.min_counterparties must be an int in \[2, 10000\], got 1 "):
        REGISTRY["ML-05"].resolve_params({"min_counterparties": 1})
    with pytest.raises(ParameterError, match="unknown parameter"):
        REGISTRY["ML-01"].resolve_params({"threshold": 5})
    with pytest.raises(ConfigError, match="unknown jurisdiction"):
        fm.Config(jurisdiction="XX")


def test_config_file_round_trip(tmp_path):
    f = tmp_path / "fiu.toml"
    f.write_text('jurisdiction = "AU"\ndisabled_rules = ["ML-06"]\n[rules."ML-05"]\nmin_counterparties = 8\n')
    cfg = fm.Config.from_toml(f)
    assert cfg.jurisdiction_info.currency == "AUD" and cfg.rule_params("ML-05") == {"min_counterparties": 8}
    assert fm.Config.from_dict(cfg.to_dict()) == cfg
    (tmp_path / "bad.toml").write_text("jurisdictin = 'AU'\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        fm.Config.from_toml(tmp_path / "bad.toml")


def test_config_context_sets_jurisdiction_for_a_block():
    b = bundle(deposits(["9500.00", "9800.00", "9900.00"], currency="AUD"))
    assert fm.score(b, rules=["ML-01"]).num_rows == 0
    with fm.config(jurisdiction="AU"):
        assert fm.score(b, rules=["ML-01"]).num_rows == 1


# The conformance suite over every rule is tests/test_conformance.py (followmoney.testing.check_rule).


def test_listed_country_transfers_of_interleaved_accounts_form_one_alert_each():
    # two remitters whose transfers alternate in time: one alert per account, not one per transfer
    rows = [tx(i, f"H/{i % 2}", f"Y/{i}", "500.00", i, "wire", country_to="YE") for i in range(8)]
    alerts = alerts_of(bundle(rows), "ML-13")
    assert sorted(a["subject_id"] for a in alerts) == ["H/0", "H/1"]
