"""Side-by-side evaluation (zero-filled, compressed sensing, learned model) and the comparison panel PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from mlpilot.errors import DataError
from mlpilot.tasks.mri.baselines import CsConfig
from mlpilot.tasks.mri.data import list_volumes, read_volume
from mlpilot.tasks.mri.dataset import MriSample
from mlpilot.tasks.mri.masks import MaskFunc
from mlpilot.tasks.mri.metrics import VolumeMetrics, mean_metrics
from mlpilot.tasks.mri.recon import cs_volume, model_volume, targets, undersample_volume, zero_filled_volume

METHOD_LABELS = {"zero_filled": "Zero-filled", "cs": "CS", "model": "Model"}


def reconstruct_all(samples: Sequence[MriSample], *, model: nn.Module | None,
                    cs: CsConfig | None) -> dict[str, np.ndarray]:
    """Each method's reconstruction ``(S, h, w)`` of one undersampled volume."""
    out = {"zero_filled": zero_filled_volume(samples)}
    if cs is not None:
        out["cs"] = cs_volume(samples, cs)
    if model is not None:
        out["model"] = model_volume(model, samples)
    return out


def evaluate_methods(data: str | Path, *, model: nn.Module | None, accelerations: Sequence[int],
                     mask_type: str = "random", cs: CsConfig | None = None, panel: str | Path | None = None,
                     panel_slice: int | None = None) -> dict[str, Any]:
    """fastMRI metrics per method and acceleration, on every volume with a target in ``data``.

    Masks are seeded per volume (file name), so every method sees exactly the same samples.
    Returns ``{"results": {"4x": {method: {nmse, psnr, ssim, volumes}}}, "panel": path or None}``.
    """
    volumes = [read_volume(path) for path in list_volumes(data)]
    volumes = [v for v in volumes if v.target is not None]
    if not volumes:
        raise DataError(f"No volume in '{data}' has a reconstruction_esc/_rss target to score against.")
    results: dict[str, dict[str, Any]] = {}
    panel_path = None
    for acc in accelerations:
        mask_func = MaskFunc(acc, kind=mask_type)
        rows: dict[str, list[VolumeMetrics]] = {}
        for index, volume in enumerate(volumes):
            samples = undersample_volume(volume, mask_func)
            gt = targets(samples)
            recons = reconstruct_all(samples, model=model, cs=cs)
            for method, recon in recons.items():
                rows.setdefault(method, []).append(VolumeMetrics.compute(gt, recon))
            if panel is not None and index == 0 and panel_path is None:
                s = panel_slice if panel_slice is not None else len(samples) // 2
                s = min(max(s, 0), len(samples) - 1)
                title = f"{volume.name} slice {s}, {acc}x {mask_type} mask"
                panel_path = save_panel(panel, gt[s], {m: r[s] for m, r in recons.items()}, title=title)
        results[f"{acc}x"] = {method: mean_metrics(r) for method, r in rows.items()}
    return {"results": results, "panel": str(panel_path) if panel_path else None, "volumes": len(volumes)}


def save_panel(path: str | Path, truth: np.ndarray, recons: dict[str, np.ndarray], *, title: str = "") -> Path:
    """A PNG: ground truth and each reconstruction on top, their absolute errors (×5) below."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    vmax = float(truth.max()) or 1.0
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _save_tiles(path, truth, recons, vmax)
    n = 1 + len(recons)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), dpi=90)
    panels = [("Ground truth", truth), *[(METHOD_LABELS.get(m, m), r) for m, r in recons.items()]]
    for col, (label, image) in enumerate(panels):
        axes[0, col].imshow(image, cmap="gray", vmin=0, vmax=vmax)
        axes[0, col].set_title(label, fontsize=9)
        if col:
            axes[1, col].imshow(np.abs(image - truth), cmap="inferno", vmin=0, vmax=vmax / 5)
            axes[1, col].set_title(f"|error| ×5 ({label})", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    _shrink(path)
    return path


def _shrink(path: Path) -> None:
    # A 128-colour palette keeps the panel ~100 KB instead of ~250 KB with no visible loss.
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def _save_tiles(path: Path, truth: np.ndarray, recons: dict[str, np.ndarray], vmax: float) -> Path:
    # Without matplotlib: an unlabeled grid (images on top, errors ×5 below), columns in METHOD_LABELS order.
    from PIL import Image

    top = np.concatenate([truth, *recons.values()], axis=1) / vmax
    bottom = np.concatenate([np.zeros_like(truth), *[np.abs(r - truth) * 5 for r in recons.values()]], axis=1) / vmax
    grid = np.clip(np.concatenate([top, bottom], axis=0), 0, 1)
    Image.fromarray((grid * 255).astype(np.uint8)).save(path)
    return path
