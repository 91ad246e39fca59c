"""Gradient-boosted tree families: LightGBM, XGBoost and CatBoost.

All three take the native frame directly (categorical columns handled by the library itself), stop
early on the validation frame when one is given, check the deadline after every boosting round and
save in the library's own model format. ``n_estimators`` is the maximum number of rounds: it is
used as-is when no validation frame is given (e.g. a refit with the round count found earlier).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.models.base import (
    MULTICLASS,
    REGRESSION,
    TabularModel,
    threads_for,
    time_left,
    tree_predict_threads,
)

_MB = 1 << 20


def early_stopping_patience(learning_rate: float, *, override: int | None) -> int:
    """Rounds without improvement before stopping: 50 at lr 0.05, more for slower learners."""
    if override is not None:
        return int(override)
    return int(np.clip(round(50 * 0.05 / max(learning_rate, 1e-6)), 20, 300))


def _categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]


class _GBMBase(TabularModel):
    """Shared bookkeeping: column order and categorical columns seen at fit time (kept in JSON)."""

    can_explain: ClassVar[bool] = True
    stops_at_deadline: ClassVar[bool] = True
    resumable: ClassVar[bool] = True
    _meta_file: ClassVar[str] = "columns.json"

    def _rounds_left(self, p: dict[str, Any]) -> int:
        """Rounds this fit may add: the cap, less the rounds kept so far when resuming."""
        done = (self.n_iterations_ or 0) if self._resuming else 0
        return max(int(p["n_estimators"]) - done, 0)

    def _remember_columns(self, X: pd.DataFrame) -> None:
        self.features_: list[str] = [str(c) for c in X.columns]
        self.categorical_: list[str] = [str(c) for c in _categorical_columns(X)]
        self.classes_: list[int] | None = None  # set where a library only knows the classes it saw

    def input_key(self) -> Hashable:
        # The library input depends only on the columns (and threads): fold models of a bag share it.
        return (type(self), tuple(self.features_), tuple(self.categorical_), self.n_threads)

    def _n_trees(self) -> int:
        raise NotImplementedError

    def _prediction_threads(self, n_rows: int) -> int:
        """The threads worth using to predict ``n_rows`` rows through this model's trees."""
        return tree_predict_threads(n_rows, self._n_trees(), self.n_threads)

    def _aligned(self, X: pd.DataFrame) -> pd.DataFrame:
        # Libraries map columns by position, so a reordered frame would silently give wrong answers.
        if list(X.columns) == self.features_:
            return X
        return X[self.features_]

    def _save_columns(self, directory: Path) -> None:
        meta = {"features": self.features_, "categorical": self.categorical_, "classes": self.classes_}
        (directory / self._meta_file).write_text(json.dumps(meta, indent=2))

    def _load_columns(self, directory: Path) -> None:
        meta = json.loads((directory / self._meta_file).read_text())
        self.features_ = list(meta["features"])
        self.categorical_ = list(meta["categorical"])
        self.classes_ = meta.get("classes")


# ---------------------------------------------------------------------------------------- LightGBM
class _LightGBMStopper:
    """One callback for early stopping and the deadline, so the best round is known in both cases."""

    order = 30
    before_iteration = False

    def __init__(self, *, deadline: float | None, patience: int | None) -> None:
        self.deadline = deadline
        self.patience = patience
        self.best_score = float("inf")
        self.best_iteration = -1
        self.best_results: list[Any] = []

    def __call__(self, env: Any) -> None:
        from lightgbm.callback import EarlyStopException

        tracking = self.patience is not None and bool(env.evaluation_result_list)
        if tracking:
            result = env.evaluation_result_list[0]
            score = -result[2] if result[3] else result[2]
            if score < self.best_score:
                self.best_score, self.best_iteration = score, env.iteration
                self.best_results = list(env.evaluation_result_list)
            last = env.iteration == env.end_iteration - 1
            if last or env.iteration - self.best_iteration >= self.patience:
                raise EarlyStopException(self.best_iteration, self.best_results)
        if time_left(self.deadline) <= 0:
            best = self.best_iteration if tracking else env.iteration
            raise EarlyStopException(best, self.best_results)


class LightGBMModel(_GBMBase):
    """LightGBM with native pandas-categorical handling.

    Params: ``n_estimators`` (max rounds), ``learning_rate``, ``num_leaves``, ``max_depth``,
    ``min_data_in_leaf``, ``min_sum_hessian_in_leaf``, ``feature_fraction``, ``bagging_fraction``,
    ``bagging_freq``, ``lambda_l1``, ``lambda_l2``, ``extra_trees``, ``max_bin``, ``cat_smooth``,
    ``cat_l2``, ``max_cat_to_onehot``, ``max_cat_threshold`` (at most this many categories grouped
    on one side of a categorical split), ``min_data_per_group``, ``early_stopping_rounds``
    (None = scaled to the learning rate). Files: ``model.txt`` (trimmed to the best round) and
    ``columns.json``.
    """

    key: ClassVar[str] = "lightgbm"
    name: ClassVar[str] = "LightGBM"
    priority: ClassVar[int] = 100
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_estimators": 10000,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "max_depth": -1,
        "min_data_in_leaf": 20,
        "min_sum_hessian_in_leaf": 1e-3,
        "feature_fraction": 0.9,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "lambda_l1": 0.0,
        "lambda_l2": 0.0,
        "extra_trees": False,
        "max_bin": 255,
        "cat_smooth": 10.0,
        "cat_l2": 10.0,
        "max_cat_to_onehot": 4,
        "max_cat_threshold": 32,
        "min_data_per_group": 100,
        "early_stopping_rounds": None,
    }

    def _library_params(self, p: dict[str, Any], *, n_threads: int) -> dict[str, Any]:
        objective = {REGRESSION: ("regression", "l2"), MULTICLASS: ("multiclass", "multi_logloss")}.get(
            self.problem_type, ("binary", "binary_logloss")
        )
        params = {k: v for k, v in p.items() if k not in ("n_estimators", "early_stopping_rounds")}
        params.update(objective=objective[0], metric=objective[1], verbosity=-1, seed=self.seed)
        params.update(num_threads=n_threads, deterministic=True, force_col_wise=True)
        if self.problem_type == MULTICLASS:
            params["num_class"] = self.n_classes
        return params

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        import lightgbm as lgb

        p = self.resolve_params(self.params)
        self._remember_columns(X)
        params = self._library_params(p, n_threads=threads_for(X, self.n_threads))
        train = lgb.Dataset(X, label=y, params=params, free_raw_data=True)
        valid = [] if X_val is None else [lgb.Dataset(self._aligned(X_val), label=y_val, reference=train)]
        patience = early_stopping_patience(p["learning_rate"], override=p["early_stopping_rounds"]) if valid else None
        stopper = _LightGBMStopper(deadline=deadline, patience=patience)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LightGBM warns about pandas categories it handles fine
            booster = lgb.train(
                params, train, num_boost_round=self._rounds_left(p), valid_sets=valid, callbacks=[stopper],
                init_model=self.booster_ if self._resuming else None,
            )
        best = booster.best_iteration or booster.current_iteration()
        # Drop the rounds after the best one so predict, save and SHAP all agree on one model.
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.n_iterations_ = int(best)

    def native_input(self, X: pd.DataFrame) -> pd.DataFrame:
        return self._aligned(X)

    def _n_trees(self) -> int:
        return self.booster_.num_trees()

    def _predict(self, native: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(native, num_threads=self._prediction_threads(len(native)))

    def _contributions(self, X: pd.DataFrame) -> np.ndarray:
        threads = threads_for(X, self.n_threads)
        out = self.booster_.predict(self._aligned(X), pred_contrib=True, num_threads=threads)
        out = np.asarray(out, dtype=np.float64)
        if self.problem_type == MULTICLASS:
            return out.reshape(len(X), self.n_classes, len(self.features_) + 1)
        return out

    def _save(self, directory: Path) -> None:
        self.booster_.save_model(str(directory / "model.txt"))
        self._save_columns(directory)

    def _load(self, directory: Path) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(directory / "model.txt"))
        self._load_columns(directory)

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # Raw float64 copy + uint8/uint16 bins + per-class gradients, hessians and scores + trees.
        n_out = 8  # rough allowance for up to a handful of classes' gradient buffers
        return int(n_rows * n_columns * (8 + 2) + n_rows * n_out * 8 * 3 + 64 * _MB)


# ----------------------------------------------------------------------------------------- XGBoost
def _xgb_deadline_callback(deadline: float) -> Any:
    import xgboost as xgb

    class _Deadline(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time_left(deadline) <= 0

    return _Deadline()


class XGBoostModel(_GBMBase):
    """XGBoost ``hist`` trees with ``enable_categorical=True``.

    Params: ``n_estimators`` (max rounds), ``learning_rate``, ``max_depth``, ``max_leaves``,
    ``grow_policy``, ``min_child_weight``, ``subsample``, ``colsample_bytree``, ``colsample_bylevel``,
    ``reg_lambda``, ``reg_alpha``, ``gamma``, ``max_bin``, ``max_cat_to_onehot``,
    ``early_stopping_rounds`` (None = scaled to the learning rate). Files: ``model.ubj`` (trimmed to
    the best round) and ``columns.json``.
    """

    key: ClassVar[str] = "xgboost"
    name: ClassVar[str] = "XGBoost"
    priority: ClassVar[int] = 85
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_estimators": 10000,
        "learning_rate": 0.05,
        "max_depth": 6,
        "max_leaves": 0,
        "grow_policy": "depthwise",
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 0.8,
        "colsample_bylevel": 1.0,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "gamma": 0.0,
        "max_bin": 256,
        "max_cat_to_onehot": 4,
        "early_stopping_rounds": None,
    }

    def _matrix(self, X: pd.DataFrame, y: np.ndarray | None = None, *, threads: int | None = None) -> Any:
        import xgboost as xgb

        threads = threads_for(X, self.n_threads) if threads is None else threads
        X = self._aligned(X)
        if not self.categorical_:
            # XGBoost reads a DataFrame column by column; one float32 array holds the same values and
            # builds the matrix a third faster on a wide table (126 -> 83 ms for 5,240 x 1,497).
            return xgb.DMatrix(X.to_numpy(dtype=np.float32, na_value=np.nan), label=y, nthread=threads,
                               feature_names=list(X.columns))
        return xgb.DMatrix(X, label=y, enable_categorical=True, nthread=threads)

    def _library_params(self, p: dict[str, Any], *, n_threads: int) -> dict[str, Any]:
        params = {k: v for k, v in p.items() if k not in ("n_estimators", "early_stopping_rounds")}
        params.update(tree_method="hist", nthread=n_threads, seed=self.seed, verbosity=0)
        if self.problem_type == REGRESSION:
            params.update(objective="reg:squarederror", eval_metric="rmse")
        elif self.problem_type == MULTICLASS:
            params.update(objective="multi:softprob", eval_metric="mlogloss", num_class=self.n_classes)
        else:
            params.update(objective="binary:logistic", eval_metric="logloss")
        return params

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        import xgboost as xgb

        p = self.resolve_params(self.params)
        self._remember_columns(X)
        dtrain = self._matrix(X, y)
        evals = [] if X_val is None else [(self._matrix(X_val, y_val), "val")]
        patience = early_stopping_patience(p["learning_rate"], override=p["early_stopping_rounds"]) if evals else None
        callbacks = [] if deadline is None else [_xgb_deadline_callback(deadline)]
        booster = xgb.train(
            self._library_params(p, n_threads=threads_for(X, self.n_threads)),
            dtrain,
            num_boost_round=self._rounds_left(p),
            evals=evals,
            early_stopping_rounds=patience,
            callbacks=callbacks,
            verbose_eval=False,
            xgb_model=self.booster_ if self._resuming else None,
        )
        total = booster.num_boosted_rounds()
        # best_iteration is unset when the deadline stops training before early stopping records one.
        best_iteration = booster.attr("best_iteration") if evals else None
        best = int(best_iteration) + 1 if best_iteration is not None else total
        self.booster_ = booster[:best] if best < total else booster
        self.n_iterations_ = int(best)

    def native_input(self, X: pd.DataFrame) -> Any:
        return self._matrix(X, threads=self._prediction_threads(len(X)))

    def _n_trees(self) -> int:
        # One tree per class a round for multiclass, one a round otherwise.
        per_round = self.n_classes if self.problem_type == MULTICLASS else 1
        return self.booster_.num_boosted_rounds() * per_round

    def _predict(self, native: Any) -> np.ndarray:
        threads = self._prediction_threads(native.num_row())
        # The booster keeps the thread count it was trained or loaded with (however it was built).
        if threads != getattr(self, "_booster_threads", None):
            self.booster_.set_param("nthread", threads)
            self._booster_threads = threads
        return self.booster_.predict(native)

    def _contributions(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(self._matrix(X), pred_contribs=True), dtype=np.float64)

    def _save(self, directory: Path) -> None:
        self.booster_.save_model(str(directory / "model.ubj"))
        self._save_columns(directory)

    def _load(self, directory: Path) -> None:
        import xgboost as xgb

        path = str(directory / "model.ubj")
        self.booster_ = xgb.Booster(params={"nthread": self.n_threads}, model_file=path)
        self._load_columns(directory)

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # DMatrix float32 copy + quantised gradient index + gradient pairs + the input frame itself.
        return int(n_rows * n_columns * (8 + 4 + 2) + n_rows * 8 * 16 + 64 * _MB)


# ---------------------------------------------------------------------------------------- CatBoost
class _CatBoostDeadline:
    """CatBoost calls ``after_iteration`` every round and stops when it returns False."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        return time_left(self.deadline) > 0


class CatBoostModel(_GBMBase):
    """CatBoost with its ordered target statistics on the categorical columns.

    Category columns become integer codes (missing/unseen = -1, its own value) since the category
    lists are fixed at training time. Params: ``n_estimators`` (max rounds), ``learning_rate``,
    ``depth``, ``l2_leaf_reg``, ``random_strength``, ``bagging_temperature``, ``border_count``,
    ``one_hot_max_size``, ``rsm``, ``grow_policy``, ``min_data_in_leaf``, ``early_stopping_rounds``
    (None = scaled to the learning rate). Files: ``model.cbm`` (shrunk to the best round) and
    ``columns.json``.
    """

    key: ClassVar[str] = "catboost"
    name: ClassVar[str] = "CatBoost"
    priority: ClassVar[int] = 90
    default_params: ClassVar[dict[str, Any] | None] = {
        "n_estimators": 10000,
        "learning_rate": 0.08,
        "depth": 6,
        "l2_leaf_reg": 3.0,
        "random_strength": 1.0,
        "bagging_temperature": 1.0,
        "border_count": 254,
        "one_hot_max_size": 4,
        "rsm": 1.0,
        "grow_policy": "SymmetricTree",
        "min_data_in_leaf": 1,
        "early_stopping_rounds": None,
    }

    def _pool(self, X: pd.DataFrame, y: np.ndarray | None = None, *, threads: int | None = None) -> Any:
        from catboost import Pool

        data = self._aligned(X).copy(deep=False)
        for column in self.categorical_:
            data[column] = data[column].cat.codes.astype(np.int32)
        threads = self.n_threads if threads is None else threads
        return Pool(data, label=y, cat_features=self.categorical_, thread_count=threads)

    def _estimator(self, p: dict[str, Any], *, validated: bool) -> Any:
        from catboost import CatBoostClassifier, CatBoostRegressor

        params = {k: v for k, v in p.items() if k not in ("n_estimators", "early_stopping_rounds")}
        if params["grow_policy"] == "SymmetricTree":
            params.pop("min_data_in_leaf")  # CatBoost rejects it for symmetric trees
        params.update(
            iterations=max(self._rounds_left(p), 1),
            random_seed=self.seed,
            thread_count=self.n_threads,
            logging_level="Silent",
            allow_writing_files=False,
            use_best_model=validated,
        )
        if validated:
            params["early_stopping_rounds"] = early_stopping_patience(
                p["learning_rate"], override=p["early_stopping_rounds"]
            )
        if self.problem_type == REGRESSION:
            return CatBoostRegressor(loss_function="RMSE", **params)
        loss = "MultiClass" if self.problem_type == MULTICLASS else "Logloss"
        return CatBoostClassifier(loss_function=loss, **params)

    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        p = self.resolve_params(self.params)
        self._remember_columns(X)
        model = self._estimator(p, validated=X_val is not None)
        eval_set = None if X_val is None else self._pool(X_val, y_val)
        callbacks = None if deadline is None else [_CatBoostDeadline(deadline)]
        model.fit(self._pool(X, y), eval_set=eval_set, callbacks=callbacks,
                  init_model=self.model_ if self._resuming else None)
        # The fitted object keeps CatBoost's training state (about 7 MB per fold model on a 7k-row table,
        # catboost/catboost#2827); its copy holds the trees only, and a run keeps dozens of fold models.
        self.model_ = model.copy()
        self.n_iterations_ = int(model.tree_count_)
        if self.problem_type == MULTICLASS:
            self.classes_ = [int(c) for c in model.classes_]

    def native_input(self, X: pd.DataFrame) -> Any:
        return self._pool(X, threads=self._prediction_threads(len(X)))

    def _n_trees(self) -> int:
        # One symmetric tree per round, multiclass included (its leaves hold a value per class).
        return int(self.model_.tree_count_)

    def _predict(self, pool: Any) -> np.ndarray:
        threads = self._prediction_threads(pool.num_row())
        if self.problem_type == REGRESSION:
            return self.model_.predict(pool, thread_count=threads)
        return self._all_classes(self.model_.predict_proba(pool, thread_count=threads))

    def _contributions(self, X: pd.DataFrame) -> np.ndarray:
        values = self.model_.get_feature_importance(self._pool(X), type="ShapValues", thread_count=self.n_threads)
        values = np.asarray(values, dtype=np.float64)
        return self._all_classes(values) if values.ndim == 3 else values

    def _all_classes(self, values: np.ndarray) -> np.ndarray:
        """CatBoost drops classes absent from a training fold; give them back as zero columns (axis 1)."""
        if self.classes_ is None or len(self.classes_) == self.n_classes:
            return values
        out = np.zeros((values.shape[0], self.n_classes, *values.shape[2:]), dtype=np.float64)
        out[:, self.classes_] = values
        return out

    def _save(self, directory: Path) -> None:
        self.model_.save_model(str(directory / "model.cbm"))
        self._save_columns(directory)

    def _load(self, directory: Path) -> None:
        from catboost import CatBoostClassifier, CatBoostRegressor

        model = CatBoostRegressor() if self.problem_type == REGRESSION else CatBoostClassifier()
        self.model_ = model.load_model(str(directory / "model.cbm"))
        self._load_columns(directory)

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # Input copy + quantised features + CTR tables for categoricals + approx/derivative buffers.
        depth = int(params.get("depth", 6))
        leaf_buffers = (1 << depth) * 8 * 64
        return int(n_rows * n_columns * (8 + 4 + 4) + n_rows * 8 * 12 + leaf_buffers + 128 * _MB)
