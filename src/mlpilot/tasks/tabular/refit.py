"""Refit on all data: one model per ensemble member instead of one per fold, for fast prediction.

Each member is refitted on every training row with the iteration count its fold models chose by
early stopping (their mean), so no validation rows are needed. Predictions then cost one model per
member instead of k; validation scores stay the out-of-fold ones of the bags (AutoGluon's
``refit_full``). A member whose refit would not fit in the time left keeps its bag.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlpilot.engine.budget import Budget
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.base import TabularModel

# Time held back from the search for the refits when they are asked for, as a share of the limit.
REFIT_RESERVE = 0.15
# The parameter that caps a family's iterations when no validation frame is given.
_ITERATION_PARAM = {
    "lightgbm": "n_estimators", "xgboost": "n_estimators", "catboost": "n_estimators",
    "extra_trees": "n_estimators", "random_forest": "n_estimators", "neural_net": "max_epochs",
}
_SAFETY = 1.5


def refit_params(family: str, params: dict[str, Any], fold_iterations: list[int]) -> dict[str, Any]:
    """The member's params with its iteration cap set to the fold models' mean choice."""
    key = _ITERATION_PARAM.get(family)
    iterations = [i for i in fold_iterations if i]
    if key is None or not iterations:
        return dict(params)
    return {**params, key: max(1, round(float(np.mean(iterations))))}


def refit_members(
    members: list,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    config: TabularConfig,
    problem_type: str,
    n_classes: int,
    budget: Budget,
) -> dict[str, TabularModel]:
    """Refit each member (best weight first) on all rows while time allows; returns name → model."""
    refits: dict[str, TabularModel] = {}
    for result in members:
        if result.out_of_bag and result.bag.models:  # already fitted on all rows
            refits[result.name] = result.bag.models[0]
            continue
        one_fold = result.fit_time / max(result.n_folds, 1)
        left = _time_for_refits(budget)
        if left < _SAFETY * one_fold * 1.3:
            break
        model = get_model_class(result.family)(
            problem_type=problem_type, n_classes=n_classes, seed=config.seed, n_threads=config.threads,
            params=refit_params(result.family, result.params, result.fold_iterations),
        )
        time_limit = None if not budget.limited else max(left, 0.1)
        refits[result.name] = model.fit(X, y, time_limit=time_limit)
    return refits


def _time_for_refits(budget: Budget) -> float:
    """The search left ``REFIT_RESERVE`` of the limit in the budget's reserve for the refits; the
    rest of the reserve stays for saving the run."""
    if not budget.limited:
        return float("inf")
    saving_reserve = budget.reserve - REFIT_RESERVE * budget.time_limit
    return budget.remaining_total() - saving_reserve
