"""Graph build time and bytes per edge vs a plain ``networkx.from_pandas_edgelist``
MultiDiGraph of the same transactions (AMLSim, ``../shared/datasets/amlsim/transactions.csv``,
199,299 rows, or the bundled slice when ../shared is absent); plus entity resolution on a
synthetic set of party mentions (100,000 by default).

Peer: ``nx.from_pandas_edgelist(df, "from_account", "to_account", edge_attr=["amount",
"currency", "timestamp", "channel"], edge_key="txn_id", create_using=nx.MultiDiGraph)``,
the usual way to get a transaction multigraph with parallel edges kept. Ours:
``transaction_graph(bundle)`` (same attributes, ``amount_cents`` as int) and
``transaction_graph(bundle, compact=True)`` (row-number keys, attributes in an Arrow table,
whose bytes are counted too). Time: best of ``repeat`` fresh processes, without tracing.
Bytes per edge: Python heap growth traced by ``tracemalloc`` during the build (+ Arrow
bytes of the edge table), divided by edges, in a separate run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_GRAPH = r"""
import sys, time, tracemalloc, gc
import networkx as nx, pyarrow as pa
import followmoney as fm
from followmoney.graph import transaction_graph
mode, path, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
b = fm.read(path)
df = b.transactions.select(["txn_id", "from_account", "to_account", "amount", "currency", "timestamp", "channel"]).to_pandas() if mode == "peer" else None
gc.collect()
if trace:
    tracemalloc.start()
a0 = pa.total_allocated_bytes()
t = time.perf_counter()
if mode == "peer":
    G = nx.from_pandas_edgelist(df, "from_account", "to_account", edge_attr=["amount", "currency", "timestamp", "channel"],
                                edge_key="txn_id", create_using=nx.MultiDiGraph)
else:
    G = transaction_graph(b, compact=(mode == "compact"))
dt = time.perf_counter() - t
heap = tracemalloc.get_traced_memory()[0] if trace else 0
arrow = G.graph["edges"].nbytes if mode == "compact" else 0
print({"edges": G.number_of_edges(), "nodes": G.number_of_nodes(), "seconds": dt, "bytes": heap + arrow})
"""

_RESOLVE = r"""
import sys, time, random, resource
from datetime import date, timedelta
import pyarrow as pa
import followmoney as fm
from followmoney.resolve import resolve, shared_identifiers
n_target = int(sys.argv[1])
rnd = random.Random(42)
given = ["Ana", "Mara", "Lina", "Joy", "Nadia", "Tariq", "Victor", "Omar", "Ivy", "Ken", "Grace", "Ravi", "Mina", "Sara",
         "Yusuf", "Layla", "Ali", "Khalid", "Aisha", "John", "Marta", "Olga", "Ivan", "Chen", "Wei", "Fatima", "Hassan"]
family = [f"{a}{b}" for a in ["Ex", "Sam", "Test", "Dumm", "Plac", "Fict", "Fake", "Mock", "Demo", "Prox"]
          for b in ["emplo", "pleton", "ini", "yova", "eholder", "us", "name", "ston", "field", "wick"]]
def typo(s):
    i = rnd.randrange(1, len(s))
    return s[:i] + s[i + 1:] if rnd.random() < 0.5 else s[:i] + rnd.choice("aeiou") + s[i:]
parties, ids = [], []
person = 0
while len(parties) < n_target:
    person += 1
    g, f = rnd.choice(given), rnd.choice(family) + rnd.choice(["", "a", "o", "ez", "ov"])
    dob = date(1960, 1, 1) + timedelta(days=rnd.randrange(20000))
    phone = f"+97150{rnd.randrange(10**7):07d}"
    eid = f"EID:784{rnd.randrange(10**12):012d}"
    for m in range(rnd.choice([1, 1, 2, 3, 4])):
        pid = f"P{person:07d}-{m}"
        name = rnd.choice([f"{g} {f}", f"{f.upper()}, {g}", f"{f} {g}", f"{typo(g)} {f}"])
        parties.append({"party_id": pid, "kind": "person", "name": name, "birth_date": dob if rnd.random() < 0.8 else None,
                        "country": "AE", "source_ref": pid})
        if rnd.random() < 0.5:
            ids.append({"owner_kind": "party", "owner_id": pid, "kind": "national_id", "value": eid, "raw": eid, "source_ref": pid})
        if rnd.random() < 0.6:
            ids.append({"owner_kind": "party", "owner_id": pid, "kind": "phone", "value": phone, "raw": phone, "source_ref": pid})
b = fm.Bundle(parties=pa.Table.from_pylist(parties), identifiers=pa.Table.from_pylist(ids))
t = time.perf_counter()
res = resolve(b)
dt = time.perf_counter() - t
t = time.perf_counter()
sh = shared_identifiers(b, res)
dt2 = time.perf_counter() - t
print({"mentions": len(parties), "persons": person, "clusters": res.stats["clusters"], "seconds": dt,
       "shared_seconds": dt2, "candidate_pairs": res.stats["candidate_pairs"], "blocks_skipped": res.stats["blocks_skipped"],
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own subprocess' dict literal


def _graph(mode: str, path: Path, repeat: int) -> dict:
    best = min((_run(_GRAPH, mode, str(path), "0") for _ in range(repeat)), key=lambda r: r["seconds"])
    traced = _run(_GRAPH, mode, str(path), "1")
    return {**best, "bytes_per_edge": traced["bytes"] / traced["edges"]}


def run(repeat: int = 3, mentions: int = 100_000) -> dict:
    """Measure; return the figures (printed and saved by ``benchmarks/run.py``)."""
    full = ROOT.parent / "shared" / "datasets" / "amlsim" / "transactions.csv"
    path = full if full.is_file() else ROOT / "sample_data" / "amlsim" / "transactions.csv"
    peer = _graph("peer", path, repeat)
    ours = _graph("full", path, repeat)
    compact = _graph("compact", path, repeat)
    res = _run(_RESOLVE, str(mentions))
    return {
        "benchmark": "transaction multigraph vs nx.from_pandas_edgelist MultiDiGraph (peer); resolve on synthetic mentions",
        "input": str(path.relative_to(path.parents[2])),
        "edges": ours["edges"],
        "peer_build_seconds": round(peer["seconds"], 3),
        "graph_build_seconds": round(ours["seconds"], 3),
        "compact_build_seconds": round(compact["seconds"], 3),
        "peer_bytes_per_edge": round(peer["bytes_per_edge"]),
        "graph_bytes_per_edge": round(ours["bytes_per_edge"]),
        "compact_bytes_per_edge": round(compact["bytes_per_edge"]),
        "time_ratio_graph_over_peer": round(ours["seconds"] / peer["seconds"], 2),
        "time_ratio_compact_over_peer": round(compact["seconds"] / peer["seconds"], 2),
        "memory_ratio_graph_over_peer": round(ours["bytes_per_edge"] / peer["bytes_per_edge"], 2),
        "memory_ratio_compact_over_peer": round(compact["bytes_per_edge"] / peer["bytes_per_edge"], 2),
        "resolve_mentions": res["mentions"],
        "resolve_true_persons": res["persons"],
        "resolve_clusters": res["clusters"],
        "resolve_seconds": round(res["seconds"], 2),
        "resolve_mentions_per_second": round(res["mentions"] / res["seconds"]),
        "resolve_candidate_pairs": res["candidate_pairs"],
        "resolve_blocks_skipped": res["blocks_skipped"],
        "resolve_peak_rss_mb": round(res["peak_rss_mb"], 1),
        "shared_identifiers_seconds": round(res["shared_seconds"], 2),
    }
