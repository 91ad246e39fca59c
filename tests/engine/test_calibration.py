import numpy as np
import pytest
from scipy.special import softmax

from mlpilot.engine.calibration import apply_temperature, fit_temperature
from mlpilot.engine.metrics import Metric, get_metric


def _labelled(n_rows: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from the probabilities they imply: perfectly calibrated at T = 1."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n_rows, n_classes))
    proba = softmax(logits, axis=1)
    labels = np.array([rng.choice(n_classes, p=p) for p in proba])
    return logits, labels


def test_temperature_keeps_each_rows_ranking_and_one_changes_nothing():
    logits, _ = _labelled(200, 4)
    proba = softmax(logits, axis=1)
    np.testing.assert_allclose(apply_temperature(proba, 1.0), proba)
    sharp, soft = apply_temperature(proba, 0.5), apply_temperature(proba, 2.0)
    for scaled in (sharp, soft):
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
        assert (np.argsort(scaled, axis=1) == np.argsort(proba, axis=1)).all()
    assert (sharp.max(axis=1) >= proba.max(axis=1)).all() and (soft.max(axis=1) <= proba.max(axis=1)).all()


@pytest.mark.parametrize("blur", [2.0, 0.5])  # an under- and an over-confident model
def test_the_temperature_that_undoes_a_miscalibration_is_found(blur):
    logits, labels = _labelled(5000, 3)
    miscalibrated = softmax(logits / blur, axis=1)
    log_loss = get_metric("log_loss", "multiclass")
    temperature = fit_temperature(labels, miscalibrated, log_loss)
    assert temperature == pytest.approx(1 / blur, rel=0.1)
    assert log_loss(labels, apply_temperature(miscalibrated, temperature)) < log_loss(labels, miscalibrated)


def test_calibrated_probabilities_are_mostly_left_alone_and_never_moved_far():
    """On calibrated probabilities any gain is chance: the noise guard turns most fits down, and what
    passes it stays close to 1."""
    fitted = []
    for seed in range(6):
        logits, labels = _labelled(5000, 3, seed=seed)
        fitted.append(fit_temperature(labels, softmax(logits, axis=1), get_metric("log_loss", "multiclass")))
    assert sum(t is None for t in fitted) >= 4
    assert all(0.9 < t < 1.1 for t in fitted if t is not None)


def test_for_rank_and_label_metrics_the_temperature_calibrates_without_changing_the_score():
    logits, labels = _labelled(3000, 2, seed=1)
    overconfident = softmax(logits * 3, axis=1)
    log_loss = get_metric("log_loss", "binary")
    for name in ("roc_auc", "accuracy", "brier"):
        metric = get_metric(name, "binary")
        temperature = fit_temperature(labels, overconfident, metric)
        assert temperature == pytest.approx(3, rel=0.15)  # softens it back
        scaled = apply_temperature(overconfident, temperature)
        assert log_loss(labels, scaled) < log_loss(labels, overconfident)
        if name != "brier":
            assert metric(labels, scaled) == pytest.approx(metric(labels, overconfident), abs=1e-12)


def test_a_temperature_that_would_lower_the_runs_metric_is_not_used():
    """One-vs-rest ROC AUC over several classes can move with a temperature: the run's metric decides."""
    logits, labels = _labelled(3000, 3, seed=2)
    overconfident = softmax(logits * 3, axis=1)
    # A metric for which any change of the probabilities is worse.
    unchanged = Metric("unchanged", lambda y, p: -float(np.abs(p - overconfident).sum()), True, ("multiclass",))
    assert fit_temperature(labels, overconfident, unchanged) is None
    assert fit_temperature(labels, overconfident, get_metric("accuracy", "multiclass")) == pytest.approx(3, rel=0.15)
