"""The one protocol every tabular model family implements.

A family subclasses :class:`TabularModel`, describes itself in class attributes and overrides only
``_fit``, ``_predict``, ``_save`` and ``_load`` (and ``_contributions`` where it can explain rows).
The public ``fit`` owns the time share, the seed, the thread count and the timing.

Data conventions (the same for every family):

- ``X`` is the *native frame* made by :class:`mlpilot.tasks.tabular.features.FeaturePipeline`:
  a pandas DataFrame whose columns are either float64 (NaN = missing) or pandas ``category``
  with the categories fixed at training time (unseen values and missing values are NaN).
  Each family converts it to what its library wants (one-hot, codes, ...).
- ``y`` is a 1-D numpy array: class codes ``0..n_classes-1`` (int64) for classification, float64
  values for regression.
- ``_predict`` returns class probabilities of shape ``(n, n_classes)`` for classification (also for
  binary: two columns) and values of shape ``(n,)`` for regression.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
PROBLEM_TYPES = (BINARY, MULTICLASS, REGRESSION)

# Below this many cells (rows x columns) the OpenMP libraries run on one thread: the per-round work is
# tiny, and spinning worker threads make each round orders of magnitude slower on a busy machine.
_SMALL_DATA_CELLS = 100_000


# A prediction call pays the threads' start once: from this many rows up, the neural network and the
# nearest neighbours predict on all of a model's threads (boosted trees decide by rows x trees, below;
# forests by rows, in sklearn_models).
_PARALLEL_PREDICT_ROWS = 1_000


def threads_for(X: pd.DataFrame, n_threads: int) -> int:
    """The thread count worth using on ``X`` (1 for small frames; depends on the shape only)."""
    return 1 if X.shape[0] * max(X.shape[1], 1) < _SMALL_DATA_CELLS else max(1, n_threads)


# A boosted-tree prediction's work is rows x trees, and a second thread halves it from about this much
# work up (about a millisecond on one thread; measured with LightGBM and XGBoost on 2 cores, where a
# second thread never cost more than 2% below it). A 4-class model of 700 rounds has 2,800 trees.
_PARALLEL_TREE_WORK = 10_000


def predict_threads(n_rows: int, n_threads: int) -> int:
    """The thread count worth using to predict ``n_rows`` rows."""
    return max(1, n_threads) if n_rows >= _PARALLEL_PREDICT_ROWS else 1


def tree_predict_threads(n_rows: int, n_trees: int, n_threads: int) -> int:
    """The thread count worth using to predict ``n_rows`` rows through ``n_trees`` trees."""
    return max(1, n_threads) if n_rows * n_trees >= _PARALLEL_TREE_WORK else 1


class ModelUnavailable(Exception):
    """The family's library is not installed (e.g. the torch extra); the trainer skips it."""


class TabularModel:
    """Base class of the tabular model families (template method: subclasses override ``_fit``)."""

    key: ClassVar[str]  # short unique id, e.g. "lightgbm"; used in run directories and portfolios
    name: ClassVar[str]  # human-readable family name, e.g. "LightGBM"
    priority: ClassVar[int]  # higher is tried first when the portfolio does not say otherwise
    problem_types: ClassVar[tuple[str, ...]] = PROBLEM_TYPES
    can_explain: ClassVar[bool] = False  # True when ``_contributions`` gives per-row SHAP values
    # True when the family can validate itself on rows it did not learn from (bootstrap forests: out
    # of bag; nearest neighbours: leave one out): under k-fold validation it is then fitted once on
    # all rows with ``params["out_of_bag"] = True`` and sets ``oob_predictions_``, instead of k fold
    # models (k times less memory, time and predict cost).
    out_of_bag: ClassVar[bool] = False
    # True when the family trains round by round and, given a time limit, stops at the first round
    # boundary past it: a fit that ends after its deadline was then cut short, not finished.
    stops_at_deadline: ClassVar[bool] = False
    # True when :meth:`resume` can go on training a fitted model (more boosting rounds) from where it stopped.
    resumable: ClassVar[bool] = False
    # The params a family accepts, with their defaults; None leaves params unchecked.
    default_params: ClassVar[dict[str, Any] | None] = None

    def __init__(
        self,
        *,
        problem_type: str,
        n_classes: int,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.problem_type = problem_type
        self.n_classes = n_classes
        self.params = dict(params or {})
        self.resolve_params(self.params)  # fail at construction, not minutes later inside a fit
        self.seed = seed
        self.n_threads = n_threads
        self.fit_time_: float | None = None
        self.n_iterations_: int | None = None  # boosting rounds / trees / epochs actually used
        self.oob_predictions_: np.ndarray | None = None  # set by ``out_of_bag`` families when asked
        # The last fit ended because its time limit ran out, before early stopping or its round cap.
        self.hit_time_limit_ = False
        self._resuming = False  # set while :meth:`resume` runs ``_fit``: go on from the fitted model

    # ----------------------------------------------------------------- public template methods
    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        time_limit: float | None = None,
    ) -> TabularModel:
        """Fit on ``X, y``; stop early on ``X_val, y_val`` where the family can; end within
        ``time_limit`` seconds (``None`` = no limit, fully deterministic)."""
        start = time.perf_counter()
        deadline = None if time_limit is None else start + max(time_limit, 0.0)
        self._fit(X, y, X_val=X_val, y_val=y_val, deadline=deadline)
        end = time.perf_counter()
        earlier = (self.fit_time_ or 0.0) if self._resuming else 0.0
        self.fit_time_ = earlier + end - start
        self.hit_time_limit_ = self.stops_at_deadline and deadline is not None and end >= deadline
        return self

    def resume(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        time_limit: float | None = None,
    ) -> TabularModel:
        """Go on training a fitted model on the same rows (a ``resumable`` family: more boosting rounds
        from the last one kept), early stopping on ``X_val, y_val`` again, within ``time_limit``."""
        if not self.resumable:
            raise NotImplementedError(f"{self.name} cannot resume training")
        self._resuming = True
        try:
            return self.fit(X, y, X_val=X_val, y_val=y_val, time_limit=time_limit)
        finally:
            self._resuming = False

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities ``(n, n_classes)`` for classification, values ``(n,)`` for regression."""
        return self.predict_native(self.native_input(X))

    def native_input(self, X: pd.DataFrame) -> Any:
        """``X`` in the form the family's library predicts from (a frame, unless overridden)."""
        return X

    def input_key(self) -> Hashable:
        """Models with equal keys take the same :meth:`native_input` of a frame, so a bag converts its
        input once (:func:`predict_bag`). The default key is the model itself: nothing shared."""
        return id(self)

    def predict_native(self, native: Any) -> np.ndarray:
        """:meth:`predict`, from an input :meth:`native_input` already converted."""
        out = np.asarray(self._predict(native), dtype=np.float64)
        if self.problem_type == REGRESSION:
            return out.reshape(-1)
        if out.ndim == 1:  # some libraries give only P(class 1) for binary problems
            out = np.column_stack([1.0 - out, out])
        return out

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Per-row SHAP contributions in the model's raw (margin) space.

        Shape ``(n, n_features + 1)`` for binary and regression (last column = expected value),
        ``(n, n_classes, n_features + 1)`` for multiclass.
        """
        if not self.can_explain:
            raise NotImplementedError(f"{self.name} cannot give per-row contributions")
        return self._contributions(X)

    def save(self, directory: Path) -> None:
        """Write the fitted model into ``directory`` in the library's own safe format."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        info = {
            "key": self.key,
            "problem_type": self.problem_type,
            "n_classes": self.n_classes,
            "params": self.params,
            "seed": self.seed,
            "n_iterations": self.n_iterations_,
            "fit_time": self.fit_time_,
        }
        (directory / "info.json").write_text(json.dumps(info, indent=2, default=_json_default))
        self._save(directory)

    @classmethod
    def load_folds(cls, directory: Path, n_folds: int, *, n_threads: int = 1) -> list[TabularModel]:
        """A bag's fold models, saved as ``directory/fold_<i>``."""
        return [cls.load(Path(directory) / f"fold_{i}", n_threads=n_threads) for i in range(n_folds)]

    @classmethod
    def load(cls, directory: Path, *, n_threads: int = 1) -> TabularModel:
        """Rebuild the model from ``info.json`` and the library's own files; never unpickles."""
        directory = Path(directory)
        info = json.loads((directory / "info.json").read_text())
        model = cls(
            problem_type=info["problem_type"],
            n_classes=info["n_classes"],
            params=info["params"],
            seed=info["seed"],
            n_threads=n_threads,
        )
        model.n_iterations_ = info.get("n_iterations")
        model.fit_time_ = info.get("fit_time")
        model._load(directory)
        return model

    @classmethod
    def resolve_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """``default_params`` overridden by ``params``; ``ValueError`` naming the valid keys on a typo."""
        if cls.default_params is None:
            return dict(params)
        unknown = sorted(set(params) - set(cls.default_params))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for {cls.name}; valid: {sorted(cls.default_params)}")
        return {**cls.default_params, **params}

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        """Rough peak bytes needed to fit; the trainer skips a model that would exceed memory."""
        return 8 * n_rows * n_columns * 4

    # -------------------------------------------------------------- what families override
    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:  # [required]
        raise NotImplementedError

    def _predict(self, native: Any) -> np.ndarray:  # [required] from ``native_input(X)``
        raise NotImplementedError

    def _save(self, directory: Path) -> None:  # [required]
        raise NotImplementedError

    def _load(self, directory: Path) -> None:  # [required]
        raise NotImplementedError

    def _contributions(self, X: pd.DataFrame) -> np.ndarray:  # [optional]
        raise NotImplementedError

    @property
    def is_classification(self) -> bool:
        return self.problem_type != REGRESSION


def constant_prediction(y: np.ndarray, n_rows: int, *, problem_type: str, n_classes: int) -> np.ndarray:
    """``n_rows`` copies of the best constant: the mean (regression) or the class shares."""
    if problem_type == REGRESSION:
        return np.full(n_rows, float(np.mean(y)))
    return np.tile(np.bincount(y, minlength=n_classes) / len(y), (n_rows, 1))


def predict_bag(models: Sequence[TabularModel], X: pd.DataFrame) -> np.ndarray:
    """The mean prediction of a bag's fold models. Models that share an :meth:`~TabularModel.input_key`
    share one conversion of ``X`` (a bag of 25 CatBoost models built its Pool 25 times before)."""
    inputs: dict[Hashable, Any] = {}
    total: np.ndarray | None = None
    for model in models:
        key = model.input_key()
        if key not in inputs:
            inputs[key] = model.native_input(X)
        pred = model.predict_native(inputs[key])
        total = pred if total is None else total + pred
    if total is None:
        raise ValueError("a bag needs at least one model")
    return total / len(models)


def time_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (infinite when there is none)."""
    return float("inf") if deadline is None else deadline - time.perf_counter()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
