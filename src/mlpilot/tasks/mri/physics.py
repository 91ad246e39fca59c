"""MRI physics on Cartesian k-space: centred orthonormal FFTs, coil combination, cropping, data consistency.

Conventions follow fastMRI: the image and k-space axes are the last two, ``(..., H, W)``; H is the
readout (frequency-encode) direction and W the phase-encode direction that masks subsample. Every
function accepts numpy arrays or complex torch tensors and returns the same kind it was given.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)
_AXES = (-2, -1)


def fft2c(image: Array) -> Array:
    """Centred orthonormal 2-D FFT over the last two axes: image ``(..., H, W)`` -> k-space ``(..., H, W)``."""
    return _centred_fft(image, inverse=False)


def ifft2c(kspace: Array) -> Array:
    """Centred orthonormal 2-D inverse FFT over the last two axes: k-space -> complex image."""
    return _centred_fft(kspace, inverse=True)


def _centred_fft(data: Array, *, inverse: bool) -> Array:
    """ifftshift → (i)FFT with ``norm="ortho"`` → fftshift, for torch tensors and numpy arrays alike."""
    if isinstance(data, torch.Tensor):
        transform = torch.fft.ifftn if inverse else torch.fft.fftn
        shifted = torch.fft.ifftshift(data, dim=_AXES)
        return torch.fft.fftshift(transform(shifted, dim=_AXES, norm="ortho"), dim=_AXES)
    transform = np.fft.ifftn if inverse else np.fft.fftn
    shifted = np.fft.ifftshift(data, axes=_AXES)
    return np.fft.fftshift(transform(shifted, axes=_AXES, norm="ortho"), axes=_AXES)


def rss(coil_images: Array, *, coil_axis: int = -3) -> Array:
    """Root-sum-of-squares over the coil axis of complex or magnitude coil images ``(..., C, H, W)``."""
    if isinstance(coil_images, torch.Tensor):
        return torch.sqrt((coil_images.abs() ** 2).sum(dim=coil_axis))
    return np.sqrt((np.abs(coil_images) ** 2).sum(axis=coil_axis))


def center_crop(image: Array, shape: tuple[int, int]) -> Array:
    """Crop the last two axes to ``shape`` around the centre (a side smaller than ``shape`` is kept whole).

    fastMRI's "FLAIR 203" brain files are narrower than their recon size; cropping to what exists
    instead of failing matches what fastMRI's transforms do for them.
    """
    h, w = image.shape[-2], image.shape[-1]
    ch, cw = min(shape[0], h), min(shape[1], w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[..., top : top + ch, left : left + cw]


def zero_filled(masked_kspace: Array, *, crop: tuple[int, int], multicoil: bool) -> Array:
    """The zero-filled reconstruction: inverse FFT, magnitude (RSS over coils), centre crop.

    ``masked_kspace`` is ``(..., H, W)`` single-coil or ``(..., C, H, W)`` multi-coil; the result is
    the real magnitude image ``(..., h, w)``. RSS is never applied to single-coil data (fastMRI #99).
    """
    image = ifft2c(masked_kspace)
    magnitude = rss(image) if multicoil else abs(image)
    return center_crop(magnitude, crop)


def data_consistency(kspace: Array, measured: Array, mask: Array) -> Array:
    """Replace the sampled lines of ``kspace`` by the ``measured`` ones; unsampled lines are kept.

    ``mask`` broadcasts against k-space (e.g. ``(W,)`` or ``(1, W)``) and is 1 where a column was
    measured. Keeping the measurements exactly (rather than a soft weighting) is the noiseless
    limit of the usual data-consistency term and guarantees the output agrees with what was scanned.
    """
    if isinstance(kspace, torch.Tensor):
        keep = mask.to(torch.bool)
        return torch.where(keep, measured, kspace)
    return np.where(np.asarray(mask, dtype=bool), measured, kspace)


def complex_to_channels(image: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, C, H, W)`` -> real ``(B, 2C, H, W)`` with real and imaginary parts interleaved by coil."""
    stacked = torch.stack((image.real, image.imag), dim=2)  # (B, C, 2, H, W)
    return stacked.flatten(1, 2)


def channels_to_complex(image: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`complex_to_channels`: real ``(B, 2C, H, W)`` -> complex ``(B, C, H, W)``."""
    b, c2, h, w = image.shape
    pairs = image.reshape(b, c2 // 2, 2, h, w)  # (B, C, 2, H, W)
    return torch.complex(pairs[:, :, 0].contiguous(), pairs[:, :, 1].contiguous())
