"""Zero-filled and compressed-sensing baselines (sigpy), single- and multi-coil."""

import numpy as np
import pytest

from mlpilot.tasks.mri.baselines import CsConfig, coil_maps
from mlpilot.tasks.mri.data import read_volume
from mlpilot.tasks.mri.masks import MaskFunc
from mlpilot.tasks.mri.metrics import VolumeMetrics
from mlpilot.tasks.mri.recon import cs_volume, targets, undersample_volume, zero_filled_volume


@pytest.mark.parametrize(("folder", "mask_func"), [("singlecoil_dir", MaskFunc(4)),
                                                   ("multicoil_dir", MaskFunc(4)),
                                                   ("multicoil_dir", MaskFunc(3, center_fraction=0.3))])
def test_cs_beats_zero_filling(request, folder, mask_func):
    volume = read_volume(sorted(request.getfixturevalue(folder).glob("*.h5"))[0])
    samples = undersample_volume(volume, mask_func)
    gt = targets(samples)
    zf = VolumeMetrics.compute(gt, zero_filled_volume(samples))
    cs = VolumeMetrics.compute(gt, cs_volume(samples, CsConfig(lamda=0.01, max_iter=150)))
    assert cs.nmse < zf.nmse


def test_coil_maps_are_normalised_where_there_is_signal(multicoil_dir):
    volume = read_volume(sorted(multicoil_dir.glob("*.h5"))[0])
    sample = undersample_volume(volume, MaskFunc(4))[0]
    maps = coil_maps(sample.masked_kspace.numpy(), sample.mask.numpy(), sample.num_low_frequencies)
    combined = np.sqrt((np.abs(maps) ** 2).sum(axis=0))
    assert maps.shape == (3, 48, 40) and np.isfinite(maps).all()
    assert np.median(combined[12:36, 10:30]) == pytest.approx(1.0, abs=0.05)
