"""Incremental nightly runs: a night of 1 % new rows against a full run over the same store.

Two worlds of ``FOLLOWMONEY_BENCH_INCR_ROWS`` transactions (default 1,000,000) over
:data:`DAYS` days, each put in a store in two appends, the first 99 % of the rows in
time, then the last 1 % (the night):

``sparse``
    What a national FIU holds: many accounts, most of them quiet on a given night.
    The IBM-AML-format generator of ``bench_scale.py`` (:func:`write_ibm_csv`, read back
    with :func:`followmoney.read`) with :data:`SPARSE_TXNS_PER_ACCOUNT` transactions per
    account over the :data:`DAYS` days (500 k accounts at 1 M rows) and its heavy-tailed
    (power-law) degree distribution: a night touches a few percent of the accounts, but
    every hub among them. Chosen over :func:`followmoney.datasets.make_amlworld`, whose
    Python loops take minutes at 1 M rows and whose merchants, landlords and employers
    (one per 25 to 60 customers) put every customer two hops from a hub touched every
    night.
``dense``
    The synthetic bank world (:func:`followmoney.datasets.synth.make_transactions`):
    about one transaction per account and day, so a night touches nearly every
    account; the incremental run is expected to fall back to a full run and say so.

Measured in the same run, per world and rule set: a full score of the whole store and
the incremental night (:func:`followmoney.detect.incremental.score_store` with the
previous run's alerts and state), their ratio, whether the night fell back to a full run,
the share of the stored rows the per-subject rules read, and whether the night's alerts
equal the full run's; the night is measured twice, as run (it may fall back to a full
run) and ``forced`` incremental (``fallback_share=1.1``). Rule sets: ``all`` (every
rule); ``per_subject`` (without the rules the ``all`` night ran in full: the ``global``
ones, which have no per-subject reach, and those whose whole-data statistic changes every
night, ML-04); ``account`` (without the ``neighbourhood`` rules HT-09 and FL-02 too, whose
reach is two hops: on a heavy-tailed graph two hops from a night's accounts is nearly
everything), which shows what the per-subject path itself costs.

Usage: ``python benchmarks/run.py --only incremental``; ``FOLLOWMONEY_BENCH_INCR_ROWS=5000000``
for the issue's 5 M rows (about five times the 1 M run's time and memory: every step is
linear in the stored rows).
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.compute as pc

#: ``make bench`` (benchmarks/run.py) leaves this one to ``--only incremental``: it takes minutes at 1 M rows.
STANDALONE = True
ROWS = int(os.environ.get("FOLLOWMONEY_BENCH_INCR_ROWS", "1000000"))
#: Share of the rows that arrive in the night.
NIGHT = 0.01
DAYS = 100
#: Transactions each account of the sparse world takes part in over the :data:`DAYS` days, on average.
SPARSE_TXNS_PER_ACCOUNT = 4


def _dense_world(rows: int):
    from followmoney.core import schema
    from followmoney.datasets.synth import make_transactions

    accounts = max(600, rows // DAYS)  # about one transaction per account and day
    bundle, _ = make_transactions(accounts, DAYS, n_per_typology=2, random_state=11)
    return replace(bundle, load_log=schema.empty("load_log"))


def _sparse_world(rows: int):
    import followmoney as fm
    from followmoney.core import schema

    spec = importlib.util.spec_from_file_location("bench_scale", Path(__file__).with_name("bench_scale.py"))
    scale = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scale)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "sparse_Trans.csv"
        scale.write_ibm_csv(path, rows, seed=11, days=DAYS, txns_per_account=SPARSE_TXNS_PER_ACCOUNT)
        bundle = fm.read(path)
    return replace(bundle, load_log=schema.empty("load_log"))


def _split(bundle):
    tx = bundle.transactions.sort_by("timestamp")
    cut = tx.num_rows - max(1, int(tx.num_rows * NIGHT))
    early = pc.less(tx["timestamp"], tx["timestamp"][cut])
    return replace(bundle, transactions=tx.filter(early)), replace(bundle, transactions=tx.filter(pc.invert(early)))


def _measure(bundle, cfg) -> dict:
    from followmoney.core.store import append_store
    from followmoney.detect.incremental import score_store

    before, night = _split(bundle)
    cols = ["alert_id", "score", "evidence_txn_ids", "explanation"]
    rows = bundle.transactions.num_rows
    with tempfile.TemporaryDirectory() as d:
        append_store(bundle, f"{d}/full")
        t = time.perf_counter()
        full = score_store(f"{d}/full", cfg)
        full_s = time.perf_counter() - t
        append_store(before, f"{d}/inc")
        previous = score_store(f"{d}/inc", cfg)
        append_store(night, f"{d}/inc")
        out = {"full_s": round(full_s, 2)}
        for name, share in (("night", None), ("forced", 1.1)):  # as run; never falling back to a full run
            kw = {} if share is None else {"fallback_share": share}
            t = time.perf_counter()
            inc = score_store(f"{d}/inc", cfg, previous_alerts=previous.alerts, previous_state=previous.state, **kw)
            inc_s = time.perf_counter() - t
            info = inc.info
            out.update({
                f"{name}_s": round(inc_s, 2),
                f"{name}_ratio": round(inc_s / full_s, 3),
                f"{name}_identical_alerts": full.alerts.select(cols).equals(inc.alerts.select(cols)),
            })  # fmt: skip
            if name == "night":
                out["night_mode"] = info["mode"] + (f" ({info['reason']})" if info["reason"] else "")
            else:
                out["new_rows"] = info["new_rows"]
                out["touched_subjects"] = info["touched_subjects"]
                out["subject_rows_share"] = {k: round(v / rows, 3) for k, v in info["subject_rows"].items()}
                out["rules_in_full"] = ",".join(info["rules_by_mode"].get("full", []))
    out["alerts"] = full.alerts.num_rows
    return out


def run(repeat: int = 1, rows: int | None = None, worlds=("sparse", "dense")) -> dict:
    """Per world and rule set: full run and night wall time, their ratio, what the night read and did."""
    import followmoney as fm
    from followmoney.detect.rules import REGISTRY

    out = {}
    for world in worlds:
        bundle = (_sparse_world if world == "sparse" else _dense_world)(rows or ROWS)
        out[f"{world}_rows"] = bundle.transactions.num_rows
        out[f"{world}_accounts"] = bundle.accounts.num_rows
        every = _measure(bundle, fm.Config())
        out.update({f"{world}_all_{k}": v for k, v in every.items()})
        in_full = [r for r in every["rules_in_full"].split(",") if r]
        neighbourhood = [r for r, rule in REGISTRY.items() if rule.partition == "neighbourhood"]
        for name, disabled in (("per_subject", in_full), ("account", in_full + neighbourhood)):
            out[f"{world}_{name}_disabled"] = ",".join(disabled)
            out.update({f"{world}_{name}_{k}": v for k, v in _measure(bundle, fm.Config(disabled_rules=disabled)).items()})
    return out


if __name__ == "__main__":
    import sys

    for k, v in run(rows=int(sys.argv[1]) if len(sys.argv) > 1 else None).items():
        print(f"{k:>40}: {v}")
