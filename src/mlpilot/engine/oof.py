"""Fit one candidate over validation splits and collect its out-of-fold predictions.

Every selection decision (leaderboard order, ensemble weights, decision threshold) is made on these
out-of-fold predictions only. The runner owns the candidate's time share: each fold gets an equal
part of what is left of it, and the candidate is abandoned when a fold cannot start in time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mlpilot.engine.budget import Budget
from mlpilot.engine.splits import Split

# A fold gets at least this long when the run's budget allows it: below it, a share split over many
# candidates and folds would starve every model on small budgets, while cheap models need far less.
MIN_FOLD_SECONDS = 0.5
# No fold starts with less than this left of the whole run's budget.
MIN_START_SECONDS = 0.1
# A model whose fold ran past this many times the fold's time limit without being cut there (a solver
# that cannot stop, like a linear model's on a wide table) would do the same on every fold: it is
# abandoned after that fold instead of taking the time of the candidates after it.
MAX_OVERSHOOT = 2.0
# Rows predicted to time a model validated out of bag (its validation needs no predict call).
OOB_TIMING_ROWS = 1000


class FoldModel(Protocol):
    def fit(self, X: Any, y: np.ndarray, *, X_val: Any, y_val: np.ndarray, time_limit: float | None) -> Any: ...

    def predict(self, X: Any) -> np.ndarray: ...


@dataclass
class BagResult:
    """What one candidate produced. ``oof`` rows not covered by any validation fold are NaN."""

    models: list[Any] = field(default_factory=list)
    oof: np.ndarray | None = None
    fit_time: float = 0.0
    predict_seconds_per_1k: float = 0.0
    n_folds_done: int = 0
    n_folds: int = 0
    n_folds_cut: int = 0  # fold models whose time limit ended them (``hit_time_limit_``) before they converged
    stopped_reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.n_folds_done == self.n_folds and self.oof is not None

    def add_fold(self, model: Any, pred: np.ndarray, val_idx: np.ndarray, *, n_rows: int,
                 predict_seconds: float) -> None:
        """Record one finished fold: its model and its predictions on its validation rows."""
        if self.oof is None:
            self.oof = np.full((n_rows, *pred.shape[1:]), np.nan)
        self.oof[val_idx] = pred
        self.models.append(model)
        self.n_folds_cut += bool(getattr(model, "hit_time_limit_", False))
        self.predict_seconds_per_1k += predict_seconds / max(len(val_idx), 1) * 1000
        self.n_folds_done += 1


def covered_rows(oof: np.ndarray, n_rows: int) -> np.ndarray:
    """Mask of the rows some validation fold predicted (holdout validation leaves the others NaN)."""
    return ~np.isnan(oof).reshape(n_rows, -1).any(axis=1)


def fit_fold(make_model: Callable[[], FoldModel], X: Any, y: np.ndarray, train_idx: np.ndarray,
             val_idx: np.ndarray, *, time_limit: float | None,
             resume: bool = False) -> tuple[Any, np.ndarray, float]:
    """Fit one fold's model (``resume``: go on training the fitted model ``make_model`` returns) and
    predict its validation rows: (model, predictions, predict seconds).

    A model that sets ``oob_predictions_`` (fitted on all rows, validated out of bag) is scored on
    those; its predict time is then measured on a sample of rows and scaled to all of them.
    """
    model = make_model()
    X_val = take_rows(X, val_idx)
    # Out-of-bag validation trains and "validates" on the same rows: one copy of the table serves both.
    X_train = X_val if np.array_equal(train_idx, val_idx) else take_rows(X, train_idx)
    train = model.resume if resume else model.fit
    train(X_train, y[train_idx], X_val=X_val, y_val=y[val_idx], time_limit=time_limit)
    oob = getattr(model, "oob_predictions_", None)
    sample = X_val if oob is None else take_rows(X_val, np.arange(min(len(val_idx), OOB_TIMING_ROWS)))
    t0 = time.perf_counter()
    pred = np.asarray(model.predict(sample), dtype=np.float64)
    seconds = time.perf_counter() - t0
    if oob is None:
        return model, pred, seconds
    return model, np.asarray(oob, dtype=np.float64), seconds * len(val_idx) / max(len(sample), 1)


def fit_bagged(
    make_model: Callable[[], FoldModel],
    X: Any,
    y: np.ndarray,
    splits: Sequence[Split],
    *,
    time_share: float,
    budget: Budget,
) -> BagResult:
    """Fit ``make_model()`` once per split; each fold predicts its own validation rows."""
    result = BagResult(n_folds=len(splits))
    start = time.perf_counter()
    ignored_limit = ""  # set when the last fold ran far past its time limit without being cut there
    for i, (train_idx, val_idx) in enumerate(splits):
        folds_left = len(splits) - i
        if budget.stopped:
            result.stopped_reason = f"stopped early after {i} of {len(splits)} folds"
            break
        fold_limit = _fold_limit(start, time_share, budget, folds_left)
        if fold_limit is not None and budget.remaining() < MIN_START_SECONDS:
            result.stopped_reason = f"time budget ran out after {i} of {len(splits)} folds"
            break
        if ignored_limit:
            result.stopped_reason = f"abandoned after {i} of {len(splits)} folds: {ignored_limit}"
            break
        fold_start = time.perf_counter()
        model, pred, predict_seconds = fit_fold(make_model, X, y, train_idx, val_idx, time_limit=fold_limit)
        result.add_fold(model, pred, val_idx, n_rows=len(y), predict_seconds=predict_seconds)
        fold_seconds = time.perf_counter() - fold_start
        if fold_limit is not None and fold_seconds > MAX_OVERSHOOT * fold_limit \
                and not getattr(model, "hit_time_limit_", False):
            ignored_limit = (f"a fold took {fold_seconds:.1f} s of its {fold_limit:.1f} s and this model "
                             "cannot stop at its time limit")
    result.fit_time = time.perf_counter() - start
    return result


def resume_bagged(bag: BagResult, X: Any, y: np.ndarray, splits: Sequence[Split], *, time_share: float,
                  budget: Budget) -> BagResult:
    """Go on training the fold models of ``bag`` (fitted on ``splits``, in order) that their time limit
    cut short, within ``time_share``: the same rows, more rounds.

    The bag stays complete whatever the budget does: a fold with no time left keeps its model and
    predictions as they were. ``fit_time`` counts this call only.
    """
    result = BagResult(n_folds=len(splits))
    start = time.perf_counter()
    seconds_per_fold = bag.predict_seconds_per_1k / max(bag.n_folds_done, 1)
    cut = [i for i, model in enumerate(bag.models) if getattr(model, "hit_time_limit_", False)]
    for i, ((train_idx, val_idx), model) in enumerate(zip(splits, bag.models, strict=True)):
        fold_limit = _fold_limit(start, time_share, budget, max(sum(j >= i for j in cut), 1))
        if i not in cut or budget.stopped or (fold_limit is not None and budget.remaining() < MIN_START_SECONDS):
            result.add_fold(model, bag.oof[val_idx], val_idx, n_rows=len(y),
                            predict_seconds=seconds_per_fold * max(len(val_idx), 1) / 1000)
            continue
        model, pred, predict_seconds = fit_fold(lambda m=model: m, X, y, train_idx, val_idx,
                                                time_limit=fold_limit, resume=True)
        result.add_fold(model, pred, val_idx, n_rows=len(y), predict_seconds=predict_seconds)
    result.fit_time = time.perf_counter() - start
    return result


def _fold_limit(start: float, time_share: float, budget: Budget, folds_left: int) -> float | None:
    """An equal part of what is left of the candidate's share (at least ``MIN_FOLD_SECONDS``), never
    past the run's budget."""
    if not budget.limited or math.isinf(time_share):
        return None
    share_left = time_share - (time.perf_counter() - start)
    return min(max(share_left / folds_left, MIN_FOLD_SECONDS), budget.remaining())


def take_rows(X: Any, index: np.ndarray) -> Any:
    iloc = getattr(X, "iloc", None)
    return iloc[index] if iloc is not None else X[index]
