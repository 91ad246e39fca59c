"""The tabular task's entry point: a table and a config in, a saved and loaded predictor out."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlpilot.engine.artifact import RunWriter
from mlpilot.engine.budget import Budget
from mlpilot.engine.executor import Executor, open_executor
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.inference import DataReport, prepare_training_data
from mlpilot.tasks.tabular.io import check_fits_in_memory, is_dask_frame, parquet_files, read_table
from mlpilot.tasks.tabular.predictor import TabularPredictor
from mlpilot.tasks.tabular.refit import REFIT_RESERVE
from mlpilot.tasks.tabular.run_dir import finish_run, fold_models, save_candidate
from mlpilot.tasks.tabular.trainer import CandidateResult, SearchOutcome, run_search

log = logging.getLogger("mlpilot")


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
) -> TabularPredictor:
    """Validate the data, run the time-boxed search, save the run and return its predictor.

    Candidates are saved as they finish (inside the budget); the returned predictor holds the
    fitted models already in memory, identical to what `load` reads back. With ``config.cluster``, a
    Dask DataFrame or a Parquet table too big for memory is trained out of memory (``outofcore``).
    """
    budget = Budget(config.time_limit, reserve=reserve_seconds(config.time_limit, refit_full=config.refit_full))
    out_of_core = _out_of_core(data, config)
    log_lines: list[str] = []

    def record(event: ProgressEvent) -> None:
        log_lines.append(_log_line(event))
        progress(event)

    with RunWriter(path if path is not None else default_run_path()) as writer, open_executor(config.cluster) as ex:
        search = _search_out_of_core if out_of_core else _search_in_memory
        outcome, report = search(data, config, budget=budget, progress=record, executor=ex,
                                 on_candidate=lambda result: save_candidate(writer, result))
        saved, manifest = finish_run(writer, outcome, config=config, report=report,
                                     log_lines=log_lines, fit_seconds=budget.elapsed())
    progress(ProgressEvent("done", budget.elapsed(), None, score=outcome.ensemble_score,
                           best_score=outcome.ensemble_score, message=str(saved)))
    members = [
        (m.name, [outcome.refits[m.name]] if m.name in outcome.refits else fold_models(saved, m), float(w))
        for m, w in zip(outcome.members, outcome.weights, strict=True)
    ]
    explainer = outcome.explainer
    return TabularPredictor(
        manifest=manifest, pipeline=outcome.pipeline, path=saved, members=members,
        explainer=(explainer.name, fold_models(saved, explainer), 0.0) if explainer else None,
    )


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
) -> tuple[SearchOutcome, DataReport]:
    frame = read_table(data)
    training = prepare_training_data(frame, target=config.target, problem_type=config.problem_type)
    for warning in training.report.warnings:
        log.warning(warning)
    progress(ProgressEvent("start", budget.elapsed(), None, message=f"{training.problem_type}, {len(frame)} rows"))
    outcome = run_search(training, config, budget=budget, progress=progress, executor=executor,
                         on_candidate=on_candidate)
    return outcome, training.report


def _search_out_of_core(
    data: Any, config: TabularConfig, *, budget: Budget, progress: ProgressCallback, executor: Executor,
    on_candidate: Callable[[CandidateResult], None],
) -> tuple[SearchOutcome, DataReport]:
    from mlpilot.tasks.tabular.outofcore import fit_out_of_core  # imports dask and xgboost.dask

    return fit_out_of_core(data, config, budget=budget, progress=progress, on_candidate=on_candidate)


def _log_line(event: ProgressEvent) -> str:
    parts = [f"[{event.elapsed:7.1f}s]", event.kind]
    if event.model:
        parts.append(event.model)
    if event.score is not None:
        parts.append(f"score={event.score:.5g}")
    if event.message:
        parts.append(event.message)
    return " ".join(parts)
