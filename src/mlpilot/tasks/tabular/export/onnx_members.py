"""One fitted fold model → one ONNX model, per family, with the converter each library recommends
(and, for XGBoost's categorical splits, which onnxmltools cannot convert, :mod:`.onnx_xgboost`).

Every converted model reads the same input: the pipeline's feature matrix as float32, categorical
columns holding their category code and NaN for missing (see :mod:`.onnx_export`). The
scikit-learn families were trained on codes with -1 for missing, so the combined graph feeds them a
copy with that substitution (``SKLEARN_INPUT``). A family or a fitted model a converter cannot
express faithfully raises :class:`NotConvertible` with the reason, and the caller names the member.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlpilot.tasks.tabular.models.base import REGRESSION, TabularModel

FEATURES_INPUT = "features"
SKLEARN_INPUT = "features_codes_minus1"  # categorical NaN → -1, as the scikit-learn families were trained
DEFAULT_OPSET = 15
ML_OPSET = 3


class NotConvertible(Exception):
    """This fitted model cannot be expressed in ONNX by the installed converters (the message says why)."""


@dataclass
class ConvertedModel:
    model: Any  # onnx.ModelProto
    input_name: str  # the converted model's own input name (renamed to the shared one when combining)
    output_name: str  # (n, n_classes) probabilities, or (n, 1) / (n,) values for regression
    source: str  # FEATURES_INPUT or SKLEARN_INPUT: which shared tensor it reads


def convert_fold_model(model: TabularModel, *, n_features: int) -> ConvertedModel:
    """The ONNX form of one fitted fold model; ``NotConvertible`` when it has none."""
    converters = {
        "lightgbm": _lightgbm,
        "xgboost": _xgboost,
        "catboost": _catboost,
        "extra_trees": _sklearn,
        "random_forest": _sklearn,
        "linear": _sklearn,
    }
    converter = converters.get(model.key)
    if model.key == "neural_net":  # torch.onnx could trace the network, but not what happens before it
        raise NotConvertible("its input preparation (median imputation and quantile or standard scaling, done "
                             "in numpy before the torch network) has no ONNX converter")
    if model.key == "knn":  # measured: differences of 0.3-0.7 on probabilities and values
        raise NotConvertible("skl2onnx's nearest-neighbours graph does not reproduce scikit-learn's "
                             "distance-weighted predictions")
    if converter is None:
        raise NotConvertible(f"no ONNX converter is installed for the {model.name} family")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # converters warn about opset choices they handle themselves
        try:
            return converter(model, n_features)
        except NotConvertible:
            raise
        except (RuntimeError, ValueError, TypeError, NotImplementedError, KeyError, AttributeError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise NotConvertible(f"the converter failed: {first_line}") from exc


def _probability_output(onx: Any, *, regression: bool) -> str:
    outputs = [o.name for o in onx.graph.output]
    if regression:
        return outputs[0]
    named = [o for o in outputs if "prob" in o.lower()]
    if not named:
        raise NotConvertible(f"the converted model has no probability output (outputs: {outputs})")
    return named[0]


def _lightgbm(model: Any, n_features: int) -> ConvertedModel:
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    onx = convert_lightgbm(model.booster_, initial_types=[(FEATURES_INPUT, FloatTensorType([None, n_features]))],
                           target_opset=DEFAULT_OPSET, zipmap=False)
    return ConvertedModel(onx, FEATURES_INPUT, _probability_output(onx, regression=not model.is_classification),
                          FEATURES_INPUT)


def _xgboost(model: Any, n_features: int) -> ConvertedModel:
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    if model.categorical_:  # onnxmltools cannot convert categorical splits: rebuild the trees from JSON
        from mlpilot.tasks.tabular.export.onnx_xgboost import xgboost_graph

        onx, output = xgboost_graph(model, n_features=n_features, input_name=FEATURES_INPUT)
        return ConvertedModel(onx, FEATURES_INPUT, output, FEATURES_INPUT)
    booster = model.booster_.copy()
    booster.feature_names = None  # the converter expects XGBoost's positional names f0, f1, ...
    booster.feature_types = None
    onx = convert_xgboost(booster, initial_types=[(FEATURES_INPUT, FloatTensorType([None, n_features]))],
                          target_opset=DEFAULT_OPSET)
    return ConvertedModel(onx, FEATURES_INPUT, _probability_output(onx, regression=not model.is_classification),
                          FEATURES_INPUT)


def _catboost(model: Any, n_features: int) -> ConvertedModel:
    import onnx

    if model.categorical_:
        raise NotConvertible(
            "CatBoost's ONNX export does not support categorical features "
            f"({', '.join(model.categorical_[:3])}...)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        model.model_.save_model(str(path), format="onnx")
        onx = onnx.load(str(path))
    _drop_zipmap(onx)
    return ConvertedModel(onx, onx.graph.input[0].name,
                          _probability_output(onx, regression=not model.is_classification), FEATURES_INPUT)


def _drop_zipmap(onx: Any) -> None:
    """Expose the probability tensor that feeds a ZipMap (a list of dicts) as the output instead."""
    for node in list(onx.graph.node):
        if node.op_type != "ZipMap":
            continue
        tensor, mapped = node.input[0], node.output[0]
        onx.graph.node.remove(node)
        for output in onx.graph.output:
            if output.name == mapped:
                output.name = tensor
                output.type.Clear()
                output.type.tensor_type.elem_type = 1  # float
        for other in onx.graph.node:  # a converter may read the ZipMap output elsewhere (it should not)
            if mapped in other.input:
                raise NotConvertible("its probability output feeds other nodes through a ZipMap")


def _sklearn(model: Any, n_features: int) -> ConvertedModel:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    estimator = model.estimator_
    classes = getattr(estimator, "classes_", None)
    if model.problem_type != REGRESSION and classes is not None and len(classes) != model.n_classes:
        raise NotConvertible("one of its fold models saw only some of the classes")
    opset = {"": DEFAULT_OPSET, "ai.onnx.ml": ML_OPSET}
    if hasattr(estimator, "steps"):  # linear: imputer → scaler → one-hot → model, one Pipeline
        from mlpilot.tasks.tabular.export.onnx_sklearn import convert_pipeline

        onx = convert_pipeline(estimator, input_name=SKLEARN_INPUT, n_features=n_features,
                               classifier=model.is_classification, opset=opset)
    else:
        options = {"zipmap": False} if model.is_classification else None
        onx = to_onnx(estimator, initial_types=[(SKLEARN_INPUT, FloatTensorType([None, n_features]))],
                      target_opset=opset, options=options)
    if model.key in ("extra_trees", "random_forest"):
        _route_missing_values(onx, estimator.estimators_)
    return ConvertedModel(onx, SKLEARN_INPUT, _probability_output(onx, regression=not model.is_classification),
                          SKLEARN_INPUT)


def _route_missing_values(onx: Any, trees: list[Any]) -> None:
    """Send NaN down the branch scikit-learn sends it (``missing_go_to_left``); skl2onnx leaves it out.

    ONNX ``BRANCH_LEQ`` takes the *true* branch for ``x <= threshold``, which is scikit-learn's left
    child, so "missing tracks true" is exactly ``missing_go_to_left``.
    """
    from onnx import helper

    for node in onx.graph.node:
        if node.op_type not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            continue
        attrs = {a.name: a for a in node.attribute}
        tree_ids = helper.get_attribute_value(attrs["nodes_treeids"])
        node_ids = helper.get_attribute_value(attrs["nodes_nodeids"])
        modes = helper.get_attribute_value(attrs["nodes_modes"])
        tracks = [
            0 if mode in (b"LEAF", "LEAF") else int(trees[t].tree_.missing_go_to_left[n])
            for t, n, mode in zip(tree_ids, node_ids, modes, strict=True)
        ]
        for attribute in list(node.attribute):
            if attribute.name == "nodes_missing_value_tracks_true":
                node.attribute.remove(attribute)
        node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks))


def as_onnx_input(native: Any, *, feature_names: list[str]) -> np.ndarray:
    """The ONNX input for a native frame: float32, categorical columns as codes, NaN for missing."""
    import pandas as pd

    out = np.empty((len(native), len(feature_names)), dtype=np.float32)
    for j, name in enumerate(feature_names):
        column = native[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.float32)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            out[:, j] = column.to_numpy(dtype=np.float64)
    return out
