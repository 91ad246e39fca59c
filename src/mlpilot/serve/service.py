"""The loaded run behind the REST API: one place where rows become predictions.

Labels and probabilities come from one pass over the models (``Predictor.predict_with_proba``), so
the server applies exactly the rule ``Predictor.predict`` does (binary: the calibrated threshold).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlpilot import api
from mlpilot._version import __version__
from mlpilot.errors import DataError

log = logging.getLogger("mlpilot.serve")
LEADERBOARD_TOP = 5


@dataclass
class Scored:
    """Predictions (and probabilities) for the valid rows; ``positions`` are their request indexes."""

    positions: list[int]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None

    def aligned(self, n_rows: int, *, classification: bool) -> dict[str, Any]:
        """Lists of length ``n_rows`` in request order, ``None`` where a row was invalid."""
        predictions: list[Any] = [None] * n_rows
        probabilities: list[Any] = [None] * n_rows
        for k, pos in enumerate(self.positions):
            predictions[pos] = self.predictions[k]
            if self.probabilities is not None:
                probabilities[pos] = self.probabilities[k]
        body: dict[str, Any] = {"predictions": predictions}
        if classification:
            body["probabilities"] = probabilities
        return body


class ModelService:
    """Wraps a loaded predictor; scoring is serialised because not every model library documents
    concurrent ``predict`` on one booster as safe (scale out with ``--workers`` instead)."""

    def __init__(self, model: api.Predictor) -> None:
        self.model = model
        self.classification = model.problem_type != "regression"
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------ scoring
    def _predict(self, data: Any) -> tuple[np.ndarray, pd.DataFrame | None]:
        """Labels/values and, for classification, the probability frame (columns = classes)."""
        try:
            with self._lock:
                labels, proba = self.model.predict_with_proba(data)
        except ValueError as exc:
            # Rows that passed validation can still break a model's arithmetic (e.g. values near the float
            # maximum overflow a standardising step); that is the input's doing, so the client gets a 4xx.
            log.warning("A model could not score validated rows", exc_info=exc)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"The model could not score these rows ({reason}); check them for extreme or "
                            "malformed values.") from None
        if proba is None:
            return labels.to_numpy(dtype=np.float64), None
        return labels.to_numpy(dtype=object), proba

    def score(self, frame: pd.DataFrame) -> Scored:
        """Score validated rows (``frame.index`` holds their request positions)."""
        positions = [int(i) for i in frame.index]
        if frame.empty:
            return Scored(positions=[], predictions=[], probabilities=[] if self.classification else None)
        labels, proba = self._predict(frame)
        predictions = [_native(v) for v in labels]
        if proba is None:
            return Scored(positions=positions, predictions=predictions, probabilities=None)
        keys = [str(c) for c in proba.columns]
        probabilities = [dict(zip(keys, row, strict=True)) for row in proba.to_numpy(dtype=np.float64).tolist()]
        return Scored(positions=positions, predictions=predictions, probabilities=probabilities)

    def table(self, data: Any) -> pd.DataFrame:
        """``prediction`` and ``proba_<label>`` columns for a file or frame, in its row order."""
        labels, proba = self._predict(data)
        out = pd.DataFrame({"prediction": labels})
        if proba is not None:
            out = out.join(proba.add_prefix("proba_").reset_index(drop=True))
        return out

    # ------------------------------------------------------------------------------ describe
    def info(self) -> dict[str, Any]:
        manifest = self.model.manifest
        board = manifest.get("leaderboard", [])
        ok = [r for r in board if r.get("status") == "ok"]
        return {
            "task": self.model.problem_type,
            "target": self.model.target,
            "classes": self.model.classes if self.classification else None,
            "threshold": self.model.threshold,
            "temperature": self.model.temperature,
            "input_schema": self.model.input_schema,
            "metrics": {
                "metric": self.model.metric,
                "greater_is_better": manifest.get("metric_greater_is_better"),
                "validation": manifest.get("validation"),
                "score_val": (manifest.get("ensemble") or {}).get("score_val"),
                "threshold": manifest.get("threshold"),
                "leaderboard": [
                    {k: r.get(k) for k in ("model", "score_val", "fit_time_s", "predict_ms_per_1k")}
                    for r in ok[:LEADERBOARD_TOP]
                ],
            },
            "run": {"path": str(self.model.path), "created_at": manifest.get("created_at"),
                    "trained_with": manifest.get("mlpilot_version")},
            "mlpilot_version": __version__,
        }

    def examples(self) -> dict[str, Any]:
        """One example value per column, from the training data report, for the docs' request example."""
        columns = self.model.manifest.get("data_report", {}).get("columns", [])
        return {c["name"]: (c.get("examples") or [None])[0] for c in columns}


def _native(value: Any) -> Any:
    """numpy scalars -> Python scalars, for JSON."""
    return value.item() if isinstance(value, np.generic) else value
