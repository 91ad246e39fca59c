"""Writing a finished tabular search to a run directory, and reading it back without unpickling.

Layout (inside the generic run directory of :mod:`mlpilot.engine.artifact`)::

    pipeline/                     feature pipeline (JSON + npz arrays)
    models/<model>/fold_<i>/      each ensemble member's fold models, in their library's format
    validation/oof.npz            the ensemble's out-of-fold predictions (``raw``) and encoded target (``y``)
    validation/importance.json    mean |SHAP| per input column on a sample of training rows (if explainable)
    log.txt                       what the search did, model by model
    model_card.md                 intended use, data, metrics, threshold, limitations (for people)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from mlpilot._version import __version__
from mlpilot.engine.artifact import RunWriter, read_manifest
from mlpilot.errors import ArtifactError
from mlpilot.tasks.tabular.card import render_model_card
from mlpilot.tasks.tabular.config import TabularConfig
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.inference import DataReport
from mlpilot.tasks.tabular.models import MODEL_FAMILIES, get_model_class
from mlpilot.tasks.tabular.models.base import TabularModel
from mlpilot.tasks.tabular.trainer import (
    ENSEMBLE_NAME,
    CandidateResult,
    SearchOutcome,
    estimated_predict_seconds_per_1k,
)

KIND = "tabular"
OOF_FILE = "validation/oof.npz"
IMPORTANCE_FILE = "validation/importance.json"


def save_candidate(writer: RunWriter, result: CandidateResult) -> None:
    """Save a candidate's fold models not saved yet into the run being built, and checksum them now."""
    part = f"models/{result.name}"
    for i, model in enumerate(result.bag.models):
        if not (writer.root / part / f"fold_{i}").exists():
            model.save(writer.root / part / f"fold_{i}")
    writer.record(part)
    result.saved_to = writer.root / part


def finish_run(
    writer: RunWriter,
    outcome: SearchOutcome,
    *,
    config: TabularConfig,
    report: DataReport,
    log_lines: list[str],
    fit_seconds: float,
    importance: dict[str, float] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Keep only the ensemble members' (and the explainer's) model files, then commit the run."""
    kept = {r.name for r in _saved_results(outcome)}
    for result in outcome.results:
        if result.status == "ok" and result.name not in kept:
            writer.discard(f"models/{result.name}")
    for name, model in outcome.refits.items():  # the refit replaces the member's fold models on disk
        for fold in sorted((writer.root / "models" / name).glob("fold_*")):
            writer.discard(fold.relative_to(writer.root))
        model.save(writer.root / "models" / name / "full")
        writer.record(f"models/{name}/full")
    outcome.pipeline.save(writer.root / "pipeline")
    save_validation(writer.root, outcome, importance=importance)
    (writer.root / "log.txt").write_text("\n".join(log_lines) + "\n")
    manifest = build_manifest(outcome, config=config, report=report, fit_seconds=fit_seconds)
    (writer.root / "model_card.md").write_text(render_model_card(manifest))
    return writer.commit(manifest)


def save_validation(root: Path, outcome: SearchOutcome, *, importance: dict[str, float] | None) -> None:
    """Store what the evaluation charts are drawn from: out-of-fold predictions and global importance."""
    (root / "validation").mkdir(exist_ok=True)
    if outcome.oof_raw is not None:
        np.savez_compressed(root / OOF_FILE, y=outcome.oof_y, raw=outcome.oof_raw)
    if importance is not None:
        (root / IMPORTANCE_FILE).write_text(json.dumps(importance, indent=1))


def load_validation(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The stored out-of-fold ``(y, raw)`` of a run (already checksum-verified when the run loaded)."""
    path = run / OOF_FILE
    if not path.is_file():
        raise ArtifactError(
            f"Run '{run}' holds no stored validation predictions ({OOF_FILE}); it was saved by an older mlpilot. "
            f"Re-run `fit` to get the validation charts, or evaluate on labelled data (`mlpilot report RUN_DIR "
            f"--data FILE`)."
        )
    try:
        with np.load(path, allow_pickle=False) as stored:
            y, raw = stored["y"], stored["raw"]
    except (KeyError, ValueError, OSError) as exc:
        raise ArtifactError(f"'{path}' is unreadable ({exc}); re-run `fit`.") from exc
    if len(y) != len(raw) or len(y) == 0:
        raise ArtifactError(f"'{path}' holds {len(y)} labels for {len(raw)} predictions; re-run `fit`.")
    return y, raw


def load_importance(run: Path) -> dict[str, float] | None:
    """Global importance stored at fit time, largest first; None when the run has none."""
    path = run / IMPORTANCE_FILE
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
        return {str(name): float(value) for name, value in stored.items()}
    except (ValueError, AttributeError, TypeError) as exc:
        raise ArtifactError(f"'{path}' is unreadable ({exc}); re-run `fit`.") from exc


def build_manifest(
    outcome: SearchOutcome, *, config: TabularConfig, report: DataReport, fit_seconds: float
) -> dict[str, Any]:
    weights = {m.name: float(w) for m, w in zip(outcome.members, outcome.weights, strict=True)}
    return {
        "kind": KIND,
        "mlpilot_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "problem_type": outcome.problem_type,
        "target": config.target,
        "metric": outcome.metric.name,
        "metric_greater_is_better": outcome.metric.greater_is_better,
        "classes": outcome.classes,
        "threshold": outcome.threshold,
        "input_schema": outcome.pipeline.input_schema(),
        "config": config.to_dict(),
        "validation": outcome.validation,
        "n_folds": outcome.n_folds,
        "fit_seconds": round(fit_seconds, 3),
        "ensemble": {
            "score_val": outcome.ensemble_score,
            "temperature": outcome.temperature,
            "members": [
                {**_model_entry(m, weights[m.name]), "refit_full": m.name in outcome.refits} for m in outcome.members
            ],
        },
        "explainer": _model_entry(outcome.explainer, 0.0) if outcome.explainer else None,
        "leaderboard": leaderboard_rows(outcome),
        "data_report": report.to_dict(),
    }


def leaderboard_rows(outcome: SearchOutcome) -> list[dict[str, Any]]:
    """Every candidate tried (best first), with the ensemble on top."""
    ok = sorted((r for r in outcome.results if r.status == "ok"),
                key=lambda r: outcome.metric.oriented(r.score), reverse=True)
    rest = [r for r in outcome.results if r.status != "ok"]
    in_ensemble = {m.name for m in outcome.members}
    rows = [
        {
            "model": ENSEMBLE_NAME,
            "family": "ensemble",
            "score_val": outcome.ensemble_score,
            "fit_time_s": round(sum(m.fit_time for m in outcome.members), 3),
            "predict_ms_per_1k": round(1000 * (estimated_predict_seconds_per_1k(outcome.members)
                                               if outcome.predict_seconds_per_1k is None
                                               else outcome.predict_seconds_per_1k), 2),
            "n_folds": outcome.n_folds,
            "status": "ok",
            "reason": " + ".join(f"{w:.2f}×{m.name}" for m, w in zip(outcome.members, outcome.weights, strict=True)),
            "in_ensemble": True,
        }
    ]
    rows += [{**r.row(), "in_ensemble": r.name in in_ensemble} for r in ok + rest]
    return rows


def _saved_results(outcome: SearchOutcome) -> list[CandidateResult]:
    return outcome.members + ([outcome.explainer] if outcome.explainer else [])


def _model_entry(result: CandidateResult, weight: float) -> dict[str, Any]:
    return {"name": result.name, "family": result.family, "n_folds": result.n_folds, "weight": weight}


def ensemble_temperature(manifest: dict[str, Any]) -> float | None:
    """The temperature a run's blended class probabilities are rescaled by (None: not rescaled)."""
    temperature = (manifest.get("ensemble") or {}).get("temperature")
    return None if temperature is None else float(temperature)


def load_run(path: str | Path, *, n_threads: int = 1) -> tuple[dict[str, Any], FeaturePipeline, list, list | None]:
    """Verify and load a run: manifest, pipeline, ensemble members and the explainer (if any)."""
    run = Path(path)
    manifest = read_manifest(run, kind=KIND)
    try:
        pipeline = FeaturePipeline.load(run / "pipeline")
        members = [_load_entry(run, e, n_threads) for e in manifest["ensemble"]["members"]]
        explainer = _load_entry(run, manifest["explainer"], n_threads) if manifest.get("explainer") else None
    except (KeyError, ValueError, OSError) as exc:
        raise ArtifactError(f"Run '{run}' could not be loaded ({type(exc).__name__}: {exc}); re-run `fit`.") from exc
    return manifest, pipeline, members, explainer


def _load_entry(run: Path, entry: dict[str, Any], n_threads: int) -> tuple[str, list[TabularModel], float]:
    family = entry["family"]
    if family not in MODEL_FAMILIES:
        raise ArtifactError(f"Run '{run}' uses an unknown model family {family!r}; this mlpilot cannot load it.")
    cls = get_model_class(family)
    base = run / "models" / entry["name"]
    if entry.get("refit_full"):
        return entry["name"], [cls.load(base / "full", n_threads=n_threads)], float(entry["weight"])
    models = cls.load_folds(base, int(entry["n_folds"]), n_threads=n_threads)
    return entry["name"], models, float(entry["weight"])
