"""The canonical Arrow schemas every adapter writes and every analysis reads.

One schema per table of the data model (see ``DESIGN.md``): ``transactions``,
``accounts``, ``parties``, ``party_accounts``, ``identifiers``, ``reports``,
``rejects``, ``load_log`` and ``alerts``. Each field carries a short description in
its Arrow metadata (``field.metadata[b"doc"]``), so the contract travels with the
Parquet files.

Conventions
-----------
* Money is ``decimal128(18, 3)`` with the ISO 4217 code in the column beside it;
  never a float. Each value is quantized to its currency's ISO 4217 minor units when
  read (three decimals for KWD, BHD, OMR, JOD, TND, LYD, IQD; none for JPY, KRW...;
  see :mod:`followmoney.core.units`). :func:`to_cents` turns it into ``int64``
  thousandths of the currency unit for fast, exact vectorised arithmetic.
* **Names kept for compatibility.** ``to_cents`` / ``from_cents``, the detectors' frame
  column ``amount_cents``, the graph edges' ``amount_cents`` and the flow table's
  ``total_cents`` all hold integer **thousandths** of the currency unit
  (:data:`followmoney.core.units.MONEY_SCALE` = 1000), not hundredths: EUR 12.50 is
  ``12500``, KWD 1.250 is ``1250``, JPY 1,500 is ``1500000``. Divide by ``MONEY_SCALE``
  (or use :func:`followmoney.core.units.from_scaled` / ``money_text``), never by 100.
* Timestamps are ``timestamp[us, tz=UTC]``. Where the source states a UTC offset it
  is kept in ``tz_offset_minutes``; where it states none the value is taken as UTC
  and ``tz_offset_minutes`` is null.
* Identifiers (account numbers, bank codes) are strings and keep leading zeros.

Examples
--------
>>> from followmoney import schema
>>> schema.SCHEMAS["transactions"].field("amount").type
Decimal128Type(decimal128(18, 3))
>>> t = schema.empty("rejects")
>>> t.num_rows, t.column_names[:3]
(0, ['source', 'source_ref', 'table'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.exceptions import SchemaError

__all__ = [
    "MONEY",
    "TIMESTAMP",
    "SCHEMAS",
    "TABLES",
    "CHANNELS",
    "empty",
    "conform",
    "nulls",
    "with_nulls",
    "validate",
    "to_cents",
    "has_flag",
    "SchemaError",
]

#: Arrow type of every money column: 18 digits, 3 after the point (every ISO 4217 minor unit
#: up to three decimals exactly; values below 10**15 so that thousandths fit in int64).
MONEY = pa.decimal128(18, 3)
#: Arrow type of every instant: microseconds, UTC.
TIMESTAMP = pa.timestamp("us", tz="UTC")

#: Allowed values of ``transactions.channel``.
CHANNELS = (
    "cash_deposit",
    "cash_withdrawal",
    "wire",
    "transfer",
    "card",
    "cheque",
    "atm",
    "mobile_money",
    "remittance",
    "crypto",
    "other",
)


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


_STR = pa.string()
_STRLIST = pa.list_(pa.string())

SCHEMAS: dict[str, pa.Schema] = {
    "transactions": pa.schema(
        [
            _f("txn_id", _STR, "Stable id: hash of source file name and source_ref.", False),
            _f("report_id", _STR, "Report (STR/SAR/CTR/statement/file) the row came from."),
            _f("source", _STR, "Adapter format name, e.g. goaml, amlsim, ibm_aml.", False),
            _f("source_ref", _STR, "Place in the source: file:line (CSV) or file#XPath (XML).", False),
            _f("source_txn_ref", _STR, "The source's own transaction number, if any."),
            _f("timestamp", TIMESTAMP, "When the transaction took place, UTC."),
            _f("tz_offset_minutes", pa.int16(), "UTC offset stated by the source, minutes; null if none."),
            _f("time_precision", _STR, "What the source gives of the time: instant, minute or day (a date only: stored at the start of that day)."),
            _f("source_seq", pa.int64(), "Position of the row in its source file (statement position / line / document order); orders rows of equal time within one file."),
            _f("amount", MONEY, "Amount debited / sent, in `currency` (a magnitude: direction is from/to)."),
            _f("signed_amount", MONEY, "Statement sources: the amount as seen from the statement account (negative = debit)."),
            _f("currency", _STR, "ISO 4217 code of `amount`."),
            _f("amount_local", MONEY, "Amount in the reporting jurisdiction's currency, where the source states it."),
            _f("currency_local", _STR, "ISO 4217 code of `amount_local`."),
            _f("amount_received", MONEY, "Amount credited on the receiving side when the source gives a second leg."),
            _f("currency_received", _STR, "ISO 4217 code of `amount_received`."),
            _f("instructed_amount", MONEY, "Original / instructed amount before conversion (camt InstdAmt, MT103 :33B:)."),
            _f("instructed_currency", _STR, "ISO 4217 code of `instructed_amount`."),
            _f("fx_rate", pa.decimal128(24, 10), "Exchange rate stated by the source, as units of `currency` per one unit of `instructed_currency` (instructed_amount x fx_rate = amount), whichever way the source quotes it."),
            _f("from_account", _STR, "account_id of the debited account; null for cash or unknown."),
            _f("to_account", _STR, "account_id of the credited account; null for cash or unknown."),
            _f("from_party", _STR, "party_id of the sender, where the source names one."),
            _f("to_party", _STR, "party_id of the receiver, where the source names one."),
            _f("from_my_client", pa.bool_(), "goAML: the sending side is the reporting entity's client."),
            _f("to_my_client", pa.bool_(), "goAML: the receiving side is the reporting entity's client."),
            _f("from_funds", _STR, "Source's funds / instrument code on the sending side (goAML from_funds_code)."),
            _f("to_funds", _STR, "Source's funds / instrument code on the receiving side."),
            _f("channel", _STR, "One of schema.CHANNELS."),
            _f("description", _STR, "Free-text description / remittance information."),
            _f("counterparty_name", _STR, "Name of the counterparty as written in the source."),
            _f("counterparty_account", _STR, "Counterparty account number / IBAN as written."),
            _f("counterparty_bic", _STR, "Counterparty institution BIC."),
            _f("statement_id", _STR, "statements.statement_id for rows read from a bank statement."),
            _f("entry_ref", _STR, "The statement entry a row belongs to (batch details share it)."),
            _f("end_to_end_id", _STR, "Payment reference carried end to end (ISO 20022 EndToEndId, MT940 EREF)."),
            _f("booking_date", pa.date32(), "Booking date of a statement entry."),
            _f("value_date", pa.date32(), "Value date of a statement entry."),
            _f("is_reversal", pa.bool_(), "The entry reverses an earlier one (MT940 RC/RD, camt RvslInd)."),
            _f("merchant_category", _STR, "Merchant category code or label, if known."),
            _f("country_from", _STR, "ISO 3166-1 alpha-2 of the sending side."),
            _f("country_to", _STR, "ISO 3166-1 alpha-2 of the receiving side."),
            _f("quality_flags", _STRLIST, "Data-quality flags, e.g. self_transfer, negative_amount."),
            _f("is_laundering", pa.bool_(), "Label in benchmark data (AMLSim is_sar, IBM Is Laundering)."),
            _f("typology", _STR, "Label typology in benchmark data (e.g. fan_in)."),
            _f("label_alert_id", _STR, "Benchmark data's own alert/pattern id."),
        ]
    ),
    "accounts": pa.schema(
        [
            _f("account_id", _STR, "Stable id '<namespace>/<account number>'.", False),
            _f("institution", _STR, "Institution code, BIC or name holding the account."),
            _f("account_number", _STR, "Account number as written (leading zeros kept)."),
            _f("iban", _STR, "IBAN if known."),
            _f("name", _STR, "Account name / title."),
            _f("currency", _STR, "ISO 4217 account currency."),
            _f("country", _STR, "ISO 3166-1 alpha-2 of the account's institution."),
            _f("opened", TIMESTAMP, "Opening time, UTC."),
            _f("closed", TIMESTAMP, "Closing time, UTC."),
            _f("status", _STR, "Status code as given by the source."),
            _f("source_ref", _STR, "Where the account was first seen.", False),
        ]
    ),
    "parties": pa.schema(
        [
            _f("party_id", _STR, "Stable id of this mention of a person or entity.", False),
            _f("kind", _STR, "person | entity | unknown (the source does not say).", False),
            _f("name", _STR, "Full name as written (persons: given + family)."),
            _f("given_name", _STR, "Given name(s) of a person."),
            _f("family_name", _STR, "Family name of a person."),
            _f("birth_date", pa.date32(), "Date of birth (persons) or incorporation (entities)."),
            _f("nationality", _STR, "ISO 3166-1 alpha-2."),
            _f("country", _STR, "Country of residence / incorporation, ISO 3166-1 alpha-2."),
            _f("occupation", _STR, "Occupation or business as written."),
            _f("report_id", _STR, "Report the mention came from."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "party_accounts": pa.schema(
        [
            _f("party_id", _STR, "parties.party_id", False),
            _f("account_id", _STR, "accounts.account_id", False),
            _f("role", _STR, "holder | signatory | beneficial_owner | director | controller | other", False),
            _f("role_code", _STR, "The source's own role code, if any."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "identifiers": pa.schema(
        [
            _f("owner_kind", _STR, "party | account", False),
            _f("owner_id", _STR, "party_id or account_id", False),
            _f("kind", _STR, "phone | email | address | passport | national_id | tax_id | id_document | device | ip", False),
            _f("value", _STR, "Normalised value used for matching.", False),
            _f("raw", _STR, "Value as written in the source."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "relations": pa.schema(
        [
            _f("party_id", _STR, "parties.party_id of the entity (company, partnership, ...).", False),
            _f("related_party_id", _STR, "parties.party_id of the related person or entity.", False),
            _f("role", _STR, "director | partner | shareholder | signatory | beneficial_owner | other", False),
            _f("role_code", _STR, "The source's own role code, if any (goAML director_id/role)."),
            _f("report_id", _STR, "Report the relation came from."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "goods": pa.schema(
        [
            _f("goods_id", _STR, "Stable id of one item of goods or services in a report.", False),
            _f("report_id", _STR, "Report the item came from.", False),
            _f("txn_id", _STR, "transactions.txn_id where the item belongs to a transaction."),
            _f("item_type", _STR, "Item type code as given (goAML item_type, e.g. GOLD)."),
            _f("item_make", _STR, "Make or producer as written."),
            _f("description", _STR, "Description as written."),
            _f("registered_to", _STR, "To whom the item is presently registered, as written."),
            _f("estimated_value", MONEY, "Estimated value in `currency`."),
            _f("disposed_value", MONEY, "Value at which it was disposed of, in `currency`."),
            _f("currency", _STR, "ISO 4217 code of the values (the report's local currency when not given)."),
            _f("status_code", _STR, "Status as given (e.g. SOLD)."),
            _f("size", _STR, "Size or quantity as written."),
            _f("size_uom", _STR, "Unit of `size` as given (e.g. GRAM)."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "reports": pa.schema(
        [
            _f("report_id", _STR, "Stable id of the report or source file.", False),
            _f("format", _STR, "Adapter format name.", False),
            _f("report_code", _STR, "STR, SAR, CTR, IFT, ... as given by the source."),
            _f("reporting_entity", _STR, "Reporting entity id (goAML rentity_id) or bank."),
            _f("entity_reference", _STR, "The reporting entity's own reference."),
            _f("submitted_at", TIMESTAMP, "Submission time, UTC."),
            _f("currency_local", _STR, "Local currency declared by the report."),
            _f("reason", _STR, "Why the report was filed (goAML reason)."),
            _f("action", _STR, "Action taken by the reporting entity."),
            _f("indicators", _STRLIST, "Report indicator codes."),
            _f("narrative", _STR, "Narrative text."),
            _f("source_file", _STR, "File name.", False),
        ]
    ),
    "statements": pa.schema(
        [
            _f("statement_id", _STR, "Stable id of one statement (camt Stmt/Rpt/Ntfctn, MT940 :20:/:28C: block).", False),
            _f("account_id", _STR, "accounts.account_id of the statement's account."),
            _f("currency", _STR, "ISO 4217 account currency."),
            _f("opening_balance", MONEY, "Opening booked balance (signed)."),
            _f("closing_balance", MONEY, "Closing booked balance (signed)."),
            _f("opening_date", pa.date32(), "Date of the opening balance."),
            _f("closing_date", pa.date32(), "Date of the closing balance."),
            _f("entries_total", MONEY, "Signed sum of the statement's booked entries."),
            _f("reconciled", pa.bool_(), "opening + entries_total == closing; null when a balance is missing."),
            _f("message_type", _STR, "Message type, e.g. camt.053.001.08, MT940, MT942."),
            _f("info", _STR, "Statement-level narrative (e.g. the MT940 :86: after the closing balance)."),
            _f("quality_flags", _STRLIST, "Data-quality flags of the statement, e.g. balance_mismatch."),
            _f("source_ref", _STR, "Place in the source.", False),
        ]
    ),
    "rejects": pa.schema(
        [
            _f("source", _STR, "Adapter format name.", False),
            _f("source_ref", _STR, "file:line or file#XPath of the rejected record.", False),
            _f("table", _STR, "Canonical table the record was meant for.", False),
            _f("reason", _STR, "Why it was rejected (names the field).", False),
            _f("code", _STR, "Reason code, one of followmoney.ingest.reasons.REASONS (e.g. bad_date)."),
            _f("raw", _STR, "The record as read (may contain personal data: it is data)."),
        ]
    ),
    "load_log": pa.schema(
        [
            _f("source_file", _STR, "File name.", False),
            _f("source", _STR, "Adapter format name.", False),
            _f("table", _STR, "Canonical table.", False),
            _f("records_read", pa.int64(), "Records found in the source for this table.", False),
            _f("rows_written", pa.int64(), "Rows written to the table.", False),
            _f("merged", pa.int64(), "Records that repeated an existing row (same id) and were merged into it.", False),
            _f("rejected", pa.int64(), "Records sent to rejects.", False),
            _f("sha256", _STR, "SHA-256 of the source file, so a result can be tied to the exact input."),
        ]
    ),
    "observations": pa.schema(
        [
            _f("txn_id", _STR, "transactions.txn_id of the canonical transaction this source row shows.", False),
            _f("observed_txn_id", _STR, "The source row's own txn_id as read (equal to txn_id for the row kept).", False),
            _f("source", _STR, "Adapter format name of the source row.", False),
            _f("source_ref", _STR, "Place of the source row: file:line or file#XPath.", False),
            _f("source_file", _STR, "File the row was read from."),
            _f("report_id", _STR, "Report or statement the row came from."),
            _f("role", _STR, "kept (the row the canonical transaction was built on) | merged.", False),
            _f("matched_by", _STR, "What joined the row to the payment: uetr | end_to_end_id | bank_reference | debtor_creditor_amount_date | account_amount_date; null when seen once."),
            _f("match_key", _STR, "The value that matched (e.g. 'e2e:<id>/<currency>/<amount>'); no personal data beyond the source's own references."),
        ]
    ),
    "account_aliases": pa.schema(
        [
            _f("source", _STR, "Adapter format name where the reference was seen.", False),
            _f("source_ref", _STR, "Place in the source where the reference was first seen.", False),
            _f("raw", _STR, "The account reference as the adapter wrote it (account_id before consolidation).", False),
            _f("account_id", _STR, "Canonical account_id it stands for.", False),
            _f("rule", _STR, "Rule that joined them: iban | iban_derived | institution_number | header_institution | number_unique | user_alias | as_given.", False),
        ]
    ),
    "alerts": pa.schema(
        [
            _f("alert_id", _STR, "Stable hash of rule, subject and window.", False),
            _f("rule_id", _STR, "Rule id, e.g. ML-05.", False),
            _f("rule_name", _STR, "Short rule name.", False),
            _f("typology", _STR, "Typology family, e.g. structuring, fan_in.", False),
            _f("subject_kind", _STR, "account | party", False),
            _f("subject_id", _STR, "account_id or party_id.", False),
            _f("score", pa.float64(), "0..1, higher is more suspicious (a rank score, not money).", False),
            _f("severity", _STR, "low | medium | high", False),
            _f("window_start", TIMESTAMP, "First evidence transaction time, UTC."),
            _f("window_end", TIMESTAMP, "Last evidence transaction time, UTC."),
            _f("amount_total", MONEY, "Sum of the evidence amounts in `currency`."),
            _f("currency", _STR, "ISO 4217 code of `amount_total`."),
            _f("evidence_count", pa.int64(), "Number of evidence transactions.", False),
            _f("evidence_txn_ids", _STRLIST, "transactions.txn_id of the evidence.", False),
            _f("evidence_source_refs", _STRLIST, "source_ref (file:line or file#XPath) of each evidence transaction; every source row of a consolidated payment (observed_in)."),
            _f("subject_role", _STR, "Likely role of the subject where the pattern shows one: controller | potential_victim."),
            _f("related_subject_ids", _STRLIST, "Subjects the pattern links to this one (a controller's accounts, a victim's controller)."),
            _f("explanation", _STR, "Plain words an analyst can read.", False),
            _f("params", _STR, "JSON of the thresholds used.", False),
            _f("run_id", _STR, "Hash of the inputs' ids and the configuration.", False),
        ]
    ),
}

#: Tables of a :class:`~followmoney.Bundle`, in display order.
TABLES = (
    "transactions",
    "accounts",
    "parties",
    "party_accounts",
    "identifiers",
    "relations",
    "reports",
    "goods",
    "statements",
    "rejects",
    "load_log",
    "observations",
    "account_aliases",
)


def _schema(name: str) -> pa.Schema:
    try:
        return SCHEMAS[name]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; known: {sorted(SCHEMAS)}") from None


def empty(name: str) -> pa.Table:
    """Return an empty table with the canonical schema ``name``.

    Raises
    ------
    SchemaError
        If ``name`` is not a canonical table.
    """
    return _schema(name).empty_table()


def conform(data: pa.Table | Mapping[str, Sequence] | Sequence[Mapping], name: str) -> pa.Table:
    """Build a table with exactly the canonical columns of ``name``, in order.

    Columns missing from ``data`` are filled with nulls; extra columns are kept after
    the canonical ones. Values are cast to the canonical types (strings of decimals
    are exact).

    Parameters
    ----------
    data : pyarrow.Table, mapping of column to values, or list of row dicts
    name : str
        Canonical table name (a key of :data:`SCHEMAS`).

    Returns
    -------
    pyarrow.Table

    Raises
    ------
    SchemaError
        If a value cannot be cast to its canonical type, or a non-nullable column has
        nulls.

    Examples
    --------
    >>> t = conform([{"source": "x", "source_ref": "f:2", "table": "transactions",
    ...               "reason": "bad amount"}], "rejects")
    >>> t.column("raw").null_count
    1
    """
    schema = _schema(name)
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, Mapping):
        table = pa.table(dict(data))
    else:
        rows = list(data)
        # every key of every row: from_pylist alone takes the first row's keys and
        # silently drops columns only later rows have (a director after an entity)
        keys = list(dict.fromkeys(k for r in rows for k in r))
        table = pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in keys}) if rows else pa.table({})
    n = table.num_rows
    shared: dict[pa.DataType, pa.Array] = {}  # one all-null array per type, shared by the columns of that type

    def null_column(typ: pa.DataType) -> pa.Array:
        if typ not in shared:
            shared[typ] = nulls(n, typ)
        return shared[typ]

    arrays = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type) if col.null_count < n or n == 0 else null_column(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaError(f"table {name}: column {field.name}: cannot cast {col.type} to {field.type}: {exc}") from exc
        else:
            col = null_column(field.type)
        if not field.nullable and col.null_count:
            raise SchemaError(f"table {name}: column {field.name} has {col.null_count} null value(s)")
        arrays.append(col)
    extra = [c for c in table.column_names if c not in schema.names]
    fields = list(schema) + [table.schema.field(c) for c in extra]
    arrays += [table.column(c) for c in extra]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def nulls(n: int, type_: pa.DataType) -> pa.Array:
    """``n`` nulls of ``type_`` that take no memory: ``pa.nulls(n, type_)`` over never-written zeros.

    ``pa.nulls`` writes the zeros of its buffers (80 MB for 5 M decimals, 270 MB for the null
    columns of a 5 M-row ``transactions`` table). Here every buffer is a view of one read-only
    NumPy ``zeros`` block, whose pages the system maps lazily: read, they are its shared zero
    page; never written, they are never backed by memory. Fixed-width, string, binary and list
    types; any other type as ``pa.nulls``.

    Parameters
    ----------
    n : int
        Number of values.
    type_ : pyarrow.DataType

    Returns
    -------
    pyarrow.Array

    Examples
    --------
    >>> a = nulls(3, MONEY)
    >>> a.type, a.null_count, a.to_pylist()
    (Decimal128Type(decimal128(18, 3)), 3, [None, None, None])
    """
    children = []
    if pa.types.is_string(type_) or pa.types.is_binary(type_):
        width, extra = 4, 1  # offsets, all 0: every value empty
    elif pa.types.is_list(type_):
        width, extra, children = 4, 1, [pa.array([], type_.value_type)]
    elif pa.types.is_primitive(type_) or pa.types.is_decimal(type_):  # fixed width (booleans: a byte is plenty)
        width, extra = -(-type_.bit_width // 8), 0
    else:
        return pa.nulls(n, type_)
    block = np.zeros(max(width * (n + extra), n // 8 + 1), np.uint8)
    block.flags.writeable = False
    zeros = pa.py_buffer(block)
    buffers = [zeros, zeros] + ([zeros.slice(0, 0)] if not children and extra else [])
    return pa.Array.from_buffers(type_, n, buffers, null_count=n, children=children or None)


def with_nulls(table: pa.Table, columns) -> pa.Table:
    """``table`` with ``columns`` as :func:`nulls`: the same rows and schema, those values let go.

    Parameters
    ----------
    table : pyarrow.Table
    columns : collection of str
        Names of ``table``'s columns to empty; a name it lacks is ignored.

    Returns
    -------
    pyarrow.Table

    Examples
    --------
    >>> t = with_nulls(pa.table({"a": [1, 2], "b": ["x", "y"]}), ["b", "c"])
    >>> t.schema.names, t["a"].to_pylist(), t["b"].to_pylist()
    (['a', 'b'], [1, 2], [None, None])
    """
    n = table.num_rows
    return pa.Table.from_arrays([nulls(n, col.type) if name in columns else col for name, col in zip(table.column_names, table.columns)],
                                schema=table.schema)  # fmt: skip


def validate(table: pa.Table, name: str) -> None:
    """Check that ``table`` has every canonical column of ``name`` with its type.

    Raises
    ------
    SchemaError
        Naming the first missing or mistyped column.
    """
    schema = _schema(name)
    for field in schema:
        if field.name not in table.column_names:
            raise SchemaError(f"table {name}: missing column {field.name}")
        got = table.schema.field(field.name).type
        if got != field.type:
            raise SchemaError(f"table {name}: column {field.name} is {got}, expected {field.type}")
        if not field.nullable and table.column(field.name).null_count:
            raise SchemaError(f"table {name}: column {field.name} has nulls")


def from_cents(cents) -> pa.Array:
    """Integer thousandths of the currency unit -> ``decimal128(18, 3)`` money, exactly.

    The name is historical: the integers are :data:`followmoney.core.units.MONEY_SCALE`
    (1000) per currency unit, so three-decimal currencies are exact.

    Examples
    --------
    >>> from_cents([10500, -1]).to_pylist()
    [Decimal('10.500'), Decimal('-0.001')]
    """
    c = np.ascontiguousarray(np.asarray(cents, dtype=np.int64))
    words = np.empty((len(c), 2), np.int64)  # two's-complement 128-bit words, low then high
    words[:, 0] = c
    words[:, 1] = c >> 63
    return pa.Array.from_buffers(MONEY, len(c), [None, pa.py_buffer(words.tobytes())])


def to_cents(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Convert a money column to ``int64`` thousandths of the currency unit, exactly.

    Nulls stay null. Thousandths (:data:`followmoney.core.units.MONEY_SCALE`) whatever
    the currency: the canonical money type has three decimal places, enough for every
    ISO 4217 minor unit in use, so KWD 1,250.125 is 1250125 and USD 9,500.00 is
    9500000. (The name is historical; compare only values of one currency.)

    Examples
    --------
    >>> import pyarrow as pa
    >>> from decimal import Decimal
    >>> to_cents(pa.array([Decimal("9500.00"), None, Decimal("-0.01"), Decimal("1250.125")], MONEY)).to_pylist()
    [9500000, None, -10, 1250125]
    """
    scaled = pc.multiply(values.cast(MONEY), pa.scalar(Decimal(1000), pa.decimal128(4, 0)))
    return scaled.cast(pa.int64())


def has_flag(flags: pa.ChunkedArray | pa.Array, flag: str) -> pa.Array:
    """Per row of a ``list<string>`` flags column, whether it contains ``flag``.

    Examples
    --------
    >>> has_flag(pa.array([["a", "self_transfer"], [], None]), "self_transfer").to_pylist()
    [True, False, False]
    """
    if isinstance(flags, pa.ChunkedArray):
        flags = flags.combine_chunks()
    hits = pc.is_in(pc.list_flatten(flags), value_set=pa.array([flag]))
    parents = pc.list_parent_indices(flags).to_numpy()
    counts = np.bincount(parents[hits.to_numpy(zero_copy_only=False)], minlength=len(flags))
    return pa.array(counts > 0)
