"""XGBoost → ONNX from the booster's own JSON, categorical splits included.

onnxmltools cannot convert XGBoost's categorical splits (``x in {a, b}`` → right child), and mlpilot
trains XGBoost with ``enable_categorical=True``, so the trees are rebuilt here as one
``TreeEnsembleRegressor`` giving the raw margins, followed by the objective's link (sigmoid for
``binary:logistic``, softmax for ``multi:softprob``, none for ``reg:squarederror``).

Each split maps to ONNX nodes as follows (children and missing values as XGBoost routes them):

- numeric: ``x < threshold`` goes left → ``BRANCH_LT`` with true = left; NaN follows ``default_left``;
- categorical with categories ``{c1..ck}`` going right → a chain of ``BRANCH_EQ`` nodes
  ``x == c1 ? right : (x == c2 ? right : ... left)``; NaN equals nothing and so ends on the left,
  unless the default is right, which the first node of the chain sends there directly.

The base margin is measured, not read from the file: an all-missing row's margin minus the leaves it
reaches, which stays right whatever link space a version stores ``base_score`` in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlpilot.tasks.tabular.models.base import MULTICLASS, REGRESSION

_OBJECTIVES = {"binary:logistic", "multi:softprob", "reg:squarederror"}


@dataclass
class _Nodes:
    """The flat node attributes of one ``TreeEnsembleRegressor``."""

    tree: list[int] = field(default_factory=list)
    node: list[int] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    mode: list[str] = field(default_factory=list)
    true: list[int] = field(default_factory=list)
    false: list[int] = field(default_factory=list)
    missing_true: list[int] = field(default_factory=list)
    leaf_tree: list[int] = field(default_factory=list)
    leaf_node: list[int] = field(default_factory=list)
    leaf_target: list[int] = field(default_factory=list)
    leaf_weight: list[float] = field(default_factory=list)

    def add(self, tree: int, node: int, *, feature: int, value: float, mode: str, true: int, false: int,
            missing_true: int) -> None:
        self.tree.append(tree)
        self.node.append(node)
        self.feature.append(feature)
        self.value.append(value)
        self.mode.append(mode)
        self.true.append(true)
        self.false.append(false)
        self.missing_true.append(missing_true)


def _add_tree(nodes: _Nodes, t: int, tree: dict[str, Any], *, target: int) -> None:
    left, right = tree["left_children"], tree["right_children"]
    categories = _categories_by_node(tree)
    next_id = len(left)  # ids for the extra nodes of categorical chains
    for n in range(len(left)):
        if left[n] == -1:
            nodes.add(t, n, feature=0, value=0.0, mode="LEAF", true=0, false=0, missing_true=0)
            nodes.leaf_tree.append(t)
            nodes.leaf_node.append(n)
            nodes.leaf_target.append(target)
            nodes.leaf_weight.append(float(tree["split_conditions"][n]))
            continue
        feature, default_left = int(tree["split_indices"][n]), bool(tree["default_left"][n])
        if tree["split_type"][n] == 0:
            nodes.add(t, n, feature=feature, value=float(tree["split_conditions"][n]), mode="BRANCH_LT",
                      true=left[n], false=right[n], missing_true=int(default_left))
            continue
        chain = categories[n]
        ids = [n, *range(next_id, next_id + len(chain) - 1)]
        next_id += len(chain) - 1
        for k, (node_id, category) in enumerate(zip(ids, chain, strict=True)):
            otherwise = ids[k + 1] if k + 1 < len(ids) else left[n]
            nodes.add(t, node_id, feature=feature, value=float(category), mode="BRANCH_EQ", true=right[n],
                      false=otherwise, missing_true=int(k == 0 and not default_left))


def _categories_by_node(tree: dict[str, Any]) -> dict[int, list[int]]:
    out = {}
    for node, start, size in zip(tree["categories_nodes"], tree["categories_segments"], tree["categories_sizes"],
                                 strict=True):
        out[int(node)] = [int(c) for c in tree["categories"][start:start + size]]
    return out


def xgboost_graph(model: Any, *, n_features: int, input_name: str) -> tuple[Any, str]:
    """The ONNX model of a fitted mlpilot XGBoost model, and the name of its output."""
    from onnx import TensorProto, helper

    doc = json.loads(model.booster_.save_raw("json"))
    objective = doc["learner"]["objective"]["name"]
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective {objective} is not one mlpilot trains")
    booster_model = doc["learner"]["gradient_booster"]["model"]
    n_targets = model.n_classes if model.problem_type == MULTICLASS else 1
    nodes = _Nodes()
    for t, (tree, target) in enumerate(zip(booster_model["trees"], booster_model["tree_info"], strict=True)):
        _add_tree(nodes, t, tree, target=int(target))
    base = _base_margin(model, nodes, booster_model["trees"], n_targets=n_targets)
    ensemble = helper.make_node(
        "TreeEnsembleRegressor", [input_name], ["margin"], domain="ai.onnx.ml", n_targets=n_targets,
        nodes_treeids=nodes.tree, nodes_nodeids=nodes.node, nodes_featureids=nodes.feature,
        nodes_values=nodes.value, nodes_modes=nodes.mode, nodes_truenodeids=nodes.true,
        nodes_falsenodeids=nodes.false, nodes_missing_value_tracks_true=nodes.missing_true,
        target_treeids=nodes.leaf_tree, target_nodeids=nodes.leaf_node, target_ids=nodes.leaf_target,
        target_weights=nodes.leaf_weight, base_values=[float(b) for b in base], aggregate_function="SUM",
        post_transform="NONE",
    )
    link, output = _link(model.problem_type)
    graph = helper.make_graph(
        [ensemble, *link], "xgboost",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [None, n_targets if n_targets > 1 else None])],
        initializer=_link_constants(model.problem_type),
    )
    opsets = [helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)]
    onx = helper.make_model(graph, opset_imports=opsets, producer_name="mlpilot")
    onx.ir_version = 8
    return onx, output


def _link(problem_type: str) -> tuple[list[Any], str]:
    from onnx import helper

    if problem_type == REGRESSION:
        return [], "margin"
    if problem_type == MULTICLASS:
        return [helper.make_node("Softmax", ["margin"], ["probabilities"], axis=1)], "probabilities"
    return [  # binary: one margin → P(class 1) → both columns
        helper.make_node("Sigmoid", ["margin"], ["positive"]),
        helper.make_node("Sub", ["one", "positive"], ["negative"]),
        helper.make_node("Concat", ["negative", "positive"], ["probabilities"], axis=1),
    ], "probabilities"


def _link_constants(problem_type: str) -> list[Any]:
    from onnx import numpy_helper

    if problem_type in (REGRESSION, MULTICLASS):
        return []
    return [numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")]


def _base_margin(model: Any, nodes: _Nodes, trees: list[dict[str, Any]], *, n_targets: int) -> np.ndarray:
    """Margin of an all-missing row minus the leaves it lands in: the intercept, per target."""
    import xgboost as xgb

    types = ["c" if f in set(model.categorical_) else "q" for f in model.features_]
    row = xgb.DMatrix(np.full((1, len(model.features_)), np.nan), feature_names=model.features_,
                      feature_types=types, enable_categorical=True)
    margin = np.asarray(model.booster_.predict(row, output_margin=True), dtype=np.float64).reshape(-1)
    leaves = np.asarray(model.booster_.predict(row, pred_leaf=True)).reshape(-1).astype(int)
    reached = np.zeros(n_targets)
    targets = dict(zip(zip(nodes.leaf_tree, nodes.leaf_node, strict=True), nodes.leaf_target, strict=True))
    for t, leaf in enumerate(leaves):
        reached[targets[(t, leaf)]] += float(trees[t]["split_conditions"][leaf])
    return margin[:n_targets] - reached
