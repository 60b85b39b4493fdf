"""Evaluate alerts against ground truth, and backtest changed rule parameters.

Ground truth comes from :func:`followmoney.datasets.synth.make_transactions` (accounts, roles
and transactions of every injected pattern) or, for labelled benchmark data, from the
labels themselves (:func:`truth_from_labels`: AMLSim alerts, IBM AML's
``is_laundering``). :func:`evaluate` measures, per typology, what the rules recalled
and how precise they were; :func:`backtest` runs the rules twice over a past window,
with the baseline configuration and with changed parameters, and reports what would
have fired.

Metrics (per typology ``k``; alerts are matched to ``k`` by ``rule_id`` — or by their
``typology`` with ``by="typology"``, against the truth's ``typology_name``)
----------------------------------------------------------------------------------
Let ``A_k`` be the alerts of ``k``, ``S_k`` their distinct subjects
``(subject_kind, subject_id)``, ``E_k`` the union of their ``evidence_txn_ids``, ``P_k``
the injected patterns of ``k`` and ``T_k`` their transactions; ``T`` is the union of
``T_k`` over all typologies. A subject *matches* a truth row when ``subject_kind`` is
``account`` and ``subject_id`` equals the row's ``account_id``, or ``subject_kind`` is
``party`` and it equals the row's ``party_id``.

``patterns``
    ``|P_k|``.
``recall``
    Pattern recall: the share of ``P_k`` with a subject in ``S_k`` that matches one of
    the pattern's rows with ``is_subject`` true (the account a rule for ``k`` should
    alert on: the fan-in receiver, the structurer, the controller, ...).
``recall_any``
    Looser: a subject in ``S_k`` matches any account or party of the pattern other
    than an innocent ``counterparty`` (members, victims, conductors count).
``recall_evidence``
    Loosest: some transaction of the pattern is in ``E_k``.
``subject_precision``
    The share of ``S_k`` that matches a non-``counterparty`` row of *any* pattern of
    *any* typology (an HT-09 alert on a victim of an HT-11 pattern is a true hit). A
    subject that is not an account or party (an identifier shared by several people,
    ML-15) matches when one of its ``related_subject_ids`` does, for recall too.
``txn_truth``, ``txn_evidence``, ``txn_hits``
    ``|T_k|``, ``|E_k|`` and ``|E_k ∩ T_k⁺|``.
``txn_precision``
    ``|E_k ∩ T_k⁺| / |E_k|``, where ``T_k⁺`` adds to ``T_k`` the transactions of the patterns
    whose structure contains ``k``'s (:data:`CONTAINED_IN`): the gathering half of a
    gather-scatter *is* a fan-in, and a fan-in rule that shows it to the analyst is right.
``txn_precision_own``
    ``|E_k ∩ T_k| / |E_k|``: evidence in patterns of ``k`` itself only.
``txn_recall``, ``txn_f1``
    ``|E_k ∩ T_k| / |T_k|`` (the transactions of ``k``'s own patterns that the alerts
    show), and the harmonic mean of ``txn_precision`` and ``txn_recall``.
``txn_precision_any``
    ``|E_k ∩ T| / |E_k|``: evidence that belongs to any injected pattern.
``alerts_per_1k_accounts``
    ``1000 · |A_k| / n_accounts``.

The row ``(all)`` pools every alert against all of the truth (recall by any rule).
A ratio with an empty denominator is NaN.

Examples
--------
>>> import followmoney as fm
>>> from followmoney.datasets.synth import make_transactions
>>> bundle, truth = make_transactions(400, 45, typologies=["ML-01"], n_per_typology=3, random_state=1)
>>> m = evaluate(fm.score(bundle, rules=["ML-01"]), truth)
>>> r = m.set_index("typology").loc["ML-01"]
>>> int(r.patterns), float(r.recall)
(3, 1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import Bundle
from followmoney.core.config import Config, ConfigError, get_config
from followmoney.datasets.amlworld import PATTERNS

__all__ = [
    "evaluate",
    "precision_at_k",
    "truth_from_labels",
    "backtest",
    "Backtest",
    "parse_overrides",
    "load_bundle",
    "read_truth",
    "AMLSIM_TYPOLOGIES",
    "CONTAINED_IN",
    "METRICS",
]

#: AMLSim ``alert_type`` → catalogue id (``shared/reference/indicators.md`` §6): AMLSim's
#: seven typologies, named as in AMLworld (:data:`followmoney.datasets.amlworld.PATTERNS`).
AMLSIM_TYPOLOGIES = {t: PATTERNS[t] for t in ("fan_in", "fan_out", "scatter_gather", "gather_scatter", "cycle", "bipartite", "stack")}

#: Typology → the typologies whose pattern structure contains it, by the definitions of
#: ``shared/reference/indicators.md`` (§6, §4, §2): evidence of an alert for the key that lies in a
#: pattern of one of these counts as correct in ``txn_precision`` (issue 15). A structure is
#: contained when every pattern of the container, as the catalogue defines it, shows it:
#:
#: * **pass-through** (ML-04: money in, nearly all out within hours or days): each intermediary of
#:   a scatter-gather (ML-07) and the hub of a gather-scatter (ML-08) forward what they get; every
#:   member of a cycle (ML-09), a middle tier of a stack (ML-11, value conserved ± 10 %) and every
#:   hop of a layering chain (ML-12) pass money on; a new account's throughput (ML-19) is defined
#:   as ML-04 on a new account; wages forwarded at once (FL-01, FL-02), victims handing over their
#:   takings within 48 h (HT-09) and cash wired out within 72 h (HS-03) are pass-through of wages,
#:   takings and cash.
#: * **fan-in** (ML-05: many distinct senders to one account in a short time): the collector of a
#:   scatter-gather, the hub of a gather-scatter (in-degree ≥ k), every beneficiary of a
#:   bipartite (≥ 2 originators each) and every account of a stack's later tiers; one-off payers
#:   (HT-08), victims paying one controller (HT-09), workers' wages ending in one account (FL-02)
#:   and many senders to one border beneficiary (HS-01) are fan-ins by definition.
#: * **fan-out** (ML-06): the source of a scatter-gather, the hub of a gather-scatter
#:   (out-degree ≥ k), every originator of a bipartite and every account of a stack's earlier
#:   tiers.
#: * **bipartite** (ML-10): a stack is layered bipartites; **gather-scatter** (ML-08): each
#:   middle-tier account of a stack gathers from a whole tier and pays the next.
#: * **shared identifier** (ML-15): the people sharing a controller's contact details (HT-11) are
#:   the same structure of linked people on one identifier, moving money to one of them.
#: * **wages drained** (FL-01): each worker of a wage pool (FL-02) has its wages drained to the
#:   controller soon after payday, so every FL-02 pattern shows wages drained.
#:
#: Not containers: a velocity spike (ML-18) or round amounts (ML-20) may or may not involve many
#: counterparties, so evidence there counts only in ``txn_precision_any``. Recall is not changed:
#: a fan-in rule recalls fan-in patterns only.
CONTAINED_IN: dict[str, frozenset[str]] = {
    "ML-04": frozenset({"ML-07", "ML-08", "ML-09", "ML-11", "ML-12", "ML-19", "FL-01", "FL-02", "HT-09", "HS-03"}),
    "ML-05": frozenset({"ML-07", "ML-08", "ML-10", "ML-11", "HT-08", "HT-09", "FL-02", "HS-01"}),
    "ML-06": frozenset({"ML-07", "ML-08", "ML-10", "ML-11"}),
    "ML-08": frozenset({"ML-11"}),
    "ML-10": frozenset({"ML-11"}),
    "ML-15": frozenset({"HT-11"}),
    "FL-01": frozenset({"FL-02"}),
}

#: Columns of the table returned by :func:`evaluate`, in order.
METRICS = (
    "typology",
    "typology_name",
    "patterns",
    "recalled",
    "recall",
    "recall_any",
    "recall_evidence",
    "alerts",
    "subjects",
    "subject_precision",
    "txn_truth",
    "txn_evidence",
    "txn_hits",
    "txn_precision",
    "txn_precision_own",
    "txn_recall",
    "txn_f1",
    "txn_precision_any",
    "alerts_per_1k_accounts",
)

_ALL = "(all)"


# ---------------------------------------------------------------------------- inputs
def _frame(table) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table.copy()
    if isinstance(table, pa.Table):
        return table.to_pandas()
    raise TypeError(f"expected a pyarrow.Table or pandas.DataFrame, got {type(table).__name__}")


def _micros(t) -> int | None:
    """A time (ISO string, date, datetime, pandas.Timestamp, or int µs) → µs since the epoch, UTC."""
    if t is None:
        return None
    if isinstance(t, int | np.integer):
        return int(t)
    if isinstance(t, date) and not isinstance(t, datetime):
        t = datetime(t.year, t.month, t.day, tzinfo=timezone.utc)
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.tz_convert("UTC").value // 1000)


def _to_us(series: pd.Series) -> np.ndarray:
    """Timestamps (any pandas datetime dtype or int µs) → float µs with NaN for missing."""
    if pd.api.types.is_datetime64_any_dtype(series):
        s = series.dt.tz_convert("UTC") if getattr(series.dt, "tz", None) is not None else series.dt.tz_localize("UTC")
        out = s.astype("datetime64[us, UTC]").astype("int64").astype(float)
        out[s.isna().to_numpy()] = np.nan
        return out.to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(float)


def _normalise_truth(truth) -> pd.DataFrame:
    t = _frame(truth)
    if "account_id" not in t and "subject_id" in t:
        t = t.rename(columns={"subject_id": "account_id"})
    if "typology" not in t:
        raise ValueError("truth has no 'typology' column")
    for col in ("typology_name", "pattern_id", "account_id", "party_id", "role", "is_subject", "txn_id", "timestamp"):
        if col not in t:
            t[col] = None
    is_txn = t["txn_id"].notna()
    t["role"] = t["role"].where(t["role"].notna(), np.where(is_txn, "transaction", "member"))
    t["is_subject"] = t["is_subject"].astype("boolean").fillna(False).astype(bool) & ~is_txn
    t["t_us"] = _to_us(t["timestamp"]) if len(t) else np.zeros(0)
    return t


def _normalise_alerts(alerts) -> pd.DataFrame:
    a = _frame(alerts)
    for col in ("rule_id", "typology", "subject_kind", "subject_id", "evidence_txn_ids", "window_end"):
        if col not in a:
            a[col] = None
    a["subject_kind"] = a["subject_kind"].fillna("account")
    a["evidence_txn_ids"] = a["evidence_txn_ids"].map(lambda v: [] if v is None else list(v))
    related = a["related_subject_ids"] if "related_subject_ids" in a else pd.Series([None] * len(a), index=a.index, dtype=object)
    a["related_subject_ids"] = related.map(lambda v: [] if v is None else list(v))
    a["end_us"] = _to_us(a["window_end"]) if len(a) else np.zeros(0)
    return a


# ---------------------------------------------------------------------------- truth from labels
def truth_from_labels(bundle: Bundle) -> pa.Table:
    """Ground truth from the labels of benchmark data (AMLSim, IBM AML, or labelled synthetic data).

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions.txn_id, timestamp, from_account, to_account,
        is_laundering, typology, label_alert_id``.

    Returns
    -------
    pyarrow.Table
        Schema :data:`followmoney.datasets.synth.TRUTH_SCHEMA`, metadata ``n_accounts`` (rows of
        ``accounts``, else distinct accounts in the transactions).

        * Transactions with a ``label_alert_id`` (AMLSim alerts, synthetic patterns)
          form one pattern per id. The typology is mapped to a catalogue id with
          :data:`AMLSIM_TYPOLOGIES` (``fan_in`` → ML-05, ...); names already of the
          form ``XX-nn`` are kept; others (AMLSim ``random``) stay as they are.
          Every account of the pattern's transactions is a ``member``; the
          ``subject`` accounts are derived from the shape: the account receiving from
          the most distinct pattern accounts (``fan_in``), paying the most
          (``fan_out``), both (``scatter_gather``: source and collector), the hub
          with the highest in + out degree (``gather_scatter``), and every account
          for ``cycle``, ``bipartite``, ``stack``, ``random`` and unknown shapes.
        * Transactions with ``is_laundering`` true and no alert id (IBM AML) are
          transaction-level truth only: typology ``is_laundering``, no pattern; their
          accounts are listed as ``member`` rows (used by subject precision).

    Examples
    --------
    >>> import followmoney as fm
    >>> t = truth_from_labels(fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv"))
    >>> "ML-05" in set(t.column("typology").to_pylist())
    True
    """
    tx = bundle.transactions
    cols = ["txn_id", "timestamp", "from_account", "to_account", "is_laundering", "typology", "label_alert_id"]
    f = tx.select(cols).filter(
        pc.or_(pc.fill_null(tx["is_laundering"], False), pc.is_valid(tx["label_alert_id"]))
    ).to_pandas()
    n_accounts = bundle.accounts.num_rows or len(
        set(tx["from_account"].drop_null().to_pylist()) | set(tx["to_account"].drop_null().to_pylist())
    )
    rows: list[dict] = []
    labelled = f[f["label_alert_id"].notna()]
    for pid, g in labelled.groupby("label_alert_id", sort=True):
        raw = g["typology"].dropna()
        raw = str(raw.iloc[0]) if len(raw) else "unknown"
        tid = AMLSIM_TYPOLOGIES.get(raw, raw)
        subjects = _shape_subjects(raw, g)
        accounts = sorted(set(g["from_account"].dropna()) | set(g["to_account"].dropna()))
        base = {"typology": tid, "typology_name": raw if tid != raw else _synth_name(raw), "pattern_id": str(pid)}
        for a in accounts:
            is_subj = a in subjects
            rows.append({**base, "account_id": a, "role": "subject" if is_subj else "member", "is_subject": is_subj})
        for txn, ts in zip(g["txn_id"], g["timestamp"]):
            rows.append({**base, "role": "transaction", "txn_id": txn, "timestamp": ts})
    ibm = f[f["label_alert_id"].isna() & f["is_laundering"].fillna(False).astype(bool)]
    if len(ibm):
        base = {"typology": "is_laundering", "typology_name": "is_laundering"}
        for a in sorted(set(ibm["from_account"].dropna()) | set(ibm["to_account"].dropna())):
            rows.append({**base, "account_id": a, "role": "member", "is_subject": False})
        for txn, ts in zip(ibm["txn_id"], ibm["timestamp"]):
            rows.append({**base, "role": "transaction", "txn_id": txn, "timestamp": ts})
    from followmoney.datasets.synth import TRUTH_SCHEMA

    out = pd.DataFrame(rows, columns=TRUTH_SCHEMA.names)
    table = pa.Table.from_pandas(out, schema=TRUTH_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata({"n_accounts": str(n_accounts), "generator": "truth_from_labels"})


def _synth_name(tid: str) -> str | None:
    from followmoney.datasets.synth import TYPOLOGIES

    return TYPOLOGIES[tid].name if tid in TYPOLOGIES else None


def _shape_subjects(raw: str, g: pd.DataFrame) -> set:
    e = g.dropna(subset=["from_account", "to_account"])
    if e.empty:
        return set(g["from_account"].dropna()) | set(g["to_account"].dropna())
    indeg = e.groupby("to_account")["from_account"].nunique()
    outdeg = e.groupby("from_account")["to_account"].nunique()

    def top(s):
        return set(s[s == s.max()].index) if len(s) else set()

    if raw == "fan_in":
        return top(indeg)
    if raw == "fan_out":
        return top(outdeg)
    if raw == "scatter_gather":
        return top(outdeg) | top(indeg)
    if raw == "gather_scatter":
        both = indeg.add(outdeg, fill_value=0)
        return top(both)
    return set(e["from_account"]) | set(e["to_account"])


# ---------------------------------------------------------------------------- evaluate
def evaluate(
    alerts,
    truth,
    *,
    n_accounts: int | None = None,
    by: str = "rule_id",
    since=None,
    until=None,
    transactions=None,
    contained_in: Mapping[str, Collection[str]] = CONTAINED_IN,
) -> pd.DataFrame:
    """Recall, precision and F1 of alerts against ground truth, per typology.

    Parameters
    ----------
    alerts : pyarrow.Table or pandas.DataFrame
        Alerts as returned by :func:`followmoney.score`: reads ``rule_id``,
        ``typology``, ``subject_kind``, ``subject_id``, ``window_end``,
        ``evidence_txn_ids``.
    truth : pyarrow.Table or pandas.DataFrame
        Ground truth with the columns of :data:`followmoney.datasets.synth.TRUTH_SCHEMA`
        (from :func:`followmoney.datasets.synth.make_transactions` or
        :func:`truth_from_labels`); at least ``typology`` and ``txn_id`` /
        ``account_id``. ``subject_id`` is accepted for ``account_id``.
    n_accounts : int, optional
        Accounts monitored, for ``alerts_per_1k_accounts``; default the truth's
        ``n_accounts`` metadata, else NaN.
    by : {"rule_id", "typology"}, default "rule_id"
        Match alerts' ``rule_id`` to the truth's ``typology`` (catalogue ids), or
        alerts' ``typology`` to the truth's ``typology_name`` (e.g. ``fan_in``).
    since, until : str, datetime or pandas.Timestamp, optional
        Evaluate on the window ``[since, until)`` only (a time split: e.g. the test
        period). Truth transactions outside it (or without a time) are dropped, and
        patterns left without transactions with them; alerts count when their
        ``window_end`` (the time they would have been raised) is in it; with
        ``transactions`` given, evidence outside it is dropped too.
    transactions : pyarrow.Table or pandas.DataFrame, optional
        ``txn_id`` and ``timestamp`` of the transactions (e.g. ``bundle.transactions``),
        used with ``since`` / ``until`` to restrict evidence to the window.
    contained_in : mapping of str to collection of str, default :data:`CONTAINED_IN`
        Catalogue id → the typologies whose patterns contain its structure, for
        ``txn_precision``: another table measures with other definitions (e.g. those of
        a data set whose patterns contain more than the catalogue says).

    Returns
    -------
    pandas.DataFrame
        One row per typology (those in the truth and those alerted), sorted, then the
        pooled row ``(all)``; columns :data:`METRICS` (counts are int, ratios float in
        [0, 1] or NaN). Definitions in the module docstring.

    Raises
    ------
    ValueError
        If ``by`` is unknown or the truth has no ``typology`` column.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"typology": ["ML-05"] * 4, "pattern_id": ["p1"] * 4,
    ...     "account_id": ["HUB", "S1", None, None], "is_subject": [True, False, None, None],
    ...     "role": ["subject", "member", "transaction", "transaction"], "txn_id": [None, None, "t1", "t2"]})
    >>> alerts = pd.DataFrame({"rule_id": ["ML-05", "ML-05"], "subject_kind": ["account", "account"],
    ...     "subject_id": ["HUB", "SHOP"], "evidence_txn_ids": [["t1", "t9"], ["t8"]]})
    >>> m = evaluate(alerts, truth, n_accounts=100).set_index("typology")
    >>> m.loc["ML-05", ["recall", "subject_precision", "txn_precision", "txn_recall", "alerts_per_1k_accounts"]].tolist()
    [1.0, 0.5, 0.3333333333333333, 0.5, 20.0]
    """
    if by not in ("rule_id", "typology"):
        raise ValueError(f"by must be 'rule_id' or 'typology', got {by!r}")
    t = _normalise_truth(truth)
    a = _normalise_alerts(alerts)
    if n_accounts is None:
        meta = (truth.schema.metadata or {}) if isinstance(truth, pa.Table) else {}
        n_accounts = int(meta[b"n_accounts"]) if b"n_accounts" in meta else None
    lo, hi = _micros(since), _micros(until)
    if lo is not None or hi is not None:
        t, a = _restrict(t, a, lo, hi, transactions)
    truth_key = "typology" if by == "rule_id" else "typology_name"
    t["key"] = t[truth_key]
    a["key"] = a[by]

    acc = t[t["txn_id"].isna()].copy()
    acc_rows = pd.concat(
        [
            acc.assign(skind="account", sid=acc["account_id"]),
            acc.assign(skind="party", sid=acc["party_id"]),
        ]
    )
    acc_rows = acc_rows[acc_rows["sid"].notna()]
    positive = set(zip(acc_rows.loc[acc_rows["role"] != "counterparty", "skind"],
                       acc_rows.loc[acc_rows["role"] != "counterparty", "sid"]))  # fmt: skip
    txr = t[t["txn_id"].notna()]
    all_truth_txns = set(txr["txn_id"])
    keys = sorted(set(t["key"].dropna()) | set(a["key"].dropna()))
    names = t.dropna(subset=["key"]).groupby("key")["typology_name"].first() if len(t) else pd.Series(dtype=object)

    # the catalogue id of each key (by="typology" keys are names), for contained_in
    ids = t.dropna(subset=["key"]).groupby("key")["typology"].first() if len(t) else pd.Series(dtype=object)
    rows = []
    for k in keys:
        containers = contained_in.get(ids.get(k, k) if by == "typology" else k, frozenset())
        contained = set(txr.loc[txr["typology"].isin(containers), "txn_id"])
        rows.append(_metrics(k, names.get(k), a[a["key"] == k], t[t["key"] == k], acc_rows[acc_rows["key"] == k],
                             txr[txr["key"] == k], positive, all_truth_txns, contained, n_accounts))  # fmt: skip
    rows.append(_metrics(_ALL, None, a, t, acc_rows, txr, positive, all_truth_txns, set(), n_accounts))
    out = pd.DataFrame(rows, columns=list(METRICS))
    for c in ("patterns", "recalled", "alerts", "subjects", "txn_truth", "txn_evidence", "txn_hits"):
        out[c] = out[c].astype("int64")
    return out


def precision_at_k(ranked, truth, ks: Sequence[int] = (20, 50, 100)) -> dict:
    """How many of an analyst's first ``k`` subjects are real: precision at the top of a ranking.

    Parameters
    ----------
    ranked : pyarrow.Table or pandas.DataFrame
        Cases (:func:`followmoney.detect.cases.build_cases`, sorted by ``risk_score``) or
        alerts (:func:`followmoney.score`, sorted by ``score``), most urgent first; reads
        ``subject_kind`` (default ``account``) and ``subject_id``. A subject's first row
        is its place in the ranking.
    truth : pyarrow.Table or pandas.DataFrame
        Ground truth as for :func:`evaluate`.
    ks : sequence of int, default (20, 50, 100)

    Returns
    -------
    dict
        ``precision_at_<k>``: the share of the first ``min(k, n)`` distinct subjects that
        match a non-``counterparty`` truth row of any pattern (NaN when nothing is
        ranked); ``ranked``: n, the distinct subjects; ``tied_at_top``: how many share the
        first subject's score (``risk_score`` or ``score``; 0 without one), a ranking
        that cannot order them.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"typology": ["ML-05"], "pattern_id": ["p1"], "account_id": ["HUB"],
    ...                       "is_subject": [True], "role": ["subject"], "txn_id": [None]})
    >>> cases = pd.DataFrame({"subject_id": ["HUB", "SHOP", "HUB"], "risk_score": [0.9, 0.8, 0.5]})
    >>> precision_at_k(cases, truth, ks=(1, 2))
    {'precision_at_1': 1.0, 'precision_at_2': 0.5, 'ranked': 2, 'tied_at_top': 1}
    """
    r = _frame(ranked)
    kind = r["subject_kind"].fillna("account") if "subject_kind" in r else pd.Series("account", index=r.index)
    keys = list(dict.fromkeys(zip(kind, r["subject_id"])))
    t = _normalise_truth(truth)
    acc = t[t["txn_id"].isna() & (t["role"] != "counterparty")]
    positive = {("account", a) for a in acc["account_id"].dropna()} | {("party", p) for p in acc["party_id"].dropna()}
    out = {f"precision_at_{k}": _ratio(sum(x in positive for x in keys[:k]), min(k, len(keys))) for k in ks}
    col = "risk_score" if "risk_score" in r else "score" if "score" in r else None
    tied = int((r[col] == r[col].iloc[0]).sum()) if col and len(r) else 0
    return out | {"ranked": len(keys), "tied_at_top": tied}


def _restrict(t: pd.DataFrame, a: pd.DataFrame, lo, hi, transactions):
    def inside(us):
        ok = ~np.isnan(us)
        if lo is not None:
            ok &= us >= lo
        if hi is not None:
            ok &= us < hi
        return ok

    is_txn = t["txn_id"].notna().to_numpy()
    keep_txn = is_txn & inside(t["t_us"].to_numpy(float))
    patterns = set(t.loc[keep_txn, "pattern_id"].dropna())
    no_pattern = t["pattern_id"].isna().to_numpy()
    keep_acc = ~is_txn & (t["pattern_id"].isin(patterns).to_numpy() | no_pattern)
    t = t[keep_txn | keep_acc].copy()
    a = a[inside(a["end_us"].to_numpy(float))].copy()
    if transactions is not None:
        tx = _frame(transactions)[["txn_id", "timestamp"]] if not isinstance(transactions, pa.Table) else \
            transactions.select(["txn_id", "timestamp"]).to_pandas()  # fmt: skip
        ok_ids = set(tx.loc[inside(_to_us(tx["timestamp"])), "txn_id"])
        a["evidence_txn_ids"] = a["evidence_txn_ids"].map(lambda ids: [i for i in ids if i in ok_ids])
    return t, a


def _ratio(num, den) -> float:
    return num / den if den else math.nan


def _reach(a: pd.DataFrame) -> dict:
    """Each alert subject and the (kind, id) keys it stands for: itself, and for a subject that is not an
    account or party (an identifier shared by several people, ML-15) the accounts and parties on it."""
    reach: dict = {}
    for kind, sid, related in zip(a["subject_kind"], a["subject_id"], a["related_subject_ids"]):
        keys = reach.setdefault((kind, sid), {(kind, sid)})
        if kind not in ("account", "party"):
            keys.update((k, r) for r in related for k in ("account", "party"))
    return reach


def _metrics(k, name, a, t, acc_rows, txr, positive, all_truth_txns, contained, n_accounts) -> dict:
    subjects = set(zip(a["subject_kind"], a["subject_id"]))
    evidence = set()
    for ids in a["evidence_txn_ids"]:
        evidence.update(ids)
    patterns = sorted(set(t["pattern_id"].dropna()))
    subj_rows = acc_rows[acc_rows["is_subject"]]
    memb_rows = acc_rows[acc_rows["role"] != "counterparty"]

    by_subject = _reach(a)
    reach = set().union(*by_subject.values())

    def hit_patterns(rows):
        if not len(rows) or not reach:
            return set()
        m = [(s, i) in reach for s, i in zip(rows["skind"], rows["sid"])]
        return set(rows.loc[m, "pattern_id"].dropna())

    recalled = hit_patterns(subj_rows)
    recalled_any = hit_patterns(memb_rows)
    ev_patterns = set(txr.loc[txr["txn_id"].isin(evidence), "pattern_id"].dropna()) if evidence else set()
    truth_txns = set(txr["txn_id"])
    own = len(evidence & truth_txns)
    hits = len(evidence & (truth_txns | contained))
    p = _ratio(hits, len(evidence))
    r = _ratio(own, len(truth_txns))
    if math.isnan(p) or math.isnan(r):
        f1 = math.nan
    else:
        f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "typology": k,
        "typology_name": name,
        "patterns": len(patterns),
        "recalled": len(recalled & set(patterns)),
        "recall": _ratio(len(recalled & set(patterns)), len(patterns)),
        "recall_any": _ratio(len(recalled_any & set(patterns)), len(patterns)),
        "recall_evidence": _ratio(len(ev_patterns & set(patterns)), len(patterns)),
        "alerts": len(a),
        "subjects": len(subjects),
        "subject_precision": _ratio(sum(bool(keys & positive) for keys in by_subject.values()), len(subjects)),
        "txn_truth": len(truth_txns),
        "txn_evidence": len(evidence),
        "txn_hits": hits,
        "txn_precision": p,
        "txn_precision_own": _ratio(own, len(evidence)),
        "txn_recall": r,
        "txn_f1": f1,
        "txn_precision_any": _ratio(len(evidence & all_truth_txns), len(evidence)),
        "alerts_per_1k_accounts": 1000 * len(a) / n_accounts if n_accounts else math.nan,
    }


# ---------------------------------------------------------------------------- backtest
def parse_overrides(items: Sequence[str]) -> dict:
    """Parse ``RULE.PARAM=VALUE`` settings (the CLI's ``--set``) into ``Config.rules`` form.

    Values are read as int, else float, else ``true`` / ``false`` as a bool, else kept as
    text (the rule validates them).

    Raises
    ------
    followmoney.core.config.ConfigError
        On an item that is not ``RULE.PARAM=VALUE``.

    Examples
    --------
    >>> parse_overrides(["ML-05.min_counterparties=8", "ML-05.window_days=7.5", "ML-08.gather_first=false"])
    {'ML-05': {'min_counterparties': 8, 'window_days': 7.5}, 'ML-08': {'gather_first': False}}
    """
    out: dict = {}
    for item in items:
        lhs, eq, value = item.partition("=")
        rule, dot, param = lhs.strip().rpartition(".")
        if not eq or not dot or not rule or not param or not value.strip():
            raise ConfigError(f"--set {item!r}: expected RULE.PARAM=VALUE, e.g. ML-05.min_counterparties=8")
        value = value.strip()
        for kind in (int, float):
            try:
                value = kind(value)
                break
            except ValueError:
                continue
        else:
            value = {"true": True, "false": False}.get(value, value)
        out.setdefault(rule, {})[param] = value
    return out


def load_bundle(paths, format: str = "auto") -> Bundle:
    """Read inputs for a backtest: a stored bundle directory, or source files.

    Parameters
    ----------
    paths : str, Path or sequence of them
        One directory written by :func:`followmoney.write_bundle` (it has a
        ``manifest.json``), or files / folders / globs for :func:`followmoney.read`.
    format : str, default "auto"

    Raises
    ------
    followmoney.InputError
        As :func:`followmoney.read`.
    """
    from followmoney.consolidate import read
    from followmoney.core.store import read_bundle

    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if len(items) == 1 and Path(items[0]).is_dir() and (Path(items[0]) / "manifest.json").is_file():
        return read_bundle(items[0])
    return read(items, format=format, progress=False)


def read_truth(path: str | Path) -> pa.Table:
    """Read a truth table written as Parquet (``.parquet``) or CSV.

    Raises
    ------
    followmoney.InputError
        If the file cannot be read or has no ``typology`` column.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from followmoney.ingest import InputError

    path = Path(path)
    try:
        table = pq.read_table(path) if path.suffix.lower() == ".parquet" else pacsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: cannot read truth table: {exc}") from exc
    if "typology" not in table.column_names:
        raise InputError(f"{path}: truth table has no 'typology' column")
    return table


def _merge_rules(base: Mapping, changes: Mapping) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for rule, params in changes.items():
        out.setdefault(rule, {}).update(params)
    return out


@dataclass
class Backtest:
    """What a parameter change would have done over a past window (see :func:`backtest`).

    Attributes
    ----------
    rules : pandas.DataFrame
        One row per rule run: ``rule_id``, ``alerts_before``, ``alerts_after``,
        ``subjects_before``, ``subjects_after``, ``only_before`` / ``only_after``
        (subjects alerted by the rule in one run only), and with truth
        ``recall_before`` / ``_after``, ``subject_precision_*``, ``txn_f1_*``,
        ``alerts_per_1k_accounts_*``.
    only_before, only_after : pandas.DataFrame
        ``rule_id, subject_kind, subject_id`` alerted in one run only.
    alerts_before, alerts_after : pyarrow.Table
    metrics_before, metrics_after : pandas.DataFrame or None
        :func:`evaluate` of each run (None without truth).
    config_before, config_after : Config
    since, until : str or None
    """

    rules: pd.DataFrame
    only_before: pd.DataFrame
    only_after: pd.DataFrame
    alerts_before: pa.Table
    alerts_after: pa.Table
    metrics_before: pd.DataFrame | None
    metrics_after: pd.DataFrame | None
    config_before: Config
    config_after: Config
    since: str | None = None
    until: str | None = None

    def to_dict(self) -> dict:
        """Plain, JSON-serialisable summary (NaN written as null)."""

        def records(df):
            if df is None:
                return None
            return json.loads(df.to_json(orient="records"))

        return {
            "since": self.since,
            "until": self.until,
            "config_before": self.config_before.to_dict(),
            "config_after": self.config_after.to_dict(),
            "rules": records(self.rules),
            "only_before": records(self.only_before),
            "only_after": records(self.only_after),
            "metrics_before": records(self.metrics_before),
            "metrics_after": records(self.metrics_after),
        }

    def report(self) -> str:
        """The per-rule table as plain text (what the CLI prints)."""
        window = f"{self.since or 'the start of the data'} .. {self.until or 'the end of the data'}"
        changed = {k: v for k, v in self.config_after.rules.items() if self.config_before.rules.get(k) != v}
        lines = [f"Backtest over {window} (jurisdiction {self.config_before.jurisdiction})",
                 f"Changed parameters: {json.dumps(changed, sort_keys=True) if changed else 'none'}"]  # fmt: skip
        head = f"  {'rule':<8}{'before':>8}{'after':>8}{'only before':>13}{'only after':>12}"
        has_m = self.metrics_before is not None
        if has_m:
            head += f"{'recall':>15}{'subj. prec.':>15}{'txn F1':>15}{'per 1k acc.':>17}"
        lines.append(head)
        for r in self.rules.to_dict("records"):
            line = (f"  {r['rule_id']:<8}{r['alerts_before']:>8}{r['alerts_after']:>8}{r['only_before']:>13}"
                    f"{r['only_after']:>12}")  # fmt: skip
            if has_m:
                for m, width in (("recall", 15), ("subject_precision", 15), ("txn_f1", 15), ("alerts_per_1k_accounts", 17)):
                    b, a = r.get(f"{m}_before"), r.get(f"{m}_after")
                    fmt = "{:.1f}" if m == "alerts_per_1k_accounts" else "{:.2f}"
                    cell = f"{_fmt(b, fmt)} → {_fmt(a, fmt)}"
                    line += f"{cell:>{width}}"
            lines.append(line)
        if not len(self.rules):
            lines.append("  (no rules run)")
        return "\n".join(lines)


def _fmt(v, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def _window_bundle(bundle: Bundle, lo, hi) -> Bundle:
    if lo is None and hi is None:
        return bundle
    tx = bundle.transactions
    us = tx["timestamp"].cast(pa.int64())
    mask = pc.is_valid(us)
    if lo is not None:
        mask = pc.and_(mask, pc.greater_equal(us, lo))
    if hi is not None:
        mask = pc.and_(mask, pc.less(us, hi))
    return replace(bundle, transactions=tx.filter(pc.fill_null(mask, False)))


def backtest(
    bundle: Bundle,
    changes: Mapping | None = None,
    *,
    config: Config | None = None,
    rules: Sequence[str] | None = None,
    since=None,
    until=None,
    truth=None,
    n_accounts: int | None = None,
) -> Backtest:
    """Run the rules over a past window with the baseline and with changed parameters.

    Parameters
    ----------
    bundle : Bundle
        The past data; only transactions in ``[since, until)`` are scored.
    changes : mapping of rule id to {parameter: value}, optional
        Overrides applied on top of ``config.rules`` for the second run (e.g.
        ``{"ML-05": {"min_counterparties": 8}}``; :func:`parse_overrides` reads the
        CLI form).
    config : Config, optional
        Baseline configuration; default :func:`followmoney.get_config`.
    rules : sequence of str, optional
        Rule ids to run; default all registered and not disabled.
    since, until : str or datetime, optional
        The window (UTC when no zone is given).
    truth : pyarrow.Table or pandas.DataFrame, optional
        Ground truth (see :func:`evaluate`); adds the metrics before and after.
    n_accounts : int, optional
        For alerts per 1,000 accounts; default the truth's metadata, else the rows of
        ``bundle.accounts`` (or distinct accounts in the transactions).

    Returns
    -------
    Backtest

    Raises
    ------
    followmoney.detect.rules.ParameterError
        On an unknown parameter or a value out of range (names the rule).
    KeyError
        If ``rules`` names an unknown rule.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    >>> bt = backtest(b, {"ML-05": {"min_counterparties": 8}}, rules=["ML-05"])
    >>> r = bt.rules.iloc[0]
    >>> bool(r.alerts_after <= r.alerts_before), int(r.only_after)
    (True, 0)
    """
    from followmoney.detect.score import score

    base = config if config is not None else get_config()
    after = Config(**{**base.to_dict(), "rules": _merge_rules(base.rules, changes or {})})
    lo, hi = _micros(since), _micros(until)
    wb = _window_bundle(bundle, lo, hi)
    before_alerts = score(wb, base, rules=list(rules) if rules else None)
    after_alerts = score(wb, after, rules=list(rules) if rules else None)
    meta = (truth.schema.metadata or {}) if isinstance(truth, pa.Table) else {}
    if n_accounts is None and b"n_accounts" in meta:
        n_accounts = int(meta[b"n_accounts"])
    if n_accounts is None:
        n_accounts = bundle.accounts.num_rows or len(
            set(bundle.transactions["from_account"].drop_null().to_pylist())
            | set(bundle.transactions["to_account"].drop_null().to_pylist())
        )
    keys = ["rule_id", "subject_kind", "subject_id"]
    b_df = pd.DataFrame({k: before_alerts[k].to_pylist() for k in keys}, columns=keys, dtype=object).drop_duplicates()
    a_df = pd.DataFrame({k: after_alerts[k].to_pylist() for k in keys}, columns=keys, dtype=object).drop_duplicates()
    both = b_df.merge(a_df, on=keys, how="outer", indicator=True)
    only_b = both[both["_merge"] == "left_only"][keys].sort_values(keys).reset_index(drop=True)
    only_a = both[both["_merge"] == "right_only"][keys].sort_values(keys).reset_index(drop=True)
    from followmoney.detect.rules import REGISTRY

    run = list(rules) if rules else [r for r in REGISTRY if r not in base.disabled_rules]
    ab = pd.Series(before_alerts["rule_id"].to_pylist(), dtype=object).value_counts()
    aa = pd.Series(after_alerts["rule_id"].to_pylist(), dtype=object).value_counts()
    table = pd.DataFrame({
        "rule_id": run,
        "alerts_before": [int(ab.get(r, 0)) for r in run],
        "alerts_after": [int(aa.get(r, 0)) for r in run],
        "subjects_before": [int((b_df["rule_id"] == r).sum()) for r in run],
        "subjects_after": [int((a_df["rule_id"] == r).sum()) for r in run],
        "only_before": [int((only_b["rule_id"] == r).sum()) for r in run],
        "only_after": [int((only_a["rule_id"] == r).sum()) for r in run],
    })  # fmt: skip
    m_before = m_after = None
    if truth is not None:
        windowed = lo is not None or hi is not None
        kw = dict(n_accounts=n_accounts, since=since, until=until, transactions=wb.transactions if windowed else None)
        m_before = evaluate(before_alerts, truth, **kw)
        m_after = evaluate(after_alerts, truth, **kw)
        for m in ("recall", "subject_precision", "txn_f1", "alerts_per_1k_accounts"):
            for tag, mm in (("before", m_before), ("after", m_after)):
                s = mm.set_index("typology")[m]
                table[f"{m}_{tag}"] = [float(s.get(r, math.nan)) for r in run]
    return Backtest(
        rules=table,
        only_before=only_b,
        only_after=only_a,
        alerts_before=before_alerts,
        alerts_after=after_alerts,
        metrics_before=m_before,
        metrics_after=m_after,
        config_before=base,
        config_after=after,
        since=None if since is None else str(since),
        until=None if until is None else str(until),
    )
