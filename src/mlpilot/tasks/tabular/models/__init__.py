"""Registry of the tabular model families, keyed by their short ``key``."""

from __future__ import annotations

from mlpilot.tasks.tabular.models.base import TabularModel
from mlpilot.tasks.tabular.models.gbm import CatBoostModel, LightGBMModel, XGBoostModel
from mlpilot.tasks.tabular.models.mlp import TorchMLPModel
from mlpilot.tasks.tabular.models.pipeline_models import KNeighborsModel, LinearModel
from mlpilot.tasks.tabular.models.sklearn_models import ExtraTreesModel, RandomForestModel

MODEL_FAMILIES: dict[str, type[TabularModel]] = {}


def register(cls: type[TabularModel]) -> type[TabularModel]:
    """Add a family to :data:`MODEL_FAMILIES`; usable as a class decorator."""
    for attribute in ("key", "name", "priority"):
        if not hasattr(cls, attribute):
            raise TypeError(f"model family {cls.__name__} must define the class attribute `{attribute}`")
    if cls.key in MODEL_FAMILIES:
        raise ValueError(
            f"model family key {cls.key!r} of {cls.__name__} is already registered by "
            f"{MODEL_FAMILIES[cls.key].__name__}"
        )
    same_name = [other.__name__ for other in MODEL_FAMILIES.values() if other.name == cls.name]
    if same_name:
        raise ValueError(f"model family name {cls.name!r} of {cls.__name__} is already used by {same_name[0]}")
    MODEL_FAMILIES[cls.key] = cls
    return cls


def get_model_class(key: str) -> type[TabularModel]:
    """The family registered under ``key``; ``KeyError`` listing the valid keys otherwise."""
    try:
        return MODEL_FAMILIES[key]
    except KeyError:
        raise KeyError(f"unknown model family {key!r}; valid: {', '.join(sorted(MODEL_FAMILIES))}") from None


for _family in (
    LightGBMModel,
    CatBoostModel,
    XGBoostModel,
    ExtraTreesModel,
    RandomForestModel,
    TorchMLPModel,
    LinearModel,
    KNeighborsModel,
):
    register(_family)

__all__ = ["MODEL_FAMILIES", "TabularModel", "get_model_class", "register"]
