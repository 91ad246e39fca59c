"""Models, training, checkpoints and the predictor."""

import json

import numpy as np
import pytest
import torch

import mlpilot
from mlpilot.errors import ArtifactError, ConfigError, DataError
from mlpilot.tasks.mri.dataset import MaskTransform, SliceDataset
from mlpilot.tasks.mri.masks import MaskFunc
from mlpilot.tasks.mri.models import ModelConfig, Unet, build_model
from mlpilot.tasks.mri.training import TrainConfig, train, train_step


@pytest.mark.parametrize(("shape", "pools"), [((1, 1, 32, 32), 3), ((2, 2, 21, 17), 2)])
def test_unet_keeps_shape(shape, pools):
    assert Unet(shape[1], 3, chans=4, num_pool_layers=pools)(torch.zeros(shape)).shape == (shape[0], 3, *shape[2:])


@pytest.mark.parametrize("kind", ["unet", "varnet"])
def test_models_map_kspace_to_cropped_images(multicoil_dir, kind):
    sample = SliceDataset(multicoil_dir, transform=MaskTransform(MaskFunc(4)))[0]
    model = build_model(ModelConfig(kind=kind, chans=4, num_pool_layers=2, cascades=2, sens_chans=2, sens_pools=2))
    out = model(sample.masked_kspace[None], sample.mask[None], sample.crop)
    assert out.shape == (1, 40, 40) and torch.isfinite(out).all()


@pytest.mark.parametrize("data_dir", ["singlecoil_dir", "multicoil_dir"])
def test_unet_data_consistency_keeps_what_was_measured(data_dir, request):
    from mlpilot.tasks.mri.physics import zero_filled

    torch.manual_seed(0)
    folder = request.getfixturevalue(data_dir)
    sample = SliceDataset(folder, transform=MaskTransform(MaskFunc(4)))[0]
    kspace, crop = sample.masked_kspace[None], sample.crop
    config = ModelConfig(chans=4, num_pool_layers=2, data_consistency=True)
    untrained = build_model(config)
    assert torch.allclose(untrained(kspace, sample.mask[None], crop),  # starts exactly at zero-filling
                          zero_filled(kspace, crop=crop, multicoil=True), atol=1e-4)
    model = build_model(config)
    for parameter in model.parameters():  # any network, however wrong its output
        parameter.data.normal_(0, 0.3)
    full = SliceDataset(folder, transform=MaskTransform(MaskFunc(4)))
    volume = full.volumes[0]
    fully_sampled = torch.from_numpy(volume.kspace[0] if volume.multicoil else volume.kspace[0][None])[None]
    every_column = torch.ones_like(sample.mask)[None]
    truth = zero_filled(fully_sampled, crop=crop, multicoil=True)
    assert torch.allclose(model(fully_sampled, every_column, crop), truth, atol=1e-3 * float(truth.max()))
    assert not torch.allclose(model(kspace, sample.mask[None], crop), untrained(kspace, sample.mask[None], crop))


def test_runs_saved_before_data_consistency_existed_load_without_it():
    saved = ModelConfig(chans=4).to_dict()
    assert ModelConfig.from_dict(saved).data_consistency is True
    del saved["data_consistency"]  # a config.json written by an earlier mlpilot
    assert ModelConfig.from_dict(saved).data_consistency is False


def test_two_training_steps_decrease_the_loss(singlecoil_dir):
    torch.manual_seed(0)
    dataset = SliceDataset(singlecoil_dir, transform=MaskTransform(MaskFunc(4)))
    model = build_model(ModelConfig(chans=4, num_pool_layers=2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = [train_step(model, optimizer, dataset, [0, 1], ssim_weight=0.5) for _ in range(3)]
    assert losses[2] < losses[0]


def test_training_run_saves_a_loadable_safetensors_checkpoint(unet_run, singlecoil_dir):
    manifest = json.loads((unet_run / "manifest.json").read_text())
    assert manifest["kind"] == "mri" and manifest["steps"] == 2
    assert (unet_run / "models" / "unet" / "model.safetensors").is_file()
    assert not list(unet_run.rglob("*.pt")) and not list(unet_run.rglob("*.pkl"))
    predictor = mlpilot.load(unet_run)
    volume_path = sorted(singlecoil_dir.glob("*.h5"))[0]
    from mlpilot.tasks.mri.data import read_volume

    recon = predictor.reconstruct(read_volume(volume_path).kspace, acceleration=4, seed=0)
    assert recon.shape == (2, 40, 40) and recon.dtype == np.float32


def test_resume_continues_from_the_checkpoint(unet_run, singlecoil_dir, tmp_path):
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(unet_run, copy)
    config = TrainConfig(model=ModelConfig(kind="unet", chans=4, num_pool_layers=2), time_limit=None, max_steps=1,
                         batch_size=2, resume=True)
    train(singlecoil_dir, copy, config)
    assert json.loads((copy / "manifest.json").read_text())["steps"] == 3
    with pytest.raises(ConfigError, match="resume with the same"):
        train(singlecoil_dir, copy, TrainConfig(model=ModelConfig(chans=8, num_pool_layers=2), time_limit=None,
                                                max_steps=1, resume=True))


def test_tampered_checkpoint_is_refused(unet_run, tmp_path):
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(unet_run, copy)
    weights = copy / "models" / "unet" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum"):
        mlpilot.load(copy)


def test_training_needs_two_volumes_and_a_limit(singlecoil_dir, tmp_path):
    with pytest.raises(DataError, match="at least 2 volumes"):
        train(sorted(singlecoil_dir.glob("*.h5"))[0], tmp_path / "r", TrainConfig(time_limit=1))
    with pytest.raises(ConfigError, match="time limit or a step limit"):
        TrainConfig(time_limit=None)


def test_reconstruct_rejects_bad_kspace(unet_run):
    predictor = mlpilot.load(unet_run)
    with pytest.raises(DataError, match="complex"):
        predictor.reconstruct(np.zeros((2, 48, 40), np.float32))
    with pytest.raises(DataError, match="columns"):
        predictor.reconstruct(np.ones((2, 48, 40), np.complex64), mask=np.ones(7))


def test_varnet_trains_on_multicoil_and_reloads(multicoil_dir, tmp_path):
    config = TrainConfig(model=ModelConfig(kind="varnet", chans=2, num_pool_layers=1, cascades=1, sens_chans=2,
                                           sens_pools=1), time_limit=None, max_steps=1, batch_size=2)
    run = train(multicoil_dir, tmp_path / "varnet", config)
    predictor = mlpilot.load(run)
    assert predictor.kind == "varnet"
    from mlpilot.tasks.mri.data import read_volume

    kspace = read_volume(sorted(multicoil_dir.glob("*.h5"))[0]).kspace  # (S, C, H, W)
    assert predictor.reconstruct(kspace, acceleration=8, seed=1).shape == (2, 40, 40)


def test_training_is_reproducible_with_a_seed(singlecoil_dir, tmp_path):
    from safetensors.torch import load_file

    config = TrainConfig(model=ModelConfig(chans=4, num_pool_layers=2), time_limit=None, max_steps=2, batch_size=2,
                         seed=3)
    runs = [train(singlecoil_dir, tmp_path / f"r{i}", config) for i in range(2)]
    first, second = (load_file(str(r / "checkpoint" / "last.safetensors")) for r in runs)
    assert all(torch.equal(first[name], second[name]) for name in first)
