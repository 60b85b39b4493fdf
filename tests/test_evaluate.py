"""Evaluation metrics on hand-made alerts and truth, labels as truth, backtests and the backtest CLI."""

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import followmoney as fm
from followmoney.cli import main
from followmoney.core.config import ConfigError
from followmoney.evaluate import METRICS, backtest, evaluate, parse_overrides, truth_from_labels
from followmoney.datasets.synth import TRUTH_SCHEMA, make_transactions

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


def truth_table(rows):
    return pa.Table.from_pylist(rows, schema=TRUTH_SCHEMA)


def acc(typ, pid, account=None, party=None, role="member", subject=False):
    return {"typology": typ, "pattern_id": pid, "account_id": account, "party_id": party, "role": role, "is_subject": subject}


def txn(typ, pid, tid, day=0):
    return {"typology": typ, "pattern_id": pid, "role": "transaction", "txn_id": tid, "timestamp": T0 + timedelta(days=day)}


@pytest.fixture
def hand():
    truth = truth_table([
        acc("ML-05", "P1", "HUB", "pHUB", "subject", True), acc("ML-05", "P1", "S1"), acc("ML-05", "P1", "S2"),
        acc("ML-05", "P1", "C1", role="counterparty"),
        txn("ML-05", "P1", "t1"), txn("ML-05", "P1", "t2"), txn("ML-05", "P1", "t3"),
        acc("ML-05", "P2", "HUB2", role="subject", subject=True), acc("ML-05", "P2", "S3"),
        txn("ML-05", "P2", "t4"), txn("ML-05", "P2", "t5"),
        acc("HT-11", "Q1", None, "V1", "victim", True), acc("HT-11", "Q1", "CTRL_A", "CTRL", "controller", True),
        txn("HT-11", "Q1", "t6"), txn("HT-11", "Q1", "t7"),
    ])  # fmt: skip
    alerts = pd.DataFrame(
        [
            ("ML-05", "fan_in", "account", "HUB", ["t1", "t2", "t9"]),
            ("ML-05", "fan_in", "account", "SHOP", ["t8"]),
            ("ML-05", "fan_in", "account", "S3", ["t4"]),
            ("HT-11", "human_trafficking", "party", "V1", ["t6"]),
            ("ML-01", "structuring", "account", "X", ["t10"]),
            ("HT-11", "human_trafficking", "account", "C1", []),
        ],
        columns=["rule_id", "typology", "subject_kind", "subject_id", "evidence_txn_ids"],
    )
    return alerts, truth


def row(m, key):
    return m.set_index("typology").loc[key]


def test_metrics_computed_by_hand(hand):
    alerts, truth = hand
    m = evaluate(alerts, truth, n_accounts=50)
    assert list(m.columns) == list(METRICS)
    assert list(m["typology"]) == ["HT-11", "ML-01", "ML-05", "(all)"]
    r = row(m, "ML-05")
    # P1 recalled through its subject HUB; P2 only through its member S3
    assert (r.patterns, r.recalled, r.recall, r.recall_any, r.recall_evidence) == (2, 1, 0.5, 1.0, 1.0)
    # subjects HUB (subject), S3 (member), SHOP (not in any pattern)
    assert (r.alerts, r.subjects, r.subject_precision) == (3, 3, pytest.approx(2 / 3))
    # evidence {t1,t2,t9,t8,t4} against truth {t1..t5}
    assert (r.txn_evidence, r.txn_truth, r.txn_hits) == (5, 5, 3)
    assert (r.txn_precision, r.txn_recall, r.txn_f1, r.txn_precision_any) == pytest.approx((0.6, 0.6, 0.6, 0.6))
    assert r.alerts_per_1k_accounts == 60.0
    r = row(m, "HT-11")
    # a party subject matches the truth's party_id; an innocent counterparty is not a hit
    assert (r.recall, r.subject_precision, r.txn_precision, r.txn_recall) == (1.0, 0.5, 1.0, 0.5)
    assert r.txn_f1 == pytest.approx(2 / 3)
    r = row(m, "ML-01")  # a rule with nothing injected: every subject is a false positive
    assert r.patterns == 0 and math.isnan(r.recall) and r.subject_precision == 0.0 and r.txn_precision == 0.0
    assert math.isnan(r.txn_recall) and math.isnan(r.txn_f1)
    r = row(m, "(all)")
    assert (r.patterns, r.recall, r.recall_any) == (3, pytest.approx(2 / 3), 1.0)
    assert r.subject_precision == 0.5  # HUB, S3, V1 of HUB, SHOP, S3, V1, X, C1
    assert (r.txn_precision, r.txn_recall) == pytest.approx((4 / 7, 4 / 7))
    assert r.alerts_per_1k_accounts == 120.0


def test_n_accounts_from_truth_metadata_and_missing(hand):
    alerts, truth = hand
    assert math.isnan(row(evaluate(alerts, truth), "ML-05").alerts_per_1k_accounts)
    t = truth.replace_schema_metadata({"n_accounts": "200"})
    assert row(evaluate(alerts, t), "ML-05").alerts_per_1k_accounts == 15.0


def test_match_by_typology_name(hand):
    alerts, truth = hand
    t = truth.set_column(1, "typology_name", pa.array(["fan_in"] * 11 + ["human_trafficking"] * 4))
    m = evaluate(alerts, t, by="typology")
    assert set(m["typology"]) == {"fan_in", "human_trafficking", "structuring", "(all)"}
    assert row(m, "fan_in").recall == 0.5
    with pytest.raises(ValueError, match="by must be"):
        evaluate(alerts, truth, by="nope")


def test_evidence_in_a_pattern_that_contains_the_typology_counts_for_it():
    # a gather-scatter's gathering half is a fan-in; a fan-out in a velocity spike is not one by definition
    truth = truth_table([
        acc("ML-08", "G1", "HUB", role="subject", subject=True), txn("ML-08", "G1", "g1"), txn("ML-08", "G1", "g2"),
        acc("ML-18", "V1", "FAST", role="subject", subject=True), txn("ML-18", "V1", "v1"),
        acc("ML-05", "F1", "RCV", role="subject", subject=True), txn("ML-05", "F1", "f1"),
    ])  # fmt: skip
    alerts = pd.DataFrame({"rule_id": ["ML-05", "ML-05", "ML-06"], "typology": ["fan_in", "fan_in", "fan_out"],
                           "subject_kind": ["account"] * 3, "subject_id": ["HUB", "RCV", "FAST"],
                           "evidence_txn_ids": [["g1", "g2", "x9"], ["f1"], ["v1"]]})  # fmt: skip
    r = row(evaluate(alerts, truth), "ML-05")
    assert (r.txn_hits, r.txn_precision, r.txn_precision_own, r.txn_precision_any) == (3, 0.75, 0.25, 0.75)
    assert (r.recall, r.txn_recall) == (1.0, 1.0)  # recall stays the fan-in patterns'
    r = row(evaluate(alerts, truth), "ML-06")
    assert (r.txn_precision, r.txn_precision_any) == (0.0, 1.0)
    # the same by typology name
    named = truth.set_column(1, "typology_name", pa.array(["gather_scatter"] * 3 + ["velocity_spike"] * 2 + ["fan_in"] * 2))
    assert row(evaluate(alerts, named, by="typology"), "fan_in").txn_precision == 0.75


def test_evidence_counts_by_the_containment_table_given():
    # a data set whose velocity spikes are also fan-outs: measured with its own table, the catalogue's table untouched
    truth = truth_table([
        acc("ML-08", "G1", "HUB", role="subject", subject=True), txn("ML-08", "G1", "g1"),
        acc("ML-18", "V1", "FAST", role="subject", subject=True), txn("ML-18", "V1", "v1"),
    ])  # fmt: skip
    alerts = pd.DataFrame({"rule_id": ["ML-05", "ML-06"], "subject_kind": ["account"] * 2, "subject_id": ["HUB", "FAST"],
                           "evidence_txn_ids": [["g1"], ["v1", "x9"]]})  # fmt: skip
    m = evaluate(alerts, truth, contained_in={"ML-06": {"ML-18"}})
    assert (row(m, "ML-06").txn_precision, row(m, "ML-06").txn_precision_own) == (0.5, 0.0)
    assert row(m, "ML-05").txn_precision == 0.0  # not in that table: its own patterns only
    m = evaluate(alerts, truth)
    assert (row(m, "ML-05").txn_precision, row(m, "ML-06").txn_precision) == (1.0, 0.0)


def test_accepts_subject_id_and_minimal_truth():
    truth = pd.DataFrame({"typology": ["ML-06", "ML-06"], "pattern_id": ["p", "p"], "subject_id": ["A", None],
                          "txn_id": [None, "t1"]})  # fmt: skip
    alerts = pa.Table.from_pylist([{"rule_id": "ML-06", "subject_kind": "account", "subject_id": "A", "evidence_txn_ids": ["t1"]}])
    r = row(evaluate(alerts, truth), "ML-06")
    assert (r.recall_any, r.txn_f1) == (1.0, 1.0)  # no is_subject column: members only
    assert r.recall == 0.0


def test_empty_alerts():
    _, truth = make_transactions(250, 30, typologies=["ML-01"], n_per_typology=2, random_state=0)
    m = evaluate(fm.score(fm.Bundle(), rules=["ML-01"]), truth)
    r = row(m, "ML-01")
    assert (r.patterns, r.recall, r.alerts) == (2, 0.0, 0) and math.isnan(r.subject_precision)


# ------------------------------------------------------------------ BR-24: time split
def br24():
    """shared/cases/scoring.md BR-24: labels e4, e6, e7; test split t >= 6."""
    rows = [("e1", "S1", "X", 1, 0), ("e2", "S2", "X", 2, 0), ("e3", "S3", "Y", 3, 0), ("e4", "S4", "X", 4, 1),
            ("e5", "S5", "Y", 5, 0), ("e6", "S6", "X", 6, 1), ("e7", "S7", "X", 7, 1), ("e8", "S8", "Y", 8, 0)]  # fmt: skip
    tx = pa.Table.from_pylist([
        {"txn_id": i, "source": "t", "source_ref": f"br24.csv:{k + 2}", "timestamp": T0 + timedelta(days=d),
         "amount": Decimal("900"), "currency": "USD", "from_account": s, "to_account": r, "channel": "transfer",
         "is_laundering": bool(lab)}
        for k, (i, s, r, d, lab) in enumerate(rows)
    ])  # fmt: skip
    bundle = fm.Bundle(transactions=tx)
    alerts = pd.DataFrame({
        "rule_id": ["ML-05", "ML-05"], "subject_kind": ["account", "account"], "subject_id": ["X", "X"],
        "window_end": [T0 + timedelta(days=7), T0 + timedelta(days=4)],
        "evidence_txn_ids": [["e4", "e6", "e7"], ["e1", "e2", "e4"]],
    })  # fmt: skip
    return bundle, alerts


def test_br24_metrics_use_only_the_test_window():
    bundle, alerts = br24()
    truth = truth_from_labels(bundle)
    assert set(truth["txn_id"].drop_null().to_pylist()) == {"e4", "e6", "e7"}
    since = T0 + timedelta(days=6)
    m = row(evaluate(alerts, truth, since=since, transactions=bundle.transactions), "(all)")
    assert (m.alerts, m.txn_truth, m.txn_evidence, m.txn_hits) == (1, 2, 2, 2)  # e6, e7 only; the t=4 alert is out
    assert (m.txn_precision, m.txn_recall) == (1.0, 1.0)
    # without transaction times, evidence outside the window cannot be dropped: e4 counts against precision
    m2 = row(evaluate(alerts, truth, since=since), "(all)")
    assert (m2.txn_truth, m2.txn_precision) == (2, pytest.approx(2 / 3))
    # training-period labels do not change the test metrics
    test_only = truth.filter(pa.compute.or_(pa.compute.is_null(truth["txn_id"]),
                                            pa.compute.is_in(truth["txn_id"], pa.array(["e6", "e7"]))))  # fmt: skip
    m3 = row(evaluate(alerts, test_only, since=since, transactions=bundle.transactions), "(all)")
    assert m3[["txn_precision", "txn_recall", "alerts"]].tolist() == m[["txn_precision", "txn_recall", "alerts"]].tolist()
    m4 = row(evaluate(alerts, truth, until=since, transactions=bundle.transactions), "(all)")
    assert (m4.alerts, m4.txn_truth, m4.txn_hits) == (1, 1, 1)


#: AMLSim's own fan-in/fan-out parameters (its patterns unfold over weeks)
AMLSIM = fm.Config.from_toml(Path(__file__).resolve().parents[1] / "configs" / "amlsim.toml")


# ------------------------------------------------------------------ truth from labels
def test_truth_from_amlsim_labels(sample_data):
    bundle = fm.read(sample_data / "amlsim" / "transactions.csv")
    truth = truth_from_labels(bundle)
    t = truth.to_pandas()
    assert set(t["typology"]) <= {"ML-05", "ML-06", "ML-07", "ML-08", "ML-09", "ML-10", "ML-11", "random"}
    tx = bundle.transactions.to_pandas()
    sar = tx[tx["label_alert_id"].notna()]
    assert set(t.loc[t["role"] == "transaction", "txn_id"]) == set(sar["txn_id"])
    for pid, g in t[t["typology"] == "ML-05"].groupby("pattern_id"):
        p_tx = sar[sar["label_alert_id"] == pid]
        receiver = p_tx.groupby("to_account")["from_account"].nunique().idxmax()
        assert receiver in set(g.loc[g["is_subject"].fillna(False), "account_id"])
    assert int(truth.schema.metadata[b"n_accounts"]) == bundle.accounts.num_rows
    m = evaluate(fm.score(bundle, AMLSIM, rules=["ML-05"]), truth)
    assert 0 < row(m, "ML-05").recall <= 1


def test_truth_from_transaction_level_labels():
    bundle, _ = br24()
    t = truth_from_labels(bundle).to_pandas()
    assert set(t["typology"]) == {"is_laundering"} and t["pattern_id"].isna().all()
    assert set(t["account_id"].dropna()) == {"S4", "S6", "S7", "X"}
    alerts = pd.DataFrame({"rule_id": ["ML-05"], "subject_kind": ["account"], "subject_id": ["X"],
                           "evidence_txn_ids": [["e6", "e7", "e8"]]})  # fmt: skip
    r = row(evaluate(alerts, truth_from_labels(bundle)), "(all)")
    assert (r.subject_precision, r.txn_precision, r.txn_recall) == (1.0, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert math.isnan(r.recall)


def test_truth_from_synthetic_labels_matches_the_truth_table():
    bundle, truth = make_transactions(300, 45, typologies=["ML-05"], n_per_typology=2, random_state=4)
    t = truth_from_labels(bundle).to_pandas()
    assert set(t["typology"]) == {"ML-05"} and set(t["typology_name"]) == {"fan_in"}
    assert set(t["txn_id"].dropna()) == set(truth["txn_id"].drop_null().to_pylist())


# ------------------------------------------------------------------ backtest
def test_parse_overrides():
    assert parse_overrides(["ML-05.min_counterparties=8", "HT-08.band_low=150.5", "X-1.mode=loose", "ML-08.gather_first=false"]) == {
        "ML-05": {"min_counterparties": 8}, "HT-08": {"band_low": 150.5}, "X-1": {"mode": "loose"}, "ML-08": {"gather_first": False}}  # fmt: skip
    for bad in ("ML-05=8", "ML-05.min", ".x=1", "ML-05.x="):
        with pytest.raises(ConfigError):
            parse_overrides([bad])


def test_backtest_reports_before_and_after(sample_data):
    bundle = fm.read(sample_data / "amlsim" / "transactions.csv")
    bt = backtest(bundle, {"ML-05": {"min_counterparties": 8}}, config=AMLSIM, rules=["ML-05", "ML-06"],
                  truth=truth_from_labels(bundle))  # fmt: skip
    r = bt.rules.set_index("rule_id")
    assert r.loc["ML-05", "alerts_after"] < r.loc["ML-05", "alerts_before"]
    assert r.loc["ML-05", "only_before"] > 0 and r.loc["ML-05", "only_after"] == 0
    assert r.loc["ML-06", "alerts_after"] == r.loc["ML-06", "alerts_before"] and r.loc["ML-06", "only_before"] == 0
    assert len(bt.only_before) == r["only_before"].sum()
    assert {"recall_before", "recall_after", "txn_f1_after", "alerts_per_1k_accounts_before"} <= set(bt.rules.columns)
    assert r.loc["ML-05", "recall_after"] <= r.loc["ML-05", "recall_before"]
    assert bt.config_before.rules == AMLSIM.rules
    assert bt.config_after.rules == {**AMLSIM.rules, "ML-05": {**AMLSIM.rules["ML-05"], "min_counterparties": 8}}
    text = bt.report()
    assert "ML-05" in text and "→" in text and "min_counterparties" in text
    json.dumps(bt.to_dict())


def test_backtest_window_scores_only_the_window(sample_data):
    bundle = fm.read(sample_data / "amlsim" / "transactions.csv")
    lo, hi = bundle.time_span()
    mid = lo + (hi - lo) / 2
    bt = backtest(bundle, {}, config=AMLSIM, rules=["ML-05"], since=mid)
    assert bt.alerts_before.num_rows and min(bt.alerts_before["window_start"].to_pylist()) >= mid
    assert bt.rules["only_before"].sum() == bt.rules["only_after"].sum() == 0


# ------------------------------------------------------------------ CLI
def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    bundle, truth = make_transactions(300, 45, typologies=["ML-05", "ML-01"], n_per_typology=3, random_state=8)
    fm.write_bundle(bundle, d / "bundle")
    pq.write_table(truth, d / "truth.parquet")
    return d


def test_cli_backtest_on_a_stored_synthetic_bundle(stored):
    out = stored / "bt.json"
    r = run("backtest", stored / "bundle", "--set", "ML-05.min_counterparties=12", "--rule", "ML-05", "--rule", "ML-01",
            "--truth", stored / "truth.parquet", "--json", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "ML-05" in r.output and "ML-01" in r.output and "recall" in r.output
    res = json.loads(out.read_text())
    rules = {x["rule_id"]: x for x in res["rules"]}
    assert rules["ML-05"]["alerts_after"] <= rules["ML-05"]["alerts_before"]
    assert rules["ML-01"]["alerts_after"] == rules["ML-01"]["alerts_before"] and rules["ML-01"]["recall_before"] == 1.0
    assert res["config_after"]["rules"] == {"ML-05": {"min_counterparties": 12}}


def test_cli_backtest_uses_the_data_labels(sample_data):
    r = run("backtest", sample_data / "amlsim" / "transactions.csv", "--rule", "ML-05", "--set", "ML-05.window_days=7",
            "--since", "2017-01-01", "--until", "2017-06-01")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "2017-01-01 .. 2017-06-01" in r.output and "recall" in r.output


def test_cli_backtest_without_truth(tmp_path):
    bundle, _ = make_transactions(250, 30, typologies=[], random_state=1)
    tx = bundle.transactions.drop_columns(["is_laundering", "typology", "label_alert_id"])
    fm.write_bundle(fm.Bundle(transactions=tx, accounts=bundle.accounts), tmp_path / "b")
    r = run("backtest", tmp_path / "b", "--rule", "ML-01")
    assert r.exit_code == 0, r.output
    assert "metrics not computed" in r.output


def test_cli_backtest_errors(tmp_path, sample_data, stored):
    data = sample_data / "amlsim" / "transactions.csv"
    assert run("backtest", data, "--set", "ML-05:8").exit_code == 3
    assert run("backtest", data, "--set", "ML-05.nope=8", "--rule", "ML-05").exit_code == 3
    r = run("backtest", data, "--rule", "ML-99")
    assert r.exit_code == 3 and "ML-99" in r.output
    assert run("backtest", tmp_path / "missing.csv").exit_code == 2
    bad = tmp_path / "t.csv"
    bad.write_text("a,b\n1,2\n")
    assert run("backtest", stored / "bundle", "--rule", "ML-01", "--truth", bad).exit_code == 2


def test_identifier_subject_matches_through_the_accounts_on_it():
    truth = pd.DataFrame({"typology": ["HT-11"] * 2, "pattern_id": ["p1"] * 2, "account_id": ["BOSS", "V1"],
                          "is_subject": [True, False], "role": ["controller", "victim"], "txn_id": [None, None]})  # fmt: skip
    alerts = pd.DataFrame({"rule_id": ["ML-15"] * 3, "subject_kind": ["identifier"] * 3,
                           "subject_id": ["phone:+1", "address:x", "phone:+2"],
                           "related_subject_ids": [["V1", "P9"], ["BOSS"], ["NOBODY", "P8"]],
                           "evidence_txn_ids": [[], [], []]})  # fmt: skip
    m = evaluate(alerts, truth, n_accounts=10).set_index("typology")
    assert m.loc["ML-15", "subject_precision"] == 2 / 3
    assert m.loc["ML-15", "subjects"] == 3
    truth["typology"] = "ML-15"
    assert evaluate(alerts, truth, n_accounts=10).set_index("typology").loc["ML-15", "recall"] == 1.0
    assert evaluate(alerts.iloc[2:], truth, n_accounts=10).set_index("typology").loc["ML-15", "recall"] == 0.0
