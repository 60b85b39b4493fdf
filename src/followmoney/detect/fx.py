"""Foreign-currency cash for the cash rules: converted with the user's rate table, or counted.

Cash reporting thresholds are set in the jurisdiction's own currency. Cash in another
currency (AED cash reported to an FIU that counts in USD, euros paid in at a German
branch) is either converted with a dated rate table the user supplies
(:attr:`followmoney.Config.fx_rates`) or left as it is and reported, per currency, as
"not compared with the threshold". Nothing is ever converted with a rate the user did not
give.
"""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

from followmoney.core.config import Config
from followmoney.core.units import MONEY_SCALE, minor_units

__all__ = ["CASH_CHANNELS", "convert_cash"]

#: Channels that are cash for the cash rules' currency handling.
CASH_CHANNELS = ("cash_deposit", "cash_withdrawal", "atm")

_EPOCH = date(1970, 1, 1)


def convert_cash(frame: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame, list[dict]]:
    """Cash rows in other currencies converted into the jurisdiction's, where a rate is given.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`followmoney.core.frame.prepare_transactions` output (``channel``,
        ``currency``, ``amount_cents`` in thousandths, ``local_day``).
    cfg : Config
        The jurisdiction (its currency) and ``fx_rates``: per currency, dated rates in
        units of the jurisdiction's currency per one unit of that currency.

    Returns
    -------
    (frame, notes)
        ``frame`` itself when no row is converted, else a copy in which each converted row has ``currency`` = the
        jurisdiction's, ``amount_cents`` = the amount × the rate in force on its local
        date, rounded half to even to the jurisdiction currency's minor units, and
        ``fx_from_currency`` / ``fx_rate_used`` saying what was done; and the run notes
        (``topic`` ``foreign_cash_converted`` and ``foreign_cash``: counts per currency of
        cash converted, and of cash not compared with the threshold).

    Examples
    --------
    >>> f = pd.DataFrame({"channel": ["cash_deposit"] * 2, "currency": ["AED", "EUR"],
    ...                   "amount_cents": pd.array([54_000_000, 100_000], "Int64"), "local_day": [19_800, 19_800]})
    >>> cfg = Config(jurisdiction="US", fx_rates={"AED": [{"from": "2024-01-01", "rate": "0.2723"}]})
    >>> out, notes = convert_cash(f, cfg)
    >>> out["currency"].tolist(), out["amount_cents"].tolist(), [n["topic"] for n in notes]
    (['USD', 'EUR'], [14704200, 100000], ['foreign_cash_converted', 'foreign_cash'])
    """
    j = cfg.jurisdiction_info
    cash = frame["channel"].isin(CASH_CHANNELS) & frame["currency"].notna() & (frame["currency"] != j.currency)
    if not cash.any():
        return frame, []
    table = cfg.rate_table()
    step = Decimal(1).scaleb(-minor_units(j.currency))
    rows = np.flatnonzero(cash.to_numpy())
    ccys = frame["currency"].iloc[rows].to_numpy(object)  # the cash rows' only: the whole column as Python text is gigabytes
    rated = np.fromiter((bool(table.get(c)) for c in ccys), bool, len(rows))
    left: Counter = Counter(ccys[~rated].tolist())  # no rate for the currency: the common case, counted at once
    converted: Counter = Counter()
    amounts, days = frame["amount_cents"].iloc[rows].to_numpy(object), frame["local_day"].iloc[rows].to_numpy(object)
    done, values = [], []
    for i in np.flatnonzero(rated):
        ccy, amount, rates = ccys[i], amounts[i], table[ccys[i]]
        day = _EPOCH + timedelta(days=int(days[i]))
        k = bisect.bisect_right([d for d, _ in rates], day) - 1
        if k < 0 or pd.isna(amount):
            left[ccy] += 1
            continue
        rate = rates[k][1]
        value = (Decimal(int(amount)) / MONEY_SCALE * rate).quantize(step, rounding=ROUND_HALF_EVEN)
        done.append(rows[i])
        values.append((int(value * MONEY_SCALE), ccy, str(rate)))
        converted[ccy] += 1
    out = frame
    if done:  # a copy only when a row changes
        out = frame.copy()
        out["fx_from_currency"] = pd.Series(None, index=out.index, dtype=object)
        out["fx_rate_used"] = pd.Series(None, index=out.index, dtype=object)
        new_amount, from_ccy, used = zip(*values)
        out.iloc[done, out.columns.get_loc("amount_cents")] = list(new_amount)
        out.iloc[done, out.columns.get_loc("currency")] = j.currency
        out.iloc[done, out.columns.get_loc("fx_from_currency")] = list(from_ccy)
        out.iloc[done, out.columns.get_loc("fx_rate_used")] = list(used)
    return out, cash_notes(converted, left, cfg, rates=bool(table))


def cash_notes(converted: dict, left: dict, cfg, *, rates: bool) -> list[dict]:
    """The run notes of foreign-currency cash, from its counts per currency.

    Parameters
    ----------
    converted, left : dict of str to int
        Cash rows converted with the rate table / left unconverted, per currency (ISO 4217).
    cfg : Config
    rates : bool
        Whether ``cfg`` has a rate table (``cfg.rate_table()`` is not empty): the reason a row was left.

    Returns
    -------
    list of dict
        ``foreign_cash_converted`` and ``foreign_cash`` notes (``topic``, ``counts``, ``note``),
        those with a count; the notes :func:`convert_cash` gives for the same counts, so that
        counts summed over parts of the data give the whole data's notes.

    Examples
    --------
    >>> from followmoney import Config
    >>> [n["note"] for n in cash_notes({}, {"EUR": 2}, Config(jurisdiction="US"), rates=False)]
    ['2 cash transaction(s) not compared with the US threshold (USD): 2 in EUR; no exchange-rate table is configured (fx_rates)']
    """
    j = cfg.jurisdiction_info
    notes = []
    if converted:
        counts = dict(sorted(converted.items()))
        notes.append({
            "topic": "foreign_cash_converted",
            "counts": counts,
            "note": f"{sum(counts.values())} cash transaction(s) converted into {j.currency} with the configured rate table "
                    f"({', '.join(f'{n} in {c}' for c, n in counts.items())}) and compared with the {j.code} threshold",
        })  # fmt: skip
    if left:
        counts = dict(sorted(left.items()))
        listed = ", ".join(f"{n} in {c}" for c, n in counts.items())
        why = "no rate for their date in the rate table" if rates else "no exchange-rate table is configured (fx_rates)"
        notes.append({
            "topic": "foreign_cash",
            "counts": counts,
            "note": f"{sum(counts.values())} cash transaction(s) not compared with the {j.code} threshold ({j.currency}): {listed}; {why}",
        })  # fmt: skip
    return notes
