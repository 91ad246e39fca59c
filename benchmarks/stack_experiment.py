"""Would a stacking level help? An experiment, not part of mlpilot's search.

For each table of the suite (protocol split, seed 0): run mlpilot's level-1 search with the time
limit, then fit level-2 models on the original features plus the level-1 candidates' out-of-fold
predictions, over the same folds (as AutoGluon's stack levels do). Report, next to the level-1
ensemble, each level-2 model's and the level-2 ensemble's out-of-fold and test scores. Stacked
overfitting shows as a level-2 out-of-fold score better than level 1 with a worse test score.

    .venv/bin/python benchmarks/stack_experiment.py --tasks credit_data ames --time-limit 60 \\
        --out benchmarks/results/stacking_60s.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import BenchTask, load_task, read_suite, score

from mlpilot.engine.budget import Budget
from mlpilot.engine.ensemble import blend, greedy_ensemble
from mlpilot.engine.oof import fit_bagged
from mlpilot.engine.splits import kfold_splits
from mlpilot.tasks.tabular import trainer
from mlpilot.tasks.tabular.config import TabularConfig, resolve_config
from mlpilot.tasks.tabular.inference import prepare_training_data
from mlpilot.tasks.tabular.models import get_model_class
from mlpilot.tasks.tabular.models.base import BINARY, REGRESSION, predict_bag

LEVEL2 = ("LightGBM", "LightGBM_Small", "CatBoost", "XGBoost_Shallow", "Linear")


def run_table(task: BenchTask, *, time_limit: float, bag_sets: int) -> dict[str, Any]:
    trainer.KEEP_IN_MEMORY = 10**6  # every candidate's fold models are needed for test-time features
    config = resolve_config(TabularConfig(target=task.target, time_limit=time_limit, seed=0, bag_sets=bag_sets),
                            explicit={"bag_sets"})
    training = prepare_training_data(task.train, target=task.target, problem_type=None)
    start = time.perf_counter()
    level1 = trainer.run_search(training, config, budget=Budget(time_limit))
    level1_seconds = time.perf_counter() - start
    y, _ = trainer.encode_target(training.y, level1.problem_type)
    X = level1.pipeline.transform(training.X)
    test_input, _ = level1.pipeline.check_input(task.test.drop(columns=[task.target]))
    X_test = level1.pipeline.transform(test_input)
    pool = trainer.ensemble_pool(level1.results, level1.metric)
    X2, X2_test = _with_level1_columns(X, X_test, pool, level1.problem_type)

    def test_score(pred: np.ndarray) -> float:
        if level1.problem_type == REGRESSION:
            return score(task, predictions=pd.Series(pred), proba=None)["score"]
        labels = np.asarray(level1.classes, dtype=object)[pred.argmax(axis=1)]
        return score(task, predictions=pd.Series(labels), proba=pd.DataFrame(pred, columns=level1.classes))["score"]

    level1_test = sum(w * predict_bag(m.bag.models, X_test) for m, w in zip(level1.members, level1.weights,
                                                                             strict=True))
    row: dict[str, Any] = {"task": task.id, "time_limit": time_limit, "bag_sets": bag_sets,
                           "level1_seconds": round(level1_seconds, 1), "level1_oof": level1.ensemble_score,
                           "level1_test": test_score(level1_test)}
    splits = kfold_splits(y, n_folds=level1.n_folds, stratified=level1.problem_type != REGRESSION, seed=0)
    level2 = []
    for name in LEVEL2:
        candidate = next(c for c in trainer.default_portfolio(level1.problem_type) if c.name == name)
        make_model = partial(get_model_class(candidate.family), problem_type=level1.problem_type,
                             n_classes=len(level1.classes), params=candidate.params, seed=0, n_threads=config.threads)
        bag = fit_bagged(make_model, X2, y, splits, time_share=float("inf"), budget=Budget(None))
        pred = predict_bag(bag.models, X2_test)
        row[f"level2_{name}"] = {"oof": level1.metric(y, bag.oof), "test": test_score(pred)}
        level2.append((bag.oof, pred))
    weights = greedy_ensemble([oof for oof, _ in level2], y, level1.metric)
    row["level2_oof"] = level1.metric(y, blend([oof for oof, _ in level2], weights))
    row["level2_test"] = test_score(blend([pred for _, pred in level2], weights))
    return row


def _with_level1_columns(X: pd.DataFrame, X_test: pd.DataFrame, pool: list, problem_type: str):
    """The features plus each level-1 candidate's predictions: out of fold for training rows, its fold
    models' mean for test rows (binary: P(class 1); multiclass: every class; regression: the value)."""
    def columns(pred: np.ndarray) -> np.ndarray:
        return pred[:, 1:2] if problem_type == BINARY else pred.reshape(len(pred), -1)

    train_parts = [columns(r.bag.oof) for r in pool]
    test_parts = [columns(predict_bag(r.bag.models, X_test)) for r in pool]
    names = [f"level1_{i}" for i in range(sum(p.shape[1] for p in train_parts))]
    train = pd.concat([X.reset_index(drop=True), pd.DataFrame(np.hstack(train_parts), columns=names)], axis=1)
    test = pd.concat([X_test.reset_index(drop=True), pd.DataFrame(np.hstack(test_parts), columns=names)], axis=1)
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="*", help="only these task ids (default: the whole suite)")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--bag-sets", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stacking.jsonl"))
    args = parser.parse_args()
    for suite_row in read_suite(only=args.tasks):
        row = run_table(load_task(suite_row, seed=0), time_limit=args.time_limit, bag_sets=args.bag_sets)
        print(json.dumps(row), flush=True)
        with args.out.open("a") as out:
            out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
