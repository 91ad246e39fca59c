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
