"""Entity resolution and shared identifiers: BR-19, BR-21, must-not-link rules, stability."""

import json
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney.resolve import SETTINGS_METADATA_KEY, ResolverSettings, resolve, shared_identifiers, splink_input


def _bundle(parties, identifiers=(), party_accounts=(), transactions=()):
    def t(rows):
        return pa.Table.from_pylist(list(rows)) if rows else None

    kw = {k: t(v) for k, v in (("parties", parties), ("identifiers", identifiers),
                               ("party_accounts", party_accounts), ("transactions", transactions)) if v}  # fmt: skip
    return fm.Bundle(**kw)


def _p(pid, name, dob=None, **kw):
    return {"party_id": pid, "kind": kw.pop("kind", "person"), "name": name, "birth_date": dob,
            "source_ref": f"f#{pid}", **kw}  # fmt: skip


def _id(owner, kind, value, owner_kind="party"):
    return {"owner_kind": owner_kind, "owner_id": owner, "kind": kind, "value": value, "raw": value,
            "source_ref": f"f#{owner}/{kind}"}  # fmt: skip


def _clusters(res):
    groups = {}
    for pid, cid in res.cluster_map().items():
        groups.setdefault(cid, set()).add(pid)
    return sorted(sorted(g) for g in groups.values())


# --------------------------------------------------------------------------- cases
def test_br19_name_order_resolves_to_one_person():
    dob = date(1980, 4, 2)
    b = _bundle([_p("r1", "MARTA IVANOVA", dob), _p("r2", "IVANOVA, Marta", dob), _p("r3", "IVANOVA MARTA", dob)])
    res = resolve(b)
    assert _clusters(res) == [["r1", "r2", "r3"]]
    merges = res.match_reasons.filter(pa.compute.equal(res.match_reasons["decision"], "merge")).to_pylist()
    assert merges and all(r["score"] == 1.0 and r["rule"] == "name_corroborated" for r in merges)
    assert all("birth_date" in json.loads(r["evidence"])["shared"] for r in merges)


def test_br21_unicode_variants_resolve_and_keep_raw_names():
    dob = date(1975, 1, 5)
    names = ["Fran\u00e7ois Lem\u00e2tre", "Franc\u0327ois Lema\u0302tre", "FRANCOIS LEMATRE"]
    b = _bundle([_p(f"p{i}", n, dob) for i, n in enumerate(names)])
    res = resolve(b)
    assert _clusters(res) == [["p0", "p1", "p2"]]
    levels = {json.loads(r["evidence"])["name_level"] for r in res.match_reasons.to_pylist()}
    assert levels <= {"exact", "variant"} and "variant" in levels
    assert b.parties["name"].to_pylist() == names  # raw kept for display


def test_shared_address_alone_never_merges():
    addr = "Flat 12, Example Residence, 0 Test Street, Dubai"
    b = _bundle([_p("a", "Ana Exemplo"), _p("b", "Mara Testini"), _p("c", "Ana Exemplo")],
                [_id("a", "address", addr), _id("b", "address", addr)])  # fmt: skip
    res = resolve(b)
    assert _clusters(res) == [["a"], ["b"], ["c"]]  # a/c: same name but no corroboration beyond nothing
    assert set(res.match_reasons["decision"].to_pylist()) <= {"review"}


def test_common_surname_with_corroboration_never_merges():
    dob = date(1990, 1, 1)
    b = _bundle([_p("a", "Marta Ivanova", dob), _p("b", "Olga Ivanova", dob), _p("c", "Ivanova", dob)])
    assert _clusters(resolve(b)) == [["a"], ["b"], ["c"]]


def test_conflicting_birth_dates_block_even_a_strong_link():
    b = _bundle([_p("a", "Tariq Fictus", date(1984, 6, 10)), _p("b", "Tariq Fictus", date(1985, 6, 10))],
                [_id("a", "passport", "X7391846"), _id("b", "passport", "X7391846")])  # fmt: skip
    res = resolve(b)
    assert _clusters(res) == [["a"], ["b"]]
    (row,) = res.match_reasons.to_pylist()
    assert (row["rule"], row["decision"]) == ("must_not_link_birth_date", "blocked")
    assert json.loads(row["evidence"])["proposed_by"] == "same_passport"


def test_no_chaining_through_a_weak_link():
    """a~b (name typo + phone), b~c (name typo + phone) but a and c do not match by name."""
    ids = [_id("a", "phone", "+971500000001"), _id("b", "phone", "+971500000001"), _id("b", "email", "x@e.example"),
           _id("c", "email", "x@e.example")]  # fmt: skip
    b = _bundle([_p("a", "Jon Smithers"), _p("b", "John Smithers"), _p("c", "John Smothers-Kay")], ids)
    res = resolve(b, ResolverSettings(name_threshold=0.8))
    clusters = _clusters(res)
    assert ["a", "b", "c"] not in clusters
    assert "no_chaining" in res.match_reasons["rule"].to_pylist()


def test_chain_of_must_not_link_through_an_undated_mention_is_blocked():
    """a (dob 1) = b (no dob) = c (dob 2) by the same passport: c must not join a."""
    b = _bundle([_p("a", "Tariq Fictus", date(1984, 6, 10)), _p("b", "Tariq Fictus"), _p("c", "Tariq Fictus", date(1990, 1, 2))],
                [_id(x, "passport", "X7391846") for x in "abc"])  # fmt: skip
    clusters = _clusters(resolve(b))
    assert ["a", "b"] in clusters and ["c"] in clusters


def test_strong_identifier_with_different_names_goes_to_review():
    b = _bundle([_p("a", "Tariq Fictus"), _p("b", "Ana Exemplo")],
                [_id("a", "passport", "X7391846"), _id("b", "passport", "X 739-1846")])  # fmt: skip
    res = resolve(b)
    assert _clusters(res) == [["a"], ["b"]]
    assert res.match_reasons.to_pylist()[0]["rule"] == "names_differ_on_strong_identifier"
    shared = shared_identifiers(b, res)
    assert shared.select(["kind", "key", "n_clusters"]).to_pylist() == [{"kind": "passport", "key": "X7391846", "n_clusters": 2}]


def test_person_and_entity_never_merge():
    b = _bundle([_p("a", "Acme", kind="entity"), _p("b", "Acme")], [_id("a", "tax_id", "123456789"), _id("b", "tax_id", "123456789")])
    assert _clusters(resolve(b)) == [["a"], ["b"]]


def test_placeholder_identifiers_do_not_link():
    b = _bundle([_p("a", "Ali Hassan"), _p("b", "Omar Said")], [_id("a", "passport", "Z0000000"), _id("b", "passport", "Z0000000")])
    res = resolve(b)
    assert _clusters(res) == [["a"], ["b"]] and res.stats["placeholder_identifiers"] == 2


# --------------------------------------------------------------------------- sample data
def test_goaml_demo_persons_resolve_across_reports(sample_data):
    b = fm.read(sample_data / "goaml")
    res = resolve(b)
    names = dict(zip(b.parties["party_id"].to_pylist(), b.parties["name"].to_pylist()))
    reports = dict(zip(b.parties["party_id"].to_pylist(), b.parties["report_id"].to_pylist()))
    by_cluster = {}
    for pid, cid in res.cluster_map().items():
        by_cluster.setdefault(cid, []).append(pid)
    # every cluster holds one name, and every name is one cluster
    assert sorted(len({names[p] for p in ps}) for ps in by_cluster.values()) == [1] * len(by_cluster)
    assert len({names[p] for p in names}) == len(by_cluster) == 8
    controller = next(ps for ps in by_cluster.values() if names[ps[0]] == "Tariq Fictus")
    assert len({reports[p] for p in controller}) == 3  # STR 001, STR 002 and the SAR
    merged = res.match_reasons.filter(pa.compute.equal(res.match_reasons["decision"], "merge"))
    assert set(merged["right_party"].to_pylist()) | set(merged["left_party"].to_pylist()) >= set(controller)
    assert all(e for e in merged["explanation"].to_pylist())


def test_goaml_demo_controller_phone_and_address_shared_with_three_victims(sample_data):
    b = fm.read(sample_data / "goaml")
    res = resolve(b)
    shared = shared_identifiers(b, res).to_pylist()
    leads = [r for r in shared if not r["related_by_account"]]
    assert sorted(r["kind"] for r in leads) == ["address", "phone"]
    names = dict(zip(b.parties["party_id"].to_pylist(), b.parties["name"].to_pylist()))
    for r in leads:
        assert r["n_clusters"] == 4
        assert {names[p] for p in r["party_ids"]} == {"Tariq Fictus", "Ana Exemplo", "Mara Testini", "Lina Sampleton"}
    # the company and its director at one office address: listed, but marked as related
    assert [r["n_entities"] for r in shared if r["related_by_account"]] == [1]


def test_shared_goaml_samples_resolve_same_persons(shared):
    import glob

    b = fm.read(sorted(glob.glob(str(shared / "samples" / "goaml" / "*.xml"))))
    res = resolve(b)
    names = dict(zip(b.parties["party_id"].to_pylist(), b.parties["name"].to_pylist()))
    sizes = {}
    for pid, cid in res.cluster_map().items():
        if names[pid]:
            sizes.setdefault(names[pid], set()).add(cid)
    assert all(len(cids) == 1 for cids in sizes.values()), "each named person is one cluster"
    # four different people (different Emirates IDs) share one phone and address: never merged, but shared
    shared_rows = shared_identifiers(b, res, kinds=("phone",)).to_pylist()
    assert [r["n_clusters"] for r in shared_rows] == [4]


# --------------------------------------------------------------------------- synthetic controller
def test_controller_phone_on_victims_accounts_is_one_finding():
    phone = "+971500009999"
    parties = [_p("ctl", "Karim Controller", date(1980, 1, 1))] + [
        _p(f"v{i}", n, date(2000, 1, i + 1)) for i, n in enumerate(["Ana Uno", "Bea Dos", "Cleo Tres", "Dina Cuatro"])
    ]
    holders = [{"party_id": f"v{i}", "account_id": f"BANK/{i}", "role": "holder", "source_ref": f"f#h{i}"} for i in range(4)]
    ids = [_id("ctl", "phone", phone)] + [_id(f"BANK/{i}", "phone", "050 000 9999", owner_kind="account") for i in range(4)]
    ids += [_id("v0", "phone", "+971500000001")]  # a victim's own phone: not shared
    accounts = pa.Table.from_pylist([{"account_id": f"BANK/{i}", "country": "AE", "source_ref": "f"} for i in range(4)])
    b = fm.Bundle(parties=pa.Table.from_pylist(parties), identifiers=pa.Table.from_pylist(ids),
                  party_accounts=pa.Table.from_pylist(holders), accounts=accounts)  # fmt: skip
    res = resolve(b)
    assert res.stats["clusters"] == 5
    shared = shared_identifiers(b, res).to_pylist()
    assert len(shared) == 1
    (row,) = shared
    assert (row["kind"], row["key"], row["n_clusters"], row["n_accounts"]) == ("phone", phone, 5, 4)
    assert not row["related_by_account"]


# --------------------------------------------------------------------------- stability
def _mixed_bundle():
    dob = date(1984, 6, 10)
    parties = [_p("m1", "Tariq Fictus", dob), _p("m2", "FICTUS, Tariq", dob), _p("m3", "Tarik Fictus", dob),
               _p("m4", "Ana Exemplo", date(2001, 2, 11)), _p("m5", "Ana Exemplo"), _p("m6", "Victor Fakename"),
               _p("m7", "Victor Fakename", date(1979, 3, 21)), _p("m8", "Acme LLC", kind="entity"),
               _p("m9", "ACME L.L.C.", kind="entity")]  # fmt: skip
    ids = [_id("m1", "national_id", "EID:1"), _id("m2", "national_id", "EID:1"), _id("m3", "phone", "+971500000101"),
           _id("m1", "phone", "+971500000101"), _id("m4", "phone", "+971500000101"), _id("m6", "passport", "P777"),
           _id("m7", "passport", "P777"), _id("m8", "tax_id", "TRN 100"), _id("m9", "tax_id", "TRN-100"),
           _id("m5", "address", "Flat 12"), _id("m4", "address", "Flat 12")]  # fmt: skip
    return parties, ids


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_cluster_ids_are_stable_under_input_reordering(rnd):
    parties, ids = _mixed_bundle()
    expected = resolve(_bundle(parties, ids))
    p2, i2 = parties[:], ids[:]
    rnd.shuffle(p2)
    rnd.shuffle(i2)
    got = resolve(_bundle(p2, i2))
    assert got.cluster_map() == expected.cluster_map()
    assert got.match_reasons.to_pylist() == expected.match_reasons.to_pylist()


def test_mixed_bundle_clusters():
    parties, ids = _mixed_bundle()
    assert _clusters(resolve(_bundle(parties, ids))) == [["m1", "m2", "m3"], ["m4"], ["m5"], ["m6", "m7"], ["m8", "m9"]]


def test_cluster_id_unchanged_when_unrelated_mentions_are_added():
    parties, ids = _mixed_bundle()
    before = resolve(_bundle(parties, ids)).cluster_map()
    after = resolve(_bundle(parties + [_p("z1", "Someone Else")], ids)).cluster_map()
    assert all(after[k] == v for k, v in before.items())


# --------------------------------------------------------------------------- settings
def test_settings_round_trip_and_travel_with_results(tmp_path):
    s = ResolverSettings(name_threshold=0.9, corroboration={"birth_date": 1.0, "phone": 0.5})
    assert ResolverSettings.from_dict(s.to_dict()) == s
    path = tmp_path / "resolver.toml"
    path.write_text(s.to_toml())
    assert ResolverSettings.from_toml(path) == s
    res = resolve(_bundle([_p("a", "Ana Exemplo")]), s)
    meta = json.loads(res.party_clusters.schema.metadata[SETTINGS_METADATA_KEY])
    assert ResolverSettings.from_dict(meta) == s


@pytest.mark.parametrize("bad", [{"name_threshold": 1.5}, {"corroboration": {"shoe_size": 1.0}}, {"nope": 1}])
def test_settings_are_validated(bad):
    with pytest.raises(ValueError):
        ResolverSettings.from_dict(bad)


def test_empty_bundle():
    res = resolve(fm.Bundle())
    assert res.party_clusters.num_rows == 0 and res.match_reasons.num_rows == 0
    assert shared_identifiers(fm.Bundle(), res).num_rows == 0


def test_splink_input_has_one_row_per_mention(sample_data):
    b = fm.read(sample_data / "goaml")
    t = splink_input(b)
    assert t.num_rows == b.parties.num_rows
    assert set(t["unique_id"].to_pylist()) == set(b.parties["party_id"].to_pylist())
