"""The whole rule set on AMLSim and on a 1-million-transaction synthetic set: run time and
detection quality (issue 6).

* **AMLSim** (``../shared/datasets/amlsim/transactions.csv``, 199,299 rows; skipped when
  absent), scored with ``configs/amlsim.toml`` (AMLSim's own fan-in / fan-out
  parameters): run time of every registered rule, and :func:`followmoney.evaluate.evaluate`
  against the data's own labels (:func:`~followmoney.evaluate.truth_from_labels`).
  Peer: a bare ``pyarrow.csv.read_csv`` of the same file.
* **Synthetic**: :func:`followmoney.datasets.synth.make_transactions` with every typology
  (4,500 accounts x 240 days, about 1.0 million transactions, seed 0), scored and
  evaluated against its truth. Peer: the time to generate the data.

Method. The rules run in a child process, one ``fm.score(bundle, rules=[rule])`` call
per rule, with the shared per-call preparation (the rule frame and run id) computed
once and reused, so that a rule's time is its own; the whole rule set's time is the
preparation plus the sum of the rules. A rule that runs past ``RULE_CAP_S`` is stopped
(the child is restarted without it) and reported as ``"> cap"``; rules not reached
within the budget are reported as not run, so the benchmark stays within about three
minutes on a 2-core machine whatever is registered. Peak resident memory (ru_maxrss)
of the child is recorded after each rule: a rule that raises it is named in
``*_rss_raised_by``. The peer timings are the best of ``repeat`` runs; the rule runs
are timed once (the 1-million-row set allows no more within the budget).
"""

from __future__ import annotations

import json
import math
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AMLSIM = ROOT.parent / "shared" / "datasets" / "amlsim" / "transactions.csv"

#: AMLSim's own fan-in / fan-out parameters (its patterns unfold over weeks; see the file)
AMLSIM_CONFIG = ROOT / "configs" / "amlsim.toml"
SYNTH = {"n_accounts": 4500, "n_days": 240, "n_per_typology": 5, "random_state": 0}
#: seconds: per-rule cap and total rule budget, per data set
RULE_CAP_S = {"amlsim": 15.0, "synth": 15.0}
BUDGET_S = {"amlsim": 35.0, "synth": 120.0}

_WORKER = r"""
import json, resource, sys, time
from pathlib import Path
import pyarrow.parquet as pq
import followmoney as fm
import followmoney.detect.score as al
from followmoney.detect.rules import REGISTRY

data, out, skip = Path(sys.argv[1]), Path(sys.argv[2]), set(json.loads(sys.argv[3]))
config = fm.Config.from_toml(sys.argv[4]) if sys.argv[4] else fm.Config()
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
bundle = fm.read_bundle(data) if data.is_dir() else fm.read(data, progress=False)
load = time.perf_counter() - t
# reuse the per-call preparation (rule frame, run id) in every single-rule score() call:
# same bundle, same configuration; whatever arguments the library passes
cache = {}
def memo(name, fn):
    def wrapped(*args, **kwargs):
        if name not in cache:
            cache[name] = fn(*args, **kwargs)
        v = cache[name]
        return v.copy(deep=False) if hasattr(v, "copy") and not isinstance(v, str) else v
    return wrapped
al.prepare_transactions = memo("frame", al.prepare_transactions)
al._run_id = memo("run_id", al._run_id)
t = time.perf_counter()
fm.score(bundle, config, rules=[])  # does the preparation once
prep = time.perf_counter() - t
print(json.dumps({"event": "ready", "load_seconds": load, "prepare_seconds": prep, "rows": bundle.transactions.num_rows,
                  "accounts": bundle.accounts.num_rows, "rss_mb": rss()}), flush=True)
for rule in REGISTRY:
    if rule in skip:
        continue
    print(json.dumps({"event": "start", "rule": rule}), flush=True)
    before = rss()
    t = time.perf_counter()
    alerts = fm.score(bundle, config, rules=[rule])
    dt = time.perf_counter() - t
    cols = ["rule_id", "typology", "subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids",
            "related_subject_ids"]
    pq.write_table(alerts.select(cols), out / f"{rule}.parquet")
    print(json.dumps({"event": "done", "rule": rule, "seconds": dt, "alerts": alerts.num_rows,
                      "rss_mb": rss(), "rss_before_mb": before}), flush=True)
print(json.dumps({"event": "end"}), flush=True)
"""


def _reader(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def _score_rules(data: Path, name: str, config: Path | None = None) -> dict:
    """Run every registered rule in child processes within the cap and budget (``config``: a TOML file)."""
    from followmoney.detect.rules import REGISTRY

    cap, budget = RULE_CAP_S[name], BUDGET_S[name]
    out = Path(tempfile.mkdtemp(prefix=f"bench_rules_{name}_"))
    done: dict[str, dict] = {}
    stopped: dict[str, str] = {}
    ready: dict | None = None
    deadline = time.perf_counter() + budget
    while len(done) + len(stopped) < len(REGISTRY) and time.perf_counter() < deadline:
        skip = sorted(set(done) | set(stopped))
        err = open(out / "stderr.txt", "w+")  # noqa: SIM115 - read back below
        proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(data), str(out), json.dumps(skip), str(config or "")],
                                stdout=subprocess.PIPE, stderr=err, text=True)  # fmt: skip
        q: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
        current, started, progressed = None, time.perf_counter(), False
        while True:
            limit = min(deadline, started + cap) if current else deadline
            try:
                line = q.get(timeout=max(0.05, limit - time.perf_counter()))
            except queue.Empty:
                line = ""
            if line is None:  # child ended
                proc.wait()
                err.seek(0)
                last = (err.read().strip().splitlines() or ["no message"])[-1][:200]
                if current:
                    stopped[current] = f"failed: {last}"
                elif not progressed:  # the child cannot even start: give up
                    stopped.update({r: f"not run: worker failed: {last}" for r in REGISTRY if r not in done})
                break
            if not line:
                if time.perf_counter() >= limit:
                    if current:
                        stopped[current] = f"> {cap:g} s (stopped)" if time.perf_counter() < deadline else "budget"
                    proc.kill()
                    break
                continue
            ev = json.loads(line)
            if ev["event"] == "ready":
                ready = ready or ev
            elif ev["event"] == "start":
                current, started = ev["rule"], time.perf_counter()
            elif ev["event"] == "done":
                done[ev["rule"]] = ev
                current, progressed = None, True
            elif ev["event"] == "end":
                break
        proc.wait()
        err.close()
    for rule in REGISTRY:
        if rule not in done and rule not in stopped:
            stopped[rule] = "not run (budget)"
    complete = not stopped
    rules_s = sum(d["seconds"] for d in done.values())
    prep = ready["prepare_seconds"] if ready else math.nan
    raised, peak = [], 0.0
    for rule, d in done.items():
        if d["rss_mb"] > max(peak, d["rss_before_mb"]) + 50:
            raised.append(f"{rule} (+{d['rss_mb'] - max(peak, d['rss_before_mb']):.0f} MB)")
        peak = max(peak, d["rss_mb"])
    return {
        "out": out,
        "rows": ready["rows"] if ready else None,
        "accounts": ready["accounts"] if ready else None,
        "prepare_seconds": round(prep, 2),
        "rule_seconds": {r: round(d["seconds"], 2) for r, d in done.items()},
        "alerts_per_rule": {r: d["alerts"] for r, d in done.items()},
        "stopped": stopped,
        "complete": complete,
        "score_seconds": round(prep + rules_s, 2),
        "peak_rss_mb": round(max([d["rss_mb"] for d in done.values()] + [ready["rss_mb"] if ready else 0]), 1),
        "rss_raised_by": raised,
    }


def _alerts(out: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(out.glob("*.parquet"))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def _metrics(alerts, truth, n_accounts, stopped) -> dict:
    """Per typology: the evaluate() figures, or why the rule was not measured."""
    from followmoney.evaluate import evaluate

    if alerts is None:
        return {}
    m = evaluate(alerts, truth, n_accounts=n_accounts)
    out = {}
    for r in m.to_dict("records"):
        if r["typology"] in stopped:
            out[r["typology"]] = {"patterns": r["patterns"], "not_measured": stopped[r["typology"]]}
            continue
        if r["patterns"] == 0 and r["typology"] != "(all)":
            out[r["typology"]] = {"patterns": 0, "alerts": r["alerts"],
                                  "subject_precision": _r(r["subject_precision"]),
                                  "alerts_per_1k": _r(r["alerts_per_1k_accounts"], 1)}  # fmt: skip
            continue
        out[r["typology"]] = {
            "patterns": r["patterns"],
            "recall": _r(r["recall"]),
            "recall_any": _r(r["recall_any"]),
            "subject_precision": _r(r["subject_precision"]),
            "txn_f1": _r(r["txn_f1"]),
            "alerts_per_1k": _r(r["alerts_per_1k_accounts"], 1),
        }
    return out


def _r(v, n=3):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), n)


def _best(fn, repeat):
    best, value = math.inf, None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def _amlsim(repeat: int) -> dict:
    import pyarrow.csv as pacsv

    import followmoney as fm
    from followmoney.evaluate import truth_from_labels

    if not AMLSIM.is_file():
        return {"amlsim": "skipped: ../shared/datasets/amlsim/transactions.csv not present"}
    read_s, _ = _best(lambda: pacsv.read_csv(AMLSIM), repeat)
    res = _score_rules(AMLSIM, "amlsim", AMLSIM_CONFIG)
    truth = truth_from_labels(fm.read(AMLSIM, progress=False))
    metrics = _metrics(_alerts(res["out"]), truth, res["accounts"], res["stopped"])
    shutil.rmtree(res["out"], ignore_errors=True)
    return {
        "amlsim_rows": res["rows"],
        "amlsim_accounts": res["accounts"],
        "amlsim_read_csv_seconds": round(read_s, 3),
        "amlsim_score_seconds": res["score_seconds"],
        "amlsim_score_complete": res["complete"],
        "amlsim_time_ratio_score_over_read_csv": round(res["score_seconds"] / read_s, 1),
        "amlsim_prepare_seconds": res["prepare_seconds"],
        "amlsim_rule_seconds": res["rule_seconds"],
        "amlsim_rules_stopped": res["stopped"],
        "amlsim_peak_rss_mb": res["peak_rss_mb"],
        "amlsim_rss_raised_by": res["rss_raised_by"],
        "amlsim_metrics": metrics,
    }


def _synth(repeat: int) -> dict:
    import pyarrow.parquet as pq

    import followmoney as fm
    from followmoney.datasets.synth import make_transactions

    gen_s, (bundle, truth) = _best(lambda: make_transactions(**SYNTH), 1)
    data = Path(tempfile.mkdtemp(prefix="bench_rules_synth_data_"))
    fm.write_bundle(bundle, data / "bundle")
    pq.write_table(truth, data / "truth.parquet")
    rows = bundle.transactions.num_rows
    del bundle
    res = _score_rules(data / "bundle", "synth")
    metrics = _metrics(_alerts(res["out"]), truth, SYNTH["n_accounts"], res["stopped"])
    shutil.rmtree(res["out"], ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    return {
        "synth_params": SYNTH,
        "synth_rows": rows,
        "synth_generate_seconds": round(gen_s, 2),
        "synth_generate_rows_per_second": round(rows / gen_s),
        "synth_score_seconds": res["score_seconds"],
        "synth_score_complete": res["complete"],
        "synth_time_ratio_score_over_generate": round(res["score_seconds"] / gen_s, 1),
        "synth_prepare_seconds": res["prepare_seconds"],
        "synth_rule_seconds": res["rule_seconds"],
        "synth_rules_stopped": res["stopped"],
        "synth_peak_rss_mb": res["peak_rss_mb"],
        "synth_rss_raised_by": res["rss_raised_by"],
        "synth_metrics": metrics,
    }


def run(repeat: int = 3) -> dict:
    """Measure; return the figures (printed and saved by ``benchmarks/run.py``).

    ``*_score_seconds`` is the rule frame preparation plus the sum of the rules that
    finished (``*_score_complete`` false: some were stopped or not run, listed in
    ``*_rules_stopped``). ``*_metrics`` maps each typology (catalogue id) to pattern
    recall, any-member recall, subject precision, transaction F1 and alerts per 1,000
    accounts (definitions in :mod:`followmoney.evaluate`); ``(all)`` pools all rules.
    """
    from followmoney.detect.rules import REGISTRY

    t0 = time.perf_counter()
    out = {
        "benchmark": "whole rule set: AMLSim vs pyarrow.csv.read_csv (peer); 1M synthetic vs generating it (peer)",
        "rules_registered": len(REGISTRY),
    }
    out.update(_amlsim(repeat))
    out.update(_synth(repeat))
    out["bench_seconds"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2))
