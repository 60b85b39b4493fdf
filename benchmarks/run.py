"""Run every benchmark (``benchmarks/bench_*.py``), print its figures and save them as JSON.

Each ``bench_*.py`` module has ``run(repeat) -> dict`` whose figures include ratios
against a named peer measured in the same run. Usage: ``make bench`` or
``python benchmarks/run.py [--repeat N] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    ap.add_argument("--only", help="run only bench_<ONLY>.py")
    ap.add_argument("--out", type=Path, default=HERE.parent / "bench_output")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if args.only and name != args.only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if getattr(mod, "STANDALONE", False) and args.only != name:
            print(f"== {name}: run on its own (make bench-{name}, or --only {name})")
            continue
        result = mod.run(repeat=args.repeat)
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"== {name}")
        for k, v in result.items():
            print(f"{k:>40}: {v}")


if __name__ == "__main__":
    main()
