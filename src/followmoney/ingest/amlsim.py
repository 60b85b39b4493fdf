"""AMLSim CSV adapter (IBM AMLSim output: ``transactions.csv`` with ``accounts.csv``).

AMLSim is IBM's labelled synthetic transaction simulator (Apache-2.0). Its output
folder holds ``transactions.csv`` (``tran_id, orig_acct, bene_acct, tx_type,
base_amt, tran_timestamp, is_sar, alert_id``) and companions: ``accounts.csv``
(account master), ``alert_accounts.csv`` / ``alert_transactions.csv`` (the typology
of each SAR alert). Reading ``transactions.csv`` reads the companions found beside it.

Mapping
-------
* ``account_id`` = ``"amlsim/<acct_id>"`` (AMLSim account ids are unique across its
  banks; the bank is kept in ``accounts.institution``).
* ``currency`` = the originating account's ``acct_rptng_crncy`` when ``accounts.csv``
  is present, else ``USD`` (AMLSim's only currency).
* ``is_sar`` → ``is_laundering``; ``alert_id`` (``-1`` = none) → ``label_alert_id``;
  the alert's ``alert_type`` (fan_in, cycle, ...) → ``typology``.
* Timestamps are UTC (AMLSim writes ``...Z``).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.ingest._collect import Collector, ContentIds, InputError, file_digest
from followmoney.core.ids import stable_id
from followmoney.ingest._csv import (
    first_failure, line_refs, parse_money_checked, parse_time, read_rows, reject_bad_rows, reject_rows,
)  # fmt: skip

__all__ = ["FORMAT", "sniff", "is_companion", "companion_needs", "read"]

FORMAT = "amlsim"

_TXN_COLS = ["tran_id", "orig_acct", "bene_acct", "tx_type", "base_amt", "tran_timestamp", "is_sar", "alert_id"]
_COMPANION_HEADERS = (
    b"acct_id,dsply_nm",
    b"alert_id,alert_type,acct_id",
    b"alert_id,alert_type,is_sar,tran_id",
    b"ALERT_ID,ACCOUNT_ID,CUSTOMER_ID",
    b"step,normal,SAR",
)
_CHANNELS = {
    "TRANSFER": "transfer",
    "WIRE": "wire",
    "CHECK": "cheque",
    "CREDIT": "card",
    "DEPOSIT": "cash_deposit",
    "CASH-IN": "cash_deposit",
    "CASH-OUT": "cash_withdrawal",
    "WITHDRAWAL": "cash_withdrawal",
}
_NS = "amlsim/"


def _header(head: bytes) -> bytes:
    return head.split(b"\n", 1)[0].strip().lstrip(b"\xef\xbb\xbf")


def sniff(path: Path, head: bytes) -> bool:
    """True for AMLSim ``transactions.csv`` and its companion files."""
    h = _header(head)
    return h.startswith(b"tran_id,orig_acct,bene_acct") or h.startswith(_COMPANION_HEADERS)


def is_companion(path: Path) -> bool:
    """True for files read alongside ``transactions.csv`` rather than on their own."""
    with open(path, "rb") as fh:
        return _header(fh.read(4096)).startswith(_COMPANION_HEADERS)


def companion_needs(path: Path) -> str | None:
    """For a companion file without ``transactions.csv`` beside it: what it is and what it needs.

    Returns None when ``transactions.csv`` is in the same folder.
    """
    path = Path(path)
    if (path.parent / "transactions.csv").is_file():
        return None
    return (
        "an AMLSim companion file (accounts or alerts, no transactions); it is read together with "
        "transactions.csv in the same folder, which is not there"
    )


def read(path: str | Path, *, currency: str = "USD") -> Bundle:
    """Read an AMLSim ``transactions.csv`` (and ``accounts.csv``, alert files beside it).

    Parameters
    ----------
    path : str or Path
        The transactions file.
    currency : str, default "USD"
        ISO 4217 currency when ``accounts.csv`` is absent.

    Returns
    -------
    Bundle
        ``transactions`` (channel from ``tx_type``, labels in ``is_laundering``,
        ``typology``, ``label_alert_id``), and from ``accounts.csv`` the ``accounts``,
        one holder ``parties`` row per account (the customer display name) and
        ``party_accounts``. Rows with an unparseable amount or time, or a missing
        account, go to ``rejects`` naming the field.

    Raises
    ------
    InputError
        The file is not a readable AMLSim transactions CSV (names the file).

    Examples
    --------
    >>> import followmoney as fm
    >>> b = read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    >>> b.transactions.column("currency")[0].as_py(), b.transactions.column("source")[0].as_py()
    ('USD', 'amlsim')
    """
    path = Path(path)
    folder = path.parent
    parts = []
    acct_currency = None
    if (folder / "accounts.csv").is_file():
        acc_bundle = _read_accounts(folder / "accounts.csv")
        parts.append(acc_bundle)
        acct_currency = dict(
            zip(acc_bundle.accounts["account_id"].to_pylist(), acc_bundle.accounts["currency"].to_pylist())
        )
    typologies = _alert_types(folder)
    parts.insert(0, _read_transactions(path, acct_currency, currency, typologies))
    return Bundle.concat(parts)


def _require(path: Path, table: pa.Table, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(f"{path}: line 1: missing AMLSim column(s) {', '.join(missing)}")


def _alert_types(folder: Path) -> dict[str, str]:
    for name in ("alert_transactions.csv", "alert_accounts.csv"):
        f = folder / name
        if f.is_file():
            t = read_rows(f)[0]
            _require(f, t, ["alert_id", "alert_type"])
            pairs = zip(t["alert_id"].to_pylist(), t["alert_type"].to_pylist())
            return dict(pairs)
    return {}


def _read_transactions(path: Path, acct_currency, default_currency: str, typologies: dict) -> Bundle:
    col = Collector(FORMAT, path)
    raw, lines, bad_rows = read_rows(path)
    _require(path, raw, _TXN_COLS)
    reject_bad_rows(col, "transactions", bad_rows)
    n = raw.num_rows
    refs = line_refs(col.file, lines)
    amount, ok_amt, rounded, fits = parse_money_checked(raw["base_amt"])
    ts, ok_ts = parse_time(raw["tran_timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    ok_from = pc.not_equal(pc.utf8_trim_whitespace(raw["orig_acct"]), "")
    ok_to = pc.not_equal(pc.utf8_trim_whitespace(raw["bene_acct"]), "")
    reason = first_failure(
        [
            (ok_amt, "base_amt: not a decimal amount"),
            (fits, "base_amt: amount out of range (decimal(18,3))"),
            (ok_ts, "tran_timestamp: not YYYY-MM-DDTHH:MM:SSZ"),
            (ok_from, "orig_acct: missing"),
            (ok_to, "bene_acct: missing"),
        ],
        n,
    )
    bad = pc.is_valid(reason)
    col.reject_table("transactions", reject_rows(raw, refs, reason, bad))
    good = pc.invert(bad)
    r = raw.filter(good)
    refs_g = refs.filter(good)
    from_acc = pc.binary_join_element_wise(pa.scalar(_NS), r["orig_acct"], "")
    to_acc = pc.binary_join_element_wise(pa.scalar(_NS), r["bene_acct"], "")
    if acct_currency:
        cur = pa.array([acct_currency.get(a) or default_currency for a in from_acc.to_pylist()], pa.string())
    else:
        cur = pa.array([default_currency] * r.num_rows, pa.string())
    alert = r["alert_id"]
    has_alert = pc.not_equal(alert, "-1")
    typ = pa.array([typologies.get(a) for a in alert.to_pylist()], pa.string())
    tx_type = pc.utf8_upper(r["tx_type"])
    channel = pa.array([_CHANNELS.get(t, "other") for t in tx_type.to_pylist()], pa.string())
    self_tx = pc.equal(from_acc, to_acc)
    flags = pa.array(
        [
            ["self_transfer"] * s + ["amount_rounded"] * rd
            for s, rd in zip(self_tx.to_pylist(), rounded.filter(good).to_pylist())
        ],
        pa.list_(pa.string()),
    )
    # from content: AMLSim's own tran_id (else the row's values), never the file name or line
    ids = ContentIds("T")
    txn_ids = pa.array(
        [
            ids(FORMAT, "ref", t.strip()) if t.strip() else ids(FORMAT, "row", *row)
            for t, *row in zip(*(r[c].to_pylist() for c in _TXN_COLS))
        ],
        pa.string(),
    )
    report_id = stable_id("R", FORMAT, file_digest(path))
    table = pa.table(
        {
            "txn_id": txn_ids,
            "report_id": pa.array([report_id] * r.num_rows, pa.string()),
            "source": pa.array([FORMAT] * r.num_rows, pa.string()),
            "source_ref": refs_g,
            "source_txn_ref": r["tran_id"],
            "timestamp": ts.filter(good),
            "amount": amount.filter(good),
            "currency": cur,
            "from_account": from_acc,
            "to_account": to_acc,
            "channel": channel,
            "description": tx_type,
            "quality_flags": flags,
            "is_laundering": pc.equal(pc.utf8_lower(r["is_sar"]), "true"),
            "typology": pc.if_else(has_alert, typ, pa.scalar(None, pa.string())),
            "label_alert_id": pc.if_else(has_alert, alert, pa.scalar(None, pa.string())),
        }
    )
    col.add_table("transactions", schema.conform(table, "transactions"))
    col.add("reports", {"report_id": report_id, "format": FORMAT, "report_code": "DATASET", "source_file": col.file})
    return col.bundle()


def _read_accounts(path: Path) -> Bundle:
    col = Collector(FORMAT, path)
    raw, lines, bad_rows = read_rows(path)
    _require(path, raw, ["acct_id"])
    reject_bad_rows(col, "accounts", bad_rows)
    n = raw.num_rows
    refs = line_refs(col.file, lines)
    ok = pc.not_equal(pc.utf8_trim_whitespace(raw["acct_id"]), "")
    reason = first_failure([(ok, "acct_id: missing")], n)
    bad = pc.is_valid(reason)
    col.reject_table("accounts", reject_rows(raw, refs, reason, bad))
    good = pc.invert(bad)
    r = raw.filter(good)
    refs_g = refs.filter(good)
    m = r.num_rows

    def opt(name):
        return r[name] if name in r.column_names else pa.nulls(m, pa.string())

    account_id = pc.binary_join_element_wise(pa.scalar(_NS), r["acct_id"], "")
    accounts = pa.table(
        {
            "account_id": account_id,
            "institution": opt("bank_id"),
            "account_number": r["acct_id"],
            "name": opt("dsply_nm"),
            "currency": opt("acct_rptng_crncy"),
            "country": opt("country"),
            "status": opt("acct_stat"),
            "source_ref": refs_g,
        }
    )
    col.add_table("accounts", schema.conform(accounts, "accounts"))
    # the account holder, from content: one party per AMLSim account id
    party_ids = pa.array(ContentIds("P").many((FORMAT, a.strip()) for a in r["acct_id"].to_pylist()), pa.string())
    # type O = organisation, I = individual; absent or anything else: the source does not say
    typ = pc.utf8_upper(pc.utf8_trim_whitespace(opt("type")))
    kind = pc.fill_null(
        pc.if_else(pc.equal(typ, "O"), pa.scalar("entity"), pc.if_else(pc.equal(typ, "I"), pa.scalar("person"), pa.scalar("unknown"))),
        "unknown",
    )
    parties = pa.table(
        {
            "party_id": party_ids,
            "kind": kind,
            "name": opt("dsply_nm"),
            "country": opt("country"),
            "report_id": pa.array([stable_id("R", FORMAT, file_digest(path))] * m, pa.string()),
            "source_ref": refs_g,
        }
    )
    col.add_table("parties", schema.conform(parties, "parties"))
    links = pa.table(
        {
            "party_id": party_ids,
            "account_id": account_id,
            "role": pa.array(["holder"] * m, pa.string()),
            "source_ref": refs_g,
        }
    )
    col.add_table("party_accounts", schema.conform(links, "party_accounts"))
    return col.bundle()
