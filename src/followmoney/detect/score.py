"""Scoring: run the typology rules over a bundle and build the ranked, explained alert table."""

from __future__ import annotations

import functools
import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from followmoney.core.progress import progress_bar
from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.config import Config, get_config
from followmoney.exceptions import ConfigError
from followmoney.core.frame import prepare_transactions
from followmoney.core.ids import stable_id
from followmoney.detect.fx import convert_cash
from followmoney.detect.rules import REGISTRY, SHARED_USERS, RuleContext
from followmoney.core.units import from_scaled, money_text

__all__ = ["score", "failures_of", "notes_of", "SEVERITY_CUTS", "FAILURES_KEY", "NOTES_KEY"]

#: Schema metadata key of the alerts table listing the detectors that failed in the run.
FAILURES_KEY = b"followmoney.failures"
#: Schema metadata key of the alerts table listing what the run could not assess, and why.
NOTES_KEY = b"followmoney.notes"

log = logging.getLogger("followmoney")

#: Score cut-offs for severity: ``high`` at or above the first, ``medium`` the second.
SEVERITY_CUTS = (0.8, 0.5)


def severity(score: float) -> str:
    """``high``, ``medium`` or ``low`` for a 0–1 alert score (:data:`SEVERITY_CUTS`)."""
    return "high" if score >= SEVERITY_CUTS[0] else "medium" if score >= SEVERITY_CUTS[1] else "low"


def _fmt_totals(pairs: list[tuple[str, int]]) -> str:
    if not pairs:
        return "no valid amounts"
    return ", ".join(money_text(v, c) for c, v in pairs)


def score(
    bundle: Bundle,
    config: Config | None = None,
    *,
    rules: list[str] | None = None,
    progress: bool | None = None,
    on_error: str = "record",
    engine: str = "pandas",
    client=None,
    partitions: int | None = None,
) -> pa.Table:
    """Run the typology rules and return the alerts, most suspicious first.

    Parameters
    ----------
    bundle : Bundle
        Reads ``transactions`` (``txn_id, timestamp, amount, currency, from_account,
        to_account, from_party, to_party, channel, quality_flags, source_ref``).
    config : Config, optional
        Jurisdiction and rule parameters; default: :func:`followmoney.get_config`.
    rules : list of str, optional
        Rule ids to run; default all in :data:`followmoney.detect.rules.REGISTRY` that the
        configuration does not disable.
    progress : bool, optional
        Show a progress bar over rules (tqdm); default: on a terminal, and in
        Jupyter where ipywidgets is installed.
    on_error : {"record", "raise"}, default "record"
        A rule that raises: ``"record"`` logs a warning (rule id and exception type,
        no data), leaves its alerts out and lists it in :func:`failures_of`; the other
        rules still run. ``"raise"`` re-raises (for developing a rule).
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"`` runs the rules over account partitions on a Dask cluster (needs the
        ``followmoney[dask]`` extra; see :mod:`followmoney.detect._dask`) and returns the
        same table, row for row. ``progress`` is not shown there (use Dask's dashboard).
    client : distributed.Client, optional
        Dask engine: the cluster to run on; default Dask's current scheduler.
    partitions : int, optional
        Dask engine: number of account buckets; default one per 500,000 transactions.

    Returns
    -------
    pyarrow.Table
        The ``alerts`` schema (with ``evidence_source_refs``: file:line or file#XPath
        of each evidence transaction, every source row of a consolidated payment; ``subject_role`` and ``related_subject_ids``
        where the pattern shows a controller or potential victim). Sorted by ``score`` descending, then
        ``window_start`` and ``alert_id``. Amount totals are per currency and never
        add different currencies: ``amount_total`` is null when the evidence mixes
        currencies (the explanation lists each).

    Raises
    ------
    followmoney.exceptions.ParameterError
        If a configured rule parameter is unknown or out of range.
    followmoney.exceptions.ConfigError
        If ``rules``, the configuration's ``disabled_rules`` or its ``[rules]`` table
        name an unknown rule (the message suggests the closest id), or ``engine`` is
        unknown.
    ImportError
        ``engine="dask"`` without the ``followmoney[dask]`` extra.

    Examples
    --------
    >>> import followmoney as fm
    >>> alerts = score(fm.read(fm.sample_data_path() / "goaml"), fm.Config(jurisdiction="AE"))
    >>> row = alerts.slice(0, 1).to_pylist()[0]
    >>> row["rule_id"], 0 < row["score"] <= 1, row["evidence_source_refs"][0].startswith("str_2026_001.xml#")
    ('HT-11', True, True)
    """
    cfg = config if config is not None else get_config()
    _check_rule_ids(rules or [], "rules")
    _check_rule_ids(cfg.disabled_rules, "disabled_rules")
    _check_rule_ids(cfg.rules, "[rules] table")
    ids = rules if rules is not None else [r for r in REGISTRY if r not in cfg.disabled_rules]
    if engine not in ("pandas", "dask"):
        raise ConfigError(f"unknown engine {engine!r}; known: pandas, dask")
    if engine == "dask":
        from followmoney.detect._dask import score_dask

        for rule_id in ids:
            rule = REGISTRY[rule_id]
            rule.resolve_params(cfg.rule_params(rule_id))  # bad parameters fail here, as in the pandas engine
        assemble = functools.partial(_alerts_for, observed=_observed_in(bundle))  # every source row of a consolidated payment
        out, failures, notes = score_dask(bundle, cfg, ids, _run_id(bundle, cfg), assemble=assemble, client=client, partitions=partitions, on_error=on_error)
        return _alerts_table(out, failures, notes + _run_notes(bundle, cfg))
    frame = prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts)
    frame, fx_notes = convert_cash(frame, cfg)  # foreign cash: converted with the user's rates, or counted
    run_id = _run_id(bundle, cfg)
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    observed = _observed_in(bundle)
    shared: dict = {}  # computed once per run, used by several rules
    failures: list[dict] = []
    out = []
    last_use = {key: max((i for i, r in enumerate(ids) if r in users), default=-1) for key, users in SHARED_USERS.items()}
    for i, rule_id in enumerate(progress_bar(ids, progress=progress, desc="scoring", unit="rule", leave=False)):
        for key in [k for k, last in last_use.items() if last < i and k in shared]:
            del shared[key]  # its last reader has run
        rule = REGISTRY[rule_id]
        params = rule.resolve_params(cfg.rule_params(rule_id))
        missing = rule.missing_columns(frame)
        if missing:
            log.info("rule %s skipped: no data in column(s) %s", rule_id, ", ".join(missing))
            continue
        try:
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared)
            findings = rule.func(frame, ctx)
            if findings is None or findings.empty:
                continue
            out.append(_alerts_for(rule, params, cfg, findings, by_txn, run_id, observed))
        except Exception as exc:  # one failing rule never takes the run down
            if on_error == "raise":
                raise
            failures.append({"detector": "rule", "id": rule_id, "error": type(exc).__name__})
            log.warning("rule %s failed (%s); its alerts are missing from this run", rule_id, type(exc).__name__)
    notes = fx_notes + list(shared.get("notes", [])) + _run_notes(bundle, cfg)
    return _alerts_table(out, failures, notes)


def _alerts_table(out: list[pd.DataFrame], failures: list[dict], notes: list[dict]) -> pa.Table:
    """The alert rows of all rules as one table in the documented order, failures and notes in its metadata."""
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


def _typo_key(rule_id) -> str:
    """A mistyped rule id as it was probably meant: upper case, letters O/I in the number read as 0/1."""
    head, _, tail = str(rule_id).upper().partition("-")
    return f"{head}-{tail.translate(str.maketrans('OIL', '011'))}" if tail else head


def _run_notes(bundle: Bundle, cfg: Config) -> list[dict]:
    """goAML reports that declare a local currency other than the jurisdiction's (codes only, never data)."""
    j = cfg.jurisdiction_info
    notes = []
    reports = bundle.reports
    if "currency_local" in reports.column_names and reports.num_rows:
        declared = sorted({c for s, c in zip(reports["format"].to_pylist(), reports["currency_local"].to_pylist()) if s == "goaml" and c})
        other = [c for c in declared if c != j.currency]
        if other:
            notes.append({
                "topic": "local_currency",
                "declared": other,
                "note": f"goAML reports declare local currency {', '.join(other)}, but jurisdiction {j.code} counts in {j.currency}"
                        f" (use --jurisdiction auto or the reporting FIU's jurisdiction)",
            })  # fmt: skip
    return notes


def _check_rule_ids(ids, where: str) -> None:
    unknown = [r for r in ids if r not in REGISTRY]
    if unknown:
        hints = {r: process.extractOne(_typo_key(r), list(REGISTRY), scorer=Levenshtein.distance, score_cutoff=2) for r in unknown}
        said = ", ".join(f"{r!r}" + (f" (did you mean {h[0]}?)" if h else "") for r, h in hints.items())
        raise ConfigError(f"{where}: unknown rule id(s) {said}")


def notes_of(alerts: pa.Table) -> list[dict]:
    """What the run could not assess and why (``topic``, ``note``; e.g. day-precision rows
    skipped by night-time rules, foreign-currency cash not compared with the threshold).

    Examples
    --------
    >>> notes_of(schema.SCHEMAS["alerts"].empty_table())
    []
    """
    raw = (alerts.schema.metadata or {}).get(NOTES_KEY)
    return json.loads(raw) if raw else []


def failures_of(alerts: pa.Table) -> list[dict]:
    """The detectors that failed while ``alerts`` was scored (empty when all ran).

    Parameters
    ----------
    alerts : pyarrow.Table
        A table returned by :func:`score` (the list travels in its schema metadata,
        also through Parquet).

    Returns
    -------
    list of dict
        ``{"detector": "rule", "id": rule id, "error": exception type name}`` each;
        never data values.
    """
    raw = (alerts.schema.metadata or {}).get(FAILURES_KEY)
    return json.loads(raw) if raw else []


def _run_id(bundle: Bundle, cfg: Config) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update("\x1f".join(bundle.transactions["txn_id"].to_pylist()).encode())
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    return "RUN" + h.hexdigest()


def _observed_in(bundle: Bundle) -> dict[str, list[str]]:
    """Consolidated transactions seen in several sources: txn_id -> every source row's place."""
    t = bundle.transactions
    if "observed_in" not in t.column_names:
        return {}
    return {i: o for i, o in zip(t["txn_id"].to_pylist(), t["observed_in"].to_pylist()) if o and len(o) > 1}


def _alerts_for(rule, params, cfg, findings: pd.DataFrame, by_txn: pd.DataFrame, run_id: str, observed: dict | None = None) -> pd.DataFrame:
    """One alert row per finding, built column-wise (the explanation text is the only per-row step).

    ``observed`` (:func:`_observed_in`): a consolidated payment's evidence lists the
    place of every source row it was seen in.
    """
    f = findings.reset_index(drop=True)
    n = len(f)
    evidence = [list(e) for e in f["evidence_txn_ids"]]
    n_ev = np.fromiter(map(len, evidence), np.int64, n)
    # an empty evidence list keeps one unmatched row, as DataFrame.explode does: its reference is null
    per_row = np.maximum(n_ev, 1)
    row = np.repeat(np.arange(n), per_row)
    txn = [t for e in evidence for t in (e or [None])]
    if by_txn.index.is_unique:
        pos = by_txn.index.get_indexer(pd.Index(txn, dtype=object))  # -1: not a transaction of the input
        take = {c: by_txn[c].array.take(pos, allow_fill=True) for c in ("amount_cents", "currency", "source_ref")}
        source = np.asarray(take["source_ref"], dtype=object)
        ev = pd.DataFrame({"row": row, "amount_cents": take["amount_cents"], "currency": take["currency"]})
    else:  # repeated txn ids in the input: every match counts, as a join does
        ev = pd.DataFrame({"txn_id": txn, "row": row}).join(by_txn, on="txn_id").reset_index(drop=True)
        row, source = ev["row"].to_numpy(), ev["source_ref"].to_numpy(object)
    sums = ev.dropna(subset=["amount_cents"]).groupby(["row", "currency"], dropna=False)["amount_cents"].sum()
    totals: list[list] = [[] for _ in range(n)]
    for (r, cur), v in zip(sums.index.tolist(), sums.tolist()):  # a missing currency stays None
        totals[r].append((None if pd.isna(cur) else cur, int(v)))
    bounds = np.r_[0, np.cumsum(np.bincount(row, minlength=n))]
    source = [None if x is None or x is pd.NA or x != x else x for x in source.tolist()]  # NaN/NA → null reference
    refs = [source[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
    if observed:  # a consolidated payment's evidence lists every observation's place
        txns = txn if by_txn.index.is_unique else ev["txn_id"].tolist()
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
        tot = sorted(totals[i], key=lambda p: (p[0] is None, p[0] or ""))
        facts = {
            **facts0,
            "subject_id": subj,
            "window_start": start,
            "window_end": end,
            "evidence_count": int(n_ev[i]),
            "totals": _fmt_totals(tot),
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
    dup = out["alert_id"].duplicated(keep=False)
    if dup.any():  # same rule, subject and window from two findings: tell them apart by evidence
        out.loc[dup, "alert_id"] = [
            stable_id("A", a, *ev) for a, ev in zip(out.loc[dup, "alert_id"], out.loc[dup, "evidence_txn_ids"])
        ]
    return out
