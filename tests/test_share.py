"""followmoney.share: keys, match-key exports, matching, attacks, disclosure packages (issue 19)."""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import re
import secrets
import zipfile
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import followmoney as fm
from followmoney import share, trace
from followmoney.cli import main
from followmoney.share._recipe import own_subjects, subject_values

KEY = share.new_key(["FIU-A", "FIU-B"], "2026-Q4")


@pytest.fixture(scope="module")
def goaml():
    return fm.read(fm.sample_data_path() / "goaml")


@pytest.fixture(scope="module")
def world():
    return share.two_fius(600, 60, random_state=0)


@pytest.fixture(scope="module")
def b_export(world):
    _, b, _ = world
    return share.export_keys(b, own_subjects(b), KEY, clk=True)


def _party_pairs(hits, export, confidences=None, kind=None):
    refs = dict(zip(export.refs["ref"].to_pylist(), zip(export.refs["subject_kind"].to_pylist(), export.refs["subject_id"].to_pylist())))
    out = set()
    for sk, sid, ref, kinds, conf in zip(*(hits[c].to_pylist() for c in ("subject_kind", "subject_id", "partner_ref", "matched_kinds", "confidence"))):
        if sk != "party" or refs[ref][0] != "party":
            continue
        if confidences is not None and conf not in confidences:
            continue
        if kind is not None and kind not in kinds:
            continue
        out.add((sid, refs[ref][1]))
    return out


# --------------------------------------------------------------------------- keys
def test_key_file_round_trip_is_private_and_never_overwritten(tmp_path):
    k = share.new_key(["FIU-B", "FIU-A"], "2026-Q4")
    path = share.write_key(k, tmp_path / "k.json")
    assert path.stat().st_mode & 0o777 == 0o600
    back = share.read_key(path)
    assert back == k and back.key_id == k.key_id and len(back.secret) == 32
    assert k.secret.hex() not in repr(k)
    with pytest.raises(share.ShareError, match="never overwritten"):
        share.write_key(k, path)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(share.ShareError, match="bad.json: not a followmoney key file"):
        share.read_key(tmp_path / "bad.json")
    with pytest.raises(share.ShareError, match="two distinct"):
        share.new_key(["FIU-A", "FIU-A"], "2026-Q4")


def test_keys_of_other_periods_or_pairs_give_unrelated_tokens():
    other_period = share.PairKey(KEY.partners, "2027-Q1", KEY.secret)
    other_pair = share.PairKey(("FIU-A", "FIU-C"), KEY.period, KEY.secret)
    values = [f"+97150{i:07d}" for i in range(2000)]
    t0 = {share.token(KEY, "phone", v) for v in values}
    assert not t0 & {share.token(other_period, "phone", v) for v in values}
    assert not t0 & {share.token(other_pair, "phone", v) for v in values}
    assert bytes.fromhex(KEY.key_id) not in {t[:8] for t in t0}


# --------------------------------------------------------------------------- round trips
def test_export_round_trip_on_bundled_goaml(goaml, tmp_path):
    subjects = own_subjects(goaml) + ["DEXB/1001002001"]  # every party, and the recruiter's account
    exp = share.export_keys(goaml, subjects, KEY)
    exp.write(tmp_path / "keys.parquet", tmp_path / "refs.parquet")
    back = share.read_export(tmp_path / "keys.parquet", KEY)
    counts = collections.Counter(back.table["kind"].to_pylist())
    assert back.header["kinds"] == dict(counts) and back.header["subjects"] == len(set(back.table["ref"].to_pylist()))
    assert set(back.header) == {"format", "recipe", "period", "key_id", "kinds", "subjects", "clk", "mac"}
    hits = share.match(back, goaml, KEY, subjects=subjects)
    refs = pq.read_table(tmp_path / "refs.parquet")
    ref_of = dict(zip(refs["subject_id"].to_pylist(), refs["ref"].to_pylist()))
    with_values = {sid for _, sid, v in subject_values(goaml, subjects) if v}
    found_self = {s for s, r in zip(hits["subject_id"].to_pylist(), hits["partner_ref"].to_pylist()) if ref_of[s] == r}
    assert found_self == with_values and len(with_values) >= 30
    # the goAML sample's recruiter account carries its bank + number token
    mine = hits.filter(pc.equal(hits["partner_ref"], ref_of["DEXB/1001002001"]))
    assert "account" in mine["matched_kinds"][0].as_py()


@pytest.mark.parametrize("folder", ["goaml", "iso20022"])
def test_export_round_trip_on_shared_samples(shared, folder, tmp_path):
    paths = sorted((shared / "samples" / folder).glob("*.xml"))
    if folder == "iso20022":
        paths = [p for p in paths if "camt05" in p.name]
    b = fm.read(paths, progress=False)
    subjects = own_subjects(b)
    exp = share.export_keys(b, subjects, KEY, clk=True)
    exp.write(tmp_path / "k.parquet", tmp_path / "r.parquet")
    hits = share.match(share.read_export(tmp_path / "k.parquet", KEY), b, KEY)
    ref_of = dict(zip(exp.refs["subject_id"].to_pylist(), exp.refs["ref"].to_pylist()))
    with_values = {sid for _, sid, v in subject_values(b, subjects) if v}
    found_self = {s for s, r in zip(hits["subject_id"].to_pylist(), hits["partner_ref"].to_pylist()) if ref_of[s] == r}
    assert with_values and found_self == with_values
    if folder == "iso20022":
        assert exp.header["kinds"].get("iban", 0) > 5


# --------------------------------------------------------------------------- two FIUs
def _shared_identifier_pairs(a, b):
    """Distinct persons of A and B that share an e-mail in the plaintext (a synthetic collision)."""
    def emails(bundle):
        ids = bundle.identifiers.filter(pc.equal(bundle.identifiers["kind"], "email"))
        out = collections.defaultdict(set)
        for o, v in zip(ids["owner_id"].to_pylist(), ids["value"].to_pylist()):
            out[v.casefold()].add(o)
        return out
    ea, eb = emails(a), emails(b)
    return {(x, y) for v in ea.keys() & eb.keys() for x in ea[v] for y in eb[v]}


def test_two_fius_match_every_truly_shared_subject_by_exact_keys(world, b_export):
    a, b, truth = world
    hits = share.match(b_export, a, KEY)
    strong = _party_pairs(hits, b_export, {"identifier", "name_and_birth_date"})
    assert truth["persons_exact"] and truth["persons_exact"] <= strong
    explained = truth["persons_exact"] | truth["persons_typo"] | _shared_identifier_pairs(a, b)
    assert strong <= explained
    # accounts A sees only as counterparties are found through B's holders
    b_ids = set(b_export.refs["subject_id"].to_pylist())
    acct_hits = set(hits.filter(pc.equal(hits["subject_kind"], "account"))["subject_id"].to_pylist())
    assert acct_hits and acct_hits <= truth["accounts"]
    assert not b_ids & set(hits["subject_id"].to_pylist())  # nothing of B's ids reaches A's hits


def test_two_fius_clk_finds_typo_names_at_high_precision(world, b_export):
    a, b, truth = world
    hits = share.match(b_export, a, KEY)
    fuzzy = _party_pairs(hits, b_export, kind="clk")
    recall = len(fuzzy & truth["persons_typo"]) / len(truth["persons_typo"])
    precision = len(fuzzy & (truth["persons_typo"] | truth["persons_exact"])) / len(fuzzy)
    assert len(truth["persons_typo"]) >= 10
    assert recall >= 0.90 and precision >= 0.95
    plain = share.export_keys(b, own_subjects(b), KEY)
    exact_only = _party_pairs(share.match(plain, a, KEY), plain)
    # without CLKs the typo'd names are mostly missed: the CLK is what finds them
    assert len(exact_only & truth["persons_typo"]) / len(truth["persons_typo"]) < 0.9


def test_hits_become_alerts_that_name_their_source(world, b_export):
    a, _, _ = world
    hits = share.match(b_export, a, KEY)
    alerts = share.hits_to_alerts(hits, "FIU-B", export_name="fiu_b_keys.parquet")
    assert alerts.num_rows == hits.num_rows and alerts.schema.equals(fm.schema.SCHEMAS["alerts"], check_metadata=False)
    first = alerts.to_pylist()[0]
    assert "FIU-B" in first["explanation"] and "fiu_b_keys.parquet" in first["explanation"]
    assert hits["partner_ref"][0].as_py() in first["explanation"]
    cases = fm.build_cases(alerts)
    assert set(cases["subject_id"].to_pylist()) == set(hits["subject_id"].to_pylist())


# --------------------------------------------------------------------------- attacks
def _dictionary(bundle):
    """Every value an attacker could list: all persons' name composites, e-mails, accounts of the world."""
    return {(k, v) for _, _, vals in subject_values(bundle, own_subjects(bundle)) for k, v in vals}


def test_dictionary_attack_without_the_key_recovers_nothing(world, b_export):
    a, b, _ = world
    dictionary = _dictionary(b) | _dictionary(a)
    exported = set(b_export.table["token"].to_pylist())
    unkeyed = {hashlib.sha256(f"{k}\x1f{v}".encode()).digest()[:16]: (k, v) for k, v in dictionary}
    guess_key = secrets.token_bytes(32)
    wrong = {hmac.new(guess_key, f"{k}\x1f{v}".encode(), hashlib.sha256).digest()[:16] for k, v in dictionary}
    assert len(exported & set(unkeyed)) == 0 and len(exported & wrong) == 0
    # the same dictionary reverses a naive, unkeyed design completely (the attack has teeth)
    naive = {hashlib.sha256(f"{k}\x1f{v}".encode()).digest()[:16] for _, _, vals in subject_values(b, own_subjects(b)) for k, v in vals}
    assert naive and len(naive & set(unkeyed)) / len(naive) == 1.0


def _frequency_attack(tokens_by_record, reference_values, truth_values):
    """Align token frequencies with value frequencies of a reference sample; share of records re-identified."""
    tok_rank = [t for t, _ in collections.Counter(tokens_by_record).most_common()]
    val_rank = [v for v, _ in collections.Counter(reference_values).most_common()]
    guess = dict(zip(tok_rank, val_rank))
    hit = sum(guess.get(t) == v for t, v in zip(tokens_by_record, truth_values))
    return hit / len(truth_values)


def _zipf_population(seed, n=5000):
    """Persons with Zipf(1.0)-distributed surnames and given names, uniform birth dates (reference §2.5 setup)."""
    from datetime import date, timedelta

    rng = np.random.default_rng(seed)
    syll = ["ka", "ri", "mo", "ne", "su", "ta", "lo", "vi", "da", "pe", "zu", "ho"]
    wrng = np.random.default_rng(0)  # one vocabulary for the data and the attacker's reference
    words = sorted({"".join(wrng.choice(syll, 3)) for _ in range(3000)})
    surnames, givens = list(wrng.permutation(words))[:800], list(wrng.permutation(words))[800:1100]

    def zipf(vocab):
        w = 1 / np.arange(1, len(vocab) + 1)
        return [vocab[i] for i in rng.choice(len(vocab), n, p=w / w.sum())]

    sur, giv = zipf(surnames), zipf(givens)
    dob = [date(1940, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 23_000, n)]
    parties = fm.schema.conform({"party_id": [f"P{seed}-{i}" for i in range(n)], "kind": ["person"] * n,
                                 "name": [f"{g} {s}" for g, s in zip(giv, sur)], "given_name": giv, "family_name": sur,
                                 "birth_date": dob, "nationality": ["PH"] * n, "source_ref": [f"z#{i}" for i in range(n)]}, "parties")
    return fm.Bundle(parties=parties)


def test_frequency_analysis_works_on_single_field_tokens_but_not_on_the_export():
    data, reference = _zipf_population(1), _zipf_population(2)  # the attacker holds an independent sample
    fam = [f for f in data.parties["family_name"].to_pylist()]
    single = [share.token(KEY, "surname", f) for f in fam]  # what a naive design would export
    assert _frequency_attack(single, reference.parties["family_name"].to_pylist(), fam) >= 0.2
    # the real export of the same people: composite name keys have no frequency profile to align
    exp = share.export_keys(data, own_subjects(data), KEY)
    assert set(exp.table["kind"].to_pylist()) == {"name_dob", "surname_initial_dob", "name_year_nationality"}
    for kind in ("name_dob", "surname_initial_dob", "name_year_nationality"):
        rows = [v for _, _, vals in subject_values(data, own_subjects(data)) for k, v in vals if k == kind]
        toks = [share.token(KEY, kind, v) for v in rows]
        assert set(toks) <= set(exp.table["token"].to_pylist())
        ref_rows = [v for _, _, vals in subject_values(reference, own_subjects(reference)) for k, v in vals if k == kind]
        assert _frequency_attack(toks, ref_rows, rows) <= 0.01, kind


def test_no_single_field_name_or_date_token_is_ever_exported(world, b_export):
    _, b, _ = world
    p = b.parties
    singles = set()
    for name, given, family, bd in zip(*(p[c].to_pylist() for c in ("name", "given_name", "family_name", "birth_date"))):
        fields = {x.casefold() for x in (name, given, family) if x} | ({bd.isoformat(), str(bd.year)} if bd else set())
        fields |= {fm.normalize.sorted_name_key(name)} if name else set()
        singles |= fields
    labels = set(share.KINDS) | {"surname", "given_name", "name", "birth_date", "dob"}
    forged = {share.token(KEY, k, v) for k in labels for v in singles if v}
    assert not forged & set(b_export.table["token"].to_pylist())
    assert set(b_export.table["kind"].to_pylist()) <= set(share.KINDS)
    assert not any(share.allowed_kind(k) for k in ("surname", "given_name", "birth_date", "postcode", "name"))


def test_export_refuses_a_file_with_single_field_kinds(b_export, tmp_path):
    t = b_export.table
    bad = t.set_column(1, "kind", pa.array(["surname"] + t["kind"].to_pylist()[1:], pa.string()))
    share.MatchExport(bad, b_export.header).write(tmp_path / "bad.parquet")
    with pytest.raises(share.ShareError, match=r"bad.parquet: holds key kind\(s\) 'surname'.*refused"):
        share.read_export(tmp_path / "bad.parquet", KEY)


def test_export_bytes_hold_no_plaintext(world, tmp_path):
    _, b, _ = world
    exp = share.export_keys(b, own_subjects(b), KEY, clk=True)
    data = exp.write(tmp_path / "k.parquet").read_bytes()
    values = {v for _, _, vals in subject_values(b, own_subjects(b)) for _, v in vals}
    plain = set(b.parties["name"].to_pylist()) | set(b.accounts["account_number"].to_pylist()) | values
    plain |= {run for v in plain if v for run in re.findall(r"\d{6,}", v)}
    assert not [v for v in plain if v and len(v) >= 4 and v.encode() in data]
    assert KEY.secret not in data and KEY.secret.hex().encode() not in data  # key material stays outside
    assert KEY.key_id.encode() in data  # only its public id is named


# --------------------------------------------------------------------------- errors
def test_wrong_key_wrong_period_and_tampering_are_one_line_errors(b_export, tmp_path):
    path = b_export.write(tmp_path / "keys.parquet")
    cases = {
        "wrong key": (share.PairKey(KEY.partners, KEY.period, secrets.token_bytes(32)), "made with key id .*wrong key"),
        "wrong period": (share.PairKey(KEY.partners, "2027-Q1", KEY.secret), "made for period '2026-Q4'.*'2027-Q1'"),
    }
    for key, pattern in cases.values():
        with pytest.raises(share.ShareError, match=pattern) as exc:
            share.read_export(path, key)
        assert "\n" not in str(exc.value) and str(exc.value).startswith(str(path))
    t = pq.read_table(path)
    toks = t["token"].to_pylist()
    toks[0] = bytes(16)
    pq.write_table(t.set_column(2, "token", pa.array(toks, pa.binary())), tmp_path / "tampered.parquet")
    with pytest.raises(share.ShareError, match="tampered.parquet: integrity check failed"):
        share.read_export(tmp_path / "tampered.parquet", KEY)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = b"\0" * 64
    (tmp_path / "broken.parquet").write_bytes(bytes(raw))
    with pytest.raises(share.ShareError) as exc:
        share.read_export(tmp_path / "broken.parquet", KEY)
    assert "broken.parquet" in str(exc.value) and "\n" not in str(exc.value)


def test_cli_errors_are_one_line_with_exit_code_2(b_export, tmp_path, sample_data):
    path = b_export.write(tmp_path / "keys.parquet")
    other = share.write_key(share.new_key(["FIU-A", "FIU-B"], "2026-Q4"), tmp_path / "other.json")
    r = CliRunner().invoke(main, ["share", "match", str(path), str(sample_data / "goaml"), "--key", str(other)])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and "wrong key" in r.output and "Traceback" not in r.output


# --------------------------------------------------------------------------- membership filter
def test_membership_filter_parameters_and_false_positive_rate(world, tmp_path):
    _, b, _ = world
    subjects = own_subjects(b)
    f = share.export_filter(b, subjects, KEY, fpr=1e-3)
    n, m, k = f.header["n"], f.header["m"], f.header["k"]
    assert m >= n * 14.3 and k == 10  # -ln(1e-3)/ln(2)^2 = 14.38 bits per token, k = 10
    back = share.read_filter(f.write(tmp_path / "f.parquet"), KEY)
    members = [t for _, _, vals in subject_values(b, subjects) for _, t in share._export._tokens(KEY, vals)]
    assert all(t in back for t in members)
    rng = np.random.default_rng(0)
    trials = 100_000
    fp = sum(rng.bytes(16) in back for _ in range(trials))
    assert fp / trials <= 2e-3
    default = share.export_filter(b, subjects[:50], KEY)
    assert default.header["k"] == 20 and 28 <= default.header["m"] / default.header["n"] <= 30
    a_hits = share.filter_hits(back, b, KEY, subjects=subjects[:30])
    assert a_hits.num_rows == sum(1 for _, _, v in subject_values(b, subjects[:30]) if v)


# --------------------------------------------------------------------------- normalisation invariance
@settings(max_examples=60, deadline=None)
@given(
    given_name=st.sampled_from(["Marta", "Jose", "Ana Maria", "Chen"]),
    family=st.sampled_from(["Ivanova", "Muller", "Okafor", "Nakamura"]),
    case=st.sampled_from([str.upper, str.lower, str.title]),
    comma=st.booleans(),
    iban_spacing=st.integers(1, 6),
)
def test_tokens_do_not_depend_on_how_values_are_written(given_name, family, case, comma, iban_spacing):
    from datetime import date

    name1 = f"{given_name} {family}"
    name2 = case(f"{family}, {given_name}" if comma else f"{given_name} {family}")
    iban = "GB82WEST12345698765432"
    spaced = " ".join(iban[i:i + iban_spacing] for i in range(0, len(iban), iban_spacing)).lower()

    def bundle(name, iban_text, phone, email):
        return fm.Bundle(
            parties=fm.schema.conform([{"party_id": "P", "kind": "person", "name": name, "birth_date": date(1990, 4, 1),
                                        "nationality": "AE", "source_ref": "x#1"}], "parties"),
            accounts=fm.schema.conform([{"account_id": "A", "iban": iban_text, "source_ref": "x#2"}], "accounts"),
            party_accounts=fm.schema.conform([{"party_id": "P", "account_id": "A", "role": "holder", "source_ref": "x#3"}], "party_accounts"),
            identifiers=fm.schema.conform([{"owner_kind": "party", "owner_id": "P", "kind": "phone", "value": phone, "source_ref": "x#4"},
                                           {"owner_kind": "party", "owner_id": "P", "kind": "email", "value": email, "source_ref": "x#5"}],
                                          "identifiers"),
        )
    one = subject_values(bundle(name1, iban, "+971 50 123 4567", "m.x@example.org"), ["P"])[0][2]
    two = subject_values(bundle(name2, spaced, "00971501234567", " M.X@Example.ORG "), ["P"])[0][2]
    assert one == two and {k for k, _ in one} >= {"iban", "phone", "email", "name_dob", "surname_initial_dob"}


# --------------------------------------------------------------------------- disclosure packages
def test_package_round_trip_on_bundled_goaml(goaml, tmp_path):
    alerts = fm.score(goaml)
    subject = "DEXB/1001002001"
    path = share.disclosure_package(goaml, [subject], tmp_path / "case.fmpkg", sender="FIU-AE", recipient="FIU-PH",
                                    purpose="Onward payments of a suspected recruiter", alerts=alerts, redaction="full")
    pkg = share.open_package(path)
    m = pkg.manifest
    assert m["purpose"].startswith("Onward") and m["redaction"] == "full" and m["caveats"] == list(share.DEFAULT_CAVEATS)
    assert {i["source_file"] for i in m["inputs"]} == set(goaml.load_log["source_file"].to_pylist())
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert pkg.evidence and pkg.alerts.num_rows >= 1 and pkg.trace_hops is not None
    back = fm.read(path)
    back.reconcile()
    t = goaml.transactions
    sent = t.filter(pc.or_(pc.equal(t["from_account"], subject), pc.equal(t["to_account"], subject)))
    got = back.transactions.filter(pc.or_(pc.equal(back.transactions["from_account"], subject),
                                          pc.equal(back.transactions["to_account"], subject)))
    assert got.num_rows == sent.num_rows and pc.sum(got["amount"]).as_py() == pc.sum(sent["amount"]).as_py()
    assert all(r.startswith("case.fmpkg#FIU-AE:") for r in back.transactions["source_ref"].to_pylist())
    rep = back.reports.filter(pc.equal(back.reports["format"], "fm_package")).to_pylist()[0]
    assert rep["reporting_entity"] == "FIU-AE" and rep["reason"].startswith("Onward")


def test_redaction_levels(goaml, tmp_path):
    subject = "DEXB/1001002001"
    kw = dict(sender="FIU-AE", recipient="FIU-PH", purpose="p")
    ids = share.open_package(share.disclosure_package(goaml, [subject], tmp_path / "i.fmpkg", redaction="identifiers", **kw))
    txs = share.open_package(share.disclosure_package(goaml, [subject], tmp_path / "t.fmpkg", redaction="transactions", **kw))
    full = share.open_package(share.disclosure_package(goaml, [subject], tmp_path / "f.fmpkg", redaction="full", **kw))
    assert ids.tables["transactions"].num_rows == 0 and ids.trace_hops is None
    assert txs.tables["transactions"].num_rows > 0
    assert txs.tables["transactions"]["counterparty_name"].null_count == txs.tables["transactions"].num_rows
    assert full.tables["parties"].num_rows >= txs.tables["parties"].num_rows
    with pytest.raises(share.ShareError, match="redaction 'all'"):
        share.disclosure_package(goaml, [subject], tmp_path / "x.fmpkg", redaction="all", **kw)
    with pytest.raises(share.ShareError, match="neither a party_id nor an account_id"):
        share.disclosure_package(goaml, ["nobody"], tmp_path / "x.fmpkg", **kw)


def test_tampered_package_is_refused_by_fm_read(goaml, tmp_path):
    path = share.disclosure_package(goaml, ["DEXB/1001002001"], tmp_path / "case.fmpkg", sender="A", recipient="B", purpose="p")
    out = tmp_path / "tampered.fmpkg"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "tables/transactions.parquet":
                t = pq.read_table(pa.BufferReader(data))
                amounts = t["amount"].to_pylist()
                amounts[0] = amounts[0] + Decimal("1000.00")
                sink = pa.BufferOutputStream()
                pq.write_table(t.set_column(t.column_names.index("amount"), "amount", pa.array(amounts, t["amount"].type)), sink)
                data = sink.getvalue().to_pybytes()
            zout.writestr(info, data)
    with pytest.raises(fm.InputError, match="tampered.fmpkg: tables/transactions.parquet does not match its SHA-256") as exc:
        fm.read(out)
    assert "\n" not in str(exc.value)


def test_trace_continues_into_the_partners_data_after_importing_its_package(world, tmp_path):
    a, b, truth = world
    t = a.transactions
    cross = [(f, to) for f, to in zip(t["from_account"].to_pylist(), t["to_account"].to_pylist())
             if f in truth["a_accounts"] and to in truth["b_accounts"]]
    source = collections.Counter(f for f, _ in cross).most_common(1)[0][0]
    received = sorted({to for f, to in cross if f == source})
    before = trace.forward(a, source, method="libr")
    pkg = share.disclosure_package(b, received, tmp_path / "fiu_b.fmpkg", sender="FIU-B", recipient="FIU-A",
                                   purpose="Reply: onward payments of accounts paid from your subject", kind="reply")
    both = fm.Bundle.concat([a, fm.read(pkg)])
    both.reconcile()
    after = trace.forward(both, source, method="libr")
    assert after.check_conservation()
    origins = share.trail_origins(after, both)
    from_b = origins.filter(pc.match_substring(origins["origin"], "partner FIU-B"))
    assert from_b.num_rows > 0 and after.hops.num_rows > before.hops.num_rows
    # hops between two of B's accounts: invisible to A before the package
    inside_b = [r for r in from_b.to_pylist() if r["from_account"] in truth["b_accounts"] and r["to_account"] in truth["b_accounts"]]
    assert inside_b and not set(r["txn_id"] for r in inside_b) & set(a.transactions["txn_id"].to_pylist())
    page = share.combined_evidence_pack(both, after)
    assert "partner FIU-B: package fiu_b.fmpkg" in page and "own data: A-synthetic" in page


def test_package_with_alerts_gives_combined_evidence_pack(goaml, tmp_path):
    alerts = fm.score(goaml)
    subject = "DEXB/1001002001"
    pkg = share.disclosure_package(goaml, [subject], tmp_path / "p.fmpkg", sender="FIU-AE", recipient="FIU-PH", purpose="p")
    both = fm.read([fm.sample_data_path() / "goaml", pkg])
    both.reconcile()
    r = trace.forward(both, subject, method="libr")
    page = share.combined_evidence_pack(both, r, alerts=alerts, subject=subject)
    assert "Evidence pack" in page and "Money trail across the border" in page


# --------------------------------------------------------------------------- CLI flow and logs
def test_cli_cooperation_flow(tmp_path, sample_data, caplog):
    run = CliRunner()
    goaml_dir = str(sample_data / "goaml")
    caplog.set_level(logging.DEBUG)
    r = run.invoke(main, ["share", "keygen", "--partner", "FIU-A", "--partner", "FIU-B", "--period", "2026-Q4", "--out", str(tmp_path / "k.json")])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["share", "export", goaml_dir, "--key", str(tmp_path / "k.json"), "--out", str(tmp_path / "b.parquet"), "--all", "--clk"])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["share", "match", str(tmp_path / "b.parquet"), goaml_dir, "--key", str(tmp_path / "k.json"), "--me", "FIU-A",
                          "--out", str(tmp_path / "hits.csv"), "--alerts-out", str(tmp_path / "xb.parquet")])
    assert r.exit_code == 0, r.output
    hits = pq.read_table(tmp_path / "hits.parquet")
    ref = hits["partner_ref"][0].as_py()
    r = run.invoke(main, ["share", "lookup", str(tmp_path / "b.refs.parquet"), ref])
    assert r.exit_code == 0 and hits["subject_id"][0].as_py() in r.output or r.output.split("\t")[0] == ref
    assert pq.read_table(tmp_path / "xb.parquet")["rule_id"].to_pylist()[0] == "XB-01"
    r = run.invoke(main, ["share", "package", goaml_dir, "--subject", "DEXB/1001002001", "--from", "FIU-A", "--to", "FIU-B",
                          "--purpose", "recruiter", "--out", str(tmp_path / "a.fmpkg")])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["share", "show", str(tmp_path / "a.fmpkg")])
    assert r.exit_code == 0 and json.loads(r.output)["recipient"] == "FIU-B"
    r = run.invoke(main, ["score", str(sample_data / "amlsim" / "transactions.csv"), str(tmp_path / "a.fmpkg"), "--out", str(tmp_path / "run"), "-q"])
    assert r.exit_code == 0, r.output
    names = [n for n in fm.read(sample_data / "goaml").parties["name"].to_pylist() if n]
    logged = caplog.text + r.output
    assert names and not [n for n in names if n in logged]


def test_bundle_concat_merges_transactions_seen_in_two_sources(goaml):
    twice = fm.Bundle.concat([goaml, goaml])
    assert twice.transactions.num_rows == goaml.transactions.num_rows
    assert pc.sum(twice.transactions["amount"]).as_py() == pc.sum(goaml.transactions["amount"]).as_py()
    assert twice.transactions["quality_flags"].to_pylist() == goaml.transactions["quality_flags"].to_pylist()


def test_resolution_continues_across_the_border(world, tmp_path):
    a, b, truth = world
    pairs = sorted(truth["persons_exact"])[:10]
    pkg = share.disclosure_package(b, [p for _, p in pairs], tmp_path / "ids.fmpkg", sender="FIU-B", recipient="FIU-A",
                                   purpose="Identify the persons behind the hits", redaction="identifiers")
    both = fm.Bundle.concat([a, fm.read(pkg)])
    both.reconcile()
    clusters = fm.resolve(both).cluster_map()
    assert all(clusters[x] == clusters[y] for x, y in pairs)
