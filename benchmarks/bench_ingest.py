"""Ingestion throughput: the goAML adapter against a bare lxml ``iterparse`` loop and
``pandas.read_xml`` over the same file, and the AMLSim CSV adapter against a bare
``pyarrow.csv.read_csv``, each in a fresh process (time and peak resident memory).

The goAML file is made by repeating the transactions of a bundled synthetic report
(``sample_data/goaml/str_2026_003.xml``: accounts, persons, entities on both sides)
until it reaches the target size, with distinct transaction numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 40

_OURS = """
import resource, sys, time
from followmoney.ingest import goaml
t = time.perf_counter(); b = goaml.read(sys.argv[1]); dt = time.perf_counter() - t
print({"rows": b.transactions.num_rows, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""
_ITERPARSE = """
import resource, sys, time
from lxml import etree
t = time.perf_counter(); n = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), tag="transaction"):
    n += 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
dt = time.perf_counter() - t
print({"rows": n, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""
_READ_XML = """
import resource, sys, time
import pandas as pd
t = time.perf_counter(); n = len(pd.read_xml(sys.argv[1], xpath="//transaction")); dt = time.perf_counter() - t
print({"rows": n, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""
_AMLSIM = """
import resource, sys, time
from followmoney.ingest import amlsim
t = time.perf_counter(); b = amlsim.read(sys.argv[1]); dt = time.perf_counter() - t
print({"rows": b.transactions.num_rows, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""
_READ_CSV = """
import resource, sys, time
import pyarrow.csv as c
t = time.perf_counter(); n = c.read_csv(sys.argv[1]).num_rows; dt = time.perf_counter() - t
print({"rows": n, "seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""


def _measure(code: str, path: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
        runs.append(eval(out.stdout.strip().splitlines()[-1]))  # noqa: S307 - our own subprocess' dict literal
    return min(runs, key=lambda r: r["seconds"])


def make_goaml(path: Path, target_mb: float = TARGET_MB) -> int:
    """Write a goAML report of about ``target_mb`` MB; returns its number of transactions."""
    src = (ROOT / "sample_data" / "goaml" / "str_2026_003.xml").read_text("utf-8")
    first = src.index("<transaction>")
    last = src.rindex("</transaction>") + len("</transaction>")
    head, body, tail = src[:first], src[first:last], src[last:]
    blocks = re.findall(r"<transaction>.*?</transaction>", body, re.S)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head)
        size = len(head)
        while size < target_mb * 1e6:
            for b in blocks:
                b = re.sub(r"<transactionnumber>([^<]*)</transactionnumber>", rf"<transactionnumber>\g<1>-{n}</transactionnumber>", b)
                fh.write(b)
                size += len(b)
                n += 1
        fh.write(tail)
    return n


def run(repeat: int = 3) -> dict:
    """Measure; return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "big_report.xml"
        n = make_goaml(xml)
        mb = xml.stat().st_size / 1e6
        ours = _measure(_OURS, xml, repeat)
        bare = _measure(_ITERPARSE, xml, repeat)
        pdx = _measure(_READ_XML, xml, 1)
    full = ROOT.parent / "shared" / "datasets" / "amlsim" / "transactions.csv"
    csv = full if full.is_file() else ROOT / "sample_data" / "amlsim" / "transactions.csv"
    csv_mb = csv.stat().st_size / 1e6
    a_ours = _measure(_AMLSIM, csv, repeat)
    a_peer = _measure(_READ_CSV, csv, repeat)
    result = {
        "benchmark": "ingestion throughput vs bare lxml iterparse, pandas.read_xml, pyarrow read_csv (peers)",
        "goaml_file_mb": round(mb, 1),
        "goaml_transactions": n,
        "goaml_rows_read": ours.get("rows"),
        "goaml_mb_per_s": round(mb / ours["seconds"], 2),
        "goaml_peak_rss_mb": round(ours["peak_rss_mb"]),
        "iterparse_mb_per_s": round(mb / bare["seconds"], 2),
        "iterparse_peak_rss_mb": round(bare["peak_rss_mb"]),
        "ratio_goaml_time_over_iterparse": round(ours["seconds"] / bare["seconds"], 1),
    }
    if "error" in pdx:
        result["pandas_read_xml"] = f"could not read the file: {pdx['error'][:120]}"
    else:
        result.update(
            {
                "pandas_read_xml_mb_per_s": round(mb / pdx["seconds"], 2),
                "pandas_read_xml_peak_rss_mb": round(pdx["peak_rss_mb"]),
                "pandas_read_xml_rows": pdx["rows"],
                "ratio_goaml_time_over_read_xml": round(ours["seconds"] / pdx["seconds"], 2),
                "note_read_xml": "read_xml returns only the <transaction> elements' direct children (no parties, accounts, or sides)",
            }
        )
    result.update(
        {
            "amlsim_csv_mb": round(csv_mb, 1),
            "amlsim_mb_per_s": round(csv_mb / a_ours["seconds"], 2),
            "read_csv_mb_per_s": round(csv_mb / a_peer["seconds"], 2),
            "ratio_amlsim_time_over_read_csv": round(a_ours["seconds"] / a_peer["seconds"], 1),
        }
    )
    return result
