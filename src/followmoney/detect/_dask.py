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
``"payer"``
    Patterns of many payers feeding one receiver (HT-09, FL-02): the rule first finds
    payments each decided by its payer's own transactions alone
    (:attr:`~followmoney.detect.rules.Rule.pairs`: what the payer receives and how
    promptly it passes it on); these run on the account buckets beside the
    ``account`` rules, each bucket keeping the pairs of its own payers with the
    canonical rows they name. One task then builds the findings (controllers and
    their potential victims) from every bucket's pairs
    (:attr:`~followmoney.detect.rules.Rule.from_pairs`), on a frame of only the rows
    the pairs name, so that task holds the qualifying payments, not the data.
``"neighbourhood"``
    Two-hop patterns of a rule of one's own that declares it: the alerts of a subject
    depend on its own transactions and on those of its direct counterparties.
    Partition *p* receives the transactions of the bucket's subjects and of every
    subject met in them (a semi-join); alerts are kept by subject bucket as above. On a
    heavy-tailed graph a bucket's neighbourhood is most of the data (70-97 % of 1 M
    IBM-format rows for 50 down to 10 buckets), which is why HT-09 and FL-02 are
    ``payer`` rules.
``"graph"``
    ML-07 and ML-09..ML-12, which read the graph rules' edge table: the transactions that
    move money between two accounts as integer arrays (accounts, currencies, times,
    amounts in minor units), in (t, txn_id) order. Each chunk's task makes its rows of
    that table with their own codes (:func:`~followmoney.detect.rules._graph._table.edge_piece`);
    one task numbers the accounts and currencies of all of them in text order, sorts
    the edges and runs the rules on the table
    (:func:`~followmoney.detect.rules._graph._table.edges_from_pieces`: the same table
    as the whole frame's), with the txn ids as one Arrow array and no frame of the rows;
    the alerts are then assembled from the rows the findings cite, read from the chunks.
    That task holds the whole table (at 50 M IBM-format rows, 34 M edges: 2.9 GB, where
    the frame would take 272 bytes a row) plus what each rule's search adds (up to 2.8 GB
    there, ML-10): it is bounded by the edges, not by a partition.
``"global"``
    Anything else (parties and identifiers across accounts, ML-15 and HT-11): the rule
    runs once on the whole table on one worker. This is the honest fallback and is
    **not memory-bounded**: that worker holds the whole prepared frame.

The transactions travel as chunks: Arrow slices of ``chunk_rows`` of a bundle in memory,
or, for a store (:func:`followmoney.detect.incremental.score_store` with
``engine="dask"``), groups of its Parquet files (:class:`Files`) that the workers read
themselves, so that the driver never holds the rows. Each chunk is split into the
partitions by one task; on one machine the pieces are written to a temporary folder as
Arrow files and read by their partition's task (:func:`run_chunks`' ``spill_dir``), so no
task holds more than a chunk or a partition (for the ``account``, ``payer`` and
``neighbourhood`` rules), and nothing waits in the workers' memory for the last
partition. Alerts are assembled inside each partition with
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
name passengers, every new account's inflow for ML-19's median of new accounts). Without
these, such a rule could only run ``"global"``.

Why the rules got their declarations (``partition=`` beside each rule says it in a line):

* ``account``: ML-01, ML-02, ML-03, ML-04, ML-05, ML-06, ML-08, ML-13, ML-14, ML-17,
  ML-18, ML-19, ML-20, HT-01, HT-02, HT-03, HT-06, HT-07, HT-08, HS-01, HS-03, FL-01. Each finds
  episodes, runs or sums keyed by one account (the subject), from the rows that account
  sends or receives; what else they read is per row (channel, country, remittance test),
  from the bundle's other tables (holders, home regions, opening dates), or a declared
  whole-data statistic. ML-08's hub is such an account: its senders, receivers, usual
  count of senders and first contacts are all read from the hub's own payments in and
  out, and when the data start is declared. ML-19 compares a new account's early inflow
  with the median of every new account's: a keyed sum over the chunks
  (``WholeStat(reduce="sum")``), from which each bucket takes the median.
* ``payer``: HT-09, FL-02. Whether an account hands its income (or wages) to a receiver,
  month after month, is read from that account's own inflows and outflows; a
  controller is a receiver with enough such payers, and each payer is then its potential
  victim, which needs every payer of that receiver: the pairs' step and the findings' step.
  Whether the receiver takes remittances (a remitter is no controller) is a
  ``WholeStat`` (``msb_payees``, the union over the chunks).
* ``graph``: ML-07 and ML-09..ML-12 (paths through intermediaries and bipartite /
  stacked structures; ML-07 skips intermediaries by their pairs with every payer, ML-09 and
  ML-12 search with a budget over the whole graph: truncation would depend on the
  partition).
* ``global``: ML-15 and HT-11 (identifier groups across parties and accounts, from entity
  resolution of the whole bundle).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from followmoney.core.bundle import Bundle
from followmoney.core.frame import FRAME_INPUTS, prepare_transactions
from followmoney.core.memory import release_unused
from followmoney.core.ids import stable_id
from followmoney.core.store import read_part
from followmoney.detect._assembly import distinct_alert_ids
from followmoney.detect.fx import CASH_CHANNELS, cash_notes, convert_cash
from followmoney.detect.rules import REGISTRY, SHARED_USERS, RuleContext, Touching
from followmoney.detect.rules._cash import undated_deposits_note
from followmoney.detect.rules._graph._table import edge_piece, edges_from_pieces

__all__ = ["score_dask", "run_chunks", "for_tasks", "StoreContext", "DaskRun", "Files", "gather_rows", "open_client", "PARTITIONINGS", "DASK_EXTRA_HINT", "require_dask",
           "bucket_of", "plan", "default_partitions", "build_graph"]

log = logging.getLogger("followmoney")

#: The partition declarations a rule may make, most scalable first.
PARTITIONINGS = ("account", "payer", "neighbourhood", "graph", "touching", "global")

#: The one-line message when the extra is missing (the command line maps it to exit code 5).
DASK_EXTRA_HINT = "the Dask engine needs the optional extra: pip install 'followmoney[dask]'"

#: Rules that write run notes (``ctx.shared["notes"]``) from cash rows alone, run on each
#: chunk's cash rows by :func:`run_notes`, and how their note is written from the count
#: summed over the chunks (:func:`combine_notes`).
NOTE_RULES = {"HT-06": undated_deposits_note}

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


# --------------------------------------------------------------------------- where rows come from
@dataclass(frozen=True)
class Files:
    """Rows kept in Parquet files, read by the task that needs them (on a worker, not on the driver).

    The parts of a transaction store (:func:`followmoney.core.store.store_chunks`), or the
    pieces of a chunk spilled to disk by the split into account buckets (:func:`_split_chunk`).
    Each file is read with :func:`followmoney.core.store.read_part` (columns null in every
    row take no memory).

    Parameters
    ----------
    paths : tuple of str
        The files, read in this order and concatenated.
    """

    paths: tuple


def _load(chunk, columns: tuple | None = None) -> pa.Table:
    """The rows of a chunk: a table in memory, or :class:`Files` read here; with ``columns``, only those it has.

    The tasks that only prepare a frame read :data:`~followmoney.core.frame.FRAME_INPUTS`
    (at IBM-format rows, 70 of the 214 bytes a row read are columns no frame holds).
    """
    if not isinstance(chunk, Files):
        return chunk if columns is None else chunk.select([c for c in columns if c in chunk.column_names])
    return _concat([read_part(path, columns, skip_missing=True) for path in chunk.paths])


def _write_piece(piece: pa.Table, path: str) -> Files:
    """A spilled piece, as Parquet: Arrow IPC wrote every all-null column in full (1.4 GB of
    pieces for each million rows of a 50 M-row store, more than the machine's disk), Parquet a
    few bytes for it, and :func:`_load` reads it back as zero pages."""
    pq.write_table(piece, path)
    return Files((path,))


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def _gather(chunks: list, columns: tuple | None = None) -> pa.Table:
    """The rows of several chunks (tables or :class:`Files`) as one table, loaded one at a time (see :func:`_load`)."""
    return _concat([_load(c, columns) for c in chunks])


# --------------------------------------------------------------------------- tasks (run on workers)
@dataclass(frozen=True)
class StoreContext:
    """A transaction store's context tables (accounts, parties, identifiers, ...), read by each worker
    process itself when a task needs them, not sent from the driver.

    Parameters
    ----------
    path : str
        The store.
    version : str
        Which state of the store (:meth:`of`: its latest append and when its manifest was
        written): a worker that outlives a run (a remote cluster) reads the tables again
        once the store has changed. A worker keeps the tables of its two latest versions.
    """

    path: str
    version: str

    @classmethod
    def of(cls, store) -> StoreContext:
        """The context of ``store`` as it is now."""
        from followmoney.core.store import store_manifest

        seq = max((a["seq"] for a in store_manifest(store)["appends"]), default=0)
        return cls(str(store), f"{seq}:{os.stat(os.path.join(store, 'store.json')).st_mtime_ns}")

    def load(self) -> Bundle:
        """The tables the tasks read (:func:`for_tasks`), from this process's cache."""
        return _store_context(self.path, self.version)


@functools.lru_cache(maxsize=2)
def _store_context(path: str, version: str) -> Bundle:
    from followmoney.core.store import read_store

    tables = for_tasks(read_store(path, transactions=False), compact=False)
    release_unused()  # the tables no task reads
    return tables


class _Released:
    """A task: ``func`` (a :class:`StoreContext` among its arguments read here), then the memory Arrow
    freed handed back to the system.

    Arrow's allocator (mimalloc) keeps freed memory for reuse: a worker would hold its
    largest task's peak for the rest of the run beside whatever the next task needs, and
    the driver the transient copies of its context (1.5 GB of 2.9 GB at 50 M rows). Tasks
    keep ``func``'s name (Dask names them after it).
    """

    def __init__(self, func):
        self.func, self.__name__ = func, func.__name__

    def __call__(self, *args, **kwargs):
        args = [a.load() if isinstance(a, StoreContext) else a for a in args]  # a store's tables, read here
        try:
            return self.func(*args, **kwargs)
        finally:
            release_unused()


def _ends(tx: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Sender and receiver ids of each row: the account, else the party (as the prepared frame)."""
    return pc.coalesce(tx["from_account"], tx["from_party"]), pc.coalesce(tx["to_account"], tx["to_party"])


def _profile_chunk(chunk, timezone: str, context: Bundle) -> tuple[frozenset, bool]:
    """Prepared columns holding any value, and whether ``is_payroll`` is stated, in one chunk."""
    frame = prepare_transactions(_load(chunk, FRAME_INPUTS), timezone, context.accounts)
    present = frozenset(c for c in frame.columns if frame[c].notna().any())
    return present, "is_payroll" in present


def _split_chunk(chunk, partitions: int, spill: str | None = None, tag: str = "") -> list:
    """The rows of a chunk whose sender or receiver falls in each bucket (a row may go to two).

    With ``spill`` (a folder every worker can read), each non-empty piece is written
    there as a Parquet file and returned as :class:`Files`, so that the pieces of
    every chunk wait on disk, not in the workers' memory, until their partition runs.
    The pieces hold the columns their frames are prepared from.
    """
    tx = _load(chunk, FRAME_INPUTS)
    s, r = _ends(tx)
    bs = bucket_of(s.to_numpy(zero_copy_only=False), partitions)
    br = bucket_of(r.to_numpy(zero_copy_only=False), partitions)
    pieces = []
    for p in range(partitions):
        piece = tx.filter(pa.array((bs == p) | (br == p)))
        pieces.append(piece if spill is None or piece.num_rows == 0 else _write_piece(piece, os.path.join(spill, f"b{p}-{tag}.parquet")))
    return pieces


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


def _touching(chunk, ids: pa.Array, spill: str | None = None, tag: str = ""):
    """The rows of a chunk whose sender or receiver is one of ``ids`` (spilled as :func:`_split_chunk` does)."""
    tx = _load(chunk, FRAME_INPUTS)
    near = tx.filter(pa.array(_touching_mask(_ends(tx), ids)))
    return near if spill is None or near.num_rows == 0 else _write_piece(near, os.path.join(spill, f"n-{tag}.parquet"))


def _cash_rows(chunk) -> pa.Table:
    """The cash rows of a chunk (what :func:`run_notes` counts)."""
    tx = _load(chunk, FRAME_INPUTS)
    if "channel" not in tx.column_names:
        return tx.schema.empty_table()
    return tx.filter(pc.fill_null(pc.is_in(tx["channel"], value_set=pa.array(list(CASH_CHANNELS))), False))


def _observed_chunk(chunk) -> dict:
    """:func:`~followmoney.detect._assembly.observed_in` of a chunk's rows."""
    from followmoney.detect._assembly import observed_in

    return observed_in(Bundle(transactions=_load(chunk)))


def _merge_dicts(parts: list[dict]) -> dict:
    out: dict = {}
    for p in parts:
        out.update(p)
    return out


#: What :func:`followmoney.resolve` reads of the transactions (its counterparty evidence).
MENTION_COLUMNS = ("from_party", "to_party", "from_account", "to_account")


def _rows_cited(chunk, txn_ids: pa.Array, party_ids: pa.Array) -> tuple[pa.Table, pa.Table]:
    """The rows of a chunk with one of ``txn_ids``; and the distinct :data:`MENTION_COLUMNS` of its rows naming one of ``party_ids``."""
    tx = _load(chunk)
    cited = tx.filter(pc.fill_null(pc.is_in(tx["txn_id"], value_set=txn_ids), False))
    return cited, _mentions(tx, party_ids)


def _mentions(tx: pa.Table, party_ids: pa.Array) -> pa.Table:
    cols = list(MENTION_COLUMNS)
    named = pa.array(np.zeros(tx.num_rows, bool))
    for c in ("from_party", "to_party"):
        named = pc.or_(named, pc.fill_null(pc.is_in(tx[c], value_set=party_ids), False))
    return tx.select(cols).filter(named).group_by(cols, use_threads=False).aggregate([])


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


def _prepare(tx: pa.Table, cfg, bundle: Bundle, any_payroll: bool) -> pd.DataFrame:
    """:func:`~followmoney.core.frame.prepare_transactions` of a part, as it would be in the whole frame."""
    frame = prepare_transactions(tx, cfg.jurisdiction_info.timezone, bundle.accounts)
    if any_payroll and "is_payroll" in frame:  # decided on the whole data, as the pandas engine does
        frame["payroll"] = frame["is_payroll"].fillna(False).astype(bool).to_numpy(bool)
    frame, _ = convert_cash(frame, cfg)  # row by row; the run's notes come from run_notes()
    return frame


def run_notes(context: Bundle, cash: pa.Table, cfg, rule_ids) -> list[dict]:
    """What the run could not assess in some cash rows (one task per chunk; :func:`combine_notes` sums them).

    Partitions overlap (a payment between two buckets is in both), so the notes of the
    pandas engine are computed from the rows they count, the data's cash rows, a chunk at a
    time: foreign-currency cash (:func:`~followmoney.detect.fx.convert_cash`) and, for
    rules that write notes (:data:`NOTE_RULES`), their run on the cash rows alone. A rule
    whose columns are empty in these rows has no row to count here.

    Parameters
    ----------
    context : Bundle
        The bundle's other tables (its transactions are not read).
    cash : pyarrow.Table
        Cash rows (``channel`` in :data:`~followmoney.detect.fx.CASH_CHANNELS`),
        canonical ``transactions`` schema.
    cfg : Config
    rule_ids : list of str
    """
    if cash.num_rows == 0:
        return []
    frame = prepare_transactions(cash, cfg.jurisdiction_info.timezone, context.accounts)
    frame, notes = convert_cash(frame, cfg)
    shared: dict = {}
    for rule_id in (r for r in rule_ids if r in NOTE_RULES):
        rule = REGISTRY[rule_id]
        if rule.missing_columns(frame):
            continue
        params = rule.resolve_params(cfg.rule_params(rule_id))
        ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=context, config=cfg, shared=shared)
        try:
            rule.func(frame, ctx)
        except Exception:  # noqa: BLE001 - the rule's failure is recorded by its partitions
            continue
    return notes + list(shared.get("notes", []))


def _notes_chunk(chunk, cfg, context: Bundle, rule_ids) -> list[dict]:
    """:func:`run_notes` of a chunk's cash rows (the rows stay on the worker: at 50 M rows a tenth are cash)."""
    return run_notes(context, _cash_rows(chunk), cfg, rule_ids)


def combine_notes(parts: list[list[dict]], cfg) -> list[dict]:
    """The whole data's run notes from each chunk's :func:`run_notes`: counts summed, each note written once.

    Raises
    ------
    ValueError
        For a note whose counts this does not know how to sum (a new note-writing rule
        must be listed in :data:`NOTE_RULES`).

    Examples
    --------
    >>> from followmoney import Config
    >>> parts = [[{"topic": "foreign_cash", "counts": {"EUR": 1}}], [], [{"topic": "foreign_cash", "counts": {"EUR": 2, "AUD": 1}}]]
    >>> [n["counts"] for n in combine_notes(parts, Config(jurisdiction="US"))]
    [{'AUD': 1, 'EUR': 3}]
    """
    from collections import Counter

    converted: Counter = Counter()
    left: Counter = Counter()
    by_rule: Counter = Counter()
    for notes in parts:
        for note in notes:
            if note["topic"] == "foreign_cash_converted":
                converted.update(note["counts"])
            elif note["topic"] == "foreign_cash":
                left.update(note["counts"])
            elif note.get("rule") in NOTE_RULES:
                by_rule[note["rule"]] += note["count"]
            else:
                raise ValueError(f"run note {note['topic']!r}: no way to sum it over chunks")
    return cash_notes(converted, left, cfg, rates=bool(cfg.rate_table())) + [NOTE_RULES[r](by_rule[r]) for r in NOTE_RULES if by_rule[r]]


def _stats_chunk(chunk, cfg, bundle: Bundle, profile, specs) -> dict:
    """Each rule's :class:`~followmoney.detect.rules.WholeStat` values on one chunk."""
    frame = _prepare(_load(chunk, FRAME_INPUTS), cfg, bundle, profile[1])
    return {rule_id: {st.name: st.value(frame, params, bundle) for st in stats} for rule_id, params, stats in specs}


def _merge_stats(parts: list[dict], specs) -> dict:
    return {rule_id: {st.name: st.combine([p[rule_id][st.name] for p in parts]) for st in stats} for rule_id, _, stats in specs}


@contextlib.contextmanager
def _recording(out: dict, rule_id: str, on_error: str):
    """A rule's work in a task: an exception is recorded in ``out`` as ``("error", its type name)``, as the
    pandas engine records a failed rule (the driver decides), or raised with ``on_error="raise"``."""
    try:
        yield
    except Exception as exc:
        if on_error == "raise":
            raise
        out[rule_id] = ("error", type(exc).__name__)


def _run_partition(pieces, bucket, partitions, rule_ids, bundle, cfg, run_id, profile, on_error, stats, assemble, observed) -> dict:
    """Run ``rule_ids`` on the rows of ``pieces`` (chunks, see :func:`_gather`); alerts of subjects in ``bucket`` (all when None).

    Returns ``{rule_id: ("alerts", DataFrame) | ("error", exception type name)}``;
    rules without alerts here are absent.
    """
    present, any_payroll = profile
    if not pieces:
        return {}
    tx = _gather(pieces, FRAME_INPUTS)
    if tx.num_rows == 0:
        return {}
    frame = _prepare(tx, cfg, bundle, any_payroll)
    if bucket is None or not any(REGISTRY[r].partition == "payer" for r in rule_ids):
        del tx  # a payer rule's pairs take their rows from it
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    shared: dict = {}
    out: dict = {}
    for rule_id in rule_ids:
        rule = REGISTRY[rule_id]
        if any(c not in present for c in rule.requires):  # all null in the whole data: skipped
            continue
        params = rule.resolve_params(cfg.rule_params(rule_id))
        with _recording(out, rule_id, on_error):
            whole = None if bucket is None else (stats or {}).get(rule_id, {})
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared, whole=whole)
            if rule.partition == "payer" and bucket is not None:  # the payments of this bucket's payers; findings in _run_from_pairs
                out[rule_id] = ("pairs", _payers_pairs(rule.pairs(frame, ctx), frame, tx, bucket, partitions))
                continue
            findings = rule.func(frame, ctx)
            if findings is None or findings.empty:
                continue
            if bucket is not None:
                findings = findings[bucket_of(_anchors(findings, rule.partition), partitions) == bucket]
                if findings.empty:
                    continue
            out[rule_id] = ("alerts", assemble(rule, params, cfg, findings, by_txn, run_id, observed))
    return out


def _payers_pairs(pairs: pd.DataFrame, frame: pd.DataFrame, tx: pa.Table, bucket: int, partitions: int) -> tuple[pd.DataFrame, pa.Table]:
    """A ``payer`` rule's pairs (:attr:`~followmoney.detect.rules.Rule.pairs`) whose payer is in ``bucket``, with
    ``row`` / ``in_row`` as transaction ids, and the canonical rows they name (from ``tx``, this partition's rows)."""
    from followmoney.core.frame import CODE_COLUMNS

    pairs = pairs[bucket_of(pairs["from_account"].to_numpy(object), partitions) == bucket]  # a payer's rows are all here
    pairs = pairs.drop(columns=[c for c in CODE_COLUMNS.values() if c in pairs.columns])  # codes differ between partitions
    ids = frame["txn_id"]
    at = frame.index.get_indexer(pairs["row"])
    in_at = frame.index.get_indexer(pairs["in_row"])
    pairs = pairs.assign(row=ids.iloc[at].to_numpy(object), in_row=ids.iloc[in_at].to_numpy(object))
    named = pa.array(np.concatenate([pairs["row"].to_numpy(object), pairs["in_row"].to_numpy(object)]), pa.string())
    return pairs.reset_index(drop=True), tx.filter(pc.is_in(tx["txn_id"], value_set=pc.unique(named)))


def _run_from_pairs(results: list[dict], rule_ids, bundle, cfg, run_id, profile, on_error, stats, assemble, observed) -> dict:
    """The findings of ``payer`` rules from every partition's pairs (:func:`_payers_pairs`), in one task.

    The rows the pairs name are prepared on their own: a frame of them in the whole
    frame's order, the pairs in the order of their ``row`` there, as the whole frame's
    run gives them (see :attr:`~followmoney.detect.rules.Rule.from_pairs`).
    """
    out: dict = {}
    for rule_id in rule_ids:
        got = [res[rule_id] for res in results if rule_id in res]
        failed = [value for kind, value in got if kind == "error"]
        if failed:
            out[rule_id] = ("error", failed[0])
            continue
        parts = [value for kind, value in got if kind == "pairs"]
        pairs = pd.concat([m for m, _ in parts], ignore_index=True) if parts else None
        if pairs is None or pairs.empty:
            continue
        rule = REGISTRY[rule_id]
        params = rule.resolve_params(cfg.rule_params(rule_id))
        with _recording(out, rule_id, on_error):
            rows = _concat([r for _, r in parts])
            _, first = np.unique(rows["txn_id"].to_numpy(zero_copy_only=False), return_index=True)  # a row two payers name
            frame = _prepare(rows.take(pa.array(np.sort(first))), cfg, bundle, profile[1])
            where = pd.Index(frame["txn_id"])
            at, in_at = where.get_indexer(pairs["row"]), where.get_indexer(pairs["in_row"])
            pairs = pairs.assign(row=frame.index[at], in_row=frame.index[in_at]).iloc[np.argsort(at, kind="stable")].reset_index(drop=True)
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared={},
                              whole=(stats or {}).get(rule_id, {}))  # fmt: skip
            findings = rule.from_pairs(frame, pairs, ctx)
            if findings is None or findings.empty:
                continue
            by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
            out[rule_id] = ("alerts", assemble(rule, params, cfg, findings, by_txn, run_id, observed))
    return out


def _edge_chunk(chunk, cfg, bundle: Bundle, profile, spill: str | None = None, tag: str = ""):
    """The :func:`~followmoney.detect.rules._graph._table.edge_piece` of a chunk's prepared rows, as the whole frame
    prepares them; with ``spill``, its rows and names wait there as two Parquet files (:class:`Files`)."""
    piece = edge_piece(_prepare(_load(chunk, FRAME_INPUTS), cfg, bundle, profile[1]))
    if spill is None:
        return piece
    rows, names = os.path.join(spill, f"e-{tag}.parquet"), os.path.join(spill, f"e-{tag}-names.parquet")
    pq.write_table(piece["rows"], rows)
    pq.write_table(pa.table({"name": [k for k, v in piece["names"].items() for _ in range(len(v))],
                             "value": pa.concat_arrays(list(piece["names"].values()))}), names)  # fmt: skip
    return Files((rows, names))


class _ColumnsOf:
    """A Parquet file's rows, each column read when asked for (``column(name)``, as of a table): the edge table
    is built a column at a time, so the pieces of every chunk are never all in memory at once."""

    def __init__(self, path: str):
        self.path = path
        meta = pq.ParquetFile(path)
        self.num_rows, self.column_names = meta.metadata.num_rows, meta.schema_arrow.names

    def column(self, name: str) -> pa.ChunkedArray:
        return pq.read_table(self.path, columns=[name])[name]


def _edge_load(piece) -> dict:
    """An edge piece of :func:`_edge_chunk`, read back where it was spilled (its rows column by column)."""
    if not isinstance(piece, Files):
        return piece
    rows, names = piece.paths
    names = pq.read_table(names)
    kind = names["name"].to_numpy(zero_copy_only=False)
    return {"rows": _ColumnsOf(rows), "names": {k: names["value"].filter(pa.array(kind == k)).combine_chunks() for k in dict.fromkeys(kind)}}


def _done(result) -> int:
    """1, once ``result``'s task has run (an ordering without moving the result)."""
    return 1


def _run_graph(pieces: list, rule_ids, bundle: Bundle, cfg, profile, on_error, spill: str | None = None, after=None) -> dict:
    """The findings of the ``graph`` rules on the edge table of the whole data, built from every chunk's
    :func:`_edge_chunk` (no frame of the rows is built; with ``spill``, the txn ids wait there, memory-mapped):
    ``{rule_id: ("findings", DataFrame) | ("error", name)}``. ``after``: the tasks it waits for (not read)."""
    present = profile[0]
    ids_file = None if spill is None else os.path.join(spill, "edge-ids.arrow")
    E, frame = edges_from_pieces([_edge_load(p) for p in pieces], present, ids_file)
    release_unused()  # the pieces' columns and the unsorted ids
    shared: dict = {"graph_edges": (frame, E)}  # what the rules' _shared_edges(frame, ctx) returns
    out: dict = {}
    for i, rule_id in enumerate(rule_ids):
        rule = REGISTRY[rule_id]
        if any(c not in present for c in rule.requires):  # all null in the whole data: skipped
            continue
        params = rule.resolve_params(cfg.rule_params(rule_id))
        with _recording(out, rule_id, on_error):
            ctx = RuleContext(params=params, jurisdiction=cfg.jurisdiction_info, bundle=bundle, config=cfg, shared=shared)
            findings = rule.func(frame, ctx)
            if findings is not None and not findings.empty:
                out[rule_id] = ("findings", findings)
        for key, users in SHARED_USERS.items():  # a table shared by rules goes once its last reader here has run
            if key != "graph_edges" and not set(users) & set(rule_ids[i + 1:]):
                shared.pop(key, None)
        E.txn_id.release_pages()  # the ids the rule's findings cited: read again from the file when needed
        release_unused()  # a rule's temporaries do not add up with the next rule's
    return out


def _evidence_ids(found: dict) -> pa.Array:
    """Every txn id the findings of :func:`_run_graph` cite."""
    ids = [i for kind, f in found.values() if kind == "findings" for ev in f["evidence_txn_ids"] for i in ev]
    return pc.unique(pa.array(ids, pa.string()))


def _cited(chunk, txn_ids: pa.Array) -> pa.Table:
    """The rows of a chunk with one of ``txn_ids`` (the frame's inputs)."""
    tx = _load(chunk, FRAME_INPUTS)
    return tx.filter(pc.fill_null(pc.is_in(tx["txn_id"], value_set=txn_ids), False))


def _assemble_found(found: dict, rows: list, bundle: Bundle, cfg, run_id, profile, on_error, assemble, observed) -> dict:
    """The alert rows of :func:`_run_graph`'s findings, from a frame of only the rows they cite."""
    out: dict = {rule_id: got for rule_id, got in found.items() if got[0] == "error"}
    found = {rule_id: f for rule_id, (kind, f) in found.items() if kind == "findings"}
    if not found:
        return out
    frame = _prepare(_concat(rows), cfg, bundle, profile[1])
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    for rule_id, findings in found.items():
        rule = REGISTRY[rule_id]
        params = rule.resolve_params(cfg.rule_params(rule_id))
        with _recording(out, rule_id, on_error):
            out[rule_id] = ("alerts", assemble(rule, params, cfg, findings, by_txn, run_id, observed))
    return out


def _touching_keys(bundle: Bundle, cfg, rule_ids) -> Touching | None:
    """The parties and accounts whose rows the ``touching`` rules read (the union of their
    :attr:`~followmoney.detect.rules.Rule.touching`); None where one of them cannot say (it failed on
    this bundle): then they read every row, and the rule's own run records its failure."""
    parties, accounts, merchants = set(), set(), False
    for rule_id in rule_ids:
        rule = REGISTRY[rule_id]
        try:
            keys = rule.touching(bundle, rule.resolve_params(cfg.rule_params(rule_id)))
        except Exception:  # the rule fails again on the rows, where the driver records (or raises) it
            return None
        parties |= keys.parties
        accounts |= keys.accounts
        merchants |= keys.merchants
    return Touching(frozenset(parties), frozenset(accounts), merchants)


def _keyed_mask(tx: pa.Table, keys: Touching) -> np.ndarray:
    """Which rows have a sender or receiver (party or account) among ``keys``."""
    hit = np.zeros(tx.num_rows, bool)
    for columns, values in ((("from_party", "to_party"), keys.parties), (("from_account", "to_account"), keys.accounts)):
        if not values:
            continue
        value_set = pa.array(sorted(values), pa.string())
        for c in columns:
            if c in tx.column_names:
                hit |= np.asarray(pc.fill_null(pc.is_in(tx[c], value_set=value_set), False).to_numpy(), bool)
    return hit


def _keyed_payees(chunk, keys: Touching) -> list:
    """The accounts a chunk's rows of ``keys`` pay, where the rules ask whether they are merchants (``keys.merchants``)."""
    if keys is None or not keys.merchants or not (keys.parties or keys.accounts):
        return []
    tx = _load(chunk, ("from_party", "to_party", "from_account", "to_account"))
    paid = tx["to_account"].filter(pa.array(_keyed_mask(tx, keys)))
    return pc.unique(pc.drop_null(paid)).to_pylist()


def _keyed_rows(chunk, keys: Touching, payees: list, spill: str | None = None, tag: str = ""):
    """The rows of a chunk the ``touching`` rules read: those of ``keys``, and for each of ``payees`` that is a
    merchant here, one card or merchant-coded row into it (spilled as :func:`_split_chunk` does); every row where
    ``keys`` is None."""
    if keys is not None and not (keys.parties or keys.accounts):
        return None
    if keys is None:
        return chunk
    tx = _load(chunk, FRAME_INPUTS)
    hit = _keyed_mask(tx, keys)
    if payees:  # as HT-11 reads a merchant: a card payment into it, or a row with a merchant category
        merchant = pc.fill_null(pc.equal(tx["channel"], "card"), False) if "channel" in tx.column_names else pa.nulls(tx.num_rows, pa.bool_())
        if "merchant_category" in tx.column_names:
            merchant = pc.or_(pc.fill_null(merchant, False), pc.is_valid(tx["merchant_category"]))
        into = pc.fill_null(pc.is_in(tx["to_account"], value_set=pa.array(payees, pa.string())), False)
        at = np.flatnonzero(np.asarray(pc.and_(into, pc.fill_null(merchant, False)).to_numpy(), bool) & ~hit)
        _, first = np.unique(tx["to_account"].take(pa.array(at)).to_numpy(zero_copy_only=False), return_index=True)
        hit[at[first]] = True  # one row per merchant: only whether it is one is read
    rows = tx.filter(pa.array(hit))
    return rows if spill is None or rows.num_rows == 0 else _write_piece(rows, os.path.join(spill, f"k-{tag}.parquet"))


def _present(pieces: list) -> list:
    """The pieces that exist (a chunk without rows of the keys gives None)."""
    return [p for p in pieces if p is not None]


def _union_lists(parts: list) -> list:
    return sorted(set().union(*parts))


# --------------------------------------------------------------------------- driver
def default_partitions(rows: int) -> int:
    """Partitions for ``rows`` transactions: about :data:`ROWS_PER_PARTITION` each, at least 1.

    Examples
    --------
    >>> default_partitions(0), default_partitions(1_200_000)
    (1, 3)
    """
    return max(1, math.ceil(rows / ROWS_PER_PARTITION))


def build_graph(context: Bundle, chunks: list, cfg, rule_ids, run_id: str, *, assemble, partitions: int, on_error: str = "record",
                spill: str | None = None) -> tuple[list, dict]:
    """The Dask tasks (``dask.delayed``) of one scoring run.

    Parameters
    ----------
    context : Bundle
        The bundle's tables other than ``transactions`` (which it may leave empty).
    chunks : list
        The transactions: ``pyarrow.Table`` slices, or :class:`Files` read by the tasks.
    cfg : Config
    rule_ids : list of str
        Rules to run (already checked).
    run_id : str
    assemble : callable
        ``assemble(rule, params, cfg, findings, by_txn, run_id, observed) -> DataFrame``:
        the alert rows of a rule's findings (the pandas engine's, so both give the same rows).
    partitions : int
        Account buckets.
    on_error : {"record", "raise"}
    spill : str, optional
        A folder every worker can write and read: the pieces of each chunk wait there
        for their partition (:func:`_split_chunk`); default: in the workers' memory.

    Returns
    -------
    tasks : list of dask.delayed.Delayed
        One result dict per partition task (see :func:`_run_partition`).
    facts : dict of dask.delayed.Delayed
        Of the whole data: ``profile`` (prepared columns holding a value, payroll
        stated), ``stats`` (every rule's :class:`~followmoney.detect.rules.WholeStat`
        values) and ``notes`` (what the run could not assess, :func:`combine_notes`).
    """
    dask = require_dask()

    def delayed(func, **kwargs):  # every task hands the memory Arrow freed back (see _Released)
        return dask.delayed(_Released(func), **kwargs)

    tz = cfg.jurisdiction_info.timezone
    profile = delayed(_merge_profiles)([delayed(_profile_chunk)(c, tz, context) for c in chunks])
    observed = delayed(_merge_dicts)([delayed(_observed_chunk)(c) for c in chunks])
    by_kind = plan(rule_ids)
    specs = [(r, REGISTRY[r].resolve_params(cfg.rule_params(r)), REGISTRY[r].whole_data) for r in rule_ids if REGISTRY[r].whole_data]
    stats = delayed(_merge_stats)([delayed(_stats_chunk)(c, cfg, context, profile, specs) for c in chunks], specs) if specs else delayed(dict)()
    facts = {"profile": profile, "stats": stats, "notes": delayed(combine_notes)([delayed(_notes_chunk)(c, cfg, context, rule_ids) for c in chunks], cfg)}
    tasks = []

    def partition_task(pieces, bucket, ids):
        return delayed(_run_partition)(pieces, bucket, partitions, ids, context, cfg, run_id, profile, on_error, stats, assemble, observed)

    bucketed = by_kind["account"] + by_kind["payer"]  # both run on the rows of a bucket's accounts
    bucket_tasks = []
    if bucketed or by_kind["neighbourhood"]:
        pieces = [delayed(_split_chunk, nout=partitions)(c, partitions, spill, f"c{i}") for i, c in enumerate(chunks)]
        for p in range(partitions):
            mine = [pieces[c][p] for c in range(len(chunks))]
            if bucketed:
                bucket_tasks.append(partition_task(mine, p, bucketed))
                tasks.append(bucket_tasks[-1])
            if by_kind["neighbourhood"]:
                ids = delayed(_ids_in)(delayed(_gather)(mine))
                tasks.append(partition_task([delayed(_touching)(c, ids, spill, f"{p}-{i}") for i, c in enumerate(chunks)], p,
                                            by_kind["neighbourhood"]))  # fmt: skip
    if by_kind["payer"]:  # the payer rules' findings from every bucket's pairs
        tasks.append(delayed(_run_from_pairs)(bucket_tasks, by_kind["payer"], context, cfg, run_id, profile, on_error, stats,
                                              assemble, observed))  # fmt: skip
    if by_kind["graph"]:  # the edge table from every chunk, the rules on it, then the rows their findings cite
        edges = [delayed(_edge_chunk)(c, cfg, context, profile, spill, f"c{i}") for i, c in enumerate(chunks)]
        # the run's largest task starts once the other rules' tasks are done, so that no bucket's task runs beside it
        # (at 50 M rows on 2 workers: 8.9 GB beside a bucket's 2.9 GB); only a count travels, not their results
        after = delayed(sum)([delayed(_done)(t) for t in tasks])
        found = delayed(_run_graph)(edges, by_kind["graph"], context, cfg, profile, on_error, spill, after)
        cited = delayed(_evidence_ids)(found)
        tasks.append(delayed(_assemble_found)(found, [delayed(_cited)(c, cited) for c in chunks], context, cfg, run_id, profile,
                                              on_error, assemble, observed))  # fmt: skip
    if by_kind["touching"]:  # the rows of the parties and accounts the rules name (and of the merchants they pay)
        keys = delayed(_touching_keys)(context, cfg, by_kind["touching"])
        payees = delayed(_union_lists)([delayed(_keyed_payees)(c, keys) for c in chunks])
        rows = [delayed(_keyed_rows)(c, keys, payees, spill, f"c{i}") for i, c in enumerate(chunks)]
        tasks.append(partition_task(delayed(_present)(rows), None, by_kind["touching"]))
    if by_kind["global"]:
        tasks.append(partition_task(list(chunks), None, by_kind["global"]))
    return tasks, facts


def _merge_profiles(profiles) -> tuple[frozenset, bool]:
    present = frozenset().union(*(p[0] for p in profiles))
    return present, any(p[1] for p in profiles)


@dataclass
class DaskRun:
    """What a Dask run gives the driver (:func:`run_chunks`).

    Attributes
    ----------
    alerts : list of pandas.DataFrame
        Per rule with alerts, in rule order, the alert rows of all partitions.
    failures : list of dict
        ``{"detector": "rule", "id": ..., "error": ...}`` per failed rule.
    notes : list of dict
        What the run could not assess (:func:`combine_notes`).
    present : frozenset of str
        Prepared columns that hold a value somewhere in the data.
    any_payroll : bool
        Whether ``is_payroll`` is stated anywhere.
    stats : dict
        Per rule with :attr:`~followmoney.detect.rules.Rule.whole_data`, its statistics of the whole data.
    """

    alerts: list
    failures: list
    notes: list
    present: frozenset
    any_payroll: bool
    stats: dict


def _is_local(client) -> bool:
    """Whether ``client``'s workers run on this machine (a :class:`distributed.LocalCluster`)."""
    try:
        from distributed import LocalCluster
    except ImportError:
        return False
    return isinstance(getattr(client, "cluster", None), LocalCluster)


def _spill_folder(client, spill_dir) -> str | None:
    """A fresh folder for the split's pieces, or None to keep them in the workers' memory.

    ``spill_dir`` False: memory; a path: a new folder in it; None: a new temporary folder
    when the workers run on this machine (Dask's local schedulers or a
    :class:`distributed.LocalCluster`), else memory (a remote cluster's workers cannot
    read this machine's temporary folder).
    """
    if spill_dir is False:
        return None
    if spill_dir is None:
        if client is None:
            try:
                from distributed import default_client

                client = default_client()
            except (ImportError, ValueError):  # no distributed, or no active client: a local scheduler
                client = None
        if client is not None and not _is_local(client):
            return None
    return tempfile.mkdtemp(prefix="followmoney-dask-", dir=None if spill_dir is None else os.fspath(spill_dir))


#: Tables of a bundle that no task reads: consolidation's listings and the load's accounting.
_NOT_FOR_TASKS = ("transactions", "account_aliases", "observations", "rejects", "load_log")


def for_tasks(context: Bundle, *, compact: bool) -> Bundle:
    """The context tables the tasks read; with ``compact``, each in buffers of its own size.

    A bundle reaches a worker pickled, and a pickled Arrow array takes its buffers whole:
    a slice of a larger table, or a chunk of a Parquet read (whose chunks share the
    decoded column), pickles as its parent. At 50 M stored rows the 5 M accounts (0.47 GB
    of Arrow) pickled to 3.7 GB, the account listing to 2.9 GB, once on the driver and
    once in every worker. Written to an Arrow IPC stream and read back, a table holds
    only its own values.

    Parameters
    ----------
    context : Bundle
    compact : bool
        Copy each table into buffers of its own size (for a context that is pickled).

    Returns
    -------
    Bundle
        Without ``transactions``, ``account_aliases``, ``observations``, ``rejects`` and
        ``load_log`` (no task reads them).
    """
    tables = {}
    for name in Bundle.__dataclass_fields__:
        table = getattr(context, name)
        if name in _NOT_FOR_TASKS:
            tables[name] = table.schema.empty_table()
        elif compact and table.num_rows:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            tables[name] = pa.ipc.open_stream(sink.getvalue()).read_all()
        else:
            tables[name] = table
    return Bundle(**tables)


def run_chunks(context: Bundle, chunks: list, rows: int, cfg, rule_ids, run_id: str, *, assemble, client=None,
               partitions: int | None = None, on_error: str = "record", spill_dir=None) -> DaskRun:
    """Run ``rule_ids`` over the transactions in ``chunks`` on Dask.

    Parameters
    ----------
    context : Bundle or StoreContext
        The tables other than ``transactions``: read on the driver and sent to every
        task, or a store's, which each worker process reads itself (once per store
        version; at 50 M rows the driver held 1.1 GB more while it sent them).
    chunks : list
        The transactions, in the order of the whole table: ``pyarrow.Table`` slices, or
        :class:`Files` (a store's Parquet parts), which the workers read themselves, so
        that the driver never holds the rows.
    rows : int
        Rows in all chunks (for the default partition count).
    cfg : Config
    rule_ids : list of str
    run_id : str
    assemble : callable
        Alert assembly, as for :func:`build_graph`.
    client : distributed.Client, optional
        Where to run; default: Dask's current scheduler (the active ``Client`` if there
        is one, else ``dask.config``'s, threads by default).
    partitions : int, optional
        Account buckets; default :func:`default_partitions` of ``rows``.
    on_error : {"record", "raise"}
    spill_dir : str or Path or False, optional
        Where each chunk's pieces wait for their partition: a folder every worker can
        read (a temporary folder is made in it and removed after the run); default a
        temporary folder when the workers run on this machine, else their memory;
        False: their memory.

    Returns
    -------
    DaskRun

    Raises
    ------
    ValueError
        If ``partitions`` is less than 1.
    ImportError
        ``followmoney[dask]`` is not installed.
    """
    dask = require_dask()
    n = partitions if partitions is not None else default_partitions(rows)
    if int(n) < 1:
        raise ValueError(f"partitions must be at least 1, got {n}")
    if not isinstance(context, StoreContext):
        context = for_tasks(context, compact=client is not None)
    if client is not None:  # tables travel to the workers once, not inside the graph
        tables = [i for i, c in enumerate(chunks) if isinstance(c, pa.Table)]
        if tables:
            placed = client.scatter([chunks[i] for i in tables])
            chunks = list(chunks)
            for i, f in zip(tables, placed):
                chunks[i] = f
        if not isinstance(context, StoreContext):  # a store's, each worker reads itself
            context = client.scatter(context, broadcast=True)
            release_unused()  # the compacted copy, now on the workers
    spill = _spill_folder(client, spill_dir)
    try:
        tasks, facts = build_graph(context, chunks, cfg, rule_ids, run_id, assemble=assemble, partitions=int(n), on_error=on_error,
                                   spill=spill)  # fmt: skip
        todo = [*tasks, facts["profile"], facts["stats"], facts["notes"]]
        results = client.gather(client.compute(todo)) if client is not None else list(dask.compute(*todo))
    finally:
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
    (present, any_payroll), stats, notes = results[-3:]
    by_rule: dict[str, list] = {r: [] for r in rule_ids}
    errors: dict[str, str] = {}
    for res in results[:-3]:
        for rule_id, (kind, value) in res.items():
            if kind == "error":
                errors.setdefault(rule_id, value)
            elif kind == "alerts":  # a payer rule's "pairs" are read by _run_from_pairs
                by_rule[rule_id].append(value)
    out, failures = [], []
    for rule_id in rule_ids:
        if rule_id in errors:
            failures.append({"detector": "rule", "id": rule_id, "error": errors[rule_id]})
            log.warning("rule %s failed (%s); its alerts are missing from this run", rule_id, errors[rule_id])
        elif by_rule[rule_id]:
            out.append(_same_ids_as_pandas(pd.concat(by_rule[rule_id], ignore_index=True)))
    return DaskRun(out, failures, notes, present, any_payroll, stats)


def score_dask(bundle: Bundle, cfg, rule_ids, run_id: str, *, assemble, client=None, partitions: int | None = None,
               on_error: str = "record", chunk_rows: int = CHUNK_ROWS, spill_dir=None) -> tuple[list[pd.DataFrame], list[dict], list[dict]]:
    """Run ``rule_ids`` over ``bundle`` on Dask; the alert frames in rule order, the failures and the notes.

    Called by :func:`followmoney.score` with ``engine="dask"``, which checks the
    arguments, and sorts and types the result exactly as the pandas engine does. The
    transactions travel in slices of ``chunk_rows``; the rest is :func:`run_chunks`
    (same parameters).

    Returns
    -------
    alerts : list of pandas.DataFrame
        Per rule, in ``rule_ids`` order, the alert rows of all partitions.
    failures : list of dict
        ``{"detector": "rule", "id": ..., "error": ...}`` per failed rule.
    notes : list of dict
        What the run could not assess (:func:`combine_notes`).
    """
    tx = bundle.transactions
    chunks = [tx.slice(i, chunk_rows) for i in range(0, tx.num_rows, chunk_rows)] or [tx]
    context = replace(bundle, transactions=tx.schema.empty_table())  # the other tables; the rows travel apart
    run = run_chunks(context, chunks, tx.num_rows, cfg, rule_ids, run_id, assemble=assemble, client=client, partitions=partitions,
                     on_error=on_error, spill_dir=spill_dir)  # fmt: skip
    return run.alerts, run.failures, run.notes


def gather_rows(chunks: list, txn_ids, party_ids=(), *, client=None) -> tuple[pa.Table, pa.Table]:
    """What a run keeps of transactions it scored on Dask (one task per chunk).

    Parameters
    ----------
    chunks : list
        As :func:`run_chunks`.
    txn_ids : pyarrow.Array or iterable of str
        The transactions the alerts cite.
    party_ids : pyarrow.Array or iterable of str
        The known parties (``parties.party_id``).
    client : distributed.Client, optional

    Returns
    -------
    cited : pyarrow.Table
        The rows with one of ``txn_ids``, in the chunks' order.
    mentions : pyarrow.Table
        The distinct :data:`MENTION_COLUMNS` of the rows naming one of ``party_ids`` as
        sender or receiver: all :func:`followmoney.resolve` reads of the transactions
        (it collects them into sets, so distinct tuples resolve as every row would).
    """
    dask = require_dask()

    def distinct(ids):
        if isinstance(ids, (pa.Array, pa.ChunkedArray)):
            return pc.unique(pc.drop_null(ids)).cast(pa.string())
        return pa.array(sorted(set(ids)), pa.string())

    t, p = distinct(txn_ids), distinct(party_ids)
    tasks = [dask.delayed(_Released(_rows_cited))(c, t, p) for c in chunks]
    parts = client.gather(client.compute(tasks)) if client is not None else list(dask.compute(*tasks))
    cited = _concat([c for c, _ in parts])
    mentions = _concat([m for _, m in parts])
    cols = list(MENTION_COLUMNS)
    return cited, mentions.group_by(cols, use_threads=False).aggregate([]).select(cols)


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

