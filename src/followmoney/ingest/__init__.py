"""Adapters from source formats to the canonical tables, and :func:`read`.

Each adapter module defines ``FORMAT`` (its name), ``sniff(path, head)`` (does this
file look like mine? ``head`` is the first 64 KiB) and ``read(path, **options)``
returning a :class:`~followmoney.Bundle` for that one file.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import inspect
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from followmoney.core import timing
from followmoney.core.progress import progress_bar
from followmoney.core.bundle import Bundle
from followmoney.ingest import amlsim, auth, bank_csv, camt, fincen, fm_package, goaml, ibm_aml, mt103, mt940, pacs008, pain001
from followmoney.ingest._collect import InputError


class InputWarning(UserWarning):
    """An input was skipped (e.g. a companion file given without its main file); the message names it."""


__all__ = ["read", "sniff", "ADAPTERS", "InputError", "InputWarning"]

#: The adapters, in sniffing order.
ADAPTERS = {m.FORMAT: m for m in (fm_package, goaml, fincen, auth, camt, pacs008, pain001, mt103, mt940, amlsim, ibm_aml, bank_csv)}

_HEAD_BYTES = 65536
_ISO_TYPE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3}\.\d{3}\.\d{2})")
#: File name suffixes taken from a directory given as input (READMEs, scripts are not data).
#: File name beginnings taken from a directory as documentation, not data (licence texts beside samples).
_NOT_DATA = ("LICENSE", "LICENCE", "README", "COPYING", "NOTICE")
DATA_SUFFIXES = {".xml", ".csv", ".txt", ".sta", ".940", ".mt940", ".fin", ".rje", ".dos", ".fmpkg"}


def _expand(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.iterdir()
                    if q.is_file()
                    and not q.name.startswith(".")
                    and q.suffix.lower() in DATA_SUFFIXES
                    and not q.name.upper().startswith(_NOT_DATA)
                )
            )
        elif any(ch in str(p) for ch in "*?["):
            out.extend(Path(q) for q in sorted(glob.glob(str(p))))
        else:
            out.append(p)
    return out


def _with_hashes(log, folder: Path):
    """Fill ``load_log.sha256`` for the files the adapter read (the file and its companions)."""
    names = log["source_file"].to_pylist()
    digests = {}
    for name in set(names):
        h = hashlib.sha256()
        with open(folder / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digests[name] = h.hexdigest()
    i = log.column_names.index("sha256")
    return log.set_column(i, "sha256", pa.array([digests[n] for n in names], pa.string()))


def sniff(path: str | os.PathLike) -> str:
    """Name the format of ``path`` by looking at its first bytes.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        A key of :data:`ADAPTERS`.

    Raises
    ------
    InputError
        If the file cannot be opened or no adapter recognises it.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from exc
    for name, mod in ADAPTERS.items():
        if mod.sniff(path, head):
            return name
    iso = _ISO_TYPE.search(head)
    if iso:
        raise InputError(
            f"{path}: unsupported ISO 20022 message type {iso.group(1).decode()}; followmoney reads camt.052/053/054, "
            "pacs.008, pain.001 and auth.001/002/003"
        )
    raise InputError(f"{path}: unrecognised format (tried {', '.join(ADAPTERS)}); name it with format=... (command line: --format)")


def _read_one(f: Path, fmt: str, options: dict):
    """``(bundle, None)`` for one file, or ``(None, InputError)`` (runs on a Dask worker too)."""
    try:
        b = ADAPTERS[fmt].read(f, **options)
    except InputError as exc:
        return None, exc
    b.load_log = _with_hashes(b.load_log, f.parent)
    return b, None


def _per_file(choice, f: Path):
    """The value of a per-file option for ``f``: a dict maps file-name patterns to values."""
    if isinstance(choice, dict):
        for pattern, value in choice.items():
            if fnmatch.fnmatch(f.name, pattern) or fnmatch.fnmatch(str(f), pattern):
                return value
        return None
    return choice


def _mapping_for(mapping, f: Path):
    """The bank CSV mapping profile for ``f``: by pattern, the only one given, or the first that fits."""
    choice = _per_file(mapping, f)
    if choice is None or isinstance(choice, str | os.PathLike):
        return choice
    choices = list(choice)
    if len(choices) == 1:
        return choices[0]
    try:
        with open(f, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return None
    for c in choices:
        if bank_csv.fits(bank_csv.load_profile(c), head):
            return c
    return None


def read(
    paths,
    format: str = "auto",
    *,
    mapping=None,
    profile=None,
    progress: bool | None = None,
    errors: list | None = None,
    client=None,
    **options,
) -> Bundle:
    """Read source files into one :class:`~followmoney.Bundle`.

    Parameters
    ----------
    paths : str, path-like, or iterable of them
        Files, directories (their data files — suffixes in :data:`DATA_SUFFIXES` —
        not recursive) or glob patterns.
        Companion files that an adapter reads itself (AMLSim ``accounts.csv`` and
        ``alert_accounts.csv`` beside ``transactions.csv``) are skipped as inputs.
    format : str, default "auto"
        ``"auto"`` sniffs each file; otherwise a key of :data:`ADAPTERS` used for all.
    mapping : str, path-like, list of them, or dict, optional
        Bank CSV mapping profile(s) (bundled name or TOML path), applied per file on
        mixed inputs: one profile for every bank CSV; a list (``--mapping`` repeated):
        for each CSV the first whose ``match`` headers fit (a single one is used as
        given); a dict of file-name pattern (``fnmatch``) -> profile. A CSV that no
        adapter recognises is read as a bank CSV when a mapping applies to it.
    profile : str, path-like or dict, optional
        goAML code-list profile (``"uae"``, ``"generic"`` or a TOML path) for every goAML
        report, or a dict of file-name pattern -> profile.
    progress : bool, optional
        Show a progress bar over files; default: only on a terminal.
    errors : list, optional
        Where to record files that cannot be read. By default (None) the first such
        file raises :class:`InputError`. Given a list, each unreadable file is appended
        as ``{"file": path, "error": message}`` (the message names the file and the
        place, never its content) and the other files are read; if none can be read,
        :class:`InputError` is raised all the same.
    client : distributed.Client, optional
        Read the files in parallel on this Dask cluster, one task per file (the Dask
        engine, ``followmoney[dask]``); the files must be readable from the workers.
        The bundles are joined here, in the order of the files, as without it.
    **options
        Adapter options (e.g. ``local_currency`` or ``profile`` for goAML). Each
        adapter receives the options its ``read`` accepts.

    Returns
    -------
    Bundle
        Reconciled: records read = rows written + merged + rejected per file and table.

    Raises
    ------
    InputError
        A file is missing, unreadable, of unknown format, or not well-formed; the
        message names the file (and the line or XPath where known). Also when the
        only inputs are companion files (AMLSim ``accounts.csv``, IBM AML
        ``*_accounts.csv``) whose transactions file is not beside them.

    Warns
    -----
    InputWarning
        A companion file given without its transactions file, among other inputs
        that are read.
    TypeError
        An option that no adapter in use accepts.

    Examples
    --------
    >>> import followmoney as fm
    >>> b = fm.read(fm.sample_data_path() / "goaml")
    >>> b.summary()["transactions"] > 0
    True
    """
    files = _expand(paths)
    if not files:
        raise InputError(f"no input files in {paths!r}")
    names = {}
    for f in files:
        if f.name in names and names[f.name] != f.resolve():
            raise InputError(f"two inputs share the file name {f.name!r} ({names[f.name]} and {f}); source references would be ambiguous")
        names[f.name] = f.resolve()
    if format != "auto" and format not in ADAPTERS:
        raise InputError(f"unknown format {format!r}; known: {', '.join(ADAPTERS)}")
    def failed(f: Path, exc: InputError) -> None:
        if errors is None:
            raise exc
        errors.append({"file": str(f), "error": str(exc)})

    plan = []
    orphans = []
    for f in files:
        try:
            if not f.is_file():
                raise InputError(f"{f}: no such file")
            try:
                fmt = format if format != "auto" else sniff(f)
            except InputError:
                if mapping is None or _mapping_for(mapping, f) is None:
                    raise
                fmt = "bank_csv"  # a CSV the user gave a mapping for
        except InputError as exc:
            failed(f, exc)
            continue
        if ADAPTERS[fmt].is_companion(f):
            needs = getattr(ADAPTERS[fmt], "companion_needs", lambda p: None)(f)
            if needs:
                orphans.append(f"{f}: {needs}")
            continue
        plan.append((f, fmt))
    if orphans and not plan:
        raise InputError(orphans[0])
    for message in orphans:
        warnings.warn(message, InputWarning, stacklevel=2)
    accepted = {fmt: set(inspect.signature(ADAPTERS[fmt].read).parameters) for fmt in {fmt for _, fmt in plan}}
    unknown = set(options) - set().union(*accepted.values()) if accepted else set(options)
    if unknown:
        raise TypeError(f"read(): option(s) {sorted(unknown)} not accepted by the adapters in use ({sorted(accepted)})")
    bundles = []
    jobs = []
    for f, fmt in plan:
        own = {k: v for k, v in options.items() if k in accepted[fmt]}
        if fmt == "bank_csv" and mapping is not None:
            own["mapping"] = _mapping_for(mapping, f)
        if fmt == "goaml" and profile is not None:
            own["profile"] = _per_file(profile, f)
        jobs.append((f, fmt, own))
    if client is not None:  # one task per file on the Dask cluster; the files must be readable there
        results = client.gather([client.submit(_read_one, *job, pure=False) for job in jobs])
    else:
        results = (_read_one(*job) for job in progress_bar(jobs, progress=progress, desc="reading", unit="file", leave=False))
    for (f, _, _), (b, exc) in zip(jobs, results):
        if exc is not None:
            failed(f, exc)
            continue
        bundles.append(b)
    if errors and not bundles:
        raise InputError(f"none of the {len(errors)} input file(s) could be read; first: {errors[0]['error']}")
    bundle = Bundle.concat(bundles)
    bundle.transactions = timing.annotate(bundle.transactions)
    bundle.reconcile()
    return bundle
