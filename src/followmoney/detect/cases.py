"""Cases: one prioritised case per subject with all its rule hits, and re-alert
suppression across nightly runs.

Risk score (0–1, higher is more urgent), documented so an analyst can recompute it:

1. each alert's ``score`` s (0.5 at its rule's threshold, rising to 1) is multiplied
   by its rule's weight w_rule: 0.5 for context-only rules (ML-13, ML-15, ML-20,
   indicators.md section 8.3: "context-only rules 0.15–0.25" relative to the strongest
   HT rules at 0.5–0.6), 1.0 otherwise;
2. the subject's weighted hits, strongest first, are combined with a p-series-weighted
   noisy-OR: ``risk = 1 − Π (1 − h_i / i^1.5)``, so one strong hit counts fully and
   many weak hits add up without growing without bound (the p-series idea of
   indicators.md 8.3, kept so that a single hit of 1.0 gives 1.0);
3. corroboration: hits from two or more families (ML laundering vs HT/FL/HS
   trafficking, smuggling, labour) multiply the risk by 1.1, capped at 1.

Bands (indicators.md 8.3): below 0.4 ``monitor``, 0.4–0.7 ``review``, 0.7–0.9
``priority``, above 0.9 ``urgent``. A case is labelled human trafficking only when an
HT, FL or HS rule fired.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from followmoney.core.ids import stable_id

__all__ = ["build_cases", "suppress_repeats", "CASES_SCHEMA", "RULE_WEIGHT", "BANDS"]

#: Weight of a rule's hits in the case score; rules not listed weigh 1.0.
RULE_WEIGHT = {"ML-13": 0.5, "ML-15": 0.5, "ML-20": 0.5}
#: Lower edges of the bands, highest first.
BANDS = ((0.9, "urgent"), (0.7, "priority"), (0.4, "review"), (0.0, "monitor"))

CASES_SCHEMA = pa.schema(
    [
        pa.field("case_id", pa.string(), nullable=False),
        pa.field("subject_kind", pa.string(), nullable=False),
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),  # controller | potential_victim | subject
        pa.field("risk_score", pa.float64(), nullable=False),
        pa.field("band", pa.string(), nullable=False),
        pa.field("human_trafficking", pa.bool_(), nullable=False),
        pa.field("rules", pa.list_(pa.string()), nullable=False),  # strongest first
        pa.field("typologies", pa.list_(pa.string()), nullable=False),
        pa.field("n_alerts", pa.int64(), nullable=False),
        pa.field("alert_ids", pa.list_(pa.string()), nullable=False),
        pa.field("evidence_count", pa.int64(), nullable=False),
        pa.field("window_start", pa.timestamp("us", tz="UTC")),
        pa.field("window_end", pa.timestamp("us", tz="UTC")),
        pa.field("controls", pa.list_(pa.string()), nullable=False),  # for a controller: the subjects it appears to control
        pa.field("controlled_by", pa.list_(pa.string()), nullable=False),  # for a potential victim: the likely controller(s)
        pa.field("summary", pa.string(), nullable=False),
        pa.field("run_id", pa.string()),
    ]
)

_FAMILY = {"ML": "laundering", "HT": "trafficking", "FL": "trafficking", "HS": "smuggling"}
_HT = ("HT-", "FL-", "HS-")


def _band(x: float) -> str:
    return next(name for edge, name in BANDS if x >= edge)


def build_cases(alerts: pa.Table) -> pa.Table:
    """Roll alerts up into one prioritised case per subject.

    Parameters
    ----------
    alerts : pyarrow.Table
        Output of :func:`followmoney.score` (columns ``alert_id, rule_id, typology,
        subject_kind, subject_id, score, window_start, window_end, evidence_txn_ids,
        explanation, subject_role, related_subject_ids, run_id``).

    Returns
    -------
    pyarrow.Table
        :data:`CASES_SCHEMA`, sorted by ``risk_score`` descending then ``case_id``.
        ``role`` is ``controller`` or ``potential_victim`` when a rule saw that
        pattern (a controller role wins over a victim role), else ``subject``;
        ``controls`` / ``controlled_by`` link the cases of a controller and its
        potential victims, so analysts can filter by role and follow the links.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> cases = build_cases(fm.score(b, fm.Config(jurisdiction="AE")))
    >>> top = cases.slice(0, 1).to_pylist()[0]
    >>> top["subject_id"], top["role"], top["band"]
    ('DEXB/1001002001', 'controller', 'urgent')
    """
    if alerts.num_rows == 0:
        return CASES_SCHEMA.empty_table()
    a = alerts.to_pandas()
    a["weighted"] = a["score"] * a["rule_id"].map(RULE_WEIGHT).fillna(1.0)
    a = a.sort_values(["subject_kind", "subject_id", "weighted", "alert_id"], ascending=[True, True, False, True])
    rows = []
    for (kind, subject), g in a.groupby(["subject_kind", "subject_id"], sort=True):
        h = g["weighted"].to_numpy()
        risk = 1.0 - float(np.prod(1.0 - h / np.arange(1, len(h) + 1) ** 1.5))
        families = {_FAMILY.get(r[:2], "other") for r in g["rule_id"]}
        if len(families) >= 2:
            risk = min(1.0, risk * 1.1)
        roles = set(g["subject_role"].dropna())
        role = "controller" if "controller" in roles else "potential_victim" if "potential_victim" in roles else "subject"
        related = sorted({x for rel in g["related_subject_ids"] for x in (rel if rel is not None else [])})
        controlled = g["subject_role"] == "controller"
        controls = sorted({x for rel in g.loc[controlled, "related_subject_ids"] for x in rel})
        victim = g["subject_role"] == "potential_victim"
        controlled_by = sorted({x for rel in g.loc[victim, "related_subject_ids"] for x in rel})
        rules = list(dict.fromkeys(g["rule_id"]))
        evidence = {t for ev in g["evidence_txn_ids"] for t in ev}
        top = g.iloc[0]
        summary = f"{len(g)} alert(s) from {len(rules)} rule(s), strongest {top['rule_id']}: {top['explanation']}"
        if controls:
            summary += f" Appears to control: {', '.join(controls)}."
        if controlled_by:
            summary += f" Likely controlled by: {', '.join(controlled_by)}."
        rows.append(
            {
                "case_id": stable_id("C", kind, subject),
                "subject_kind": kind,
                "subject_id": subject,
                "role": role,
                "risk_score": round(risk, 6),
                "band": _band(risk),
                "human_trafficking": any(r.startswith(_HT) for r in rules),
                "rules": rules,
                "typologies": list(dict.fromkeys(g["typology"])),
                "n_alerts": len(g),
                "alert_ids": g["alert_id"].tolist(),
                "evidence_count": len(evidence),
                "window_start": _none_if_nat(g["window_start"].min()),
                "window_end": _none_if_nat(g["window_end"].max()),
                "controls": controls,
                "controlled_by": controlled_by or ([] if role != "potential_victim" else related),
                "summary": summary,
                "run_id": top["run_id"],
            }
        )
    cases = pa.Table.from_pylist(rows, schema=CASES_SCHEMA)
    return cases.sort_by([("risk_score", "descending"), ("case_id", "ascending")])


def _none_if_nat(x):
    return None if pd.isna(x) else x


def suppress_repeats(alerts: pa.Table, previous: str | Path | pa.Table | None) -> tuple[pa.Table, pa.Table]:
    """Drop alerts the previous run already raised; mark the ones with new evidence as updates.

    An alert repeats a previous one when the previous run had an alert of the same
    rule on the same subject and every evidence transaction of the new alert was in
    the previous run's evidence for that rule and subject. Repeats are not raised
    again; an alert with new evidence is kept with ``status = "update"`` and says what
    is new. Nothing is lost: the suppressed alerts are returned separately.

    Parameters
    ----------
    alerts : pyarrow.Table
        This run's alerts.
    previous : path of the previous run's output directory (with ``alerts.parquet``
        and, if it suppressed alerts itself, ``suppressed_alerts.parquet``), a table of
        previous alerts, or None.

    Returns
    -------
    (alerts, suppressed) : tuple of pyarrow.Table
        ``alerts`` gains ``status`` (``new`` | ``update``) and ``new_evidence_count``.

    Raises
    ------
    FileNotFoundError
        If ``previous`` is a directory without ``alerts.parquet``.
    """
    a = alerts.to_pandas()
    a["status"] = "new"
    a["new_evidence_count"] = a["evidence_count"]
    if previous is not None:
        prev = _previous_alerts(previous)
        if len(prev):
            seen = prev.groupby(["rule_id", "subject_kind", "subject_id"])["evidence_txn_ids"].agg(
                lambda s: {t for ev in s for t in ev}
            )
            key = list(zip(a["rule_id"], a["subject_kind"], a["subject_id"]))
            old = [seen.get(k) for k in key]
            new_counts = [len(set(ev) - o) if o is not None else len(ev) for ev, o in zip(a["evidence_txn_ids"], old)]
            a["new_evidence_count"] = new_counts
            known = np.array([o is not None for o in old])
            repeat = known & (a["new_evidence_count"].to_numpy() == 0)
            update = known & ~repeat
            a.loc[update, "status"] = "update"
            a.loc[update, "explanation"] = [
                f"Update: {n} new evidence transaction(s) since the previous run. {e}"
                for n, e in zip(a.loc[update, "new_evidence_count"], a.loc[update, "explanation"])
            ]
            suppressed = a[repeat]
            a = a[~repeat]
        else:
            suppressed = a.iloc[0:0]
    else:
        suppressed = a.iloc[0:0]
    schema = alerts.schema.append(pa.field("status", pa.string())).append(pa.field("new_evidence_count", pa.int64()))
    return (
        pa.Table.from_pandas(a, schema=schema, preserve_index=False),
        pa.Table.from_pandas(suppressed, schema=schema, preserve_index=False),
    )


def _previous_alerts(previous) -> pd.DataFrame:
    if isinstance(previous, pa.Table):
        return previous.to_pandas()
    d = Path(previous)
    parts = [pq.read_table(d / "alerts.parquet").to_pandas()]
    if (d / "suppressed_alerts.parquet").exists():
        parts.append(pq.read_table(d / "suppressed_alerts.parquet").to_pandas())
    return pd.concat(parts, ignore_index=True)
