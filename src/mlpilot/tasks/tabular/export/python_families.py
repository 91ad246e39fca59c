"""Per family: the template, the exact library parameters and the imports of the exported script.

The parameters come from the family classes themselves (the same calls mlpilot makes when it
trains), so the script cannot drift from what a run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUPPORTED = ("lightgbm", "xgboost", "catboost", "extra_trees", "random_forest", "linear", "knn")


@dataclass
class FamilyCode:
    template: str
    values: dict[str, Any]
    imports: list[str]
    packages: list[str]  # PyPI names for requirements.txt


def family_context(model: Any, *, n_rows: int, classes: list[Any], categorical: list[str]) -> FamilyCode:
    """What the family template needs for ``model`` (constructed with the refit parameters, unfitted)."""
    p = model.resolve_params(model.params)
    values: dict[str, Any] = {"classes": classes or None, "n_iterations": p.get("n_estimators"),
                              "categorical": categorical}
    if model.key == "lightgbm":
        values["params"] = model._library_params(p, n_threads=1)
        return FamilyCode("family_lightgbm.py.j2", values, ["import lightgbm as lgb"], ["lightgbm"])
    if model.key == "xgboost":
        values["params"] = model._library_params(p, n_threads=1)
        return FamilyCode("family_xgboost.py.j2", values, ["import xgboost as xgb"], ["xgboost"])
    if model.key == "catboost":
        estimator = model._estimator(p, validated=False)
        values.update(params=estimator.get_params(), estimator_class=type(estimator).__name__)
        imports = [f"from catboost import {type(estimator).__name__}, Pool"]
        return FamilyCode("family_catboost.py.j2", values, imports, ["catboost"])
    return _sklearn_context(model, p, values, n_rows=n_rows)


def _sklearn_context(model: Any, p: dict[str, Any], values: dict[str, Any], *, n_rows: int) -> FamilyCode:
    if model.key in ("extra_trees", "random_forest"):
        estimator = model._estimator(p)
        estimator.set_params(n_estimators=int(p["n_estimators"]), warm_start=False, n_jobs=None)
        values.update(preprocessing=False, max_train_rows=None)
    else:
        kept = min(n_rows, int(p.get("max_train_rows", n_rows)))
        estimator = model._make_estimator(p, n_rows=kept)
        if "n_jobs" in estimator.get_params():
            estimator.set_params(n_jobs=None)
        values.update(preprocessing=True, one_hot={"handle_unknown": "infrequent_if_exist",
                                                    "min_frequency": p["min_frequency"],
                                                    "max_categories": p["max_categories"]},
                      max_train_rows=p.get("max_train_rows"), seed=model.seed)
    cls = type(estimator)
    defaults = cls().get_params(deep=False)
    params = {k: v for k, v in estimator.get_params(deep=False).items()
              if k in ("n_estimators", "random_state") or v != defaults.get(k)}
    values.update(params=params, estimator_class=cls.__name__,
                  model_type="Pipeline" if values["preprocessing"] else cls.__name__)
    module = cls.__module__.split("._")[0]  # sklearn.ensemble._forest -> sklearn.ensemble
    imports = [f"from {module} import {cls.__name__}"]
    if values["preprocessing"]:
        imports += ["from sklearn.compose import ColumnTransformer", "from sklearn.impute import SimpleImputer",
                    "from sklearn.pipeline import Pipeline",
                    "from sklearn.preprocessing import OneHotEncoder, StandardScaler"]
    return FamilyCode("family_sklearn.py.j2", values, imports, ["scikit-learn", "scipy"])
