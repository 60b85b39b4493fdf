"""Forward tracing over about 1,000,000 synthetic transactions (50,000 accounts) from one
source, with each allocation rule (``followmoney.trace.forward``). Peer: a naive per-hop
pandas filtering loop over the same data (for each hop, filter the frame for payments by
currently tainted accounts after the time their taint arrived), which only finds *where*
taint could go, not how much. Both use the same hop limit; the best of ``repeat`` runs is
reported, with the one-off index build (sorting, coding, running balances) shown
separately, and once included ("cold").
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa

N_TXNS = 1_120_000  # about 1,000,000 remain once payments by empty accounts are dropped
N_ACCOUNTS = 50_000
HOPS = 6
SEED = 20_260_301
SOURCE = "syn/000050"  # a busy account (activity rank 50 of 50,000)


def make_transactions(n: int = N_TXNS, n_accounts: int = N_ACCOUNTS, seed: int = SEED) -> pa.Table:
    """Seeded synthetic canonical transactions: USD payments over one year.

    Account activity is skewed (a few busy accounts, many quiet ones); 4 % are cash
    deposits (no payer) and 3 % cash withdrawals (no payee). Balances are respected
    as in real accounts: each account starts with a log-normal balance (not in the
    data, so the trace must assume it) and never pays more than it holds; a payment
    is a log-normal amount capped at the payer's balance.
    """
    from followmoney.core import schema
    from followmoney.core.schema import from_cents as _money

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_accounts + 1) ** 0.6
    weights /= weights.sum()
    frm = rng.choice(n_accounts, size=n, p=weights)
    to = rng.choice(n_accounts, size=n, p=weights)
    same = frm == to
    to[same] = (to[same] + 1) % n_accounts
    kind = rng.random(n)
    frm = np.where(kind < 0.04, -1, frm)
    to = np.where(kind > 0.97, -1, to)
    want = np.maximum(100, rng.lognormal(mean=10.0, sigma=1.2, size=n)).astype(np.int64)
    bal = np.maximum(0, rng.lognormal(mean=12.0, sigma=1.0, size=n_accounts)).astype(np.int64).tolist()
    cents = [0] * n
    for i, (f, t, w) in enumerate(zip(frm.tolist(), to.tolist(), want.tolist())):
        if f >= 0:
            w = min(w, bal[f])
            bal[f] -= w
        if t >= 0:
            bal[t] += w
        cents[i] = w
    cents = np.array(cents, dtype=np.int64)
    keep = cents > 0
    frm, to, cents = frm[keep], to[keep], cents[keep]
    n = len(cents)
    t0 = int(pd.Timestamp("2025-01-01", tz="UTC").value // 1000)
    ts = np.sort(t0 + rng.integers(0, 365 * 86_400_000_000, size=n))
    names = pa.array([f"syn/{i:06d}" for i in range(n_accounts)])
    ids = pa.array([f"T{i:08d}" for i in range(n)])
    return schema.conform(
        pa.table(
            {
                "txn_id": ids,
                "source": pa.array(["synthetic"] * n),
                "source_ref": pa.array([f"synthetic:{i}" for i in range(n)]),
                "timestamp": pa.array(ts, schema.TIMESTAMP),
                "amount": _money(cents * 10),  # cents -> thousandths (the money scale)
                "currency": pa.array(["USD"] * n),
                "from_account": names.take(pa.array(frm, mask=frm < 0)),
                "to_account": names.take(pa.array(to, mask=to < 0)),
                "channel": pa.array(["transfer"] * n),
            }
        ),
        "transactions",
    )


def naive_pandas(df: pd.DataFrame, source: str, since: pd.Timestamp, hops: int) -> int:
    """The peer: hop by hop, filter the frame for payments of tainted accounts after their taint time.

    What an analyst writes first in a notebook: no balances, no allocation rule, every
    later payment of a tainted account counts as tainted. Returns the number of distinct
    transactions reached.
    """
    taint_time = pd.Series({source: since})
    reached = pd.Series(False, index=df.index)
    for _ in range(hops):
        t = df["from_account"].map(taint_time)
        hop = t.notna() & (df["timestamp"] >= t) & ~reached
        if not hop.any():
            break
        reached |= hop
        arrivals = df.loc[hop].dropna(subset=["to_account"]).groupby("to_account")["timestamp"].min()
        taint_time = pd.concat([taint_time, arrivals]).groupby(level=0).min()
    return int(reached.sum())


def run(repeat: int = 3) -> dict:
    """Measure; return the figures (printed and saved by ``benchmarks/run.py``)."""
    from followmoney import trace

    t = time.perf_counter()
    table = make_transactions()
    gen_s = time.perf_counter() - t
    since = pd.Timestamp("2025-01-01", tz="UTC")

    t = time.perf_counter()
    ix = trace.TraceIndex(table)
    ix.scope("USD")
    index_s = time.perf_counter() - t

    out = {
        "benchmark": "trace.forward vs naive per-hop pandas filtering (peer)",
        "transactions": table.num_rows,
        "accounts": len(ix.accounts),
        "source": f"{SOURCE}: proceeds account (all it receives is tainted), {HOPS} hops",
        "generate_seconds": round(gen_s, 2),
        "index_seconds": round(index_s, 3),
    }
    for method in trace.METHODS:
        best, res = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            res = trace.forward(ix, SOURCE, since=since, method=method, hops=HOPS)
            best = min(best, time.perf_counter() - t)
        assert res.check_conservation()
        out[f"{method}_seconds"] = round(best, 3)
        out[f"{method}_hop_rows"] = res.hops.num_rows
        out[f"{method}_accounts_holding_taint"] = res.positions.num_rows

    t = time.perf_counter()
    trace.forward(table, SOURCE, since=since, method="fifo", hops=HOPS)
    cold = time.perf_counter() - t
    out["fifo_cold_seconds_incl_index"] = round(cold, 3)

    df = table.select(["txn_id", "timestamp", "from_account", "to_account"]).to_pandas()
    peer, reached = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        reached = naive_pandas(df, SOURCE, since, HOPS)
        peer = min(peer, time.perf_counter() - t)
    out["naive_pandas_seconds"] = round(peer, 3)
    out["naive_pandas_transactions_reached"] = reached
    for method in trace.METHODS:
        out[f"ratio_naive_over_{method}"] = round(peer / out[f"{method}_seconds"], 2)
    out["ratio_naive_over_fifo_cold"] = round(peer / cold, 2)
    return out


if __name__ == "__main__":  # pragma: no cover
    for k, v in run(repeat=1).items():
        print(f"{k:>40}: {v}")
