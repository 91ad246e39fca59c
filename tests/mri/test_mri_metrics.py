"""fastMRI metrics against direct computations."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mlpilot.errors import DataError
from mlpilot.tasks.mri.metrics import VolumeMetrics, mean_metrics, nmse, psnr, ssim


@pytest.fixture
def volumes():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 2, size=(3, 24, 24))
    return gt, gt + rng.normal(0, 0.1, size=gt.shape)


def test_nmse_and_psnr_on_known_inputs():
    gt = np.ones((2, 8, 8))
    gt[0, 0, 0] = 2.0  # volume max 2
    pred = gt + 0.1
    assert nmse(gt, pred) == pytest.approx(0.01 * 128 / (127 + 4))
    assert psnr(gt, pred) == pytest.approx(10 * np.log10(4 / 0.01))


def test_metrics_match_skimage_with_the_volume_maximum(volumes):
    gt, pred = volumes
    assert psnr(gt, pred) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=gt.max()))
    per_slice = [structural_similarity(gt[s], pred[s], data_range=gt.max(), win_size=7) for s in range(3)]
    assert ssim(gt, pred) == pytest.approx(np.mean(per_slice))
    # The slice maximum would give a different (wrong) number: the data range is the volume's.
    assert ssim(gt, pred) != pytest.approx(np.mean([structural_similarity(gt[s], pred[s], data_range=gt[s].max())
                                                    for s in range(3)]), abs=1e-9)
    assert ssim(gt, gt) == pytest.approx(1.0)


def test_volume_metrics_are_averaged_over_volumes(volumes):
    gt, pred = volumes
    a, b = VolumeMetrics.compute(gt, pred), VolumeMetrics.compute(gt, gt * 0.9)
    means = mean_metrics([a, b])
    assert means["psnr"] == pytest.approx((a.psnr + b.psnr) / 2) and means["volumes"] == 2


def test_metrics_need_matching_volumes():
    with pytest.raises(DataError, match="same"):
        nmse(np.ones((2, 8, 8)), np.ones((8, 8)))
