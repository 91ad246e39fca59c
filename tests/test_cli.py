"""The command line end to end, on a small real table written to CSV."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlpilot.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def csv_files(churn_split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    train, test = churn_split
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    test.drop(columns=["churn"]).to_csv(folder / "new.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def fitted(csv_files):
    run = csv_files / "run"
    result = runner.invoke(app, ["fit", str(csv_files / "train.csv"), "--target", "churn",
                                 "--time-limit", "15", "--out", str(run), "--quiet", "--max-models", "2",
                                 "--families", "lightgbm, linear"])
    assert result.exit_code == 0, result.output
    return run, result.output


def test_fit_prints_report_and_leaderboard(fitted):
    run, output = fitted
    assert "Data report" in output and "Ensemble:" in output
    manifest = json.loads((run / "manifest.json").read_text())
    assert {row["family"] for row in manifest["leaderboard"]} <= {"ensemble", "lightgbm", "linear"}


def test_fit_with_an_unknown_family_names_the_valid_ones(csv_files, tmp_path):
    result = runner.invoke(app, ["fit", str(csv_files / "train.csv"), "--target", "churn", "--quiet",
                                 "--out", str(tmp_path / "run"), "--families", "lightgbm,forest"])
    assert result.exit_code == 1
    assert "Unknown model families ['forest']" in result.output and "random_forest" in result.output
    assert not (tmp_path / "run").exists()


def test_predict_writes_labels_and_probabilities(fitted, csv_files):
    run, _ = fitted
    out = csv_files / "pred.csv"
    result = runner.invoke(app, ["predict", str(run), str(csv_files / "new.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["predicted_churn", "proba_No", "proba_Yes"]
    assert len(frame) == 200


def test_leaderboard_and_evaluate(fitted, csv_files):
    run, _ = fitted
    assert runner.invoke(app, ["leaderboard", str(run)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(run), str(csv_files / "test.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["roc_auc"] > 0.75


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "missing.csv", "--target", "churn"], "missing.csv"),
        (["fit", "{train}", "--target", "churnn"], "churn"),
        (["predict", "{folder}", "{new}"], "No mlpilot run"),
        (["fit", "{train}", "--target", "churn", "--metric", "bogus"], "roc_auc"),
    ],
)
def test_user_errors_exit_non_zero_without_traceback(csv_files, args, message):
    args = [a.format(train=csv_files / "train.csv", folder=csv_files, new=csv_files / "new.csv") for a in args]
    result = runner.invoke(app, [*args, "--quiet"] if args[0] == "fit" else args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "mlpilot" in result.output


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("a,b,churn\n", "no data rows"),
        ("a,a,churn\n1,2,Yes\n", "a"),
        ("x,churn\n" + "".join(f"{i},Yes\n" for i in range(30)), "single class"),
        ("x,churn\n" + "".join(f"{i},\n" for i in range(30)), "churn"),
        ("x,churn\n" + "".join(f"{'inf' if i == 7 else i},{'Yes' if i % 2 else 'No'}\n" for i in range(30)), "x"),
    ],
    ids=["empty-file", "header-only", "duplicate-columns", "single-class", "target-all-missing", "infinity"],
)
def test_bad_tables_are_one_clear_sentence(tmp_path, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    result = runner.invoke(app, ["fit", str(data), "--target", "churn", "--quiet", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert message in result.output.lower()
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_predict_with_missing_columns_names_them(fitted, csv_files, tmp_path):
    run, _ = fitted
    frame = pd.read_csv(csv_files / "new.csv").drop(columns=["tenure", "contract"])
    frame.to_csv(tmp_path / "partial.csv", index=False)
    result = runner.invoke(app, ["predict", str(run), str(tmp_path / "partial.csv")])
    assert result.exit_code == 1
    assert "tenure" in result.output and "contract" in result.output
