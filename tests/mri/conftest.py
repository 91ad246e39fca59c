"""Tiny seeded fastMRI volumes written by fixtures (no downloads)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """Every MRI test runs with torch on one thread (the fixture is in tests/conftest.py)."""


@pytest.fixture(scope="session")
def singlecoil_dir(tmp_path_factory):
    from mlpilot.tasks.mri.simulation import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("mri_single")
    simulate(folder, SimulationConfig(volumes=3, slices=2, coils=1, size=(48, 40), seed=1))
    return folder


@pytest.fixture(scope="session")
def multicoil_dir(tmp_path_factory):
    from mlpilot.tasks.mri.simulation import SimulationConfig, simulate

    folder = tmp_path_factory.mktemp("mri_multi")
    simulate(folder, SimulationConfig(volumes=2, slices=2, coils=3, size=(48, 40), seed=2))
    return folder


@pytest.fixture(scope="session")
def unet_run(singlecoil_dir, tmp_path_factory):
    """A 2-step U-Net run shared by the tests that only read it."""
    from mlpilot.tasks.mri.models import ModelConfig
    from mlpilot.tasks.mri.training import TrainConfig, train

    out = tmp_path_factory.mktemp("mri_runs") / "unet"
    config = TrainConfig(model=ModelConfig(kind="unet", chans=4, num_pool_layers=2), time_limit=None, max_steps=2,
                         batch_size=2)
    return train(singlecoil_dir, out, config)
