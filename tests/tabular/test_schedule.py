"""The schedule: what a candidate that ran out of time changes for its family's later candidates."""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pytest

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import get_metric
from mlpilot.tasks.tabular.models.portfolio import Candidate
from mlpilot.tasks.tabular.schedule import Schedule, constant_score

RMSE = get_metric("rmse", "regression")


def _schedule(*names_and_families: tuple[str, str], constant: float = 40.0) -> Schedule:
    queue = deque(Candidate(name, family) for name, family in names_and_families)
    return Schedule(queue, metric=RMSE, constant=constant)


def _names(schedule: Schedule) -> list[str]:
    return [c.name for c in schedule.queue]


def test_constant_scores_match_the_mean_and_the_class_frequencies() -> None:
    y = np.array([1.0, 3.0, 5.0, 7.0])
    assert constant_score(y, RMSE, problem_type="regression", n_classes=0) == pytest.approx(np.sqrt(5.0))
    auc = get_metric("roc_auc", "binary")
    assert constant_score(np.array([0, 1, 1, 0]), auc, problem_type="binary", n_classes=2) == 0.5
    log_loss = get_metric("log_loss", "multiclass")
    labels = np.array([0, 0, 1, 2])
    expected = -np.mean(np.log([0.5, 0.5, 0.25, 0.25]))
    assert constant_score(labels, log_loss, problem_type="multiclass", n_classes=3) == pytest.approx(expected)


def test_a_starved_family_far_behind_the_best_goes_to_the_end_of_the_queue() -> None:
    schedule = _schedule(("XGBoost", "xgboost"), ("CatBoost_Deep", "catboost"), ("ExtraTrees", "extra_trees"),
                         ("CatBoost_Shallow", "catboost"), ("Linear", "linear"))
    # CatBoost ran out of time at 20.0 while the best so far is 13.0 on a table whose mean scores 40.0:
    # 26 % of the way from the constant predictor behind.
    schedule.record(name="CatBoost", family="catboost", score=20.0, fit_seconds=4.0, starved=True, best=13.0)
    assert _names(schedule) == ["XGBoost", "ExtraTrees", "Linear", "CatBoost_Deep", "CatBoost_Shallow"]
    assert schedule.share(Candidate("CatBoost_Deep", "catboost"), 3.0, Budget(60.0)) == 3.0  # not more time


def test_a_starved_family_that_leads_gets_twice_the_time_next() -> None:
    schedule = _schedule(("XGBoost", "xgboost"), ("LightGBM_Small", "lightgbm"))
    schedule.record(name="LightGBM", family="lightgbm", score=13.0, fit_seconds=4.0, starved=True,
                    best=13.0)  # the best so far, a family that cannot resume here
    assert _names(schedule) == ["XGBoost", "LightGBM_Small"]  # order kept
    budget = Budget(60.0)
    assert schedule.share(Candidate("LightGBM_Small", "lightgbm"), 3.0, budget) == 8.0
    assert schedule.share(Candidate("LightGBM_Small", "lightgbm"), 10.0, budget) == 10.0  # never less
    assert schedule.share(Candidate("XGBoost", "xgboost"), 3.0, budget) == 3.0  # other families unchanged
    # Never more than half of what is left.
    assert schedule.share(Candidate("LightGBM_Small", "lightgbm"), 3.0, Budget(10.0)) == pytest.approx(5.0, abs=0.01)


def test_a_starved_leader_that_can_resume_trains_on_next_for_twice_its_time() -> None:
    schedule = _schedule(("XGBoost", "xgboost"), ("LightGBM_Small", "lightgbm"))
    schedule.record(name="LightGBM_XT", family="lightgbm", score=13.0, fit_seconds=4.0, starved=True, best=13.0,
                    resumable=True)
    schedule.take(2)
    assert schedule  # the queue is empty, the resume is still to come
    assert schedule.take_resume(Budget(60.0)) == ("LightGBM_XT", 8.0)
    assert schedule.take_resume(Budget(60.0)) is None and not schedule  # once
    # Resuming takes the place of more time for the family's next candidate.
    assert schedule.share(Candidate("LightGBM_Small", "lightgbm"), 3.0, Budget(60.0)) == 3.0
    schedule.record(name="LightGBM_XT", family="lightgbm", score=12.0, fit_seconds=12.0, starved=True, best=12.0,
                    resumable=True)
    name, seconds = schedule.take_resume(Budget(10.0))
    assert name == "LightGBM_XT" and seconds == pytest.approx(5.0, abs=0.01)  # never more than half of what is left


def test_no_resume_once_the_budget_is_spent() -> None:
    # The search records a resumed candidate again: with no time to train, the same offer would repeat forever.
    schedule = _schedule()
    schedule.record(name="LightGBM", family="lightgbm", score=13.0, fit_seconds=4.0, starved=True, best=13.0,
                    resumable=True)
    assert schedule.take_resume(Budget(60.0, reserve=59.5)) is None
    assert not schedule


def test_a_starved_resumable_candidate_behind_the_best_is_not_resumed() -> None:
    schedule = _schedule(("XGBoost", "xgboost"))
    schedule.record(name="CatBoost", family="catboost", score=13.5, fit_seconds=4.0, starved=True, best=13.0,
                    resumable=True)
    assert schedule.take_resume(Budget(60.0)) is None


def test_a_starved_family_a_little_behind_the_best_keeps_its_place_and_share() -> None:
    schedule = _schedule(("CatBoost", "catboost"), ("XGBoost", "xgboost"), ("CatBoost_Deep", "catboost"))
    schedule.record(name="CatBoost_Shallow", family="catboost", score=13.5, fit_seconds=4.0, starved=True,
                    best=13.0)  # 1.9 % behind
    assert _names(schedule) == ["CatBoost", "XGBoost", "CatBoost_Deep"]
    assert schedule.share(Candidate("CatBoost_Deep", "catboost"), 3.0, Budget(60.0)) == 3.0


def test_candidates_that_finished_in_time_change_nothing() -> None:
    schedule = _schedule(("A", "catboost"), ("B", "lightgbm"), ("C", "catboost"))
    schedule.record(name="CatBoost_Shallow", family="catboost", score=30.0, fit_seconds=4.0, starved=False, best=13.0)
    schedule.record(name="LightGBM", family="lightgbm", score=None, fit_seconds=4.0, starved=True, best=13.0)
    assert _names(schedule) == ["A", "B", "C"]
    assert schedule.share(Candidate("C", "catboost"), 3.0, Budget(60.0)) == 3.0


def test_the_gap_is_oriented_for_metrics_where_greater_is_better() -> None:
    schedule = Schedule(deque(), metric=get_metric("roc_auc", "binary"), constant=0.5)
    assert schedule.gap(0.80, 0.90) == pytest.approx(0.25)
    assert schedule.gap(0.95, 0.90) == 0.0  # ahead of the best counts as no gap


def test_the_search_reports_each_finished_candidate_to_the_schedule(churn_split, tmp_path, monkeypatch) -> None:
    import mlpilot
    from mlpilot.tasks.tabular import trainer

    recorded: list[dict] = []
    original_record, original_finish = Schedule.record, trainer._finish_candidate

    def record(self: Schedule, **kwargs) -> None:
        recorded.append(kwargs)
        original_record(self, **kwargs)

    def finish_first_as_starved(result, pending, y, *, metric) -> None:
        original_finish(result, pending, y, metric=metric)
        if result.name == "Linear_Strong":  # pretend the limit ended every fold model of this one
            result.add_cut_folds(result.n_folds)

    monkeypatch.setattr(Schedule, "record", record)
    monkeypatch.setattr(trainer, "_finish_candidate", finish_first_as_starved)
    train, _ = churn_split
    model = mlpilot.fit(train, target="churn", families=["linear"], n_folds=2, path=tmp_path / "run", seed=0)
    board = pd.DataFrame(model.manifest["leaderboard"]).set_index("model")
    assert [r["starved"] for r in recorded] == [True, False]  # Linear_Strong runs first, then Linear
    for call, name in zip(recorded, ["Linear_Strong", "Linear"], strict=True):
        assert (call["name"], call["family"], call["resumable"]) == (name, "linear", False)
        assert call["score"] == pytest.approx(board.loc[name, "score_val"])
    assert recorded[1]["best"] == pytest.approx(board.loc[["Linear_Strong", "Linear"], "score_val"].max())


def test_the_search_trains_a_starved_leader_on_before_the_next_candidate(churn_split, tmp_path, monkeypatch) -> None:
    import mlpilot
    from mlpilot.tasks.tabular import trainer
    from mlpilot.tasks.tabular.models.gbm import LightGBMModel

    original_finish, original_resume = trainer._finish_candidate, LightGBMModel.resume
    first: list[str] = []
    resumed: list[int] = []

    def finish_first_as_starved(result, pending, y, *, metric) -> None:
        original_finish(result, pending, y, metric=metric)
        if not first:  # pretend the limit ended every fold model of the first candidate
            first.append(result.name)
            for model in result.bag.models:
                model.hit_time_limit_ = True
            result.add_cut_folds(result.n_folds)

    def resume(self, *args, **kwargs):
        resumed.append(self.n_iterations_)
        return original_resume(self, *args, **kwargs)

    monkeypatch.setattr(trainer, "_finish_candidate", finish_first_as_starved)
    monkeypatch.setattr(LightGBMModel, "resume", resume)
    train, _ = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm"], max_models=2, n_folds=2, bag_sets=1,
                        path=tmp_path / "run", seed=0)
    assert len(resumed) == 2  # both fold models, right after the first candidate
    board = pd.DataFrame(model.manifest["leaderboard"]).set_index("model")
    assert board.loc[first[0], "folds_cut_by_time"] == 0
    log_text = (tmp_path / "run" / "log.txt").read_text()
    assert f"model_done {first[0]}" in log_text and "trained on for" in log_text
    assert log_text.index("trained on for") < log_text.index("model_start", log_text.index(f"model_done {first[0]}"))
