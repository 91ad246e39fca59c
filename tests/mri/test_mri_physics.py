"""Centred orthonormal FFTs, coil combination, cropping and data consistency."""

import numpy as np
import pytest
import torch

from mlpilot.tasks.mri.physics import center_crop, data_consistency, fft2c, ifft2c, rss, zero_filled


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((2, 3, 20, 16)) + 1j * rng.standard_normal((2, 3, 20, 16))).astype(np.complex64)


def test_fft_round_trip_numpy_and_torch(image):
    np.testing.assert_allclose(ifft2c(fft2c(image)), image, atol=1e-5)
    tensor = torch.from_numpy(image)
    torch.testing.assert_close(ifft2c(fft2c(tensor)), tensor, atol=1e-5, rtol=1e-5)


def test_fft_is_orthonormal_parseval_and_agrees_across_backends(image):
    k = fft2c(image)
    np.testing.assert_allclose(np.sum(np.abs(k) ** 2), np.sum(np.abs(image) ** 2), rtol=1e-5)
    np.testing.assert_allclose(fft2c(torch.from_numpy(image)).numpy(), k, atol=1e-5)


def test_fft_is_centred():
    # A constant image has all its energy at the centre of k-space (DC at index H//2, W//2).
    k = fft2c(np.ones((8, 6), np.complex64))
    assert np.argmax(np.abs(k)) == np.ravel_multi_index((4, 3), (8, 6))
    np.testing.assert_allclose(np.abs(k[4, 3]), np.sqrt(48), rtol=1e-6)


def test_rss_and_crop():
    coils = np.stack([np.full((6, 4), 3.0), np.full((6, 4), 4.0)])
    np.testing.assert_allclose(rss(coils, coil_axis=0), 5.0)
    assert center_crop(np.arange(36).reshape(6, 6), (2, 2)).tolist() == [[14, 15], [20, 21]]
    assert center_crop(np.zeros((6, 3)), (4, 4)).shape == (4, 3)  # narrower than the recon size: kept whole


def test_zero_filled_of_full_kspace_is_the_magnitude(image):
    single = image[:, 0]
    np.testing.assert_allclose(zero_filled(fft2c(single), crop=(10, 10), multicoil=False),
                               center_crop(np.abs(single), (10, 10)), atol=1e-5)
    np.testing.assert_allclose(zero_filled(fft2c(image), crop=(10, 10), multicoil=True),
                               center_crop(rss(image), (10, 10)), atol=1e-5)


def test_data_consistency_keeps_measured_lines_exactly(image):
    measured = fft2c(image)
    estimate = np.zeros_like(measured) + (1 + 2j)
    mask = np.zeros(16, np.float32)
    mask[[0, 5, 8, 9]] = 1
    out = data_consistency(estimate, measured, mask)
    assert np.array_equal(out[..., mask == 1], measured[..., mask == 1])
    assert np.array_equal(out[..., mask == 0], estimate[..., mask == 0])
    out_t = data_consistency(torch.from_numpy(estimate), torch.from_numpy(measured), torch.from_numpy(mask))
    assert torch.equal(out_t, torch.from_numpy(out))
