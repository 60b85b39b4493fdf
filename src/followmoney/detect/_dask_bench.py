"""Timing the Dask engine on local clusters: the function ``make bench-scale`` calls.

Apart from :mod:`followmoney.detect._dask` so that the engine does not import
:mod:`followmoney.detect.score` (which dispatches to it).
"""

from __future__ import annotations

from followmoney.core.bundle import Bundle
from followmoney.detect._dask import default_partitions, require_dask

__all__ = ["benchmark"]


def benchmark(bundle: Bundle, config=None, *, workers=(1, 2), partitions: int | None = None,
              sample_every: float = 0.1) -> list[dict]:
    """Time the Dask engine on local clusters of each size in ``workers`` (for ``make bench-scale``).

    Each size gets a fresh :class:`distributed.LocalCluster` (one thread per worker
    process); the cluster's start is timed apart from the scoring. Memory is sampled every
    ``sample_every`` seconds over the worker processes and this process (RSS, with
    :mod:`psutil`); the peak of the workers' sum and of the largest worker are reported.

    Parameters
    ----------
    bundle : Bundle
    config : Config, optional
    workers : iterable of int, default (1, 2)
    partitions : int, optional
        As :func:`followmoney.score`.
    sample_every : float, default 0.1
        Seconds between memory samples.

    Returns
    -------
    list of dict
        Per cluster size: ``workers``, ``partitions``, ``start_s``, ``score_s``,
        ``alerts``, ``failures``, ``peak_workers_rss_mb`` (sum over workers),
        ``peak_worker_rss_mb`` (largest one), ``peak_driver_rss_mb``, ``alert_ids_sha``
        (to compare with the pandas engine's alerts: same ids in the same order).

    Raises
    ------
    ImportError
        ``followmoney[dask]`` is not installed.
    """
    import hashlib
    import os
    import threading
    import time

    import psutil

    from followmoney.detect.score import failures_of, score

    require_dask()
    import distributed

    rows = []
    for n in workers:
        t0 = time.perf_counter()
        with distributed.LocalCluster(n_workers=int(n), threads_per_worker=1, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:  # fmt: skip
            start_s = time.perf_counter() - t0
            procs = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
            me = psutil.Process()
            peak = {"sum": 0, "max": 0, "driver": 0}
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    try:
                        rss = [p.memory_info().rss for p in procs]
                    except psutil.Error:
                        rss = [0]
                    peak["sum"] = max(peak["sum"], sum(rss))
                    peak["max"] = max(peak["max"], max(rss))
                    peak["driver"] = max(peak["driver"], me.memory_info().rss)
                    stop.wait(sample_every)

            thread = threading.Thread(target=sample, daemon=True)
            thread.start()
            t1 = time.perf_counter()
            try:
                alerts = score(bundle, config, engine="dask", client=client, partitions=partitions)
            finally:
                stop.set()
                thread.join()
            score_s = time.perf_counter() - t1
        ids = "\x1f".join(alerts.column("alert_id").to_pylist()).encode()
        rows.append({
            "workers": int(n),
            "partitions": partitions if partitions is not None else default_partitions(bundle.transactions.num_rows),
            "start_s": round(start_s, 3), "score_s": round(score_s, 3),
            "alerts": alerts.num_rows, "failures": len(failures_of(alerts)),
            "peak_workers_rss_mb": round(peak["sum"] / 2**20, 1), "peak_worker_rss_mb": round(peak["max"] / 2**20, 1),
            "peak_driver_rss_mb": round(peak["driver"] / 2**20, 1),
            "alert_ids_sha": hashlib.blake2b(ids, digest_size=8).hexdigest(),
        })  # fmt: skip
    return rows
