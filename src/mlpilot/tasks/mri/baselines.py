"""Classical baselines: zero-filled and compressed sensing (total variation or wavelet sparsity) with sigpy.

The CS baseline mirrors fastMRI's BART one (``fastmri_examples/cs/run_bart.py``): coil maps from
ESPIRiT on the centre lines (a map of ones for single-coil), a regularised SENSE reconstruction,
then the magnitude, centre-cropped. k-space is scaled so the zero-filled image peaks at 1 before
solving, which makes one regularisation weight usable across scanners and volumes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

from mlpilot.errors import ConfigError
from mlpilot.tasks.mri.masks import center_band
from mlpilot.tasks.mri.physics import center_crop, ifft2c, rss

REGULARISERS = ("tv", "wavelet")


@dataclass(frozen=True)
class CsConfig:
    """Compressed-sensing settings: ``regulariser`` "tv" or "wavelet", weight ``lamda``, ``max_iter`` iterations."""

    regulariser: str = "tv"
    lamda: float = 0.01
    max_iter: int = 500  # the primal-dual TV solver converges slowly: 60 iterations barely move off zero-filling

    def __post_init__(self) -> None:
        if self.regulariser not in REGULARISERS:
            raise ConfigError(f"Unknown CS regulariser {self.regulariser!r}; use 'tv' or 'wavelet'.")
        if self.lamda < 0 or self.max_iter < 1:
            raise ConfigError("CS needs lamda >= 0 and max_iter >= 1; e.g. lamda=0.01, max_iter=500.")


def zero_filled_slice(masked_kspace: np.ndarray, crop: tuple[int, int]) -> np.ndarray:
    """Zero-filled magnitude of one slice ``(C, H, W)`` (RSS over coils; plain magnitude when C = 1) -> ``(h, w)``."""
    image = ifft2c(masked_kspace)
    magnitude = np.abs(image[0]) if masked_kspace.shape[0] == 1 else rss(image, coil_axis=0)
    return center_crop(magnitude, crop).astype(np.float32)


def coil_maps(kspace: np.ndarray, mask: np.ndarray, num_low: int) -> np.ndarray:
    """Coil sensitivities ``(C, H, W)`` from the fully sampled centre of ``kspace`` ``(C, H, W)``.

    ESPIRiT (as fastMRI's BART baseline) when the centre band is wide enough for its 6×6 kernel;
    otherwise, or when ESPIRiT finds no map, the low-resolution coil images divided by their RSS.
    """
    import sigpy.mri.app as app

    band = center_band(kspace.shape[-1], num_low) if num_low else np.asarray(mask, dtype=np.float32)
    if num_low >= 12:
        maps = app.EspiritCalib(kspace, calib_width=num_low, show_pbar=False).run()
        if np.abs(maps).max() > 0:
            return np.asarray(maps, dtype=np.complex64)
    low = ifft2c(np.where(band.astype(bool), kspace, 0))  # (C, H, W) low-resolution coil images
    combined = rss(low, coil_axis=0)
    return (low / (combined + 1e-3 * combined.max())).astype(np.complex64)


def cs_slice(masked_kspace: np.ndarray, mask: np.ndarray, num_low: int, crop: tuple[int, int],
             config: CsConfig) -> np.ndarray:
    """Compressed-sensing reconstruction of one slice ``(C, H, W)`` with column ``mask`` ``(W,)`` -> ``(h, w)``."""
    import sigpy.mri.app as app  # sigpy pulls in numba; import only when CS actually runs

    scale = float(np.abs(ifft2c(masked_kspace)).max()) or 1.0
    y = (masked_kspace / scale).astype(np.complex64)  # (C, H, W)
    weights = np.broadcast_to(mask.astype(np.float32)[None, None, :], y.shape).copy()
    with contextlib.redirect_stdout(io.StringIO()):  # sigpy prints progress even with show_pbar=False
        maps = np.ones_like(y) if y.shape[0] == 1 else coil_maps(y, mask, num_low)
        if config.regulariser == "tv":
            solver = app.TotalVariationRecon(y, maps, config.lamda, weights=weights, max_iter=config.max_iter,
                                             show_pbar=False)
        else:
            solver = app.L1WaveletRecon(y, maps, config.lamda, weights=weights, max_iter=config.max_iter,
                                        show_pbar=False)
        image = solver.run()
    return center_crop(np.abs(np.asarray(image)) * scale, crop).astype(np.float32)
