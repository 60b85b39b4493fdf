"""The Dask engine: the typology rules over partitions of accounts, on a Dask cluster.

``followmoney.score(bundle, engine="dask")`` runs here. Dask is an optional extra
(``pip install 'followmoney[dask]'``); it is imported only when this engine runs, never
by ``import followmoney``.

How the work is split
---------------------
Every rule declares how it partitions (:attr:`followmoney.detect.rules.Rule.partition`):

``"account"``
    The rule's alerts for a subject depend only on the transactions in which that
    subject is the sender or the receiver (``sender`` = ``from_account``, else
    ``from_party``; ``receiver`` likewise), over all of the data, so look-back windows
    are complete. Subjects are put in ``partitions`` buckets by a stable hash of their
    id; partition *p* receives every transaction whose sender or receiver is in bucket
    *p* (a transaction between two buckets goes to both), runs the rule, and keeps only
    the alerts whose subject is in bucket *p*.
``"neighbourhood"``
    Two-hop patterns: the alerts of a subject depend on its own transactions and on
    those of its direct counterparties. Partition *p* receives the transactions of the
    bucket's subjects and of every subject met in them (a semi-join); alerts are kept
    by subject bucket as above.
``"global"``
    Anything else (longer paths, statistics over the whole population, parties and
    identifiers across accounts): the rule runs once on the whole table on one worker.
    This is the honest fallback and is **not memory-bounded**: that worker holds the
    whole prepared frame.

The transactions travel as Arrow chunks of ``chunk_rows``; each chunk is split into the
partitions by one task, so no task holds more than a chunk plus a partition (for the
``account`` and ``neighbourhood`` rules). Alerts are assembled inside each partition with
the same code as the pandas engine, and the driver concatenates them and applies the same
final sort, so the alert table is identical to the pandas engine's: same ids, scores,
evidence and order (``tests/test_dask_engine.py`` checks every rule).

Why an account bucket and not a Dask DataFrame ``shuffle``: the rules are written as
vectorised functions over a frame of *whole* accounts (``../shared/DESIGN.md``), so a
bucket is exactly the unit they need and one ``pyarrow`` filter per chunk replaces the
shuffle; the measurements in ``scale-out.md`` show the shuffle is most of Dask's cost on
one machine. Tasks are not ``pure`` (no content tokens): Arrow slices share their
parent's buffers, and Dask's token of a slice can equal its neighbour's, which would run
one chunk in place of all. It also avoids ``dask.dataframe`` (and its pandas/pyarrow pins): only
``dask.delayed`` and ``distributed`` are used.

Some properties of the whole data are computed first, in passes over the chunks, and
handed to every partition, because the pandas engine decides them on the whole frame:
which prepared columns hold any value (a rule whose required columns are all null is
skipped, :meth:`~followmoney.detect.rules.Rule.missing_columns`), whether
``is_payroll`` is stated anywhere (:func:`followmoney.core.frame.payroll`), and the
statistics a rule declares in ``Rule.whole_data``
(:class:`~followmoney.detect.rules.WholeStat`: when the data start for the fan-in
baseline, the data's span for pass-through, whether places have regions, whether tickets
name passengers). Without these, such a rule could only run ``"global"``.

Why the rules got their declarations (``partition=`` beside each rule says it in a line):

* ``account``: ML-01, ML-02, ML-03, ML-04, ML-05, ML-06, ML-08, ML-13, ML-14, ML-17,
  ML-18, ML-20, HT-01, HT-02, HT-03, HT-06, HT-07, HT-08, HS-01, HS-03, FL-01. Each finds
  episodes, runs or sums keyed by one account (the subject), from the rows that account
  sends or receives; what else they read is per row (channel, country, remittance test),
  from the bundle's other tables (holders, home regions, opening dates), or a declared
  whole-data statistic. ML-08's hub is such an account: its senders, receivers, usual
  count of senders and first contacts are all read from the hub's own payments in and
  out, and when the data start is declared.
* ``neighbourhood``: HT-09, FL-02. A controller's alert needs its feeders' own inflows
  (one hop away); a feeder's "potential victim" finding is derived from its controller's
  set of feeders (two hops from the feeder), so it is kept in the partition of the
  controller it names (``related_subject_ids[0]``), where that set is complete.
* ``global``: ML-07 and ML-09..ML-12 (paths through intermediaries and bipartite /
  stacked structures; ML-07 skips intermediaries by their pairs with every payer, ML-09 and
  ML-12 search with a budget over the whole graph: truncation would depend on the
  partition), ML-19 (compares a new account's inflow with the median of all new accounts),
  ML-15 and HT-11 (identifier groups across parties and accounts, from entity
  resolution of the whole bundle).
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from followmoney.core.bundle import Bundle
from followmoney.core.frame import prepare_transactions
from followmoney.core.ids import stable_id
from followmoney.detect._assembly import distinct_alert_ids
from followmoney.detect.fx import CASH_CHANNELS, convert_cash
from followmoney.detect.rules import REGISTRY, RuleContext

__all__ = ["score_dask", "open_client", "PARTITIONINGS", "DASK_EXTRA_HINT", "require_dask", "bucket_of", "plan", "default_partitions", "build_graph"]

log = logging.getLogger("followmoney")

#: The partition declarations a rule may make, most scalable first.
PARTITIONINGS = ("account", "neighbourhood", "global")

#: The one-line message when the extra is missing (the command line maps it to exit code 5).
DASK_EXTRA_HINT = "the Dask engine needs the optional extra: pip install 'followmoney[dask]'"

#: Rules that write run notes (``ctx.shared["notes"]``) from cash rows alone; run once on
#: the driver over the cash rows by :func:`run_notes`.
NOTE_RULES = ("HT-06",)

#: Rows per partition the default partition count aims at.
ROWS_PER_PARTITION = 500_000

#: Rows per chunk the transactions travel in.
CHUNK_ROWS = 1_000_000


def require_dask():
    """Import and return :mod:`dask`, or raise :class:`ImportError` naming the extra.

    Raises
    ------
    ImportError
        ``followmoney[dask]`` is not installed (the message names it, so the command line
        exits with code 5, "missing extra").
    """
    try:
        import dask
        import dask.delayed  # noqa: F401
    except ImportError as exc:
        raise ImportError(DASK_EXTRA_HINT) from exc
    return dask


def bucket_of(ids, partitions: int) -> np.ndarray:
    """The bucket (0 .. ``partitions``-1) of each id; -1 for a missing id.

    A hash of the id's text (pandas' fixed-key SipHash), the same in every process and
    on every worker, so a subject lands in the same bucket wherever it is computed.

    Parameters
    ----------
    ids : array-like of str or None
    partitions : int

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> b = bucket_of(["A1", "B2", None, "A1"], 4)
    >>> int(b[2]), bool(b[0] == b[3]), bool(0 <= b[0] < 4)
    (-1, True, True)
    """
    values = pd.Series(np.asarray(ids, dtype=object))
    missing = values.isna().to_numpy()
    h = pd.util.hash_array(values.fillna("").to_numpy(dtype=object), categorize=True)
    out = (h % np.uint64(partitions)).astype(np.int64)
    out[missing] = -1
    return out


def plan(rule_ids) -> dict[str, list[str]]:
    """Rule ids grouped by their declared partitioning (:data:`PARTITIONINGS`).

    Examples
    --------
    >>> p = plan(["ML-01", "ML-08"])
    >>> sorted(p) == sorted(PARTITIONINGS)
    True
    """
    out: dict[str, list[str]] = {k: [] for k in PARTITIONINGS}
    for r in rule_ids:
        kind = getattr(REGISTRY[r], "partition", "global")
        out[kind if kind in PARTITIONINGS else "global"].append(r)
    return out


# --------------------------------------------------------------------------- tasks (run on workers)
def _ends(tx: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Sender and receiver ids of each row: the account, else the party (as the prepared frame)."""
    return pc.coalesce(tx["from_account"], tx["from_party"]), pc.coalesce(tx["to_account"], tx["to_party"])


def _profile_chunk(tx: pa.Table, timezone: str, context: Bundle) -> tuple[frozenset, bool]:
    """Prepared columns holding any value, and whether ``is_payroll`` is stated, in one chunk."""
    frame = prepare_transactions(tx, timezone, context.accounts)
    present = frozenset(c for c in frame.columns if frame[c].notna().any())
    return present, "is_payroll" in present


def _split_chunk(tx: pa.Table, partitions: int) -> list[pa.Table]:
    """The rows of ``tx`` whose sender or receiver falls in each bucket (a row may go to two)."""
    s, r = _ends(tx)
    bs = bucket_of(s.to_numpy(zero_copy_only=False), partitions)
    br = bucket_of(r.to_numpy(zero_copy_only=False), partitions)
    return [tx.filter(pa.array((bs == p) | (br == p))) for p in range(partitions)]


def _ids_in(tx: pa.Table) -> pa.Array:
    """Every sender and receiver id met in ``tx`` (a bucket's subjects and their counterparties)."""
    s, r = _ends(tx)
    both = pa.chunked_array([*s.chunks, *r.chunks], type=pa.string()) if tx.num_rows else pa.array([], pa.string())
    return pc.unique(pc.drop_null(both))


def _touching_mask(ends: tuple, ids: pa.Array) -> np.ndarray:
    """Which rows have a sender or receiver (``ends``, from :func:`_ends`) among ``ids``."""
    s, r = ends
    hit = pc.or_(pc.fill_null(pc.is_in(s, value_set=ids), False), pc.fill_null(pc.is_in(r, value_set=ids), False))
    return np.asarray(hit.to_numpy(), bool)


def _touching(tx: pa.Table, ids: pa.Array) -> pa.Table:
    """The rows of ``tx`` whose sender or receiver is one of ``ids``."""
    return tx.filter(pa.array(_touching_mask(_ends(tx), ids)))


def _anchors(findings: pd.DataFrame, kind: str) -> np.ndarray:
    """The id whose bucket owns each finding: its subject; for a ``neighbourhood`` rule, a
    potential victim's finding belongs to the controller it names (it was derived there)."""
    subject = findings["subject_id"].to_numpy(object).copy()
    if kind == "neighbourhood" and "role" in findings and "related_subjects" in findings:
        victim = (findings["role"] == "potential_victim").to_numpy()
        for i in np.flatnonzero(victim):
            related = findings["related_subjects"].iloc[i]
            if related is not None and len(related):
                subject[i] = related[0]
    return subject


def _same_ids_as_pandas(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alert ids as the pandas engine gives them when findings of one rule met in different partitions.

    The pandas engine tells apart two alerts of the same rule, subject and window by
    their evidence; here the two may come from two partitions (a potential victim of
    two controllers), so the same rule is applied again on the whole rule's alerts.
    """
    natural = [
        stable_id("A", r, k, s, int(a.value // 1000), int(b.value // 1000))
        for r, k, s, a, b in zip(alerts["rule_id"], alerts["subject_kind"], alerts["subject_id"], alerts["window_start"], alerts["window_end"])
    ]
    ids = distinct_alert_ids(natural, alerts["evidence_txn_ids"].tolist())
    if ids == alerts["alert_id"].tolist():
        return alerts
    alerts = alerts.copy()
    alerts["alert_id"] = ids
    return alerts


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def _prepare(tx: pa.Table, cfg, bundle: Bundle, any_payroll: bool) -> pd.DataFrame:
    """:func:`~followmoney.core.frame.prepare_transactions` of a part, as it would be in the whole frame."""
    frame = prepare_transactions(tx, cfg.jurisdiction_info.timezone, bundle.accounts)
    if any_payroll and "is_payroll" in frame:  # decided on the whole data, as the pandas engine does
        frame["payroll"] = frame["is_payroll"].fillna(False).astype(bool).to_numpy(bool)
    frame, _ = convert_cash(frame, cfg)  # row by row; the run's notes come from run_notes()
    return frame


def run_notes(bundle: Bundle, cfg, rule_ids) -> list[dict]:
    """What the run could not assess, counted once over the whole data (not per partition).

    Partitions overlap (a payment between two buckets is in both), so the notes of the
    pandas engine are computed here from the rows they count: foreign-currency cash
    (:func:`~followmoney.detect.fx.convert_cash`) and, for rules that write notes
    (:data:`NOTE_RULES`), their run on the cash rows alone, on the driver.
    """
    tx = bundle.transactions
    if tx.num_rows == 0 or "channel" not in tx.column_names:
        return []
    cash = tx.filter(pc.fill_null(pc.is_in(tx["channel"], value_set=pa.array(list(CASH_CHANNELS))), False))
    if cash.num_rows == 0:
        return []
    frame = prepare_transactions(cash, cfg.jurisdiction_info.timezone, bundle.accounts)
    frame, notes = convert_cash(frame, cfg)
    shared: dict = {}
    for rule_id in (r for r in rule_ids if r in NOTE_RULES):
        rule = REGISTRY[rule_id]
        if rule.missing_columns(frame):
            continue
        params = rule.resolve_params(cfg.rule_params(rule_id))
        ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared)
        try:
            rule.func(frame, ctx)
        except Exception:  # noqa: BLE001 - the rule's failure is recorded by its partitions
            continue
    return notes + list(shared.get("notes", []))


def _stats_chunk(tx: pa.Table, cfg, bundle: Bundle, profile, specs) -> dict:
    """Each rule's :class:`~followmoney.detect.rules.WholeStat` values on one chunk."""
    frame = _prepare(tx, cfg, bundle, profile[1])
    return {rule_id: {st.name: st.func(frame, params) for st in stats} for rule_id, params, stats in specs}


def _merge_stats(parts: list[dict], specs) -> dict:
    return {rule_id: {st.name: st.combine([p[rule_id][st.name] for p in parts]) for st in stats} for rule_id, _, stats in specs}


def _run_partition(tx, bucket, partitions, rule_ids, bundle, cfg, run_id, profile, on_error, stats, assemble) -> dict:
    """Run ``rule_ids`` on the rows ``tx``; alerts of subjects in ``bucket`` (all when None).

    Returns ``{rule_id: ("alerts", DataFrame) | ("error", exception type name)}``;
    rules without alerts here are absent.
    """
    present, any_payroll = profile
    if tx.num_rows == 0:
        return {}
    frame = _prepare(tx, cfg, bundle, any_payroll)
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    shared: dict = {}
    out: dict = {}
    for rule_id in rule_ids:
        rule = REGISTRY[rule_id]
        if any(c not in present for c in rule.requires):  # all null in the whole data: skipped
            continue
        params = rule.resolve_params(cfg.rule_params(rule_id))
        try:
            whole = None if bucket is None else (stats or {}).get(rule_id, {})
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared, whole=whole)
            findings = rule.func(frame, ctx)
            if findings is None or findings.empty:
                continue
            if bucket is not None:
                findings = findings[bucket_of(_anchors(findings, rule.partition), partitions) == bucket]
                if findings.empty:
                    continue
            out[rule_id] = ("alerts", assemble(rule, params, cfg, findings, by_txn, run_id))
        except Exception as exc:  # recorded as in the pandas engine; the driver decides
            if on_error == "raise":
                raise
            out[rule_id] = ("error", type(exc).__name__)
    return out


# --------------------------------------------------------------------------- driver
def default_partitions(rows: int) -> int:
    """Partitions for ``rows`` transactions: about :data:`ROWS_PER_PARTITION` each, at least 1.

    Examples
    --------
    >>> default_partitions(0), default_partitions(1_200_000)
    (1, 3)
    """
    return max(1, math.ceil(rows / ROWS_PER_PARTITION))


def build_graph(bundle: Bundle, cfg, rule_ids, run_id: str, *, assemble, partitions: int, on_error: str = "record",
                chunk_rows: int = CHUNK_ROWS, scatter=None) -> list:
    """The Dask tasks (``dask.delayed``) of one scoring run, one result dict each.

    Parameters
    ----------
    bundle : Bundle
    cfg : Config
    rule_ids : list of str
        Rules to run (already checked).
    run_id : str
    assemble : callable
        ``assemble(rule, params, cfg, findings, by_txn, run_id) -> DataFrame``: the alert
        rows of a rule's findings (the pandas engine's, so both give the same rows).
    partitions : int
        Account buckets.
    on_error : {"record", "raise"}
    chunk_rows : int
        Rows per chunk of the transactions table.
    scatter : callable, optional
        ``client.scatter``: places the chunks and the context on the workers once
        instead of embedding them in the graph.

    Returns
    -------
    list of dask.delayed.Delayed
    """
    dask = require_dask()
    delayed = dask.delayed
    tx = bundle.transactions
    chunks = [tx.slice(i, chunk_rows) for i in range(0, tx.num_rows, chunk_rows)] or [tx]
    context = replace(bundle, transactions=tx.schema.empty_table())  # the other tables; the rows travel apart
    if scatter is not None:
        chunks = scatter(chunks)
        context = scatter(context, broadcast=True)
    tz = cfg.jurisdiction_info.timezone
    profiles = [delayed(_profile_chunk)(c, tz, context) for c in chunks]
    profile = delayed(_merge_profiles)(profiles)
    by_kind = plan(rule_ids)
    tasks = []
    specs = [(r, REGISTRY[r].resolve_params(cfg.rule_params(r)), REGISTRY[r].whole_data)
             for r in by_kind["account"] + by_kind["neighbourhood"] if REGISTRY[r].whole_data]  # fmt: skip
    stats = None
    if specs:  # statistics of the whole data that partitioned rules read, one pass over the chunks
        stats = delayed(_merge_stats)([delayed(_stats_chunk)(c, cfg, context, profile, specs) for c in chunks], specs)
    if by_kind["account"] or by_kind["neighbourhood"]:
        pieces = [delayed(_split_chunk, nout=partitions)(c, partitions) for c in chunks]
        for p in range(partitions):
            part = delayed(_concat)([pieces[c][p] for c in range(len(chunks))])
            if by_kind["account"]:
                tasks.append(delayed(_run_partition)(
                    part, p, partitions, by_kind["account"], context, cfg, run_id, profile, on_error, stats, assemble))
            if by_kind["neighbourhood"]:
                ids = delayed(_ids_in)(part)
                near = delayed(_concat)([delayed(_touching)(c, ids) for c in chunks])
                tasks.append(delayed(_run_partition)(
                    near, p, partitions, by_kind["neighbourhood"], context, cfg, run_id, profile, on_error, stats, assemble))
    if by_kind["global"]:
        whole = delayed(_concat)(list(chunks))
        tasks.append(delayed(_run_partition)(
            whole, None, partitions, by_kind["global"], context, cfg, run_id, profile, on_error, None, assemble))
    return tasks


def _merge_profiles(profiles) -> tuple[frozenset, bool]:
    present = frozenset().union(*(p[0] for p in profiles))
    return present, any(p[1] for p in profiles)


def score_dask(bundle: Bundle, cfg, rule_ids, run_id: str, *, assemble, client=None, partitions: int | None = None,
               on_error: str = "record", chunk_rows: int = CHUNK_ROWS) -> tuple[list[pd.DataFrame], list[dict], list[dict]]:
    """Run ``rule_ids`` over ``bundle`` on Dask; the alert frames in rule order, the failures and the notes.

    Called by :func:`followmoney.score` with ``engine="dask"``, which checks the
    arguments, and sorts and types the result exactly as the pandas engine does.

    Parameters
    ----------
    bundle : Bundle
    cfg : Config
    rule_ids : list of str
    run_id : str
    assemble : callable
        Alert assembly, as for :func:`build_graph`.
    client : distributed.Client, optional
        Where to run; default: Dask's current scheduler (the active ``Client`` if there
        is one, else ``dask.config``'s, threads by default).
    partitions : int, optional
        Account buckets; default :func:`default_partitions` of the row count.
    on_error : {"record", "raise"}
    chunk_rows : int
        Rows per chunk of the transactions table.

    Returns
    -------
    alerts : list of pandas.DataFrame
        Per rule, in ``rule_ids`` order, the alert rows of all partitions.
    failures : list of dict
        ``{"detector": "rule", "id": ..., "error": ...}`` per failed rule.
    notes : list of dict
        What the run could not assess (:func:`run_notes`).
    """
    dask = require_dask()
    n = partitions if partitions is not None else default_partitions(bundle.transactions.num_rows)
    if int(n) < 1:
        raise ValueError(f"partitions must be at least 1, got {n}")
    scatter = client.scatter if client is not None else None
    tasks = build_graph(bundle, cfg, rule_ids, run_id, assemble=assemble, partitions=int(n), on_error=on_error,
                        chunk_rows=chunk_rows, scatter=scatter)
    if client is not None:
        results = client.gather(client.compute(tasks))
    else:
        results = dask.compute(*tasks)
    by_rule: dict[str, list] = {r: [] for r in rule_ids}
    errors: dict[str, str] = {}
    for res in results:
        for rule_id, (kind, value) in res.items():
            if kind == "error":
                errors.setdefault(rule_id, value)
            else:
                by_rule[rule_id].append(value)
    out, failures = [], []
    notes = run_notes(bundle, cfg, rule_ids)
    for rule_id in rule_ids:
        if rule_id in errors:
            failures.append({"detector": "rule", "id": rule_id, "error": errors[rule_id]})
            log.warning("rule %s failed (%s); its alerts are missing from this run", rule_id, errors[rule_id])
        elif by_rule[rule_id]:
            out.append(_same_ids_as_pandas(pd.concat(by_rule[rule_id], ignore_index=True)))
    return out, failures, notes


def open_client(scheduler: str | None = None, workers: int | None = None):
    """A context manager giving a :class:`distributed.Client` for a run, closed after it.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``): its workers run the job,
        and must be able to import followmoney and read the input files.
    workers : int, optional
        Without ``scheduler``: a :class:`distributed.LocalCluster` of this many worker
        processes, one thread each (default: Dask's choice for this machine).

    Raises
    ------
    ImportError
        ``followmoney[dask]`` is not installed.
    """
    import contextlib

    require_dask()
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(DASK_EXTRA_HINT) from exc

    @contextlib.contextmanager
    def _open():
        if scheduler:
            with distributed.Client(scheduler) as client:
                yield client
        else:
            kw = {"n_workers": workers, "threads_per_worker": 1} if workers else {}
            with distributed.LocalCluster(dashboard_address=None, **kw) as cluster, distributed.Client(cluster) as client:
                yield client

    return _open()

