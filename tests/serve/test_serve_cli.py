"""`mlpilot serve` argument handling (without blocking), chunked `mlpilot predict`, and `mlpilot card`."""

import os

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mlpilot.cli import batch, serve_cmd
from mlpilot.cli.main import app
from mlpilot.serve import app as serve_app
from mlpilot.serve import factory

runner = CliRunner()
ENV_NAMES = [serve_cmd.RUN_DIR_ENV, serve_cmd.TOKEN_ENV, serve_cmd.MAX_REQUEST_ENV, serve_cmd.MAX_UPLOAD_ENV,
             serve_cmd.MAX_ROWS_ENV, serve_cmd.CORS_ENV, serve_cmd.THREADS_ENV]


@pytest.fixture
def fake_uvicorn(monkeypatch):
    for name in ENV_NAMES:  # set then delete: monkeypatch restores "absent" after the test
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    calls = []

    def record(**kwargs):  # what uvicorn would get, and the environment its workers would inherit
        calls.append(kwargs)
        environ.update({name: os.environ.get(name) for name in ENV_NAMES})

    environ = {}
    monkeypatch.setattr(serve_cmd, "runner", record)
    return calls, environ


# --------------------------------------------------------------------------------------- serve
def test_serve_defaults_to_loopback_and_passes_settings_through_the_environment(churn_run, fake_uvicorn):
    result = runner.invoke(app, ["serve", str(churn_run.path), "--max-rows", "50", "--max-request-mb", "1",
                                 "--cors-origin", "https://a.example"], env={"MLPILOT_TOKEN": "tok"})
    assert result.exit_code == 0, result.output
    calls, environ = fake_uvicorn
    assert calls == [{"host": "127.0.0.1", "port": 8000, "workers": 1, "log_level": "info"}]
    assert environ[serve_cmd.MAX_ROWS_ENV] == "50"
    assert environ[serve_cmd.MAX_REQUEST_ENV] == str(2**20)
    assert environ[serve_cmd.TOKEN_ENV] == "tok"
    assert environ[serve_cmd.CORS_ENV] == "https://a.example"
    assert environ[serve_cmd.THREADS_ENV] == str(os.cpu_count())  # one worker: every core


def test_the_factory_builds_the_app_from_the_environment(churn_run, monkeypatch):
    monkeypatch.setenv(factory.RUN_DIR_ENV, str(churn_run.path))
    monkeypatch.setenv(factory.TOKEN_ENV, "tok")
    monkeypatch.setenv(factory.MAX_ROWS_ENV, "3")
    monkeypatch.setenv(factory.THREADS_ENV, "1")
    loads = []
    load = serve_app.api.load
    monkeypatch.setattr(serve_app.api, "load", lambda path, **kw: loads.append(kw) or load(path, **kw))
    built = factory.app_from_env()  # what each uvicorn worker builds
    assert loads == [{"n_threads": 1}]
    client = TestClient(built)
    assert client.get("/v1/model").status_code == 401
    too_many = client.post("/v1/predict", json={"rows": [{}] * 4}, headers={"Authorization": "Bearer tok"})
    assert too_many.status_code == 413


def test_cli_and_factory_agree_on_the_environment_contract():
    for name in ("IMPORT_STRING", "RUN_DIR_ENV", "TOKEN_ENV", "MAX_REQUEST_ENV", "MAX_UPLOAD_ENV",
                 "MAX_ROWS_ENV", "CORS_ENV", "THREADS_ENV"):
        assert getattr(serve_cmd, name) == getattr(factory, name), name


def test_serve_warns_when_exposed_without_a_token(churn_run, fake_uvicorn):
    result = runner.invoke(app, ["serve", str(churn_run.path), "--host", "0.0.0.0", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "without a token" in result.output
    (call,) = fake_uvicorn[0]
    assert call["workers"] == 2 and call["host"] == "0.0.0.0"
    assert fake_uvicorn[1][serve_cmd.THREADS_ENV] == str(max(1, os.cpu_count() // 2))  # the workers share the cores


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--workers", "0"], "--workers"),
        (["--max-request-mb", "0"], "--max-request-mb"),
        (["--max-rows", "0"], "--max-rows"),
        (["--cors-origin", "example.com"], "--cors-origin"),
    ],
)
def test_serve_rejects_bad_options_in_one_sentence(churn_run, fake_uvicorn, args, message):
    result = runner.invoke(app, ["serve", str(churn_run.path), *args])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and fake_uvicorn[0] == []


def test_serve_rejects_a_folder_that_is_not_a_run(tmp_path, fake_uvicorn):
    result = runner.invoke(app, ["serve", str(tmp_path)])
    assert result.exit_code == 1 and "No mlpilot run" in result.output and fake_uvicorn[0] == []


# --------------------------------------------------------------------------------------- batch
@pytest.fixture(scope="module")
def new_csv(churn_split, tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "new.csv"
    churn_split[1].drop(columns=["churn"]).to_csv(path, index=False)
    return path


def _expected(model, data):
    return batch.score_frame(model, pd.read_csv(data) if str(data).endswith(".csv") else pd.read_parquet(data))


def test_chunked_csv_prediction_equals_in_memory(churn_run, new_csv, tmp_path):
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(churn_run.path), str(new_csv), "--out", str(out),
                                 "--chunk-rows", "37"])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    expected = churn_run.predict(new_csv).to_frame("predicted_churn").join(
        churn_run.predict_proba(new_csv).add_prefix("proba_"))
    assert list(got.columns) == ["predicted_churn", "proba_No", "proba_Yes"] and len(got) == 200
    assert got["predicted_churn"].tolist() == expected["predicted_churn"].tolist()
    np.testing.assert_allclose(got[["proba_No", "proba_Yes"]], expected[["proba_No", "proba_Yes"]], rtol=1e-9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]  # no temporary file left behind


def test_chunked_parquet_in_and_out_and_stdout(churn_run, new_csv, tmp_path):
    source = tmp_path / "new.parquet"
    pd.read_csv(new_csv).to_parquet(source, index=False)
    out = tmp_path / "pred.parquet"
    result = batch.predict_file(churn_run, str(source), out=out, chunk_rows=64, show_progress=False)
    assert result.rows == 200
    got = pd.read_parquet(out)
    expected = _expected(churn_run, new_csv).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    printed = runner.invoke(app, ["predict", str(churn_run.path), str(new_csv), "--chunk-rows", "50"])
    assert printed.exit_code == 0
    assert printed.stdout.splitlines()[0] == "predicted_churn,proba_No,proba_Yes"
    assert len(printed.stdout.splitlines()) == 201


def test_a_bad_value_in_a_later_chunk_leaves_no_output(churn_run, new_csv, tmp_path):
    frame = pd.read_csv(new_csv).astype({"tenure": object})
    frame.loc[150, "tenure"] = "lots"
    data = tmp_path / "bad.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(churn_run.path), str(data), "--out", str(out), "--chunk-rows", "40"])
    assert result.exit_code == 1 and "tenure" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


# --------------------------------------------------------------------------------------- card
def test_card_to_stdout_and_file(churn_run, tmp_path):
    printed = runner.invoke(app, ["card", str(churn_run.path)])
    assert printed.exit_code == 0, printed.output
    for heading in ("# Model card", "## Intended use", "## Data", "## Performance", "## Decision threshold",
                    "## Limitations", "## Warnings"):
        assert heading in printed.stdout
    assert "roc_auc" in printed.stdout and "3-fold" in printed.stdout
    out = tmp_path / "card" / "model_card.md"
    assert runner.invoke(app, ["card", str(churn_run.path), "--out", str(out)]).exit_code == 0
    assert out.read_text() == printed.stdout


def test_card_refuses_to_write_inside_the_run(churn_run):
    saved_card = (churn_run.path / "model_card.md").read_bytes()  # written by fit, before the checksums
    result = runner.invoke(app, ["card", str(churn_run.path), "--out", str(churn_run.path / "copy.md")])
    assert result.exit_code == 1 and "must not change" in result.output
    assert not (churn_run.path / "copy.md").exists()
    assert (churn_run.path / "model_card.md").read_bytes() == saved_card
