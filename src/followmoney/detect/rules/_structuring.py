"""Structuring (ML-01): repeated cash deposits kept just below the reporting threshold.

Source: ``shared/reference/indicators.md`` ML-01, variant (b): at least ``N`` cash
transactions within ``D`` days, each in the band ``[θ·T, T)`` below the jurisdiction's
cash reporting threshold ``T`` (FinCEN 2014 and 2020 human-trafficking advisories:
deposits kept below reporting thresholds; 31 CFR 1010.313 aggregation; AML/CTF Act
2006 s142). ``T``, its currency and comparator come from the jurisdiction
configuration, never from code: where the law reports amounts *above* ``T`` (US:
"> 10,000") the unreported band includes ``T`` itself, where it reports amounts *at
or above* ``T`` (AU: ">= 10,000") it stops just below ``T``. Only transactions in the
threshold's currency are assessed; amounts are never converted.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from followmoney.detect.rules.catalogue import catalogued
from followmoney.detect.rules._registry import RuleContext, register
from followmoney.core.units import DAY_US
from followmoney.detect.rules._rolling import threshold_cents
from followmoney.core._timeline import episodes



def _band_cents(ctx: RuleContext) -> tuple[int, int, bool]:
    j = ctx.jurisdiction
    return threshold_cents(j, ctx.params["band_fraction"]), threshold_cents(j), j.comparator == ">"


def _structuring(frame: pd.DataFrame, ctx: RuleContext) -> pd.DataFrame:
    low, high, include_high = _band_cents(ctx)
    cur = ctx.jurisdiction.currency
    amt = frame["amount_cents"]
    in_band = (amt >= low) & ((amt <= high) if include_high else (amt < high))
    parts = []
    for channel, subject in (("cash_deposit", "to_account"), ("cash_withdrawal", "from_account")):
        sel = frame[(frame["channel"] == channel) & (frame["currency"] == cur) & in_band.fillna(False)]
        ep = episodes(
            sel,
            subject=subject,
            window_us=int(ctx.params["window_days"] * DAY_US),
            min_count=ctx.params["min_transactions"],
        )
        if not ep.empty:
            ep["facts"] = [{"peak": int(p), "channel": channel.replace("_", " ") + "s"} for p in ep["peak"]]
            parts.append(ep)
    if not parts:
        return pd.DataFrame()
    ep = pd.concat(parts, ignore_index=True)
    ep["subject_kind"] = "account"
    ep["score"] = np.minimum(1.0, 0.5 + 0.1 * (ep["peak"] - ctx.params["min_transactions"]))
    return ep.rename(columns={"subject": "subject_id", "start": "window_start", "end": "window_end"})


def _explain(facts: dict, params: dict, j) -> str:
    band_low = j.cash_threshold * Decimal(str(params["band_fraction"]))
    upper = "up to and including" if j.comparator == ">" else "just below"
    return (
        f"Account {facts['subject_id']}: {facts['peak']} {facts['channel']} within {params['window_days']:g} days, each "
        f"between {j.currency} {band_low:,.2f} and {upper} the {j.report} threshold of {j.currency} "
        f"{j.cash_threshold:,.2f} ({j.name}; {j.source}). Rule: at least {params['min_transactions']} such "
        f"transactions within {params['window_days']:g} days. Between {facts['window_start']:%Y-%m-%d} and "
        f"{facts['window_end']:%Y-%m-%d}: {facts['evidence_count']} transactions, {facts['totals']}."
    )


STRUCTURING = register(
    catalogued(
        "ML-01",
        requires=("channel", "amount_cents", "currency"),
        func=_structuring,
        partition="account",  # episodes per depositing / withdrawing account, no whole-data statistic
        explain=_explain,
    )
)
