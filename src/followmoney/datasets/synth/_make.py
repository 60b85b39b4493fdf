"""The generator: :func:`make_transactions` checks its arguments, builds the world, injects, assembles."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from followmoney.core.bundle import Bundle
from followmoney.core.config import jurisdictions
from followmoney.datasets.synth import _labour, _laundering, _smuggling, _trafficking
from followmoney.datasets.synth._assembly import _assemble
from followmoney.datasets.synth._background import _background
from followmoney.datasets.synth._catalogue import TYPOLOGIES, resolve_typologies
from followmoney.datasets.synth._world import _World

_INJECT = {**_laundering.INJECTORS, **_trafficking.INJECTORS, **_labour.INJECTORS, **_smuggling.INJECTORS}
# foreign accounts a pattern takes (upper bound)
_FOREIGN_NEED = {**_laundering.FOREIGN_NEED, **_smuggling.FOREIGN_NEED}


def make_transactions(
    n_accounts: int = 2000,
    n_days: int = 90,
    *,
    typologies="all",
    n_per_typology: int = 5,
    jurisdiction: str = "US",
    start: str | date = "2024-01-01",
    random_state=None,
) -> tuple[Bundle, pa.Table]:
    """Generate a synthetic bank world with injected typologies and its ground truth.

    Parameters
    ----------
    n_accounts : int, default 2000
        Number of accounts (rows of ``accounts``): about 90 % persons, the rest
        employers, merchants, utilities, property managers, a benefits payer and
        accounts abroad. At least 200. Patterns may use at most half of the persons'
        accounts: all 28 typologies at 5 patterns each need about 1,300 accounts.
    n_days : int, default 90
        Length of the window in days, starting at ``start`` (local calendar days of
        the jurisdiction). At least 30, and at least the ``min_days`` of every
        requested typology (:data:`TYPOLOGIES`). Expect roughly
        ``n_accounts * n_days`` transactions (about 1.0-1.1 per account and day).
    typologies : "all" or sequence of str, default "all"
        Typologies to inject, by catalogue id (``"ML-05"``) or name (``"fan_in"``);
        ``[]`` for background only. ``"all"`` leaves out those whose ``min_days``
        exceed ``n_days`` (ML-14 needs 210 days, ML-18 130) and ML-17 where the
        jurisdiction has no secondary threshold (listed in the truth's ``skipped``
        metadata); naming one that does not fit raises.
    n_per_typology : int, default 5
        Patterns injected per typology.
    jurisdiction : str, default "US"
        Key of :func:`followmoney.core.config.jurisdictions`: the currency of every amount,
        the cash reporting threshold ``T`` that patterns are scaled to, and the time
        zone of local clock times.
    start : str or datetime.date, default "2024-01-01"
        First day of the window (ISO date).
    random_state : int, numpy.random.Generator or None, default None
        Seed for :func:`numpy.random.default_rng`. The same seed and arguments give an
        identical bundle and truth (ids included); ``None`` draws fresh entropy.

    Returns
    -------
    bundle : Bundle
        ``transactions`` (sorted by time; money ``decimal128(18, 3)`` in the
        jurisdiction's currency, built from integer cents; timestamps UTC with the
        jurisdiction's ``tz_offset_minutes``; channels from :data:`schema.CHANNELS`;
        ``merchant_category`` on card payments; ``country_from`` / ``country_to``;
        empty ``quality_flags``; the extra columns of :data:`EXTRA_COLUMNS`; benchmark
        labels ``is_laundering`` / ``typology`` / ``label_alert_id``), ``accounts``,
        ``parties`` (holders, plus persons without accounts: cash conductors and
        workers whose wages are paid into another account), ``party_accounts``,
        ``identifiers`` (phone, address, e-mail of persons), one ``DATASET`` report
        and a consistent ``load_log`` (:meth:`Bundle.reconcile` passes).
    truth : pyarrow.Table
        Schema :data:`TRUTH_SCHEMA`. Per injected pattern, one row per account or
        party of the pattern (``role``: ``subject``, ``controller``, ``victim``,
        ``member``, ``conductor``, or ``counterparty`` for innocent ordinary customers
        or merchants the pattern uses; ``is_subject`` marks those a rule for the
        typology should alert on; ``txn_id`` null), then one row per transaction of
        the pattern (``role = "transaction"``, ``account_id`` null, ``timestamp``).
        Its schema metadata holds ``n_accounts``, ``jurisdiction``, ``start`` and
        ``n_days`` (read by :func:`followmoney.evaluate.evaluate`).

    Raises
    ------
    ValueError
        On an unknown typology or jurisdiction, ``n_days`` shorter than a requested
        typology needs, or too few accounts for the requested patterns.

    See Also
    --------
    followmoney.evaluate.evaluate : recall, precision and F1 of alerts against ``truth``.

    Notes
    -----
    Generation is vectorised with NumPy (a million transactions in a few seconds).
    Amounts of background activity are drawn in USD and converted with a fixed,
    approximate rate into the jurisdiction's currency; pattern amounts are fractions
    of ``T`` or the source's own figure converted (AUD for AUSTRAC's HT-07/HT-08
    ranges, USD 3,000 for HS-01). Each account belongs to at most one pattern, except
    ordinary customers and merchants, which may be the ``counterparty`` of several.

    References
    ----------
    .. [1] ``shared/reference/indicators.md``: catalogue rows ML-01 ... HS-03 (sources
       and grades there): FinCEN FIN-2014-A008 and FIN-2020-A008, AUSTRAC/Fintel
       Alliance 2022, FINTRAC 2016-OA003, FATF-APG 2018, IBM AMLSim.

    Examples
    --------
    >>> b, truth = make_transactions(300, 60, typologies=["structuring"], n_per_typology=1, random_state=7)
    >>> subject = truth.filter(truth["is_subject"].fill_null(False))["account_id"][0].as_py()
    >>> import pyarrow.compute as pc
    >>> deposits = b.transactions.filter(pc.and_(pc.equal(b.transactions["to_account"], subject),
    ...                                            pc.equal(b.transactions["label_alert_id"], "ML-01#01")))
    >>> all(8500 <= float(a) < 10000 for a in deposits["amount"].to_pylist())
    True
    """
    if jurisdiction not in jurisdictions():
        raise ValueError(f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(sorted(jurisdictions()))}")
    if int(n_accounts) != n_accounts or n_accounts < 200:
        raise ValueError(f"n_accounts must be an integer >= 200, got {n_accounts!r}")
    if int(n_days) != n_days or n_days < 30:
        raise ValueError(f"n_days must be an integer >= 30, got {n_days!r}")
    if int(n_per_typology) != n_per_typology or n_per_typology < 0:
        raise ValueError(f"n_per_typology must be an integer >= 0, got {n_per_typology!r}")
    ids = resolve_typologies(typologies)
    short = [t for t in ids if TYPOLOGIES[t].min_days > n_days] if n_per_typology else []
    if short and not (typologies is None or typologies == "all"):
        need = ", ".join(f"{t} ({TYPOLOGIES[t].min_days})" for t in short)
        raise ValueError(f"n_days={n_days} is too short for typologies {need}; raise n_days or leave them out")
    if "ML-17" in ids and n_per_typology and jurisdictions()[jurisdiction].secondary_threshold is None:
        if not (typologies is None or typologies == "all"):
            raise ValueError(f"typology ML-17 needs a secondary threshold, which jurisdiction {jurisdiction} does not have")
        short.append("ML-17")
    ids = [t for t in ids if t not in short]
    start = date.fromisoformat(start) if isinstance(start, str) else start
    rng = np.random.default_rng(random_state)
    w = _World(int(n_accounts), int(n_days), jurisdiction, start, rng)
    w.skipped = short
    w.build_accounts(sum(_FOREIGN_NEED.get(t, 0) for t in ids) * n_per_typology)
    w.build_parties()
    for tid in ids:
        for _ in range(n_per_typology):
            _INJECT[tid](w, w.new_pattern(tid))
    _background(w)
    return _assemble(w)
