"""Cartesian undersampling masks over k-space columns, as in fastMRI's ``subsample.py``.

A mask is a 1-D float32 array over the W phase-encode columns (the last axis of the complex k-space)
with a fully sampled low-frequency band in the centre. Benchmark settings: 4x keeps 8 % of the
columns in the centre band, 8x keeps 4 % (:data:`BENCHMARK_CENTER_FRACTIONS`).

Validation masks are seeded per volume from the file name (:func:`volume_seed`), so every slice of a
volume shares one reproducible mask; training draws a fresh mask per slice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from mlpilot.errors import ConfigError

Array = TypeVar("Array", np.ndarray, torch.Tensor)
BENCHMARK_CENTER_FRACTIONS = {4: 0.08, 8: 0.04}
MASK_TYPES = ("random", "equispaced", "equispaced_fraction")


def volume_seed(name: str) -> int:
    """A seed that depends only on the file name (Python's ``hash`` is salted per process, so no)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def benchmark_center_fraction(acceleration: int) -> float:
    """The fastMRI centre fraction for ``acceleration`` (0.08 at 4x, 0.04 at 8x; 0.32/acc otherwise)."""
    if acceleration < 1:
        raise ConfigError(f"Acceleration {acceleration} is invalid; use an integer of 2 or more, e.g. 4 or 8.")
    return BENCHMARK_CENTER_FRACTIONS.get(acceleration, 0.32 / acceleration)


@dataclass(frozen=True)
class MaskFunc:
    """Draw a column mask: ``kind`` is ``random``, ``equispaced`` or ``equispaced_fraction``.

    - ``random`` (knee benchmark): each column outside the centre is kept with the probability that
      makes the expected number of kept columns, centre included, exactly W/acceleration.
    - ``equispaced`` (fastMRI ``EquiSpacedMaskFunc``): every acceleration-th column after a random
      offset, plus the centre; it keeps somewhat more than W/acceleration columns.
    - ``equispaced_fraction`` (fastMRI ``EquispacedMaskFractionFunc``, the public brain data): the
      spacing is adjusted so that the total, centre included, is about W/acceleration.
    """

    acceleration: int = 4
    center_fraction: float | None = None
    kind: str = "random"

    def __post_init__(self) -> None:
        if self.kind not in MASK_TYPES:
            raise ConfigError(f"Unknown mask type {self.kind!r}; use one of {', '.join(MASK_TYPES)}.")
        fraction = self.fraction
        if not 0.0 < fraction < 1.0 or fraction * self.acceleration > 1.0:
            raise ConfigError(
                f"Centre fraction {fraction} does not fit acceleration {self.acceleration}; "
                f"use e.g. 0.08 for 4x or 0.04 for 8x."
            )

    @property
    def fraction(self) -> float:
        if self.center_fraction is not None:
            return self.center_fraction
        return benchmark_center_fraction(self.acceleration)

    def __call__(self, num_cols: int, *, seed: int | None = None) -> tuple[np.ndarray, int]:
        """Return ``(mask (W,) float32, number of centre columns)``; the same seed gives the same mask."""
        rng = np.random.default_rng(seed)
        num_low = round(num_cols * self.fraction)
        mask = center_band(num_cols, num_low)
        if self.kind == "random":
            prob = (num_cols / self.acceleration - num_low) / (num_cols - num_low)
            mask = np.maximum(mask, (rng.uniform(size=num_cols) < prob).astype(np.float32))
        elif self.kind == "equispaced":
            offset = int(rng.integers(0, self.acceleration))
            mask[offset :: self.acceleration] = 1.0
        else:
            mask = np.maximum(mask, _equispaced_fraction(num_cols, self.acceleration, num_low, rng))
        return mask.astype(np.float32), num_low


def center_band(num_cols: int, num_low: int) -> np.ndarray:
    """A ``(W,)`` mask with the ``num_low`` central columns set, placed as fastMRI places them."""
    mask = np.zeros(num_cols, dtype=np.float32)
    pad = (num_cols - num_low + 1) // 2
    mask[pad : pad + num_low] = 1.0
    return mask


def _equispaced_fraction(num_cols: int, acceleration: int, num_low: int, rng: np.random.Generator) -> np.ndarray:
    # Spacing chosen so that the centre band plus the spaced lines total about W/acceleration.
    adjusted = acceleration * (num_low - num_cols) / (num_low * acceleration - num_cols)
    offset = int(rng.integers(0, max(1, round(adjusted))))
    mask = np.zeros(num_cols, dtype=np.float32)
    samples = np.around(np.arange(offset, num_cols - 1, adjusted)).astype(np.int64)
    mask[samples[samples < num_cols]] = 1.0
    return mask


def apply_mask(kspace: Array, mask: Array | np.ndarray, *, padding: tuple[int, int] | None = None) -> Array:
    """Zero the unsampled columns of ``kspace`` ``(..., H, W)``; ``mask`` is ``(W,)``.

    Unsampled entries are written as +0 explicitly: multiplying by 0 would keep the sign of negative
    values as -0, which leaked the hidden data in the 2019 fastMRI test set. ``padding`` marks the
    columns actually acquired (``[left, right)``); columns outside it are treated as unsampled.
    """
    keep = np.asarray(mask if not isinstance(mask, torch.Tensor) else mask.cpu().numpy()).astype(bool)
    if padding is not None:
        keep = keep.copy()
        keep[: padding[0]] = False
        keep[padding[1] :] = False
    if isinstance(kspace, torch.Tensor):
        keep_t = torch.as_tensor(keep, device=kspace.device)
        return torch.where(keep_t, kspace, torch.zeros((), dtype=kspace.dtype, device=kspace.device))
    return np.where(keep, kspace, np.zeros((), dtype=kspace.dtype))


def mask_from_kspace(kspace: np.ndarray) -> np.ndarray:
    """Recover the column mask of already undersampled k-space ``(..., H, W)``: columns with any non-zero."""
    nonzero = np.abs(kspace) > 0
    return nonzero.reshape(-1, kspace.shape[-1]).any(axis=0).astype(np.float32)


@dataclass(frozen=True)
class MaskChoice:
    """Pick one of several mask functions per call (fastMRI's training mix of 4x/0.08 and 8x/0.04)."""

    funcs: tuple[MaskFunc, ...]

    def __call__(self, num_cols: int, *, seed: int | None = None) -> tuple[np.ndarray, int]:
        rng = np.random.default_rng(seed)
        func = self.funcs[int(rng.integers(len(self.funcs)))]
        return func(num_cols, seed=None if seed is None else seed + 1)
