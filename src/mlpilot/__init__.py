"""mlpilot: a validated, explained, deployable model from a table and a question, within a time budget.

>>> import mlpilot
>>> model = mlpilot.fit("churn.csv", target="churn", time_limit=60)   # doctest: +SKIP
>>> model.predict(new_customers)                                      # doctest: +SKIP

The public names are imported on first use (PEP 562), so ``import mlpilot.tasks.mri`` or
``mlpilot.tasks.gpt`` does not load the tabular stack (LightGBM, XGBoost, CatBoost, polars).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlpilot._version import __version__
from mlpilot.errors import ArtifactError, ConfigError, DataError, MlpilotError

_LAZY = {
    "Predictor": "mlpilot.api", "fit": "mlpilot.api", "load": "mlpilot.api",
    "AutoClassifier": "mlpilot.estimators", "AutoRegressor": "mlpilot.estimators",
}
if TYPE_CHECKING:
    from mlpilot.api import Predictor, fit, load
    from mlpilot.estimators import AutoClassifier, AutoRegressor

__all__ = [
    "ArtifactError",
    "AutoClassifier",
    "AutoRegressor",
    "ConfigError",
    "DataError",
    "MlpilotError",
    "Predictor",
    "__version__",
    "fit",
    "load",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'mlpilot' has no attribute {name!r}")
