"""One picture across sources: the same account and payment, wherever they are reported.

An FIU's case arrives as many files: goAML STRs from several reporting entities,
camt.053 and MT940 statements answering production orders, bank CSV exports, wire
messages (pacs.008, pain.001, MT103). The same accounts and payments appear in several
of them under different ids. :func:`consolidate` is the step between reading and
scoring, and :func:`read` (what ``fm.read`` does) runs it after
:func:`followmoney.ingest.read`::

    bundle = fm.read(paths)                       # one account id per account, one row per payment
    raw = fm.read(paths, consolidate=False)       # every source row, as read
    bundle = fm.consolidate(raw, aliases=...)     # the same step, with its options

It runs two steps, each usable alone:

* :func:`canonical_accounts`: one canonical account id per real account (valid IBAN,
  derived IBAN, institution + number, ...); ``account_aliases`` lists every raw
  reference with its canonical id and the rule that joined them.
* :func:`payments`: the same payment from several sources becomes one transaction;
  ``observations`` keeps every source row with its ``source_ref`` and what matched it.

Consolidating a consolidated bundle again changes nothing unless there is something new
to join (rows of another read, user aliases). Reconciliation after both: transaction records read = canonical transactions + merged
(duplicate deliveries at read, joined observations here) + rejected, per file
(:meth:`followmoney.Bundle.reconcile`, :func:`reconcile_observations`).

Examples
--------
>>> import followmoney as fm
>>> raw = fm.read(fm.sample_data_path() / "goaml", consolidate=False)
>>> one = fm.consolidate(raw)
>>> one.observations.num_rows == raw.transactions.num_rows
True
>>> one.reconcile()
"""

from __future__ import annotations

from pathlib import Path

from followmoney.consolidate._accounts import (
    REAL_WORLD_SOURCES,
    canonical_accounts,
    institution_key,
    normalize_number,
    read_aliases,
    valid_iban,
)
from followmoney.consolidate._payments import CONSOLIDATION_COLUMNS, DATE_TOLERANCE_DAYS, consolidate_payments
from followmoney.core.bundle import Bundle
from followmoney.core.frame import in_time_order
from followmoney.core.memory import release_unused
from followmoney.ingest import read as read_sources

__all__ = [
    "read",
    "consolidate",
    "canonical_accounts",
    "payments",
    "read_aliases",
    "reconcile_observations",
    "normalize_number",
    "valid_iban",
    "institution_key",
    "REAL_WORLD_SOURCES",
    "CONSOLIDATION_COLUMNS",
    "DATE_TOLERANCE_DAYS",
]


def payments(bundle: Bundle, *, date_tolerance_days: int = DATE_TOLERANCE_DAYS) -> Bundle:
    """Join the rows of ``bundle.transactions`` that show the same payment.

    The payment step of :func:`consolidate` alone (rules in
    :mod:`followmoney.consolidate._payments`: UETR, end-to-end id, bank reference, then
    debtor + creditor + amount + currency + value date within ``date_tolerance_days``).
    Rows of one file are never joined.

    Parameters
    ----------
    bundle : Bundle
        See :func:`consolidate_payments` for the columns read.
    date_tolerance_days : int, default 2

    Returns
    -------
    Bundle
        One ``transactions`` row per payment, ``observations`` filled, ``load_log``
        counting joined rows as ``merged``.

    Raises
    ------
    followmoney.exceptions.ParameterError
        If ``date_tolerance_days`` is negative.

    Examples
    --------
    A pacs.008 and the sender's and receiver's camt.053 lines of one wire:

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
    return consolidate_payments(bundle, date_tolerance_days=date_tolerance_days)


def read(
    paths,
    format: str = "auto",
    *,
    progress: bool | None = None,
    consolidate: bool = True,
    aliases: dict[str, str] | str | Path | None = None,
    date_tolerance_days: int = DATE_TOLERANCE_DAYS,
    errors: list | None = None,
    **options,
) -> Bundle:
    """Read source files into one consolidated :class:`~followmoney.Bundle` (``fm.read``).

    Parameters
    ----------
    paths, format, progress, errors, client, **options
        As :func:`followmoney.ingest.read` (``client``: read the files on a Dask cluster,
        the consolidation runs here; ``mapping``, ``profile`` and the adapters' options
        among ``options``).
    consolidate : bool, default True
        Make one picture (:func:`consolidate`): one canonical id per account, and the
        rows that show one payment in several files (a pacs.008 or MT103, the sender's
        and the receiver's statements, an STR: same UETR, end-to-end id, bank reference,
        or accounts, amount and date) joined into one transaction; the rows joined away
        count as ``merged`` in the load log. ``False`` keeps every source row as read.
    aliases : dict or path, optional
        User account aliases for :func:`consolidate`.
    date_tolerance_days : int, default 2
        As :func:`consolidate`.

    Returns
    -------
    Bundle
        Reconciled: records read = rows written + merged + rejected per file and table.

    Raises
    ------
    followmoney.exceptions.InputError
        As :func:`followmoney.ingest.read`; or if the alias file cannot be read.
    followmoney.exceptions.ParameterError
        If ``date_tolerance_days`` is negative.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> b.summary()["transactions"] > 0, b.observations.num_rows == b.transactions.num_rows
    (True, True)
    """
    if not consolidate:
        return read_sources(paths, format=format, progress=progress, errors=errors, **options)
    # passed on, not held here: consolidation lets the tables as read go once it has made its own
    # (at 5 M IBM rows the read's peak fell by 0.4 GB)
    return _released(_consolidate(_released(read_sources(paths, format=format, progress=progress, errors=errors, **options)),
                                  aliases=aliases, date_tolerance_days=date_tolerance_days))  # fmt: skip


def _released(bundle: Bundle) -> Bundle:
    """``bundle``, after the temporaries that made it went back to the system, the C heap's too
    (:func:`~followmoney.core.memory.release_unused`): the readers' before consolidation adds its own,
    and consolidation's before scoring."""
    release_unused(heap=True)
    return bundle


def consolidate(
    bundle: Bundle,
    *,
    aliases: dict[str, str] | str | Path | None = None,
    date_tolerance_days: int = DATE_TOLERANCE_DAYS,
) -> Bundle:
    """Make one picture of a multi-source bundle: canonical accounts, then one row per payment.

    Parameters
    ----------
    bundle : Bundle
        As returned by :func:`followmoney.read` (any mix of formats).
    aliases : dict or path, optional
        User account aliases (raw id or account number -> canonical id), or a TOML/CSV
        file of them (:func:`read_aliases`), for bank-specific conventions.
    date_tolerance_days : int, default 2
        Largest difference in days between two sources' dates of one payment when it is
        matched by debtor + creditor + amount + currency (module
        :mod:`followmoney.consolidate._payments` gives the source of the default).

    Returns
    -------
    Bundle
        A new bundle; ``account_aliases`` and ``observations`` filled; reconciled; its
        ``transactions`` in time order (:func:`followmoney.core.frame.in_time_order`).

    Raises
    ------
    followmoney.exceptions.InputError
        If the alias file cannot be read.
    followmoney.exceptions.ParameterError
        If ``date_tolerance_days`` is negative.
    followmoney.exceptions.ReconciliationError
        If the result does not reconcile (a bug: please report it).
    """
    if aliases is not None and not isinstance(aliases, dict):
        aliases = read_aliases(aliases)
    out = canonical_accounts(bundle, aliases)
    del bundle  # the caller's, unless it holds it too: its columns the new tables do not share can go
    # in time order before the observations are made, so that they share the ordered text; the frame
    # the rules run on then shares it too (core.frame.in_time_order); merged rows may break the order
    out.transactions = in_time_order(out.transactions)
    release_unused()  # the table in file order, where nothing holds it any more
    out = consolidate_payments(out, date_tolerance_days=date_tolerance_days)
    out.transactions = in_time_order(out.transactions)
    out.reconcile()
    return out


_consolidate = consolidate  # read() has a parameter of that name


def reconcile_observations(bundle: Bundle) -> dict[str, int]:
    """Transaction records read = canonical transactions + merged + rejected, in numbers.

    Parameters
    ----------
    bundle : Bundle
        A consolidated bundle (its ``load_log`` and ``transactions``).

    Returns
    -------
    dict
        ``read``, ``canonical``, ``merged`` (duplicate deliveries and joined
        observations), ``rejected`` and ``balanced`` (bool).

    Examples
    --------
    >>> import followmoney as fm
    >>> r = reconcile_observations(fm.read(fm.sample_data_path() / "goaml"))
    >>> r["balanced"], r["read"] == r["canonical"] + r["merged"] + r["rejected"]
    (True, True)
    """
    log = [r for r in bundle.load_log.to_pylist() if r["table"] == "transactions"]
    read = sum(r["records_read"] for r in log)
    merged = sum(r["merged"] for r in log)
    rejected = sum(r["rejected"] for r in log)
    canonical = bundle.transactions.num_rows
    return {"read": read, "canonical": canonical, "merged": merged, "rejected": rejected, "balanced": read == canonical + merged + rejected}
