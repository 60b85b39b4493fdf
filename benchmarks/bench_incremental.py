"""Incremental nightly runs: a night of 1 % new rows against a full run over the same store.

A synthetic bank world (:func:`followmoney.datasets.synth.make_transactions`) of
``FOLLOWMONEY_BENCH_INCR_ROWS`` transactions (default 500,000) is put in a store in two
appends: the first 99 % of the rows in time, then the last 1 % (the night). Measured in
the same run: a full score of the whole store, and the incremental night
(:func:`followmoney.detect.incremental.score_store` with the previous run's alerts and
state), once with every rule and once with only the rules that can be scored per
subject (the ``global`` rules disabled: they run in full every night). The alerts of
the night are checked to equal the full run's.

Usage: ``python benchmarks/run.py --only incremental`` (``FOLLOWMONEY_BENCH_INCR_ROWS=5000000``
for the issue's 5 M rows).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

ROWS = int(os.environ.get("FOLLOWMONEY_BENCH_INCR_ROWS", "500000"))
#: Share of the rows that arrive in the night.
NIGHT = 0.01
DAYS = 100


def _world(rows: int):
    from followmoney.core import schema
    from followmoney.datasets.synth import make_transactions

    accounts = max(600, rows // DAYS)  # about one transaction per account and day
    bundle, _ = make_transactions(accounts, DAYS, n_per_typology=2, random_state=11)
    return replace(bundle, load_log=schema.empty("load_log"))


def _split(bundle):
    tx = bundle.transactions.sort_by("timestamp")
    cut = tx.num_rows - max(1, int(tx.num_rows * NIGHT))
    t = tx["timestamp"][cut]
    early = pc.less(tx["timestamp"], t)
    return replace(bundle, transactions=tx.filter(early)), replace(bundle, transactions=tx.filter(pc.invert(early)))


def _measure(bundle, cfg) -> dict:
    from followmoney.core.store import append_store
    from followmoney.detect.incremental import score_store

    before, night = _split(bundle)
    with tempfile.TemporaryDirectory() as d:
        append_store(bundle, f"{d}/full")
        t = time.perf_counter()
        full = score_store(f"{d}/full", cfg)
        full_s = time.perf_counter() - t
        append_store(before, f"{d}/inc")
        previous = score_store(f"{d}/inc", cfg)
        append_store(night, f"{d}/inc")
        t = time.perf_counter()
        inc = score_store(f"{d}/inc", cfg, previous_alerts=previous.alerts, previous_state=previous.state)
        inc_s = time.perf_counter() - t
    cols = ["alert_id", "score", "evidence_txn_ids", "explanation"]
    same = full.alerts.select(cols).equals(inc.alerts.select(cols))
    return {
        "full_s": round(full_s, 2),
        "incremental_s": round(inc_s, 2),
        "ratio": round(inc_s / full_s, 3),
        "new_rows": inc.info["new_rows"],
        "rows_read": inc.info["rows_read"],
        "touched_subjects": inc.info["touched_subjects"],
        "alerts": full.alerts.num_rows,
        "identical_alerts": same,
    }


def run(repeat: int = 1, rows: int | None = None) -> dict:
    """Figures of one store size: full and incremental wall time, their ratio, with all rules and per-subject rules only."""
    import followmoney as fm
    from followmoney.detect._dask import plan
    from followmoney.detect.rules import REGISTRY

    bundle = _world(rows or ROWS)
    out = {"rows": bundle.transactions.num_rows, "accounts": bundle.accounts.num_rows, "night_share": NIGHT}
    all_rules = _measure(bundle, fm.Config())
    out.update({f"all_rules_{k}": v for k, v in all_rules.items()})
    per_subject = fm.Config(disabled_rules=plan(list(REGISTRY))["global"])
    sub = _measure(bundle, per_subject)
    out.update({f"per_subject_rules_{k}": v for k, v in sub.items()})
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print(f"{k:>40}: {v}")
