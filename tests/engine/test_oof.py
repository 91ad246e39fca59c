import time

import numpy as np
import pytest

from mlpilot.engine.budget import Budget
from mlpilot.engine.oof import fit_bagged
from mlpilot.engine.splits import kfold_splits


class MeanModel:
    """Predicts the training mean; sleeps to simulate work."""

    def __init__(self, sleep=0.0):
        self.sleep = sleep
        self.limits = []

    def fit(self, X, y, *, X_val, y_val, time_limit):
        self.limits.append(time_limit)
        time.sleep(self.sleep)
        self.mean_ = y.mean()
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_every_row_gets_one_out_of_fold_prediction():
    y = np.arange(20, dtype=float)
    X = y.reshape(-1, 1)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    result = fit_bagged(MeanModel, X, y, splits, time_share=float("inf"), budget=Budget(None))
    assert result.complete and len(result.models) == 4
    for train, val in splits:
        assert np.allclose(result.oof[val], y[train].mean())
    assert result.models[0].limits == [None]


def test_folds_share_the_time_and_stop_when_it_runs_out():
    y = np.arange(40, dtype=float)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    # the candidate's share is 2.4 s: fold 1 gets 2.4/4 = 0.6 s; the run has 1.5 s in all, so after
    # two folds of 0.6 s the third gets what is left (0.3 s) and the fourth cannot start.
    result = fit_bagged(lambda: MeanModel(sleep=0.6), y.reshape(-1, 1), y, splits,
                        time_share=2.4, budget=Budget(1.5))
    assert not result.complete
    assert result.n_folds_done == 3
    assert "time budget ran out after 3 of 4 folds" in result.stopped_reason
    assert result.models[0].limits[0] == pytest.approx(0.6, abs=0.02)
    assert result.models[0].limits[0] > result.models[2].limits[0] > 0


def test_small_shares_still_give_each_fold_a_minimum():
    y = np.arange(40, dtype=float)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    result = fit_bagged(MeanModel, y.reshape(-1, 1), y, splits, time_share=0.2, budget=Budget(100.0))
    assert result.complete
    assert result.models[0].limits[0] == pytest.approx(0.5)


class CutShortModel(MeanModel):
    """A round-by-round learner whose time limit ended it (as the model families flag it)."""

    def fit(self, X, y, *, X_val, y_val, time_limit):
        super().fit(X, y, X_val=X_val, y_val=y_val, time_limit=time_limit)
        self.hit_time_limit_ = True
        return self


def test_a_bag_counts_the_folds_its_time_limit_cut_short():
    y = np.arange(20, dtype=float)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    finished = fit_bagged(MeanModel, y.reshape(-1, 1), y, splits, time_share=float("inf"), budget=Budget(None))
    starved = fit_bagged(CutShortModel, y.reshape(-1, 1), y, splits, time_share=float("inf"), budget=Budget(None))
    assert (finished.n_folds_cut, starved.n_folds_cut) == (0, 4)
