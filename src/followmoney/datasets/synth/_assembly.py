"""The world's buffers -> canonical Arrow tables: a :class:`~followmoney.Bundle` and its truth.

Ids, UTC timestamps from local clock times, exact money from integer cents, places,
the master tables (accounts, parties, holder links, identifiers), the report and a
load log that reconciles.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.datasets.synth._columns import _const, _hex_ids, _mix64, _take_str
from followmoney.datasets.synth._reference import (
    _CH,
    _EMPLOYER,
    _FAMILY,
    _FOREIGN,
    _GIVEN,
    _GOV,
    _MCCS,
    _MERCHANT,
    _N_REGIONS,
    _PERSON,
    _PHONE_CC,
    _PROPERTY,
    _STREETS,
    _UTILITY,
)
from followmoney.datasets.synth._truth import _truth
from followmoney.datasets.synth._world import _World

_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000

#: Extra (non-canonical) columns written by :func:`make_transactions`, per table.
EXTRA_COLUMNS = {
    "transactions": ("location_id", "location_region", "conductor_party", "is_payroll"),
    "accounts": ("home_region",),
}


def _assemble(w: _World) -> tuple[Bundle, pa.Table]:
    c = w.tx.columns()
    n_parties = w.n + len(w.extra_parties)
    # background activity only while both accounts are open (patterns are built consistent)
    day = c["day"] + np.floor_divide(c["hour"], 24).astype(np.int64)
    hour = np.mod(c["hour"], 24)
    bg = c["pattern"] < 0
    od = w.opened_day
    src_open = (c["src"] < 0) | (day >= od[np.maximum(c["src"], 0)])
    dst_open = (c["dst"] < 0) | (day >= od[np.maximum(c["dst"], 0)])
    ok = ~bg | (src_open & dst_open)
    ok &= ~bg | (day < w.n_days)
    c = {k: v[ok] for k, v in c.items()}
    day, hour = day[ok], hour[ok]
    offset = w.offset[day + 5]
    t_us = (w.epoch_day + day) * _DAY_US + np.round(hour * _HOUR_US).astype(np.int64) - offset * 60_000_000
    t_us = (t_us // 1_000_000) * 1_000_000  # whole seconds
    order = np.lexsort((w.rng.permutation(len(t_us)), t_us))
    c = {k: v[order] for k, v in c.items()}
    t_us, offset = t_us[order], offset[order]
    n = len(t_us)
    src, dst = c["src"], c["dst"]

    # ---- ids
    acct_no = _unique_numbers(w.rng, w.n, 10)
    account_ids = np.array([f"synth/{a}" for a in acct_no], dtype=object)
    party_ids = np.array([f"synth/P{w.tag[:6]}{i:07d}" for i in range(n_parties)], dtype=object)
    source_file = f"synth-{w.tag}"
    report_id = "R" + hashlib.blake2b(source_file.encode(), digest_size=8).hexdigest()
    rows = pa.array(np.arange(1, n + 1)).cast(pa.string())
    refs = pc.binary_join_element_wise(_const(source_file + ":", n), rows, "")
    # txn_id: hash of the source name and the row (SplitMix64 of a BLAKE2b seed xor the row number)
    seed = np.uint64(int.from_bytes(hashlib.blake2b(source_file.encode(), digest_size=8).digest(), "big"))
    txn_ids = _hex_ids("T", _mix64(np.arange(1, n + 1, dtype=np.uint64) ^ seed))

    # ---- parties
    fparty = np.where(c["fparty"] == -2, np.where(src >= 0, src, -1), c["fparty"])
    tparty = np.where(c["tparty"] == -2, np.where(dst >= 0, dst, -1), c["tparty"])
    chan = c["channel"]
    names = np.r_[w.names, np.array([nm for nm, _ in w.extra_parties], dtype=object)]
    # counterparty name as written: the beneficiary on card / wire / remittance payments
    named = np.isin(chan, [_CH["card"], _CH["wire"], _CH["remittance"]]) & (dst >= 0)
    cp_name = np.where(named, dst, -1)
    mcc = np.where((chan == _CH["card"]) & (dst >= 0), w.merchant_mcc[np.maximum(dst, 0)], -1)
    mcc_str = np.array([m[0] for m in _MCCS], dtype=object)
    country = w.country
    ccodes, cvalues = np.unique(np.r_[country, [w.home]].astype(str), return_inverse=True)
    home_code = cvalues[-1]
    c_from = np.where(src >= 0, cvalues[np.maximum(src, 0)], home_code)
    c_to = np.where(dst >= 0, cvalues[np.maximum(dst, 0)], home_code)
    # places: ATMs, branches, merchants' card terminals
    places, place_region = _places(w)
    loc = c["loc"]
    region_of = np.where(loc >= 0, place_region[np.maximum(loc, 0)], -1)
    domestic_src = (src >= 0) & (country[np.maximum(src, 0)] == w.home)
    region_of = np.where((region_of < 0) & domestic_src, w.region[np.maximum(src, 0)], region_of)
    region_names = np.array([_region_name(w, r) for r in range(_N_REGIONS)], dtype=object)
    pats = c["pattern"]
    pattern_ids = np.array([pp.pattern_id for pp in w.patterns], dtype=object)
    pattern_typ = np.array([pp.typology for pp in w.patterns], dtype=object)
    cents = c["cents"]
    money = schema.from_cents(np.asarray(cents, dtype=np.int64) * 10)  # hundredths -> thousandths
    cur = _const(w.currency, n)
    tx = {
        "txn_id": txn_ids,
        "report_id": _const(report_id, n),
        "source": _const("synth", n),
        "source_ref": refs,
        "source_txn_ref": rows,
        "timestamp": pa.array(t_us, pa.int64()).cast(schema.TIMESTAMP),
        "tz_offset_minutes": pa.array(offset.astype(np.int16), pa.int16()),
        "amount": money,
        "currency": cur,
        "amount_local": money,
        "currency_local": cur,
        "from_account": _take_str(account_ids, src),
        "to_account": _take_str(account_ids, dst),
        "from_party": _take_str(party_ids, fparty),
        "to_party": _take_str(party_ids, tparty),
        "channel": _take_str(np.array(schema.CHANNELS, dtype=object), chan),
        "description": w.desc.take(c["desc"]),
        "counterparty_name": _take_str(names, cp_name),
        "merchant_category": _take_str(mcc_str, mcc),
        "country_from": _take_str(ccodes, c_from),
        "country_to": _take_str(ccodes, c_to),
        "quality_flags": _empty_lists(n),
        "is_laundering": pa.array(pats >= 0),
        "typology": _take_str(pattern_typ, pats),
        "label_alert_id": _take_str(pattern_ids, pats),
        "location_id": _take_str(places, loc),
        "location_region": _take_str(region_names, region_of),
        "conductor_party": _take_str(party_ids, c["conductor"]),
        "is_payroll": pa.array(c["payroll"]),
    }
    transactions = schema.conform(pa.table(tx), "transactions")

    # ---- accounts, parties, links, identifiers
    accounts, parties, links, idents = _master_tables(w, account_ids, acct_no, party_ids, names, source_file, report_id)
    reports = schema.conform(
        [{"report_id": report_id, "format": "synth", "report_code": "DATASET", "reporting_entity": "synth",
          "submitted_at": datetime.combine(w.start + timedelta(days=w.n_days), datetime.min.time(), timezone.utc),
          "currency_local": w.currency, "reason": "synthetic data with injected typologies (followmoney.datasets.synth)",
          "source_file": source_file}],  # fmt: skip
        "reports",
    )
    tables = {"transactions": transactions, "accounts": accounts, "parties": parties, "party_accounts": links,
              "identifiers": idents, "reports": reports}  # fmt: skip
    log = [{"source_file": source_file, "source": "synth", "table": k, "records_read": t.num_rows,
            "rows_written": t.num_rows, "merged": 0, "rejected": 0} for k, t in tables.items()]  # fmt: skip
    bundle = Bundle(**tables, load_log=pa.Table.from_pylist(log, schema=schema.SCHEMAS["load_log"]))
    truth = _truth(w, account_ids, party_ids, txn_ids, t_us, pats)
    return bundle, truth


def _empty_lists(n: int) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()))


def _unique_numbers(rng, k: int, digits: int) -> list[str]:
    vals = np.unique(rng.integers(0, 10**digits, 2 * k + 16))
    vals = rng.permutation(vals)[:k]
    return [f"{v:0{digits}d}" for v in vals]


def _region_name(w: _World, r: int) -> str:
    return f"{w.home}-R{r + 1:02d}"


def _places(w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Place ids and regions: ATMs (6 per region), branches (3 per region), card terminals (one per account)."""
    ids, regions = [], []
    for r in range(_N_REGIONS):
        for k in range(6):
            ids.append(f"ATM-{_region_name(w, r)}-{k + 1:02d}")
            regions.append(r)
    for r in range(_N_REGIONS):
        for k in range(3):
            ids.append(f"BR-{_region_name(w, r)}-{k + 1:02d}")
            regions.append(r)
    for a in range(w.n):
        ids.append(f"POS-{_region_name(w, int(w.region[a]))}-{a:06d}")
        regions.append(int(w.region[a]))
    return np.array(ids, dtype=object), np.array(regions, np.int64)


def _master_tables(w, account_ids, acct_no, party_ids, names, source_file, report_id):
    n = w.n
    opened = (w.epoch_day + w.opened_day) * _DAY_US
    foreign = w.country != w.home
    banks = np.array([f"SYNBANK{b + 1}" for b in range(5)], dtype=object)
    institution = np.where(foreign, np.array([f"FOREIGN BANK {c}" for c in w.country], dtype=object), banks[w.bank])
    region_names = np.array([_region_name(w, r) for r in range(_N_REGIONS)], dtype=object)
    refs = np.array([f"{source_file}#accounts/{i + 1}" for i in range(n)], dtype=object)
    accounts = schema.conform(
        pa.table({
            "account_id": pa.array(account_ids, pa.string()),
            "institution": pa.array(institution, pa.string()),
            "account_number": pa.array(acct_no, pa.string()),
            "name": pa.array(names[:n], pa.string()),
            "currency": pa.array(np.where(foreign, None, w.currency), pa.string()),
            "country": pa.array(w.country, pa.string()),
            "opened": pa.array(opened, pa.int64()).cast(schema.TIMESTAMP),
            "status": pa.array(np.full(n, "active", dtype=object), pa.string()),
            "source_ref": pa.array(refs, pa.string()),
            "home_region": pa.array(np.where(foreign, None, region_names[w.region]), pa.string()),
        }),
        "accounts",
    )  # fmt: skip
    person = w.kind == _PERSON
    kind = np.where(person | (w.kind == _FOREIGN), "person", "entity")
    n_extra = len(w.extra_parties)
    occupation = np.array(
        ["customer" if k == _PERSON else {_EMPLOYER: "employer", _MERCHANT: "merchant", _UTILITY: "utility",
                                          _PROPERTY: "property management", _GOV: "government",
                                          _FOREIGN: None}[k] for k in w.kind],
        dtype=object,
    )  # fmt: skip
    birth = np.where(person, w.rng.integers(-18_000, 2_000, n), w.rng.integers(-15_000, 15_000, n))  # days since 1970
    extra_birth = w.rng.integers(-18_000, 2_000, n_extra)
    given = np.array([_GIVEN[g] for g in w.given], dtype=object)
    family = np.array([_FAMILY[f] for f in w.family], dtype=object)
    names_person = np.array([f"{g} {f}" for g, f in zip(given, family)], dtype=object)
    pname = np.where(person, names_person, names[:n])
    ext_given = [nm.split(" ", 1)[0] for nm, _ in w.extra_parties]
    ext_family = [nm.split(" ", 1)[1] for nm, _ in w.extra_parties]
    nationality = w.country.copy()
    nationality[list(w.nationality)] = list(w.nationality.values())
    parties = schema.conform(
        pa.table({
            "party_id": pa.array(party_ids, pa.string()),
            "kind": pa.array(np.r_[kind, np.full(n_extra, "person")].astype(object), pa.string()),
            "name": pa.array(np.r_[pname, np.array([nm for nm, _ in w.extra_parties], dtype=object)], pa.string()),
            "given_name": pa.array(np.r_[np.where(person, given, None), ext_given].astype(object), pa.string()),
            "family_name": pa.array(np.r_[np.where(person, family, None), ext_family].astype(object), pa.string()),
            "birth_date": pa.array(np.r_[birth, extra_birth].astype(np.int32), pa.int32()).cast(pa.date32()),
            "nationality": pa.array(np.r_[nationality, np.full(n_extra, w.home)].astype(object), pa.string()),
            "country": pa.array(np.r_[w.country, np.full(n_extra, w.home)].astype(object), pa.string()),
            "occupation": pa.array(np.r_[occupation, np.full(n_extra, None)].astype(object), pa.string()),
            "report_id": pa.array(np.full(n + n_extra, report_id, dtype=object), pa.string()),
            "source_ref": pa.array([f"{source_file}#parties/{i + 1}" for i in range(n + n_extra)], pa.string()),
        }),
        "parties",
    )  # fmt: skip
    # the name on a person's account is the holder's name
    links = schema.conform(
        pa.table({
            "party_id": pa.array(party_ids[:n], pa.string()),
            "account_id": pa.array(account_ids, pa.string()),
            "role": pa.array(np.full(n, "holder", dtype=object), pa.string()),
            "source_ref": pa.array(refs, pa.string()),
        }),
        "party_accounts",
    )  # fmt: skip
    # identifiers of domestic persons: phone (possibly someone else's), address, e-mail
    pp = np.flatnonzero(person)
    cc = _PHONE_CC.get(w.home, "999")
    phone_val = np.array([f"+{cc}{w.phone[w.phone_of[i]]:09d}" for i in pp], dtype=object)
    phone_raw = np.array([f"+{cc} {v[len(cc) + 1:len(cc) + 4]} {v[len(cc) + 4:]}" for v in phone_val], dtype=object)
    ak = w.address_key[pp]
    reg = region_names[w.region[ak]]
    addr_raw = np.array([f"{w.addr_no[k]} {_STREETS[w.street[k]]} Street, {r}" for k, r in zip(ak, reg)], dtype=object)
    addr_val = np.array([s.lower().replace(",", "") for s in addr_raw], dtype=object)
    em = pp[w.has_email[pp]]
    email = np.array([f"{_GIVEN[w.given[i]].lower()}.{_FAMILY[w.family[i]].lower()}{i % 97}@example.com" for i in em],
                     dtype=object)  # fmt: skip
    owner = np.r_[party_ids[pp], party_ids[pp], party_ids[em]]
    kinds = np.r_[np.full(len(pp), "phone"), np.full(len(pp), "address"), np.full(len(em), "email")].astype(object)
    vals = np.r_[phone_val, addr_val, email]
    raws = np.r_[phone_raw, addr_raw, email]
    irefs = np.array([f"{source_file}#identifiers/{i + 1}" for i in range(len(owner))], dtype=object)
    idents = schema.conform(
        pa.table({
            "owner_kind": pa.array(np.full(len(owner), "party", dtype=object), pa.string()),
            "owner_id": pa.array(owner, pa.string()),
            "kind": pa.array(kinds, pa.string()),
            "value": pa.array(vals, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "source_ref": pa.array(irefs, pa.string()),
        }),
        "identifiers",
    )  # fmt: skip
    return accounts, parties, links, idents
