"""The web app's JSON API without a browser: uploads, state on disk, training, stop, deploy."""

import io
import json
import re
import time
import zipfile

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mlpilot.cli import ui_cmd
from mlpilot.cli.main import app as cli_app
from mlpilot.ui.app import create_ui_app
from mlpilot.ui.training import TrainSettings

FAST = TrainSettings(families=("lightgbm", "linear"), n_folds=3)


def wait_for_training(client, project_id, *, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/projects/{project_id}/train").json()
        if status["state"] not in ("running", "stopping"):
            return status
        time.sleep(0.1)
    raise AssertionError("training did not finish")


def new_project(client, frame, name="table.csv"):
    response = client.post("/api/projects", files={"file": (name, frame.to_csv(index=False).encode())})
    assert response.status_code == 200, response.text
    return response.json()["id"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("ui-workspace")


@pytest.fixture(scope="module")
def client(workspace):
    with TestClient(create_ui_app(workspace, max_upload_bytes=2**20, train=FAST)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def trained(client, small_churn):
    """One project taken through steps 1-3 (600 rows, short budget)."""
    project_id = new_project(client, small_churn, name="../../etc/customers.csv")
    assert client.post(f"/api/projects/{project_id}/target", json={"target": "churn"}).status_code == 200
    assert client.post(f"/api/projects/{project_id}/train", json={"time_limit": 15}).status_code == 200
    status = wait_for_training(client, project_id)
    assert status["state"] == "done", status
    return project_id


def test_upload_is_stored_under_a_generated_name(client, workspace, trained):
    folder = workspace / "projects" / trained
    assert (folder / "data.csv").is_file()
    assert not list(workspace.rglob("customers.csv")) and not (workspace.parent / "etc").exists()
    assert client.get(f"/api/projects/{trained}").json()["name"] == "customers.csv"
    assert client.get("/api/projects/..%2F..%2Fetc").status_code in (400, 404)
    assert "no project" in client.get("/api/projects/abcdef123456").json()["errors"][0]["message"]


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 422, "is empty"),
    (b"\x00\x01\x02 binary \xff\xfe" * 50, 422, "could not be read"),
    (b"just one line of prose\nand another\n", 422, "at least two"),
    (b"a,b\n" + b"1,2\n" * 300_000, 413, "limit"),
])
def test_bad_uploads_are_refused_in_words(client, workspace, data, status, words):
    before = set((workspace / "projects").iterdir())
    response = client.post("/api/projects", files={"file": ("upload.csv", data)})
    assert response.status_code == status
    assert words in response.json()["errors"][0]["message"]
    assert set((workspace / "projects").iterdir()) == before  # nothing half-made is left behind


def test_one_class_target_leaves_the_project_unchanged(client, churn_table):
    project_id = new_project(client, churn_table.head(60).assign(churn="No"))
    response = client.post(f"/api/projects/{project_id}/target", json={"target": "churn"})
    assert response.status_code == 422 and "single class" in response.json()["errors"][0]["message"]
    assert client.get(f"/api/projects/{project_id}").json()["target"] is None
    assert client.post(f"/api/projects/{project_id}/train", json={"time_limit": 10}).status_code == 400


def test_data_report_has_kinds_missing_sparklines_and_warnings(client, trained):
    data = client.get(f"/api/projects/{trained}/data").json()
    by_name = {c["name"]: c for c in data["columns"]}
    assert by_name["tenure"]["kind_label"] == "Number" and by_name["contract"]["kind_label"] == "Category"
    assert by_name["total_charges"]["missing_pct"] >= 0
    assert all(c["sparkline"].startswith("<svg") and "<rect" in c["sparkline"] for c in data["columns"])
    assert data["problem"]["metric"] == "roc_auc" and "yes/no" in data["problem"]["headline"]
    assert any(w["title"] == "Looks like an ID" and w["why"] for w in data["warnings"])


def test_state_survives_a_server_restart(workspace, trained):
    (workspace / "projects" / trained / "training.json").write_text(json.dumps({"state": "running"}))
    with TestClient(create_ui_app(workspace, train=FAST)) as restarted:
        project = restarted.get(f"/api/projects/{trained}").json()
        assert project["target"] == "churn" and project["has_run"]
        assert project["training"]["state"] == "interrupted"
        assert trained in [p["id"] for p in restarted.get("/api/projects").json()]


def test_stop_keeps_the_models_that_finished(client, churn_table, hold_after_first_model):
    first_model_done, stop_pressed = hold_after_first_model(10)
    project_id = new_project(client, churn_table.head(300))
    client.post(f"/api/projects/{project_id}/target", json={"target": "churn"})
    client.post(f"/api/projects/{project_id}/train", json={"time_limit": 60})
    assert first_model_done.wait(30)
    assert client.post(f"/api/projects/{project_id}/train/stop").json()["state"] == "stopping"
    stop_pressed.set()
    status = wait_for_training(client, project_id)
    assert status["state"] == "done" and "Stopped early" in status["message"]
    assert any("stopped" in row["note"] for row in status["leaderboard"])
    assert client.get(f"/api/projects/{project_id}").json()["has_run"]


def test_evaluate_explain_and_report(client, trained, small_churn):
    page = client.get(f"/api/projects/{trained}/evaluate").json()
    assert {"roc", "confusion", "gain", "calibration", "importance"} <= {f["id"] for f in page["figures"]}
    assert page["summary"] and page["suggested_rows"]
    answer = client.get(f"/api/projects/{trained}/explain", params={"row": 3}).json()
    assert answer["prediction"] in ("No", "Yes") and len(answer["reasons"]) == 5
    assert answer["actual"] == small_churn["churn"].iloc[2]  # row 3 is the third data row
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-6
    for missing in (0, 601):
        answer = client.get(f"/api/projects/{trained}/explain", params={"row": missing}).json()
        assert "from 1 to 600" in answer["errors"][0]["message"]
    report = client.get(f"/api/projects/{trained}/report.html")
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', report.text)  # self-contained, offline
    assert client.get("/static/plotly.js").text.startswith("/**")


def test_deploy_download_score_snippets_and_serving(client, trained, churn_table):
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/projects/{trained}/run.zip").content))
    assert any(name.endswith("manifest.json") for name in archive.namelist())
    new_rows = churn_table.iloc[600:640].drop(columns=["churn"])
    scored = client.post(f"/api/projects/{trained}/score", files={"file": ("new.csv", new_rows.to_csv(index=False))})
    predictions = pd.read_csv(io.StringIO(scored.text))
    assert len(predictions) == 40 and list(predictions.columns) == ["prediction", "proba_No", "proba_Yes"]
    bad = client.post(f"/api/projects/{trained}/score", files={"file": ("x.csv", "tenure\n1\n")})
    assert bad.status_code == 422 and "lacks 18 column" in bad.json()["errors"][0]["message"]
    info = client.get(f"/api/projects/{trained}/deploy").json()
    assert '"tenure"' in info["snippets"]["curl"] and "/v1/predict" in info["snippets"]["python"]
    serving = client.post(f"/api/projects/{trained}/serve/start").json()
    try:
        assert serving["state"] == "running", serving
        row = json.loads(info["snippets"]["curl"].split("-d '", 1)[1].rstrip("'"))
        answer = httpx.post(f"{serving['url']}/v1/predict", json=row, timeout=10).json()
        assert answer["predictions"][0] in ("No", "Yes")
    finally:
        assert client.post(f"/api/projects/{trained}/serve/stop").json()["state"] == "stopped"


def test_cli_starts_the_app_on_loopback(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(ui_cmd, "runner", lambda app, **kwargs: seen.update(kwargs, app=app))
    result = CliRunner().invoke(cli_app, ["ui", "--port", "8123", "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123 and (tmp_path / "ws" / "projects").is_dir()
    exposed = CliRunner().invoke(cli_app, ["ui", "--host", "0.0.0.0", "--workspace", str(tmp_path / "ws")])
    assert exposed.exit_code == 0 and "no login" in exposed.output
    refused = CliRunner().invoke(cli_app, ["ui", "--port", "0", "--workspace", str(tmp_path / "ws")])
    assert refused.exit_code == 1 and "--port must be between 1 and 65535" in refused.output
