"""``mlpilot mri`` end to end, and one-sentence errors for bad input."""

import h5py
import numpy as np
from typer.testing import CliRunner

from mlpilot.cli.main import app

runner = CliRunner()


def test_simulate_writes_fastmri_files(tmp_path):
    result = runner.invoke(app, ["mri", "simulate", "--out", str(tmp_path), "--volumes", "2", "--coils", "2",
                                 "--slices", "2", "--size", "40", "32"])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.h5"))
    assert len(files) == 2
    with h5py.File(files[0]) as handle:
        assert handle["kspace"].shape == (2, 2, 40, 32) and handle["reconstruction_rss"].shape == (2, 32, 32)


def test_train_cli_can_turn_data_consistency_off(singlecoil_dir, tmp_path):
    import json

    out = tmp_path / "plain"
    result = runner.invoke(app, ["mri", "train", str(singlecoil_dir), "--out", str(out), "--max-steps", "1",
                                 "--chans", "4", "--pools", "2", "--no-data-consistency", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "models" / "unet" / "config.json").read_text())
    assert config["data_consistency"] is False


def test_reconstruct_end_to_end(unet_run, singlecoil_dir, tmp_path):
    source = sorted(singlecoil_dir.glob("*.h5"))[0]
    out = tmp_path / "recon.h5"
    result = runner.invoke(app, ["mri", "reconstruct", str(unet_run), str(source), "--out", str(out),
                                 "--acceleration", "4"])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as handle:
        assert handle["reconstruction"].shape == (2, 40, 40) and handle.attrs["acceleration"] == 4
        assert "ismrmrd_header" in handle


def test_reconstruct_accepts_undersampled_input(unet_run, singlecoil_dir, tmp_path):
    from mlpilot.tasks.mri.data import Volume, read_volume, write_volume
    from mlpilot.tasks.mri.masks import MaskFunc, apply_mask

    volume = read_volume(sorted(singlecoil_dir.glob("*.h5"))[0])
    mask, _ = MaskFunc(4)(volume.kspace.shape[-1], seed=0)
    test_file = write_volume(tmp_path / "test.h5", Volume(kspace=apply_mask(volume.kspace, mask),
                                                         header=volume.header, mask=mask, name="test.h5"))
    result = runner.invoke(app, ["mri", "reconstruct", str(unet_run), str(test_file), "--out",
                                 str(tmp_path / "r.h5")])
    assert result.exit_code == 0, result.output
    with h5py.File(tmp_path / "r.h5") as handle:
        assert np.isfinite(handle["reconstruction"][()]).all()


def test_evaluate_prints_table_and_writes_panel(unet_run, singlecoil_dir, tmp_path):
    panel = tmp_path / "panel.png"
    result = runner.invoke(app, ["mri", "evaluate", str(unet_run), str(singlecoil_dir), "--acceleration", "4",
                                 "--cs-iterations", "20", "--panel", str(panel)])
    assert result.exit_code == 0, result.output
    assert "Zero-filled" in result.output and "Compressed sensing" in result.output and "Model" in result.output
    assert panel.is_file() and panel.stat().st_size < 500_000


def _one_sentence_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_bad_inputs_exit_1_with_one_sentence(unet_run, tmp_path):
    missing = runner.invoke(app, ["mri", "reconstruct", str(unet_run), str(tmp_path / "nope.h5"),
                                  "--out", str(tmp_path / "o.h5")])
    assert "does not exist" in _one_sentence_error(missing)
    no_run = runner.invoke(app, ["mri", "evaluate", str(tmp_path), str(tmp_path)])
    assert "No mlpilot run" in _one_sentence_error(no_run)
    empty = runner.invoke(app, ["mri", "train", str(tmp_path), "--out", str(tmp_path / "r"), "--time-limit", "5"])
    assert "no .h5 files" in _one_sentence_error(empty)
    bad_model = runner.invoke(app, ["mri", "train", str(tmp_path), "--out", str(tmp_path / "r"), "--model", "gan"])
    assert "Unknown MRI model" in _one_sentence_error(bad_model)
    bad_source = runner.invoke(app, ["mri", "simulate", "--out", str(tmp_path), "--source", "webcam"])
    assert "Unknown simulation source" in _one_sentence_error(bad_source)
    bad_acc = runner.invoke(app, ["mri", "train", str(tmp_path), "--out", str(tmp_path / "r"), "--acceleration", "0"])
    assert "Acceleration 0" in _one_sentence_error(bad_acc)
