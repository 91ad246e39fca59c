"""Learned reconstructors: the fastMRI U-Net and an E2E-VarNet (Sriram et al. 2020), CPU-sized by default.

Every reconstructor maps undersampled k-space to a magnitude image with one signature::

    model(masked_kspace (B, C, H, W) complex64, mask (B, W) float32, crop (h, w)) -> (B, h, w) float32

so training, validation and inference code never branch on the model kind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mlpilot.errors import ConfigError
from mlpilot.tasks.mri.physics import center_crop, data_consistency, fft2c, ifft2c, rss

MODEL_KINDS = ("unet", "varnet")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a learned reconstructor; saved with the weights and rebuilt from them.

    U-Net: ``chans`` channels at the first level, doubled at each of ``num_pool_layers`` levels
    (fastMRI uses 32/4; the leaderboard model 256/4). VarNet: ``cascades`` unrolled steps, each with a
    U-Net of ``chans``/``num_pool_layers``, and a coil-sensitivity U-Net of ``sens_chans``/``sens_pools``
    (fastMRI: 12 cascades, 18/4, 8/4).
    """

    kind: str = "unet"
    chans: int = 16
    num_pool_layers: int = 4
    drop_prob: float = 0.0
    cascades: int = 4
    sens_chans: int = 4
    sens_pools: int = 3
    residual: bool = True  # U-Net adds its output to the zero-filled input (see UnetReconstructor)
    # U-Net only: put the measured k-space lines back into its output (see UnetReconstructor); fastMRI's
    # U-Net has no such step. Runs saved before this setting existed load with it off.
    data_consistency: bool = True

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"Unknown MRI model {self.kind!r}; use one of {', '.join(MODEL_KINDS)}.")
        for name in ("chans", "num_pool_layers", "cascades", "sens_chans", "sens_pools"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"Model setting {name}={getattr(self, name)} is invalid; use a positive integer.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        return cls(**({"data_consistency": False} | {k: v for k, v in data.items() if k in known}))


class ConvBlock(nn.Module):
    """Two [3×3 conv (no bias) → instance norm → LeakyReLU(0.2) → dropout] layers."""

    def __init__(self, in_chans: int, out_chans: int, drop_prob: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(2):
            layers += [
                nn.Conv2d(in_chans if i == 0 else out_chans, out_chans, kernel_size=3, padding=1, bias=False),
                nn.InstanceNorm2d(out_chans),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Dropout2d(drop_prob),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Unet(nn.Module):
    """fastMRI's U-Net (Ronneberger et al. 2015; ``fastmri/models/unet.py``): ``(B, in, H, W) -> (B, out, H, W)``."""

    def __init__(self, in_chans: int, out_chans: int, *, chans: int = 32, num_pool_layers: int = 4,
                 drop_prob: float = 0.0) -> None:
        super().__init__()
        self.down = nn.ModuleList([ConvBlock(in_chans, chans, drop_prob)])
        ch = chans
        for _ in range(num_pool_layers - 1):
            self.down.append(ConvBlock(ch, ch * 2, drop_prob))
            ch *= 2
        self.bottom = ConvBlock(ch, ch * 2, drop_prob)
        self.up_transpose = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for i in range(num_pool_layers):
            self.up_transpose.append(nn.Sequential(
                nn.ConvTranspose2d(ch * 2, ch, kernel_size=2, stride=2, bias=False),
                nn.InstanceNorm2d(ch), nn.LeakyReLU(0.2, inplace=True),
            ))
            block: nn.Module = ConvBlock(ch * 2, ch, drop_prob)
            if i == num_pool_layers - 1:
                block = nn.Sequential(block, nn.Conv2d(ch, out_chans, kernel_size=1))
            self.up_conv.append(block)
            ch //= 2

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = []
        out = image  # (B, in, H, W)
        for layer in self.down:
            out = layer(out)
            skips.append(out)
            out = F.avg_pool2d(out, kernel_size=2)
        out = self.bottom(out)
        for transpose, conv in zip(self.up_transpose, self.up_conv, strict=True):
            skip = skips.pop()
            out = transpose(out)
            # Odd sizes lose a row/column when pooled; pad back so the skip connection lines up.
            pad = [0, skip.shape[-1] - out.shape[-1], 0, skip.shape[-2] - out.shape[-2]]
            if any(pad):
                out = F.pad(out, pad, mode="reflect")
            out = conv(torch.cat([out, skip], dim=1))
        return out  # (B, out, H, W)


class UnetReconstructor(nn.Module):
    """Zero-filled magnitude image → instance normalisation → U-Net → un-normalised image (fastMRI U-Net track).

    With ``residual`` (the default, unlike fastMRI) the U-Net predicts a correction added to the
    zero-filled input, so an untrained model starts at zero-filled quality; on a CPU budget of a few
    hundred steps this matters more than on fastMRI's 50 GPU epochs. With ``data_consistency`` the
    measured k-space lines are put back into its output (trained end to end through that step).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.residual = config.residual
        self.data_consistency = config.data_consistency
        self.unet = Unet(1, 1, chans=config.chans, num_pool_layers=config.num_pool_layers,
                         drop_prob=config.drop_prob)
        if self.residual:  # a zero last layer makes the untrained model exactly the zero-filled image
            last = self.unet.up_conv[-1][-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, masked_kspace: torch.Tensor, mask: torch.Tensor, crop: tuple[int, int]) -> torch.Tensor:
        coil_images = ifft2c(masked_kspace)  # (B, C, H, W)
        image = center_crop(rss(coil_images), crop)  # (B, h, w)
        mean = image.mean(dim=(-2, -1), keepdim=True)  # (B, 1, 1)
        std = image.std(dim=(-2, -1), keepdim=True) + 1e-11
        normed = ((image - mean) / std).clamp(-6, 6)
        out = self.unet(normed.unsqueeze(1)).squeeze(1)  # (B, h, w)
        if self.residual:
            out = out + normed
        out = out * std + mean
        if self.data_consistency:
            out = _consistent_magnitude(out.float(), coil_images, masked_kspace, mask)
        return out


def _consistent_magnitude(magnitude: torch.Tensor, coil_images: torch.Tensor, masked_kspace: torch.Tensor,
                          mask: torch.Tensor) -> torch.Tensor:
    """The U-Net's magnitude ``(B, h, w)`` made consistent with the measured lines -> ``(B, h, w)``.

    A magnitude network predicts no phase or coil images, so they are borrowed from the zero-filled
    coil images (``coil / RSS``: phase and sensitivity at once; for one coil, just the phase). Outside
    the crop (readout oversampling) the zero-filled magnitude is kept. The measured columns then
    replace the estimate's, and the result is combined again (RSS).
    """
    h, w = magnitude.shape[-2:]
    full = rss(coil_images)  # (B, H, W)
    top, left = (full.shape[-2] - h) // 2, (full.shape[-1] - w) // 2
    canvas = full.clone()
    canvas[:, top : top + h, left : left + w] = magnitude
    floor = 1e-6 * full.amax(dim=(-2, -1))[:, None, None, None]  # keeps empty background finite
    estimate = canvas.unsqueeze(1) * coil_images / (full.unsqueeze(1) + floor)
    kspace = data_consistency(fft2c(estimate), masked_kspace, mask[:, None, None, :])
    return center_crop(rss(ifft2c(kspace)), (h, w))


class NormUnet(nn.Module):
    """A U-Net on complex images ``(B, 1, H, W)``: normalise, pad to a multiple of 2^pools, run, undo both."""

    def __init__(self, *, chans: int, num_pools: int) -> None:
        super().__init__()
        self.unet = Unet(2, 2, chans=chans, num_pool_layers=num_pools)
        self.multiple = 2**num_pools

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = torch.cat([image.real, image.imag], dim=1)  # (B, 2, H, W)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True) + 1e-8
        x = (x - mean) / std
        h, w = x.shape[-2:]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        x = self.unet(x)[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
        x = x * std + mean
        return torch.complex(x[:, :1].contiguous(), x[:, 1:].contiguous())  # (B, 1, H, W)


def center_band_mask(mask: torch.Tensor) -> torch.Tensor:
    """The contiguous run of sampled columns around the centre of each ``(B, W)`` mask (the ACS lines)."""
    keep = mask.bool()
    center = mask.shape[-1] // 2
    # A column is in the band when every column between it and the centre is sampled.
    left = torch.cumprod(keep[:, : center + 1].flip(-1).int(), dim=-1).flip(-1)
    right = torch.cumprod(keep[:, center:].int(), dim=-1)
    return torch.cat([left, right[:, 1:]], dim=-1).bool()


class SensitivityModel(nn.Module):
    """Estimate coil sensitivities from the fully sampled centre: ``(B, C, H, W)`` k-space -> maps ``(B, C, H, W)``."""

    def __init__(self, *, chans: int, num_pools: int) -> None:
        super().__init__()
        self.norm_unet = NormUnet(chans=chans, num_pools=num_pools)

    def forward(self, masked_kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, h, w = masked_kspace.shape
        band = center_band_mask(mask)[:, None, None, :]  # (B, 1, 1, W)
        low = torch.where(band, masked_kspace, torch.zeros_like(masked_kspace))
        images = ifft2c(low).reshape(b * c, 1, h, w)  # coils as batch: the net is shared across coils
        maps = self.norm_unet(images).reshape(b, c, h, w)
        return maps / (rss(maps, coil_axis=1).unsqueeze(1) + 1e-12)


class VarNetBlock(nn.Module):
    """One cascade: k ← k − λ·M(k − k₀) − F(S · R(S* F⁻¹ k)), with R a NormUnet on the coil-combined image."""

    def __init__(self, *, chans: int, num_pools: int) -> None:
        super().__init__()
        self.regulariser = NormUnet(chans=chans, num_pools=num_pools)
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward(self, kspace: torch.Tensor, measured: torch.Tensor, mask: torch.Tensor,
                sens: torch.Tensor) -> torch.Tensor:
        sampled = mask[:, None, None, :].bool()  # (B, 1, 1, W)
        soft_dc = torch.where(sampled, kspace - measured, torch.zeros_like(kspace)) * self.dc_weight
        combined = (ifft2c(kspace) * sens.conj()).sum(dim=1, keepdim=True)  # (B, 1, H, W)
        refined = fft2c(self.regulariser(combined) * sens)  # (B, C, H, W)
        return kspace - soft_dc - refined


class VarNetReconstructor(nn.Module):
    """E2E-VarNet: unrolled cascades with learned soft data consistency; sensitivities learned for multi-coil.

    Single-coil input (C = 1) uses a sensitivity of one everywhere, so no sensitivity net runs.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.sens_net = SensitivityModel(chans=config.sens_chans, num_pools=config.sens_pools)
        self.cascades = nn.ModuleList(
            VarNetBlock(chans=config.chans, num_pools=config.num_pool_layers) for _ in range(config.cascades)
        )

    def forward(self, masked_kspace: torch.Tensor, mask: torch.Tensor, crop: tuple[int, int]) -> torch.Tensor:
        single = masked_kspace.shape[1] == 1
        sens = torch.ones_like(masked_kspace) if single else self.sens_net(masked_kspace, mask)  # (B, C, H, W)
        kspace = masked_kspace.clone()
        for cascade in self.cascades:
            kspace = cascade(kspace, masked_kspace, mask, sens)
        return center_crop(rss(ifft2c(kspace)), crop)  # (B, h, w)


def build_model(config: ModelConfig) -> nn.Module:
    """The reconstructor for ``config.kind``."""
    return UnetReconstructor(config) if config.kind == "unet" else VarNetReconstructor(config)


def ssim_loss(pred: torch.Tensor, target: torch.Tensor, data_range: torch.Tensor, *, win_size: int = 7) -> torch.Tensor:
    """``1 - SSIM`` with fastMRI's uniform 7×7 window, K1=0.01, K2=0.03; ``pred``/``target`` ``(B, h, w)``."""
    x, y = pred.unsqueeze(1), target.unsqueeze(1)  # (B, 1, h, w)
    c1 = ((0.01 * data_range) ** 2)[:, None, None, None]
    c2 = ((0.03 * data_range) ** 2)[:, None, None, None]
    window = torch.ones(1, 1, win_size, win_size, dtype=x.dtype, device=x.device) / win_size**2
    n = win_size**2
    cov_norm = n / (n - 1)
    ux, uy = F.conv2d(x, window), F.conv2d(y, window)
    vx = cov_norm * (F.conv2d(x * x, window) - ux * ux)
    vy = cov_norm * (F.conv2d(y * y, window) - uy * uy)
    vxy = cov_norm * (F.conv2d(x * y, window) - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return 1 - s.mean()
