"""Reconstruct whole volumes with any method (zero-filled, compressed sensing, a learned model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mlpilot.tasks.mri.baselines import CsConfig, cs_slice, zero_filled_slice
from mlpilot.tasks.mri.data import Volume
from mlpilot.tasks.mri.dataset import MaskTransform, MriSample, collate
from mlpilot.tasks.mri.masks import MaskFunc

METHODS = ("zero_filled", "cs", "model")


def undersample_volume(volume: Volume, mask_func: MaskFunc) -> list[MriSample]:
    """Every slice of ``volume`` with one mask seeded by the file name (fastMRI validation protocol)."""
    transform = MaskTransform(mask_func, use_seed=True)
    return [transform(volume.kspace[s], volume, s) for s in range(volume.num_slices)]


@torch.no_grad()
def model_volume(model: nn.Module, samples: Sequence[MriSample], *, batch_size: int = 4) -> np.ndarray:
    """Reconstruct ``samples`` of one volume with a learned model -> float32 ``(S, h, w)``."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(samples), batch_size):
        batch = collate(samples[start : start + batch_size]).to(device)
        out.append(model(batch.masked_kspace, batch.mask, batch.crop).float().cpu().numpy())  # (B, h, w)
    return np.concatenate(out).astype(np.float32)


def zero_filled_volume(samples: Sequence[MriSample]) -> np.ndarray:
    """Zero-filled reconstruction of each slice -> ``(S, h, w)``."""
    return np.stack([zero_filled_slice(s.masked_kspace.numpy(), s.crop) for s in samples])


def cs_volume(samples: Sequence[MriSample], config: CsConfig) -> np.ndarray:
    """Compressed-sensing reconstruction of each slice -> ``(S, h, w)``."""
    return np.stack([
        cs_slice(s.masked_kspace.numpy(), s.mask.numpy(), s.num_low_frequencies, s.crop, config) for s in samples
    ])


def targets(samples: Sequence[MriSample]) -> np.ndarray:
    """The ground-truth images of ``samples`` -> ``(S, h, w)``."""
    return np.stack([s.target.numpy() for s in samples]).astype(np.float32)
