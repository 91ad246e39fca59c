"""A tabular run's whole ensemble as ONE ONNX graph, checked against mlpilot before it is written.

What the graph holds: every ensemble member's fold models (or its refit), each fold's output scaled
by ``weight / n_folds`` and summed, so its output *is* the run's blended prediction: class
probabilities ``(n, n_classes)`` for classification (temperature-scaled when the run's are), values
``(n,)`` for regression.

What it does not hold: the data preparation. Its input ``features`` is the feature pipeline's
output as a float32 matrix (columns listed, with how each is computed, in the sidecar JSON): numbers
as they are, categories as their code, date parts, text statistics and text SVD components, NaN for
missing. Text hashing with TF-IDF weights, date parsing and the string clean-up rules have no faithful
ONNX form, so they stay in Python (``mlpilot export --format python`` writes them out as code). The
decision threshold of a binary run is in the sidecar, not the graph: callers choose their cut-off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlpilot.engine.calibration import apply_temperature
from mlpilot.engine.metrics import SMALLEST_PROBABILITY
from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.export.onnx_members import (
    FEATURES_INPUT,
    SKLEARN_INPUT,
    ConvertedModel,
    NotConvertible,
    as_onnx_input,
    convert_fold_model,
)
from mlpilot.tasks.tabular.export.sidecar import feature_table
from mlpilot.tasks.tabular.models.base import REGRESSION, TabularModel
from mlpilot.tasks.tabular.run_dir import ensemble_temperature

PROBA_TOLERANCE = 1e-4  # float32 trees against float64 ones: 1e-7 typical, far below any decision
OUTPUT_PROBA = "probabilities"
OUTPUT_VALUE = "prediction"
Member = tuple[str, list[TabularModel], float]


@dataclass
class OnnxCheck:
    n_rows: int
    max_abs_diff: float
    per_member: dict[str, float]
    sample: str  # what the rows were


@dataclass
class ConvertedMember:
    name: str
    family: str
    weight: float
    folds: list[ConvertedModel]


def convert_members(members: list[Member], *, n_features: int, has_categorical: bool = False,
                    python_export_works: bool = True) -> list[ConvertedMember]:
    """Convert every member's fold models; one ``ConfigError`` naming all members that cannot be."""
    converted, failures = [], []
    for name, models, weight in members:
        try:
            folds = [convert_fold_model(m, n_features=n_features) for m in models]
        except NotConvertible as exc:
            failures.append(f"member {name} (family {models[0].key}) cannot be exported to ONNX: {exc}")
            continue
        converted.append(ConvertedMember(name, models[0].key, weight, folds))
    if failures:
        # CatBoost converts only when no column is categorical (see onnx_members).
        exportable = ["lightgbm", "xgboost", "extra_trees", "random_forest", "linear"] + (
            [] if has_categorical else ["catboost"])
        raise ConfigError(
            "; ".join(failures) + ". Re-fit with only convertible families (in Python: mlpilot.fit(..., "
            f"families={exportable}))" + (", or export this run with --format python." if python_export_works else ".")
        )
    return converted


def combine(members: list[ConvertedMember], *, problem_type: str, feature_names: list[str],
            categorical: list[int], temperature: float | None = None) -> Any:
    """One graph: shared input, each fold model under its own name prefix, weighted sum at the end
    (classification with a ``temperature``: then rescaled by it, as ``apply_temperature`` does)."""
    from onnx import TensorProto, compose, helper, numpy_helper

    n_features = len(feature_names)
    nodes: list[Any] = []
    initializers: list[Any] = []
    terms: list[str] = []
    if any(fold.source == SKLEARN_INPUT for member in members for fold in member.folds):
        nodes, initializers = _sklearn_input_nodes(categorical, n_features)
    opsets: dict[str, int] = {"": 13}
    ir_version = 7
    for i, member in enumerate(members):
        for j, fold in enumerate(member.folds):
            prefix = f"m{i}f{j}_"
            sub = compose.add_prefix(fold.model, prefix)
            for node in sub.graph.node:  # read the shared input instead of the sub-model's own
                for k, name in enumerate(node.input):
                    if name == prefix + fold.input_name:
                        node.input[k] = fold.source
            nodes.extend(sub.graph.node)
            initializers.extend(sub.graph.initializer)
            for opset in sub.opset_import:
                opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
            ir_version = max(ir_version, fold.model.ir_version)
            scale = f"{prefix}scale"
            factor = np.array(member.weight / len(member.folds), dtype=np.float32)
            initializers.append(numpy_helper.from_array(factor, scale))
            output = prefix + fold.output_name
            if problem_type == REGRESSION:  # converters give (n, 1) or (n,): make every term (n,)
                shape = f"{prefix}flat_shape"
                initializers.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), shape))
                nodes.append(helper.make_node("Reshape", [output, shape], [f"{prefix}flat"]))
                output = f"{prefix}flat"
            nodes.append(helper.make_node("Mul", [output, scale], [f"{prefix}term"]))
            terms.append(f"{prefix}term")
    result = OUTPUT_VALUE if problem_type == REGRESSION else OUTPUT_PROBA
    if temperature is None or problem_type == REGRESSION:
        nodes.append(helper.make_node("Sum", terms, [result]))
    else:
        nodes.append(helper.make_node("Sum", terms, ["blended"]))
        _temperature_nodes(nodes, initializers, temperature, source="blended", result=result)
    shape = [None] if problem_type == REGRESSION else [None, None]
    graph = helper.make_graph(
        nodes, "mlpilot_ensemble",
        [helper.make_tensor_value_info(FEATURES_INPUT, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(result, TensorProto.FLOAT, shape)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())],
                              producer_name="mlpilot")
    model.ir_version = ir_version
    return model


def _temperature_nodes(nodes: list, initializers: list, temperature: float, *, source: str, result: str) -> None:
    """softmax(log(max(p, smallest)) / T): ``apply_temperature`` as graph nodes."""
    from onnx import helper, numpy_helper

    initializers += [numpy_helper.from_array(np.array(SMALLEST_PROBABILITY, dtype=np.float32), "smallest"),
                     numpy_helper.from_array(np.array(1.0 / temperature, dtype=np.float32), "inverse_temperature")]
    nodes += [
        helper.make_node("Max", [source, "smallest"], ["blended_clipped"]),
        helper.make_node("Log", ["blended_clipped"], ["blended_log"]),
        helper.make_node("Mul", ["blended_log", "inverse_temperature"], ["blended_scaled"]),
        helper.make_node("Softmax", ["blended_scaled"], [result], axis=-1),
    ]


def _sklearn_input_nodes(categorical: list[int], n_features: int) -> tuple[list, list]:
    """``features_codes_minus1``: NaN in categorical columns → -1, how scikit-learn families were trained."""
    from onnx import helper, numpy_helper

    mask = np.zeros(n_features, dtype=bool)
    mask[categorical] = True
    initializers = [numpy_helper.from_array(mask, "categorical_mask"),
                    numpy_helper.from_array(np.array(-1.0, dtype=np.float32), "minus_one")]
    nodes = [
        helper.make_node("IsNaN", [FEATURES_INPUT], ["features_isnan"]),
        helper.make_node("And", ["features_isnan", "categorical_mask"], ["categorical_missing"]),
        helper.make_node("Where", ["categorical_missing", "minus_one", FEATURES_INPUT], [SKLEARN_INPUT]),
    ]
    return nodes, initializers


def run_onnx(model: Any, matrix: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the check is small; threads would only fight other processes
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

    failures = (ort_state.Fail, ort_state.InvalidArgument, ort_state.InvalidGraph, ort_state.NotImplemented,
                ort_state.RuntimeException)  # none of them derives from RuntimeError
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, {FEATURES_INPUT: matrix})[0], dtype=np.float64)
    except failures as exc:
        raise RuntimeError(str(exc)) from exc


def check(members: list[Member], converted: list[ConvertedMember], *, native: pd.DataFrame, problem_type: str,
          feature_names: list[str], categorical: list[int], sample: str,
          temperature: float | None = None) -> tuple[Any, OnnxCheck]:
    """Build the graph and compare ONNX Runtime to mlpilot on ``native`` rows, member by member and blended.

    A member that disagrees beyond the tolerance is named in a ``ConfigError``: a converter that
    silently changes predictions must never produce a file.
    """
    matrix = as_onnx_input(native, feature_names=feature_names)
    per_member, wrong = {}, []
    expected_total = None
    for member, conv in zip(members, converted, strict=True):
        expected = np.mean([m.predict(native) for m in member[1]], axis=0)
        single = combine([ConvertedMember(conv.name, conv.family, 1.0, conv.folds)], problem_type=problem_type,
                         feature_names=feature_names, categorical=categorical)
        try:
            diff = _difference(run_onnx(single, matrix), expected, problem_type)
        except RuntimeError as exc:  # onnxruntime's Fail/InvalidArgument: a graph it cannot run on these rows
            wrong.append(f"member {member[0]} (family {conv.family}) fails in ONNX Runtime "
                         f"({str(exc).strip().splitlines()[0][:160]})")
            continue
        per_member[member[0]] = diff
        if diff > PROBA_TOLERANCE:
            wrong.append(f"member {member[0]} (family {conv.family}) differs by {diff:.2g}")
        expected_total = expected * member[2] if expected_total is None else expected_total + expected * member[2]
    if wrong:
        raise ConfigError(
            "The ONNX conversion does not reproduce mlpilot's predictions (tolerance "
            f"{PROBA_TOLERANCE:g}): {'; '.join(wrong)}. Use --format python for this run."
        )
    model = combine(converted, problem_type=problem_type, feature_names=feature_names, categorical=categorical,
                    temperature=temperature)
    if temperature is not None and problem_type != REGRESSION:
        expected_total = apply_temperature(expected_total, temperature)
    total = _difference(run_onnx(model, matrix), expected_total, problem_type)
    if total > PROBA_TOLERANCE:
        raise ConfigError(f"The combined ONNX graph differs from mlpilot's ensemble by {total:.2g}; "
                          "use --format python for this run.")
    return model, OnnxCheck(n_rows=len(native), max_abs_diff=total, per_member=per_member, sample=sample)


def _difference(actual: np.ndarray, expected: np.ndarray, problem_type: str) -> float:
    """Max absolute difference for probabilities; relative to the value's size for regression."""
    if problem_type == REGRESSION:
        actual, expected = actual.reshape(-1), expected.reshape(-1)
        return float(np.max(np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))))
    return float(np.max(np.abs(actual - expected)))


def write_onnx(model: Any, out: Path, *, sidecar: dict[str, Any]) -> Path:
    """``out`` (the graph) and ``out`` with ``.json`` (what its input columns are), both atomically."""
    import onnx

    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    side = out.with_suffix(".json")
    for path, data in ((out, model.SerializeToString()), (side, json.dumps(sidecar, indent=1).encode())):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return out


def describe(manifest: dict[str, Any], pipeline: Any, converted: list[ConvertedMember],
             result: OnnxCheck) -> dict[str, Any]:
    """The sidecar: input columns and how to compute them, output meaning, members, and the check."""
    regression = manifest["problem_type"] == REGRESSION
    return {
        "format": "mlpilot ONNX export v1",
        "input": {"name": FEATURES_INPUT, "dtype": "float32", "shape": ["n_rows", len(pipeline.feature_names_)],
                  "missing": "NaN", "columns": feature_table(pipeline)},
        "output": {
            "name": OUTPUT_VALUE if regression else OUTPUT_PROBA,
            "meaning": "predicted value" if regression else "class probabilities, one column per class",
            "classes": manifest["classes"],
            "threshold": manifest.get("threshold"),
            "temperature": ensemble_temperature(manifest),
        },
        "problem_type": manifest["problem_type"], "target": manifest["target"],
        "members": [{"name": c.name, "family": c.family, "weight": c.weight, "n_models": len(c.folds)}
                    for c in converted],
        "check": {"rows": result.n_rows, "sample": result.sample, "max_abs_diff": result.max_abs_diff,
                  "per_member_max_abs_diff": result.per_member, "tolerance": PROBA_TOLERANCE},
    }
