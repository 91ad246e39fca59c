"""scikit-learn style wrappers over the same engine: ``AutoClassifier().fit(X, y).predict(X)``.

They sit at the API layer: configuration is the keyword-only constructor, fitted state ends in ``_``,
``fit`` returns ``self``, and outputs are numpy arrays as scikit-learn users expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from mlpilot import api
from mlpilot.tasks.tabular.predictor import TabularPredictor

_TARGET = "__mlpilot_target__"


class _AutoEstimator(BaseEstimator):
    def __init__(
        self,
        *,
        time_limit: float | None = 60.0,
        metric: str | None = None,
        preset: str = "medium_quality",
        seed: int = 0,
        max_models: int | None = None,
        path: str | Path | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.time_limit = time_limit
        self.metric = metric
        self.preset = preset
        self.seed = seed
        self.max_models = max_models
        self.path = path
        self.n_threads = n_threads

    def _fit(self, X: Any, y: Any, task: str | None) -> TabularPredictor:
        frame = _as_frame(X)
        frame[_TARGET] = np.asarray(y)
        return api.fit(
            frame, target=_TARGET, task=task, time_limit=self.time_limit, metric=self.metric,
            preset=self.preset, seed=self.seed, max_models=self.max_models, path=self.path,
            n_threads=self.n_threads,
        )

    def predict(self, X: Any) -> np.ndarray:
        return self.predictor_.predict(_as_frame(X)).to_numpy()


class AutoClassifier(ClassifierMixin, _AutoEstimator):
    """AutoML classifier: bagged, ensembled models chosen within ``time_limit`` seconds."""

    def fit(self, X: Any, y: Any) -> AutoClassifier:
        task = "binary" if pd.Series(np.asarray(y)).nunique() == 2 else "multiclass"
        self.predictor_ = self._fit(X, y, task)
        self.classes_ = np.asarray(self.predictor_.classes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.predictor_.predict_proba(_as_frame(X)).to_numpy()


class AutoRegressor(RegressorMixin, _AutoEstimator):
    """AutoML regressor: bagged, ensembled models chosen within ``time_limit`` seconds."""

    def fit(self, X: Any, y: Any) -> AutoRegressor:
        self.predictor_ = self._fit(X, y, "regression")
        return self


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.copy()
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-D (rows × columns), got shape {array.shape}.")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
