"""Optuna search on the most promising boosted-tree families, with the time the portfolio left.

The portfolio's configurations are good everywhere and tuned nowhere: on many tables it finishes in
half the budget. What is left goes to new configurations of the families that scored best on this
table. Each family gets one TPE study (Optuna's ask-and-tell interface, so the search runs inside the
trainer's own loop and budget); the portfolio's configurations of that family are added to the study
as finished trials first, so the first proposals already build on what the portfolio measured. A
proposal is a candidate like any other: bagged over the same folds, scored out of fold, eligible
for the ensemble.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpilot.engine.metrics import Metric
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.portfolio import Candidate

log = logging.getLogger("mlpilot")

# The families worth tuning (most of the portfolio's gains are theirs) and at most how many of them.
TUNABLE = ("lightgbm", "xgboost", "catboost")
MAX_FAMILIES = 2
# A search never proposes more than this many configurations (a bound for unlimited budgets too).
MAX_TRIALS = 40


def _space(family: str) -> dict[str, Any]:
    """The searched ranges per family: around the portfolio's values, wide enough to matter."""
    from optuna.distributions import CategoricalDistribution as Cat
    from optuna.distributions import FloatDistribution as Float
    from optuna.distributions import IntDistribution as Int

    spaces = {
        "lightgbm": {
            "learning_rate": Float(0.01, 0.2, log=True),
            "num_leaves": Int(8, 256, log=True),
            "min_data_in_leaf": Int(2, 100, log=True),
            "feature_fraction": Float(0.4, 1.0),
            "bagging_fraction": Float(0.5, 1.0),
            "lambda_l2": Float(1e-3, 10.0, log=True),
            "extra_trees": Cat([False, True]),
        },
        "xgboost": {
            "learning_rate": Float(0.01, 0.2, log=True),
            "max_depth": Int(3, 10),
            "min_child_weight": Float(0.5, 20.0, log=True),
            "subsample": Float(0.5, 1.0),
            "colsample_bytree": Float(0.4, 1.0),
            "reg_lambda": Float(1e-3, 10.0, log=True),
        },
        "catboost": {
            "learning_rate": Float(0.02, 0.2, log=True),
            "depth": Int(4, 8),
            "l2_leaf_reg": Float(1.0, 30.0, log=True),
            "random_strength": Float(0.5, 5.0, log=True),
        },
    }
    return spaces[family]


# Settings a proposal always carries: row subsampling in LightGBM needs a bagging frequency.
_FIXED = {"lightgbm": {"bagging_freq": 1}}


@dataclass
class FamilySearch:
    """One family's study and what its trials cost so far."""

    family: str
    study: Any
    space: dict[str, Any]  # parameter name → Optuna distribution
    seconds: list[float] = field(default_factory=list)
    trials: dict[str, Any] = field(default_factory=dict)  # candidate name → its open Optuna trial

    def expected_seconds(self) -> float:
        return float(np.median(self.seconds)) if self.seconds else 0.0


class Tuner:
    """Proposes tuned candidates for the best families in turn and learns from their scores.

    ``results`` are the portfolio's finished candidates (objects with ``name``, ``family``,
    ``params``, ``status``, ``score`` and ``fit_time``).
    """

    def __init__(self, results: list[Any], *, metric: Metric, seed: int, max_trials: int | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.searches = []
        for index, family in enumerate(_best_families(results, metric)):
            sampler = optuna.samplers.TPESampler(seed=seed + index, n_startup_trials=5, multivariate=True)
            direction = "maximize" if metric.greater_is_better else "minimize"
            search = FamilySearch(family, optuna.create_study(direction=direction, sampler=sampler), _space(family))
            for result in results:
                if result.family == family and result.status == "ok":
                    _add_known(search, result)
            self.searches.append(search)
        self._turn = 0
        self._count = 0
        self._max_trials = MAX_TRIALS if max_trials is None else min(max_trials, MAX_TRIALS)

    def ask(self, *, seconds_left: float) -> Candidate | None:
        """The next configuration to try: the next family in turn whose trials fit in ``seconds_left``."""
        if self._count >= self._max_trials:
            return None
        for _ in range(len(self.searches)):
            search = self.searches[self._turn % len(self.searches)]
            self._turn += 1
            if search.expected_seconds() * 1.5 > seconds_left:
                continue
            self._count += 1
            trial = search.study.ask(search.space)
            name = f"{get_model_class(search.family).name}_Tuned{self._count}"
            search.trials[name] = trial
            return Candidate(name, search.family, {**_FIXED.get(search.family, {}), **trial.params})
        return None

    def tell(self, candidate: Candidate, *, score: float | None, seconds: float) -> None:
        """Record a proposal's out-of-fold score (None: it failed or did not finish)."""
        import optuna

        search = next(s for s in self.searches if candidate.name in s.trials)
        trial = search.trials.pop(candidate.name)
        search.seconds.append(seconds)
        if score is None or not np.isfinite(score):
            search.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            search.study.tell(trial, float(score))

    def expected_seconds(self, candidate: Candidate) -> float:
        """The median fit time of the candidate's family so far."""
        return next(s for s in self.searches if s.family == candidate.family).expected_seconds()

    def __bool__(self) -> bool:
        return bool(self.searches)


def _best_families(results: list[Any], metric: Metric) -> list[str]:
    """The tunable families, best out-of-fold score first, at most ``MAX_FAMILIES``."""
    best: dict[str, float] = {}
    for result in results:
        if result.status == "ok" and result.family in TUNABLE:
            oriented = metric.oriented(result.score)
            best[result.family] = max(best.get(result.family, -np.inf), oriented)
    return sorted(best, key=best.__getitem__, reverse=True)[:MAX_FAMILIES]


def _add_known(search: FamilySearch, result: Any) -> None:
    """A portfolio configuration as a finished trial: its params projected into the searched space."""
    import optuna

    params = get_model_class(search.family).resolve_params(result.params)
    known: dict[str, Any] = {}
    for name, distribution in search.space.items():
        value = params.get(name)
        if isinstance(distribution, optuna.distributions.CategoricalDistribution):
            if value not in distribution.choices:
                return
            known[name] = value
        else:
            known[name] = type(distribution.low)(min(max(value, distribution.low), distribution.high))
    try:
        search.study.add_trial(optuna.trial.create_trial(params=known, distributions=search.space, value=result.score))
    except ValueError as exc:  # a portfolio value the space cannot hold: the search starts without it
        log.debug("portfolio configuration %s not added to the %s study: %s", result.name, search.family, exc)
        return
    search.seconds.append(result.fit_time)
