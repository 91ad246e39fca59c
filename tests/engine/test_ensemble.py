import numpy as np
import pytest

from mlpilot.engine.ensemble import blend, greedy_ensemble
from mlpilot.engine.metrics import get_metric


def test_greedy_ensemble_beats_members_and_ignores_noise():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    a = y + rng.normal(scale=1.0, size=500)  # two independent noisy views average out
    b = y + rng.normal(scale=1.0, size=500)
    junk = rng.normal(scale=5.0, size=500)
    rmse = get_metric("rmse")
    weights = greedy_ensemble([a, b, junk], y, rmse)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[2] == 0
    assert weights[0] > 0 and weights[1] > 0
    assert rmse(y, blend([a, b, junk], weights)) < min(rmse(y, a), rmse(y, b))


def test_single_member_gets_all_weight():
    y = np.array([0, 1, 0, 1])
    p = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
    assert greedy_ensemble([p], y, get_metric("roc_auc")).tolist() == [1.0]


def test_empty_and_all_zero_are_errors():
    with pytest.raises(ValueError):
        greedy_ensemble([], np.array([1.0]), get_metric("rmse"))
    with pytest.raises(ValueError):
        blend([np.zeros(2)], np.array([0.0]))


def test_members_adding_nothing_are_dropped_costliest_first():
    from mlpilot.engine.ensemble import drop_marginal_members

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=4000)
    signal = y + rng.normal(scale=1.0, size=len(y))
    strong = 1 / (1 + np.exp(-signal))
    twin = np.clip(strong + rng.normal(scale=1e-4, size=len(y)), 0, 1)  # a near copy: adds nothing
    other = 1 / (1 + np.exp(-(y + rng.normal(scale=1.0, size=len(y)))))  # independent errors: adds a lot
    preds = [np.column_stack([1 - p, p]) for p in (strong, twin, other)]
    metric = get_metric("roc_auc", "binary")
    weights = np.array([0.4, 0.2, 0.4])
    kept = drop_marginal_members(preds, weights, y, metric, costs=np.array([1.0, 5.0, 1.0]))
    assert kept[1] == 0 and kept[0] > 0 and kept[2] > 0 and kept.sum() == pytest.approx(1.0)
    # with no tolerance nothing that helps at all is dropped, and the last member always stays
    assert drop_marginal_members(preds, weights, y, metric, costs=np.ones(3), tolerance=0.0)[2] > 0
    assert np.count_nonzero(drop_marginal_members(preds[:1], np.array([1.0]), y, metric, costs=np.ones(1))) == 1
