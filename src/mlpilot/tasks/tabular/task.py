"""The tabular task's entry point: a table and a config in, a saved and loaded predictor out."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.engine.artifact import RunWriter
from mlpilot.engine.budget import Budget, return_free_heap
from mlpilot.engine.executor import Executor, open_executor
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.explain import Member, explain_rows, explainable_members, explanation_units
from mlpilot.tasks.tabular.inference import DataReport, prepare_training_data
from mlpilot.tasks.tabular.io import check_fits_in_memory, is_dask_frame, parquet_files, read_table
from mlpilot.tasks.tabular.models.base import MULTICLASS, predict_bag
from mlpilot.tasks.tabular.predictor import TabularPredictor
from mlpilot.tasks.tabular.refit import REFIT_RESERVE
from mlpilot.tasks.tabular.run_dir import finish_run, save_candidate
from mlpilot.tasks.tabular.trainer import (
    CandidateResult,
    SearchOutcome,
    estimated_predict_seconds_per_1k,
    run_search,
)

log = logging.getLogger("mlpilot")
IMPORTANCE_ROWS = 500
# Global importance (tree SHAP on IMPORTANCE_ROWS rows) measured 0.8 s for a CatBoost + XGBoost
# ensemble of 5 folds each on the 7k-row churn table; it is skipped when less than this is left.
IMPORTANCE_MIN_SECONDS = 2.0
IMPORTANCE_CHUNK = 100
# The finished ensemble's prediction time is timed on this many training rows (the model card's figure).
PREDICT_TIMING_ROWS = 1000
# What a search hands back: the outcome, the data report, and the training features (None when the
# table never sat in memory, i.e. out-of-core training).
Searched = tuple[SearchOutcome, DataReport, pd.DataFrame | None]


def default_run_path() -> Path:
    return Path("mlpilot_runs") / dt.datetime.now().strftime("run-%Y%m%d-%H%M%S-%f")


def reserve_seconds(time_limit: float | None, *, refit_full: bool = False) -> float:
    """Time held back from the search for ensembling, saving and loading the run (and refitting)."""
    if time_limit is None:
        return 0.0
    return min(2.0 + 0.04 * time_limit, 30.0) + (REFIT_RESERVE * time_limit if refit_full else 0.0)


def fit_tabular(
    data: Any,
    config: TabularConfig,
    *,
    path: str | Path | None = None,
    progress: ProgressCallback = no_progress,
    stop: threading.Event | None = None,
) -> TabularPredictor:
    """Validate the data, run the time-boxed search, save the run and return its predictor.

    Setting ``stop`` (from another thread) ends the search early; the run is built from the models
    that finished. Candidates are saved as they finish (inside the budget); the returned predictor
    holds the fitted models already in memory, identical to what `load` reads back. With
    ``config.cluster``, a Dask DataFrame or a Parquet table too big for memory is trained out of
    memory (``outofcore``).
    """
    budget = Budget(config.time_limit, reserve=reserve_seconds(config.time_limit, refit_full=config.refit_full),
                    stop_signal=stop if stop is not None else threading.Event())
    out_of_core = _out_of_core(data, config)
    log_lines: list[str] = []

    def record(event: ProgressEvent) -> None:
        log_lines.append(_log_line(event))
        progress(event)

    with RunWriter(path if path is not None else default_run_path()) as writer, open_executor(config.cluster) as ex:
        search = _search_out_of_core if out_of_core else _search_in_memory
        outcome, report, features = search(data, config, budget=budget, progress=record, executor=ex,
                                           on_candidate=lambda result: save_candidate(writer, result))
        _release_non_members(outcome)
        # fold models released from memory during the search are read back from the unfinished run
        threads = config.threads  # the run's threads, as the members kept in memory in a local run
        members = [
            (m.name, [outcome.refits[m.name]] if m.name in outcome.refits else m.fold_models(n_threads=threads),
             float(w))
            for m, w in zip(outcome.members, outcome.weights, strict=True)
        ]
        outcome.predict_seconds_per_1k = _timed_predict_seconds_per_1k(outcome, features, members, budget=budget)
        explainer = outcome.explainer
        explainer_member = (explainer.name, explainer.fold_models(n_threads=threads), 0.0) if explainer else None
        importance = _importance_in_budget(outcome, features, explainable_members(members, explainer_member),
                                           budget=budget, record=record, seed=config.seed)
        saved, manifest = finish_run(writer, outcome, config=config, report=report,
                                     log_lines=log_lines, fit_seconds=budget.elapsed(), importance=importance)
    progress(ProgressEvent("done", budget.elapsed(), None, score=outcome.ensemble_score,
                           best_score=outcome.ensemble_score, message=str(saved)))
    return TabularPredictor(
        manifest=manifest, pipeline=outcome.pipeline, path=saved, members=members, explainer=explainer_member,
    )


def _release_non_members(outcome: SearchOutcome) -> None:
    """Free the fold models no part of the finished run uses (their files go with ``finish_run``),
    before the members released during the search are read back: the two would otherwise add up."""
    keep = {m.name for m in outcome.members} | ({outcome.explainer.name} if outcome.explainer else set())
    for result in outcome.results:
        if result.name not in keep and result.bag is not None:  # a failed or skipped candidate has no bag
            result.bag.models = []
    return_free_heap()


def _timed_predict_seconds_per_1k(
    outcome: SearchOutcome, features: pd.DataFrame | None, members: list[Member], *, budget: Budget
) -> float | None:
    """Seconds per 1,000 rows the finished ensemble takes to predict a batch, the feature pipeline
    included, timed on up to ``PREDICT_TIMING_ROWS`` training rows. None without an in-memory table,
    or when the members' own estimate says the timing would not fit in the time left."""
    if features is None or len(features) == 0:
        return None
    rows = features.iloc[:PREDICT_TIMING_ROWS]
    estimate = estimated_predict_seconds_per_1k(outcome.members) * len(rows) / 1000
    if budget.limited and budget.remaining_total() < estimate + IMPORTANCE_MIN_SECONDS:
        return None
    start = time.perf_counter()
    X = outcome.pipeline.transform(rows)
    for _, models, _ in members:
        predict_bag(models, X)
    return (time.perf_counter() - start) / len(rows) * 1000


def _importance_in_budget(
    outcome: SearchOutcome, features: pd.DataFrame | None, explainable: list[Member], *, budget: Budget,
    record: ProgressCallback, seed: int,
) -> dict[str, float] | None:
    if features is None:
        return None
    if budget.remaining_total() < IMPORTANCE_MIN_SECONDS:
        record(ProgressEvent("importance_skipped", budget.elapsed(), None, message="no time left in the budget"))
        return None
    # Stop explaining new rows one second before the budget ends, so saving still fits in it.
    deadline = time.perf_counter() + budget.remaining_total() - 1.0 if budget.limited else math.inf
    return _global_importance(outcome, features, explainable, seed=seed, deadline=deadline)


def _global_importance(
    outcome: SearchOutcome, features: pd.DataFrame, explainable: list[Member], *, seed: int, deadline: float
) -> dict[str, float] | None:
    """Mean |SHAP| per input column on up to ``IMPORTANCE_ROWS`` seeded training rows, explained in
    chunks until ``deadline`` (at least one chunk)."""
    if not explainable or outcome.oof_rows is None or len(outcome.oof_rows) == 0:
        return None
    picked = np.arange(len(outcome.oof_rows))
    if len(picked) > IMPORTANCE_ROWS:
        picked = np.sort(np.random.default_rng(seed).choice(picked, IMPORTANCE_ROWS, replace=False))
    # One fold model per member: its folds were fitted on near-identical rows, so their importances
    # agree, and SHAP over every fold of every member took 27 s on a wide table (hotel_rates).
    single_fold = [(name, models[:1], weight) for name, models, weight in explainable]
    totals: pd.Series | None = None
    done = 0
    for chunk in np.array_split(picked, max(1, math.ceil(len(picked) / IMPORTANCE_CHUNK))):
        if done and time.perf_counter() > deadline:
            break
        X = outcome.pipeline.transform(features.iloc[outcome.oof_rows[chunk]])
        # multiclass: explain each row's predicted class, read from its out-of-fold prediction
        codes = outcome.oof_raw[chunk].argmax(axis=1) if outcome.problem_type == MULTICLASS else None
        explanation = explain_rows(
            single_fold, X, source_columns=outcome.pipeline.source_columns_,
            input_columns=outcome.pipeline.input_columns, index=X.index, predicted_codes=codes,
            units=explanation_units(outcome.problem_type, outcome.classes),
        )
        weighted = explanation.importance * len(chunk)  # a mean over rows: chunks combine by row count
        totals = weighted if totals is None else totals.add(weighted, fill_value=0.0)
        done += len(chunk)
    importance = (totals / done).sort_values(ascending=False)
    return {str(name): float(value) for name, value in importance.items()}


def _out_of_core(data: Any, config: TabularConfig) -> bool:
    """Dask DataFrames, and with a cluster Parquet tables too big for memory, train out of memory."""
    if is_dask_frame(data):
        if config.cluster is None:
            raise ConfigError("A Dask DataFrame trains on a Dask cluster: pass cluster='tcp://host:8786' or 'local:N'.")
        return True
    try:
        check_fits_in_memory(data)
    except DataError:
        if config.cluster is None or not parquet_files(Path(data)):
            raise
        return True
    return False


def _search_in_memory(
    data: Any, config: TabularConfig, *, budget: Budget, progress: ProgressCallback, executor: Executor,
    on_candidate: Callable[[CandidateResult], None],
) -> Searched:
    frame = read_table(data)
    training = prepare_training_data(frame, target=config.target, problem_type=config.problem_type)
    for warning in training.report.warnings:
        log.warning(warning)
    progress(ProgressEvent("start", budget.elapsed(), None, message=f"{training.problem_type}, {len(frame)} rows"))
    outcome = run_search(training, config, budget=budget, progress=progress, executor=executor,
                         on_candidate=on_candidate)
    return outcome, training.report, training.X


def _search_out_of_core(
    data: Any, config: TabularConfig, *, budget: Budget, progress: ProgressCallback, executor: Executor,
    on_candidate: Callable[[CandidateResult], None],
) -> Searched:
    from mlpilot.tasks.tabular.outofcore import fit_out_of_core  # imports dask and xgboost.dask

    outcome, report = fit_out_of_core(data, config, budget=budget, progress=progress, on_candidate=on_candidate)
    return outcome, report, None


def _log_line(event: ProgressEvent) -> str:
    parts = [f"[{event.elapsed:7.1f}s]", event.kind]
    if event.model:
        parts.append(event.model)
    if event.score is not None:
        parts.append(f"score={event.score:.5g}")
    if event.message:
        parts.append(event.message)
    return " ".join(parts)
