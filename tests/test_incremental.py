"""Incremental nightly runs (issue 16, item 3): the transaction store and ``score --store``.

What an FIU data engineer checks: appending is idempotent and every record read is
accounted for; a full run on all the data and a full run on the first days followed by
incremental nights give the same alerts (ids, scores, evidence, explanations); a night
with nothing new leaves the alerts as they were; a store or previous run that cannot be
used is one line naming it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.cli import main
from followmoney.core import schema
from followmoney.core.store import append_store, read_store, store_manifest
from followmoney.datasets.synth import make_transactions
from followmoney.detect.incremental import rule_modes, score_store
from followmoney.detect.rules import REGISTRY

#: What must be identical between a full run and full + incremental runs (``run_id`` names the run).
SAME = ["alert_id", "rule_id", "subject_kind", "subject_id", "score", "severity", "window_start", "window_end", "amount_total",
        "currency", "evidence_count", "evidence_txn_ids", "evidence_source_refs", "subject_role", "related_subject_ids",
        "explanation", "params"]  # fmt: skip
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
EARLY, LATE = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
CFG = fm.Config()


def _cli(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.fixture(scope="module")
def world():
    """A synthetic bank world with every injected typology that fits 45 days (about 22 k transactions)."""
    bundle, _ = make_transactions(600, 45, n_per_typology=2, random_state=7)
    return replace(bundle, load_log=schema.empty("load_log"))  # split below: the parts are counted by the store


@pytest.fixture(scope="module")
def full(world, tmp_path_factory):
    """The alerts of a full run over a store holding the whole world."""
    d = tmp_path_factory.mktemp("full")
    append_store(world, d)
    return score_store(d, CFG).alerts


def _part(bundle, lo, hi):
    ts = bundle.transactions["timestamp"]
    keep = pc.and_(pc.greater_equal(ts, pa.scalar(lo, ts.type)), pc.less(ts, pa.scalar(hi, ts.type)))
    return replace(bundle, transactions=bundle.transactions.filter(keep))


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.num_rows == b.num_rows
    left, right = a.select(SAME).to_pylist(), b.select(SAME).to_pylist()
    assert [r["alert_id"] for r in left] == [r["alert_id"] for r in right]
    assert left == right


def _nights(world, store, cuts):
    """A full run on the data before ``cuts[0]``, then one incremental run per later cut; the last result."""
    bounds = [EARLY, *cuts, LATE]
    append_store(_part(world, bounds[0], bounds[1]), store)
    result = score_store(store, CFG)
    for lo, hi in zip(bounds[1:], bounds[2:]):
        append_store(_part(world, lo, hi), store)
        result = score_store(store, CFG, previous_alerts=result.alerts, previous_state=result.state, fallback_share=1.1)
        assert result.info["mode"] == "incremental"
    return result


def test_a_full_store_run_gives_the_alerts_of_scoring_the_bundle(world, full):
    _same(full, fm.score(world, CFG))
    assert full.num_rows > 50 and len(set(full["rule_id"].to_pylist())) > 20


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=st.integers(min_value=24, max_value=45 * 24 - 1))
def test_full_run_then_incremental_night_equals_one_full_run(world, full, tmp_path_factory, hours):
    result = _nights(world, tmp_path_factory.mktemp("inc"), [START + timedelta(hours=hours)])
    _same(result.alerts, full)
    assert result.info["new_rows"] > 0


def test_a_night_on_two_threads_equals_one_full_run(world, full, tmp_path):
    """The per-subject frames and the rules in full run two rules at once (``threads``), with the same alerts."""
    cut = START + timedelta(days=30)
    append_store(_part(world, EARLY, cut), tmp_path)
    first = score_store(tmp_path, CFG, threads=2)
    append_store(_part(world, cut, LATE), tmp_path)
    night = score_store(tmp_path, CFG, previous_alerts=first.alerts, previous_state=first.state, fallback_share=1.1, threads=2)
    assert night.info["mode"] == "incremental" and night.info["rules_by_mode"]["subject"]
    _same(night.alerts, full)


def test_several_nights_in_a_row_equal_one_full_run(world, full, tmp_path):
    cuts = [START + timedelta(days=d) for d in (20, 33, 44)]
    result = _nights(world, tmp_path, cuts)
    _same(result.alerts, full)
    assert result.info["alerts_carried"] > 0  # something was carried over, not all recomputed


def test_late_rows_dated_before_the_previous_run_are_scored(world, full, tmp_path):
    """Rows delivered late (dated before the last run's high-water mark) are still new to the next run."""
    cut = START + timedelta(days=30)
    before = _part(world, EARLY, cut)
    late = before.transactions["txn_id"].to_pylist()[::50]
    withheld = pc.is_in(before.transactions["txn_id"], value_set=pa.array(late))
    append_store(replace(before, transactions=before.transactions.filter(pc.invert(withheld))), tmp_path)
    first = score_store(tmp_path, CFG)
    tonight = pa.concat_tables([before.transactions.filter(withheld), _part(world, cut, LATE).transactions])
    entry = append_store(replace(world, transactions=tonight), tmp_path)
    assert entry["late"] == len(late)
    result = score_store(tmp_path, CFG, previous_alerts=first.alerts, previous_state=first.state, fallback_share=1.1)
    assert result.info["since"] <= min(before.transactions.filter(withheld)["timestamp"].to_pylist()).isoformat()
    _same(result.alerts, full)


def test_appending_again_stores_nothing_and_every_record_is_accounted_for(tmp_path, sample_data):
    store = tmp_path / "store"
    first = _cli("store", "append", store, sample_data / "goaml")
    assert first.exit_code == 0, first.output
    again = _cli("store", "append", store, sample_data / "goaml")
    assert again.exit_code == 0, again.output
    appends = store_manifest(store)["appends"]
    assert [a["stored"] for a in appends] == [appends[0]["stored"], 0]
    assert appends[1]["duplicates"] == appends[0]["stored"] > 0
    for a in appends:
        assert a["records_read"] == a["stored"] + a["duplicates"] + a["merged"] + a["rejected"]
    assert f"stored 0 + duplicates {appends[0]['stored']}" in again.output
    bundle = read_store(store)
    assert bundle.transactions.num_rows == appends[0]["stored"]
    assert bundle.accounts.num_rows == fm.read(sample_data / "goaml").accounts.num_rows  # context rows not doubled


def test_an_account_reference_stays_listed_once_where_it_was_first_seen(tmp_path):
    """Nights that repeat accounts do not list their references again: each night's file names
    them at its own lines, and the listing grew by a night's accounts every night (32 M rows
    after nine appends of a 50 M-row world)."""
    header = "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
    nights = {"night1.csv": [("001", "A1", "002", "B1"), ("001", "A2", "002", "B1")],
              "night2.csv": [("003", "C1", "001", "A1"), ("002", "B1", "003", "C1")]}  # fmt: skip
    for day, (name, rows) in enumerate(nights.items(), start=1):
        lines = [f"2024/01/0{day} 10:00,{fb},{fa},{tb},{ta},10.00,US Dollar,10.00,US Dollar,Wire,0\n" for fb, fa, tb, ta in rows]
        (tmp_path / name).write_text(header + "".join(lines))
        append_store(fm.read(tmp_path / name), tmp_path / "store")
    aliases = read_store(tmp_path / "store", transactions=False).account_aliases.to_pylist()
    assert sorted(r["raw"] for r in aliases) == ["001/A1", "001/A2", "002/B1", "003/C1"]
    assert {r["raw"]: r["source_ref"] for r in aliases} == {
        "001/A1": "night1.csv:2", "001/A2": "night1.csv:3", "002/B1": "night1.csv:2", "003/C1": "night2.csv:2"}


def test_nightly_command_line_run_equals_a_full_run_and_says_when_it_ran_in_full(world, full, tmp_path):
    """In this small, dense world the last days touch subjects holding most of the history: the night runs in full, and says so."""
    cut = START + timedelta(days=40)
    append_store(_part(world, EARLY, cut), tmp_path / "store")
    r1 = _cli("score", "--store", tmp_path / "store", "--out", tmp_path / "night1", "-q")
    assert r1.exit_code == 0, r1.output
    append_store(_part(world, cut, LATE), tmp_path / "store")
    r2 = _cli("score", "--store", tmp_path / "store", "--previous", tmp_path / "night1", "--out", tmp_path / "night2")
    assert r2.exit_code == 0, r2.output
    assert "Full run over the store" in r2.output and "the subjects the new rows touch hold" in r2.output
    alerts = pq.read_table(tmp_path / "night2" / "alerts.parquet")
    _same(alerts.select(schema.SCHEMAS["alerts"].names), full)
    summary = json.loads((tmp_path / "night2" / "summary.json").read_text())
    assert summary["store"]["mode"] == "full" and summary["store"]["reconciliation"]["balanced"]
    assert "of the stored rows" in summary["store"]["reason"]
    assert summary["store"]["high_water_mark"] == store_manifest(tmp_path / "store")["high_water_mark"]
    assert set(alerts["status"].to_pylist()) <= {"new", "update", "unchanged"}
    assert summary["alerts"] == full.num_rows


def test_since_after_the_data_end_leaves_the_alerts_unchanged(world, tmp_path):
    append_store(_part(world, EARLY, START + timedelta(days=15)), tmp_path / "store")
    assert _cli("score", "--store", tmp_path / "store", "--out", tmp_path / "r1", "-q").exit_code == 0
    r2 = _cli("score", "--store", tmp_path / "store", "--previous", tmp_path / "r1", "--since", "2100-01-01", "--out", tmp_path / "r2", "-q")
    assert r2.exit_code == 0, r2.output
    before, after = pq.read_table(tmp_path / "r1" / "alerts.parquet"), pq.read_table(tmp_path / "r2" / "alerts.parquet")
    _same(after.select(SAME), before.select(SAME))
    assert set(after["status"].to_pylist()) == {"unchanged"}
    summary = json.loads((tmp_path / "r2" / "summary.json").read_text())["store"]
    assert summary["new_rows"] == 0 and summary["alerts_recomputed"] == 0


def test_a_store_that_does_not_exist_is_one_line(tmp_path):
    r = _cli("score", "--store", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0] and "not a followmoney store" in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_previous_run_without_a_high_water_mark_is_one_line(tmp_path, sample_data):
    assert _cli("score", sample_data / "goaml", "--out", tmp_path / "plain", "-q").exit_code == 0  # not from a store
    assert _cli("store", "append", tmp_path / "store", sample_data / "goaml", "-q").exit_code == 0
    r = _cli("score", "--store", tmp_path / "store", "--previous", tmp_path / "plain", "--out", tmp_path / "out")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "plain" in lines[0] and "high-water mark" in lines[0]


def test_since_without_a_store_and_a_bad_since_are_usage_errors(tmp_path, sample_data):
    r = _cli("score", sample_data / "goaml", "--since", "2026-01-01", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--since goes with --store" in r.output
    r = _cli("score", "--store", tmp_path, "--since", "yesterday", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "ISO 8601" in r.output


def test_a_folder_that_is_not_a_store_is_refused(tmp_path, sample_data):
    (tmp_path / "notes.txt").write_text("mine")
    r = _cli("store", "append", tmp_path, sample_data / "goaml")
    assert r.exit_code == 2 and "not a followmoney store" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_rules_that_cannot_be_scored_incrementally_are_declared():
    """The rules the Dask engine runs "global" run in full every night; the others per touched subject."""
    modes = rule_modes(list(REGISTRY))
    assert {r for r, m in modes.items() if m == "full"} == {r for r, rule in REGISTRY.items() if rule.partition in ("graph", "touching", "global")}
    assert modes["ML-05"] == "subject" and modes["HT-09"] == "subject"


def test_an_account_added_without_transactions_is_rescored(world, tmp_path):
    """A later file may bring only an account's row (opening date, holder): the next run re-scores that account."""
    accounts = world.accounts
    append_store(replace(world, accounts=accounts.slice(1)), tmp_path)
    assert append_store(replace(world, accounts=accounts.slice(1)), tmp_path)["changed_accounts"] == 0
    first = score_store(tmp_path, CFG)
    entry = append_store(replace(world, transactions=world.transactions.slice(0, 0), accounts=accounts.slice(0, 1)), tmp_path)
    assert entry["changed_accounts"] == 1 and entry["stored"] == 0
    night = score_store(tmp_path, CFG, previous_alerts=first.alerts, previous_state=first.state, fallback_share=1.1)
    assert night.info["mode"] == "incremental" and night.info["new_rows"] == 0 and night.info["touched_subjects"] == 1
    _same(night.alerts, score_store(tmp_path, CFG).alerts)


IDS = [None, "A/1", "B/2", "C/3", "D/4", "E/5", "F/6"]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(IDS)), max_size=25),
       touched=st.sets(st.sampled_from([*IDS[1:], "Z/9"])))  # fmt: skip
def test_reach_is_every_row_of_the_touched_and_of_the_accounts_two_hops_away(rows, touched):
    """The rows a night's per-subject rules read, against a plain set computation (ids absent from the rows,
    and rows without a sender or receiver, included)."""
    from followmoney.detect.incremental import _reach

    tx = pa.table({"from_account": [a for a, _ in rows], "to_account": [b for _, b in rows],
                   "from_party": [None] * len(rows), "to_party": [None] * len(rows)},
                  schema=pa.schema([(c, pa.string()) for c in ("from_account", "to_account", "from_party", "to_party")]))  # fmt: skip
    got = _reach(tx, pa.array(sorted(touched), pa.string()), {"account", "neighbourhood"})

    def rows_of(ids):
        return [a in ids or b in ids for a, b in rows]

    def met(mask):
        return {x for (a, b), m in zip(rows, mask) if m for x in (a, b) if x is not None}

    assert got["account"][1].tolist() == rows_of(touched)
    owners = touched | met(rows_of(touched))
    assert set(got["neighbourhood"][0].to_pylist()) == owners
    assert got["neighbourhood"][1].tolist() == rows_of(owners | met(rows_of(owners)))
