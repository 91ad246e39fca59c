import time

import numpy as np
import pytest

from mlpilot.engine import oof
from mlpilot.engine.budget import Budget
from mlpilot.engine.oof import fit_bagged, resume_bagged
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


class ResumableModel(MeanModel):
    """Cut short on its first fit when ``cut``; a resume learns the training median, ends in time."""

    def __init__(self, cut=True):
        super().__init__()
        self.cut = cut
        self.resumed_with = []

    def fit(self, X, y, *, X_val, y_val, time_limit):
        super().fit(X, y, X_val=X_val, y_val=y_val, time_limit=time_limit)
        self.hit_time_limit_ = self.cut
        return self

    def resume(self, X, y, *, X_val, y_val, time_limit):
        self.resumed_with.append(time_limit)
        self.mean_ = np.median(y) + 100.0  # a value no first fit predicts
        self.hit_time_limit_ = False
        return self


def test_resuming_a_bag_trains_on_only_the_folds_cut_short():
    y = np.arange(40, dtype=float)
    X = y.reshape(-1, 1)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    models = iter([ResumableModel(cut=c) for c in (True, False, True, False)])
    bag = fit_bagged(lambda: next(models), X, y, splits, time_share=float("inf"), budget=Budget(None))
    assert bag.n_folds_cut == 2
    before = bag.oof.copy()
    resumed = resume_bagged(bag, X, y, splits, time_share=4.0, budget=Budget(60.0))
    assert resumed.complete and resumed.n_folds_cut == 0
    assert resumed.models == bag.models  # the same fold models, trained on
    # The share is split between the two folds that need it; the second gets what the first left.
    assert resumed.models[0].resumed_with[0] == pytest.approx(2.0, abs=0.05)
    assert resumed.models[2].resumed_with[0] == pytest.approx(4.0, abs=0.05)
    for fold, ((train, val), model) in enumerate(zip(splits, resumed.models, strict=True)):
        if fold in (0, 2):
            assert np.allclose(resumed.oof[val], np.median(y[train]) + 100.0)
        else:
            assert model.resumed_with == []
            assert np.array_equal(resumed.oof[val], before[val])


def test_a_resumed_bag_stays_complete_when_the_budget_is_gone():
    y = np.arange(20, dtype=float)
    X = y.reshape(-1, 1)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    bag = fit_bagged(ResumableModel, X, y, splits, time_share=float("inf"), budget=Budget(None))
    budget = Budget(10.0)
    budget.stop()
    resumed = resume_bagged(bag, X, y, splits, time_share=4.0, budget=budget)
    assert resumed.complete and resumed.n_folds_cut == 4
    assert np.array_equal(resumed.oof, bag.oof)
    assert all(model.resumed_with == [] for model in resumed.models)


def test_a_model_that_cannot_stop_at_its_limit_is_abandoned_after_one_fold(monkeypatch):
    monkeypatch.setattr(oof, "MIN_FOLD_SECONDS", 0.1)
    y = np.arange(40, dtype=float)
    splits = kfold_splits(y, n_folds=4, stratified=False, seed=0)
    # Each fold's limit is 0.1 s; a fold of 0.3 s that was not cut there is a model that ignores its
    # limit, and three more such folds would take the time of the candidates after it.
    ignores = fit_bagged(lambda: MeanModel(sleep=0.3), y.reshape(-1, 1), y, splits, time_share=0.4,
                         budget=Budget(100.0))
    assert ignores.n_folds_done == 1 and not ignores.complete
    assert "abandoned after 1 of 4 folds" in ignores.stopped_reason
    # Within twice its limit, or cut there (a round-by-round learner's overhead), the bag goes on.
    slow = fit_bagged(lambda: MeanModel(sleep=0.14), y.reshape(-1, 1), y, splits, time_share=0.4,
                      budget=Budget(100.0))
    assert slow.complete

    class CutLate(CutShortModel):
        def __init__(self):
            super().__init__(sleep=0.3)

    assert fit_bagged(CutLate, y.reshape(-1, 1), y, splits, time_share=0.4, budget=Budget(100.0)).complete
