"""mlpilot: a validated, explained, deployable model from a table and a question, within a time budget.

>>> import mlpilot
>>> model = mlpilot.fit("churn.csv", target="churn", time_limit=60)   # doctest: +SKIP
>>> model.predict(new_customers)                                      # doctest: +SKIP
"""

from mlpilot._version import __version__
from mlpilot.api import Predictor, fit, load
from mlpilot.errors import ArtifactError, ConfigError, DataError, MlpilotError
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
