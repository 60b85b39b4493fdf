"""Fan-in (ML-05) and fan-out (ML-06): many distinct counterparties in a short window.

Source: ``shared/reference/indicators.md`` ML-05 / ML-06. AMLSim's fan-in and fan-out
typologies (IBM AMLSim, grade A) and its demo parameters (at least 5 counterparties
within 30 days) give the defaults; the catalogue's stricter expert setting is 10 within
7 days. Both are parameters, set per run in the configuration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from followmoney.rules._registry import Param, Rule, RuleContext, register
from followmoney.rules._windows import episodes

_DAY_US = 86_400_000_000


def _params(what: str) -> tuple[Param, ...]:
    return (
        Param("min_counterparties", int, 5, "count", 2, 10_000, f"Distinct {what} needed within the window."),
        Param("window_days", float, 30.0, "days", 1 / 24, 3660, "Length of the sliding window."),
    )


def _fan(frame: pd.DataFrame, ctx: RuleContext, subject: str, member: str) -> pd.DataFrame:
    f = frame[~frame["self_transfer"]]
    k = ctx.params["min_counterparties"]
    ep = episodes(
        f, subject=subject, member=member, window_us=int(ctx.params["window_days"] * _DAY_US), min_count=k
    )
    if ep.empty:
        return pd.DataFrame()
    ep["subject_kind"] = "account"
    # 0.5 at the threshold, 1.0 at four times the threshold (log scale)
    ep["score"] = np.clip(0.5 + 0.25 * np.log2(ep["peak"] / k), 0.0, 1.0)
    ep["facts"] = [
        {"peak": int(p), "episode_start": s, "episode_end": e}
        for p, s, e in zip(ep["peak"], ep["episode_start"], ep["episode_end"])
    ]
    return ep.rename(columns={"subject": "subject_id", "start": "window_start", "end": "window_end"})


def _day(us: int) -> str:
    return f"{pd.Timestamp(int(us), unit='us', tz='UTC'):%Y-%m-%d}"


def _explain(direction: str):
    def explain(facts: dict, params: dict, jurisdiction) -> str:
        verb, who = ("received money from", "senders") if direction == "in" else ("sent money to", "beneficiaries")
        return (
            f"Account {facts['subject_id']} {verb} {facts['peak']} distinct {who} within {params['window_days']:g} days "
            f"(threshold: at least {params['min_counterparties']} within {params['window_days']:g} days). "
            f"Busiest window {facts['window_start']:%Y-%m-%d} to {facts['window_end']:%Y-%m-%d}: "
            f"{facts['evidence_count']} transactions, {facts['totals']}. "
            f"The count stayed at or above the threshold from {_day(facts['episode_start'])} "
            f"to {_day(facts['episode_end'])}."
        )

    return explain


FAN_IN = register(
    Rule(
        id="ML-05",
        name="Fan-in",
        typology="fan_in",
        description="Many distinct senders pay into one account within a short window (collection / funnel).",
        source="indicators.md ML-05; AMLSim FanInTypology (IBM AMLSim, grade A; demo K=5 in 30 days); IBM AML (C)",
        params=_params("senders"),
        requires=("to_account", "sender"),
        func=lambda frame, ctx: _fan(frame, ctx, "to_account", "sender"),
        explain=_explain("in"),
    )
)

FAN_OUT = register(
    Rule(
        id="ML-06",
        name="Fan-out",
        typology="fan_out",
        description="One account pays many distinct beneficiaries within a short window (distribution / scatter).",
        source="indicators.md ML-06; AMLSim FanOutTypology (IBM AMLSim, grade A; demo K=5 in 30 days)",
        params=_params("beneficiaries"),
        requires=("from_account", "receiver"),
        func=lambda frame, ctx: _fan(frame, ctx, "from_account", "receiver"),
        explain=_explain("out"),
    )
)
