"""`mlpilot export`: ONNX round trips against mlpilot's own predictions, and the standalone script."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mlpilot
from mlpilot import api
from mlpilot.cli.main import app
from mlpilot.errors import ConfigError
from mlpilot.tasks.tabular.export.onnx_export import check, convert_members, run_onnx
from mlpilot.tasks.tabular.export.onnx_members import as_onnx_input
from mlpilot.tasks.tabular.export.sample import check_rows
from mlpilot.tasks.tabular.models import get_model_class

pytest.importorskip("onnxruntime")
runner = CliRunner()
# Columns of the churn table that are numbers already: CatBoost converts only without categories, and
# XGBoost goes through onnxmltools without them (through the JSON rebuild with them).
NUMERIC = ["female", "senior_citizen", "partner", "dependents", "tenure", "phone_service", "paperless_billing",
           "monthly_charges", "total_charges"]


@pytest.fixture(scope="module")
def files(churn_split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    for name, frame in zip(("train.csv", "test.csv"), churn_split, strict=True):
        frame.to_csv(folder / name, index=False)
    return folder


@pytest.fixture(scope="module")
def tree_run(churn_split, tmp_path_factory):
    train, _ = churn_split
    path = tmp_path_factory.mktemp("runs") / "trees"
    return mlpilot.fit(train, target="churn", families=["lightgbm", "xgboost", "extra_trees"], n_folds=2, path=path,
                       seed=0)


def _onnx_predict(path, predictor, rows):
    native = predictor.pipeline.transform(predictor.pipeline.check_input(rows)[0])
    matrix = as_onnx_input(native, feature_names=predictor.pipeline.feature_names_)
    import onnx

    return run_onnx(onnx.load(str(path)), matrix)


def test_onnx_export_of_a_tree_run_matches_mlpilot(tree_run, churn_split, tmp_path):
    _, test = churn_split
    out = tmp_path / "trees.onnx"
    result = runner.invoke(app, ["export", str(tree_run.path), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "max difference" in result.output
    onnx_proba = _onnx_predict(out, tree_run, test)
    expected = tree_run.predict_proba(test).to_numpy()
    assert onnx_proba.shape == expected.shape == (len(test), 2)
    np.testing.assert_allclose(onnx_proba, expected, atol=1e-4)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert [c["name"] for c in sidecar["input"]["columns"]] == tree_run.pipeline.feature_names_
    assert sidecar["output"]["classes"] == ["No", "Yes"] and sidecar["check"]["max_abs_diff"] < 1e-4
    assert {m["name"] for m in sidecar["members"]} == {m[0] for m in tree_run.members}


@pytest.mark.parametrize(("columns", "families"), [
    ("all", ("lightgbm", "xgboost", "extra_trees", "linear")),  # categorical columns in all four
    ("numeric", ("xgboost", "catboost", "random_forest")),  # onnxmltools and CatBoost's own exporter
])
def test_one_graph_blends_members_with_their_weights(columns, families, tree_run, churn_split):
    """Whatever the ensemble picked above, one graph must combine several families, folds and weights."""
    train, _ = churn_split
    rows = train.drop(columns=["churn"]) if columns == "all" else train[NUMERIC]
    run = tree_run if columns == "all" else mlpilot.fit(train[[*NUMERIC, "churn"]], target="churn",
                                                       families=["lightgbm"], n_folds=2, max_models=1, seed=0)
    pipeline = run.pipeline
    X = pipeline.transform(pipeline.check_input(rows)[0])
    y = (train["churn"] == "Yes").to_numpy().astype(np.int64)
    members = []
    for family, weight in zip(families, (0.4, 0.3, 0.2, 0.1), strict=False):
        params = {} if family == "linear" else {"n_estimators": 20}
        models = [get_model_class(family)(problem_type="binary", n_classes=2, params=params, seed=s)
                  .fit(X.iloc[s::2], y[s::2]) for s in (0, 1)]
        members.append((family, models, weight))
    native, sample = check_rows(pipeline, target="churn", data=None)  # synthetic: 5% missing, unseen levels
    assert native.isna().any().all()
    categorical = [j for j, c in enumerate(X.columns) if isinstance(X[c].dtype, pd.CategoricalDtype)]
    converted = convert_members(members, n_features=X.shape[1])
    graph, result = check(members, converted, native=native, problem_type="binary",
                          feature_names=pipeline.feature_names_, categorical=categorical, sample=sample)
    blended = sum(w * np.mean([m.predict(native) for m in models], axis=0) for _, models, w in members)
    onnx_proba = run_onnx(graph, as_onnx_input(native, feature_names=pipeline.feature_names_))
    np.testing.assert_allclose(onnx_proba, blended, atol=1e-4)
    assert set(result.per_member) == set(families) and result.max_abs_diff < 1e-4


def test_onnx_export_of_a_regression_run_with_categories(churn_split, tmp_path):
    train, test = churn_split
    run = mlpilot.fit(train.drop(columns=["churn"]), target="monthly_charges", families=["lightgbm", "extra_trees"],
                      n_folds=2, max_models=2, path=tmp_path / "reg", seed=0)
    out = api.export(run.path, format="onnx", out=tmp_path / "reg.onnx").path
    rows = test.drop(columns=["churn", "monthly_charges"])
    values = _onnx_predict(out, run, rows)
    assert values.shape == (len(test),)
    np.testing.assert_allclose(values, run.predict(rows).to_numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("target", ["label", "value"])
def test_xgboost_categorical_splits_with_missing_values(target, tmp_path):
    """Many levels (set splits, not one-hot) and missing levels at training time, so some splits send
    missing values right: the JSON rebuild must route them exactly as XGBoost does."""
    rng = np.random.default_rng(1)
    n = 800
    table = pd.DataFrame({"city": rng.choice([f"city{i}" for i in range(12)], n), "x": rng.normal(size=n)})
    table.loc[rng.random(n) < 0.1, "city"] = None
    effect = table["city"].map({f"city{i}": rng.normal() for i in range(12)}).fillna(1.5)
    table["value"] = 10 * (effect + table["x"]) + rng.normal(size=n)
    table["label"] = np.where(table["value"] > 5, "yes", "no")
    run = mlpilot.fit(table.drop(columns=[{"label": "value", "value": "label"}[target]]), target=target,
                      families=["xgboost"], n_folds=2, max_models=1, path=tmp_path / "run", seed=0)
    out = api.export(run.path, format="onnx", out=tmp_path / "xgb.onnx").path
    rows = table.drop(columns=["label", "value"])
    expected = run.predict(rows) if target == "value" else run.predict_proba(rows)
    np.testing.assert_allclose(_onnx_predict(out, run, rows), expected.to_numpy(), rtol=1e-5, atol=1e-4)


def test_members_without_an_onnx_form_are_named_and_nothing_is_written(churn_split, tmp_path):
    train, _ = churn_split
    run = mlpilot.fit(train, target="churn", families=["knn"], n_folds=2, max_models=1, path=tmp_path / "knn")
    out = tmp_path / "knn.onnx"
    result = runner.invoke(app, ["export", str(run.path), "--format", "onnx", "--out", str(out)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "member KNeighbors (family knn) cannot be exported to ONNX" in message and "--format python" in message
    assert "Traceback" not in result.output and not out.exists()
    with pytest.raises(ConfigError, match="inside the run directory"):
        api.export(run.path, format="onnx", out=run.path / "model.onnx")
    X = run.pipeline.transform(run.pipeline.check_input(train)[0])
    catboost = get_model_class("catboost")(problem_type="binary", n_classes=2, params={"n_estimators": 5}).fit(
        X, (train["churn"] == "Yes").to_numpy().astype(np.int64))
    with pytest.raises(ConfigError, match=r"member CB \(family catboost\).*does not support categorical"):
        convert_members([("CB", [catboost], 1.0)], n_features=X.shape[1], has_categorical=True)


def _run_script(folder, train_csv, score_csv):
    out = folder / "predictions.csv"
    done = subprocess.run([sys.executable, str(folder / "train_and_predict.py"), str(train_csv), str(score_csv),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out)


def test_python_export_retrains_the_same_model(churn_split, files, tmp_path):
    """With ``refit_full`` the run's model was trained on all rows, as the script does: same library,
    same parameters, same rows and target codes give the same model, so predictions match to float noise."""
    train, test = churn_split
    run = mlpilot.fit(train, target="churn", families=["lightgbm"], n_folds=2, max_models=1, refit_full=True,
                      path=tmp_path / "refit", seed=0)
    result = runner.invoke(app, ["export", str(run.path), "--format", "python", "--out", str(tmp_path / "py")])
    assert result.exit_code == 0, result.output
    script = (tmp_path / "py" / "train_and_predict.py").read_text()
    assert "mlpilot" not in "".join(line for line in script.splitlines() if line.startswith(("import", "from")))
    assert "lightgbm==" in (tmp_path / "py" / "requirements.txt").read_text()
    scored = _run_script(tmp_path / "py", files / "train.csv", files / "test.csv")
    labels, proba = run.predict_with_proba(test)
    np.testing.assert_allclose(scored[["proba_No", "proba_Yes"]].to_numpy(), proba.to_numpy(), atol=1e-9)
    assert (scored["predicted_churn"].to_numpy() == labels.to_numpy()).all()


def test_python_export_of_a_bagged_run_agrees_closely(tree_run, churn_split, files, tmp_path):
    """The run averages fold models trained on half the rows each and stopped early; the script trains one
    model on all rows for their mean round count: close, not equal. Labels can flip only for rows near
    the threshold, where the two probabilities straddle it."""
    _, test = churn_split
    api.export(tree_run.path, format="python", out=tmp_path / "py")
    scored = _run_script(tmp_path / "py", files / "train.csv", files / "test.csv")
    labels, proba = tree_run.predict_with_proba(test)
    assert np.corrcoef(scored["proba_Yes"], proba["Yes"])[0, 1] > 0.97
    assert (scored["predicted_churn"].to_numpy() == labels.to_numpy()).mean() > 0.9
    with pytest.raises(ConfigError, match="not a member"):
        api.export(tree_run.path, format="python", out=tmp_path / "x", model="NoSuchModel")


def test_exports_handle_dates_text_booleans_rare_levels_and_dropped_ids(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    words = ["good", "bad", "late", "early", "refund", "broken", "great", "slow", "fast", "price"]
    table = pd.DataFrame({
        "customer_id": np.arange(n),
        "signup": [str(pd.Timestamp("2020-01-01") + pd.Timedelta(hours=int(h))) for h in rng.integers(0, 30000, n)],
        "review": [" ".join(rng.choice(words, rng.integers(3, 9))) for _ in range(n)],
        "vip": rng.choice(["yes", "no"], n),
        "plan": [*["z1", "z2", "z3"], *rng.choice(["a", "b", "c"], n - 3)],  # three rare levels
        "spend": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 50, n)),
    })
    signal = (table.vip == "yes") * 1.0 - table.review.str.contains("bad") + np.nan_to_num(table.spend) / 100
    table["label"] = np.where(signal + rng.normal(0, 0.5, n) > 0.8, "high", "low")
    table.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    table.iloc[300:].to_csv(tmp_path / "score.csv", index=False)
    run = mlpilot.fit(table.iloc[:300], target="label", families=["lightgbm"], n_folds=2, max_models=1,
                      refit_full=True, path=tmp_path / "run", seed=0)
    api.export(run.path, format="python", out=tmp_path / "py")
    script = (tmp_path / "py" / "train_and_predict.py").read_text()
    assert "'customer_id'" in script and "'z1'" in script and (tmp_path / "py" / "text_features.npz").exists()
    scored = _run_script(tmp_path / "py", tmp_path / "train.csv", tmp_path / "score.csv")
    proba = run.predict_proba(table.iloc[300:])
    np.testing.assert_allclose(scored[["proba_high", "proba_low"]].to_numpy(), proba.to_numpy(), atol=1e-9)
    onnx_file = api.export(run.path, format="onnx", out=tmp_path / "mixed.onnx").path
    sidecar = json.loads(onnx_file.with_suffix(".json").read_text())
    kinds = {c["kind"] for c in sidecar["input"]["columns"]}
    assert kinds == {"datetime", "text", "boolean", "categorical", "numeric"}
    assert sidecar["check"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize(("family", "target"), [("xgboost", "monthly_charges"), ("catboost", "contract"),
                                                ("knn", "churn")])
def test_python_export_of_other_families_and_tasks(family, target, churn_split, files, tmp_path):
    train, test = churn_split
    run = mlpilot.fit(train, target=target, families=[family], n_folds=2, max_models=1, refit_full=True,
                      path=tmp_path / "run", seed=0)
    api.export(run.path, format="python", out=tmp_path / "py")
    scored = _run_script(tmp_path / "py", files / "train.csv", files / "test.csv")
    labels, proba = run.predict_with_proba(test)
    if proba is None:  # regression: XGBoost sums float32 leaf values, so allow float32 rounding
        np.testing.assert_allclose(scored[f"predicted_{target}"], labels, rtol=1e-5)
    else:
        np.testing.assert_allclose(scored.filter(like="proba_").to_numpy(), proba.to_numpy(), atol=1e-9)


def test_a_temperature_scaled_run_predicts_and_exports_its_rescaled_probabilities(tree_run, churn_split, tmp_path):
    """The temperature in the manifest applies to every prediction, and the ONNX graph applies the same."""
    from mlpilot.engine.calibration import apply_temperature

    _, test = churn_split

    def with_temperature(temperature, name):
        copy = tree_run.save(tmp_path / name)
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["ensemble"]["temperature"] = temperature
        (copy / "manifest.json").write_text(json.dumps(manifest))
        return copy

    plain, copy = mlpilot.load(with_temperature(None, "plain")), with_temperature(0.6, "scaled")
    scaled = mlpilot.load(copy)
    proba = scaled.predict_proba(test).to_numpy()
    np.testing.assert_allclose(proba, apply_temperature(plain.predict_proba(test).to_numpy(), 0.6))
    out = api.export(copy, format="onnx", out=tmp_path / "scaled.onnx").path
    np.testing.assert_allclose(_onnx_predict(out, scaled, test), proba, atol=1e-4)
    assert json.loads(out.with_suffix(".json").read_text())["output"]["temperature"] == 0.6
