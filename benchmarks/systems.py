"""One adapter per system: fit on the task's training rows within the time limit, then predict.

Each returns the fitted predictor's labels/values and class probabilities on the test rows. Imports
happen inside each adapter, so mlpilot's venv never needs the anchors and vice versa.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from protocol import BenchTask

Fitted = tuple[Callable[[pd.DataFrame], pd.Series], Callable[[pd.DataFrame], pd.DataFrame | None]]


def fit_mlpilot(task: BenchTask, *, time_limit: float, seed: int, workdir: Path, preset: str = "medium_quality",
                refit_full: bool = False, tune: bool | None = None, bag_sets: int | None = None,
                n_folds: int | None = None):
    import mlpilot

    model = mlpilot.fit(task.train, target=task.target, task=task.problem_type, time_limit=time_limit, seed=seed,
                        preset=preset, refit_full=refit_full, tune=tune, bag_sets=bag_sets, n_folds=n_folds,
                        path=workdir / f"mlpilot-{task.id}")
    proba = (lambda X: None) if task.problem_type == "regression" else model.predict_proba
    return model.predict, proba


def run_details(system: str, task: BenchTask, workdir: Path) -> dict[str, Any]:
    """What a fitted mlpilot run chose (its ensemble, from the run directory); nothing for the anchors."""
    manifest = workdir / f"mlpilot-{task.id}" / "manifest.json"
    if not system.startswith("mlpilot") or not manifest.exists():
        return {}
    saved = json.loads(manifest.read_text())
    board = saved["leaderboard"]
    fitted = [r for r in board[1:] if r["status"] == "ok"]
    return {"ensemble": board[0]["reason"], "temperature": saved["ensemble"].get("temperature"),
            "models_fitted": len(fitted), "models_cut_short": sum(bool(r.get("folds_cut_by_time")) for r in fitted)}


def fit_flaml(task: BenchTask, *, time_limit: float, seed: int, workdir: Path):
    from flaml import AutoML

    X, y = _categoricals(task.train.drop(columns=[task.target])), task.train[task.target]
    automl = AutoML()
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task.problem_type]
    kind = "regression" if task.problem_type == "regression" else "classification"
    automl.fit(X, y, task=kind, metric=metric, time_budget=time_limit, n_jobs=-1, seed=seed, verbose=0,
               log_file_name=str(workdir / f"flaml-{task.id}.log"))
    categories = {c: X[c].cat.categories for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}

    def prepare(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        for column, cats in categories.items():
            frame[column] = pd.Categorical(frame[column].astype(object).where(frame[column].notna()), categories=cats)
        return frame

    def predict(frame: pd.DataFrame) -> pd.Series:
        return pd.Series(automl.predict(prepare(frame)), index=frame.index)

    def predict_proba(frame: pd.DataFrame) -> pd.DataFrame | None:
        if kind == "regression":
            return None
        return pd.DataFrame(automl.predict_proba(prepare(frame)), columns=[str(c) for c in automl.classes_],
                            index=frame.index)

    return predict, predict_proba


def fit_autogluon(task: BenchTask, *, time_limit: float, seed: int, workdir: Path, presets: str):
    from autogluon.tabular import TabularPredictor

    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}[task.problem_type]
    # The protocol decides the problem type (a count target with 22 values is a regression), as for FLAML.
    predictor = TabularPredictor(label=task.target, problem_type=task.problem_type, eval_metric=metric,
                                 path=str(workdir / f"ag-{presets}-{task.id}"), verbosity=0)
    predictor.fit(task.train, time_limit=time_limit, presets=presets)
    proba: Callable[[pd.DataFrame], Any]
    if task.problem_type == "regression":
        proba = lambda frame: None  # noqa: E731
    else:
        def proba(frame: pd.DataFrame) -> pd.DataFrame:
            out = predictor.predict_proba(frame)
            out.columns = [str(c) for c in out.columns]
            return out
    return predictor.predict, proba


def _categoricals(frame: pd.DataFrame) -> pd.DataFrame:
    """FLAML as in the anchor protocol: object columns cast to pandas categoricals."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("category")
    return frame


SYSTEMS: dict[str, Callable[..., Fitted]] = {
    "mlpilot": fit_mlpilot,
    "mlpilot_best": lambda task, **kw: fit_mlpilot(task, preset="best_quality", **kw),
    "mlpilot_refit": lambda task, **kw: fit_mlpilot(task, refit_full=True, **kw),
    "mlpilot_notune": lambda task, **kw: fit_mlpilot(task, tune=False, **kw),
    "mlpilot_tune": lambda task, **kw: fit_mlpilot(task, tune=True, **kw),
    # the default preset without repeated bagging (the default before 2026-11-27)
    "mlpilot_one_bag_set": lambda task, **kw: fit_mlpilot(task, bag_sets=1, **kw),
    # three folds whatever the table's size (the default bags 5 below 800 training rows per second of budget)
    "mlpilot_3folds": lambda task, **kw: fit_mlpilot(task, n_folds=3, **kw),
    "flaml": fit_flaml,
    "autogluon_best": lambda task, **kw: fit_autogluon(task, presets="best_quality", **kw),
    "autogluon_medium": lambda task, **kw: fit_autogluon(task, presets="medium_quality", **kw),
}
