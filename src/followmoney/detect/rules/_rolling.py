"""Helpers shared by the rule families: findings, thresholds, scores.

The window arithmetic the rules use (keyed range sums, runs, episodes, distinct counts)
lives in :mod:`followmoney.core._timeline`.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from followmoney.core.units import MONEY_SCALE

__all__ = ["make_findings", "margin_score", "threshold_cents"]


def make_findings(
    frame: pd.DataFrame,
    subjects: list,
    evidence_rows: list,
    scores: list,
    facts: list[dict],
    *,
    roles: list | None = None,
    related: list | None = None,
    subject_kind: str = "account",
) -> pd.DataFrame:
    """Assemble a rule's findings from evidence row positions into ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The prepared transaction frame (sorted by t, txn_id).
    subjects : list of str
    evidence_rows : list of array-like of int
        Positional row numbers into ``frame`` per finding.
    scores : list of float
        0..1 per finding.
    facts : list of dict
        Values for the rule's explanation.
    roles, related : list, optional
        The subject's likely role (``controller``, ``potential_victim``) and the ids
        of linked subjects, per finding.

    Returns
    -------
    pandas.DataFrame
        The columns :func:`followmoney.score` expects of a rule.
    """
    cols = ["subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids", "score", "facts", "role", "related_subjects"]
    if not subjects:
        return pd.DataFrame(columns=cols)
    t = frame["t"].to_numpy()
    evidence_rows = [np.unique(np.asarray(rows, dtype=np.int64)) for rows in evidence_rows]  # frame order = (t, txn_id) order
    # the evidence rows' ids only: the whole column as Python text costs seconds and gigabytes at millions of rows
    ids = frame["txn_id"].iloc[np.concatenate(evidence_rows)].to_numpy(object)
    ids = np.split(ids, np.cumsum([len(rows) for rows in evidence_rows])[:-1])
    out = []
    for i, (subj, rows) in enumerate(zip(subjects, evidence_rows)):
        out.append(
            {
                "subject_kind": subject_kind,
                "subject_id": subj,
                "window_start": int(t[rows].min()),
                "window_end": int(t[rows].max()),
                "evidence_txn_ids": ids[i].tolist(),
                "score": float(scores[i]),
                "facts": facts[i],
                "role": roles[i] if roles else None,
                "related_subjects": list(related[i]) if related else [],
            }
        )
    return pd.DataFrame(out, columns=cols)


def threshold_cents(jurisdiction, fraction: float = 1.0) -> int:
    """``fraction`` × the jurisdiction's cash reporting threshold, in integer thousandths, exactly.

    Thousandths of the jurisdiction's currency (:data:`followmoney.core.units.MONEY_SCALE`),
    the unit of the frame's ``amount_cents``: exact for three-decimal currencies (KWD).

    Examples
    --------
    >>> from followmoney.core.config import jurisdictions
    >>> threshold_cents(jurisdictions()["US"], 0.8)
    8000000
    """
    return int((Decimal(str(jurisdiction.cash_threshold)) * MONEY_SCALE * Decimal(str(fraction))).to_integral_value())


def margin_score(observed, threshold) -> np.ndarray:
    """0.5 at the threshold, rising linearly to 1.0 at twice the threshold (indicators.md 8.3).

    Examples
    --------
    >>> margin_score(np.array([3, 4.5, 9]), 3).tolist()
    [0.5, 0.75, 1.0]
    """
    obs = np.asarray(observed, dtype=float)
    margin = (obs - threshold) / threshold if threshold else np.ones_like(obs)
    return np.clip(0.5 + 0.5 * margin, 0.5, 1.0)
