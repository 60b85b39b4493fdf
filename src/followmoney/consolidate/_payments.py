"""The same payment seen in several sources becomes one canonical transaction.

One payment reaches an FIU several times: as a payment message (pacs.008, MT103), as
a debit in the payer's statement, as a credit in the payee's, and in an STR. Summed as
they come, the money counts two to four times. :func:`consolidate_payments` joins rows
of **different files** when one of these says they are one payment, in this order:

``uetr``
    The SWIFT gpi UETR (unique per payment by construction: rows with two different
    UETRs are never joined, whatever else they share).
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
bookings however alike (two identical card payments at one machine stay two). A UETR,
end-to-end id or bank reference shared by two rows of one file cannot say which of them
the other sources show: those rows are left as they are (none of them is joined, by this
or a later rule) and carry the flag ``consolidation_ambiguous``. The weaker rules join
only across files. Reversals (``is_reversal``) are never joined. The same
statement or report delivered twice is merged earlier, at read, by its content ids
(:meth:`followmoney.Bundle.concat`), and ``load_log`` counts those rows as merged.

The canonical row is built on the payment message where there is one, else a report
(goAML, FinCEN), else the debit side's statement row (of two alike, the first in time order,
:func:`followmoney.core.frame.in_time_order`, in which :func:`followmoney.consolidate.consolidate`
reads the rows: the choice does not depend on how the files are named or listed); it takes the debtor's account from
the debit side and the creditor's from the credit side, fills its other empty columns
from the other rows (never the statement-only columns; a channel ``other``, which
says the source does not tell, is replaced by another row's), and lists every row's
``source_ref`` in ``observed_in``.

Consolidation is incremental: a bundle consolidated already (by :func:`followmoney.read`)
keeps its ``observations`` and ``observed_in`` when consolidated again, and with nothing
new to join it is returned as it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.consolidate._log import file_of, shift_merged
from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._payment import WIRE_COLUMNS, WIRE_SOURCES

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
CONSOLIDATION_COLUMNS = {c: WIRE_COLUMNS[c] for c in ("observed_in", "consolidation_key")}


def _ref(v) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return None if s.upper() in _PLACEHOLDERS else s


def _col(t: pa.Table, name: str) -> list:
    return t[name].to_pylist() if name in t.column_names else [None] * t.num_rows


def _files_of(refs) -> pa.Array:
    """:func:`file_of` over an Arrow column of ``source_ref``: without ``#.*$``, then without
    ``:[0-9]+$`` (the second found without a regular expression: 10x faster on line refs)."""
    out = pc.replace_substring_regex(refs, pattern="#.*$", replacement="") if pc.any(pc.match_substring(refs, "#")).as_py() else refs
    head = pc.utf8_rtrim(out, "0123456789")
    line = pc.and_(pc.less(pc.binary_length(head), pc.binary_length(out)), pc.ends_with(head, ":"))
    return pc.if_else(line, pc.utf8_slice_codeunits(head, 0, -1), out)


def _candidates(t: pa.Table, files: pa.Array) -> pa.Array:
    """Mask of the rows that may join another: a repeated UETR, end-to-end id or bank
    reference (two rows of one file sharing one are flagged), or an account, amount and
    currency that two files give (the weaker rules join only across files)."""
    mask = pa.array([False] * t.num_rows)
    for name in ("uetr", "end_to_end_id", "source_txn_ref"):
        if name not in t.column_names:
            continue
        vals = pc.utf8_lower(pc.utf8_trim_whitespace(t[name].cast(pa.string())))
        counts = pc.value_counts(vals)
        dup = counts.field("values").filter(pc.greater(counts.field("counts"), 1)).drop_null()
        mask = pc.or_(mask, pc.fill_null(pc.is_in(vals, value_set=dup), False))
    if pc.count_distinct(files).as_py() < 2:  # one file: no account, amount and currency that two files give
        return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
    amount = t["amount"].cast(pa.string())
    for side in ("from_account", "to_account"):
        key = pc.binary_join_element_wise(t[side], t["currency"], amount, "|")
        per = pa.table({"k": key, "f": files}).drop_null().group_by("k", use_threads=False).aggregate([("f", "count_distinct")])
        shared = per["k"].filter(pc.greater(per["f_count_distinct"], 1))
        mask = pc.or_(mask, pc.fill_null(pc.is_in(key, value_set=shared), False))
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def _seen_once(rest: pa.Table, files: pa.Array, prior: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The rows that join nothing: ``observed_in`` and ``consolidation_key`` columns, and their observations."""
    for col in ("observed_in", "consolidation_key"):
        typ, doc = CONSOLIDATION_COLUMNS[col]
        if col == "observed_in":  # each row's own source_ref, as a one-item list over the same text buffers
            single = pa.chunked_array(
                [pa.ListArray.from_arrays(pa.array(np.arange(len(c) + 1, dtype=np.int32)), c) for c in rest["source_ref"].chunks],
                pa.list_(pa.string()),
            )
            values = pc.if_else(pc.is_valid(rest[col]), rest[col], single) if col in rest.column_names else single
        else:
            values = rest[col] if col in rest.column_names else schema.nulls(rest.num_rows, typ)
        f = pa.field(col, typ, metadata={"doc": doc})
        if col in rest.column_names:
            rest = rest.set_column(rest.column_names.index(col), f, values.cast(typ))
        else:
            rest = rest.append_column(f, values.cast(typ))
    ids = rest["txn_id"]
    if prior.num_rows:  # consolidated before: its observations stand
        return rest, prior.filter(pc.is_in(prior["txn_id"], value_set=ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids))
    obs = {
        "txn_id": ids, "observed_txn_id": ids, "source": rest["source"], "source_ref": rest["source_ref"], "source_file": files,
        "report_id": rest["report_id"], "role": pa.array(["kept"] * rest.num_rows, pa.string()),
        "matched_by": schema.nulls(rest.num_rows, pa.string()), "match_key": schema.nulls(rest.num_rows, pa.string()),
    }  # fmt: skip
    return rest, schema.conform(pa.table(obs), "observations")


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
    full = bundle.transactions
    # only rows that share a reference, or an account, amount and currency with another
    # file, can join: the rest (most rows of a large single-source set) is taken as it is
    full_files = _files_of(full["source_ref"]) if full.num_rows else pa.array([], pa.string())
    mask = _candidates(full, full_files) if full.num_rows else pa.array([], pa.bool_())
    cand_idx = pc.indices_nonzero(mask)
    t = full.take(cand_idx)
    cand_pos = cand_idx.to_pylist()
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
    # a row consolidated before stands for all the files it was seen in
    files_of = [{file_of(r) for r in seen} if seen else {f} for f, seen in zip(files, _col(t, "observed_in"))]
    uetr_of = [_ref(u).lower() if _ref(u) else None for u in uetr]  # per root: the group's UETR
    how: dict[int, tuple[str, str]] = {}  # root -> (rule, key) of the first join
    row_how: dict[int, tuple[str, str]] = {}  # row -> (rule, key) that brought it in
    ambiguous: set[int] = set()  # rows left apart: a strong key names two rows of one file

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def joinable(a: int, b: int) -> bool:
        """Whether the groups with roots ``a`` and ``b`` may be one payment."""
        if files_of[a] & files_of[b]:
            return False
        return not (uetr_of[a] and uetr_of[b] and uetr_of[a] != uetr_of[b])  # two UETRs: two payments

    def join(i: int, j: int, rule: str, key: str) -> None:
        a, b = find(i), find(j)
        if a == b or i in ambiguous or j in ambiguous or not joinable(a, b):
            return
        row_how.setdefault(i, (rule, key))
        row_how.setdefault(j, (rule, key))
        a, b = min(a, b), max(a, b)
        parent[b] = a
        files_of[a] |= files_of[b]
        uetr_of[a] = uetr_of[a] or uetr_of[b]
        how.setdefault(a, how.get(b, (rule, key)))

    # strong keys: one pass per rule; a key's rows join unless two of them share a file
    # (which of them do the other sources show? none is joined, all are flagged)
    for rule in ("uetr", "end_to_end_id", "bank_reference"):
        rows_of: dict[str, list[int]] = defaultdict(list)
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
                rows_of[k].append(i)
        for k, idx in rows_of.items():
            if len(idx) < 2:
                continue
            roots = list(dict.fromkeys(find(i) for i in idx))
            seen: set = set()
            clash = False
            for r in roots:
                clash = clash or bool(seen & files_of[r])
                seen |= files_of[r]
            if clash:
                ambiguous.update(idx)
                continue
            for i in idx[1:]:
                join(idx[0], i, rule, k)

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
        if any(reversal[i] or i in ambiguous for i in members):
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
                if d_ - d0 <= tol and joinable(r0, find(root)):
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
        if any(reversal[i] or i in ambiguous for i in members_):
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
            if c != root and abs((facts[c][3] - d_).days) <= date_tolerance_days and joinable(c, root)
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
    # consolidated before (fm.read does it): the observations so far are carried forward
    prior = bundle.observations
    prior_by: dict[str, list[dict]] = defaultdict(list)
    if prior.num_rows:
        for o in prior.to_pylist():
            prior_by[o["txn_id"]].append(o)
        quality = _col(t, "quality_flags")
        new_flags = any("consolidation_ambiguous" not in (quality[i] or []) for i in ambiguous)
        every = pc.all(pc.is_in(full["txn_id"], value_set=prior["txn_id"])).as_py() if full.num_rows else True
        if not joined and not new_flags and every:
            return bundle  # nothing new: it is one picture already
    obs: dict[str, list] = {c: [] for c in schema.SCHEMAS["observations"].names}
    reports = _col(t, "report_id")
    merged_files: Counter = Counter()
    for k, idx in enumerate(groups_sorted):
        keep = idx[0]
        for i in idx:
            by = len(idx) > 1 and i in row_how
            earlier = prior_by.get(txn_ids[i]) or [
                {"observed_txn_id": txn_ids[i], "source": sources[i], "source_ref": refs[i], "source_file": files[i],
                 "report_id": reports[i], "matched_by": None, "match_key": None}
            ]  # fmt: skip
            for o in earlier:
                for c in ("observed_txn_id", "source", "source_ref", "source_file", "report_id"):
                    obs[c].append(o[c])
                obs["txn_id"].append(txn_ids[keep])
                obs["role"].append("kept" if o["observed_txn_id"] == txn_ids[keep] else "merged")
                obs["matched_by"].append(o["matched_by"] or (row_how[i][0] if by else None))
                obs["match_key"].append(o["match_key"] or (row_how[i][1] if by else None))
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
        seen_in, key_before = _col(t, "observed_in"), _col(t, "consolidation_key")
        observed = [[r for i in g for r in (seen_in[i] or [refs[i]])] for g in groups_sorted]
        keys = [how[order[k]][1] if len(g) > 1 and order[k] in how else key_before[g[0]] for k, g in enumerate(groups_sorted)]
        for col, values in (("observed_in", observed), ("consolidation_key", keys)):
            typ, doc = CONSOLIDATION_COLUMNS[col]
            f = pa.field(col, typ, metadata={"doc": doc})
            if col in new.column_names:
                new = new.set_column(new.column_names.index(col), f, pa.array(values, typ))
            else:
                new = new.append_column(f, pa.array(values, typ))
    else:
        new = full.slice(0, 0)
    obs_t = schema.conform(obs, "observations") if n else schema.empty("observations")
    keep_rest = pc.invert(mask)
    if n:
        rest, rest_obs = _seen_once(full.filter(keep_rest), full_files.filter(keep_rest), prior)
        new = new.append_column("_pos", pa.array([cand_pos[r] for r in order], pa.int64()))
        rest = rest.append_column("_pos", pc.indices_nonzero(keep_rest).cast(pa.int64()))
        out.transactions = pa.concat_tables([rest, new], promote_options="default").sort_by("_pos").drop_columns(["_pos"])
    else:  # no row can join another: every row is taken as it is, without a copy
        rest, rest_obs = _seen_once(full, full_files, prior)
        out.transactions = rest
    out.observations = pa.concat_tables([rest_obs, obs_t]) if rest_obs.num_rows else obs_t
    out.load_log = shift_merged(out.load_log, "transactions", merged_files)
    return out
