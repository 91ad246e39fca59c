"""A tiny U-Net MRI run behind the REST app: upload a fastMRI volume, get its reconstruction file back."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlpilot import api
from mlpilot.serve import create_app
from mlpilot.tasks.mri.data import read_volume

HDF5 = "application/x-hdf5"


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_mri_data")
    return api.mri.simulate(folder, api.mri.SimulationConfig(volumes=2, slices=2, coils=1, size=(48, 40), seed=1))


@pytest.fixture(scope="module")
def predictor(volumes, tmp_path_factory, one_torch_thread):
    out = tmp_path_factory.mktemp("serve_mri_run") / "unet"
    config = api.mri.TrainConfig(model=api.mri.ModelConfig(kind="unet", chans=4, num_pool_layers=2),
                                 time_limit=None, max_steps=2, batch_size=2)
    return api.load(api.mri.train(volumes[0].parent, out, config))


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor.path)) as test_client:
        yield test_client


def _upload(path, name="knee.h5"):
    return {"file": (name, path.read_bytes(), "application/octet-stream")}


def _reconstruction(response) -> tuple[np.ndarray, dict]:
    with h5py.File(io.BytesIO(response.content), "r") as handle:
        return handle["reconstruction"][()], dict(handle.attrs)


def test_health_and_model_describe_the_reconstructor(client, predictor):
    assert client.get("/v1/health").json() == {"status": "ok"}
    info = client.get("/v1/model").json()
    assert info["kind"] == "mri" and info["model"] == "unet"
    assert info["model_config"]["chans"] == 4
    assert info["accelerations"] == predictor.accelerations and info["mask_type"] == predictor.mask_type
    assert info["training"]["steps"] == 2 and isinstance(info["training"]["data"]["train_volumes"], int)


def test_reconstruct_round_trip_agrees_with_the_predictor(client, predictor, volumes):
    response = client.post("/v1/reconstruct", files=_upload(volumes[0]), data={"acceleration": "4", "seed": "3"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == HDF5
    assert 'filename="knee_reconstruction.h5"' in response.headers["content-disposition"]
    image, attrs = _reconstruction(response)
    volume = read_volume(volumes[0])
    expected = predictor.reconstruct(volume.kspace, acceleration=4, seed=3, crop=volume.header.recon_size)
    assert image.shape == expected.shape == (2, *volume.header.recon_size)
    np.testing.assert_allclose(image, expected, rtol=1e-5, atol=1e-6)
    assert attrs["source_file"] == "knee.h5" and attrs["acceleration"] == 4


def test_without_a_seed_the_mask_is_the_one_the_cli_uses_for_that_file_name(client, predictor, volumes, tmp_path):
    response = client.post("/v1/reconstruct", files=_upload(volumes[1], name=volumes[1].name),
                           data={"acceleration": "8"})
    written = predictor.reconstruct_file(volumes[1], tmp_path / "cli.h5", acceleration=8)
    with h5py.File(written, "r") as handle:
        np.testing.assert_allclose(_reconstruction(response)[0], handle["reconstruction"][()], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("content", "fragment"), [
    (b"this is not hdf5", "not a readable HDF5 file"),
    (None, "no 'kspace' dataset"),
])
def test_bad_files_are_one_clear_422(client, tmp_path, content, fragment):
    path = tmp_path / "bad.h5"
    if content is None:
        with h5py.File(path, "w") as handle:
            handle.create_dataset("image", data=np.zeros((2, 4, 4), np.float32))
    else:
        path.write_bytes(content)
    response = client.post("/v1/reconstruct", files=_upload(path, name="../../etc/scan.h5"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert fragment in error["message"] and "'scan.h5'" in error["message"]
    assert "mlpilot-upload" not in error["message"]  # the server's temporary name never leaks


@pytest.mark.parametrize(("fields", "column"), [
    ({"acceleration": "1"}, "acceleration"), ({"acceleration": "four"}, "acceleration"), ({"seed": "-1"}, "seed"),
])
def test_bad_fields_are_422(client, volumes, fields, column):
    response = client.post("/v1/reconstruct", files=_upload(volumes[0]), data=fields)
    assert response.status_code == 422 and response.json()["errors"][0]["column"] == column
    assert client.post("/v1/reconstruct", data={"acceleration": "4"}).json()["errors"][0]["column"] == "file"


def test_token_upload_limit_and_docs(predictor, volumes):
    client = TestClient(create_app(predictor.path, token="tok", max_upload_bytes=1_000))
    assert client.get("/v1/health").status_code == 200
    assert client.post("/v1/reconstruct", files=_upload(volumes[0])).status_code == 401
    too_big = client.post("/v1/reconstruct", files=_upload(volumes[0]), headers={"Authorization": "Bearer tok"})
    assert too_big.status_code == 413 and "limit" in too_big.json()["errors"][0]["message"]
    doc = client.get("/openapi.json").json()
    assert doc["paths"]["/v1/reconstruct"]["post"]["security"] == [{"bearer": []}]
    assert HDF5 in doc["paths"]["/v1/reconstruct"]["post"]["responses"]["200"]["content"]
    assert client.get("/docs").status_code == 200
