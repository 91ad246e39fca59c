"""The fastMRI HDF5 layout: one file per volume, read and written here, plus a slice dataset.

File layout (fastMRI ``data/README``)::

    kspace               complex64 (slices, H, W) single-coil or (slices, coils, H, W) multi-coil
    reconstruction_esc   float32 (slices, h, w)  single-coil target (magnitude, centre-cropped)
    reconstruction_rss   float32 (slices, h, w)  multi-coil target (root-sum-of-squares, centre-cropped)
    ismrmrd_header       ISMRMRD XML bytes; encodedSpace / reconSpace matrix sizes, encodingLimits
    mask                 float32 (W,)            only in undersampled (test) files
    attrs: max (target volume max), norm (target volume L2 norm), acquisition, patient_id,
           acceleration (undersampled files only)
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlpilot.errors import DataError

ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"
TARGET_KEYS = {False: "reconstruction_esc", True: "reconstruction_rss"}


@dataclass(frozen=True)
class Header:
    """What mlpilot reads from the ISMRMRD header: matrix sizes and the acquired column window."""

    encoded_size: tuple[int, int]  # (H, W) of the k-space matrix
    recon_size: tuple[int, int]  # (h, w) the image is centre-cropped to
    padding: tuple[int, int]  # acquired columns [left, right); knee k-space is zero-padded outside

    def to_xml(self) -> bytes:
        (eh, ew), (rh, rw) = self.encoded_size, self.recon_size
        center = ew // 2 - self.padding[0]
        maximum = self.padding[1] - self.padding[0] - 1
        return (
            f'<?xml version="1.0" encoding="utf-8"?>\n<ismrmrdHeader xmlns="{ISMRMRD_NS}">\n'
            f"  <encoding>\n"
            f"    <encodedSpace><matrixSize><x>{eh}</x><y>{ew}</y><z>1</z></matrixSize>"
            f"<fieldOfView_mm><x>{eh}</x><y>{ew}</y><z>1</z></fieldOfView_mm></encodedSpace>\n"
            f"    <reconSpace><matrixSize><x>{rh}</x><y>{rw}</y><z>1</z></matrixSize>"
            f"<fieldOfView_mm><x>{rh}</x><y>{rw}</y><z>1</z></fieldOfView_mm></reconSpace>\n"
            f"    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>{maximum}</maximum>"
            f"<center>{center}</center></kspace_encoding_step_1></encodingLimits>\n"
            f"    <trajectory>cartesian</trajectory>\n  </encoding>\n</ismrmrdHeader>\n"
        ).encode()

    @classmethod
    def from_xml(cls, xml: bytes | str, *, where: str) -> Header:
        try:
            root = ET.fromstring(xml)
            enc = (_xml_int(root, "encodedSpace/matrixSize/x"), _xml_int(root, "encodedSpace/matrixSize/y"))
            rec = (_xml_int(root, "reconSpace/matrixSize/x"), _xml_int(root, "reconSpace/matrixSize/y"))
            center = _xml_int(root, "encodingLimits/kspace_encoding_step_1/center")
            maximum = _xml_int(root, "encodingLimits/kspace_encoding_step_1/maximum")
        except (ET.ParseError, AttributeError, ValueError, TypeError) as exc:
            raise DataError(
                f"The ismrmrd_header of '{where}' is not a readable ISMRMRD header ({exc}); "
                f"check that the file is a fastMRI volume."
            ) from exc
        left = enc[1] // 2 - center
        return cls(encoded_size=enc, recon_size=rec, padding=(left, left + maximum + 1))

    @classmethod
    def default(cls, shape: tuple[int, int], recon_size: tuple[int, int] | None = None) -> Header:
        """A header for a fully acquired ``shape`` k-space; recon size defaults to a centred square."""
        side = min(shape)
        return cls(encoded_size=shape, recon_size=recon_size or (side, side), padding=(0, shape[1]))


def _xml_int(root: ET.Element, path: str) -> int:
    parts = "/".join(f"{{{ISMRMRD_NS}}}{part}" for part in ["encoding", *path.split("/")])
    node = root.find(parts)
    if node is None or node.text is None:
        raise ValueError(f"missing {path}")
    return int(node.text)


@dataclass
class Volume:
    """One fastMRI volume in memory.

    ``kspace`` is complex64 ``(S, H, W)`` (single-coil) or ``(S, C, H, W)`` (multi-coil); ``target``
    is float32 ``(S, h, w)`` or None for files without one (test/undersampled data); ``mask`` is
    float32 ``(W,)`` when the k-space is already undersampled.
    """

    kspace: np.ndarray
    header: Header
    target: np.ndarray | None = None
    mask: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    @property
    def multicoil(self) -> bool:
        return self.kspace.ndim == 4

    @property
    def num_slices(self) -> int:
        return int(self.kspace.shape[0])


def read_volume(path: str | Path, *, load_kspace: bool = True) -> Volume:
    """Read a fastMRI HDF5 file; raise :class:`DataError` naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MRI file '{path}' does not exist; pass a fastMRI .h5 volume.")
    try:
        with h5py.File(path, "r") as handle:
            return _read_open(handle, path, load_kspace=load_kspace)
    except OSError as exc:
        raise DataError(f"'{path}' is not a readable HDF5 file ({exc}); pass a fastMRI .h5 volume.") from exc


def _read_open(handle: h5py.File, path: Path, *, load_kspace: bool) -> Volume:
    if "kspace" not in handle:
        raise DataError(f"'{path}' has no 'kspace' dataset; fastMRI volumes store k-space under 'kspace'.")
    dataset = handle["kspace"]
    if dataset.ndim not in (3, 4) or not np.issubdtype(dataset.dtype, np.complexfloating):
        raise DataError(
            f"'kspace' in '{path}' has shape {dataset.shape} and dtype {dataset.dtype}; expected complex "
            f"(slices, H, W) or (slices, coils, H, W)."
        )
    kspace = dataset[()].astype(np.complex64) if load_kspace else np.empty(dataset.shape, np.complex64)
    shape = tuple(int(s) for s in dataset.shape[-2:])
    if "ismrmrd_header" in handle:
        header = Header.from_xml(bytes(handle["ismrmrd_header"][()]), where=str(path))
    else:
        header = Header.default(shape)  # type: ignore[arg-type]
    key = TARGET_KEYS[dataset.ndim == 4]
    target = handle[key][()].astype(np.float32) if key in handle else None
    if target is not None and (target.ndim != 3 or target.shape[0] != dataset.shape[0]):
        raise DataError(f"'{key}' in '{path}' has shape {target.shape}; expected ({dataset.shape[0]}, h, w).")
    mask = handle["mask"][()].astype(np.float32) if "mask" in handle else None
    attrs = {name: _plain(value) for name, value in handle.attrs.items()}
    return Volume(kspace=kspace, header=header, target=target, mask=mask, attrs=attrs, name=path.name)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value.item() if hasattr(value, "item") else value


def write_volume(path: str | Path, volume: Volume) -> Path:
    """Write ``volume`` in the fastMRI layout; ``max`` and ``norm`` are computed from the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("kspace", data=volume.kspace.astype(np.complex64))
        handle.create_dataset("ismrmrd_header", data=np.bytes_(volume.header.to_xml()))
        if volume.target is not None:
            key = TARGET_KEYS[volume.multicoil]
            handle.create_dataset(key, data=volume.target.astype(np.float32))
            handle.attrs["max"] = float(volume.target.max())
            handle.attrs["norm"] = float(np.linalg.norm(volume.target))
        if volume.mask is not None:
            handle.create_dataset("mask", data=volume.mask.astype(np.float32))
        for name, value in volume.attrs.items():
            if name not in ("max", "norm"):
                handle.attrs[name] = value
        handle.attrs.setdefault("acquisition", "UNKNOWN")
        handle.attrs.setdefault("patient_id", hashlib.sha256(path.stem.encode()).hexdigest())
    return path


def write_reconstruction(path: str | Path, reconstruction: np.ndarray, *, source: Volume,
                         extra_attrs: dict[str, Any] | None = None) -> Path:
    """Write a reconstruction ``(S, h, w)`` as fastMRI's ``save_reconstructions`` does, plus provenance."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.create_dataset("reconstruction", data=reconstruction.astype(np.float32))
        handle.create_dataset("ismrmrd_header", data=np.bytes_(source.header.to_xml()))
        for name in ("acquisition", "patient_id"):
            if name in source.attrs:
                handle.attrs[name] = source.attrs[name]
        handle.attrs["max"] = float(reconstruction.max())
        for name, value in (extra_attrs or {}).items():
            handle.attrs[name] = value
    return path


def list_volumes(root: str | Path) -> list[Path]:
    """The ``.h5`` files of a folder (sorted), or the file itself; DataError if there are none."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"MRI data '{root}' does not exist; pass a folder of fastMRI .h5 files or one file.")
    files = sorted(root.glob("*.h5"))
    if not files:
        raise DataError(
            f"'{root}' holds no .h5 files; run `mlpilot mri simulate --out {root}` or point at fastMRI data."
        )
    return files
