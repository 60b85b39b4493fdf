"""Consolidation cost: two views of every payment (the payer's and the payee's bank CSV
statement), read with :func:`followmoney.read` and joined with
:func:`followmoney.consolidate`, in a fresh process: seconds of each step, their ratio,
and peak resident memory.

``FM_BENCH_PAYMENTS`` sets the number of payments (default 500,000: 1 million
observations, the size issue 12 asks for).
"""

from __future__ import annotations

import ast
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from schwifty import IBAN

ROOT = Path(__file__).resolve().parents[1]
N_PAYMENTS = int(os.environ.get("FM_BENCH_PAYMENTS", "500000"))

_RUN = """
import resource, sys, time
import followmoney as fm
t = time.perf_counter(); b = fm.read(sys.argv[1:], progress=False, consolidate=False); read_s = time.perf_counter() - t
rss_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter(); one = fm.consolidate(b); cons_s = time.perf_counter() - t
print({"observations": b.transactions.num_rows, "payments": one.transactions.num_rows, "read_seconds": read_s,
       "consolidate_seconds": cons_s, "peak_rss_mb_after_read": rss_read,
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""


def _files(folder: Path, n: int) -> list[Path]:
    rng = random.Random(12)
    payers = [IBAN.generate("DE", bank_code="37040044", account_code=f"{1_000_000 + i}").compact for i in range(50)]
    payees = [IBAN.generate("DE", bank_code="50010517", account_code=f"{2_000_000 + i}").compact for i in range(2000)]
    head = "Buchungstag;Buchungstext;Empfaenger;Verwendungszweck;Betrag;Waehrung;IBAN;Kontonummer/IBAN\n"
    out_rows, in_rows = [head], [head]
    for k in range(n):
        a, b = rng.choice(payers), rng.choice(payees)
        d = f"{rng.randrange(1, 29):02d}.{rng.randrange(1, 13):02d}.2024"
        amt = f"{rng.randrange(100, 500000) / 100:.2f}".replace(".", ",")
        out_rows.append(f"{d};UEBERWEISUNG;TEST PAYEE;REF {k};-{amt};EUR;{a};{b}\n")
        in_rows.append(f"{d};GUTSCHRIFT;TEST PAYER;REF {k};{amt};EUR;{b};{a}\n")
    p1, p2 = folder / "payer_banks.csv", folder / "payee_banks.csv"
    p1.write_text("".join(out_rows), "utf-8")
    p2.write_text("".join(in_rows), "utf-8")
    return [p1, p2]


def run(repeat: int = 1) -> dict:
    """Measure once per ``repeat`` in a fresh process; keep the fastest."""
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(Path(tmp), N_PAYMENTS)
        best = None
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        for _ in range(max(1, repeat)):
            res = subprocess.run([sys.executable, "-c", _RUN, *map(str, files)], capture_output=True, text=True, check=True, env=env)
            r = ast.literal_eval(res.stdout.strip().splitlines()[-1])
            if best is None or r["consolidate_seconds"] < best["consolidate_seconds"]:
                best = r
    best["consolidate_to_read_ratio"] = round(best["consolidate_seconds"] / best["read_seconds"], 2)
    return best


if __name__ == "__main__":
    print(run())
