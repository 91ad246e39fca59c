"""The pipeline families: a linear model and k-nearest neighbours, each ``preprocessor → estimator``.

The preprocessing (median imputation with missing indicators and scaling for numbers, one-hot for
categories) is fitted on every row a fold model is given, so the fold models of a bag share one
transform of the input at prediction time. Persistence and the trusted skops types are those of
:mod:`mlpilot.tasks.tabular.models.sklearn_models`.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.models.base import REGRESSION, predict_threads
from mlpilot.tasks.tabular.models.sklearn_models import _MB, _SklearnBase


def _neighbour_weights(distances: np.ndarray, *, scheme: str) -> np.ndarray:
    """The weights scikit-learn's neighbour models give each neighbour: 1, or 1/distance, where a
    query with neighbours at distance 0 (duplicates) listens to those alone."""
    if scheme == "uniform":
        return np.ones_like(distances)
    with np.errstate(divide="ignore"):
        weights = 1.0 / distances
    exact = np.isinf(weights)
    has_exact = exact.any(axis=1)
    weights[has_exact] = exact[has_exact]
    return weights


def _preprocessor(numeric: list[int], categorical: list[int], p: dict[str, Any]) -> Any:
    """Median imputation + missing indicators + scaling for numbers, one-hot for categories."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    # Codes include -1 for missing, so "missing" is one more one-hot column, as it should be.
    one_hot = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        min_frequency=p["min_frequency"],
        max_categories=p["max_categories"],
        sparse_output=False,
        dtype=np.float64,
    )
    parts = [("num", numeric_steps, numeric), ("cat", one_hot, categorical)]
    return ColumnTransformer([part for part in parts if part[2]], remainder="drop", sparse_threshold=0.0)


class _PipelineBase(_SklearnBase):
    """Fits ``preprocessor → estimator`` as one scikit-learn Pipeline (one skops file)."""

    def _make_estimator(self, p: dict[str, Any], *, n_rows: int) -> Any:  # [required]
        raise NotImplementedError

    def _training_rows(self, n_rows: int, p: dict[str, Any]) -> np.ndarray | None:
        return None

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.pipeline import Pipeline

        p = self.resolve_params(self.params)
        self._remember_columns(X)
        data = self._matrix(X)
        rows = self._training_rows(len(data), p)
        cats = set(self.categorical_)
        numeric = [j for j, c in enumerate(self.features_) if c not in cats]
        categorical = [j for j, c in enumerate(self.features_) if c in cats]
        fit_data, fit_y = (data, y) if rows is None else (data[rows], y[rows])
        prep = _preprocessor(numeric, categorical, p).fit(self._bag_matrix(data, X, X_val))
        model = self._make_estimator(p, n_rows=len(fit_data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the capped iterations are deliberate
            model.fit(prep.transform(fit_data), fit_y)
        self.estimator_ = Pipeline([("prep", prep), ("model", model)])
        self.n_iterations_ = 1
        self._after_fit(data, y, rows, p)

    def _bag_matrix(self, data: np.ndarray, X: pd.DataFrame, X_val: pd.DataFrame | None) -> np.ndarray:
        """Every row the fold model is given (``data``, the matrix of ``X``, and ``X_val``'s), in the
        table's order.

        The preprocessor learns only from features, never from the target, so fitting it on the
        validation rows too is safe (AutoGluon also prepares features on all rows before bagging); in
        the table's order, the fold models of one split get bit-identical preprocessors.
        """
        if X_val is None or X_val is X or X_val.index.equals(X.index):
            return data
        order = X.index.append(X_val.index).argsort(kind="stable")
        return np.vstack([data, self._matrix(X_val)])[order]

    # --------------------------------------------------------------------------- prediction
    # The fold models of a bag fit identical preprocessors (on every row of the bag), so a bag
    # transforms its input once and each fold model only runs its final estimator: the transform
    # (imputation, scaling, one-hot) cost about 4 ms a call, twenty times a logistic regression's
    # prediction, and a member of 5 bag sets of 5 folds ran it 25 times.
    def input_key(self) -> Hashable:
        # The fitted preprocessor's content: equal for the fold models of one bag, and distinct for
        # runs saved before the preprocessor was shared (each fold then converts its own input).
        if getattr(self, "_prep_digest", None) is None:
            self._prep_digest = joblib.hash(self.estimator_[0])
        return (type(self), tuple(self.features_), self._prep_digest)

    def native_input(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator_[0].transform(self._matrix(X))

    def _predict(self, native: np.ndarray) -> np.ndarray:
        return self._predict_matrix(native, self.estimator_[-1])

    def _after_fit(self, data: np.ndarray, y: np.ndarray, rows: np.ndarray | None, p: dict[str, Any]) -> None:
        """Called with all rows given to ``fit`` and the subsample trained on (None = all of them)."""


class LinearModel(_PipelineBase):
    """Logistic regression (classification) or ridge regression on one-hot + scaled features.

    Params: ``C`` (inverse L2 strength, classification), ``alpha`` (L2 strength, regression),
    ``max_iter``, ``min_frequency`` (rarer categories share an "infrequent" column),
    ``max_categories`` (one-hot columns per categorical). Files: ``model.skops``, ``columns.json``.
    """

    key: ClassVar[str] = "linear"
    name: ClassVar[str] = "Linear"
    priority: ClassVar[int] = 40
    default_params: ClassVar[dict[str, Any] | None] = {
        "C": 1.0,
        "alpha": 1.0,
        "max_iter": 1000,
        "min_frequency": 5,
        "max_categories": 30,
    }

    def _make_estimator(self, p: dict[str, Any], *, n_rows: int) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.problem_type == REGRESSION:
            return Ridge(alpha=p["alpha"])
        return LogisticRegression(C=p["C"], max_iter=p["max_iter"], random_state=self.seed)

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # Dense design matrix: up to two columns per number and ``max_categories`` per category.
        width = n_columns * max(2, int(params.get("max_categories", 30)) // 2)
        return int(n_rows * width * 8 * 3 + 32 * _MB)


class KNeighborsModel(_PipelineBase):
    """Distance-weighted k-nearest neighbours on one-hot + scaled features.

    Training is subsampled (seeded) to ``max_train_rows`` so prediction time stays bounded.
    Params: ``n_neighbors``, ``weights``, ``p`` (Minkowski power), ``max_train_rows``,
    ``min_frequency``, ``max_categories``, ``out_of_bag`` (keep each row's leave-one-out prediction,
    from its neighbours among the other rows, in ``oob_predictions_``: the trainer's validation under
    k-fold, as AutoGluon's). Files: ``model.skops``, ``columns.json``.
    """

    key: ClassVar[str] = "knn"
    name: ClassVar[str] = "KNeighbors"
    priority: ClassVar[int] = 20
    out_of_bag: ClassVar[bool] = True
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_neighbors": 10,
        "weights": "distance",
        "p": 2,
        "max_train_rows": 20000,
        "min_frequency": 5,
        "max_categories": 30,
        "out_of_bag": False,
    }

    def _training_rows(self, n_rows: int, p: dict[str, Any]) -> np.ndarray | None:
        limit = int(p["max_train_rows"])
        if n_rows <= limit:
            return None
        return np.sort(np.random.default_rng(self.seed).choice(n_rows, size=limit, replace=False))

    def _make_estimator(self, p: dict[str, Any], *, n_rows: int) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsRegressor if self.problem_type == REGRESSION else KNeighborsClassifier
        # Fewer training rows than neighbours would make every prediction fail; leave-one-out needs
        # one row more than it has neighbours.
        k = max(1, min(int(p["n_neighbors"]), n_rows - 1 if p["out_of_bag"] else n_rows))
        return cls(n_neighbors=k, weights=p["weights"], p=p["p"], n_jobs=self.n_threads)

    def _predict(self, native: np.ndarray) -> np.ndarray:
        # scikit-learn starts a joblib pool for any n_jobs > 1, about 12 ms a call: a kd-tree query of
        # one row takes 2 ms on one thread and 14 ms with n_jobs=2.
        self.estimator_[-1].n_jobs = predict_threads(len(native), self.n_threads)
        return super()._predict(native)

    def _after_fit(self, data: np.ndarray, y: np.ndarray, rows: np.ndarray | None, p: dict[str, Any]) -> None:
        if p["out_of_bag"]:
            self.oob_predictions_ = self._leave_one_out(data, y, rows)

    def _leave_one_out(self, data: np.ndarray, y: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """Each training row predicted from its nearest *other* rows; rows left out of a subsampled
        fit are plain predictions (the model never saw them)."""
        knn = self.estimator_[-1]
        fitted = np.arange(len(data)) if rows is None else rows
        if len(fitted) < 2:  # no other row to ask: the training mean / class shares
            return self._constant_prediction(y[fitted], len(data))
        distances, neighbours = knn.kneighbors()  # no query: each fitted row's neighbours, itself excluded
        weights = _neighbour_weights(distances, scheme=knn.weights)
        votes = y[fitted][neighbours]
        out = self._constant_prediction(y[fitted], len(data))
        if self.problem_type == REGRESSION:
            out[fitted] = (weights * votes).sum(axis=1) / weights.sum(axis=1)
        else:
            total = weights.sum(axis=1)
            for code in range(self.n_classes):
                out[fitted, code] = (weights * (votes == code)).sum(axis=1) / total
        others = np.setdiff1d(np.arange(len(data)), fitted, assume_unique=True)
        if len(others):
            out[others] = self._predict_matrix(data[others])
        return out

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        kept = min(n_rows, int(params.get("max_train_rows", 20000)))
        width = n_columns * max(2, int(params.get("max_categories", 30)) // 2)
        return int(n_rows * n_columns * 8 * 2 + kept * width * 8 * 3 + 32 * _MB)
