import math
import sys
import time

import numpy as np
import pytest

from mlpilot.engine.budget import Budget, memory_allows, return_free_heap
from mlpilot.engine.splits import choose_n_folds, holdout_split, kfold_splits


def test_stratified_folds_cover_every_row_once_and_keep_balance():
    y = np.array([0] * 90 + [1] * 10)
    splits = kfold_splits(y, n_folds=5, stratified=True, seed=0)
    val = np.concatenate([v for _, v in splits])
    assert sorted(val.tolist()) == list(range(100))
    assert all(y[v].sum() == 2 for _, v in splits)


def test_folds_shrink_to_smallest_class():
    y = np.array([0] * 20 + [1] * 3)
    assert len(kfold_splits(y, n_folds=5, stratified=True, seed=0)) == 3


def test_holdout_and_fold_choice():
    (train, val), = holdout_split(np.arange(100) % 2, fraction=0.2, stratified=True, seed=1)
    assert len(val) == 20 and not set(train) & set(val)
    assert choose_n_folds(n_rows=1000, time_limit=None, requested=None) == 5
    assert choose_n_folds(n_rows=1_000_000, time_limit=60, requested=None) == 1
    assert choose_n_folds(n_rows=1000, time_limit=60, requested=2) == 2
    assert choose_n_folds(n_rows=1000, time_limit=60, requested=None) == 5
    assert choose_n_folds(n_rows=40_000, time_limit=300, requested=None) == 8  # a long budget
    assert choose_n_folds(n_rows=400_000, time_limit=300, requested=None) == 3  # ... but a big table for it


def test_budget_share_and_reserve():
    unlimited = Budget(None)
    assert math.isinf(unlimited.remaining()) and math.isinf(unlimited.share(n_left=3))
    budget = Budget(10.0, reserve=2.0)
    assert 7.5 < budget.remaining() <= 8.0
    assert budget.share(n_left=2) == pytest.approx(budget.remaining() / 2, abs=1e-3)
    assert budget.share(n_left=100) >= 0.15 * budget.remaining() - 1e-3
    past = Budget(0.01, started=time.perf_counter() - 1)
    assert past.share(n_left=1) == 0.0


def test_budget_stop_ends_the_search_time_but_keeps_the_reserve():
    for budget in (Budget(None), Budget(10.0, reserve=2.0)):
        budget.stop()
        assert budget.stopped and budget.remaining() == 0.0 and budget.share(n_left=3) == 0.0
    assert Budget(10.0, reserve=2.0, stop_signal=budget.stop_signal).remaining_total() > 9.0


def test_memory_check():
    assert memory_allows(1)
    assert not memory_allows(10**15)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_heap_pages_go_back_to_the_system() -> None:
    import psutil

    process = psutil.Process()
    chunks = [bytes(4000) for _ in range(40_000)]  # ~160 MB of malloc'd blocks
    kept = chunks[::64]  # pinned blocks in between keep the heap from shrinking by itself
    del chunks
    before = process.memory_info().rss
    assert return_free_heap()
    assert before - process.memory_info().rss > 100 * 2**20
    assert len(kept) == 625
