"""Checkpoints in safetensors + JSON only: weights, AdamW moments, the batch sampler's RNG state.

Nothing here pickles or unpickles. A checkpoint is a folder written next to the final one and
swapped into place, so an interruption while saving leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from mlpilot.engine.torch_state import join_optimizer_state, split_optimizer_state
from mlpilot.errors import ArtifactError


def save_weights(model: nn.Module, path: Path) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path)


def load_weights(model: nn.Module, path: Path) -> None:
    try:
        tensors = load_file(str(path), device=str(next(model.parameters()).device))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"Weights '{path}' cannot be read ({exc}); re-train the model.") from exc
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ArtifactError(
            f"Weights '{path}' do not match the model's configuration (missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}); re-train the model."
        )


def save_checkpoint(
    folder: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
    state: dict[str, Any],
) -> None:
    """Write ``folder`` (model, optimizer, RNG, state.json) atomically."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp / "model.safetensors")
    tensors, meta = split_optimizer_state(optimizer.state_dict())
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    save_file({"generator": generator.get_state()}, str(tmp / "rng.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(meta))
    (tmp / "state.json").write_text(json.dumps(state))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(folder: Path) -> Path | None:
    """The checkpoint folder, or the previous one when a save was interrupted mid-swap."""
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / "state.json").is_file():
            return candidate
    return None


def load_checkpoint(
    folder: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote and return its state dictionary."""
    load_weights(model, folder / "model.safetensors")
    try:
        device = str(next(model.parameters()).device)
        tensors = load_file(str(folder / "optimizer.safetensors"), device=device)
        meta = json.loads((folder / "optimizer.json").read_text())
        optimizer.load_state_dict(join_optimizer_state(tensors, meta))
        generator.set_state(load_file(str(folder / "rng.safetensors"))["generator"])
        return dict(json.loads((folder / "state.json").read_text()))
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise ArtifactError(
            f"The checkpoint in '{folder}' is damaged ({exc}); delete that folder and train without --resume."
        ) from exc
