"""Evaluation data for people: curves, confusion matrices, gain and calibration, as plain JSON.

Everything here works on encoded labels ``y`` (class codes, or values for regression) and the
ensemble's raw predictions (class probabilities, or values): either the out-of-fold validation
predictions stored in the run at fit time, or predictions on labelled data a user brings. The
output is JSON-serialisable (lists and floats only) and small: every curve is thinned to at most
``MAX_CURVE_POINTS`` points, so a web page or an HTML report can carry it as it is.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from mlpilot.engine.metrics import default_metric, get_metric
from mlpilot.tasks.tabular.models.base import BINARY, MULTICLASS, REGRESSION

MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 2000
CALIBRATION_BINS = 10
RESIDUAL_BINS = 30
DECILES = np.linspace(0.1, 1.0, 10)


def evaluation_data(
    y: np.ndarray,
    raw: np.ndarray,
    *,
    problem_type: str,
    classes: list[Any],
    threshold: float | None,
    metric: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Everything the evaluation charts need, for one problem type.

    ``y``: class codes ``0..k-1`` (classification) or values; ``raw``: class probabilities
    ``(n, k)`` or predicted values ``(n,)``. ``threshold``: the run's calibrated cut on P(positive)
    for binary problems (0.5 when None). ``metric``: the run's metric (the problem type's default when
    None). ``source``: where the rows come from, shown under every chart.
    """
    y = np.asarray(y)
    raw = np.asarray(raw, dtype=np.float64)
    scorer = get_metric(metric, problem_type) if metric else default_metric(problem_type)
    result: dict[str, Any] = {
        "problem_type": problem_type,
        "n_rows": len(y),
        "metric": scorer.name,
        "greater_is_better": scorer.greater_is_better,
        "score": _safe_score(scorer, y, raw),
        "source": source or f"labelled data, {len(y):,} rows",
        "classes": [str(c) for c in classes],
        "notes": [],
    }
    if problem_type == BINARY:
        result.update(_binary(y.astype(np.int64), raw[:, 1], classes=result["classes"], threshold=threshold))
    elif problem_type == MULTICLASS:
        result.update(_multiclass(y.astype(np.int64), raw, classes=result["classes"]))
    elif problem_type == REGRESSION:
        result.update(_regression(y.astype(np.float64), raw))
    else:
        raise ValueError(f"unknown problem type {problem_type!r}")
    return result


# ------------------------------------------------------------------------------ binary
def _binary(y: np.ndarray, p: np.ndarray, *, classes: list[str], threshold: float | None) -> dict[str, Any]:
    cut = 0.5 if threshold is None else float(threshold)
    predicted = (p >= cut).astype(np.int64)
    out: dict[str, Any] = {
        "positive_class": classes[1],
        "base_rate": float(y.mean()),
        "confusion": {
            "labels": classes,
            "matrix": skm.confusion_matrix(y, predicted, labels=[0, 1]).tolist(),
            "threshold": cut,
            "rule": "calibrated threshold" if threshold is not None else "default threshold 0.5",
        },
        "gain": gain_table(y, p, positive=classes[1]),
        "calibration": calibration_bins(y, p),
        "roc": None,
        "pr": None,
        "notes": [],
    }
    if len(np.unique(y)) < 2:
        out["notes"].append("The rows hold only one class, so ROC and precision-recall curves cannot be drawn.")
        return out
    fpr, tpr, _ = skm.roc_curve(y, p)
    keep = thin_indices(len(fpr))
    out["roc"] = {"fpr": _floats(fpr[keep]), "tpr": _floats(tpr[keep]), "auc": float(skm.roc_auc_score(y, p))}
    precision, recall, _ = skm.precision_recall_curve(y, p)
    keep = thin_indices(len(precision))
    out["pr"] = {
        "precision": _floats(precision[keep]), "recall": _floats(recall[keep]),
        "average_precision": float(skm.average_precision_score(y, p)),
    }
    return out


def gain_table(y: np.ndarray, p: np.ndarray, *, positive: str) -> dict[str, Any]:
    """Cumulative gain and lift when rows are taken riskiest first, by decile, with a ready sentence."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order])
    total = hits[-1] if len(hits) else 0
    taken = np.maximum(np.round(DECILES * len(y)).astype(np.int64), 1)
    gain = hits[taken - 1] / total if total else np.zeros(len(DECILES))
    lift = gain / DECILES
    sentence = (
        f"Contacting the riskiest 10% of rows (those most likely to be '{positive}') reaches "
        f"{gain[0]:.0%} of all '{positive}' cases, {lift[0]:.1f} times what a random 10% would reach."
        if total else f"The rows hold no '{positive}' case, so the gain cannot be measured."
    )
    curve_x = np.arange(1, len(y) + 1) / len(y)
    curve_y = hits / total if total else np.zeros(len(y))
    keep = thin_indices(len(curve_x), MAX_CURVE_POINTS - 1)  # room for the (0, 0) origin
    return {
        "fraction": _floats(DECILES), "gain": _floats(gain), "lift": _floats(lift),
        "top_decile_gain": float(gain[0]), "top_decile_lift": float(lift[0]), "sentence": sentence,
        "curve": {"fraction": [0.0, *_floats(curve_x[keep])], "gain": [0.0, *_floats(curve_y[keep])]},
    }


def calibration_bins(y: np.ndarray, p: np.ndarray, *, n_bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """Rows sorted by predicted probability, cut into ``n_bins`` equal-count bins: mean predicted
    probability against the observed rate of the positive class in each bin."""
    chunks = [c for c in np.array_split(np.argsort(p, kind="stable"), min(n_bins, len(p))) if len(c)]
    return {
        "mean_predicted": _floats([p[c].mean() for c in chunks]),
        "observed_rate": _floats([y[c].mean() for c in chunks]),
        "count": [len(c) for c in chunks],
    }


# ------------------------------------------------------------------------------ multiclass
def _multiclass(y: np.ndarray, proba: np.ndarray, *, classes: list[str]) -> dict[str, Any]:
    labels = list(range(len(classes)))
    predicted = proba.argmax(axis=1)
    precision, recall, _, support = skm.precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    curves = []
    for code, name in enumerate(classes):
        positive = (y == code).astype(np.int64)
        if positive.min() == positive.max():  # the class is absent (or alone): no curve
            continue
        fpr, tpr, _ = skm.roc_curve(positive, proba[:, code])
        keep = thin_indices(len(fpr))
        curves.append({"class": name, "fpr": _floats(fpr[keep]), "tpr": _floats(tpr[keep]),
                       "auc": float(skm.roc_auc_score(positive, proba[:, code]))})
    return {
        "confusion": {"labels": classes, "matrix": skm.confusion_matrix(y, predicted, labels=labels).tolist(),
                      "threshold": None, "rule": "most probable class"},
        "roc_per_class": curves,
        "per_class": [
            {"class": name, "precision": float(precision[i]), "recall": float(recall[i]), "support": int(support[i])}
            for i, name in enumerate(classes)
        ],
        "accuracy": float(skm.accuracy_score(y, predicted)),
    }


# ------------------------------------------------------------------------------ regression
def _regression(y: np.ndarray, predicted: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    residuals = y - predicted
    shown = np.arange(len(y))
    if len(shown) > MAX_SCATTER_POINTS:
        shown = np.sort(np.random.default_rng(seed).choice(shown, MAX_SCATTER_POINTS, replace=False))
    counts, edges = np.histogram(residuals, bins=RESIDUAL_BINS)
    return {
        "scatter": {"actual": _floats(y[shown]), "predicted": _floats(predicted[shown]), "n_shown": len(shown)},
        "residuals": {"bin_edges": _floats(edges), "counts": counts.tolist(), "mean": float(residuals.mean())},
        "r2": _finite(skm.r2_score(y, predicted)) if len(y) > 1 else None,
        "rmse": float(np.sqrt(np.mean(residuals**2))),
        "mae": float(np.mean(np.abs(residuals))),
    }


# ------------------------------------------------------------------------------ helpers
def thin_indices(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """At most ``max_points`` evenly spread positions of a curve of ``n`` points, ends included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _safe_score(scorer: Any, y: np.ndarray, raw: np.ndarray) -> float | None:
    """The metric, or None where it is undefined (e.g. ROC AUC on rows of one class)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            return _finite(scorer(y, raw))
        except ValueError:
            return None


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _floats(values: Any, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]
