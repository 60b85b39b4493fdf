"""The public conformance checks (followmoney.testing) over every registered rule and adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_cases import POSITIVE

import followmoney as fm
from followmoney.detect.rules import REGISTRY, Param
from followmoney.testing import check_adapter, check_rule, out_of_range_values

DATA = Path(__file__).resolve().parent / "data"
SAMPLES = {
    "goaml": sorted((fm.sample_data_path() / "goaml").glob("*.xml")) + sorted((DATA / "goaml").glob("*.xml")),
    "amlsim": [fm.sample_data_path() / "amlsim" / "transactions.csv"],
    "camt": sorted((DATA / "camt").glob("*.xml")),
    "mt940": sorted((DATA / "mt940").glob("*.sta")),
    "fincen": sorted(p for p in (DATA / "fincen").glob("*.xml") if "acknowledgement" not in p.name),
    "ibm_aml": [DATA / "ibm_aml" / "br22_traps.csv"],
    "pacs008": [DATA / "wires" / "same_payment" / "pacs008_uetr.xml"],
    "pain001": [DATA / "wires" / "pain001_two_batches.xml"],
    "mt103": sorted(p for p in (DATA / "wires").iterdir() if p.suffix in {".fin", ".rje", ".dos"}),
    "auth": sorted((DATA / "wires").glob("auth00*.xml")),
}


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_every_rule_conforms(rule_id):
    assert rule_id in POSITIVE, f"{rule_id} has no hand-made positive case in tests/rule_cases.py"
    check_rule(REGISTRY[rule_id], POSITIVE[rule_id])


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_adapter_conforms(name):
    check_adapter(fm.ingest.ADAPTERS[name], SAMPLES[name])


def test_every_adapter_has_samples_here():
    """A new adapter needs conformance samples here, or a reason it is checked elsewhere."""
    elsewhere = {
        "bank_csv": "needs a mapping profile: tests/test_ingest_bank_csv.py",
        "fm_package": "packages are written by followmoney.share: tests/test_share.py",
    }
    assert set(fm.ingest.ADAPTERS) - set(SAMPLES) <= set(elsewhere)


def test_check_rule_catches_a_rule_that_accepts_anything(monkeypatch):
    import dataclasses

    class Loose(Param):
        def validate(self, value, rule_id):
            return value  # forgets its range

    loose = Loose("min_count", int, 3, "count", low=1)
    rule = dataclasses.replace(REGISTRY["ML-01"], params=(loose,))
    monkeypatch.setitem(REGISTRY, "ML-01", rule)
    with pytest.raises(AssertionError, match="accepted the out-of-range value"):
        check_rule(rule, POSITIVE["ML-01"])


def test_out_of_range_values_cover_both_bounds():
    assert out_of_range_values(Param("share", float, 0.5, "fraction", low=0.0, high=1.0))[:2] == [-1e-6, 1.000001]
