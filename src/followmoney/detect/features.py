"""Point-in-time behavioural and graph-pattern features of transactions and accounts.

Two entry points, both vectorised over the whole transaction table (sorting, binary
search and cumulative sums; no Python loop over rows or accounts):

* :func:`transaction_features`: one row per transaction, the state of its sender
  (``src_``) and receiver (``dst_``) accounts *just before* it, the graph patterns it
  closes, and its own attributes. This is the input of the scorers in
  :mod:`followmoney.detect.models`.
* :func:`account_features`: one row per account and calendar window (e.g. each 7
  days), the account's behaviour in that window.

Every feature is listed with its definition and unit in :data:`FEATURES`
(:func:`feature_definitions` gives them as a table).

Point in time
-------------
Transactions are put in the stream order of the whole project: by (``timestamp``,
``txn_id``). A transaction's features use only the transactions before it in that
order (its *history*) and the transaction itself; "prior" below means "earlier in
stream order". Appending later transactions never changes the features of earlier
ones, so a model can be trained on the rows of one period and evaluated on a later
one without leakage (``shared/cases/scoring.md`` BR-24). The windowed features use
the history within the trailing window ``(t - W, t]`` of the transaction's time
``t``. (Snap ML's ``GraphFeaturePreprocessor`` inserts a whole batch before computing
its features, so a transaction's features there can use later transactions of the
same batch; it is point in time only when fed one transaction per call.)

Counting conventions (pinned by tests, ``shared/cases/scoring.md`` BR-25)
--------------------------------------------------------------------------
* Rows repeating a ``txn_id`` are one transaction (the first row is kept).
* *Counts* (``*_count``) count transactions: parallel transactions between the same
  two accounts count once each.
* *Fans* (``*_fan``, ``counterparties``) count distinct counterparty accounts.
* *Amounts* are sums in the currency of the transaction being described (account
  features: one column per currency); different currencies are never added.
* The account of each side is ``from_account`` / ``to_account``, else the party
  (``from_party`` / ``to_party``); a side with neither (cash) has no account, and
  its account features are missing (NaN).

Graph patterns, in the style of IBM's Graph Feature Preprocessor [1]_ but point in time
-----------------------------------------------------------------------------------------
Multi-hop patterns are found by grouping on the middle account within the pattern
window (never by a self-join of the table): for each transaction ``m -> d`` at rank
``r``, the incoming transactions of ``m`` earlier in the window are one contiguous
range of an array sorted by (account, rank). At most ``max_branch`` of them (the
most recent) are taken per transaction, which bounds the work on hub accounts.

* **Fan-in / fan-out**: ``dst_in_fan`` and ``src_out_fan``.
* **Scatter-gather** (source ``s`` -> intermediaries ``m_i`` -> sink ``d``):
  ``scatter_gather`` of a transaction ``m -> d`` is the largest number of distinct
  intermediaries between the same ``s`` and ``d`` among the two-hop paths
  ``s -> m_i -> d`` (time-respecting, each within the pattern window) that this
  transaction closes, counting those closed in the window up to and including it.
* **Gather-scatter** (sources -> hub -> sinks): ``gather_scatter`` of ``u -> v`` is
  ``min(src_in_fan, distinct receivers of u in the window including v)``.
* **Temporal cycles** of length 2 to ``max_cycle_length``: sequences of transactions
  ``a1 -> a2 -> ... -> aL -> a1`` with strictly increasing stream rank, all within the
  pattern window of the first, through distinct accounts; counted on the transaction
  that closes them (``cycles_<L>``).
* **Participation** (``*_sg_part``, ``*_cycle_part``): how many scatter-gather
  patterns of two or more intermediaries, and how many cycles, the account took part
  in (any role) that were closed in the window before the transaction.
* **Neighbourhood aggregates** (``*_in_nbr_out_fan``, ``*_out_nbr_in_fan``): the mean,
  over the account's incoming (outgoing) transactions in the window, of the sender's
  fan-out (receiver's fan-in) at the time of that transaction.

References
----------
.. [1] J. Blanuša, M. Cravero Baraja, A. Anghel, L. von Niederhäusern, E. Altman,
   H. Pozidis, K. Atasu, "Graph Feature Preprocessor: Real-time Subgraph-based
   Feature Extraction for Financial Crime Detection", ICAIF 2024,
   arXiv:2402.08593.
.. [2] E. Altman et al., "Realistic Synthetic Financial Transactions for
   Anti-Money Laundering Models", NeurIPS 2023 Datasets and Benchmarks,
   arXiv:2306.16424.
.. [3] K.-I. Goh, A.-L. Barabási, "Burstiness and memory in complex systems",
   EPL 81 (2008) 48002 (the burstiness coefficient).

Examples
--------
>>> import followmoney as fm
>>> bundle = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
>>> X = transaction_features(bundle)
>>> X.shape[0] == bundle.transactions.num_rows, X.index.name
(True, 'txn_id')
>>> set(X.columns) == set(transaction_feature_names())
True
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from followmoney.core._timeline import KeyedRanks, distinct_in_window, expand, search, window_end, window_start
from followmoney.core.settings import Settings, setting
from followmoney.core.units import MONEY_SCALE
from followmoney.exceptions import ConfigError

__all__ = [
    "FEATURES",
    "FeatureDef",
    "FeatureSettings",
    "account_features",
    "feature_definitions",
    "stream_frame",
    "transaction_feature_names",
    "transaction_features",
]

log = logging.getLogger("followmoney")

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class FeatureSettings(Settings):
    """Parameters of the feature pipeline; saved with every trained model.

    A :class:`~followmoney.core.settings.Settings`: the ranges below are declared on the
    fields, and it round-trips through :meth:`to_dict` / :meth:`from_dict` (the form a
    model file keeps) and :meth:`to_toml` / :meth:`from_toml`.

    Parameters
    ----------
    window_hours : float
        Trailing window ``W`` of the account statistics, fans and neighbourhood
        aggregates, in hours (> 0). Default 10 days.
    short_window_hours : float
        Window of ``*_count_short`` (velocity), in hours (> 0).
    pattern_window_hours : float
        Window of the multi-hop patterns (scatter-gather, cycles, participation),
        in hours (> 0). Default 20 days.
    max_cycle_length : int
        Longest temporal cycle counted, in transactions (2..8).
    max_branch : int
        Most recent incoming transactions followed per transaction when building
        two-hop paths, and earliest outgoing transactions followed per path when
        extending paths to cycles (1..1024): bounds the work on hub accounts.
    max_paths : int
        Most paths of one length kept while searching cycles (1000..10**9); beyond it
        the longer cycles are not searched (a warning is logged with counts only).
    night_hours : tuple of int
        Local clock hours ``[start, end)`` counted as night-time (0..24).
    round_unit : str or Decimal or int
        An amount is *round* when it is a whole multiple of this many currency
        units (> 0); kept as its decimal text (``Decimal("100")`` becomes ``"100"``).
    cash_channels : tuple of str
        Channels counted as cash.

    Raises
    ------
    ConfigError
        (a :class:`ValueError`) naming the parameter, the value and the accepted range
        when a value is out of range, or an unknown key.

    Examples
    --------
    >>> s = FeatureSettings(window_hours=72)
    >>> FeatureSettings.from_dict(s.to_dict()) == s
    True
    >>> FeatureSettings(max_cycle_length=1)
    Traceback (most recent call last):
    ...
    followmoney.exceptions.ConfigError: FeatureSettings.max_cycle_length must be an int in [2, 8], got 1
    """

    window_hours: float = setting(240.0, gt=0)
    short_window_hours: float = setting(24.0, gt=0)
    pattern_window_hours: float = setting(480.0, gt=0)
    max_cycle_length: int = setting(5, ge=2, le=8)
    max_branch: int = setting(16, ge=1, le=1024)
    max_paths: int = setting(5_000_000, ge=1000, le=10**9)
    night_hours: tuple[int, int] = setting((0, 6), items=dict(ge=0, le=24))
    round_unit: str | Decimal | int = setting("100")
    cash_channels: tuple[str, ...] = setting(("cash_deposit", "cash_withdrawal", "atm"))

    def _validate(self) -> None:
        try:
            unit = Decimal(str(self.round_unit).strip())
        except ArithmeticError:
            unit = Decimal(-1)
        if not (unit.is_finite() and unit > 0):
            raise ConfigError(f"FeatureSettings.round_unit must be a decimal string > 0, got {self.round_unit!r}")
        object.__setattr__(self, "round_unit", str(self.round_unit).strip())

    @property
    def _w(self) -> int:
        return int(round(self.window_hours * _HOUR_US))

    @property
    def _w_short(self) -> int:
        return int(round(self.short_window_hours * _HOUR_US))

    @property
    def _w_pattern(self) -> int:
        return int(round(self.pattern_window_hours * _HOUR_US))

    @property
    def _round_cents(self) -> int:
        return int(Decimal(self.round_unit) * MONEY_SCALE)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class FeatureDef:
    """One feature: its name, level (``transaction`` or ``account``), definition and unit."""

    name: str
    level: str
    definition: str
    unit: str


_SIDE = {
    "in_count": ("incoming transactions of the account in the window before this one", "transactions"),
    "out_count": ("outgoing transactions of the account in the window before this one", "transactions"),
    "in_fan": ("distinct senders to the account in the window before this one (fan-in)", "accounts"),
    "out_fan": ("distinct receivers from the account in the window before this one (fan-out)", "accounts"),
    "in_amount": ("sum received by the account in the window before this one, in this transaction's currency", "currency units"),
    "out_amount": ("sum sent by the account in the window before this one, in this transaction's currency", "currency units"),
    "pass_through": (
        "pass-through ratio: amount sent / amount received in the window, this transaction included "
        "(src: sent includes it; dst: received includes it); NaN when nothing was received",
        "ratio",
    ),
    "hours_since_in": ("dwell time: hours since the account's previous incoming transaction (any time before); NaN if none", "hours"),
    "hours_since_out": ("hours since the account's previous outgoing transaction (any time before); NaN if none", "hours"),
    "count_short": ("velocity: the account's transactions (in and out) in the short window before this one", "transactions"),
    "cash_share": ("share of the account's transactions in the window that are cash (cash_channels); NaN if none", "fraction 0-1"),
    "round_share": ("share of the account's transactions in the window with a round amount (round_unit); NaN if none", "fraction 0-1"),
    "night_share": ("share of the account's transactions in the window at night (night_hours, local clock); NaN if none", "fraction 0-1"),
    "burstiness": (
        "burstiness (sigma - mu) / (sigma + mu) of the gaps between the account's transactions ending in the window, "
        "each capped at the window; -1 regular, 0 random, 1 bursty; NaN with fewer than two gaps",
        "coefficient -1..1",
    ),
    "in_nbr_out_fan": ("mean fan-out of the senders of the account's incoming transactions in the window, at their time; NaN if none", "accounts"),
    "out_nbr_in_fan": ("mean fan-in of the receivers of the account's outgoing transactions in the window, at their time; NaN if none", "accounts"),
    "sg_part": ("scatter-gather patterns (2+ intermediaries) the account took part in, closed in the pattern window before this one", "patterns"),
    "cycle_part": ("temporal cycles the account took part in, closed in the pattern window before this one", "cycles"),
}

_TXN = {
    "amount": ("amount of the transaction", "currency units"),
    "is_round": ("1 if the amount is a whole multiple of round_unit, else 0", "flag"),
    "is_cash": ("1 if the channel is a cash channel, else 0", "flag"),
    "is_night": ("1 if the local clock hour is in night_hours, else 0", "flag"),
    "pair_count": ("earlier transactions from the same sender to the same receiver in the window (parallel edges)", "transactions"),
    "pair_hours_since": ("hours since the previous transaction from the same sender to the same receiver; NaN if none", "hours"),
    "scatter_gather": ("scatter-gather width: most distinct intermediaries between one source and this receiver on two-hop paths this transaction closes (see module notes); 0 if none", "accounts"),
    "gather_scatter": ("gather-scatter width of the sender: min(src_in_fan, distinct receivers of the sender in the window including this one)", "accounts"),
    "cycles_2": ("temporal cycles of length 2 this transaction closes: earlier transactions back from the receiver to the sender in the pattern window", "cycles"),
}


def _catalogue(max_cycle_length: int = 8) -> dict[str, FeatureDef]:
    out = {}
    for name, (d, u) in _TXN.items():
        out[name] = FeatureDef(name, "transaction", d, u)
    for k in range(3, max_cycle_length + 1):
        out[f"cycles_{k}"] = FeatureDef(f"cycles_{k}", "transaction", f"temporal cycles of length {k} this transaction closes", "cycles")
    for side, who in (("src", "sender"), ("dst", "receiver")):
        for name, (d, u) in _SIDE.items():
            out[f"{side}_{name}"] = FeatureDef(f"{side}_{name}", "transaction", f"{who} account: {d}", u)
    for name, (d, u) in _ACCOUNT.items():
        out[f"account.{name}"] = FeatureDef(name, "account", d, u)
    return out


_ACCOUNT = {
    "in_count": ("incoming transactions in the calendar window", "transactions"),
    "out_count": ("outgoing transactions in the calendar window", "transactions"),
    "in_counterparties": ("distinct senders in the window", "accounts"),
    "out_counterparties": ("distinct receivers in the window", "accounts"),
    "in_amount_<CUR>": ("sum received in the window in currency <CUR> (one column per currency)", "currency units"),
    "out_amount_<CUR>": ("sum sent in the window in currency <CUR> (one column per currency)", "currency units"),
    "pass_through": ("amount sent / amount received in the window, in the account's main currency (most transactions); NaN if nothing received", "ratio"),
    "dwell_hours": ("mean hours from the account's latest incoming transaction to each outgoing one in the window; NaN if none", "hours"),
    "velocity": ("transactions (in and out) per day of the window", "transactions per day"),
    "cash_share": ("share of the window's transactions that are cash", "fraction 0-1"),
    "round_share": ("share of the window's transactions with round amounts", "fraction 0-1"),
    "night_share": ("share of the window's transactions at night", "fraction 0-1"),
    "burstiness": ("burstiness (sigma - mu) / (sigma + mu) of the gaps between the window's transactions; NaN with fewer than two gaps", "coefficient -1..1"),
    "max_in_fan": ("largest fan-in (distinct senders in the trailing feature window) reached in the window", "accounts"),
    "max_out_fan": ("largest fan-out reached in the window", "accounts"),
    "sg_participation": ("scatter-gather patterns (2+ intermediaries) closed in the window that the account is part of", "patterns"),
    "cycle_participation": ("temporal cycles closed in the window that the account is part of", "cycles"),
    "nbr_mean_velocity": ("mean velocity of the account's counterparties in the same window", "transactions per day"),
}

#: Every feature: ``name -> FeatureDef`` (transaction features by name, account
#: features as ``"account.<name>"``).
FEATURES: dict[str, FeatureDef] = _catalogue()


def feature_definitions(level: str | None = None) -> pd.DataFrame:
    """The feature catalogue as a table.

    Parameters
    ----------
    level : {"transaction", "account"}, optional
        Only features of this level.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, level, definition, unit``.

    Raises
    ------
    ValueError
        On an unknown level.

    Examples
    --------
    >>> d = feature_definitions("transaction").set_index("name")
    >>> d.loc["src_out_fan", "unit"]
    'accounts'
    """
    if level not in (None, "transaction", "account"):
        raise ValueError(f"level must be 'transaction', 'account' or None, got {level!r}")
    rows = [asdict(f) for f in FEATURES.values() if level is None or f.level == level]
    return pd.DataFrame(rows, columns=["name", "level", "definition", "unit"])


def transaction_feature_names(settings: FeatureSettings | None = None) -> list[str]:
    """Column names of :func:`transaction_features` for ``settings``, in order."""
    s = settings or FeatureSettings()
    names = list(_TXN) + [f"cycles_{k}" for k in range(3, s.max_cycle_length + 1)]
    return names + [f"{side}_{n}" for side in ("src", "dst") for n in _SIDE]


# --------------------------------------------------------------------------- stream


def stream_frame(transactions, timezone: str = "UTC") -> pd.DataFrame:
    """The transactions in stream order, one row per ``txn_id``.

    Parameters
    ----------
    transactions : pyarrow.Table, Bundle or pandas.DataFrame
        Canonical ``transactions`` (or a bundle holding them), or a frame already made
        by :func:`followmoney.detect.score.prepare_transactions`.
    timezone : str, default "UTC"
        IANA zone of the local clock where the source states no UTC offset.

    Returns
    -------
    pandas.DataFrame
        :func:`followmoney.detect.score.prepare_transactions` output with repeated
        ``txn_id`` rows dropped (the first kept), sorted by (``t``, ``txn_id``),
        index 0..n-1.
    """
    from followmoney.core.frame import prepare_transactions

    if isinstance(transactions, pd.DataFrame):
        frame = transactions
        t = frame["t"].to_numpy()
        ids = frame["txn_id"].to_numpy()
        tie = t[1:] == t[:-1]
        ordered = bool((t[1:] >= t[:-1]).all() and (ids[1:][tie] >= ids[:-1][tie]).all())
        if not ordered:
            frame = frame.sort_values(["t", "txn_id"], kind="stable")
    else:
        table = getattr(transactions, "transactions", transactions)
        if not isinstance(table, pa.Table):
            raise TypeError(f"transactions must be a pyarrow.Table, a Bundle or a prepared DataFrame, got {type(table).__name__}")
        frame = prepare_transactions(table, timezone)
    frame = frame[~frame["txn_id"].duplicated(keep="first")]
    return frame.reset_index(drop=True)


class _Stream:
    """Arrays of the stream and the window bounds, shared by the feature blocks."""

    def __init__(self, frame: pd.DataFrame, s: FeatureSettings):
        n = self.n = len(frame)
        self.t = frame["t"].to_numpy(np.int64)
        codes, uniques = pd.factorize(pd.concat([frame["sender"], frame["receiver"]], ignore_index=True), sort=True)
        self.src = codes[:n].astype(np.int64)
        self.dst = codes[n:].astype(np.int64)
        self.accounts = pd.Index(uniques)
        self.n_acc = len(uniques)
        self.ccy, _ = pd.factorize(frame["currency"].fillna(""), sort=True)
        self.ccy = self.ccy.astype(np.int64)
        cents = frame["amount_cents"]
        self.valid_amt = cents.notna().to_numpy()
        self.cents = cents.fillna(0).to_numpy(np.int64)
        self.is_round = (self.valid_amt & (self.cents > 0) & (self.cents % s._round_cents == 0)).astype(np.int64)
        self.is_cash = frame["channel"].isin(list(s.cash_channels)).to_numpy().astype(np.int64)
        h0, h1 = s.night_hours
        hour = frame["local_hour"].to_numpy()
        night = (hour >= h0) & (hour < h1) if h0 <= h1 else (hour >= h0) | (hour < h1)
        if "has_time" in frame:  # a date without a time is not night-time (unknown: 0)
            night &= frame["has_time"].to_numpy(bool)
        self.is_night = night.astype(np.int64)
        self.rank = np.arange(n, dtype=np.int64)
        self.lo = self.window_start(s._w)
        self.lo_short = self.window_start(s._w_short)
        self.lo_pat = self.window_start(s._w_pattern)

    def window_start(self, w: int) -> np.ndarray:
        """Per rank q, the first rank whose time is > t_q - w."""
        return window_start(self.t, w)

    window_end = staticmethod(window_end)


# --------------------------------------------------------------------------- transaction features


def transaction_features(
    transactions,
    settings: FeatureSettings | None = None,
    *,
    timezone: str = "UTC",
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every transaction (see the module notes and :data:`FEATURES`).

    Parameters
    ----------
    transactions : pyarrow.Table, Bundle or pandas.DataFrame
        Canonical ``transactions`` (``txn_id, timestamp, amount, currency,
        from_account, to_account, from_party, to_party, channel, quality_flags,
        source_ref``; ``amount`` decimal128(18,3) in ``currency``), a bundle, or the
        output of :func:`stream_frame`. Rows without a timestamp are left out.
    settings : FeatureSettings, optional
        Windows and limits; default ``FeatureSettings()``.
    timezone : str, default "UTC"
        IANA zone of the local clock (night-time) where the source states no offset.
    n_jobs : int, optional
        Threads: 1, or 2 to run independent blocks side by side (NumPy releases the
        GIL in its sorts and searches). Default: 2 where the machine has 2 or more
        CPUs. The results do not depend on it.

    Returns
    -------
    pandas.DataFrame of shape (n_transactions, n_features)
        Index ``txn_id`` in stream order (``timestamp``, ``txn_id``); float64
        columns :func:`transaction_feature_names` (NaN where a value is undefined,
        e.g. the account side of cash).

    Notes
    -----
    Cost: O(n log n) for the account statistics; the pattern search is O(P log P)
    in the number P of two-hop paths and path extensions, which ``max_branch`` and
    ``max_paths`` bound.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from decimal import Decimal
    >>> from datetime import datetime, timezone
    >>> from followmoney import schema
    >>> rows = [("e1", "S1", "X", 1), ("e2", "S2", "X", 2), ("e3", "X", "S1", 3)]
    >>> tx = schema.conform({
    ...     "txn_id": [r[0] for r in rows], "source": ["doc"] * 3, "source_ref": ["doc"] * 3,
    ...     "from_account": [r[1] for r in rows], "to_account": [r[2] for r in rows],
    ...     "timestamp": [datetime(2024, 1, r[3], tzinfo=timezone.utc) for r in rows],
    ...     "amount": [Decimal("900.00")] * 3, "currency": ["EUR"] * 3}, "transactions")
    >>> X = transaction_features(tx)
    >>> X["dst_in_fan"].tolist(), X["cycles_2"].tolist(), X["src_pass_through"].tolist()[2]
    ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0], 0.5)
    """
    s = settings or FeatureSettings()
    frame = stream_frame(transactions, timezone)
    st = _Stream(frame, s)
    out: dict[str, np.ndarray] = {}
    n = st.n
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in transaction_feature_names(s)}, index=pd.Index([], name="txn_id"))
    out["amount"] = np.where(st.valid_amt, st.cents / MONEY_SCALE, np.nan)
    out["is_round"] = st.is_round.astype(float)
    out["is_cash"] = st.is_cash.astype(float)
    out["is_night"] = st.is_night.astype(float)
    out.update(_compute(st, s, n_jobs))
    cols = transaction_feature_names(s)
    X = pd.DataFrame({c: np.asarray(out[c], dtype=float) for c in cols}, index=pd.Index(frame["txn_id"].to_numpy(), name="txn_id"))
    return X


def _events(st: _Stream):
    """Account events: each transaction is an ``out`` event of its sender and an ``in``
    event of its receiver. Returns a dict of arrays (rows with no account dropped)."""
    n = st.n
    acct = np.r_[st.src, st.dst]
    cp = np.r_[st.dst, st.src]
    direction = np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)]  # 0 out, 1 in
    rank = np.r_[st.rank, st.rank]
    keep = acct >= 0
    return {"acct": acct[keep], "cp": cp[keep], "dir": direction[keep], "rank": rank[keep], "keep": keep}


class _Serial:
    """A one-thread stand-in for ThreadPoolExecutor: runs each task when submitted."""

    def submit(self, fn, *args):
        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, wait: bool = True) -> None:
        pass


def _compute(st: _Stream, s: FeatureSettings, n_jobs: int | None) -> dict:
    """Every transaction feature, plus internals reused by :func:`account_features`.

    Independent blocks run on two threads when ``n_jobs`` allows (NumPy's sorts and
    binary searches release the GIL); results do not depend on the thread count.
    """
    jobs = min(os.cpu_count() or 1, 2) if n_jobs is None else max(1, min(int(n_jobs), 2))
    ex = ThreadPoolExecutor(max_workers=jobs) if jobs > 1 else _Serial()
    try:
        ev = _events(st)
        keys = {"src": st.src, "dst": st.dst}
        perms = {side: np.argsort(k, kind="stable") for side, k in keys.items()}  # queries in (key, q) order
        fut_pat = ex.submit(_pairs_and_paths, st, s)
        fans = _fans(st, ev, keys, perms)
        K, KD, A, n_ccy = _account_structs(st, s, ev, fans)
        fut_src = ex.submit(_side_queries, st, "src", keys, perms, K, KD, A, n_ccy)
        out = dict(fans)
        out.update(_side_queries(st, "dst", keys, perms, K, KD, A, n_ccy))
        out.update(fut_src.result())
        pat = fut_pat.result()
    finally:
        ex.shutdown(wait=True)
    out.update(pat["txn"])
    # gather-scatter: min(distinct senders before, distinct receivers including this one)
    out_fan_incl = out["src_out_fan"] + (pat["pair_ok"] & (pat["pair_count_raw"] == 0))
    out["gather_scatter"] = np.where(np.isnan(out["src_in_fan"]), np.nan, np.minimum(out["src_in_fan"], out_fan_incl))
    out["_src_out_fan_incl"] = out_fan_incl
    # length-2 cycles take part too (both accounts)
    two = np.nan_to_num(out["cycles_2"]).astype(np.int64)
    cyc_events = pat["cyc_events"]
    if two.any():
        rr = np.repeat(st.rank, two)
        cyc_events = cyc_events + [(st.src[rr], rr), (st.dst[rr], rr)]
    out.update(_participation(st, {"sg_part": pat["sg_events"], "cycle_part": cyc_events}, perms))
    return out


def _fans(st: _Stream, ev: dict, keys: dict, perms: dict) -> dict[str, np.ndarray]:
    """Distinct counterparties per (account, direction) in [lo, q)."""
    n, q = st.n, st.rank
    acct, cp, d, r = ev["acct"], ev["cp"], ev["dir"], ev["rank"]
    end_of = _Stream.window_end(st.lo, np.arange(n + 1))
    m = cp >= 0
    names = [(side, dcode, dname) for side in ("src", "dst") for dcode, dname in ((1, "in"), (0, "out"))]
    fans = distinct_in_window(acct[m] * 2 + d[m], cp[m], r[m], end_of, n,
                     [(np.where(keys[side] < 0, -1, keys[side] * 2 + dcode), q, perms[side]) for side, dcode, _ in names])  # fmt: skip
    return {f"{side}_{dname}_fan": np.where(keys[side] < 0, np.nan, f) for (side, _, dname), f in zip(names, fans)}


def _account_structs(st: _Stream, s: FeatureSettings, ev: dict, fans: dict):
    """Keyed sums over an account's events: counts, shares, gaps, neighbour fans; last
    event per direction; amounts per currency."""
    n = st.n
    acct, d, r = ev["acct"], ev["dir"], ev["rank"]
    # gaps between an account's consecutive events (any direction), capped at W, in hours
    order = np.argsort(acct * (n + 1) + r, kind="stable")
    a_s, r_s = acct[order], r[order]
    first = np.r_[True, a_s[1:] != a_s[:-1]]
    gap = np.empty(len(r), np.float64)
    gap[order] = np.where(first, 0, np.minimum(st.t[r_s] - st.t[np.r_[0, r_s[:-1]]], s._w)) / _HOUR_US
    has_gap = np.empty(len(r), np.float64)
    has_gap[order] = ~first
    # neighbour values: for an in event the sender's fan-out then, for an out event the receiver's fan-in
    both = np.r_[(st.src >= 0) & (st.dst >= 0), (st.src >= 0) & (st.dst >= 0)][ev["keep"]]
    nbr = np.where(d == 1, np.nan_to_num(fans["src_out_fan"])[r], np.nan_to_num(fans["dst_in_fan"])[r])
    in_nbr = (both & (d == 1)).astype(np.float64)
    out_nbr = (both & (d == 0)).astype(np.float64)
    vals = np.column_stack(
        [d, 1 - d, st.is_cash[r], st.is_round[r], st.is_night[r], has_gap, gap, gap * gap, in_nbr, in_nbr * nbr, out_nbr, out_nbr * nbr]
    ).astype(np.float64)
    K = KeyedRanks(acct, r, vals, n)
    KD = KeyedRanks(acct * 2 + d, r, None, n)
    n_ccy = int(st.ccy.max()) + 1
    amt = np.where(st.valid_amt[r], st.cents[r], 0)
    A = KeyedRanks(acct * n_ccy + st.ccy[r], r, np.column_stack([amt * d, amt * (1 - d)]), n)
    return K, KD, A, n_ccy


def _side_queries(st: _Stream, side: str, keys, perms, K, KD, A, n_ccy) -> dict[str, np.ndarray]:
    """The account statistics of one side (sender or receiver) of every transaction."""
    q = st.rank
    key, perm = keys[side], perms[side]
    no = key < 0
    out = {}
    hi = K.prefix(key, q, perm)
    c = K.cum[hi] - K.cum[K.prefix(key, st.lo, perm)]
    cs = K.cum[hi] - K.cum[K.prefix(key, st.lo_short, perm)]
    akey = np.where(no, -1, key * n_ccy + st.ccy)
    amts = A.sums(akey, st.lo, q, np.argsort(akey, kind="stable")) / MONEY_SCALE
    tot = c[:, 0] + c[:, 1]
    out[f"{side}_in_count"] = np.where(no, np.nan, c[:, 0])
    out[f"{side}_out_count"] = np.where(no, np.nan, c[:, 1])
    out[f"{side}_in_amount"] = np.where(no, np.nan, amts[:, 0])
    out[f"{side}_out_amount"] = np.where(no, np.nan, amts[:, 1])
    this = np.where(st.valid_amt, st.cents / MONEY_SCALE, 0.0)
    if side == "src":
        sent, received = amts[:, 1] + this, amts[:, 0]
    else:
        sent, received = amts[:, 1], amts[:, 0] + this
    with np.errstate(divide="ignore", invalid="ignore"):
        out[f"{side}_pass_through"] = np.where(no | (received <= 0), np.nan, sent / received)
    for dcode, name in ((1, "hours_since_in"), (0, "hours_since_out")):
        dk = np.where(no, -1, key * 2 + dcode)
        has, last = KD.last(dk, KD.prefix(dk, q, perm))
        out[f"{side}_{name}"] = np.where(has, (st.t - st.t[last]) / _HOUR_US, np.nan)
    out[f"{side}_count_short"] = np.where(no, np.nan, cs[:, 0] + cs[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, name in ((2, "cash_share"), (3, "round_share"), (4, "night_share")):
            out[f"{side}_{name}"] = np.where(no | (tot == 0), np.nan, c[:, j] / tot)
        mu = c[:, 6] / c[:, 5]
        sd = np.sqrt(np.maximum(c[:, 7] / c[:, 5] - mu * mu, 0.0))
        b = (sd - mu) / (sd + mu)
        out[f"{side}_burstiness"] = np.where(no | (c[:, 5] < 2) | ~np.isfinite(b), np.nan, b)
        out[f"{side}_in_nbr_out_fan"] = np.where(no | (c[:, 8] == 0), np.nan, c[:, 9] / c[:, 8])
        out[f"{side}_out_nbr_in_fan"] = np.where(no | (c[:, 10] == 0), np.nan, c[:, 11] / c[:, 10])
    return out


def _pairs_and_paths(st: _Stream, s: FeatureSettings) -> dict:
    """Pair features (parallel edges, cycles of length 2), scatter-gather and cycles 3..L."""
    n, q = st.n, st.rank
    txn = {}
    # --- pairs: same sender -> receiver (parallel edges), and back (cycles of length 2)
    pair_ok = (st.src >= 0) & (st.dst >= 0)
    pair_val = np.where(pair_ok, st.src * st.n_acc + st.dst, -1)
    uniq, pkey = np.unique(pair_val, return_inverse=True)
    pkey = np.where(pair_ok, pkey, -1).astype(np.int64)
    P = KeyedRanks(pkey[pair_ok], q[pair_ok], np.ones(int(pair_ok.sum()), np.int64), n)
    perm = np.argsort(pkey, kind="stable")
    hi = P.prefix(pkey, q, perm)
    pc = P.cum[hi, 0] - P.cum[P.prefix(pkey, st.lo, perm), 0]
    txn["pair_count"] = np.where(pair_ok, pc, np.nan)
    has, last = P.last(pkey, hi)
    txn["pair_hours_since"] = np.where(has, (st.t - st.t[last]) / _HOUR_US, np.nan)
    rev = np.where(pair_ok, st.dst * st.n_acc + st.src, -2)
    pos = np.minimum(np.searchsorted(uniq, rev), len(uniq) - 1)
    rkey = np.where(pair_ok & (uniq[pos] == rev), pos, -1)
    txn["cycles_2"] = np.where(pair_ok, P.sums(rkey, st.lo_pat, q, np.argsort(rkey, kind="stable"))[:, 0], np.nan)
    # --- graph of account-to-account transactions (no self-transfers)
    K = s.max_cycle_length
    edge_ok = pair_ok & (st.src != st.dst)
    er = st.rank[edge_ok]
    esrc, edst = st.src[edge_ok], st.dst[edge_ok]
    end_pat = _Stream.window_end(st.lo_pat, np.arange(n + 1))
    size = n + 1
    o = np.argsort(edst, kind="stable")  # er is increasing: this sorts by (account, rank)
    in_comp, in_rank = (edst * size + er)[o], er[o]
    o_out = np.argsort(esrc, kind="stable")
    out_comp, out_rank = (esrc * size + er)[o_out], er[o_out]
    # --- two-hop paths s -> m -> d closed by edge q = (m -> d): in-edges of m in [lo_pat[q], q),
    # grouped by the middle account (at most max_branch, the most recent)
    a = search(in_comp, esrc * size + st.lo_pat[er], perm=o_out)
    b = search(in_comp, esrc * size + er, perm=o_out)
    a = np.maximum(a, b - s.max_branch)
    owner, pos = expand(a, b)
    r2 = er[owner]
    r1 = in_rank[pos]
    s_ = st.src[r1]
    m2, d2 = esrc[owner], edst[owner]
    ok = (s_ != d2) & (s_ != m2)
    r1, r2, s_, m2, d2 = r1[ok], r2[ok], s_[ok], m2[ok], d2[ok]
    # scatter-gather width per (s, d): distinct m over paths closed in (t - Wp, t], inclusive
    sg = np.zeros(n)
    sg_events = []
    if len(r2):
        sd, _ = pd.factorize(pd.Series(s_ * st.n_acc + d2), sort=False)
        sd = sd.astype(np.int64)
        width = distinct_in_window(sd, m2, r2, end_pat, n, [(sd, r2, np.argsort(sd, kind="stable"))], inclusive=True)[0]
        np.maximum.at(sg, r2, width)
        big = width >= 2
        for who in (s_[big], m2[big], d2[big]):
            sg_events.append((who, r2[big]))
    txn["scatter_gather"] = np.where(edge_ok, sg, 0.0)
    # --- temporal cycles of length 3..K: grow time-respecting paths forward from the two-hop
    # paths; at each length, the cycles closed are the transactions end -> start after the
    # path's last one and within the window of its first (one pair lookup, no enumeration)
    cyc_counts = {k: np.zeros(n) for k in range(3, K + 1)}
    cyc_events = []
    if len(r1) and K >= 3:
        nodes = np.column_stack([s_, m2, d2])
        first, last = r1, r2
        length = 2
        while len(first):
            v = nodes[:, -1] * st.n_acc + nodes[:, 0]
            pos = np.minimum(np.searchsorted(uniq, v), len(uniq) - 1)
            ckey = np.where(uniq[pos] == v, pos, -1)
            perm = np.argsort(ckey, kind="stable")
            owner, at = expand(P.prefix(ckey, last + 1, perm), P.prefix(ckey, end_pat[first], perm))
            k = length + 1
            cr = P.rank[at]
            cyc_counts[k] += np.bincount(cr, minlength=n)
            for col in range(nodes.shape[1]):
                cyc_events.append((nodes[owner, col], cr))
            if k >= K:
                break
            # extend by the earliest max_branch out-transactions of the end account in the window
            end = nodes[:, -1]
            perm = np.argsort(end * size + last, kind="stable")
            a = search(out_comp, end * size + last + 1, perm=perm)
            b = np.minimum(search(out_comp, end * size + end_pat[first], perm=perm), a + s.max_branch)
            if int(np.maximum(b - a, 0).sum()) > s.max_paths:
                log.warning("features: more than max_paths=%d paths of length %d; cycles longer than %d not searched",
                            s.max_paths, k, length + 1)  # fmt: skip
                break
            owner, pos = expand(a, b)
            nxt_rank = out_rank[pos]
            nxt = st.dst[nxt_rank]
            nd = nodes[owner]
            fresh = ~(nd == nxt[:, None]).any(axis=1)  # through distinct accounts; closings were counted above
            nodes = np.column_stack([nd[fresh], nxt[fresh]])
            first, last = first[owner][fresh], nxt_rank[fresh]
            # exact prune: a cycle needs a later transaction into the start account within the window
            st_ = nodes[:, 0]
            perm = np.argsort(st_ * size + last, kind="stable")
            more = search(in_comp, st_ * size + end_pat[first], perm=perm) - search(in_comp, st_ * size + last + 1, perm=perm)
            keep = more > 0
            nodes, first, last = nodes[keep], first[keep], last[keep]
            length = k
    for k in range(3, K + 1):
        txn[f"cycles_{k}"] = np.where(edge_ok, cyc_counts[k], 0.0)
    return {"txn": txn, "sg_events": sg_events, "cyc_events": cyc_events, "pair_ok": pair_ok, "pair_count_raw": pc}


def _participation(st: _Stream, events: dict, perms: dict) -> dict:
    """Pattern events per account, counted over [lo_pat[q], q); keeps the events for account_features."""
    n = st.n
    cols = []
    flat = {}
    for name, evs in events.items():
        acc = np.concatenate([e[0] for e in evs]) if evs else np.zeros(0, np.int64)
        rk = np.concatenate([e[1] for e in evs]) if evs else np.zeros(0, np.int64)
        flat[name] = (acc, rk)
        cols.append((acc, rk, len(cols)))
    acc = np.concatenate([c[0] for c in cols])
    rk = np.concatenate([c[1] for c in cols])
    which = np.concatenate([np.full(len(c[0]), c[2]) for c in cols])
    P = KeyedRanks(acc, rk, np.column_stack([which == 0, which == 1]).astype(np.int64), n)
    part = {"_events": flat}
    for side, key in (("src", st.src), ("dst", st.dst)):
        v = P.sums(key, st.lo_pat, st.rank, perms[side])
        part[f"{side}_sg_part"] = np.where(key >= 0, v[:, 0], np.nan)
        part[f"{side}_cycle_part"] = np.where(key >= 0, v[:, 1], np.nan)
    return part


# --------------------------------------------------------------------------- account features


def account_features(
    transactions,
    settings: FeatureSettings | None = None,
    *,
    freq_days: float = 7.0,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Per-account behaviour in calendar windows (see ``account.*`` in :data:`FEATURES`).

    Parameters
    ----------
    transactions : pyarrow.Table, Bundle or pandas.DataFrame
        As for :func:`transaction_features`.
    settings : FeatureSettings, optional
        Night hours, round unit, cash channels, and the windows of the fan and
        pattern columns.
    freq_days : float, default 7.0
        Length of the calendar windows in days (> 0); windows start at multiples of
        it from 1970-01-01 UTC.
    timezone : str, default "UTC"
        IANA zone of the local clock (night-time).

    Returns
    -------
    pandas.DataFrame
        One row per (account, window) with any transaction: ``account_id``,
        ``window_start`` (timestamp, UTC), ``window_end`` (exclusive) and the account
        features; amounts as ``in_amount_<CUR>`` / ``out_amount_<CUR>`` (float
        currency units) per currency seen. Sorted by ``account_id, window_start``.

    Raises
    ------
    ValueError
        If ``freq_days`` is not > 0.

    Examples
    --------
    >>> import pyarrow as pa
    >>> from decimal import Decimal
    >>> from datetime import datetime, timezone
    >>> from followmoney import schema
    >>> rows = [("tx1", "A", "B", "100.00", 1), ("tx2", "A", "B", "100.00", 2), ("tx3", "A", "C", "50.00", 3),
    ...         ("tx3", "A", "C", "50.00", 3)]
    >>> tx = schema.conform({
    ...     "txn_id": [r[0] for r in rows], "source": ["doc"] * 4, "source_ref": ["doc"] * 4,
    ...     "from_account": [r[1] for r in rows], "to_account": [r[2] for r in rows],
    ...     "amount": [Decimal(r[3]) for r in rows], "currency": ["EUR"] * 4,
    ...     "timestamp": [datetime(2024, 1, r[4], tzinfo=timezone.utc) for r in rows]}, "transactions")
    >>> f = account_features(tx, freq_days=30).set_index("account_id")
    >>> f.loc["A", ["out_count", "out_counterparties", "out_amount_EUR"]].tolist()
    [3.0, 2.0, 250.0]
    >>> float(f.loc["B", "in_count"])
    2.0
    """
    if not (isinstance(freq_days, (int, float)) and not isinstance(freq_days, bool) and freq_days > 0):
        raise ValueError(f"freq_days must be a number of days > 0, got {freq_days!r}")
    s = settings or FeatureSettings()
    frame = stream_frame(transactions, timezone)
    st = _Stream(frame, s)
    n = st.n
    base_cols = ["account_id", "window_start", "window_end"]
    if n == 0:
        return pd.DataFrame(columns=base_cols + [k for k in _ACCOUNT if "<CUR>" not in k])
    width = int(round(freq_days * _DAY_US))
    side = _compute(st, s, None)
    bucket = st.t // width
    ev = _events(st)
    acct, cp, d, r = ev["acct"], ev["cp"], ev["dir"], ev["rank"]
    e = pd.DataFrame({"acct": acct, "cp": cp, "dir": d, "rank": r, "bucket": bucket[r]})
    e["t"] = st.t[r]
    e["cash"] = st.is_cash[r]
    e["round"] = st.is_round[r]
    e["night"] = st.is_night[r]
    e["amt"] = np.where(st.valid_amt[r], st.cents[r], 0)
    e["ccy"] = st.ccy[r]
    new_cp = side["pair_count"] == 0  # the counterparty is new in the window (NaN for cash: no counterparty)
    e["in_fan_now"] = np.where(d == 1, (side["dst_in_fan"] + new_cp)[r], np.nan)  # the fan reached with this one
    e["out_fan_now"] = np.where(d == 0, side["_src_out_fan_incl"][r], np.nan)
    grp = e.groupby(["acct", "bucket"], sort=True)
    res = grp.agg(
        in_count=("dir", "sum"),
        n=("dir", "size"),
        cash=("cash", "sum"),
        round_=("round", "sum"),
        night=("night", "sum"),
        max_in_fan=("in_fan_now", "max"),
        max_out_fan=("out_fan_now", "max"),
    )
    res["out_count"] = res["n"] - res["in_count"]
    cps = e[e.cp >= 0].drop_duplicates(["acct", "bucket", "dir", "cp"])
    res["in_counterparties"] = cps[cps.dir == 1].groupby(["acct", "bucket"]).size().reindex(res.index, fill_value=0)
    res["out_counterparties"] = cps[cps.dir == 0].groupby(["acct", "bucket"]).size().reindex(res.index, fill_value=0)
    # amounts per currency
    ccy_names = np.asarray(pd.factorize(frame["currency"].fillna(""), sort=True)[1], dtype=object)
    am = e.groupby(["acct", "bucket", "ccy", "dir"], sort=True)["amt"].sum().unstack("dir", fill_value=0)
    am = am.reindex(columns=[0, 1], fill_value=0)
    amount_cols = {}
    for c_code, c_name in enumerate(ccy_names):
        label = c_name or "unknown"
        sub = am.xs(c_code, level="ccy") if c_code in am.index.get_level_values("ccy") else None
        for dcode, dname in ((1, "in"), (0, "out")):
            col = f"{dname}_amount_{label}"
            amount_cols[col] = (sub[dcode] / MONEY_SCALE).reindex(res.index, fill_value=0.0) if sub is not None else 0.0
    # pass-through in the main currency (most transactions; ties: first code)
    cnt = e.groupby(["acct", "bucket", "ccy"]).size().rename("k").reset_index()
    cnt = cnt.sort_values(["acct", "bucket", "k", "ccy"], ascending=[True, True, False, True]).drop_duplicates(["acct", "bucket"])
    main = am.reset_index().merge(cnt[["acct", "bucket", "ccy"]], on=["acct", "bucket", "ccy"]).set_index(["acct", "bucket"])
    main = main.reindex(res.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        res["pass_through"] = np.where(main[1].to_numpy() > 0, main[0].to_numpy() / main[1].to_numpy(), np.nan)
    # dwell: for each out event, hours since the account's latest in event (any time before)
    outs = e[e.dir == 0][["acct", "rank", "bucket", "t"]].sort_values("rank")
    ins = e[e.dir == 1][["acct", "rank", "t"]].rename(columns={"t": "t_in", "rank": "rank_in"}).sort_values("rank_in")
    dw = pd.merge_asof(outs, ins, left_on="rank", right_on="rank_in", by="acct", allow_exact_matches=False)
    dw["dwell"] = (dw["t"] - dw["t_in"]) / _HOUR_US
    res["dwell_hours"] = dw.groupby(["acct", "bucket"])["dwell"].mean().reindex(res.index)
    res["velocity"] = res["n"] / freq_days
    tot = res["n"].to_numpy(float)
    res["cash_share"] = res["cash"] / tot
    res["round_share"] = res["round_"] / tot
    res["night_share"] = res["night"] / tot
    # burstiness of the gaps inside the window
    es = e.sort_values(["acct", "bucket", "rank"])
    same = (es["acct"].to_numpy()[1:] == es["acct"].to_numpy()[:-1]) & (es["bucket"].to_numpy()[1:] == es["bucket"].to_numpy()[:-1])
    gaps = pd.DataFrame({"acct": es["acct"].to_numpy()[1:][same], "bucket": es["bucket"].to_numpy()[1:][same],
                         "g": (es["t"].to_numpy()[1:] - es["t"].to_numpy()[:-1])[same] / _HOUR_US})  # fmt: skip
    gs = gaps.groupby(["acct", "bucket"])["g"].agg(["mean", "std", "size"])
    gs["std"] = gaps.groupby(["acct", "bucket"])["g"].std(ddof=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bval = (gs["std"] - gs["mean"]) / (gs["std"] + gs["mean"])
    bval[(gs["size"] < 2) | ~np.isfinite(bval)] = np.nan
    res["burstiness"] = bval.reindex(res.index)
    # pattern participation closed in the window, from the per-transaction pattern search
    for name, key in (("sg_participation", "sg_part"), ("cycle_participation", "cycle_part")):
        res[name] = 0.0
        acc, rk = side["_events"][key]
        if len(acc):
            pe = pd.DataFrame({"acct": acc, "bucket": bucket[rk]}).groupby(["acct", "bucket"]).size()
            res[name] = pe.reindex(res.index, fill_value=0).astype(float)
    # neighbourhood: mean velocity of counterparties in the same window
    vel = res["velocity"]
    nb = e[e.cp >= 0][["acct", "bucket", "cp"]].drop_duplicates()
    nb = nb.join(vel.rename("v"), on=["cp", "bucket"])
    res["nbr_mean_velocity"] = nb.groupby(["acct", "bucket"])["v"].mean().reindex(res.index)
    res = res.reset_index()
    outdf = pd.DataFrame(
        {
            "account_id": st.accounts[res["acct"].to_numpy()].to_numpy(),
            "window_start": pd.to_datetime(res["bucket"].to_numpy() * width, unit="us", utc=True),
            "window_end": pd.to_datetime((res["bucket"].to_numpy() + 1) * width, unit="us", utc=True),
        }
    )
    for c in ("in_count", "out_count", "in_counterparties", "out_counterparties"):
        outdf[c] = res[c].to_numpy(float)
    for c, v in amount_cols.items():
        outdf[c] = np.asarray(v, float) if not np.isscalar(v) else float(v)
    for c in ("pass_through", "dwell_hours", "velocity", "cash_share", "round_share", "night_share", "burstiness",
              "max_in_fan", "max_out_fan", "sg_participation", "cycle_participation", "nbr_mean_velocity"):  # fmt: skip
        outdf[c] = res[c].to_numpy(float)
    return outdf.sort_values(["account_id", "window_start"], kind="stable").reset_index(drop=True)

