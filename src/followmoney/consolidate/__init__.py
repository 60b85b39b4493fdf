"""Consolidation: one picture from many sources.

The same payment reaches an FIU several times (the payment message, the sender's and
the receiver's statements, an STR); this stage joins such rows into one canonical
transaction and keeps the load log honest (rows joined away count as ``merged``).
It sits between ``ingest`` (which reads each file as it is) and the detectors.

:func:`read` is what ``fm.read`` does: :func:`followmoney.ingest.read` followed by
:func:`payments`.
"""

from __future__ import annotations

from followmoney.core.bundle import Bundle
from followmoney.consolidate._payments import payments
from followmoney.ingest import read as read_sources

__all__ = ["read", "payments"]


def read(paths, format: str = "auto", *, progress: bool | None = None, consolidate: bool = True, errors: list | None = None, **options) -> Bundle:
    """Read source files into one consolidated :class:`~followmoney.Bundle`.

    Parameters
    ----------
    paths, format, progress, errors, client, **options
        As :func:`followmoney.ingest.read` (``client``: read the files on a Dask cluster;
        the consolidation runs here).
    consolidate : bool, default True
        Join the rows that show the same payment in several files (a pacs.008 or MT103
        and the sender's and receiver's statements: same UETR, or same end-to-end id,
        currency and amount) into one transaction (:func:`payments`); the rows joined
        away count as ``merged`` in the load log. ``False`` keeps every source row.

    Returns
    -------
    Bundle
        Reconciled: records read = rows written + merged + rejected per file and table.

    Raises
    ------
    followmoney.exceptions.InputError
        As :func:`followmoney.ingest.read`.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> b.summary()["transactions"] > 0
    True
    """
    bundle = read_sources(paths, format=format, progress=progress, errors=errors, **options)
    if consolidate:
        bundle = payments(bundle)
        bundle.reconcile()
    return bundle
