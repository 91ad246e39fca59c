"""Decision-threshold calibration for binary problems, on out-of-fold probabilities.

A probability metric (ROC AUC, log loss) says nothing about where to cut: for churn the cut decides
who gets called. The threshold maximises the label metric the user asked for, or F1 of the positive
class when the run optimises a probability metric (F1 balances missed churners against wasted calls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

_LABEL_METRICS = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1": skm.f1_score,
}


def calibrate_threshold(y: np.ndarray, positive_proba: np.ndarray, *, metric_name: str) -> dict[str, Any]:
    """The cut on P(positive) that maximises the label metric; ties go to the cut nearest 0.5."""
    objective = metric_name if metric_name in _LABEL_METRICS else "f1"
    score_fn = _LABEL_METRICS[objective]
    quantiles = np.quantile(positive_proba, np.linspace(0.01, 0.99, 99))
    cuts = np.unique(np.concatenate([quantiles, [0.5]]))
    scores = np.array([score_fn(y, (positive_proba >= c).astype(np.int64)) for c in cuts])
    best = scores.max()
    candidates = cuts[scores >= best - 1e-12]
    cut = float(candidates[np.argmin(np.abs(candidates - 0.5))])
    default_score = float(score_fn(y, (positive_proba >= 0.5).astype(np.int64)))
    return {"value": cut, "optimised_for": objective, "score": float(best), "score_at_0.5": default_score}
