"""The in-memory path refuses a table bigger than the memory budget, pointing at ``--cluster``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import mlpilot
from mlpilot.cli.main import app
from mlpilot.engine.budget import parse_bytes
from mlpilot.engine.executor import load_from_bytes


@pytest.fixture
def parquet_folder(churn_split, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    train, _ = churn_split
    for i in range(2):
        train.iloc[i * 500:(i + 1) * 500].to_parquet(folder / f"part-{i}.parquet")
    return folder


def test_a_small_parquet_folder_is_read_in_memory(parquet_folder, tmp_path):
    model = mlpilot.fit(str(parquet_folder), target="churn", families=["linear"], n_folds=2, path=tmp_path / "run")
    assert model.data_report.n_rows == 1000


def test_a_table_over_the_memory_budget_is_refused_with_the_fix(parquet_folder, monkeypatch):
    monkeypatch.setenv("MLPILOT_MEMORY_LIMIT", "10kB")
    with pytest.raises(mlpilot.DataError, match=r"needs about .* MiB of memory.*--cluster"):
        mlpilot.fit(str(parquet_folder), target="churn")
    result = CliRunner().invoke(app, ["fit", str(parquet_folder), "--target", "churn", "-q"])
    assert result.exit_code != 0
    assert "--cluster" in result.output


def test_a_bad_memory_budget_names_the_variable(parquet_folder, monkeypatch):
    monkeypatch.setenv("MLPILOT_MEMORY_LIMIT", "lots")
    with pytest.raises(mlpilot.ConfigError, match="MLPILOT_MEMORY_LIMIT"):
        mlpilot.fit(str(parquet_folder), target="churn")


def test_a_dask_dataframe_needs_a_cluster(churn_split):
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(mlpilot.ConfigError, match="cluster="):
        mlpilot.fit(dd.from_pandas(churn_split[0], npartitions=2), target="churn")


@pytest.mark.parametrize(("text", "expected"), [("300MB", 300_000_000), ("2GiB", 2 * 2**30), ("1500", 1500)])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_model_files_from_a_worker_cannot_leave_their_folder():
    with pytest.raises(ValueError, match="leaves its folder"):
        load_from_bytes({"../evil.txt": b"x"}, load_model=lambda root: root)
