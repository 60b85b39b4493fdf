"""Scoring: run the typology rules over a bundle and build the ranked, explained alert table."""

from __future__ import annotations

import hashlib
import json
import logging
from decimal import Decimal

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
from followmoney.detect.rules import REGISTRY, RuleContext
from followmoney.core.units import money_text

__all__ = ["score", "failures_of", "SEVERITY_CUTS", "FAILURES_KEY"]

#: Schema metadata key of the alerts table listing the detectors that failed in the run.
FAILURES_KEY = b"followmoney.failures"

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
        of each evidence transaction; ``subject_role`` and ``related_subject_ids``
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
        out, failures = score_dask(bundle, cfg, ids, _run_id(bundle, cfg), assemble=_alerts_for, client=client, partitions=partitions, on_error=on_error)
        return _alerts_table(out, failures)
    frame = prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts)
    run_id = _run_id(bundle, cfg)
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    shared: dict = {}  # computed once per run, used by several rules
    failures: list[dict] = []
    out = []
    for rule_id in progress_bar(ids, progress=progress, desc="scoring", unit="rule", leave=False):
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
            out.append(_alerts_for(rule, params, cfg, findings, by_txn, run_id))
        except Exception as exc:  # one failing rule never takes the run down
            if on_error == "raise":
                raise
            failures.append({"detector": "rule", "id": rule_id, "error": type(exc).__name__})
            log.warning("rule %s failed (%s); its alerts are missing from this run", rule_id, type(exc).__name__)
    return _alerts_table(out, failures)


def _alerts_table(out: list[pd.DataFrame], failures: list[dict]) -> pa.Table:
    """The alert rows of all rules as one table in the documented order, failures in its metadata."""
    result_schema = schema.SCHEMAS["alerts"]
    if out:
        table = pa.Table.from_pandas(pd.concat(out, ignore_index=True), schema=result_schema, preserve_index=False)
        table = table.sort_by([("score", "descending"), ("window_start", "ascending"), ("alert_id", "ascending")])
    else:
        table = result_schema.empty_table()
    if failures:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), FAILURES_KEY: json.dumps(failures).encode()})
    return table


def _typo_key(rule_id) -> str:
    """A mistyped rule id as it was probably meant: upper case, letters O/I in the number read as 0/1."""
    head, _, tail = str(rule_id).upper().partition("-")
    return f"{head}-{tail.translate(str.maketrans('OIL', '011'))}" if tail else head


def _check_rule_ids(ids, where: str) -> None:
    unknown = [r for r in ids if r not in REGISTRY]
    if unknown:
        hints = {r: process.extractOne(_typo_key(r), list(REGISTRY), scorer=Levenshtein.distance, score_cutoff=2) for r in unknown}
        said = ", ".join(f"{r!r}" + (f" (did you mean {h[0]}?)" if h else "") for r, h in hints.items())
        raise ConfigError(f"{where}: unknown rule id(s) {said}")


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


def _alerts_for(rule, params, cfg, findings: pd.DataFrame, by_txn: pd.DataFrame, run_id: str) -> pd.DataFrame:
    f = findings.reset_index(drop=True)
    ev = f[["evidence_txn_ids"]].explode("evidence_txn_ids").rename(columns={"evidence_txn_ids": "txn_id"})
    ev = ev.join(by_txn, on="txn_id")
    ev["row"] = ev.index
    sums = ev.dropna(subset=["amount_cents"]).groupby(["row", "currency"], dropna=False)["amount_cents"].sum()
    totals: dict[int, list] = {}
    for (row, cur), v in sums.items():  # a missing currency stays None ("unknown currency" in words)
        totals.setdefault(row, []).append((None if pd.isna(cur) else cur, int(v)))
    refs = ev.groupby("row")["source_ref"].agg(list)
    params_json = json.dumps({"jurisdiction": cfg.jurisdiction, **params}, sort_keys=True, default=str)
    records = []
    for i, r in f.iterrows():  # one row per alert, not per transaction
        start = pd.Timestamp(int(r["window_start"]), unit="us", tz="UTC")
        end = pd.Timestamp(int(r["window_end"]), unit="us", tz="UTC")
        tot = sorted(totals.get(i, []), key=lambda p: (p[0] is None, p[0] or ""))
        n_ev = len(r["evidence_txn_ids"])
        facts = {
            **r["facts"],
            "subject_id": r["subject_id"],
            "window_start": start,
            "window_end": end,
            "evidence_count": n_ev,
            "totals": _fmt_totals(tot),
        }
        score_ = float(r["score"])
        records.append(
            {
                "alert_id": stable_id("A", rule.id, r["subject_kind"], r["subject_id"], int(r["window_start"]), int(r["window_end"])),
                "rule_id": rule.id,
                "rule_name": rule.name,
                "typology": rule.typology,
                "subject_kind": r["subject_kind"],
                "subject_id": r["subject_id"],
                "score": score_,
                "severity": severity(score_),
                "window_start": start,
                "window_end": end,
                "amount_total": Decimal(tot[0][1]) / 100 if len(tot) == 1 else None,
                "currency": tot[0][0] if len(tot) == 1 else None,
                "evidence_count": n_ev,
                "evidence_txn_ids": list(r["evidence_txn_ids"]),
                "explanation": rule.explain(facts, params, cfg.jurisdiction_info),
                "params": params_json,
                "run_id": run_id,
                "evidence_source_refs": refs.get(i, []),
                "subject_role": r.get("role"),
                "related_subject_ids": list(r.get("related_subjects") or []),
            }
        )
    out = pd.DataFrame.from_records(records)
    dup = out["alert_id"].duplicated(keep=False)
    if dup.any():  # same rule, subject and window from two findings: tell them apart by evidence
        out.loc[dup, "alert_id"] = [
            stable_id("A", a, *ev) for a, ev in zip(out.loc[dup, "alert_id"], out.loc[dup, "evidence_txn_ids"])
        ]
    return out
