"""Per-rule CPU time, peak memory and a digest of each rule's findings, to check that a speed-up changes nothing.

A developer's tool for issue 16 (not a benchmark: ``make bench`` does not run it). Run it on
the code before a change with ``--save``, then on the code after it with ``--compare``: every
rule must report ``same``. The rules run as :func:`followmoney.score` runs them (one prepared
frame, the shared tables freed after their last reader), so the CPU seconds are each rule's own.
On Linux the peak RSS printed is each rule's own, with how far above the RSS it started at (the
peak is reset before each rule through ``/proc/self/clear_refs``); elsewhere, the process's so far.

Usage::

    python benchmarks/rule_digests.py DATA --save before.json [--rules ML-07,ML-08]
    python benchmarks/rule_digests.py DATA --compare before.json

``DATA`` is anything :func:`followmoney.read` reads (for example a file of
``benchmarks/bench_scale.write_ibm_csv``), ``synth:SEED`` (``make_transactions``, 4,000
accounts x 200 days, every typology) or ``amlworld:SEED`` (the AMLworld-style generator).
The older code can be run from a worktree: ``PYTHONPATH=src python .../rule_digests.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd


def _bundle(data: str):
    import followmoney as fm

    kind, _, seed = data.partition(":")
    if kind == "synth" and seed.isdigit():
        from followmoney.datasets.synth import make_transactions

        return make_transactions(n_accounts=4000, n_days=200, n_per_typology=6, random_state=int(seed))[0]
    if kind == "amlworld" and seed.isdigit():
        from followmoney.datasets.amlworld import make_amlworld

        return make_amlworld(random_state=int(seed))[0]
    return fm.read(data)


def _digest(findings: pd.DataFrame | None) -> str:
    if findings is None or findings.empty:
        return "empty"
    return hashlib.sha1(pd.util.hash_pandas_object(findings.astype(str), index=False).to_numpy().tobytes()).hexdigest()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def _reset_peak() -> float | None:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``), so that each rule's own peak
    can be read; returns the RSS in MB, or None where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def run(data: str, rules: list[str] | None = None) -> dict[str, dict]:
    """Run the rules on ``data``; per rule: CPU seconds, findings, their digest and the process's peak RSS (MB) after it."""
    import followmoney as fm
    from followmoney.core.frame import prepare_transactions
    from followmoney.core.memory import release_unused
    from followmoney.detect.fx import convert_cash
    from followmoney.detect.rules import REGISTRY, SHARED_USERS, RuleContext

    cfg = fm.Config()
    t = time.process_time()
    bundle = _bundle(data)
    frame, _ = convert_cash(prepare_transactions(bundle.transactions, cfg.jurisdiction_info.timezone, bundle.accounts), cfg)
    print(f"read and prepared: {time.process_time() - t:.1f} s CPU, {len(frame):,} rows, peak {_peak_mb():,.0f} MB", flush=True)
    ids = rules or [r for r in REGISTRY if r not in cfg.disabled_rules]
    last_use = {key: max((i for i, r in enumerate(ids) if r in users), default=-1) for key, users in SHARED_USERS.items()}
    shared: dict = {}
    out = {}
    for i, rule_id in enumerate(ids):
        for key in [k for k, last in last_use.items() if last < i and k in shared]:
            del shared[key]
        rule = REGISTRY[rule_id]
        if rule.missing_columns(frame):
            continue
        ctx = RuleContext(params=rule.resolve_params(cfg.rule_params(rule_id)), jurisdiction=cfg.jurisdiction_info, bundle=bundle,
                          config=cfg, shared=shared)  # fmt: skip
        release_unused()  # as score() does between rules
        start = _reset_peak()
        t = time.process_time()
        found = rule.func(frame, ctx)
        cpu = time.process_time() - t
        own = _status_mb("VmHWM") if start is not None else None
        peak = own if own is not None else _peak_mb()  # the rule's own peak where it can be read, else the process's so far
        out[rule_id] = {"cpu_seconds": round(cpu, 2), "findings": 0 if found is None else len(found), "digest": _digest(found),
                        "peak_rss_mb": round(peak)}  # fmt: skip
        added = ""
        if own is not None:  # how far above the RSS it started at
            out[rule_id]["added_rss_mb"] = round(own - start)
            added = f" ({own - start:+,.0f})"
        print(f"{rule_id:>6} {cpu:7.2f} s  {out[rule_id]['findings']:>6} findings  peak {peak:,.0f} MB{added}", flush=True)
    print(f" rules {sum(r['cpu_seconds'] for r in out.values()):7.2f} s CPU", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--rules", help="comma-separated rule ids (default: every enabled rule)")
    what = ap.add_mutually_exclusive_group()
    what.add_argument("--save", type=Path, help="write the digests here")
    what.add_argument("--compare", type=Path, help="compare with digests written by --save; exit 1 when any differs")
    args = ap.parse_args(argv)
    result = run(args.data, args.rules.split(",") if args.rules else None)
    if args.save:
        args.save.write_text(json.dumps(result, indent=1) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = [r for r in result if r in before and before[r]["digest"] != result[r]["digest"]]
        missing = sorted(set(before) - set(result))
        print("same findings" if not changed else f"findings changed: {', '.join(changed)}", f"(not run now: {', '.join(missing)})" if missing else "")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
