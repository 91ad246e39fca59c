"""The metrics registry: plain functions with the metadata the search needs.

Prediction convention: classification metrics receive class probabilities ``(n, n_classes)`` and
derive labels themselves (argmax) when they need them; regression metrics receive values ``(n,)``.
``y_true`` is class codes ``0..n_classes-1`` or values. Tasks may register their own metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from mlpilot.errors import ConfigError

CLASSIFICATION = ("binary", "multiclass")
SMALLEST_PROBABILITY = 1e-15  # probabilities are clipped to this before a logarithm
REGRESSION = ("regression",)


@dataclass(frozen=True)
class Metric:
    """A scoring function and how to read it."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    problem_types: tuple[str, ...]
    description: str = ""
    # True when the metric scores the probabilities themselves (their calibration), not only how they
    # rank or which class they pick: only then can rescaling probabilities change the score.
    scores_probabilities: bool = False

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred)))

    def score(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        """The metric oriented so that higher is always better (for selection code)."""
        return self.oriented(self(y_true, y_pred))

    def oriented(self, value: float) -> float:
        """``value`` turned so that higher is better."""
        return value if self.greater_is_better else -value

    def is_better(self, a: float, b: float) -> bool:
        """True when metric value ``a`` is strictly better than ``b``."""
        return a > b if self.greater_is_better else a < b


_REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in _REGISTRY:
        raise ValueError(f"metric {metric.name!r} is already registered")
    _REGISTRY[metric.name] = metric
    return metric


def get_metric(name: str, problem_type: str | None = None) -> Metric:
    """Look a metric up by name, checking it fits the problem type."""
    key = name.lower().strip()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ConfigError(
            f"Unknown metric {name!r}: choose one of {', '.join(available_metrics(problem_type))}."
        )
    metric = _REGISTRY[key]
    if problem_type is not None and problem_type not in metric.problem_types:
        raise ConfigError(
            f"Metric {metric.name!r} does not apply to a {problem_type} problem: choose one of "
            f"{', '.join(available_metrics(problem_type))}."
        )
    return metric


def available_metrics(problem_type: str | None = None) -> list[str]:
    return sorted(
        name for name, m in _REGISTRY.items() if problem_type is None or problem_type in m.problem_types
    )


def default_metric(problem_type: str) -> Metric:
    """ROC AUC for binary, log loss for multiclass, RMSE for regression."""
    return get_metric(_DEFAULTS[problem_type], problem_type)


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    return skm.roc_auc_score(y, _renormalise(proba), multi_class="ovr", labels=np.arange(proba.shape[1]))


def _renormalise(proba: np.ndarray) -> np.ndarray:
    proba = np.clip(proba, SMALLEST_PROBABILITY, None)
    return proba / proba.sum(axis=1, keepdims=True)


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    return skm.log_loss(y, _renormalise(proba), labels=np.arange(proba.shape[1]))


def _f1(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return skm.f1_score(y, _labels(proba))
    return skm.f1_score(y, _labels(proba), average="macro")


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y.astype(float) - pred) ** 2)))


for _metric in (
    Metric("roc_auc", _roc_auc, True, CLASSIFICATION, "area under the ROC curve (one-vs-rest if multiclass)"),
    Metric("log_loss", _log_loss, False, CLASSIFICATION, "cross-entropy of the predicted probabilities",
           scores_probabilities=True),
    Metric("accuracy", lambda y, p: skm.accuracy_score(y, _labels(p)), True, CLASSIFICATION, "share correct"),
    Metric(
        "balanced_accuracy",
        lambda y, p: skm.balanced_accuracy_score(y, _labels(p)),
        True,
        CLASSIFICATION,
        "mean recall over classes",
    ),
    Metric("f1", _f1, True, CLASSIFICATION, "F1 of the positive class (macro F1 if multiclass)"),
    Metric("brier", lambda y, p: float(np.mean((p[:, 1] - y) ** 2)), False, ("binary",), "Brier score",
           scores_probabilities=True),
    Metric("rmse", _rmse, False, REGRESSION, "root mean squared error"),
    Metric("mae", lambda y, p: skm.mean_absolute_error(y, p), False, REGRESSION, "mean absolute error"),
    Metric("r2", lambda y, p: skm.r2_score(y, p), True, REGRESSION, "coefficient of determination"),
    Metric("mape", lambda y, p: skm.mean_absolute_percentage_error(y, p), False, REGRESSION, "mean abs. % error"),
):
    register(_metric)

_ALIASES = {"auc": "roc_auc", "logloss": "log_loss", "mse_root": "rmse", "acc": "accuracy"}
_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
