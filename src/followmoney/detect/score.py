"""Scoring: run the typology rules over a bundle and build the ranked, explained alert table."""

from __future__ import annotations

import functools
import json
import logging

import pyarrow as pa
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from followmoney.core.progress import progress_bar
from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.config import Config, get_config
from followmoney.exceptions import ConfigError
from followmoney.core.frame import prepare_transactions
from followmoney.core.memory import release_unused
from followmoney.detect.fx import convert_cash
from followmoney.detect.rules import REGISTRY, SHARED_USERS, RuleContext
from followmoney.detect._assembly import (
    FAILURES_KEY,
    NOTES_KEY,
    SEVERITY_CUTS,
    alerts_for as _alerts_for,  # module globals: the tests swap in a reference assembly here
    alerts_table as _alerts_table,
    observed_in as _observed_in,
    run_id as _run_id,
)

__all__ = ["score", "failures_of", "notes_of", "SEVERITY_CUTS", "FAILURES_KEY", "NOTES_KEY"]

log = logging.getLogger("followmoney")


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
    release_unused()  # the preparation's temporaries
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
        finally:
            release_unused()  # a rule's temporaries do not add up with the next rule's
    notes = fx_notes + list(shared.get("notes", [])) + _run_notes(bundle, cfg)
    return _alerts_table(out, failures, notes)


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
