"""Fitting through a real scheduler and two worker processes started with the ``dask`` command line."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import mlpilot

FAMILIES = ["lightgbm", "linear"]


def test_fit_through_the_cluster_matches_the_local_run(cluster, churn_split, tmp_path):
    """Same folds, seeds and models as a local run (no time limit): the same scores and predictions."""
    train, test = churn_split
    kwargs = {"target": "churn", "families": FAMILIES, "n_folds": 3, "max_models": 3, "seed": 0}
    model = mlpilot.fit(train, path=tmp_path / "dask", cluster=cluster.address, **kwargs)
    local = mlpilot.fit(train, path=tmp_path / "local", **kwargs)
    board, local_board = model.leaderboard(), local.leaderboard()
    assert board["model"].tolist() == local_board["model"].tolist()
    assert (board["status"] == "ok").all()
    score = "score_val (roc_auc)"
    np.testing.assert_allclose(board[score].to_numpy(float), local_board[score].to_numpy(float), rtol=1e-9)
    loaded = mlpilot.load(model.path)
    assert loaded.manifest["config"]["cluster"] == cluster.address
    pd.testing.assert_frame_equal(loaded.predict_proba(test), local.predict_proba(test))
    assert loaded.evaluate(test)["roc_auc"] > 0.75


def test_time_budget_holds_across_the_cluster(cluster, churn_split, tmp_path):
    train, test = churn_split
    start = time.perf_counter()
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "xgboost", "extra_trees"], n_folds=3,
                        time_limit=6, path=tmp_path / "run", cluster=cluster.address)
    elapsed = time.perf_counter() - start
    assert elapsed < 6 + 3, f"fit took {elapsed:.1f} s with a 6 s budget"
    board = model.leaderboard()
    assert (board["status"] == "ok").sum() >= 2  # the ensemble and at least one model
    assert list(mlpilot.load(model.path).predict(test).index) == list(test.index)


def test_a_parquet_folder_too_big_for_memory_trains_out_of_core(cluster, churn_split, tmp_path, monkeypatch):
    """Dask-native XGBoost and LightGBM on a holdout split; the run loads and predicts like a local one."""
    import dask.dataframe as dd

    train, test = churn_split
    folder = tmp_path / "parquet"
    folder.mkdir()
    for i in range(4):
        train.iloc[i * 250:(i + 1) * 250].to_parquet(folder / f"part-{i}.parquet")
    monkeypatch.setenv("MLPILOT_MEMORY_LIMIT", "10kB")  # the folder no longer "fits in memory"
    model = mlpilot.fit(str(folder), target="churn", time_limit=30, path=tmp_path / "run", cluster=cluster.address)
    monkeypatch.delenv("MLPILOT_MEMORY_LIMIT")
    assert model.manifest["validation"].startswith("holdout (20%, Dask")
    board = model.leaderboard()
    assert {"LightGBM", "XGBoost"} <= set(board.loc[board["status"] == "ok", "model"])
    loaded = mlpilot.load(model.path)
    assert loaded.evaluate(test)["roc_auc"] > 0.75
    lazy = loaded.predict(dd.from_pandas(test, npartitions=3))
    pd.testing.assert_series_equal(lazy.compute(), loaded.predict(test))
    assert list(loaded.predict_proba(dd.from_pandas(test, npartitions=2)).columns) == ["No", "Yes"]


def test_local_cluster_of_two_workers(churn_split, tmp_path):
    train, _ = churn_split
    kwargs = {"target": "churn", "families": ["lightgbm"], "max_models": 1, "n_folds": 2, "seed": 0}
    model = mlpilot.fit(train, path=tmp_path / "dask", cluster="local:2", **kwargs)
    assert model.manifest["config"]["cluster"] == "local:2"
    assert (model.leaderboard()["status"] == "ok").all()
    assert model.leaderboard()["score_val (roc_auc)"].iloc[0] > 0.75


@pytest.mark.parametrize("address", ["localhost:8786", "local:0", "local:many"])
def test_a_bad_cluster_address_is_refused_with_the_fix(address, churn_split):
    with pytest.raises(mlpilot.ConfigError, match="cluster"):
        mlpilot.fit(churn_split[0], target="churn", cluster=address)


def test_an_unreachable_scheduler_is_a_clear_error(churn_split, monkeypatch):
    from mlpilot.engine import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", 2)
    with pytest.raises(mlpilot.ConfigError, match="dask scheduler"):
        mlpilot.fit(churn_split[0], target="churn", cluster="tcp://127.0.0.1:9")
