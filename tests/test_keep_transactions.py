"""``score(..., keep_transactions=False)`` (issue 16): a batch run lets the transactions' columns go once the
rules' frame holds them, and the alerts, cases and resolution stay the same."""

from __future__ import annotations

import dataclasses

import pyarrow.compute as pc

import followmoney as fm
from followmoney.datasets.multisource import make_multisource
from followmoney.detect.score import AFTER_SCORING, score
from followmoney.resolve import ResolverSettings, _Mentions


def _let_go(bundle, cfg, **kwargs):
    lean = dataclasses.replace(bundle)  # another Bundle over the same tables: the caller's stays whole
    return lean, score(lean, cfg, keep_transactions=False, **kwargs)


def _only_after_scoring_kept(lean, whole):
    tx, full = lean.transactions, whole.transactions
    assert tx.num_rows == full.num_rows and tx.schema.equals(full.schema)
    for name in tx.column_names:
        if name in AFTER_SCORING:
            assert tx[name].equals(full[name]), name
        else:
            assert tx[name].null_count == tx.num_rows, name
    assert any(full[c].null_count < full.num_rows for c in full.column_names if c not in AFTER_SCORING)  # something went


def test_the_rules_give_the_same_alerts_without_the_transactions_columns(synthetic, synthetic_pandas):
    """Every rule, ML-15 / HT-11 among them (they resolve parties from the bundle while the rules run)."""
    bundle, cfg = synthetic
    lean, got = _let_go(bundle, cfg)
    assert {"ML-15", "HT-11"} <= set(got.column("rule_id").to_pylist())
    assert got.equals(synthetic_pandas)
    _only_after_scoring_kept(lean, bundle)
    assert bundle.transactions["amount"].null_count < bundle.transactions.num_rows  # the caller's bundle is untouched


def test_cases_names_and_resolution_are_those_of_the_whole_bundle(tmp_path):
    """Four formats of two banks: the resolver's counterparty mentions and the cases after scoring read the lean table."""
    world = make_multisource(tmp_path, seed=2, n_workers=6, n_months=2)
    whole = fm.consolidate(fm.read(world.files))
    cfg = fm.Config(jurisdiction="MY")
    alerts = score(whole, cfg)
    lean, got = _let_go(whole, cfg, threads=2)
    assert got.equals(alerts)
    _only_after_scoring_kept(lean, whole)
    mentions = pc.sum(pc.is_valid(whole.transactions["from_party"])).as_py() + pc.sum(pc.is_valid(whole.transactions["to_party"])).as_py()
    assert mentions > 0  # the resolver has counterparty mentions to read
    read, lean_read = _Mentions(whole, ResolverSettings()), _Mentions(lean, ResolverSettings())
    assert any(read.counterparty_mentions) and any(read.counterparty_accounts)
    assert (lean_read.counterparty_mentions, lean_read.counterparty_accounts) == (read.counterparty_mentions, read.counterparty_accounts)
    resolution, lean_resolution = fm.resolve(whole), fm.resolve(lean)
    assert lean_resolution.party_clusters.equals(resolution.party_clusters)
    assert lean_resolution.match_reasons.equals(resolution.match_reasons)
    cases = fm.build_cases(alerts, whole, resolution=resolution)
    assert fm.build_cases(got, lean, resolution=lean_resolution).equals(cases)
    assert world.roles["controller"] in cases.to_pylist()[0]["accounts"]
