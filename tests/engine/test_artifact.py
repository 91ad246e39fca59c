import json

import pytest

from mlpilot._version import RUN_FORMAT_VERSION
from mlpilot.engine.artifact import read_manifest, write_run
from mlpilot.errors import ArtifactError


def _build(tmp):
    (tmp / "models").mkdir()
    (tmp / "models" / "weights.txt").write_text("1 2 3")
    return {"kind": "test", "value": 1}


def test_round_trip_records_versions_and_checksums(tmp_path):
    run = write_run(tmp_path / "run", _build)
    manifest = read_manifest(run, kind="test")
    assert manifest["value"] == 1 and manifest["format_version"] == RUN_FORMAT_VERSION
    assert set(manifest["files"]) == {"models/weights.txt"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_crash_leaves_nothing_behind(tmp_path):
    def broken(tmp):
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_run(tmp_path / "run", broken)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_a_run_but_not_other_folders(tmp_path):
    write_run(tmp_path / "run", _build)
    write_run(tmp_path / "run", lambda tmp: {"kind": "test", "value": 2})
    assert read_manifest(tmp_path / "run")["value"] == 2
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_text("meow")
    with pytest.raises(ArtifactError, match="not an mlpilot run"):
        write_run(other, _build)
    assert (other / "cat.jpg").exists()


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda run: (run / "models" / "weights.txt").write_text("evil"), "checksum"),
        (lambda run: (run / "models" / "extra.pkl").write_bytes(b"x"), "does not list"),
        (lambda run: (run / "models" / "weights.txt").unlink(), "missing"),
        (lambda run: (run / "manifest.json").write_text("{not json"), "unreadable"),
    ],
)
def test_tampered_runs_are_refused(tmp_path, tamper, message):
    run = write_run(tmp_path / "run", _build)
    tamper(run)
    with pytest.raises(ArtifactError, match=message):
        read_manifest(run)


def test_incompatible_version_and_wrong_kind(tmp_path):
    run = write_run(tmp_path / "run", _build)
    with pytest.raises(ArtifactError, match="holds a 'test' model"):
        read_manifest(run, kind="tabular")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["format_version"] = RUN_FORMAT_VERSION + 1
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="re-train it"):
        read_manifest(run)
    with pytest.raises(ArtifactError, match="No mlpilot run"):
        read_manifest(tmp_path / "nowhere")
