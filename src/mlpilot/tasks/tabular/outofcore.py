"""Training on a table bigger than memory: a Dask DataFrame (or a Parquet folder read as one) and the
gradient-boosting families' Dask-native estimators (``xgboost.dask``, ``lightgbm.dask``).

The table never comes to this process whole. A sample of its first rows gives the column kinds, the data
report and the fitted feature pipeline; every partition is then transformed on the workers. Validation is
a random holdout split (k-fold bagging would cost k passes over data that does not fit in memory). The
models are trained over all workers' partitions; a sample of the holdout rows comes to this process to
score them, weight the ensemble and calibrate the threshold with the same code as the in-memory search.
The saved run has the in-memory run's format (native model files, one "fold" per model), so ``load``,
``predict`` and ``serve`` work unchanged.

LightGBM's Dask interface cannot stop early (workers that stop at different rounds hang each other), so its
round count is sized from a timed probe fit to end inside its time share, and the round count kept is chosen
on the holdout sample afterwards. XGBoost stops early on the whole holdout split and at the deadline; the
deadline check is agreed over all workers (an allreduce) so they all stop at the same round.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from mlpilot.engine.budget import Budget
from mlpilot.engine.metrics import Metric, default_metric, get_metric
from mlpilot.engine.oof import BagResult
from mlpilot.engine.progress import ProgressCallback, ProgressEvent
from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.inference import DataReport, prepare_training_data
from mlpilot.tasks.tabular.io import clean_strings, is_dask_frame, is_string_like, to_float
from mlpilot.tasks.tabular.models.base import BINARY, MULTICLASS, REGRESSION
from mlpilot.tasks.tabular.models.gbm import LightGBMModel, XGBoostModel, early_stopping_patience
from mlpilot.tasks.tabular.trainer import CandidateResult, SearchOutcome, build_ensemble, finish_blend

log = logging.getLogger("mlpilot")

FAMILIES = ("lightgbm", "xgboost")
SAMPLE_ROWS = 20_000  # first rows read to infer column kinds and fit the feature pipeline
HOLDOUT_FRACTION = 0.2
SCORE_ROWS = 200_000  # holdout rows brought here to score, ensemble and calibrate (bounds this process's memory)
LEARNING_RATE = 0.1  # large tables need many rounds at 0.05; 0.1 reaches a good model inside short budgets
MAX_ROUNDS = 5000
PROBE_ROUNDS = 10
LABEL = "__mlpilot_label__"
# A Dask-native fit still running this long after its deadline is abandoned: data loading before the first
# round is not bounded by the deadline, so it gets some slack, but a fit hung on a dead worker never returns.
ABANDON_AFTER = 60.0


class ClusterDeadline(xgb.callback.TrainingCallback):
    """Stop every XGBoost worker at the same round once the wall-clock deadline has passed on any of them."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if self.deadline is None:
            return False
        late = np.array([float(time.time() >= self.deadline)])
        if xgb.collective.is_distributed():
            late = xgb.collective.allreduce(late, xgb.collective.Op.MAX)
        return bool(late[0] > 0)


def fit_out_of_core(
    data: Any, config: TabularConfig, *, budget: Budget, progress: ProgressCallback, on_candidate: Any,
) -> tuple[SearchOutcome, DataReport]:
    """Train the gradient-boosting families on the cluster's Dask client; returns the outcome and the report."""
    import dask.dataframe as dd

    ddf = data if is_dask_frame(data) else dd.read_parquet(str(data))
    if config.target not in ddf.columns:
        raise DataError(f"Target column '{config.target}' is not in the table; its columns are {list(ddf.columns)}.")
    sample = ddf.head(SAMPLE_ROWS, npartitions=-1)
    training = prepare_training_data(sample, target=config.target, problem_type=config.problem_type,
                                     from_sample=True)
    classes = _all_classes(ddf, config.target, training.classes) if training.classes is not None else []
    problem_type = training.problem_type if not classes else (BINARY if len(classes) == 2 else MULTICLASS)
    pipeline = FeaturePipeline(training.report).fit(training.X)
    metric = get_metric(config.metric, problem_type) if config.metric else default_metric(problem_type)
    frame = ddf.map_partitions(_features_and_label, pipeline, config.target, problem_type, classes,
                               meta=_features_and_label(sample.iloc[:0], pipeline, config.target, problem_type,
                                                        classes))
    train, hold = frame.random_split([1 - HOLDOUT_FRACTION, HOLDOUT_FRACTION], random_state=config.seed)
    n_rows = len(frame)
    report = replace(training.report, n_rows=n_rows, problem_type=problem_type)
    progress(ProgressEvent("start", budget.elapsed(), None, message=f"{problem_type}, {n_rows} rows (Dask)"))
    scored = hold.sample(frac=min(1.0, SCORE_ROWS / max(HOLDOUT_FRACTION * n_rows, 1)),
                         random_state=config.seed).compute()
    y_score = scored.pop(LABEL).to_numpy()
    y_score = y_score.astype(np.int64) if classes else y_score.astype(np.float64)
    families = [f for f in FAMILIES if not config.families or f in config.families]
    if not families:
        raise ConfigError(f"Out-of-memory training uses the families {list(FAMILIES)}; allow at least one of them.")
    results = []
    for i, family in enumerate(families):
        share = budget.share(n_left=len(families) - i)
        progress(ProgressEvent("model_start", budget.elapsed(), None, model=_NAMES[family]))
        result = _fit_family(family, train, hold, scored, y_score, problem_type=problem_type,
                             n_classes=len(classes), metric=metric, config=config, budget=budget, share=share)
        results.append(result)
        if result.status == "ok":
            on_candidate(result)
        progress(ProgressEvent("model_done" if result.status == "ok" else "model_skipped", budget.elapsed(), None,
                               model=result.name, score=result.score, message=result.reason))
    if not any(r.status == "ok" for r in results):
        raise ConfigError("No model finished within the time limit: raise `time_limit` and try again.")
    members, weights, ensemble_score = build_ensemble(results, y_score, metric)
    _, temperature, ensemble_score, threshold = finish_blend(members, weights, y_score, metric=metric,
                                                             problem_type=problem_type, score=ensemble_score)
    outcome = SearchOutcome(
        problem_type=problem_type, metric=metric, classes=classes, pipeline=pipeline, results=results,
        members=members, weights=weights, ensemble_score=ensemble_score, threshold=threshold,
        temperature=temperature, explainer=None,
        n_folds=1, validation=f"holdout ({HOLDOUT_FRACTION:.0%}, Dask; scored on {len(y_score):,} rows)",
    )
    return outcome, report


_NAMES = {"lightgbm": "LightGBM", "xgboost": "XGBoost"}


def _all_classes(ddf: Any, target: str, sample_classes: list[Any]) -> list[Any]:
    """Every class in the whole target column (the sample may miss rare ones), normalised like the sample's."""
    uniques = ddf[target].dropna().drop_duplicates().compute()
    labels = _clean_labels(uniques, numeric=_numeric_classes(sample_classes)).dropna().unique().tolist()
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def _numeric_classes(classes: list[Any]) -> bool:
    return all(isinstance(c, (int, float, np.number)) and not isinstance(c, bool) for c in classes)


def _clean_labels(y: pd.Series, *, numeric: bool) -> pd.Series:
    """Class labels as the in-memory path reads them: stripped strings, or whole numbers as ints."""
    if numeric:
        values = to_float(y)
        whole = np.isfinite(values) & (values == np.round(values))
        return pd.Series(np.where(whole, values, np.nan), index=y.index).astype("Int64").astype(object)
    return clean_strings(y) if is_string_like(y) else y.astype(str)


def _features_and_label(part: pd.DataFrame, pipeline: FeaturePipeline, target: str, problem_type: str,
                        classes: list[Any]) -> pd.DataFrame:
    """One partition's features plus the encoded label (class code or value); rows without a label are dropped."""
    y = part[target]
    if problem_type == REGRESSION:
        label = pd.Series(to_float(y), index=part.index)
    else:
        codes = {c: i for i, c in enumerate(classes)}
        label = _clean_labels(y, numeric=_numeric_classes(classes)).map(codes).astype("float64")
    out = pipeline.transform(part.drop(columns=[target]))
    out[LABEL] = label.to_numpy()
    return out[out[LABEL].notna()]


def _fit_family(family: str, train: Any, hold: Any, scored: pd.DataFrame, y_score: np.ndarray, *,
                problem_type: str, n_classes: int, metric: Metric, config: TabularConfig, budget: Budget,
                share: float) -> CandidateResult:
    params = {"learning_rate": LEARNING_RATE}
    result = CandidateResult(name=_NAMES[family], family=family, params=params)
    if budget.spent():
        result.status, result.reason = "skipped", "no time left in the budget"
        return result
    deadline = None if not budget.limited else time.time() + min(share, budget.remaining())
    model_cls = LightGBMModel if family == "lightgbm" else XGBoostModel
    t0 = time.perf_counter()
    fit = _fit_lightgbm if family == "lightgbm" else _fit_xgboost
    try:
        booster, rounds = _before_deadline(
            partial(fit, train, hold, scored, y_score, problem_type=problem_type, metric=metric, seed=config.seed,
                    deadline=deadline),
            deadline=None if deadline is None else deadline + ABANDON_AFTER,
        )
    except Exception as exc:  # one family failing must not sink the run; the log keeps the reason
        log.warning("model %s failed on the cluster: %s", result.name, exc, exc_info=True)
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
        return result
    model = model_cls(problem_type=problem_type, n_classes=max(n_classes, 1), params={**params,
                      "n_estimators": rounds}, seed=config.seed, n_threads=config.threads)
    model.booster_, model.n_iterations_ = booster, rounds
    model.features_ = [c for c in scored.columns]
    model.categorical_ = [c for c in scored.columns if isinstance(scored[c].dtype, pd.CategoricalDtype)]
    model.classes_ = None
    model.fit_time_ = result.fit_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = model.predict(scored)
    result.predict_seconds_per_1k = (time.perf_counter() - t1) / max(len(scored), 1) * 1000
    result.score, result.n_folds, result.fold_iterations = metric(y_score, pred), 1, [rounds]
    result.bag = BagResult(models=[model], oof=pred, fit_time=result.fit_time, n_folds_done=1, n_folds=1)
    result.status = "ok"
    return result


def _before_deadline(fit: Callable[[], Any], *, deadline: float | None) -> Any:
    """``fit()``, abandoned (left to its daemon thread) if it has not returned by ``deadline``.

    A distributed fit hangs rather than fails when a worker dies under it (LightGBM's tasks are pinned to
    the workers that held the data; the others wait on them), so the run stops waiting for it.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fit()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="mlpilot-dask-fit", daemon=True)
    thread.start()
    thread.join(None if deadline is None else max(deadline - time.time(), 0.0))
    if thread.is_alive():
        raise TimeoutError("still running on the cluster well past its deadline (abandoned; a worker may have died)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _fit_xgboost(train: Any, hold: Any, scored: pd.DataFrame, y_score: np.ndarray, *, problem_type: str,
                 metric: Metric, seed: int, deadline: float | None) -> tuple[Any, int]:
    from xgboost import dask as dxgb

    cls = dxgb.DaskXGBRegressor if problem_type == REGRESSION else dxgb.DaskXGBClassifier
    estimator = cls(n_estimators=MAX_ROUNDS, learning_rate=LEARNING_RATE, max_depth=6, tree_method="hist",
                    enable_categorical=True, max_cat_to_onehot=4, colsample_bytree=0.8, random_state=seed,
                    early_stopping_rounds=early_stopping_patience(LEARNING_RATE, override=None),
                    callbacks=[ClusterDeadline(deadline)])
    X_train, y_train = train.drop(columns=[LABEL]), train[LABEL]
    X_hold, y_hold = hold.drop(columns=[LABEL]), hold[LABEL]
    estimator.fit(X_train, y_train, eval_set=[(X_hold, y_hold)], verbose=False)
    booster = estimator.get_booster()
    best = getattr(booster, "best_iteration", None)
    rounds = booster.num_boosted_rounds() if best is None else int(best) + 1
    return (booster[:rounds] if rounds < booster.num_boosted_rounds() else booster), rounds


def _fit_lightgbm(train: Any, hold: Any, scored: pd.DataFrame, y_score: np.ndarray, *, problem_type: str,
                  metric: Metric, seed: int, deadline: float | None) -> tuple[Any, int]:
    import lightgbm as lgb

    cls = lgb.DaskLGBMRegressor if problem_type == REGRESSION else lgb.DaskLGBMClassifier
    X_train, y_train = train.drop(columns=[LABEL]), train[LABEL]
    options = {"learning_rate": LEARNING_RATE, "num_leaves": 31, "colsample_bytree": 0.9, "random_state": seed,
               "verbosity": -1, "deterministic": True, "force_col_wise": True}
    rounds = MAX_ROUNDS
    if deadline is not None:  # size the rounds from a timed probe: no callback may stop Dask LightGBM safely
        t0 = time.time()
        cls(n_estimators=PROBE_ROUNDS, **options).fit(X_train, y_train)
        probe = time.time() - t0  # an upper bound on PROBE_ROUNDS rounds: it also holds the fixed costs
        rounds = int(np.clip(PROBE_ROUNDS * (deadline - time.time() - probe) / probe, PROBE_ROUNDS, MAX_ROUNDS))
    booster = cls(n_estimators=rounds, **options).fit(X_train, y_train).booster_
    best = _best_rounds(booster, scored, y_score, metric=metric, problem_type=problem_type)
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def _best_rounds(booster: Any, scored: pd.DataFrame, y_score: np.ndarray, *, metric: Metric,
                 problem_type: str) -> int:
    """The round count (out of about 12 checkpoints) with the best holdout score."""
    total = booster.current_iteration()
    checkpoints = sorted({max(1, math.ceil(total * k / 12)) for k in range(1, 13)})
    best, best_score = total, None
    for rounds in checkpoints:
        pred = np.asarray(booster.predict(scored, num_iteration=rounds), dtype=np.float64)
        if problem_type == BINARY and pred.ndim == 1:
            pred = np.column_stack([1.0 - pred, pred])
        score = metric(y_score, pred)
        if best_score is None or metric.is_better(score, best_score):
            best, best_score = rounds, score
    return best
