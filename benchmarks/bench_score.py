"""End-to-end ``score`` (read + reconcile + rules + alerts) on the AMLSim data
   (``../shared/datasets/amlsim/transactions.csv``, 199,299 rows, or the bundled slice
   when ../shared is absent). Peer: a bare ``pyarrow.csv.read_csv`` of the same file,
   the floor any CSV-based pipeline pays. Each measurement runs in a fresh process so
   that its peak resident memory (ru_maxrss) is its own; the best of ``--repeat`` runs
   is reported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_READ_CSV = """
import resource, sys, time, pyarrow.csv as c
t = time.perf_counter(); n = c.read_csv(sys.argv[1]).num_rows; dt = time.perf_counter() - t
print({"rows": n, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""

_SCORE = """
import resource, sys, time
import followmoney as fm
t = time.perf_counter()
b = fm.read(sys.argv[1]); a = fm.score(b)
dt = time.perf_counter() - t
print({"rows": b.transactions.num_rows, "alerts": a.num_rows, "seconds": dt,
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""


def _measure(code: str, path: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
        runs.append(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own subprocess' dict literal
    return min(runs, key=lambda r: r["seconds"])


def run(repeat: int = 3) -> dict:
    """Measure; return the figures (printed and saved by ``benchmarks/run.py``)."""
    full = ROOT.parent / "shared" / "datasets" / "amlsim" / "transactions.csv"
    path = full if full.is_file() else ROOT / "sample_data" / "amlsim" / "transactions.csv"
    peer = _measure(_READ_CSV, path, repeat)
    ours = _measure(_SCORE, path, repeat)
    return {
        "benchmark": "score end-to-end vs pyarrow.csv.read_csv (peer)",
        "input": str(path.relative_to(path.parents[2])),
        "rows": ours["rows"],
        "alerts": ours["alerts"],
        "score_seconds": round(ours["seconds"], 3),
        "score_rows_per_second": round(ours["rows"] / ours["seconds"]),
        "score_peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "read_csv_seconds": round(peer["seconds"], 4),
        "read_csv_peak_rss_mb": round(peer["peak_rss_mb"], 1),
        "time_ratio_score_over_read_csv": round(ours["seconds"] / peer["seconds"], 1),
        "memory_ratio_score_over_read_csv": round(ours["peak_rss_mb"] / peer["peak_rss_mb"], 2),
    }
