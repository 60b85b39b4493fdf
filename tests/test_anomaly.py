"""Scorers (scikit-learn contract), time splits, explanations, trained models, model alerts, `followmoney train`."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils.estimator_checks import parametrize_with_checks

import followmoney as fm
from followmoney.core import schema
from followmoney.detect.models import (
    AnomalyScorer,
    SupervisedScorer,
    TrainedModel,
    best_f1_threshold,
    binary_report,
    explain,
    labels_for,
    load_model,
    model_alerts,
    split_at,
    time_split,
    train_model,
)
from followmoney.cli import main
from followmoney.detect.features import FeatureSettings, transaction_features

EXPECTED_FAILED = {
    "check_classifiers_train": "predict cuts at the validation-F1 threshold, not at argmax(predict_proba)",
    "check_class_weight_classifiers": "the validation-F1 threshold, not the class weights alone, decides the cut",
}


@parametrize_with_checks(
    [AnomalyScorer(random_state=0), SupervisedScorer(estimator=HistGradientBoostingClassifier(max_iter=20), random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED if isinstance(est, SupervisedScorer) else {},
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def amlsim(request):
    b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    X = transaction_features(b)
    return b, X, labels_for(b, X.index)


# ----------------------------------------------------------------- splits and metrics


def test_time_split_is_ordered_and_complete():
    t = np.array([5, 1, 4, 2, 3, 9, 7, 8, 6, 0])
    parts = time_split(t, (0.6, 0.2, 0.2))
    assert [len(p) for p in parts] == [6, 2, 2]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(10))
    assert t[parts[0]].max() < t[parts[1]].min() <= t[parts[1]].max() < t[parts[2]].min()
    with pytest.raises(ValueError, match="sum to 1"):
        time_split(10, (0.5, 0.2))


def test_split_at_boundary_goes_to_the_later_period():
    assert [p.tolist() for p in split_at([3, 1, 2, 2], 2)] == [[1], [2, 3, 0]]


def test_best_f1_threshold_and_report():
    thr, f1 = best_f1_threshold([0, 1, 1, 0, 1], [0.1, 0.9, 0.8, 0.7, 0.2])
    assert (thr, f1) == (0.2, 0.857143)  # 3 of 3 positives, 1 false alarm
    assert best_f1_threshold([0, 0], [0.3, 0.4]) == (0.5, 0.0)
    assert binary_report([0, 0], [0, 0])["f1"] == 0.0


def test_labels_for_requires_the_label_column():
    with pytest.raises(ValueError, match="is_laundering"):
        labels_for(pa.table({"txn_id": ["a"]}), ["a"])


# ----------------------------------------------------------------- scorers


class WeightSpy(ClassifierMixin, BaseEstimator):
    """Records the sample weights it was fitted with."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.weights_ = sample_weight
        self.n_seen_ = len(X)
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1 - p, p])


def test_supervised_weights_rare_class_and_validates_on_the_later_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = np.r_[np.zeros(380, bool), np.ones(20, bool)]
    rng.shuffle(y)
    m = SupervisedScorer(estimator=WeightSpy(), validation_fraction=0.25).fit(X, y)
    assert m.estimator_.n_seen_ == 300  # the last quarter is the validation period
    w = m.estimator_.weights_
    ytr = y[:300]
    assert w[ytr].mean() > 5 * w[~ytr].mean()  # balanced weights favour the rare class
    assert np.isclose(w[ytr].sum(), w[~ytr].sum())
    assert m.rule_id == "AN-SUP" and SupervisedScorer().rule_id == "AN-GBT"
    assert SupervisedScorer(class_weight=None, estimator=WeightSpy()).fit(X, y).estimator_.weights_ is None


def test_supervised_threshold_is_the_validation_f1_one():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 3))
    y = X[:, 0] + 0.3 * rng.normal(size=3000) > 2
    m = SupervisedScorer(random_state=0).fit(X[:2000], y[:2000], validation=(X[2000:], y[2000:]))
    thr, f1 = best_f1_threshold(y[2000:], m.score_samples(X[2000:]))
    assert (m.threshold_, m.validation_f1_) == (thr, f1)
    assert np.array_equal(m.predict(X[2000:]), m.score_samples(X[2000:]) >= thr)
    assert np.array_equal(m.decision_function(X) > 0, m.predict(X))
    fixed = SupervisedScorer(threshold=0.9, random_state=0).fit(X, y)
    assert fixed.threshold_ == 0.9
    with pytest.raises(ValueError, match="one class"):
        SupervisedScorer().fit(X[:10], np.zeros(10, bool), validation=(X[10:20], y[10:20]))


def test_supervised_is_deterministic_and_handles_missing_values():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1500, 3))
    y = X[:, 1] > 1.5
    X[rng.random(X.shape) < 0.2] = np.nan
    a = SupervisedScorer(random_state=0).fit(X, y).score_samples(X)
    b = SupervisedScorer(random_state=0).fit(X, y).score_samples(X)
    assert np.array_equal(a, b) and np.isfinite(a).all()


def test_anomaly_scorer_ranks_outliers_and_is_pluggable():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(500, 3)), [[9.0, 9.0, 9.0], [np.nan, 12.0, -9.0]]]
    s = AnomalyScorer(random_state=0, contamination=0.01).fit(X)
    scores = s.score_samples(X)
    assert scores[-2:].min() > np.quantile(scores[:-2], 0.99)
    assert s.predict(X)[-2:].tolist() == [1, 1] and s.predict(X).mean() <= 0.02
    assert s.rule_id == "AN-IF"
    lof = AnomalyScorer(estimator=LocalOutlierFactor(novelty=True)).fit(X)
    assert lof.rule_id == "AN-UNS" and lof.predict(X)[-2:].tolist() == [1, 1]
    y = np.r_[np.zeros(500, bool), [True, True]]
    s.tune_threshold(X, y)
    assert s.validation_f1_ == 1.0 and s.predict(X).tolist() == y.astype(int).tolist()


def test_params_round_trip_and_validation():
    m = SupervisedScorer(class_weight={0: 1, 1: 10}, threshold=0.3)
    assert clone(m).get_params()["class_weight"] == {0: 1, 1: 10}
    with pytest.raises(ValueError, match="validation_fraction"):
        SupervisedScorer(validation_fraction=1.5).fit(np.zeros((10, 1)), np.r_[np.zeros(5), np.ones(5)])
    with pytest.raises(ValueError, match="contamination"):
        AnomalyScorer(contamination=0.9).fit(np.zeros((10, 1)))


def test_explain_names_the_driving_feature_and_its_peer_position():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"src_out_fan": rng.poisson(1, 3000).astype(float), "noise": rng.normal(size=3000),
                      "src_in_count": rng.poisson(3, 3000).astype(float)})  # fmt: skip
    y = X["src_out_fan"] >= 3
    m = SupervisedScorer(random_state=0).fit(X, y)
    row = pd.DataFrame({"src_out_fan": [9.0], "noise": [0.0], "src_in_count": [3.0]})
    e = explain(m, row, top=2)
    top = e.iloc[0]
    assert top["feature"] == "src_out_fan" and top["rank"] == 1 and top["contribution"] > 1 and top["share"] > 0.5
    assert top["peer_percentile"] > 99 and top["peer_z"] > 3 and top["peer_group"] == "light"
    assert explain(m, row.iloc[:0]).empty


# ----------------------------------------------------------------- trained models and alerts


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    fast = HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0)
    model = train_model(b, kind="gbt", settings=FeatureSettings(window_hours=240), estimator=fast)
    return b, model, model.save(tmp_path_factory.mktemp("m") / "amlsim.fmm")


def test_train_model_reports_a_time_ordered_split(model_file):
    b, model, _ = model_file
    m = model.metrics
    n = b.transactions.num_rows
    assert sum(m["rows"].values()) == n and m["rows"]["train"] == round(0.6 * n)
    assert m["validation"]["f1"] > 0.5 and m["test"]["f1"] > 0.5
    assert model.training_window[0] < model.training_window[1] <= m["test_window"][0]
    assert model.rule_id == "AN-GBT" and model.feature_names == list(transaction_features(b.transactions.slice(0, 5)).columns)


def test_save_and_load_round_trip(model_file, tmp_path):
    b, model, path = model_file
    again = load_model(path)
    assert again.settings == model.settings and again.feature_names == model.feature_names
    assert again.training_window == model.training_window and again.threshold == model.threshold
    X = again.features(b)
    assert np.array_equal(again.scorer.score_samples(X), model.scorer.score_samples(X))
    with pytest.raises(fm.InputError, match="not found"):
        load_model(tmp_path / "missing.fmm")
    junk = tmp_path / "junk.fmm"
    junk.write_text("not a model")
    with pytest.raises(fm.InputError, match="not a followmoney model"):
        load_model(junk)


def test_a_model_file_never_runs_code(model_file, tmp_path):
    """A pickle (the old format) or a skops payload naming other types is refused unread."""
    import pickle
    import zipfile
    from pathlib import Path

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    old = tmp_path / "old.fmm"
    old.write_bytes(pickle.dumps({"format": "followmoney-model", "format_version": 1, "scorer": Evil()}))
    with pytest.raises(fm.InputError, match="not a followmoney model"):
        load_model(old)
    # a well-formed header around a scorer that names a type outside the allow-list
    import skops.io as sio
    from collections import Counter

    _, _, good = model_file
    crafted = tmp_path / "crafted.fmm"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(crafted, "w") as out:
        out.writestr("followmoney-model.json", z.read("followmoney-model.json"))
        out.writestr("scorer.skops", sio.dumps(Counter(a=1)))
    with pytest.raises(fm.InputError, match="outside the allow-list"):
        load_model(crafted)
    assert not marker.exists()


def test_model_alerts_join_the_alert_table_and_cases(model_file):
    b, model, path = model_file
    alerts = model_alerts(b, path, fm.Config())
    assert alerts.schema.equals(schema.SCHEMAS["alerts"], check_metadata=False)
    assert alerts.num_rows > 0 and set(alerts["rule_id"].to_pylist()) == {"AN-GBT"}
    rows = alerts.to_pylist()
    known = set(b.transactions["txn_id"].to_pylist())
    for r in rows:
        assert set(r["evidence_txn_ids"]) <= known and r["evidence_count"] == len(r["evidence_txn_ids"])
        assert 0.5 <= r["score"] <= 1 and "threshold" in r["explanation"]
        assert len(r["evidence_source_refs"]) == r["evidence_count"]
    assert any("Features that most raised the score" in r["explanation"] for r in rows)
    assert json.loads(rows[0]["params"])["threshold"] == round(model.threshold, 6)
    # deterministic, and mergeable with the rules' alerts into one case table
    assert model_alerts(b, path)["alert_id"].to_pylist() == alerts["alert_id"].to_pylist()
    rules = fm.score(b)
    merged = pa.concat_tables([rules, alerts.cast(rules.schema)])
    cases = fm.build_cases(merged)
    assert "AN-GBT" in {r for rs in cases["rules"].to_pylist() for r in rs}
    assert model_alerts(b, path, fm.Config(disabled_rules=("AN-GBT",))).num_rows == 0


def test_model_alerts_from_an_unsupervised_model(tmp_path):
    b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    model = train_model(b, kind="iforest")
    assert isinstance(model, TrainedModel) and model.rule_id == "AN-IF"
    alerts = model_alerts(b, model)
    assert set(alerts["rule_id"].to_pylist()) <= {"AN-IF"} and alerts.num_rows > 0


def test_train_model_needs_labels_for_gbt():
    b = fm.read(fm.sample_data_path() / "amlsim" / "transactions.csv")
    unlabelled = b.transactions.drop_columns(["is_laundering"])
    with pytest.raises(ValueError, match="labelled"):
        train_model(unlabelled)
    with pytest.raises(ValueError, match="kind"):
        train_model(b, kind="svm")


# ----------------------------------------------------------------- CLI


def test_cli_train_writes_a_model_usable_for_alerts(tmp_path):
    sample = fm.sample_data_path() / "amlsim" / "transactions.csv"
    out = tmp_path / "model.fmm"
    r = CliRunner().invoke(main, ["train", str(sample), "--out", str(out), "--window-hours", "240"])
    assert r.exit_code == 0, r.output
    assert "AN-GBT" in r.output and "validation" in r.output and out.is_file()
    m = load_model(out)
    assert m.settings.window_hours == 240 and m.metrics["rows"]["test"] > 0
    assert model_alerts(fm.read(sample), out).num_rows > 0
    # score --model: the model's alerts join the rules' alerts and the cases
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["score", str(sample), "--model", str(out), "--out", str(run), "-q"])
    assert r.exit_code == 0, r.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["alerts_per_rule"].get("AN-GBT", 0) > 0
    cases = pq.read_table(run / "cases.parquet").to_pylist()
    assert any("AN-GBT" in c["rules"] for c in cases)
    r = CliRunner().invoke(main, ["train", str(sample), "--out", str(tmp_path / "if.fmm"), "--model", "iforest", "-q"])
    assert r.exit_code == 0 and r.output == "" and load_model(tmp_path / "if.fmm").rule_id == "AN-IF"


def test_cli_train_errors(tmp_path):
    sample = fm.sample_data_path() / "amlsim" / "transactions.csv"
    r = CliRunner().invoke(main, ["train", str(fm.sample_data_path() / "goaml"), "--out", str(tmp_path / "m.fmm")])
    assert r.exit_code == 2 and "labelled" in r.output
    r = CliRunner().invoke(main, ["train", str(sample), "--out", str(tmp_path / "m.fmm"), "--validation-fraction", "0.6",
                                  "--test-fraction", "0.5"])  # fmt: skip
    assert r.exit_code == 2 and "below 1" in r.output
    r = CliRunner().invoke(main, ["train", str(sample), "--out", str(tmp_path / "m.fmm"), "--jurisdiction", "XX"])
    assert r.exit_code == 3
