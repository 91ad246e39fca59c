"""Conformance tests: every registered model family on every problem type, on tiny native frames."""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit, softmax

from mlpilot.errors import ArtifactError
from mlpilot.tasks.tabular.models import MODEL_FAMILIES, get_model_class, register
from mlpilot.tasks.tabular.models.base import (
    BINARY,
    MULTICLASS,
    PROBLEM_TYPES,
    REGRESSION,
    ModelUnavailable,
    TabularModel,
    predict_bag,
)
from mlpilot.tasks.tabular.models.portfolio import LEARNED_ORDER, Candidate, default_portfolio
from mlpilot.tasks.tabular.models.sklearn_models import expand_proba

# Small iteration counts keep the whole file fast; early stopping still runs on the validation frame.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 60, "learning_rate": 0.1, "min_data_in_leaf": 5},
    "xgboost": {"n_estimators": 60, "learning_rate": 0.1},
    "catboost": {"n_estimators": 60, "learning_rate": 0.1, "depth": 4},
    "extra_trees": {"n_estimators": 30},
    "random_forest": {"n_estimators": 30},
    "linear": {},
    "knn": {},
    "neural_net": {"max_epochs": 20, "hidden_sizes": [32, 16], "patience": 5},
}
# Budgets far beyond what 0.5 s allows: only the deadline can end these fits in time.
HUGE_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 100_000, "early_stopping_rounds": 100_000},
    "xgboost": {"n_estimators": 100_000, "early_stopping_rounds": 100_000},
    "catboost": {"n_estimators": 100_000, "early_stopping_rounds": 100_000},
    "extra_trees": {"n_estimators": 100_000},
    "random_forest": {"n_estimators": 100_000},
    "linear": {},
    "knn": {},
    "neural_net": {"max_epochs": 100_000, "patience": 100_000},
}
N_CLASSES = {BINARY: 2, MULTICLASS: 3, REGRESSION: 0}
EXPECTED_PRIORITIES = {
    "lightgbm": 100,
    "catboost": 90,
    "xgboost": 85,
    "extra_trees": 60,
    "random_forest": 55,
    "neural_net": 50,
    "linear": 40,
    "knn": 20,
}
SKOPS_FAMILIES = ("extra_trees", "random_forest", "linear", "knn")
CASES = [(key, pt) for key in MODEL_FAMILIES for pt in PROBLEM_TYPES]


def make_frame(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A native frame (float64 with NaN + fixed categories) and an easy target per problem type."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(4)})
    X.loc[rng.random(n) < 0.1, "x0"] = np.nan
    X.loc[rng.random(n) < 0.05, "x3"] = np.nan
    X["c1"] = pd.Categorical(rng.choice(["a", "b", "c", "d", None], size=n), categories=["a", "b", "c", "d"])
    X["c2"] = pd.Categorical(rng.choice(["u", "v"], size=n), categories=["u", "v", "w"])
    signal = 1.5 * X["x1"].to_numpy() - X["x2"].to_numpy() + 1.5 * (X["c1"] == "a").to_numpy()
    noisy = signal + 0.3 * rng.normal(size=n)
    targets = {
        BINARY: (noisy > 0.3).astype(np.int64),
        MULTICLASS: np.digitize(noisy, [-0.5, 0.8]).astype(np.int64),
        REGRESSION: noisy.astype(np.float64),
    }
    return X, targets


TRAIN, TRAIN_Y = make_frame(300, seed=1)
VALID, VALID_Y = make_frame(150, seed=2)
TEST, TEST_Y = make_frame(200, seed=3)


def skip_without_library(key: str) -> None:
    if key == "neural_net":
        pytest.importorskip("torch")


def new_model(key: str, problem_type: str, params: dict[str, Any] | None = None, *, n_threads: int = 2) -> TabularModel:
    skip_without_library(key)
    return get_model_class(key)(
        problem_type=problem_type,
        n_classes=N_CLASSES[problem_type],
        params=FAST_PARAMS[key] if params is None else params,
        seed=0,
        n_threads=n_threads,
    )


@functools.cache
def fitted(key: str, problem_type: str) -> TabularModel:
    """One fit per case, shared by the tests that only read the model."""
    model = new_model(key, problem_type)
    out = model.fit(TRAIN, TRAIN_Y[problem_type], X_val=VALID, y_val=VALID_Y[problem_type])
    assert out is model
    return model


def score(problem_type: str, y: np.ndarray, pred: np.ndarray) -> float:
    """Log loss for classification, mean squared error for regression (lower is better)."""
    if problem_type == REGRESSION:
        return float(np.mean((y - pred) ** 2))
    return float(-np.mean(np.log(np.clip(pred[np.arange(len(y)), y], 1e-15, 1.0))))


# ------------------------------------------------------------------------------- conformance
@pytest.mark.parametrize(("key", "problem_type"), CASES)
def test_predictions_are_well_formed_and_useful(key: str, problem_type: str) -> None:
    model = fitted(key, problem_type)
    pred = model.predict(TEST)
    y = TEST_Y[problem_type]
    if problem_type == REGRESSION:
        assert pred.shape == (len(TEST),)
        constant = np.full(len(y), TRAIN_Y[problem_type].mean())
    else:
        assert pred.shape == (len(TEST), N_CLASSES[problem_type])
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-6)
        assert (pred >= 0).all()
        prior = np.bincount(TRAIN_Y[problem_type], minlength=N_CLASSES[problem_type]) / len(TRAIN)
        constant = np.tile(prior, (len(y), 1))
    assert np.isfinite(pred).all()
    assert score(problem_type, y, pred) < 0.8 * score(problem_type, y, constant)
    assert model.n_iterations_ is not None and model.n_iterations_ >= 1
    assert model.fit_time_ is not None


@pytest.mark.parametrize(("key", "problem_type"), CASES)
def test_single_row_and_missing_categories(key: str, problem_type: str) -> None:
    model = fitted(key, problem_type)
    batch = model.predict(TEST)
    single = model.predict(TEST.iloc[[7]])
    np.testing.assert_allclose(single[0], batch[7], rtol=1e-6, atol=1e-9)
    unseen = TEST.copy()
    unseen["c1"] = pd.Categorical([None] * len(TEST), categories=TEST["c1"].cat.categories)
    unseen["c2"] = pd.Categorical(["w"] * len(TEST), categories=TEST["c2"].cat.categories)  # never trained on
    assert np.isfinite(model.predict(unseen)).all()


@pytest.mark.parametrize(("key", "problem_type"), CASES)
def test_save_load_roundtrip(key: str, problem_type: str, tmp_path: Path) -> None:
    model = fitted(key, problem_type)
    model.save(tmp_path)
    loaded = get_model_class(key).load(tmp_path, n_threads=1)
    assert type(loaded) is type(model)
    assert loaded.n_iterations_ == model.n_iterations_
    np.testing.assert_array_equal(loaded.predict(TEST), model.predict(TEST))
    if model.can_explain:
        np.testing.assert_allclose(loaded.contributions(TEST[:20]), model.contributions(TEST[:20]), atol=1e-9)


@pytest.mark.parametrize(("key", "problem_type"), CASES)
def test_deterministic_without_deadline(key: str, problem_type: str) -> None:
    first = fitted(key, problem_type)
    second = new_model(key, problem_type).fit(TRAIN, TRAIN_Y[problem_type], X_val=VALID, y_val=VALID_Y[problem_type])
    np.testing.assert_array_equal(first.predict(TEST), second.predict(TEST))


@pytest.mark.parametrize(("key", "problem_type"), [c for c in CASES if MODEL_FAMILIES[c[0]].can_explain])
def test_contributions_sum_to_raw_margin(key: str, problem_type: str) -> None:
    model = fitted(key, problem_type)
    rows = TEST[:50]
    contrib = model.contributions(rows)
    n_features = TEST.shape[1]
    pred = model.predict(rows)
    if problem_type == MULTICLASS:
        assert contrib.shape == (len(rows), N_CLASSES[problem_type], n_features + 1)
        np.testing.assert_allclose(softmax(contrib.sum(axis=2), axis=1), pred, atol=1e-5)
    else:
        assert contrib.shape == (len(rows), n_features + 1)
        margin = pred if problem_type == REGRESSION else logit(np.clip(pred[:, 1], 1e-15, 1 - 1e-15))
        np.testing.assert_allclose(contrib.sum(axis=1), margin, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("key", list(MODEL_FAMILIES))
def test_time_limit_is_respected(key: str) -> None:
    X, targets = make_frame(20_000, seed=4)
    X_val, val_targets = make_frame(2_000, seed=5)
    # One thread: spinning OpenMP workers on a busy 2-core CI box would make single rounds slow.
    model = new_model(key, MULTICLASS, params=HUGE_PARAMS[key], n_threads=1)
    start = time.perf_counter()
    model.fit(X, targets[MULTICLASS], X_val=X_val, y_val=val_targets[MULTICLASS], time_limit=0.5)
    assert time.perf_counter() - start < 2.0
    assert model.predict(X_val[:5]).shape == (5, 3)
    # Round-by-round learners say the limit ended them; the others finish or stop by their own plan.
    assert model.hit_time_limit_ is MODEL_FAMILIES[key].stops_at_deadline


@pytest.mark.parametrize(("key", "problem_type"), CASES)
def test_a_fit_that_converged_was_not_cut_short(key: str, problem_type: str) -> None:
    model = new_model(key, problem_type)
    model.fit(TRAIN, TRAIN_Y[problem_type], X_val=VALID, y_val=VALID_Y[problem_type], time_limit=60)
    assert model.hit_time_limit_ is False


RESUMABLE_CASES = [c for c in CASES if MODEL_FAMILIES[c[0]].resumable]


def test_the_boosted_families_can_resume_training() -> None:
    assert {key for key, _ in RESUMABLE_CASES} == {"lightgbm", "xgboost", "catboost"}
    with pytest.raises(NotImplementedError, match="cannot resume"):
        fitted("linear", BINARY).resume(TRAIN, TRAIN_Y[BINARY], X_val=VALID, y_val=VALID_Y[BINARY])


@pytest.mark.parametrize(("key", "problem_type"), RESUMABLE_CASES)
def test_a_fit_cut_short_resumes_from_its_last_round(key: str, problem_type: str, tmp_path: Path) -> None:
    y, y_val = TRAIN_Y[problem_type], VALID_Y[problem_type]
    model = new_model(key, problem_type)
    model.fit(TRAIN, y, X_val=VALID, y_val=y_val, time_limit=0.0)  # the deadline ends it after one round
    assert model.hit_time_limit_ and model.n_iterations_ == 1
    first_seconds, cut_loss = model.fit_time_, score(problem_type, y_val, model.predict(VALID))
    assert model.resume(TRAIN, y, X_val=VALID, y_val=y_val, time_limit=60) is model
    assert not model.hit_time_limit_
    assert 1 < model.n_iterations_ <= FAST_PARAMS[key]["n_estimators"]  # the cap counts the rounds kept
    assert model.fit_time_ > first_seconds  # the time of both fits
    assert score(problem_type, y_val, model.predict(VALID)) < 0.8 * cut_loss
    model.save(tmp_path / "m")
    loaded = get_model_class(key).load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(TEST), model.predict(TEST), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------- out of bag
OUT_OF_BAG_PARAMS: dict[str, dict[str, Any]] = {"extra_trees": {"n_estimators": 60},
                                                "random_forest": {"n_estimators": 60}, "knn": {}}
FORESTS = ("extra_trees", "random_forest")


def test_every_out_of_bag_family_is_tested() -> None:
    assert {key for key, cls in MODEL_FAMILIES.items() if cls.out_of_bag} == set(OUT_OF_BAG_PARAMS)


@pytest.mark.parametrize("key", sorted(OUT_OF_BAG_PARAMS))
@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_out_of_bag_predictions_are_held_out(key: str, problem_type: str, tmp_path: Path) -> None:
    y = TRAIN_Y[problem_type]
    params = {**OUT_OF_BAG_PARAMS[key], "out_of_bag": True}
    model = new_model(key, problem_type, params=params).fit(TRAIN, y)
    oob = model.oob_predictions_
    assert oob is not None and not np.isnan(oob).any()
    assert oob.shape == (len(TRAIN),) if problem_type == REGRESSION else (len(TRAIN), N_CLASSES[problem_type])
    in_sample = score(problem_type, y, model.predict(TRAIN))
    held_out = score(problem_type, TEST_Y[problem_type], model.predict(TEST))
    # Out of bag behaves like unseen rows, far from the (near-perfect) fit on rows the trees saw.
    assert score(problem_type, y, oob) > 2 * in_sample
    assert score(problem_type, y, oob) == pytest.approx(held_out, rel=0.6)
    model.save(tmp_path)  # the per-row out-of-bag arrays are not part of the saved model
    reloaded = get_model_class(key).load(tmp_path)
    assert not hasattr(reloaded.estimator_, "oob_decision_function_")
    np.testing.assert_array_equal(reloaded.predict(TEST), model.predict(TEST))


@pytest.mark.parametrize("key", FORESTS)
def test_out_of_bag_pass_stays_within_the_time_limit(key: str) -> None:
    X, targets = make_frame(20_000, seed=4)
    model = new_model(key, MULTICLASS, params={**HUGE_PARAMS[key], "out_of_bag": True}, n_threads=1)
    start = time.perf_counter()
    model.fit(X, targets[MULTICLASS], time_limit=1.0)
    assert time.perf_counter() - start < 2.5
    assert model.oob_predictions_.shape == (20_000, 3)


@pytest.mark.parametrize("key", FORESTS)
def test_forest_stops_adding_trees_at_its_memory_cap(key: str) -> None:
    from mlpilot.tasks.tabular.models.sklearn_models import forest_bytes

    X, targets = make_frame(3_000, seed=5)
    capped = new_model(key, REGRESSION, params={"n_estimators": 200, "max_model_mb": 1}).fit(X, targets[REGRESSION])
    trees = len(capped.estimator_.estimators_)
    per_tree = forest_bytes(capped.estimator_) / trees
    assert 2 <= trees < 200
    assert forest_bytes(capped.estimator_) <= 2**20 + per_tree  # within one tree of the cap
    uncapped = new_model(key, REGRESSION, params={"n_estimators": 40, "max_model_mb": None}).fit(X, targets[REGRESSION])
    assert len(uncapped.estimator_.estimators_) == 40 and forest_bytes(uncapped.estimator_) > 2**20


def test_plain_forest_sets_no_out_of_bag_predictions() -> None:
    assert fitted("extra_trees", BINARY).oob_predictions_ is None
    assert fitted("knn", BINARY).oob_predictions_ is None


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
@pytest.mark.parametrize("weights", ["distance", "uniform"])
def test_knn_leave_one_out_matches_refits_without_each_row(problem_type: str, weights: str) -> None:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    X, y = TRAIN.iloc[:80].copy(), TRAIN_Y[problem_type][:80]
    X.iloc[1] = X.iloc[0]  # a duplicate row: its leave-one-out neighbour at distance 0 decides alone
    params = {"n_neighbors": 5, "weights": weights, "out_of_bag": True}
    model = new_model("knn", problem_type, params=params).fit(X, y)
    design = model.estimator_[:-1].transform(model._matrix(X))
    cls = KNeighborsRegressor if problem_type == REGRESSION else KNeighborsClassifier
    for row in range(len(X)):
        others = np.delete(np.arange(len(X)), row)
        alone = cls(n_neighbors=5, weights=weights).fit(design[others], y[others])
        expected = alone.predict(design[[row]]) if problem_type == REGRESSION else expand_proba(
            alone.predict_proba(design[[row]]), classes=alone.classes_, n_classes=N_CLASSES[problem_type])
        np.testing.assert_allclose(model.oob_predictions_[row], expected[0], rtol=1e-9, atol=1e-12)


def test_knn_leave_one_out_on_a_subsample_predicts_the_rows_left_out() -> None:
    y = TRAIN_Y[BINARY]
    model = new_model("knn", BINARY, params={"max_train_rows": 50, "out_of_bag": True}).fit(TRAIN, y)
    kept = model._training_rows(len(TRAIN), model.resolve_params(model.params))
    left_out = np.setdiff1d(np.arange(len(TRAIN)), kept)
    np.testing.assert_allclose(model.oob_predictions_[left_out], model.predict(TRAIN.iloc[left_out]))
    assert not np.isnan(model.oob_predictions_).any()


def test_skops_import_does_not_import_torch() -> None:
    pytest.importorskip("torch")
    import subprocess

    code = ("import sys; from mlpilot.tasks.tabular.models.sklearn_models import _skops_io; _skops_io(); "
            "print('torch' in sys.modules); import sklearn.externals.array_api_compat.torch; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]  # not imported by skops, still importable afterwards


# ------------------------------------------------------------------------------------ skops
class _Untrusted:
    """Stands in for anything a tampered artifact could smuggle in."""

    def __init__(self) -> None:
        self.payload = "not a model"


@pytest.mark.parametrize(("key", "problem_type"), [c for c in CASES if c[0] in SKOPS_FAMILIES])
def test_trusted_types_cover_every_skops_family(key: str, problem_type: str, tmp_path: Path) -> None:
    import skops.io as sio

    from mlpilot.tasks.tabular.models.sklearn_models import TRUSTED_TYPES

    fitted(key, problem_type).save(tmp_path)
    for file in tmp_path.glob("*.skops"):  # a forest's trees files too
        assert set(sio.get_untrusted_types(file=file)) <= set(TRUSTED_TYPES)


@pytest.mark.parametrize("p", [1, 3])
def test_trusted_types_cover_knn_metrics(p: int, tmp_path: Path) -> None:
    model = new_model("knn", BINARY, params={"p": p}).fit(TRAIN, TRAIN_Y[BINARY])
    model.save(tmp_path)
    get_model_class("knn").load(tmp_path)


@pytest.mark.parametrize("file", ["model.skops", "trees_1.skops"])
def test_tampered_skops_file_is_refused(file: str, tmp_path: Path) -> None:
    import skops.io as sio

    fitted("random_forest", BINARY).save(tmp_path)
    sio.dump(_Untrusted(), tmp_path / file)
    with pytest.raises(ArtifactError, match="not trusted"):
        get_model_class("random_forest").load(tmp_path)


@pytest.mark.parametrize("key", FORESTS)
def test_forest_saves_its_trees_in_small_files_and_still_reads_one_file_runs(key: str, tmp_path: Path) -> None:
    from mlpilot.tasks.tabular.models.sklearn_models import _TREES_PER_FILE, dump_estimator

    model = new_model(key, MULTICLASS, params={"n_estimators": 2 * _TREES_PER_FILE + 3}).fit(TRAIN, TRAIN_Y[MULTICLASS])
    expected = model.predict(TEST)
    model.save(tmp_path / "new")
    assert sorted(f.name for f in (tmp_path / "new").glob("trees_*.skops")) == [
        "trees_0.skops", "trees_1.skops", "trees_2.skops"]
    assert len(model.estimator_.estimators_) == 2 * _TREES_PER_FILE + 3  # saving leaves the model whole
    np.testing.assert_array_equal(get_model_class(key).load(tmp_path / "new").predict(TEST), expected)
    # A run saved before the trees had files of their own: every tree in model.skops.
    old = tmp_path / "old"
    old.mkdir()
    for name in ("info.json", "columns.json"):
        (old / name).write_bytes((tmp_path / "new" / name).read_bytes())
    meta = json.loads((old / "columns.json").read_text())
    (old / "columns.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "tree_files"}))
    dump_estimator(model.estimator_, old / "model.skops")
    np.testing.assert_array_equal(get_model_class(key).load(old).predict(TEST), expected)


# ------------------------------------------------------------------------- registry & params
def test_registry_keys_and_priorities() -> None:
    assert {key: cls.priority for key, cls in MODEL_FAMILIES.items()} == EXPECTED_PRIORITIES
    assert all(cls.key == key for key, cls in MODEL_FAMILIES.items())


def test_registry_rejects_duplicates_and_unknown_keys() -> None:
    class Duplicate(TabularModel):
        key = "lightgbm"
        name = "Another"
        priority = 1

    class Nameless(TabularModel):
        key = "nameless"
        priority = 1

    with pytest.raises(ValueError, match="already registered"):
        register(Duplicate)
    with pytest.raises(TypeError, match="name"):
        register(Nameless)
    with pytest.raises(KeyError, match="lightgbm"):
        get_model_class("no_such_family")


@pytest.mark.parametrize("key", list(MODEL_FAMILIES))
def test_unknown_param_is_rejected(key: str) -> None:
    skip_without_library(key)
    with pytest.raises(ValueError, match="valid"):
        get_model_class(key)(problem_type=BINARY, n_classes=2, params={"no_such_param": 1})


@pytest.mark.parametrize("key", list(MODEL_FAMILIES))
def test_memory_estimate_grows_with_data(key: str) -> None:
    cls = get_model_class(key)
    small = cls.estimate_memory(1_000, 10, cls.resolve_params({}))
    large = cls.estimate_memory(1_000_000, 10, cls.resolve_params({}))
    assert 0 < small < large


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_default_portfolio(problem_type: str) -> None:
    portfolio = default_portfolio(problem_type)
    assert 12 <= len(portfolio) <= 24
    assert all(isinstance(c, Candidate) for c in portfolio)
    assert len({c.name for c in portfolio}) == len(portfolio)
    # the learned order tries cheap, strong configurations first and leaves the costly forests for last
    assert {c.family for c in portfolio[:6]} >= {"lightgbm", "catboost", "xgboost"}
    assert portfolio[-1].family in {"random_forest", "extra_trees"}
    assert [c.name for c in portfolio] == [n for n in LEARNED_ORDER if n in {c.name for c in portfolio}]
    assert {c.family for c in portfolio} == set(MODEL_FAMILIES)
    for candidate in portfolio:
        get_model_class(candidate.family).resolve_params(candidate.params)  # raises on a bad param
    # the LightGBM configurations for noisy tables group few labels per split, with a class target only
    capped = {c.name for c in portfolio if c.params.get("max_cat_threshold") == 8}
    noisy = {"LightGBM_Regularized", "LightGBM_Small", "LightGBM_Stumps"}
    assert capped == (set() if problem_type == REGRESSION else noisy)


def test_neural_net_without_torch_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes ``import torch`` raise ImportError
    with pytest.raises(ModelUnavailable):
        get_model_class("neural_net")(problem_type=BINARY, n_classes=2)


@pytest.mark.parametrize("key", list(MODEL_FAMILIES))
def test_class_absent_from_training_still_gets_a_column(key: str, tmp_path: Path) -> None:
    y = np.minimum(TRAIN_Y[MULTICLASS], 1)  # class 2 of 3 never seen, as can happen in a small fold
    model = new_model(key, MULTICLASS).fit(TRAIN, y)
    pred = model.predict(TEST)
    assert pred.shape == (len(TEST), 3)
    np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-6)
    model.save(tmp_path)
    np.testing.assert_array_equal(get_model_class(key).load(tmp_path).predict(TEST), pred)
    if model.can_explain:
        assert model.contributions(TEST[:3]).shape == (3, 3, TEST.shape[1] + 1)


@pytest.mark.parametrize("key", ["lightgbm", "xgboost", "catboost", "linear", "knn"])
def test_a_bag_converts_its_input_once_per_shared_key(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    skip_without_library(key)
    models = [new_model(key, BINARY, params=FAST_PARAMS[key]) for _ in range(3)]
    for fold, model in enumerate(models):  # three folds of one split: every row is in one fold's validation
        rows = np.arange(len(TRAIN)) % 3 != fold
        model.fit(TRAIN[rows], TRAIN_Y[BINARY][rows], X_val=TRAIN[~rows], y_val=TRAIN_Y[BINARY][~rows])
    _assert_one_conversion(models, monkeypatch, expected_conversions=1)


def test_pipelines_fitted_on_different_rows_convert_separately(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fold models saved before the preprocessor was fitted on the whole bag each have their own.
    models = [new_model("linear", BINARY) for _ in range(3)]
    for fold, model in enumerate(models):
        rows = np.arange(len(TRAIN)) % 3 != fold
        model.fit(TRAIN[rows], TRAIN_Y[BINARY][rows])
    _assert_one_conversion(models, monkeypatch, expected_conversions=3)


def test_a_reloaded_pipeline_bag_still_shares_its_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for fold in range(3):
        rows = np.arange(len(TRAIN)) % 3 != fold
        model = new_model("linear", MULTICLASS)
        model.fit(TRAIN[rows], TRAIN_Y[MULTICLASS][rows], X_val=TRAIN[~rows], y_val=TRAIN_Y[MULTICLASS][~rows])
        model.save(tmp_path / f"fold_{fold}")
    _assert_one_conversion(get_model_class("linear").load_folds(tmp_path, 3), monkeypatch, expected_conversions=1)


def _assert_one_conversion(models: list[TabularModel], monkeypatch: pytest.MonkeyPatch, *,
                           expected_conversions: int) -> None:
    """``predict_bag`` equals the fold models' mean, converting the input ``expected_conversions`` times."""
    expected = np.mean([m.predict(TEST) for m in models], axis=0)
    conversions = []
    original = type(models[0]).native_input
    monkeypatch.setattr(type(models[0]), "native_input", lambda self, X: conversions.append(1) or original(self, X))
    np.testing.assert_allclose(predict_bag(models, TEST), expected, rtol=1e-12)
    assert len(conversions) == expected_conversions


def test_loading_with_threads_parallelises_only_the_final_estimator(tmp_path: Path) -> None:
    model = fitted("knn", BINARY)
    model.save(tmp_path)
    reloaded = get_model_class("knn").load(tmp_path, n_threads=2)
    prep, final = reloaded.estimator_.steps[0][1], reloaded.estimator_.steps[-1][1]
    assert final.n_jobs == 2
    assert prep.n_jobs in (None, 1)  # a joblib pool per call would cost more than the transform


def test_fitted_catboost_models_hold_their_trees_only() -> None:
    # A run keeps dozens of CatBoost fold models; the object CatBoost returns from fit also holds its
    # training state (catboost/catboost#2827), several MB each on a few thousand rows.
    import psutil

    X, targets = make_frame(6000, seed=5)
    y = targets[BINARY]
    process = psutil.Process()
    new_model("catboost", BINARY).fit(X, y, X_val=VALID, y_val=VALID_Y[BINARY])  # library warm-up
    before = process.memory_info().rss
    params = {"n_estimators": 300, "learning_rate": 0.1, "depth": 4}
    kept = [new_model("catboost", BINARY, params).fit(X, y, X_val=VALID, y_val=VALID_Y[BINARY]) for _ in range(8)]
    grown_mb = (process.memory_info().rss - before) / 2**20
    assert all(m.n_iterations_ > 100 for m in kept)
    # Measured: about 9 MB for the copies, about 40 MB for the objects fit returns.
    assert grown_mb < 20, f"8 fitted CatBoost models added {grown_mb:.0f} MB"


@pytest.mark.parametrize("key", ["lightgbm", "xgboost"])
def test_boosted_trees_predict_on_all_threads_once_the_work_pays_for_them(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Work is rows x trees: a single row stays on one thread (serving latency); 200 rows through a
    # 3-class model's trees use both, although 200 rows is far below the network's row threshold.
    model = fitted(key, MULTICLASS)
    threads_used: list[int] = []
    if key == "lightgbm":
        assert model.booster_.num_trees() >= 60
        predict = model.booster_.predict
        monkeypatch.setattr(model.booster_, "predict",
                            lambda data, **kw: threads_used.append(kw["num_threads"]) or predict(data, **kw))
    for rows in (1, 200):
        model.predict(TEST.iloc[:rows])
        if key == "xgboost":
            assert model.booster_.num_boosted_rounds() * 3 >= 60
            config = json.loads(model.booster_.save_config())
            threads_used.append(int(config["learner"]["generic_param"]["nthread"]))
    assert threads_used == [1, 2]


def test_xgboost_reads_an_all_numeric_frame_as_one_array_with_the_same_values() -> None:
    import xgboost as xgb

    numeric = TRAIN.drop(columns=["c1", "c2"])
    model = new_model("xgboost", REGRESSION).fit(numeric, TRAIN_Y[REGRESSION])
    test = TEST.drop(columns=["c1", "c2"])
    from_frame = model.booster_.predict(xgb.DMatrix(test, enable_categorical=True))
    np.testing.assert_allclose(model.predict(test), from_frame, rtol=1e-6)
    assert model.booster_.feature_names == list(numeric.columns)


def test_catboost_predicts_on_all_threads_once_the_work_pays_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    model = fitted("catboost", MULTICLASS)
    assert model.model_.tree_count_ >= 50  # 200 rows x 50 trees: enough work for a second thread
    threads_used: list[int] = []
    predict = model.model_.predict_proba
    monkeypatch.setattr(model.model_, "predict_proba",
                        lambda pool, **kw: threads_used.append(kw["thread_count"]) or predict(pool, **kw))
    for rows in (1, 200):
        model.predict(TEST.iloc[:rows])
    assert threads_used == [1, 2]


@pytest.mark.parametrize("key", ["random_forest", "extra_trees"])
def test_forests_use_their_threads_from_a_few_hundred_rows_with_the_same_sums(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlpilot.tasks.tabular.models import sklearn_models

    model = fitted(key, BINARY)  # two threads
    pools: list[int] = []
    pool_class = sklearn_models.ThreadPoolExecutor
    monkeypatch.setattr(sklearn_models, "ThreadPoolExecutor",
                        lambda max_workers: pools.append(max_workers) or pool_class(max_workers=max_workers))
    many = pd.concat([TEST] * 2, ignore_index=True)  # 400 rows
    few = model.predict(many.iloc[:5])
    assert pools == []  # five rows: no pool, whose threads would mostly wait on the GIL
    np.testing.assert_array_equal(model.predict(many)[:5], few)  # the trees summed in the same order
    assert pools == [2]


def test_knn_starts_no_joblib_pool_for_a_few_rows() -> None:
    model = fitted("knn", REGRESSION)  # two threads
    final = model.estimator_[-1]
    few = model.predict(TEST.iloc[:5])
    assert final.n_jobs == 1
    many = model.predict(pd.concat([TEST] * 5, ignore_index=True))  # 1,000 rows
    assert final.n_jobs == 2
    np.testing.assert_allclose(many[:5], few)


def _largest_category_group(tree: dict[str, Any]) -> int:
    """The most categories any categorical split of a dumped LightGBM tree sends to one side."""
    if "split_index" not in tree:
        return 0
    here = len(str(tree["threshold"]).split("||")) if tree["decision_type"] == "==" else 0
    return max(here, _largest_category_group(tree["left_child"]), _largest_category_group(tree["right_child"]))


@pytest.mark.parametrize(("cap", "expect_over_8"), [(None, True), (8, False)])
def test_lightgbm_caps_the_categories_grouped_by_one_split(cap: int | None, expect_over_8: bool) -> None:
    # 200 labels of 10 rows each, half of them positive: the best split groups far more than 8 labels.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(200), 10)
    X = pd.DataFrame({"label": pd.Categorical(labels.astype(str)), "x": rng.normal(size=len(labels))})
    y = ((labels % 2 == 0) ^ (rng.random(len(labels)) < 0.1)).astype(np.int64)
    params = {**FAST_PARAMS["lightgbm"], "min_data_per_group": 5, "cat_smooth": 1.0}
    if cap is not None:
        params["max_cat_threshold"] = cap
    model = new_model("lightgbm", BINARY, params).fit(X, y)
    largest = max(_largest_category_group(t["tree_structure"]) for t in model.booster_.dump_model()["tree_info"])
    assert (largest > 8) is expect_over_8
    assert largest <= (cap or 32)
