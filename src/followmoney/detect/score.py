"""Scoring: run the typology rules over a bundle and build the ranked, explained alert table."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

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

__all__ = ["score", "run_rules", "AFTER_SCORING", "failures_of", "notes_of", "SEVERITY_CUTS", "FAILURES_KEY", "NOTES_KEY"]

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
    threads: int = 1,
    keep_transactions: bool = True,
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
    threads : int, default 1
        pandas engine: rules run at once on threads (:func:`run_rules`). The alerts do
        not depend on it; the time falls and the memory grows with it (``followmoney score``
        at 5 M IBM rows on two cores, 2 threads: about 0.8 of the time, 1.15-1.2 times the peak memory).
    keep_transactions : bool, default True
        pandas engine: ``False`` changes ``bundle`` in place once the rules' frame is
        prepared: its ``transactions`` keep the same rows and schema, but only the
        columns read after scoring (:data:`AFTER_SCORING`) keep their values, the others
        become nulls over never-written zero pages (:func:`followmoney.core.schema.nulls`:
        39 MB for the 45 columns of 5 M rows). For a batch run that holds the bundle for
        nothing else (``followmoney score`` after writing the tables): at 5 M IBM-AML rows
        0.38 GiB less through the rules. The alerts are the same.

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
        name an unknown rule (the message suggests the closest id), ``engine`` is
        unknown, or ``threads`` is not 1 on the Dask engine (its workers run the rules).
    ValueError
        ``threads`` is below 1.
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
    if int(threads) < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if engine == "dask" and threads != 1:
        raise ConfigError("threads goes with engine='pandas' (the Dask engine's workers run the rules)")
    if engine == "dask":
        from followmoney.detect._dask import score_dask

        for rule_id in ids:
            rule = REGISTRY[rule_id]
            rule.resolve_params(cfg.rule_params(rule_id))  # bad parameters fail here, as in the pandas engine
        out, failures, notes = score_dask(bundle, cfg, ids, _run_id(bundle, cfg), assemble=_alerts_for, client=client, partitions=partitions,
                                          on_error=on_error)  # fmt: skip
        return _alerts_table(out, failures, notes + _run_notes(bundle, cfg))
    frame = prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts)
    frame, fx_notes = convert_cash(frame, cfg)  # foreign cash: converted with the user's rates, or counted
    run_id = _run_id(bundle, cfg)
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    observed = _observed_in(bundle)
    if not keep_transactions:
        tx = bundle.transactions  # the frame holds what the rules read
        bundle.transactions = schema.with_nulls(tx, [c for c in tx.column_names if c not in AFTER_SCORING])
    release_unused(heap=True)  # the preparation's temporaries, the C heap's too (once: not between rules)

    def assemble(rule, params, findings):
        return _alerts_for(rule, params, cfg, findings, by_txn, run_id, observed)

    out, failures, notes = run_rules(frame, bundle, cfg, ids, assemble, threads=threads, progress=progress, on_error=on_error)
    return _alerts_table(list(out.values()), failures, fx_notes + notes + _run_notes(bundle, cfg))


#: The ``transactions`` columns read after the rules' frame is prepared: the run id, and the
#: counterparty mentions of :func:`followmoney.resolve` (for the cases and names, and in ML-15
#: / HT-11's identifier groups).
AFTER_SCORING = ("txn_id", "from_party", "to_party", "from_account", "to_account")


def run_rules(frame, bundle: Bundle, cfg: Config, ids, assemble, *, threads: int = 1, progress: bool | None = False,
              on_error: str = "record", present=None, whole: dict | None = None, keep=None) -> tuple[dict, list[dict], list[dict]]:
    """Run the rules ``ids`` over one prepared frame, on ``threads`` threads at once; the alert rows of each.

    Every rule reads the same frame and the run's shared tables (:data:`SHARED_USERS`,
    built once by :func:`~followmoney.detect.rules._registry.shared_value`); an entry is dropped
    once every rule that reads it has run. The rules' NumPy, pandas and Arrow work
    releases the GIL: on two cores, two threads ran the 31 rules on 1 M IBM rows in 0.55
    of one thread's time; each thread adds one rule's working memory. The result does
    not depend on ``threads``: alert rows, failures and notes come in ``ids`` order.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`~followmoney.core.frame.prepare_transactions` of the data (cash converted).
    bundle : Bundle
    cfg : Config
    ids : list of str
        Rule ids, in the order of the output.
    assemble : callable
        ``assemble(rule, params, findings) -> pandas.DataFrame``: the alert rows of a rule's findings.
    threads : int, default 1
        Rules run at once.
    progress : bool, optional
        A progress bar over the rules (as :func:`score`).
    on_error : {"record", "raise"}
        As :func:`score`.
    present : collection of str, optional
        The prepared columns that hold a value anywhere in the whole data (an engine that
        passes a part of it); a rule needing another is skipped. Default: read from ``frame``.
    whole : dict, optional
        Per rule id, its :class:`~followmoney.detect.rules.WholeStat` values (as ``RuleContext.whole``).
    keep : callable, optional
        ``keep(rule, findings) -> findings``: the findings to turn into alerts.

    Returns
    -------
    alerts : dict
        Rule id to its alert rows, for the rules with alerts, in ``ids`` order.
    failures : list of dict
        ``{"detector": "rule", "id": ..., "error": exception type name}`` per failed rule.
    notes : list of dict
        What the rules could not assess (``ctx.shared["notes"]``), in ``ids`` order of their ``rule``.

    Raises
    ------
    ValueError
        ``threads`` is below 1.
    """
    n_threads = int(threads)
    if n_threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    shared: dict = {}  # computed once per run, used by several rules
    readers = {key: {r for r in ids if r in users} for key, users in SHARED_USERS.items()}
    lock = threading.Lock()

    def done(rule_id):
        with lock:
            for key, left in readers.items():
                left.discard(rule_id)
                if not left:
                    shared.pop(key, None)  # its last reader has run

    def one(rule_id):
        rule = REGISTRY[rule_id]
        params = rule.resolve_params(cfg.rule_params(rule_id))
        try:
            missing = rule.missing_columns(frame) if present is None else [c for c in rule.requires if c not in present]
            if missing:
                log.info("rule %s skipped: no data in column(s) %s", rule_id, ", ".join(missing))
                return None
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared,
                              whole=None if whole is None else whole.get(rule_id, {}))  # fmt: skip
            findings = rule.func(frame, ctx)
            if findings is not None and not findings.empty and keep is not None:
                findings = keep(rule, findings)
            if findings is None or findings.empty:
                return None
            return "alerts", assemble(rule, params, findings)
        except Exception as exc:  # one failing rule never takes the run down
            if on_error == "raise":
                raise
            log.warning("rule %s failed (%s); its alerts are missing from this run", rule_id, type(exc).__name__)
            return "error", type(exc).__name__
        finally:
            done(rule_id)
            release_unused()  # a rule's temporaries do not add up with the next rule's

    bar = progress_bar(ids, progress=progress, desc="scoring", unit="rule", leave=False)
    if n_threads == 1 or len(ids) < 2:
        results = {r: one(r) for r in bar}
    else:
        results = {}
        with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="followmoney-rule") as pool:
            futures = {pool.submit(one, r): r for r in ids}
            try:
                for f in as_completed(futures):
                    results[futures[f]] = f.result()  # "raise": the first failure, after the running rules end
                    bar.update(1)
            finally:
                for f in futures:
                    f.cancel()
                bar.close()
    out = {r: results[r][1] for r in ids if results.get(r) and results[r][0] == "alerts"}
    failures = [{"detector": "rule", "id": r, "error": results[r][1]} for r in ids if results.get(r) and results[r][0] == "error"]
    rank = {r: i for i, r in enumerate(ids)}
    notes = sorted(shared.get("notes", []), key=lambda n: rank.get(n.get("rule"), -1))  # as one thread would write them
    return out, failures, notes


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
