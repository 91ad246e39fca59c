"""Reconstruction metrics exactly as fastMRI's ``evaluate.py``: per volume, then averaged over volumes.

Each metric takes a whole volume of magnitude images ``(slices, H, W)``. The data range of PSNR and
SSIM is the ground-truth volume's maximum (not the slice maximum, not 1.0); normalising per slice
instead changed fastMRI's own U-Net numbers by 5 dB (fastMRI issue #129, PR #130).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from skimage.metrics import structural_similarity

from mlpilot.errors import DataError

METRIC_NAMES = ("nmse", "psnr", "ssim")


def _check(gt: np.ndarray, pred: np.ndarray) -> None:
    if gt.ndim != 3 or gt.shape != pred.shape:
        raise DataError(
            f"Metrics need two volumes of the same (slices, H, W) shape; got {gt.shape} and {pred.shape}."
        )


def mse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Mean squared error over the whole volume."""
    return float(np.mean((gt.astype(np.float64) - pred) ** 2))


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """``||gt - pred||² / ||gt||²`` over the whole volume ``(slices, H, W)``."""
    _check(gt, pred)
    gt64 = gt.astype(np.float64)
    return float(np.linalg.norm(gt64 - pred) ** 2 / np.linalg.norm(gt64) ** 2)


def psnr(gt: np.ndarray, pred: np.ndarray) -> float:
    """``10 log10(max(gt)² / MSE)`` with the volume maximum as peak (= skimage's PSNR, data_range=gt.max())."""
    _check(gt, pred)
    error = mse(gt, pred)
    peak = float(gt.max())
    return float("inf") if error == 0 else float(10.0 * np.log10(peak**2 / error))


def ssim(gt: np.ndarray, pred: np.ndarray) -> float:
    """Mean over slices of skimage SSIM (7×7 uniform window, K1=0.01, K2=0.03), data range = volume max."""
    _check(gt, pred)
    data_range = float(gt.max())
    values = [
        structural_similarity(gt[s], pred[s], data_range=data_range, win_size=7)
        for s in range(gt.shape[0])
    ]
    return float(np.mean(values))


@dataclass(frozen=True)
class VolumeMetrics:
    """NMSE, PSNR (dB) and SSIM of one volume."""

    nmse: float
    psnr: float
    ssim: float

    @classmethod
    def compute(cls, gt: np.ndarray, pred: np.ndarray) -> VolumeMetrics:
        gt = np.asarray(gt, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.float64)
        return cls(nmse=nmse(gt, pred), psnr=psnr(gt, pred), ssim=ssim(gt, pred))

    def as_dict(self) -> dict[str, float]:
        return {"nmse": self.nmse, "psnr": self.psnr, "ssim": self.ssim}


def mean_metrics(per_volume: Iterable[VolumeMetrics]) -> dict[str, float]:
    """The mean of each metric over volumes (fastMRI's aggregation), plus the volume count."""
    rows = list(per_volume)
    if not rows:
        return {name: float("nan") for name in METRIC_NAMES} | {"volumes": 0}
    means = {name: float(np.mean([getattr(row, name) for row in rows])) for name in METRIC_NAMES}
    return means | {"volumes": len(rows)}
