"""Import cost: ``import followmoney`` and ``followmoney --help`` against ``import pandas, pyarrow``.

Issue 17's target: importing followmoney costs at most 1.5x importing pandas and pyarrow,
measured in the same run. Each figure is the best wall time of ``repeat`` fresh Python
processes (the interpreter's own start-up is subtracted, so the ratios compare imports).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _best(cmd: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def run(repeat: int = 3) -> dict:
    repeat = max(repeat, 5)
    py = [sys.executable, "-c"]
    bare = _best([*py, "pass"], repeat)
    peer = _best([*py, "import pandas, pyarrow"], repeat) - bare
    facade = _best([*py, "import followmoney"], repeat) - bare
    schema = _best([*py, "import followmoney.core.schema"], repeat) - bare
    first_use = _best([*py, "import followmoney as fm; fm.read"], repeat) - bare
    helptext = _best([str(BIN / "followmoney"), "--help"], repeat) - bare
    return {
        "peer": "import pandas, pyarrow (same run, interpreter start-up subtracted)",
        "peer_seconds": round(peer, 3),
        "import_followmoney_seconds": round(facade, 3),
        "import_followmoney_vs_peer": round(facade / peer, 2),
        "import_core_schema_vs_peer": round(schema / peer, 2),
        "first_use_fm_read_vs_peer": round(first_use / peer, 2),
        "cli_help_vs_peer": round(helptext / peer, 2),
        "target": "import followmoney <= 1.5x the peer",
    }


if __name__ == "__main__":
    print(run())
