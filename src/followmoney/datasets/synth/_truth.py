"""The ground-truth table: :data:`TRUTH_SCHEMA` and its rows, pattern by pattern."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.datasets.synth._catalogue import TYPOLOGIES
from followmoney.datasets.synth._columns import _take_str

#: Schema of the ground-truth table returned by :func:`make_transactions`.
TRUTH_SCHEMA = pa.schema(
    [
        pa.field("typology", pa.string(), nullable=False, metadata={"doc": "Catalogue id of the injected typology, e.g. ML-01, HT-09 (= the rule id)."}),
        pa.field("typology_name", pa.string(), metadata={"doc": "Readable name, e.g. structuring."}),
        pa.field("pattern_id", pa.string(), metadata={"doc": "Injected pattern, e.g. ML-01#01."}),
        pa.field("account_id", pa.string(), metadata={"doc": "Account of the pattern (account rows); null on transaction rows."}),
        pa.field("party_id", pa.string(), metadata={"doc": "Party of the pattern: the account's holder, or a party without an account (conductor, worker)."}),
        pa.field("role", pa.string(), metadata={"doc": "subject | member | controller | victim | conductor | counterparty on account rows; transaction on transaction rows."}),
        pa.field("is_subject", pa.bool_(), metadata={"doc": "A rule for this typology should alert on this account/party."}),
        pa.field("txn_id", pa.string(), metadata={"doc": "transactions.txn_id of the pattern (transaction rows); null on account rows."}),
        pa.field("timestamp", schema.TIMESTAMP, metadata={"doc": "Time of the transaction (transaction rows), UTC."}),
    ]
)


def _truth(w, account_ids, party_ids, txn_ids, t_us, pats) -> pa.Table:
    """Per pattern: its account / party rows, then its transactions in time order."""
    names = np.array([TYPOLOGIES[pp.typology].name for pp in w.patterns], dtype=object)
    typs = np.array([pp.typology for pp in w.patterns], dtype=object)
    pids = np.array([pp.pattern_id for pp in w.patterns], dtype=object)
    pat, acc, party, role, subj = [], [], [], [], []
    for i, pp in enumerate(w.patterns):
        seen = set()
        for a, q, r, s_ in pp.members:
            if (a, q, r) in seen:
                continue
            seen.add((a, q, r))
            pat.append(i)
            acc.append(a)
            party.append(q)
            role.append(r)
            subj.append(s_)
    pat = np.array(pat, np.int64)
    rows = np.flatnonzero(pats >= 0)
    rows = rows[np.argsort(pats[rows], kind="stable")]  # rows are in time order already
    tp = pats[rows]
    n_a, n_t = len(pat), len(rows)
    order_pat = np.r_[pat, tp]
    order = np.lexsort((np.r_[np.zeros(n_a), np.ones(n_t)], order_pat), axis=0) if n_a + n_t else np.zeros(0, np.int64)
    allp = order_pat[order]
    is_txn = np.r_[np.zeros(n_a, bool), np.ones(n_t, bool)][order]
    acc_col = _take_str(account_ids, np.r_[np.array(acc, np.int64), np.full(n_t, -1)][order])
    party_col = _take_str(party_ids, np.r_[np.array(party, np.int64), np.full(n_t, -1)][order])
    role_vals = ["transaction"] + sorted(set(role))
    role_codes = np.r_[np.array([role_vals.index(r) for r in role], np.int64), np.zeros(n_t, np.int64)][order]
    subj_col = pa.array(np.r_[np.array(subj, bool), np.zeros(n_t, bool)][order], mask=is_txn)
    txn_pos = np.r_[np.full(n_a, -1), np.arange(n_t)][order]
    tid = pc.take(txn_ids, pa.array(rows[np.maximum(txn_pos, 0)] if n_t else np.zeros(len(order), np.int64)))
    tid = pc.if_else(pa.array(is_txn), tid, pa.scalar(None, pa.string())) if len(order) else pa.array([], pa.string())
    ts = pa.array(np.where(is_txn, t_us[rows[np.maximum(txn_pos, 0)]] if n_t else 0, 0), mask=~is_txn)
    meta = {"n_accounts": str(w.n), "jurisdiction": w.jcode, "start": w.start.isoformat(), "n_days": str(w.n_days),
            "generator": "followmoney.datasets.synth.make_transactions", "skipped": ",".join(w.skipped)}  # fmt: skip
    return pa.table(
        {
            "typology": _take_str(typs, allp),
            "typology_name": _take_str(names, allp),
            "pattern_id": _take_str(pids, allp),
            "account_id": acc_col,
            "party_id": party_col,
            "role": _take_str(role_vals, role_codes),
            "is_subject": subj_col,
            "txn_id": tid,
            "timestamp": ts.cast(pa.int64()).cast(schema.TIMESTAMP),
        },
        schema=TRUTH_SCHEMA.with_metadata(meta),
    )
