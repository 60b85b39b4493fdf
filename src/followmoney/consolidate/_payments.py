"""The same payment seen in several sources becomes one canonical transaction.

One payment reaches an FIU several times: as a payment message (pacs.008, MT103), as
a debit in the payer's statement, as a credit in the payee's, and in an STR. Summed as
they come, the money counts two to four times. :func:`consolidate_payments` joins rows
of **different files** when one of these says they are one payment, in this order:

``uetr``
    The SWIFT gpi UETR (unique per payment by construction).
``end_to_end_id``
    The end-to-end id with the currency and the exact amount, booked or instructed (the
    id is the debtor's own reference: the amount guards against two debtors' equal ids).
``bank_reference``
    The source's own transaction reference (camt ``AcctSvcrRef``, goAML
    ``transactionnumber``) with the same debtor and creditor accounts, currency and amount.
``debtor_creditor_amount_date``
    The same debtor and creditor account (canonical ids, both known), currency and exact
    amount, and value dates (else booking dates, else the timestamp's UTC date) at most
    ``date_tolerance_days`` apart.
``account_amount_date``
    One row knows only one side (a statement line that does not name the counterparty's
    account): the same account on that side, currency, exact amount and dates within the
    tolerance, joined only when exactly one candidate exists and it has no other taker.

Rows of one file are never joined with each other: two lines of one statement are two
bookings however alike (two identical card payments at one machine stay two). A join
that would put two rows of one file into one payment is refused; the rows carry the flag
``consolidation_ambiguous``. Reversals (``is_reversal``) are never joined. The same
statement or report delivered twice is merged earlier, at read, by its content ids
(:meth:`followmoney.Bundle.concat`), and ``load_log`` counts those rows as merged.

The canonical row is built on the payment message where there is one, else a report
(goAML, FinCEN), else the debit side's statement row; it takes the debtor's account from
the debit side and the creditor's from the credit side, fills its other empty columns
from the other rows (never the statement-only columns; a channel ``other``, which
says the source does not tell, is replaced by another row's), and lists every row's
``source_ref`` in ``observed_in``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import pyarrow as pa

from followmoney.consolidate._log import file_of, shift_merged
from followmoney.core import schema
from followmoney.core.bundle import Bundle

#: Adapter names whose rows are payment messages (not statement lines).
WIRE_SOURCES = ("pacs008", "pain001", "mt103")
#: Adapter names whose rows are reports of a reporting entity (STR/SAR/CTR).
REPORT_SOURCES = ("goaml", "fincen")
#: Default tolerance between two sources' dates of one payment, in days. SEPA credit
#: transfers reach the payee's bank at most one business day after the payer's is
#: debited (EPC SCT Rulebook, D+1); one more day covers a booking on the next day.
DATE_TOLERANCE_DAYS = 2

_PLACEHOLDERS = {"", "NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE", "-", "/", "N/A", "UNKNOWN"}
#: Columns that describe one statement's booking: never copied onto the joined row.
_OWN_COLUMNS = {"signed_amount", "statement_id", "entry_ref", "booking_date", "entry_amount", "bank_tx_code"}

#: Extra ``transactions`` columns this step adds: column -> (Arrow type, description).
CONSOLIDATION_COLUMNS = {
    "observed_in": (pa.list_(pa.string()), "source_ref of every source row that showed this payment (the row kept first)."),
    "consolidation_key": (pa.string(), "What joined the rows, e.g. 'e2e:<id>/<currency>/<amount>'; null when seen once."),
}


def _ref(v) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return None if s.upper() in _PLACEHOLDERS else s


def _col(t: pa.Table, name: str) -> list:
    return t[name].to_pylist() if name in t.column_names else [None] * t.num_rows


def consolidate_payments(bundle: Bundle, *, date_tolerance_days: int = DATE_TOLERANCE_DAYS) -> Bundle:
    """Join the ``transactions`` rows that show one payment (rules: module notes).

    Run it after :func:`followmoney.consolidate.canonical_accounts`: the debtor and
    creditor matches compare canonical account ids.

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions`` (``txn_id``, ``source``, ``source_ref``, ``report_id``,
        ``amount`` and ``currency`` (ISO 4217, exact decimals), ``instructed_amount``,
        ``instructed_currency``, ``end_to_end_id``, ``source_txn_ref``, ``from_account``,
        ``to_account``, ``value_date``, ``booking_date``, ``timestamp`` (UTC),
        ``signed_amount``, ``is_reversal``; ``uetr`` where payment messages give it)
        and ``load_log``.
    date_tolerance_days : int, default :data:`DATE_TOLERANCE_DAYS`
        Largest difference between two rows' dates for the debtor + creditor + amount
        match; 0 asks for the same date.

    Returns
    -------
    Bundle
        A new bundle with one ``transactions`` row per payment (extra columns
        ``observed_in``, ``consolidation_key``), ``observations`` holding every source
        row with what matched it, and ``load_log`` counting joined rows as ``merged``
        in their own file.

    Raises
    ------
    followmoney.exceptions.ParameterError
        If ``date_tolerance_days`` is negative.
    """
    from followmoney.exceptions import ParameterError

    if date_tolerance_days < 0:
        raise ParameterError(f"date_tolerance_days must be 0 or more, got {date_tolerance_days}")
    t = bundle.transactions
    n = t.num_rows
    txn_ids = _col(t, "txn_id")
    refs = _col(t, "source_ref")
    files = [file_of(r) for r in refs]
    sources = _col(t, "source")
    amount, ccy = _col(t, "amount"), _col(t, "currency")
    inst, inst_ccy = _col(t, "instructed_amount"), _col(t, "instructed_currency")
    e2e, uetr, bref = _col(t, "end_to_end_id"), _col(t, "uetr"), _col(t, "source_txn_ref")
    frm, to = _col(t, "from_account"), _col(t, "to_account")
    reversal = _col(t, "is_reversal")
    signed = _col(t, "signed_amount")
    vdate, bdate, ts = _col(t, "value_date"), _col(t, "booking_date"), _col(t, "timestamp")

    parent = list(range(n))
    files_of = [{f} for f in files]
    how: dict[int, tuple[str, str]] = {}  # root -> (rule, key) of the first join
    row_how: dict[int, tuple[str, str]] = {}  # row -> (rule, key) that brought it in
    ambiguous: set[int] = set()

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int, rule: str, key: str) -> None:
        a, b = find(i), find(j)
        if a == b:
            return
        if files_of[a] & files_of[b]:
            ambiguous.update((i, j))
            return
        row_how.setdefault(i, (rule, key))
        row_how.setdefault(j, (rule, key))
        a, b = min(a, b), max(a, b)
        parent[b] = a
        files_of[a] |= files_of[b]
        how.setdefault(a, how.get(b, (rule, key)))

    # strong keys: one pass per rule, first row of a key anchors the others
    for rule in ("uetr", "end_to_end_id", "bank_reference"):
        first: dict[str, int] = {}
        for i in range(n):
            if reversal[i]:
                continue
            keys: list[str] = []
            if rule == "uetr" and _ref(uetr[i]):
                keys.append(f"uetr:{_ref(uetr[i]).lower()}")
            elif rule == "end_to_end_id" and _ref(e2e[i]):
                for a, c in ((amount[i], ccy[i]), (inst[i], inst_ccy[i])):
                    if a is not None and c:
                        keys.append(f"e2e:{_ref(e2e[i])}/{c}/{a}")
            elif rule == "bank_reference" and _ref(bref[i]) and frm[i] and to[i] and amount[i] is not None:
                keys.append(f"ref:{_ref(bref[i])}/{frm[i]}>{to[i]}/{ccy[i]}/{amount[i]}")
            for k in dict.fromkeys(keys):
                j = first.setdefault(k, i)
                if j != i:
                    join(j, i, rule, k)

    # debtor + creditor + amount + currency + date within the tolerance, on the groups so far
    def day(i: int) -> date | None:
        d = vdate[i] or bdate[i]
        if d is None and ts[i] is not None:
            d = ts[i].date()
        return d

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    by_fact: dict[tuple, list[tuple[date, int]]] = defaultdict(list)
    for root, members in groups.items():
        if any(reversal[i] for i in members):
            continue
        f_ = next((frm[i] for i in members if frm[i]), None)
        t_ = next((to[i] for i in members if to[i]), None)
        a_ = next(((amount[i], ccy[i]) for i in members if amount[i] is not None and ccy[i]), None)
        d_ = min((d for d in (day(i) for i in members) if d is not None), default=None)
        if f_ and t_ and f_ != t_ and a_ and d_:
            by_fact[(f_, t_, a_[1], a_[0])].append((d_, root))
    tol = timedelta(days=date_tolerance_days)
    for (f_, t_, c_, a_), items in by_fact.items():
        if len(items) < 2:
            continue
        items.sort()
        clusters: list[tuple[date, int]] = []  # (first date, root)
        for d_, root in items:
            for k, (d0, r0) in enumerate(clusters):
                r0 = find(r0)
                if d_ - d0 <= tol and not (files_of[r0] & files_of[find(root)]):
                    join(r0, root, "debtor_creditor_amount_date", f"dcad:{c_}/{a_}/{d0.isoformat()}±{date_tolerance_days}d")
                    break
            else:
                clusters.append((d_, root))

    # one side and amount + currency + date, the other side unknown in one of the rows
    # (a statement line without the counterparty's account): joined only when the match is
    # unique both ways
    groups = defaultdict(list)
    for i in range(n):
        groups[find(i)].append(i)
    facts: dict[int, tuple] = {}
    for root, members_ in groups.items():
        if any(reversal[i] for i in members_):
            continue
        f_ = next((frm[i] for i in members_ if frm[i]), None)
        t_ = next((to[i] for i in members_ if to[i]), None)
        a_ = next(((amount[i], ccy[i]) for i in members_ if amount[i] is not None and ccy[i]), None)
        d_ = min((d for d in (day(i) for i in members_) if d is not None), default=None)
        if a_ and d_ and (f_ or t_) and f_ != t_:
            facts[root] = (f_, t_, a_, d_)
    by_side: dict[tuple, list[int]] = defaultdict(list)
    for root, (f_, t_, a_, _) in facts.items():
        if f_:
            by_side[("from", f_, a_)].append(root)
        if t_:
            by_side[("to", t_, a_)].append(root)
    proposals: dict[tuple[int, str], list[int]] = {}  # (candidate, side) -> partial rows
    for root, (f_, t_, a_, d_) in facts.items():
        if f_ and t_:
            continue
        side, acct = ("from", f_) if f_ else ("to", t_)
        cands = [
            c for c in by_side[(side, acct, a_)]
            if c != root and abs((facts[c][3] - d_).days) <= date_tolerance_days and not (files_of[c] & files_of[root])
        ]
        if len(cands) == 1:
            proposals.setdefault((cands[0], side), []).append(root)
    for (cand, _side), partials in sorted(proposals.items()):
        if len(partials) == 1:
            (root,) = partials
            _, _, (a_, c_), d_ = facts[root]
            join(cand, root, "account_amount_date", f"acad:{c_}/{a_}/{d_.isoformat()}±{date_tolerance_days}d")

    # build the canonical rows: rows seen once are taken as they are (no conversion);
    # only the rows of joined or flagged groups are built in Python
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[find(i)].append(i)

    def rank(i: int) -> tuple:
        s = sources[i]
        kind = 0 if s in WIRE_SOURCES else 1 if s in REPORT_SOURCES else 2 if (signed[i] is not None and signed[i] < 0) else 3
        return (kind, i)

    order = sorted(members)
    groups_sorted = [sorted(members[r], key=rank) for r in order]
    keep_idx = [g[0] for g in groups_sorted]
    joined = [k for k, g in enumerate(groups_sorted) if len(g) > 1]
    flagged = [k for k, g in enumerate(groups_sorted) if any(i in ambiguous for i in g)]
    obs_txn, obs_kept, obs_rule, obs_key, obs_idx = [], [], [], [], []
    merged_files: Counter = Counter()
    for k, idx in enumerate(groups_sorted):
        keep = idx[0]
        for i in idx:
            obs_idx.append(i)
            obs_txn.append(txn_ids[keep])
            obs_kept.append("kept" if i == keep else "merged")
            by = len(idx) > 1 and i in row_how
            obs_rule.append(row_how[i][0] if by else None)
            obs_key.append(row_how[i][1] if by else None)
        for i in idx[1:]:
            merged_files[files[i]] += 1
    out = Bundle(**{name: getattr(bundle, name) for name in schema.TABLES})
    if n:
        new = t.take(pa.array(keep_idx, pa.int64()))

        def put(table: pa.Table, col: str, patch: dict[int, object]) -> pa.Table:
            if not patch:
                return table
            field_ = table.schema.field(col)
            values = table.column(col).to_pylist()
            for k, v in patch.items():
                values[k] = v
            return table.set_column(table.column_names.index(col), field_, pa.array(values, field_.type))

        # the debtor's account from the debit side, the creditor's from the credit side
        special = {"from_account": {}, "to_account": {}, "amount_received": {}, "currency_received": {}, "channel": {}}
        received = _col(t, "amount_received")
        channel = _col(t, "channel")
        for k in joined:
            idx = groups_sorted[k]
            keep = idx[0]
            debit = next((i for i in idx if signed[i] is not None and signed[i] < 0 and frm[i]), None)
            credit = next((i for i in idx if signed[i] is not None and signed[i] > 0 and to[i]), None)
            if debit is not None and frm[debit] != frm[keep]:
                special["from_account"][k] = frm[debit]
            if credit is not None:
                if to[credit] != to[keep]:
                    special["to_account"][k] = to[credit]
                if (amount[credit], ccy[credit]) != (amount[keep], ccy[keep]) and received[keep] is None:
                    special["amount_received"][k], special["currency_received"][k] = amount[credit], ccy[credit]
            if channel[keep] in (None, "other"):  # "other": the kept source does not say
                better = next((channel[i] for i in idx if channel[i] not in (None, "other")), None)
                if better:
                    special["channel"][k] = better
        # every other empty cell of a joined row: the first value another row of it gives
        if joined:
            kept_pos = pa.array(joined, pa.int64())
            pairs = [(k, i) for k in joined for i in groups_sorted[k][1:]]
            other_idx = pa.array([i for _, i in pairs], pa.int64())
            for col in t.column_names:
                if col in _OWN_COLUMNS or col in special or col == "quality_flags":
                    continue
                kept_vals = new.column(col).take(kept_pos)
                if kept_vals.null_count == 0:
                    continue
                others = t.column(col).take(other_idx)
                if others.null_count == len(others):
                    continue
                kv = dict(zip(joined, kept_vals.to_pylist()))
                patch: dict[int, object] = {}
                for (k, _), v in zip(pairs, others.to_pylist()):
                    if v is not None and kv[k] is None and k not in patch:
                        patch[k] = v
                new = put(new, col, patch)
        for col, patch in special.items():
            if col in new.column_names:
                new = put(new, col, patch)
        if flagged:
            flags = new.column("quality_flags").take(pa.array(flagged, pa.int64())).to_pylist()
            new = put(new, "quality_flags", {k: list(dict.fromkeys((f or []) + ["consolidation_ambiguous"])) for k, f in zip(flagged, flags)})
        observed = [[refs[i] for i in g] for g in groups_sorted]
        keys = [how[order[k]][1] if len(g) > 1 and order[k] in how else None for k, g in enumerate(groups_sorted)]
        for col, values in (("observed_in", observed), ("consolidation_key", keys)):
            typ, doc = CONSOLIDATION_COLUMNS[col]
            f = pa.field(col, typ, metadata={"doc": doc})
            if col in new.column_names:
                new = new.set_column(new.column_names.index(col), f, pa.array(values, typ))
            else:
                new = new.append_column(f, pa.array(values, typ))
        out.transactions = new
    reports = _col(t, "report_id")
    obs = {
        "txn_id": obs_txn,
        "observed_txn_id": [txn_ids[i] for i in obs_idx],
        "source": [sources[i] for i in obs_idx],
        "source_ref": [refs[i] for i in obs_idx],
        "source_file": [files[i] for i in obs_idx],
        "report_id": [reports[i] for i in obs_idx],
        "role": obs_kept,
        "matched_by": obs_rule,
        "match_key": obs_key,
    }
    out.observations = schema.conform(obs, "observations") if n else schema.empty("observations")
    out.load_log = shift_merged(out.load_log, "transactions", merged_files)
    return out
