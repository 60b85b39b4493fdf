"""Cases BR-31 and BR-34 of ../shared/cases/real-files.md (issue 12: people and entities across formats)."""

import json

import pyarrow.compute as pc

import followmoney as fm


def _case(shared, name):
    d = shared / "cases" / "files" / name
    return d, json.loads((d / "expected.json").read_text())


def test_br31_same_trade_name_different_registration_is_two_companies(shared):
    d, expected = _case(shared, "BR-31")
    b = fm.read(d / "str_legal_forms.xml")
    r = fm.resolve(b)
    clusters = dict(zip(r.party_clusters["party_id"].to_pylist(), r.party_clusters["cluster_id"].to_pylist()))
    entities = {c for p, c, k in zip(r.party_clusters["party_id"].to_pylist(), r.party_clusters["cluster_id"].to_pylist(), r.party_clusters["kind"].to_pylist()) if k == "entity"}
    assert len(entities) == expected["entity_clusters"]
    pair = r.match_reasons.to_pylist()
    assert pair and {p["decision"] for p in pair} <= set(expected["allowed_decisions_between_them"])
    (tx,) = [t for t in b.transactions.to_pylist() if t["source_txn_ref"] == "LF-TX-1"]
    assert (clusters[tx["from_party"]] != clusters[tx["to_party"]]) is expected["transaction_LF-TX-1_is_between_two_clusters"]


def test_br34_country_code_written_twice(shared):
    d, expected = _case(shared, "BR-34")
    b = fm.read(d / "str_phones.xml")
    phones = b.identifiers.filter(pc.equal(b.identifiers["kind"], "phone"))
    assert set(phones["value"].to_pylist()) == {expected["phone_value_all_mentions"]}
    assert phones.num_rows == 4
    shared_ids = fm.shared_identifiers(b, fm.resolve(b)).to_pylist()
    (phone,) = [s for s in shared_ids if s["kind"] == "phone"]
    assert phone["n_clusters"] == expected["shared_identifiers_phone_n_clusters"]


def test_a_passport_read_from_camt_matches_the_same_passport_in_goaml():
    parties = fm.schema.conform([
        {"party_id": "P1", "kind": "person", "name": "TEST WORKER", "source_ref": "stmt.xml#/Ntry[1]/Dbtr"},
        {"party_id": "P2", "kind": "person", "name": "Test Worker", "source_ref": "str.xml#/report/t_person"},
    ], "parties")  # fmt: skip
    ids = fm.schema.conform([
        {"owner_kind": "party", "owner_id": "P1", "kind": "passport", "value": "CCPT:K7390215", "raw": "K7390215", "source_ref": "stmt.xml#/Othr"},
        {"owner_kind": "party", "owner_id": "P2", "kind": "passport", "value": "PASSP:K 7390215", "raw": "K 7390215", "source_ref": "str.xml#/passport"},
    ], "identifiers")  # fmt: skip
    r = fm.resolve(fm.Bundle(parties=parties, identifiers=ids))
    assert len(set(r.party_clusters["cluster_id"].to_pylist())) == 1


def test_camt_contact_details_and_address_match_goaml(data_dir):
    """camt CtctDtls (MobNb, EmailAdr) are read; an address is normalised as in goAML."""
    from followmoney.normalize import normalize_address

    b = fm.read(data_dir / "camt" / "contacts_address.xml")
    ids = {r["kind"]: r["value"] for r in b.identifiers.to_pylist()}
    assert ids["phone"] == "+60123456789" and ids["email"] == "test.worker@example.org"
    # the goAML adapter's key for the same dormitory, written the Indonesian/Malay long way
    assert ids["address"] == normalize_address("Jalan Test 7 Nomor 3, Kuala Lumpur, MY")
