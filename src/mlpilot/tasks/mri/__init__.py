"""Accelerated MRI reconstruction (fastMRI): a full image from a fraction of the k-space.

Public entry points (imported lazily, so ``import mlpilot`` does not pull in torch)::

    simulate(out, SimulationConfig(...))        -> list of fastMRI .h5 files
    train(data, out, TrainConfig(...))          -> run directory (kind "mri")
    load(run)                                   -> MriPredictor (reconstruct, reconstruct_file, evaluate)
    evaluate_baselines(data, accelerations=...) -> zero-filled / CS metrics without a model

Modules: ``physics`` (FFTs, RSS, crop, data consistency), ``masks``, ``data`` (HDF5 layout),
``dataset`` (typed samples), ``simulation``, ``baselines``, ``models``, ``training``, ``metrics``,
``evaluate``, ``predictor``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

_LAZY = {
    "SimulationConfig": "simulation", "simulate": "simulation", "SOURCES": "simulation",
    "TrainConfig": "training", "train": "training",
    "ModelConfig": "models", "CsConfig": "baselines", "MaskFunc": "masks",
    "MriPredictor": "predictor", "VolumeMetrics": "metrics",
}
__all__ = [*_LAZY, "evaluate_baselines", "load"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"mlpilot.tasks.mri.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'mlpilot.tasks.mri' has no attribute {name!r}")


def load(path: str | Path) -> Any:
    """Load a trained MRI run as an :class:`~mlpilot.tasks.mri.predictor.MriPredictor`."""
    from mlpilot.tasks.mri.predictor import MriPredictor

    return MriPredictor.load(path)


def evaluate_baselines(data: str | Path, *, accelerations: list[int], mask_type: str = "random",
                       cs: Any = None, panel: str | Path | None = None) -> dict[str, Any]:
    """Zero-filled (and CS when ``cs`` is a CsConfig) metrics on ``data``, with no trained model."""
    from mlpilot.tasks.mri.evaluate import evaluate_methods

    return evaluate_methods(data, model=None, accelerations=accelerations, mask_type=mask_type, cs=cs, panel=panel)
