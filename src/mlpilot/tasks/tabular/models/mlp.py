"""A PyTorch multi-layer perceptron with embeddings for the categorical columns.

torch is an optional extra: this module imports without it, and constructing or fitting the model
then raises :class:`ModelUnavailable` so the trainer skips the family.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mlpilot.tasks.tabular.models.adamw import AdamW
from mlpilot.tasks.tabular.models.base import (
    REGRESSION,
    ModelUnavailable,
    TabularModel,
    predict_threads,
    threads_for,
    time_left,
)

_MB = 1 << 20
_PREDICT_CHUNK = 8192


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ModelUnavailable("the neural net needs PyTorch: pip install 'mlpilot[torch]'") from exc
    return torch


# ------------------------------------------------------------------------------- preprocessing
@dataclass(frozen=True)
class _Columns:
    """A frame's numeric values (float64, NaN where missing) and category indices (code + 1)."""

    numeric: np.ndarray
    categorical: np.ndarray


@dataclass
class _Preprocessor:
    """Numbers: median-impute, missing indicators, quantile-normal or standard scaling.
    Categories: index = code + 1, so 0 stands for missing and unseen values."""

    numeric: list[str]
    categorical: list[str]
    cardinalities: list[int]  # embedding rows per categorical column (categories + the missing row)
    scaling: str
    arrays: dict[str, np.ndarray]  # medians, missing_idx, and quantiles or mean/std

    @classmethod
    def fit(cls, X: pd.DataFrame, *, scaling: str, n_quantiles: int) -> _Preprocessor:
        categorical = [str(c) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        numeric = [str(c) for c in X.columns if str(c) not in set(categorical)]
        values = X[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(X), 0))
        missing = np.isnan(values)
        all_missing = missing.all(axis=0)
        medians = np.where(all_missing, 0.0, np.nanmedian(np.where(all_missing, 0.0, values), axis=0))
        arrays = {"medians": medians, "missing_idx": np.flatnonzero(missing.any(axis=0)).astype(np.int64)}
        filled = np.where(missing, medians, values)
        if scaling == "quantile":
            levels = np.linspace(0.0, 1.0, max(2, min(n_quantiles, len(X))))
            arrays["quantiles"] = np.quantile(filled, levels, axis=0).T.copy() if numeric else np.zeros((0, 2))
        else:
            std = filled.std(axis=0) if numeric else np.zeros(0)
            arrays["mean"] = filled.mean(axis=0) if numeric else np.zeros(0)
            arrays["std"] = np.where(std > 0, std, 1.0)
        cards = [len(X[c].cat.categories) + 1 for c in categorical]
        return cls(numeric, categorical, cards, scaling, arrays)

    def columns_of(self, X: pd.DataFrame) -> _Columns:
        """The columns this preprocessor reads, as arrays: the same for every fold model of a bag."""
        values = X[self.numeric].to_numpy(dtype=np.float64) if self.numeric else np.zeros((len(X), 0))
        codes = [X[c].cat.codes.to_numpy().astype(np.int64) + 1 for c in self.categorical]
        categorical = np.column_stack(codes) if codes else np.zeros((len(X), 0), dtype=np.int64)
        return _Columns(values, categorical)

    def transform(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.encode(self.columns_of(X))

    def encode(self, columns: _Columns) -> tuple[np.ndarray, np.ndarray]:
        values = columns.numeric
        missing = np.isnan(values)
        filled = np.where(missing, self.arrays["medians"], values)
        if self.scaling == "quantile":
            scaled = _quantile_normal(filled, self.arrays["quantiles"])
        else:
            scaled = (filled - self.arrays["mean"]) / self.arrays["std"]
        indicators = missing[:, self.arrays["missing_idx"]].astype(np.float64)
        numeric = np.hstack([scaled, indicators]).astype(np.float32)
        return numeric, columns.categorical

    @property
    def n_numeric_inputs(self) -> int:
        return len(self.numeric) + len(self.arrays["missing_idx"])


def _quantile_normal(values: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Map each column through its training quantiles to a standard normal (ties averaged)."""
    from scipy.special import ndtri

    out = np.empty_like(values)
    for j in range(values.shape[1]):
        q = quantiles[j]
        levels = np.linspace(0.0, 1.0, len(q))
        # Interpolating up and down and averaging puts a tied value in the middle of its plateau.
        up = np.interp(values[:, j], q, levels)
        down = 1.0 - np.interp(-values[:, j], -q[::-1], levels)
        out[:, j] = 0.5 * (up + down)
    return ndtri(np.clip(out, 1e-7, 1.0 - 1e-7))


# ------------------------------------------------------------------------------------- network
@functools.cache
def _net_class() -> type:
    torch = _torch()
    nn = torch.nn

    class TabularMLP(nn.Module):
        def __init__(
            self,
            *,
            n_numeric: int,
            cardinalities: list[int],
            embedding_dims: list[int],
            hidden_sizes: list[int],
            dropout: float,
            activation: str,
            n_outputs: int,
        ) -> None:
            super().__init__()
            self.embeddings = nn.ModuleList(
                nn.Embedding(c, d) for c, d in zip(cardinalities, embedding_dims, strict=True)
            )
            act = nn.SiLU if activation == "silu" else nn.ReLU
            layers: list[Any] = []
            width = n_numeric + sum(embedding_dims)
            for size in hidden_sizes:
                layers += [nn.Linear(width, size), act(), nn.Dropout(dropout)]
                width = size
            layers.append(nn.Linear(width, n_outputs))
            self.body = nn.Sequential(*layers)

        def forward(self, numeric: Any, categorical: Any) -> Any:
            parts = [numeric] + [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
            return self.body(torch.cat(parts, dim=1))

    return TabularMLP


def _embedding_dim(cardinality: int, cap: int) -> int:
    return int(min(cap, (cardinality + 1) // 2 + 1))


def _batch_size(n_rows: int, setting: Any) -> int:
    if setting != "auto":
        return int(setting)
    return int(np.clip(2 ** round(math.log2(max(n_rows, 1) / 100)), 32, 1024))


@dataclass
class _Tensors:
    numeric: Any
    categorical: Any
    target: Any


class TorchMLPModel(TabularModel):
    """MLP on scaled numbers + categorical embeddings, AdamW, early stopping on the validation loss.

    Params: ``hidden_sizes`` (list of widths), ``dropout``, ``activation`` ("silu" | "relu"),
    ``learning_rate``, ``weight_decay``, ``max_epochs`` (used as-is without a validation frame),
    ``patience`` (epochs), ``batch_size`` ("auto" or an int), ``scaling`` ("quantile" |
    "standard"), ``n_quantiles``, ``max_embedding_dim``. Files: ``model.safetensors`` (weights),
    ``preprocess.safetensors`` (scaling statistics) and ``network.json`` (architecture, columns).
    """

    key: ClassVar[str] = "neural_net"
    name: ClassVar[str] = "NeuralNet"
    priority: ClassVar[int] = 50
    stops_at_deadline: ClassVar[bool] = True
    default_params: ClassVar[dict[str, Any] | None] = {
        "hidden_sizes": [256, 128],
        "dropout": 0.1,
        "activation": "silu",
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
        "max_epochs": 200,
        "patience": 10,
        "batch_size": "auto",
        "scaling": "quantile",
        "n_quantiles": 100,
        "max_embedding_dim": 16,
    }

    def __init__(self, **kwargs: Any) -> None:
        _torch()  # a missing extra must surface before the trainer spends time on this family
        super().__init__(**kwargs)

    @classmethod
    def resolve_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        p = super().resolve_params(params)
        if p["activation"] not in ("silu", "relu"):
            raise ValueError(f"activation must be 'silu' or 'relu', got {p['activation']!r}")
        if p["scaling"] not in ("quantile", "standard"):
            raise ValueError(f"scaling must be 'quantile' or 'standard', got {p['scaling']!r}")
        return p

    # ------------------------------------------------------------------------------ fitting
    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        deadline: float | None,
    ) -> None:
        torch = _torch()
        p = self.resolve_params(self.params)
        torch.set_num_threads(threads_for(X, self.n_threads))  # spinning threads only slow small data
        torch.manual_seed(self.seed)
        self.prep_ = _Preprocessor.fit(X, scaling=p["scaling"], n_quantiles=int(p["n_quantiles"]))
        if self.problem_type == REGRESSION:
            std = float(np.std(y))
            self.target_ = (float(np.mean(y)), std if std > 0 else 1.0)
        self.architecture_ = {
            "n_numeric": self.prep_.n_numeric_inputs,
            "cardinalities": self.prep_.cardinalities,
            "embedding_dims": [_embedding_dim(c, int(p["max_embedding_dim"])) for c in self.prep_.cardinalities],
            "hidden_sizes": [int(h) for h in p["hidden_sizes"]],
            "dropout": float(p["dropout"]),
            "activation": p["activation"],
            "n_outputs": 1 if self.problem_type == REGRESSION else self.n_classes,
        }
        self.net_ = _net_class()(**self.architecture_)
        train = self._tensors(X, y)
        valid = None if X_val is None else self._tensors(X_val, y_val)
        self.n_iterations_ = self._train(train, valid, p=p, deadline=deadline)

    def _tensors(self, X: pd.DataFrame, y: np.ndarray) -> _Tensors:
        torch = _torch()
        numeric, categorical = self.prep_.transform(X)
        if self.problem_type == REGRESSION:
            target = torch.from_numpy((np.asarray(y, dtype=np.float64) - self.target_[0]) / self.target_[1])
            target = target.float().reshape(-1, 1)
        else:
            target = torch.from_numpy(np.asarray(y, dtype=np.int64))
        return _Tensors(torch.from_numpy(numeric), torch.from_numpy(categorical), target)

    def _loss(self) -> Any:
        torch = _torch()
        return torch.nn.MSELoss() if self.problem_type == REGRESSION else torch.nn.CrossEntropyLoss()

    def _train(self, train: _Tensors, valid: _Tensors | None, *, p: dict[str, Any], deadline: float | None) -> int:
        torch = _torch()
        net, loss_fn = self.net_, self._loss()
        optimizer = AdamW(net.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"])
        generator = torch.Generator().manual_seed(self.seed)
        batch = _batch_size(len(train.target), p["batch_size"])
        best_loss, best_epoch, best_state, epochs = math.inf, 0, None, 0
        for epoch in range(int(p["max_epochs"])):
            completed = self._epoch(
                train, optimizer=optimizer, loss_fn=loss_fn, batch=batch, generator=generator, deadline=deadline
            )
            epochs = epoch + 1
            if valid is not None:
                loss = self._validation_loss(valid, loss_fn)
                if loss < best_loss:  # keep the best epoch's weights, not the last ones
                    best_loss, best_epoch = loss, epochs
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                elif epochs - best_epoch >= int(p["patience"]):
                    break
            if not completed or time_left(deadline) <= 0:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
            return best_epoch
        return epochs

    def _epoch(
        self, data: _Tensors, *, optimizer: AdamW, loss_fn: Any, batch: int, generator: Any, deadline: float | None
    ) -> bool:
        """One pass over shuffled mini-batches; False when the deadline cut it short."""
        torch = _torch()
        self.net_.train()
        order = torch.randperm(len(data.target), generator=generator)
        for start in range(0, len(order), batch):
            if time_left(deadline) <= 0:
                return False
            idx = order[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(self.net_(data.numeric[idx], data.categorical[idx]), data.target[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net_.parameters(), 5.0)  # tames rare exploding steps
            optimizer.step()
        return True

    def _validation_loss(self, data: _Tensors, loss_fn: Any) -> float:
        torch = _torch()
        self.net_.eval()
        with torch.no_grad():
            return float(loss_fn(self._raw(data.numeric, data.categorical), data.target))

    def _raw(self, numeric: Any, categorical: Any) -> Any:
        torch = _torch()
        parts = [
            self.net_(numeric[i : i + _PREDICT_CHUNK], categorical[i : i + _PREDICT_CHUNK])
            for i in range(0, len(numeric), _PREDICT_CHUNK)
        ]
        return torch.cat(parts) if parts else torch.zeros((0, self.architecture_["n_outputs"]))

    # --------------------------------------------------------------------------- prediction
    def input_key(self) -> Hashable:
        # Fold models read the same columns; each scales them with its own fitted statistics.
        return (type(self), tuple(self.prep_.numeric), tuple(self.prep_.categorical))

    def native_input(self, X: pd.DataFrame) -> _Columns:
        return self.prep_.columns_of(X)

    def _predict(self, native: _Columns) -> np.ndarray:
        torch = _torch()
        torch.set_num_threads(predict_threads(len(native.numeric), self.n_threads))
        numeric, categorical = self.prep_.encode(native)
        self.net_.eval()
        with torch.no_grad():
            raw = self._raw(torch.from_numpy(numeric), torch.from_numpy(categorical)).double()
        if self.problem_type == REGRESSION:
            return raw.numpy().reshape(-1) * self.target_[1] + self.target_[0]
        return torch.softmax(raw, dim=1).numpy()

    # --------------------------------------------------------------------------- persistence
    def _save(self, directory: Path) -> None:
        torch = _torch()
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.net_.state_dict().items()}, directory / "model.safetensors")
        arrays = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.prep_.arrays.items()}
        save_file(arrays, directory / "preprocess.safetensors")
        spec = {
            "architecture": self.architecture_,
            "numeric": self.prep_.numeric,
            "categorical": self.prep_.categorical,
            "cardinalities": self.prep_.cardinalities,
            "scaling": self.prep_.scaling,
            "target": getattr(self, "target_", None),
        }
        (directory / "network.json").write_text(json.dumps(spec, indent=2))

    def _load(self, directory: Path) -> None:
        from safetensors.torch import load_file

        spec = json.loads((directory / "network.json").read_text())
        arrays = {k: v.numpy() for k, v in load_file(directory / "preprocess.safetensors").items()}
        self.prep_ = _Preprocessor(spec["numeric"], spec["categorical"], spec["cardinalities"], spec["scaling"], arrays)
        if spec["target"] is not None:
            self.target_ = (float(spec["target"][0]), float(spec["target"][1]))
        self.architecture_ = spec["architecture"]
        self.net_ = _net_class()(**self.architecture_)
        self.net_.load_state_dict(load_file(directory / "model.safetensors"))

    @classmethod
    def estimate_memory(cls, n_rows: int, n_columns: int, params: dict[str, Any]) -> int:
        # Float32 inputs (+ indicators) a few times over, weights with AdamW's two moments, the torch
        # runtime itself.
        hidden = [int(h) for h in params.get("hidden_sizes", [256, 128])]
        widths = [n_columns * 16, *hidden, 16]
        weights = sum(a * b for a, b in itertools.pairwise(widths))
        return int(n_rows * n_columns * 4 * 2 * 4 + weights * 4 * 4 + 256 * _MB)
