import numpy as np
import pytest

from mlpilot.engine.metrics import available_metrics, default_metric, get_metric
from mlpilot.errors import ConfigError


def test_defaults_per_problem_type():
    assert default_metric("binary").name == "roc_auc"
    assert default_metric("multiclass").name == "log_loss"
    assert default_metric("regression").name == "rmse"


def test_aliases_and_orientation():
    auc = get_metric("AUC", "binary")
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.6, 0.4]])
    assert auc(y, proba) == pytest.approx(1.0)
    rmse = get_metric("rmse")
    assert rmse.score(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == pytest.approx(-np.sqrt(2.0))
    assert rmse.is_better(1.0, 2.0) and not auc.is_better(0.5, 0.6)


def test_unknown_metric_lists_choices():
    with pytest.raises(ConfigError, match="roc_auc"):
        get_metric("auroc_typo", "binary")


def test_metric_must_fit_problem_type():
    with pytest.raises(ConfigError, match="does not apply to a regression"):
        get_metric("roc_auc", "regression")
    assert "rmse" in available_metrics("regression") and "rmse" not in available_metrics("binary")


def test_log_loss_renormalises_and_multiclass_auc():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]])
    assert get_metric("log_loss")(y, proba * 2) == pytest.approx(get_metric("log_loss")(y, proba))
    assert get_metric("roc_auc")(y, proba) == pytest.approx(1.0)
