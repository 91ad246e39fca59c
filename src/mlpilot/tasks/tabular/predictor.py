"""The fitted tabular model users hold: predict, explain, evaluate, save.

Models are loaded once; every call validates the input against the training schema (missing
columns are an error, extra columns are ignored, unseen categories are handled) and runs the
vectorised feature pipeline once for all ensemble members.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlpilot.engine.calibration import apply_temperature
from mlpilot.engine.metrics import available_metrics, get_metric
from mlpilot.errors import DataError
from mlpilot.tasks.tabular.evaluation import evaluation_data
from mlpilot.tasks.tabular.explain import Explanation, Member, explain_rows, explainable_members, explanation_units
from mlpilot.tasks.tabular.features import FeaturePipeline
from mlpilot.tasks.tabular.inference import DataReport
from mlpilot.tasks.tabular.io import is_dask_frame, read_table
from mlpilot.tasks.tabular.models.base import BINARY, REGRESSION, predict_bag
from mlpilot.tasks.tabular.run_dir import ensemble_temperature, load_importance, load_run, load_validation

log = logging.getLogger("mlpilot")


class TabularPredictor:
    """A saved tabular run, loaded and ready to predict. Get one from ``mlpilot.fit`` or ``mlpilot.load``."""

    def __init__(
        self,
        *,
        manifest: dict[str, Any],
        pipeline: FeaturePipeline,
        members: list[Member],
        explainer: Member | None,
        path: Path,
    ) -> None:
        self.manifest = manifest
        self.pipeline = pipeline
        self.members = members
        self.explainer = explainer
        self.path = Path(path)
        self.notes: list[str] = []  # what the last call noticed about its input (extra columns...)

    @classmethod
    def load(cls, path: str | Path, *, n_threads: int | None = None) -> TabularPredictor:
        """Load a saved run. ``n_threads``: the most threads one prediction call uses (None = all cores;
        each model uses one for inputs too small to pay for more, such as a single row)."""
        threads = n_threads or os.cpu_count() or 1
        manifest, pipeline, members, explainer = load_run(path, n_threads=threads)
        return cls(manifest=manifest, pipeline=pipeline, members=members, explainer=explainer, path=Path(path))

    # ------------------------------------------------------------------------------ describe
    @property
    def problem_type(self) -> str:
        return self.manifest["problem_type"]

    @property
    def target(self) -> str:
        return self.manifest["target"]

    @property
    def classes(self) -> list[Any]:
        return list(self.manifest["classes"])

    @property
    def metric(self) -> str:
        return self.manifest["metric"]

    @property
    def threshold(self) -> float | None:
        threshold = self.manifest.get("threshold")
        return None if threshold is None else float(threshold["value"])

    @property
    def input_schema(self) -> list[dict[str, Any]]:
        return self.manifest["input_schema"]

    @property
    def data_report(self) -> DataReport:
        return DataReport.from_dict(self.manifest["data_report"])

    def leaderboard(self) -> pd.DataFrame:
        """Every model tried: validation score, fit time, predict time per 1k rows, status and why."""
        board = pd.DataFrame(self.manifest["leaderboard"])
        return board.rename(columns={"score_val": f"score_val ({self.metric})"})

    def __repr__(self) -> str:
        return (f"TabularPredictor(problem_type={self.problem_type!r}, target={self.target!r}, "
                f"metric={self.metric!r}, path='{self.path}')")

    # ------------------------------------------------------------------------------ predict
    def predict_proba(self, data: Any) -> pd.DataFrame:
        """Class probabilities, one column per class label, same index as ``data``."""
        if self.problem_type == REGRESSION:
            raise DataError("predict_proba applies to classification runs; this run is a regression: use predict.")
        if is_dask_frame(data):
            return _over_partitions(data, self.predict_proba)
        return self.predict_with_proba(data)[1]

    def predict(self, data: Any) -> pd.Series:
        """Predicted labels (binary: at the calibrated threshold) or values, same index as ``data``.

        A Dask DataFrame gives a lazy Dask Series, computed partition by partition where it is computed
        (``.compute()``, ``.to_frame().to_parquet(folder)``), so the predictions need not fit in memory.
        """
        if is_dask_frame(data):
            return _over_partitions(data, self.predict)
        return self.predict_with_proba(data)[0]

    def predict_with_proba(self, data: Any) -> tuple[pd.Series, pd.DataFrame | None]:
        """Labels (or values) and class probabilities (None for regression) in one pass over the models."""
        X, index = self._prepare(data)
        raw = self._blend(X)
        if self.problem_type == REGRESSION:
            return pd.Series(raw, index=index, name=self.target), None
        labels = np.asarray(self.classes, dtype=object)[self._codes(raw)]
        proba = pd.DataFrame(raw, columns=self.classes, index=index)
        return pd.Series(labels, index=index, name=self.target).infer_objects(), proba

    def _codes(self, proba: np.ndarray) -> np.ndarray:
        if self.problem_type == BINARY and self.threshold is not None:
            return (proba[:, 1] >= self.threshold).astype(np.int64)
        return proba.argmax(axis=1)

    def _prepare(self, data: Any) -> tuple[pd.DataFrame, pd.Index]:
        frame = read_table(data)
        frame = frame.drop(columns=[self.target], errors="ignore")
        aligned, notes = self.pipeline.check_input(frame)
        X = self.pipeline.transform(aligned, notes=notes)
        self.notes = notes
        for note in notes:
            log.info(note)
        return X, frame.index

    @property
    def temperature(self) -> float | None:
        """The temperature the blended class probabilities are rescaled by (None: not rescaled)."""
        return ensemble_temperature(self.manifest)

    def _blend(self, X: pd.DataFrame) -> np.ndarray:
        total = None
        for _, models, weight in self.members:
            pred = predict_bag(models, X) * weight
            total = pred if total is None else total + pred
        temperature = self.temperature
        return total if temperature is None else apply_temperature(total, temperature)

    # ------------------------------------------------------------------------------ evaluate
    def evaluate(self, data: Any) -> dict[str, float]:
        """Every metric of this problem type on labelled ``data`` (rows without a label are dropped)."""
        y, raw = self._labelled_predictions(data)
        results: dict[str, float] = {}
        for name in available_metrics(self.problem_type):
            try:
                results[name] = get_metric(name)(y, raw)
            except ValueError:  # e.g. ROC AUC when the data holds one class only
                continue
        if self.problem_type == BINARY and self.threshold is not None:
            results.update(_label_metrics(y, self._codes(raw)))
        results["n_rows"] = float(len(y))
        return results

    def _labelled_predictions(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encoded labels and the ensemble's raw predictions for the labelled rows of ``data``."""
        frame = read_table(data)
        if self.target not in frame.columns:
            raise DataError(f"Column '{self.target}' (the target) is missing: evaluate needs labelled data.")
        frame = frame[frame[self.target].notna()]
        if frame.empty:
            raise DataError(f"Every row has an empty '{self.target}': evaluate needs labelled data.")
        y = self._encode_labels(frame[self.target])
        X, _ = self._prepare(frame)
        return y, self._blend(X)

    def evaluation_data(self, data: Any) -> dict[str, Any]:
        """Curves, confusion matrix, gain and calibration on labelled ``data`` (JSON-ready; see
        :func:`mlpilot.tasks.tabular.evaluation.evaluation_data`)."""
        y, raw = self._labelled_predictions(data)
        return evaluation_data(y, raw, problem_type=self.problem_type, classes=self.classes,
                               threshold=self.threshold, metric=self.metric,
                               source=f"labelled data, {len(y):,} rows")

    def validation_evaluation(self) -> dict[str, Any]:
        """The same evaluation on the out-of-fold validation predictions stored in the run at fit time.

        Raises :class:`ArtifactError` for runs saved before mlpilot stored them (re-run fit, or use
        :meth:`evaluation_data` on labelled data)."""
        y, raw = load_validation(self.path)
        source = f"out-of-fold validation ({self.manifest['validation']}) on {len(y):,} training rows"
        return evaluation_data(y, raw, problem_type=self.problem_type, classes=self.classes,
                               threshold=self.threshold, metric=self.metric, source=source)

    def global_importance(self) -> dict[str, float] | None:
        """Mean absolute contribution of each input column (largest first), measured at fit time on up to
        500 training rows, in the units of :meth:`explain`; None when the run has none stored."""
        return load_importance(self.path)

    def _encode_labels(self, labels: pd.Series) -> np.ndarray:
        if self.problem_type == REGRESSION:
            return pd.to_numeric(labels).to_numpy(dtype=np.float64)
        lookup = {str(c): i for i, c in enumerate(self.classes)}
        codes = labels.astype(str).map(lookup)
        unknown = labels[codes.isna()]
        if len(unknown):
            raise DataError(
                f"Column '{self.target}' holds {unknown.iloc[0]!r} (row {unknown.index[0]}), a class the model "
                f"never saw; known classes: {self.classes}. Remove those rows to evaluate."
            )
        return codes.to_numpy(dtype=np.int64)

    # ------------------------------------------------------------------------------ explain
    def explain(self, data: Any) -> Explanation:
        """Per-row contributions of each input column, and their global importance."""
        X, index = self._prepare(data)
        explainable = explainable_members(self.members, self.explainer)
        if not explainable:
            raise DataError("No model of this run can explain rows; re-run fit with a gradient-boosting family.")
        codes = self._codes(self._blend(X)) if self.problem_type != REGRESSION else None
        return explain_rows(
            explainable, X, source_columns=self.pipeline.source_columns_,
            input_columns=[c["name"] for c in self.input_schema], index=index, predicted_codes=codes,
            units=explanation_units(self.problem_type, self.classes),
        )

    # ------------------------------------------------------------------------------ save
    def save(self, path: str | Path) -> Path:
        """Copy the run to ``path`` (atomically: the copy appears complete or not at all)."""
        target = Path(path).resolve()
        if target == self.path.resolve():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            shutil.copytree(self.path, tmp, dirs_exist_ok=True)
            if target.exists():
                raise DataError(f"'{target}' already exists; choose a new folder to save the run to.")
            tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _over_partitions(data: Any, predict: Any) -> Any:
    """``predict`` mapped over a Dask DataFrame's partitions (the predictor travels with the tasks)."""
    meta = predict(data.head(2)).iloc[:0]
    return data.map_partitions(predict, meta=meta)


def _label_metrics(y: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(skm.accuracy_score(y, codes)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, codes)),
        "f1": float(skm.f1_score(y, codes, zero_division=0)),
        "precision": float(skm.precision_score(y, codes, zero_division=0)),
        "recall": float(skm.recall_score(y, codes, zero_division=0)),
    }
