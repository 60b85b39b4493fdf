"""Time and money as real files give them (issue 13): cases BR-27, BR-28, BR-29, BR-35,
BR-37, BR-38 from ../shared/cases/real-files.md, plus the classes behind them:

* time precision: date-only rows are ``day`` rows, not midnight; night-time rules skip
  them and say so; date-only rows of one day from any source share one local date;
* order within a timestamp comes from the source (statement position), never from a
  hashed id; renaming or permuting input files changes nothing (hypothesis);
* money keeps each currency's ISO 4217 minor units exactly (KWD 3, JPY 0) through read ->
  tables -> Parquet -> alerts -> exports;
* rates, reversals and negatives mean one thing however the bank writes them;
* foreign-currency cash is counted and said to be "not compared with the threshold".
"""

from __future__ import annotations

import json
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney import trace
from followmoney.core import schema
from followmoney.core.frame import prepare_transactions
from followmoney.core.units import minor_units, money_text
from followmoney.detect.score import notes_of
from followmoney.pipeline import run_score


def _case(shared, name: str) -> Path:
    d = shared / "cases" / "files" / name
    if not d.is_dir():
        pytest.skip(f"{name} is not in ../shared/cases/files")
    return d


def _expected(d: Path) -> dict:
    return json.loads((d / "expected.json").read_text("utf-8"))


# --------------------------------------------------------------------------- BR-27 negatives
def test_br27_every_negative_notation_is_read(shared):
    d = _case(shared, "BR-27")
    exp = _expected(d)
    b = fm.read(d / "export.csv")
    assert b.transactions.num_rows == exp["rows"]
    assert b.rejects.num_rows == exp["rejects"]
    rows = b.transactions.sort_by("source_seq").to_pylist()
    assert [r["signed_amount"] for r in rows] == [Decimal(v) for v in exp["signed_amounts"]]
    assert all(r["amount"] == -r["signed_amount"] for r in rows)  # the magnitude, direction in from/to
    assert all(w in rows[0]["description"] for w in exp["row1_description_contains"])
    b.reconcile()


# --------------------------------------------------------------------------- BR-28 fx_rate
def test_br28_fx_rate_means_currency_per_instructed_currency(shared):
    d = _case(shared, "BR-28")
    exp = _expected(d)
    b = fm.read(d / "camt053_fx.xml")
    got = {r["end_to_end_id"]: r for r in b.transactions.to_pylist()}
    for e in exp["rows"]:
        r = got[e["end_to_end_id"]]
        assert r["amount"] == Decimal(e["amount"]) and r["currency"] == e["currency"]
        assert r["instructed_amount"] == Decimal(e["instructed_amount"]) and r["instructed_currency"] == e["instructed_currency"]
        assert abs(r["fx_rate"] - Decimal(e["fx_rate"])) <= Decimal(e["fx_rate_tolerance"])
        # what the schema says fx_rate means: instructed x rate = booked amount
        assert abs(r["instructed_amount"] * r["fx_rate"] - r["amount"]) < Decimal("0.01")
        assert "fx_rate_direction_unknown" not in r["quality_flags"]
    assert b.statements["reconciled"].to_pylist() == [exp["statement_reconciled"]]


# --------------------------------------------------------------------------- BR-29 returned direct debit
def test_br29_returned_direct_debit_keeps_the_creditor_as_counterparty(shared):
    d = _case(shared, "BR-29")
    exp = _expected(d)
    b = fm.read(d / "camt053_return.xml")
    rows = b.transactions.sort_by("source_seq").to_pylist()
    assert len(rows) == len(exp["rows"])
    for r, e in zip(rows, exp["rows"]):
        assert r["signed_amount"] == Decimal(e["signed_amount"])
        assert (r["from_account"], r["to_account"]) == (e["from_account"], e["to_account"])
        assert r["counterparty_name"] == e["counterparty_name"]
        assert ("self_transfer" in r["quality_flags"]) is e["self_transfer"]
        if "is_reversal" in e:
            assert r["is_reversal"] is e["is_reversal"]
    assert b.statements["reconciled"].to_pylist() == [exp["statement_reconciled"]]
    # the trace and the rules see a payment between two accounts, not a self-transfer
    frame = prepare_transactions(b.transactions)
    assert not frame["self_transfer"].any()


# --------------------------------------------------------------------------- BR-35 same-day cycle
@pytest.mark.parametrize("name", ["cyc_dateonly.xml", "cyc_timed.xml"])
def test_br35_same_day_round_trip_is_a_cycle_with_or_without_times(shared, name):
    d = _case(shared, "BR-35")
    exp = _expected(d)
    b = fm.read(d / name)
    with fm.config(jurisdiction=exp["jurisdiction"]):
        alerts = fm.score(b, rules=[exp["rule"]])
    ids = set(b.transactions["txn_id"].to_pylist())
    assert any(set(ev) == ids for ev in alerts["evidence_txn_ids"].to_pylist())
    expected_precision = "day" if "dateonly" in name else "minute"
    assert set(b.transactions["time_precision"].to_pylist()) == {expected_precision}


# --------------------------------------------------------------------------- BR-37 no time, no night
@pytest.mark.parametrize("jurisdiction", ["AU", "AE"])
def test_br37_date_only_cash_is_not_night_time(shared, jurisdiction):
    d = _case(shared, "BR-37")
    exp = _expected(d)
    b = fm.read(d / "cash_dateonly.csv")
    assert set(b.transactions["time_precision"].to_pylist()) == {"day"}
    with fm.config(jurisdiction=jurisdiction):
        alerts = fm.score(b, rules=["HT-06"])
    assert alerts.num_rows == exp["HT-06_alerts"][jurisdiction]
    skipped = [n for n in notes_of(alerts) if n["topic"] == "no_time_of_day"]
    assert skipped and skipped[0]["count"] == 4 and "HT-06" in skipped[0]["note"]
    feats = fm.transaction_features(b)
    assert (feats["is_night"] != 1).all()


def test_br37_control_the_same_deposits_at_night_do_alert(shared):
    """The rule itself still works: the same four deposits with a time of 23:30 raise HT-06."""
    import pyarrow.compute as pc

    b = fm.read(_case(shared, "BR-37") / "cash_dateonly.csv")
    t = b.transactions
    late = pc.add(t["timestamp"], pa.scalar(23 * 3600 + 1800, pa.duration("s")))
    t = t.set_column(t.column_names.index("timestamp"), "timestamp", late.cast(schema.TIMESTAMP))
    t = t.set_column(t.column_names.index("time_precision"), "time_precision", pa.array(["minute"] * t.num_rows))
    b.transactions = t
    for jurisdiction in ("AU", "AE"):
        with fm.config(jurisdiction=jurisdiction):
            alerts = fm.score(b, rules=["HT-06"])
        assert alerts.num_rows == 1


# --------------------------------------------------------------------------- BR-38 same-day mule
def _trace_outcome(b, method):
    credit = next(r for r in b.transactions.to_pylist() if r["signed_amount"] > 0)
    res = trace.forward(b, [credit["txn_id"]], method=method)
    return {r["account"]: r["tainted_balance"] for r in res.positions.to_pylist()}, res


@pytest.mark.parametrize("method", ["fifo", "libr"])
@pytest.mark.parametrize("i", [1, 2, 3, 4])
def test_br38_same_day_in_then_out_follows_statement_order(shared, i, method):
    d = _case(shared, "BR-38")
    exp = _expected(d)
    b = fm.read(d / f"mule{i}.csv")
    held, res = _trace_outcome(b, method)
    mule = f"IBAN/XX12TEST000000005{i}"
    onward = f"IBAN/XX12TEST000000090{i}"
    assert held[onward] == Decimal(exp["onward_account_tainted"])
    assert held[mule] == Decimal(exp["mule_account_tainted"])
    assert not any("above zero" in a for a in res.assumptions)  # no invented opening balance
    # the order came from the file: the credit is line 2, the debit line 3
    seq = {r["signed_amount"] > 0: r["source_seq"] for r in b.transactions.to_pylist()}
    assert seq[True] < seq[False]


# --------------------------------------------------------------------------- item 2: no result depends on file names
def _outcomes(folder: Path) -> dict:
    b = fm.read(folder)
    out = {}
    for method in ("fifo", "libr"):
        for credit in (r for r in b.transactions.to_pylist() if r["signed_amount"] is not None and r["signed_amount"] > 0):
            res = trace.forward(b, [credit["txn_id"]], method=method)
            out[(method, credit["txn_id"])] = sorted((r["account"], r["tainted_balance"]) for r in res.positions.to_pylist())
    feats = fm.transaction_features(b)
    out["features"] = feats.sort_index().round(9).fillna(-1).to_dict()
    return out


_NAMES = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12), min_size=4, max_size=4, unique=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=_NAMES, perm=st.permutations(range(4)))
def test_renaming_or_permuting_files_changes_nothing(shared, names, perm):
    d = _case(shared, "BR-38")
    files = [d / f"mule{i}.csv" for i in range(1, 5)]
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as c:
        for f in files:
            shutil.copy(f, Path(a) / f.name)
        for k, j in enumerate(perm):
            shutil.copy(files[j], Path(c) / f"{names[k]}.csv")
        assert _outcomes(Path(a)) == _outcomes(Path(c))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10), min_size=2, max_size=2, unique=True))
def test_cycles_do_not_depend_on_file_names(shared, names):
    d = _case(shared, "BR-35")
    found = []
    for new in names:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(d / "cyc_dateonly.xml", Path(tmp) / f"{new}.xml")
            b = fm.read(Path(tmp) / f"{new}.xml")
            with fm.config(jurisdiction="AE"):
                alerts = fm.score(b, rules=["ML-09"])
            found.append(sorted(tuple(sorted(e)) for e in alerts["evidence_txn_ids"].to_pylist()))
    assert found[0] == found[1] and found[0]


# --------------------------------------------------------------------------- item 1: one local date
def test_date_only_rows_of_one_day_share_a_local_date_across_sources(shared):
    """A German CSV (local midnight, +01:00) and a camt statement (Dt, 00:00 UTC) on the same date."""
    csv = _case(shared, "BR-37") / "cash_dateonly.csv"
    camt = _case(shared, "BR-29") / "camt053_return.xml"
    b = fm.read([csv, camt])
    for tz in ("America/New_York", "Australia/Sydney", "Asia/Dubai"):
        f = prepare_transactions(b.transactions, tz)
        by_ref = dict(zip(f["source_ref"], f["local_day"]))
        assert by_ref["cash_dateonly.csv:2"] == _days("2024-03-04")
        assert by_ref["camt053_return.xml#/Document/BkToCstmrStmt/Stmt/Ntry[2]/NtryDtls/TxDtls"] == _days("2024-03-05")
        # the rows of one date are simultaneous, whatever their source
        assert not f["has_time"].any()


def _days(iso: str) -> int:
    import numpy as np

    return int(np.datetime64(iso, "D").astype("int64"))


# --------------------------------------------------------------------------- item 3: minor units
def test_minor_units_table():
    assert [minor_units(c) for c in ("KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD")] == [3] * 7
    assert [minor_units(c) for c in ("JPY", "KRW", "VND", "CLP")] == [0] * 4
    assert [minor_units(c) for c in ("EUR", "USD", "AED")] == [2] * 3
    assert money_text(1250125, "KWD") == "KWD 1,250.125"
    assert money_text(1500000, "JPY") == "JPY 1,500"


def _kwd_cycle(folder: Path, template: Path) -> Path:
    """BR-35's ring, re-denominated in KWD with three decimals (AE rules need a floor: none for KWD)."""
    text = template.read_text("utf-8").replace("AED", "KWD")
    for old, new in (("60000.00", "6000.125"), ("59000.00", "5900.375"), ("58000.00", "5800.250"), ("57000.00", "5700.005")):
        text = text.replace(f"<amount_local>{old}</amount_local>", f"<amount_local>{new}</amount_local>")
    p = folder / "kwd_ring.xml"
    p.write_text(text, "utf-8")
    return p


def test_three_decimal_currency_round_trips_through_tables_parquet_alerts_and_exports(shared, tmp_path):
    src = _kwd_cycle(tmp_path, _case(shared, "BR-35") / "cyc_dateonly.xml")
    b = fm.read(src)
    amounts = sorted(b.transactions["amount"].to_pylist())
    assert amounts == [Decimal("5700.005"), Decimal("5800.250"), Decimal("5900.375"), Decimal("6000.125")]
    assert set(b.transactions["currency"].to_pylist()) == {"KWD"}
    assert not any("amount_rounded" in f for f in b.transactions["quality_flags"].to_pylist())
    fm.write_bundle(b, tmp_path / "bundle")
    back = fm.read_bundle(tmp_path / "bundle")
    assert sorted(back.transactions["amount"].to_pylist()) == amounts
    out = tmp_path / "run"
    summary = run_score([src], out, cfg=fm.Config(jurisdiction="AE"))
    alerts = pq.read_table(out / "alerts.parquet")
    cyc = [a for a in alerts.to_pylist() if a["rule_id"] == "ML-09"]
    assert cyc and cyc[0]["currency"] == "KWD"
    assert cyc[0]["amount_total"] == sum(amounts)  # 23400.755 exactly
    assert "KWD 6,000.125" in cyc[0]["explanation"] and "KWD 5,700.005" in cyc[0]["explanation"]
    csv = pacsv.read_csv(out / "alerts.csv", convert_options=pacsv.ConvertOptions(column_types={"amount_total": pa.string()}))
    assert "23400.755" in csv["amount_total"].to_pylist()
    tables = pq.read_table(out / "tables" / "transactions.parquet")
    assert sorted(tables["amount"].to_pylist()) == amounts
    assert summary["alerts"] >= 1
    # the workbook shows KWD with its three decimals (fils), not rounded to two
    import openpyxl

    ws = openpyxl.load_workbook(out / "cases.xlsx")["Alerts"]
    heads = [c.value for c in ws[1]]
    cells = [r[heads.index("Amount")] for r in ws.iter_rows(min_row=2) if r[heads.index("Currency")].value == "KWD"]
    assert cells and all(c.number_format == "#,##0.000" for c in cells if c.value is not None)


def test_two_decimal_rounding_is_flagged_not_silent(shared, tmp_path):
    src = _kwd_cycle(tmp_path, _case(shared, "BR-35") / "cyc_dateonly.xml")
    p = tmp_path / "eur.xml"
    p.write_text(src.read_text("utf-8").replace("KWD", "EUR"), "utf-8")
    b = fm.read(p)
    rows = {r["amount"]: r for r in b.transactions.to_pylist()}
    assert Decimal("6000.12") in rows and "amount_rounded" in rows[Decimal("6000.12")]["quality_flags"]
    assert Decimal("5800.25") in rows and "amount_rounded" not in rows[Decimal("5800.25")]["quality_flags"]


def test_thresholds_compare_exactly_in_thousandths():
    from followmoney.core.config import jurisdictions
    from followmoney.detect.rules._rolling import threshold_cents

    j = jurisdictions()["AE"]
    assert threshold_cents(j) == schema.to_cents(pa.array([Decimal(j.cash_threshold)], schema.MONEY))[0].as_py()


# --------------------------------------------------------------------------- item 5: foreign cash
def test_demo_case_says_why_no_structuring_alert_under_the_default_jurisdiction(sample_data, tmp_path):
    from click.testing import CliRunner

    from followmoney.cli import main

    r = CliRunner().invoke(main, ["score", str(sample_data / "goaml"), "--out", str(tmp_path / "run"), "--quiet"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))
    topics = {n["topic"]: n for n in summary["notes"]}
    if "ML-01" not in summary["alerts_per_rule"]:
        assert topics["foreign_cash"]["counts"]["AED"] >= 5
        assert "not compared with the" in topics["foreign_cash"]["note"]
        assert "not compared with the" in r.output
    assert topics["local_currency"]["declared"] == ["AED"]
    # --jurisdiction auto takes AE from the reports: the structuring alert is raised
    r = CliRunner().invoke(main, ["score", str(sample_data / "goaml"), "--out", str(tmp_path / "auto"), "--jurisdiction", "auto", "--quiet"])
    assert r.exit_code == 0, r.output
    auto = json.loads((tmp_path / "auto" / "summary.json").read_text("utf-8"))
    assert auto["config"]["jurisdiction"] == "AE"
    assert auto["alerts_per_rule"].get("ML-01", 0) >= 1
    assert "foreign_cash" not in {n["topic"] for n in auto["notes"]}


# --------------------------------------------------------------------------- item 4: the other reversal dialect
def test_statement_reconciling_only_under_the_other_reversal_dialect_is_reread(shared, tmp_path):
    """BR-29's return written the other way: DBIT (the original's side) + RvslInd = money back."""
    text = (_case(shared, "BR-29") / "camt053_return.xml").read_text("utf-8")
    text = text.replace("<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd>", "<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>")
    p = tmp_path / "return_other_dialect.xml"
    p.write_text(text, "utf-8")
    b = fm.read(p)
    st = b.statements.to_pylist()[0]
    assert st["reconciled"] is True and "reversal_convention_other" in st["quality_flags"]
    back = [r for r in b.transactions.to_pylist() if r["is_reversal"]][0]
    assert back["signed_amount"] == Decimal("50.00")
    assert (back["from_account"], back["to_account"]) == ("IBAN/XX12TEST0000000082", "IBAN/XX12TEST0000000081")
    assert "reversal_convention_other" in back["quality_flags"]
    assert back["counterparty_name"] == "GAMMA VERSICHERUNG AG"
    # the ISO reading of the original file is not touched
    orig = fm.read(_case(shared, "BR-29") / "camt053_return.xml")
    assert "reversal_convention_other" not in orig.statements.to_pylist()[0]["quality_flags"]


# --------------------------------------------------------------------------- item 5: user rate tables
def test_foreign_cash_is_converted_with_the_users_dated_rates(sample_data, tmp_path):
    b = fm.read(sample_data / "goaml")
    aed_cash = [r for r in b.transactions.to_pylist() if r["channel"] == "cash_deposit" and r["currency"] == "AED"]
    assert len(aed_cash) >= 5
    # a (deliberately low) rate that puts each AED deposit just under USD 10,000: the cash rules now see them
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,from,rate\nAED,2000-01-01,0.18\n", "utf-8")
    for fx in ({"AED": [{"from": "2000-01-01", "rate": "0.18"}]}, str(rates)):
        cfg = fm.Config(jurisdiction="US", fx_rates=fx)
        alerts = fm.score(b, cfg)
        topics = {n["topic"]: n for n in notes_of(alerts)}
        assert "foreign_cash" not in topics
        assert topics["foreign_cash_converted"]["counts"]["AED"] == len(aed_cash)
        ml01 = [a for a in alerts.to_pylist() if a["rule_id"] == "ML-01"]
        assert ml01 and ml01[0]["currency"] == "USD"
    # a rate valid only from after the deposits: nothing converted, and the run says why
    late = fm.Config(jurisdiction="US", fx_rates={"AED": [{"from": "2099-01-01", "rate": "0.18"}]})
    topics = {n["topic"]: n for n in notes_of(fm.score(b, late))}
    assert topics["foreign_cash"]["counts"]["AED"] == len(aed_cash) and "no rate for their date" in topics["foreign_cash"]["note"]


@pytest.mark.parametrize("bad", [{"AED": [{"from": "yesterday", "rate": "0.27"}]}, {"AED": [{"from": "2024-01-01", "rate": "-1"}]}, {"A1": [{"from": "2024-01-01", "rate": "1"}]}, "/no/such/rates.csv"])
def test_a_bad_rate_table_is_a_config_error(bad):
    with pytest.raises(fm.ConfigError):
        fm.Config(jurisdiction="US", fx_rates=bad)


# --------------------------------------------------------------------------- item 1: every adapter fills the precision
@pytest.mark.parametrize(
    "path, expected",
    [
        ("mt940/br03_decimal_comma.sta", {"day"}),
        ("camt/br07_v08.xml", None),
        ("fincen/moov_ctr_batch.xml", {"day"}),
        ("bank_csv/br12_european.csv", None),
        ("ibm_aml/br22_traps.csv", None),
        ("goaml/br10_plain.xml", None),
        ("wires/mt103_gpi.fin", {"day"}),
        ("wires/prowide_MT103_bulk_with_ack.rje", {"day"}),
        ("wires/pain001_two_batches.xml", None),
        ("wires/same_payment/pacs008_uetr.xml", None),
        ("wires/auth002_response.xml", None),
    ],
)
def test_every_adapter_states_time_precision_and_source_order(data_dir, path, expected):
    b = fm.read(data_dir / path)
    t = b.transactions
    timed = [r for r in t.select(["timestamp", "time_precision", "source_seq"]).to_pylist() if r["timestamp"] is not None]
    assert timed, path
    assert all(r["time_precision"] in ("instant", "minute", "day") for r in timed)
    assert all(r["source_seq"] is not None and r["source_seq"] >= 1 for r in timed)
    if expected is not None:
        assert {r["time_precision"] for r in timed} == expected
    # within one file the sequence follows the file: source_ref order and source_seq order agree
    refs = sorted(t.select(["source_ref", "source_seq"]).to_pylist(), key=lambda r: r["source_seq"])
    assert len({r["source_seq"] for r in refs}) == len(refs)


def test_trace_puts_one_days_rows_together_across_statement_kinds(shared):
    """A date-only CSV row (bank's local midnight) and a camt row (00:00 UTC) of one date start together."""
    from followmoney.core.timing import comparable_time

    b = fm.read([_case(shared, "BR-37") / "cash_dateonly.csv", _case(shared, "BR-29") / "camt053_return.xml"])
    t = b.transactions
    when = dict(zip(t["source_ref"].to_pylist(), comparable_time(t).tolist()))
    csv_0304 = when["cash_dateonly.csv:2"]  # 04.03.2024, stored 2024-03-03T23:00Z
    camt_0305 = when["camt053_return.xml#/Document/BkToCstmrStmt/Stmt/Ntry[2]/NtryDtls/TxDtls"]
    assert camt_0305 - csv_0304 == 86_400_000_000


@given(st.lists(st.tuples(st.sampled_from(["a.csv", "b.csv", "c:d.csv", "", "x.sta"]), st.integers(0, 10**6)), max_size=40))
@settings(max_examples=200, deadline=None)
def test_source_sequence_of_file_lines_matches_the_general_order(rows):
    """The Arrow path for ``file:line`` refs ranks rows exactly as the general (per-ref) path does."""
    from followmoney.core import timing

    refs = [f"{f}:{line}" for f, line in rows]
    fast = timing.source_sequence(pa.array(refs, pa.string()))
    general = timing.source_sequence(refs)  # a list: the per-ref path
    assert fast.to_pylist() == general.to_pylist()
    for f in {f for f, _ in rows}:  # within a file: 1..n, in line order
        mine = sorted((line, s) for (g, line), s in zip(rows, fast.to_pylist()) if g == f)
        assert [s for _, s in mine] == list(range(1, len(mine) + 1))


@given(st.lists(st.text(alphabet=["a", ":", "#", "1", "0", "9", "\n", "\u0663", "/", ".", "s"], min_size=1, max_size=8), min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_source_sequence_takes_the_arrow_path_for_exactly_the_file_line_refs(refs):
    """The Arrow path is taken when every ref is ``file:line`` (``[^#]*:[0-9]{1,18}``), and then
    ranks as the per-ref path does; any other ref sends the whole column to the per-ref path."""
    import re

    from followmoney.core import timing

    fast = timing._line_sequence(pa.array(refs, pa.string()))
    assert (fast is not None) == all(re.fullmatch(r"[^#]*:[0-9]{1,18}", r) for r in refs)
    if fast is not None:
        assert fast.to_pylist() == timing.source_sequence(refs).to_pylist()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), moves=st.lists(st.tuples(st.integers(0, 299), st.integers(0, 299)), max_size=6), shuffle=st.booleans(),
       chunks=st.integers(1, 4))  # fmt: skip
def test_the_frame_takes_its_rows_in_order_whatever_the_order(n, moves, shuffle, chunks):
    """The prepared frame's rows are taken in order by zero-copy slices when few rows are out of place, else
    one by one: either way the rows of ``table.take(order)``, for orders with a few rows moved, shuffled, or none."""
    import numpy as np

    from followmoney.core.frame import _in_order

    order = np.arange(n)
    for a, b in moves:  # a row moved elsewhere: two or three breaks
        if a < n and b < n:
            order = np.insert(np.delete(order, a), b, order[a])
    if shuffle:
        order = np.random.default_rng(n).permutation(n)
    size = -(-n // chunks) or 1
    table = pa.Table.from_batches(
        [pa.RecordBatch.from_pydict({"i": pa.array(range(s, min(s + size, n)), pa.int64()), "s": [f"r{j}" for j in range(s, min(s + size, n))]})
         for s in range(0, n, size)] or [pa.RecordBatch.from_pydict({"i": pa.array([], pa.int64()), "s": pa.array([], pa.string())})]
    )  # fmt: skip
    got = _in_order(table, order)
    assert got.to_pydict() == table.take(pa.array(order, pa.int64())).to_pydict()
    assert got["i"].to_pylist() == order.tolist()
