"""Temperature scaling of class probabilities (Guo et al., 2017), fitted on validation predictions.

An ensemble averages its members' probabilities, and each bagged member averages its fold models:
the average is less confident than the evidence warrants, while a boosted model alone can be more.
A metric that scores the probabilities themselves (log loss, Brier) pays for both, and so does anyone
who reads a predicted probability as a risk. One temperature T
divides the log-probabilities before they are renormalised: T < 1 sharpens them, T > 1 softens them,
and every row keeps its most likely class and its ranking of classes. AutoGluon calibrates its
ensemble the same way for multiclass log loss.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import softmax

from mlpilot.engine.ensemble import noise_tolerance
from mlpilot.engine.metrics import SMALLEST_PROBABILITY, Metric, get_metric

# The temperatures searched: far wider than any seen on real ensembles (0.86-1.01), narrow enough
# that the search cannot run off to a degenerate 0 or infinity on a tiny validation set.
TEMPERATURE_RANGE = (0.1, 10.0)
FIT_ROWS = 50_000  # the most validation rows the temperature is fitted on


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Class probabilities ``(n, n_classes)`` rescaled by ``temperature`` (1 leaves them unchanged)."""
    logits = np.log(np.clip(proba, SMALLEST_PROBABILITY, None)) / temperature
    return softmax(logits, axis=1)


def fit_temperature(y: np.ndarray, proba: np.ndarray, metric: Metric) -> float | None:
    """The temperature that best calibrates validation predictions ``proba`` of labels ``y``.

    Fitted for ``metric`` when it scores the probabilities themselves (log loss, Brier), and for log
    loss otherwise: a temperature keeps every row's ranking of classes, so label metrics and binary
    ROC AUC stay exactly as they are, while the probabilities people read (a churn risk of 70 %)
    become ones the validation rows bear out. Kept only when ``metric`` is no worse for it (one-vs-rest
    ROC AUC over several classes can move), and None when the gain is within the validation score's
    noise (``noise_tolerance``): an ensemble that is already calibrated stays as it is.
    """
    if len(y) == 0:
        return None
    if len(y) > FIT_ROWS:  # one parameter: a sample pins it down as well as every row, for a fraction of the time
        rows = np.random.default_rng(0).choice(len(y), size=FIT_ROWS, replace=False)
        y, proba = y[rows], proba[rows]
    objective = metric if metric.scores_probabilities else get_metric("log_loss")
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(lambda log_t: -objective.score(y, apply_temperature(proba, np.exp(log_t))),
                            bounds=(low, high), method="bounded")
    temperature = float(np.exp(found.x))
    before = objective.score(y, proba)
    if -float(found.fun) - before <= noise_tolerance(len(y)) * abs(before):
        return None
    if objective is not metric and metric.score(y, apply_temperature(proba, temperature)) < metric.score(y, proba):
        return None  # the fit itself never scored the run's metric
    return temperature
