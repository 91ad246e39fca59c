"""The tabular search: from a validated table to bagged candidates, an ensemble and a saved run.

Flow: read → validate (data report) → feature pipeline → splits → for each candidate in portfolio
order: fit on folds within its time share → out-of-fold score → greedy ensemble on out-of-fold
predictions → decision threshold (binary) → run directory.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.engine.budget import Budget, memory_allows, return_free_heap
from mlpilot.engine.calibration import apply_temperature, fit_temperature
from mlpilot.engine.ensemble import drop_marginal_members, greedy_ensemble
from mlpilot.engine.executor import Executor, LocalExecutor, PendingBag, SharedData
from mlpilot.engine.metrics import Metric, default_metric, get_metric
from mlpilot.engine.oof import BagResult, covered_rows, resume_bagged
from mlpilot.engine.progress import ProgressCallback, ProgressEvent, no_progress
from mlpilot.engine.splits import choose_n_folds, holdout_split, kfold_splits
from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.inference import TrainingData
from mlpilot.tasks.tabular.models import MODEL_FAMILIES, get_model_class
from mlpilot.tasks.tabular.models.base import BINARY, REGRESSION, ModelUnavailable, TabularModel
from mlpilot.tasks.tabular.models.portfolio import Candidate, default_portfolio
from mlpilot.tasks.tabular.refit import refit_members
from mlpilot.tasks.tabular.repeat import repeat_bagging
from mlpilot.tasks.tabular.schedule import Schedule, constant_score
from mlpilot.tasks.tabular.threshold import calibrate_threshold
from mlpilot.tasks.tabular.tuning import Tuner

log = logging.getLogger("mlpilot")

ENSEMBLE_NAME = "WeightedEnsemble"
MAX_ENSEMBLE_CANDIDATES = 12
# Fold models stay in memory only for this many of the best candidates so far; the others are on disk
# already (saved as they finish) and are read back only if the ensemble picks them. A bag of 5 fully
# grown forests of 300 trees passes a gigabyte on a 7k-row table.
KEEP_IN_MEMORY = 5
# When mlpilot chooses the fold count, an ensemble member holds at most this many fold models over its
# bag sets (5 folds x 5 sets, 8 x 3), which bounds what one prediction costs.
FOLD_MODELS_PER_MEMBER = 25
# The note on a candidate whose fold models ran out of time before early stopping ended them.
CUT_SHORT = "cut short by the time limit"
# The smallest time share an Optuna proposal gets, however fast its family's earlier fits were.
MIN_TRIAL_SECONDS = 5.0


@dataclass
class CandidateResult:
    """One leaderboard row, plus the fitted fold models while the run is being built."""

    name: str
    family: str
    params: dict[str, Any]
    status: str = "pending"  # ok | skipped | failed
    reason: str = ""
    score: float | None = None
    fit_time: float = 0.0
    predict_seconds_per_1k: float | None = None
    n_folds: int = 0
    n_folds_cut: int = 0  # fold models the time limit ended before they converged (a starved candidate)
    fold_iterations: list[int] = field(default_factory=list)  # rounds/trees/epochs each fold model used
    bag: BagResult | None = field(default=None, repr=False)
    # Where the fold models were saved (``fold_<i>`` folders), so models released from memory can be
    # read back, e.g. to add bag sets to an ensemble member.
    saved_to: Path | None = None

    @property
    def out_of_bag(self) -> bool:
        """One model fitted on all rows and validated out of bag, rather than k fold models."""
        return bool(self.params.get("out_of_bag"))

    def fold_models(self, *, n_threads: int = 1) -> list[TabularModel] | None:
        """The fold models: in memory, or read back from ``saved_to`` if they were released (None when
        they were released and never saved)."""
        if self.bag is not None and len(self.bag.models) == self.n_folds:
            return self.bag.models
        if self.saved_to is None:
            return None
        return get_model_class(self.family).load_folds(self.saved_to, self.n_folds, n_threads=n_threads)

    def take_bag(self, bag: BagResult, y: np.ndarray, metric: Metric) -> None:
        """Hold a complete ``bag`` (a first fit, or fold models trained on) and score it out of fold."""
        covered = covered_rows(bag.oof, len(y))
        self.bag, self.score = bag, metric(y[covered], bag.oof[covered])
        self.fold_iterations = [m.n_iterations_ for m in bag.models if m.n_iterations_]
        self.predict_seconds_per_1k = bag.predict_seconds_per_1k
        self.n_folds_cut, self.reason = 0, ""
        self.add_cut_folds(bag.n_folds_cut)

    def add_bag_set(self, bag: BagResult, *, sets_before: int, y: np.ndarray, metric: Metric) -> None:
        """Join a complete bag set fitted on new folds: its out-of-fold predictions are averaged with
        the ``sets_before`` earlier sets', and its fold models join the member's."""
        self.bag.oof = (self.bag.oof * sets_before + bag.oof) / (sets_before + 1)
        self.bag.models.extend(bag.models)
        self.fold_iterations += [m.n_iterations_ for m in bag.models if m.n_iterations_]
        self.bag.predict_seconds_per_1k += bag.predict_seconds_per_1k
        self.predict_seconds_per_1k = self.bag.predict_seconds_per_1k  # every prediction runs every set
        self.fit_time += bag.fit_time
        self.n_folds += bag.n_folds_done
        self.add_cut_folds(bag.n_folds_cut)
        self.score = metric(y, self.bag.oof)

    def add_cut_folds(self, n_cut: int) -> None:
        """Count fold models the time limit ended (``n_folds`` already includes them) and say so."""
        self.n_folds_cut += n_cut
        if self.n_folds_cut:
            self.reason = f"{CUT_SHORT} on {self.n_folds_cut} of {self.n_folds} folds"

    def row(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "family": self.family,
            "score_val": self.score,
            "fit_time_s": round(self.fit_time, 3),
            "predict_ms_per_1k": None
            if self.predict_seconds_per_1k is None
            else round(1000 * self.predict_seconds_per_1k, 2),
            "n_folds": self.n_folds,
            "folds_cut_by_time": self.n_folds_cut,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class SearchOutcome:
    """Everything the run directory and the predictor need from a finished search."""

    problem_type: str
    metric: Metric
    classes: list[Any]
    pipeline: FeaturePipeline
    results: list[CandidateResult]
    members: list[CandidateResult]
    weights: np.ndarray
    ensemble_score: float
    threshold: dict[str, Any] | None
    explainer: CandidateResult | None
    n_folds: int
    validation: str
    refits: dict[str, TabularModel] = field(default_factory=dict)  # member name → model fitted on all rows
    # Classification: the temperature the blended probabilities are rescaled by (None: left as blended).
    temperature: float | None = None
    # The final ensemble's out-of-fold predictions on the rows validation covered (bagging: all rows;
    # holdout: the holdout rows), with their encoded target: what the evaluation charts are drawn from.
    oof_rows: np.ndarray | None = field(default=None, repr=False)  # positions in the training table
    oof_y: np.ndarray | None = field(default=None, repr=False)
    oof_raw: np.ndarray | None = field(default=None, repr=False)
    # The finished ensemble's prediction time, timed on training rows after the fit (None: not timed).
    predict_seconds_per_1k: float | None = None


def estimated_predict_seconds_per_1k(members: list[CandidateResult]) -> float:
    """An ensemble's prediction time from its members' estimates, which come from their validation
    predictions (each fold model on its own rows, so they overstate a batch prediction)."""
    return sum(m.predict_seconds_per_1k or 0.0 for m in members)


def encode_target(y: pd.Series, problem_type: str) -> tuple[np.ndarray, list[Any]]:
    """Class codes 0..k-1 (classes sorted as in the data) or float values."""
    if problem_type == REGRESSION:
        return y.to_numpy(dtype=np.float64), []
    codes, uniques = pd.factorize(y, sort=True)
    classes = [u.item() if hasattr(u, "item") else u for u in uniques]
    return codes.astype(np.int64), classes


def run_search(
    training: TrainingData,
    config: TabularConfig,
    *,
    budget: Budget,
    progress: ProgressCallback = no_progress,
    on_candidate: Callable[[CandidateResult], None] = lambda result: None,
    executor: Executor | None = None,
) -> SearchOutcome:
    """Run the time-boxed search over the portfolio and build the ensemble.

    ``on_candidate`` is called with each candidate that finishes (e.g. to save it while the budget runs).
    ``executor`` runs the candidates' folds (in this process when None; see :mod:`mlpilot.engine.executor`).
    """
    problem_type = training.problem_type
    metric = get_metric(config.metric, problem_type) if config.metric else default_metric(problem_type)
    y, classes = encode_target(training.y, problem_type)
    pipeline = FeaturePipeline(training.report).fit(training.X)
    X = pipeline.transform(training.X)
    config, make_splits = _fold_plan(config, y, problem_type=problem_type)
    splits = make_splits(config.seed)
    executor = executor or LocalExecutor()
    context = _SearchContext(
        data=executor.share(X, y), X=X, y=y, config=config, metric=metric, budget=budget, progress=progress,
        problem_type=problem_type, n_classes=len(classes), on_candidate=on_candidate, executor=executor,
        constant=constant_score(y, metric, problem_type=problem_type, n_classes=len(classes)))
    search = partial(_search, context=context)
    results = search(select_candidates(problem_type, config), splits)
    if config.tune and budget.limited and len(splits) > 1:
        _tune(results, splits, search=search, metric=metric, config=config, budget=budget)
    members, weights, ensemble_score = build_ensemble(results, y, metric)
    if len(splits) > 1 and repeat_bagging(
        members, X, y, make_splits=make_splits, config=config, problem_type=problem_type,
        n_classes=len(classes), metric=metric, budget=budget, progress=progress, on_candidate=on_candidate,
    ):
        # Weights again from the members' steadier out-of-fold predictions. The other candidates
        # kept one set, and a member picked only now would not have the extra sets.
        members, weights, ensemble_score = build_ensemble(members, y, metric)
    proba, temperature, ensemble_score, threshold = finish_blend(members, weights, y, metric=metric,
                                                                 problem_type=problem_type, score=ensemble_score)
    covered = covered_rows(proba, len(y))
    progress(ProgressEvent("ensemble", budget.elapsed(), _remaining(budget), model=ENSEMBLE_NAME,
                           score=ensemble_score, best_score=ensemble_score))
    refits = refit_members(members, X, y, config=config, problem_type=problem_type, n_classes=len(classes),
                           budget=budget) if config.refit_full else {}
    return SearchOutcome(
        problem_type=problem_type, metric=metric, classes=classes, pipeline=pipeline, results=results,
        members=members, weights=weights, ensemble_score=ensemble_score, threshold=threshold,
        temperature=temperature, explainer=_pick_explainer(results, members, metric), n_folds=len(splits),
        validation="holdout (20%)" if len(splits) == 1 else _bagging_description(len(splits), members),
        refits=refits, oof_rows=np.flatnonzero(covered), oof_y=y[covered], oof_raw=proba[covered],
    )


def _fold_plan(config: TabularConfig, y: np.ndarray, *,
               problem_type: str) -> tuple[TabularConfig, Callable[[int], list]]:
    """The config with its bag sets capped (when mlpilot picks the folds) and a function from a seed to
    that seed's validation splits."""
    n_folds = choose_n_folds(n_rows=len(y), time_limit=config.time_limit, requested=config.n_folds)
    if config.n_folds is None and n_folds * config.bag_sets > FOLD_MODELS_PER_MEMBER:
        config = replace(config, bag_sets=max(1, FOLD_MODELS_PER_MEMBER // n_folds))
    return config, partial(_make_splits, y=y, n_folds=n_folds, stratified=problem_type != REGRESSION)


def _make_splits(seed: int, *, y: np.ndarray, n_folds: int, stratified: bool) -> list:
    if n_folds == 1:
        return holdout_split(y, fraction=0.2, stratified=stratified, seed=seed)
    return kfold_splits(y, n_folds=n_folds, stratified=stratified, seed=seed)


def select_candidates(problem_type: str, config: TabularConfig) -> list[Candidate]:
    """The portfolio, filtered by the families the user allows and capped at ``max_models``."""
    if config.families:
        unknown = sorted(set(config.families) - set(MODEL_FAMILIES))
        if unknown:
            raise ConfigError(
                f"Unknown model families {unknown}: choose from {', '.join(sorted(MODEL_FAMILIES))}."
            )
    portfolio = [
        c for c in default_portfolio(problem_type)
        if (not config.families or c.family in config.families)
        and problem_type in get_model_class(c.family).problem_types
    ]
    return portfolio[: config.max_models] if config.max_models else portfolio


@dataclass(frozen=True)
class _SearchContext:
    """What every pass of the search shares: the encoded table and the run's settings.
    ``constant`` is the constant predictor's score."""

    data: SharedData
    X: pd.DataFrame
    y: np.ndarray
    config: TabularConfig
    metric: Metric
    budget: Budget
    progress: ProgressCallback
    problem_type: str
    n_classes: int
    on_candidate: Callable[[CandidateResult], None]
    executor: Executor
    constant: float


def _search(candidates: list[Candidate], splits: list, *, context: _SearchContext,
            done: list[CandidateResult] | None = None, max_share: float = math.inf) -> list[CandidateResult]:
    """Candidates in portfolio order, as the table's :class:`Schedule` adjusts it, ``executor.candidates_at_once``
    of them in flight together (one locally).

    Results are appended to ``done`` (the earlier candidates' results; a new list when None), which is
    returned. ``max_share`` caps each candidate's time share.
    """
    results = _SearchPass(context, candidates, splits, done=[] if done is None else done, max_share=max_share).run()
    if not any(r.status == "ok" for r in results):
        if context.budget.stopped:
            raise ConfigError("The search was stopped before any model finished; train again and stop later.")
        raise ConfigError(
            "No model finished within the time limit: raise `time_limit` (or pass none) and try again."
        )
    return results


class _SearchPass:
    """One call of :func:`_search`: its schedule, results and best score so far."""

    def __init__(self, context: _SearchContext, candidates: list[Candidate], splits: list, *,
                 done: list[CandidateResult], max_share: float):
        self.context, self.splits, self.max_share, self.results = context, splits, max_share, done
        self.offset = len(done)  # the earlier candidates' results, counted in the progress events
        self.n_total = self.offset + len(candidates)
        scores = [r.score for r in done if r.status == "ok"]
        self.best: float | None = max(scores, key=context.metric.oriented) if scores else None
        self.schedule = Schedule(deque(candidates), metric=context.metric, constant=context.constant)
        self.at_once = context.executor.candidates_at_once(len(splits))
        # Training on from where a model stopped needs its fold models here, with the table.
        self.can_resume = isinstance(context.executor, LocalExecutor)

    def run(self) -> list[CandidateResult]:
        ctx = self.context
        while self.schedule:
            leader = self.schedule.take_resume(ctx.budget)
            if leader is not None:
                resumed = _resume_candidate(self.results, *leader, splits=self.splits, X=ctx.X, y=ctx.y,
                                            metric=ctx.metric, budget=ctx.budget)
                if resumed:
                    self._finished(resumed[0], len(self.results) - self.offset, message=resumed[1])
                continue
            for i, result, pending in self._start_batch(self.schedule.take(self.at_once)):
                _finish_candidate(result, pending, ctx.y, metric=ctx.metric)
                self._finished(result, i + 1)
        return self.results

    def _start_batch(self, batch: list[Candidate]) -> list[tuple[int, CandidateResult, PendingBag]]:
        """Start ``batch``'s candidates (skipping those that cannot run): (index, result, pending bag) each."""
        ctx, started = self.context, []
        for j, cand in enumerate(batch):
            i = len(self.results) - self.offset  # every candidate taken adds one result
            cand, cand_splits = _validation_plan(cand, self.splits, len(ctx.y))
            result = CandidateResult(name=cand.name, family=cand.family, params=dict(cand.params))
            self.results.append(result)
            reason = _skip_reason(cand, ctx.X, ctx.budget)
            if reason:
                result.status, result.reason = "skipped", reason
                self._event("model_skipped", result, i + 1, message=reason)
                continue
            self._event("model_start", result, i)
            n_left = math.ceil((len(self.schedule) + len(batch) - j) / self.at_once)
            share = min(self.schedule.share(cand, ctx.budget.share(n_left=n_left), ctx.budget), self.max_share)
            started.append((i, result, _start_candidate(cand, cand_splits, context=ctx, share=share)))
        return started

    def _finished(self, result: CandidateResult, n_done: int, *, message: str = "") -> None:
        ctx = self.context
        if result.status == "ok":
            ctx.on_candidate(result)
            _release_weaker_models(self.results, ctx.metric)
            self.best = result.score if self.best is None else max(self.best, result.score, key=ctx.metric.oriented)
            self.schedule.record(
                name=result.name, family=result.family, score=result.score, fit_seconds=result.fit_time,
                starved=2 * result.n_folds_cut >= result.n_folds, best=self.best,
                resumable=self.can_resume and get_model_class(result.family).resumable)
        return_free_heap()  # the fit's buffers (and any released models) are free now
        self._event("model_done" if result.status == "ok" else "model_skipped", result, n_done,
                    score=result.score, message=message or result.reason)

    def _event(self, kind: str, result: CandidateResult, n_done: int, *, score: float | None = None,
               message: str = "") -> None:
        budget = self.context.budget
        self.context.progress(ProgressEvent(
            kind, budget.elapsed(), _remaining(budget), model=result.name, score=score, best_score=self.best,
            message=message, n_done=self.offset + n_done, n_total=self.n_total))


def _tune(results: list[CandidateResult], splits: list, *, search: Callable[..., list[CandidateResult]],
          metric: Metric, config: TabularConfig, budget: Budget) -> None:
    """Spend the time the portfolio left on Optuna proposals for the best families (added to ``results``).

    With extra bag sets to come (``bag_sets`` > 1), the search leaves them half of that time.
    """
    if budget.stopped or not any(r.status == "ok" for r in results):
        return
    max_trials = config.max_models - len(results) if config.max_models else None  # max_models counts all
    tuner = Tuner(results, metric=metric, seed=config.seed, max_trials=max_trials)
    keep = budget.remaining() / 2 if config.bag_sets > 1 else 0.0
    while tuner and not budget.stopped:
        candidate = tuner.ask(seconds_left=budget.remaining() - keep)
        if candidate is None:
            return
        # A proposal may cost several times the family's typical fit (slower learning rate, deeper
        # trees) but never the whole budget.
        cap = max(3 * tuner.expected_seconds(candidate), MIN_TRIAL_SECONDS)
        result = search([candidate], splits, done=results, max_share=cap)[-1]
        tuner.tell(candidate, score=result.score if result.status == "ok" else None, seconds=result.fit_time)


def _validation_plan(cand: Candidate, splits: list, n_rows: int) -> tuple[Candidate, list]:
    """k-fold bagging for most families; under k-fold, a family that can validate itself out of bag
    is fitted once on all rows instead (the same honest held-out predictions, one model not k)."""
    if len(splits) > 1 and get_model_class(cand.family).out_of_bag:
        rows = np.arange(n_rows)
        return replace(cand, params={**cand.params, "out_of_bag": True}), [(rows, rows)]
    return cand, splits


def _release_weaker_models(results: list[CandidateResult], metric: Metric) -> None:
    """Drop the in-memory fold models of all but the best ``KEEP_IN_MEMORY`` candidates."""
    ok = sorted((r for r in results if r.status == "ok"), key=lambda r: metric.oriented(r.score), reverse=True)
    for result in ok[KEEP_IN_MEMORY:]:
        result.bag.models = []


def _skip_reason(cand: Candidate, X: pd.DataFrame, budget: Budget) -> str:
    if budget.stopped:
        return "the search was stopped early"
    if budget.spent():
        return "no time left in the budget"
    cls = get_model_class(cand.family)
    need = cls.estimate_memory(len(X), X.shape[1], cand.params)
    if not memory_allows(need):
        return f"needs about {need / 2**30:.1f} GiB, more than 80% of the available memory"
    return ""


def _start_candidate(cand: Candidate, splits: list, *, context: _SearchContext, share: float) -> PendingBag:
    cls = get_model_class(cand.family)
    config, executor = context.config, context.executor
    # A partial, not a closure: a Dask executor sends it to the workers.
    make_model = partial(cls, problem_type=context.problem_type, n_classes=context.n_classes, params=cand.params,
                         seed=config.seed, n_threads=executor.threads_per_task or config.threads)
    return executor.start_bag(make_model, context.data, splits, time_share=share, budget=context.budget,
                              load_model=partial(cls.load, n_threads=config.threads))


def _finish_candidate(result: CandidateResult, pending: PendingBag, y: np.ndarray, *, metric: Metric) -> None:
    t0 = time.perf_counter()
    try:
        bag = pending.result()
    except ModelUnavailable as exc:
        result.status, result.reason = "skipped", str(exc)
        return
    except Exception as exc:  # a failing candidate must not sink the run; the log keeps the trace
        log.warning("model %s failed: %s\n%s", result.name, exc, traceback.format_exc())
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
        result.fit_time = time.perf_counter() - t0
        return
    result.fit_time, result.n_folds = bag.fit_time, bag.n_folds_done
    if not bag.complete:
        result.status = "skipped"
        result.reason = bag.stopped_reason or "did not finish"
        return
    result.status = "ok"
    result.take_bag(bag, y, metric)


def _resume_candidate(results: list[CandidateResult], name: str, share: float, *, splits: list, X: pd.DataFrame,
                      y: np.ndarray, metric: Metric, budget: Budget) -> tuple[CandidateResult, str] | None:
    """Train candidate ``name``'s cut-short fold models on (more rounds on the same folds) within
    ``share`` seconds and score it again: (its result, a note for the log); None when its fold models
    are no longer in memory."""
    result = next(r for r in results if r.name == name)
    if result.bag is None or len(result.bag.models) != result.n_folds:
        return None
    bag = resume_bagged(result.bag, X, y, splits, time_share=share, budget=budget)
    result.fit_time += bag.fit_time
    result.take_bag(bag, y, metric)
    note = f"trained on for {bag.fit_time:.1f} s"
    return result, f"{note}; {result.reason}" if result.reason else note


def build_ensemble(results: list[CandidateResult], y: np.ndarray, metric: Metric):
    pool = ensemble_pool(results, metric)
    covered = covered_rows(pool[0].bag.oof, len(y))
    preds = [r.bag.oof[covered] for r in pool]
    weights = greedy_ensemble(preds, y[covered], metric)
    costs = np.array([r.bag.predict_seconds_per_1k for r in pool])
    weights = drop_marginal_members(preds, weights, y[covered], metric, costs=costs)
    members = [r for r, w in zip(pool, weights, strict=True) if w > 0]
    weights = np.array([w for w in weights if w > 0])
    score = metric(y[covered], member_blend(members, weights)[covered])
    return members, weights, score


def ensemble_pool(results: list[CandidateResult], metric: Metric) -> list[CandidateResult]:
    """The candidates the ensemble may pick from, best first: the ``MAX_ENSEMBLE_CANDIDATES`` best, plus
    the best of each family not among them.

    Tuned variants of one strong family can fill the top places with near-copies; a family's best
    model stays eligible so the ensemble can still draw on differently built models.
    """
    ok = sorted((r for r in results if r.status == "ok"), key=lambda r: metric.oriented(r.score), reverse=True)
    pool = ok[:MAX_ENSEMBLE_CANDIDATES]
    families = {r.family for r in pool}
    for result in ok[MAX_ENSEMBLE_CANDIDATES:]:
        if result.family not in families:
            pool.append(result)
            families.add(result.family)
    return pool


def member_blend(members: list[CandidateResult], weights: np.ndarray) -> np.ndarray:
    return sum(w * m.bag.oof for m, w in zip(members, weights, strict=True))


def finish_blend(members: list[CandidateResult], weights: np.ndarray, y: np.ndarray, *, metric: Metric,
                 problem_type: str, score: float) -> tuple[np.ndarray, float | None, float, dict[str, Any] | None]:
    """The ensemble's validation predictions, temperature-scaled when that pays (``calibrate_blend``), with
    the temperature, the validation score after it and, for a binary target, the decision threshold."""
    proba = member_blend(members, weights)
    temperature, score = calibrate_blend(proba, y, metric=metric, problem_type=problem_type, score=score)
    threshold = None
    if problem_type == BINARY:
        covered = covered_rows(proba, len(y))
        threshold = calibrate_threshold(y[covered], proba[covered, 1], metric_name=metric.name)
    return proba, temperature, score, threshold


def calibrate_blend(proba: np.ndarray, y: np.ndarray, *, metric: Metric, problem_type: str,
                    score: float) -> tuple[float | None, float]:
    """Fit the ensemble's temperature on its validation predictions ``proba`` (NaN rows: not validated)
    and rescale them by it, in place. Returns the temperature (None: the probabilities stay as blended)
    and the ensemble's validation score after it (``score``, the score before, when unchanged)."""
    if problem_type == REGRESSION:
        return None, score
    covered = covered_rows(proba, len(y))
    temperature = fit_temperature(y[covered], proba[covered], metric)
    if temperature is None:
        return None, score
    proba[covered] = apply_temperature(proba[covered], temperature)
    log.info("Ensemble probabilities rescaled by temperature %.3f, fitted on the out-of-fold predictions",
             temperature)
    return temperature, metric(y[covered], proba[covered])


def _pick_explainer(
    results: list[CandidateResult], members: list[CandidateResult], metric: Metric
) -> CandidateResult | None:
    """The model whose SHAP values explain predictions when no ensemble member can."""
    if any(get_model_class(m.family).can_explain for m in members):
        return None
    explainable = [r for r in results if r.status == "ok" and get_model_class(r.family).can_explain]
    return max(explainable, key=lambda r: metric.oriented(r.score)) if explainable else None


def _bagging_description(n_folds: int, members: list[CandidateResult]) -> str:
    sets = max(m.n_folds for m in members) // n_folds
    return f"{n_folds}-fold bagging" + (f", up to {sets} bag sets" if sets > 1 else "")


def _remaining(budget: Budget) -> float | None:
    left = budget.remaining_total()
    return None if math.isinf(left) else max(0.0, left)
