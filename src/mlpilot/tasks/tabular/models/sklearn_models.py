"""scikit-learn families: what they share (matrix conversion, skops persistence, trusted types) and the
forests, ExtraTrees and RandomForest. The pipeline families (linear, k-nearest neighbours) live in
:mod:`mlpilot.tasks.tabular.models.pipeline_models`.

Every family turns the native frame into one float matrix: numeric columns as they are (NaN kept),
categorical columns as their integer codes (missing/unseen = -1, its own value; stable because the
category lists are fixed at training time). The fitted estimator is persisted with skops and loaded
only against :data:`TRUSTED_TYPES`, an explicit list kept here rather than read from the artifact.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlpilot.errors import ArtifactError
from mlpilot.tasks.tabular.models.base import REGRESSION, TabularModel, constant_prediction, time_left

_MB = 1 << 20
_MODEL_FILE = "model.skops"
_COLUMNS_FILE = "columns.json"
# skops builds a whole file in memory, each array copied twice on the way: one file for a 70 MB
# forest peaked at 125 MB over the forest itself. Files of 25 trees keep that transient small.
_TREES_PER_FILE = 25
_TREE_CHUNK = 25  # trees added per warm-start step when a deadline applies
_NODE_BYTES = 64  # one scikit-learn tree node (children, feature, threshold, impurity, counts, NaN side)
# Below this many rows a forest predicts on one thread: each tree's call holds the GIL for its Python
# part, so with few rows the threads mostly wait on each other (a 300-tree forest on 2 cores: 100 rows
# took 8.8 ms on one thread and 15.1 on two; 300 rows 16.2 and 12.5; 1,000 rows 34.3 and 22.0).
_PARALLEL_FOREST_ROWS = 300

# Every type (beyond skops' own defaults) that a saved family may contain; anything else in a file
# means the file was not written by these families, so loading refuses it.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
)


_EXTREME = 1e30


def native_to_matrix(X: pd.DataFrame, *, columns: list[str], categorical: list[str]) -> np.ndarray:
    """Numeric columns as float64 (NaN kept), categorical columns as codes with -1 for missing."""
    out = np.empty((len(X), len(columns)), dtype=np.float64)
    cats = set(categorical)
    for j, column in enumerate(columns):
        series = X[column]
        out[:, j] = series.cat.codes.to_numpy() if column in cats else series.to_numpy(dtype=np.float64)
    # Finite values near the float maximum overflow scaling (squares) and scikit-learn's float32 trees;
    # beyond ±1e30 no real measurement differs in a way these models can use. NaN stays NaN.
    return np.clip(out, -_EXTREME, _EXTREME, out=out)


def expand_proba(proba: np.ndarray, *, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Place the columns of the classes seen in training into all ``n_classes`` columns."""
    if proba.shape[1] == n_classes:
        return proba
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float64)
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out


# scikit-learn's vendored array-API wrapper for torch: importing it imports torch.
_SKLEARN_TORCH_WRAPPER = "sklearn.externals.array_api_compat.torch"


def _skops_io() -> Any:
    """``skops.io``, imported without importing torch as a side effect.

    Importing skops.io lists scikit-learn's estimators by walking all of scikit-learn's packages, and
    the walk imports the vendored array-API wrapper for torch, which imports torch when it is
    installed: about 200 MB more resident memory and seconds of import in a run that may never
    train the neural network. A ``None`` entry in ``sys.modules`` makes that one import fail, which
    the walk ignores (the estimator list skips scikit-learn's ``externals`` anyway); the entry is
    removed right after, so a later real import of the wrapper works as usual.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or _SKLEARN_TORCH_WRAPPER in sys.modules:
        import skops.io

        return skops.io
    sys.modules[_SKLEARN_TORCH_WRAPPER] = None  # type: ignore[assignment]
    try:
        import skops.io
    finally:
        del sys.modules[_SKLEARN_TORCH_WRAPPER]
    return skops.io


def dump_estimator(estimator: Any, path: Path) -> None:
    _skops_io().dump(estimator, path)


def load_estimator(path: Path) -> Any:
    """Load a skops file that may contain only :data:`TRUSTED_TYPES`; raise ``ArtifactError`` else."""
    sio = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        raise ArtifactError(f"Refusing to load {path}: it holds types that are not trusted ({exc}).") from exc


class _SklearnBase(TabularModel):
    """Column bookkeeping and skops persistence shared by the scikit-learn families."""

    def _remember_columns(self, X: pd.DataFrame) -> None:
        self.features_: list[str] = [str(c) for c in X.columns]
        self.categorical_: list[str] = [str(c) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return native_to_matrix(X, columns=self.features_, categorical=self.categorical_)

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self._matrix(X))

    def _predict_matrix(self, data: np.ndarray, estimator: Any = None) -> np.ndarray:
        """``estimator``'s (the fitted estimator by default) predictions on ``data``, classes expanded."""
        estimator = self.estimator_ if estimator is None else estimator
        if self.problem_type == REGRESSION:
            return estimator.predict(data)
        return expand_proba(estimator.predict_proba(data), classes=estimator.classes_, n_classes=self.n_classes)

    def _constant_prediction(self, y: np.ndarray, n_rows: int) -> np.ndarray:
        return constant_prediction(y, n_rows, problem_type=self.problem_type, n_classes=self.n_classes)

    def _save(self, directory: Path) -> None:
        self._save_estimator(self.estimator_, directory)

    def _save_estimator(self, estimator: Any, directory: Path, **meta: Any) -> None:
        dump_estimator(estimator, directory / _MODEL_FILE)
        meta = {"features": self.features_, "categorical": self.categorical_, **meta}
        (directory / _COLUMNS_FILE).write_text(json.dumps(meta, indent=2))

    def _load(self, directory: Path) -> None:
        meta = json.loads((directory / _COLUMNS_FILE).read_text())
        self.features_, self.categorical_ = list(meta["features"]), list(meta["categorical"])
        self.estimator_ = self._load_estimator(directory, meta)
        self._set_threads(self.estimator_)

    def _load_estimator(self, directory: Path, meta: dict[str, Any]) -> Any:
        """What :meth:`_save_estimator` wrote, read back (``meta``: its ``columns.json``)."""
        return load_estimator(directory / _MODEL_FILE)

    def _set_threads(self, estimator: Any) -> None:
        # The final estimator only: a ColumnTransformer given n_jobs > 1 runs its two small encoders
        # in a joblib pool, which costs about 10 ms per call, several times the transform itself.
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        if "n_jobs" in final.get_params(deep=False):
            final.set_params(n_jobs=self.n_threads)


# ------------------------------------------------------------------------------------------ forests
class _ForestBase(_SklearnBase):
    """Forests grown with ``warm_start`` in chunks of trees until ``n_estimators`` or the deadline.

    Params: ``n_estimators``, ``max_features`` ("auto" = "sqrt" for classification, 1.0 for
    regression; or "sqrt", "log2", a fraction, a count), ``min_samples_leaf``, ``max_depth``,
    ``max_leaf_nodes``, ``criterion`` ("auto" = gini / squared_error), ``bootstrap``,
    ``max_samples``, ``out_of_bag`` (bootstrap, and keep each row's prediction from the trees that
    did not see it in ``oob_predictions_``: the trainer's validation under k-fold, as AutoGluon's
    forests), ``max_model_mb`` (stop adding trees once the forest holds this much: fully grown
    trees on tens of thousands of rows take 2 MB each, so 300 of them made one regression forest
    620 MB in memory and on disk; the next trees add little accuracy). NaN is handled natively by
    the trees. Files: ``model.skops`` (the forest without its trees), ``trees_<i>.skops``,
    ``columns.json``.
    """

    out_of_bag: ClassVar[bool] = True
    _bootstrap_default: ClassVar[bool] = True

    def _estimator(self, p: dict[str, Any]) -> Any:
        from sklearn.ensemble import (
            ExtraTreesClassifier,
            ExtraTreesRegressor,
            RandomForestClassifier,
            RandomForestRegressor,
        )

        extra = self.key == "extra_trees"
        if self.problem_type == REGRESSION:
            cls = ExtraTreesRegressor if extra else RandomForestRegressor
        else:
            cls = ExtraTreesClassifier if extra else RandomForestClassifier
        regression = self.problem_type == REGRESSION
        auto_features, auto_criterion = (1.0, "squared_error") if regression else ("sqrt", "gini")
        max_features = auto_features if p["max_features"] == "auto" else p["max_features"]
        criterion = auto_criterion if p["criterion"] == "auto" else p["criterion"]
        bootstrap = bool(p["bootstrap"] or p["out_of_bag"])
        return cls(
            n_estimators=1,
            max_features=max_features,
            criterion=criterion,
            min_samples_leaf=p["min_samples_leaf"],
            max_depth=p["max_depth"],
            max_leaf_nodes=p["max_leaf_nodes"],
            bootstrap=bootstrap,
            max_samples=p["max_samples"] if bootstrap else None,
            n_jobs=self.n_threads,
            random_state=self.seed,
            warm_start=True,
        )

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        p = self.resolve_params(self.params)
        self._remember_columns(X)
        data = self._matrix(X).astype(np.float32)  # the trees work in float32 anyway: convert once
        estimator = self._estimator(p)
        # The out-of-bag pass after growing predicts every tree on the rows it did not draw (about a
        # third): time kept back for it so the fit still ends by the deadline.
        self.estimator_ = _grow_forest(
            estimator, data, y, n_total=int(p["n_estimators"]), deadline=deadline, n_threads=self.n_threads,
            time_fraction=0.75 if p["out_of_bag"] else 0.9,
            max_bytes=p["max_model_mb"] * _MB if p["max_model_mb"] else None,
        )
        self.n_iterations_ = len(self.estimator_.estimators_)
        if p["out_of_bag"]:
            self.oob_predictions_ = self._out_of_bag(data, y)

    def _out_of_bag(self, data: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each row's mean prediction over the trees that did not draw it.

        A warm-start fit that adds no trees computes only the out-of-bag attributes, once, whatever
        the number of chunks the forest was grown in.
        """
        forest = self.estimator_
        forest.set_params(oob_score=True)
        with warnings.catch_warnings():
            # "no new trees" is the point here; "some rows were never out of bag" is handled below.
            warnings.simplefilter("ignore", UserWarning)
            forest.fit(data, y)
        forest.set_params(oob_score=False)
        raw = forest.oob_prediction_ if self.problem_type == REGRESSION else forest.oob_decision_function_
        for attribute in ("oob_score_", "oob_prediction_", "oob_decision_function_"):
            if hasattr(forest, attribute):  # n values per row: not worth saving with the model
                delattr(forest, attribute)
        if self.problem_type == REGRESSION:
            out = np.asarray(raw, dtype=np.float64).reshape(-1)
        else:
            out = expand_proba(np.asarray(raw, dtype=np.float64), classes=forest.classes_, n_classes=self.n_classes)
        # A row no tree left out (only with very few trees) gets the best constant rather than NaN.
        never_out = np.isnan(out.reshape(len(out), -1)).any(axis=1)
        out[never_out] = self._constant_prediction(y, int(never_out.sum()))
        return out

    def _save(self, directory: Path) -> None:
        """The forest without its trees in ``model.skops``, the trees in ``trees_<i>.skops`` files of
        :data:`_TREES_PER_FILE` (runs saved before hold every tree in ``model.skops``)."""
        trees = self.estimator_.estimators_
        shell = copy.copy(self.estimator_)  # shallow: the fitted forest itself is left as it is
        shell.estimators_ = []
        starts = range(0, len(trees), _TREES_PER_FILE)
        for index, start in enumerate(starts):
            dump_estimator(trees[start:start + _TREES_PER_FILE], directory / f"trees_{index}.skops")
        self._save_estimator(shell, directory, tree_files=len(starts))

    def _load_estimator(self, directory: Path, meta: dict[str, Any]) -> Any:
        forest = super()._load_estimator(directory, meta)
        for index in range(int(meta.get("tree_files", 0))):
            forest.estimators_.extend(load_estimator(directory / f"trees_{index}.skops"))
        return forest

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        classification = self.problem_type != REGRESSION
        out = _forest_average(
            self.estimator_.estimators_, self._matrix(X), classification=classification, n_threads=self.n_threads
        )
        if classification:
            return expand_proba(out, classes=self.estimator_.classes_, n_classes=self.n_classes)
        return out

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # Fully grown trees hold about 2 nodes per leaf and ~1 leaf per (bootstrapped) sample; a node
        # costs ~64 bytes of structure plus its value slots (a few classes assumed).
        bootstrap = bool(params.get("bootstrap", cls._bootstrap_default))
        samples = n_rows * (0.632 if bootstrap else 1.0)
        leaves = samples / max(int(params.get("min_samples_leaf", 1)), 1)
        if params.get("max_leaf_nodes"):
            leaves = min(leaves, int(params["max_leaf_nodes"]))
        trees = int(params.get("n_estimators", 300))
        model_bytes = trees * 2 * leaves * (_NODE_BYTES + 3 * 8)
        cap = params.get("max_model_mb", (cls.default_params or {}).get("max_model_mb"))
        if cap:
            model_bytes = min(model_bytes, cap * _MB)
        return int(model_bytes + n_rows * n_columns * (8 + 4) * 2 + 32 * _MB)


def _grow_forest(
    estimator: Any, data: np.ndarray, y: np.ndarray, *, n_total: int, deadline: float | None, n_threads: int,
    time_fraction: float = 0.9, max_bytes: float | None = None,
) -> Any:
    """Grow up to ``n_total`` trees, in chunks sized to use at most ``time_fraction`` of the time left
    and to keep the forest within ``max_bytes``. Warm-start chunks grow the same trees as one fit."""
    if deadline is None and max_bytes is None:  # one fit, with the least overhead
        estimator.set_params(n_estimators=n_total)
        return estimator.fit(data, y)
    grown = 0
    step = min(n_total, max(2, n_threads))  # a small first chunk measures the time and size per tree
    while grown < n_total and step >= 1:
        start = time.perf_counter()
        estimator.set_params(n_estimators=grown + step)
        estimator.fit(data, y)
        per_tree = (time.perf_counter() - start) / step
        grown += step
        step = min(_TREE_CHUNK, n_total - grown)
        if deadline is not None:
            step = min(step, int(time_fraction * time_left(deadline) / max(per_tree, 1e-9)))
        if max_bytes is not None:
            size = forest_bytes(estimator)
            step = min(step, int((max_bytes - size) / (size / grown)))
    return estimator


def forest_bytes(forest: Any) -> int:
    """The memory a fitted forest's trees hold: their nodes and the values stored at each node."""
    return sum(tree.tree_.node_count * _NODE_BYTES + tree.tree_.value.nbytes for tree in forest.estimators_)


def _forest_average(trees: list[Any], data: np.ndarray, *, classification: bool, n_threads: int) -> np.ndarray:
    """Mean of the trees' outputs, summed in a fixed order.

    scikit-learn's own parallel predict adds the trees in whatever order its threads finish, so the
    last bits of a prediction change from call to call and with the thread count.
    """

    data = np.ascontiguousarray(data, dtype=np.float32)  # what the trees read: one conversion, no per-tree check

    def partial_sum(indices: np.ndarray) -> np.ndarray:
        total = np.zeros(0)
        for i in indices:
            predict = trees[i].predict_proba if classification else trees[i].predict
            out = predict(data, check_input=False)
            total = out if total.size == 0 else total + out
        return total

    # Groups of a fixed size (not one per thread) keep the sums the same for any thread count.
    groups = [np.arange(i, min(i + 16, len(trees))) for i in range(0, len(trees), 16)]
    if n_threads <= 1 or len(data) < _PARALLEL_FOREST_ROWS:
        parts = [partial_sum(group) for group in groups]
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:  # tree predict releases the GIL
            parts = list(pool.map(partial_sum, groups))
    return np.sum(parts, axis=0) / len(trees)


class ExtraTreesModel(_ForestBase):
    __doc__ = "Extremely randomised trees. " + (_ForestBase.__doc__ or "")

    key: ClassVar[str] = "extra_trees"
    name: ClassVar[str] = "ExtraTrees"
    priority: ClassVar[int] = 60
    _bootstrap_default: ClassVar[bool] = False
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_estimators": 300,
        "max_features": "auto",
        "min_samples_leaf": 1,
        "max_depth": None,
        "max_leaf_nodes": None,
        "criterion": "auto",
        "bootstrap": False,
        "max_samples": None,
        "out_of_bag": False,
        "max_model_mb": 256,
    }


class RandomForestModel(_ForestBase):
    __doc__ = "Random forest. " + (_ForestBase.__doc__ or "")

    key: ClassVar[str] = "random_forest"
    name: ClassVar[str] = "RandomForest"
    priority: ClassVar[int] = 55
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_estimators": 300,
        "max_features": "auto",
        "min_samples_leaf": 1,
        "max_depth": None,
        "max_leaf_nodes": None,
        "criterion": "auto",
        "bootstrap": True,
        "max_samples": None,
        "out_of_bag": False,
        "max_model_mb": 256,
    }
