"""Alert assembly (``detect._assembly.alerts_for``, which ``detect.score`` calls as ``_alerts_for``) is column-wise; these tests pin it byte for byte
to the row-by-row (``iterrows``) assembly it replaced, kept here as the reference."""

import importlib
import io
import json
from pathlib import Path
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from rule_cases import POSITIVE, bundle, tx

import followmoney as fm
from followmoney.core import schema
from followmoney.core.ids import stable_id
from followmoney.core.units import from_scaled
from followmoney.datasets.synth import make_transactions
from followmoney.detect.rules import REGISTRY
from followmoney.detect._assembly import fmt_totals, severity

score_mod = importlib.import_module("followmoney.detect.score")  # the module, not the function it exports


def _reference_alerts_for(rule, params, cfg, findings: pd.DataFrame, by_txn: pd.DataFrame, run_id: str, observed: dict | None = None) -> pd.DataFrame:
    f = findings.reset_index(drop=True)
    ev = f[["evidence_txn_ids"]].explode("evidence_txn_ids").rename(columns={"evidence_txn_ids": "txn_id"})
    ev = ev.join(by_txn, on="txn_id")
    ev["row"] = ev.index
    sums = ev.dropna(subset=["amount_cents"]).groupby(["row", "currency"], dropna=False)["amount_cents"].sum()
    totals: dict[int, list] = {}
    for (row, cur), v in sums.items():  # a missing currency stays None ("unknown currency" in words)
        totals.setdefault(row, []).append((None if pd.isna(cur) else cur, int(v)))
    refs = ev.groupby("row")["source_ref"].agg(list)
    if observed:  # a consolidated payment's evidence lists every observation's place
        refs = {}
        for row, txn, ref in zip(ev["row"], ev["txn_id"], ev["source_ref"]):
            refs.setdefault(row, []).extend(observed.get(txn) or [ref])
    params_json = json.dumps({"jurisdiction": cfg.jurisdiction, **params}, sort_keys=True, default=str)
    records = []
    for i, r in f.iterrows():  # one row per alert, not per transaction
        start = pd.Timestamp(int(r["window_start"]), unit="us", tz="UTC")
        end = pd.Timestamp(int(r["window_end"]), unit="us", tz="UTC")
        tot = sorted(totals.get(i, []), key=lambda p: (p[0] is None, p[0] or ""))
        n_ev = len(r["evidence_txn_ids"])
        facts = {
            **r["facts"],
            "subject_id": r["subject_id"],
            "window_start": start,
            "window_end": end,
            "evidence_count": n_ev,
            "totals": fmt_totals(tot),
        }
        score_ = float(r["score"])
        records.append(
            {
                "alert_id": stable_id("A", rule.id, r["subject_kind"], r["subject_id"], int(r["window_start"]), int(r["window_end"])),
                "rule_id": rule.id,
                "rule_name": rule.name,
                "typology": rule.typology,
                "subject_kind": r["subject_kind"],
                "subject_id": r["subject_id"],
                "score": score_,
                "severity": severity(score_),
                "window_start": start,
                "window_end": end,
                "amount_total": from_scaled(tot[0][1]) if len(tot) == 1 else None,
                "currency": tot[0][0] if len(tot) == 1 else None,
                "evidence_count": n_ev,
                "evidence_txn_ids": list(r["evidence_txn_ids"]),
                "explanation": rule.explain(facts, params, cfg.jurisdiction_info),
                "params": params_json,
                "run_id": run_id,
                "evidence_source_refs": refs.get(i, []),
                "subject_role": r.get("role"),
                "related_subject_ids": list(r.get("related_subjects") or []),
            }
        )
    out = pd.DataFrame.from_records(records)
    dup = out["alert_id"].duplicated(keep=False)
    if dup.any():  # same rule, subject and window from two findings: tell them apart by evidence
        out.loc[dup, "alert_id"] = [
            stable_id("A", a, *ev) for a, ev in zip(out.loc[dup, "alert_id"], out.loc[dup, "evidence_txn_ids"])
        ]
    return out


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def _both(monkeypatch, b, cfg=None, rules=None):
    new = fm.score(b, cfg, rules=rules)
    with monkeypatch.context() as m:
        m.setattr(score_mod, "_alerts_for", _reference_alerts_for)
        ref = fm.score(b, cfg, rules=rules)
    return new, ref


CASES = {
    "goaml sample": lambda: (fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE")),
    "amlsim sample": lambda: (fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv"), None),
    "synthetic world": lambda: (make_transactions(1000, 45, n_per_typology=1, random_state=5)[0], None),
    # consolidated payments seen in several sources: evidence lists every observation's place
    "multi-source case": lambda: (_multisource(), fm.Config(jurisdiction="MY")),
}


def _multisource():
    import tempfile

    from followmoney.datasets import make_multisource

    folder = Path(tempfile.mkdtemp(prefix="fm-ms-"))
    return fm.read(make_multisource(folder, seed=3, n_workers=4).files)


@pytest.mark.parametrize("name", sorted(CASES))
def test_alert_tables_are_byte_identical_to_row_by_row_assembly(monkeypatch, name):
    b, cfg = CASES[name]()
    new, ref = _both(monkeypatch, b, cfg)
    assert new.num_rows > 0
    assert _ipc(new) == _ipc(ref)
    if name == "multi-source case":  # the observed-in path ran: a payment's evidence names several places
        refs, counts = new["evidence_source_refs"].to_pylist(), new["evidence_count"].to_pylist()
        assert any(len(r) > c for r, c in zip(refs, counts))


def test_every_rule_positive_case_assembles_identically(monkeypatch):
    rules_seen = set()
    for rule_id, make in sorted(POSITIVE.items()):
        b, cfg, _ = make()
        new, ref = _both(monkeypatch, b, cfg, rules=[rule_id])
        assert _ipc(new) == _ipc(ref), rule_id
        rules_seen |= set(new["rule_id"].to_pylist())
    assert len(rules_seen) >= 20


class _Rule:
    id, name, typology = "ZZ-01", "test rule", "test"

    @staticmethod
    def explain(facts, params, jurisdiction):
        return json.dumps({k: str(v) for k, v in facts.items()}, sort_keys=True)


def test_quirks_kept_mixed_and_missing_currency_unknown_and_empty_evidence_duplicates():
    by_txn = pd.DataFrame(
        {
            "txn_id": ["t1", "t2", "t3", "t4", "t5"],
            "amount_cents": pd.array([10500, 2500, None, 7000, 10], dtype="Int64"),  # thousandths
            "currency": ["USD", "EUR", "USD", None, "USD"],
            "source_ref": ["f.csv:2", "f.csv:3", "f.csv:4", None, "f.csv:6"],
        }
    ).set_index("txn_id")
    f = pd.DataFrame(
        {
            "subject_kind": ["account"] * 5,
            "subject_id": ["A", "B", "C", "A", "D"],
            "window_start": [0, 10, 20, 0, 5],
            "window_end": [86_400_000_000, 20, 30, 86_400_000_000, 6],
            "evidence_txn_ids": [["t1", "t5"], ["t1", "t2"], ["t3", "nope"], ["t4"], []],
            "score": [0.9, 0.5, 0.2, 0.9, 1.0],
            "facts": [{"x": 1}, {}, {}, {"x": 2}, {}],
            "role": ["controller", None, None, None, None],
            "related_subjects": [["V1", "V2"], None, [], None, None],
        }
    )
    cfg = fm.Config()
    args = (_Rule, {"p": 1}, cfg, f, by_txn, "RUN1")
    new, ref = score_mod._alerts_for(*args), _reference_alerts_for(*args)
    s = schema.SCHEMAS["alerts"]
    t_new = pa.Table.from_pandas(new, schema=s, preserve_index=False)
    t_ref = pa.Table.from_pandas(ref, schema=s, preserve_index=False)
    assert _ipc(t_new) == _ipc(t_ref)
    rows = t_new.to_pylist()
    assert rows[0]["amount_total"] == Decimal("10.51") and rows[0]["currency"] == "USD"
    assert rows[1]["amount_total"] is None and "EUR" in rows[1]["explanation"]  # currencies never added
    assert rows[2]["evidence_source_refs"] == ["f.csv:4", None]  # an unknown id: null reference
    assert rows[3]["currency"] is None and rows[3]["amount_total"] == Decimal("7.00")
    assert rows[0]["alert_id"] != rows[3]["alert_id"]  # same subject and window told apart by evidence
    assert rows[0]["subject_role"] == "controller" and rows[0]["related_subject_ids"] == ["V1", "V2"]
    assert rows[4]["evidence_count"] == 0 and rows[4]["evidence_source_refs"] == [None]


@pytest.mark.parametrize("dtype", ["str", object])
def test_repeated_txn_ids_count_every_row_on_both_index_kinds(dtype):
    # an input that repeats a txn id: every row with that id is evidence, as a join gives,
    # whether the frame's ids are Arrow-backed text (the scoring frame) or Python objects
    ids = pd.Index(["t1", "t2", "t1", "t3"], dtype=dtype, name="txn_id")
    by_txn = pd.DataFrame(
        {"amount_cents": pd.array([1000, 2000, 3000, 4000], dtype="Int64"), "currency": ["USD"] * 4, "source_ref": ["f:1", "f:2", "f:3", "f:4"]},
        index=ids,
    )
    f = pd.DataFrame(
        {
            "subject_kind": ["account"] * 2, "subject_id": ["A", "B"], "window_start": [0, 0], "window_end": [10, 10],
            "evidence_txn_ids": [["t1"], ["t2", "t3"]], "score": [0.5, 0.6], "facts": [{}, {}],
        }
    )  # fmt: skip
    args = (_Rule, {}, fm.Config(), f, by_txn, "RUN1")
    new, ref = score_mod._alerts_for(*args), _reference_alerts_for(*args)
    s = schema.SCHEMAS["alerts"]
    t_new = pa.Table.from_pandas(new, schema=s, preserve_index=False)
    assert _ipc(t_new) == _ipc(pa.Table.from_pandas(ref, schema=s, preserve_index=False))
    rows = t_new.to_pylist()
    assert rows[0]["evidence_source_refs"] == ["f:1", "f:3"] and rows[0]["amount_total"] == Decimal("4.00")
    assert rows[1]["evidence_source_refs"] == ["f:2", "f:4"]
