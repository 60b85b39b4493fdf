"""A short, fixed-seed round of the adapter fuzzer (tests/fuzzing.py; ``make fuzz`` runs it at
length): no traceback, no hang, no record lost without a reject, no message quoting the input."""

from __future__ import annotations

import random

import pytest

import fuzzing


@pytest.mark.parametrize("fmt", fuzzing.FORMATS)
def test_fuzzed_inputs_are_read_or_refused_cleanly(fmt, tmp_path):
    # 40 inputs per adapter (280 in all), fixed seed: the same inputs on every run
    report = fuzzing.fuzz(40, seed=14, limit=20.0, formats=(fmt,), work=tmp_path)
    assert report.bad() == 0, report.summary()
    assert sum(report.counts.values()) == 40


def test_the_fuzzer_can_fail():
    """The oracles catch what they are for: a lost record, a leaked value, a traceback."""
    report = fuzzing.Report()
    report.add("lost", "goaml", "1 transaction record(s) neither written nor rejected")
    report.add("ok", "goaml")
    assert report.bad() == 1 and "lost goaml" in report.summary()
    data = b"<report><name>Zorabelle Quistmoor</name></report>"
    assert fuzzing.leaked("goaml", "x.xml: bad name Quistmoor", data, fuzzing.DATA / "x.xml") == "quistmoor"
    assert fuzzing.leaked("goaml", "x.xml: line 1: root element is an unknown element", data, fuzzing.DATA / "x.xml") is None


def test_mutations_are_deterministic_and_change_the_input():
    seed = (fuzzing.SAMPLES / "goaml" / "str_2026_001.xml").read_bytes()
    a = [fuzzing.mutate(seed, random.Random(i), "goaml") for i in range(100, 140)]
    b = [fuzzing.mutate(seed, random.Random(i), "goaml") for i in range(100, 140)]
    assert a == b and seed not in a and len(set(a)) > 20


def test_expected_records_counts_transactions_anywhere(tmp_path):
    p = tmp_path / "r.xml"
    p.write_bytes(b"<report><transaction><transaction/></transaction><x><transaction/></x></report>")
    assert fuzzing.expected_records("goaml", p) == 3
