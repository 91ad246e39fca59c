"""The search's bookkeeping of one candidate (the search itself is exercised through ``mlpilot.fit``)."""

from __future__ import annotations

from mlpilot.tasks.tabular.trainer import CandidateResult


def test_folds_cut_short_are_counted_over_bag_sets_and_noted() -> None:
    result = CandidateResult("CatBoost", "catboost", {}, status="ok", n_folds=5)
    result.add_cut_folds(0)
    assert (result.n_folds_cut, result.reason) == (0, "")
    result.add_cut_folds(2)
    result.n_folds += 5  # a second bag set, as repeated bagging adds it
    result.add_cut_folds(3)
    assert result.row()["folds_cut_by_time"] == 5
    assert result.reason == "cut short by the time limit on 5 of 10 folds"
