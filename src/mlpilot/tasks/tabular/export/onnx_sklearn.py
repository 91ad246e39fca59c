"""The linear family's Pipeline through skl2onnx, plus the one piece skl2onnx cannot convert: the
imputer's missing-value indicator columns (``SimpleImputer(add_indicator=True)``).

Registered for one conversion call only (``custom_conversion_functions``), never globally: the
imputer fills NaN with the fitted medians and appends one 0/1 column per feature that had missing
values at fit time (``indicator_.features_``), which is exactly what scikit-learn's transform does.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def imputer_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    imputer = operator.raw_operator
    width = len(imputer.statistics_) + (len(imputer.indicator_.features_) if imputer.add_indicator else 0)
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def imputer_converter(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    imputer = operator.raw_operator
    source, result = operator.inputs[0].full_name, operator.outputs[0].full_name

    def name(base: str) -> str:
        return scope.get_unique_variable_name(base)

    medians, missing, filled = name("medians"), name("missing"), name("filled")
    container.add_initializer(medians, TensorProto.FLOAT, [len(imputer.statistics_)],
                              np.asarray(imputer.statistics_, dtype=np.float32).tolist())
    container.add_node("IsNaN", [source], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node("Where", [missing, medians, source], [filled if imputer.add_indicator else result],
                       name=scope.get_unique_operator_name("Where"))
    if not imputer.add_indicator:
        return
    columns, picked, flags = name("indicator_columns"), name("indicator_missing"), name("indicators")
    features = np.asarray(imputer.indicator_.features_, dtype=np.int64)
    container.add_initializer(columns, TensorProto.INT64, [len(features)], features.tolist())
    container.add_node("Gather", [missing, columns], [picked], axis=1, name=scope.get_unique_operator_name("Gather"))
    container.add_node("Cast", [picked], [flags], to=TensorProto.FLOAT, name=scope.get_unique_operator_name("Cast"))
    container.add_node("Concat", [filled, flags], [result], axis=1, name=scope.get_unique_operator_name("Concat"))


def convert_pipeline(estimator: Any, *, input_name: str, n_features: int, classifier: bool, opset: dict[str, int]
                     ) -> Any:
    """skl2onnx's conversion of a fitted Pipeline, with the imputer converter above."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.impute import SimpleImputer

    onx = convert_sklearn(
        estimator, initial_types=[(input_name, FloatTensorType([None, n_features]))], target_opset=opset,
        options={id(estimator): {"zipmap": False}} if classifier else None,
        custom_conversion_functions={SimpleImputer: imputer_converter},
        custom_shape_calculators={SimpleImputer: imputer_shape},
    )
    _unknown_categories_give_zeros(onx)
    return onx


def _unknown_categories_give_zeros(onx: Any) -> None:
    """A code the encoder never saw gets all-zero columns, as scikit-learn does without an infrequent
    column (skl2onnx emits ``zeros=0``, which makes ONNX Runtime fail on it instead). Where scikit-learn
    would use an infrequent column, the export's check compares the two and refuses a difference."""
    from onnx import helper

    for node in onx.graph.node:
        if node.op_type == "OneHotEncoder":
            for attribute in list(node.attribute):
                if attribute.name == "zeros":
                    node.attribute.remove(attribute)
            node.attribute.append(helper.make_attribute("zeros", 1))
