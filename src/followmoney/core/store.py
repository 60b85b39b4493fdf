"""Read and write a :class:`~followmoney.Bundle` as a directory of Parquet files.

Layout: one ``<table>.parquet`` per canonical table plus ``manifest.json`` (format
version, followmoney version, row count per table). The Arrow schema, including each
column's ``doc`` metadata, is stored in the Parquet files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney._version import __version__

__all__ = ["write_bundle", "read_bundle", "STORE_VERSION"]

#: Version of the on-disk layout.
STORE_VERSION = 1


def write_bundle(bundle: Bundle, directory: str | Path) -> Path:
    """Write every table of ``bundle`` to ``directory`` (created if missing).

    Parameters
    ----------
    bundle : Bundle
    directory : str or Path

    Returns
    -------
    Path
        The directory.

    Examples
    --------
    >>> import tempfile, followmoney as fm
    >>> d = write_bundle(fm.Bundle(), tempfile.mkdtemp())
    >>> sorted(p.name for p in d.iterdir())[:3]
    ['account_aliases.parquet', 'accounts.parquet', 'goods.parquet']
    >>> read_bundle(d).summary() == fm.Bundle().summary()
    True
    """

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in schema.TABLES:
        table = getattr(bundle, name)
        pq.write_table(table, directory / f"{name}.parquet")
        counts[name] = table.num_rows
    manifest = {"store_version": STORE_VERSION, "followmoney_version": __version__, "rows": counts}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    return directory


def read_bundle(directory: str | Path) -> Bundle:
    """Read a bundle written by :func:`write_bundle`.

    Raises
    ------
    FileNotFoundError
        If ``directory`` has no ``manifest.json``.
    ValueError
        If the manifest's row counts do not match the Parquet files.
    """
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    tables = {}
    for name in schema.TABLES:
        f = directory / f"{name}.parquet"
        tables[name] = pq.read_table(f) if f.exists() else schema.empty(name)
        want = manifest["rows"].get(name, 0)
        if tables[name].num_rows != want:
            raise ValueError(f"{f}: {tables[name].num_rows} rows, manifest says {want}")
    return Bundle(**tables)
