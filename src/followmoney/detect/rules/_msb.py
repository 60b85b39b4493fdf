"""Licensed money service businesses and banks as payees: remittances are not wages handed over.

A payee is taken as a money service business (MSB) or a bank when a payment to it
carries a merchant category code of money transfer or financial institutions (ISO 18245:
4829 wire transfer / money orders; 6010, 6011 cash disbursements; 6012 financial
institutions; 6051 quasi-cash) or names a licensed remitter as its counterparty
(:data:`REMITTER_NAMES`, matched on words, case-insensitive). Rules that look for a
controller (FL-02, HT-09) or for a pass-through account (ML-04) leave these payees out,
and FL-01 does not count remittances as wages taken: migrant workers sending part of
their pay home through a licensed remitter are the ordinary case (issue 15; the
AMLworld-style remittance decoy, :mod:`followmoney.datasets.amlworld`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["MSB_MCCS", "REMITTER_NAMES", "msb_payees", "is_remittance"]

#: Merchant category codes of money transfer and financial institutions (ISO 18245).
MSB_MCCS = frozenset({"4829", "6010", "6011", "6012", "6051"})
#: Licensed international remitters (company names, not personal data).
REMITTER_NAMES = re.compile(
    r"\b(?:western\s*union|moneygram|remitly|wise|transferwise|ria\s+money|ria\b|xoom|worldremit|sendwave|"
    r"azimo|small\s*world|intermex|xe\s+money|lemfi|taptap\s*send)\b",
    re.I,
)


def is_remittance(frame: pd.DataFrame) -> np.ndarray:
    """Rows of ``frame`` that are payments to a money service business or bank.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rule frame; reads ``merchant_category`` and ``counterparty_name`` where
        present (neither: nothing is a remittance).

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> f = pd.DataFrame({"merchant_category": ["4829", "5411", None],
    ...                   "counterparty_name": [None, None, "WESTERN UNION 123"]})
    >>> is_remittance(f).tolist()
    [True, False, True]
    """
    hit = np.zeros(len(frame), bool)
    if "merchant_category" in frame:
        hit |= frame["merchant_category"].astype("string").isin(MSB_MCCS).fillna(False).to_numpy(bool)
    if "counterparty_name" in frame:
        names = frame["counterparty_name"].astype("string")
        hit |= names.str.contains(REMITTER_NAMES, na=False).to_numpy(bool)
    return hit


def msb_payees(frame: pd.DataFrame) -> set:
    """Receivers (``receiver`` column) of at least one :func:`is_remittance` payment.

    Examples
    --------
    >>> f = pd.DataFrame({"receiver": ["R", "S"], "merchant_category": ["4829", "5411"]})
    >>> sorted(msb_payees(f))
    ['R']
    """
    if "receiver" not in frame or not len(frame):
        return set()
    return set(frame.loc[is_remittance(frame), "receiver"].dropna())
