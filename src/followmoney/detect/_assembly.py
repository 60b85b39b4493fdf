"""Alert assembly: one place that turns any detector's findings into rows of the ``alerts`` table.

A detector is a typology rule (:class:`followmoney.detect.rules.Rule`) or a trained
model (:class:`followmoney.detect.models.ModelDetector`): anything with ``id``,
``name``, ``typology`` and ``explain(facts, params, jurisdiction) -> str``. It reports
*findings*, a DataFrame with one row per suspicious episode:

``subject_kind, subject_id, window_start, window_end`` (UTC microseconds),
``evidence_txn_ids`` (list of str), ``score`` (0..1), ``facts`` (dict for the
explanation) and, optionally, ``role`` and ``related_subjects``.

:func:`alerts_for` builds the alert rows of one detector from its findings (stable
alert ids, per-currency totals in exact decimals, the source reference of every
observation of each evidence transaction, the explanation); :func:`alerts_table`
concatenates the rows of all detectors in the documented order. Used by
:func:`followmoney.score` (both engines) and :func:`followmoney.model_alerts`.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from typing import TYPE_CHECKING

from followmoney.core import schema
from followmoney.core._timeline import stable_order
from followmoney.core.ids import stable_id
from followmoney.core.units import from_scaled, money_text

if TYPE_CHECKING:
    from followmoney.core.bundle import Bundle
    from followmoney.core.config import Config

__all__ = [
    "FAILURES_KEY",
    "NOTES_KEY",
    "SEVERITY_CUTS",
    "alerts_for",
    "alerts_table",
    "distinct_alert_ids",
    "fmt_totals",
    "observed_in",
    "run_id",
    "run_id_of",
    "severity",
]

#: Schema metadata key of the alerts table listing the detectors that failed in the run.
FAILURES_KEY = b"followmoney.failures"
#: Schema metadata key of the alerts table listing what the run could not assess, and why.
NOTES_KEY = b"followmoney.notes"

#: Score cut-offs for severity: ``high`` at or above the first, ``medium`` the second.
SEVERITY_CUTS = (0.8, 0.5)


def severity(score: float) -> str:
    """``high``, ``medium`` or ``low`` for a 0–1 alert score (:data:`SEVERITY_CUTS`).

    Examples
    --------
    >>> severity(0.8), severity(0.5), severity(0.49)
    ('high', 'medium', 'low')
    """
    return "high" if score >= SEVERITY_CUTS[0] else "medium" if score >= SEVERITY_CUTS[1] else "low"


def fmt_totals(pairs: list[tuple[str | None, int]]) -> str:
    """Per-currency totals in words, for an explanation.

    Parameters
    ----------
    pairs : list of (str or None, int)
        ``(currency, amount in thousandths)``, in the order to list them; a missing
        currency reads as unknown.

    Returns
    -------
    str
        ``"no valid amounts"`` when there are none.

    Examples
    --------
    >>> fmt_totals([])
    'no valid amounts'
    """
    if not pairs:
        return "no valid amounts"
    return ", ".join(money_text(v, c) for c, v in pairs)


def run_id(bundle: Bundle, cfg: Config) -> str:
    """The id stamped on every alert of a run: a hash of the input's transaction ids and the configuration.

    Parameters
    ----------
    bundle : Bundle
    cfg : Config

    Returns
    -------
    str
        ``"RUN"`` and 16 hex digits; the same input and configuration give the same id.

    Examples
    --------
    >>> import followmoney as fm
    >>> rid = run_id(fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE"))
    >>> rid.startswith("RUN"), len(rid)
    (True, 19)
    """
    return run_id_of(bundle.transactions["txn_id"].chunks, cfg)


def run_id_of(txn_ids, cfg: Config) -> str:
    """:func:`run_id` of transaction ids given a chunk at a time (a store's files read one by one).

    Parameters
    ----------
    txn_ids : iterable of pyarrow.Array
        The ``txn_id`` column in chunks, in the order of the whole table.
    cfg : Config

    Examples
    --------
    >>> import pyarrow as pa, followmoney as fm
    >>> cfg = fm.Config(jurisdiction="AE")
    >>> run_id_of([pa.array(["a", "b"]), pa.array(["c"])], cfg) == run_id_of([pa.array(["a"]), pa.array(["b", "c"])], cfg)
    True
    """
    h = hashlib.blake2b(digest_size=8)
    first = True
    for chunk in txn_ids:  # the ids joined by U+001F, hashed a chunk at a time (no Python string per id)
        if not len(chunk):
            continue
        one = pa.ListArray.from_arrays(pa.array([0, len(chunk)], pa.int32()), chunk)
        h.update(b"" if first else b"\x1f")
        h.update(pc.binary_join(one, "\x1f")[0].as_buffer())
        first = False
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    return "RUN" + h.hexdigest()


def observed_in(bundle: Bundle) -> dict[str, list[str]]:
    """Consolidated transactions seen in several sources: txn_id -> every source row's place.

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions.observed_in`` (written by :func:`followmoney.consolidate`).

    Returns
    -------
    dict of str to list of str
        Only transactions observed more than once; empty when the column is absent.
    """
    t = bundle.transactions
    if "observed_in" not in t.column_names:
        return {}
    several = t.filter(pc.fill_null(pc.greater(pc.list_value_length(t["observed_in"]), 1), False))  # column-wise: most rows are seen once
    return dict(zip(several["txn_id"].to_pylist(), several["observed_in"].to_pylist()))


def alerts_for(rule, params, cfg, findings: pd.DataFrame, by_txn: pd.DataFrame, run_id: str, observed: dict | None = None) -> pd.DataFrame:
    """One alert row per finding of one detector, built column-wise (the explanation text is the only per-row step).

    Parameters
    ----------
    rule : detector
        A rule or a model detector: ``id``, ``name``, ``typology`` and
        ``explain(facts, params, jurisdiction) -> str``.
    params : dict
        The detector's resolved parameters; stored as JSON in ``params`` with the jurisdiction.
    cfg : Config
        Jurisdiction of the run.
    findings : pandas.DataFrame
        The detector's findings (see the module docstring).
    by_txn : pandas.DataFrame
        ``amount_cents`` (thousandths), ``currency`` and ``source_ref`` by ``txn_id``:
        the amounts and places of the evidence.
    run_id : str
        Stamped on every row (:func:`run_id`).
    observed : dict, optional
        :func:`observed_in`: a consolidated payment's evidence lists the place of
        every source row it was seen in.

    Returns
    -------
    pandas.DataFrame
        The columns of the ``alerts`` schema, one row per finding, in finding order.
        ``alert_id`` is stable: detector, subject and window (and the evidence, where
        two findings share those). The explanation's facts are the finding's
        ``facts`` plus ``subject_id``, ``window_start``, ``window_end``,
        ``evidence_count`` and ``totals`` (per currency, in words).
    """
    f = findings.reset_index(drop=True)
    n = len(f)
    evidence = [list(e) for e in f["evidence_txn_ids"]]
    n_ev = np.fromiter(map(len, evidence), np.int64, n)
    # an empty evidence list keeps one unmatched row, as DataFrame.explode does: its reference is null
    per_row = np.maximum(n_ev, 1)
    row = np.repeat(np.arange(n), per_row)
    txn = [t for e in evidence for t in (e or [None])]
    pos = _arrow_positions(by_txn.index, txn)
    if pos is None and by_txn.index.is_unique:
        target = pd.Index(txn, dtype=object)
        if by_txn.index.dtype != object and pd.api.types.is_string_dtype(by_txn.index.dtype):
            target = target.astype(by_txn.index.dtype)  # the index's own dtype: its hash table is reused, not rebuilt
        pos = by_txn.index.get_indexer(target)  # -1: not a transaction of the input
    unique = pos is not None  # each evidence id is at most one transaction
    if unique:
        take = {c: by_txn[c].array.take(pos, allow_fill=True) for c in ("amount_cents", "currency", "source_ref")}
        source = np.asarray(take["source_ref"], dtype=object)
        ev = pd.DataFrame({"row": row, "amount_cents": take["amount_cents"], "currency": take["currency"]})
    else:  # repeated txn ids in the input: every match counts, as a join does
        ev = pd.DataFrame({"txn_id": txn, "row": row}).join(by_txn, on="txn_id").reset_index(drop=True)
        row, source = ev["row"].to_numpy(), ev["source_ref"].to_numpy(object)
    totals = _totals(ev["row"].to_numpy(), ev["amount_cents"].array, ev["currency"], n)
    bounds = np.r_[0, np.cumsum(np.bincount(row, minlength=n))]
    source = [None if x is None or x is pd.NA or x != x else x for x in source.tolist()]  # NaN/NA → null reference
    refs = [source[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
    if observed:  # a consolidated payment's evidence lists every observation's place
        txns = txn if unique else ev["txn_id"].tolist()
        per = [txns[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
        refs = [[p for t, ref in zip(ts, rs) for p in (observed.get(t) or [ref])] for ts, rs in zip(per, refs)]
    params_json = json.dumps({"jurisdiction": cfg.jurisdiction, **params}, sort_keys=True, default=str)
    ws_us = [int(x) for x in f["window_start"].tolist()]
    we_us = [int(x) for x in f["window_end"].tolist()]
    starts = pd.DatetimeIndex(pd.to_datetime(np.asarray(ws_us, np.int64), unit="us", utc=True))
    ends = pd.DatetimeIndex(pd.to_datetime(np.asarray(we_us, np.int64), unit="us", utc=True))
    kinds, subjects = f["subject_kind"].tolist(), f["subject_id"].tolist()
    scores = [float(x) for x in f["score"].tolist()]
    roles = f["role"].tolist() if "role" in f.columns else [None] * n
    related = f["related_subjects"].tolist() if "related_subjects" in f.columns else [None] * n
    jinfo = cfg.jurisdiction_info
    alert_ids, explanations, amount_total, currency_one = [], [], [], []
    for i, (facts0, kind, subj, start, end) in enumerate(zip(f["facts"].tolist(), kinds, subjects, starts, ends)):
        tot = totals[i]
        facts = {
            **facts0,
            "subject_id": subj,
            "window_start": start,
            "window_end": end,
            "evidence_count": int(n_ev[i]),
            "totals": fmt_totals(tot),
        }
        alert_ids.append(stable_id("A", rule.id, kind, subj, ws_us[i], we_us[i]))
        explanations.append(rule.explain(facts, params, jinfo))
        amount_total.append(from_scaled(tot[0][1]) if len(tot) == 1 else None)
        currency_one.append(tot[0][0] if len(tot) == 1 else None)
    out = pd.DataFrame(  # plain lists: column types inferred as from row records, so the schema metadata matches
        {
            "alert_id": alert_ids,
            "rule_id": [rule.id] * n,
            "rule_name": [rule.name] * n,
            "typology": [rule.typology] * n,
            "subject_kind": kinds,
            "subject_id": subjects,
            "score": np.asarray(scores, float),
            "severity": [severity(x) for x in scores],
            "window_start": starts,
            "window_end": ends,
            "amount_total": amount_total,
            "currency": currency_one,
            "evidence_count": n_ev,
            "evidence_txn_ids": evidence,
            "explanation": explanations,
            "params": [params_json] * n,
            "run_id": [run_id] * n,
            "evidence_source_refs": refs,
            "subject_role": roles,
            "related_subject_ids": [list(x or []) for x in related],
        }
    )
    out["alert_id"] = distinct_alert_ids(alert_ids, evidence)
    return out


def _totals(row: np.ndarray, amount, currency, n: int) -> list[list[tuple]]:
    """Per finding, ``(currency, sum of amounts)`` of its evidence, by currency (a missing one, None, last); missing amounts left out.

    ``row`` is each evidence transaction's finding, ``amount`` (pandas Int64, thousandths)
    and ``currency`` its values. Sums are exact integers.
    """
    valid = ~np.asarray(amount.isna(), bool)
    codes, names = pd.factorize(currency, sort=True)  # a missing currency: -1, listed last below
    names = list(names) + [None]
    k = len(names)
    key = row[valid].astype(np.int64) * k + np.where(codes < 0, k - 1, codes)[valid]
    order = stable_order(key)
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.empty(0, np.int64)
    sums = np.add.reduceat(amount.to_numpy(dtype=np.int64, na_value=0)[valid][order], first) if len(key) else np.empty(0, np.int64)
    totals: list[list] = [[] for _ in range(n)]
    for kk, v in zip(key[first].tolist(), sums.tolist()):
        totals[kk // k].append((names[kk % k], v))
    return totals


def _arrow_positions(index: pd.Index, txn: list) -> np.ndarray | None:
    """Row of each id of ``txn`` in an Arrow-backed text ``index`` (-1: none), without a hash table of the index.

    pandas' ``get_indexer`` keeps a hash table of the whole index (about 120 MB of Python
    strings per million transactions, for the rest of the run); here the few evidence ids
    are hashed and the index is probed once per call (about 0.04 s per million rows).

    Returns
    -------
    numpy.ndarray of int64 or None
        None where the index is not Arrow-backed text, an id is not text, an id is the
        key of several rows (the caller joins instead), or both have missing ids.
    """
    if not (pd.api.types.is_string_dtype(index.dtype) and getattr(index.dtype, "storage", None) == "pyarrow"):
        return None
    try:
        target = pa.array(txn, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    ids = pa.array(index.array)
    if target.null_count and ids.null_count:  # pandas matches a missing id with a missing key
        return None
    want = pc.unique(target.drop_null())
    hit = pc.index_in(ids, value_set=want)  # per index row: which wanted id it is
    rows = pc.indices_nonzero(pc.is_valid(hit)).to_numpy()
    which = pc.take(hit, pa.array(rows)).to_numpy(zero_copy_only=False) if len(rows) else np.empty(0, np.int64)
    if pc.count_distinct(pa.array(which)).as_py() != len(which):
        return None
    where = np.full(len(want) + 1, -1, np.int64)  # the last entry answers the ids found nowhere (k = -1)
    where[which] = rows
    k = pc.fill_null(pc.index_in(target, value_set=want), -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return where[k]


def distinct_alert_ids(natural: list[str], evidence: list) -> list[str]:
    """Alert ids, two findings of one detector on the same subject and window told apart by their evidence.

    Parameters
    ----------
    natural : list of str
        Each alert's id from detector, subject kind and id, and window
        (``stable_id("A", detector_id, subject_kind, subject_id, window_start, window_end)``).
    evidence : list of list of str
        Each alert's ``evidence_txn_ids``.

    Returns
    -------
    list of str
        ``natural`` where it is unique; else ``stable_id("A", natural, *evidence)``.

    Examples
    --------
    >>> a, b, c = distinct_alert_ids(["A1", "A1", "A2"], [["t1"], ["t2"], ["t3"]])
    >>> a != b and c == "A2"
    True
    """
    ids = pd.Series(natural, dtype=object)
    dup = ids.duplicated(keep=False).to_numpy()
    if not dup.any():
        return list(natural)
    return [stable_id("A", a, *ev) if d else a for a, ev, d in zip(natural, evidence, dup)]


def alerts_table(out: list[pd.DataFrame], failures: list[dict], notes: list[dict]) -> pa.Table:
    """The alert rows of all detectors as one table in the documented order.

    Parameters
    ----------
    out : list of pandas.DataFrame
        :func:`alerts_for` results.
    failures : list of dict
        Detectors that failed (written to the :data:`FAILURES_KEY` metadata when any).
    notes : list of dict
        What the run could not assess (the :data:`NOTES_KEY` metadata when any).

    Returns
    -------
    pyarrow.Table
        The ``alerts`` schema, sorted by ``score`` descending, then ``window_start``
        and ``alert_id``.

    Examples
    --------
    >>> alerts_table([], [], []).num_rows
    0
    """
    result_schema = schema.SCHEMAS["alerts"]
    if out:
        table = pa.Table.from_pandas(pd.concat(out, ignore_index=True), schema=result_schema, preserve_index=False)
        table = table.sort_by([("score", "descending"), ("window_start", "ascending"), ("alert_id", "ascending")])
    else:
        table = result_schema.empty_table()
    if failures:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), FAILURES_KEY: json.dumps(failures).encode()})
    if notes:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), NOTES_KEY: json.dumps(notes).encode()})
    return table
