"""Consolidation: one account id per account, one transaction per payment, across sources (issue 12)."""

import json
import shutil
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.consolidate import canonical_accounts, payments, read_aliases, reconcile_observations
from followmoney.exceptions import InputError, ParameterError

PAYER = "IBAN/DE89370400440532013000"
PAYEE = "IBAN/DE12500105170648489890"


@pytest.fixture
def three_views(data_dir):
    """Payer's camt.053, payee's MT940 (:25: BLZ/Konto) and the payer bank's goAML STR, as read."""
    return fm.read(data_dir / "consolidate", consolidate=False)


def _sums(t: pa.Table) -> dict:
    out: dict = {}
    for a, c in zip(t["amount"].to_pylist(), t["currency"].to_pylist()):
        out[c] = out.get(c, Decimal(0)) + a
    return out


def test_three_views_of_each_payment_count_once(three_views):
    raw = three_views
    assert raw.transactions.num_rows == 11  # 4 payer lines + 5 payee lines + 2 STR transactions
    one = fm.consolidate(raw)
    t = one.transactions
    # the real payments: rent 1200 (3 views), deposit 800 (3 views), two kiosk 3.50 (2 views each), 50 from another
    assert sorted(t["amount"].to_pylist()) == [Decimal("3.50"), Decimal("3.50"), Decimal("50.00"), Decimal("800.00"), Decimal("1200.00")]
    assert _sums(t) == {"EUR": Decimal("2057.00")}
    assert _sums(raw.transactions) == {"EUR": Decimal("6064.00")}  # what summing the sources did
    # every payment between the tenant and the landlord is between the two canonical accounts
    pairs = {(f, to) for f, to, a in zip(t["from_account"].to_pylist(), t["to_account"].to_pylist(), t["amount"].to_pylist()) if a != 50}
    assert pairs == {(PAYER, PAYEE)}
    assert set(one.accounts["account_id"].to_pylist()) == {PAYER, PAYEE, "IBAN/DE02120300000000202051"}
    # reconciliation: observations read = canonical + merged + rejected, per file too
    one.reconcile()
    assert reconcile_observations(one) == {"read": 11, "canonical": 5, "merged": 6, "rejected": 0, "balanced": True}
    assert one.observations.num_rows == 11
    assert sorted(one.observations["observed_txn_id"].to_pylist()) == sorted(raw.transactions["txn_id"].to_pylist())


def test_what_matched_each_observation_is_recorded(three_views):
    one = fm.consolidate(three_views)
    obs = one.observations.to_pylist()
    rent = {o["source"]: o["matched_by"] for o in obs if o["txn_id"] == _txn(one, "1200.00")}
    assert rent == {"camt": "end_to_end_id", "mt940": "end_to_end_id", "goaml": "debtor_creditor_amount_date"}
    deposit = {o["source"]: o["matched_by"] for o in obs if o["txn_id"] == _txn(one, "800.00")}
    assert set(deposit.values()) == {"debtor_creditor_amount_date"} and len(deposit) == 3
    assert {o["matched_by"] for o in obs if o["source_ref"].endswith("payee_mt940.sta:14")} == {None}
    kept = [o for o in obs if o["txn_id"] == _txn(one, "1200.00") and o["role"] == "kept"]
    assert [o["source"] for o in kept] == ["goaml"]  # the report carries the parties


def _txn(bundle, amount: str) -> str:
    (tid,) = [i for i, a in zip(bundle.transactions["txn_id"].to_pylist(), bundle.transactions["amount"].to_pylist()) if a == Decimal(amount)]
    return tid


def test_two_identical_lines_of_one_statement_stay_two(three_views):
    one = fm.consolidate(three_views)
    kiosk = [r for r in one.transactions.to_pylist() if r["amount"] == Decimal("3.50")]
    assert len(kiosk) == 2
    # each pairs one payer line with one payee line, never two lines of one file
    for r in kiosk:
        files = [ref.split("#")[0].rsplit(":", 1)[0] for ref in r["observed_in"]]
        assert sorted(files) == ["payee_mt940.sta", "payer_camt053.xml"]


def test_account_aliases_explain_every_join(three_views):
    one = fm.consolidate(three_views)
    rules = {r["raw"]: (r["account_id"], r["rule"]) for r in one.account_aliases.to_pylist()}
    assert rules["50010517/0648489890"] == (PAYEE, "iban_derived")  # MT940 :25: BLZ/Konto
    assert rules["37040044/0532013000"] == (PAYER, "iban_derived")  # goAML institution code + number
    assert rules[PAYER] == (PAYER, "iban")
    # reversible: every raw id the adapters wrote is listed
    raw_ids = set(three_views.accounts["account_id"].to_pylist())
    assert raw_ids <= set(rules)


def test_date_tolerance_is_a_stated_parameter(three_views):
    strict = fm.consolidate(three_views, date_tolerance_days=0)
    # the deposit is booked on the 5th by the payer, on the 6th by the payee: two rows at 0 days
    assert sum(1 for a in strict.transactions["amount"].to_pylist() if a == Decimal("800.00")) == 2
    strict.reconcile()
    with pytest.raises(ParameterError):
        fm.consolidate(three_views, date_tolerance_days=-1)


def test_alert_evidence_lists_every_observation(three_views):
    one = fm.consolidate(three_views)
    t = one.transactions
    rent = _txn(one, "1200.00")
    # a rule's evidence on the consolidated row names the three places it was read
    from followmoney.detect.score import _alerts_for, _observed_in

    observed = _observed_in(one)
    assert len(observed[rent]) == 3
    assert any(r.startswith("str_payer_bank.xml#") for r in observed[rent])
    assert any(r.startswith("payee_mt940.sta:") for r in observed[rent])
    assert t.num_rows == 5


def test_user_alias_file_joins_a_bank_convention(tmp_path):
    rows = [
        {"txn_id": "T1", "source": "mt940", "source_ref": "a.sta:5", "amount": Decimal("10.00"), "currency": "MYR",
         "from_account": "stmt/5123-4567", "to_account": "MBBEMYKL/99", "value_date": None},
    ]
    b = fm.Bundle(transactions=fm.schema.conform(rows, "transactions"))
    p = tmp_path / "aliases.csv"
    p.write_text("raw,account_id\nstmt/5123-4567,BANKMYKL/51234567\n")
    out = canonical_accounts(b, read_aliases(p))
    assert out.transactions["from_account"].to_pylist() == ["BANKMYKL/51234567"]
    assert {r["raw"]: r["rule"] for r in out.account_aliases.to_pylist()}["stmt/5123-4567"] == "user_alias"
    bad = tmp_path / "aliases.toml"
    bad.write_text("accounts = 3\n")
    with pytest.raises(InputError, match="aliases.toml"):
        read_aliases(bad)


def test_number_alone_joins_the_only_account_with_that_number():
    rows = [
        {"txn_id": "T1", "source": "mt940", "source_ref": "b.sta:5", "amount": Decimal("10.00"), "currency": "MYR",
         "from_account": "stmt/0051234567", "to_account": "MBBEMYKL/77"},
        {"txn_id": "T2", "source": "goaml", "source_ref": "s.xml#/report/transaction[1]", "amount": Decimal("11.00"), "currency": "MYR",
         "from_account": "BKRBMYKLXXX/51234567", "to_account": "MBBEMYKL/77"},
    ]
    out = canonical_accounts(fm.Bundle(transactions=fm.schema.conform(rows, "transactions")))
    assert out.transactions["from_account"].to_pylist() == ["BKRBMYKL/51234567", "BKRBMYKL/51234567"]
    rules = {r["raw"]: r["rule"] for r in out.account_aliases.to_pylist()}
    assert rules == {"stmt/0051234567": "number_unique", "BKRBMYKLXXX/51234567": "institution_number", "MBBEMYKL/77": "institution_number"}


def test_reversal_and_same_file_never_join():
    base = {"source": "camt", "amount": Decimal("5.00"), "currency": "EUR", "from_account": "A/1", "to_account": "B/2", "end_to_end_id": "E-1",
            "is_reversal": False}
    rows = [
        {**base, "txn_id": "T1", "source_ref": "x.xml#/a[1]"},
        {**base, "txn_id": "T2", "source_ref": "x.xml#/a[2]"},
        {**base, "txn_id": "T3", "source_ref": "y.xml#/a[1]", "is_reversal": True},
    ]
    out = payments(fm.Bundle(transactions=fm.schema.conform(rows, "transactions")))
    assert out.transactions.num_rows == 3
    # the refused join is visible: both lines of x.xml carry the flag
    flagged = [r["txn_id"] for r in out.transactions.to_pylist() if "consolidation_ambiguous" in (r["quality_flags"] or [])]
    assert flagged == ["T1", "T2"]


def test_br30_same_statement_twice(shared, tmp_path):
    case = shared / "cases" / "files" / "BR-30"
    expected = json.loads((case / "expected.json").read_text())
    shutil.copy(case / "camt053_statement.xml", tmp_path / "camt053_XX91_20240305.xml")
    shutil.copy(case / "camt053_statement.xml", tmp_path / "camt053_XX91_20240305_resent.xml")
    shutil.copy(case / "card_XX94.csv", tmp_path / "card_XX94.csv")
    b = fm.consolidate(fm.read(tmp_path))
    t = b.transactions.to_pylist()
    xx91 = [r for r in t if "XX12TEST0000000091" in (r["from_account"] or "") + (r["to_account"] or "")]
    xx94 = [r for r in t if "XX12TEST0000000094" in (r["from_account"] or "") + (r["to_account"] or "")]
    assert len(xx91) == expected["transactions_of_XX91"]
    assert sorted(r["source_txn_ref"] for r in xx91) == expected["distinct_entry_refs_of_XX91"]
    assert len(xx94) == expected["transactions_of_XX94"]
    (resent,) = [r for r in b.load_log.to_pylist() if r["source_file"].endswith("_resent.xml") and r["table"] == "transactions"]
    assert resent["merged"] == expected["load_log_merged_transactions_resent_file"]
    assert sum(a for a in b.transactions["amount"].to_pylist()) == Decimal("5507.00")
    b.reconcile()


@settings(max_examples=40, deadline=None)
@given(
    payments_=st.lists(
        st.tuples(st.integers(1, 3), st.integers(1, 99_999), st.integers(0, 6), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    lag=st.integers(0, 2),
)
def test_each_payment_seen_from_both_ends_counts_once(payments_, lag):
    """Payer's and payee's statement rows of the same payments: exactly the payments remain."""
    from datetime import date, timedelta

    rows = []
    for k, (pair, cents, day, with_e2e) in enumerate(payments_):
        frm, to = f"BANKAAAA/{pair}", f"BANKBBBB/{pair}"
        d = date(2024, 3, 1) + timedelta(days=day)
        amt = Decimal(cents) / 100
        common = {"amount": amt, "currency": "EUR", "from_account": frm, "to_account": to,
                  "end_to_end_id": f"E{k}" if with_e2e else None}
        rows.append({**common, "txn_id": f"P{k}", "source": "camt", "source_ref": f"payer.xml#/Ntry[{k + 1}]",
                     "signed_amount": -amt, "value_date": d})
        rows.append({**common, "txn_id": f"Q{k}", "source": "mt940", "source_ref": f"payee.sta:{k + 1}",
                     "signed_amount": amt, "value_date": d + timedelta(days=lag)})
    b = fm.Bundle(transactions=fm.schema.conform(rows, "transactions"))
    out = payments(b)
    assert out.transactions.num_rows == len(payments_)
    assert _sums(out.transactions) == {"EUR": sum(Decimal(c) / 100 for _, c, _, _ in payments_)}
    assert out.observations.num_rows == 2 * len(payments_)
    for r in out.transactions.to_pylist():
        files = sorted(ref.split("#")[0].rsplit(":", 1)[0] for ref in r["observed_in"])
        assert files == ["payee.sta", "payer.xml"]


LANDLORD_CSV = "mixed/landlord_export.csv"
LANDLORD_MAP = "mappings/test_landlord.toml"


def test_mixed_inputs_take_a_mapping_per_file(data_dir):
    paths = [data_dir / "consolidate", data_dir / LANDLORD_CSV]
    with pytest.raises(InputError, match="landlord_export.csv"):
        fm.read(paths)  # a bank CSV nobody knows: named, not guessed
    for mapping in (["de_generic", str(data_dir / LANDLORD_MAP)], {"landlord_*.csv": str(data_dir / LANDLORD_MAP)}):
        b = fm.read(paths, mapping=mapping, consolidate=False)
        assert b.transactions.num_rows == 13
        one = fm.consolidate(b)
        assert _sums(one.transactions) == {"EUR": Decimal("2057.00")}  # the landlord's rows are views too
        (rent,) = [r for r in one.transactions.to_pylist() if r["amount"] == Decimal("1200.00")]
        assert len(rent["observed_in"]) == 4 and "landlord_export.csv:2" in rent["observed_in"]


def test_score_command_reads_consolidates_and_writes_the_picture(data_dir, tmp_path):
    from click.testing import CliRunner

    from followmoney.cli import main

    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["score", str(data_dir / "consolidate"), str(data_dir / LANDLORD_CSV),
                                    "--mapping", str(data_dir / LANDLORD_MAP), "--out", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["consolidation"]["read"] == 13 and summary["consolidation"]["canonical"] == 5
    assert summary["consolidation"]["balanced"]
    assert summary["rows"]["observations"] == 13
    import pyarrow.parquet as pq

    for name in ("observations", "account_aliases", "party_clusters", "match_reasons"):
        assert (out / "tables" / f"{name}.parquet").is_file()
    assert pq.read_table(out / "tables" / "transactions.parquet").num_rows == 5


def test_non_iban_accounts_join_by_header_bic_and_number(data_dir):
    """Malaysia: MT940 :25: holds the number only; the bank's BIC is in the SWIFT header."""
    raw = fm.read(data_dir / "consolidate_my", consolidate=False)
    assert "stmt/5123456789" in raw.accounts["account_id"].to_pylist()
    one = fm.consolidate(raw)
    rules = {r["raw"]: (r["account_id"], r["rule"]) for r in one.account_aliases.to_pylist()}
    assert rules["stmt/5123456789"] == ("BKRBMYKL/5123456789", "header_institution")
    assert rules["BKRBMYKLXXX/5123456789"] == ("BKRBMYKL/5123456789", "institution_number")
    assert rules["MBBEMYKLXXX/5140 2211 0987"][0] == "MBBEMYKL/514022110987"
    # the wage credit in the statement (no counterparty account) is the STR's transaction
    (t,) = one.transactions.to_pylist()
    assert (t["from_account"], t["to_account"], t["amount"], t["currency"]) == ("MBBEMYKL/514022110987", "BKRBMYKL/5123456789", Decimal("1500.00"), "MYR")
    assert {o["matched_by"] for o in one.observations.to_pylist()} == {"account_amount_date"}
    one.reconcile()


def test_one_sided_rows_join_only_when_unique():
    base = {"currency": "MYR", "amount": Decimal("100.00"), "value_date": None, "is_reversal": False, "from_account": None}
    from datetime import date

    rows = [
        {**base, "txn_id": "A", "source": "goaml", "source_ref": "s.xml#/t[1]", "from_account": "X/1", "to_account": "Y/2", "value_date": date(2024, 3, 4)},
        {**base, "txn_id": "B", "source": "goaml", "source_ref": "s.xml#/t[2]", "from_account": "X/9", "to_account": "Y/2", "value_date": date(2024, 3, 4)},
        {**base, "txn_id": "C", "source": "mt940", "source_ref": "b.sta:6", "to_account": "Y/2", "value_date": date(2024, 3, 4)},
    ]
    out = payments(fm.Bundle(transactions=fm.schema.conform(rows, "transactions")))
    assert out.transactions.num_rows == 3  # two candidates for C: not guessed


def test_read_consolidates_and_consolidating_again_changes_nothing(data_dir, tmp_path):
    """fm.read gives the one picture; consolidating it again keeps every table as it is."""
    from followmoney.datasets import make_multisource

    raw = fm.read(data_dir / "consolidate", consolidate=False)
    read = fm.read(data_dir / "consolidate")
    assert read.transactions.num_rows == 5 and read.observations.num_rows == raw.transactions.num_rows == 11
    # a world where one account pays another the same amount twice on one day: two payments
    w = make_multisource(tmp_path, seed=1, n_workers=3, n_months=1)
    for b in (read, fm.read(w.files)):
        again = fm.consolidate(b)
        for name in fm.schema.TABLES:
            assert getattr(again, name).equals(getattr(b, name)), name
        again.reconcile()
    assert fm.read(w.files).transactions.num_rows == len(w.payments)


def test_two_uetrs_are_never_joined_by_the_statement_keys():
    base = {"source": "pacs008", "amount": Decimal("70.00"), "currency": "EUR", "from_account": "A/1", "to_account": "B/2",
            "value_date": None}
    rows = [
        {**base, "txn_id": "T1", "source_ref": "x.xml#/a", "uetr": "11111111-2222-4333-8444-555555555555"},
        {**base, "txn_id": "T2", "source_ref": "y.xml#/a", "uetr": "99999999-2222-4333-8444-555555555555"},
        {**base, "txn_id": "T3", "source_ref": "z.sta:4", "source": "mt940", "signed_amount": Decimal("-70.00")},
    ]
    from datetime import date

    for r in rows:
        r["value_date"] = date(2026, 4, 15)
    uetrs = [r.pop("uetr", None) for r in rows]
    t = fm.schema.conform(rows, "transactions").append_column("uetr", pa.array(uetrs, pa.string()))
    out = payments(fm.Bundle(transactions=t))
    # the statement line joins one of the two wires (the first), never both into one payment
    assert out.transactions.num_rows == 2
    assert sorted(len(o) for o in out.transactions["observed_in"].to_pylist()) == [1, 2]


@given(st.lists(st.one_of(st.none(), st.text(alphabet=["a", ":", "#", "1", "0", "\n", "\u0663", "\u00b2", "/", "\u00e9", ".", "s"], max_size=8)), max_size=8))
@settings(max_examples=300, deadline=None)
def test_files_of_a_column_are_file_of_each_ref(refs):
    """The column-wise file of each source_ref is what file_of gives one by one (XPath refs,
    line refs, other digits after a colon, empty and missing refs)."""
    from followmoney.consolidate._log import file_of, files_of

    assert files_of(pa.array(refs, pa.string())) == [file_of(r) for r in refs]
