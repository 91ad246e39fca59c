"""The fastMRI HDF5 layout: round trips, the ISMRMRD header, simulation, and clear errors."""

import h5py
import numpy as np
import pytest

from mlpilot.errors import DataError
from mlpilot.tasks.mri.data import Header, Volume, read_volume, write_volume
from mlpilot.tasks.mri.dataset import MaskTransform, SliceDataset
from mlpilot.tasks.mri.masks import MaskFunc
from mlpilot.tasks.mri.physics import center_crop, ifft2c, rss
from mlpilot.tasks.mri.simulation import SimulationConfig, simulate


def _volume(coils: int) -> Volume:
    rng = np.random.default_rng(coils)
    shape = (2, coils, 16, 12) if coils > 1 else (2, 16, 12)
    kspace = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    image = ifft2c(kspace)
    target = center_crop(rss(image) if coils > 1 else np.abs(image), (10, 10)).astype(np.float32)
    header = Header(encoded_size=(16, 12), recon_size=(10, 10), padding=(1, 11))
    return Volume(kspace=kspace, header=header, target=target, attrs={"acquisition": "CORPD_FBK"}, name="v.h5")


@pytest.mark.parametrize(("coils", "key"), [(1, "reconstruction_esc"), (4, "reconstruction_rss")])
def test_round_trip_in_the_fastmri_layout(tmp_path, coils, key):
    original = _volume(coils)
    path = write_volume(tmp_path / "file1.h5", original)
    with h5py.File(path) as handle:
        assert set(handle) == {"kspace", "ismrmrd_header", key}
        assert handle["kspace"].dtype == np.complex64 and handle[key].dtype == np.float32
        assert set(handle.attrs) >= {"max", "norm", "acquisition", "patient_id"}
        assert handle.attrs["max"] == pytest.approx(original.target.max())
        assert handle.attrs["norm"] == pytest.approx(np.linalg.norm(original.target))
    loaded = read_volume(path)
    assert np.array_equal(loaded.kspace, original.kspace) and np.array_equal(loaded.target, original.target)
    assert loaded.header == original.header and loaded.multicoil == (coils > 1)
    assert loaded.attrs["acquisition"] == "CORPD_FBK"


def test_header_xml_is_ismrmrd_and_gives_fastmri_padding():
    header = Header(encoded_size=(640, 368), recon_size=(320, 320), padding=(4, 364))
    xml = header.to_xml()
    assert b"http://www.ismrm.org/ISMRMRD" in xml and b"<reconSpace>" in xml
    parsed = Header.from_xml(xml, where="x")
    assert parsed == header  # padding_left = enc_y//2 - center; right = left + maximum + 1


def test_simulated_files_are_fastmri_volumes(singlecoil_dir, multicoil_dir):
    single = read_volume(sorted(singlecoil_dir.glob("*.h5"))[0])
    multi = read_volume(sorted(multicoil_dir.glob("*.h5"))[0])
    assert single.kspace.shape == (2, 48, 40) and single.target.shape == (2, 40, 40)
    assert multi.kspace.shape == (2, 3, 48, 40) and multi.header.recon_size == (40, 40)
    # The target is what fastMRI computes from the (noisy) fully sampled k-space.
    np.testing.assert_allclose(multi.target, center_crop(rss(ifft2c(multi.kspace)), (40, 40)), rtol=1e-4, atol=1e-6)


def test_slice_dataset_gives_typed_samples(multicoil_dir):
    dataset = SliceDataset(multicoil_dir, transform=MaskTransform(MaskFunc(4)))
    sample = dataset[1]
    assert len(dataset) == 4 and sample.slice_num == 1
    assert sample.masked_kspace.shape == (3, 48, 40) and sample.mask.shape == (40,)
    assert sample.target.shape == (40, 40) and sample.crop == (40, 40)
    assert np.array_equal(dataset[0].mask.numpy(), sample.mask.numpy())  # one mask per volume when seeded


def test_missing_file_key_and_bad_shape_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_volume(tmp_path / "nope.h5")
    with h5py.File(tmp_path / "nokspace.h5", "w") as handle:
        handle["image"] = np.zeros((2, 4, 4))
    with pytest.raises(DataError, match="no 'kspace'"):
        read_volume(tmp_path / "nokspace.h5")
    with h5py.File(tmp_path / "real.h5", "w") as handle:
        handle["kspace"] = np.zeros((4, 4), np.float32)
    with pytest.raises(DataError, match="expected complex"):
        read_volume(tmp_path / "real.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5"):
        read_volume(tmp_path / "text.h5")


def test_natural_source_gives_bounded_seeded_volumes_from_bundled_photos(tmp_path):
    from mlpilot.tasks.mri.simulation import natural_images

    first = natural_images(n_slices=4, shape=(48, 40), rng=np.random.default_rng(3))
    again = natural_images(n_slices=4, shape=(48, 40), rng=np.random.default_rng(3))
    assert first.shape == (4, 48, 40) and np.array_equal(first, again)
    assert first.min() >= 0 and np.isclose(first.max(), 1.0)
    assert np.abs(np.diff(first, axis=0)).mean() < np.abs(first).mean()  # neighbouring slices look alike
    paths = simulate(tmp_path, SimulationConfig(volumes=2, slices=2, size=(48, 40), source="natural"))
    assert [p.name for p in paths] == ["natural_0_000.h5", "natural_0_001.h5"]


def test_mni_brain_source_gives_seeded_brain_slabs_on_a_dark_background():
    from mlpilot.tasks.mri.simulation import mni_brain_images

    volumes = [mni_brain_images(n_slices=3, shape=(40, 40), rng=np.random.default_rng(seed)) for seed in range(4)]
    again = mni_brain_images(n_slices=3, shape=(40, 40), rng=np.random.default_rng(0))
    assert np.array_equal(volumes[0], again)
    assert not np.array_equal(volumes[0], volumes[1])  # other seeds: another view, slab or contrast
    for volume in volumes:
        assert volume.shape == (3, 40, 40) and volume.min() >= 0 and np.isclose(volume.max(), 1.0)
        assert volume[:, 0, :].max() < 0.05 and volume[:, :, 0].max() < 0.05  # brain inside the field of view
        assert (volume > 0.1).mean() > 0.15  # and a real part of it, not an empty edge slice


def test_training_on_a_missing_gpu_is_a_config_error(monkeypatch):
    import torch

    from mlpilot.errors import ConfigError
    from mlpilot.tasks.mri.training import TrainConfig

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no GPU"):
        TrainConfig(device="cuda")
    assert TrainConfig().resolved_device() == "cpu"
