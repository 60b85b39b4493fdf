"""One payment seen in several sources becomes one transaction.

A cross-border wire reaches an FIU three times: as the payment message (``pacs.008``,
MT103), as a debit in the sender's statement and as a credit in the receiver's. Summed
as they come, the money counts two or three times. :func:`payments` joins such rows
when a reference that follows the payment end to end says they are the same payment:

* the **UETR** (the SWIFT gpi UUID; unique per payment by construction: rows with two
  different UETRs are never joined), or
* the **end-to-end id** together with the currency and the exact amount, booked or
  instructed (the id is the debtor's own reference: unique for one debtor, so the
  amount guards against two debtors' equal ids; a sender's statement that books the
  amount plus charges still states the instructed amount).

Rows of one report (one statement, one message file) are never joined with each other:
two lines of one statement are two bookings, however alike. A group in which one report
has several rows is left as it is and its rows carry the flag ``consolidation_ambiguous``.

The joined row keeps the payment message's row where there is one (parties, agents,
agent chain, charges, purpose), takes the debtor's account from the debit side's
statement and the creditor's from the credit side's (the accounts the statements
reconcile), fills its other empty columns from the other rows, sets
``amount_received`` / ``currency_received`` from the credit side when it differs, and
lists every row's ``source_ref`` in ``observed_in``. The ``load_log`` counts the rows
joined away as ``merged`` in their own file, so records read = rows written + merged +
rejected still holds.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._payment import WIRE_COLUMNS, WIRE_SOURCES

__all__ = ["payments"]

_PLACEHOLDERS = {"", "NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE", "-", "/"}
#: Columns that describe one statement's booking: never copied onto the joined row.
_OWN_COLUMNS = {"signed_amount", "statement_id", "entry_ref", "booking_date", "entry_amount", "bank_tx_code"}


def _repeated(col, *, lower: bool):
    """Mask of the non-null values of ``col`` (trimmed; lower-cased if ``lower``) that occur more than once."""
    vals = pc.utf8_trim_whitespace(col.cast(pa.string()))
    if lower:
        vals = pc.utf8_lower(vals)
    counts = pc.value_counts(vals)
    dup = counts.field("values").filter(pc.greater(counts.field("counts"), 1)).drop_null()
    return pc.fill_null(pc.is_in(vals, value_set=dup), False)


def _file_of(ref: str) -> str:
    return ref.split("#", 1)[0] if "#" in ref else ref.rsplit(":", 1)[0]


def payments(bundle: Bundle) -> Bundle:
    """Join the rows of ``bundle.transactions`` that show the same payment (module notes).

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions`` (``txn_id``, ``report_id``, ``source``, ``source_ref``,
        ``amount``, ``currency``, ``end_to_end_id``, ``signed_amount`` where statements
        give it, ``uetr`` where payment messages give it) and ``load_log``.

    Returns
    -------
    Bundle
        The same tables, with one ``transactions`` row per payment; the joined rows
        carry ``observed_in`` (list of ``source_ref``) and ``consolidation_key``
        (``uetr:<UETR>`` or ``e2e:<id>/<currency>/<amount>``). A bundle with nothing
        to join is returned unchanged.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read("tests/data/wires/same_payment", consolidate=False)
    >>> b.transactions.num_rows
    3
    >>> one = payments(b)
    >>> (r,) = one.transactions.to_pylist()
    >>> r["agent_chain"], len(r["observed_in"]), r["from_account"], r["to_account"]
    (['DEUTDEFF', 'CHASUS33', 'BCITITMM'], 3, 'IBAN/DE89370400440532013000', 'IBAN/IT60X0542811101000000123456')
    >>> one.reconcile()
    """
    full = bundle.transactions
    if full.num_rows < 2:
        return bundle
    # only rows whose UETR or end-to-end id appears more than once can join: work on those
    mask = _repeated(full["end_to_end_id"], lower=False)
    if "uetr" in full.column_names:
        mask = pc.or_(mask, _repeated(full["uetr"], lower=True))
    cand = pc.indices_nonzero(mask).to_pylist()
    if not cand:
        return bundle
    t = full.take(cand)
    cols = t.column_names
    uetr = t["uetr"].to_pylist() if "uetr" in cols else [None] * t.num_rows
    e2e = t["end_to_end_id"].to_pylist()
    amount = t["amount"].to_pylist()
    ccy = t["currency"].to_pylist()
    report = t["report_id"].to_pylist()
    source_ref = t["source_ref"].to_pylist()
    inst = t["instructed_amount"].to_pylist()
    inst_ccy = t["instructed_currency"].to_pylist()
    # every row answers to its UETR and to end-to-end id + currency + amount, for its
    # booked and its instructed amount (a sender's statement books the amount plus charges)
    parent = list(range(t.num_rows))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_of: dict[str, int] = {}
    root_uetr: dict[int, str] = {}
    label: dict[int, str] = {}
    for i in range(t.num_rows):
        own = []
        if uetr[i]:
            own.append(f"uetr:{uetr[i].strip().lower()}")
        e = (e2e[i] or "").strip()
        if e and e.upper() not in _PLACEHOLDERS:
            for a, c in ((amount[i], ccy[i]), (inst[i], inst_ccy[i])):
                if a is not None and c:
                    own.append(f"e2e:{e}/{c}/{a}")
        if own:
            label[i] = own[0]
        if uetr[i]:
            root_uetr[i] = uetr[i].strip().lower()
        for k in own:
            j = first_of.setdefault(k, i)
            ri, rj = find(i), find(j)
            if ri == rj:
                continue
            ui, uj = root_uetr.get(ri), root_uetr.get(rj)
            if ui and uj and ui != uj:
                continue  # two UETRs are two payments, whatever their end-to-end ids say
            parent[ri] = rj
            root_uetr[rj] = uj or ui
    members: dict[int, list[int]] = defaultdict(list)
    for i in label:
        members[find(i)].append(i)
    groups: dict[str, list[int]] = {}
    for idx in members.values():
        if len(idx) > 1:
            key = next((label[i] for i in idx if label[i].startswith("uetr:")), label[idx[0]])
            groups[key] = sorted(idx)
    if not groups:
        return bundle

    rows = t.to_pylist()
    sources = t["source"].to_pylist()
    signed = t["signed_amount"].to_pylist() if "signed_amount" in cols else [None] * t.num_rows
    drop: set[int] = set()
    merged_per_file: dict[str, int] = defaultdict(int)
    for key, idx in groups.items():
        if len({report[i] for i in idx}) < len(idx):
            for i in idx:
                rows[i]["quality_flags"] = list(dict.fromkeys((rows[i]["quality_flags"] or []) + ["consolidation_ambiguous"]))
            continue
        wire = [i for i in idx if sources[i] in WIRE_SOURCES]
        debit = [i for i in idx if signed[i] is not None and signed[i] < 0]
        credit = [i for i in idx if signed[i] is not None and signed[i] > 0]
        keep = (wire or debit or idx)[0]
        row = rows[keep]
        if debit and rows[debit[0]]["from_account"]:
            row["from_account"] = rows[debit[0]]["from_account"]
        if credit and rows[credit[0]]["to_account"]:
            row["to_account"] = rows[credit[0]]["to_account"]
            c = rows[credit[0]]
            if (c["amount"], c["currency"]) != (row["amount"], row["currency"]):
                row["amount_received"], row["currency_received"] = c["amount"], c["currency"]
        for i in idx:
            if i == keep:
                continue
            for col, v in rows[i].items():
                if row.get(col) is None and v is not None and col not in _OWN_COLUMNS:
                    row[col] = v
            drop.add(i)
            merged_per_file[_file_of(source_ref[i])] += 1
        row["observed_in"] = [source_ref[keep]] + [source_ref[i] for i in idx if i != keep]
        row["consolidation_key"] = key
        row["quality_flags"] = list(dict.fromkeys(row["quality_flags"] or []))
    kept_idx = [i for i in range(len(rows)) if i not in drop]
    out = schema.conform([rows[i] for i in kept_idx], "transactions")
    # restore the declared types of extra columns (inferred from Python values above)
    for name in t.column_names:
        if name in out.column_names and out.schema.field(name).type != t.schema.field(name).type:
            i = out.column_names.index(name)
            out = out.set_column(i, t.schema.field(name), out.column(name).cast(t.schema.field(name).type))
    for col in ("observed_in", "consolidation_key"):
        typ, doc = WIRE_COLUMNS[col]
        if col in out.column_names:
            i = out.column_names.index(col)
            out = out.set_column(i, pa.field(col, typ, metadata={"doc": doc}), out.column(col).cast(typ))
    keep_rest = pc.invert(mask)
    if isinstance(keep_rest, pa.ChunkedArray):  # Array.filter takes an Array mask on pyarrow < 16
        keep_rest = keep_rest.combine_chunks()
    positions = pa.array(range(full.num_rows), pa.int64())
    rest = full.filter(keep_rest).append_column("_pos", positions.filter(keep_rest))
    out = out.append_column("_pos", pa.array([cand[i] for i in kept_idx], pa.int64()))
    out = pa.concat_tables([rest, out], promote_options="default").sort_by("_pos").drop_columns(["_pos"])
    log = bundle.load_log
    if merged_per_file and log.num_rows:
        files = log["source_file"].to_pylist()
        tables = log["table"].to_pylist()
        written = log["rows_written"].to_pylist()
        merged = log["merged"].to_pylist()
        for i, (f, tb) in enumerate(zip(files, tables)):
            if tb == "transactions" and merged_per_file.get(f):
                n = merged_per_file.pop(f)
                written[i] -= n
                merged[i] += n
        log = log.set_column(log.column_names.index("rows_written"), log.schema.field("rows_written"), pa.array(written, pa.int64()))
        log = log.set_column(log.column_names.index("merged"), log.schema.field("merged"), pa.array(merged, pa.int64()))
    result = Bundle(**{name: getattr(bundle, name) for name in schema.TABLES})
    result.transactions = out
    result.load_log = log
    return result

