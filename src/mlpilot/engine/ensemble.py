"""Greedy ensemble selection (Caruana et al., 2004) on out-of-fold predictions.

Works on prediction arrays, not models, so any task's predictions can be ensembled.
"""

from __future__ import annotations

import numpy as np

from mlpilot.engine.metrics import Metric


def greedy_ensemble(
    predictions: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    *,
    n_rounds: int = 40,
    patience: int = 10,
) -> np.ndarray:
    """Weights (summing to 1) over ``predictions``, chosen by forward selection with replacement.

    Each round adds the member that most improves the ensemble's out-of-fold score (weights =
    selection counts). Stops after ``patience`` rounds without improvement; ties go to the earlier
    member (the stronger one, as callers pass members best first), which keeps results stable.
    """
    if not predictions:
        raise ValueError("no predictions to ensemble")
    counts = np.zeros(len(predictions), dtype=np.int64)
    total = np.zeros_like(predictions[0], dtype=np.float64)
    best_score, best_counts, since_best = -np.inf, counts.copy(), 0
    for round_ in range(1, n_rounds + 1):
        scores = [metric.score(y, (total + p) / round_) for p in predictions]
        pick = int(np.argmax(scores))
        counts[pick] += 1
        total += predictions[pick]
        if scores[pick] > best_score + 1e-12:
            best_score, best_counts, since_best = scores[pick], counts.copy(), 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    return best_counts / best_counts.sum()


def blend(predictions: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted average of prediction arrays (members with zero weight are skipped)."""
    total = None
    for p, w in zip(predictions, weights, strict=True):
        if w > 0:
            total = w * p if total is None else total + w * p
    if total is None:
        raise ValueError("all ensemble weights are zero")
    return total


def noise_tolerance(n_rows: int) -> float:
    """A relative score change too small to tell from chance on ``n_rows`` validation rows:
    0.05 / sqrt(rows), at most 0.1 % (a validation score's noise shrinks with the square root of the rows)."""
    return min(1e-3, 0.05 / np.sqrt(max(n_rows, 1)))


def drop_marginal_members(
    predictions: list[np.ndarray],
    weights: np.ndarray,
    y: np.ndarray,
    metric: Metric,
    *,
    costs: np.ndarray,
    tolerance: float | None = None,
) -> np.ndarray:
    """``weights`` without the members that add next to nothing, the costliest to predict tried first.

    A member is dropped (the others' weights rescaled) when the ensemble without it still scores within
    ``tolerance`` × |score| of the full ensemble's out-of-fold score. The default, ``noise_tolerance``,
    drops a member whose gain cannot be told apart from chance, while every prediction pays for all
    its fold models.
    """
    if tolerance is None:
        tolerance = noise_tolerance(len(y))
    weights = np.asarray(weights, dtype=np.float64).copy()
    full = metric.score(y, blend(predictions, weights))
    floor = full - tolerance * abs(full)
    for i in np.argsort(-np.asarray(costs, dtype=np.float64), kind="stable"):
        if weights[i] == 0 or np.count_nonzero(weights) == 1:
            continue
        trial = weights.copy()
        trial[i] = 0.0
        trial /= trial.sum()
        if metric.score(y, blend(predictions, trial)) >= floor:
            weights = trial
    return weights
