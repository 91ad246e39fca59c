"""Repeated bagging: spend time left after the portfolio on new fold splits of the ensemble members.

Each extra bag set refits a member on a fresh k-fold split (and seed). Its out-of-fold predictions
are averaged with the earlier sets', which lowers their variance, and its fold models join the
member, so test predictions average more models. This is AutoGluon's ``num_bag_sets``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import Metric
from mlpilot.engine.oof import fit_bagged
from mlpilot.engine.progress import ProgressCallback, ProgressEvent
from mlpilot.engine.splits import Split
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.base import TabularModel

# A set is started only when the member's last set took at most this share of the time left.
_SAFETY = 1.5


def repeat_bagging(
    members: list,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    make_splits: Callable[[int], list[Split]],
    config: TabularConfig,
    problem_type: str,
    n_classes: int,
    metric: Metric,
    budget: Budget,
    progress: ProgressCallback,
    on_candidate: Callable[[object], None],
) -> int:
    """Add bag sets to ``members`` (best first) while time allows; returns the number of sets added.

    A member whose next set does not fit in the time left gets no more sets, but the cheaper members
    after it still do. The time left only shrinks, so every member still taking sets has had the same
    number of them.
    """
    added = 0
    done: set[str] = set()  # members that cannot take another set
    for set_index in range(1, config.bag_sets):
        splits = make_splits(config.seed + set_index)
        for result in members:
            if budget.spent():
                return added
            if result.name in done or result.out_of_bag:  # out of bag: one model on all rows, no folds
                continue
            last_set_time = result.fit_time / set_index
            if budget.remaining() < _SAFETY * last_set_time:
                done.add(result.name)
                continue
            models = result.fold_models(n_threads=config.threads)
            if models is None:  # released, and nowhere to read them back from
                done.add(result.name)
                continue
            result.bag.models = models
            make_model: Callable[[], TabularModel] = partial(
                get_model_class(result.family), problem_type=problem_type, n_classes=n_classes,
                params=result.params, seed=config.seed + set_index, n_threads=config.threads,
            )
            bag = fit_bagged(make_model, X, y, splits, time_share=_SAFETY * last_set_time, budget=budget)
            if not bag.complete:  # slower than its last set: its share ran out
                done.add(result.name)
                continue
            result.add_bag_set(bag, sets_before=set_index, y=y, metric=metric)
            on_candidate(result)
            added += 1
            progress(ProgressEvent("model_done", budget.elapsed(), max(budget.remaining_total(), 0.0),
                                   model=result.name, score=result.score,
                                   message=f"bag set {set_index + 1}"))
    return added

