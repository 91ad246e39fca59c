"""A trained reconstructor loaded from its run directory: reconstruct k-space, files, and evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlpilot.errors import DataError
from mlpilot.tasks.mri.checkpoint import load_model
from mlpilot.tasks.mri.data import Header, read_volume, write_reconstruction
from mlpilot.tasks.mri.masks import MaskFunc, apply_mask, mask_from_kspace, volume_seed
from mlpilot.tasks.mri.models import ModelConfig


class MriPredictor:
    """A learned MRI reconstructor. Build it with :meth:`load`; it never unpickles anything."""

    def __init__(self, model: torch.nn.Module, config: ModelConfig, manifest: dict[str, Any], path: Path) -> None:
        self.model = model
        self.model_config = config
        self.manifest = manifest
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> MriPredictor:
        """Verify the run's checksums, rebuild the model from its JSON config and load the best weights."""
        model, config, manifest = load_model(path)
        return cls(model, config, manifest, Path(path))

    @property
    def kind(self) -> str:
        return self.model_config.kind

    @property
    def mask_type(self) -> str:
        return str(self.manifest.get("config", {}).get("mask_type", "random"))

    @property
    def accelerations(self) -> list[int]:
        return list(self.manifest.get("config", {}).get("accelerations", [4]))

    @property
    def recon_size(self) -> tuple[int, int] | None:
        size = self.manifest.get("data", {}).get("recon_size")
        return (int(size[0]), int(size[1])) if size else None

    def reconstruct(self, kspace: np.ndarray, *, mask: np.ndarray | None = None, acceleration: int | None = None,
                    crop: tuple[int, int] | None = None, seed: int | None = None,
                    batch_size: int = 4) -> np.ndarray:
        """Reconstruct magnitude images from Cartesian k-space.

        ``kspace``: complex ``(H, W)`` (one single-coil slice), ``(S, H, W)`` (single-coil volume) or
        ``(S, C, H, W)`` (multi-coil volume). Undersampled input is used as given (its mask is
        ``mask``, or the columns that hold any non-zero value); with ``acceleration``, the input is
        taken as fully sampled and a column mask of the run's type is applied first (seeded by
        ``seed``). ``crop``: output size (default: the training data's recon size).
        Returns float32 ``(S, h, w)``.
        """
        coils = _as_coil_volume(kspace)  # (S, C, H, W)
        width = coils.shape[-1]
        if acceleration is not None:
            mask, _ = MaskFunc(acceleration, kind=self.mask_type)(width, seed=seed)
        elif mask is None:
            mask = mask_from_kspace(coils)
        mask = np.asarray(mask, dtype=np.float32).reshape(-1)
        if mask.shape[0] != width:
            raise DataError(f"The mask has {mask.shape[0]} columns but the k-space has {width}; pass a (W,) mask.")
        masked = torch.from_numpy(np.ascontiguousarray(apply_mask(coils, mask), dtype=np.complex64))
        crop = crop or self.recon_size or Header.default(coils.shape[-2:]).recon_size  # type: ignore[arg-type]
        mask_t = torch.from_numpy(mask)
        out = []
        with torch.no_grad():
            for start in range(0, masked.shape[0], batch_size):
                chunk = masked[start : start + batch_size]  # (B, C, H, W)
                out.append(self.model(chunk, mask_t.expand(chunk.shape[0], -1), crop).numpy())  # (B, h, w)
        return np.concatenate(out).astype(np.float32)

    def reconstruct_file(self, source: str | Path, out: str | Path, *, acceleration: int | None = None,
                         seed: int | None = None, source_name: str | None = None) -> Path:
        """Read a fastMRI file, reconstruct it, and write ``reconstruction`` in the fastMRI layout to ``out``.

        An undersampled file (with a ``mask`` dataset, or zero columns) is used as is; with
        ``acceleration`` a fully sampled file is undersampled first with a mask seeded by ``seed``,
        or by the file's name. ``source_name`` stands for the file's name (in the seed and the
        ``source_file`` attribute) when ``source`` is a temporary copy, as in the REST server.
        """
        volume = read_volume(source)
        name = source_name or volume.name
        seed = volume_seed(name) if seed is None else seed
        mask = None if acceleration is not None else volume.mask
        recon = self.reconstruct(volume.kspace, mask=mask, acceleration=acceleration, seed=seed,
                                 crop=volume.header.recon_size)
        extra = {"model": self.kind, "source_file": name}
        if acceleration is not None:
            extra["acceleration"] = acceleration
        return write_reconstruction(out, recon, source=volume, extra_attrs=extra)

    def evaluate(self, data: str | Path, *, accelerations: list[int] | None = None, cs: Any = None,
                 panel: str | Path | None = None, panel_slice: int | None = None) -> dict[str, Any]:
        """Metrics of zero-filled, CS (``cs``: a CsConfig, or None to skip) and this model on ``data``."""
        from mlpilot.tasks.mri.evaluate import evaluate_methods

        return evaluate_methods(data, model=self.model, accelerations=accelerations or self.accelerations,
                                mask_type=self.mask_type, cs=cs, panel=panel, panel_slice=panel_slice)


def _as_coil_volume(kspace: Any) -> np.ndarray:
    array = np.asarray(kspace)
    if not np.iscomplexobj(array):
        raise DataError(f"k-space must be complex, got {array.dtype}; pass the complex64 'kspace' of a fastMRI file.")
    if array.ndim == 2:
        return array[None, None]
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:
        return array
    raise DataError(f"k-space of shape {array.shape} is not (H, W), (slices, H, W) or (slices, coils, H, W).")
