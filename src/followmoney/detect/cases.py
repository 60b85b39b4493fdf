"""Cases: one prioritised case per subject with all its rule hits, and re-alert
suppression across nightly runs.

Given the bundle, a case is per **resolved subject**: every alert on any account,
party mention or identifier of one person or entity (as :func:`followmoney.resolve`
clusters them; an account belongs to the one cluster holding it) rolls into one case
that lists its accounts and mentions. Without the bundle, a case is per alert subject.

Risk score (0–1, higher is more urgent, never reaching 1), documented so an analyst can
recompute it:

1. each alert's ``score`` s (0.5 at its rule's threshold, rising to 1) is multiplied
   by its rule's weight w_rule: 0.5 for context-only rules (ML-13, ML-15, ML-20,
   indicators.md section 8.3: "context-only rules 0.15–0.25" relative to the strongest
   HT rules at 0.5–0.6), 1.0 otherwise, and by :data:`HIT_SCALE` (0.95), so that no
   single hit reaches 1;
2. the subject's weighted hits h_i, strongest first, are combined with a
   p-series-weighted noisy-OR: ``base = 1 − Π (1 − h_i / i^1.5)``, so one strong hit
   counts almost fully and many weak hits add up without growing without bound (the
   p-series idea of indicators.md 8.3);
3. more evidence always raises the score, never to 1: the remaining distance
   ``1 − risk`` is multiplied by 0.5 when hits come from two or more families (ML
   laundering vs HT/FL/HS trafficking, smuggling, labour: corroboration), by
   ``1 / (1 + log10(1 + M) / 100)`` for M the largest evidence total of one currency
   in major units (more money), and by ``1 / (1 + 0.1 L)`` for L linked subjects
   (controlled, controlling or connected as director/signatory/holder);
4. a controller ranks above the potential victims it controls: where a victim's risk
   r_v is not below its controller's, the controller's becomes ``r_v + (1 − r_v) / 2``.

So the risk is strictly increasing in evidence (more rules, more money, more linked
subjects) and a cap never ties cases. Bands (indicators.md 8.3): below 0.4
``monitor``, 0.4–0.7 ``review``, 0.7–0.9 ``priority``, 0.9 and above ``urgent``. A case
is labelled human trafficking only when an HT, FL or HS rule fired.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from followmoney.core.bundle import Bundle
from followmoney.core.ids import stable_id

__all__ = ["build_cases", "resolved_subjects", "suppress_repeats", "CASES_SCHEMA", "RULE_WEIGHT", "BANDS", "HIT_SCALE"]

#: Weight of a rule's hits in the case score; rules not listed weigh 1.0.
RULE_WEIGHT = {"ML-13": 0.5, "ML-15": 0.5, "ML-20": 0.5}
#: Factor on every weighted hit, so that one hit never reaches 1 and more evidence can still add.
HIT_SCALE = 0.95
#: Roles on an account that connect a person's case to the account holder's (a company's).
LINK_ROLES = ("director", "signatory", "beneficial_owner", "controller", "holder")
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
        pa.field("subject_name", pa.string()),  # resolved subjects: the name most often written
        pa.field("accounts", pa.list_(pa.string()), nullable=False),  # the subject's accounts (alerted or held)
        pa.field("parties", pa.list_(pa.string()), nullable=False),  # party mentions of the subject
        pa.field("alert_subjects", pa.list_(pa.string()), nullable=False),  # the alerts' own subject ids
        pa.field("linked_subjects", pa.list_(pa.string()), nullable=False),  # directors, signatories, holders: the other side's subject
    ]
)

_FAMILY = {"ML": "laundering", "HT": "trafficking", "FL": "trafficking", "HS": "smuggling"}
_HT = ("HT-", "FL-", "HS-")


def _band(x: float) -> str:
    return next(name for edge, name in BANDS if x >= edge)


def resolved_subjects(bundle: Bundle, resolution=None) -> dict:
    """Who is who: alert subject -> resolved subject, with each subject's accounts and links.

    Parameters
    ----------
    bundle : Bundle
        Reads ``parties`` (``party_id``, ``name``), ``party_accounts`` (``party_id``,
        ``account_id``, ``role``).
    resolution : followmoney.resolve.Resolution, optional
        Default: :func:`followmoney.resolve` of ``bundle``.

    Returns
    -------
    dict
        ``of`` (alert subject id -> (kind, resolved id)), ``accounts`` and ``parties``
        (resolved id -> sorted lists), ``names`` (resolved id -> name), ``links``
        (resolved id -> set of resolved ids connected by :data:`LINK_ROLES`).
    """
    from followmoney.resolve import resolve

    res = resolution if resolution is not None else resolve(bundle)
    pc_ = res.party_clusters
    cluster = dict(zip(pc_["party_id"].to_pylist(), pc_["cluster_id"].to_pylist()))
    kinds = dict(zip(pc_["cluster_id"].to_pylist(), pc_["kind"].to_pylist()))
    of: dict[str, tuple[str, str]] = {p: (kinds.get(c) or "party", c) for p, c in cluster.items()}
    parties: dict[str, set] = {}
    for p, c in cluster.items():
        parties.setdefault(c, set()).add(p)
    names: dict[str, dict] = {}
    for p, n in zip(bundle.parties["party_id"].to_pylist(), bundle.parties["name"].to_pylist()):
        if n and p in cluster:
            d = names.setdefault(cluster[p], {})
            d[n] = d.get(n, 0) + 1
    holders: dict[str, set] = {}
    roles: dict[str, list] = {}
    for p, a, r in zip(*(bundle.party_accounts[c].to_pylist() for c in ("party_id", "account_id", "role"))):
        c = cluster.get(p)
        if c is None:
            continue
        if r == "holder":
            holders.setdefault(a, set()).add(c)
        roles.setdefault(a, []).append((c, r))
    accounts: dict[str, set] = {}
    for a, cs in holders.items():
        if len(cs) == 1:  # joint accounts stay their own subject
            (c,) = cs
            of[a] = (kinds.get(c) or "party", c)
            accounts.setdefault(c, set()).add(a)
    links: dict[str, set] = {}
    for a, pairs in roles.items():
        owners = holders.get(a, set())
        for c, r in pairs:
            if r in LINK_ROLES:
                for o in owners:
                    if o != c:
                        links.setdefault(o, set()).add(c)
                        links.setdefault(c, set()).add(o)
    return {
        "of": of,
        "accounts": {c: sorted(v) for c, v in accounts.items()},
        "parties": {c: sorted(v) for c, v in parties.items()},
        "names": {c: max(sorted(d), key=lambda n: d[n]) for c, d in names.items()},
        "links": links,
    }


def build_cases(alerts: pa.Table, bundle: Bundle | None = None, *, resolution=None) -> pa.Table:
    """Roll alerts up into one prioritised case per subject (resolved subject when given the bundle).

    Parameters
    ----------
    alerts : pyarrow.Table
        Output of :func:`followmoney.score` (columns ``alert_id, rule_id, typology,
        subject_kind, subject_id, score, window_start, window_end, amount_total,
        currency, evidence_txn_ids, explanation, subject_role, related_subject_ids,
        run_id``).
    bundle : Bundle, optional
        The bundle the alerts were scored on: alerts on every account and mention of
        one resolved person or entity become one case (:func:`resolved_subjects`).
    resolution : followmoney.resolve.Resolution, optional
        A resolution of ``bundle`` already computed.

    Returns
    -------
    pyarrow.Table
        :data:`CASES_SCHEMA`, sorted by ``risk_score`` descending then ``case_id``
        (risk score: module notes). ``role`` is ``controller`` or ``potential_victim``
        when a rule saw that pattern (a controller role wins over a victim role), else
        ``subject``; ``controls`` / ``controlled_by`` link the cases of a controller
        and its potential victims (by case subject id), so analysts can filter by role
        and follow the links. A resolved subject's ``subject_kind`` is ``person``,
        ``entity`` or ``unknown``, its ``subject_id`` the cluster id, and ``accounts``
        lists its accounts.

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
    who = resolved_subjects(bundle, resolution) if bundle is not None else None
    a = alerts.to_pandas()
    if who is not None:
        of = who["of"]
        mapped = [of.get(s) for s in a["subject_id"]]
        a["case_kind"] = [m[0] if m else k for m, k in zip(mapped, a["subject_kind"])]
        a["case_subject"] = [m[1] if m else s for m, s in zip(mapped, a["subject_id"])]
        to_case = lambda x: of[x][1] if x in of else x  # noqa: E731
    else:
        a["case_kind"], a["case_subject"] = a["subject_kind"], a["subject_id"]
        to_case = lambda x: x  # noqa: E731
    a["weighted"] = a["score"] * a["rule_id"].map(RULE_WEIGHT).fillna(1.0) * HIT_SCALE
    a = a.sort_values(["case_kind", "case_subject", "weighted", "alert_id"], ascending=[True, True, False, True])
    # one case per (kind, subject) group, in key order; the groups' rows are walked as plain lists (a
    # pandas group object per case costs more than the case itself)
    groups = a.groupby(["case_kind", "case_subject"], sort=True)
    code = groups.ngroup().to_numpy()
    pos = np.argsort(code, kind="stable")
    pos = pos[code[pos] >= 0]  # rows whose key is null form no case, as groupby drops them
    bounds = np.flatnonzero(np.r_[True, np.diff(code[pos]) != 0, True]).tolist()
    col = {c: a[c].take(pos).tolist() for c in ("case_kind", "case_subject", "rule_id", "subject_role", "related_subject_ids", "evidence_txn_ids",
                                                "subject_id", "subject_kind", "typology", "alert_id", "explanation", "run_id")}  # fmt: skip
    money_of = list(zip(a["amount_total"].take(pos).tolist(), a["currency"].take(pos).tolist())) if "amount_total" in a else []
    weighted = a["weighted"].to_numpy()[pos]
    first_start = groups["window_start"].min().tolist()
    last_end = groups["window_end"].max().tolist()
    rows = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        kind, subject = col["case_kind"][lo], col["case_subject"][lo]
        g = {c: v[lo:hi] for c, v in col.items()}
        h = weighted[lo:hi]
        risk = 1.0 - float(np.prod(1.0 - h / np.arange(1, len(h) + 1) ** 1.5))
        families = {_FAMILY.get(r[:2], "other") for r in g["rule_id"]}
        roles = set(g["subject_role"])
        role = "controller" if "controller" in roles else "potential_victim" if "potential_victim" in roles else "subject"
        related = sorted({to_case(x) for rel in g["related_subject_ids"] for x in (rel if rel is not None else [])} - {subject})
        controls = sorted({to_case(x) for rel, r in zip(g["related_subject_ids"], g["subject_role"]) if r == "controller" for x in rel} - {subject})
        controlled_by = sorted({to_case(x) for rel, r in zip(g["related_subject_ids"], g["subject_role"]) if r == "potential_victim" for x in rel}
                               - {subject})  # fmt: skip
        linked = sorted((who["links"].get(subject, set()) if who else set()) - {subject})
        money = 0.0
        for amt, cur in money_of[lo:hi]:
            if amt is not None and not pd.isna(amt) and cur:
                money = max(money, float(amt))
        remaining = 1.0 - risk
        if len(families) >= 2:
            remaining *= 0.5
        remaining /= 1.0 + np.log10(1.0 + money) / 100.0
        remaining /= 1.0 + 0.1 * len(set(related) | set(controls) | set(controlled_by) | set(linked))
        risk = 1.0 - remaining
        rules = list(dict.fromkeys(g["rule_id"]))
        evidence = {t for ev in g["evidence_txn_ids"] for t in ev}
        own = list(dict.fromkeys(g["subject_id"]))
        accounts = sorted(set(who["accounts"].get(subject, [])) | {s for s, k in zip(g["subject_id"], g["subject_kind"]) if k == "account"}) if who else [s for s, k in zip(g["subject_id"], g["subject_kind"]) if k == "account"][:1]
        parties = who["parties"].get(subject, []) if who else [s for s, k in zip(g["subject_id"], g["subject_kind"]) if k == "party"][:1]
        name = who["names"].get(subject) if who else None
        summary = f"{hi - lo} alert(s) from {len(rules)} rule(s), strongest {g['rule_id'][0]}: {g['explanation'][0]}"
        if len(accounts) > 1:
            summary += f" Accounts: {', '.join(accounts)}."
        if controls:
            summary += f" Appears to control: {', '.join(controls)}."
        if controlled_by:
            summary += f" Likely controlled by: {', '.join(controlled_by)}."
        if linked:
            summary += f" Connected (director, signatory, holder): {', '.join(linked)}."
        rows.append(
            {
                "case_id": stable_id("C", kind, subject),
                "subject_kind": kind,
                "subject_id": subject,
                "role": role,
                "risk_score": risk,
                "band": None,
                "human_trafficking": any(r.startswith(_HT) for r in rules),
                "rules": rules,
                "typologies": list(dict.fromkeys(g["typology"])),
                "n_alerts": hi - lo,
                "alert_ids": g["alert_id"],
                "evidence_count": len(evidence),
                "window_start": _none_if_nat(first_start[i]),
                "window_end": _none_if_nat(last_end[i]),
                "controls": controls,
                "controlled_by": controlled_by or ([] if role != "potential_victim" else related),
                "summary": summary,
                "run_id": g["run_id"][0],
                "subject_name": name,
                "accounts": accounts,
                "parties": parties,
                "alert_subjects": own,
                "linked_subjects": linked,
            }
        )
    # a controller ranks above the potential victims it controls
    by_subject = {r["subject_id"]: r for r in rows}
    for r in sorted(rows, key=lambda r: r["risk_score"]):
        if r["role"] != "controller":
            continue
        top_victim = max((by_subject[v]["risk_score"] for v in r["controls"] if v in by_subject and by_subject[v]["role"] != "controller"), default=None)
        if top_victim is not None and top_victim >= r["risk_score"]:
            r["risk_score"] = top_victim + (1.0 - top_victim) / 2.0
    for r in rows:
        r["band"] = _band(r["risk_score"])
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
