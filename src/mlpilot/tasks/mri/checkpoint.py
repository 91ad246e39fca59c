"""Model and optimizer state as safetensors + JSON (never pickle), inside an engine run directory.

Run layout (kind ``"mri"``)::

    RUN/
      manifest.json                  written by engine.artifact.write_run (checksums of every file)
      models/<kind>/model.safetensors   the best weights so far (by validation SSIM)
      models/<kind>/config.json         ModelConfig: the model is rebuilt from it, then weights loaded
      checkpoint/last.safetensors       the latest weights, to resume training
      checkpoint/optimizer.safetensors  optimizer tensors; its scalars live in checkpoint/state.json
      checkpoint/state.json             step, epoch, elapsed seconds, optimizer param groups, history
      log.txt
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mlpilot.engine.artifact import read_manifest, write_run
from mlpilot.engine.torch_state import join_optimizer_state, split_optimizer_state
from mlpilot.errors import ArtifactError
from mlpilot.tasks.mri.models import ModelConfig, build_model


@dataclass
class TrainingState:
    """Everything needed to save a run and to resume training from it."""

    model_config: ModelConfig
    best_weights: dict[str, torch.Tensor]
    last_weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    step: int = 0
    epoch: int = 0
    elapsed: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def _cpu(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().contiguous().clone() for name, tensor in weights.items()}


def save_run(path: str | Path, state: TrainingState, manifest: dict[str, Any]) -> Path:
    """Write the run atomically with the engine's ``write_run``; ``manifest`` gets ``kind = "mri"``."""
    kind = state.model_config.kind

    def build(tmp: Path) -> dict[str, Any]:
        model_dir = tmp / "models" / kind
        model_dir.mkdir(parents=True)
        save_file(_cpu(state.best_weights), str(model_dir / "model.safetensors"))
        (model_dir / "config.json").write_text(json.dumps(state.model_config.to_dict(), indent=2))
        ckpt = tmp / "checkpoint"
        ckpt.mkdir()
        save_file(_cpu(state.last_weights), str(ckpt / "last.safetensors"))
        opt_tensors, opt_meta = split_optimizer_state(state.optimizer)
        save_file(opt_tensors, str(ckpt / "optimizer.safetensors"))
        resume = {"step": state.step, "epoch": state.epoch, "elapsed": state.elapsed, "optimizer": opt_meta,
                  "history": state.history}
        (ckpt / "state.json").write_text(json.dumps(resume, indent=2))
        (tmp / "log.txt").write_text("\n".join(state.log) + "\n")
        return {**manifest, "kind": "mri", "task": "mri_reconstruction", "model": kind}

    return write_run(path, build)


def load_model(path: str | Path) -> tuple[nn.Module, ModelConfig, dict[str, Any]]:
    """Verify the run, rebuild its model from ``config.json`` and load the best weights (eval mode)."""
    manifest = read_manifest(path, kind="mri")
    model_dir = Path(path) / "models" / str(manifest.get("model"))
    try:
        config = ModelConfig.from_dict(json.loads((model_dir / "config.json").read_text()))
        model = build_model(config)
        model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise ArtifactError(f"The model in run '{path}' cannot be loaded ({exc}); re-run `mlpilot mri train`.") from exc
    return model.eval(), config, manifest


def load_training_state(path: str | Path) -> TrainingState:
    """Read a run's checkpoint to resume training (checksums verified first)."""
    manifest = read_manifest(path, kind="mri")
    run = Path(path)
    model_dir = run / "models" / str(manifest.get("model"))
    try:
        config = ModelConfig.from_dict(json.loads((model_dir / "config.json").read_text()))
        resume = json.loads((run / "checkpoint" / "state.json").read_text())
        optimizer_tensors = load_file(str(run / "checkpoint" / "optimizer.safetensors"))
        optimizer = join_optimizer_state(optimizer_tensors, resume["optimizer"])
        return TrainingState(
            model_config=config, best_weights=load_file(str(model_dir / "model.safetensors")),
            last_weights=load_file(str(run / "checkpoint" / "last.safetensors")), optimizer=optimizer,
            step=int(resume["step"]), epoch=int(resume["epoch"]), elapsed=float(resume["elapsed"]),
            history=list(resume["history"]), log=(run / "log.txt").read_text().splitlines(),
        )
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        raise ArtifactError(
            f"Run '{path}' has no usable checkpoint to resume ({exc}); train without --resume."
        ) from exc
