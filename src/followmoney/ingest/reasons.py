"""The fixed vocabulary of reject reason codes, in one place.

Every ``rejects`` row carries a ``code`` from :data:`REASONS` beside its free-text
``reason`` (which names the field, e.g. ``base_amt: not a decimal amount``). Codes are
what a user filters or counts on ("how many rows were rejected for a bad date?"); the
reason text is for reading one row.

Adapters pass a code when they reject a record; where they give only a reason text,
:func:`classify` derives the code from it (first problem of a ``;``-joined reason).

Examples
--------
>>> classify("base_amt: not a decimal amount")
'bad_amount'
>>> classify("row 2, has 6 fields, the header has 13; column Betrag: missing amount")
'short_row'
>>> sorted(REASONS)[:3]
['amount_out_of_range', 'bad_amount', 'bad_date']
"""

from __future__ import annotations

import re

__all__ = ["REASONS", "classify", "check"]

#: Reason code -> what it means. The only codes that appear in ``rejects.code``.
REASONS: dict[str, str] = {
    "short_row": "A CSV row with fewer fields than the header, lacking a field the record needs.",
    "long_row": "A CSV row with more (non-empty) fields than the header.",
    "bad_amount": "An amount that is not a decimal number in the format the source uses.",
    "amount_out_of_range": (
        "An amount beyond the storage range decimal(18, 3): 10^15 or more in absolute value "
        "(no real payment comes near; it is a data error or an attack on the loader)."
    ),
    "bad_date": "A date or timestamp that cannot be parsed or lies outside years 1-9999.",
    "missing_field": "A field the record cannot do without is empty or absent (an account, an amount, a date).",
    "placeholder": "A placeholder (e.g. 'string', 'N/A', 'XXX') where a value was required.",
    "bad_value": "A coded value outside its list (e.g. CdtDbtInd other than CRDT/DBIT).",
    "misplaced_element": (
        "A record outside the structure its format defines: a nested or repeated message, statement, "
        "activity block or transaction, or a line outside any statement."
    ),
    "unsupported": "A record of a kind the adapter does not read (e.g. a FinCEN form type it does not support).",
    "empty_record": "A record with no content at all (an empty detail, an empty row with only separators).",
    "invalid_record": "Any other record that cannot be read; the reason text names the field.",
}

_RULES: tuple[tuple[str, str], ...] = (
    (r"fields, the header has|expected \d+ (fields|columns)", "_row"),
    (r"outside (a|any|the)|nested|repeated|misplaced", "misplaced_element"),
    (r"placeholder", "placeholder"),
    (r"not supported|unsupported", "unsupported"),
    (r"empty detail|empty record|empty row", "empty_record"),
    (r"(amount|amt|betrag|base_amt|total).*(does not fit|out of range|beyond|too large)|does not fit decimal", "amount_out_of_range"),
    (r"date|time|dttm|dt\b|:61:.*(value|entry) date", "bad_date"),
    (r"missing|empty|absent", "missing_field"),
    (r"amount|amt|decimal|betrag|money|soll|haben", "bad_amount"),
    (r"cdtdbtind|mark|code|indicator|direction|sign", "bad_value"),
)
_ROW_RE = re.compile(r"has (\d+) fields, the header has (\d+)")


def classify(reason: str) -> str:
    """The code of :data:`REASONS` for a reject reason text (its first ``;``-separated problem).

    Parameters
    ----------
    reason : str
        The reason as written in ``rejects.reason``.

    Returns
    -------
    str
        A key of :data:`REASONS`; ``invalid_record`` when nothing more specific applies.
    """
    first = (reason or "").split(";")[0].lower()
    for pattern, code in _RULES:
        if re.search(pattern, first):
            if code == "_row":
                m = _ROW_RE.search(first)
                return "long_row" if m and int(m.group(1)) > int(m.group(2)) else "short_row"
            return code
    return "invalid_record"


def check(code: str) -> str:
    """Return ``code`` when it is in :data:`REASONS`; raise ``ValueError`` otherwise (a programming error)."""
    if code not in REASONS:
        raise ValueError(f"unknown reject reason code {code!r}; known: {', '.join(sorted(REASONS))}")
    return code
