"""The Optuna phase: proposals for the best families, learned from the portfolio's scores."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

import mlpilot
from mlpilot.engine.metrics import get_metric
from mlpilot.tasks.tabular.models.portfolio import Candidate
from mlpilot.tasks.tabular.tuning import MAX_TRIALS, Tuner


def finished(name: str, family: str, params: dict, score: float, fit_time: float = 1.0) -> SimpleNamespace:
    return SimpleNamespace(name=name, family=family, params=params, status="ok", score=score, fit_time=fit_time)


PORTFOLIO = [
    finished("LightGBM", "lightgbm", {"learning_rate": 0.05, "num_leaves": 31}, 0.80),
    finished("LightGBM_XT", "lightgbm", {"extra_trees": True, "lambda_l2": 0.0}, 0.82),
    finished("CatBoost", "catboost", {"learning_rate": 0.08, "depth": 6}, 0.85, fit_time=4.0),
    finished("XGBoost", "xgboost", {"max_depth": 6}, 0.70),
    finished("Linear", "linear", {}, 0.90),  # not a tuned family, however good
]


def test_tunes_the_two_best_boosting_families_and_starts_from_the_portfolio():
    tuner = Tuner(PORTFOLIO, metric=get_metric("roc_auc", "binary"), seed=0)
    assert [s.family for s in tuner.searches] == ["catboost", "lightgbm"]
    lightgbm = tuner.searches[1].study
    # out-of-range portfolio values (lambda_l2 = 0) are clipped into the space, not dropped
    assert sorted(t.value for t in lightgbm.trials) == [0.80, 0.82]
    assert lightgbm.best_trial.params["extra_trees"] is True


def test_proposals_alternate_families_respect_time_and_learn_scores():
    tuner = Tuner(PORTFOLIO, metric=get_metric("roc_auc", "binary"), seed=0)
    first = tuner.ask(seconds_left=100)
    second = tuner.ask(seconds_left=100)
    assert (first.family, second.family) == ("catboost", "lightgbm")
    assert first.name == "CatBoost_Tuned1" and second.params["bagging_freq"] == 1
    tuner.tell(first, score=0.86, seconds=4.0)
    tuner.tell(second, score=None, seconds=9.0)  # failed: recorded as such, not as a score
    assert tuner.searches[0].study.best_value == 0.86
    assert tuner.searches[1].study.trials[-1].state.name == "FAIL"
    # CatBoost's trials take ~4 s: with 5 s left only LightGBM's (1 s) still fit
    assert tuner.ask(seconds_left=5).family == "lightgbm"
    assert tuner.ask(seconds_left=0.5) is None


def test_lower_is_better_metrics_and_the_trial_cap():
    results = [finished("LightGBM", "lightgbm", {}, 0.9), finished("XGBoost", "xgboost", {}, 0.5)]
    tuner = Tuner(results, metric=get_metric("log_loss", "multiclass"), seed=0)
    assert tuner.searches[0].family == "xgboost" and tuner.searches[0].study.direction.name == "MINIMIZE"
    proposals = [tuner.ask(seconds_left=100) for _ in range(MAX_TRIALS + 1)]
    assert proposals[-1] is None and all(isinstance(p, Candidate) for p in proposals[:-1])


def test_fit_spends_time_left_on_tuned_candidates_within_the_limit(churn_split, tmp_path):
    train, test = churn_split
    start = time.perf_counter()
    model = mlpilot.fit(train, target="churn", families=["lightgbm"], n_folds=3, time_limit=12, tune=True,
                        path=tmp_path / "t")
    assert time.perf_counter() - start <= 12 * 1.05 + 3
    board = model.leaderboard()
    tuned = board[board["model"].str.contains("_Tuned")]
    assert len(tuned) >= 2 and (tuned["status"] == "ok").any()
    assert np.isfinite(tuned["score_val (roc_auc)"].dropna()).all()
    assert model.evaluate(test)["roc_auc"] > 0.8
    reloaded = mlpilot.load(model.path)
    assert reloaded.predict_proba(test).equals(model.predict_proba(test))


@pytest.mark.parametrize("options", [{"tune": None}, {"n_folds": 1}, {"time_limit": None}, {"max_models": 2}])
def test_no_tuning_by_default_under_holdout_or_without_a_time_limit(churn_split, tmp_path, options):
    train, _ = churn_split
    settings = {"time_limit": 8, "tune": True, **options}  # max_models counts the tuned candidates too
    model = mlpilot.fit(train, target="churn", families=["lightgbm"], path=tmp_path / "n", **settings)
    assert not model.leaderboard()["model"].str.contains("_Tuned").any()


def test_ensemble_pool_keeps_each_familys_best_beside_the_top_scores():
    from mlpilot.tasks.tabular.trainer import MAX_ENSEMBLE_CANDIDATES, CandidateResult, ensemble_pool

    tuned = [CandidateResult(f"LightGBM_Tuned{i}", "lightgbm", {}, status="ok", score=0.90 - i / 1000)
             for i in range(MAX_ENSEMBLE_CANDIDATES + 3)]
    others = [CandidateResult("Linear", "linear", {}, status="ok", score=0.80),
              CandidateResult("Linear_B", "linear", {}, status="ok", score=0.79),
              CandidateResult("NeuralNet", "neural_net", {}, status="ok", score=0.85),
              CandidateResult("KNeighbors", "knn", {}, status="failed")]
    pool = ensemble_pool(others + tuned, get_metric("roc_auc", "binary"))
    names = [r.name for r in pool]
    assert names[:MAX_ENSEMBLE_CANDIDATES] == [r.name for r in tuned[:MAX_ENSEMBLE_CANDIDATES]]
    assert names[MAX_ENSEMBLE_CANDIDATES:] == ["NeuralNet", "Linear"]  # each family's best, best first
