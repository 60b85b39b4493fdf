"""Per-subject cases, the documented risk score, roles, and re-alert suppression across runs."""

import json
import math
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

import followmoney as fm
from followmoney.detect.cases import build_cases, suppress_repeats
from followmoney.cli import main
from rule_cases import POSITIVE, bundle, tx


def _alerts(rows):
    base = {"rule_name": "r", "typology": "t", "subject_kind": "account", "severity": "low", "evidence_count": 1,
            "explanation": "because", "params": "{}", "run_id": "RUN1", "evidence_source_refs": [], "subject_role": None,
            "related_subject_ids": []}  # fmt: skip
    full = [{**base, **r, "evidence_txn_ids": r.get("evidence_txn_ids", [r["alert_id"]])} for r in rows]
    return fm.schema.conform(full, "alerts")


def test_risk_score_is_the_documented_formula():
    alerts = _alerts([
        {"alert_id": "a1", "rule_id": "ML-05", "subject_id": "X", "score": 0.8},
        {"alert_id": "a2", "rule_id": "ML-15", "subject_id": "X", "score": 0.6},  # context rule: weight 0.5
        {"alert_id": "a3", "rule_id": "HT-09", "subject_id": "Y", "score": 0.5},
        {"alert_id": "a4", "rule_id": "ML-04", "subject_id": "Y", "score": 0.5},  # two families: x 1.1
    ])  # fmt: skip
    cases = {c["subject_id"]: c for c in build_cases(alerts).to_pylist()}
    k = fm.detect.cases.HIT_SCALE
    x = 1 - (1 - 0.8 * k) * (1 - 0.3 * k / 2**1.5)
    y = 1 - (1 - (1 - (1 - 0.5 * k) * (1 - 0.5 * k / 2**1.5))) * 0.5  # two families: remaining distance halved
    assert math.isclose(cases["X"]["risk_score"], x, abs_tol=1e-9) and cases["X"]["band"] == "priority"
    assert math.isclose(cases["Y"]["risk_score"], y, abs_tol=1e-9) and cases["Y"]["band"] == "priority"
    assert cases["X"]["rules"] == ["ML-05", "ML-15"] and not cases["X"]["human_trafficking"]
    assert cases["Y"]["human_trafficking"]


def test_many_weak_hits_do_not_outrank_one_strong_hit():
    weak = [{"alert_id": f"w{i}", "rule_id": "ML-20", "subject_id": "W", "score": 0.5} for i in range(50)]
    strong = [{"alert_id": "s", "rule_id": "ML-01", "subject_id": "S", "score": 1.0}]
    cases = build_cases(_alerts(weak + strong)).to_pylist()
    assert [c["subject_id"] for c in cases] == ["S", "W"]


def test_no_ties_at_the_cap_more_evidence_ranks_higher():
    strong = {"rule_id": "ML-01", "score": 1.0, "amount_total": None, "currency": None}
    alerts = _alerts([
        {**strong, "alert_id": "a1", "subject_id": "ONE"},
        {**strong, "alert_id": "b1", "subject_id": "TWO"},
        {**strong, "alert_id": "b2", "rule_id": "HT-09", "subject_id": "TWO"},
        {**strong, "alert_id": "c1", "subject_id": "RICH", "amount_total": Decimal("90000.00"), "currency": "MYR"},
        {**strong, "alert_id": "d1", "subject_id": "POOR", "amount_total": Decimal("900.00"), "currency": "MYR"},
    ])  # fmt: skip
    cases = {c["subject_id"]: c["risk_score"] for c in build_cases(alerts).to_pylist()}
    assert all(r < 1.0 for r in cases.values())
    assert len(set(cases.values())) == len(cases)  # no two cases tie
    assert cases["TWO"] > cases["ONE"]  # more rules
    assert cases["RICH"] > cases["POOR"] > cases["ONE"]  # more money


def test_controller_ranks_above_its_victims():
    alerts = _alerts([
        {"alert_id": "v1", "rule_id": "HT-01", "score": 1.0, "subject_id": "V1", "subject_role": "potential_victim", "related_subject_ids": ["BOSS"]},
        {"alert_id": "v2", "rule_id": "ML-04", "score": 1.0, "subject_id": "V1"},
        {"alert_id": "b1", "rule_id": "HT-09", "score": 0.6, "subject_id": "BOSS", "subject_role": "controller", "related_subject_ids": ["V1"]},
    ])  # fmt: skip
    cases = build_cases(alerts).to_pylist()
    assert [c["subject_id"] for c in cases] == ["BOSS", "V1"]


def test_alerts_on_every_account_of_one_person_make_one_case():
    acc = fm.schema.conform([{"account_id": a, "source_ref": "s.xml#/a"} for a in ("BANKA/1", "BANKB/2", "BANKC/3")], "accounts")
    parties = fm.schema.conform([
        {"party_id": "P1", "kind": "person", "name": "TEST RECRUITER", "source_ref": "s.xml#/p1"},
        {"party_id": "P2", "kind": "person", "name": "TEST RECRUITER", "source_ref": "t.xml#/p2"},
        {"party_id": "P3", "kind": "person", "name": "OTHER PERSON", "source_ref": "t.xml#/p3"},
    ], "parties")  # fmt: skip
    ids = fm.schema.conform([
        {"owner_kind": "party", "owner_id": p, "kind": "passport", "value": "PASSPORT:K7390215", "raw": "K7390215", "source_ref": "s.xml#/i"} for p in ("P1", "P2")
    ], "identifiers")  # fmt: skip
    pa_ = fm.schema.conform([
        {"party_id": "P1", "account_id": "BANKA/1", "role": "holder", "source_ref": "s.xml#/h"},
        {"party_id": "P2", "account_id": "BANKB/2", "role": "holder", "source_ref": "t.xml#/h"},
        {"party_id": "P3", "account_id": "BANKC/3", "role": "holder", "source_ref": "t.xml#/h3"},
    ], "party_accounts")  # fmt: skip
    b = fm.Bundle(accounts=acc, parties=parties, identifiers=ids, party_accounts=pa_)
    alerts = _alerts([
        {"alert_id": "a1", "rule_id": "ML-01", "score": 0.9, "subject_id": "BANKA/1"},
        {"alert_id": "a2", "rule_id": "ML-04", "score": 0.7, "subject_id": "BANKB/2"},
        {"alert_id": "a3", "rule_id": "ML-05", "score": 0.6, "subject_id": "P2", "subject_kind": "party"},
        {"alert_id": "a4", "rule_id": "ML-05", "score": 0.6, "subject_id": "BANKC/3"},
    ])  # fmt: skip
    cases = build_cases(alerts, b).to_pylist()
    assert len(cases) == 2
    top = cases[0]
    assert top["subject_kind"] == "person" and top["subject_name"] == "TEST RECRUITER"
    assert top["accounts"] == ["BANKA/1", "BANKB/2"] and top["parties"] == ["P1", "P2"]
    assert sorted(top["alert_ids"]) == ["a1", "a2", "a3"]
    assert sorted(top["alert_subjects"]) == ["BANKA/1", "BANKB/2", "P2"]


def test_controller_and_victims_link_to_each_other():
    b, cfg, _ = POSITIVE["HT-09"]()
    cases = {c["subject_id"]: c for c in build_cases(fm.score(b, cfg)).to_pylist()}
    assert cases["BOSS/1"]["role"] == "controller"
    assert cases["BOSS/1"]["controls"] == ["VICTIM/0", "VICTIM/1", "VICTIM/2"]
    assert cases["VICTIM/0"]["role"] == "potential_victim" and cases["VICTIM/0"]["controlled_by"] == ["BOSS/1"]
    assert "Likely controlled by: BOSS/1" in cases["VICTIM/0"]["summary"]


def test_suppression_repeat_update_new():
    b, cfg, _ = POSITIVE["ML-05"]()
    first = fm.score(b, cfg)
    again, suppressed = suppress_repeats(fm.score(b, cfg), first)
    assert again.num_rows == 0 and suppressed.num_rows == first.num_rows  # nothing new: not raised again
    more = bundle(b.transactions.to_pylist() + [tx(99, "S/99", "HUB/1", "600.00", 3.5)])
    upd, _ = suppress_repeats(fm.score(more, cfg), first)
    (u,) = upd.to_pylist()
    assert u["status"] == "update" and u["new_evidence_count"] == 1 and u["explanation"].startswith("Update: 1 new")
    fresh, _ = suppress_repeats(fm.score(more, cfg), None)
    assert fresh["status"].to_pylist() == ["new"]


def test_nightly_job_suppresses_repeats_across_two_runs(tmp_path, sample_data):
    run = lambda out, *extra: CliRunner().invoke(  # noqa: E731
        main, ["score", str(sample_data / "goaml"), "--jurisdiction", "AE", "--out", str(out), "-q", *extra]
    )
    assert run(tmp_path / "night1").exit_code == 0
    r = run(tmp_path / "night2", "--previous", str(tmp_path / "night1"))
    assert r.exit_code == 0, r.output
    s1 = json.loads((tmp_path / "night1" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "night2" / "summary.json").read_text())
    assert s1["alerts"] > 0 and s2["alerts"] == 0 and s2["alerts_suppressed_as_repeats"] == s1["alerts"]
    assert pq.read_table(tmp_path / "night2" / "suppressed_alerts.parquet").num_rows == s1["alerts"]
    cases = pq.read_table(tmp_path / "night1" / "cases.parquet").to_pylist()
    assert "DEXB/1001002001" in cases[0]["accounts"] and cases[0]["role"] == "controller"  # one case per resolved subject
    assert {c["role"] for c in cases} >= {"controller", "potential_victim"}
    assert isinstance(pq.read_table(tmp_path / "night1" / "cases.parquet"), pa.Table)
