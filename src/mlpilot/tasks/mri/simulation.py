"""Simulated fastMRI volumes, because no installable package ships real k-space.

What is simulated, per slice:

1. a magnitude image: a random anatomy-like phantom (a head ellipse with a skull rim and 6-14 inner
   ellipses whose size changes smoothly across slices, each with its own intensity and smooth
   texture), slices of a photograph (``natural``), slices of a real MR brain in random orientation
   and tissue contrast (``mni_brain``: the MNI ICBM152 2009a T1 template that ships inside the
   nilearn wheel), or a real magnitude MR image shipped by an installed package (nibabel's test EPI brain
   volume ``example4d.nii.gz`` and T1 ``anatomical.nii``, scikit-image's ``brain()`` when pooch and
   its cache are available, or scikit-image's Shepp-Logan phantom), resized into the recon field of
   view;
2. a smooth multiplicative intensity bias (receive-field inhomogeneity) and a smooth random phase
   (a linear ramp plus a low-frequency random field), since a real MR image is complex;
3. the object placed in a larger k-space matrix than the recon size (like fastMRI's 2x readout
   oversampling), then for multi-coil multiplied by birdcage coil sensitivities
   (``sigpy.mri.birdcage_maps``);
4. the centred orthonormal FFT, plus complex white Gaussian measurement noise with standard
   deviation ``noise`` × the image maximum (white in k-space, as thermal noise is).

Targets are computed from the noisy, fully sampled k-space exactly as fastMRI's are (magnitude for
single-coil, root-sum-of-squares for multi-coil, centre-cropped), so they carry the noise too.

What is NOT simulated: real scanner k-space or real phase; B0 inhomogeneity, off-resonance,
chemical shift, T2* decay during the readout; motion and flow; Gibbs ringing of a continuous
object (images are sampled on the grid, so the k-space is band-limited by construction); coil noise
correlation; the zero-padded k-space edges of the knee data; fastMRI's emulated single-coil (ESC)
combination (single-coil volumes here are a single uniform receive coil).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.transform import resize

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.mri.data import Header, Volume, write_volume
from mlpilot.tasks.mri.physics import center_crop, fft2c, ifft2c, rss

SOURCES = ("phantom", "natural", "mni_brain", "shepp_logan", "nibabel_epi", "nibabel_t1", "skimage_brain")
# Photographs that ship inside the scikit-image wheel (no download). As training images they give a
# model real-world edges and textures that ellipse phantoms lack, so it does not learn to paint
# every image as piecewise-smooth blobs (the failure seen on real MR, docs/mri.md).
NATURAL_IMAGES = ("camera", "coins", "moon", "brick", "grass", "gravel", "cell", "clock", "text", "page",
                  "astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina", "cat")


@dataclass(frozen=True)
class SimulationConfig:
    """What :func:`simulate` writes: ``volumes`` files of ``slices`` slices of ``size`` (H, W) k-space."""

    volumes: int = 4
    slices: int = 8
    coils: int = 1
    size: tuple[int, int] = (160, 128)
    recon_size: tuple[int, int] | None = None  # default: a centred square of side min(H, W)
    source: str = "phantom"
    noise: float = 0.005
    seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"Unknown simulation source {self.source!r}; use one of {', '.join(SOURCES)}.")
        if self.volumes < 1 or self.slices < 1 or self.coils < 1:
            raise ConfigError("Simulation needs at least 1 volume, 1 slice and 1 coil; e.g. --volumes 4 --slices 8.")
        if min(self.size) < 32 or self.noise < 0:
            raise ConfigError(f"Simulation size {self.size} is too small; use at least 32×32 (e.g. --size 160 128).")

    @property
    def recon(self) -> tuple[int, int]:
        side = min(self.size)
        recon = self.recon_size or (side, side)
        if recon[0] > self.size[0] or recon[1] > self.size[1]:
            raise ConfigError(f"Recon size {recon} is larger than the k-space size {self.size}; make it smaller.")
        return recon


def simulate(out: str | Path, config: SimulationConfig) -> list[Path]:
    """Write ``config.volumes`` fastMRI-format files into ``out``; returns their paths."""
    out = Path(out)
    rng = np.random.default_rng(config.seed)
    paths = []
    for v in range(config.volumes):
        images = source_images(config.source, n_slices=config.slices, shape=config.recon, rng=rng)
        volume = to_kspace_volume(images, config=config, rng=rng, name=f"{config.source}_{config.seed}_{v:03d}")
        paths.append(write_volume(out / f"{volume.name}.h5", volume))
    return paths


def to_kspace_volume(images: np.ndarray, *, config: SimulationConfig, rng: np.random.Generator,
                     name: str) -> Volume:
    """Turn magnitude images ``(S, h, w)`` in [0, 1] into a fully sampled fastMRI volume."""
    s, h, w = images.shape
    big_h, big_w = config.size
    canvas = np.zeros((s, big_h, big_w), np.float64)
    top, left = (big_h - h) // 2, (big_w - w) // 2
    canvas[:, top : top + h, left : left + w] = images
    complex_image = canvas * bias_field((big_h, big_w), rng) * np.exp(1j * smooth_phase((big_h, big_w), rng))
    if config.coils > 1:
        import sigpy.mri  # only multi-coil needs sigpy (and its numba import time)

        maps = sigpy.mri.birdcage_maps((config.coils, big_h, big_w), r=1.2).astype(np.complex128)
        complex_image = complex_image[:, None] * maps[None]  # (S, C, H, W)
    kspace = fft2c(complex_image)
    sigma = config.noise * float(np.abs(complex_image).max())
    kspace = kspace + sigma / np.sqrt(2) * (rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape))
    coil_images = ifft2c(kspace)
    target = rss(coil_images) if config.coils > 1 else np.abs(coil_images)
    target = center_crop(target, config.recon)
    attrs = {"acquisition": f"SIM_{config.source.upper()}", "simulated": True, "noise_sigma": sigma}
    return Volume(kspace=kspace.astype(np.complex64), header=Header.default(config.size, config.recon),
                  target=target.astype(np.float32), attrs=attrs, name=name)


def bias_field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field in about [0.7, 1.3]: a tilted plane plus a broad Gaussian bump."""
    y, x = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    cy, cx = rng.uniform(-0.8, 0.8, size=2)
    bump = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / rng.uniform(0.5, 1.5))
    plane = rng.uniform(-0.1, 0.1) * y + rng.uniform(-0.1, 0.1) * x
    return 0.85 + 0.3 * bump + plane


def smooth_phase(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth phase map (radians): a small linear ramp plus a low-frequency random field of about ±π/2."""
    y, x = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    field = gaussian_filter(rng.standard_normal(shape), sigma=min(shape) / 6, mode="wrap")
    field = field / (np.abs(field).max() + 1e-12) * (np.pi / 2)
    return field + rng.uniform(-0.5, 0.5) * x + rng.uniform(-0.5, 0.5) * y


def source_images(source: str, *, n_slices: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Magnitude images ``(n_slices, h, w)`` in [0, 1] from ``source`` (see :data:`SOURCES`)."""
    if source == "phantom":
        return anatomical_phantom(n_slices=n_slices, shape=shape, rng=rng)
    if source == "natural":
        return natural_images(n_slices=n_slices, shape=shape, rng=rng)
    if source == "mni_brain":
        return mni_brain_images(n_slices=n_slices, shape=shape, rng=rng)
    loaders: dict[str, Callable[[], np.ndarray]] = {
        "shepp_logan": _shepp_logan, "nibabel_epi": _nibabel_epi, "nibabel_t1": _nibabel_t1,
        "skimage_brain": _skimage_brain,
    }
    volume = loaders[source]()  # (S, y, x)
    picks = np.linspace(0, volume.shape[0] - 1, n_slices).round().astype(int) if volume.shape[0] > 1 else [0] * n_slices
    return np.stack([_fit_square(volume[i], shape) for i in picks])


def anatomical_phantom(*, n_slices: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random head-like phantoms ``(S, h, w)``: a skull rim, soft tissue and textured inner structures."""
    h, w = shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    head = rng.uniform(0.75, 0.92, size=2)
    n_inner = int(rng.integers(6, 15))
    centres = rng.uniform(-0.5, 0.5, size=(n_inner, 2)) * head
    axes = rng.uniform(0.06, 0.35, size=(n_inner, 2)) * head
    angles = rng.uniform(0, np.pi, size=n_inner)
    values = rng.uniform(-0.35, 0.45, size=n_inner)
    textures = [gaussian_filter(rng.standard_normal(shape), sigma=rng.uniform(1.0, 3.0)) for _ in range(n_inner)]
    slices = []
    for z in np.linspace(-0.7, 0.7, n_slices):
        extent = np.sqrt(1 - z**2)  # structures grow then shrink through the volume, like anatomy
        image = 0.55 * _ellipse(y, x, (0, 0), head * extent, 0.0)
        image += 0.4 * (_ellipse(y, x, (0, 0), head * extent, 0.0) - _ellipse(y, x, (0, 0), head * extent - 0.05, 0.0))
        for i in range(n_inner):
            inside = _ellipse(y, x, centres[i], axes[i] * extent, angles[i])
            image += inside * (values[i] + 0.08 * textures[i] / (textures[i].std() + 1e-12))
        slices.append(np.clip(image, 0, None))
    volume = np.stack(slices)
    return volume / volume.max()


def natural_images(*, n_slices: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Slices ``(S, h, w)`` cut from one bundled photograph, drifting smoothly through the volume.

    The crop window slides and the contrast curve (gamma) is random; half of the volumes sit inside
    a body-like ellipse on a dark background, as most MR slices do, the other half fill the field of
    view (like the T1 test volume).
    """
    photo = _gray_photo(str(rng.choice(NATURAL_IMAGES)))
    photo = np.rot90(photo, k=int(rng.integers(4)))
    if rng.random() < 0.5:
        photo = photo[:, ::-1]
    side = int(min(photo.shape) * rng.uniform(0.45, 1.0))
    start = rng.uniform(0, 1, size=2) * (np.array(photo.shape) - side)
    drift = rng.uniform(-0.15, 0.15, size=2) * side
    end = np.clip(start + drift, 0, np.array(photo.shape) - side)
    gamma = rng.uniform(0.6, 1.6)
    h, w = shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    support = _ellipse(y, x, rng.uniform(-0.1, 0.1, size=2), rng.uniform(0.7, 0.95, size=2), rng.uniform(0, np.pi))
    support = gaussian_filter(support, 1.0) if rng.random() < 0.5 else np.ones(shape)
    slices = []
    for t in np.linspace(0, 1, n_slices):
        top, left = np.round(start + t * (end - start)).astype(int)
        crop = photo[top : top + side, left : left + side]
        slices.append(resize(crop, shape, order=1, anti_aliasing=True) ** gamma * support)
    volume = np.clip(np.stack(slices), 0, None)
    return volume / (volume.max() + 1e-12)


def mni_brain_images(*, n_slices: int, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Neighbouring slices ``(S, h, w)`` of the MNI152 T1 brain, with a random view, contrast and resolution.

    Domain randomisation over one real brain: the slab's axis (axial, coronal or sagittal) and
    position, left-right flips, a random smooth tissue-contrast curve (so grey matter, white matter
    and fluid take other relative brightnesses, as in T2- or proton-density-weighted scans), and,
    for half of the volumes, a blur of up to 2 pixels, as a coarser acquisition would give.
    """
    brain = _mni_template()
    axis = int(rng.integers(3))
    stack = np.moveaxis(brain, axis, 0)  # (slices, a, b)
    extent = np.flatnonzero(stack.reshape(len(stack), -1).max(axis=1) > 0.05)
    lo, hi = extent[0] + 0.2 * (extent[-1] - extent[0]), extent[0] + 0.8 * (extent[-1] - extent[0])
    step = int(rng.integers(1, 4))
    first = int(rng.uniform(lo, max(lo, hi - step * (n_slices - 1))))
    picks = np.clip(first + step * np.arange(n_slices), 0, len(stack) - 1)
    curve = np.concatenate([[0.0], np.sort(rng.uniform(0.05, 1.0, size=2)), rng.uniform(0.2, 1.0, size=2)])
    if rng.random() < 0.5:
        curve[1:] = curve[1:][::-1].copy()  # bright fluid and dark white matter, as in T2 weighting
    sigma = rng.uniform(0.0, 2.0) if rng.random() < 0.5 else 0.0
    flip = rng.random() < 0.5
    slices = []
    for i in picks:
        image = np.rot90(stack[i])
        image = np.interp(image, np.linspace(0, 1, len(curve)), curve) * (image > 0.02)
        image = gaussian_filter(image, sigma) if sigma else image
        slices.append(_fit_square(image[:, ::-1] if flip else image, shape))
    return np.stack(slices)


@functools.lru_cache(maxsize=1)
def _mni_template() -> np.ndarray:
    """The MNI ICBM152 2009a T1 template (197×233×189, 1 mm, skull-stripped) scaled to [0, 1]."""
    import importlib.util

    import nibabel as nib

    spec = importlib.util.find_spec("nilearn")  # the file ships in nilearn's wheel; nilearn itself is not imported
    path = (Path(spec.origin).parent / "datasets" / "data" / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
            if spec and spec.origin else None)
    if path is None or not path.is_file():
        raise DataError("The MNI brain template ships with nilearn, which is not installed; "
                        "`pip install 'mlpilot[mri]'` or choose another --source.")
    data = np.asarray(nib.load(path).dataobj, dtype=np.float64)
    return data / data.max()


def _gray_photo(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    image = np.asarray(getattr(data, name)(), dtype=np.float64) / 255.0
    return rgb2gray(image[..., :3]) if image.ndim == 3 else image


def _ellipse(y: np.ndarray, x: np.ndarray, centre: tuple[float, float] | np.ndarray,
             axes: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    dy, dx = y - centre[0], x - centre[1]
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    return ((u / max(axes[1], 1e-3)) ** 2 + (v / max(axes[0], 1e-3)) ** 2 <= 1.0).astype(np.float64)


def _fit_square(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pad ``image`` to a square (keeping its aspect ratio), resize to ``shape``, scale to [0, 1]."""
    image = np.clip(np.asarray(image, dtype=np.float64), 0, None)
    side = max(image.shape)
    padded = np.zeros((side, side))
    top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    padded[top : top + image.shape[0], left : left + image.shape[1]] = image
    out = resize(padded, shape, order=3, anti_aliasing=True, mode="constant")
    return np.clip(out, 0, None) / (out.max() + 1e-12)


def _shepp_logan() -> np.ndarray:
    from skimage.data import shepp_logan_phantom

    return shepp_logan_phantom()[None]


def _nibabel_file(name: str) -> np.ndarray:
    import nibabel as nib
    from nibabel.testing import data_path

    path = os.path.join(data_path, name)
    if not os.path.isfile(path):
        raise DataError(f"nibabel's test image '{name}' is not installed here; choose another --source.")
    return np.asarray(nib.load(path).dataobj, dtype=np.float64)


def _nibabel_epi() -> np.ndarray:
    # Real 2 mm EPI brain (128×96 in plane, 24 slices): first time point, slices first, head up.
    data = _nibabel_file("example4d.nii.gz")[..., 0]  # (x, y, z)
    return np.rot90(np.moveaxis(data, 2, 0), k=1, axes=(1, 2))


def _nibabel_t1() -> np.ndarray:
    data = _nibabel_file("anatomical.nii")  # (x, y, z) = (33, 41, 25), 2 mm
    return np.rot90(np.moveaxis(data, 2, 0), k=1, axes=(1, 2))


def _skimage_brain() -> np.ndarray:
    from skimage import data

    try:
        return np.asarray(data.brain(), dtype=np.float64)  # (10, 256, 256)
    except (ModuleNotFoundError, ConnectionError, OSError, ValueError) as exc:
        raise DataError(
            f"scikit-image's brain() MRI is not available offline here ({type(exc).__name__}: it needs pooch and a "
            f"download); use --source nibabel_epi for a real MR image that ships with nibabel."
        ) from exc
