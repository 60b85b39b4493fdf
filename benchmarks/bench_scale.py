"""National scale: ``followmoney score`` on IBM-AML-format files of 1 M and 5 M rows
(``SCALE=50M`` adds 50 M; ``SCALE=small`` is a 100 k / 250 k smoke run; ``SCALE=2000,10000``
any row counts), against a bare ``pyarrow.csv.read_csv`` of the same file in the same run.

The files are generated here (:func:`write_ibm_csv`), streamed to disk in chunks so that
the generator never holds the file in memory: each account takes part in about 20
transactions, with a heavy-tailed (Zipf-like, power-law) degree distribution, timestamps over 18 days in file order like
IBM's AMLworld files, mostly US dollars, and injected patterns flagged ``Is Laundering`` = 1
(fan-in, fan-out, cycles, scatter-gather, cash just below the reporting threshold).

Each measurement runs in a fresh wrapper process that starts the measured command as its
child and reports that child's wall time and peak resident memory
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``, and on Linux the largest of its RSS read every 5 ms
from ``/proc``, since the kernel updates the high-water mark lazily), never the benchmark's own.
Printed per size: score wall time, peak RSS, the ratio to the bare read, the per-stage
timings and peak memory from the run's ``summary.json``; the same run with two rules at once
(``--threads 2``: its time and peak memory against one thread's); the Dask engine on local clusters of
1 and 2 workers (:func:`measure_dask`: scoring time against the pandas engine in the same
process, peak memory of the workers and the driver, identical alerts); the national-scale
route (:func:`measure_store_dask`: the file appended to a store in 5 M-row files, the store
scored on 2 local Dask workers, peak memory of all processes together, and the same store on
the pandas engine where it fits: identical alerts); and across sizes the fitted exponent of
score time against rows (least squares in log-log). A pass that would need more than the
machine's memory is reported as not run, with the estimate, never as measured (at 50 M rows
on 24 GiB: the in-memory passes).

Usage: ``make bench-scale`` or ``python benchmarks/bench_scale.py [--sizes 1M,5M]
[--repeat N] [--workdir DIR] [--keep]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
#: ``make bench`` (benchmarks/run.py) leaves this one to ``make bench-scale``: it takes an hour at 5 M rows.
STANDALONE = True
#: Local Dask clusters measured per size (the issue's 1 and 2 workers on this 2-core machine).
DASK_WORKERS = (1, 2)

HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
)
#: (name in the IBM files, share of rows)
CURRENCIES = [
    ("US Dollar", 0.62), ("Euro", 0.12), ("Yuan", 0.05), ("UK Pound", 0.04), ("Rupee", 0.04),
    ("Yen", 0.03), ("Canadian Dollar", 0.03), ("Australian Dollar", 0.02), ("Swiss Franc", 0.02),
    ("Mexican Peso", 0.01), ("Brazil Real", 0.01), ("Ruble", 0.005), ("Shekel", 0.005),
]  # fmt: skip
FORMATS = [
    ("ACH", 0.37), ("Cheque", 0.25), ("Credit Card", 0.17), ("Cash", 0.10), ("Wire", 0.05),
    ("Reinvestment", 0.05), ("Bitcoin", 0.01),
]  # fmt: skip
#: Transactions each account takes part in, on average (paying or receiving): 20, as in AMLworld's
#: HI-Small (5 M transactions, 515 k accounts).
TXNS_PER_ACCOUNT = 20
#: The k-th most active account takes part in ~ 1 / k**0.6 of the transactions: a power-law degree
#: distribution P(degree = d) ~ d**-2.7 (exponents of 2-3 are what transaction networks show); at
#: 1 M rows the busiest account takes part in about 8,000 transactions, at 50 M in about 80,000.
ZIPF_EXPONENT = 0.6
DAYS = 18
START_US = 1661990400_000000  # 2022-09-01 00:00 UTC
PATTERN_SHARE = 0.002  # rows that belong to injected patterns
CHUNK = 250_000

SIZES = {"default": [1_000_000, 5_000_000], "50M": [1_000_000, 5_000_000, 50_000_000], "small": [100_000, 250_000]}


def parse_sizes(spec: str | None) -> list[int]:
    """Row counts for a ``SCALE`` value: ``default``, ``50M``, ``small`` or a list like ``2000,1M``.

    Examples
    --------
    >>> parse_sizes("small"), parse_sizes("2000,1.5M")
    ([100000, 250000], [2000, 1500000])
    """
    spec = (spec or "default").strip()
    if spec in SIZES:
        return SIZES[spec]
    mult = {"k": 1_000, "m": 1_000_000}
    out = []
    for part in spec.split(","):
        part = part.strip().lower()
        out.append(int(float(part[:-1]) * mult[part[-1]]) if part[-1] in mult else int(part))
    return out


# -- the generator -----------------------------------------------------------------------------


def _choice(rng, names_shares, n):
    names = [n_ for n_, _ in names_shares]
    p = np.array([s for _, s in names_shares], float)
    return np.array(names, dtype=object)[rng.choice(len(names), size=n, p=p / p.sum())]


def _money_text(cents: np.ndarray) -> pa.Array:
    """Cents as ``"1234.56"`` strings (exact: integers in, text out)."""
    whole = pa.array(cents // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


class _Accounts:
    def __init__(self, n_accounts: int, rng):
        self.n = n_accounts
        self.bank = rng.integers(1, 30_000, size=n_accounts)  # 30 k banks, like AMLworld
        self.number = rng.permutation(n_accounts).astype(np.int64) + 0x800000000  # 9 hex digits, like 8000EBD30
        w = 1.0 / np.arange(1, n_accounts + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(w[rng.permutation(n_accounts)])
        self.cdf /= self.cdf[-1]

    def draw(self, rng, n):
        return np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.n - 1)

    def banks(self, idx) -> pa.Array:
        return pc.utf8_lpad(pa.array(self.bank[idx]).cast(pa.string()), 3, "0")

    def numbers(self, idx) -> pa.Array:
        return pa.array([f"{v:X}" for v in self.number[idx].tolist()], pa.string())


def _patterns(rng, acc: _Accounts, n_rows: int, t0: int, t1: int) -> tuple[np.ndarray, ...]:
    """About ``n_rows`` rows of laundering patterns: (from, to, time_us, cents, format)."""
    src, dst, ts, cents, fmt = [], [], [], [], []
    while sum(map(len, src)) < n_rows:
        kind = rng.integers(0, 5)
        start = int(rng.integers(t0, max(t0 + 1, t1 - 3 * 86_400_000_000)))
        hub = int(acc.draw(rng, 1)[0])
        k = int(rng.integers(5, 16))
        others = rng.integers(0, acc.n, size=k)
        times = start + np.sort(rng.integers(0, 3 * 86_400_000_000, size=k))
        amt = rng.integers(200_000, 900_000, size=k)
        if kind == 0:  # fan-in: many senders to one account
            s, d, f = others, np.full(k, hub), "Wire"
        elif kind == 1:  # fan-out
            s, d, f = np.full(k, hub), others, "ACH"
        elif kind == 2:  # cycle hub -> o1 -> ... -> hub, amounts shrinking by fees
            ring = np.concatenate([[hub], others[: max(2, k // 3)]])
            s, d = ring, np.roll(ring, -1)
            times = times[: len(ring)]
            amt = (np.int64(rng.integers(500_000, 2_000_000)) * (0.98 ** np.arange(len(ring)))).astype(np.int64)
            f = "Wire"
        elif kind == 3:  # scatter-gather: hub -> middles -> sink
            mid = others[: k // 2]
            sink = int(rng.integers(0, acc.n))
            s = np.concatenate([np.full(len(mid), hub), mid])
            d = np.concatenate([mid, np.full(len(mid), sink)])
            times = start + np.sort(rng.integers(0, 3 * 86_400_000_000, size=len(s)))
            amt = np.tile(rng.integers(300_000, 800_000, size=len(mid)), 2)
            f = "ACH"
        else:  # cash deposits just below a 10,000 threshold into one account
            s, d, f = others, np.full(k, hub), "Cash"
            amt = rng.integers(900_000, 999_900, size=k)
        src.append(np.asarray(s))
        dst.append(np.asarray(d))
        ts.append(np.asarray(times))
        cents.append(np.asarray(amt))
        fmt.append(np.full(len(s), f, dtype=object))
    return tuple(np.concatenate(x) for x in (src, dst, ts, cents, fmt))


def write_ibm_csv(path: str | Path, rows: int, *, seed: int = 0, chunk: int = CHUNK, days: int = DAYS,
                  txns_per_account: int = TXNS_PER_ACCOUNT) -> dict:
    """Write an IBM-AML-format transactions CSV of ``rows`` rows, ``chunk`` rows at a time.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced).
    rows : int
        Number of transaction rows (the header is extra).
    seed : int, default 0
        Same seed and rows, same file.
    chunk : int
        Rows generated and written per step; memory is bounded by this, not by ``rows``.
    days : int, default :data:`DAYS`
        Days the timestamps span.
    txns_per_account : int, default :data:`TXNS_PER_ACCOUNT`
        Transactions each account takes part in on average (the number of accounts is
        ``2 * rows / txns_per_account``).

    Returns
    -------
    dict
        ``rows``, ``accounts``, ``laundering_rows`` and ``bytes`` written.

    Examples
    --------
    >>> import tempfile, pathlib, followmoney as fm
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scale_Trans.csv"
    >>> write_ibm_csv(p, 500, seed=1)["rows"]
    500
    >>> fm.sniff(p), fm.read(p).transactions.num_rows
    ('ibm_aml', 500)
    """
    rng = np.random.default_rng(seed)
    acc = _Accounts(max(10, 2 * rows // txns_per_account), rng)
    span = days * 86_400_000_000
    n_laundering = 0
    written = 0
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with open(path, "wb") as fh:
        fh.write(HEADER.encode())
        while written < rows:
            n = min(chunk, rows - written)
            t0 = START_US + span * written // rows
            t1 = START_US + span * (written + n) // rows
            n_pat = int(round(n * PATTERN_SHARE)) if n >= 1000 else 0
            p_src, p_dst, p_ts, p_cents, p_fmt = _patterns(rng, acc, n_pat, t0, t1) if n_pat else ([],) * 5
            p_src, p_dst, p_ts, p_cents, p_fmt = (np.asarray(x)[:n_pat] for x in (p_src, p_dst, p_ts, p_cents, p_fmt))
            m = n - len(p_src)
            src = acc.draw(rng, m)
            fmt = _choice(rng, FORMATS, m)
            dst = np.where(fmt == "Reinvestment", src, acc.draw(rng, m))  # reinvestment: own account
            cents = np.maximum(1, np.round(rng.lognormal(mean=7.5, sigma=2.0, size=m))).astype(np.int64)
            ts = rng.integers(t0, max(t0 + 1, t1), size=m)
            cur = _choice(rng, CURRENCIES, m)
            laund = np.zeros(n, dtype=np.int8)
            laund[m:] = 1
            src = np.concatenate([src, p_src]).astype(np.int64)
            dst = np.concatenate([dst, p_dst]).astype(np.int64)
            ts = np.concatenate([ts, np.clip(p_ts, t0, None)]).astype(np.int64)
            cents = np.concatenate([cents, p_cents]).astype(np.int64)
            fmt = np.concatenate([fmt, p_fmt])
            cur = np.concatenate([cur, np.full(n - m, "US Dollar", dtype=object)])
            order = np.argsort(ts, kind="stable")
            src, dst, ts, cents, fmt, cur, laund = (a[order] for a in (src, dst, ts, cents, fmt, cur, laund))
            stamp = pc.strftime(pa.array(ts, pa.timestamp("us")), format="%Y/%m/%d %H:%M")
            money = _money_text(cents)
            cur_a = pa.array(cur, pa.string())
            table = pa.Table.from_arrays(
                [stamp, acc.banks(src), acc.numbers(src), acc.banks(dst), acc.numbers(dst), money, cur_a, money,
                 cur_a, pa.array(fmt, pa.string()), pa.array(laund).cast(pa.string())],
                names=["t", "fb", "fa", "tb", "ta", "ar", "rc", "ap", "pc", "pf", "il"],
            )  # fmt: skip
            pacsv.write_csv(table, fh, write_options=opts)
            written += n
            n_laundering += int(laund.sum())
    return {"rows": rows, "accounts": acc.n, "laundering_rows": n_laundering, "bytes": Path(path).stat().st_size}


# -- measuring one child process ---------------------------------------------------------------

#: Runs argv[1:] as its child; prints that child's wall time and peak RSS (its own, not ours): the kernel's
#: high-water mark (``ru_maxrss``) and, on Linux, the largest RSS read every 5 ms from ``/proc`` (the
#: high-water mark is updated lazily and can miss a peak that memory given back with ``madvise`` ends).
_WRAP = """
import json, resource, subprocess, sys, threading, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
sampled = [None]
def sample():
    try:
        while p.poll() is None:
            with open(f"/proc/{p.pid}/statm") as f:
                rss = int(f.read().split()[1]) * resource.getpagesize() / 2**20
            sampled[0] = max(sampled[0] or 0, rss)
            time.sleep(0.005)
    except (OSError, ValueError, IndexError):  # not Linux, or the child has gone
        pass
threading.Thread(target=sample, daemon=True).start()
stdout, stderr = p.communicate()
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": p.returncode, "wall_seconds": dt, "peak_rss_mb": ru.ru_maxrss / 1024, "sampled_peak_rss_mb": sampled[0],
                  "user_seconds": ru.ru_utime, "system_seconds": ru.ru_stime,
                  "stdout": stdout[-2000:], "stderr": stderr[-2000:]}))
"""

_READ_CSV = """
import json, sys, time, pyarrow.csv as c
t = time.perf_counter(); n = c.read_csv(sys.argv[1]).num_rows; dt = time.perf_counter() - t
print(json.dumps({"rows": n, "read_seconds": dt}))
"""

_SCORE = "import sys; from followmoney.cli import main; sys.argv[0] = 'followmoney'; main()"

#: The Dask engine on local clusters of 1 and 2 workers, and the pandas engine in the same process
#: (``fm.score`` only: reading and writing are the same for both engines).
_DASK = """
import hashlib, json, sys, time
import followmoney as fm
from followmoney.detect._dask_bench import benchmark
bundle = fm.read(sys.argv[1], progress=False)
t = time.perf_counter(); alerts = fm.score(bundle, progress=False); pandas_s = time.perf_counter() - t
sha = hashlib.blake2b("\\x1f".join(alerts.column("alert_id").to_pylist()).encode(), digest_size=8).hexdigest()
rows = benchmark(bundle, workers=[int(w) for w in sys.argv[2].split(",")])
print(json.dumps({"pandas_score_seconds": pandas_s, "pandas_alert_ids_sha": sha, "dask": rows}))
"""


def measure(argv: list[str]) -> dict:
    """Run ``argv`` as the child of a fresh wrapper process; its wall time and peak RSS."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *argv], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise RuntimeError(f"{argv[:4]}... exited {res['rc']}: {res['stderr'][-500:]}")
    return res


def _best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_seconds"])


def measure_size(path: Path, out_dir: Path, repeat: int = 1) -> dict:
    """Bare read and ``followmoney score`` of one file, each the best of ``repeat`` child runs."""
    bare = []
    for _ in range(max(3, repeat)):  # cheap, and noisy on a shared machine: the best of at least three
        r = measure([sys.executable, "-c", _READ_CSV, str(path)])
        r.update(json.loads(r.pop("stdout").strip().splitlines()[-1]))
        bare.append(r)
    bare_best = min(bare, key=lambda r: r["read_seconds"])
    runs = []
    for _ in range(repeat):
        shutil.rmtree(out_dir, ignore_errors=True)
        r = measure([sys.executable, "-c", _SCORE, "score", str(path), "--out", str(out_dir), "--quiet"])
        r["summary"] = json.loads((out_dir / "summary.json").read_text())
        runs.append(r)
    s = _best(runs)
    summ = s["summary"]
    threaded = []
    for _ in range(repeat):  # the same run with two rules at once (--threads 2): the time and memory it trades
        shutil.rmtree(out_dir, ignore_errors=True)
        r = measure([sys.executable, "-c", _SCORE, "score", str(path), "--out", str(out_dir), "--quiet", "--threads", "2"])
        r["alerts_same"] = json.loads((out_dir / "summary.json").read_text())["alerts"] == summ["alerts"]
        threaded.append(r)
    t2 = _best(threaded)
    return {
        "rows": bare_best["rows"],
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "score_wall_seconds": round(s["wall_seconds"], 2),
        "score_user_seconds": round(s["user_seconds"], 2),
        "score_system_seconds": round(s["system_seconds"], 2),
        "score_peak_rss_mb": round(s["peak_rss_mb"], 1),
        "score_sampled_peak_rss_mb": round(s["sampled_peak_rss_mb"], 1) if s.get("sampled_peak_rss_mb") else None,
        "score_bytes_per_row": round(s["peak_rss_mb"] * 2**20 / max(1, bare_best["rows"])),
        "bare_read_seconds": round(bare_best["read_seconds"], 5),
        "bare_read_child_wall_seconds": round(bare_best["wall_seconds"], 3),
        "bare_read_peak_rss_mb": round(bare_best["peak_rss_mb"], 1),
        "time_ratio_score_over_bare_read": round(s["wall_seconds"] / bare_best["read_seconds"], 1),
        "memory_ratio_score_over_bare_read": round(s["peak_rss_mb"] / bare_best["peak_rss_mb"], 2),
        "alerts": summ["alerts"],
        "cases": summ["cases"],
        "stage_seconds": summ.get("stage_seconds", {}),
        "stage_peak_rss_mb": summ.get("stage_peak_rss_mb", {}),
        "threads_2": {
            "score_wall_seconds": round(t2["wall_seconds"], 2),
            "score_peak_rss_mb": round(t2["peak_rss_mb"], 1),
            "time_ratio_to_1_thread": round(t2["wall_seconds"] / s["wall_seconds"], 3),
            "memory_ratio_to_1_thread": round(t2["peak_rss_mb"] / s["peak_rss_mb"], 3),
            "time_ratio_score_over_bare_read": round(t2["wall_seconds"] / bare_best["read_seconds"], 1),
            "same_alert_count": t2["alerts_same"],
        },
    }


def measure_dask(path: Path, workers: tuple[int, ...] = DASK_WORKERS) -> dict:
    """The Dask engine's scoring on local clusters of each size in ``workers``, against the pandas engine
    scoring the same bundle in the same process: seconds, ratio, peak memory of the workers (sum and
    largest, sampled with psutil) and of the driver, and whether the alerts are identical (same ids,
    same order)."""
    r = measure([sys.executable, "-c", _DASK, str(path), ",".join(map(str, workers))])
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    out = {"pandas_score_seconds": round(res["pandas_score_seconds"], 2), "process_peak_rss_mb": round(r["peak_rss_mb"], 1)}
    for row in res["dask"]:
        out[f"{row['workers']}_workers"] = {
            "score_seconds": row["score_s"],
            "ratio_to_pandas_engine": round(row["score_s"] / res["pandas_score_seconds"], 2),
            "cluster_start_seconds": row["start_s"],
            "partitions": row["partitions"],
            "peak_workers_rss_mb": row["peak_workers_rss_mb"],
            "peak_worker_rss_mb": row["peak_worker_rss_mb"],
            "peak_driver_rss_mb": row["peak_driver_rss_mb"],
            "peak_tree_rss_mb": round(row["peak_workers_rss_mb"] + row["peak_driver_rss_mb"], 1),
            "alerts_identical_to_pandas": row["alert_ids_sha"] == res["pandas_alert_ids_sha"] and not row["failures"],
        }
    return out


#: Rows per file appended to the store by :func:`measure_store_dask` (a night's file, read whole by each append).
STORE_PART_ROWS = 5_000_000
#: Bytes a row that the in-memory passes hold at their peak (``followmoney score``: 2.66 GB at 5 M rows): a pass
#: that would need more than the machine's memory is not run.
IN_MEMORY_BYTES_PER_ROW = 560
#: Bytes a row that the Dask engine's one task of the ``graph`` rules (ML-07, ML-09..12) holds: the edge table
#: and the largest rule's search (0.62 GB over the context at 5 M IBM-format rows, ``docs/design.md``); where it
#: would not fit, the store is scored without them, and the result says so.
GRAPH_TASK_BYTES_PER_ROW = 130

_TREE = """
import json, subprocess, sys, tempfile, time
import psutil
t = time.perf_counter()
with tempfile.TemporaryFile("w+") as err:  # a cluster logs to stderr: a pipe read only at the end could fill
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=err, text=True)
    root, tree, largest = psutil.Process(p.pid), 0, 0
    while p.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        rss = []
        for q in procs:
            try:
                rss.append(q.memory_info().rss)
            except psutil.Error:
                pass
        tree, largest = max(tree, sum(rss)), max([largest, *rss])
        time.sleep(0.1)
    p.wait()
    err.seek(0)
    tail = err.read()[-400:]  # the wrapper keeps the last 2,000 characters of this output
print(json.dumps({"rc": p.returncode, "wall_seconds": time.perf_counter() - t, "peak_tree_rss_mb": tree / 2**20,
                  "peak_process_rss_mb": largest / 2**20, "stderr": tail}))
"""


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def split_csv(path: Path, part_rows: int, folder: Path) -> tuple[list[Path], int]:
    """``path`` cut into files of ``part_rows`` rows each (the header repeated), streamed: a night's files; and its rows."""
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    rows = 0
    with open(path, encoding="utf-8") as src:
        header = src.readline()
        out, n = None, part_rows
        for rows, line in enumerate(src, start=1):
            if n == part_rows:
                if out:
                    out.close()
                parts.append(folder / f"part{len(parts):03d}_Trans.csv")
                out, n = open(parts[-1], "w", encoding="utf-8"), 0
                out.write(header)
            out.write(line)
            n += 1
        if out:
            out.close()
    return parts, rows


def measure_store_dask(path: Path, work: Path, *, part_rows: int = STORE_PART_ROWS, workers: int = 2,
                       graph_rules: bool | None = None) -> dict:
    """The national-scale route: ``path`` appended to a store in files of ``part_rows`` rows
    (``followmoney store append``, each measured), then the store scored on a local Dask
    cluster (``followmoney score --store --engine dask --workers N``): wall time, peak RSS of
    the whole process tree (driver, scheduler and workers together) and of its largest process.

    ``graph_rules`` (default: only where their one task fits this machine's memory, from
    :data:`GRAPH_TASK_BYTES_PER_ROW`) keeps the ``graph`` rules (and any ``global`` one);
    without them the run is the other rules', and the result says so.
    """
    store = work / "store"
    shutil.rmtree(work, ignore_errors=True)
    parts, rows = split_csv(path, part_rows, work / "parts")
    if graph_rules is None:
        graph_rules = rows * GRAPH_TASK_BYTES_PER_ROW < 0.8 * _memory_bytes()
    appends = []
    for part in parts:
        r = _tree([sys.executable, "-c", _SCORE, "store", "append", str(store), str(part)])
        appends.append({"wall_seconds": round(r["wall_seconds"], 1), "peak_rss_mb": round(r["peak_tree_rss_mb"], 1)})
        part.unlink()
    options = []
    if not graph_rules:
        from followmoney.detect._dask import plan
        from followmoney.detect.rules import REGISTRY

        config = work / "partitioned.toml"
        kinds = plan(list(REGISTRY))
        config.write_text(f"disabled_rules = {json.dumps(kinds['graph'] + kinds['global'])}\n")
        options = ["--config", str(config)]
    score = [sys.executable, "-c", _SCORE, "score", "--store", str(store), "--quiet", *options]
    r = _tree([*score, "--out", str(work / "dask"), "--engine", "dask", "--workers", str(workers)])
    res = {
        "rows": rows,
        "appends": appends,
        "score_wall_seconds": round(r["wall_seconds"], 1),
        "peak_tree_rss_mb": round(r["peak_tree_rss_mb"], 1),
        "peak_process_rss_mb": round(r["peak_process_rss_mb"], 1),
        "workers": workers,
        "graph_rules": graph_rules,
        "alerts": json.loads((work / "dask" / "summary.json").read_text())["alerts"],
        "pandas_engine": None,
    }
    if rows * IN_MEMORY_BYTES_PER_ROW < 0.8 * _memory_bytes():  # the same store on the pandas engine: same alerts?
        p = _tree([*score, "--out", str(work / "pandas")])
        alerts = [pq.read_table(work / run / "alerts.parquet") for run in ("dask", "pandas")]  # ids, scores, evidence, texts
        res["pandas_engine"] = {"score_wall_seconds": round(p["wall_seconds"], 1), "peak_rss_mb": round(p["peak_tree_rss_mb"], 1),
                                "alerts_identical": alerts[0].equals(alerts[1])}  # fmt: skip
    return res


def _tree(argv: list[str]) -> dict:
    """Run ``argv`` under :data:`_TREE` (in a fresh wrapper process): wall time and peak RSS of its process tree."""
    r = json.loads(measure([sys.executable, "-c", _TREE, *argv])["stdout"].strip().splitlines()[-1])
    if r["rc"] != 0:
        raise RuntimeError(f"{argv[3:6]}... exited {r['rc']}: {r['stderr'][-500:]}")
    return r


def fitted_exponent(rows: list[int], seconds: list[float]) -> float | None:
    """Slope of log(seconds) against log(rows) (least squares); None under two sizes.

    Examples
    --------
    >>> fitted_exponent([1_000, 2_000, 4_000], [1.0, 2.0, 4.0])
    1.0
    """
    if len(rows) < 2:
        return None
    x, y = np.log(np.asarray(rows, float)), np.log(np.asarray(seconds, float))
    return round(float(np.polyfit(x, y, 1)[0]), 3)


def run(repeat: int = 1, sizes: list[int] | None = None, workdir: Path | None = None, keep: bool = False, dask: bool | None = None) -> dict:
    """Generate each size, measure it; return the figures (printed by ``benchmarks/run.py`` too).

    ``dask`` (default: on unless the environment sets ``DASK=0``, and only where the
    ``followmoney[dask]`` extra is installed) adds :func:`measure_dask` per size.
    """
    if dask is None:
        dask = os.environ.get("DASK", "1") != "0" and importlib.util.find_spec("distributed") is not None
    sizes = sizes or parse_sizes(os.environ.get("SCALE"))
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="fm-bench-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    per_size = []
    try:
        for n in sizes:
            path = tmp / f"scale{n}_Trans.csv"
            gen = write_ibm_csv(path, n, seed=n)
            if n * IN_MEMORY_BYTES_PER_ROW < 0.8 * _memory_bytes():
                res = measure_size(path, tmp / f"run{n}", repeat)
                if dask:
                    res["dask"] = measure_dask(path)
            else:  # reported as not run, never as measured
                res = {"rows": n, "not_run": f"the in-memory passes need about {n * IN_MEMORY_BYTES_PER_ROW / 2**30:.0f} GiB "
                                             f"(this machine: {_memory_bytes() / 2**30:.0f} GiB); the store on Dask only"}  # fmt: skip
            res["laundering_rows"] = gen["laundering_rows"]
            if dask:
                res["store_dask"] = measure_store_dask(path, tmp / f"store{n}")
            per_size.append(res)
            _print_size(res)
            if not keep:
                path.unlink(missing_ok=True)
                shutil.rmtree(tmp / f"run{n}", ignore_errors=True)
    finally:
        if not keep and workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    measured = [r for r in per_size if "not_run" not in r]
    rows = [r["rows"] for r in measured]
    result = {
        "benchmark": "followmoney score at scale vs pyarrow.csv.read_csv (peer), IBM-AML-format files",
        "sizes": per_size,
        "exponent_score_seconds_vs_rows": fitted_exponent(rows, [r["score_wall_seconds"] for r in measured]),
        "exponent_score_peak_rss_vs_rows": fitted_exponent(rows, [r["score_peak_rss_mb"] for r in measured]),
    }
    print(f"fitted exponent, score time vs rows: {result['exponent_score_seconds_vs_rows']}; "
          f"peak RSS vs rows: {result['exponent_score_peak_rss_vs_rows']}")  # fmt: skip
    return result


def _print_size(r: dict) -> None:
    if "not_run" in r:
        print(f"== {r['rows']:,} rows: not run in memory: {r['not_run']}", flush=True)
    else:
        _print_in_memory(r)
    d = r.get("store_dask")
    if d:
        took = ", ".join(f"{a['wall_seconds']} s / {a['peak_rss_mb']} MB" for a in d["appends"])
        rules = "every rule" if d["graph_rules"] else "without the graph rules (their one task would not fit this machine)"
        print(f"   store on Dask ({d['workers']} workers, {rules}): appends {took}; score {d['score_wall_seconds']} s, peak RSS of "
              f"all processes {d['peak_tree_rss_mb']} MB (largest {d['peak_process_rss_mb']} MB); {d['alerts']} alerts", flush=True)
        if d["pandas_engine"]:
            x = d["pandas_engine"]
            print(f"   the same store on the pandas engine: {x['score_wall_seconds']} s, {x['peak_rss_mb']} MB; alerts identical: "
                  f"{x['alerts_identical']}", flush=True)  # fmt: skip


def _print_in_memory(r: dict) -> None:
    print(
        f"== {r['rows']:,} rows ({r['file_mb']} MB): score {r['score_wall_seconds']} s "
        f"(user {r['score_user_seconds']} s, sys {r['score_system_seconds']} s), peak RSS {r['score_peak_rss_mb']} MB "
        f"(sampled every 5 ms: {r.get('score_sampled_peak_rss_mb')} MB; {r['score_bytes_per_row']} B/row); bare read {r['bare_read_seconds']} s, {r['bare_read_peak_rss_mb']} MB; "
        f"ratio time {r['time_ratio_score_over_bare_read']}x, memory {r['memory_ratio_score_over_bare_read']}x; "
        f"{r['alerts']} alerts, {r['cases']} cases",
        flush=True,
    )
    for stage, sec in r["stage_seconds"].items():
        print(f"   {stage:>8}: {sec:8.2f} s  peak RSS {r['stage_peak_rss_mb'].get(stage)} MB", flush=True)
    t = r["threads_2"]
    print(f"   --threads 2: {t['score_wall_seconds']} s ({t['time_ratio_to_1_thread']}x one thread; {t['time_ratio_score_over_bare_read']}x the bare "
          f"read), peak RSS {t['score_peak_rss_mb']} MB ({t['memory_ratio_to_1_thread']}x); same alert count: {t['same_alert_count']}", flush=True)
    d = r.get("dask")
    if d:
        print(f"   Dask engine (fm.score only; the pandas engine took {d['pandas_score_seconds']} s in the same process):", flush=True)
        for w in DASK_WORKERS:
            x = d[f"{w}_workers"]
            print(f"   {w} worker(s): {x['score_seconds']} s ({x['ratio_to_pandas_engine']}x pandas), {x['partitions']} partitions, "
                  f"peak RSS workers {x['peak_workers_rss_mb']} MB (largest {x['peak_worker_rss_mb']}) + driver "
                  f"{x['peak_driver_rss_mb']} MB; alerts identical: {x['alerts_identical_to_pandas']}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help="row counts, e.g. 1M,5M (default: from SCALE, else 1M,5M)")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT", "1")), help="runs per measurement; best kept")
    ap.add_argument("--workdir", type=Path, help="where to write the files (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files and run folders")
    ap.add_argument("--no-dask", dest="dask", action="store_false", default=None, help="skip the Dask engine passes (also DASK=0)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench_output" / "scale.json", help="write the figures here")
    args = ap.parse_args()
    sizes = parse_sizes(args.sizes) if args.sizes else None
    result = run(args.repeat, sizes, args.workdir, args.keep, args.dask)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
