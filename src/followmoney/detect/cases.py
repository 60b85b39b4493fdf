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
import pyarrow.compute as pc
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
    col = lambda c: alerts[c].to_pylist()  # noqa: E731
    subject_ids, subject_kinds, rule_ids, alert_ids = col("subject_id"), col("subject_kind"), col("rule_id"), col("alert_id")
    if who is not None:
        of = who["of"]
        mapped = [of.get(s) for s in subject_ids]
        case_kind = [m[0] if m else k for m, k in zip(mapped, subject_kinds)]
        case_subject = [m[1] if m else s for m, s in zip(mapped, subject_ids)]
        to_case = lambda x: of[x][1] if x in of else x  # noqa: E731
    else:
        case_kind, case_subject = subject_kinds, subject_ids
        to_case = lambda x: x  # noqa: E731
    weighted = alerts["score"].to_numpy(zero_copy_only=False) * np.array([RULE_WEIGHT.get(r, 1.0) for r in rule_ids]) * HIT_SCALE
    # one case per (kind, subject), in key order, its alerts strongest first; rows whose key is null form no case
    keys = pd.DataFrame({"kind": case_kind, "subject": case_subject, "weighted": weighted, "alert_id": alert_ids}).dropna(subset=["kind", "subject"])
    pos = keys.sort_values(["kind", "subject", "weighted", "alert_id"], ascending=[True, True, False, True]).index.to_numpy()
    kinds, subjects = [case_kind[i] for i in pos], [case_subject[i] for i in pos]
    bounds = [0] + [j for j in range(1, len(pos)) if kinds[j] != kinds[j - 1] or subjects[j] != subjects[j - 1]] + [len(pos)]
    starts = np.asarray(bounds[:-1], np.int64)
    group = np.full(alerts.num_rows, -1, np.int64)  # each alert's case (-1: none)
    group[pos] = np.repeat(np.arange(len(starts)), np.diff(bounds))
    # risk before corroboration: 1 - prod(1 - h_i / i^1.5) over a case's hits, strongest first
    h = weighted[pos]
    rank = np.arange(len(pos)) - np.repeat(starts, np.diff(bounds)) + 1
    unmet = np.multiply.reduceat(1.0 - h / rank ** 1.5, starts).tolist()
    evidence_count = _distinct_per_group(alerts["evidence_txn_ids"], group, len(starts))
    first_start, last_end = _window_per_group(alerts["window_start"], pos, starts, "min"), _window_per_group(alerts["window_end"], pos, starts, "max")
    firsts = pa.array(pos[starts])
    explanation, run_id = alerts["explanation"].take(firsts).to_pylist(), alerts["run_id"].take(firsts).to_pylist()
    in_order = pa.array(pos)
    ordered = lambda c: alerts[c].take(in_order).to_pylist()  # noqa: E731
    rule, own, own_kind, alert_id = ([v[i] for i in pos] for v in (rule_ids, subject_ids, subject_kinds, alert_ids))
    typology, role_of, related_of = ordered("typology"), ordered("subject_role"), ordered("related_subject_ids")
    money_of = list(zip(ordered("amount_total"), ordered("currency"))) if "amount_total" in alerts.column_names else []
    out: dict[str, list] = {f.name: [] for f in CASES_SCHEMA}
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        kind, subject = kinds[lo], subjects[lo]
        rules_g, roles_g, related_g = rule[lo:hi], role_of[lo:hi], related_of[lo:hi]
        families = {_FAMILY.get(r[:2], "other") for r in rules_g}
        roles = set(roles_g)
        role = "controller" if "controller" in roles else "potential_victim" if "potential_victim" in roles else "subject"
        related = sorted({to_case(x) for rel in related_g for x in (rel if rel is not None else [])} - {subject})
        controls = sorted({to_case(x) for rel, r in zip(related_g, roles_g) if r == "controller" for x in rel} - {subject})
        controlled_by = sorted({to_case(x) for rel, r in zip(related_g, roles_g) if r == "potential_victim" for x in rel} - {subject})
        linked = sorted((who["links"].get(subject, set()) if who else set()) - {subject})
        money = 0.0
        for amt, cur in money_of[lo:hi]:
            if amt is not None and cur:
                money = max(money, float(amt))
        risk = 1.0 - unmet[i]
        remaining = 1.0 - risk
        if len(families) >= 2:
            remaining *= 0.5
        remaining /= 1.0 + np.log10(1.0 + money) / 100.0
        remaining /= 1.0 + 0.1 * len(set(related) | set(controls) | set(controlled_by) | set(linked))
        rules = list(dict.fromkeys(rules_g))
        own_g = own[lo:hi]
        if who:
            accounts = sorted(set(who["accounts"].get(subject, [])) | {s for s, k in zip(own_g, own_kind[lo:hi]) if k == "account"})
            parties = who["parties"].get(subject, [])
        else:
            accounts = [s for s, k in zip(own_g, own_kind[lo:hi]) if k == "account"][:1]
            parties = [s for s, k in zip(own_g, own_kind[lo:hi]) if k == "party"][:1]
        summary = f"{hi - lo} alert(s) from {len(rules)} rule(s), strongest {rules_g[0]}: {explanation[i]}"
        if len(accounts) > 1:
            summary += f" Accounts: {', '.join(accounts)}."
        if controls:
            summary += f" Appears to control: {', '.join(controls)}."
        if controlled_by:
            summary += f" Likely controlled by: {', '.join(controlled_by)}."
        if linked:
            summary += f" Connected (director, signatory, holder): {', '.join(linked)}."
        for name, value in (
            ("case_id", stable_id("C", kind, subject)), ("subject_kind", kind), ("subject_id", subject), ("role", role),
            ("risk_score", 1.0 - remaining), ("human_trafficking", any(r.startswith(_HT) for r in rules)), ("rules", rules),
            ("typologies", list(dict.fromkeys(typology[lo:hi]))), ("n_alerts", hi - lo), ("alert_ids", alert_id[lo:hi]),
            ("controls", controls), ("controlled_by", controlled_by or ([] if role != "potential_victim" else related)),
            ("summary", summary), ("subject_name", who["names"].get(subject) if who else None), ("accounts", accounts),
            ("parties", parties), ("alert_subjects", list(dict.fromkeys(own_g))), ("linked_subjects", linked),
        ):  # fmt: skip
            out[name].append(value)
    # a controller ranks above the potential victims it controls (only controllers change, only victims are read)
    risk, role = out["risk_score"], out["role"]
    by_subject = {s: i for i, s in enumerate(out["subject_id"])}
    for i in [i for i, r in enumerate(role) if r == "controller"]:
        top_victim = max((risk[by_subject[v]] for v in out["controls"][i] if v in by_subject and role[by_subject[v]] != "controller"), default=None)
        if top_victim is not None and top_victim >= risk[i]:
            risk[i] = top_victim + (1.0 - top_victim) / 2.0
    out["band"] = [_band(r) for r in risk]
    out["evidence_count"], out["window_start"], out["window_end"], out["run_id"] = evidence_count, first_start, last_end, run_id
    cases = pa.Table.from_pydict(out, schema=CASES_SCHEMA)
    return cases.sort_by([("risk_score", "descending"), ("case_id", "ascending")])


def _distinct_per_group(lists: pa.ChunkedArray, group: np.ndarray, n: int) -> pa.Array:
    """Number of distinct values (a missing one counts once) in the lists of each group's rows; ``group`` -1: no group."""
    lists = lists.combine_chunks()
    values = pc.dictionary_encode(pc.list_flatten(lists), null_encoding="encode")
    g = group[pc.list_parent_indices(lists).to_numpy()]
    code = values.indices.to_numpy().astype(np.int64)
    pairs = pc.unique(pa.array((g * (len(values.dictionary) + 1) + code)[g >= 0])).to_numpy()  # Arrow's hash: numpy's unique sorts
    return pa.array(np.bincount(pairs // (len(values.dictionary) + 1), minlength=n), pa.int64())


def _window_per_group(times: pa.ChunkedArray, pos: np.ndarray, starts: np.ndarray, how: str) -> pa.Array:
    """Earliest (``how="min"``) or latest (``"max"``) time of each group of rows ``pos[starts[k]:starts[k + 1]]``; null where all are."""
    t = pc.cast(times, pa.int64()).take(pa.array(pos))
    valid = pc.is_valid(t).to_numpy(zero_copy_only=False)
    fill = np.iinfo(np.int64).max if how == "min" else np.iinfo(np.int64).min
    v = pc.fill_null(t, fill).to_numpy()
    agg = (np.minimum if how == "min" else np.maximum).reduceat(v, starts)
    none = np.add.reduceat(valid.astype(np.int64), starts) == 0
    return pa.array(agg, pa.int64(), mask=none).cast(pa.timestamp("us", tz="UTC"))


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
    n = alerts.num_rows
    status = pa.array(["new"] * n, pa.string())
    new_counts = alerts["evidence_count"]
    columns = {name: alerts[name] for name in alerts.column_names}
    repeat = np.zeros(n, bool)
    prev = _previous_alerts(previous) if previous is not None else None
    if prev is not None and len(prev):
        seen = prev.groupby(["rule_id", "subject_kind", "subject_id"])["evidence_txn_ids"].agg(
            lambda s: {t for ev in s for t in ev}
        )
        key = zip(*(alerts[c].to_pylist() for c in ("rule_id", "subject_kind", "subject_id")))
        old = [seen.get(k) for k in key]
        counts = [len(set(ev) - o) if o is not None else len(ev) for ev, o in zip(alerts["evidence_txn_ids"].to_pylist(), old)]
        known = np.array([o is not None for o in old], bool)
        repeat = known & (np.asarray(counts, np.int64) == 0)
        update = known & ~repeat
        new_counts = pa.array(counts, pa.int64())
        status = pa.array(np.where(update, "update", "new").tolist(), pa.string())
        columns["explanation"] = pa.array([f"Update: {c} new evidence transaction(s) since the previous run. {e}" if u else e
                                           for c, e, u in zip(counts, alerts["explanation"].to_pylist(), update.tolist())], pa.string())  # fmt: skip
    schema = alerts.schema.append(pa.field("status", pa.string())).append(pa.field("new_evidence_count", pa.int64()))
    schema = schema.with_metadata(_pandas_metadata(alerts, schema))
    marked = pa.Table.from_arrays([*columns.values(), status, new_counts], schema=schema)
    if not repeat.any():
        return marked, marked.slice(0, 0)
    return marked.filter(pa.array(~repeat)), marked.filter(pa.array(repeat))


def _pandas_metadata(alerts: pa.Table, schema: pa.Schema) -> dict:
    """The schema metadata marked alerts have always carried (a pandas round trip's), made from no rows."""
    empty = alerts.slice(0, 0).to_pandas()
    empty["status"] = "new"
    empty["new_evidence_count"] = empty["evidence_count"]
    return pa.Table.from_pandas(empty, schema=schema, preserve_index=False).schema.metadata


def _previous_alerts(previous) -> pd.DataFrame:
    if isinstance(previous, pa.Table):
        return previous.to_pandas()
    d = Path(previous)
    parts = [pq.read_table(d / "alerts.parquet").to_pandas()]
    if (d / "suppressed_alerts.parquet").exists():
        parts.append(pq.read_table(d / "suppressed_alerts.parquet").to_pandas())
    return pd.concat(parts, ignore_index=True)
