"""Cartesian column masks: kept fraction, centre band, seeding, sign-safe application."""

import numpy as np
import pytest

from mlpilot.errors import ConfigError
from mlpilot.tasks.mri.masks import MaskFunc, apply_mask, center_band, mask_from_kspace, volume_seed


@pytest.mark.parametrize(("acc", "fraction"), [(4, 0.08), (8, 0.04)])
def test_random_mask_keeps_one_in_acc_columns_on_average_and_the_centre(acc, fraction):
    func = MaskFunc(acc)
    assert func.fraction == fraction
    kept = []
    for seed in range(400):
        mask, num_low = func(368, seed=seed)
        assert num_low == round(368 * fraction)
        assert np.all(mask[center_band(368, num_low) == 1] == 1)
        kept.append(mask.mean())
    assert abs(np.mean(kept) - 1 / acc) < 0.005


def test_centre_band_is_placed_as_fastmri_places_it():
    band = center_band(368, 29)
    assert band.sum() == 29 and band[170] == 1 and band[169] == 0 and band[198] == 1 and band[199] == 0


@pytest.mark.parametrize("acc", [4, 8])
def test_equispaced_mask_is_every_acc_th_column_plus_centre(acc):
    mask, num_low = MaskFunc(acc, kind="equispaced")(320, seed=3)
    outside = np.flatnonzero((mask == 1) & (center_band(320, num_low) == 0))
    assert len(outside) > 0 and np.all(np.diff(outside) % acc == 0)
    spaced = np.arange(outside[0] % acc, 320, acc)
    assert np.all(mask[spaced] == 1)
    assert mask.sum() == len(set(spaced) | set(np.flatnonzero(center_band(320, num_low))))


@pytest.mark.parametrize(("acc", "expected"), [(4, 0.25), (8, 0.125)])
def test_equispaced_fraction_mask_keeps_about_one_in_acc(acc, expected):
    fractions = [MaskFunc(acc, kind="equispaced_fraction")(368, seed=s)[0].mean() for s in range(20)]
    assert abs(np.mean(fractions) - expected) < 0.01


@pytest.mark.parametrize("kind", ["random", "equispaced", "equispaced_fraction"])
def test_masks_are_reproducible_per_volume(kind):
    func = MaskFunc(4, kind=kind)
    seed = volume_seed("file1000001.h5")
    assert seed == volume_seed("file1000001.h5")  # stable across processes (not Python's salted hash)
    assert np.array_equal(func(368, seed=seed)[0], func(368, seed=seed)[0])
    draws = {func(368, seed=volume_seed(f"file{i}.h5"))[0].tobytes() for i in range(5)}
    assert len(draws) > 1


def test_apply_mask_writes_positive_zeros_and_keeps_sampled_columns():
    kspace = -(np.ones((4, 6)) + 1j * np.ones((4, 6))).astype(np.complex64)
    mask = np.array([1, 0, 1, 0, 0, 1], np.float32)
    masked = apply_mask(kspace, mask)
    dropped = masked[:, mask == 0]
    assert not np.signbit(dropped.real).any() and not np.signbit(dropped.imag).any()  # no -0 leak
    assert np.array_equal(masked[:, mask == 1], kspace[:, mask == 1])
    assert np.array_equal(mask_from_kspace(masked), mask)


def test_bad_mask_settings_are_config_errors():
    with pytest.raises(ConfigError, match="mask type"):
        MaskFunc(4, kind="spiral")
    with pytest.raises(ConfigError, match="Centre fraction"):
        MaskFunc(4, center_fraction=0.5)
