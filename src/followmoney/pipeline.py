"""The nightly run: read, score, build cases and write one run directory, atomically.

The run directory contract (``followmoney score --out DIR``):

================================  ===============================================
file                              content
================================  ===============================================
``tables/``                       canonical tables as Parquet with a manifest,
                                  ``party_clusters`` and ``match_reasons``
``alerts.parquet`` / ``.csv``     alerts (CSV: lists joined with ``;``)
``suppressed_alerts.parquet``     repeats of ``--previous`` not raised again
``cases.parquet`` / ``.csv``      one prioritised case per resolved subject
``cases.xlsx``                    cases and alerts for analysts
``summary.json``                  written last: ``status``, counts, failures
================================  ===============================================

Everything is written to a hidden sibling folder and moved into place at the end, so
``DIR`` is either the previous complete run or the new complete run, never a mixture;
``summary.json`` (with ``"status": "complete"`` or ``"complete_with_failures"``) is the
completion marker that :func:`load_run` and ``--previous`` require. A lock beside
``DIR`` (``.DIR.lock``) keeps two runs from writing the same folder at once. Every text
cell of the CSVs and ``cases.xlsx`` is inert for spreadsheets
(:func:`followmoney.export.defuse`).

Exit codes of the command line (:data:`EXIT_CODES`): 0 complete; 1 an internal error
(a bug: please report it, ``-v`` shows the traceback); 2 an input file, table or run
folder cannot be used (the other files are still scored and written when the run could
go on); 3 invalid configuration, rule id or parameter; 4 complete, but some rules or
models failed (named in ``summary.json`` under ``failures``; their alerts are missing);
5 an optional extra the command needs is not installed (e.g. ``followmoney[ftm]``;
nothing is written).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from followmoney.consolidate import read, reconcile_observations
from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.core.choices import EXCEL_MAX_CASES, EXIT_CODES, EXPORT_FORMATS
from followmoney.core.config import Config, jurisdictions
from followmoney.core.memory import release_unused
from followmoney.core.store import append_store, read_bundle, read_store, store_manifest, write_bundle
from followmoney.detect.cases import BANDS, build_cases, suppress_repeats
from followmoney.detect.score import failures_of, notes_of, score
from followmoney.exceptions import ConfigError, FollowMoneyError, RunError
from followmoney.export import defuse_table, money_as_text, to_excel, with_names
from followmoney.resolve import resolve

__all__ = ["run_score", "mark_changes", "append_files", "load_run", "load_cases", "read_or_load", "run_names", "is_run", "export_run", "EXPORT_FORMATS", "check_previous", "flat", "EXIT_CODES", "RUN_FILES", "STATUS_OK", "exit_code", "EXCEL_MAX_CASES"]

#: File names of a run directory.
RUN_FILES = {
    "tables": "tables",
    "alerts_parquet": "alerts.parquet",
    "alerts_csv": "alerts.csv",
    "suppressed": "suppressed_alerts.parquet",
    "cases_parquet": "cases.parquet",
    "cases_csv": "cases.csv",
    "cases_xlsx": "cases.xlsx",
    "summary": "summary.json",
}

#: ``summary.json`` statuses of a finished run (the completion marker).
STATUS_OK = ("complete", "complete_with_failures")


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an exception (:data:`EXIT_CODES`).

    Examples
    --------
    >>> from followmoney.exceptions import InputError, ParameterError
    >>> exit_code(InputError("f.xml: line 3: bad")), exit_code(ParameterError("ML-01.x")), exit_code(KeyError("x"))
    (2, 3, 1)
    """
    if isinstance(exc, ConfigError):
        return EXIT_CODES["config"]
    if isinstance(exc, ImportError) and "followmoney[" in str(exc):  # an optional extra, named in the message
        return EXIT_CODES["missing_extra"]
    if isinstance(exc, (FollowMoneyError, pa.ArrowInvalid, OSError)):
        return EXIT_CODES["input"]
    return EXIT_CODES["internal_error"]


def flat(table: pa.Table) -> pa.Table:
    """A table ready for CSV: list columns joined with ``;``, text defused for spreadsheets,
    money with its currency's decimals (:func:`followmoney.export.money_as_text`)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            table = table.set_column(i, field.name, pc.binary_join(table[field.name], ";"))
    return money_as_text(defuse_table(table))


def load_run(run_dir: str | Path) -> tuple[Bundle, pa.Table, dict]:
    """Read a complete run directory written by :func:`run_score`.

    Parameters
    ----------
    run_dir : str or Path
        The ``--out`` directory of ``followmoney score``.

    Returns
    -------
    (bundle, alerts, summary) : tuple
        The canonical tables, the alerts table and ``summary.json``.

    Raises
    ------
    followmoney.exceptions.RunError
        If the directory is not a complete run (no ``summary.json`` with a finished
        status, or a missing output).
    """
    summary = check_previous(run_dir)
    run_dir = Path(run_dir)
    try:
        return read_bundle(run_dir / RUN_FILES["tables"]), pq.read_table(run_dir / RUN_FILES["alerts_parquet"]), summary
    except (OSError, pa.ArrowInvalid, ValueError) as exc:
        raise RunError(f"{run_dir}: not a readable followmoney run ({type(exc).__name__})") from None


def load_cases(run_dir: str | Path) -> pa.Table:
    """The ``cases.parquet`` of a complete run directory.

    Raises
    ------
    followmoney.exceptions.RunError
        If the directory is not a complete run or its cases cannot be read.
    """
    check_previous(run_dir)
    try:
        return pq.read_table(Path(run_dir) / RUN_FILES["cases_parquet"])
    except (OSError, pa.ArrowInvalid, ValueError) as exc:
        raise RunError(f"{run_dir}: cases of the run cannot be read ({type(exc).__name__})") from None


def is_run(path: str | Path) -> bool:
    """Whether ``path`` is a run directory of ``followmoney score`` (it has ``summary.json``)."""
    path = Path(path)
    return path.is_dir() and (path / RUN_FILES["summary"]).is_file()


def read_or_load(paths, fmt: str = "auto") -> Bundle:
    """The bundle of one run directory, or of source files read with :func:`followmoney.read`.

    ``followmoney trace`` and ``export`` start from either: a single path that is a
    run directory (``summary.json`` inside) is loaded with :func:`load_run`, anything
    else is read.

    Raises
    ------
    followmoney.exceptions.RunError
        If the run directory is not complete.
    followmoney.exceptions.InputError
        If the files cannot be read.
    """
    paths = list(paths)
    if len(paths) == 1 and is_run(paths[0]):
        return load_run(paths[0])[0]
    return read(paths, format=fmt, progress=False)


def export_run(run_dir: str | Path, fmt: str, out: str | Path, *, case_id: str | None = None, hops: int = 1) -> dict:
    """Export a complete run for link-analysis tools (``followmoney export``).

    Parameters
    ----------
    run_dir : str or Path
        The ``--out`` directory of ``followmoney score``.
    fmt : {"i2", "graphml", "gexf", "ftm"}
        i2 Analyst's Notebook entity and link CSVs (``out`` is a folder), GraphML or
        GEXF of :func:`followmoney.export.analyst_graph` (persons, accounts,
        identifiers, every payment), or FollowTheMoney JSON lines with the alerts as
        notes.
    out : str or Path
    case_id : str, optional
        Limit the export to this case's neighbourhood
        (:func:`followmoney.export.case_bundle`).
    hops : int, default 1
        Payment hops around the case (with ``case_id``).

    Returns
    -------
    dict
        ``paths`` written and ``counts`` (nodes, edges, payments, entities per schema).

    Raises
    ------
    followmoney.exceptions.RunError
        If ``run_dir`` is not a complete run.
    followmoney.exceptions.UnknownSubjectError
        If ``case_id`` is not a case of the run.
    ImportError
        For ``ftm`` without the ``followmoney[ftm]`` extra (checked before anything
        is written).
    """
    from followmoney import export as ex
    from followmoney.names import display_names

    if fmt == "ftm" and not ex.ftm_available():
        raise ImportError("FollowTheMoney export needs the optional extra: pip install 'followmoney[ftm]'")
    bundle, alerts, _ = load_run(run_dir)
    cases = load_cases(run_dir)
    if case_id is not None:
        bundle = ex.case_bundle(bundle, cases, case_id, hops=hops)
        cases = cases.filter(pc.is_in(cases["case_id"], value_set=pa.array([case_id])))
        keep = set(bundle.accounts["account_id"].to_pylist()) | set(bundle.parties["party_id"].to_pylist())
        alerts = alerts.filter(pc.is_in(alerts["subject_id"], value_set=pa.array(sorted(keep) or [""], pa.string())))
    res = resolve(bundle)
    names = display_names(bundle, res)
    out = Path(out)
    if fmt == "i2":
        paths = ex.to_i2(bundle, out, resolution=res, names=names, cases=cases)
        return {"paths": paths, "counts": {"transfers": bundle.transactions.num_rows}}
    if fmt == "ftm":
        counts = ex.write_ftm(bundle, out, res, alerts=alerts)
        return {"paths": {"ftm": out}, "counts": counts}
    if fmt not in ("graphml", "gexf"):
        raise ConfigError(f"export format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    G = ex.analyst_graph(bundle, res, names=names, cases=cases)
    path = (ex.to_graphml if fmt == "graphml" else ex.to_gexf)(G, out)
    payments = sum(1 for *_, d in G.edges(keys=True, data=True) if d.get("relation") == "payment")
    return {"paths": {fmt: path}, "counts": {"nodes": G.number_of_nodes(), "edges": G.number_of_edges(), "payment_edges": payments}}


def run_names(bundle: Bundle, resolution=None):
    """Display names of a run (:func:`followmoney.names.display_names` over resolved persons).

    Parameters
    ----------
    bundle : Bundle
    resolution : followmoney.resolve.Resolution, optional
        :func:`followmoney.resolve` of ``bundle`` already computed (default: resolved here).
    """
    from followmoney.names import display_names
    from followmoney.resolve import resolve

    if not bundle.parties.num_rows:
        return display_names(bundle, None)
    return display_names(bundle, resolution if resolution is not None else resolve(bundle))


def check_previous(run_dir: str | Path) -> dict:
    """The ``summary.json`` of a complete run directory, or :class:`RunError`.

    Raises
    ------
    followmoney.exceptions.RunError
        If ``run_dir`` has no ``summary.json``, it cannot be parsed, or its status is
        not a finished one (a run that was killed leaves no such marker).
    """
    run_dir = Path(run_dir)
    marker = run_dir / RUN_FILES["summary"]
    if not run_dir.is_dir() or not marker.is_file():
        raise RunError(f"{run_dir}: not a completed followmoney run (no {RUN_FILES['summary']}); pass the --out directory of `followmoney score`")
    try:
        summary = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        raise RunError(f"{marker}: unreadable run summary") from None
    if not isinstance(summary, dict) or summary.get("status") not in STATUS_OK:
        raise RunError(f"{marker}: the run did not complete (status {summary.get('status') if isinstance(summary, dict) else None!r})")
    return summary


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: --out is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_FILES["summary"]).is_file():
        raise RunError(f"{out}: folder holds other files and is not a followmoney run; choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(out.parent, os.W_OK):
        raise RunError(f"{out.parent}: folder is not writable")


def _replace(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` to ``out``; a previous run there is removed after the swap."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_score(
    paths,
    out: Path,
    *,
    fmt: str = "auto",
    cfg: Config | None = None,
    progress: bool | None = None,
    previous: Path | None = None,
    model: Path | None = None,
    excel_max_cases: int | None = EXCEL_MAX_CASES,
    auto_jurisdiction: bool = False,
    aliases: Path | dict | None = None,
    read_options: dict | None = None,
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int | None = None,
    store: Path | None = None,
    since=None,
    threads: int = 1,
) -> dict:
    """Read ``paths``, consolidate, score them, and write the run directory ``out`` atomically.

    The files are read and made one picture (:func:`followmoney.read`, which runs
    :func:`followmoney.consolidate`: one account id per account, one transaction per
    payment seen in several sources) and scored; ``tables/`` holds ``observations`` and
    ``account_aliases`` beside the canonical tables and ``summary.json`` a
    ``consolidation`` section (records read = canonical + merged + rejected).

    A rule or model that raises does not stop the run: it is named in the summary's
    ``failures`` (rule id and exception type, never data values) and the others'
    alerts and the cases are written. A file that cannot be read is named in
    ``failed_files`` and the other files are scored.

    Parameters
    ----------
    paths : list of str or Path
        Files, folders or globs (see :func:`followmoney.read`).
    out : Path
        The run directory (see the module docstring for its files).
    fmt : str, default "auto"
    cfg : Config, optional
    progress : bool, optional
    previous : Path, optional
        A complete previous run directory: alerts it already raised with no new
        evidence are not raised again (see :func:`followmoney.suppress_repeats`).
    model : Path, optional
        A model trained by ``followmoney train``: its alerts (``AN-GBT`` / ``AN-IF``)
        join the rules' alerts and cases.
    excel_max_cases : int or None, default :data:`EXCEL_MAX_CASES`
        ``cases.xlsx`` holds the cases of highest risk up to this many, and their
        alerts (its ``Notes`` sheet says so); ``cases.parquet``/``cases.csv`` and the
        alerts files always hold all. None: every case in the workbook.
    auto_jurisdiction : bool, default False
        Take the jurisdiction from the local currency the goAML reports declare
        (:func:`jurisdiction_from_reports`), when exactly one jurisdiction fits.
    aliases : Path or dict, optional
        Account aliases (TOML/CSV file or dict) for :func:`followmoney.consolidate`.
    read_options : dict, optional
        Options for :func:`followmoney.read` (``mapping``, ``profile``, ...).
    engine : {"pandas", "dask"}, default "pandas"
        ``"dask"``: the rules run on a Dask cluster (:func:`followmoney.score`), the
        input files are read in parallel there, one task per file (the consolidation
        runs here).
    scheduler : str, optional
        Dask engine: address of a running scheduler; default a local cluster.
    workers : int, optional
        Dask engine: worker processes of the local cluster (default: Dask's choice).
    threads : int, default 1
        pandas engine: rules run at once on threads (:func:`followmoney.score`).
    store : Path, optional
        Score a transaction store (:func:`followmoney.core.store.append_store`; created
        if missing): ``paths`` (may be empty) are appended to it first, idempotently,
        and the store is scored by :func:`followmoney.detect.incremental.score_store`:
        in full, or, with ``previous`` (a run scored from the same store) or ``since``,
        incrementally: only what the new rows can change is recomputed and merged with
        the previous run's alerts into the complete alert set, whose ``status`` is
        ``new`` (not in the previous run), ``update`` (same alert, new evidence) or
        ``unchanged``; nothing is suppressed. ``tables/`` then holds the store's context
        tables and the transactions the run read. ``summary.json`` gains ``store``: the
        append's counts (records read = stored + duplicates + merged + rejected), the
        high-water mark and state the next run starts from, and which rules ran how.
        ``model`` is not supported with it. With ``engine="dask"`` the store is scored
        in full on the cluster, whose workers read its files (this process never holds
        its transactions); ``tables/`` then holds the context tables and the rows the
        alerts cite; ``previous`` still marks each alert's ``status``.
    since : datetime or str, optional
        With ``store``: the rows at or after this instant are new (ISO 8601, UTC unless
        it says otherwise); default: after ``previous``'s high-water mark.

    The summary's ``notes`` say what the run could not assess and why: date-only rows
    skipped by night-time rules, cash in other currencies not compared with the
    threshold, goAML reports whose local currency is not the jurisdiction's.

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    followmoney.exceptions.InputError
        If no input file can be read at all.
    followmoney.exceptions.ConfigError, followmoney.exceptions.ParameterError
        For bad configuration or rule parameters.
    followmoney.exceptions.RunError
        If ``out`` cannot be used, ``previous`` is not a complete run (or, with
        ``store``, has no high-water mark: it was not scored from a store), or another
        run holds the lock on ``out``.
    """
    cfg = cfg or Config()
    t0 = time.perf_counter()
    out = Path(out)
    _prepare_out(out)
    prev_summary = check_previous(previous) if previous is not None else None
    if store is None and since is not None:
        raise ConfigError("--since goes with --store (an incremental run scores a store)")
    if store is not None:
        if model is not None:
            raise ConfigError("--model is not supported with --store yet; score the model on a full run")
        if not paths:
            store_manifest(store)  # a store that does not exist: one line, before anything else
        if prev_summary is not None and not (prev_summary.get("store") or {}).get("state", {}).get("high_water_mark"):
            raise RunError(f"{Path(previous) / RUN_FILES['summary']}: no store high-water mark; --previous with --store needs"
                           f" a run scored from a store (followmoney score --store)")  # fmt: skip
    lock = FileLock(str(out.with_name(f".{out.name}.lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunError(f"{out}: another followmoney run is writing this folder") from None
    tmp = None
    try:
        stages = _Stages()
        failed_files: list[dict] = []
        # the canonical tables are written on a thread of their own beside scoring (Arrow encodes Parquet without
        # the GIL; the rules run on one thread by default); leaving the block waits for it, even on an error
        with _dask_client(engine, scheduler, workers) as client, ThreadPoolExecutor(1, thread_name_prefix="followmoney-tables") as beside:
            with stages("read"):
                appended = None
                if store is None or paths:
                    bundle = read(paths, format=fmt, progress=progress, errors=failed_files, aliases=aliases, **(read_options or {}),
                                  **({"client": client} if client else {}))  # fmt: skip
                if store is not None:
                    if paths:
                        appended = append_store(bundle, store, inputs=sorted(set(bundle.load_log["source_file"].to_pylist())))
                    bundle = read_store(store, transactions=False)  # the context, for the jurisdiction
                if auto_jurisdiction:
                    code = jurisdiction_from_reports(bundle)
                    if code:
                        cfg = Config(**{**cfg.to_dict(), "jurisdiction": code})
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
            tables_written = store is None and model is None  # a store run writes what it read; models read more columns
            writing = None
            if tables_written:  # the tables are written whole; through scoring only what it reads stays in memory
                facts = _bundle_facts(bundle)
                writing = beside.submit(stages.beside, "tables", write_bundle, bundle, tmp / RUN_FILES["tables"])
                bundle = _for_scoring(bundle)  # the whole bundle is let go when its tables are written
            with stages("score"):
                if store is not None:
                    result = _score_store(store, cfg, since, previous, prev_summary, threads, engine, client)
                    bundle, alerts = result.bundle, result.alerts
                else:
                    # a bundle written already is held for the cases and names: its rows' other columns can go
                    alerts = score(bundle, cfg, progress=progress, engine=engine, client=client, threads=threads,
                                   keep_transactions=not tables_written)  # fmt: skip
                failures = failures_of(alerts)
                if model is not None:
                    alerts, model_failure = _with_model(alerts, bundle, model, cfg)
                    failures += model_failure
            if writing is not None:
                writing.result()  # an error writing the tables is the run's error
        with stages("cases"):
            if store is not None:
                alerts, suppressed = mark_changes(alerts, result.previous_alerts)
            else:
                alerts, suppressed = suppress_repeats(alerts, previous)
            seen = result.resolver_rows if store is not None else None  # a store scored on Dask: the rows' counterparties only
            resolution = resolve(bundle, counterparties=seen)
            cases = build_cases(alerts, bundle, resolution=resolution)
        with stages("write"):
            _write_outputs(tmp, bundle, alerts, suppressed, cases, resolution, excel_max_cases, tables=not tables_written)
        summary = _summary(out, facts if tables_written else _bundle_facts(bundle), alerts, suppressed, cases, cfg, failures,
                           failed_files, stages, t0)  # fmt: skip
        if store is not None:
            summary["store"] = _store_summary(store, appended, result)
            summary["consolidation"] = summary["store"]["reconciliation"]
        (tmp / RUN_FILES["summary"]).write_text(json.dumps(summary, indent=2, default=str) + "\n", "utf-8")  # last: the marker
        _replace(tmp, out)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.release()
        Path(lock.lock_file).unlink(missing_ok=True)
    return summary


def append_files(paths, store: Path, *, fmt: str = "auto", aliases=None, read_options: dict | None = None,
                 progress: bool | None = None) -> dict:
    """Read files and append them to a transaction store (``followmoney store append``).

    Parameters
    ----------
    paths : list of str or Path
        Files, folders or globs (:func:`followmoney.read`, consolidated within this batch).
    store : Path
        The store folder (created if missing; see :func:`followmoney.core.store.append_store`).
    fmt, aliases, read_options, progress
        As :func:`run_score`.

    Returns
    -------
    dict
        The append's manifest entry (``records_read = stored + duplicates + merged +
        rejected``) and ``failed_files`` (files that could not be read, with the reason).

    Raises
    ------
    followmoney.exceptions.InputError
        If no file can be read, or ``store`` is a folder that is not a store.
    """
    failed: list[dict] = []
    bundle = read(list(paths), format=fmt, progress=progress, errors=failed, aliases=aliases, **(read_options or {}))
    entry = append_store(bundle, store, inputs=sorted(set(bundle.load_log["source_file"].to_pylist())))
    return {**entry, "failed_files": failed}


def _score_store(store, cfg, since, previous, prev_summary, threads=1, engine="pandas", client=None):
    """:func:`score_store` with the previous run's alerts and state; ``previous_alerts`` set on the result."""
    from followmoney.detect.incremental import score_store

    prev_alerts = prev_state = None
    if previous is not None:
        prev_state = prev_summary["store"]["state"]
        try:
            prev_alerts = pq.read_table(Path(previous) / RUN_FILES["alerts_parquet"])
        except (OSError, pa.ArrowInvalid) as exc:
            raise RunError(f"{previous}: alerts of the previous run cannot be read ({type(exc).__name__})") from None
    result = score_store(store, cfg, since=since, previous_alerts=prev_alerts, previous_state=prev_state, threads=threads, engine=engine,
                         client=client)  # fmt: skip
    result.previous_alerts = prev_alerts
    return result


def mark_changes(alerts: pa.Table, previous: pa.Table | None) -> tuple[pa.Table, pa.Table]:
    """The complete alert set of a store run with ``status`` and ``new_evidence_count`` against the previous run's.

    Parameters
    ----------
    alerts : pyarrow.Table
        This run's complete alert set.
    previous : pyarrow.Table or None
        The previous run's alerts (with the same ids where an alert is the same).

    Returns
    -------
    (alerts, suppressed) : tuple of pyarrow.Table
        ``alerts`` with ``status``: ``new`` (no alert of that id before), ``update`` (new
        evidence transactions) or ``unchanged``, and ``new_evidence_count``;
        ``suppressed`` is empty (a store run lists every alert).

    Examples
    --------
    >>> import pyarrow as pa
    >>> a = pa.table({"alert_id": ["A1", "A2"], "evidence_txn_ids": [["t1", "t2"], ["t3"]], "evidence_count": [2, 1]})
    >>> b = pa.table({"alert_id": ["A1"], "evidence_txn_ids": [["t1"]], "evidence_count": [1]})
    >>> marked, _ = mark_changes(a, b)
    >>> marked["status"].to_pylist(), marked["new_evidence_count"].to_pylist()
    (['update', 'new'], [1, 1])
    """
    marked, suppressed = suppress_repeats(alerts, None)
    if previous is None or previous.num_rows == 0:
        return marked, suppressed
    before = dict(zip(previous["alert_id"].to_pylist(), previous["evidence_txn_ids"].to_pylist()))
    status, counts = [], []
    for aid, ev in zip(alerts["alert_id"].to_pylist(), alerts["evidence_txn_ids"].to_pylist()):
        if aid not in before:
            status.append("new")
            counts.append(len(ev or []))
        else:
            n = len(set(ev or []) - set(before[aid] or []))
            status.append("update" if n else "unchanged")
            counts.append(n)
    marked = marked.set_column(marked.schema.get_field_index("status"), "status", pa.array(status, pa.string()))
    marked = marked.set_column(marked.schema.get_field_index("new_evidence_count"), "new_evidence_count", pa.array(counts, pa.int64()))
    return marked, suppressed


def _store_summary(store, appended: dict | None, result) -> dict:
    """The ``store`` section of ``summary.json``."""
    manifest = store_manifest(store)
    totals = {k: sum(a[k] for a in manifest["appends"]) for k in ("records_read", "stored", "duplicates", "merged", "rejected")}
    return {
        "path": str(store),
        "append": appended,
        "rows": manifest["rows"],
        "high_water_mark": result.state["high_water_mark"],
        **result.info,
        "reconciliation": {**totals, "balanced": totals["records_read"] == totals["stored"] + totals["duplicates"] + totals["merged"] + totals["rejected"]},
        "state": result.state,
    }


def _dask_client(engine: str, scheduler: str | None, workers: int | None):
    """A context giving the Dask client of the run (None for the pandas engine)."""
    if engine != "dask":
        return contextlib.nullcontext(None)
    from followmoney.detect._dask import open_client

    return open_client(scheduler=scheduler, workers=workers)


def jurisdiction_from_reports(bundle: Bundle) -> str | None:
    """The jurisdiction whose currency the goAML reports declare as local, if exactly one fits.

    goAML reports carry the reporting FIU's local currency (``currency_code_local``);
    a currency shared by several bundled jurisdictions, or reports declaring several
    currencies, give None (the configured jurisdiction stays, and the run notes it).

    Examples
    --------
    >>> import followmoney as fm
    >>> jurisdiction_from_reports(fm.read(fm.sample_data_path() / "goaml"))
    'AE'
    """
    r = bundle.reports
    declared = {c for f, c in zip(r["format"].to_pylist(), r["currency_local"].to_pylist()) if f == "goaml" and c}
    if len(declared) != 1:
        return None
    (ccy,) = declared
    fits = [code for code, j in jurisdictions().items() if j.currency == ccy and code != "FATF"]
    return fits[0] if len(fits) == 1 else None


def _with_model(alerts: pa.Table, bundle: Bundle, model: Path, cfg: Config) -> tuple[pa.Table, list[dict]]:
    from followmoney.detect.models import model_alerts

    try:
        extra = model_alerts(bundle, model, cfg)
    except FollowMoneyError:
        raise
    except Exception as exc:  # a model that fails is reported like a failing rule
        return alerts, [{"detector": "model", "id": Path(model).name, "error": type(exc).__name__}]
    merged = pa.concat_tables([alerts, extra.cast(alerts.schema)]).sort_by(
        [("score", "descending"), ("window_start", "ascending"), ("alert_id", "ascending")]
    )
    return merged, []


class _Stages:
    """Wall time and the process's peak memory after each stage of a run (for summary.json).

    A stage run :meth:`beside` the others (the tables, written while the rules run) has its own
    wall time, so the stages' seconds may add up to more than the run's."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t = time.perf_counter()
        yield
        release_unused()  # what the stage freed goes back to the system before the next one
        self._record(name, t)

    def beside(self, name: str, func, *args):
        """``func(*args)``, timed as stage ``name``: for a stage run on a thread beside the others."""
        t = time.perf_counter()
        result = func(*args)
        self._record(name, t)
        return result

    def _record(self, name: str, started: float) -> None:
        self.seconds[name] = round(time.perf_counter() - started, 3)
        self.peak_rss_mb[name] = _peak_rss_mb()


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return round(kb / 1024, 1)


def _write_outputs(tmp: Path, bundle, alerts, suppressed, cases, resolution=None, excel_max_cases: int | None = EXCEL_MAX_CASES,
                   *, tables: bool = True) -> None:  # fmt: skip
    """Write the run's files into ``tmp``; the bundle's tables too unless ``tables`` is False (written before scoring)."""
    f = RUN_FILES
    (tmp / f["tables"]).mkdir(exist_ok=True)
    parquet = [(alerts, f["alerts_parquet"]), (suppressed, f["suppressed"]), (cases, f["cases_parquet"])]
    if resolution is not None:  # who is who: every mention's cluster and every link's reason
        parquet += [(resolution.party_clusters, f"{f['tables']}/party_clusters.parquet"), (resolution.match_reasons, f"{f['tables']}/match_reasons.parquet")]
    # Arrow encodes Parquet without holding the GIL: the tables (time growing with the rows) are written on two
    # threads while this one writes the CSV files and the workbook (Python, capped at excel_max_cases)
    with ThreadPoolExecutor(max_workers=2) as pool:
        written = [pool.submit(pq.write_table, t, tmp / name) for t, name in parquet]
        if tables:
            written.append(pool.submit(write_bundle, bundle, tmp / f["tables"]))
        names = run_names(bundle, resolution)
        pacsv.write_csv(flat(with_names(alerts, names, named_lists=False)), tmp / f["alerts_csv"])
        pacsv.write_csv(flat(with_names(cases, names, named_lists=False)), tmp / f["cases_csv"])
        to_excel(tmp / f["cases_xlsx"], cases=cases, alerts=alerts, names=names, max_cases=excel_max_cases)
        for job in written:
            job.result()


def _for_scoring(bundle: Bundle) -> Bundle:
    """The bundle with what scoring, cases and names never read left as nulls: for a run that wrote its tables first.

    ``observations`` becomes empty; of ``transactions``, the columns in
    :data:`_NOT_SCORED` become nulls, and ``observed_in`` too when no payment was seen in
    more than one source row (then it adds nothing to an alert's places); measured on 5 M
    IBM-AML rows, this lets 0.3 GB go. Once the rules' frame is prepared, scoring lets
    all but :data:`~followmoney.detect.score.AFTER_SCORING` go as well
    (``score(..., keep_transactions=False)``).

    Parameters
    ----------
    bundle : Bundle
        As read (:func:`followmoney.read`), its tables already written.

    Returns
    -------
    Bundle
        Same rows; not for writing or for models (their features read more columns).

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> lean = _for_scoring(b)
    >>> lean.transactions.num_rows == b.transactions.num_rows, lean.observations.num_rows, lean.transactions["report_id"].null_count == b.transactions.num_rows
    (True, 0, True)
    """
    tx = bundle.transactions
    drop = [c for c in _NOT_SCORED if c in tx.column_names]
    if "observed_in" in tx.column_names and tx.num_rows and (pc.max(pc.list_value_length(tx["observed_in"])).as_py() or 0) <= 1:
        drop.append("observed_in")
    return replace(bundle, transactions=schema.with_nulls(tx, drop), observations=schema.empty("observations"))


#: Transaction columns that scoring, cases and names do not read (:func:`_for_scoring`).
_NOT_SCORED = ("report_id", "amount_received", "currency_received")


def _bundle_facts(bundle: Bundle) -> dict:
    """What ``summary.json`` says about the tables read: their counts, reconciliation and consolidation."""
    log = bundle.load_log.group_by("table").aggregate(
        [("records_read", "sum"), ("rows_written", "sum"), ("merged", "sum"), ("rejected", "sum")]
    )
    return {
        "inputs": sorted(set(bundle.load_log["source_file"].to_pylist())),
        "tables": {
            r["table"]: {
                "records_read": r["records_read_sum"],
                "rows_written": r["rows_written_sum"],
                "merged": r["merged_sum"],
                "rejected": r["rejected_sum"],
            }
            for r in log.to_pylist()
        },
        "rows": bundle.summary(),
        "consolidation": {
            **reconcile_observations(bundle),
            "account_rules": dict(Counter(bundle.account_aliases["rule"].to_pylist())),
            "payments_matched_by": dict(Counter(r for r in bundle.observations["matched_by"].to_pylist() if r)),
        },
        "rejects": bundle.rejects.num_rows,
    }


def _summary(out, facts, alerts, suppressed, cases, cfg, failures, failed_files, stages, t0) -> dict:
    f = RUN_FILES
    per_rule = alerts.group_by("rule_id").aggregate([("alert_id", "count")]).sort_by("rule_id")
    bands = dict(Counter(cases["band"].to_pylist()))
    roles = dict(Counter(cases["role"].to_pylist()))
    summary = {
        "status": "complete_with_failures" if failures or failed_files else "complete",
        "run_id": alerts["run_id"][0].as_py() if alerts.num_rows else None,
        "inputs": facts["inputs"],
        "failed_files": failed_files,
        "failures": failures,
        "notes": notes_of(alerts),
        "config": cfg.to_dict(),
        "tables": facts["tables"],
        "rows": facts["rows"],
        "consolidation": facts["consolidation"],
        "rejects": facts["rejects"],
        "alerts": alerts.num_rows,
        "alerts_per_rule": dict(zip(per_rule["rule_id"].to_pylist(), per_rule["alert_id_count"].to_pylist())),
        "alerts_suppressed_as_repeats": suppressed.num_rows,
        "alerts_updated": int(pc.sum(pc.equal(alerts["status"], "update")).as_py() or 0),
        "cases": cases.num_rows,
        "cases_per_band": {b: bands.get(b, 0) for _, b in BANDS},
        "cases_per_role": roles,
        "outputs": {k: str(out / v) for k, v in f.items() if k != "suppressed"},
        "seconds": round(time.perf_counter() - t0, 3),
        "stage_seconds": stages.seconds,
        "stage_peak_rss_mb": stages.peak_rss_mb,
    }
    return summary
