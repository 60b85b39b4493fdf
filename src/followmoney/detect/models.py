"""Anomaly and learned scorers over the point-in-time features, and their alerts.

Rules catch the typologies we know; criminals adapt. Two scorers rank transactions
over the features of :func:`followmoney.detect.features.transaction_features`:

* :class:`AnomalyScorer` (rule id ``AN-IF``): unsupervised, needs no labels. An
  IsolationForest by default; any estimator with ``fit`` and ``score_samples``
  plugs in.
* :class:`SupervisedScorer` (rule id ``AN-GBT``): learns from labelled past cases.
  A HistGradientBoostingClassifier by default, with class weighting for the rare
  positive class and the alert threshold chosen by F1 on a later, time-based
  validation period.

Both follow the scikit-learn estimator contract (``fit`` / ``score_samples`` /
``predict``, ``get_params`` / ``set_params``, declarative ``_parameter_constraints``)
with one deliberate difference from scikit-learn's outlier detectors: **higher
scores are more suspicious** (0..1) and ``predict`` returns 1 for an alert and 0
otherwise, for both scorers, so that either feeds the same alert table.

:func:`train_model` fits a scorer on a labelled bundle with a time-ordered
train / validation / test split and returns a :class:`TrainedModel` (scorer, feature
settings and names, training window, metrics) that :meth:`TrainedModel.save` writes
to one file; :func:`model_alerts` turns a saved model's scores into alerts in the
``alerts`` schema, rolled up per account like the rules' alerts, each explained by
the features that most raised its score and how far they sit from the account's
peer group.

Examples
--------
>>> import followmoney as fm
>>> from followmoney.detect.features import transaction_features
>>> bundle = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
>>> X = transaction_features(bundle)
>>> y = labels_for(bundle, X.index)
>>> train, val, test = time_split(len(X), (0.6, 0.2, 0.2))
>>> gbt = SupervisedScorer(random_state=0).fit(X.iloc[train], y[train], validation=(X.iloc[val], y[val]))
>>> 0 < gbt.threshold_ < 1, gbt.predict(X.iloc[test]).dtype.kind in "bi"
(True, True)
>>> iso = AnomalyScorer(random_state=0).fit(X.iloc[train])
>>> s = iso.score_samples(X.iloc[test])
>>> bool(((0 <= s) & (s <= 1)).all())
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.metrics import precision_recall_curve
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from followmoney.core.config import get_config
from followmoney.exceptions import ConfigError, InputError
from followmoney.detect._assembly import alerts_for, alerts_table, observed_in
from followmoney.detect._assembly import run_id as _run_id
from followmoney.detect.features import FeatureSettings, stream_frame, transaction_features

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(est, X, **kw):
        return est._validate_data(X, **kw)


__all__ = [
    "AnomalyScorer",
    "ModelDetector",
    "SupervisedScorer",
    "TrainedModel",
    "PEER_BANDS",
    "best_f1_threshold",
    "binary_report",
    "explain",
    "labels_for",
    "load_model",
    "model_alerts",
    "split_at",
    "time_split",
    "train_model",
]

log = logging.getLogger("followmoney")

#: Peer groups for explanations: bands of ``activity``, the number of transactions of
#: the two accounts in the window before the transaction (``src_in_count +
#: src_out_count + dst_in_count + dst_out_count``): (lower edge, name).
PEER_BANDS = ((0, "quiet"), (2, "light"), (6, "regular"), (21, "busy"))
_ACTIVITY = ("src_in_count", "src_out_count", "dst_in_count", "dst_out_count")
_MODEL_FORMAT = "followmoney-model"
_MODEL_VERSION = 2  # 2: zip of JSON header + skops scorer (1 was a pickle, no longer read)
_HEADER = "followmoney-model.json"
_SCORER = "scorer.skops"

#: Types a model file may name beyond skops' own safe defaults: followmoney's scorers and
#: the two scikit-learn tree structures inside them. Anything else is refused by :func:`load_model`.
TRUSTED_TYPES = (
    "followmoney.detect.models.AnomalyScorer",
    "followmoney.detect.models.SupervisedScorer",
    "followmoney.detect.models._PeerStats",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)


# --------------------------------------------------------------------------- splits and metrics


def time_split(times, fractions=(0.6, 0.2, 0.2)) -> tuple[np.ndarray, ...]:
    """Consecutive periods of a time-ordered sample, by share of rows.

    Parameters
    ----------
    times : int or array-like of shape (n_samples,)
        The number of rows when they are already in time order (as
        :func:`~followmoney.detect.features.transaction_features` returns them), or their
        times (any sortable type; ties keep their order).
    fractions : sequence of float, default (0.6, 0.2, 0.2)
        Share of rows in each period (each >= 0, summing to 1).

    Returns
    -------
    tuple of ndarray of int
        Row positions of each period, in time order; later periods only hold rows
        at or after the earlier ones.

    Raises
    ------
    ValueError
        If ``fractions`` are negative or do not sum to 1.

    Examples
    --------
    >>> [p.tolist() for p in time_split(5, (0.6, 0.4))]
    [[0, 1, 2], [3, 4]]
    >>> [p.tolist() for p in time_split([30, 10, 20, 40], (0.5, 0.5))]
    [[1, 2], [0, 3]]
    """
    f = np.asarray(fractions, dtype=float)
    if (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ConfigError(f"fractions must be >= 0 and sum to 1, got {tuple(fractions)}")
    if isinstance(times, (int, np.integer)):
        order = np.arange(int(times))
    else:
        order = np.argsort(np.asarray(times), kind="stable")
    n = len(order)
    cuts = np.r_[0, np.round(np.cumsum(f) * n).astype(int)]
    cuts[-1] = n
    return tuple(order[a:b] for a, b in zip(cuts[:-1], cuts[1:]))


def split_at(times, *boundaries) -> tuple[np.ndarray, ...]:
    """Row positions before the first boundary, between consecutive ones, and after the last.

    Parameters
    ----------
    times : array-like of shape (n_samples,)
    *boundaries
        Increasing cut-off times; a row at a boundary belongs to the later period.

    Returns
    -------
    tuple of ndarray of int
        ``len(boundaries) + 1`` arrays of positions, each in time order.

    Examples
    --------
    >>> [p.tolist() for p in split_at([1, 2, 3, 4, 5, 6, 7, 8], 6)]
    [[0, 1, 2, 3, 4], [5, 6, 7]]
    """
    t = np.asarray(times)
    order = np.argsort(t, kind="stable")
    ts = t[order]
    cuts = [0] + [int(np.searchsorted(ts, b, side="left")) for b in boundaries] + [len(t)]
    return tuple(order[a:b] for a, b in zip(cuts[:-1], cuts[1:]))


def best_f1_threshold(y_true, scores) -> tuple[float, float]:
    """The score threshold (alert when ``score >= threshold``) with the highest F1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels (True / 1 = laundering).
    scores : array-like of shape (n_samples,)
        Higher is more suspicious.

    Returns
    -------
    threshold : float
        Ties in F1 go to the higher threshold (fewer alerts). 0.5 when there is no
        positive label.
    f1 : float
        The F1 of the positive class at that threshold.

    Examples
    --------
    >>> best_f1_threshold([0, 0, 1, 1, 0], [0.1, 0.4, 0.8, 0.6, 0.7])
    (0.6, 0.8)
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    if not y.any():
        return 0.5, 0.0
    p, r, th = precision_recall_curve(y, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)[:-1]
    best = np.flatnonzero(f == f.max())[-1]
    return float(th[best]), round(float(f[best]), 6)


def binary_report(y_true, y_pred) -> dict:
    """Precision, recall and F1 of the positive (laundering) class.

    Examples
    --------
    >>> binary_report([1, 1, 0, 0], [1, 0, 1, 0])
    {'precision': 0.5, 'recall': 0.5, 'f1': 0.5, 'tp': 1, 'fp': 1, 'fn': 1, 'positives': 2, 'n': 4}
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 6), "recall": round(rec, 6), "f1": round(f1, 6), "tp": tp, "fp": fp, "fn": fn,
            "positives": int(y.sum()), "n": len(y)}  # fmt: skip


def labels_for(transactions, txn_ids) -> np.ndarray:
    """The ``is_laundering`` label of each ``txn_id`` (False where missing).

    Parameters
    ----------
    transactions : pyarrow.Table or Bundle
        Canonical transactions with the benchmark column ``is_laundering``.
    txn_ids : array-like of str
        E.g. the index of :func:`~followmoney.detect.features.transaction_features`.

    Returns
    -------
    ndarray of bool, shape (len(txn_ids),)

    Raises
    ------
    ValueError
        If the table has no ``is_laundering`` column.
    """
    table = getattr(transactions, "transactions", transactions)
    if "is_laundering" not in table.column_names:
        raise InputError("transactions have no is_laundering column: a supervised model needs labelled data")
    lab = table.select(["txn_id", "is_laundering"]).to_pandas().drop_duplicates("txn_id").set_index("txn_id")["is_laundering"]
    return lab.reindex(pd.Index(txn_ids)).fillna(False).to_numpy(bool)


# --------------------------------------------------------------------------- peer reference


class _PeerStats:
    """Per peer band and feature: median, robust scale and a 101-point quantile grid."""

    def __init__(self, X: pd.DataFrame):
        self.names = list(X.columns)
        band = _bands(X)
        self.bands = {}
        V = X.to_numpy(float)
        grid = np.linspace(0, 100, 101)
        for b, _ in enumerate(PEER_BANDS):
            rows = V[band == b] if (band == b).any() else V
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                q = np.nanpercentile(rows, grid, axis=0) if len(rows) else np.full((101, V.shape[1]), np.nan)
                med = q[50]
                mad = np.nanmedian(np.abs(rows - med), axis=0) * 1.4826 if len(rows) else np.full(V.shape[1], np.nan)
                sd = np.nanstd(rows, axis=0) if len(rows) else np.full(V.shape[1], np.nan)
            scale = np.where(mad > 0, mad, np.where(sd > 0, sd, np.nan))
            self.bands[b] = {"q": q, "median": med, "scale": scale, "n": int(len(rows))}

    def describe(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row and feature: peer band, median, percentile (0-100) and robust z-score."""
        band = _bands(X)
        V = X.to_numpy(float)
        med = np.vstack([self.bands[b]["median"] for b in band])
        scale = np.vstack([self.bands[b]["scale"] for b in band])
        pct = np.full(V.shape, np.nan)
        for b in np.unique(band):
            rows = band == b
            q = self.bands[b]["q"]
            for j in range(V.shape[1]):
                col = q[:, j]
                if np.isnan(col).all():
                    continue
                lo = np.searchsorted(col, V[rows, j], side="left")
                hi = np.searchsorted(col, V[rows, j], side="right")
                pct[rows, j] = np.where(np.isnan(V[rows, j]), np.nan, np.clip((lo + hi) / 2 - 0.5, 0, 100))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (V - med) / scale
        return band, med, pct, z


def _bands(X: pd.DataFrame) -> np.ndarray:
    cols = [c for c in _ACTIVITY if c in X.columns]
    if not cols:
        return np.zeros(len(X), np.int64)
    activity = np.nan_to_num(X[cols].to_numpy(float)).sum(axis=1)
    edges = np.array([e for e, _ in PEER_BANDS[1:]])
    return np.searchsorted(edges, activity, side="right").astype(np.int64)


def _frame(est, X) -> pd.DataFrame:
    names = getattr(est, "feature_names_in_", None)
    if isinstance(X, pd.DataFrame):
        return X
    cols = list(names) if names is not None else [f"x{i}" for i in range(np.asarray(X).shape[1])]
    return pd.DataFrame(np.asarray(X, float), columns=cols)


# --------------------------------------------------------------------------- scorers


class AnomalyScorer(BaseEstimator):
    """Unsupervised scorer: how unusual a transaction's features are, 0..1.

    Missing feature values are replaced by the training median, then (with
    ``log_scale``) every feature is put on a signed log scale, ``sign(x) *
    log1p(|x|)``, so heavy-tailed counts and amounts do not swamp the isolation
    splits. The raw anomaly of a row is ``-estimator.score_samples``; its score is
    the share of training rows that were less anomalous (an empirical CDF).

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``score_samples``, default None
        Lower ``score_samples`` = more abnormal, as scikit-learn's outlier
        detectors. None means ``IsolationForest(n_estimators=200,
        random_state=random_state)``.
    contamination : float in (0, 0.5], default 0.01
        Share of training rows at or above the alert threshold.
    log_scale : bool, default True
        Apply the signed log scale before the estimator.
    random_state : int, RandomState instance or None, default None
        Seed of the default IsolationForest.

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator.
    threshold_ : float
        Alert when ``score_samples >= threshold_`` (``1 - contamination``, or the
        validation-F1 threshold after :meth:`tune_threshold`).
    medians_ : ndarray of shape (n_features,)
        Training medians used for missing values.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names.
    rule_id : str
        ``AN-IF`` with the default estimator or an IsolationForest, else ``AN-UNS``.

    See Also
    --------
    SupervisedScorer : learns from labelled cases.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(300, 2)), [[8.0, 8.0]]]
    >>> s = AnomalyScorer(random_state=0, contamination=0.01).fit(X)
    >>> int(s.predict(X)[-1]), float(s.score_samples(X)[-1])
    (1, 1.0)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "log_scale": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, *, estimator=None, contamination=0.01, log_scale=True, random_state=None):
        self.estimator = estimator
        self.contamination = contamination
        self.log_scale = log_scale
        self.random_state = random_state

    @property
    def rule_id(self) -> str:
        return "AN-IF" if self.estimator is None or isinstance(self.estimator, IsolationForest) else "AN-UNS"

    def _prep(self, X: np.ndarray) -> np.ndarray:
        Z = np.where(np.isnan(X), self.medians_, X)
        return np.sign(Z) * np.log1p(np.abs(Z)) if self.log_scale else Z

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit on unlabelled rows.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Features; NaN allowed.
        y : ignored

        Returns
        -------
        self : AnomalyScorer
        """
        X = _validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(X, axis=0) if len(X) else np.zeros(X.shape[1])
        self.medians_ = np.nan_to_num(med)
        Z = self._prep(X)
        est = clone(self.estimator) if self.estimator is not None else IsolationForest(n_estimators=200, random_state=self.random_state)
        self.estimator_ = est.fit(Z)
        self.reference_ = np.sort(-self.estimator_.score_samples(Z))
        self.threshold_ = 1.0 - float(self.contamination)
        self.peers_ = _PeerStats(_frame(self, X))
        return self

    def score_samples(self, X) -> np.ndarray:
        """Anomaly score of each row.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Share of training rows less anomalous than each row, 0..1. The higher,
            the more unusual (the opposite of ``IsolationForest.score_samples``).
        """
        check_is_fitted(self)
        X = _validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        raw = -self.estimator_.score_samples(self._prep(X))
        return np.searchsorted(self.reference_, raw, side="right") / max(len(self.reference_), 1)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - threshold_``, shifted by one ulp so that it is > 0 exactly for alerts."""
        return self.score_samples(X) - np.nextafter(self.threshold_, -np.inf)

    def _margin(self, X) -> np.ndarray:
        """Raw anomaly (not saturating), for explanations."""
        check_is_fitted(self)
        X = _validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return -self.estimator_.score_samples(self._prep(X))

    def predict(self, X) -> np.ndarray:
        """1 where the score reaches ``threshold_`` (an alert), else 0.

        Returns
        -------
        ndarray of int of shape (n_samples,)
        """
        return (self.score_samples(X) >= self.threshold_).astype(np.int64)

    def tune_threshold(self, X, y):
        """Set ``threshold_`` to the F1-best threshold on labelled (validation) rows.

        The model stays unsupervised: labels only choose where to cut.

        Returns
        -------
        self : AnomalyScorer
        """
        self.threshold_, self.validation_f1_ = best_f1_threshold(y, self.score_samples(X))
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class SupervisedScorer(ClassifierMixin, BaseEstimator):
    """Supervised scorer: probability that a transaction belongs to a laundering case.

    Fits a classifier with sample weights for the rare positive class, then chooses
    the alert threshold that maximises F1 on a *later* validation period, so the
    threshold is tested on cases the model has not seen, as it will be in use.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``, default None
        None means ``HistGradientBoostingClassifier(max_iter=200,
        learning_rate=0.1, l2_regularization=1.0, early_stopping=False,
        random_state=random_state)``: deterministic (no random early-stopping
        hold-out), missing values handled natively. Sample weights are passed to
        ``fit`` when it accepts them.
    class_weight : "balanced", dict or None, default "balanced"
        Weights of the classes in training; "balanced" weighs each class by
        ``n_samples / (2 * n_class_samples)``.
    validation_fraction : float in (0, 1), default 0.25
        When ``fit`` is given no ``validation``, the *last* share of the rows
        (they must be in time order) is the validation period.
    threshold : "f1" or float in (0, 1), default "f1"
        "f1": the validation-F1-best threshold; a float fixes it.
    random_state : int, RandomState instance or None, default 0
        Seed of the default estimator.

    Attributes
    ----------
    estimator_ : classifier
    classes_ : ndarray of shape (2,)
    threshold_ : float
        Alert when ``score_samples >= threshold_``.
    validation_f1_ : float
        F1 of the positive class on the validation period at ``threshold_``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` had string column names.
    rule_id : str
        ``AN-GBT`` with the default estimator or a gradient-boosting classifier,
        else ``AN-SUP``.

    Raises
    ------
    ValueError
        From ``fit`` when the training labels hold only one class.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)); y = X[:, 0] > 1.8
    >>> m = SupervisedScorer(random_state=0).fit(X, y)
    >>> round(m.validation_f1_, 1) >= 0.9, m.predict(np.array([[3.0, 0, 0]])).tolist()
    (True, [True])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "threshold": [StrOptions({"f1"}), Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, estimator=None, class_weight="balanced", validation_fraction=0.25, threshold="f1", random_state=0):
        self.estimator = estimator
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.threshold = threshold
        self.random_state = random_state

    @property
    def rule_id(self) -> str:
        gbt = self.estimator is None or "GradientBoosting" in type(self.estimator).__name__ or "XGB" in type(self.estimator).__name__
        return "AN-GBT" if gbt else "AN-SUP"

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, validation=None):
        """Fit, then choose the threshold on the validation period.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Features in time order; NaN allowed.
        y : array-like of shape (n_samples,)
            Binary labels; the greater class is the positive (laundering) one.
        validation : tuple (X_val, y_val), optional
            A later period to choose the threshold on; default: the last
            ``validation_fraction`` of ``X``, ``y`` (not used for training then).

        Returns
        -------
        self : SupervisedScorer
        """
        X, y = _validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type not in ("binary", "unknown") and len(np.unique(y)) > 2:
            raise ValueError(f"Only binary classification is supported. The type of the target is {y_type}.")
        self.classes_ = np.unique(y)
        if validation is None:
            n_val = int(round(len(X) * self.validation_fraction))
            n_val = min(max(n_val, 1), len(X) - 1) if len(X) > 1 else 0
            X_tr, y_tr, X_val, y_val = X[: len(X) - n_val], y[: len(y) - n_val], X[len(X) - n_val :], y[len(y) - n_val :]
        else:
            X_tr, y_tr = X, y
            X_val = _validate_data(self, validation[0], ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
            y_val = np.asarray(validation[1])
        if len(np.unique(y_tr)) < 2:
            raise InputError("the training period has only one class: it needs both laundering and other transactions")
        est = clone(self.estimator) if self.estimator is not None else HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, l2_regularization=1.0, early_stopping=False, random_state=self.random_state
        )  # fmt: skip
        kw = {}
        if self.class_weight is not None:
            w = compute_sample_weight(self.class_weight, y_tr)
            if has_fit_parameter(est, "sample_weight"):
                kw["sample_weight"] = w
            else:
                log.info("scorer: %s takes no sample_weight; class_weight not applied", type(est).__name__)
        self.estimator_ = est.fit(X_tr, y_tr, **kw)
        pos = self.classes_[-1]
        if self.threshold == "f1":
            if len(X_val) and (y_val == pos).any():
                self.threshold_, self.validation_f1_ = best_f1_threshold(y_val == pos, self._proba(X_val))
            else:
                log.warning("scorer: no positive label in the validation period; threshold 0.5")
                self.threshold_, self.validation_f1_ = 0.5, float("nan")
        else:
            self.threshold_ = float(self.threshold)
            self.validation_f1_ = binary_report(y_val == pos, self._proba(X_val) >= self.threshold_)["f1"] if len(X_val) else float("nan")
        self.peers_ = _PeerStats(_frame(self, X_tr))
        return self

    def _proba(self, X: np.ndarray) -> np.ndarray:
        p = self.estimator_.predict_proba(X)
        cls = list(self.estimator_.classes_)
        return p[:, cls.index(self.classes_[-1])] if self.classes_[-1] in cls else np.zeros(len(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order; shape (n_samples, 2)."""
        p = self.score_samples(X)
        return np.column_stack([1 - p, p]) if len(self.classes_) == 2 else p[:, None]

    def score_samples(self, X) -> np.ndarray:
        """Probability of the positive (laundering) class, 0..1; higher is more suspicious.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = _validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return self._proba(X)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - threshold_``, shifted by one ulp so that it is > 0 exactly for alerts."""
        return self.score_samples(X) - np.nextafter(self.threshold_, -np.inf)

    def _margin(self, X) -> np.ndarray:
        """Log-odds of the positive class (not saturating), for explanations."""
        p = np.clip(self.score_samples(X), 1e-15, 1 - 1e-15)
        return np.log(p) - np.log1p(-p)

    def predict(self, X) -> np.ndarray:
        """The positive class where the score reaches ``threshold_``, else the other class.

        Returns
        -------
        ndarray of shape (n_samples,), values from ``classes_``
        """
        s = self.score_samples(X)
        return self.classes_[(s >= self.threshold_).astype(np.int64) * (len(self.classes_) - 1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags


# --------------------------------------------------------------------------- explanations


def explain(scorer, X, *, top: int = 3) -> pd.DataFrame:
    """Per row: the features that most raised its score, and how far they are from its peers.

    A feature's *contribution* is how much the row's score margin drops when that
    feature alone is set to the peer-group median (occlusion): positive
    contributions raised the score. The margin is the log-odds of the supervised
    scorer's probability, and the raw anomaly (``-estimator.score_samples``) of the
    unsupervised one: unlike the 0..1 score, it does not saturate, so a row scored
    1.0 on several redundant signals still shows which ones carry it. ``share`` is
    the contribution over the sum of the row's positive contributions. The peer
    group is the row's band of :data:`PEER_BANDS` in the scorer's training data;
    the deviation is given as the percentile among those peers and as a robust
    z-score ``(value - median) / (1.4826 * MAD)`` (the standard deviation where the
    MAD is 0).

    Parameters
    ----------
    scorer : fitted AnomalyScorer or SupervisedScorer
    X : DataFrame of shape (n_samples, n_features)
        Rows to explain, with the scorer's feature columns.
    top : int, default 3
        Features per row (those with a positive contribution, at most ``top``).

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in ``X``), ``rank`` (1 = largest), ``feature``,
        ``value``, ``contribution`` (margin units), ``share`` (0-1),
        ``peer_group``, ``peer_median``, ``peer_percentile`` (0-100) and ``peer_z``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    >>> m = SupervisedScorer(random_state=0).fit(X, X["a"] > 1.8)
    >>> e = explain(m, pd.DataFrame({"a": [3.0], "b": [0.0]}), top=1)
    >>> e[["feature", "rank"]].values.tolist(), bool(e["peer_percentile"].iloc[0] > 99)
    ([['a', 1]], True)
    """
    check_is_fitted(scorer)
    X = _frame(scorer, X)
    names = list(X.columns)
    cols = ["row", "rank", "feature", "value", "contribution", "share", "peer_group", "peer_median", "peer_percentile", "peer_z"]
    if len(X) == 0:
        return pd.DataFrame(columns=cols)
    peers = scorer.peers_
    V = X.to_numpy(float)
    base = scorer._margin(X)
    band, med, pct, z = peers.describe(X)
    n, k = V.shape
    big = np.repeat(V, k, axis=0)
    j = np.tile(np.arange(k), n)
    big[np.arange(n * k), j] = med.reshape(-1)  # row i, copy j: feature j set to its peer median
    occluded = scorer._margin(pd.DataFrame(big, columns=names)).reshape(n, k)
    contrib = base[:, None] - occluded
    contrib = np.where(np.isnan(V) & np.isnan(med), 0.0, contrib)
    total = np.where(contrib > 0, contrib, 0.0).sum(axis=1)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    rows = []
    for i in range(n):
        for r, jj in enumerate(order[i]):
            if contrib[i, jj] <= 0:
                break
            rows.append((i, r + 1, names[jj], V[i, jj], float(contrib[i, jj]), float(contrib[i, jj] / total[i]),
                         PEER_BANDS[band[i]][1], med[i, jj], pct[i, jj], z[i, jj]))  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- trained model


@dataclass
class TrainedModel:
    """A fitted scorer with everything needed to score new data the same way.

    Attributes
    ----------
    scorer : AnomalyScorer or SupervisedScorer
    settings : FeatureSettings
        The feature definitions' parameters it was trained with.
    feature_names : list of str
        Feature columns, in the scorer's order.
    training_window : tuple of str
        ISO 8601 UTC times of the first and last training transaction.
    metrics : dict
        Rows and positives per period, validation F1 and threshold, test report.
    versions : dict
        followmoney and scikit-learn versions that trained it.
    """

    scorer: object
    settings: FeatureSettings
    feature_names: list
    training_window: tuple
    metrics: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def rule_id(self) -> str:
        """``AN-GBT``, ``AN-IF`` (or ``AN-SUP`` / ``AN-UNS`` for other estimators)."""
        return self.scorer.rule_id

    @property
    def threshold(self) -> float:
        return float(self.scorer.threshold_)

    def features(self, transactions, *, timezone: str = "UTC") -> pd.DataFrame:
        """:func:`~followmoney.detect.features.transaction_features` with the model's settings and columns."""
        return transaction_features(transactions, self.settings, timezone=timezone)[self.feature_names]

    def save(self, path: str | Path) -> Path:
        """Write the model to one file that cannot run code when it is loaded.

        The file is a zip archive holding ``followmoney-model.json`` (format, version,
        feature settings and names, training window, metrics, versions: checked before
        anything else is read) and ``scorer.skops``, the fitted scorer in skops' format
        (https://skops.readthedocs.io), which rebuilds objects only from an allow-list of
        types (:data:`TRUSTED_TYPES`) instead of unpickling.

        Returns
        -------
        pathlib.Path
        """
        import skops.io as sio

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": _MODEL_FORMAT,
            "format_version": _MODEL_VERSION,
            "settings": self.settings.to_dict(),
            "feature_names": list(self.feature_names),
            "training_window": list(self.training_window),
            "metrics": self.metrics,
            "versions": self.versions,
        }
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(_HEADER, json.dumps(header, default=str))
            z.writestr(_SCORER, sio.dumps(self.scorer))
        return path

    def describe(self) -> dict:
        """JSON-ready summary: rule id, threshold, training window, settings, metrics."""
        return {
            "rule_id": self.rule_id,
            "scorer": repr(self.scorer),
            "threshold": self.threshold,
            "training_window": list(self.training_window),
            "feature_settings": self.settings.to_dict(),
            "n_features": len(self.feature_names),
            "metrics": self.metrics,
            "versions": self.versions,
        }


def load_model(path: str | Path) -> TrainedModel:
    """Read a model written by :meth:`TrainedModel.save`, without running code from it.

    The format and version are checked first; the scorer is then rebuilt by skops from
    an allow-list of types (:data:`TRUSTED_TYPES`): a file naming any other type is
    refused, so a crafted model file cannot execute code.

    Raises
    ------
    followmoney.exceptions.InputError
        If the file does not exist, is not a followmoney model, is of a newer format, or
        holds types outside the allow-list (the message names the file, never its content).
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as z:
            header = json.loads(z.read(_HEADER))
            if not isinstance(header, dict) or header.get("format") != _MODEL_FORMAT:
                raise InputError(f"{path}: not a followmoney model file")
            if int(header.get("format_version", 0)) != _MODEL_VERSION:
                raise InputError(
                    f"{path}: model format {header.get('format_version')!r} is not the one this followmoney reads ({_MODEL_VERSION}); retrain it"
                )
            blob = z.read(_SCORER)
    except InputError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a followmoney model file ({type(exc).__name__})") from None
    try:
        named = set(sio.get_untrusted_types(data=blob))  # types beyond skops' safe defaults
        if named - set(TRUSTED_TYPES):
            raise InputError(f"{path}: model refers to {len(named - set(TRUSTED_TYPES))} type(s) outside the allow-list; refused")
        scorer = sio.loads(blob, trusted=sorted(named))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoding failure means "not a usable model"
        raise InputError(f"{path}: model cannot be read ({type(exc).__name__})") from None
    return TrainedModel(
        scorer=scorer,
        settings=FeatureSettings.from_dict(header["settings"]),
        feature_names=list(header["feature_names"]),
        training_window=tuple(header["training_window"]),
        metrics=header.get("metrics", {}),
        versions=header.get("versions", {}),
    )


def _versions() -> dict:
    import sklearn

    try:
        from importlib.metadata import version

        fm_version = version("followmoney")
    except Exception:  # noqa: BLE001 - source tree without metadata
        fm_version = "0.0.0"
    return {"followmoney": fm_version, "scikit-learn": sklearn.__version__}


def train_model(
    transactions,
    *,
    kind: str = "gbt",
    settings: FeatureSettings | None = None,
    fractions=(0.6, 0.2, 0.2),
    timezone: str = "UTC",
    estimator=None,
    random_state=0,
) -> TrainedModel:
    """Fit a scorer on labelled transactions with a time-ordered split.

    Parameters
    ----------
    transactions : pyarrow.Table or Bundle
        Canonical transactions; ``kind="gbt"`` needs the ``is_laundering`` label.
    kind : {"gbt", "iforest"}, default "gbt"
        Supervised gradient-boosted trees, or the unsupervised isolation forest
        (its threshold is tuned on the validation labels when there are any, else
        it flags the top 1 % of training rows).
    settings : FeatureSettings, optional
    fractions : (train, validation, test), default (0.6, 0.2, 0.2)
        Shares of the transactions in time order. Training uses the first period,
        the threshold is chosen on the second, the third is held out and only
        reported (0 for none).
    timezone : str, default "UTC"
    estimator : estimator, optional
        Replaces the default estimator of the scorer.
    random_state : int or None, default 0

    Returns
    -------
    TrainedModel
        ``metrics`` holds per period the rows and positives, and the validation
        and test precision, recall and F1 of the laundering class.

    Raises
    ------
    ValueError
        If ``kind`` is unknown, labels are missing for ``gbt``, or a period is empty.
    """
    if kind not in ("gbt", "iforest"):
        raise ConfigError(f"kind must be 'gbt' or 'iforest', got {kind!r}")
    s = settings or FeatureSettings()
    frame = stream_frame(transactions, timezone)
    X = transaction_features(frame, s)
    table = getattr(transactions, "transactions", transactions)
    has_labels = "is_laundering" in table.column_names and bool(pd.Series(table["is_laundering"].to_pylist()).fillna(False).any())
    if kind == "gbt" and not has_labels:
        raise InputError("a gbt model needs labelled transactions (is_laundering) with at least one positive")
    y = labels_for(table, X.index) if has_labels else np.zeros(len(X), bool)
    train, val, test = time_split(len(X), fractions)
    if len(train) == 0 or len(val) == 0:
        raise InputError(f"the training and validation periods must not be empty ({len(X)} transactions, fractions {tuple(fractions)})")
    if kind == "gbt":
        scorer = SupervisedScorer(estimator=estimator, random_state=random_state)
        scorer.fit(X.iloc[train], y[train], validation=(X.iloc[val], y[val]))
    else:
        scorer = AnomalyScorer(estimator=estimator, random_state=random_state).fit(X.iloc[train])
        if y[val].any():
            scorer.tune_threshold(X.iloc[val], y[val])
    t = frame["t"].to_numpy()
    used = np.r_[train, val]
    metrics = {
        "kind": kind,
        "rows": {"train": len(train), "validation": len(val), "test": len(test)},
        "positives": {"train": int(y[train].sum()), "validation": int(y[val].sum()), "test": int(y[test].sum())},
        "threshold": float(scorer.threshold_),
        "validation": binary_report(y[val], scorer.predict(X.iloc[val]).astype(bool)) if has_labels else None,
        "test": binary_report(y[test], scorer.predict(X.iloc[test]).astype(bool)) if has_labels and len(test) else None,
        "test_window": [_iso(t[test].min()), _iso(t[test].max())] if len(test) else None,
    }
    return TrainedModel(
        scorer=scorer,
        settings=s,
        feature_names=list(X.columns),
        training_window=(_iso(t[used].min()), _iso(t[used].max())),
        metrics=metrics,
        versions=_versions(),
    )


def _iso(us) -> str:
    return datetime.fromtimestamp(int(us) / 1e6, tz=timezone.utc).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- alerts

_RULE_NAMES = {
    "AN-GBT": ("Learned scorer (gradient-boosted trees)", "learned_score"),
    "AN-SUP": ("Learned scorer", "learned_score"),
    "AN-IF": ("Anomaly score (isolation forest)", "anomaly"),
    "AN-UNS": ("Anomaly score", "anomaly"),
}


@dataclass(frozen=True)
class ModelDetector:
    """A trained model seen as a detector, like a rule: its findings become alerts the same way.

    Parameters
    ----------
    model : TrainedModel

    Attributes
    ----------
    id, name, typology : str
        The model's rule id (``AN-GBT``, ``AN-IF``, ...), its name and its typology
        (``learned_score`` or ``anomaly``), as a rule's.
    params : dict
        What the alerts record in ``params``: the scorer, its threshold, the training
        window and the feature settings.

    Examples
    --------
    >>> import followmoney as fm
    >>> from followmoney.detect.features import stream_frame
    >>> bundle = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    >>> detector = ModelDetector(train_model(bundle, kind="gbt"))
    >>> findings = detector.find(stream_frame(bundle.transactions, "UTC"))
    >>> detector.id, list(findings.columns[:4]), bool(findings["score"].between(0.5, 1).all())
    ('AN-GBT', ['subject_kind', 'subject_id', 'window_start', 'window_end'], True)
    """

    model: TrainedModel

    @property
    def id(self) -> str:
        return self.model.rule_id

    @property
    def name(self) -> str:
        return _RULE_NAMES[self.id][0]

    @property
    def typology(self) -> str:
        return _RULE_NAMES[self.id][1]

    @property
    def params(self) -> dict:
        m = self.model
        return {"model": m.describe()["scorer"], "threshold": round(m.threshold, 6),
                "training_window": list(m.training_window), "feature_settings": m.settings.to_dict()}  # fmt: skip

    def find(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's findings on a prepared frame, in the shape a rule returns them.

        Each transaction scoring at or above the threshold is evidence against both its
        accounts (sender and receiver; the cash side has none, a party stands in for a
        missing account). An account's flagged transactions less than the feature
        window apart form one finding, scored 0.5 at the threshold rising linearly to
        1.0 at a model score of 1 from its strongest transaction, whose explanation
        (:func:`explain`) goes in the finding's facts.

        Parameters
        ----------
        frame : pandas.DataFrame
            :func:`~followmoney.detect.features.stream_frame` of the transactions.

        Returns
        -------
        pandas.DataFrame
            ``subject_kind, subject_id, window_start, window_end, evidence_txn_ids,
            score, facts, role, related_subjects``, one row per episode.
        """
        from followmoney.core._timeline import runs

        model = self.model
        cols = ["subject_kind", "subject_id", "window_start", "window_end", "evidence_txn_ids", "score", "facts", "role", "related_subjects"]
        X = model.features(frame)
        scores = model.scorer.score_samples(X)
        thr = model.threshold
        hit = np.flatnonzero(scores >= thr)
        if len(hit) == 0:
            return pd.DataFrame(columns=cols)
        # evidence per account side
        f = frame.iloc[hit]
        sides = []
        for subj, kind_col, other in (("sender", "from_account", "receiver"), ("receiver", "to_account", "sender")):
            part = pd.DataFrame({"row": hit, "subject": f[subj].to_numpy(), "other": f[other].to_numpy(),
                                 "is_account": f[kind_col].notna().to_numpy()})  # fmt: skip
            sides.append(part[part["subject"].notna()])
        ev = pd.concat(sides, ignore_index=True).drop_duplicates(["subject", "row"])
        t = frame["t"].to_numpy()
        ev["t"] = t[ev["row"].to_numpy()]
        ev = ev.sort_values(["subject", "t", "row"], kind="stable").reset_index(drop=True)
        codes, _ = pd.factorize(ev["subject"], sort=False)
        ev["episode"] = runs(codes.astype(np.int64), ev["t"].to_numpy(), model.settings._w)
        ev["score"] = scores[ev["row"].to_numpy()]
        # the strongest transaction of each episode, explained once
        top_idx = ev.sort_values(["episode", "score", "row"], ascending=[True, False, True], kind="stable").drop_duplicates("episode")
        expl = explain(model.scorer, X.iloc[top_idx["row"].to_numpy()], top=3)
        why = {k: g.to_dict("records") for k, g in expl.groupby("row")}
        txn_ids = frame["txn_id"].to_numpy()
        out = []
        for k, (_, g) in enumerate(ev.groupby("episode", sort=True)):
            rows = np.sort(g["row"].to_numpy())
            top = float(g["score"].max())
            out.append(
                {
                    "subject_kind": "account" if g["is_account"].iloc[0] else "party",
                    "subject_id": g["subject"].iloc[0],
                    "window_start": int(t[rows[0]]),
                    "window_end": int(t[rows[-1]]),
                    "evidence_txn_ids": txn_ids[rows].tolist(),
                    "score": float(np.clip(0.5 + 0.5 * (top - thr) / max(1.0 - thr, 1e-12), 0.5, 1.0)),
                    "facts": {"top_score": top, "features": why.get(k, [])},
                    "role": None,
                    "related_subjects": sorted(set(g["other"].dropna())),
                }
            )
        return pd.DataFrame(out, columns=cols)

    def explain(self, facts: dict, params: dict, jurisdiction) -> str:
        """The alert's explanation: its evidence, the threshold, the training window and the
        features that most raised the strongest transaction's score against its peers.

        Parameters
        ----------
        facts : dict
            A finding's facts (:meth:`find`) with those the assembly adds
            (``evidence_count``, ``window_start``, ``window_end``, ``totals``).
        params, jurisdiction
            Unused; a rule's ``explain`` takes them.

        Returns
        -------
        str
        """
        model = self.model
        text = (
            f"{self.name}: {facts['evidence_count']} transaction(s) between {facts['window_start']:%Y-%m-%d} and "
            f"{facts['window_end']:%Y-%m-%d} ({facts['totals']}) scored at or above the model threshold {model.threshold:.3f}; "
            f"the strongest scored {facts['top_score']:.3f}. "
            f"Model trained on transactions from {model.training_window[0][:10]} to {model.training_window[1][:10]}."
        )
        why = facts.get("features") or []
        if why:
            from followmoney.detect.features import FEATURES

            parts = []
            for r in why:
                feature, value, median = r["feature"], r["value"], r["peer_median"]
                unit = f" {FEATURES[feature].unit}" if feature in FEATURES else ""
                shown = "no value" if np.isnan(value) else f"{_fmt(value)}{unit}"
                peer = f"peer median {_fmt(median)}{unit if not np.isnan(median) else ''}"
                if not np.isnan(r["peer_percentile"]):
                    peer += f", {_ordinal(round(r['peer_percentile']))} percentile"
                parts.append(f"{feature}: {shown} ({peer}; {r['share']:.0%} of the rise)")
            text += f" Features that most raised the score, against {why[0]['peer_group']} accounts: " + "; ".join(parts) + "."
        return text


def model_alerts(bundle, model_path, config=None, *, run_id: str | None = None) -> pa.Table:
    """Score a bundle with a trained model and return its alerts, one per account episode.

    Each transaction scoring at or above the model's threshold is evidence against
    both its accounts (sender and receiver; the cash side has none). An account's
    flagged transactions less than the feature window (``window_hours``) apart form
    one alert. The alert score is 0.5 at the threshold rising linearly to 1.0 at a
    model score of 1, from its strongest transaction; the explanation names the
    features that most raised that transaction's score and their place among the
    account's peers (see :func:`explain`).

    Parameters
    ----------
    bundle : Bundle or pyarrow.Table
        Transactions to score (the history before the period of interest makes the
        features of its first days complete).
    model_path : str, Path or TrainedModel
        A file written by :meth:`TrainedModel.save` (``followmoney train``).
    config : Config, optional
        Jurisdiction (local clock for night-time features); default
        :func:`followmoney.get_config`. When ``disabled_rules`` lists the model's
        rule id, no alerts are returned.
    run_id : str, optional
        Run id to stamp; default the same hash :func:`followmoney.score` uses.

    Returns
    -------
    pyarrow.Table
        The ``alerts`` schema (rule id ``AN-GBT`` or ``AN-IF``), sorted by ``score``
        descending, then ``window_start`` and ``alert_id``, assembled as the rules'
        alerts are (:mod:`followmoney.detect._assembly`): ``evidence_source_refs`` lists
        every source row of a consolidated payment; ``related_subject_ids`` lists the
        counterparties of the evidence. Ready to concatenate with
        :func:`followmoney.score` and roll up with :func:`followmoney.build_cases`.

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`load_model`.

    Examples
    --------
    >>> import followmoney as fm, tempfile, os
    >>> bundle = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    >>> model = train_model(bundle, kind="gbt")
    >>> path = model.save(os.path.join(tempfile.mkdtemp(), "model.fmm"))
    >>> alerts = model_alerts(bundle, path)
    >>> alerts.schema.names == fm.schema.SCHEMAS["alerts"].names, set(alerts["rule_id"].to_pylist())
    (True, {'AN-GBT'})
    """
    model = model_path if isinstance(model_path, TrainedModel) else load_model(model_path)
    cfg = config if config is not None else get_config()
    detector = ModelDetector(model)
    if detector.id in cfg.disabled_rules:
        return alerts_table([], [], [])
    table = getattr(bundle, "transactions", bundle)
    frame = stream_frame(table, cfg.jurisdiction_info.timezone)
    findings = detector.find(frame)
    if findings.empty:
        return alerts_table([], [], [])
    in_bundle = hasattr(bundle, "transactions")
    if run_id is None:
        run_id = _run_id(bundle, cfg) if in_bundle else "RUN" + hashlib.blake2b(b"", digest_size=8).hexdigest()
    by_txn = frame.set_index("txn_id")[["amount_cents", "currency", "source_ref"]]
    observed = observed_in(bundle) if in_bundle else {}
    alerts = alerts_for(detector, detector.params, cfg, findings, by_txn, run_id, observed)
    return alerts_table([alerts], [], [])


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "none"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _ordinal(k: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
