"""A multi-source world (issue 12): reading its overlapping files and consolidating gives the world back."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.consolidate import reconcile_observations
from followmoney.datasets.multisource import make_multisource


def _totals(t):
    out = {}
    for a, c in zip(t["amount"].to_pylist(), t["currency"].to_pylist()):
        out[c] = out.get(c, Decimal(0)) + a
    return out


def _alert_keys(alerts):
    return sorted(zip(alerts["rule_id"].to_pylist(), alerts["subject_id"].to_pylist(), alerts["amount_total"].to_pylist()))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    statement_share=st.sampled_from([0.0, 0.5, 1.0]),
    str_share=st.sampled_from([0.0, 0.5, 1.0]),
    lag=st.booleans(),
)
def test_consolidating_the_files_gives_the_world(tmp_path_factory, seed, statement_share, str_share, lag):
    out = tmp_path_factory.mktemp("world")
    w = make_multisource(out, seed=seed, n_workers=4, n_months=2, statement_share=statement_share, str_share=str_share, booking_lag=lag)
    raw = fm.read(w.files, consolidate=False)
    one = fm.consolidate(raw)
    t = one.transactions
    # nothing counted twice, nothing lost
    assert t.num_rows == len(w.payments)
    assert _totals(t) == w.totals()
    assert sorted(zip(t["from_account"].to_pylist(), t["to_account"].to_pylist(), t["amount"].to_pylist())) == sorted(
        (p.payer, p.payee, p.amount) for p in w.payments
    )
    # the accounts are the world's, under one id each
    seen = set(t["from_account"].to_pylist()) | set(t["to_account"].to_pylist())
    assert seen == {a for p in w.payments for a in (p.payer, p.payee)}
    assert seen <= set(one.accounts["account_id"].to_pylist())
    # every source row is an observation of exactly one payment; the counts reconcile
    assert one.observations.num_rows == raw.transactions.num_rows
    assert reconcile_observations(one)["balanced"]
    one.reconcile()
    # the parties: every name the sources give an account is a way of writing its holder's
    for acc, name in zip(one.accounts["account_id"].to_pylist(), one.accounts["name"].to_pylist()):
        if name:
            holder = set(w.accounts[acc]["holder"].split())
            assert set(name.upper().replace(".", "").split()) & holder, (acc, name)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), statement_share=st.sampled_from([0.5, 1.0]), str_share=st.sampled_from([0.0, 1.0]))
def test_the_alerts_are_those_of_the_world(tmp_path_factory, seed, statement_share, str_share):
    out = tmp_path_factory.mktemp("world")
    w = make_multisource(out, seed=seed, n_workers=5, n_months=2, statement_share=statement_share, str_share=str_share, booking_lag=False)
    cfg = fm.Config(jurisdiction="MY")
    from_files = fm.score(fm.consolidate(fm.read(w.files)), cfg)
    direct = fm.score(w.bundle(), cfg)
    assert from_files.num_rows > 0  # the world's controller pattern (HT-09) is found
    assert _alert_keys(from_files) == _alert_keys(direct)


def test_without_consolidation_the_money_counts_several_times(tmp_path):
    w = make_multisource(tmp_path, seed=7, n_workers=4, n_months=2)
    raw = fm.read(w.files, consolidate=False)
    assert raw.transactions.num_rows > len(w.payments)
    assert _totals(raw.transactions)["MYR"] > w.totals()["MYR"]


def test_same_seed_same_files(tmp_path):
    a = make_multisource(tmp_path / "a", seed=11)
    b = make_multisource(tmp_path / "b", seed=11)
    assert [f.name for f in a.files] == [f.name for f in b.files]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a.files, b.files))


def test_the_controller_is_the_top_case(tmp_path):
    w = make_multisource(tmp_path, seed=2, n_workers=6, n_months=2)
    b = fm.consolidate(fm.read(w.files))
    cases = fm.build_cases(fm.score(b, fm.Config(jurisdiction="MY")), b).to_pylist()
    controller = w.roles["controller"]
    assert controller in cases[0]["accounts"]
    assert cases[0]["role"] == "controller"


def test_demo_multisource_case_ranks_the_controller_first(tmp_path):
    import json

    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from followmoney.cli import main

    res = CliRunner().invoke(main, ["demo", "--multisource", "--out", str(tmp_path / "demo"), "-q"])
    assert res.exit_code == 0, res.output
    w = make_multisource(tmp_path / "again", seed=1, n_workers=6, n_months=2)
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["consolidation"]["canonical"] == len(w.payments) and summary["consolidation"]["balanced"]
    top = pq.read_table(tmp_path / "demo" / "cases.parquet").slice(0, 1).to_pylist()[0]
    assert w.roles["controller"] in top["accounts"] and top["role"] == "controller"
