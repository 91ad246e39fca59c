"""Slices of fastMRI volumes as typed samples, with the undersampling applied by a small transform."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from mlpilot.errors import DataError
from mlpilot.tasks.mri.data import Volume, list_volumes, read_volume
from mlpilot.tasks.mri.masks import MaskChoice, MaskFunc, apply_mask, volume_seed


class MriSample(NamedTuple):
    """One undersampled slice, ready for any reconstructor.

    masked_kspace: complex64 ``(C, H, W)`` (C = 1 for single-coil), unsampled columns exactly +0.
    mask: float32 ``(W,)``, 1 where a column was measured.
    num_low_frequencies: number of fully sampled centre columns.
    target: float32 ``(h, w)`` magnitude (ESC) or RSS image, centre-cropped; zeros when absent.
    max_value: the target volume's maximum (data range of PSNR/SSIM).
    crop: ``(h, w)`` recon size from the header.
    fname, slice_num: where the slice came from.
    """

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    num_low_frequencies: int
    target: torch.Tensor
    max_value: float
    crop: tuple[int, int]
    fname: str
    slice_num: int


class MaskTransform:
    """Undersample one slice: ``(kspace, volume, slice_num) -> MriSample``.

    With ``use_seed`` (validation) the mask is seeded by the file name so all slices of a volume
    share one reproducible mask; without it (training) each call draws a new mask from a generator
    seeded by ``seed``, so a training run is reproducible too.
    """

    def __init__(self, mask_func: MaskFunc | MaskChoice, *, use_seed: bool = True, seed: int | None = None) -> None:
        self.mask_func = mask_func
        self.use_seed = use_seed
        self.rng = np.random.default_rng(seed)

    def __call__(self, kspace: np.ndarray, volume: Volume, slice_num: int) -> MriSample:
        coils = kspace[None] if kspace.ndim == 2 else kspace  # (C, H, W)
        if volume.mask is not None:
            mask, num_low = volume.mask, int(volume.attrs.get("num_low_frequency", 0))
        else:
            seed = volume_seed(volume.name) if self.use_seed else int(self.rng.integers(2**62))
            mask, num_low = self.mask_func(coils.shape[-1], seed=seed)
            left, right = volume.header.padding
            mask = mask.copy()
            mask[:left], mask[right:] = 0.0, 0.0
        masked = apply_mask(coils, mask)
        crop = volume.header.recon_size
        if volume.target is not None:
            target = volume.target[slice_num]
            max_value = float(volume.attrs.get("max", volume.target.max()))
        else:
            target, max_value = np.zeros(crop, np.float32), 0.0
        return MriSample(
            masked_kspace=torch.from_numpy(np.ascontiguousarray(masked, dtype=np.complex64)),
            mask=torch.from_numpy(np.asarray(mask, dtype=np.float32)),
            num_low_frequencies=num_low,
            target=torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)),
            max_value=max_value,
            crop=(int(target.shape[-2]), int(target.shape[-1])),
            fname=volume.name,
            slice_num=slice_num,
        )


class SliceDataset(torch.utils.data.Dataset):
    """Every slice of every volume under ``root`` (a folder of ``.h5`` files, or a list of files).

    Volumes are read once and kept in memory: mlpilot's CPU-sized data fits, and re-opening HDF5
    per slice costs more than the reconstruction of a small slice.
    """

    def __init__(self, root: str | Path | Sequence[Path], *, transform: MaskTransform,
                 require_target: bool = True) -> None:
        files = list_volumes(root) if isinstance(root, str | Path) else list(root)
        self.volumes = [read_volume(path) for path in files]
        if require_target:
            for volume, path in zip(self.volumes, files, strict=True):
                if volume.target is None:
                    raise DataError(
                        f"'{path}' has no reconstruction_esc/reconstruction_rss target; training and "
                        f"evaluation need fully sampled volumes with targets."
                    )
        self.transform = transform
        self.index = [(v, s) for v in range(len(self.volumes)) for s in range(self.volumes[v].num_slices)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> MriSample:
        v, s = self.index[i]
        volume = self.volumes[v]
        return self.transform(volume.kspace[s], volume, s)


class Batch(NamedTuple):
    """Samples of one shape stacked: kspace ``(B, C, H, W)``, mask ``(B, W)``, target ``(B, h, w)``, max ``(B,)``."""

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    target: torch.Tensor
    max_value: torch.Tensor
    crop: tuple[int, int]

    def to(self, device: torch.device | str) -> Batch:
        """The same batch with its tensors on ``device`` (a no-op on the CPU)."""
        return self._replace(masked_kspace=self.masked_kspace.to(device), mask=self.mask.to(device),
                             target=self.target.to(device), max_value=self.max_value.to(device))


def collate(samples: Sequence[MriSample]) -> Batch:
    """Stack samples that share one k-space shape and crop (the caller groups them)."""
    return Batch(
        masked_kspace=torch.stack([s.masked_kspace for s in samples]),
        mask=torch.stack([s.mask for s in samples]),
        target=torch.stack([s.target for s in samples]),
        max_value=torch.tensor([s.max_value for s in samples], dtype=torch.float32),
        crop=samples[0].crop,
    )


def shape_groups(dataset: SliceDataset) -> list[list[int]]:
    """Indices of the dataset grouped by (k-space shape, crop), so every batch stacks."""
    groups: dict[tuple, list[int]] = {}
    for i, (v, _) in enumerate(dataset.index):
        volume = dataset.volumes[v]
        crop = volume.target.shape[-2:] if volume.target is not None else volume.header.recon_size
        groups.setdefault((volume.kspace.shape[1:], tuple(crop)), []).append(i)
    return list(groups.values())
