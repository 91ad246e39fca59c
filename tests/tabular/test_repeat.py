"""Repeated bagging: extra k-fold sets for the ensemble members while time allows."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import default_metric
from mlpilot.engine.oof import fit_bagged
from mlpilot.engine.progress import no_progress
from mlpilot.engine.splits import kfold_splits
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.repeat import repeat_bagging
from mlpilot.tasks.tabular.trainer import CandidateResult


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = (X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=300) > 0).astype(np.int64).to_numpy()
    return X, y


def _member(name: str, X: pd.DataFrame, y: np.ndarray, splits: list) -> CandidateResult:
    params = {"n_estimators": 20}
    make = partial(get_model_class("lightgbm"), problem_type="binary", n_classes=2, params=params, seed=0)
    result = CandidateResult(name, "lightgbm", params, status="ok", n_folds=len(splits))
    bag = fit_bagged(make, X, y, splits, time_share=60.0, budget=Budget(None))
    result.take_bag(bag, y, default_metric("binary"))
    result.fit_time = bag.fit_time
    return result


def _repeat(members: list[CandidateResult], X, y, make_splits, budget: Budget) -> int:
    return repeat_bagging(
        members, X, y, make_splits=lambda seed: make_splits(seed=seed),
        config=TabularConfig(target="y", bag_sets=3, seed=0), problem_type="binary", n_classes=2,
        metric=default_metric("binary"), budget=budget, progress=no_progress, on_candidate=lambda r: None,
    )


def test_a_member_too_slow_for_another_set_does_not_stop_the_cheaper_ones(table) -> None:
    X, y = table
    make_splits = partial(kfold_splits, y, n_folds=3, stratified=True)
    slow, cheap = (_member(name, X, y, make_splits(seed=0)) for name in ("Slow", "Cheap"))
    slow.fit_time = 1000.0  # its next set cannot fit in the minute left
    slow_oof, one_set_cost = slow.bag.oof.copy(), cheap.predict_seconds_per_1k
    added = _repeat([slow, cheap], X, y, make_splits, Budget(60.0))
    assert added == 2
    assert (slow.n_folds, len(slow.bag.models)) == (3, 3)
    np.testing.assert_array_equal(slow.bag.oof, slow_oof)
    assert (cheap.n_folds, len(cheap.bag.models)) == (9, 9)
    # the leaderboard's predict cost counts the fold models of all three sets
    assert cheap.predict_seconds_per_1k == cheap.bag.predict_seconds_per_1k > one_set_cost
    assert np.isfinite(cheap.bag.oof).all()


def test_no_set_starts_once_the_budget_is_spent(table) -> None:
    X, y = table
    make_splits = partial(kfold_splits, y, n_folds=3, stratified=True)
    member = _member("Cheap", X, y, make_splits(seed=0))
    budget = Budget(60.0)
    budget.stop()
    added = _repeat([member], X, y, make_splits, budget)
    assert added == 0 and member.n_folds == 3
